/* routes_blob.c - HEAD and POST /api/blobs/sha256:<hex>: uploads of model
 * files, many GB, as `ollama create` and the ollama client send them.
 *
 * The body streams in; each piece is written (and hashed) on the thread
 * pool while the socket is paused, so memory stays at one piece and the
 * loop never waits on the disk.  The blob writer checks the sha256 against
 * the digest in the URL before the blob appears under its name. */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "routes.h"
#include "store.h"

struct upload {
    uv_work_t work;
    struct qm_routes *r;
    struct qm_http_req *req;
    struct qm_blob_writer *w;
    char digest[QM_DIGEST_STR_LEN + 1];
    char *piece;
    size_t len;
    bool committing, busy, gone, ended, failed;
    int status;
    struct qm_err err;
};

static void finish(struct upload *u)
{
    if (u->w)
        qm_blob_writer_abort(u->w);
    if (u->gone)
        qm_http_req_release(u->req);
    else if (u->failed)
        qm_http_respond_error(u->req, u->status, u->err.msg);
    else
        qm_http_respond(u->req, 201, NULL, "", 0);
    free(u->piece);
    free(u);
}

static void work_cb(uv_work_t *w)
{
    struct upload *u = w->data;
    if (u->committing) {
        char got[QM_DIGEST_STR_LEN + 1];
        int rc = qm_blob_writer_commit(u->w, got, &u->err);
        u->w = NULL;   /* commit frees the writer either way */
        if (rc < 0) {
            u->failed = true;
            u->status = rc == QM_EINVAL ? 400 : 500;
        }
    } else if (qm_blob_writer_write(u->w, u->piece, u->len, &u->err) < 0) {
        u->failed = true;
        u->status = 500;
    }
}

static void after_cb(uv_work_t *w, int status)
{
    struct upload *u = w->data;
    (void)status;
    u->busy = false;
    if (u->committing || u->gone || (u->failed && u->ended)) {
        finish(u);
        return;
    }
    if (!u->failed)
        qm_http_req_resume_body(u->req);
    else
        qm_http_req_resume_body(u->req);   /* drain the rest; the error is sent at the end */
}

static void start(struct upload *u)
{
    u->busy = true;
    u->work.data = u;
    if (uv_queue_work(u->r->loop, &u->work, work_cb, after_cb) < 0) {
        u->busy = false;
        u->failed = true;
        u->status = 500;
        qm_err_set(&u->err, "cannot queue the blob write");
        if (u->committing)
            finish(u);
    }
}

static int on_data(struct qm_http_req *req, const void *data, size_t len, void *ud)
{
    struct upload *u = ud;
    (void)req;
    if (u->failed || !len)
        return QM_HTTP_BODY_CONTINUE;
    char *p = realloc(u->piece, len);
    if (!p) {
        u->failed = true;
        u->status = 500;
        qm_err_set(&u->err, "out of memory");
        return QM_HTTP_BODY_CONTINUE;
    }
    memcpy(p, data, len);
    u->piece = p;
    u->len = len;
    start(u);
    return u->busy ? QM_HTTP_BODY_PAUSE : QM_HTTP_BODY_CONTINUE;
}

static void on_end(struct qm_http_req *req, void *ud)
{
    struct upload *u = ud;
    (void)req;
    u->ended = true;
    if (u->failed) {
        if (!u->busy)
            finish(u);
        return;
    }
    u->committing = true;
    start(u);
}

static void on_close(struct qm_http_req *req, void *ud)
{
    struct upload *u = ud;
    (void)req;
    u->gone = true;
    if (!u->busy)
        finish(u);
}

void qm_routes_blob(struct qm_routes *r, struct qm_http_req *req, const char *digest)
{
    struct qm_err err = {{0}};
    char dg[QM_DIGEST_STR_LEN + 1];
    if (qm_digest_parse(digest, dg, &err) < 0) {
        qm_http_respond_error(req, 400, err.msg);
        return;
    }
    if (!strcmp(qm_http_req_method(req), "HEAD")) {
        /* one stat: quick enough for the loop */
        bool have = qm_store_blob_exists(r->store, dg, NULL);
        qm_http_respond(req, have ? 200 : 404, NULL, "", 0);
        return;
    }
    struct upload *u = calloc(1, sizeof *u);
    if (!u) {
        qm_http_respond_error(req, 500, "out of memory");
        return;
    }
    u->r = r;
    u->req = req;
    memcpy(u->digest, dg, sizeof dg);
    if (qm_blob_writer_open(&u->w, r->store, dg, &u->err) < 0) {
        qm_http_respond_error(req, qm_store_readonly(r->store) ? 403 : 500, u->err.msg);
        free(u);
        return;
    }
    qm_http_req_on_close(req, on_close, u);
    qm_http_req_on_body(req, on_data, on_end, u);
}
