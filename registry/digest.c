/* digest.c - digest syntax and sha256 over OpenSSL's EVP interface. */
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

bool qm_digest_valid(const char *s, char sep)
{
    if (!s || strncmp(s, "sha256", 6) != 0 || s[6] != sep)
        return false;
    for (int i = 0; i < QM_DIGEST_HEX_LEN; i++) {
        char c = s[7 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return s[QM_DIGEST_STR_LEN] == '\0';
}

int qm_digest_parse(const char *s, char *out, struct qm_err *err)
{
    if (!qm_digest_valid(s, ':') && !qm_digest_valid(s, '-'))
        return qm_err_set(err, "invalid digest '%.100s': expected sha256: and 64 lowercase hex "
                          "digits", s ? s : "");
    memcpy(out, s, QM_DIGEST_STR_LEN + 1);
    out[6] = ':';
    return QM_OK;
}

struct qm_sha256 {
    EVP_MD_CTX *ctx;
};

struct qm_sha256 *qm_sha256_new(void)
{
    struct qm_sha256 *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        qm_sha256_free(h);
        return NULL;
    }
    return h;
}

int qm_sha256_update(struct qm_sha256 *h, const void *data, size_t len)
{
    return EVP_DigestUpdate(h->ctx, data, len) == 1 ? QM_OK : QM_ENOMEM;
}

static void to_hex(const unsigned char *md, char *out)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[QM_DIGEST_STR_LEN] = '\0';
}

int qm_sha256_final(struct qm_sha256 *h, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex(h->ctx, md, &n) == 1 && n == 32;
    qm_sha256_free(h);
    if (!ok)
        return QM_ENOMEM;
    to_hex(md, out);
    return QM_OK;
}

void qm_sha256_free(struct qm_sha256 *h)
{
    if (h) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
    }
}

int qm_sha256_buf(const void *data, size_t len, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return QM_ENOMEM;
    to_hex(md, out);
    return QM_OK;
}

int qm_sha256_file(const char *path, char *out, unsigned long long *size_out, struct qm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        qm_err_set(err, "cannot open %s: %s", path, strerror(errno));
        return QM_EIO;
    }
    struct qm_sha256 *h = qm_sha256_new();
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    int rc = QM_OK;
    unsigned long long total = 0;
    if (!h || !buf) {
        rc = QM_ENOMEM;
        qm_err_set(err, "out of memory hashing %s", path);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            qm_err_set(err, "cannot read %s: %s", path, strerror(errno));
            rc = QM_EIO;
            goto out;
        }
        if (n == 0)
            break;
        total += (unsigned long long)n;
        if ((rc = qm_sha256_update(h, buf, (size_t)n)) != QM_OK) {
            qm_err_set(err, "hashing %s failed", path);
            goto out;
        }
    }
    rc = qm_sha256_final(h, out);
    h = NULL;
    if (rc != QM_OK)
        qm_err_set(err, "hashing %s failed", path);
    else if (size_out)
        *size_out = total;
out:
    qm_sha256_free(h);
    free(buf);
    close(fd);
    return rc;
}
