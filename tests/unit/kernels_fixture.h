/* kernels_fixture.h - random weights and activations for the kernel and
 * matmul tests (test_kernels.c, test_matmul.c), header-only.
 *
 * Weights are random bytes, which are valid codes for every type, with the
 * f16 scale fields replaced by sane values (random sign, magnitude in
 * [1/64, 1/4)) and the float types written as floats in [-1, 1]: no NaN or
 * infinity, but every code pattern.  The generator has a fixed seed so a
 * failure reproduces. */
#ifndef QM_TESTS_KERNELS_FIXTURE_H
#define QM_TESTS_KERNELS_FIXTURE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

static uint64_t kf_state = 0x243f6a8885a308d3ull;

static uint64_t kf_rand(void)
{
    /* xorshift64* */
    kf_state ^= kf_state >> 12;
    kf_state ^= kf_state << 25;
    kf_state ^= kf_state >> 27;
    return kf_state * 0x2545f4914f6cdd1dull;
}

/* uniform in [-1, 1) */
static float kf_signed_unit(void)
{
    return (float)((double)(kf_rand() >> 11) * 0x1p-52 - 1.0);
}

static qm_f16 kf_scale(void)
{
    float v = 0.015625f + 0.234375f * (float)((double)(kf_rand() >> 11) * 0x1p-53);
    return qm_f32_to_f16((kf_rand() & 1) ? -v : v);
}

static void kf_put_f16(uint8_t *p, qm_f16 h)
{
    memcpy(p, &h, 2);
}

/* Byte offsets of the f16 fields of a block of type t: d, and the min where
 * the type has one (mins < 0 when not). */
static void kf_fields(enum qm_type t, int *d, int *min)
{
    *d = 0;
    *min = -1;
    switch (t) {
    case QM_TYPE_Q4_1: case QM_TYPE_Q5_1: case QM_TYPE_Q4_K: case QM_TYPE_Q5_K:
        *min = 2;
        break;
    case QM_TYPE_Q2_K:
        *d = (int)offsetof(blk_q2_k, d);
        *min = (int)offsetof(blk_q2_k, dmin);
        break;
    case QM_TYPE_Q3_K:
        *d = (int)offsetof(blk_q3_k, d);
        break;
    case QM_TYPE_Q6_K:
        *d = (int)offsetof(blk_q6_k, d);
        break;
    default:
        break;
    }
}

/* n elements (a whole number of blocks) of random weights of type t. */
static void kf_weights(enum qm_type t, void *dst, int64_t n)
{
    const struct qm_type_traits *tr = qm_type_traits(t);
    uint8_t *p = dst;
    if (t == QM_TYPE_F32 || t == QM_TYPE_F16 || t == QM_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            float v = kf_signed_unit();
            if (t == QM_TYPE_F32)
                memcpy(p + 4 * i, &v, 4);
            else
                kf_put_f16(p + 2 * i, t == QM_TYPE_F16 ? qm_f32_to_f16(v) : qm_f32_to_bf16(v));
        }
        return;
    }
    size_t bytes = qm_row_size(t, n);
    for (size_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)(kf_rand() >> 56);
    int d, min;
    kf_fields(t, &d, &min);
    for (int64_t b = 0; b < n / tr->blck; b++) {
        kf_put_f16(p + b * tr->size + d, kf_scale());
        if (min >= 0)
            kf_put_f16(p + b * tr->size + min, kf_scale());
    }
}

/* For the tolerance: per element, a bound on the part of the weight that a
 * kernel adds separately from the scaled code (the min of Q4_1/Q5_1 and the
 * K-quants with mins, times the largest sub-block min); 0 elsewhere.  A dot
 * of a min-carrying type may cancel between the two parts, so float error is
 * relative to both magnitudes, not to the result. */
static double kf_min_part(enum qm_type t, const void *w, int64_t i)
{
    const struct qm_type_traits *tr = qm_type_traits(t);
    int d, min;
    kf_fields(t, &d, &min);
    if (min < 0)
        return 0.0;
    qm_f16 h;
    memcpy(&h, (const uint8_t *)w + (size_t)(i / tr->blck) * tr->size + min, 2);
    double m = fabs(qm_f16_to_f32(h));
    if (t == QM_TYPE_Q2_K)
        return m * 15;
    if (t == QM_TYPE_Q4_K || t == QM_TYPE_Q5_K)
        return m * 63;
    return m;
}

/* The float error a dot of n elements of type t may carry against the
 * dequantize-both-sides dot in double: relative to the sum of the magnitudes
 * of the terms (wf, af: the dequantized weight and activation rows).  Q8_1
 * stores s = d·Σq as an f16 made from the f32 d while the dequantized block
 * uses the f16 d, so the m·s term of a Q4_1/Q5_1 dot may differ from
 * m·Σ(dequantized a) by two f16 roundings on top. */
static double kf_tolerance(enum qm_type t, const void *w, const float *wf, const float *af, int64_t n,
                           double rel)
{
    double mag = 0, s_allow = 0;
    int64_t blck = qm_type_traits(t)->blck;
    for (int64_t b = 0; b < n; b += blck) {
        double m = kf_min_part(t, w, b);
        for (int64_t i = b; i < b + blck; i++)
            mag += fabs(af[i]) * (fabs(wf[i]) + m);
    }
    if (qm_type_traits(t)->act_type == QM_TYPE_Q8_1)
        for (int64_t b = 0; b < n / 32; b++) {
            double sa = 0;
            for (int j = 0; j < 32; j++)
                sa += af[32 * b + j];
            s_allow += kf_min_part(t, w, 32 * b) * (fabs(sa) + 1e-3) * 0x1p-9;
        }
    return rel * mag + s_allow + 1e-30;
}

#endif
