/* routes.h - the daemon's endpoints: the HTTP server's handler.
 *
 * Generation and embedding requests go through the API codecs (api.h) to
 * the manager (daemon.h); store requests (tags, show, copy, delete, create,
 * blobs) run on the libuv thread pool, since they touch the disk. */
#ifndef QM_HTTP_ROUTES_H
#define QM_HTTP_ROUTES_H

#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

#include "error.h"

#include "server.h"

struct qm_store;
struct qm_daemon;

struct qm_task;

struct qm_routes {
    uv_loop_t *loop;
    struct qm_store *store;
    struct qm_daemon *daemon;
    struct qm_task *tasks;   /* long jobs on threads of their own (pulls, creates) */
};

/* The handlers to give qm_http_server_new (ud: the struct qm_routes). */
void qm_routes_handlers(struct qm_routes *r, struct qm_http_handlers *h);

/* Load a model at start and keep it loaded (QM_PRELOAD); errors are logged. */
void qm_routes_preload(struct qm_routes *r, const char *name);

/* Stop: cancel every long job (pulls keep their progress for next time). */
void qm_routes_shutdown(struct qm_routes *r);
/* Before the server is freed: let downloads save their progress, wait for
 * the jobs' threads, drop their requests. */
void qm_routes_close(struct qm_routes *r);

/* ---- internal to http/routes*.c ----------------------------------------- */
void qm_routes_generate(struct qm_routes *r, struct qm_http_req *req, int kind);
void qm_routes_ps(struct qm_routes *r, struct qm_http_req *req);
void qm_routes_models(struct qm_routes *r, struct qm_http_req *req, int which, const char *id);
void qm_routes_show(struct qm_routes *r, struct qm_http_req *req);
void qm_routes_copy(struct qm_routes *r, struct qm_http_req *req);
void qm_routes_delete(struct qm_routes *r, struct qm_http_req *req);
void qm_routes_create(struct qm_routes *r, struct qm_http_req *req);
void qm_routes_blob(struct qm_routes *r, struct qm_http_req *req, const char *digest);

void qm_routes_pull(struct qm_routes *r, struct qm_http_req *req);

/* A long job on a thread of its own that reports progress as JSON objects:
 * NDJSON lines when streamed, else only the last object (or the error).
 * run returns 0 or an HTTP status >= 400 with err set; qm_task_emit (any
 * thread) takes the reference to obj.  The job is cancelled when the client
 * goes away or the daemon stops. */
typedef int (*qm_task_run)(struct qm_task *t, void *arg, struct qm_err *err);
void qm_task_start(struct qm_routes *r, struct qm_http_req *req, bool stream, qm_task_run run, void *arg,
                   void (*free_arg)(void *arg));
/* The same for a management body (api.h, kind QM_API_PULL...): decoded
 * first (400 on the loop for a bad one), run gets the struct qm_api_manage. */
void qm_task_start_manage(struct qm_routes *r, struct qm_http_req *req, int kind, qm_task_run run);
void qm_task_emit(struct qm_task *t, json_t *obj);
const atomic_int *qm_task_cancelled(struct qm_task *t);
struct qm_routes *qm_task_routes(struct qm_task *t);

/* The status an error code of the store calls for (404 not found, 400 bad
 * name, 500 otherwise). */
int qm_routes_store_status(int rc);

#endif
