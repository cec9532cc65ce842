/* blob.h - the content-addressed files under <root>/blobs.
 *
 * A blob is written to blobs/sha256-<hex>-partial-XXXXXX (created O_EXCL, so
 * concurrent writers of one blob never share a file), hashed as it is
 * written, fsync'ed, checked against the expected digest and only then
 * renamed to blobs/sha256-<hex>.  A mismatch, a full disk or a permission
 * error removes the partial file: nothing half-written or wrong is ever
 * visible under a blob's final name.  Garbage collection (store.h) only
 * considers names of exactly the form sha256-<64 hex>. */
#ifndef QM_REGISTRY_BLOB_H
#define QM_REGISTRY_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "store.h"

/* <root>/blobs/sha256-<hex> for a digest in either form (malloc'd). */
int qm_store_blob_path(const struct qm_store *s, const char *digest, char **out,
                       struct qm_err *err);

/* Whether the blob is there (a regular file); *size (may be NULL) gets its
 * length. */
bool qm_store_blob_exists(const struct qm_store *s, const char *digest, uint64_t *size);

/* Hash the blob again and compare with its name: QM_EINVAL "blob ... is
 * corrupt" on a mismatch, QM_STORE_ENOTFOUND when it is missing. */
int qm_store_verify_blob(const struct qm_store *s, const char *digest, struct qm_err *err);

/* ---- writing ------------------------------------------------------------ */

struct qm_blob_writer;

/* Start a blob.  expected_digest may be NULL when the digest is only known
 * once the bytes are in (imports); the partial is then named
 * sha256-partial-XXXXXX. */
int qm_blob_writer_open(struct qm_blob_writer **out, struct qm_store *s,
                        const char *expected_digest, struct qm_err *err);
int qm_blob_writer_write(struct qm_blob_writer *w, const void *data, size_t len,
                         struct qm_err *err);
/* Bytes written so far. */
uint64_t qm_blob_writer_size(const struct qm_blob_writer *w);
/* Verify and install the blob; digest_out (may be NULL, capacity
 * QM_DIGEST_STR_LEN + 1) gets its digest.  Frees w whatever happens. */
int qm_blob_writer_commit(struct qm_blob_writer *w, char *digest_out, struct qm_err *err);
/* Drop the partial file and free w (NULL is fine). */
void qm_blob_writer_abort(struct qm_blob_writer *w);

/* Put a buffer in as a blob (config, template, parameters...). */
int qm_store_put_blob(struct qm_store *s, const void *data, size_t len, char *digest_out,
                      struct qm_err *err);

/* Read a whole blob of at most max bytes into a malloc'd NUL-terminated
 * buffer (for the small text and JSON layers). */
int qm_store_read_blob(const struct qm_store *s, const char *digest, size_t max, char **data,
                       size_t *len, struct qm_err *err);

/* Copy a local GGUF file into the store, hashing it on the way:
 * digest_out gets its digest, size_out (may be NULL) its length.  QM_EINVAL
 * when the file is not a GGUF. */
int qm_store_import_file(struct qm_store *s, const char *path, char *digest_out,
                         uint64_t *size_out, struct qm_err *err);

#endif
