/* estimate.h - how much memory a model instance will take, before it loads.
 *
 * Two halves: qm_model_sizes_read() takes the figures from a GGUF header
 * (estimate_gguf.c), and qm_estimate() is plain arithmetic on them, so the
 * scheduler and its tests can feed numbers without any file.
 *
 * The model (design.md, "the hybrid split"): layers [0, n_layer - num_gpu)
 * run on the CPU and the last num_gpu layers on the GPU.  The token
 * embedding is always read on the CPU (one row per token), so it never
 * counts as VRAM.  The output head (output norm + output matrix, or a GPU
 * copy of the tied embedding) is counted on the GPU only when every layer is
 * there: a partly offloaded model keeps its head on the CPU.
 *
 *   kv_row      = bytes of n_head_kv * head_dim elements: f16 2 B each,
 *                 q8_0 34 B per 32 (blocks rounded up)
 *   kv(L)       = 2 (K and V) * kv_row * num_ctx * num_parallel * L
 *   graph       = n_batch * (4 n_embd + 2 n_ff + num_ctx) * 4 B: one layer's
 *                 f32 activations for a full prompt batch (residual, norm,
 *                 q/k/v/out, the two FFN projections) plus one head's
 *                 attention scores over the whole context; layers run one
 *                 after another, so one layer's worth is enough
 *   logits      = num_parallel * n_vocab * 4 B: one row per slot per step
 *
 *   vram(L > 0) = proc_overhead + weights of the last L layers + kv(L)
 *                 + graph + (L == n_layer ? head + logits : 0)
 *   vram(0)     = 0
 *   ram(L)      = embedding + weights of the first n_layer - L layers
 *                 + (L < n_layer ? head : 0) + kv(n_layer - L)
 *                 + (L < n_layer ? graph : 0) + logits
 *
 * proc_overhead is what a process pays for touching a real GPU at all: the
 * CUDA context, cuBLAS workspace and kernel images, about 500 MiB
 * (QM_EST_CUDA_OVERHEAD).  On a simulated GPU the runner computes on the CPU
 * and creates no CUDA context, so the scheduler passes 0 there. */
#ifndef QM_MANAGER_ESTIMATE_H
#define QM_MANAGER_ESTIMATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

enum {
    QM_EST_MAX_LAYERS = 512,
    QM_EST_N_BATCH = 512,   /* the engine's default prompt batch */
};

#define QM_EST_CUDA_OVERHEAD (500ull << 20)

/* What a GGUF header says about a model's size and shape. */
struct qm_model_sizes {
    char arch[32];              /* general.architecture */
    int n_layer;                /* 1..QM_EST_MAX_LAYERS */
    int n_ctx_train;            /* 0: unknown */
    int n_embd;
    int n_ff;
    int n_head_kv;
    int head_dim;
    int n_vocab;
    uint64_t weight_bytes;      /* every tensor in the file */
    uint64_t embd_bytes;        /* token_embd.weight: read on the CPU */
    uint64_t head_bytes;        /* the output head as the GPU would hold it */
    uint64_t other_bytes;       /* tensors outside layers, embedding and head */
    uint64_t layer_bytes[QM_EST_MAX_LAYERS]; /* blk.<i>.* */
};

struct qm_est_params {
    int num_ctx;                /* tokens per slot (>= 1) */
    int num_parallel;           /* slots (>= 1) */
    enum qm_kv_type kv_type;
    int num_gpu;                /* -1: as many layers as fit in gpu_free;
                                   else exactly this many (clamped to n_layer) */
    uint64_t gpu_free;          /* VRAM this instance may take */
    uint64_t proc_overhead;     /* QM_EST_CUDA_OVERHEAD, or 0 (simulated GPU) */
    int n_batch;                /* 0: QM_EST_N_BATCH */
};

struct qm_est {
    int num_gpu;                /* layers on the GPU */
    bool head_on_gpu;           /* num_gpu == n_layer (and n_layer > 0) */
    bool fits;                  /* vram <= gpu_free */
    uint64_t vram;
    uint64_t ram;
    uint64_t kv_bytes;          /* the whole KV cache, both sides */
    uint64_t graph_bytes;       /* one side's compute buffer */
};

/* Bytes of K plus V for one token in one layer. */
uint64_t qm_est_kv_per_token_layer(const struct qm_model_sizes *mi, enum qm_kv_type t);

/* The arithmetic above.  With num_gpu -1 the result is the largest L whose
 * vram(L) fits in gpu_free (0 when not even one layer does); sums saturate
 * instead of wrapping, so absurd inputs give huge numbers, not small ones. */
void qm_estimate(const struct qm_model_sizes *mi, const struct qm_est_params *p, struct qm_est *out);

/* Read the figures from a GGUF file's header (tensor data is not touched).
 * Tensor types qm cannot compute with are accepted: only sizes matter. */
int qm_model_sizes_read(struct qm_model_sizes *out, const char *path, struct qm_err *err);

struct gguf_file;
int qm_model_sizes_from_gguf(struct qm_model_sizes *out, const struct gguf_file *f, struct qm_err *err);

#endif
