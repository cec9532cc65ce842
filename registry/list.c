/* list.c - every model in the store: a walk of manifests/<h>/<n>/<m>/<tag>. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_impl.h"

struct list {
    struct qm_model_info *v;
    size_t n, cap;
    int errnum;   /* why manifests/ could not be read */
};

static bool (*const part_valid[4])(const char *) = {
    qm_name_host_valid, qm_name_namespace_valid, qm_name_model_valid, qm_name_tag_valid};

static int add_model(const struct qm_store *s, struct list *l, const char *path,
                     const struct qm_name *n)
{
    struct qm_manifest m;
    struct stat st;
    struct qm_err err;
    char digest[QM_DIGEST_STR_LEN + 1];
    if (store_read_manifest(path, &m, digest, &st, NULL, NULL, &err) != QM_OK) {
        qm_log_warn("skipping a broken model manifest: %s", err.msg);
        return QM_OK;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct qm_model_info *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            qm_manifest_free(&m);
            return QM_ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    struct qm_model_info *info = &l->v[l->n++];
    memset(info, 0, sizeof *info);
    info->name = *n;
    qm_name_display(n, info->display, sizeof info->display);
    memcpy(info->digest, digest, sizeof digest);
    info->size = qm_manifest_size(&m);
    info->modified = st.st_mtime;
    store_details(s, &m, &info->details);
    qm_manifest_free(&m);
    return QM_OK;
}

/* Descend one level: parts[0..depth-1] are set, this fills parts[depth]. */
static int walk(const struct qm_store *s, struct list *l, const char *dir, struct qm_name *n,
                int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (depth == 0 && errno == ENOENT)
            return QM_OK;   /* a read-only store without manifests/: empty */
        l->errnum = errno;
        qm_log_warn("cannot list %s: %s", dir, strerror(errno));
        return depth == 0 ? QM_EIO : QM_OK;
    }
    char *parts[4] = {n->host, n->ns, n->model, n->tag};
    size_t caps[4] = {sizeof n->host, sizeof n->ns, sizeof n->model, sizeof n->tag};
    int rc = QM_OK;
    struct dirent *e;
    while (rc == QM_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;   /* ., .., and our temporaries */
        if (strlen(e->d_name) >= caps[depth] || !part_valid[depth](e->d_name)) {
            qm_log_warn("skipping %s/%s: not a valid name part", dir, e->d_name);
            continue;
        }
        strcpy(parts[depth], e->d_name);
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            rc = QM_ENOMEM;
            break;
        }
        struct stat st;
        if (stat(path, &st) == 0) {
            if (depth < 3 && S_ISDIR(st.st_mode))
                rc = walk(s, l, path, n, depth + 1);
            else if (depth == 3 && S_ISREG(st.st_mode))
                rc = add_model(s, l, path, n);
            else
                qm_log_warn("skipping %s: unexpected %s", path,
                            S_ISDIR(st.st_mode) ? "directory" : "file");
        }
        free(path);
    }
    closedir(d);
    return rc;
}

static int newest_first(const void *a, const void *b)
{
    const struct qm_model_info *x = a, *y = b;
    if (x->modified != y->modified)
        return x->modified > y->modified ? -1 : 1;
    return strcmp(x->display, y->display);
}

int qm_store_list(struct qm_store *s, struct qm_model_info **out, size_t *n, struct qm_err *err)
{
    struct list l = {0};
    struct qm_name name = {0};
    int rc = walk(s, &l, s->manifests, &name, 0);
    if (rc) {
        free(l.v);
        *out = NULL;
        *n = 0;
        if (rc == QM_ENOMEM)
            return store_oom(err);
        return store_os_error(s, err, "list", s->manifests, l.errnum);
    }
    if (l.n)
        qsort(l.v, l.n, sizeof *l.v, newest_first);
    *out = l.v;
    *n = l.n;
    return QM_OK;
}

void qm_model_list_free(struct qm_model_info *list)
{
    free(list);
}
