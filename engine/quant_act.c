/* quant_act.c - the activation formats: f32 to Q8_0, Q8_1 and Q8_K (and
 * back, for tests and tools).
 *
 * Every matrix-vector product quantizes its f32 input row to the weight
 * type's act_type first, so these run on the hot path: each is a max pass
 * and a scale-round-store pass over plain arrays, with the rounding written
 * inline (no roundf call) so the compiler can vectorize both loops.
 *
 * Conventions, all symmetric and all rounding half away from zero:
 *   Q8_0:  per 32 values d = max|x|/127 (stored f16), q = round(x/d) where
 *          1/d is taken in f32 from the unrounded d.  This is the reference
 *          scheme, byte-identical to gguf.quants.quantize; Q8_0 is also a
 *          weight type and files we write must match other tools.
 *   Q8_1:  Q8_0 plus s = d*sum(q) stored f16, with the f32 d (as ggml does),
 *          so a Q4_1/Q5_1 dot can add m*s instead of touching every element.
 *   Q8_K:  per 256 values d = max|x|/127 kept as f32, q = round(x/d) clamped
 *          to [-127, 127], bsums[g] = sum of q over elements 16g..16g+15.
 *          d is always >= 0 here (ggml's own d = -v/127 takes the sign of
 *          the signed extreme v, so it can be negative), and the codes
 *          never reach -128, so a SIMD kernel may negate or take |q| of any
 *          code without overflowing an int8, and |bsums| <= 16*127.
 * When 1/d would overflow (max|x| below ~1e-36) the codes are computed by
 * dividing instead; for Q8_0/Q8_1 such a d rounds to an f16 zero anyway.  A
 * block holding an Inf or NaN gets a NaN scale and zero codes: the NaN
 * reaches the output of the dot product rather than being hidden. */
#include <math.h>
#include <string.h>

#include "quant_impl.h"

/* a quiet NaN half: the scale of a block that held Inf or NaN */
#define ACT_F16_NAN ((qm_f16)0x7e00)

/* f32 -> f16 saturating at the largest finite half: blocks beyond the reach
 * of an f16 scale (|x| > ~8e6) come back clipped instead of as Inf */
static inline qm_f16 act_f16_sat(float v)
{
    v = v <= 65504.0f ? v : 65504.0f;
    v = v >= -65504.0f ? v : -65504.0f;
    return qm_f32_to_f16(v);
}

/* max |x| of n values.  Done on the bit patterns: for finite floats the
 * order of |x| is the order of (bits & 0x7fffffff) as integers, and an
 * integer max reduction vectorizes where a float one (NaN rules) does not.
 * A NaN or Inf in the input makes the result NaN or Inf. */
static inline float act_absmax(const float *x, int n)
{
    int32_t m = 0;
    for (int j = 0; j < n; j++) {
        int32_t u;
        memcpy(&u, &x[j], sizeof u);
        u &= 0x7fffffff;
        m = u > m ? u : m;
    }
    float f;
    memcpy(&f, &m, sizeof f);
    return f;
}

/* The codes of n values for scale d, returning their sum.  The fast path is
 * branch-free so it vectorizes: with id = 1/d and d = max|x|/127 every
 * |x*id| is at most 127.0001, so no clamp is needed, and rounding half away
 * from zero is trunc, +1 where the fraction is >= 0.5, then the sign back
 * (exactly roundf for these magnitudes, without the call). */
static inline int act_codes(const float *restrict x, int8_t *restrict q, int n, float d)
{
    int sum = 0;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (id <= 3.4028234e38f) {
        for (int j = 0; j < n; j++) {
            float v = x[j] * id;
            float a = fabsf(v);
            float t = (float)(int32_t)a;
            t += (a - t >= 0.5f) ? 1.0f : 0.0f;
            int c = (int32_t)copysignf(t, v);
            q[j] = (int8_t)c;
            sum += c;
        }
    } else {
        /* d subnormal and 1/d Inf: divide instead, and clamp, since such a
         * d carries few significant bits */
        for (int j = 0; j < n; j++) {
            float v = x[j] / d;
            v = v >= -127.0f ? v : -127.0f;
            v = v <= 127.0f ? v : 127.0f;
            float a = fabsf(v);
            float t = (float)(int32_t)a;
            t += (a - t >= 0.5f) ? 1.0f : 0.0f;
            int c = (int32_t)copysignf(t, v);
            q[j] = (int8_t)c;
            sum += c;
        }
    }
    return sum;
}

void qm_quant_q8_0(const float *src, void *dst, int64_t n)
{
    blk_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK8_0; i++, b++, src += QK8_0) {
        float d = act_absmax(src, QK8_0) / 127.0f;
        if (!(d <= 3.4028234e38f)) {          /* Inf or NaN in the block */
            b->d = ACT_F16_NAN;
            memset(b->qs, 0, sizeof b->qs);
            continue;
        }
        b->d = act_f16_sat(d);
        act_codes(src, b->qs, QK8_0, d);
    }
}

void qm_quant_q8_1(const float *src, void *dst, int64_t n)
{
    blk_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK8_1; i++, b++, src += QK8_1) {
        float d = act_absmax(src, QK8_1) / 127.0f;
        if (!(d <= 3.4028234e38f)) {
            b->d = b->s = ACT_F16_NAN;
            memset(b->qs, 0, sizeof b->qs);
            continue;
        }
        int sum = act_codes(src, b->qs, QK8_1, d);
        b->d = act_f16_sat(d);
        b->s = act_f16_sat(d * (float)sum);
    }
}

void qm_quant_q8_k(const float *src, void *dst, int64_t n)
{
    blk_q8_k *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        float d = act_absmax(src, QK_K) / 127.0f;
        if (!(d <= 3.4028234e38f)) {
            b->d = d - d;                     /* NaN */
            memset(b->qs, 0, sizeof b->qs);
            memset(b->bsums, 0, sizeof b->bsums);
            continue;
        }
        b->d = d;
        act_codes(src, b->qs, QK_K, d);
        for (int g = 0; g < QK_K / 16; g++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += b->qs[16 * g + l];
            b->bsums[g] = (int16_t)s;
        }
    }
}

void qm_dequant_q8_1(const void *src, float *dst, int64_t n)
{
    const blk_q8_1 *b = src;
    for (int64_t i = 0; i < n / QK8_1; i++, b++, dst += QK8_1) {
        float d = qm_f16_to_f32(b->d);
        for (int j = 0; j < QK8_1; j++)
            dst[j] = (float)b->qs[j] * d;
    }
}

void qm_dequant_q8_k(const void *src, float *dst, int64_t n)
{
    const blk_q8_k *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++, dst += QK_K) {
        for (int j = 0; j < QK_K; j++)
            dst[j] = (float)b->qs[j] * b->d;
    }
}
