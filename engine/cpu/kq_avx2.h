/* kq_avx2.h - what the AVX2 K-quant kernels share: one-token dots
 * (dot_k_avx2.c) and four-token dots (dot_k_x4_avx2.c) unpack the same
 * blocks the same way, so the loads, scale unpacking and shuffle tables
 * live here once.  Include only from files compiled with -mavx2. */
#ifndef QM_ENGINE_CPU_KQ_AVX2_H
#define QM_ENGINE_CPU_KQ_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

#define KQ_INLINE static inline __attribute__((always_inline))

KQ_INLINE __m256i kq_load(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

KQ_INLINE float kq_hsum(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

/* The 12 scale bytes of Q3_K/Q4_K/Q5_K as three 32-bit words in general
 * registers.  The empty asm keeps them there: left alone, the compiler
 * vectorizes the scalar unpacking that follows into a string of shuffles on
 * the very ports the dot product needs. */
KQ_INLINE void kq_words3(const uint8_t *S, uint32_t u[3])
{
    uint32_t a, b, c;
    memcpy(&a, S, 4);
    memcpy(&b, S + 4, 4);
    memcpy(&c, S + 8, 4);
    __asm__("" : "+r"(a), "+r"(b), "+r"(c));
    u[0] = a;
    u[1] = b;
    u[2] = c;
}

/* Sixteen bytes from two 64-bit words, the same in both lanes. */
KQ_INLINE __m256i kq_bytes16(uint64_t lo, uint64_t hi)
{
    __asm__("" : "+r"(lo), "+r"(hi));
    return _mm256_broadcastsi128_si256(_mm_set_epi64x((long long)hi, (long long)lo));
}

/* ---- scale shuffles --------------------------------------------------------
 * One _mm256_shuffle_epi8 turns a register of scales into the int16 factors
 * madd needs for 32 weights.  Index 0x80 writes a zero, which zero-extends
 * byte scales into words for free.
 *
 * kq_pair_b[k]: byte 2k to every word of the low lane, byte 2k+1 to every
 *   word of the high lane.  For the 16-element sub-blocks of Q2_K: the 32
 *   weights of a plane are the 16 of sub-block 2k and the 16 of 2k+1.
 * kq_pair_w[j]: the same from int16 scales (word 2j low, 2j+1 high), for the
 *   signed scales of Q3_K and Q6_K, held per half of the block.
 * kq_one_b[k]: byte k to every word of both lanes, for the 32-element
 *   sub-blocks of Q4_K and Q5_K; kq_one_w[k] the same from int16 scales,
 *   for the signed scales of IQ4_XS.
 * kq_min_b: bytes 8..15 (the mins of Q4_K/Q5_K), each to two words. */
#define KQ_W(b) ((uint8_t)(b)), ((uint8_t)((b) + 1))

#define KQ_W8(b) KQ_W(b), KQ_W(b), KQ_W(b), KQ_W(b), KQ_W(b), KQ_W(b), KQ_W(b), KQ_W(b)

#define KQ_Z(b) ((uint8_t)(b)), 0x80

#define KQ_Z8(b) KQ_Z(b), KQ_Z(b), KQ_Z(b), KQ_Z(b), KQ_Z(b), KQ_Z(b), KQ_Z(b), KQ_Z(b)

static const uint8_t kq_pair_b[8][32] __attribute__((aligned(32))) = {
    {KQ_Z8(0), KQ_Z8(1)},   {KQ_Z8(2), KQ_Z8(3)},   {KQ_Z8(4), KQ_Z8(5)},   {KQ_Z8(6), KQ_Z8(7)},
    {KQ_Z8(8), KQ_Z8(9)},   {KQ_Z8(10), KQ_Z8(11)}, {KQ_Z8(12), KQ_Z8(13)}, {KQ_Z8(14), KQ_Z8(15)},
};

static const uint8_t kq_pair_w[4][32] __attribute__((aligned(32))) = {
    {KQ_W8(0), KQ_W8(2)}, {KQ_W8(4), KQ_W8(6)}, {KQ_W8(8), KQ_W8(10)}, {KQ_W8(12), KQ_W8(14)},
};

static const uint8_t kq_one_b[8][32] __attribute__((aligned(32))) = {
    {KQ_Z8(0), KQ_Z8(0)}, {KQ_Z8(1), KQ_Z8(1)}, {KQ_Z8(2), KQ_Z8(2)}, {KQ_Z8(3), KQ_Z8(3)},
    {KQ_Z8(4), KQ_Z8(4)}, {KQ_Z8(5), KQ_Z8(5)}, {KQ_Z8(6), KQ_Z8(6)}, {KQ_Z8(7), KQ_Z8(7)},
};

static const uint8_t kq_one_w[8][32] __attribute__((aligned(32))) = {
    {KQ_W8(0), KQ_W8(0)},   {KQ_W8(2), KQ_W8(2)},   {KQ_W8(4), KQ_W8(4)},   {KQ_W8(6), KQ_W8(6)},
    {KQ_W8(8), KQ_W8(8)},   {KQ_W8(10), KQ_W8(10)}, {KQ_W8(12), KQ_W8(12)}, {KQ_W8(14), KQ_W8(14)},
};

static const uint8_t kq_min_b[32] __attribute__((aligned(32))) = {
    KQ_Z(8),  KQ_Z(8),  KQ_Z(9),  KQ_Z(9),  KQ_Z(10), KQ_Z(10), KQ_Z(11), KQ_Z(11),
    KQ_Z(12), KQ_Z(12), KQ_Z(13), KQ_Z(13), KQ_Z(14), KQ_Z(14), KQ_Z(15), KQ_Z(15),
};

/* byte i of the low 8 to word i, zero-extended (Q2_K's mins) */
static const uint8_t kq_widen_b[32] __attribute__((aligned(32))) = {
    KQ_Z(0), KQ_Z(1), KQ_Z(2),  KQ_Z(3),  KQ_Z(4),  KQ_Z(5),  KQ_Z(6),  KQ_Z(7),
    KQ_Z(8), KQ_Z(9), KQ_Z(10), KQ_Z(11), KQ_Z(12), KQ_Z(13), KQ_Z(14), KQ_Z(15),
};

#define KQ_SHUF(src, table) _mm256_shuffle_epi8((src), kq_load(table))

/* ---- Q3_K ------------------------------------------------------------------
 * Q2_K's 2-bit planes plus a high bit from hmask; the value code is
 * (q2 | hbit << 2) - 4.  The kernel multiplies the unsigned 3-bit code (0..7)
 * and takes 4 · Σ_i sc_i · bsum_i off at the end.
 *
 * Plane j of half h takes bit 4h + j of hmask[m] for its element m.  Rather
 * than shifting each plane's bit into place, a half's four bits (one nibble
 * of hmask) are looked up in two 16-entry tables that place the bits of
 * planes 0 and 2 (kq_q3_hi02), or 1 and 3 (kq_q3_hi13), at bits 2 and 6.
 * OR-ed onto (qs & 0x33), resp. (qs >> 2) & 0x33, that gives two registers
 * each holding two 3-bit codes, at bits 0..2 and 4..6: one and per plane
 * extracts them.  The codes at bits 4..6 come out 16 times too large, so the
 * scales of planes 0 and 1 are multiplied by 16 to match and the block sum is
 * 16 times the true one.  Bounds: codes <= 7*16 = 112, maddubs pairs
 * <= 2*112*127 = 28448; scales -32..31 (x16: -512..496); block
 * <= 16*256*7*127*32, mins term 64 * 32*16*2032, together < 2^31. */
#define KQ_HA(n) (uint8_t)((((n) & 1) << 2) | ((((n) >> 2) & 1) << 6))

#define KQ_HB(n) (uint8_t)(((((n) >> 1) & 1) << 2) | ((((n) >> 3) & 1) << 6))

#define KQ_H16(f) f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8), f(9), f(10), f(11), f(12), f(13), f(14), f(15)

static const uint8_t kq_q3_hi02[32] __attribute__((aligned(32))) = {KQ_H16(KQ_HA), KQ_H16(KQ_HA)};

static const uint8_t kq_q3_hi13[32] __attribute__((aligned(32))) = {KQ_H16(KQ_HB), KQ_H16(KQ_HB)};

/* ---- Q4_K and Q5_K ---------------------------------------------------------
 * Eight sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes:
 * sub-blocks 0..3 take the low 6 bits of S[0..3] (scale) and S[4..7] (min);
 * sub-blocks 4..7 the low / high nibble of S[8..11] with the top two bits of
 * S[0..3] (scale) or S[4..7] (min) as bits 4 and 5.  Returns the sixteen
 * bytes [scale 0..7, min 0..7] in both lanes. */
KQ_INLINE __m256i kq_scales_k4(const uint8_t *S)
{
    uint32_t u[3];
    kq_words3(S, u);
    const uint32_t sc_lo = u[0] & 0x3f3f3f3f;
    const uint32_t mn_lo = u[1] & 0x3f3f3f3f;
    const uint32_t sc_hi = (u[2] & 0x0f0f0f0f) | ((u[0] >> 2) & 0x30303030);
    const uint32_t mn_hi = ((u[2] >> 4) & 0x0f0f0f0f) | ((u[1] >> 2) & 0x30303030);
    return kq_bytes16(sc_lo | (uint64_t)sc_hi << 32, mn_lo | (uint64_t)mn_hi << 32);
}
#endif
