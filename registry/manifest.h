/* manifest.h - the OCI image manifest Ollama stores for each model.
 *
 *   {"schemaVersion":2,
 *    "mediaType":"application/vnd.docker.distribution.manifest.v2+json",
 *    "config":{"mediaType":"application/vnd.docker.container.image.v1+json",
 *              "digest":"sha256:...","size":N},
 *    "layers":[{"mediaType":"application/vnd.ollama.image.model", ...}, ...]}
 *
 * Parsing is strict about what the store relies on (every digest valid, sizes
 * non-negative integers) and lenient about the rest: unknown fields and
 * unknown layer media types are kept out of the way, not refused, so stores
 * written by newer Ollama versions still load. */
#ifndef QM_REGISTRY_MANIFEST_H
#define QM_REGISTRY_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"

#define QM_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define QM_MT_CONFIG "application/vnd.docker.container.image.v1+json"
#define QM_MT_MODEL "application/vnd.ollama.image.model"
#define QM_MT_TEMPLATE "application/vnd.ollama.image.template"
#define QM_MT_SYSTEM "application/vnd.ollama.image.system"
#define QM_MT_PARAMS "application/vnd.ollama.image.params"
#define QM_MT_LICENSE "application/vnd.ollama.image.license"
#define QM_MT_MESSAGES "application/vnd.ollama.image.messages"
#define QM_MT_ADAPTER "application/vnd.ollama.image.adapter"
#define QM_MT_PROJECTOR "application/vnd.ollama.image.projector"

enum { QM_MEDIA_TYPE_MAX = 127 };

struct qm_layer {
    char media_type[QM_MEDIA_TYPE_MAX + 1];
    char digest[QM_DIGEST_STR_LEN + 1];   /* "sha256:<hex>" */
    uint64_t size;
};

struct qm_manifest {
    struct qm_layer config;
    struct qm_layer *layers;
    size_t n_layers;
};

/* Parse manifest bytes.  QM_EINVAL with the reason on anything malformed. */
int qm_manifest_parse(struct qm_manifest *out, const char *json, size_t len, struct qm_err *err);

/* The manifest as compact JSON in the field order above (malloc'd, NUL-
 * terminated); NULL when out of memory. */
char *qm_manifest_dump(const struct qm_manifest *m);

/* Append a layer (copying it); QM_ENOMEM on failure. */
int qm_manifest_add(struct qm_manifest *m, const struct qm_layer *l);

/* The first layer of that media type, or NULL. */
const struct qm_layer *qm_manifest_find(const struct qm_manifest *m, const char *media_type);

/* Sum of the config's and the layers' sizes: what Ollama reports as a
 * model's size. */
uint64_t qm_manifest_size(const struct qm_manifest *m);

void qm_manifest_free(struct qm_manifest *m);

#endif
