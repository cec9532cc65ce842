/* catalog.c - reading the pull catalog (catalog.h). */
#include "catalog.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "strbuf.h"

/* generated from registry/catalog.json (cmake/embed.cmake) */
extern const char qm_catalog_builtin[];
extern const unsigned long qm_catalog_builtin_len;

static json_t *load(struct qm_err *err)
{
    json_error_t je;
    const char *path = getenv("QM_CATALOG");
    json_t *root;
    if (path && *path) {
        root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!root) {
            qm_err_set(err, "cannot read the catalog %s: %s (line %d)", path, je.text, je.line);
            return NULL;
        }
    } else {
        root = json_loadb(qm_catalog_builtin, qm_catalog_builtin_len, JSON_REJECT_DUPLICATES, &je);
        if (!root) {
            qm_err_set(err, "the built-in catalog is malformed: %s (line %d)", je.text, je.line);
            return NULL;
        }
    }
    if (!json_is_object(json_object_get(root, "models"))) {
        json_decref(root);
        qm_err_set(err, "the catalog %s has no \"models\" object", path && *path ? path : "(built in)");
        return NULL;
    }
    return root;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static int copy(char *dst, const char *src, struct qm_err *err)
{
    if (strlen(src) >= QM_CATALOG_STR_MAX)
        return qm_err_set(err, "catalog entry too long: '%.40s...'", src), QM_EINVAL;
    strcpy(dst, src);
    return 0;
}

/* pattern with {tag} / {TAG} replaced */
static int expand(char *out, const char *pattern, const char *tag, struct qm_err *err)
{
    size_t n = 0;
    for (const char *p = pattern; *p;) {
        bool lower = !strncmp(p, "{tag}", 5), upper = !strncmp(p, "{TAG}", 5);
        if (lower || upper) {
            for (const char *t = tag; *t; t++) {
                if (n + 1 >= QM_CATALOG_STR_MAX)
                    return qm_err_set(err, "catalog file name too long"), QM_EINVAL;
                out[n++] = upper ? (char)toupper((unsigned char)*t) : *t;
            }
            p += 5;
        } else {
            if (n + 1 >= QM_CATALOG_STR_MAX)
                return qm_err_set(err, "catalog file name too long"), QM_EINVAL;
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return 0;
}

int qm_catalog_lookup(const char *model, const char *tag, struct qm_catalog_hit *hit,
                      struct qm_err *err)
{
    memset(hit, 0, sizeof *hit);
    json_t *root = load(err);
    if (!root)
        return QM_EINVAL;
    json_t *models = json_object_get(root, "models"), *entry = NULL, *v;
    const char *key;
    json_object_foreach(models, key, v)
        if (!strcasecmp(key, model)) {
            entry = v;
            break;
        }
    int rc = 0;
    if (!entry || !json_is_object(entry))
        goto out;
    json_t *tags = json_object_get(entry, "tags");
    const char *want = (!tag || !*tag || !strcasecmp(tag, "latest")) ? str(entry, "default") : tag;
    const char *found = NULL;
    size_t i;
    json_array_foreach(tags, i, v)
        if (json_is_string(v) && !strcasecmp(json_string_value(v), want))
            found = json_string_value(v);
    if (!found) {
        struct qm_strbuf sb = {0};
        json_array_foreach(tags, i, v) {
            qm_strbuf_puts(&sb, i ? ", " : "");
            qm_strbuf_puts(&sb, json_string_value(v) ? json_string_value(v) : "?");
        }
        qm_err_set(err, "the catalog has no tag '%s' for %s (tags: %s)", want, key,
                   sb.p ? sb.p : "none");
        free(sb.p);
        rc = QM_EINVAL;
        goto out;
    }
    const char *file = str(json_object_get(entry, "files"), found);
    if (!*file)
        file = str(entry, "file");
    if (!*file || (!*str(entry, "huggingface") && !*str(entry, "modelscope"))) {
        qm_err_set(err, "the catalog entry %s names no file or repository", key);
        rc = QM_EINVAL;
        goto out;
    }
    if ((rc = copy(hit->tag, found, err)) < 0 || (rc = copy(hit->huggingface, str(entry, "huggingface"), err)) < 0 ||
        (rc = copy(hit->modelscope, str(entry, "modelscope"), err)) < 0 ||
        (rc = expand(hit->file, file, found, err)) < 0)
        goto out;
    /* the file name goes into a URL path: one plain segment only */
    if (strchr(hit->file, '/') || strstr(hit->file, "..") || strchr(hit->file, '?') || strchr(hit->file, '#')) {
        qm_err_set(err, "the catalog entry %s has an unsafe file name '%s'", key, hit->file);
        rc = QM_EINVAL;
        goto out;
    }
    rc = 1;
out:
    json_decref(root);
    return rc;
}
