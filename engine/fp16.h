/* fp16.h - IEEE half and bfloat16 conversions in portable C.
 *
 * The reference kernels and the dequantizers use these; the SIMD kernels use
 * the F16C instructions instead.  f32 -> f16 rounds to nearest even, as the
 * hardware and numpy do, so quantized files match other tools bit for bit. */
#ifndef QM_ENGINE_FP16_H
#define QM_ENGINE_FP16_H

#include <stdint.h>
#include <string.h>

typedef uint16_t qm_f16;
typedef uint16_t qm_bf16;

static inline float qm_bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t qm_f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static inline float qm_f16_to_f32(qm_f16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f)                       /* inf or nan */
        return qm_bits_to_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0)
            return qm_bits_to_f32(sign);
        /* subnormal: value = man * 2^-24, exact in f32 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return qm_bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline qm_f16 qm_f32_to_f16(float f)
{
    uint32_t x = qm_f32_to_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)                 /* inf or nan (keep nan quiet) */
        return (qm_f16)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u)                 /* rounds to >= 65520: overflow */
        return (qm_f16)(sign | 0x7c00);
    if (ax < 0x38800000u) {                /* below the smallest normal half */
        /* scale so that one half-subnormal ulp (2^-24) is 1.0, then round
         * to nearest even via the float adder */
        float a = qm_bits_to_f32(ax) * 16777216.0f;
        uint32_t m = (uint32_t)a;
        float rem = a - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1)))
            m++;
        return (qm_f16)(sign | m);
    }
    uint32_t r = ax + 0xfffu + ((ax >> 13) & 1);  /* round to nearest even */
    return (qm_f16)(sign | ((r - 0x38000000u) >> 13));
}

static inline float qm_bf16_to_f32(qm_bf16 h) { return qm_bits_to_f32((uint32_t)h << 16); }

static inline qm_bf16 qm_f32_to_bf16(float f)
{
    uint32_t x = qm_f32_to_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)   /* nan: keep it a quiet nan */
        return (qm_bf16)((x >> 16) | 64);
    return (qm_bf16)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

#endif
