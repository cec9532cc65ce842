/* server.h - the daemon's HTTP/1.1 server transport (libuv + llhttp).
 *
 * One server runs on one libuv loop; every function here must be called on
 * that loop's thread.  The server parses requests, enforces limits (body,
 * headers, timeouts), answers CORS preflights, checks the API key and the Host
 * header, and hands each request to one handler.  Routing and the JSON of the
 * APIs live above it (http/api_*.c).
 *
 * Ownership of a struct qm_http_req (the one rule to remember):
 *   The handler receives the request and owns it until it *finishes* it by
 *   exactly one of: qm_http_respond / _respond_json / _respond_error,
 *   qm_http_stream_end, or qm_http_req_release.  After finishing, the handler
 *   must not touch the request again, and none of its callbacks (on_close,
 *   on_body) will be called.  Until then the memory stays valid even if the
 *   client has gone: on_close fires once, later writes return QM_EIO and do
 *   nothing, and the handler still has to finish the request (release is the
 *   natural call after on_close). */
#ifndef QM_HTTP_SERVER_H
#define QM_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "error.h"

#define QM_HTTP_DEFAULT_PORT 11434

struct qm_http_config {
    size_t max_body;              /* buffered request body limit; beyond: 413 (32 MiB) */
    size_t max_header_bytes;      /* request line + headers; beyond: 431 (64 KiB) */
    int max_headers;              /* header count limit; beyond: 431 (100) */
    uint64_t header_timeout_ms;   /* headers must be complete within this; else 408 (10 s) */
    uint64_t idle_timeout_ms;     /* idle keep-alive connections and stalled bodies (5 min) */
    const char *origins;          /* QM_ORIGINS: extra CORS origins, comma-separated, '*' wildcards */
    const char *api_key;          /* QM_API_KEY: NULL or "" for none */
};

/* Fill the defaults above (origins and api_key NULL). */
void qm_http_config_defaults(struct qm_http_config *cfg);

struct qm_http_server;
struct qm_http_req;

enum qm_http_body_mode {
    QM_HTTP_BODY_BUFFER = 0,  /* handler called once the whole body is in memory */
    QM_HTTP_BODY_STREAM = 1,  /* handler called at headers; body via qm_http_req_on_body */
};

struct qm_http_handlers {
    /* Called once per request: when the body is complete (BUFFER), or when the
     * headers are complete (STREAM).  Required. */
    void (*handler)(struct qm_http_req *req, void *ud);
    /* Optional, asked at headers time; NULL means always BUFFER.  A streamed
     * body has no max_body limit (blob uploads of many GB). */
    enum qm_http_body_mode (*body_mode)(const char *method, const char *path, void *ud);
    void *ud;
};

/* The server keeps a copy of cfg (strings included) and of h.  It sets
 * SIGPIPE to ignored, process-wide: a vanished client must not kill the
 * daemon. */
struct qm_http_server *qm_http_server_new(uv_loop_t *loop, const struct qm_http_config *cfg,
                                          const struct qm_http_handlers *h, struct qm_err *err);

/* Parse what QM_HOST / OLLAMA_HOST accept: "127.0.0.1:11434", "0.0.0.0", ":8080",
 * "localhost:1234", "http://host:port" or "https://..." (scheme and any path
 * ignored), "[::1]:11434", "[::1]", "::1".  Missing host: 127.0.0.1; missing
 * port: 11434.  host receives the name without brackets. */
int qm_http_parse_hostport(const char *s, char *host, size_t hostlen, int *port, struct qm_err *err);

/* Listen on a QM_HOST-style address (names are resolved once, at this call).
 * May be called more than once for several addresses. */
int qm_http_listen(struct qm_http_server *srv, const char *hostport, struct qm_err *err);
/* Adopt an already listening TCP socket (systemd socket activation); the
 * server owns fd from then on and sets it close-on-exec. */
int qm_http_listen_fd(struct qm_http_server *srv, int fd, struct qm_err *err);
/* Port of the first listener (useful after listening on port 0); -1 if none. */
int qm_http_port(const struct qm_http_server *srv);

/* Graceful shutdown: close the listeners and idle connections; requests in
 * flight are answered, then their connections close. */
void qm_http_stop_accepting(struct qm_http_server *srv);
/* Requests handed to the handler whose response is not yet fully sent (or
 * whose handler has not finished them after the client left). */
size_t qm_http_n_active(const struct qm_http_server *srv);
/* Close the listeners and every connection now; on_close fires for requests
 * in flight. */
void qm_http_close_all(struct qm_http_server *srv);
/* Close everything (as qm_http_close_all) and free the server once the loop
 * has run the close callbacks and the handler has finished every request it
 * holds.  Keep running the loop after this call. */
void qm_http_server_free(struct qm_http_server *srv);

/* Raise RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft
 * limit (each connection costs one descriptor). */
int64_t qm_http_raise_nofile(void);

/* ---- the request ---------------------------------------------------------- */

const char *qm_http_req_method(const struct qm_http_req *req);  /* "GET" */
const char *qm_http_req_path(const struct qm_http_req *req);    /* percent-decoded, no query */
const char *qm_http_req_query(const struct qm_http_req *req);   /* raw, without '?'; "" if none */
/* First header of that name (case-insensitive), or NULL. */
const char *qm_http_req_header(const struct qm_http_req *req, const char *name);
/* The buffered body (NUL-terminated for convenience; may hold NULs).  Empty
 * in STREAM mode. */
const char *qm_http_req_body(const struct qm_http_req *req, size_t *len);
/* The client's address, "127.0.0.1:53012" or "[::1]:53012". */
const char *qm_http_req_remote(const struct qm_http_req *req);
/* Whether the connection is gone (the response can no longer be delivered). */
bool qm_http_req_client_gone(const struct qm_http_req *req);

/* Called once if the client goes away before the response ended.  Register
 * it early: if the client is already gone it is not called. */
void qm_http_req_on_close(struct qm_http_req *req, void (*cb)(struct qm_http_req *req, void *ud),
                          void *ud);

/* ---- streamed request bodies (QM_HTTP_BODY_STREAM) ----------------------- */

enum { QM_HTTP_BODY_CONTINUE = 0, QM_HTTP_BODY_PAUSE = 1 };

/* Deliver the body: on_data gets each piece as it arrives (valid only during
 * the call) and returns QM_HTTP_BODY_PAUSE to stop reading the socket until
 * qm_http_req_resume_body; on_end is called once the whole body arrived.  No
 * body is read before this is called.  Callbacks start from the loop, never
 * from inside this call or resume. */
void qm_http_req_on_body(struct qm_http_req *req,
                         int (*on_data)(struct qm_http_req *req, const void *data, size_t len, void *ud),
                         void (*on_end)(struct qm_http_req *req, void *ud), void *ud);
void qm_http_req_resume_body(struct qm_http_req *req);

/* ---- responses ------------------------------------------------------------ */
/* Each returns 0, QM_EIO when the client is gone (nothing sent), or QM_EINVAL
 * on misuse (a second response, a bad header).  Finishing calls finish the
 * request whatever they return. */

/* Add a response header (before the response starts); rejects CR/LF. */
int qm_http_req_add_header(struct qm_http_req *req, const char *name, const char *value);
/* Whole response with Content-Length; content_type may be NULL.  Finishes. */
int qm_http_respond(struct qm_http_req *req, int status, const char *content_type, const void *body,
                    size_t len);
/* JSON response; takes the reference to json.  Finishes. */
int qm_http_respond_json(struct qm_http_req *req, int status, json_t *json);
/* {"error": msg} with that status.  Finishes. */
int qm_http_respond_error(struct qm_http_req *req, int status, const char *msg);

/* Chunked response (NDJSON, or SSE with "text/event-stream"); an HTTP/1.0
 * client gets the raw bytes and a close instead. */
int qm_http_stream_begin(struct qm_http_req *req, int status, const char *content_type);
int qm_http_stream_write(struct qm_http_req *req, const void *data, size_t len);  /* copies data */
int qm_http_stream_end(struct qm_http_req *req);                                  /* finishes */

/* Finish without (or without completing) a response: a client still there
 * gets a 500, or a cut-off stream if one had begun. */
void qm_http_req_release(struct qm_http_req *req);

#endif
