/* digest.h - content digests: "sha256:" and 64 lowercase hex digits.
 *
 * Digests name blobs, so they end up in file names: only that exact form is
 * accepted (blob file names spell it "sha256-<hex>", which is accepted too and
 * normalised to the colon form).  Hashing goes through OpenSSL's EVP API. */
#ifndef QM_REGISTRY_DIGEST_H
#define QM_REGISTRY_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum {
    QM_DIGEST_HEX_LEN = 64,
    QM_DIGEST_STR_LEN = 7 + QM_DIGEST_HEX_LEN,   /* "sha256:" + hex */
};

/* Whether s is "sha256:<64 lowercase hex>" (sep ':') or "sha256-<hex>" (sep
 * '-'), with nothing after it. */
bool qm_digest_valid(const char *s, char sep);

/* Check s (either separator) and write the colon form into out (capacity
 * QM_DIGEST_STR_LEN + 1).  QM_EINVAL naming the bad digest otherwise. */
int qm_digest_parse(const char *s, char *out, struct qm_err *err);

/* Incremental sha256.  qm_sha256_final writes "sha256:<hex>" into out
 * (capacity QM_DIGEST_STR_LEN + 1) and frees the context. */
struct qm_sha256;
struct qm_sha256 *qm_sha256_new(void);
int qm_sha256_update(struct qm_sha256 *h, const void *data, size_t len);
int qm_sha256_final(struct qm_sha256 *h, char *out);
void qm_sha256_free(struct qm_sha256 *h);

/* Digest of a buffer. */
int qm_sha256_buf(const void *data, size_t len, char *out);

/* Digest of a whole file, read in chunks; *size_out (may be NULL) gets its
 * length.  QM_EIO with strerror when it cannot be read. */
int qm_sha256_file(const char *path, char *out, unsigned long long *size_out,
                   struct qm_err *err);

#endif
