/* manifest.c - reading and writing manifests with jansson. */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static int parse_layer(struct qm_layer *out, json_t *j, const char *what, struct qm_err *err)
{
    if (!json_is_object(j))
        return qm_err_set(err, "manifest: %s is not an object", what);
    json_t *mt = json_object_get(j, "mediaType");
    json_t *dg = json_object_get(j, "digest");
    json_t *sz = json_object_get(j, "size");
    if (!json_is_string(mt) || json_string_length(mt) > QM_MEDIA_TYPE_MAX)
        return qm_err_set(err, "manifest: %s has no valid mediaType", what);
    if (!json_is_string(dg) || qm_digest_parse(json_string_value(dg), out->digest, NULL) != QM_OK)
        return qm_err_set(err, "manifest: %s has no valid digest", what);
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return qm_err_set(err, "manifest: %s has no valid size", what);
    strcpy(out->media_type, json_string_value(mt));
    out->size = (uint64_t)json_integer_value(sz);
    return QM_OK;
}

int qm_manifest_parse(struct qm_manifest *out, const char *text, size_t len, struct qm_err *err)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root)
        return qm_err_set(err, "manifest: not JSON (line %d: %s)", jerr.line, jerr.text);
    int rc = QM_OK;
    json_t *sv = json_object_get(root, "schemaVersion");
    json_t *layers = json_object_get(root, "layers");
    if (!json_is_object(root) || (sv && json_integer_value(sv) != 2)) {
        rc = qm_err_set(err, "manifest: not a schemaVersion 2 manifest");
        goto out;
    }
    if ((rc = parse_layer(&out->config, json_object_get(root, "config"), "config", err)))
        goto out;
    if (!json_is_array(layers)) {
        rc = qm_err_set(err, "manifest: no layers array");
        goto out;
    }
    size_t n = json_array_size(layers);
    out->layers = calloc(n ? n : 1, sizeof *out->layers);
    if (!out->layers) {
        rc = QM_ENOMEM;
        qm_err_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "layer %zu", i);
        if ((rc = parse_layer(&out->layers[i], json_array_get(layers, i), what, err)))
            goto out;
        out->n_layers++;
    }
out:
    json_decref(root);
    if (rc)
        qm_manifest_free(out);
    return rc;
}

static json_t *layer_json(const struct qm_layer *l)
{
    return json_pack("{s:s, s:s, s:I}", "mediaType", l->media_type, "digest", l->digest, "size",
                     (json_int_t)l->size);
}

char *qm_manifest_dump(const struct qm_manifest *m)
{
    json_t *layers = json_array();
    for (size_t i = 0; layers && i < m->n_layers; i++) {
        if (json_array_append_new(layers, layer_json(&m->layers[i])) != 0) {
            json_decref(layers);
            return NULL;
        }
    }
    json_t *root = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
                             QM_MT_MANIFEST, "config", layer_json(&m->config), "layers", layers);
    if (!root)
        return NULL;
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}

int qm_manifest_add(struct qm_manifest *m, const struct qm_layer *l)
{
    struct qm_layer *p = realloc(m->layers, (m->n_layers + 1) * sizeof *p);
    if (!p)
        return QM_ENOMEM;
    m->layers = p;
    m->layers[m->n_layers++] = *l;
    return QM_OK;
}

const struct qm_layer *qm_manifest_find(const struct qm_manifest *m, const char *media_type)
{
    for (size_t i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i].media_type, media_type))
            return &m->layers[i];
    return NULL;
}

uint64_t qm_manifest_size(const struct qm_manifest *m)
{
    uint64_t size = m->config.size;
    for (size_t i = 0; i < m->n_layers; i++)
        size += m->layers[i].size;
    return size;
}

void qm_manifest_free(struct qm_manifest *m)
{
    free(m->layers);
    m->layers = NULL;
    m->n_layers = 0;
}
