/* dot_ref.c - the plain-C reference dot products, one per weight type.
 *
 * These are what the quant table points to, what QM_CPU=ref runs, and what
 * every SIMD kernel is tested against, so they favour being obviously right
 * over being fast.  Each one works the way the SIMD kernels do: per block an
 * exact integer sum of weight code × activation code, then one float multiply
 * by the two scales (and, for the types with a minimum, one more term built
 * from the activation's block sums).  Because the integer part is exact, a SIMD
 * kernel can differ from these only by the order of the float additions,
 * which lets the tests compare them with a tight tolerance.
 *
 * Weights are decoded into their signed integer codes (offsets such as the
 * "- 8" of Q4_0 already applied) one block at a time, then dotted; the layouts
 * are those of engine-reference.md section 2.  The float types accumulate in
 * double: nothing is being imitated there, so the reference is simply as
 * accurate as is cheap. */
#include "quant_impl.h"

/* ---- float weights, f32 activations ------------------------------------ */

void qm_dot_f32_ref(int64_t n, float *s, const void *w, const void *a)
{
    const float *x = w, *y = a;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * y[i];
    *s = (float)sum;
}

void qm_dot_f16_ref(int64_t n, float *s, const void *w, const void *a)
{
    const qm_f16 *x = w;
    const float *y = a;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)qm_f16_to_f32(x[i]) * y[i];
    *s = (float)sum;
}

void qm_dot_bf16_ref(int64_t n, float *s, const void *w, const void *a)
{
    const qm_bf16 *x = w;
    const float *y = a;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)qm_bf16_to_f32(x[i]) * y[i];
    *s = (float)sum;
}

/* ---- 32-element blocks ------------------------------------------------- */

/* Σ q[j]·a[j] over one 32-element block. */
static int32_t dot32(const int8_t *q, const int8_t *a)
{
    int32_t sum = 0;
    for (int j = 0; j < 32; j++)
        sum += (int32_t)q[j] * a[j];
    return sum;
}

/* The 4-bit codes of a 32-element block: element j is the low nibble of
 * qs[j], element j + 16 the high nibble. */
static void nibbles32(const uint8_t *qs, int8_t *q)
{
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)(qs[j] & 15);
        q[j + 16] = (int8_t)(qs[j] >> 4);
    }
}

/* Adds the fifth bit of the Q5 types: bit j of the little-endian qh. */
static void fifth_bit32(const uint8_t *qh, int8_t *q)
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
    for (int j = 0; j < 32; j++)
        q[j] = (int8_t)(q[j] | ((h >> j) & 1) << 4);
}

void qm_dot_q4_0_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_q4_0 *x = w;
    const blk_q8_0 *y = a;
    float sum = 0;
    int8_t q[32];
    for (int64_t b = 0; b < n / QK4_0; b++) {
        nibbles32(x[b].qs, q);
        for (int j = 0; j < 32; j++)
            q[j] = (int8_t)(q[j] - 8);
        sum += qm_f16_to_f32(x[b].d) * qm_f16_to_f32(y[b].d) * (float)dot32(q, y[b].qs);
    }
    *s = sum;
}

/* value = d·q + m, so Σ value·a = d·d_a·Σ q·q_a + m·(d_a·Σ q_a) = ... + m·s_a */
void qm_dot_q4_1_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_q4_1 *x = w;
    const blk_q8_1 *y = a;
    float sum = 0;
    int8_t q[32];
    for (int64_t b = 0; b < n / QK4_1; b++) {
        nibbles32(x[b].qs, q);
        sum += qm_f16_to_f32(x[b].d) * qm_f16_to_f32(y[b].d) * (float)dot32(q, y[b].qs) +
               qm_f16_to_f32(x[b].m) * qm_f16_to_f32(y[b].s);
    }
    *s = sum;
}

void qm_dot_q5_0_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_q5_0 *x = w;
    const blk_q8_0 *y = a;
    float sum = 0;
    int8_t q[32];
    for (int64_t b = 0; b < n / QK5_0; b++) {
        nibbles32(x[b].qs, q);
        fifth_bit32(x[b].qh, q);
        for (int j = 0; j < 32; j++)
            q[j] = (int8_t)(q[j] - 16);
        sum += qm_f16_to_f32(x[b].d) * qm_f16_to_f32(y[b].d) * (float)dot32(q, y[b].qs);
    }
    *s = sum;
}

void qm_dot_q5_1_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_q5_1 *x = w;
    const blk_q8_1 *y = a;
    float sum = 0;
    int8_t q[32];
    for (int64_t b = 0; b < n / QK5_1; b++) {
        nibbles32(x[b].qs, q);
        fifth_bit32(x[b].qh, q);
        sum += qm_f16_to_f32(x[b].d) * qm_f16_to_f32(y[b].d) * (float)dot32(q, y[b].qs) +
               qm_f16_to_f32(x[b].m) * qm_f16_to_f32(y[b].s);
    }
    *s = sum;
}

void qm_dot_q8_0_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_q8_0 *x = w;
    const blk_q8_0 *y = a;
    float sum = 0;
    for (int64_t b = 0; b < n / QK8_0; b++)
        sum += qm_f16_to_f32(x[b].d) * qm_f16_to_f32(y[b].d) * (float)dot32(x[b].qs, y[b].qs);
    *s = sum;
}

void qm_dot_iq4_nl_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_iq4_nl *x = w;
    const blk_q8_0 *y = a;
    float sum = 0;
    int8_t q[32];
    for (int64_t b = 0; b < n / QK4_NL; b++) {
        nibbles32(x[b].qs, q);
        for (int j = 0; j < 32; j++)
            q[j] = qm_iq4nl_values[q[j]];
        sum += qm_f16_to_f32(x[b].d) * qm_f16_to_f32(y[b].d) * (float)dot32(q, y[b].qs);
    }
    *s = sum;
}

/* ---- K-quants: super-blocks of 256 against Q8_K ------------------------ */

/* Σ q[j]·a[j] over len elements. */
static int32_t dotn(const int8_t *q, const int8_t *a, int len)
{
    int32_t sum = 0;
    for (int j = 0; j < len; j++)
        sum += (int32_t)q[j] * a[j];
    return sum;
}

/* Q2_K and Q3_K share a traversal: element 128h + 32j + 16k + l takes the
 * 2-bit plane j of qs[32h + 16k + l].  Fills the 2-bit codes. */
static void planes2(const uint8_t *qs, int8_t *q)
{
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 2; k++)
                for (int l = 0; l < 16; l++)
                    q[128 * h + 32 * j + 16 * k + l] = (int8_t)((qs[32 * h + 16 * k + l] >> (2 * j)) & 3);
}

/* Q2_K: 16 sub-blocks of 16; scale in the low nibble, min in the high one.
 * The mins are applied through the activation's bsums (one per sub-block). */
void qm_dot_q2_k_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_q2_k *x = w;
    const blk_q8_k *y = a;
    float sum = 0;
    int8_t q[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++) {
        planes2(x[b].qs, q);
        int32_t sumi = 0, summ = 0;
        for (int i = 0; i < 16; i++) {
            sumi += (x[b].scales[i] & 15) * dotn(q + 16 * i, y[b].qs + 16 * i, 16);
            summ += (x[b].scales[i] >> 4) * y[b].bsums[i];
        }
        sum += y[b].d * qm_f16_to_f32(x[b].d) * (float)sumi - y[b].d * qm_f16_to_f32(x[b].dmin) * (float)summ;
    }
    *s = sum;
}

/* Q3_K: the 2-bit planes of Q2_K plus a high bit from hmask; the code is
 * q - 4 when that bit is clear.  Six-bit scales, offset by 32. */
void qm_dot_q3_k_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_q3_k *x = w;
    const blk_q8_k *y = a;
    float sum = 0;
    int8_t q[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++) {
        const uint8_t *S = x[b].scales;
        planes2(x[b].qs, q);
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 2; k++)
                    for (int l = 0; l < 16; l++) {
                        int e = 128 * h + 32 * j + 16 * k + l;
                        if (!((x[b].hmask[16 * k + l] >> (4 * h + j)) & 1))
                            q[e] = (int8_t)(q[e] - 4);
                    }
        int32_t sumi = 0;
        for (int i = 0; i < 16; i++) {
            int lo = i < 8 ? S[i] & 15 : S[i - 8] >> 4;
            int hi = (S[8 + i % 4] >> (2 * (i / 4))) & 3;
            sumi += ((lo | hi << 4) - 32) * dotn(q + 16 * i, y[b].qs + 16 * i, 16);
        }
        sum += y[b].d * qm_f16_to_f32(x[b].d) * (float)sumi;
    }
    *s = sum;
}

/* The six-bit scale and min of sub-block j (0..7) of Q4_K and Q5_K. */
static void k4_scale_min(const uint8_t *S, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = S[j] & 63;
        *m = S[j + 4] & 63;
    } else {
        *sc = (S[j + 4] & 15) | (S[j - 4] >> 6) << 4;
        *m = (S[j + 4] >> 4) | (S[j] >> 6) << 4;
    }
}

/* Q4_K and Q5_K: 8 sub-blocks of 32; chunk c of 64 elements takes the low
 * nibbles of qs[32c..32c+31] then their high nibbles.  qh is NULL for Q4_K. */
static float k45_block(const uint8_t *S, const uint8_t *qs, const uint8_t *qh, qm_f16 d, qm_f16 dmin,
                       const blk_q8_k *y)
{
    int8_t q[QK_K];
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = qs[32 * c + l] & 15, hi = qs[32 * c + l] >> 4;
            if (qh) {
                lo |= ((qh[l] >> (2 * c)) & 1) << 4;
                hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
            }
            q[64 * c + l] = (int8_t)lo;
            q[64 * c + 32 + l] = (int8_t)hi;
        }
    int32_t sumi = 0, summ = 0;
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_scale_min(S, j, &sc, &m);
        sumi += sc * dotn(q + 32 * j, y->qs + 32 * j, 32);
        summ += m * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
    }
    return y->d * qm_f16_to_f32(d) * (float)sumi - y->d * qm_f16_to_f32(dmin) * (float)summ;
}

void qm_dot_q4_k_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_q4_k *x = w;
    const blk_q8_k *y = a;
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; b++)
        sum += k45_block(x[b].scales, x[b].qs, NULL, x[b].d, x[b].dmin, &y[b]);
    *s = sum;
}

void qm_dot_q5_k_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_q5_k *x = w;
    const blk_q8_k *y = a;
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; b++)
        sum += k45_block(x[b].scales, x[b].qs, x[b].qh, x[b].d, x[b].dmin, &y[b]);
    *s = sum;
}

/* Q6_K: 16 sub-blocks of 16 with signed 8-bit scales; code = 6 bits - 32. */
void qm_dot_q6_k_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_q6_k *x = w;
    const blk_q8_k *y = a;
    float sum = 0;
    int8_t q[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++) {
        for (int h = 0; h < 2; h++)
            for (int r = 0; r < 4; r++)
                for (int l = 0; l < 32; l++) {
                    uint8_t ql = x[b].ql[64 * h + 32 * (r & 1) + l];
                    int lo = r < 2 ? ql & 15 : ql >> 4;
                    int hi = (x[b].qh[32 * h + l] >> (2 * r)) & 3;
                    q[128 * h + 32 * r + l] = (int8_t)((lo | hi << 4) - 32);
                }
        int32_t sumi = 0;
        for (int i = 0; i < 16; i++)
            sumi += x[b].scales[i] * dotn(q + 16 * i, y[b].qs + 16 * i, 16);
        sum += y[b].d * qm_f16_to_f32(x[b].d) * (float)sumi;
    }
    *s = sum;
}

/* IQ4_XS: 8 sub-blocks of 32 in the IQ4_NL code book, six-bit scales - 32. */
void qm_dot_iq4_xs_ref(int64_t n, float *s, const void *w, const void *a)
{
    const blk_iq4_xs *x = w;
    const blk_q8_k *y = a;
    float sum = 0;
    int8_t q[32];
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t sumi = 0;
        for (int i = 0; i < 8; i++) {
            int ls = ((x[b].scales_l[i / 2] >> (4 * (i % 2))) & 15) | ((x[b].scales_h >> (2 * i)) & 3) << 4;
            nibbles32(x[b].qs + 16 * i, q);
            for (int j = 0; j < 32; j++)
                q[j] = qm_iq4nl_values[q[j]];
            sumi += (ls - 32) * dot32(q, y[b].qs + 32 * i);
        }
        sum += y[b].d * qm_f16_to_f32(x[b].d) * (float)sumi;
    }
    *s = sum;
}
