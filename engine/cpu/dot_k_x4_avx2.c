/* dot_k_x4_avx2.c - AVX2 dots of one K-quant (Q2_K ... Q6_K) or IQ4_XS weight
 * row against four Q8_K activation rows at once, for prompt processing.
 *
 * The single-row kernels of dot_k_avx2.c spend most of their instructions
 * unpacking weights (shifts, masks, scale shuffles) and only a third on the
 * multiply-adds.  A prompt matmul applies each weight row to many tokens, so
 * here every 32 weights are unpacked, and their scale vector shuffled, once,
 * then multiplied (maddubs + madd) against the same 32 elements of four
 * activation rows into four int32 accumulators.  The integer arithmetic per
 * token is exactly that of the single-row kernels (same codes, same offset
 * terms through the bsums, same bounds: nothing saturates for activation
 * codes in [-127, 127]); only the float accumulation across blocks is
 * ordered differently, the min / offset term being folded into the same
 * float accumulator with a second FMA to save registers (four int sums and
 * four float accumulators plus the unpacked weights fit the 16 ymm
 * registers).
 *
 * Compiled with -mavx2 -mfma -mf16c -mbmi2 and only reached through the
 * kernel table after CPUID said yes.  Activation row k of block b is
 * (const blk_q8_k *)((const char *)a + k * a_stride) + b. */
#include "kernels.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kq_avx2.h"

#define KX_UNROLL _Pragma("GCC unroll 4")

/* ---- helpers ------------------------------------------------------------ */



/* The four activation blocks b of the four rows. */
KQ_INLINE void kx_rows(const void *a, size_t stride, int64_t b, const blk_q8_k *y[4])
{
    KX_UNROLL
    for (int k = 0; k < 4; k++)
        y[k] = (const blk_q8_k *)((const char *)a + (size_t)k * stride) + b;
}

/* sum[k] += (32 unsigned weights q · 32 activations of row k at offset off),
 * pairs times the int16 factors of sc. */
KQ_INLINE void kx_mac4(__m256i sum[4], __m256i q, const blk_q8_k *const y[4], int off, __m256i sc)
{
    KX_UNROLL
    for (int k = 0; k < 4; k++)
        sum[k] = _mm256_add_epi32(sum[k], _mm256_madd_epi16(_mm256_maddubs_epi16(q, kq_load(y[k]->qs + off)), sc));
}

KQ_INLINE void kx_zero4(__m256i sum[4])
{
    KX_UNROLL
    for (int k = 0; k < 4; k++)
        sum[k] = _mm256_setzero_si256();
}



/* acc[k] += dw · d_k · sum[k] - dmw · d_k · mi[k]; dm holds (dw, dmw) in its
 * two low floats (dmw unused when has_min is 0). */
KQ_INLINE void kx_fold4(__m256 acc[4], const blk_q8_k *const y[4], __m128 dm, const __m256i sum[4],
                        const __m256i mi[4], int has_min)
{
    KX_UNROLL
    for (int k = 0; k < 4; k++) {
        const __m128 v = _mm_mul_ps(dm, _mm_broadcast_ss(&y[k]->d));
        acc[k] = _mm256_fmadd_ps(_mm256_broadcastss_ps(v), _mm256_cvtepi32_ps(sum[k]), acc[k]);
        if (has_min)
            acc[k] = _mm256_fnmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(v)), _mm256_cvtepi32_ps(mi[k]), acc[k]);
    }
}

/* (d, dmin) f16 pair to floats. */
KQ_INLINE __m128 kx_pair(const qm_f16 *pair)
{
    uint32_t u;
    memcpy(&u, pair, 4);
    return _mm_cvtph_ps(_mm_cvtsi32_si128((int)u));
}

KQ_INLINE __m128 kx_one(qm_f16 d)
{
    return _mm_cvtph_ps(_mm_cvtsi32_si128(d));
}

KQ_INLINE void kx_store4(float *s, const __m256 acc[4], float f)
{
    KX_UNROLL
    for (int k = 0; k < 4; k++)
        s[k] = kq_hsum(acc[k]) * f;
}









/* mi[k] = madd(f, bsums of row k): the per-sub-block constant terms. */
KQ_INLINE void kx_bsum4(__m256i mi[4], __m256i f, const blk_q8_k *const y[4])
{
    KX_UNROLL
    for (int k = 0; k < 4; k++)
        mi[k] = _mm256_madd_epi16(f, kq_load(y[k]->bsums));
}

/* ---- Q2_K ------------------------------------------------------------------
 * As in dot_k_avx2.c: half h of the block is one 32-byte load of qs with four
 * 2-bit planes; planes 0 and 2 are masked where they lie (bits 0-1, 4-5),
 * planes 1 and 3 after one shift by 2; planes 2 and 3 come out 16 times too
 * large, so the scales of planes 0 and 1 are multiplied by 16 and the block
 * sum is 16 times the true one (the 1/16 goes into the weight scale, exactly).
 * The mins go through the bsums.  Bounds as there. */
static void kx_dot_q2_k(int64_t n, float *s, const void *vw, const void *va, size_t stride)
{
    const blk_q2_k *w = vw;
    const int64_t nb = n / QK_K;
    const __m256i m15 = _mm256_set1_epi8(15), m03 = _mm256_set1_epi8(0x03), m30 = _mm256_set1_epi8(0x30);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};

    for (int64_t b = 0; b < nb; b++) {
        const blk_q2_k *x = &w[b];
        const blk_q8_k *y[4];
        kx_rows(va, stride, b, y);
        const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)x->scales));
        const __m256i sc1 = _mm256_and_si256(raw, m15);
        const __m256i sc = _mm256_blend_epi32(sc1, _mm256_slli_epi16(sc1, 4), 0x55);

        __m256i sum[4];
        kx_zero4(sum);
        for (int h = 0; h < 2; h++) {
            const __m256i q = kq_load(x->qs + 32 * h);
            const __m256i q2 = _mm256_srli_epi16(q, 2);
            kx_mac4(sum, _mm256_and_si256(q, m03), y, 128 * h, KQ_SHUF(sc, kq_pair_b[4 * h]));
            kx_mac4(sum, _mm256_and_si256(q2, m03), y, 128 * h + 32, KQ_SHUF(sc, kq_pair_b[4 * h + 1]));
            kx_mac4(sum, _mm256_and_si256(q, m30), y, 128 * h + 64, KQ_SHUF(sc, kq_pair_b[4 * h + 2]));
            kx_mac4(sum, _mm256_and_si256(q2, m30), y, 128 * h + 96, KQ_SHUF(sc, kq_pair_b[4 * h + 3]));
        }
        __m256i mi[4];
        kx_bsum4(mi, KQ_SHUF(_mm256_and_si256(_mm256_srli_epi16(raw, 4), m15), kq_widen_b), y);
        /* times 16: the 1/16 of the scaled-up sum is applied at the end */
        KX_UNROLL
        for (int k = 0; k < 4; k++)
            mi[k] = _mm256_slli_epi32(mi[k], 4);
        kx_fold4(acc, y, kx_pair(&x->d), sum, mi, 1);
    }
    kx_store4(s, acc, 1.0f / 16);
}


static void kx_dot_q3_k(int64_t n, float *s, const void *vw, const void *va, size_t stride)
{
    const blk_q3_k *w = vw;
    const int64_t nb = n / QK_K;
    const __m256i m0f = _mm256_set1_epi8(0x0f), m33 = _mm256_set1_epi8(0x33);
    const __m256i m07 = _mm256_set1_epi8(0x07), m70 = _mm256_set1_epi8(0x70);
    const __m128i m32 = _mm_set1_epi8(32);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};

    for (int64_t b = 0; b < nb; b++) {
        const blk_q3_k *x = &w[b];
        const blk_q8_k *y[4];
        kx_rows(va, stride, b, y);

        /* 16 six-bit scales: low nibbles from scales[0..7], the two high bits
         * of scale i from bits 2(i/4), 2(i/4)+1 of scales[8 + i%4] */
        uint32_t u[3];
        kq_words3(x->scales, u);
        const uint32_t t0 = (u[0] & 0x0f0f0f0f) | ((u[2] << 4) & 0x30303030);
        const uint32_t t1 = (u[1] & 0x0f0f0f0f) | ((u[2] << 2) & 0x30303030);
        const uint32_t t2 = ((u[0] >> 4) & 0x0f0f0f0f) | (u[2] & 0x30303030);
        const uint32_t t3 = ((u[1] >> 4) & 0x0f0f0f0f) | ((u[2] >> 2) & 0x30303030);
        uint64_t lo = t0 | (uint64_t)t1 << 32, hi = t2 | (uint64_t)t3 << 32;
        __asm__("" : "+r"(lo), "+r"(hi));
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_set_epi64x((long long)hi, (long long)lo), m32));
        const __m256i scx = _mm256_blend_epi16(sc16, _mm256_slli_epi16(sc16, 4), 0x0f);
        const __m256i hm = kq_load(x->hmask);

        __m256i sum[4];
        kx_zero4(sum);
        for (int h = 0; h < 2; h++) {
            const __m256i q = kq_load(x->qs + 32 * h);
            const __m256i hn = _mm256_and_si256(h ? _mm256_srli_epi16(hm, 4) : hm, m0f);
            const __m256i sc = h ? _mm256_permute2x128_si256(scx, scx, 0x11) : _mm256_permute2x128_si256(scx, scx, 0x00);
            const __m256i v02 = _mm256_or_si256(_mm256_and_si256(q, m33), _mm256_shuffle_epi8(kq_load(kq_q3_hi02), hn));
            const __m256i v13 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2), m33),
                                                _mm256_shuffle_epi8(kq_load(kq_q3_hi13), hn));
            kx_mac4(sum, _mm256_and_si256(v02, m07), y, 128 * h, KQ_SHUF(sc, kq_pair_w[0]));
            kx_mac4(sum, _mm256_and_si256(v13, m07), y, 128 * h + 32, KQ_SHUF(sc, kq_pair_w[1]));
            kx_mac4(sum, _mm256_and_si256(v02, m70), y, 128 * h + 64, KQ_SHUF(sc, kq_pair_w[2]));
            kx_mac4(sum, _mm256_and_si256(v13, m70), y, 128 * h + 96, KQ_SHUF(sc, kq_pair_w[3]));
        }
        __m256i mi[4];
        kx_bsum4(mi, sc16, y);
        KX_UNROLL
        for (int k = 0; k < 4; k++)
            sum[k] = _mm256_sub_epi32(sum[k], _mm256_slli_epi32(mi[k], 6));
        kx_fold4(acc, y, kx_one(x->d), sum, mi, 0);
    }
    kx_store4(s, acc, 1.0f / 16);
}


/* has_qh: Q5_K (qh the fifth bits), else Q4_K. */
KQ_INLINE void kx_dot_k45(int64_t nb, float *s, const uint8_t *base, size_t bsize, size_t off_scales,
                          size_t off_qs, size_t off_qh, int has_qh, const void *va, size_t stride)
{
    const __m256i m15 = _mm256_set1_epi8(15), m16 = _mm256_set1_epi8(16);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};

    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *x = base + (size_t)b * bsize;
        const blk_q8_k *y[4];
        kx_rows(va, stride, b, y);
        const __m256i sm = kq_scales_k4(x + off_scales);

        __m256i sum[4];
        kx_zero4(sum);
        __m256i qh = _mm256_setzero_si256();
        if (has_qh)
            qh = kq_load(x + off_qh);
        for (int c = 0; c < 4; c++) {
            const __m256i q = kq_load(x + off_qs + 32 * c);
            __m256i lo = _mm256_and_si256(q, m15);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m15);
            if (has_qh) {
                /* bit 2c of qh to bit 4, then bit 2c+1 to bit 4 */
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(qh, 4), m16));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(qh, 3), m16));
                qh = _mm256_srli_epi16(qh, 2);
            }
            kx_mac4(sum, lo, y, 64 * c, KQ_SHUF(sm, kq_one_b[2 * c]));
            kx_mac4(sum, hi, y, 64 * c + 32, KQ_SHUF(sm, kq_one_b[2 * c + 1]));
        }
        __m256i mi[4];
        kx_bsum4(mi, KQ_SHUF(sm, kq_min_b), y);
        kx_fold4(acc, y, kx_pair((const qm_f16 *)x), sum, mi, 1);
    }
    kx_store4(s, acc, 1.0f);
}

static void kx_dot_q4_k(int64_t n, float *s, const void *vw, const void *va, size_t stride)
{
    kx_dot_k45(n / QK_K, s, vw, sizeof(blk_q4_k), offsetof(blk_q4_k, scales), offsetof(blk_q4_k, qs), 0, 0,
               va, stride);
}

static void kx_dot_q5_k(int64_t n, float *s, const void *vw, const void *va, size_t stride)
{
    kx_dot_k45(n / QK_K, s, vw, sizeof(blk_q5_k), offsetof(blk_q5_k, scales), offsetof(blk_q5_k, qs),
               offsetof(blk_q5_k, qh), 1, va, stride);
}

/* ---- Q6_K ------------------------------------------------------------------
 * 6-bit codes q (value q - 32), signed 8-bit scales per 16 elements.  Half h:
 * ql[64h..64h+63] the low nibbles of its four planes (plane r: low nibbles of
 * the first / second 32 bytes for r = 0 / 1, high nibbles for r = 2 / 3),
 * qh[32h..32h+31] bits 2r, 2r+1 the top two bits.  The unsigned code is
 * multiplied and 32 · Σ sc_i · bsum_i taken off. */
static void kx_dot_q6_k(int64_t n, float *s, const void *vw, const void *va, size_t stride)
{
    const blk_q6_k *w = vw;
    const int64_t nb = n / QK_K;
    const __m256i m15 = _mm256_set1_epi8(15), m48 = _mm256_set1_epi8(48);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};

    for (int64_t b = 0; b < nb; b++) {
        const blk_q6_k *x = &w[b];
        const blk_q8_k *y[4];
        kx_rows(va, stride, b, y);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));

        __m256i sum[4];
        kx_zero4(sum);
        for (int h = 0; h < 2; h++) {
            const __m256i sc = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11) : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            const __m256i hb = kq_load(x->qh + 32 * h);
            const __m256i l0 = kq_load(x->ql + 64 * h);
            const __m256i l1 = kq_load(x->ql + 64 * h + 32);
            kx_mac4(sum, _mm256_or_si256(_mm256_and_si256(l0, m15), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m48)),
                    y, 128 * h, KQ_SHUF(sc, kq_pair_w[0]));
            kx_mac4(sum, _mm256_or_si256(_mm256_and_si256(l1, m15), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m48)),
                    y, 128 * h + 32, KQ_SHUF(sc, kq_pair_w[1]));
            kx_mac4(sum, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m15), _mm256_and_si256(hb, m48)),
                    y, 128 * h + 64, KQ_SHUF(sc, kq_pair_w[2]));
            kx_mac4(sum,
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m15),
                                    _mm256_and_si256(_mm256_srli_epi16(hb, 2), m48)),
                    y, 128 * h + 96, KQ_SHUF(sc, kq_pair_w[3]));
        }
        __m256i mi[4];
        kx_bsum4(mi, sc16, y);
        KX_UNROLL
        for (int k = 0; k < 4; k++)
            sum[k] = _mm256_sub_epi32(sum[k], _mm256_slli_epi32(mi[k], 5));
        kx_fold4(acc, y, kx_one(x->d), sum, mi, 0);
    }
    kx_store4(s, acc, 1.0f);
}

/* ---- IQ4_XS ----------------------------------------------------------------
 * 4-bit indices into the signed code book, eight sub-blocks of 32 with 6-bit
 * scales ls - 32.  Sub-block i is qs[16i..16i+15] (low nibbles elements
 * 0..15, high nibbles 16..31): both lanes get the 16 bytes, the high lane
 * shifted by 4.  maddubs gets |k| once per 32 weights and each activation
 * row with k's sign (k is never 0); |k|·|a| pairs <= 2*127*127 < 32768. */
static void kx_dot_iq4_xs(int64_t n, float *s, const void *vw, const void *va, size_t stride)
{
    const blk_iq4_xs *w = vw;
    const int64_t nb = n / QK_K;
    const __m256i book = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qm_iq4nl_values));
    const __m256i m15 = _mm256_set1_epi8(15), sh = _mm256_set_epi64x(4, 4, 0, 0);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};

    for (int64_t b = 0; b < nb; b++) {
        const blk_iq4_xs *x = &w[b];
        const blk_q8_k *y[4];
        kx_rows(va, stride, b, y);
        /* ls_i: nibble i of scales_l with bits 2i, 2i+1 of scales_h above it,
         * one per word via pdep; signed after the -32 */
        uint32_t sl;
        memcpy(&sl, x->scales_l, 4);
        const uint32_t shb = x->scales_h;
        const uint64_t lo = _pdep_u64(sl & 0xffff, 0x000f000f000f000full) | _pdep_u64(shb & 0xff, 0x0030003000300030ull);
        const uint64_t hi = _pdep_u64(sl >> 16, 0x000f000f000f000full) | _pdep_u64(shb >> 8, 0x0030003000300030ull);
        const __m256i sc = _mm256_sub_epi16(kq_bytes16(lo, hi), _mm256_set1_epi16(32));

        __m256i sum[4];
        kx_zero4(sum);
        for (int i = 0; i < 8; i++) {
            const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(x->qs + 16 * i)));
            const __m256i kv = _mm256_shuffle_epi8(book, _mm256_and_si256(_mm256_srlv_epi64(raw, sh), m15));
            const __m256i ak = _mm256_abs_epi8(kv);
            const __m256i f = KQ_SHUF(sc, kq_one_w[i]);
            KX_UNROLL
            for (int k = 0; k < 4; k++) {
                const __m256i p = _mm256_maddubs_epi16(ak, _mm256_sign_epi8(kq_load(y[k]->qs + 32 * i), kv));
                sum[k] = _mm256_add_epi32(sum[k], _mm256_madd_epi16(p, f));
            }
        }
        kx_fold4(acc, y, kx_one(x->d), sum, sum, 0);
    }
    kx_store4(s, acc, 1.0f);
}

/* ---- registration ------------------------------------------------------- */

void qm_kernels_register_avx2_k_x4(struct qm_cpu_kernels *k)
{
    k->vec_dot_x4[QM_TYPE_Q2_K] = kx_dot_q2_k;
    k->vec_dot_x4[QM_TYPE_Q3_K] = kx_dot_q3_k;
    k->vec_dot_x4[QM_TYPE_Q4_K] = kx_dot_q4_k;
    k->vec_dot_x4[QM_TYPE_Q5_K] = kx_dot_q5_k;
    k->vec_dot_x4[QM_TYPE_Q6_K] = kx_dot_q6_k;
    k->vec_dot_x4[QM_TYPE_IQ4_XS] = kx_dot_iq4_xs;
}
