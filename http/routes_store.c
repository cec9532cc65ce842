/* routes_store.c - endpoints over the model store: /api/tags, /v1/models,
 * /api/show, /api/copy, /api/delete (/api/create is routes_create.c).
 *
 * Each runs its store call on the libuv thread pool and answers from the
 * loop; the request body is decoded on the loop first, so a malformed one
 * costs no thread. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "blob.h"
#include "gguf.h"
#include "log.h"
#include "modelfile.h"
#include "params.h"
#include "routes.h"
#include "store.h"

enum { MODELS_TAGS, MODELS_OAI_LIST, MODELS_OAI_ONE };

struct job {
    uv_work_t work;
    struct qm_routes *r;
    struct qm_http_req *req;
    void (*run)(struct job *j);
    struct qm_api_manage m;
    int which;
    char *id;
    int status;
    struct qm_err err;
    json_t *out;          /* the answer when status is 200 */
};

static void work_cb(uv_work_t *w)
{
    struct job *j = w->data;
    j->run(j);
}

static void after_cb(uv_work_t *w, int status)
{
    struct job *j = w->data;
    (void)status;
    if (j->status == 200)
        qm_http_respond_json(j->req, 200, j->out);
    else
        qm_http_respond_error(j->req, j->status, j->err.msg);
    qm_api_manage_free(&j->m);
    free(j->id);
    free(j);
}

static void queue(struct qm_routes *r, struct qm_http_req *req, struct job *j)
{
    j->r = r;
    j->req = req;
    j->work.data = j;
    int rc = uv_queue_work(r->loop, &j->work, work_cb, after_cb);
    if (rc < 0) {
        qm_http_respond_error(req, 500, uv_strerror(rc));
        qm_api_manage_free(&j->m);
        free(j->id);
        free(j);
    }
}

static struct job *decoded(struct qm_http_req *req, enum qm_api_manage_kind kind)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        qm_http_respond_error(req, 500, "out of memory");
        return NULL;
    }
    size_t len;
    const char *body = qm_http_req_body(req, &len);
    int st = qm_api_decode_manage(kind, body, len, &j->m, &j->err);
    if (st) {
        qm_http_respond_error(req, st, j->err.msg);
        free(j);
        return NULL;
    }
    return j;
}

static void fail(struct job *j, int rc)
{
    j->status = qm_routes_store_status(rc);
}

/* ---- lists ----------------------------------------------------------------- */

static void api_details(const struct qm_details *d, struct qm_api_details *a, const char **fam)
{
    for (int i = 0; i < d->n_families; i++)
        fam[i] = d->families[i];
    *a = (struct qm_api_details){
        .format = d->format, .family = d->family, .families = fam, .n_families = (size_t)d->n_families,
        .parameter_size = d->parameter_size, .quantization_level = d->quantization_level};
}

static void run_models(struct job *j)
{
    struct qm_model_info *list = NULL;
    size_t n = 0;
    int rc = qm_store_list(j->r->store, &list, &n, &j->err);
    if (rc < 0)
        return fail(j, rc);
    struct qm_api_model *am = calloc(n + 1, sizeof *am);
    const char *(*fams)[QM_DETAILS_FAMILIES_MAX] = calloc(n + 1, sizeof *fams);
    size_t k = 0;
    for (size_t i = 0; am && fams && i < n; i++) {
        if (j->which == MODELS_OAI_ONE && strcmp(list[i].display, j->id))
            continue;
        am[k].name = list[i].display;
        am[k].modified_at_ns = (int64_t)list[i].modified * 1000000000;
        am[k].size = list[i].size;
        am[k].digest = !strncmp(list[i].digest, "sha256:", 7) ? list[i].digest + 7 : list[i].digest;
        api_details(&list[i].details, &am[k].details, fams[k]);
        k++;
    }
    if (!am || !fams) {
        qm_err_set(&j->err, "out of memory");
        j->status = 500;
    } else if (j->which == MODELS_TAGS) {
        j->out = qm_api_tags_json(am, k);
    } else if (j->which == MODELS_OAI_LIST) {
        j->out = qm_api_oai_models_json(am, k);
    } else if (k) {
        j->out = qm_api_oai_model_json(&am[0]);
    } else {
        qm_err_set(&j->err, "model '%s' not found", j->id);
        j->status = 404;
    }
    if (!j->status)
        j->status = j->out ? 200 : (qm_err_set(&j->err, "out of memory"), 500);
    free(am);
    free(fams);
    qm_model_list_free(list);
}

void qm_routes_models(struct qm_routes *r, struct qm_http_req *req, int which, const char *id)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j || (id && !(j->id = strdup(id)))) {
        free(j);
        qm_http_respond_error(req, 500, "out of memory");
        return;
    }
    j->which = which;
    j->run = run_models;
    queue(r, req, j);
}

/* ---- show ------------------------------------------------------------------- */

/* The GGUF metadata as /api/show's model_info: scalars and strings; arrays
 * only when verbose (vocabularies are long). */
static json_t *model_info(const char *path, bool verbose)
{
    struct gguf_file *f;
    struct qm_err err;
    json_t *info = json_object();
    if (gguf_open(&f, path, GGUF_OPEN_ANY_TYPE, &err) < 0)
        return info;
    for (int64_t i = 0; i < gguf_kv_count(f); i++) {
        const char *key = gguf_kv_key(f, i);
        const struct gguf_value *v = gguf_kv_value(f, i);
        json_t *jv = NULL;
        union { uint32_t u32; int32_t i32; float f32; bool b; uint64_t u64; int64_t i64; double f64;
                uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; } x;
        struct gguf_str s;
        switch (v->type) {
        case GGUF_U8: gguf_value_u8(v, &x.u8, &err); jv = json_integer(x.u8); break;
        case GGUF_I8: gguf_value_i8(v, &x.i8, &err); jv = json_integer(x.i8); break;
        case GGUF_U16: gguf_value_u16(v, &x.u16, &err); jv = json_integer(x.u16); break;
        case GGUF_I16: gguf_value_i16(v, &x.i16, &err); jv = json_integer(x.i16); break;
        case GGUF_U32: gguf_value_u32(v, &x.u32, &err); jv = json_integer(x.u32); break;
        case GGUF_I32: gguf_value_i32(v, &x.i32, &err); jv = json_integer(x.i32); break;
        case GGUF_U64: gguf_value_u64(v, &x.u64, &err); jv = json_integer((json_int_t)x.u64); break;
        case GGUF_I64: gguf_value_i64(v, &x.i64, &err); jv = json_integer(x.i64); break;
        case GGUF_F32: gguf_value_f32(v, &x.f32, &err); jv = json_real(x.f32); break;
        case GGUF_F64: gguf_value_f64(v, &x.f64, &err); jv = json_real(x.f64); break;
        case GGUF_BOOL: gguf_value_bool(v, &x.b, &err); jv = json_boolean(x.b); break;
        case GGUF_STRING:
            if (gguf_value_str(v, &s, &err) == 0 && strcmp(key, "tokenizer.chat_template"))
                jv = json_stringn(s.ptr, s.len);
            break;
        default:
            jv = verbose ? json_integer((json_int_t)v->count) : json_null();
            break;
        }
        if (jv)
            json_object_set_new(info, key, jv);
    }
    uint64_t params = 0;
    for (int64_t i = 0; i < gguf_tensor_count(f); i++)
        params += (uint64_t)gguf_tensor_nelements(gguf_tensor(f, i));
    json_object_set_new(info, "general.parameter_count", json_integer((json_int_t)params));
    gguf_close(f);
    return info;
}

/* PARAMETER lines as Ollama's /api/show prints them: key padded, value. */
static char *parameters_text(const json_t *params)
{
    struct qm_strbuf sb = {0};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        json_t *one = json_is_array(v) ? v : NULL;
        size_t n = one ? json_array_size(one) : 1;
        for (size_t i = 0; i < n; i++) {
            char *val = qm_param_format(one ? json_array_get(one, i) : v);
            size_t kl = strlen(key);
            qm_strbuf_puts(&sb, key);
            for (size_t pad = kl; pad < 31; pad++)
                qm_strbuf_put(&sb, " ", 1);
            qm_strbuf_puts(&sb, val ? val : "");
            qm_strbuf_put(&sb, "\n", 1);
            free(val);
        }
    }
    if (sb.len && sb.p[sb.len - 1] == '\n')
        sb.p[--sb.len] = 0;
    return sb.p ? sb.p : strdup("");
}

static void run_show(struct job *j)
{
    struct qm_model_ref ref;
    int rc = qm_store_resolve(j->r->store, j->m.model, &ref, &j->err);
    if (rc < 0)
        return fail(j, rc);
    char *modelfile = qm_modelfile_render(&ref);
    char *params = parameters_text(ref.params);
    json_t *info = model_info(ref.gguf_path, j->m.verbose);
    const char *fams[QM_DETAILS_FAMILIES_MAX];
    struct qm_api_show s = {
        .modelfile = modelfile, .parameters = params, .template = ref.template, .system = ref.system,
        .license = ref.license, .model_info = info, .modified_at_ns = (int64_t)ref.modified * 1000000000};
    api_details(&ref.details, &s.details, fams);
    j->out = qm_api_show_json(&s);
    j->status = j->out ? 200 : (qm_err_set(&j->err, "out of memory"), 500);
    json_decref(info);
    free(params);
    free(modelfile);
    qm_model_ref_free(&ref);
}

void qm_routes_show(struct qm_routes *r, struct qm_http_req *req)
{
    struct job *j = decoded(req, QM_API_SHOW);
    if (j) {
        j->run = run_show;
        queue(r, req, j);
    }
}

/* ---- copy, delete -------------------------------------------------------------- */

static void run_copy(struct job *j)
{
    int rc = qm_store_copy(j->r->store, j->m.model, j->m.destination, &j->err);
    if (rc < 0)
        return fail(j, rc);
    j->out = json_object();
    j->status = 200;
}

void qm_routes_copy(struct qm_routes *r, struct qm_http_req *req)
{
    struct job *j = decoded(req, QM_API_COPY);
    if (j) {
        j->run = run_copy;
        queue(r, req, j);
    }
}

static void run_delete(struct job *j)
{
    int rc = qm_store_delete(j->r->store, j->m.model, &j->err);
    if (rc < 0)
        return fail(j, rc);
    j->out = json_object();
    j->status = 200;
}

void qm_routes_delete(struct qm_routes *r, struct qm_http_req *req)
{
    struct job *j = decoded(req, QM_API_DELETE);
    if (j) {
        j->run = run_delete;
        queue(r, req, j);
    }
}
