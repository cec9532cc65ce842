/* blob.c - blob paths, verified writes, imports. */
#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_impl.h"

int qm_store_blob_path(const struct qm_store *s, const char *digest, char **out,
                       struct qm_err *err)
{
    char d[QM_DIGEST_STR_LEN + 1];
    int rc = qm_digest_parse(digest, d, err);
    if (rc)
        return rc;
    if (asprintf(out, "%s/sha256-%s", s->blobs, d + 7) < 0) {
        *out = NULL;
        return store_oom(err);
    }
    return QM_OK;
}

bool qm_store_blob_exists(const struct qm_store *s, const char *digest, uint64_t *size)
{
    char *path;
    if (qm_store_blob_path(s, digest, &path, NULL) != QM_OK)
        return false;
    struct stat st;
    bool ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    if (ok && size)
        *size = (uint64_t)st.st_size;
    return ok;
}

int qm_store_verify_blob(const struct qm_store *s, const char *digest, struct qm_err *err)
{
    char *path;
    int rc = qm_store_blob_path(s, digest, &path, err);
    if (rc)
        return rc;
    char got[QM_DIGEST_STR_LEN + 1], want[QM_DIGEST_STR_LEN + 1];
    qm_digest_parse(digest, want, NULL);
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        qm_err_set(err, "blob %s is missing", want);
        free(path);
        return QM_STORE_ENOTFOUND;
    }
    rc = qm_sha256_file(path, got, NULL, err);
    if (rc == QM_OK && strcmp(got, want) != 0)
        rc = qm_err_set(err, "blob %s is corrupt: its bytes hash to %s", path, got);
    free(path);
    return rc;
}

/* ---- the writer ----------------------------------------------------------- */

struct qm_blob_writer {
    struct qm_store *s;
    struct qm_sha256 *h;
    char *tmp;
    int fd;
    uint64_t size;
    char expected[QM_DIGEST_STR_LEN + 1];   /* "" when not known in advance */
};

int qm_blob_writer_open(struct qm_blob_writer **out, struct qm_store *s,
                        const char *expected_digest, struct qm_err *err)
{
    *out = NULL;
    int rc = store_check_writable(s, err);
    if (rc)
        return rc;
    struct qm_blob_writer *w = calloc(1, sizeof *w);
    if (!w)
        return store_oom(err);
    w->s = s;
    w->fd = -1;
    if (expected_digest && (rc = qm_digest_parse(expected_digest, w->expected, err)) != QM_OK) {
        free(w);
        return rc;
    }
    int n = w->expected[0]
                ? asprintf(&w->tmp, "%s/sha256-%s-partial-XXXXXX", s->blobs, w->expected + 7)
                : asprintf(&w->tmp, "%s/sha256-partial-XXXXXX", s->blobs);
    if (n < 0 || !(w->h = qm_sha256_new())) {
        if (n < 0)
            w->tmp = NULL;
        qm_blob_writer_abort(w);
        return store_oom(err);
    }
    w->fd = mkostemp(w->tmp, O_CLOEXEC);   /* O_EXCL: never another writer's file */
    if (w->fd < 0) {
        rc = store_os_error(s, err, "create", w->tmp, errno);
        free(w->tmp);
        w->tmp = NULL;
        qm_blob_writer_abort(w);
        return rc;
    }
    fchmod(w->fd, 0644);
    *out = w;
    return QM_OK;
}

int qm_blob_writer_write(struct qm_blob_writer *w, const void *data, size_t len,
                         struct qm_err *err)
{
    if (qm_sha256_update(w->h, data, len) != QM_OK)
        return store_oom(err);
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(w->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return store_os_error(w->s, err, "write", w->tmp, errno);
        p += n;
        left -= (size_t)n;
    }
    w->size += len;
    return QM_OK;
}

uint64_t qm_blob_writer_size(const struct qm_blob_writer *w)
{
    return w->size;
}

int qm_blob_writer_commit(struct qm_blob_writer *w, char *digest_out, struct qm_err *err)
{
    char got[QM_DIGEST_STR_LEN + 1];
    int rc = qm_sha256_final(w->h, got);
    w->h = NULL;
    if (rc) {
        qm_err_set(err, "hashing failed");
        goto fail;
    }
    if (w->expected[0] && strcmp(got, w->expected) != 0) {
        rc = qm_err_set(err, "digest mismatch: expected %s, the data hashes to %s; nothing was "
                        "installed", w->expected, got);
        goto fail;
    }
    if (fsync(w->fd) != 0) {
        rc = store_os_error(w->s, err, "write", w->tmp, errno);
        goto fail;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        rc = store_os_error(w->s, err, "write", w->tmp, errno);
        goto fail;
    }
    char *dst = NULL;
    if ((rc = qm_store_blob_path(w->s, got, &dst, err)) != QM_OK)
        goto fail;
    /* Renaming over an existing blob is harmless: same name, same bytes. */
    if (rename(w->tmp, dst) != 0) {
        rc = store_os_error(w->s, err, "install", dst, errno);
        free(dst);
        goto fail;
    }
    free(dst);
    store_fsync_dir(w->s->blobs);
    if (digest_out)
        memcpy(digest_out, got, sizeof got);
    free(w->tmp);
    w->tmp = NULL;
    qm_blob_writer_abort(w);
    return QM_OK;
fail:
    qm_blob_writer_abort(w);
    return rc;
}

void qm_blob_writer_abort(struct qm_blob_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp)
        unlink(w->tmp);
    qm_sha256_free(w->h);
    free(w->tmp);
    free(w);
}

/* ---- whole blobs ---------------------------------------------------------- */

int qm_store_put_blob(struct qm_store *s, const void *data, size_t len, char *digest_out,
                      struct qm_err *err)
{
    char d[QM_DIGEST_STR_LEN + 1];
    if (qm_sha256_buf(data, len, d) != QM_OK)
        return store_oom(err);
    if (digest_out)
        memcpy(digest_out, d, sizeof d);
    uint64_t size;
    if (qm_store_blob_exists(s, d, &size) && size == len)
        return QM_OK;
    struct qm_blob_writer *w;
    int rc = qm_blob_writer_open(&w, s, d, err);
    if (rc)
        return rc;
    if ((rc = qm_blob_writer_write(w, data, len, err)) != QM_OK) {
        qm_blob_writer_abort(w);
        return rc;
    }
    return qm_blob_writer_commit(w, NULL, err);
}

int qm_store_read_blob(const struct qm_store *s, const char *digest, size_t max, char **data,
                       size_t *len, struct qm_err *err)
{
    char *path;
    *data = NULL;
    int rc = qm_store_blob_path(s, digest, &path, err);
    if (rc)
        return rc;
    int e;
    rc = store_read_file(path, max, data, len, NULL, &e, err);
    free(path);
    if (rc && e == ENOENT) {
        qm_err_set(err, "blob %s is missing from the store", digest);
        return QM_STORE_ENOTFOUND;
    }
    return rc;
}

int qm_store_import_file(struct qm_store *s, const char *path, char *digest_out,
                         uint64_t *size_out, struct qm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        qm_err_set(err, "cannot open %s: %s", path, strerror(e));
        return QM_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return qm_err_set(err, "%s is not a regular file", path);
    }
    enum { CHUNK = 4 << 20 };
    char *buf = malloc(CHUNK);
    struct qm_blob_writer *w = NULL;
    int rc = buf ? qm_blob_writer_open(&w, s, NULL, err) : QM_ENOMEM;
    if (!buf)
        qm_err_set(err, "out of memory");
    bool first = true;
    while (rc == QM_OK) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            qm_err_set(err, "cannot read %s: %s", path, strerror(errno));
            rc = QM_EIO;
            break;
        }
        if (first && (n < 4 || memcmp(buf, "GGUF", 4) != 0)) {
            rc = qm_err_set(err, "%s is not a GGUF file", path);
            break;
        }
        first = false;
        if (n == 0)
            break;
        rc = qm_blob_writer_write(w, buf, (size_t)n, err);
    }
    free(buf);
    close(fd);
    if (rc) {
        qm_blob_writer_abort(w);
        return rc;
    }
    uint64_t size = qm_blob_writer_size(w);
    rc = qm_blob_writer_commit(w, digest_out, err);
    if (rc == QM_OK && size_out)
        *size_out = size;
    return rc;
}
