/* ops.h - the small ops of the forward pass on the CPU, one row at a time.
 *
 * The matrix products live in matmul.h; these are the cheap elementwise and
 * per-row steps between them.  Each takes plain f32 rows. */
#ifndef QM_ENGINE_CPU_OPS_H
#define QM_ENGINE_CPU_OPS_H

#include <stdint.h>

#include "model.h"

/* y = x / sqrt(mean(x²) + eps) ⊙ w  (w may be NULL: no weight); y may be x. */
void qm_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);

/* How RoPE turns a position into angles. */
struct qm_rope_params {
    int32_t n_rot;          /* rotated dims per head */
    float base;
    float freq_scale;       /* 1/factor of the context scaling */
    const float *factors;   /* per-pair divisors (rope_freqs.weight), NULL: none */
    float yarn_ext;         /* YaRN: 1 blends interpolated and original angles per pair, 0: off */
    float attn_factor;      /* magnitude of cos and sin (1); YaRN multiplies in 1 + 0.1 ln(factor) */
    int32_t n_ctx_orig;     /* YaRN: the context the model was trained on before scaling */
};

/* cs[2i], cs[2i+1] = m·cos θ_i, m·sin θ_i for pair i < n_rot/2 at position
 * pos: θ_i = pos · freq_scale · base^(−2i/n_rot) / factor_i, m = attn_factor,
 * with YaRN's per-pair blend of scaled and unscaled angles when on. */
void qm_rope_angles(float *cs, int32_t pos, const struct qm_rope_params *p);

/* Rotate the first n_rot dims of each of n_heads heads of hd values. */
void qm_rope_apply(float *x, int32_t n_heads, int32_t hd, int32_t n_rot, const float *cs,
                   enum qm_rope_style style);

/* g[i] = act(g[i]) · u[i] */
void qm_gated_act(float *g, const float *u, int64_t n, enum qm_ffn_act act);

/* x[i] = cap · tanh(x[i] / cap) */
void qm_softcap(float *x, int64_t n, float cap);

void qm_add(float *y, const float *x, int64_t n);

/* y[i] += a · x[i] */
void qm_axpy_f32(float *y, float a, const float *x, int64_t n);
void qm_axpy_f32_avx2(float *y, float a, const float *x, int64_t n);

/* y[i] += a · x[i] with x a row of f16 values. */
void qm_axpy_f16(float *y, float a, const qm_f16 *x, int64_t n);
void qm_axpy_f16_avx2(float *y, float a, const qm_f16 *x, int64_t n);

#endif
