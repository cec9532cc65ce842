/* arch.h - the architectures qm runs, each a short description.
 *
 * An architecture file fills struct qm_arch (what the layer looks like) and
 * finishes the hyper-parameters that only it knows (sliding-window pattern,
 * query scale, soft-caps).  The generic keys are read before, in model.c. */
#ifndef QM_ENGINE_ARCH_H
#define QM_ENGINE_ARCH_H

#include "model.h"

struct qm_arch_desc {
    struct qm_arch arch;
    /* Architecture-specific hyper-parameters; generic ones are already set. */
    int (*finish)(const struct gguf_file *f, struct qm_hparams *hp, struct qm_err *err);
};

extern const struct qm_arch_desc qm_arch_llama;
extern const struct qm_arch_desc qm_arch_qwen2;
extern const struct qm_arch_desc qm_arch_qwen3;
extern const struct qm_arch_desc qm_arch_gemma;
extern const struct qm_arch_desc qm_arch_gemma2;
extern const struct qm_arch_desc qm_arch_gemma3;

/* The description of general.architecture, or NULL. */
const struct qm_arch_desc *qm_arch_find(const char *name);

/* Helpers for the finish hooks: "<arch>.<suffix>" as an int or float, any
 * numeric GGUF type accepted; GGUF_ENOKEY when absent. */
int qm_arch_get_int(const struct gguf_file *f, const char *arch, const char *suffix,
                    int64_t *out, struct qm_err *err);
int qm_arch_get_float(const struct gguf_file *f, const char *arch, const char *suffix,
                      float *out, struct qm_err *err);

#endif
