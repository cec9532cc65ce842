/* catalog.h - short model names that map to GGUF files on Hugging Face and
 * ModelScope ("qwen1.5-14b:q2_k" -> Qwen/Qwen1.5-14B-Chat-GGUF's
 * qwen1_5-14b-chat-q2_k.gguf).
 *
 * The catalog is registry/catalog.json, built into the binary; $QM_CATALOG
 * names a file that replaces it.  Its form:
 *
 *   {"version": 1, "models": {"qwen1.5-14b": {
 *      "huggingface": "Qwen/Qwen1.5-14B-Chat-GGUF",   owner/repo (optional)
 *      "modelscope": "qwen/Qwen1.5-14B-Chat-GGUF",    owner/repo (optional)
 *      "file": "qwen1_5-14b-chat-{tag}.gguf",         {tag} as written, {TAG} upper-cased
 *      "files": {"fp16": "..."},                      per-tag exceptions (optional)
 *      "tags": ["q2_k", ...], "default": "q4_k_m"}}}
 *
 * Names are matched case-insensitively; tag "latest" means the default. */
#ifndef QM_REGISTRY_CATALOG_H
#define QM_REGISTRY_CATALOG_H

#include "error.h"

enum { QM_CATALOG_STR_MAX = 256 };

struct qm_catalog_hit {
    char tag[QM_CATALOG_STR_MAX];           /* the tag resolved ("latest" -> the default) */
    char huggingface[QM_CATALOG_STR_MAX];   /* "" when the model has no such source */
    char modelscope[QM_CATALOG_STR_MAX];
    char file[QM_CATALOG_STR_MAX];          /* the GGUF's file name in either repository */
};

/* Look model:tag up.  1 with *hit filled; 0 when the catalog has no such
 * model; QM_EINVAL when it has the model but not the tag (err lists the tags
 * there are) or when the catalog file is unreadable or malformed. */
int qm_catalog_lookup(const char *model, const char *tag, struct qm_catalog_hit *hit,
                      struct qm_err *err);

#endif
