/* server_conn.c - one client connection: reading, parsing, timers, closing.
 *
 * Received bytes go to a per-connection buffer (c->in) that llhttp consumes.
 * The llhttp callbacks only record what they saw; the decisions (checks,
 * calling the handler) happen in http_conn_feed after llhttp_execute has
 * returned, because the callbacks pause the parser at the end of the headers
 * and at the end of each request.  So the handler never runs inside llhttp,
 * and a pipelined request stays unparsed in c->in until the response to the
 * one before it has been written out - responses go out in order.
 *
 * While a request is being answered the socket is still read (into c->in, up
 * to a bound), so that a client that hangs up is noticed at once and the
 * handler's on_close can cancel its work.  A streamed body that the handler
 * paused stops reading altogether: that is the backpressure.
 *
 * Timers (one uv_timer_t per connection, by phase): the header timeout runs
 * from the first byte of a request (from accept on a fresh connection) and is
 * not reset by progress, so a client trickling bytes (slowloris) gets 408; the
 * idle timeout closes quiet keep-alive connections and stalled bodies. */
#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "log.h"
#include "server_int.h"

static void on_timer(uv_timer_t *t);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

void http_conn_arm(struct http_conn *c, uint64_t ms)
{
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

void http_conn_phase(struct http_conn *c, enum http_phase ph)
{
    static const char *const names[] = {"fresh", "idle", "headers", "body", "wait", "linger"};
    if (c->phase != ph && qm_log_enabled(QM_LOG_DEBUG))
        qm_log_debug("http: %s: %s -> %s", c->remote, names[c->phase], names[ph]);
    c->phase = ph;
}

/* ---- llhttp callbacks: record, never decide ------------------------------- */

static int fail_parse(struct http_conn *c, int status, const char *msg)
{
    c->err_status = status;
    c->err_msg = msg;
    return HPE_USER;
}

/* Counts request-line and header bytes against max_header_bytes. */
static int take_head_bytes(struct http_conn *c, size_t n, int status)
{
    struct qm_http_req *r = c->req;
    size_t max = c->srv->cfg.max_header_bytes;
    if (n > max || r->head_bytes > max - n)
        return fail_parse(c, status, status == 414 ? "request target too long" : "request headers too large");
    r->head_bytes += n;
    return 0;
}

static int put(struct http_conn *c, struct qm_strbuf *b, const char *at, size_t n)
{
    qm_strbuf_put(b, at, n);
    return b->oom ? fail_parse(c, 500, "out of memory") : 0;
}

static int on_message_begin(llhttp_t *p)
{
    struct http_conn *c = p->data;
    if (!c->req && !(c->req = http_req_new(c)))
        return fail_parse(c, 500, "out of memory");
    if (c->phase != PH_FRESH)  /* a fresh connection keeps its deadline from accept */
        http_conn_arm(c, c->srv->cfg.header_timeout_ms);
    http_conn_phase(c, PH_HEADERS);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    int rc = take_head_bytes(c, n, 414);
    return rc ? rc : put(c, &c->req->url, at, n);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    struct qm_http_req *r = c->req;
    if (!r->in_field) {  /* a new header */
        if (r->n_heads >= c->srv->cfg.max_headers)
            return fail_parse(c, 431, "too many request headers");
        if (r->n_heads == r->cap_heads) {
            int cap = r->cap_heads ? r->cap_heads * 2 : 16;
            size_t *grown = realloc(r->hoff, (size_t)cap * 2 * sizeof *grown);
            if (!grown)
                return fail_parse(c, 500, "out of memory");
            r->hoff = grown;
            r->cap_heads = cap;
        }
        r->hoff[2 * r->n_heads] = r->heads.len;
        r->hoff[2 * r->n_heads + 1] = SIZE_MAX;  /* no value (yet): "" */
        r->n_heads++;
        r->in_field = true;
    }
    int rc = take_head_bytes(c, n, 431);
    return rc ? rc : put(c, &c->req->heads, at, n);
}

static int on_header_field_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->req->in_field = false;
    return put(c, &c->req->heads, "", 1);
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    struct qm_http_req *r = c->req;
    if (!r->in_value) {
        r->hoff[2 * (r->n_heads - 1) + 1] = r->heads.len;
        r->in_value = true;
    }
    int rc = take_head_bytes(c, n, 431);
    return rc ? rc : put(c, &r->heads, at, n);
}

static int on_header_value_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    struct qm_http_req *r = c->req;
    if (!r->in_value)
        return 0;  /* empty value: its offset stays "none", which reads as "" */
    r->in_value = false;
    return put(c, &r->heads, "", 1);
}

static int on_headers_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->pause = PAUSE_HEADERS;
    return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    struct qm_http_req *r = c->req;
    if (c->stop_parse || c->closing) {
        c->pause = PAUSE_BODY;
        return HPE_PAUSED;
    }
    if (r->mode == QM_HTTP_BODY_STREAM) {
        if (!r->handler_holds || !r->on_data) {  /* the handler let go meanwhile */
            c->stop_parse = true;
            c->pause = PAUSE_BODY;
            return HPE_PAUSED;
        }
        if (r->on_data(r, at, n, r->body_ud) == QM_HTTP_BODY_PAUSE) {
            r->body_paused = true;
            c->pause = PAUSE_BODY;
            return HPE_PAUSED;
        }
        return 0;
    }
    if (n > c->srv->cfg.max_body || r->body.len > c->srv->cfg.max_body - n)
        return fail_parse(c, 413, "request body too large");
    return put(c, &r->body, at, n);
}

static int on_message_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->pause = PAUSE_MESSAGE;
    return HPE_PAUSED;
}

void http_conn_settings(llhttp_settings_t *s)
{
    llhttp_settings_init(s);
    s->on_message_begin = on_message_begin;
    s->on_url = on_url;
    s->on_header_field = on_header_field;
    s->on_header_field_complete = on_header_field_complete;
    s->on_header_value = on_header_value;
    s->on_header_value_complete = on_header_value_complete;
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
}

/* ---- feeding the parser --------------------------------------------------- */

static int status_for(llhttp_errno_t e)
{
    switch (e) {
    case HPE_INVALID_TRANSFER_ENCODING:
        return 501;
    case HPE_PAUSED_H2_UPGRADE:
    case HPE_INVALID_VERSION:
        return 505;
    default:
        return 400;
    }
}

static bool blocked(const struct http_conn *c)
{
    const struct qm_http_req *r = c->req;
    return c->closing || c->stop_parse || (r && (r->msg_complete || r->body_paused));
}

static void compact(struct http_conn *c)
{
    if (c->in_off == c->in_len) {  /* free it: 1,000 idle connections hold no buffer */
        free(c->in);
        c->in = NULL;
        c->in_off = c->in_len = c->in_cap = 0;
    } else if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
}

static void feed_once(struct http_conn *c)
{
    /* A paused parser is resumed even with no bytes left: the steps after
     * the headers of a body-less request consume nothing. */
    while (!blocked(c) && (c->in_off < c->in_len || llhttp_get_errno(&c->parser) == HPE_PAUSED)) {
        if (llhttp_get_errno(&c->parser) == HPE_PAUSED)
            llhttp_resume(&c->parser);
        const char *p = c->in ? c->in + c->in_off : "";
        size_t n = c->in_len - c->in_off;
        c->pause = PAUSE_NONE;
        llhttp_errno_t e = llhttp_execute(&c->parser, p, n);
        if (e == HPE_OK) {
            c->in_off = c->in_len;
            break;
        }
        if (e == HPE_PAUSED) {
            c->in_off += (size_t)(llhttp_get_error_pos(&c->parser) - p);
            if (c->pause == PAUSE_HEADERS)
                http_req_headers_done(c);
            else if (c->pause == PAUSE_MESSAGE)
                http_req_message_done(c);
            continue;
        }
        if (e == HPE_PAUSED_UPGRADE) {  /* what follows is not HTTP: answer, then close */
            c->stop_parse = c->close_after = true;
            break;
        }
        const char *msg = c->err_msg ? c->err_msg : llhttp_get_error_reason(&c->parser);
        qm_log_debug("http: %s: bad request: %s (%s)", c->remote, msg, llhttp_errno_name(e));
        http_conn_fail(c, c->err_status ? c->err_status : status_for(e), msg ? msg : "malformed request");
        break;
    }
}

void http_conn_feed(struct http_conn *c)
{
    if (c->in_feed) {  /* called back from inside the loop below: go round again */
        c->refeed = true;
        return;
    }
    c->in_feed = true;
    do {
        c->refeed = false;
        feed_once(c);
    } while (c->refeed && !c->closing);
    c->in_feed = false;
    if (!c->closing)
        compact(c);
    http_conn_update_reading(c);
}

/* Resume parsing from the loop, not from inside the handler's call. */
void http_conn_kick(struct http_conn *c)
{
    if (c->closing)
        return;
    c->kick = true;
    http_conn_arm(c, 0);
}

void http_conn_update_reading(struct http_conn *c)
{
    if (c->closing)
        return;
    const struct qm_http_req *r = c->req;
    bool want;
    if (c->eof)
        want = false;
    else if (c->phase == PH_LINGER || c->stop_parse)
        want = true;  /* input is dropped; reading just notices EOF */
    else if (r && r->body_paused && !r->msg_complete)
        want = false;
    else  /* bound what a pipelining client can park here */
        want = c->in_len - c->in_off < c->srv->cfg.max_header_bytes + HTTP_READ_BUF;
    if (want == c->reading)
        return;
    if (!want) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
    else
        http_conn_close(c);
}

/* ---- between requests ------------------------------------------------------ */

static void on_shutdown(uv_shutdown_t *s, int status)
{
    struct http_conn *c = s->data;
    if (c->closing)
        return;
    if (status < 0 || c->eof)
        http_conn_close(c);
}

/* Close politely: send FIN after the queued writes, then read and drop input
 * for a while.  Closing with unread input would send RST, which can destroy
 * the response before the client reads it (the 413 a client gets while it is
 * still sending its body, say). */
static void conn_shutdown(struct http_conn *c)
{
    if (c->shutting || c->closing)
        return;
    c->shutting = c->stop_parse = true;
    http_conn_phase(c, PH_LINGER);
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        http_conn_close(c);
        return;
    }
    http_conn_arm(c, HTTP_LINGER_MS);
    http_conn_update_reading(c);
}

/* The response is out and (for keep-alive) the request fully read: on to the
 * next request, or close. */
void http_conn_maybe_next(struct http_conn *c)
{
    struct qm_http_req *r = c->req;
    if (!r || c->closing || !r->resp_flushed)
        return;
    if (!r->msg_complete && !c->close_after) {  /* early answer to a body-less request */
        http_conn_feed(c);
        return;
    }
    c->req = NULL;
    http_req_drop_server(r);
    if (c->close_after || c->srv->stopping) {
        conn_shutdown(c);
        return;
    }
    http_conn_phase(c, PH_IDLE);
    http_conn_arm(c, c->srv->cfg.idle_timeout_ms);
    http_conn_feed(c);
}

void http_conn_response_flushed(struct http_conn *c)
{
    if (c->req && !c->closing) {
        c->req->resp_flushed = true;
        http_conn_maybe_next(c);
    }
}

/* The server answers on its own (a parse error, a limit, a timeout), then
 * closes: after a malformed request nothing further can be trusted. */
void http_conn_fail(struct http_conn *c, int status, const char *msg)
{
    if (c->closing)
        return;
    c->stop_parse = c->close_after = true;
    struct qm_http_req *r = c->req;
    if (!r && !(r = c->req = http_req_new(c))) {
        http_conn_close(c);
        return;
    }
    if (r->dispatched || r->resp_started) {  /* the handler owns the answer: just cut */
        http_conn_close(c);
        return;
    }
    http_conn_phase(c, PH_WAIT);
    uv_timer_stop(&c->timer);
    http_resp_error(r, status, msg);
}

/* ---- reading ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct http_conn *c = h->data;
    *buf = uv_buf_init(c->srv->rbuf, sizeof c->srv->rbuf);
}

static void on_eof(struct http_conn *c, ssize_t nread)
{
    struct qm_http_req *r = c->req;
    c->eof = true;
    if (nread == UV_EOF && r && r->resp_ended && c->phase != PH_LINGER) {
        /* a half-close after the request: let the answer go out, then close */
        c->stop_parse = c->close_after = true;
        http_conn_update_reading(c);
        if (r->resp_flushed)
            http_conn_maybe_next(c);
        return;
    }
    /* The client is gone: a request in flight gets its on_close. */
    http_conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = s->data;
    if (c->closing || nread == 0)
        return;
    if (nread < 0) {
        on_eof(c, nread);
        return;
    }
    if (c->phase == PH_LINGER || c->stop_parse)
        return;
    if (c->phase == PH_BODY) {  /* the idle timeout measures silence, not total time */
        c->kick = false;         /* the feed below does what a pending kick would */
        http_conn_arm(c, c->srv->cfg.idle_timeout_ms);
    }
    size_t need;
    if (qm_ckd_add(&need, c->in_len, (size_t)nread)) {
        http_conn_close(c);
        return;
    }
    if (need > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 4096;
        while (cap < need)
            cap *= 2;
        char *grown = realloc(c->in, cap);
        if (!grown) {
            http_conn_close(c);
            return;
        }
        c->in = grown;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, buf->base, (size_t)nread);
    c->in_len += (size_t)nread;
    http_conn_feed(c);
}

static void on_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    if (c->closing)
        return;
    if (c->kick) {
        c->kick = false;
        if (c->phase == PH_BODY)
            http_conn_arm(c, c->srv->cfg.idle_timeout_ms);
        http_conn_feed(c);
        return;
    }
    switch (c->phase) {
    case PH_FRESH:
    case PH_IDLE:
    case PH_LINGER:
        http_conn_close(c);
        break;
    case PH_HEADERS:
        http_conn_fail(c, 408, "timed out waiting for the request headers");
        break;
    case PH_BODY:
        http_conn_fail(c, 408, "timed out waiting for the request body");
        break;
    case PH_WAIT:  /* the answer is complete but the client does not read it */
        if (c->req && c->req->resp_ended && !c->req->resp_flushed)
            http_conn_close(c);
        break;
    }
}

/* ---- opening and closing ---------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    struct qm_http_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    struct qm_http_req *r = c->req;
    c->req = NULL;
    if (r) {
        r->conn = NULL;
        if (r->handler_holds && !r->resp_ended && r->on_close) {
            void (*cb)(struct qm_http_req *, void *) = r->on_close;
            r->on_close = NULL;
            cb(r, r->close_ud);
        }
        http_req_drop_server(r);
    }
    qm_log_debug("http: %s: connection closed", c->remote);
    free(c->in);
    free(c);
    http_server_unlive(srv);
}

void http_conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void name_peer(struct http_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        uv_ip_name((struct sockaddr *)&ss, ip, sizeof ip);
        port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    }
    snprintf(c->remote, sizeof c->remote, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
}

void http_conn_accept(struct qm_http_server *srv, uv_stream_t *listener, bool check_host)
{
    struct http_conn *c = calloc(1, sizeof *c);
    if (!c) {
        qm_log_err("http: out of memory accepting a connection");
        return;
    }
    c->srv = srv;
    c->check_host = check_host;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    c->next = srv->conns;
    if (c->next)
        c->next->prev = c;
    srv->conns = c;
    srv->live++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        http_conn_close(c);
        return;
    }
    /* Tokens are small writes that must leave at once; keepalive probes find
     * peers that vanished during a long generation. */
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 60);
    name_peer(c);
    llhttp_init(&c->parser, HTTP_REQUEST, &srv->settings);
    c->parser.data = c;
    http_conn_phase(c, PH_FRESH);
    http_conn_arm(c, srv->cfg.header_timeout_ms);
    qm_log_debug("http: %s: connection opened", c->remote);
    http_conn_update_reading(c);
}
