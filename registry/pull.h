/* pull.h - fetching a model into the store (`qm pull`, /api/pull).
 *
 * The name is resolved by source.h: an Ollama-protocol registry gives a
 * manifest and its blobs, a catalog entry or a file URL gives one GGUF from
 * which the model is created as `qm create` would.  Blobs come through
 * transfer.h's downloads (parallel ranges, resumable, verified, shared
 * between concurrent pulls); the store is held (qm_store_hold) from the
 * first blob until the manifest is written, so garbage collection never
 * takes a blob of a model still arriving.  Blocking: the daemon runs it in
 * a thread of its own. */
#ifndef QM_REGISTRY_PULL_H
#define QM_REGISTRY_PULL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

enum {
    QM_PULL_ENOTFOUND = QM_STORE_ENOTFOUND,   /* the source has no such model or file */
    QM_PULL_ECANCELED = -44,
    QM_PULL_EREMOTE = -45,                    /* the source failed or could not be reached */
    QM_PULL_ENOSPC = -46,
};

/* One progress report, in Ollama's /api/pull terms: status is "pulling
 * manifest", "pulling <12 hex>" (digest, total and completed set),
 * "verifying sha256 digest", "writing manifest" or "success" (model then
 * names what was stored, in display form). */
struct qm_pull_progress {
    const char *status;
    const char *digest;   /* NULL unless pulling a blob */
    uint64_t total, completed;
    const char *model;
};

struct qm_pull_opts {
    const char *name;
    bool insecure;
    const atomic_int *cancel;   /* nonzero: stop (progress is kept for the next pull) */
    void (*progress)(const struct qm_pull_progress *p, void *ud);
    void *ud;
};

int qm_pull(struct qm_store *s, const struct qm_pull_opts *o, struct qm_err *err);

/* Stop every download and wait up to timeout_ms for them to save their
 * progress (daemon shutdown). */
void qm_pull_shutdown(int timeout_ms);

#endif
