/* test_http_server.c - the HTTP server transport, over real loopback sockets.
 *
 * The server runs on its own libuv loop in a thread with a small handler
 * (below); the tests talk to it with plain POSIX sockets and read responses
 * with llhttp in response mode (which also de-chunks).  Each test starts a
 * server with the configuration it needs and stops it, checking that the
 * loop closes cleanly (every handle closed, so nothing leaks under ASan). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <llhttp.h>
#include <uv.h>

#include "server.h"
#include "strbuf.h"

/* ======================================================================
 * The server side: a loop thread and a small handler
 * ====================================================================== */

static struct {
    uv_loop_t loop;
    uv_async_t async;
    pthread_t thread;
    struct qm_http_server *srv;
    int port;
    sem_t done;
    void (*call)(void);
    size_t n_active;  /* read on the loop by get_active */
} S;

static atomic_int g_closes;             /* on_close calls */
static atomic_int g_write_after_close;  /* what stream_write returned inside on_close */

static uint32_t fnv1a(uint32_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void free_handle_owner(uv_handle_t *h)
{
    free(h->data);
}

/* /delay?ms=N: answers later, so pipelining must hold the next request. */
struct delay {
    struct qm_http_req *req;
    uv_timer_t t;
};

static void delay_fire(uv_timer_t *t)
{
    struct delay *d = t->data;
    qm_http_respond(d->req, 200, "text/plain", "delayed", 7);
    uv_close((uv_handle_t *)&d->t, free_handle_owner);
}

/* /slowstream: a tick every 10 ms until the client hangs up. */
struct slow {
    struct qm_http_req *req;
    uv_timer_t t;
};

static void slow_tick(uv_timer_t *t)
{
    struct slow *s = t->data;
    qm_http_stream_write(s->req, "tick\n", 5);
}

static void slow_closed(struct qm_http_req *req, void *ud)
{
    struct slow *s = ud;
    atomic_store(&g_write_after_close, qm_http_stream_write(req, "late\n", 5));
    atomic_fetch_add(&g_closes, 1);
    uv_timer_stop(&s->t);
    qm_http_req_release(req);
    uv_close((uv_handle_t *)&s->t, free_handle_owner);
}

/* POST /upload: a streamed body, registered late and paused on every
 * second piece, resumed by a 1 ms timer (as a pending file write would). */
struct upload {
    struct qm_http_req *req;
    uv_timer_t t;
    bool registered, paused;
    uint64_t bytes, calls;
    uint32_t hash;
    int violations, pauses;
};

static int upload_data(struct qm_http_req *req, const void *data, size_t len, void *ud);
static void upload_end(struct qm_http_req *req, void *ud);

static void upload_tick(uv_timer_t *t)
{
    struct upload *u = t->data;
    if (!u->registered) {
        u->registered = true;
        qm_http_req_on_body(u->req, upload_data, upload_end, u);
        return;
    }
    u->paused = false;
    qm_http_req_resume_body(u->req);
}

static int upload_data(struct qm_http_req *req, const void *data, size_t len, void *ud)
{
    (void)req;
    struct upload *u = ud;
    if (u->paused)
        u->violations++;
    u->bytes += len;
    u->hash = fnv1a(u->hash, data, len);
    if (++u->calls % 2)
        return QM_HTTP_BODY_CONTINUE;
    u->paused = true;
    u->pauses++;
    uv_timer_start(&u->t, upload_tick, 1, 0);
    return QM_HTTP_BODY_PAUSE;
}

static void upload_end(struct qm_http_req *req, void *ud)
{
    struct upload *u = ud;
    qm_http_respond_json(req, 200,
                         json_pack("{s:I,s:I,s:i,s:i}", "bytes", (json_int_t)u->bytes, "hash",
                                   (json_int_t)u->hash, "violations", u->violations, "pauses", u->pauses));
    uv_timer_stop(&u->t);
    uv_close((uv_handle_t *)&u->t, free_handle_owner);
}

static void upload_closed(struct qm_http_req *req, void *ud)
{
    struct upload *u = ud;
    atomic_fetch_add(&g_closes, 1);
    qm_http_req_release(req);
    uv_timer_stop(&u->t);
    uv_close((uv_handle_t *)&u->t, free_handle_owner);
}

static enum qm_http_body_mode body_mode(const char *method, const char *path, void *ud)
{
    (void)ud;
    return strcmp(method, "POST") == 0 && strcmp(path, "/upload") == 0 ? QM_HTTP_BODY_STREAM
                                                                         : QM_HTTP_BODY_BUFFER;
}

static void reply_text(struct qm_http_req *req, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    qm_http_respond(req, 200, "text/plain", buf, strlen(buf));
}

static void handler(struct qm_http_req *req, void *ud)
{
    (void)ud;
    const char *path = qm_http_req_path(req), *query = qm_http_req_query(req);
    if (strcmp(path, "/") == 0) {
        reply_text(req, "qm is running");
    } else if (strcmp(path, "/hello") == 0) {
        reply_text(req, "hello %s", query);
    } else if (strncmp(path, "/p/", 3) == 0) {
        reply_text(req, "path=%s query=%s", path, query);
    } else if (strcmp(path, "/echo") == 0) {
        size_t n;
        const char *body = qm_http_req_body(req, &n);
        qm_http_respond(req, 200, "application/octet-stream", body, n);
    } else if (strcmp(path, "/header") == 0) {
        const char *v = qm_http_req_header(req, query);
        if (v)
            reply_text(req, "%s", v);
        else
            qm_http_respond_error(req, 404, "no such header");
    } else if (strcmp(path, "/api/version") == 0) {
        qm_http_respond_json(req, 200, json_pack("{s:s}", "version", "0.1.0"));
    } else if (strcmp(path, "/stream") == 0) {
        int n = atoi(query + 2);
        qm_http_stream_begin(req, 200, "application/x-ndjson");
        for (int i = 0; i < n; i++) {
            char line[32];
            snprintf(line, sizeof line, "{\"i\":%d}\n", i);
            qm_http_stream_write(req, line, strlen(line));
        }
        qm_http_stream_end(req);
    } else if (strcmp(path, "/slowstream") == 0) {
        struct slow *s = calloc(1, sizeof *s);
        s->req = req;
        uv_timer_init(&S.loop, &s->t);
        s->t.data = s;
        qm_http_req_on_close(req, slow_closed, s);
        qm_http_stream_begin(req, 200, "text/event-stream");
        qm_http_stream_write(req, "tick\n", 5);
        uv_timer_start(&s->t, slow_tick, 10, 10);
    } else if (strcmp(path, "/delay") == 0) {
        struct delay *d = calloc(1, sizeof *d);
        d->req = req;
        uv_timer_init(&S.loop, &d->t);
        d->t.data = d;
        uv_timer_start(&d->t, delay_fire, (uint64_t)atoi(query + 3), 0);
    } else if (strcmp(path, "/upload") == 0) {
        struct upload *u = calloc(1, sizeof *u);
        u->req = req;
        u->hash = 2166136261u;
        uv_timer_init(&S.loop, &u->t);
        u->t.data = u;
        qm_http_req_on_close(req, upload_closed, u);
        uv_timer_start(&u->t, upload_tick, 1, 0);  /* registers on_body later */
    } else if (strcmp(path, "/active") == 0) {
        reply_text(req, "%zu", qm_http_n_active(S.srv));
    } else if (strcmp(path, "/remote") == 0) {
        reply_text(req, "%s", qm_http_req_remote(req));
    } else if (strcmp(path, "/norespond") == 0) {
        qm_http_req_release(req);
    } else {
        qm_http_respond_error(req, 404, "not found");
    }
}

static void on_async(uv_async_t *a)
{
    (void)a;
    S.call();
    sem_post(&S.done);
}

static void on_loop(void (*fn)(void))
{
    S.call = fn;
    uv_async_send(&S.async);
    sem_wait(&S.done);
}

static void *loop_main(void *arg)
{
    (void)arg;
    uv_run(&S.loop, UV_RUN_DEFAULT);
    return NULL;
}

static void start_with(const struct qm_http_config *cfg, int fd)
{
    struct qm_err err = {{0}};
    assert_int_equal(uv_loop_init(&S.loop), 0);
    assert_int_equal(uv_async_init(&S.loop, &S.async, on_async), 0);
    sem_init(&S.done, 0, 0);
    struct qm_http_handlers h = {.handler = handler, .body_mode = body_mode};
    S.srv = qm_http_server_new(&S.loop, cfg, &h, &err);
    assert_non_null(S.srv);
    if (fd >= 0)
        assert_int_equal(qm_http_listen_fd(S.srv, fd, &err), 0);
    else
        assert_int_equal(qm_http_listen(S.srv, "127.0.0.1:0", &err), 0);
    S.port = qm_http_port(S.srv);
    assert_true(S.port > 0);
    atomic_store(&g_closes, 0);
    assert_int_equal(pthread_create(&S.thread, NULL, loop_main, NULL), 0);
}

static void start(const struct qm_http_config *cfg)
{
    start_with(cfg, -1);
}

static void start_default(void)
{
    struct qm_http_config cfg;
    qm_http_config_defaults(&cfg);
    start(&cfg);
}

static void do_free(void)
{
    qm_http_server_free(S.srv);
    uv_close((uv_handle_t *)&S.async, NULL);
}

static void stop(void)
{
    on_loop(do_free);
    pthread_join(S.thread, NULL);
    assert_int_equal(uv_loop_close(&S.loop), 0);  /* UV_EBUSY: a handle was left open */
    sem_destroy(&S.done);
}

static void get_active(void)
{
    S.n_active = qm_http_n_active(S.srv);
}

static void do_stop_accepting(void)
{
    qm_http_stop_accepting(S.srv);
}

/* ======================================================================
 * The client side: sockets and llhttp in response mode
 * ====================================================================== */

struct resp {
    int status;
    struct qm_strbuf head;  /* "\nname: value" per header, names lower-cased */
    struct qm_strbuf body;
};

struct client {
    int fd;
    llhttp_t p;
    llhttp_settings_t s;
    char buf[16384];
    size_t off, len;
    struct resp *cur;
    bool head_req, done, in_field;
};

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static int c_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct client *cl = p->data;
    if (!cl->in_field)
        qm_strbuf_puts(&cl->cur->head, "\n");
    cl->in_field = true;
    for (size_t i = 0; i < n; i++) {
        char ch = (char)tolower((unsigned char)at[i]);
        qm_strbuf_put(&cl->cur->head, &ch, 1);
    }
    return 0;
}

static int c_header_field_complete(llhttp_t *p)
{
    struct client *cl = p->data;
    cl->in_field = false;
    qm_strbuf_puts(&cl->cur->head, ": ");
    return 0;
}

static int c_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct client *cl = p->data;
    qm_strbuf_put(&cl->cur->head, at, n);
    return 0;
}

static int c_headers_complete(llhttp_t *p)
{
    struct client *cl = p->data;
    cl->cur->status = llhttp_get_status_code(p);
    return cl->head_req ? 1 : 0;  /* 1: a response to HEAD has no body */
}

static int c_body(llhttp_t *p, const char *at, size_t n)
{
    struct client *cl = p->data;
    qm_strbuf_put(&cl->cur->body, at, n);
    return 0;
}

static int c_message_complete(llhttp_t *p)
{
    struct client *cl = p->data;
    cl->done = true;
    return HPE_PAUSED;  /* leave a following response for the next read */
}

static void client_open(struct client *cl)
{
    memset(cl, 0, offsetof(struct client, buf));
    cl->off = cl->len = 0;
    cl->fd = connect_port(S.port);
    assert_true(cl->fd >= 0);
    llhttp_settings_init(&cl->s);
    cl->s.on_header_field = c_header_field;
    cl->s.on_header_field_complete = c_header_field_complete;
    cl->s.on_header_value = c_header_value;
    cl->s.on_headers_complete = c_headers_complete;
    cl->s.on_body = c_body;
    cl->s.on_message_complete = c_message_complete;
    llhttp_init(&cl->p, HTTP_RESPONSE, &cl->s);
    cl->p.data = cl;
}

static void client_close(struct client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    cl->fd = -1;
}

static void resp_free(struct resp *r)
{
    free(r->head.p);
    free(r->body.p);
    memset(r, 0, sizeof *r);
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        assert_true(k > 0);
        c += k;
        n -= (size_t)k;
    }
}

static void send_str(struct client *cl, const char *s)
{
    send_all(cl->fd, s, strlen(s));
}

/* One response; 0, or -1 on EOF/garbage/timeout before it was complete. */
static int read_resp(struct client *cl, struct resp *r, bool head_req)
{
    memset(r, 0, sizeof *r);
    cl->cur = r;
    cl->done = false;
    cl->head_req = head_req;
    cl->in_field = false;
    for (;;) {
        if (cl->off < cl->len) {
            const char *p = cl->buf + cl->off;
            llhttp_errno_t e = llhttp_execute(&cl->p, p, cl->len - cl->off);
            if (e == HPE_PAUSED) {
                cl->off += (size_t)(llhttp_get_error_pos(&cl->p) - p);
                llhttp_resume(&cl->p);
            } else if (e == HPE_OK) {
                cl->off = cl->len;
            } else {
                return -1;
            }
            if (cl->done)
                return 0;
        }
        ssize_t n = recv(cl->fd, cl->buf, sizeof cl->buf, 0);
        if (n <= 0) {
            if (n == 0)
                llhttp_finish(&cl->p);  /* a body delimited by the close */
            return cl->done ? 0 : -1;
        }
        cl->off = 0;
        cl->len = (size_t)n;
    }
}

/* The value of a response header, or NULL (a static copy). */
static const char *hdr(const struct resp *r, const char *name)
{
    static char val[1024];
    char pat[128];
    snprintf(pat, sizeof pat, "\n%s: ", name);
    const char *h = r->head.p ? strstr(r->head.p, pat) : NULL;
    if (!h)
        return NULL;
    h += strlen(pat);
    size_t n = strcspn(h, "\n");
    snprintf(val, sizeof val, "%.*s", (int)n, h);
    return val;
}

static const char *body(const struct resp *r)
{
    return r->body.p ? r->body.p : "";
}

/* The server has closed: nothing more, then EOF (not a timeout). */
static void assert_closed(struct client *cl)
{
    assert_int_equal(cl->off, cl->len);
    char ch;
    assert_int_equal(recv(cl->fd, &ch, 1, 0), 0);
}

/* One request, one response, on a fresh connection. */
static void roundtrip(const char *req, struct resp *r)
{
    struct client cl;
    client_open(&cl);
    send_str(&cl, req);
    assert_int_equal(read_resp(&cl, r, strncmp(req, "HEAD", 4) == 0), 0);
    client_close(&cl);
}

/* Everything the server sends until it closes. */
static char *raw_until_close(const char *req, size_t *len)
{
    int fd = connect_port(S.port);
    assert_true(fd >= 0);
    send_all(fd, req, strlen(req));
    struct qm_strbuf b = {0};
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        qm_strbuf_put(&b, buf, (size_t)n);
    assert_int_equal(n, 0);  /* closed, not timed out */
    close(fd);
    *len = b.len;
    return b.p ? b.p : strdup("");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

/* ======================================================================
 * Tests
 * ====================================================================== */

static void test_keepalive(void **state)
{
    (void)state;
    start_default();
    struct client cl;
    struct resp r;
    client_open(&cl);
    send_str(&cl, GET("/hello?x=1"));
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(body(&r), "hello x=1");
    assert_string_equal(hdr(&r, "content-length"), "9");
    assert_null(hdr(&r, "connection"));
    resp_free(&r);
    send_str(&cl, GET("/hello?x=2"));  /* same socket */
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_string_equal(body(&r), "hello x=2");
    resp_free(&r);
    send_str(&cl, GET("/remote"));
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_true(strncmp(body(&r), "127.0.0.1:", 10) == 0);
    resp_free(&r);
    client_close(&cl);
    stop();
}

static void test_pipelining(void **state)
{
    (void)state;
    start_default();
    struct client cl;
    struct resp r;
    client_open(&cl);
    /* the first answer comes 50 ms late: the others must wait behind it */
    send_str(&cl, GET("/delay?ms=50") GET("/hello?a=2")
                  "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 14\r\n\r\npipelined-body"
                  GET("/hello?a=4"));
    const char *want[] = {"delayed", "hello a=2", "pipelined-body", "hello a=4"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(read_resp(&cl, &r, false), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(body(&r), want[i]);
        resp_free(&r);
    }
    client_close(&cl);
    stop();
}

static void test_chunked_stream(void **state)
{
    (void)state;
    start_default();
    struct client cl;
    struct resp r;
    client_open(&cl);
    send_str(&cl, GET("/stream?n=5"));
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "transfer-encoding"), "chunked");
    assert_string_equal(hdr(&r, "content-type"), "application/x-ndjson");
    assert_null(hdr(&r, "content-length"));
    assert_string_equal(body(&r), "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n{\"i\":4}\n");
    resp_free(&r);
    send_str(&cl, GET("/hello?after=stream"));  /* the stream ended cleanly */
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_string_equal(body(&r), "hello after=stream");
    resp_free(&r);
    client_close(&cl);
    stop();
}

static void test_chunked_request_body(void **state)
{
    (void)state;
    start_default();
    struct resp r;
    roundtrip("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
              &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(body(&r), "hello world");
    resp_free(&r);
    stop();
}

static void test_body_limit_413(void **state)
{
    (void)state;
    struct qm_http_config cfg;
    qm_http_config_defaults(&cfg);
    cfg.max_body = 1024;
    start(&cfg);
    struct client cl;
    struct resp r;

    /* declared too large: refused before the body is sent, then closed */
    client_open(&cl);
    send_str(&cl, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000\r\n\r\n");
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(body(&r), "\"error\""));
    assert_string_equal(hdr(&r, "connection"), "close");
    assert_closed(&cl);
    resp_free(&r);
    client_close(&cl);

    /* chunked, found too large while reading */
    client_open(&cl);
    char chunk[700];
    memset(chunk, 'a', sizeof chunk);
    send_str(&cl, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 2; i++) {
        send_str(&cl, "2bc\r\n");
        send_all(cl.fd, chunk, sizeof chunk);
        send_str(&cl, "\r\n");
    }
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    client_close(&cl);

    /* exactly at the limit is fine */
    client_open(&cl);
    char big[1024];
    memset(big, 'b', sizeof big);
    send_str(&cl, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1024\r\n\r\n");
    send_all(cl.fd, big, sizeof big);
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 1024);
    resp_free(&r);
    client_close(&cl);
    stop();
}

static void test_header_limits_431(void **state)
{
    (void)state;
    start_default();
    struct client cl;
    struct resp r;

    client_open(&cl);  /* a flood of headers */
    send_str(&cl, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (int i = 0; i < 150; i++) {
        char h[64];
        snprintf(h, sizeof h, "X-Flood-%d: v\r\n", i);
        send_str(&cl, h);
    }
    send_str(&cl, "\r\n");
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 431);
    assert_closed(&cl);
    resp_free(&r);
    client_close(&cl);

    client_open(&cl);  /* one huge header */
    size_t n = 70 * 1024;
    char *v = malloc(n + 1);
    memset(v, 'x', n);
    v[n] = '\0';
    send_str(&cl, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ");
    send_all(cl.fd, v, n);
    send_str(&cl, "\r\n\r\n");
    free(v);
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 431);
    resp_free(&r);
    client_close(&cl);

    /* 99 headers + Host = 100 is still fine */
    client_open(&cl);
    send_str(&cl, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (int i = 0; i < 99; i++) {
        char h[64];
        snprintf(h, sizeof h, "X-Ok-%d: v\r\n", i);
        send_str(&cl, h);
    }
    send_str(&cl, "\r\n");
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    client_close(&cl);
    stop();
}

static void test_timeouts_408(void **state)
{
    (void)state;
    struct qm_http_config cfg;
    qm_http_config_defaults(&cfg);
    cfg.header_timeout_ms = 300;
    cfg.idle_timeout_ms = 300;
    start(&cfg);
    struct client cl;
    struct resp r;

    /* slowloris: a header line every 50 ms never completes the headers */
    client_open(&cl);
    double t0 = now_s();
    send_str(&cl, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    struct pollfd pfd = {.fd = cl.fd, .events = POLLIN};
    while (poll(&pfd, 1, 50) == 0 && now_s() - t0 < 3)
        send_str(&cl, "X-Slow: 1\r\n");
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 408);
    assert_closed(&cl);
    assert_true(now_s() - t0 < 2.0);
    resp_free(&r);
    client_close(&cl);

    /* a keep-alive connection left idle is closed, silently */
    client_open(&cl);
    send_str(&cl, GET("/hello"));
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    t0 = now_s();
    assert_closed(&cl);
    assert_true(now_s() - t0 < 2.0);
    client_close(&cl);
    stop();
}

static void test_garbage_400(void **state)
{
    (void)state;
    start_default();
    struct resp r;
    const char *bad[] = {
        "\x16\x03\x01\x02\x00garbage\r\n\r\n",  /* a TLS hello */
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n",
        "GET /%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "GET /a%00b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct client cl;
        client_open(&cl);
        send_str(&cl, bad[i]);
        assert_int_equal(read_resp(&cl, &r, false), 0);
        assert_int_equal(r.status, 400);
        json_t *j = json_loads(body(&r), 0, NULL);
        assert_non_null(json_string_value(json_object_get(j, "error")));
        json_decref(j);
        assert_closed(&cl);
        resp_free(&r);
        client_close(&cl);
    }
    /* random bytes: the server answers 400 or closes, and keeps working */
    srand(42);
    for (int i = 0; i < 200; i++) {
        int fd = connect_port(S.port);
        assert_true(fd >= 0);
        unsigned char junk[512];
        size_t n = 1 + (size_t)rand() % sizeof junk;
        for (size_t k = 0; k < n; k++)
            junk[k] = (unsigned char)rand();
        if (i % 2)  /* half of them start like a request */
            memcpy(junk, "GET / HTTP/1.1\r\n", n < 16 ? n : 16);
        send(fd, junk, n, MSG_NOSIGNAL);
        shutdown(fd, SHUT_WR);
        char buf[1024];
        while (recv(fd, buf, sizeof buf, 0) > 0)
            ;
        close(fd);
    }
    roundtrip(GET("/hello?still=alive"), &r);
    assert_string_equal(body(&r), "hello still=alive");
    resp_free(&r);
    stop();
}

static void test_transfer_encoding_501(void **state)
{
    (void)state;
    start_default();
    struct resp r;
    roundtrip("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\nxx", &r);
    assert_int_equal(r.status, 501);
    resp_free(&r);
    roundtrip("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
              "0\r\n\r\n",
              &r);
    assert_int_equal(r.status, 501);
    resp_free(&r);
    stop();
}

static void test_many_idle_connections(void **state)
{
    (void)state;
    enum { N = 1000 };
    if (qm_http_raise_nofile() < 2 * N + 64)
        skip();
    start_default();
    static struct client cl[N];
    struct resp r;
    for (int i = 0; i < N; i++)
        client_open(&cl[i]);
    for (int i = 0; i < N; i++)  /* all in flight at once */
        send_str(&cl[i], GET("/hello?many"));
    for (int i = 0; i < N; i++) {
        assert_int_equal(read_resp(&cl[i], &r, false), 0);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    /* 1,000 idle keep-alive connections: a new client is still served ... */
    roundtrip(GET("/hello?new"), &r);
    assert_string_equal(body(&r), "hello new");
    resp_free(&r);
    /* ... and so are the idle ones */
    for (int i = 0; i < N; i += N - 1) {
        send_str(&cl[i], GET("/hello?again"));
        assert_int_equal(read_resp(&cl[i], &r, false), 0);
        assert_string_equal(body(&r), "hello again");
        resp_free(&r);
    }
    for (int i = 0; i < N; i++)
        client_close(&cl[i]);
    stop();
}

static void test_cors(void **state)
{
    (void)state;
    start_default();
    struct resp r;

    roundtrip("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "access-control-allow-origin"), "http://localhost:3000");
    assert_string_equal(hdr(&r, "vary"), "Origin");
    resp_free(&r);

    roundtrip("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n\r\n", &r);
    assert_int_equal(r.status, 403);
    assert_null(hdr(&r, "access-control-allow-origin"));
    resp_free(&r);

    const char *allowed[] = {"app://obsidian.md", "vscode-webview://abc", "http://localhost",
                             "chrome-extension://abcdef", "https://0.0.0.0:8443"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: %s\r\n\r\n", allowed[i]);
        roundtrip(req, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(hdr(&r, "access-control-allow-origin"), allowed[i]);
        resp_free(&r);
    }

    roundtrip("OPTIONS /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://127.0.0.1:8080\r\n"
              "Access-Control-Request-Method: POST\r\n"
              "Access-Control-Request-Headers: x-stainless-os, content-type\r\n\r\n",
              &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(hdr(&r, "access-control-allow-origin"), "http://127.0.0.1:8080");
    assert_non_null(strstr(hdr(&r, "access-control-allow-methods"), "POST"));
    assert_non_null(strstr(hdr(&r, "access-control-allow-headers"), "Authorization"));
    assert_non_null(strstr(hdr(&r, "access-control-allow-headers"), "x-stainless-os"));
    assert_int_equal(r.body.len, 0);
    resp_free(&r);

    roundtrip("OPTIONS /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n"
              "Access-Control-Request-Method: POST\r\n\r\n",
              &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);

    /* DNS rebinding: a foreign Host on a loopback listener */
    roundtrip("GET /hello HTTP/1.1\r\nHost: evil.example\r\n\r\n", &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    roundtrip("GET /hello HTTP/1.1\r\nHost: localhost:11434\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    roundtrip("GET /hello HTTP/1.1\r\nHost: app.localhost\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    stop();

    /* QM_ORIGINS adds patterns */
    struct qm_http_config cfg;
    qm_http_config_defaults(&cfg);
    cfg.origins = "https://*.example.org, http://myhost:9000";
    start(&cfg);
    roundtrip("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://app.example.org\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    roundtrip("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://myhost:9000\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    roundtrip("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://myhost:9001\r\n\r\n", &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    stop();

    cfg.origins = "*";
    start(&cfg);
    roundtrip("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://anything.example\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "access-control-allow-origin"), "https://anything.example");
    resp_free(&r);
    stop();
}

static void test_api_key(void **state)
{
    (void)state;
    struct qm_http_config cfg;
    qm_http_config_defaults(&cfg);
    cfg.api_key = "s3cret";
    start(&cfg);
    struct resp r;

    roundtrip(GET("/hello"), &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(body(&r), "{\"error\":\"unauthorized\"}");
    assert_string_equal(hdr(&r, "www-authenticate"), "Bearer");
    resp_free(&r);

    const char *wrong[] = {"Bearer nope", "Bearer s3cretX", "Bearer s3cre", "Basic s3cret", "Bearer", ""};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n\r\n",
                 wrong[i]);
        roundtrip(req, &r);
        assert_int_equal(r.status, 401);
        resp_free(&r);
    }
    const char *right[] = {"Bearer s3cret", "bearer  s3cret "};
    for (size_t i = 0; i < sizeof right / sizeof *right; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n\r\n",
                 right[i]);
        roundtrip(req, &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    roundtrip(GET("/api/version"), &r);  /* exempt */
    assert_int_equal(r.status, 200);
    assert_string_equal(body(&r), "{\"version\":\"0.1.0\"}");
    assert_string_equal(hdr(&r, "content-type"), "application/json; charset=utf-8");
    resp_free(&r);
    roundtrip(GET("/"), &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    roundtrip("HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    roundtrip("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    /* a preflight carries no credentials */
    roundtrip("OPTIONS /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:5173\r\n"
              "Access-Control-Request-Method: POST\r\n\r\n",
              &r);
    assert_int_equal(r.status, 204);
    resp_free(&r);
    stop();
}

static void test_disconnect_fires_on_close(void **state)
{
    (void)state;
    start_default();
    int fd = connect_port(S.port);
    send_all(fd, GET("/slowstream"), strlen(GET("/slowstream")));
    char buf[1024];
    size_t got = 0;
    while (got < sizeof buf - 1) {  /* the headers and a first tick */
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "tick"))
            break;
    }
    assert_non_null(strstr(buf, "200 OK"));
    assert_int_equal(atomic_load(&g_closes), 0);
    close(fd);
    double t0 = now_s();
    while (atomic_load(&g_closes) == 0 && now_s() - t0 < 3)
        usleep(2000);
    assert_int_equal(atomic_load(&g_closes), 1);
    assert_int_equal(atomic_load(&g_write_after_close), QM_EIO);  /* writes after it are no-ops */
    struct resp r;
    roundtrip(GET("/active"), &r);
    assert_string_equal(body(&r), "1");  /* only /active itself: the stream is gone */
    resp_free(&r);
    stop();
}

static void upload_check(struct resp *r, size_t size, uint32_t hash)
{
    assert_int_equal(r->status, 200);
    json_t *j = json_loads(body(r), 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes")), (json_int_t)size);
    assert_int_equal(json_integer_value(json_object_get(j, "hash")), (json_int_t)hash);
    assert_int_equal(json_integer_value(json_object_get(j, "violations")), 0);
    assert_true(json_integer_value(json_object_get(j, "pauses")) > 5);
    json_decref(j);
}

static void test_streamed_body_pause_resume(void **state)
{
    (void)state;
    struct qm_http_config cfg;
    qm_http_config_defaults(&cfg);
    cfg.max_body = 64 * 1024;  /* a streamed body is not bound by it */
    start(&cfg);
    size_t size = 4u << 20;
    unsigned char *data = malloc(size);
    uint32_t x = 12345;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)(x >> 16);
    }
    uint32_t hash = fnv1a(2166136261u, data, size);
    struct client cl;
    struct resp r;

    /* Content-Length, with Expect: 100-continue */
    client_open(&cl);
    char head[256];
    snprintf(head, sizeof head,
             "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n"
             "Expect: 100-continue\r\n\r\n",
             size);
    send_str(&cl, head);
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 100);
    resp_free(&r);
    for (size_t off = 0; off < size; off += 65536)
        send_all(cl.fd, data + off, size - off < 65536 ? size - off : 65536);
    assert_int_equal(read_resp(&cl, &r, false), 0);
    upload_check(&r, size, hash);
    resp_free(&r);

    /* chunked, on the same connection */
    size_t csize = 1536 * 1024;
    send_str(&cl, "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (size_t off = 0; off < csize; off += 100000) {
        size_t n = csize - off < 100000 ? csize - off : 100000;
        char line[32];
        snprintf(line, sizeof line, "%zx\r\n", n);
        send_str(&cl, line);
        send_all(cl.fd, data + off, n);
        send_str(&cl, "\r\n");
    }
    send_str(&cl, "0\r\n\r\n");
    assert_int_equal(read_resp(&cl, &r, false), 0);
    upload_check(&r, csize, fnv1a(2166136261u, data, csize));
    resp_free(&r);
    client_close(&cl);

    /* a client that leaves mid-upload: on_close, nothing leaks */
    client_open(&cl);
    send_str(&cl, "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n");
    send_all(cl.fd, data, 300000);
    client_close(&cl);
    double t0 = now_s();
    while (atomic_load(&g_closes) == 0 && now_s() - t0 < 3)
        usleep(2000);
    assert_int_equal(atomic_load(&g_closes), 1);
    free(data);
    stop();
}

static void test_head_has_no_body(void **state)
{
    (void)state;
    start_default();
    size_t n;
    char *raw = raw_until_close("HEAD /hello?x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &n);
    assert_non_null(strstr(raw, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(raw, "Content-Length: 7\r\n"));  /* what GET would send */
    char *end = strstr(raw, "\r\n\r\n");
    assert_non_null(end);
    assert_int_equal((size_t)(end + 4 - raw), n);  /* nothing after the headers */
    free(raw);

    raw = raw_until_close("HEAD /stream?n=3 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &n);
    assert_non_null(strstr(raw, "Transfer-Encoding: chunked\r\n"));
    end = strstr(raw, "\r\n\r\n");
    assert_int_equal((size_t)(end + 4 - raw), n);
    free(raw);

    /* on a kept-alive connection the next response parses right after */
    struct client cl;
    struct resp r;
    client_open(&cl);
    send_str(&cl, "HEAD /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" GET("/hello?next"));
    assert_int_equal(read_resp(&cl, &r, true), 0);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_string_equal(body(&r), "hello next");
    resp_free(&r);
    client_close(&cl);
    stop();
}

static void test_http10_and_connection_close(void **state)
{
    (void)state;
    start_default();
    struct client cl;
    struct resp r;

    client_open(&cl);
    send_str(&cl, "GET /hello?v=10 HTTP/1.0\r\n\r\n");
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_string_equal(body(&r), "hello v=10");
    assert_string_equal(hdr(&r, "connection"), "close");
    assert_closed(&cl);
    resp_free(&r);
    client_close(&cl);

    client_open(&cl);  /* 1.0 asking for keep-alive gets it */
    send_str(&cl, "GET /hello?a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_string_equal(hdr(&r, "connection"), "keep-alive");
    resp_free(&r);
    send_str(&cl, "GET /hello?b HTTP/1.0\r\n\r\n");
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_string_equal(body(&r), "hello b");
    assert_closed(&cl);
    resp_free(&r);
    client_close(&cl);

    /* a 1.0 client cannot read chunks: raw bytes, ended by the close */
    size_t n;
    char *raw = raw_until_close("GET /stream?n=2 HTTP/1.0\r\n\r\n", &n);
    assert_null(strstr(raw, "Transfer-Encoding"));
    char *end = strstr(raw, "\r\n\r\n");
    assert_non_null(end);
    assert_string_equal(end + 4, "{\"i\":0}\n{\"i\":1}\n");
    free(raw);

    client_open(&cl);  /* HTTP/1.1 Connection: close */
    send_str(&cl, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "connection"), "close");
    assert_closed(&cl);
    resp_free(&r);
    client_close(&cl);
    stop();
}

static void test_request_accessors(void **state)
{
    (void)state;
    start_default();
    struct resp r;
    roundtrip("GET /header?x-test HTTP/1.1\r\nHost: 127.0.0.1\r\nX-TEST: Value1\r\n\r\n", &r);
    assert_string_equal(body(&r), "Value1");
    resp_free(&r);
    roundtrip(GET("/p/a%20b/sha256%3Aab?q=%20&r=1"), &r);
    assert_string_equal(body(&r), "path=/p/a b/sha256:ab query=q=%20&r=1");
    resp_free(&r);
    roundtrip("GET http://127.0.0.1/p/abs?z HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &r);
    assert_string_equal(body(&r), "path=/p/abs query=z");
    resp_free(&r);
    stop();
}

static void test_release_without_answer_500(void **state)
{
    (void)state;
    start_default();
    struct client cl;
    struct resp r;
    client_open(&cl);
    send_str(&cl, GET("/norespond"));
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_int_equal(r.status, 500);
    resp_free(&r);
    send_str(&cl, GET("/hello?kept"));  /* the connection survives */
    assert_int_equal(read_resp(&cl, &r, false), 0);
    assert_string_equal(body(&r), "hello kept");
    resp_free(&r);
    client_close(&cl);
    stop();
}

static void test_stop_accepting_drains(void **state)
{
    (void)state;
    start_default();
    struct client idle, busy;
    struct resp r;
    client_open(&idle);
    send_str(&idle, GET("/hello"));
    assert_int_equal(read_resp(&idle, &r, false), 0);
    resp_free(&r);
    client_open(&busy);
    send_str(&busy, GET("/delay?ms=300"));
    double t0 = now_s();
    do {  /* until the server has handed it to the handler */
        usleep(2000);
        on_loop(get_active);
    } while (S.n_active == 0 && now_s() - t0 < 2);
    assert_int_equal(S.n_active, 1);
    on_loop(do_stop_accepting);
    assert_int_equal(connect_port(S.port), -1);  /* no new connections */
    assert_closed(&idle);                          /* idle ones are closed */
    assert_int_equal(read_resp(&busy, &r, false), 0);  /* the one in flight is answered */
    assert_string_equal(body(&r), "delayed");
    assert_string_equal(hdr(&r, "connection"), "close");
    assert_closed(&busy);
    resp_free(&r);
    on_loop(get_active);
    assert_int_equal(S.n_active, 0);
    client_close(&idle);
    client_close(&busy);
    stop();
}

static bool cloexec_on_all_listeners(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        int acc = 0;
        socklen_t len = sizeof acc;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc)
            continue;
        if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
            return false;
    }
    return true;
}

static void test_listen_fd_and_cloexec(void **state)
{
    (void)state;
    start_default();
    assert_true(cloexec_on_all_listeners());
    stop();

    /* a socket as systemd passes it: listening, not close-on-exec */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_false(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    struct qm_http_config cfg;
    qm_http_config_defaults(&cfg);
    start_with(&cfg, fd);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(cloexec_on_all_listeners());
    struct resp r;
    roundtrip(GET("/hello?fd"), &r);
    assert_string_equal(body(&r), "hello fd");
    resp_free(&r);
    stop();

    /* not a listening socket: refused */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct qm_http_handlers h = {.handler = handler};
    struct qm_err err;
    struct qm_http_server *srv = qm_http_server_new(&loop, NULL, &h, &err);
    int plain = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_not_equal(qm_http_listen_fd(srv, plain, &err), 0);
    close(plain);
    assert_int_not_equal(qm_http_listen(srv, "127.0.0.1:99999", &err), 0);
    assert_non_null(strstr(err.msg, "port"));
    qm_http_server_free(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_parse_hostport(void **state)
{
    (void)state;
    struct {
        const char *in, *host;
        int port;
    } ok[] = {
        {"127.0.0.1:11434", "127.0.0.1", 11434},
        {"0.0.0.0", "0.0.0.0", 11434},
        {":8080", "127.0.0.1", 8080},
        {"localhost:1234", "localhost", 1234},
        {"http://example.com:99", "example.com", 99},
        {"https://10.0.0.1:443/some/path", "10.0.0.1", 443},
        {"http://host", "host", 11434},
        {"[::1]:11434", "::1", 11434},
        {"[::1]", "::1", 11434},
        {"::1", "::1", 11434},
        {"", "127.0.0.1", 11434},
        {NULL, "127.0.0.1", 11434},
        {"  0.0.0.0:0  ", "0.0.0.0", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char host[64];
        int port = -1;
        struct qm_err err = {{0}};
        assert_int_equal(qm_http_parse_hostport(ok[i].in, host, sizeof host, &port, &err), 0);
        assert_string_equal(host, ok[i].host);
        assert_int_equal(port, ok[i].port);
    }
    const char *bad[] = {"host:abc", "host:65536", "[::1", "[::1]x", "host:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char host[64];
        int port;
        struct qm_err err = {{0}};
        assert_int_not_equal(qm_http_parse_hostport(bad[i], host, sizeof host, &port, &err), 0);
        assert_true(err.msg[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_hostport),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_chunked_stream),
        cmocka_unit_test(test_chunked_request_body),
        cmocka_unit_test(test_body_limit_413),
        cmocka_unit_test(test_header_limits_431),
        cmocka_unit_test(test_timeouts_408),
        cmocka_unit_test(test_garbage_400),
        cmocka_unit_test(test_transfer_encoding_501),
        cmocka_unit_test(test_many_idle_connections),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_disconnect_fires_on_close),
        cmocka_unit_test(test_streamed_body_pause_resume),
        cmocka_unit_test(test_head_has_no_body),
        cmocka_unit_test(test_http10_and_connection_close),
        cmocka_unit_test(test_request_accessors),
        cmocka_unit_test(test_release_without_answer_500),
        cmocka_unit_test(test_stop_accepting_drains),
        cmocka_unit_test(test_listen_fd_and_cloexec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
