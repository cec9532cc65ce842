/* matmul.h - the CPU backend's matrix products with a quantized weight.
 *
 * The one entry point the forward pass uses for every projection:
 *
 *     Y[t][r] = W[r,:] · X[t,:]     r < nrows, t < ntok
 *
 * W is nrows rows of ncols elements in any compute type, stored as in a GGUF
 * tensor (row r starts at r · qm_row_size(type, ncols) bytes); X is ntok rows
 * of ncols f32 values; Y is ntok rows of nrows f32 values.  X is quantized
 * once per call into the weight type's activation type, then the weight
 * rows are split among the threads in contiguous chunks, so each thread
 * streams its share of W from memory exactly once.
 *
 * A context holds the thread count and the scratch for the quantized X; it
 * grows to the largest call seen and is then reused, so the steady state
 * allocates nothing.  One context must not be used by two threads at once. */
#ifndef QM_ENGINE_CPU_MATMUL_H
#define QM_ENGINE_CPU_MATMUL_H

#include <stdint.h>

#include "error.h"
#include "quant.h"

struct qm_matmul_ctx;

/* threads <= 0 means one per core available to this process. */
int qm_matmul_ctx_create(struct qm_matmul_ctx **out, int threads, struct qm_err *err);
void qm_matmul_ctx_free(struct qm_matmul_ctx *ctx);

int qm_matmul_ctx_threads(const struct qm_matmul_ctx *ctx);
/* threads <= 0 means one per core, as at creation. */
void qm_matmul_ctx_set_threads(struct qm_matmul_ctx *ctx, int threads);

/* Y = W·X as above.  Fails (QM_EUNSUPPORTED) for a type qm cannot compute
 * with, (QM_EINVAL) for ncols not a whole number of blocks, (QM_ENOMEM) when
 * the scratch cannot grow. */
int qm_matmul(struct qm_matmul_ctx *ctx, enum qm_type type, const void *w, int64_t nrows, int64_t ncols,
              const float *x, int64_t ntok, float *y, struct qm_err *err);

/* Several weights applied to the same X in one go (q, k and v; gate and
 * up): X is quantized once per activation type and all the rows share one
 * parallel region, which matters in decoding where a call is a few tens of
 * microseconds.  op[i].y gets ntok rows of op[i].nrows values; at most
 * QM_MATMUL_MAX_OPS weights per call. */
#define QM_MATMUL_MAX_OPS 16
struct qm_matmul_op {
    enum qm_type type;
    const void *w;
    int64_t nrows;
    float *y;
};
int qm_matmul_multi(struct qm_matmul_ctx *ctx, const struct qm_matmul_op *ops, int nops, int64_t ncols,
                    const float *x, int64_t ntok, struct qm_err *err);

/* dst[r][:] = dequantize(src row r), nrows rows of ncols, in parallel. */
int qm_cpu_dequantize_rows(struct qm_matmul_ctx *ctx, enum qm_type type, const void *src, int64_t nrows,
                           int64_t ncols, float *dst, struct qm_err *err);

#endif
