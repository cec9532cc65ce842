/* model.h - a loaded GGUF language model: its shape and its weights.
 *
 * qm_model_load opens the file (weights stay in the mmap, in their quantized
 * form), reads the hyper-parameters of the architecture, and checks that
 * every tensor the architecture needs is there with exactly the expected
 * shape and a type qm computes with.  What differs between architectures is
 * described by struct qm_arch (arch/arch.h); the forward pass is shared. */
#ifndef QM_ENGINE_MODEL_H
#define QM_ENGINE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "quant.h"

#define QM_MAX_LAYERS 512

enum qm_rope_style {
    QM_ROPE_NORM, /* rotate pairs (2i, 2i+1): llama */
    QM_ROPE_NEOX, /* rotate pairs (i, i + n_rot/2): qwen, gemma */
};

enum qm_ffn_act {
    QM_ACT_SILU,
    QM_ACT_GELU, /* tanh approximation */
};

/* A 2-D weight: ne1 rows of ne0 elements, or a 1-D vector (ne1 == 1). */
struct qm_weight {
    const void *data;      /* in the mapping */
    enum qm_type type;
    int64_t ne0, ne1;
    const char *name;      /* the tensor's name, for messages */
};

/* What an architecture is, beyond its sizes: flags read by the forward pass. */
struct qm_arch {
    const char *name;              /* general.architecture */
    enum qm_rope_style rope_style;
    enum qm_ffn_act act;
    bool qkv_bias;                 /* q/k/v projections may carry biases */
    bool qk_norm;                  /* per-head RMSNorm of q and k before RoPE */
    bool post_norms;               /* RMSNorm after attention and after FFN */
    bool embed_scale;              /* x = embed(t) * sqrt(n_embd) */
    bool tied_output_always;       /* output is always token_embd */
};

struct qm_hparams {
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;              /* key_length (= value_length) */
    int32_t n_ff;
    int32_t n_rot;                 /* dims rotated by RoPE */
    float norm_eps;
    float rope_base;               /* global layers */
    float rope_freq_scale;         /* 1/factor of linear scaling */
    float rope_base_local;         /* sliding-window layers (gemma3 differs) */
    float rope_freq_scale_local;
    float rope_yarn_ext;           /* 1 with YaRN scaling (rope.scaling.type = yarn), else 0 */
    float rope_attn_factor;        /* rope.scaling.attn_factor (1) */
    int32_t rope_n_ctx_orig;       /* rope.scaling.original_context_length (YaRN) */
    float query_scale;             /* q is multiplied by this before q·k */
    float attn_softcap;            /* 0: off */
    float final_softcap;           /* 0: off */
    int32_t n_swa;                 /* sliding window; 0: none */
    bool swa_layer[QM_MAX_LAYERS]; /* layer l attends within n_swa only */
};

struct qm_layer {
    struct qm_weight attn_norm, wq, wk, wv, wo;
    struct qm_weight bq, bk, bv;           /* data NULL when absent */
    struct qm_weight q_norm, k_norm;       /* qk_norm architectures */
    struct qm_weight post_attn_norm;       /* post_norms architectures */
    struct qm_weight ffn_norm, ffn_gate, ffn_up, ffn_down;
    struct qm_weight post_ffn_norm;
};

struct qm_model {
    struct gguf_file *file;
    struct qm_arch arch;
    struct qm_hparams hp;
    struct qm_weight token_embd;
    struct qm_weight output_norm;
    struct qm_weight output;               /* token_embd when tied */
    struct qm_weight output_bias;          /* data NULL when absent */
    struct qm_weight rope_freqs;           /* per-pair divisors (Llama 3.1); NULL data when absent */
    struct qm_layer *layers;               /* hp.n_layer of them */
    uint64_t weight_bytes;                 /* bytes of every tensor used */
};

int qm_model_load(struct qm_model **out, const char *path, struct qm_err *err);
/* Build a model over an already opened file (the model takes ownership). */
int qm_model_from_gguf(struct qm_model **out, struct gguf_file *f, struct qm_err *err);
void qm_model_free(struct qm_model *m);

#endif
