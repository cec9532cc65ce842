/* routes_gen.c - generation and embedding endpoints of both APIs.
 *
 * decode (loop) -> resolve the model in the store and read its header
 * (thread pool) -> submit to the daemon -> runner events encoded by the
 * API's codec as they come -> stream or one response.  A client that goes
 * away cancels the request wherever it is. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "api.h"
#include "daemon.h"
#include "estimate.h"
#include "log.h"
#include "routes.h"
#include "store.h"

struct gen {
    uv_work_t work;
    struct qm_routes *r;
    struct qm_http_req *req;
    struct qm_api_job job;
    struct qm_api_stream *st;
    struct qm_model_ref ref;
    bool have_ref;
    struct qm_model_sizes info;
    int status;
    struct qm_err err;
    struct qm_dreq *dreq;
    bool working, gone, streaming;
    bool submitting, finished;   /* the daemon may answer from inside qm_daemon_submit */
    int64_t t0, load_ns;
};

static void gen_free(struct gen *g)
{
    qm_api_stream_free(g->st);
    qm_api_job_free(&g->job);
    if (g->have_ref)
        qm_model_ref_free(&g->ref);
    free(g);
}

/* The daemon makes no further call for g: free it, unless that happened
 * inside qm_daemon_submit, which returns to submit() afterwards. */
static void gen_done(struct gen *g)
{
    if (g->submitting)
        g->finished = true;
    else
        gen_free(g);
}

static void respond_error(struct gen *g, int status, const char *msg)
{
    char *body = qm_api_error_body(g->job.kind, status, msg);
    if (body)
        qm_http_respond(g->req, status, "application/json; charset=utf-8", body, strlen(body));
    else
        qm_http_respond_error(g->req, status, msg);
    free(body);
}

static void timing(struct gen *g, struct qm_api_timing *t)
{
    *t = (struct qm_api_timing){.total_duration_ns = qm_mono_ns() - g->t0, .load_duration_ns = g->load_ns};
}

/* ---- events from the daemon -------------------------------------------------- */

static void on_start(void *ud, int64_t load_ns)
{
    struct gen *g = ud;
    g->load_ns = load_ns;
    if (!g->job.load_only)
        return;
    struct qm_api_timing t;
    timing(g, &t);
    struct qm_strbuf sb = {0};
    qm_api_encode_load(&g->job, &t, &sb);
    qm_http_respond(g->req, 200, qm_api_content_type(&g->job), sb.p ? sb.p : "", sb.len);
    free(sb.p);
    gen_done(g);
}

static void on_event(void *ud, const json_t *ev)
{
    struct gen *g = ud;
    struct qm_api_timing t;
    timing(g, &t);
    struct qm_strbuf sb = {0};
    int rc = qm_api_stream_event(g->st, ev, &t, &sb);
    if (rc < 0 && rc != QM_EINVAL) {
        free(sb.p);
        return;
    }
    bool end = rc == 1;
    if (!g->streaming && g->job.stream && qm_api_stream_status(g->st) == 200 && sb.len) {
        qm_http_stream_begin(g->req, 200, qm_api_stream_content_type(g->st));
        qm_api_stream_headers_sent(g->st);
        g->streaming = true;
    }
    if (g->streaming) {
        if (sb.len)
            qm_http_stream_write(g->req, sb.p, sb.len);
        if (end)
            qm_http_stream_end(g->req);
    } else if (end) {
        qm_http_respond(g->req, qm_api_stream_status(g->st), qm_api_stream_content_type(g->st), sb.p ? sb.p : "",
                        sb.len);
    }
    free(sb.p);
    if (end)
        gen_done(g);
}

static void on_close(struct qm_http_req *req, void *ud)
{
    struct gen *g = ud;
    (void)req;
    g->gone = true;
    if (g->working)
        return;   /* after_resolve finishes it */
    if (g->dreq)
        qm_daemon_cancel(g->dreq);
    qm_http_req_release(g->req);
    gen_free(g);
}

/* ---- resolving the model --------------------------------------------------------- */

static void resolve_work(uv_work_t *w)
{
    struct gen *g = w->data;
    int rc = qm_store_resolve(g->r->store, g->job.model, &g->ref, &g->err);
    if (rc < 0) {
        g->status = qm_routes_store_status(rc);
        return;
    }
    g->have_ref = true;
    if (qm_model_sizes_read(&g->info, g->ref.gguf_path, &g->err) < 0) {
        g->status = 500;
        return;
    }
    g->status = 0;
}

static int num_param(const json_t *params, const char *key)
{
    json_t *v = json_object_get(params, key);
    return json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < (1 << 20)
               ? (int)json_integer_value(v)
               : 0;
}

static void submit(struct gen *g)
{
    struct qm_routes *r = g->r;
    if (qm_api_job_apply_params(&g->job, g->ref.params) < 0) {
        respond_error(g, 500, "out of memory");
        gen_free(g);
        return;
    }
    /* the Modelfile's template and system prompt, unless the request has its own */
    if (g->job.runner && !strcmp(json_string_value(json_object_get(g->job.runner, "op")), "completion")) {
        if (g->ref.template && *g->ref.template && !json_object_get(g->job.runner, "template"))
            json_object_set_new(g->job.runner, "template", json_string(g->ref.template));
        if (g->ref.system && *g->ref.system && !json_object_get(g->job.runner, "system"))
            json_object_set_new(g->job.runner, "system", json_string(g->ref.system));
    }
    if (g->job.load_only && g->job.has_keep_alive && g->job.keep_alive_ns == 0) {
        qm_daemon_unload(r->daemon, g->ref.display);
        struct qm_api_timing t;
        timing(g, &t);
        struct qm_strbuf sb = {0};
        qm_api_encode_load(&g->job, &t, &sb);
        qm_http_respond(g->req, 200, qm_api_content_type(&g->job), sb.p ? sb.p : "", sb.len);
        free(sb.p);
        gen_free(g);
        return;
    }
    struct qm_dreq_spec spec = {
        .model = g->ref.display,
        .path = g->ref.gguf_path,
        .digest = g->ref.manifest_digest,
        .info = &g->info,
        .model_num_ctx = 0,
        .model_num_parallel = num_param(g->ref.params, "num_parallel"),
        .num_ctx = g->job.num_ctx,
        .num_gpu = g->job.num_gpu,
        .has_keep_alive = g->job.has_keep_alive,
        .keep_alive_ns = g->job.keep_alive_ns,
        .load_only = g->job.load_only,
        .job = g->job.runner,
    };
    struct qm_dreq_cbs cbs = {.on_start = on_start, .on_event = on_event};
    g->submitting = true;
    struct qm_dreq *dreq = qm_daemon_submit(r->daemon, &spec, &cbs, g);
    g->submitting = false;
    if (g->finished) {   /* answered already (a loaded model, a rejection): dreq is gone too */
        gen_free(g);
        return;
    }
    g->dreq = dreq;
    if (!g->dreq) {
        respond_error(g, 500, "out of memory");
        gen_free(g);
    }
}

static void resolve_done(uv_work_t *w, int status)
{
    struct gen *g = w->data;
    (void)status;
    g->working = false;
    if (g->gone) {
        qm_http_req_release(g->req);
        gen_free(g);
        return;
    }
    if (g->status) {
        respond_error(g, g->status, g->err.msg);
        gen_free(g);
        return;
    }
    submit(g);
}

void qm_routes_generate(struct qm_routes *r, struct qm_http_req *req, int kind)
{
    struct gen *g = calloc(1, sizeof *g);
    if (!g) {
        qm_http_respond_error(req, 500, "out of memory");
        return;
    }
    g->r = r;
    g->req = req;
    g->t0 = qm_mono_ns();
    g->job.kind = (enum qm_api_kind)kind;
    size_t len;
    const char *body = qm_http_req_body(req, &len);
    int st = qm_api_decode((enum qm_api_kind)kind, body, len, &g->job, &g->err);
    if (st) {
        respond_error(g, st, g->err.msg);
        gen_free(g);
        return;
    }
    if (!(g->st = qm_api_stream_new(&g->job, NULL))) {
        respond_error(g, 500, "out of memory");
        gen_free(g);
        return;
    }
    qm_http_req_on_close(req, on_close, g);
    g->working = true;
    g->work.data = g;
    int rc = uv_queue_work(r->loop, &g->work, resolve_work, resolve_done);
    if (rc < 0) {
        g->working = false;
        respond_error(g, 500, uv_strerror(rc));
        gen_free(g);
    }
}

/* ---- /api/ps ------------------------------------------------------------------------ */

void qm_routes_ps(struct qm_routes *r, struct qm_http_req *req)
{
    struct qm_daemon_ps ps[64];
    int n = qm_daemon_ps(r->daemon, ps, 64);
    if (n > 64)
        n = 64;
    struct qm_api_model am[64];
    for (int i = 0; i < n; i++)
        am[i] = (struct qm_api_model){
            .name = ps[i].name,
            .size = ps[i].size,
            .size_vram = ps[i].size_vram,
            .expires_at_ns = ps[i].expires_at_ns,   /* INT64_MAX (never, or busy): year 2262 */
            .context_length = ps[i].context_length,
            /* /api/tags's form: the hex without "sha256:" */
            .digest = ps[i].digest && !strncmp(ps[i].digest, "sha256:", 7) ? ps[i].digest + 7 : "",
            .details = {.format = "gguf"},
        };
    qm_http_respond_json(req, 200, qm_api_ps_json(am, (size_t)n));
}

/* ---- QM_PRELOAD ---------------------------------------------------------------- */

struct preload {
    uv_work_t work;
    struct qm_routes *r;
    char *name;
    struct qm_model_ref ref;
    struct qm_model_sizes info;
    int rc;
    struct qm_err err;
};

static void preload_free(struct preload *p)
{
    if (p->rc == 0)
        qm_model_ref_free(&p->ref);
    free(p->name);
    free(p);
}

static void preload_started(void *ud, int64_t load_ns)
{
    struct preload *p = ud;
    qm_log_info("preloaded %s in %.1f s (kept loaded)", p->ref.display, (double)load_ns / 1e9);
    preload_free(p);
}

static void preload_event(void *ud, const json_t *ev)
{
    struct preload *p = ud;
    qm_log_err("QM_PRELOAD %s: %s", p->name, json_string_value(json_object_get(ev, "error")));
    preload_free(p);
}

static void preload_work(uv_work_t *w)
{
    struct preload *p = w->data;
    p->rc = qm_store_resolve(p->r->store, p->name, &p->ref, &p->err);
    if (p->rc == 0 && qm_model_sizes_read(&p->info, p->ref.gguf_path, &p->err) < 0) {
        qm_model_ref_free(&p->ref);
        p->rc = -1;
    }
}

static void preload_done(uv_work_t *w, int status)
{
    struct preload *p = w->data;
    (void)status;
    if (p->rc < 0) {
        qm_log_err("QM_PRELOAD %s: %s", p->name, p->err.msg);
        preload_free(p);
        return;
    }
    struct qm_dreq_spec spec = {
        .model = p->ref.display,
        .path = p->ref.gguf_path,
        .digest = p->ref.manifest_digest,
        .info = &p->info,
        .model_num_parallel = num_param(p->ref.params, "num_parallel"),
        .num_ctx = num_param(p->ref.params, "num_ctx"),
        .num_gpu = -1,
        .load_only = true,
        .pin = true,
    };
    struct qm_dreq_cbs cbs = {.on_start = preload_started, .on_event = preload_event};
    if (!qm_daemon_submit(p->r->daemon, &spec, &cbs, p))
        preload_free(p);
}

void qm_routes_preload(struct qm_routes *r, const char *name)
{
    struct preload *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(name))) {
        free(p);
        return;
    }
    p->r = r;
    p->work.data = p;
    if (uv_queue_work(r->loop, &p->work, preload_work, preload_done) < 0)
        preload_free(p);
}
