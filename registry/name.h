/* name.h - model names: [scheme://][host/][namespace/]model[:tag][@digest].
 *
 * A name becomes four directories under manifests/ (host/namespace/model/tag),
 * so parsing is also the store's path-safety check: every part must start
 * with [A-Za-z0-9_] and hold only [A-Za-z0-9_.-] (the host may add :port, a
 * namespace may not hold '.'), which rules out "..", ".", absolute paths,
 * backslashes, control characters and any other separator.  The limits are
 * Ollama's: host 1..350 bytes, namespace, model and tag 1..80 bytes.
 *
 * Missing parts are filled with the defaults registry.ollama.ai, library and
 * latest.  Parts keep their case, but names compare case-insensitively, as
 * Ollama's do ("Qwen2" and "qwen2" are one model). */
#ifndef QM_REGISTRY_NAME_H
#define QM_REGISTRY_NAME_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"
#include "error.h"

#define QM_NAME_DEFAULT_HOST "registry.ollama.ai"
#define QM_NAME_DEFAULT_NAMESPACE "library"
#define QM_NAME_DEFAULT_TAG "latest"

enum {
    QM_NAME_HOST_MAX = 350,
    QM_NAME_PART_MAX = 80,   /* namespace, model, tag */
    /* host/namespace/model:tag@sha256:<64> plus NUL */
    QM_NAME_STR_MAX = QM_NAME_HOST_MAX + 3 * QM_NAME_PART_MAX + 3 + QM_DIGEST_STR_LEN + 2,
};

struct qm_name {
    char scheme[8];   /* "", "http" or "https": as written before "://" */
    char host[QM_NAME_HOST_MAX + 1];
    char ns[QM_NAME_PART_MAX + 1];
    char model[QM_NAME_PART_MAX + 1];
    char tag[QM_NAME_PART_MAX + 1];
    char digest[QM_DIGEST_STR_LEN + 1];  /* "" or "sha256:<hex>" from "@..." */
};

/* Parse and validate s, filling defaults.  QM_EINVAL with a message that
 * quotes the name and says what is wrong with it. */
int qm_name_parse(struct qm_name *out, const char *s, struct qm_err *err);

/* Whether one part is valid for its kind (for names read back from disk). */
bool qm_name_host_valid(const char *s);
bool qm_name_namespace_valid(const char *s);
bool qm_name_model_valid(const char *s);
bool qm_name_tag_valid(const char *s);

/* "model:tag", or "namespace/model:tag", or "host/namespace/model:tag":
 * host and namespace are left out while they are the defaults, as Ollama
 * shows names.  Returns the length snprintf would have written. */
int qm_name_display(const struct qm_name *n, char *buf, size_t cap);
/* "host/namespace/model:tag" always. */
int qm_name_full(const struct qm_name *n, char *buf, size_t cap);
/* "host/namespace/model/tag": the manifest's path under manifests/. */
int qm_name_relpath(const struct qm_name *n, char *buf, size_t cap);

/* Same model, ignoring case (scheme and digest are not compared). */
bool qm_name_equal(const struct qm_name *a, const struct qm_name *b);

#endif
