/* quant_float.c - the unquantized types: F32, F16 and BF16 to and from f32.
 *
 * These are the table's to_float / from_float for the three float types.
 * F16 rounds to nearest even (fp16.h), which is what numpy's astype and the
 * F16C instructions do, so a file we write is byte-identical to one written
 * by the gguf Python package.  BF16 rounds to nearest even as well and turns
 * a NaN into a quiet NaN instead of letting the rounding carry it into Inf. */
#include <string.h>

#include "quant_impl.h"

void qm_dequant_f32(const void *src, float *dst, int64_t n)
{
    /* memmove: tolerates src == dst */
    memmove(dst, src, (size_t)n * sizeof(float));
}

void qm_quant_f32(const float *src, void *dst, int64_t n)
{
    memmove(dst, src, (size_t)n * sizeof(float));
}

void qm_dequant_f16(const void *src, float *dst, int64_t n)
{
    const qm_f16 *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = qm_f16_to_f32(h[i]);
}

void qm_quant_f16(const float *src, void *dst, int64_t n)
{
    qm_f16 *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = qm_f32_to_f16(src[i]);
}

void qm_dequant_bf16(const void *src, float *dst, int64_t n)
{
    const qm_bf16 *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = qm_bf16_to_f32(h[i]);
}

void qm_quant_bf16(const float *src, void *dst, int64_t n)
{
    qm_bf16 *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = qm_f32_to_bf16(src[i]);
}
