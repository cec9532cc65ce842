/* store.c - opening a store and the file primitives its operations share. */
#include "store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"

char *qm_store_default_root(void)
{
    const char *env = getenv("QM_MODELS");
    if (env && *env)
        return strdup(env);
    const char *home = getenv("HOME");
    char *p = NULL;
    if (asprintf(&p, "%s/.qm/models", home && *home ? home : ".") < 0)
        return NULL;
    return p;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_perm_error(int e)
{
    return e == EACCES || e == EPERM || e == EROFS;
}

/* mkdir -p that reports the first failing directory. */
static int mkdirs(char *path, int *errnum)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int rc = mkdir(path, 0755);
        int e = errno;
        *p = c;
        if (rc != 0 && e != EEXIST) {
            *errnum = e;
            return -1;
        }
        if (c == '\0')
            return 0;
    }
}

int store_mkdirs(const struct qm_store *s, const char *path, struct qm_err *err)
{
    char *p = strdup(path);
    if (!p)
        return store_oom(err);
    int e = 0, rc = mkdirs(p, &e);
    free(p);
    if (rc == 0 && is_dir(path))
        return QM_OK;
    return store_os_error(s, err, "create directory", path, e ? e : ENOTDIR);
}

int qm_store_open(struct qm_store **out, const char *root, struct qm_err *err)
{
    *out = NULL;
    if (!root || !*root)
        return qm_err_set(err, "model store: no directory given");
    struct qm_store *s = calloc(1, sizeof *s);
    if (!s)
        return store_oom(err);
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (!(s->root = strndup(root, n)) || asprintf(&s->blobs, "%s/blobs", s->root) < 0 ||
        asprintf(&s->manifests, "%s/manifests", s->root) < 0) {
        s->blobs = s->manifests = NULL;
        qm_store_close(s);
        return store_oom(err);
    }
    const char *dirs[] = {s->blobs, s->manifests};
    for (int i = 0; i < 2; i++) {
        int e = 0;
        char *p = strdup(dirs[i]);
        int rc = p ? mkdirs(p, &e) : (e = ENOMEM, -1);
        free(p);
        if (rc == 0 && is_dir(dirs[i]))
            continue;
        /* An existing store we may not write (a read-only mount, another
         * user's files) is still good for reading. */
        if (is_perm_error(e) && is_dir(s->root)) {
            s->readonly = true;
            continue;
        }
        qm_err_set(err, "cannot create the model store directory %s: %s", dirs[i],
                   strerror(e ? e : ENOTDIR));
        qm_store_close(s);
        return QM_EIO;
    }
    if (!s->readonly && (faccessat(AT_FDCWD, s->blobs, W_OK, AT_EACCESS) != 0 ||
                         faccessat(AT_FDCWD, s->manifests, W_OK, AT_EACCESS) != 0))
        s->readonly = true;
    if (s->readonly)
        qm_log_warn("model store %s is read-only: models can be used but not added or removed",
                    s->root);
    *out = s;
    return QM_OK;
}

void qm_store_close(struct qm_store *s)
{
    if (!s)
        return;
    free(s->root);
    free(s->blobs);
    free(s->manifests);
    free(s);
}

const char *qm_store_root(const struct qm_store *s)
{
    return s->root;
}

bool qm_store_readonly(const struct qm_store *s)
{
    return s->readonly;
}

int store_os_error(const struct qm_store *s, struct qm_err *err, const char *what,
                   const char *path, int errnum)
{
    if (is_perm_error(errnum))
        qm_err_set(err, "cannot %s %s: %s (the model store at %s is not writable by this user)",
                   what, path, strerror(errnum), s->root);
    else
        qm_err_set(err, "cannot %s %s: %s", what, path, strerror(errnum));
    return errnum == ENOMEM ? QM_ENOMEM : QM_EIO;
}

int store_check_writable(const struct qm_store *s, struct qm_err *err)
{
    if (!s->readonly)
        return QM_OK;
    qm_err_set(err, "the model store at %s is read-only: models cannot be added or removed",
               s->root);
    return QM_EIO;
}

int store_read_file(const char *path, size_t max, char **data, size_t *len, struct stat *st,
                    int *errnum, struct qm_err *err)
{
    *data = NULL;
    if (errnum)
        *errnum = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (errnum)
            *errnum = e;
        qm_err_set(err, "cannot read %s: %s", path, strerror(e));
        return QM_EIO;
    }
    if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max) {
        close(fd);
        return qm_err_set(err, "%s is %s", path,
                          S_ISREG(sb.st_mode) ? "too large" : "not a regular file");
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        close(fd);
        return store_oom(err);
    }
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            free(buf);
            close(fd);
            if (errnum)
                *errnum = e;
            qm_err_set(err, "cannot read %s: %s", path, r < 0 ? strerror(e) : "file shrank");
            return QM_EIO;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    if (len)
        *len = got;
    if (st)
        *st = sb;
    return QM_OK;
}

int store_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int store_write_atomic(const struct qm_store *s, const char *dir, const char *name,
                       const void *data, size_t len, struct qm_err *err)
{
    char *tmp = NULL, *dst = NULL;
    if (asprintf(&tmp, "%s/.%s.tmp-XXXXXX", dir, name) < 0 ||
        asprintf(&dst, "%s/%s", dir, name) < 0) {
        free(tmp);
        return store_oom(err);
    }
    int rc = QM_OK;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = store_os_error(s, err, "create", tmp, errno);
        goto out;
    }
    if (fchmod(fd, 0644) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        rc = store_os_error(s, err, "write", tmp, errno);
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, dst) != 0) {
        rc = store_os_error(s, err, "write", dst, errno);
        unlink(tmp);
        goto out;
    }
    store_fsync_dir(dir);
out:
    free(tmp);
    free(dst);
    return rc;
}

/* ---- the GC lock -----------------------------------------------------------
 * flock on blobs/: writers share it, garbage collection takes it alone.  Each
 * hold opens its own descriptor, as flock locks belong to open files, so
 * threads of one process exclude each other as processes do. */

int qm_store_hold(struct qm_store *s, struct qm_err *err)
{
    int fd = open(s->blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return store_os_error(s, err, "open", s->blobs, errno);
    while (flock(fd, LOCK_SH) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return store_os_error(s, err, "lock", s->blobs, e);
        }
    }
    return fd;
}

void qm_store_release(int handle)
{
    if (handle >= 0)
        close(handle);   /* closing drops the lock */
}
