/* api_manage.c - the bodies of /api/show, /api/copy, /api/delete,
 * /api/pull, /api/push and /api/create.
 *
 * Names are only checked for presence here; whether a name is valid is the
 * registry's question (registry/name.h).  /api/create's parameters are
 * type-checked against the option table now, since a bad one would
 * otherwise sit in the store until a request trips over it; unknown names
 * are refused there for the same reason (Ollama does the same). */
#include "api_internal.h"

#include <stdlib.h>
#include <string.h>

static int dup_string(const json_t *req, const char *key, char **out, struct qm_err *err)
{
    const char *s = NULL;
    if (qm_api__get_string(req, key, key, &s, err))
        return -1;
    if (s && *s && !(*out = strdup(s)))
        return -1;
    return 0;
}

static int required(const json_t *req, const char *key, char **out, struct qm_err *err)
{
    if (dup_string(req, key, out, err))
        return -1;
    if (!*out) {
        qm_err_set(err, "\"%s\" is required", key);
        return -1;
    }
    return 0;
}

static bool is_digest(const char *s)
{
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
        return false;
    for (s += 7; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static int create_files(const json_t *req, struct qm_api_manage *m, struct qm_err *err)
{
    json_t *f = qm_api__field(req, "files");
    if (!f)
        return 0;
    if (!json_is_object(f)) {
        qm_err_set(err, "\"files\" must be an object of file names to digests");
        return -1;
    }
    const char *name;
    json_t *d;
    json_object_foreach(f, name, d) {
        if (!json_is_string(d) || !is_digest(json_string_value(d))) {
            qm_err_set(err, "\"files.%.200s\" must be a digest \"sha256:<64 hex digits>\"", name);
            return -1;
        }
    }
    return (m->files = json_deep_copy(f)) ? 0 : -1;
}

static int create_parameters(const json_t *req, struct qm_api_manage *m, struct qm_err *err)
{
    json_t *p = qm_api__field(req, "parameters");
    if (!p)
        return 0;
    if (!json_is_object(p)) {
        qm_err_set(err, "\"parameters\" must be an object");
        return -1;
    }
    if (!(m->parameters = json_object()))
        return -1;
    const char *key;
    json_t *v;
    json_object_foreach(p, key, v) {
        json_t *norm = NULL;
        if (json_is_null(v))
            continue;
        int rc = qm_api__check_option(key, v, "parameters", &norm, err);
        if (rc == -2)
            qm_err_set(err, "\"parameters\": unknown parameter \"%.100s\"", key);
        if (rc < 0)
            return -1;
        if (!qm_api__set(m->parameters, key, rc == 1 ? norm : json_incref(v)))
            return -1;
    }
    return 0;
}

static int create_license(const json_t *req, struct qm_api_manage *m, struct qm_err *err)
{
    json_t *l = qm_api__field(req, "license");
    if (!l)
        return 0;
    if (json_is_string(l))
        return (m->license = json_pack("[o]", json_deep_copy(l))) ? 0 : -1;
    size_t i;
    json_t *e;
    bool ok = json_is_array(l);
    json_array_foreach(ok ? l : NULL, i, e)
        ok = ok && json_is_string(e);
    if (!ok) {
        qm_err_set(err, "\"license\" must be a string or an array of strings");
        return -1;
    }
    return (m->license = json_deep_copy(l)) ? 0 : -1;
}

static int create_messages(const json_t *req, struct qm_api_manage *m, struct qm_err *err)
{
    json_t *msgs = qm_api__field(req, "messages");
    if (!msgs)
        return 0;
    if (!json_is_array(msgs)) {
        qm_err_set(err, "\"messages\" must be an array");
        return -1;
    }
    if (!(m->messages = json_array()))
        return -1;
    size_t i;
    json_t *e;
    json_array_foreach(msgs, i, e) {
        const char *role = json_string_value(json_object_get(e, "role"));
        json_t *c = json_object_get(e, "content");
        if (!role || !(json_is_string(c) || json_is_null(c) || !c)) {
            qm_err_set(err, "\"messages[%zu]\" must have a string role and content", i);
            return -1;
        }
        if (json_array_append_new(m->messages,
                                  json_pack("{s:s, s:s}", "role", role, "content",
                                            json_is_string(c) ? json_string_value(c) : "")))
            return -1;
    }
    return 0;
}

static int decode_create(const json_t *req, struct qm_api_manage *m, struct qm_err *err)
{
    json_t *ad = qm_api__field(req, "adapters");
    if (ad && !(json_is_object(ad) && json_object_size(ad) == 0)) {
        qm_err_set(err, "\"adapters\": LoRA adapters are not supported");
        return -1;
    }
    if (dup_string(req, "from", &m->from, err) || dup_string(req, "template", &m->template, err) ||
        dup_string(req, "system", &m->system, err) ||
        dup_string(req, "quantize", &m->quantize, err) ||
        dup_string(req, "modelfile", &m->modelfile, err) || create_files(req, m, err) ||
        create_parameters(req, m, err) || create_license(req, m, err) ||
        create_messages(req, m, err))
        return -1;
    if (!m->from && !m->files && !m->modelfile) {
        qm_err_set(err, "one of \"from\" or \"files\" is required");
        return -1;
    }
    return 0;
}

int qm_api_decode_manage(enum qm_api_manage_kind kind, const char *body, size_t len,
                         struct qm_api_manage *out, struct qm_err *err)
{
    struct qm_err local;
    if (!err)
        err = &local;
    err->msg[0] = '\0';
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->stream = true;
    json_t *req = qm_api__parse_object(body, len, err);
    if (!req)
        return 400;
    int rc;
    switch (kind) {
    case QM_API_COPY:
        rc = required(req, "source", &out->model, err) ||
             required(req, "destination", &out->destination, err);
        break;
    case QM_API_SHOW:
        rc = qm_api__get_model(req, "name", &out->model, err) ||
             qm_api__get_bool(req, "verbose", "verbose", &out->verbose, err);
        break;
    case QM_API_PULL:
    case QM_API_PUSH:
        rc = qm_api__get_model(req, "name", &out->model, err) ||
             qm_api__get_bool(req, "insecure", "insecure", &out->insecure, err) ||
             qm_api__get_bool(req, "stream", "stream", &out->stream, err);
        break;
    case QM_API_CREATE:
        rc = qm_api__get_model(req, "name", &out->model, err) ||
             qm_api__get_bool(req, "stream", "stream", &out->stream, err) ||
             decode_create(req, out, err);
        break;
    default:   /* QM_API_DELETE */
        rc = qm_api__get_model(req, "name", &out->model, err);
        break;
    }
    json_decref(req);
    if (!rc)
        return 0;
    qm_api_manage_free(out);
    if (err->msg[0] == '\0') {
        qm_err_set(err, "out of memory");
        return 500;
    }
    return 400;
}

void qm_api_manage_free(struct qm_api_manage *m)
{
    if (!m)
        return;
    free(m->model);
    free(m->destination);
    free(m->from);
    free(m->template);
    free(m->system);
    free(m->quantize);
    free(m->modelfile);
    json_decref(m->license);
    json_decref(m->files);
    json_decref(m->parameters);
    json_decref(m->messages);
    memset(m, 0, sizeof *m);
}
