/* server_int.h - what the server_*.c, cors.c and auth.c files share.
 *
 * Not part of the API: the structs of a server, a connection and a request,
 * and the internal calls between the files (one concern each):
 *   server.c       the server's life cycle, listeners, accepting
 *   server_addr.c  QM_HOST parsing and resolving
 *   server_conn.c  a connection: reading, llhttp, timers, closing
 *   server_req.c   a request: header checks at headers time, accessors
 *   server_resp.c  writing responses and streams
 *   cors.c         allowed origins and the Host check
 *   auth.c         the API key */
#ifndef QM_HTTP_SERVER_INT_H
#define QM_HTTP_SERVER_INT_H

#include <llhttp.h>

#include "server.h"
#include "strbuf.h"

#define HTTP_BACKLOG 1024          /* >= 511; the kernel caps it at somaxconn */
#define HTTP_READ_BUF (64 * 1024)
#define HTTP_MAX_WRITE_QUEUE ((size_t)16 << 20)  /* a stream client this far behind is not reading */
#define HTTP_LINGER_MS 2000        /* read and drop after our last byte, so a close sends FIN, not RST */

/* ---- CORS and the Host check (cors.c) ---- */
struct http_cors {
    char **patterns;  /* lower-case origins, '*' matches any run of characters */
    size_t n;
    bool any;         /* "*" was configured */
};
int http_cors_init(struct http_cors *c, const char *extra, struct qm_err *err);
void http_cors_free(struct http_cors *c);
bool http_cors_allowed(const struct http_cors *c, const char *origin);
/* Host header check for a server on a loopback address (DNS rebinding). */
bool http_host_allowed(const char *host_header);

/* ---- the API key (auth.c) ---- */
struct http_auth {
    bool enabled;
    unsigned char digest[32];  /* SHA-256 of the key */
};
int http_auth_init(struct http_auth *a, const char *key, struct qm_err *err);
bool http_auth_exempt(const char *method, const char *path);
bool http_auth_check(const struct http_auth *a, const char *authorization);

/* ---- server ---- */
struct http_listener {
    uv_tcp_t tcp;
    struct qm_http_server *srv;
    bool loopback;                /* bound to a loopback address: check Host */
    struct http_listener *next;
};

struct http_conn;

struct qm_http_server {
    uv_loop_t *loop;
    struct qm_http_config cfg;    /* strings point into the copies below */
    char *origins, *api_key;
    struct qm_http_handlers h;
    struct http_cors cors;
    struct http_auth auth;
    llhttp_settings_t settings;
    struct http_listener *listeners;
    struct http_conn *conns;      /* every open connection */
    size_t n_active;              /* dispatched requests not yet freed */
    size_t live;                  /* listeners + connections + requests not yet freed */
    bool stopping;                /* no new connections; close after each response */
    bool freeing;                 /* qm_http_server_free called: free at live == 0 */
    char rbuf[HTTP_READ_BUF];     /* libuv calls alloc then read for one stream at a
                                   * time, so all connections share this buffer */
};

void http_server_unlive(struct qm_http_server *srv);
int http_resolve(const char *host, int port, struct sockaddr_storage *ss, struct qm_err *err);

/* ---- connection ---- */
enum http_phase {
    PH_FRESH,    /* accepted, nothing received (header timeout runs) */
    PH_IDLE,     /* keep-alive, between requests (idle timeout runs) */
    PH_HEADERS,  /* inside the request line and headers (header timeout) */
    PH_BODY,     /* reading the body (idle timeout, reset on each read) */
    PH_WAIT,     /* request complete, answer pending (no timeout until it is all queued) */
    PH_LINGER,   /* our side is shut down; dropping input until EOF */
};

enum http_pause { PAUSE_NONE, PAUSE_HEADERS, PAUSE_BODY, PAUSE_MESSAGE };

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    llhttp_t parser;
    struct qm_http_server *srv;
    struct http_conn *prev, *next;
    struct qm_http_req *req;      /* being parsed or answered; one at a time */
    char *in;                     /* received bytes llhttp has not consumed yet */
    size_t in_off, in_len, in_cap;
    char remote[64];
    bool check_host;              /* came in on a loopback listener: check Host */
    enum http_phase phase;
    enum http_pause pause;        /* why the last llhttp callback paused */
    int handles_open;             /* tcp + timer; freed when both closed */
    int err_status;               /* set by a callback that fails the parse */
    const char *err_msg;
    bool reading, closing, shutting, in_feed, refeed;
    bool kick;                    /* the timer is set to resume parsing, not to time out */
    bool eof;                     /* the client sent FIN (or the connection failed) */
    bool stop_parse;              /* parse nothing more on this connection */
    bool close_after;             /* close once the current response is sent */
};

void http_conn_settings(llhttp_settings_t *s);
void http_conn_accept(struct qm_http_server *srv, uv_stream_t *listener, bool check_host);
void http_conn_maybe_next(struct http_conn *c);
void http_conn_arm(struct http_conn *c, uint64_t ms);
void http_conn_phase(struct http_conn *c, enum http_phase ph);
void http_conn_close(struct http_conn *c);
void http_conn_feed(struct http_conn *c);
void http_conn_kick(struct http_conn *c);
void http_conn_response_flushed(struct http_conn *c);
void http_conn_fail(struct http_conn *c, int status, const char *msg);
void http_conn_update_reading(struct http_conn *c);

/* ---- request ---- */
struct qm_http_req {
    struct qm_http_server *srv;
    struct http_conn *conn;       /* NULL once the connection is gone */
    bool srv_holds;               /* the connection still refers to it */
    bool handler_holds;           /* handed to the handler, not yet finished */
    bool dispatched;              /* counted in n_active */

    const char *method;           /* llhttp's static name; NULL before headers end */
    struct qm_strbuf url;         /* raw request target */
    struct qm_strbuf heads;       /* "name\0value\0" ... */
    size_t *hoff;                 /* 2 offsets (name, value) per header */
    int n_heads, cap_heads;
    bool in_field, in_value;      /* inside a header name / value span */
    size_t head_bytes;            /* url + names + values so far */
    char remote[64];              /* a copy: the connection may go first */
    char *path;
    const char *query;
    enum qm_http_body_mode mode;
    struct qm_strbuf body;

    bool head;                    /* HEAD: answer with headers only */
    bool http10;
    bool keep_alive;              /* the client allows another request after this */
    bool msg_complete;            /* llhttp saw the end of the request */
    bool body_paused;             /* STREAM: no on_body yet, or on_data said pause */

    struct qm_strbuf extra;       /* "Name: value\r\n" response headers */
    int status;
    bool resp_started, resp_ended, resp_flushed;
    bool chunked;                 /* the response body is chunk-framed */
    uint64_t t_start;             /* uv_hrtime at the first byte */

    void (*on_close)(struct qm_http_req *, void *);
    void *close_ud;
    int (*on_data)(struct qm_http_req *, const void *, size_t, void *);
    void (*on_end)(struct qm_http_req *, void *);
    void *body_ud;
};

struct qm_http_req *http_req_new(struct http_conn *c);
void http_req_drop_server(struct qm_http_req *r);
/* llhttp reached the end of the headers: checks, then dispatch or reject. */
void http_req_headers_done(struct http_conn *c);
/* llhttp reached the end of the request. */
void http_req_message_done(struct http_conn *c);
/* Whether body bytes of the request remain unread. */
bool http_req_body_left(const struct qm_http_req *r);
void http_req_finish_handler(struct qm_http_req *r);

/* ---- responses (server_resp.c) ---- */
/* A whole response written by the server itself (errors, preflights). */
void http_resp_send(struct qm_http_req *r, int status, const char *ctype, const void *body, size_t len);
void http_resp_error(struct qm_http_req *r, int status, const char *msg);
void http_resp_continue(struct http_conn *c);
void http_resp_add_header(struct qm_http_req *r, const char *name, const char *value);

#endif
