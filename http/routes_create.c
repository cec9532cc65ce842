/* routes_create.c - POST /api/create: a model from an uploaded GGUF blob, a
 * model in the store or a Modelfile, optionally re-quantized, reporting
 * progress as Ollama's create does ("quantizing F16 model to Q4_K_M",
 * "writing manifest", "success").  A thread of its own (routes_task.c):
 * quantizing a large model takes minutes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "blob.h"
#include "details.h"
#include "log.h"
#include "modelfile.h"
#include "routes.h"
#include "store.h"
#include "strbuf.h"

static void status(struct qm_task *t, const char *s)
{
    qm_task_emit(t, json_pack("{s:s}", "status", s));
}

struct quant_tick {
    struct qm_task *t;
    char status[96];
};

static void on_quant(int64_t done, int64_t count, void *ud)
{
    struct quant_tick *q = ud;
    qm_task_emit(q->t, json_pack("{s:s, s:I, s:I}", "status", q->status, "total", (json_int_t)count,
                                 "completed", (json_int_t)done));
}

/* The GGUF a create starts from: a blob, or the model layer of a model. */
static int source_path(struct qm_store *s, const char *from, char **path, struct qm_err *err)
{
    if (!strncmp(from, "sha256:", 7))
        return qm_store_blob_path(s, from, path, err);
    struct qm_model_ref ref;
    int rc = qm_store_resolve(s, from, &ref, err);
    if (rc < 0)
        return rc;
    *path = ref.gguf_path;
    ref.gguf_path = NULL;
    qm_model_ref_free(&ref);
    return 0;
}

static int run_create(struct qm_task *t, void *arg, struct qm_err *err)
{
    struct qm_api_manage *m = arg;
    struct qm_store *store = qm_task_routes(t)->store;
    struct qm_modelfile mf = {0};
    json_t *params = NULL;
    char *license = NULL, *src = NULL;
    int status_code = 400;
    if (m->modelfile && qm_modelfile_parse(&mf, m->modelfile, strlen(m->modelfile), err) < 0)
        goto out;
    const char *from = m->from ? m->from : mf.from;
    /* files: the GGUF uploaded beforehand as a blob */
    const char *fname;
    json_t *dg;
    json_object_foreach(m->files, fname, dg) {
        size_t l = strlen(fname);
        if (l > 5 && !strcmp(fname + l - 5, ".gguf")) {
            from = json_string_value(dg);
            break;
        }
    }
    if (!from) {
        qm_err_set(err, "neither 'from' nor a .gguf in 'files' names what to create the model from");
        goto out;
    }
    if (!strncmp(from, "sha256:", 7) && !qm_store_blob_exists(store, from, NULL)) {
        qm_err_set(err, "blob %s not found: upload it to /api/blobs first", from);
        goto out;
    }
    char quantized[QM_DIGEST_STR_LEN + 1];
    if (m->quantize) {
        int rc = source_path(store, from, &src, err);
        if (rc < 0) {
            status_code = qm_routes_store_status(rc);
            goto out;
        }
        struct qm_details d;
        struct qm_err derr;
        struct quant_tick q = {.t = t};
        bool known = qm_details_from_gguf(&d, src, &derr) == 0 && d.quantization_level[0];
        snprintf(q.status, sizeof q.status, "quantizing %s model to %s", known ? d.quantization_level : "",
                 m->quantize);
        for (char *c = q.status + strlen(q.status) - strlen(m->quantize); *c; c++)
            *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        if (!known)   /* "quantizing  model" reads badly */
            snprintf(q.status, sizeof q.status, "quantizing model to %s", m->quantize);
        status(t, q.status);
        qm_log_info("create %s: %s", m->model, q.status);
        if ((rc = qm_store_quantize(store, src, m->quantize, on_quant, &q, quantized, err)) < 0) {
            status_code = rc == QM_EINVAL ? 400 : 500;
            goto out;
        }
        char line[128];
        snprintf(line, sizeof line, "creating new layer %s", quantized);
        status(t, line);
        from = quantized;
    } else if (!strncmp(from, "sha256:", 7)) {
        char line[128];
        snprintf(line, sizeof line, "using existing layer %s", from);
        status(t, line);
    }
    params = m->parameters ? json_incref(m->parameters) : mf.params ? json_incref(mf.params) : NULL;
    if (m->license && json_array_size(m->license)) {
        struct qm_strbuf sb = {0};
        size_t i;
        json_t *v;
        json_array_foreach(m->license, i, v) {
            if (i)
                qm_strbuf_puts(&sb, "\n\n");
            qm_strbuf_puts(&sb, json_string_value(v));
        }
        license = sb.p;
    }
    struct qm_create_spec spec = {
        .from = from,
        .template = m->template ? m->template : mf.template,
        .system = m->system ? m->system : mf.system,
        .license = license ? license : mf.license,
        .params = params,
        .messages = m->messages ? m->messages : mf.messages,
    };
    status(t, "writing manifest");
    int rc = qm_store_create(store, m->model, &spec, err);
    if (rc < 0) {
        status_code = qm_routes_store_status(rc);
        goto out;
    }
    status(t, "success");
    status_code = 0;
out:
    json_decref(params);
    free(license);
    free(src);
    qm_modelfile_free(&mf);
    return status_code;
}

void qm_routes_create(struct qm_routes *r, struct qm_http_req *req)
{
    qm_task_start_manage(r, req, QM_API_CREATE, run_create);
}
