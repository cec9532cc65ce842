/* server_req.c - a request: its life, the checks at headers time, accessors.
 *
 * At the end of the headers the server decides, before any body is read:
 * malformed target or transfer coding (400/501), Host not local on a loopback
 * listener (403), CORS (403 for a foreign origin, 204 for a preflight), the
 * API key (401), Expect (417, or "100 Continue"), a declared body over
 * max_body (413).  Rejecting there means a multi-GB upload without a key is
 * never read.  A request that passes goes to the handler: now for a streamed
 * body, at the end of the body otherwise.
 *
 * Life: the connection holds a request while parsing and answering it
 * (srv_holds), the handler from dispatch until it finishes it
 * (handler_holds); it is freed when neither does. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "server_int.h"

#define ALLOW_METHODS "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
#define ALLOW_HEADERS "Authorization, Content-Type, User-Agent, Accept, X-Requested-With"

/* ---- life ---------------------------------------------------------------------- */

struct qm_http_req *http_req_new(struct http_conn *c)
{
    struct qm_http_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = c->srv;
    r->conn = c;
    r->srv_holds = true;
    r->query = "";
    r->t_start = uv_hrtime();
    memcpy(r->remote, c->remote, sizeof r->remote);
    c->srv->live++;
    return r;
}

static void req_free(struct qm_http_req *r)
{
    struct qm_http_server *srv = r->srv;
    if (r->method) {  /* one line per request, as Ollama's access log */
        double ms = (double)(uv_hrtime() - r->t_start) / 1e6;
        if (r->status)
            qm_log_info("http: %d | %10.3fms | %s | %s %s", r->status, ms, r->remote, r->method,
                        r->path ? r->path : "-");
        else
            qm_log_info("http: client gone | %10.3fms | %s | %s %s", ms, r->remote, r->method,
                        r->path ? r->path : "-");
    }
    if (r->dispatched)
        srv->n_active--;
    free(r->url.p);
    free(r->heads.p);
    free(r->hoff);
    free(r->path);
    free(r->body.p);
    free(r->extra.p);
    free(r);
    http_server_unlive(srv);
}

void http_req_drop_server(struct qm_http_req *r)
{
    r->srv_holds = false;
    if (!r->handler_holds)
        req_free(r);
}

void http_req_finish_handler(struct qm_http_req *r)
{
    r->handler_holds = false;
    r->on_close = NULL;
    r->on_data = NULL;
    r->on_end = NULL;
    if (!r->srv_holds)
        req_free(r);
}

bool http_req_body_left(const struct qm_http_req *r)
{
    const struct http_conn *c = r->conn;
    if (!c || r->msg_complete)
        return false;
    return (c->parser.flags & F_CHUNKED) || c->parser.content_length > 0;
}

static void dispatch(struct qm_http_req *r)
{
    r->dispatched = r->handler_holds = true;
    r->srv->n_active++;
    r->srv->h.handler(r, r->srv->h.ud);
}

/* ---- headers time ------------------------------------------------------------ */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)(ch | 0x20);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* origin-form "/p?q", absolute-form "http://h/p?q", or "*".  The path is
 * percent-decoded (as Go's URL.Path, which Ollama routes on); %00 is refused
 * so that C strings never lie about their length. */
static int parse_target(struct qm_http_req *r)
{
    const char *u = r->url.p ? r->url.p : "";
    if (strcmp(u, "*") == 0) {
        r->path = strdup("*");
        return r->path ? 0 : QM_ENOMEM;
    }
    if (*u != '/') {
        const char *scheme = strstr(u, "://");
        if (!scheme || (strncasecmp(u, "http", 4) != 0))
            return QM_EINVAL;
        u = scheme + 3 + strcspn(scheme + 3, "/?");
    }
    const char *q = strchr(u, '?');
    size_t n = q ? (size_t)(q - u) : strlen(u);
    char *path = malloc(n + 2);
    if (!path)
        return QM_ENOMEM;
    size_t k = 0;
    if (*u != '/')
        path[k++] = '/';
    for (size_t i = 0; i < n; i++) {
        if (u[i] != '%') {
            path[k++] = u[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(u[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(u[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi | lo) == 0) {
            free(path);
            return QM_EINVAL;
        }
        path[k++] = (char)(hi * 16 + lo);
        i += 2;
    }
    path[k] = '\0';
    r->path = path;
    r->query = q ? q + 1 : "";
    return 0;
}

/* Browsers send Origin on same-origin POSTs too; those are not CORS. */
static bool same_origin(const char *origin, const char *host)
{
    if (!host)
        return false;
    const char *rest = strncasecmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncasecmp(origin, "https://", 8) == 0 ? origin + 8
                                                                 : NULL;
    return rest && strcasecmp(rest, host) == 0;
}

/* Echoed request headers must be a plain token list, never a header break. */
static bool token_list(const char *s)
{
    for (; *s; s++)
        if (!(*s == ',' || *s == ' ' || *s == '-' || *s == '_' || *s == '.' ||
              (*s >= '0' && *s <= '9') || ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z')))
            return false;
    return true;
}

static void reject(struct http_conn *c, int status, const char *msg)
{
    struct qm_http_req *r = c->req;
    if (http_req_body_left(r))  /* we will not read a body we refused */
        c->stop_parse = c->close_after = true;
    http_conn_phase(c, PH_WAIT);
    uv_timer_stop(&c->timer);
    if (status == 204)
        http_resp_send(r, 204, NULL, NULL, 0);
    else
        http_resp_error(r, status, msg);
}

/* CORS as gin-contrib/cors does it for Ollama.  Returns true when it answered. */
static bool cors(struct http_conn *c)
{
    struct qm_http_req *r = c->req;
    const char *origin = qm_http_req_header(r, "Origin");
    bool options = strcmp(r->method, "OPTIONS") == 0;
    if (!origin || same_origin(origin, qm_http_req_header(r, "Host"))) {
        if (!options)
            return false;
        http_resp_add_header(r, "Allow", ALLOW_METHODS);
        reject(c, 204, NULL);
        return true;
    }
    if (!http_cors_allowed(&c->srv->cors, origin)) {
        reject(c, 403, "origin not allowed");
        return true;
    }
    http_resp_add_header(r, "Access-Control-Allow-Origin", origin);
    http_resp_add_header(r, "Vary", "Origin");
    if (!options)
        return false;
    const char *want = qm_http_req_header(r, "Access-Control-Request-Headers");
    struct qm_strbuf allow = {0};
    qm_strbuf_puts(&allow, ALLOW_HEADERS);
    if (want && *want && token_list(want)) {
        qm_strbuf_puts(&allow, ", ");
        qm_strbuf_puts(&allow, want);
    }
    http_resp_add_header(r, "Access-Control-Allow-Methods", ALLOW_METHODS);
    http_resp_add_header(r, "Access-Control-Allow-Headers", allow.p ? allow.p : ALLOW_HEADERS);
    http_resp_add_header(r, "Access-Control-Max-Age", "43200");
    free(allow.p);
    reject(c, 204, NULL);
    return true;
}

void http_req_headers_done(struct http_conn *c)
{
    struct qm_http_req *r = c->req;
    struct qm_http_server *srv = c->srv;
    llhttp_t *p = &c->parser;
    r->method = llhttp_method_name((llhttp_method_t)llhttp_get_method(p));
    r->http10 = llhttp_get_http_major(p) == 1 && llhttp_get_http_minor(p) == 0;
    r->keep_alive = llhttp_should_keep_alive(p);
    r->head = llhttp_get_method(p) == HTTP_HEAD;
    http_conn_phase(c, PH_BODY);
    http_conn_arm(c, srv->cfg.idle_timeout_ms);

    if (llhttp_get_http_major(p) != 1) {
        http_conn_fail(c, 505, "HTTP version not supported");
        return;
    }
    int rc = parse_target(r);
    if (rc != 0) {
        http_conn_fail(c, rc == QM_ENOMEM ? 500 : 400, "malformed request target");
        return;
    }
    const char *te = qm_http_req_header(r, "Transfer-Encoding");
    if ((p->flags & F_TRANSFER_ENCODING) && (!te || strcasecmp(te, "chunked") != 0)) {
        http_conn_fail(c, 501, "unsupported transfer encoding");
        return;
    }
    if (c->check_host && !http_host_allowed(qm_http_req_header(r, "Host"))) {
        reject(c, 403, "host not allowed");
        return;
    }
    if (cors(c))
        return;
    if (!http_auth_exempt(r->method, r->path) &&
        !http_auth_check(&srv->auth, qm_http_req_header(r, "Authorization"))) {
        http_resp_add_header(r, "WWW-Authenticate", "Bearer");
        reject(c, 401, "unauthorized");
        return;
    }
    const char *expect = qm_http_req_header(r, "Expect");
    if (expect && strcasecmp(expect, "100-continue") != 0) {
        reject(c, 417, "unsupported Expect header");
        return;
    }
    r->mode = srv->h.body_mode ? srv->h.body_mode(r->method, r->path, srv->h.ud) : QM_HTTP_BODY_BUFFER;
    if (r->mode == QM_HTTP_BODY_BUFFER && (p->flags & F_CONTENT_LENGTH) &&
        p->content_length > srv->cfg.max_body) {
        reject(c, 413, "request body too large");
        return;
    }
    if (expect && !r->http10 && http_req_body_left(r))
        http_resp_continue(c);
    if (r->mode == QM_HTTP_BODY_STREAM) {
        r->body_paused = true;  /* until the handler asks for the body */
        uv_timer_stop(&c->timer);
        dispatch(r);
    }
}

void http_req_message_done(struct http_conn *c)
{
    struct qm_http_req *r = c->req;
    r->msg_complete = true;
    if (c->phase != PH_LINGER) {
        http_conn_phase(c, PH_WAIT);  /* the handler may take minutes: no timeout */
        uv_timer_stop(&c->timer);
        c->kick = false;
    }
    if (llhttp_get_upgrade(&c->parser))  /* bytes after an Upgrade are not HTTP */
        c->stop_parse = c->close_after = true;
    if (!r->dispatched && !r->resp_started)
        dispatch(r);
    else if (r->dispatched && r->handler_holds && r->on_end)
        r->on_end(r, r->body_ud);
    http_conn_maybe_next(c);
}

/* ---- accessors ------------------------------------------------------------------ */

const char *qm_http_req_method(const struct qm_http_req *r)
{
    return r->method ? r->method : "";
}

const char *qm_http_req_path(const struct qm_http_req *r)
{
    return r->path ? r->path : "";
}

const char *qm_http_req_query(const struct qm_http_req *r)
{
    return r->query;
}

const char *qm_http_req_header(const struct qm_http_req *r, const char *name)
{
    for (int i = 0; i < r->n_heads; i++) {
        if (strcasecmp(r->heads.p + r->hoff[2 * i], name) != 0)
            continue;
        size_t v = r->hoff[2 * i + 1];
        return v == SIZE_MAX ? "" : r->heads.p + v;
    }
    return NULL;
}

const char *qm_http_req_body(const struct qm_http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.p ? r->body.p : "";
}

const char *qm_http_req_remote(const struct qm_http_req *r)
{
    return r->remote;
}

bool qm_http_req_client_gone(const struct qm_http_req *r)
{
    return !r->conn || r->conn->closing;
}

void qm_http_req_on_close(struct qm_http_req *r, void (*cb)(struct qm_http_req *, void *), void *ud)
{
    if (!r->handler_holds || !r->conn)
        return;
    r->on_close = cb;
    r->close_ud = ud;
}

void qm_http_req_on_body(struct qm_http_req *r,
                         int (*on_data)(struct qm_http_req *, const void *, size_t, void *),
                         void (*on_end)(struct qm_http_req *, void *), void *ud)
{
    if (!r->handler_holds || r->mode != QM_HTTP_BODY_STREAM)
        return;
    r->on_data = on_data;
    r->on_end = on_end;
    r->body_ud = ud;
    qm_http_req_resume_body(r);
}

void qm_http_req_resume_body(struct qm_http_req *r)
{
    if (!r->handler_holds || r->mode != QM_HTTP_BODY_STREAM || !r->on_data || !r->body_paused)
        return;
    r->body_paused = false;
    if (r->conn)
        http_conn_kick(r->conn);
}
