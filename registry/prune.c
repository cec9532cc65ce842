/* prune.c - deleting models and collecting the blobs nothing references.
 *
 * Collection is conservative: a blob counts as referenced when its digest
 * appears anywhere in any file under manifests/, parsed or not, so a manifest
 * we cannot parse (a newer format, a damaged file) still protects its blobs,
 * and a manifests/ file we cannot read stops the collection altogether. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "store_impl.h"

struct refs {
    char (*hex)[QM_DIGEST_HEX_LEN + 1];
    size_t n, cap;
};

static bool is_hex(const char *p)
{
    for (int i = 0; i < QM_DIGEST_HEX_LEN; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

static int scan_text(struct refs *r, const char *text, size_t len)
{
    for (const char *p = text; (p = memmem(p, len - (size_t)(p - text), "sha256", 6)); p += 6) {
        size_t left = len - (size_t)(p - text);
        if (left < QM_DIGEST_STR_LEN || (p[6] != ':' && p[6] != '-') || !is_hex(p + 7))
            continue;
        if (r->n == r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 64;
            void *v = realloc(r->hex, cap * sizeof *r->hex);
            if (!v)
                return QM_ENOMEM;
            r->hex = v;
            r->cap = cap;
        }
        memcpy(r->hex[r->n], p + 7, QM_DIGEST_HEX_LEN);
        r->hex[r->n++][QM_DIGEST_HEX_LEN] = '\0';
    }
    return QM_OK;
}

/* Every digest mentioned under dir (depth-limited against loops). */
static int collect(const struct qm_store *s, struct refs *r, const char *dir, int depth,
                   struct qm_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return depth == 0 && errno == ENOENT ? QM_OK
                                             : store_os_error(s, err, "read", dir, errno);
    int rc = QM_OK;
    struct dirent *e;
    while (rc == QM_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            rc = store_oom(err);
            break;
        }
        struct stat st;
        if (lstat(path, &st) != 0) {
            if (errno != ENOENT)   /* a temporary renamed away meanwhile is fine */
                rc = store_os_error(s, err, "read", path, errno);
        } else if (S_ISDIR(st.st_mode)) {
            rc = depth < 8 ? collect(s, r, path, depth + 1, err)
                           : qm_err_set(err, "%s: directories nested too deep", path);
        } else if (S_ISREG(st.st_mode)) {
            char *text;
            size_t len;
            int e2;
            rc = store_read_file(path, STORE_MANIFEST_MAX, &text, &len, NULL, &e2, err);
            if (rc && e2 == ENOENT)
                rc = QM_OK;
            else if (rc == QM_OK) {
                rc = scan_text(r, text, len) ? store_oom(err) : QM_OK;
                free(text);
            }
        }
        free(path);
    }
    closedir(d);
    return rc;
}

static int cmp_hex(const void *a, const void *b)
{
    return strcmp(a, b);
}

int qm_store_prune(struct qm_store *s, size_t *removed, struct qm_err *err)
{
    if (removed)
        *removed = 0;
    if (s->readonly)
        return QM_OK;   /* nothing we could remove anyway */
    int fd = open(s->blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return store_os_error(s, err, "open", s->blobs, errno);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK || e == EINTR) {
            qm_log_debug("blob collection deferred: a model is being written");
            return QM_OK;
        }
        return store_os_error(s, err, "lock", s->blobs, e);
    }
    struct refs r = {0};
    size_t count = 0;
    int rc = collect(s, &r, s->manifests, 0, err);
    DIR *d = rc == QM_OK ? opendir(s->blobs) : NULL;
    if (rc == QM_OK && !d)
        rc = store_os_error(s, err, "read", s->blobs, errno);
    if (d) {
        if (r.n)
            qsort(r.hex, r.n, sizeof *r.hex, cmp_hex);
        struct dirent *e;
        while ((e = readdir(d))) {
            /* Exactly sha256-<hex>: partial downloads and temporaries differ. */
            if (!qm_digest_valid(e->d_name, '-') ||
                (r.n && bsearch(e->d_name + 7, r.hex, r.n, sizeof *r.hex, cmp_hex)))
                continue;
            if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
                qm_log_debug("removed unused blob %s", e->d_name);
                count++;
            } else {
                qm_log_warn("cannot remove %s/%s: %s", s->blobs, e->d_name, strerror(errno));
            }
        }
        closedir(d);
    }
    free(r.hex);
    close(fd);   /* drops the lock */
    if (count)
        qm_log_info("removed %zu unused blob%s from %s", count, count == 1 ? "" : "s", s->blobs);
    if (removed)
        *removed = count;
    return rc;
}

int qm_store_delete(struct qm_store *s, const char *name, struct qm_err *err)
{
    struct qm_name n;
    int rc = qm_name_parse(&n, name, err);
    if (rc || (rc = store_check_writable(s, err)) != QM_OK)
        return rc;
    char *path = NULL;
    if ((rc = store_locate(s, &n, &path, NULL, err)) != QM_OK)
        return rc;
    if (unlink(path) != 0) {
        int e = errno;
        if (e == ENOENT) {   /* someone else deleted it first */
            free(path);
            char shown[QM_NAME_STR_MAX];
            qm_name_display(&n, shown, sizeof shown);
            qm_err_set(err, "model '%s' not found", shown);
            return QM_STORE_ENOTFOUND;
        }
        rc = store_os_error(s, err, "remove", path, e);
        free(path);
        return rc;
    }
    /* Remove model/, namespace/ and host/ directories left empty; rmdir
     * fails harmlessly on the first one that is not. */
    for (int i = 0; i < 3; i++) {
        char *slash = strrchr(path, '/');
        if (!slash)
            break;
        *slash = '\0';
        if (rmdir(path) != 0)
            break;
    }
    store_fsync_dir(s->manifests);
    free(path);
    struct qm_err perr;
    if (qm_store_prune(s, NULL, &perr) != QM_OK)
        qm_log_warn("model deleted, but unused blobs were not collected: %s", perr.msg);
    return QM_OK;
}
