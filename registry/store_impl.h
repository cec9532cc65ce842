/* store_impl.h - what the store's .c files share (not for other folders). */
#ifndef QM_REGISTRY_STORE_IMPL_H
#define QM_REGISTRY_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "manifest.h"
#include "name.h"
#include "store.h"

/* Manifests and text layers are small; anything larger is not ours. */
enum { STORE_MANIFEST_MAX = 1 << 20, STORE_TEXT_MAX = 64 << 20 };

struct qm_store {
    char *root, *blobs, *manifests;   /* immutable after open */
    bool readonly;
};

static inline int store_oom(struct qm_err *err)
{
    qm_err_set(err, "out of memory");
    return QM_ENOMEM;
}

/* Same name with the same case: the same manifest file. */
static inline bool store_same_spelling(const struct qm_name *a, const struct qm_name *b)
{
    return !strcmp(a->host, b->host) && !strcmp(a->ns, b->ns) && !strcmp(a->model, b->model) &&
           !strcmp(a->tag, b->tag);
}

/* QM_EIO with "cannot <what> <path>: <strerror>", saying the store is
 * read-only when that is why. */
int store_os_error(const struct qm_store *s, struct qm_err *err, const char *what,
                   const char *path, int errnum);

/* QM_EIO "the model store at ... is read-only" when it was opened so. */
int store_check_writable(const struct qm_store *s, struct qm_err *err);

/* Read a whole file of at most max bytes (malloc'd, NUL-terminated); st (may
 * be NULL) gets its stat.  Sets errno-derived messages; *errnum (may be NULL)
 * gets errno for callers that treat ENOENT specially. */
int store_read_file(const char *path, size_t max, char **data, size_t *len, struct stat *st,
                    int *errnum, struct qm_err *err);

/* Write data to dir/name atomically: a dot-named O_EXCL temporary in dir,
 * fsync, rename, fsync of dir. */
int store_write_atomic(const struct qm_store *s, const char *dir, const char *name,
                       const void *data, size_t len, struct qm_err *err);

int store_fsync_dir(const char *dir);

/* mkdir -p of path below the store root (mode 0755). */
int store_mkdirs(const struct qm_store *s, const char *path, struct qm_err *err);

/* The manifest file of n: the exact path when it exists, else one whose
 * parts match case-insensitively.  *path is malloc'd; found (may be NULL)
 * gets the name as spelled on disk.  QM_STORE_ENOTFOUND when there is none
 * (err then says "model '<display>' not found"). */
int store_locate(const struct qm_store *s, const struct qm_name *n, char **path,
                 struct qm_name *found, struct qm_err *err);

/* Read and parse a manifest file; digest (may be NULL) gets the sha256 of its
 * bytes, st (may be NULL) its stat, bytes (may be NULL) the raw text. */
int store_read_manifest(const char *path, struct qm_manifest *m, char *digest, struct stat *st,
                        char **bytes, size_t *len, struct qm_err *err);

/* Install manifest bytes under n's path.  QM_STORE_EEXIST when a name
 * differing only in case already exists. */
int store_write_manifest(const struct qm_store *s, const struct qm_name *n, const char *bytes,
                         size_t len, struct qm_err *err);

/* Details of a model: its config blob, completed from the GGUF header. */
void store_details(const struct qm_store *s, const struct qm_manifest *m, struct qm_details *d);

#endif
