/* quant_legacy.c - the 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
 * and IQ4_NL to f32, and f32 to the first four of them.
 *
 * Dequantization follows engine-reference.md 2.2 and evaluates in f32 in the
 * same order as the gguf Python package (d * q, then + m), so the floats are
 * bit-identical to gguf.quants.dequantize.  The build is ISO C17, where GCC
 * does not contract a * b + c into an FMA, and these files are compiled
 * without -mfma anyway: the two roundings stay two roundings.
 *
 * Quantization is the classic round-to-nearest scheme these formats were
 * designed for, reproduced operation for operation so that our bytes equal
 * gguf.quants.quantize (and ggml's reference quantizer) for the same input:
 *   Q4_0 / Q5_0: d = -v/8 (-v/16) where v is the signed element of largest
 *     magnitude, so v itself maps to code 0 and the other side of the range
 *     gets the extra level; q = trunc(x/d + 8.5) (16.5), clamped.  The
 *     product and the + 8.5 are evaluated in double and then rounded to
 *     float before truncation, exactly as gguf does (its source notes that
 *     ggml's C reference gives this only when the compiler fuses the two
 *     into an FMA); doing it in plain float flips a code now and then.
 *   Q4_1 / Q5_1: d = (max - min)/15 (31), m = min, q = trunc((x - m)/d + 0.5)
 *     in float.
 * In all of them 1/d is taken from the f32 d before d is rounded to f16;
 * that is what the reference does, and matching it matters more here than
 * the sliver of error a rounded-d requantization would save.  We part from
 * the reference only where it breaks down: a d beyond the f16 range is
 * saturated instead of stored as Inf, and a 1/d that overflows is clamped
 * instead of turning zeros into NaN codes.
 * Q8_0 (a weight type too) is quantized in quant_act.c with the activations. */
#include "quant_impl.h"

/* 1/d, or 0 for an all-zero block.  1/d can overflow to Inf when d is a
 * subnormal float; then every scaled value is clamped anyway, and an f16 d of
 * that size is 0, so clamping Inf to FLT_MAX only keeps 0 * Inf from making
 * a NaN code. */
static float legacy_inv(float d)
{
    if (d == 0.0f)
        return 0.0f;
    float id = 1.0f / d;
    if (id > 3.4028234e38f)
        id = 3.4028234e38f;
    else if (id < -3.4028234e38f)
        id = -3.4028234e38f;
    return id;
}

/* f32 -> f16 saturating at the largest finite half.  The reference lets an
 * oversized d become Inf (and then every value of the block Inf or NaN);
 * saturating only changes blocks whose values no f16 scale can reach, and
 * there an output that is merely clipped is better than an Inf. */
static qm_f16 legacy_f16_sat(float v)
{
    if (v > 65504.0f)
        v = 65504.0f;
    else if (v < -65504.0f)
        v = -65504.0f;
    return qm_f32_to_f16(v);
}

/* The signed element of largest magnitude (the first one on ties, as
 * numpy's argmax picks it). */
static float legacy_absmax_signed(const float *x, int n)
{
    float amax = 0.0f, v = 0.0f;
    for (int j = 0; j < n; j++) {
        float a = x[j] < 0 ? -x[j] : x[j];
        if (a > amax) {
            amax = a;
            v = x[j];
        }
    }
    return v;
}

/* trunc((float)(x * id + bias)) in double, clamped to [0, qmax]: the
 * rounding of the symmetric types (see the top of the file). */
static int legacy_code_sym(float x, float id, double bias, int qmax)
{
    double t = (double)x * (double)id + bias;
    if (!(t >= 0.0))             /* also catches NaN */
        return 0;
    if (t >= (double)qmax)
        return qmax;
    /* rounding to float first can carry 0.99999999997 up to 1.0: keep it */
    return (int)(float)t;
}

/* trunc((x - m) * id + 0.5f) in float, clamped to [0, qmax]. */
static int legacy_code_asym(float x, float m, float id, int qmax)
{
    float t = (x - m) * id + 0.5f;
    if (!(t >= 0.0f))
        return 0;
    if (t >= (float)qmax)
        return qmax;
    return (int)t;
}

static void legacy_minmax(const float *x, int n, float *mn, float *mx)
{
    float lo = x[0], hi = x[0];
    for (int j = 1; j < n; j++) {
        if (x[j] < lo)
            lo = x[j];
        if (x[j] > hi)
            hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

/* ---- dequantization -------------------------------------------------- */

void qm_dequant_q4_0(const void *src, float *dst, int64_t n)
{
    const blk_q4_0 *b = src;
    for (int64_t i = 0; i < n / QK4_0; i++, b++, dst += QK4_0) {
        float d = qm_f16_to_f32(b->d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            dst[j] = d * (float)((b->qs[j] & 15) - 8);
            dst[j + QK4_0 / 2] = d * (float)((b->qs[j] >> 4) - 8);
        }
    }
}

void qm_dequant_q4_1(const void *src, float *dst, int64_t n)
{
    const blk_q4_1 *b = src;
    for (int64_t i = 0; i < n / QK4_1; i++, b++, dst += QK4_1) {
        float d = qm_f16_to_f32(b->d), m = qm_f16_to_f32(b->m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            dst[j] = d * (float)(b->qs[j] & 15) + m;
            dst[j + QK4_1 / 2] = d * (float)(b->qs[j] >> 4) + m;
        }
    }
}

static uint32_t legacy_load_qh(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

void qm_dequant_q5_0(const void *src, float *dst, int64_t n)
{
    const blk_q5_0 *b = src;
    for (int64_t i = 0; i < n / QK5_0; i++, b++, dst += QK5_0) {
        float d = qm_f16_to_f32(b->d);
        uint32_t qh = legacy_load_qh(b->qh);
        for (int j = 0; j < QK5_0 / 2; j++) {
            int lo = (b->qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            dst[j] = d * (float)(lo - 16);
            dst[j + QK5_0 / 2] = d * (float)(hi - 16);
        }
    }
}

void qm_dequant_q5_1(const void *src, float *dst, int64_t n)
{
    const blk_q5_1 *b = src;
    for (int64_t i = 0; i < n / QK5_1; i++, b++, dst += QK5_1) {
        float d = qm_f16_to_f32(b->d), m = qm_f16_to_f32(b->m);
        uint32_t qh = legacy_load_qh(b->qh);
        for (int j = 0; j < QK5_1 / 2; j++) {
            int lo = (b->qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            dst[j] = d * (float)lo + m;
            dst[j + QK5_1 / 2] = d * (float)hi + m;
        }
    }
}

void qm_dequant_q8_0(const void *src, float *dst, int64_t n)
{
    const blk_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK8_0; i++, b++, dst += QK8_0) {
        float d = qm_f16_to_f32(b->d);
        for (int j = 0; j < QK8_0; j++)
            dst[j] = (float)b->qs[j] * d;
    }
}

void qm_dequant_iq4_nl(const void *src, float *dst, int64_t n)
{
    const blk_iq4_nl *b = src;
    for (int64_t i = 0; i < n / QK4_NL; i++, b++, dst += QK4_NL) {
        float d = qm_f16_to_f32(b->d);
        for (int j = 0; j < QK4_NL / 2; j++) {
            dst[j] = d * (float)qm_iq4nl_values[b->qs[j] & 15];
            dst[j + QK4_NL / 2] = d * (float)qm_iq4nl_values[b->qs[j] >> 4];
        }
    }
}

/* ---- quantization ---------------------------------------------------- */

void qm_quant_q4_0(const float *src, void *dst, int64_t n)
{
    blk_q4_0 *b = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, b++, src += QK4_0) {
        float d = legacy_absmax_signed(src, QK4_0) / -8.0f;
        float id = legacy_inv(d);
        b->d = legacy_f16_sat(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int lo = legacy_code_sym(src[j], id, 8.5, 15);
            int hi = legacy_code_sym(src[j + QK4_0 / 2], id, 8.5, 15);
            b->qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

void qm_quant_q5_0(const float *src, void *dst, int64_t n)
{
    blk_q5_0 *b = dst;
    for (int64_t i = 0; i < n / QK5_0; i++, b++, src += QK5_0) {
        float d = legacy_absmax_signed(src, QK5_0) / -16.0f;
        float id = legacy_inv(d);
        uint32_t qh = 0;
        b->d = legacy_f16_sat(d);
        for (int j = 0; j < QK5_0 / 2; j++) {
            int lo = legacy_code_sym(src[j], id, 16.5, 31);
            int hi = legacy_code_sym(src[j + QK5_0 / 2], id, 16.5, 31);
            b->qs[j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; k++)
            b->qh[k] = (uint8_t)(qh >> 8 * k);
    }
}

void qm_quant_q4_1(const float *src, void *dst, int64_t n)
{
    blk_q4_1 *b = dst;
    for (int64_t i = 0; i < n / QK4_1; i++, b++, src += QK4_1) {
        float mn, mx;
        legacy_minmax(src, QK4_1, &mn, &mx);
        float d = (mx - mn) / 15.0f;
        float id = legacy_inv(d);
        b->d = legacy_f16_sat(d);
        b->m = legacy_f16_sat(mn);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int lo = legacy_code_asym(src[j], mn, id, 15);
            int hi = legacy_code_asym(src[j + QK4_1 / 2], mn, id, 15);
            b->qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

void qm_quant_q5_1(const float *src, void *dst, int64_t n)
{
    blk_q5_1 *b = dst;
    for (int64_t i = 0; i < n / QK5_1; i++, b++, src += QK5_1) {
        float mn, mx;
        legacy_minmax(src, QK5_1, &mn, &mx);
        float d = (mx - mn) / 31.0f;
        float id = legacy_inv(d);
        uint32_t qh = 0;
        b->d = legacy_f16_sat(d);
        b->m = legacy_f16_sat(mn);
        for (int j = 0; j < QK5_1 / 2; j++) {
            int lo = legacy_code_asym(src[j], mn, id, 31);
            int hi = legacy_code_asym(src[j + QK5_1 / 2], mn, id, 31);
            b->qs[j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; k++)
            b->qh[k] = (uint8_t)(qh >> 8 * k);
    }
}
