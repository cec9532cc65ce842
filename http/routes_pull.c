/* routes_pull.c - POST /api/pull: Ollama's progress lines from registry/pull.h. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "pull.h"
#include "routes.h"

static void on_progress(const struct qm_pull_progress *p, void *ud)
{
    struct qm_task *t = ud;
    json_t *o = json_pack("{s:s}", "status", p->status);
    if (!o)
        return;
    if (p->digest) {
        json_object_set_new(o, "digest", json_string(p->digest));
        json_object_set_new(o, "total", json_integer((json_int_t)p->total));
        json_object_set_new(o, "completed", json_integer((json_int_t)p->completed));
    } else if (p->total) {
        json_object_set_new(o, "total", json_integer((json_int_t)p->total));
        json_object_set_new(o, "completed", json_integer((json_int_t)p->completed));
    }
    if (p->model)
        json_object_set_new(o, "model", json_string(p->model));
    qm_task_emit(t, o);
}

static int run_pull(struct qm_task *t, void *arg, struct qm_err *err)
{
    struct qm_api_manage *m = arg;
    struct qm_pull_opts o = {
        .name = m->model,
        .insecure = m->insecure,
        .cancel = qm_task_cancelled(t),
        .progress = on_progress,
        .ud = t,
    };
    qm_log_info("pull %s: started", m->model);
    int rc = qm_pull(qm_task_routes(t)->store, &o, err);
    if (rc < 0)
        qm_log_info("pull %s: %s", m->model, err->msg);
    else
        qm_log_info("pull %s: done", m->model);
    switch (rc) {
    case 0:
        return 0;
    case QM_PULL_ENOTFOUND:
        return 404;
    case QM_EINVAL:
        /* a bad name, a catalog miss or a digest mismatch: the request's or the source's fault */
        return strstr(err->msg, "digest mismatch") ? 502 : 400;
    case QM_PULL_EREMOTE:
        return 502;
    case QM_PULL_ECANCELED:
        return 499;
    case QM_PULL_ENOSPC:
        return 507;
    default:
        return 500;
    }
}

void qm_routes_pull(struct qm_routes *r, struct qm_http_req *req)
{
    qm_task_start_manage(r, req, QM_API_PULL, run_pull);
}
