/* create.c - new manifests: qm_store_create (a Modelfile's result) and
 * qm_store_copy.
 *
 * Blobs go in first, the manifest last, all while holding the store, so a
 * model appears complete or not at all and garbage collection cannot take
 * its blobs in between. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "store_impl.h"

/* Go's GOARCH spelling, which Ollama's config blobs carry. */
#if defined(__x86_64__)
#define QM_GOARCH "amd64"
#elif defined(__aarch64__)
#define QM_GOARCH "arm64"
#else
#define QM_GOARCH "unknown"
#endif

static bool is_text_layer(const char *mt)
{
    return !strcmp(mt, QM_MT_TEMPLATE) || !strcmp(mt, QM_MT_SYSTEM) ||
           !strcmp(mt, QM_MT_LICENSE) || !strcmp(mt, QM_MT_PARAMS) || !strcmp(mt, QM_MT_MESSAGES);
}

struct build {
    struct qm_store *s;
    struct qm_manifest base;   /* the FROM model's manifest, or empty */
    struct qm_manifest out;
    struct qm_err *err;
};

static int add_layer(struct build *b, const char *mt, const char *digest, uint64_t size)
{
    struct qm_layer l = {.size = size};
    snprintf(l.media_type, sizeof l.media_type, "%s", mt);
    memcpy(l.digest, digest, sizeof l.digest);
    return qm_manifest_add(&b->out, &l) ? store_oom(b->err) : QM_OK;
}

static int add_blob_layer(struct build *b, const char *mt, const char *data, size_t len)
{
    char d[QM_DIGEST_STR_LEN + 1];
    int rc = qm_store_put_blob(b->s, data, len, d, b->err);
    return rc ? rc : add_layer(b, mt, d, len);
}

/* The base's layers of type mt (inherit), or text instead ("" drops them). */
static int text_layer(struct build *b, const char *mt, const char *text)
{
    if (text)
        return *text ? add_blob_layer(b, mt, text, strlen(text)) : QM_OK;
    for (size_t i = 0; i < b->base.n_layers; i++)
        if (!strcmp(b->base.layers[i].media_type, mt) &&
            qm_manifest_add(&b->out, &b->base.layers[i]))
            return store_oom(b->err);
    return QM_OK;
}

static int json_layer(struct build *b, const char *mt, const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return store_oom(b->err);
    int rc = add_blob_layer(b, mt, text, strlen(text));
    free(text);
    return rc;
}

/* Parameters: the base's object with spec's keys set over it. */
static int params_layer(struct build *b, const json_t *params)
{
    if (!params)
        return text_layer(b, QM_MT_PARAMS, NULL);
    const struct qm_layer *old = qm_manifest_find(&b->base, QM_MT_PARAMS);
    json_t *merged = NULL;
    if (old) {
        char *text;
        size_t len;
        int rc = qm_store_read_blob(b->s, old->digest, STORE_TEXT_MAX, &text, &len, b->err);
        if (rc)
            return rc;
        merged = json_loadb(text, len, 0, NULL);
        free(text);
        if (!json_is_object(merged)) {
            json_decref(merged);
            return qm_err_set(b->err, "the base model's parameters are not a JSON object");
        }
    } else if (!(merged = json_object())) {
        return store_oom(b->err);
    }
    int rc = json_object_update(merged, (json_t *)params) ? store_oom(b->err) : QM_OK;
    if (rc == QM_OK && json_object_size(merged))
        rc = json_layer(b, QM_MT_PARAMS, merged);
    json_decref(merged);
    return rc;
}

/* Messages replace the base's; an empty array drops them. */
static int messages_layer(struct build *b, const json_t *messages)
{
    if (!messages)
        return text_layer(b, QM_MT_MESSAGES, NULL);
    return json_array_size(messages) ? json_layer(b, QM_MT_MESSAGES, messages) : QM_OK;
}

/* The model layer and any other non-text layer (projector, adapter). */
static int weight_layers(struct build *b, const char *from)
{
    if (qm_digest_valid(from, ':') || qm_digest_valid(from, '-')) {
        char d[QM_DIGEST_STR_LEN + 1];
        uint64_t size;
        qm_digest_parse(from, d, NULL);
        if (!qm_store_blob_exists(b->s, d, &size)) {
            qm_err_set(b->err, "blob %s is not in the store", d);
            return QM_STORE_ENOTFOUND;
        }
        return add_layer(b, QM_MT_MODEL, d, size);
    }
    struct qm_name n;
    char *path = NULL;
    int rc = qm_name_parse(&n, from, b->err);
    if (rc || (rc = store_locate(b->s, &n, &path, NULL, b->err)) != QM_OK)
        return rc;
    rc = store_read_manifest(path, &b->base, NULL, NULL, NULL, NULL, b->err);
    free(path);
    if (rc)
        return rc;
    if (!qm_manifest_find(&b->base, QM_MT_MODEL))
        return qm_err_set(b->err, "model '%s' has no model layer to build on", from);
    for (size_t i = 0; i < b->base.n_layers; i++)
        if (!is_text_layer(b->base.layers[i].media_type) &&
            qm_manifest_add(&b->out, &b->base.layers[i]))
            return store_oom(b->err);
    return QM_OK;
}

/* Details of the new model: from its GGUF, else the base model's config. */
static int config_blob(struct build *b)
{
    struct qm_details d = {0};
    char *gguf = NULL;
    struct qm_err gerr;
    const struct qm_layer *model = qm_manifest_find(&b->out, QM_MT_MODEL);
    if (qm_store_blob_path(b->s, model->digest, &gguf, b->err))
        return QM_ENOMEM;
    int rc = qm_details_from_gguf(&d, gguf, &gerr);
    free(gguf);
    if (rc && b->base.n_layers)
        store_details(b->s, &b->base, &d);
    else if (rc)
        return qm_err_set(b->err, "the model layer is not a usable GGUF file: %s", gerr.msg);

    json_t *fams = json_array(), *ids = json_array();
    for (int i = 0; fams && i < d.n_families; i++)
        json_array_append_new(fams, json_string(d.families[i]));
    for (size_t i = 0; ids && i < b->out.n_layers; i++)
        json_array_append_new(ids, json_string(b->out.layers[i].digest));
    json_t *cfg = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:{s:s, s:o}}", "model_format",
                            d.format[0] ? d.format : "gguf", "model_family", d.family,
                            "model_families", fams, "model_type", d.parameter_size, "file_type",
                            d.quantization_level, "architecture", QM_GOARCH, "os", "linux",
                            "rootfs", "type", "layers", "diff_ids", ids);
    if (!cfg)
        return store_oom(b->err);
    char *text = json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(cfg);
    if (!text)
        return store_oom(b->err);
    size_t len = strlen(text);
    rc = qm_store_put_blob(b->s, text, len, b->out.config.digest, b->err);
    free(text);
    strcpy(b->out.config.media_type, QM_MT_CONFIG);
    b->out.config.size = len;
    return rc;
}

int qm_store_create(struct qm_store *s, const char *name, const struct qm_create_spec *spec,
                    struct qm_err *err)
{
    struct qm_name n;
    int rc = qm_name_parse(&n, name, err);
    if (rc || (rc = store_check_writable(s, err)) != QM_OK)
        return rc;
    if (!spec->from || !*spec->from)
        return qm_err_set(err, "create: no FROM given (a GGUF blob or a model)");
    if (spec->params && !json_is_object(spec->params))
        return qm_err_set(err, "create: parameters must be a JSON object");
    if (spec->messages && !json_is_array(spec->messages))
        return qm_err_set(err, "create: messages must be a JSON array");
    int hold = qm_store_hold(s, err);
    if (hold < 0)
        return hold;
    struct build b = {.s = s, .err = err};
    if ((rc = weight_layers(&b, spec->from)) == QM_OK &&
        (rc = text_layer(&b, QM_MT_TEMPLATE, spec->template)) == QM_OK &&
        (rc = text_layer(&b, QM_MT_SYSTEM, spec->system)) == QM_OK &&
        (rc = params_layer(&b, spec->params)) == QM_OK &&
        (rc = messages_layer(&b, spec->messages)) == QM_OK &&
        (rc = text_layer(&b, QM_MT_LICENSE, spec->license)) == QM_OK &&
        (rc = config_blob(&b)) == QM_OK) {
        char *bytes = qm_manifest_dump(&b.out);
        rc = bytes ? store_write_manifest(s, &n, bytes, strlen(bytes), err) : store_oom(err);
        free(bytes);
    }
    qm_store_release(hold);
    qm_manifest_free(&b.base);
    qm_manifest_free(&b.out);
    return rc;
}

int qm_store_copy(struct qm_store *s, const char *src, const char *dst, struct qm_err *err)
{
    struct qm_name from, to;
    int rc;
    if ((rc = qm_name_parse(&from, src, err)) || (rc = qm_name_parse(&to, dst, err)) ||
        (rc = store_check_writable(s, err)))
        return rc;
    int hold = qm_store_hold(s, err);
    if (hold < 0)
        return hold;
    char *path = NULL, *bytes = NULL;
    size_t len = 0;
    struct qm_manifest m = {0};
    struct qm_name found;
    if ((rc = store_locate(s, &from, &path, &found, err)) == QM_OK &&
        (rc = store_read_manifest(path, &m, NULL, NULL, &bytes, &len, err)) == QM_OK &&
        !store_same_spelling(&found, &to))   /* a copy onto itself: nothing to do */
        rc = store_write_manifest(s, &to, bytes, len, err);
    qm_store_release(hold);
    qm_manifest_free(&m);
    free(bytes);
    free(path);
    return rc;
}
