/* ops.c - norms, RoPE, activations: the elementwise steps of a layer.
 *
 * Written as plain loops the compiler vectorises; they cost little next to
 * the matrix products.  RMSNorm sums squares in double as ggml does, so a
 * long row loses no precision. */
#include "ops.h"

#include <math.h>

#include "cpu_features.h"

void qm_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * (double)x[i];
    float scale = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    if (w)
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * scale * w[i];
    else
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * scale;
}

/* YaRN's correction dimension: the pair whose wavelength fits n_ctx_orig
 * `rotations` times. */
static double yarn_dim(const struct qm_rope_params *p, double rotations)
{
    const double two_pi = 6.283185307179586;
    return p->n_rot * log(p->n_ctx_orig / (rotations * two_pi)) / (2.0 * log(p->base));
}

void qm_rope_angles(float *cs, int32_t pos, const struct qm_rope_params *p)
{
    /* θ_i = p · base^(−2i/n_rot), computed as a running product of the step
     * base^(−2/n_rot) in double, as exact as pow() for every i */
    double step = pow((double)p->base, -2.0 / (double)p->n_rot);
    double theta = (double)pos, mscale = p->attn_factor;
    /* YaRN (beta_fast 32, beta_slow 1): pairs below lo keep their original
     * angle (high frequencies), pairs above hi take the scaled one, a
     * linear ramp between; cos and sin grow with the scaling factor */
    double lo = 0.0, hi = 0.0;
    if (p->yarn_ext != 0.0f) {
        lo = fmax(0.0, floor(yarn_dim(p, 32.0)));
        hi = fmin(p->n_rot - 1, ceil(yarn_dim(p, 1.0)));
        mscale *= 1.0 + 0.1 * log(1.0 / (double)p->freq_scale);
    }
    for (int32_t i = 0; i < p->n_rot / 2; i++) {
        double extrap = p->factors ? theta / (double)p->factors[i] : theta;
        double interp = (double)p->freq_scale * extrap, t = interp;
        if (p->yarn_ext != 0.0f) {
            double y = (i - lo) / fmax(0.001, hi - lo);
            double ramp = (1.0 - fmin(1.0, fmax(0.0, y))) * p->yarn_ext;
            t = interp * (1.0 - ramp) + extrap * ramp;
        }
        cs[2 * i] = (float)(cos(t) * mscale);
        cs[2 * i + 1] = (float)(sin(t) * mscale);
        theta *= step;
    }
}

void qm_rope_apply(float *x, int32_t n_heads, int32_t hd, int32_t n_rot, const float *cs,
                   enum qm_rope_style style)
{
    const int32_t half = n_rot / 2;
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * hd;
        for (int32_t i = 0; i < half; i++) {
            int32_t a = style == QM_ROPE_NEOX ? i : 2 * i;
            int32_t b = style == QM_ROPE_NEOX ? i + half : 2 * i + 1;
            float c = cs[2 * i], s = cs[2 * i + 1];
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void qm_gated_act(float *g, const float *u, int64_t n, enum qm_ffn_act act)
{
    if (act == QM_ACT_SILU) {
        for (int64_t i = 0; i < n; i++)
            g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    } else {
        const float k = 0.7978845608028654f; /* sqrt(2/pi) */
        for (int64_t i = 0; i < n; i++) {
            float x = g[i];
            g[i] = 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x))) * u[i];
        }
    }
}

void qm_softcap(float *x, int64_t n, float cap)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = cap * tanhf(x[i] / cap);
}

void qm_add(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}

void qm_axpy_f32(float *y, float a, const float *x, int64_t n)
{
    if (qm_cpu_features()->avx2) {
        qm_axpy_f32_avx2(y, a, x, n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

void qm_axpy_f16(float *y, float a, const qm_f16 *x, int64_t n)
{
    if (qm_cpu_features()->avx2) {
        qm_axpy_f16_avx2(y, a, x, n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] += a * qm_f16_to_f32(x[i]);
}
