/* resolve.c - from a model name to the files and texts that run it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "store_impl.h"

/* A text layer as a C string (a NUL inside cuts it, as C strings must). */
static int read_text(const struct qm_store *s, const struct qm_layer *l, char **out,
                     struct qm_err *err)
{
    size_t len;
    return qm_store_read_blob(s, l->digest, STORE_TEXT_MAX, out, &len, err);
}

static int read_json(const struct qm_store *s, const struct qm_layer *l, json_t **out,
                     const char *what, struct qm_err *err)
{
    char *text;
    size_t len;
    int rc = qm_store_read_blob(s, l->digest, STORE_TEXT_MAX, &text, &len, err);
    if (rc)
        return rc;
    json_error_t jerr;
    *out = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!*out)
        return qm_err_set(err, "the %s layer %s is not JSON: %s", what, l->digest, jerr.text);
    return QM_OK;
}

static int append_license(char **license, const char *text)
{
    if (!*license) {
        *license = strdup(text);
        return *license ? QM_OK : QM_ENOMEM;
    }
    char *joined = NULL;
    if (asprintf(&joined, "%s\n\n%s", *license, text) < 0)
        return QM_ENOMEM;
    free(*license);
    *license = joined;
    return QM_OK;
}

static int read_layers(const struct qm_store *s, const struct qm_manifest *m,
                       struct qm_model_ref *r, struct qm_err *err)
{
    int rc = QM_OK;
    for (size_t i = 0; rc == QM_OK && i < m->n_layers; i++) {
        const struct qm_layer *l = &m->layers[i];
        const char *mt = l->media_type;
        if (!strcmp(mt, QM_MT_MODEL) && !r->gguf_path) {
            if (!qm_store_blob_exists(s, l->digest, NULL)) {
                qm_err_set(err, "model '%s' is missing its weights (blob %s): pull or create it "
                           "again", r->display, l->digest);
                return QM_EIO;
            }
            rc = qm_store_blob_path(s, l->digest, &r->gguf_path, err);
            memcpy(r->model_digest, l->digest, sizeof r->model_digest);
        } else if (!strcmp(mt, QM_MT_PROJECTOR) && !r->projector_path) {
            rc = qm_store_blob_path(s, l->digest, &r->projector_path, err);
        } else if (!strcmp(mt, QM_MT_TEMPLATE)) {
            free(r->template);
            rc = read_text(s, l, &r->template, err);
        } else if (!strcmp(mt, QM_MT_SYSTEM)) {
            free(r->system);
            rc = read_text(s, l, &r->system, err);
        } else if (!strcmp(mt, QM_MT_LICENSE)) {
            char *text;
            if ((rc = read_text(s, l, &text, err)) == QM_OK) {
                if ((rc = append_license(&r->license, text)) != QM_OK)
                    qm_err_set(err, "out of memory");
                free(text);
            }
        } else if (!strcmp(mt, QM_MT_PARAMS)) {
            json_t *p;
            if ((rc = read_json(s, l, &p, "parameters", err)) == QM_OK) {
                if (!json_is_object(p)) {
                    json_decref(p);
                    return qm_err_set(err, "the parameters layer %s is not a JSON object",
                                      l->digest);
                }
                json_decref(r->params);
                r->params = p;
            }
        } else if (!strcmp(mt, QM_MT_MESSAGES)) {
            json_decref(r->messages);
            r->messages = NULL;
            rc = read_json(s, l, &r->messages, "messages", err);
        }
        /* Adapters and unknown layers are not used to run a model. */
    }
    if (rc == QM_OK && !r->gguf_path)
        return qm_err_set(err, "model '%s' has no model layer", r->display);
    return rc;
}

int qm_store_resolve(struct qm_store *s, const char *name, struct qm_model_ref *out,
                     struct qm_err *err)
{
    memset(out, 0, sizeof *out);
    struct qm_name n;
    int rc = qm_name_parse(&n, name, err);
    if (rc)
        return rc;
    char *path = NULL;
    if ((rc = store_locate(s, &n, &path, &out->name, err)) != QM_OK)
        return rc;
    qm_name_display(&out->name, out->display, sizeof out->display);
    struct qm_manifest m;
    struct stat st;
    rc = store_read_manifest(path, &m, out->manifest_digest, &st, NULL, NULL, err);
    free(path);
    if (rc)
        return rc;
    if (n.digest[0] && strcmp(n.digest, out->manifest_digest) != 0) {
        qm_manifest_free(&m);
        qm_err_set(err, "model '%s' is %s, not %s", out->display, out->manifest_digest, n.digest);
        return QM_STORE_ENOTFOUND;
    }
    out->size = qm_manifest_size(&m);
    out->modified = st.st_mtime;
    out->params = json_object();
    if (!out->params)
        rc = store_oom(err);
    else
        rc = read_layers(s, &m, out, err);
    if (rc == QM_OK)
        store_details(s, &m, &out->details);
    qm_manifest_free(&m);
    if (rc)
        qm_model_ref_free(out);
    return rc;
}

void qm_model_ref_free(struct qm_model_ref *r)
{
    free(r->gguf_path);
    free(r->projector_path);
    free(r->template);
    free(r->system);
    free(r->license);
    json_decref(r->params);
    json_decref(r->messages);
    r->gguf_path = r->projector_path = r->template = r->system = r->license = NULL;
    r->params = r->messages = NULL;
}
