/* source.h - where a pull comes from and the name it is stored under.
 *
 *   qwen1.5-14b:q2_k                       the catalog (catalog.h): a GGUF on Hugging
 *                                          Face, else ModelScope; stored as written
 *   qwen2:7b, registry.ollama.ai/library/qwen2:7b, hf.co/<owner>/<repo>:<quant>,
 *   modelscope.cn/<owner>/<repo>:<quant>   an Ollama-protocol registry (/v2/...)
 *   http://host:port/ns/model:tag          the same over plain HTTP
 *   https://huggingface.co/<owner>/<repo>/resolve/<rev>/<file>.gguf
 *                                          a Hugging Face file, fetched from
 *                                          $HF_ENDPOINT when set (mirrors); stored
 *                                          as hf.co/<owner>/<repo>:<file stem>
 *   https://modelscope.cn/models/<owner>/<repo>/resolve/<rev>/<file>.gguf
 *                                          a ModelScope file ($MODELSCOPE_ENDPOINT)
 *   https://host/any/path/x.gguf           any other file: host/files/x:latest
 *
 * Plain http:// is used only when written so or with insecure set (as
 * Ollama's --insecure, which also makes registry requests plain HTTP). */
#ifndef QM_REGISTRY_SOURCE_H
#define QM_REGISTRY_SOURCE_H

#include <stdbool.h>

#include "error.h"
#include "name.h"

enum qm_source_kind { QM_SOURCE_REGISTRY, QM_SOURCE_FILE };

enum { QM_SOURCE_URL_MAX = 2048, QM_SOURCE_MAX_URLS = 2 };

struct qm_source {
    enum qm_source_kind kind;
    struct qm_name name;                 /* what the model is stored as */
    /* REGISTRY: "https://host" (no trailing '/'); the manifest is at
     * base/v2/<ns>/<model>/manifests/<tag> */
    char base[QM_SOURCE_URL_MAX];
    /* FILE: URLs to try in order (Hugging Face before ModelScope, unless
     * QM_PULL_SOURCE=modelscope) */
    char urls[QM_SOURCE_MAX_URLS][QM_SOURCE_URL_MAX];
    int n_urls;
    bool insecure;                       /* plain HTTP allowed, TLS not verified */
};

/* QM_EINVAL with a message for a name or URL that cannot be pulled. */
int qm_source_resolve(const char *input, bool insecure, struct qm_source *out, struct qm_err *err);

#endif
