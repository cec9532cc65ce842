/* transfer.h - the registry's HTTP client (libcurl), for pull.c.
 *
 * Small requests (manifests, tokens, probes) are one blocking call.  Blobs go
 * through a download (download.c): several HTTP range requests at once on one
 * curl multi handle in a thread of its own, written with pwrite into
 * blobs/<name>-partial, with the pieces' progress saved beside it
 * (<partial>.json) so a download interrupted (a dropped connection, a
 * cancelled pull, a daemon restart) goes on where it stopped.  The complete
 * file is hashed and renamed to blobs/sha256-<hex> only when the hash is the
 * one expected.  Two pulls asking for one blob share one download. */
#ifndef QM_REGISTRY_TRANSFER_H
#define QM_REGISTRY_TRANSFER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "store.h"

enum {
    QM_XFER_ENOTFOUND = QM_STORE_ENOTFOUND,  /* HTTP 404 / 410 */
    QM_XFER_ECANCELED = -44,
    QM_XFER_EREMOTE = -45,                   /* the server failed or could not be reached */
    QM_XFER_ENOSPC = -46,                    /* the disk is full */
};

/* Settings from the environment (read once per pull). */
struct qm_xfer_conf {
    int retries;          /* QM_PULL_RETRIES: attempts per piece without progress (6) */
    int backoff_ms;       /* QM_PULL_BACKOFF_MS: first wait before a retry, doubling (1000) */
    uint64_t chunk;       /* QM_PULL_CHUNK: bytes per range request (64 MiB) */
    int connections;      /* QM_PULL_CONNECTIONS: range requests at once per blob (8) */
    int stall_s;          /* QM_PULL_STALL_S: a request receiving nothing this long is retried (30) */
};
void qm_xfer_conf_read(struct qm_xfer_conf *c);

void qm_xfer_global_init(void);   /* curl_global_init, once per process */

/* Protocols and TLS checks for a CURL handle fetching url. */
void qm_xfer_setopt_security(void *curl, const char *url, bool insecure);

/* ---- one small request ----------------------------------------------------- */

struct qm_xfer_reply {
    long status;              /* final HTTP status (after redirects) */
    char *body;               /* malloc'd, NUL-terminated (NULL for HEAD) */
    size_t len;
    char linked_etag[QM_DIGEST_STR_LEN + 1];  /* Hugging Face's X-Linked-Etag as a digest, or "" */
    uint64_t linked_size;     /* X-Linked-Size, 0 when absent */
    uint64_t length;          /* Content-Length of the final response, 0 when unknown */
    bool ranges;              /* Accept-Ranges: bytes */
    char www_auth[512];       /* WWW-Authenticate of a 401 */
    char error[256];          /* transport failure text, "" when a response came */
};

/* GET (or HEAD when head) url, following redirects; at most max_body bytes
 * of body are kept.  accept and auth (an "Authorization: ..." line) may be
 * NULL.  Returns 0 when any HTTP response came (look at r->status),
 * QM_XFER_EREMOTE when none did (r->error says why), QM_XFER_ECANCELED. */
int qm_xfer_request(const char *url, bool head, const char *accept, const char *auth, bool insecure,
                    size_t max_body, const atomic_int *cancel, struct qm_xfer_reply *r,
                    struct qm_err *err);
void qm_xfer_reply_free(struct qm_xfer_reply *r);

/* ---- blob downloads ---------------------------------------------------------- */

enum { QM_SOURCE_KEY_MAX = 1100 };   /* "sha256:<hex>" or "url:<url>" */

struct qm_download_spec {
    const char *url;
    const char *digest;   /* expected "sha256:<hex>", or NULL: named after the hash found */
    uint64_t size;        /* expected length, 0 when unknown */
    bool ranges;          /* the server answers range requests */
    bool insecure;
    const char *auth;     /* "Authorization: ..." or NULL */
};

struct qm_download;

/* Start the download, or join the one already fetching the same blob (same
 * digest, or same URL when no digest is known) into the same store. */
int qm_download_start(struct qm_store *s, const struct qm_download_spec *spec,
                      const struct qm_xfer_conf *conf, struct qm_download **out, struct qm_err *err);

enum qm_download_phase { QM_DOWNLOAD_FETCHING, QM_DOWNLOAD_VERIFYING, QM_DOWNLOAD_DONE };

/* Wait until it ends, calling tick about 5 times a second with the bytes
 * so far.  When *cancel becomes nonzero this caller stops waiting
 * (QM_XFER_ECANCELED); the download itself stops once no caller waits for
 * it, its progress saved for a later pull.  digest_out gets the blob's
 * digest.  Releases the handle whatever happens. */
int qm_download_wait(struct qm_download *d, const atomic_int *cancel,
                     void (*tick)(enum qm_download_phase phase, uint64_t done, uint64_t total, void *ud),
                     void *ud, char *digest_out, struct qm_err *err);

/* Ask every download to stop and wait (up to timeout_ms) until their
 * threads have saved their progress and ended: for daemon shutdown. */
void qm_download_shutdown(int timeout_ms);

#endif
