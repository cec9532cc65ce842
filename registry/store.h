/* store.h - the model store: Ollama's layout under one root directory.
 *
 *   <root>/blobs/sha256-<hex>                       content-addressed files
 *   <root>/manifests/<host>/<namespace>/<model>/<tag>   manifest JSON (manifest.h)
 *
 * so QM_MODELS may point at an existing Ollama store.  A model is a manifest
 * whose layers are the GGUF and small text blobs (template, system prompt,
 * parameters as a JSON object, license, messages); the config blob carries
 * the details `qm list` shows.
 *
 * Every function here is a stateless operation on the directory: struct
 * qm_store is immutable after qm_store_open, so one store may be used from
 * any number of threads and processes at once.  Safety comes from the file
 * system: blobs and manifests appear only through rename() of a complete
 * temporary file (blob.h), so a reader never sees half a file, and garbage
 * collection takes an exclusive flock on blobs/ that every model write holds
 * shared (qm_store_hold), so it never collects the blobs of a model still
 * being assembled.  Names are looked up case-insensitively (name.h).
 *
 * A store that cannot be written (a read-only mount, another user's Ollama
 * store) opens read-only: reading works and writes fail saying so. */
#ifndef QM_REGISTRY_STORE_H
#define QM_REGISTRY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "details.h"
#include "digest.h"
#include "error.h"
#include "name.h"

/* Error codes beyond common/error.h's. */
enum {
    QM_STORE_ENOTFOUND = -40,   /* no such model or blob */
    QM_STORE_EEXIST = -41,      /* the name is taken by a differently-cased name */
};

struct qm_store;

/* $QM_MODELS, else $HOME/.qm/models (malloc'd; NULL when out of memory). */
char *qm_store_default_root(void);

/* Open the store at root, creating root, blobs/ and manifests/ when missing.
 * Falls back to read-only when they exist but cannot be written. */
int qm_store_open(struct qm_store **out, const char *root, struct qm_err *err);
void qm_store_close(struct qm_store *s);
const char *qm_store_root(const struct qm_store *s);
bool qm_store_readonly(const struct qm_store *s);

/* ---- resolving one model ------------------------------------------------ */

struct qm_model_ref {
    struct qm_name name;                 /* as stored (the case found on disk) */
    char display[QM_NAME_STR_MAX];       /* "qwen2:latest" (name.h) */
    char *gguf_path;                     /* the model layer's blob */
    char *projector_path;                /* NULL when none */
    char *template;                      /* NULL when the model has none */
    char *system;
    char *license;                       /* several license layers: joined by blank lines */
    json_t *params;                      /* object, {} when none */
    json_t *messages;                    /* array, or NULL */
    char manifest_digest[QM_DIGEST_STR_LEN + 1];   /* sha256 of the manifest bytes: the ID */
    char model_digest[QM_DIGEST_STR_LEN + 1];      /* the GGUF layer's digest */
    uint64_t size;                       /* config + layers, as Ollama counts */
    time_t modified;                     /* the manifest's mtime */
    struct qm_details details;
};

/* Find name (parsed with name.h) and read what running it needs.
 * QM_STORE_ENOTFOUND "model 'x' not found"; QM_EINVAL for a bad name or a
 * broken manifest; QM_EIO when a blob it names is missing. */
int qm_store_resolve(struct qm_store *s, const char *name, struct qm_model_ref *out,
                     struct qm_err *err);
void qm_model_ref_free(struct qm_model_ref *r);

/* ---- listing ------------------------------------------------------------ */

struct qm_model_info {
    struct qm_name name;
    char display[QM_NAME_STR_MAX];
    char digest[QM_DIGEST_STR_LEN + 1];  /* manifest digest: `qm list` shows 12 hex digits */
    uint64_t size;
    time_t modified;
    struct qm_details details;
};

/* Every model, newest first.  Broken manifests and stray files are logged and
 * skipped; only an unreadable manifests/ directory fails the list. */
int qm_store_list(struct qm_store *s, struct qm_model_info **out, size_t *n, struct qm_err *err);
void qm_model_list_free(struct qm_model_info *list);

/* ---- changing models ---------------------------------------------------- */

/* A new model.  from: "sha256:<hex>" of a GGUF blob already in the store
 * (qm_store_import_file puts one there), or the name of a model whose layers
 * are inherited.  A non-NULL template, system, license or messages replaces
 * the inherited one ("" removes it); params are merged key by key over the
 * inherited ones. */
struct qm_create_spec {
    const char *from;
    const char *template;
    const char *system;
    const char *license;
    const json_t *params;
    const json_t *messages;
};

/* Write the config, the text layers and the manifest of `name`, replacing a
 * model of exactly that name.  QM_STORE_EEXIST when the name differs only in
 * case from an existing one (as Ollama refuses it). */
int qm_store_create(struct qm_store *s, const char *name, const struct qm_create_spec *spec,
                    struct qm_err *err);

/* Quantize the F32/F16/BF16 GGUF at src_path to file type `type` ("q4_k_m",
 * engine/quantize_model.h) into a new blob; digest_out gets its digest.
 * progress (may be NULL) is called after each tensor. */
int qm_store_quantize(struct qm_store *s, const char *src_path, const char *type,
                      void (*progress)(int64_t done, int64_t count, void *ud), void *ud, char *digest_out,
                      struct qm_err *err);

/* Give the model src a second name dst (the manifest bytes are copied, so
 * both have the same ID). */
int qm_store_copy(struct qm_store *s, const char *src, const char *dst, struct qm_err *err);

/* Remove the model's manifest (and directories left empty), then collect
 * the blobs no manifest references any more. */
int qm_store_delete(struct qm_store *s, const char *name, struct qm_err *err);

/* Remove every blob "sha256-<hex>" that no manifest mentions.  Files with
 * any other name (partial downloads, temporaries) are never touched.  When a
 * model write holds the store, nothing is collected now (*removed = 0): call
 * again later, e.g. when the daemon starts or after a pull.  removed may be
 * NULL. */
int qm_store_prune(struct qm_store *s, size_t *removed, struct qm_err *err);

/* Hold the store while writing a model: from before its first blob is
 * committed until its manifest is in place (pulls do this).  Returns a
 * handle >= 0 for qm_store_release, or a negative code. */
int qm_store_hold(struct qm_store *s, struct qm_err *err);
void qm_store_release(int handle);

#endif
