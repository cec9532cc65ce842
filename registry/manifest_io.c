/* manifest_io.c - finding, reading and installing manifest files. */
#include "store_impl.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blob.h"
#include "log.h"

/* The entry of dir equal to want, else one equal ignoring case, into got. */
static bool find_entry(const char *dir, const char *want, char *got, size_t cap)
{
    char *p = NULL;
    struct stat st;
    if (asprintf(&p, "%s/%s", dir, want) >= 0 && stat(p, &st) == 0) {
        free(p);
        snprintf(got, cap, "%s", want);
        return true;
    }
    free(p);
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] != '.' && !strcasecmp(e->d_name, want) && strlen(e->d_name) < cap) {
            strcpy(got, e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

int store_locate(const struct qm_store *s, const struct qm_name *n, char **path,
                 struct qm_name *found, struct qm_err *err)
{
    struct qm_name f = *n;
    char *parts[4] = {f.host, f.ns, f.model, f.tag};
    size_t caps[4] = {sizeof f.host, sizeof f.ns, sizeof f.model, sizeof f.tag};
    char *dir = strdup(s->manifests);
    for (int i = 0; dir && i < 4; i++) {
        char want[QM_NAME_HOST_MAX + 1];
        snprintf(want, sizeof want, "%s", parts[i]);
        char *next = NULL;
        if (!find_entry(dir, want, parts[i], caps[i])) {
            free(dir);
            char shown[QM_NAME_STR_MAX];
            qm_name_display(n, shown, sizeof shown);
            qm_err_set(err, "model '%s' not found", shown);
            return QM_STORE_ENOTFOUND;
        }
        if (asprintf(&next, "%s/%s", dir, parts[i]) < 0)
            next = NULL;
        free(dir);
        dir = next;
    }
    if (!dir)
        return store_oom(err);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISREG(st.st_mode)) {
        qm_err_set(err, "%s is not a manifest file", dir);
        free(dir);
        return QM_EINVAL;
    }
    *path = dir;
    if (found)
        *found = f;
    return QM_OK;
}

int store_read_manifest(const char *path, struct qm_manifest *m, char *digest, struct stat *st,
                        char **bytes, size_t *len, struct qm_err *err)
{
    char *text;
    size_t n;
    int rc = store_read_file(path, STORE_MANIFEST_MAX, &text, &n, st, NULL, err);
    if (rc)
        return rc;
    struct qm_err perr;
    rc = qm_manifest_parse(m, text, n, &perr);
    if (rc) {
        qm_err_set(err, "%s: %s", path, perr.msg);
        free(text);
        return rc;
    }
    if (digest)
        qm_sha256_buf(text, n, digest);
    if (bytes) {
        *bytes = text;
        if (len)
            *len = n;
    } else {
        free(text);
    }
    return QM_OK;
}

int store_write_manifest(const struct qm_store *s, const struct qm_name *n, const char *bytes,
                         size_t len, struct qm_err *err)
{
    int rc = store_check_writable(s, err);
    if (rc)
        return rc;
    /* Ollama refuses a name that differs from an existing one only in case. */
    char *existing = NULL;
    struct qm_name found;
    if (store_locate(s, n, &existing, &found, NULL) == QM_OK) {
        free(existing);
        if (!store_same_spelling(&found, n)) {
            char a[QM_NAME_STR_MAX], b[QM_NAME_STR_MAX];
            qm_name_display(n, a, sizeof a);
            qm_name_display(&found, b, sizeof b);
            qm_err_set(err, "a model named '%s' already exists as '%s' (names ignore case)", a, b);
            return QM_STORE_EEXIST;
        }
    }
    char *dir = NULL;
    if (asprintf(&dir, "%s/%s/%s/%s", s->manifests, n->host, n->ns, n->model) < 0)
        return store_oom(err);
    /* A concurrent delete may remove the directory we just made (it prunes
     * empty ones), so try again a few times. */
    for (int attempt = 0; attempt < 5; attempt++) {
        if ((rc = store_mkdirs(s, dir, err)) != QM_OK)
            break;
        rc = store_write_atomic(s, dir, n->tag, bytes, len, err);
        struct stat st;
        if (rc == QM_OK || stat(dir, &st) == 0)
            break;
    }
    free(dir);
    return rc;
}

void store_details(const struct qm_store *s, const struct qm_manifest *m, struct qm_details *d)
{
    memset(d, 0, sizeof *d);
    char *text = NULL;
    size_t len;
    if (qm_store_read_blob(s, m->config.digest, STORE_MANIFEST_MAX, &text, &len, NULL) == QM_OK) {
        json_t *config = json_loadb(text, len, 0, NULL);
        free(text);
        bool complete = qm_details_from_config(d, config);
        json_decref(config);
        if (complete)
            return;
    }
    const struct qm_layer *model = qm_manifest_find(m, QM_MT_MODEL);
    char *gguf = NULL;
    if (model && qm_store_blob_path(s, model->digest, &gguf, NULL) == QM_OK) {
        struct qm_err err;
        if (qm_details_from_gguf(d, gguf, &err) != QM_OK)
            qm_log_debug("details of %s: %s", gguf, err.msg);
    }
    free(gguf);
    if (!d->format[0])
        strcpy(d->format, "gguf");
}
