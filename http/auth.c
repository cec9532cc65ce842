/* auth.c - the optional API key (QM_API_KEY).
 *
 * A request proves it knows the key with "Authorization: Bearer <key>".  Both
 * the configured key and the presented token are hashed with SHA-256 and the
 * digests compared with CRYPTO_memcmp: the comparison then takes the same
 * time whatever the token's length or its first wrong byte, so timing tells
 * an attacker nothing about the key. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "server_int.h"

static bool sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

int http_auth_init(struct http_auth *a, const char *key, struct qm_err *err)
{
    memset(a, 0, sizeof *a);
    if (!key || !*key)
        return 0;
    if (!sha256(key, strlen(key), a->digest)) {
        qm_err_set(err, "cannot hash the API key (OpenSSL SHA-256 failed)");
        return QM_EIO;
    }
    a->enabled = true;
    return 0;
}

/* What a client may ask without a key: the liveness probe and the version
 * (clients call it to discover the server before they know of a key). */
bool http_auth_exempt(const char *method, const char *path)
{
    if (strcmp(path, "/") == 0)
        return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    return strcmp(path, "/api/version") == 0;
}

bool http_auth_check(const struct http_auth *a, const char *authorization)
{
    if (!a->enabled)
        return true;
    if (!authorization || strncasecmp(authorization, "Bearer", 6) != 0 ||
        !isspace((unsigned char)authorization[6]))
        return false;
    const char *tok = authorization + 6;
    while (isspace((unsigned char)*tok))
        tok++;
    size_t n = strlen(tok);
    while (n && isspace((unsigned char)tok[n - 1]))
        n--;
    unsigned char d[32];
    if (!sha256(tok, n, d))
        return false;
    return CRYPTO_memcmp(d, a->digest, sizeof d) == 0;
}
