/* routes.h - the daemon's endpoints: the HTTP server's handler.
 *
 * Generation and embedding requests go through the API codecs (api.h) to
 * the manager (daemon.h); store requests (tags, show, copy, delete, create,
 * blobs) run on the libuv thread pool, since they touch the disk. */
#ifndef QM_HTTP_ROUTES_H
#define QM_HTTP_ROUTES_H

#include <uv.h>

#include "server.h"

struct qm_store;
struct qm_daemon;

struct qm_routes {
    uv_loop_t *loop;
    struct qm_store *store;
    struct qm_daemon *daemon;
};

/* The handlers to give qm_http_server_new (ud: the struct qm_routes). */
void qm_routes_handlers(struct qm_routes *r, struct qm_http_handlers *h);

/* Load a model at start and keep it loaded (QM_PRELOAD); errors are logged. */
void qm_routes_preload(struct qm_routes *r, const char *name);

/* ---- internal to http/routes*.c ----------------------------------------- */
void qm_routes_generate(struct qm_routes *r, struct qm_http_req *req, int kind);
void qm_routes_ps(struct qm_routes *r, struct qm_http_req *req);
void qm_routes_models(struct qm_routes *r, struct qm_http_req *req, int which, const char *id);
void qm_routes_show(struct qm_routes *r, struct qm_http_req *req);
void qm_routes_copy(struct qm_routes *r, struct qm_http_req *req);
void qm_routes_delete(struct qm_routes *r, struct qm_http_req *req);
void qm_routes_create(struct qm_routes *r, struct qm_http_req *req);
void qm_routes_blob(struct qm_routes *r, struct qm_http_req *req, const char *digest);

/* The status an error code of the store calls for (404 not found, 400 bad
 * name, 500 otherwise). */
int qm_routes_store_status(int rc);

#endif
