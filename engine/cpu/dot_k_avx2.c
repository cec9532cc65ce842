/* dot_k_avx2.c - AVX2 dot products of the K-quants (Q2_K ... Q6_K) and IQ4_XS
 * with Q8_K activations: the hot loop of every decode step on such a model.
 *
 * Compiled with -mavx2 -mfma -mf16c -mbmi2 (CMake does that for *_avx2.c) and
 * only reached through the table of kernels.h after CPUID said yes.
 *
 * A decode matvec reads each weight once, so these kernels only have to keep
 * up with DRAM, but that is already demanding: at ~20 GB/s per core a Q2_K
 * block (84 bytes, 256 weights) has to be done in about 13 cycles.  The core
 * (Zen 3 here) sustains about three vector instructions per cycle on this
 * mix, so what counts is the number of instructions per block, and every
 * kernel has the same lean shape:
 *
 *   - 32 weights at a time are unpacked into unsigned bytes with one shift
 *     and one and on a 256-bit register (a shift serves several planes);
 *   - _mm256_maddubs_epi16 (unsigned weight x signed activation, adjacent
 *     pairs summed into int16; the bounds at each kernel show it never
 *     saturates), then _mm256_madd_epi16 against the sub-block scales, which
 *     widens to int32 and applies the scale in one instruction.  The scale
 *     vector is one _mm256_shuffle_epi8 of the block's scales per 32 weights;
 *   - constant per-sub-block terms (the mins of Q2_K/Q4_K/Q5_K, the -4 and -32
 *     offsets of Q3_K/Q6_K) never touch the elements: they are one madd of
 *     the scales or mins with the activation's bsums per block;
 *   - the 6-bit scales are unpacked with scalar shifts and masks on 32-bit
 *     words (the integer ports are otherwise idle here) and moved over in
 *     one or two 64-bit transfers;
 *   - one int32 -> float conversion and one FMA per block and term, the
 *     weight scales converted by F16C; the min term has its own accumulator
 *     (IQ4_XS alternates two) so that FMA latency does not chain the blocks;
 *   - a software prefetch of the weights a few rows ahead (KQ_PREFETCH).
 *
 * Weights stay unsigned (their offsets go through the bsums term) because
 * maddubs wants its first operand unsigned; IQ4_XS, whose code book is
 * signed, moves the sign onto the activation with _mm256_sign_epi8.
 *
 * All integer sums are exact for activation codes in [-127, 127], which is
 * all the Q8_K quantizer produces.  The float result differs from a double
 * dequantize-and-dot only by the rounding of the per-block products and of
 * the final accumulation. */
#include "kernels.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kq_avx2.h"

/* ---- helpers ------------------------------------------------------------ */

/* How far ahead of the block being computed the weights are prefetched.  A
 * decode matvec streams each thread's rows from DRAM; the hardware
 * prefetcher alone leaves the core waiting (and stops at 4 KiB pages), a
 * software prefetch a few rows ahead gains 15-25% of streaming bandwidth.
 * Past the end of the rows it is harmless: prefetches never fault (and the
 * address is formed in integers, not as an out-of-bounds pointer). */
#define KQ_PREFETCH 4096

/* Prefetch the block that is KQ_PREFETCH bytes past x, one request per line. */
#define KQ_PREFETCH_BLOCK(x)                                                         \
    do {                                                                               \
        const char *pf_ = (const char *)((uintptr_t)(x) + KQ_PREFETCH);                \
        for (size_t o_ = 0; o_ < sizeof *(x); o_ += 64)                                \
            _mm_prefetch(pf_ + o_, _MM_HINT_T0);                                       \
    } while (0)



/* 32 unsigned weights · 32 activations, times a scale per int16 pair: 8 int32. */
KQ_INLINE __m256i kq_mac(__m256i q, const int8_t *y, __m256i scale)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, kq_load(y)), scale);
}

/* d_w · d_a in all eight lanes. */
KQ_INLINE __m256 kq_scale(qm_f16 d, const float *yd)
{
    __m128 v = _mm_cvtph_ps(_mm_cvtsi32_si128(d));
    return _mm256_broadcastss_ps(_mm_mul_ss(v, _mm_load_ss(yd)));
}

/* d_w · d_a and dmin_w · d_a for the adjacent f16 pair (d, dmin). */
KQ_INLINE void kq_scale2(const qm_f16 *pair, const float *yd, __m256 *d, __m256 *dmin)
{
    uint32_t u;
    memcpy(&u, pair, 4);
    const __m128 v = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)u)), _mm_broadcast_ss(yd));
    *d = _mm256_broadcastss_ps(v);
    *dmin = _mm256_broadcastss_ps(_mm_movehdup_ps(v));
}











/* ---- Q2_K ------------------------------------------------------------------
 * 16 sub-blocks of 16; scales[i] holds scale (low nibble) and min (high).
 * Element 128h + 32j + m is bits 2j, 2j+1 of qs[32h + m]: each half of the
 * block is one 32-byte load holding four planes of 32 elements.  Planes 0 and
 * 2 are masked out where they lie (bits 0-1 and 4-5), planes 1 and 3 after
 * one shift by 2: one shift per half instead of three.  Planes 2 and 3 come
 * out 16 times too large, so the scales of planes 0 and 1 (bytes 0-3 and
 * 8-11) are multiplied by 16 to match and the block sum is 16 times the true
 * one.  Bounds: codes <= 48, scales <= 15 (x16: 240, still a byte), maddubs
 * pairs <= 2*48*127; block <= 16*256*3*127*15. */
KQ_INLINE __m256i kq_half_q2(__m256i q, const int8_t *y, __m256i sc, int h)
{
    const __m256i m03 = _mm256_set1_epi8(0x03), m30 = _mm256_set1_epi8(0x30);
    const __m256i q2 = _mm256_srli_epi16(q, 2);
    const __m256i s01 = _mm256_add_epi32(kq_mac(_mm256_and_si256(q, m03), y, KQ_SHUF(sc, kq_pair_b[4 * h])),
                                         kq_mac(_mm256_and_si256(q2, m03), y + 32, KQ_SHUF(sc, kq_pair_b[4 * h + 1])));
    const __m256i s23 = _mm256_add_epi32(kq_mac(_mm256_and_si256(q, m30), y + 64, KQ_SHUF(sc, kq_pair_b[4 * h + 2])),
                                         kq_mac(_mm256_and_si256(q2, m30), y + 96, KQ_SHUF(sc, kq_pair_b[4 * h + 3])));
    return _mm256_add_epi32(s01, s23);
}

static void kq_dot_q2_k(int64_t n, float *s, const void *vw, const void *va)
{
    const blk_q2_k *w = vw;
    const blk_q8_k *a = va;
    const int64_t nb = n / QK_K;
    const __m256i m15 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();

    for (int64_t b = 0; b < nb; b++) {
        const blk_q2_k *x = &w[b];
        const blk_q8_k *y = &a[b];
        KQ_PREFETCH_BLOCK(x);
        const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)x->scales));
        const __m256i sc1 = _mm256_and_si256(raw, m15);
        const __m256i sc = _mm256_blend_epi32(sc1, _mm256_slli_epi16(sc1, 4), 0x55);
        /* the min term, Σ_i min_i · bsum_i */
        const __m256i mins = KQ_SHUF(_mm256_and_si256(_mm256_srli_epi16(raw, 4), m15), kq_widen_b);
        const __m256i mi = _mm256_madd_epi16(mins, kq_load(y->bsums));

        const __m256i sum = _mm256_add_epi32(kq_half_q2(kq_load(x->qs), y->qs, sc, 0),
                                             kq_half_q2(kq_load(x->qs + 32), y->qs + 128, sc, 1));
        __m256 d, dmin;
        kq_scale2(&x->d, &y->d, &d, &dmin);
        /* exact: a power of two */
        acc = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(1.0f / 16)), _mm256_cvtepi32_ps(sum), acc);
        accm = _mm256_fmadd_ps(dmin, _mm256_cvtepi32_ps(mi), accm);
    }
    *s = kq_hsum(_mm256_sub_ps(acc, accm));
}


/* Half of a Q3_K block: 32 bytes of qs, the hmask nibble of its planes in
 * each byte of hn, the scales (x16 for planes 0, 1) as words in both lanes. */
KQ_INLINE __m256i kq_half_q3(__m256i q, __m256i hn, const int8_t *y, __m256i sc)
{
    const __m256i m33 = _mm256_set1_epi8(0x33), m07 = _mm256_set1_epi8(0x07), m70 = _mm256_set1_epi8(0x70);
    const __m256i v02 = _mm256_or_si256(_mm256_and_si256(q, m33), _mm256_shuffle_epi8(kq_load(kq_q3_hi02), hn));
    const __m256i v13 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2), m33),
                                        _mm256_shuffle_epi8(kq_load(kq_q3_hi13), hn));
    const __m256i s01 = _mm256_add_epi32(kq_mac(_mm256_and_si256(v02, m07), y, KQ_SHUF(sc, kq_pair_w[0])),
                                         kq_mac(_mm256_and_si256(v13, m07), y + 32, KQ_SHUF(sc, kq_pair_w[1])));
    const __m256i s23 = _mm256_add_epi32(kq_mac(_mm256_and_si256(v02, m70), y + 64, KQ_SHUF(sc, kq_pair_w[2])),
                                         kq_mac(_mm256_and_si256(v13, m70), y + 96, KQ_SHUF(sc, kq_pair_w[3])));
    return _mm256_add_epi32(s01, s23);
}

static void kq_dot_q3_k(int64_t n, float *s, const void *vw, const void *va)
{
    const blk_q3_k *w = vw;
    const blk_q8_k *a = va;
    const int64_t nb = n / QK_K;
    const __m256i m0f = _mm256_set1_epi8(0x0f);
    const __m128i m32 = _mm_set1_epi8(32);
    __m256 acc = _mm256_setzero_ps();

    for (int64_t b = 0; b < nb; b++) {
        const blk_q3_k *x = &w[b];
        const blk_q8_k *y = &a[b];
        KQ_PREFETCH_BLOCK(x);

        /* 16 six-bit scales, four per 32-bit word: low nibbles from
         * scales[0..7] (low then high nibbles), the two high bits of scale i
         * from bits 2(i/4), 2(i/4)+1 of scales[8 + i%4] */
        uint32_t u[3];
        kq_words3(x->scales, u);
        const uint32_t t0 = (u[0] & 0x0f0f0f0f) | ((u[2] << 4) & 0x30303030);
        const uint32_t t1 = (u[1] & 0x0f0f0f0f) | ((u[2] << 2) & 0x30303030);
        const uint32_t t2 = ((u[0] >> 4) & 0x0f0f0f0f) | (u[2] & 0x30303030);
        const uint32_t t3 = ((u[1] >> 4) & 0x0f0f0f0f) | ((u[2] >> 2) & 0x30303030);
        uint64_t lo = t0 | (uint64_t)t1 << 32, hi = t2 | (uint64_t)t3 << 32;
        __asm__("" : "+r"(lo), "+r"(hi));
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_set_epi64x((long long)hi, (long long)lo), m32));
        const __m256i mi = _mm256_madd_epi16(sc16, kq_load(y->bsums));
        /* words 0..3 of each lane (planes 0 and 1 of each half) times 16 */
        const __m256i scx = _mm256_blend_epi16(sc16, _mm256_slli_epi16(sc16, 4), 0x0f);

        const __m256i hm = kq_load(x->hmask);
        const __m256i h0 = kq_half_q3(kq_load(x->qs), _mm256_and_si256(hm, m0f), y->qs,
                                      _mm256_permute2x128_si256(scx, scx, 0x00));
        const __m256i h1 = kq_half_q3(kq_load(x->qs + 32), _mm256_and_si256(_mm256_srli_epi16(hm, 4), m0f),
                                      y->qs + 128, _mm256_permute2x128_si256(scx, scx, 0x11));
        const __m256i sum = _mm256_sub_epi32(_mm256_add_epi32(h0, h1), _mm256_slli_epi32(mi, 6));

        acc = _mm256_fmadd_ps(kq_scale(x->d, &y->d), _mm256_cvtepi32_ps(sum), acc);
    }
    *s = kq_hsum(acc) * (1.0f / 16);
}


/* Chunk c (0..3) of a Q4_K/Q5_K block: 32 bytes of qs, low nibbles are
 * sub-block 2c, high nibbles sub-block 2c+1; hb_lo / hb_hi hold the fifth bits
 * at bit 4 (zero for Q4_K).  Bounds: q <= 31, scale and min <= 63, pairs
 * <= 2*31*127, block <= 256*31*127*63. */
KQ_INLINE __m256i kq_chunk45(__m256i q, __m256i hb_lo, __m256i hb_hi, const int8_t *y, __m256i sm, int c)
{
    const __m256i m15 = _mm256_set1_epi8(15);
    const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m15), hb_lo);
    const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m15), hb_hi);
    return _mm256_add_epi32(kq_mac(lo, y + 64 * c, KQ_SHUF(sm, kq_one_b[2 * c])),
                            kq_mac(hi, y + 64 * c + 32, KQ_SHUF(sm, kq_one_b[2 * c + 1])));
}

static void kq_dot_q4_k(int64_t n, float *s, const void *vw, const void *va)
{
    const blk_q4_k *w = vw;
    const blk_q8_k *a = va;
    const int64_t nb = n / QK_K;
    const __m256i z = _mm256_setzero_si256();
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();

    for (int64_t b = 0; b < nb; b++) {
        const blk_q4_k *x = &w[b];
        const blk_q8_k *y = &a[b];
        KQ_PREFETCH_BLOCK(x);
        const __m256i sm = kq_scales_k4(x->scales);
        /* Σ_k min_k · (bsum[2k] + bsum[2k+1]) */
        const __m256i mi = _mm256_madd_epi16(KQ_SHUF(sm, kq_min_b), kq_load(y->bsums));

        const __m256i s0 = kq_chunk45(kq_load(x->qs), z, z, y->qs, sm, 0);
        const __m256i s1 = kq_chunk45(kq_load(x->qs + 32), z, z, y->qs, sm, 1);
        const __m256i s2 = kq_chunk45(kq_load(x->qs + 64), z, z, y->qs, sm, 2);
        const __m256i s3 = kq_chunk45(kq_load(x->qs + 96), z, z, y->qs, sm, 3);
        const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(s0, s1), _mm256_add_epi32(s2, s3));

        __m256 d, dmin;
        kq_scale2(&x->d, &y->d, &d, &dmin);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum), acc);
        accm = _mm256_fmadd_ps(dmin, _mm256_cvtepi32_ps(mi), accm);
    }
    *s = kq_hsum(_mm256_sub_ps(acc, accm));
}

/* Q5_K: the fifth bit of the low-nibble element l of chunk c is bit 2c of
 * qh[l], of the high-nibble element bit 2c+1; each is shifted to bit 4 with
 * a 16-bit shift (bit 4 of a byte only ever receives a bit of the same byte
 * for these distances) and masked. */
static void kq_dot_q5_k(int64_t n, float *s, const void *vw, const void *va)
{
    const blk_q5_k *w = vw;
    const blk_q8_k *a = va;
    const int64_t nb = n / QK_K;
    const __m256i m16 = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();

    for (int64_t b = 0; b < nb; b++) {
        const blk_q5_k *x = &w[b];
        const blk_q8_k *y = &a[b];
        KQ_PREFETCH_BLOCK(x);
        const __m256i sm = kq_scales_k4(x->scales);
        const __m256i mi = _mm256_madd_epi16(KQ_SHUF(sm, kq_min_b), kq_load(y->bsums));

        const __m256i qh = kq_load(x->qh);
#define KQ_B4(v) _mm256_and_si256(v, m16)
        const __m256i s0 = kq_chunk45(kq_load(x->qs), KQ_B4(_mm256_slli_epi16(qh, 4)),
                                      KQ_B4(_mm256_slli_epi16(qh, 3)), y->qs, sm, 0);
        const __m256i s1 = kq_chunk45(kq_load(x->qs + 32), KQ_B4(_mm256_slli_epi16(qh, 2)),
                                      KQ_B4(_mm256_slli_epi16(qh, 1)), y->qs, sm, 1);
        const __m256i s2 = kq_chunk45(kq_load(x->qs + 64), KQ_B4(qh),
                                      KQ_B4(_mm256_srli_epi16(qh, 1)), y->qs, sm, 2);
        const __m256i s3 = kq_chunk45(kq_load(x->qs + 96), KQ_B4(_mm256_srli_epi16(qh, 2)),
                                      KQ_B4(_mm256_srli_epi16(qh, 3)), y->qs, sm, 3);
#undef KQ_B4
        const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(s0, s1), _mm256_add_epi32(s2, s3));

        __m256 d, dmin;
        kq_scale2(&x->d, &y->d, &d, &dmin);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum), acc);
        accm = _mm256_fmadd_ps(dmin, _mm256_cvtepi32_ps(mi), accm);
    }
    *s = kq_hsum(_mm256_sub_ps(acc, accm));
}

/* ---- Q6_K ------------------------------------------------------------------
 * 6-bit codes q (value q - 32) with signed 8-bit scales per 16 elements.
 * Half h: ql[64h..64h+63] hold the low nibbles of its four planes (plane r:
 * low nibbles of the first / second 32 bytes for r = 0 / 1, high nibbles for
 * r = 2 / 3), qh[32h..32h+31] bits 2r, 2r+1 the top two bits.  The kernel
 * multiplies the unsigned code and takes 32 · Σ sc_i · bsum_i off.  Pairs
 * <= 2*63*127 = 16002, block <= 256*63*127*128. */
KQ_INLINE __m256i kq_half_q6(const uint8_t *ql, const uint8_t *qh, const int8_t *y, __m256i sc)
{
    const __m256i m15 = _mm256_set1_epi8(15);
    const __m256i m48 = _mm256_set1_epi8(48);
    /* in an order that keeps few registers live (the compiler follows it) */
    const __m256i hb = kq_load(qh);
    __m256i l = kq_load(ql);
    const __m256i p0 = _mm256_or_si256(_mm256_and_si256(l, m15), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m48));
    __m256i sum = kq_mac(p0, y, KQ_SHUF(sc, kq_pair_w[0]));
    const __m256i p2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l, 4), m15), _mm256_and_si256(hb, m48));
    sum = _mm256_add_epi32(sum, kq_mac(p2, y + 64, KQ_SHUF(sc, kq_pair_w[2])));
    l = kq_load(ql + 32);
    const __m256i p1 = _mm256_or_si256(_mm256_and_si256(l, m15), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m48));
    sum = _mm256_add_epi32(sum, kq_mac(p1, y + 32, KQ_SHUF(sc, kq_pair_w[1])));
    const __m256i p3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l, 4), m15),
                                       _mm256_and_si256(_mm256_srli_epi16(hb, 2), m48));
    return _mm256_add_epi32(sum, kq_mac(p3, y + 96, KQ_SHUF(sc, kq_pair_w[3])));
}

static void kq_dot_q6_k(int64_t n, float *s, const void *vw, const void *va)
{
    const blk_q6_k *w = vw;
    const blk_q8_k *a = va;
    const int64_t nb = n / QK_K;
    __m256 acc = _mm256_setzero_ps();

    for (int64_t b = 0; b < nb; b++) {
        const blk_q6_k *x = &w[b];
        const blk_q8_k *y = &a[b];
        KQ_PREFETCH_BLOCK(x);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
        const __m256i mi = _mm256_madd_epi16(sc16, kq_load(y->bsums));
        const __m256i h0 = kq_half_q6(x->ql, x->qh, y->qs, _mm256_permute2x128_si256(sc16, sc16, 0x00));
        const __m256i h1 = kq_half_q6(x->ql + 64, x->qh + 32, y->qs + 128, _mm256_permute2x128_si256(sc16, sc16, 0x11));
        const __m256i sum = _mm256_sub_epi32(_mm256_add_epi32(h0, h1), _mm256_slli_epi32(mi, 5));

        acc = _mm256_fmadd_ps(kq_scale(x->d, &y->d), _mm256_cvtepi32_ps(sum), acc);
    }
    *s = kq_hsum(acc);
}

/* ---- IQ4_XS ----------------------------------------------------------------
 * 4-bit indices into the signed code book qm_iq4nl_values, eight sub-blocks
 * of 32 with 6-bit scales ls - 32.  Sub-block i is bytes qs[16i..16i+15]:
 * element l < 16 the low nibble of byte l, element l + 16 its high nibble.
 * Loading those 16 bytes into both lanes and shifting the high lane right by
 * 4 puts all 32 elements in order, so the activations are one plain load.
 * The code book value k is signed: maddubs gets |k| and the activation with
 * k's sign (k is never 0), |k| * |a| pairs <= 2*127*127 < 32768. */
KQ_INLINE __m256i kq_sub_iq4(const uint8_t *qs, const int8_t *y, __m256i book, __m256i sc, int i)
{
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(qs + 16 * i)));
    const __m256i idx = _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_set_epi64x(4, 4, 0, 0)), _mm256_set1_epi8(15));
    const __m256i k = _mm256_shuffle_epi8(book, idx);
    const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(k), _mm256_sign_epi8(kq_load(y + 32 * i), k));
    return _mm256_madd_epi16(p, KQ_SHUF(sc, kq_one_w[i]));
}

KQ_INLINE __m256 kq_blk_iq4_xs(const blk_iq4_xs *x, const blk_q8_k *y, __m256i book, __m256 acc)
{
    KQ_PREFETCH_BLOCK(x);
    /* ls_i: nibble i of scales_l (as a 32-bit word) with bits 2i, 2i+1 of
     * scales_h above it; pdep puts each piece into word i, and the words
     * are signed after the -32 */
    uint32_t sl;
    memcpy(&sl, x->scales_l, 4);
    const uint32_t sh = x->scales_h;
    const uint64_t lo = _pdep_u64(sl & 0xffff, 0x000f000f000f000full) | _pdep_u64(sh & 0xff, 0x0030003000300030ull);
    const uint64_t hi = _pdep_u64(sl >> 16, 0x000f000f000f000full) | _pdep_u64(sh >> 8, 0x0030003000300030ull);
    const __m256i sc = _mm256_sub_epi16(kq_bytes16(lo, hi), _mm256_set1_epi16(32));
    __m256i s0 = kq_sub_iq4(x->qs, y->qs, book, sc, 0);
    __m256i s1 = kq_sub_iq4(x->qs, y->qs, book, sc, 1);
    s0 = _mm256_add_epi32(s0, kq_sub_iq4(x->qs, y->qs, book, sc, 2));
    s1 = _mm256_add_epi32(s1, kq_sub_iq4(x->qs, y->qs, book, sc, 3));
    s0 = _mm256_add_epi32(s0, kq_sub_iq4(x->qs, y->qs, book, sc, 4));
    s1 = _mm256_add_epi32(s1, kq_sub_iq4(x->qs, y->qs, book, sc, 5));
    s0 = _mm256_add_epi32(s0, kq_sub_iq4(x->qs, y->qs, book, sc, 6));
    s1 = _mm256_add_epi32(s1, kq_sub_iq4(x->qs, y->qs, book, sc, 7));

    return _mm256_fmadd_ps(kq_scale(x->d, &y->d), _mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), acc);
}

static void kq_dot_iq4_xs(int64_t n, float *s, const void *vw, const void *va)
{
    const blk_iq4_xs *w = vw;
    const blk_q8_k *a = va;
    const int64_t nb = n / QK_K;
    const __m256i book = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qm_iq4nl_values));
    /* two blocks per step into two accumulators: the FMA latency stays off
     * the critical path */
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        acc0 = kq_blk_iq4_xs(&w[b], &a[b], book, acc0);
        acc1 = kq_blk_iq4_xs(&w[b + 1], &a[b + 1], book, acc1);
    }
    if (b < nb)
        acc0 = kq_blk_iq4_xs(&w[b], &a[b], book, acc0);
    *s = kq_hsum(_mm256_add_ps(acc0, acc1));
}

/* ---- registration ------------------------------------------------------- */

void qm_kernels_register_avx2_k(struct qm_cpu_kernels *k)
{
    k->vec_dot[QM_TYPE_Q2_K] = kq_dot_q2_k;
    k->vec_dot[QM_TYPE_Q3_K] = kq_dot_q3_k;
    k->vec_dot[QM_TYPE_Q4_K] = kq_dot_q4_k;
    k->vec_dot[QM_TYPE_Q5_K] = kq_dot_q5_k;
    k->vec_dot[QM_TYPE_Q6_K] = kq_dot_q6_k;
    k->vec_dot[QM_TYPE_IQ4_XS] = kq_dot_iq4_xs;
}
