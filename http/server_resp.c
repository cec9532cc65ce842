/* server_resp.c - writing responses: whole, streamed, and the server's own.
 *
 * Each write hands libuv one malloc'd buffer (status line, headers and body
 * built together), freed in the write callback; the caller's data is always
 * copied, so a handler may reuse its buffer at once.  The last write of a
 * response is marked: when libuv reports it written, the connection moves on
 * to the next request (or closes), which is what keeps pipelined responses in
 * order and makes qm_http_n_active count a request until its bytes are out.
 *
 * Streams use chunked framing; an HTTP/1.0 client cannot read chunks, so it
 * gets the raw bytes and the end of the stream is the close. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_int.h"

#define JSON_TYPE "application/json; charset=utf-8"

struct http_write {
    uv_write_t w;
    struct http_conn *c;
    bool last;      /* the end of a response */
    char *data;
};

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

static void on_write(uv_write_t *w, int status)
{
    struct http_write *hw = (struct http_write *)w;
    struct http_conn *c = hw->c;
    bool last = hw->last;
    free(hw->data);
    free(hw);
    if (c->closing)  /* cancelled by the close; the connection is still allocated */
        return;
    if (status < 0)
        http_conn_close(c);
    else if (last)
        http_conn_response_flushed(c);
}

/* Takes b's memory whatever happens. */
static int send_buf(struct qm_http_req *r, struct qm_strbuf *b, bool last)
{
    struct http_conn *c = r->conn;
    struct http_write *hw = NULL;
    if (!c || c->closing) {
        free(b->p);
        return QM_EIO;
    }
    if (b->oom || !(hw = malloc(sizeof *hw))) {
        free(b->p);
        http_conn_close(c);
        return QM_ENOMEM;
    }
    hw->c = c;
    hw->last = last;
    hw->data = b->p;
    uv_buf_t buf = {.base = b->p ? b->p : "", .len = b->len};  /* may be empty: a pure end marker */
    if (uv_write(&hw->w, (uv_stream_t *)&c->tcp, &buf, 1, on_write) != 0) {
        free(b->p);
        free(hw);
        http_conn_close(c);
        return QM_EIO;
    }
    if (last)  /* bound how long the answer may sit unread (PH_WAIT timer) */
        http_conn_arm(c, c->srv->cfg.idle_timeout_ms);
    return 0;
}

static void put_fmt(struct qm_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(struct qm_strbuf *b, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        qm_strbuf_put(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Status line and headers.  length: the body size, or -1 for a stream. */
static void put_head(struct qm_strbuf *b, struct qm_http_req *r, int status, const char *ctype,
                     int64_t length)
{
    struct http_conn *c = r->conn;
    r->status = status;
    r->chunked = length < 0 && !r->http10;
    if (!r->keep_alive || c->srv->stopping || (length < 0 && r->http10))
        c->close_after = true;
    put_fmt(b, "HTTP/1.1 %d %s\r\n", status, reason(status));
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) && strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm))
        put_fmt(b, "Date: %s\r\n", date);
    if (ctype)
        put_fmt(b, "Content-Type: %.200s\r\n", ctype);
    if (length >= 0 && status != 204 && status != 304)
        put_fmt(b, "Content-Length: %lld\r\n", (long long)length);
    if (r->chunked)
        qm_strbuf_puts(b, "Transfer-Encoding: chunked\r\n");
    if (c->close_after)
        qm_strbuf_puts(b, "Connection: close\r\n");
    else if (r->http10)
        qm_strbuf_puts(b, "Connection: keep-alive\r\n");
    if (r->extra.len)
        qm_strbuf_put(b, r->extra.p, r->extra.len);
    qm_strbuf_puts(b, "\r\n");
}

/* An answer that ends before the request body was read: the rest of the
 * body would be taken for the next request, so the connection must close. */
static void end_early(struct qm_http_req *r)
{
    if (http_req_body_left(r))
        r->conn->stop_parse = r->conn->close_after = true;
}

void http_resp_add_header(struct qm_http_req *r, const char *name, const char *value)
{
    qm_strbuf_puts(&r->extra, name);
    qm_strbuf_puts(&r->extra, ": ");
    qm_strbuf_puts(&r->extra, value);
    qm_strbuf_puts(&r->extra, "\r\n");
}

void http_resp_send(struct qm_http_req *r, int status, const char *ctype, const void *body, size_t len)
{
    r->resp_started = r->resp_ended = true;
    r->status = status;
    if (!r->conn || r->conn->closing)
        return;
    end_early(r);
    struct qm_strbuf b = {0};
    put_head(&b, r, status, ctype, (int64_t)len);
    if (!r->head && status != 204 && status != 304)
        qm_strbuf_put(&b, body, len);
    send_buf(r, &b, true);
}

static char *error_json(const char *msg)
{
    json_t *j = json_pack("{s:s}", "error", msg ? msg : "error");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;  /* NULL: msg was not UTF-8, or no memory */
}

void http_resp_error(struct qm_http_req *r, int status, const char *msg)
{
    char *s = error_json(msg);
    const char *body = s ? s : "{\"error\":\"error\"}";
    http_resp_send(r, status, JSON_TYPE, body, strlen(body));
    free(s);
}

void http_resp_continue(struct http_conn *c)
{
    struct qm_strbuf b = {0};
    qm_strbuf_puts(&b, "HTTP/1.1 100 Continue\r\n\r\n");
    send_buf(c->req, &b, false);
}

/* ---- the handler's calls ----------------------------------------------------------- */

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 127 || *s == ':')
            return false;
    return true;
}

int qm_http_req_add_header(struct qm_http_req *r, const char *name, const char *value)
{
    if (!r->handler_holds || r->resp_started || !valid_name(name) || strpbrk(value, "\r\n"))
        return QM_EINVAL;
    http_resp_add_header(r, name, value);
    return r->extra.oom ? QM_ENOMEM : 0;
}

int qm_http_respond(struct qm_http_req *r, int status, const char *content_type, const void *body, size_t len)
{
    if (!r->handler_holds)
        return QM_EINVAL;
    if (r->resp_started) {  /* a second answer: cut the first, finish anyway */
        qm_http_req_release(r);
        return QM_EINVAL;
    }
    int rc = qm_http_req_client_gone(r) ? QM_EIO : 0;
    http_resp_send(r, status, content_type, body, len);
    http_req_finish_handler(r);
    return rc;
}

int qm_http_respond_json(struct qm_http_req *r, int status, json_t *json)
{
    char *s = json ? json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(json);
    if (!s)
        return qm_http_respond_error(r, 500, "cannot encode the response");
    int rc = qm_http_respond(r, status, JSON_TYPE, s, strlen(s));
    free(s);
    return rc;
}

int qm_http_respond_error(struct qm_http_req *r, int status, const char *msg)
{
    char *s = error_json(msg);
    const char *body = s ? s : "{\"error\":\"error\"}";
    int rc = qm_http_respond(r, status, JSON_TYPE, body, strlen(body));
    free(s);
    return rc;
}

int qm_http_stream_begin(struct qm_http_req *r, int status, const char *content_type)
{
    if (!r->handler_holds || r->resp_started)
        return QM_EINVAL;
    r->resp_started = true;
    r->status = status;
    if (qm_http_req_client_gone(r))
        return QM_EIO;
    struct qm_strbuf b = {0};
    put_head(&b, r, status, content_type, -1);
    return send_buf(r, &b, false);
}

int qm_http_stream_write(struct qm_http_req *r, const void *data, size_t len)
{
    if (!r->handler_holds || !r->resp_started || r->resp_ended)
        return QM_EINVAL;
    if (qm_http_req_client_gone(r))
        return QM_EIO;
    if (r->head || len == 0)  /* an empty chunk would end the stream */
        return 0;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&r->conn->tcp) > HTTP_MAX_WRITE_QUEUE) {
        http_conn_close(r->conn);  /* on_close tells the handler to stop */
        return QM_EIO;
    }
    struct qm_strbuf b = {0};
    if (r->chunked)
        put_fmt(&b, "%zx\r\n", len);
    qm_strbuf_put(&b, data, len);
    if (r->chunked)
        qm_strbuf_puts(&b, "\r\n");
    return send_buf(r, &b, false);
}

int qm_http_stream_end(struct qm_http_req *r)
{
    if (!r->handler_holds)
        return QM_EINVAL;
    if (!r->resp_started) {
        qm_http_req_release(r);
        return QM_EINVAL;
    }
    r->resp_ended = true;
    int rc = QM_EIO;
    if (!qm_http_req_client_gone(r)) {
        end_early(r);
        struct qm_strbuf b = {0};
        if (r->chunked && !r->head)
            qm_strbuf_puts(&b, "0\r\n\r\n");
        rc = send_buf(r, &b, true);  /* maybe empty: it still marks the end */
    }
    http_req_finish_handler(r);
    return rc;
}

void qm_http_req_release(struct qm_http_req *r)
{
    if (!r->handler_holds)
        return;
    if (!r->resp_ended && !qm_http_req_client_gone(r)) {
        if (!r->resp_started) {
            http_resp_error(r, 500, "the server did not answer this request");
        } else {  /* a stream cut short: closing tells the client it is incomplete */
            r->resp_ended = true;
            http_conn_close(r->conn);
        }
    }
    http_req_finish_handler(r);
}
