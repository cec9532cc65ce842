/* dot_avx2.c - AVX2 dot products for the 32-element block types and floats,
 * the AVX2 quantizers of the activation types Q8_0, Q8_1 and Q8_K, and the
 * prepared-activation dots of the 4- and 5-bit types (prep.h) that the
 * matmul uses in their place, and the x4 versions of those (one weight row
 * against four prepared rows, kernels.h) for prompt processing.
 *
 * Compiled with -mavx2 -mfma -mf16c -mbmi2 (CMake does that for *_avx2.c) and
 * only ever called after CPUID said yes, through the table of kernels.h.
 *
 * The quantized dots all have the shape of the reference in dot_ref.c: an
 * exact integer sum per block, then one float multiply by the two scales.
 * What makes them fast is doing the per-block float work eight blocks at a
 * time.  A block's integer products end up as eight 32-bit partial sums; a
 * tree of horizontal adds turns eight such blocks into one vector holding the
 * eight block sums, which is converted to float once and meets a vector of
 * the eight scale products in a single FMA.  The eight scales come from eight
 * scalar 16-bit loads packed in general registers (those ports are idle here)
 * and one F16C conversion.  Per block that leaves the nibble unpacking, the
 * integer multiplies (maddubs: u8 × s8 pairs into s16; madd: s16 pairs into
 * s32) and about one add of the reduction tree.
 *
 * Measured on the development machine (an AVX2-only EPYC) and found no
 * faster, so not done: reducing in 16 bits with hadd where the code range
 * allows it, one float FMA per block with a broadcast scale, vector gathers
 * or unpack shuffles for the scales, and the sign trick for Q4_0/Q5_0 below.
 * What did measure faster is moving work to the activation side, which a
 * matmul does once for all rows: four rows against one activation row
 * (about 15% for Q4_0), and far better, a prepared activation row laid out
 * for the kernels (about 1.6 times, see the prepared section below).  The
 * weight stream is prefetched ahead (see PREFETCH_BYTES), which mattered as
 * much once the weights come from DRAM.
 *
 * maddubs wants its first operand unsigned.  The 4- and 5-bit codes are
 * unsigned, so their offsets (Q4_0's -8, Q5_0's -16) are applied as
 * maddubs(q, a) - maddubs(offset, a); types whose weight codes are signed
 * (Q8_0, IQ4_NL) move the weight's sign onto the activation instead:
 * |w|·sign(a, w).  Neither can overflow 16 bits for activation codes in
 * [-127, 127], which is all the Q8 quantizers produce. */
#include "kernels.h"

#include <immintrin.h>
#include <string.h>

#include "prep.h"
#include "quant_impl.h"

#define QM_INLINE static inline __attribute__((always_inline))

/* How far ahead of the kernels the weight stream is prefetched.  A matvec
 * streams each thread's rows once from DRAM; between its loads the core is
 * busy unpacking and multiplying, and the hardware prefetcher alone then
 * keeps too few misses in flight: a plain read of the same bytes ran
 * 10-20% faster.  Asking for the lines 4 KiB ahead (past the end of the
 * row too: a thread's rows are contiguous) closed most of that gap on the
 * development machine; it is also the distance of the K-quant kernels. */
#define PREFETCH_BYTES 4096

/* Prefetches the n bytes at p + PREFETCH_BYTES.  The address may lie past
 * the end of the weights (prefetches never fault), so it is formed as an
 * integer rather than by pointer arithmetic the C standard would not allow. */
QM_INLINE void prefetch_ahead(const uint8_t *p, size_t n)
{
    for (size_t o = 0; o < n; o += 64)
        _mm_prefetch((const char *)((uintptr_t)p + PREFETCH_BYTES + o), _MM_HINT_T0);
}

/* ---- small helpers ------------------------------------------------------ */

QM_INLINE float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

QM_INLINE int32_t hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

QM_INLINE uint64_t ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

QM_INLINE float f16_at(const uint8_t *p)
{
    return _cvtsh_ss((unsigned short)ld16(p));
}

/* Eight halves at p, p + stride, ... p + 7·stride, as eight floats. */
QM_INLINE __m256 f16x8(const uint8_t *p, size_t stride)
{
    uint64_t lo = ld16(p) | ld16(p + stride) << 16 | ld16(p + 2 * stride) << 32 | ld16(p + 3 * stride) << 48;
    p += 4 * stride;
    uint64_t hi = ld16(p) | ld16(p + stride) << 16 | ld16(p + 2 * stride) << 32 | ld16(p + 3 * stride) << 48;
    /* keep the packing in general registers: left alone, the compiler
     * vectorizes it into a dozen shuffles on the ports the dot needs */
    __asm__("" : "+r"(lo), "+r"(hi));
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
}

/* Eight vectors of eight int32 → one vector of their eight totals, in order. */
QM_INLINE __m256i reduce8(__m256i s0, __m256i s1, __m256i s2, __m256i s3, __m256i s4, __m256i s5,
                          __m256i s6, __m256i s7)
{
    /* after two rounds each 128-bit lane holds one half of four totals */
    __m256i g0 = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
    __m256i g1 = _mm256_hadd_epi32(_mm256_hadd_epi32(s4, s5), _mm256_hadd_epi32(s6, s7));
    return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
}

/* The 32 four-bit codes of a block in element order: the 16 low nibbles in
 * the low lane, the 16 high nibbles in the high lane. */
QM_INLINE __m256i nibbles32(const uint8_t *qs)
{
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    v = _mm256_srlv_epi64(v, _mm256_set_epi64x(4, 4, 0, 0));
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

/* 0x10 in byte j where bit j of the little-endian qh is set, else 0. */
QM_INLINE __m256i fifth_bits32(const uint8_t *qh)
{
    uint32_t h;
    memcpy(&h, qh, 4);
    /* byte j gets the qh byte holding bit j, then all bits but bit j%8 are
     * forced on, so the byte is all ones exactly when bit j is set */
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), spread);
    v = _mm256_cmpeq_epi8(_mm256_or_si256(v, others), _mm256_set1_epi8(-1));
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

QM_INLINE __m256i load32(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* Σ u·a over 32 bytes, u unsigned, as eight int32 partial sums. */
QM_INLINE __m256i dot_u8s8(__m256i u, __m256i a)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1));
}

/* Σ (u - off)·a: the offset applied in 16 bits before the widening add. */
QM_INLINE __m256i dot_u8s8_off(__m256i u, __m256i a, int off)
{
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u, a), _mm256_maddubs_epi16(_mm256_set1_epi8((char)off), a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Σ w·a with both signed: the sign of w moves onto a. */
QM_INLINE __m256i dot_s8s8(__m256i w, __m256i a)
{
    return dot_u8s8(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
}

/* ---- per-block integer sums, one function per weight type ---------------- */

typedef __m256i (*blk_isum_fn)(const uint8_t *w, const uint8_t *a);

QM_INLINE __m256i isum_q4_0(const uint8_t *w, const uint8_t *a)
{
    const blk_q4_0 *x = (const blk_q4_0 *)w;
    const blk_q8_0 *y = (const blk_q8_0 *)a;
    return dot_u8s8_off(nibbles32(x->qs), load32(y->qs), 8);
}

QM_INLINE __m256i isum_q4_1(const uint8_t *w, const uint8_t *a)
{
    const blk_q4_1 *x = (const blk_q4_1 *)w;
    const blk_q8_1 *y = (const blk_q8_1 *)a;
    return dot_u8s8(nibbles32(x->qs), load32(y->qs));
}

QM_INLINE __m256i isum_q5_0(const uint8_t *w, const uint8_t *a)
{
    const blk_q5_0 *x = (const blk_q5_0 *)w;
    const blk_q8_0 *y = (const blk_q8_0 *)a;
    __m256i q = _mm256_or_si256(nibbles32(x->qs), fifth_bits32(x->qh));
    return dot_u8s8_off(q, load32(y->qs), 16);
}

QM_INLINE __m256i isum_q5_1(const uint8_t *w, const uint8_t *a)
{
    const blk_q5_1 *x = (const blk_q5_1 *)w;
    const blk_q8_1 *y = (const blk_q8_1 *)a;
    __m256i q = _mm256_or_si256(nibbles32(x->qs), fifth_bits32(x->qh));
    return dot_u8s8(q, load32(y->qs));
}

QM_INLINE __m256i isum_q8_0(const uint8_t *w, const uint8_t *a)
{
    const blk_q8_0 *x = (const blk_q8_0 *)w;
    const blk_q8_0 *y = (const blk_q8_0 *)a;
    return dot_s8s8(load32(x->qs), load32(y->qs));
}

QM_INLINE __m256i isum_iq4_nl(const uint8_t *w, const uint8_t *a)
{
    const blk_iq4_nl *x = (const blk_iq4_nl *)w;
    const blk_q8_0 *y = (const blk_q8_0 *)a;
    /* the code book and its magnitudes, looked up by nibble in each lane */
    const __m256i book = _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                                          -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    const __m256i mag = _mm256_abs_epi8(book);
    __m256i q = nibbles32(x->qs);
    __m256i v = _mm256_shuffle_epi8(book, q);
    return dot_u8s8(_mm256_shuffle_epi8(mag, q), _mm256_sign_epi8(load32(y->qs), v));
}

/* ---- the shared loop over 32-element blocks -------------------------------
 * Σ_b d_w·d_a·isum_b (+ m_w·s_a for the types with a minimum: the half at
 * byte 2 of both blocks).  Always inlined with a constant isum, so each
 * caller becomes its own straight-line kernel. */
QM_INLINE float dot_blocks32(int64_t nb, const uint8_t *w, size_t wsz, const uint8_t *a, size_t asz,
                             blk_isum_fn isum, int has_min)
{
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        const uint8_t *wb = w + (size_t)b * wsz, *ab = a + (size_t)b * asz;
        prefetch_ahead(wb, 8 * wsz);
        __m256i s0 = isum(wb, ab), s1 = isum(wb + wsz, ab + asz);
        __m256i s2 = isum(wb + 2 * wsz, ab + 2 * asz), s3 = isum(wb + 3 * wsz, ab + 3 * asz);
        __m256i s4 = isum(wb + 4 * wsz, ab + 4 * asz), s5 = isum(wb + 5 * wsz, ab + 5 * asz);
        __m256i s6 = isum(wb + 6 * wsz, ab + 6 * asz), s7 = isum(wb + 7 * wsz, ab + 7 * asz);
        __m256 sums = _mm256_cvtepi32_ps(reduce8(s0, s1, s2, s3, s4, s5, s6, s7));
        __m256 d = _mm256_mul_ps(f16x8(wb, wsz), f16x8(ab, asz));
        acc = _mm256_fmadd_ps(d, sums, acc);
        if (has_min)
            accm = _mm256_fmadd_ps(f16x8(wb + 2, wsz), f16x8(ab + 2, asz), accm);
    }
    float sum = hsum_ps(_mm256_add_ps(acc, accm));
    for (; b < nb; b++) {
        const uint8_t *wb = w + (size_t)b * wsz, *ab = a + (size_t)b * asz;
        sum += f16_at(wb) * f16_at(ab) * (float)hsum_epi32(isum(wb, ab));
        if (has_min)
            sum += f16_at(wb + 2) * f16_at(ab + 2);
    }
    return sum;
}

static void dot_q4_0(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_blocks32(n / QK4_0, w, sizeof(blk_q4_0), a, sizeof(blk_q8_0), isum_q4_0, 0);
}

static void dot_q4_1(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_blocks32(n / QK4_1, w, sizeof(blk_q4_1), a, sizeof(blk_q8_1), isum_q4_1, 1);
}

static void dot_q5_0(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_blocks32(n / QK5_0, w, sizeof(blk_q5_0), a, sizeof(blk_q8_0), isum_q5_0, 0);
}

static void dot_q5_1(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_blocks32(n / QK5_1, w, sizeof(blk_q5_1), a, sizeof(blk_q8_1), isum_q5_1, 1);
}

static void dot_q8_0(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_blocks32(n / QK8_0, w, sizeof(blk_q8_0), a, sizeof(blk_q8_0), isum_q8_0, 0);
}

static void dot_iq4_nl(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_blocks32(n / QK4_NL, w, sizeof(blk_iq4_nl), a, sizeof(blk_q8_0), isum_iq4_nl, 0);
}

/* ---- prepared activations (prep.h) ----------------------------------------
 * A group of eight Q8_0 or Q8_1 blocks becomes 320 bytes laid out for the
 * 4- and 5-bit kernels, which handle the weight blocks two at a time: block
 * 2p in the low lane, block 2p+1 in the high lane of one register, as a
 * single load of both blocks' 16 nibble bytes gives them.  The low nibbles
 * are then the first 16 elements of each block, the high nibbles the last
 * 16, and the prepared activation codes come in exactly that pairing.  Two
 * rounds of hadd over the four pairs leave the eight block sums in the order
 * 0 2 4 6 1 3 5 7, so the scales are stored in that order too.  Against the
 * plain kernels above this saves, per block: the activation scale
 * conversion, the reduction's last round and cross-lane fix-up, and for
 * Q4_0/Q5_0 the offset's multiply (Σa is precomputed); about 1.6 times
 * faster for Q4_0. */

struct prep_group {
    int8_t q[2 * 4][32];    /* pair p: q[2p] = first halves, q[2p+1] = last halves */
    float d[8];             /* block scales, in the order 0 2 4 6 1 3 5 7 */
    union {
        int32_t sum[8];     /* Q8_0: Σ codes of each block, same order */
        float s[8];         /* Q8_1: s of each block, same order */
    } u;
};
_Static_assert(sizeof(struct prep_group) == 320, "prepared group size");

static const int prep_order[8] = {0, 2, 4, 6, 1, 3, 5, 7};

QM_INLINE __m256i load_pair(const void *lo_lane, const void *hi_lane)
{
    return _mm256_loadu2_m128i((const __m128i *)hi_lane, (const __m128i *)lo_lane);
}

/* One activation row of nb blocks of asz bytes (codes at byte qoff) to its
 * prepared form; q8_1 selects what the union holds. */
static void prep_row(const uint8_t *act, uint8_t *prep, int64_t nb, size_t asz, size_t qoff, int q8_1)
{
    int64_t g = 0;
    for (; g < nb / 8; g++) {
        const uint8_t *y = act + (size_t)g * 8 * asz;
        struct prep_group *p = (struct prep_group *)(prep + (size_t)g * sizeof *p);
        for (int k = 0; k < 4; k++) {
            const uint8_t *a = y + (size_t)(2 * k) * asz + qoff, *b = y + (size_t)(2 * k + 1) * asz + qoff;
            _mm256_storeu_si256((__m256i *)p->q[2 * k], load_pair(a, b));
            _mm256_storeu_si256((__m256i *)p->q[2 * k + 1], load_pair(a + 16, b + 16));
        }
        for (int k = 0; k < 8; k++) {
            const uint8_t *blk = y + (size_t)prep_order[k] * asz;
            p->d[k] = f16_at(blk);
            if (q8_1)
                p->u.s[k] = f16_at(blk + 2);
            else
                p->u.sum[k] = hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1),
                                                                                  load32(blk + qoff)),
                                                           _mm256_set1_epi16(1)));
        }
    }
    /* the tail stays in the activation format */
    memcpy(prep + (size_t)g * sizeof(struct prep_group), act + (size_t)g * 8 * asz, (size_t)(nb % 8) * asz);
}

static void prep_q8_0(const void *act, void *prep, int64_t n)
{
    prep_row(act, prep, n / QK8_0, sizeof(blk_q8_0), offsetof(blk_q8_0, qs), 0);
}

static void prep_q8_1(const void *act, void *prep, int64_t n)
{
    prep_row(act, prep, n / QK8_1, sizeof(blk_q8_1), offsetof(blk_q8_1, qs), 1);
}

/* Eight halves of blocks 0 2 4 6 1 3 5 7 at stride, as floats. */
QM_INLINE __m256 f16x8_prep_order(const uint8_t *p, size_t stride)
{
    uint64_t lo = ld16(p) | ld16(p + 2 * stride) << 16 | ld16(p + 4 * stride) << 32 | ld16(p + 6 * stride) << 48;
    p += stride;
    uint64_t hi = ld16(p) | ld16(p + 2 * stride) << 16 | ld16(p + 4 * stride) << 32 | ld16(p + 6 * stride) << 48;
    __asm__("" : "+r"(lo), "+r"(hi));
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
}

/* Fifth bits of two Q5 blocks in the paired layout: 0x10 where set, for the
 * first halves (bits 0-15 of each qh) or the last halves (bits 16-31). */
QM_INLINE void fifth_bits_pair(const uint8_t *qh_a, const uint8_t *qh_b, __m256i *first, __m256i *last)
{
    uint32_t ha, hb;
    memcpy(&ha, qh_a, 4);
    memcpy(&hb, qh_b, 4);
    const __m256i spread_first = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                  0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m256i spread_last = _mm256_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
                                                 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    const __m256i all = _mm256_set1_epi8(-1), b4 = _mm256_set1_epi8(0x10);
    __m256i h = _mm256_setr_epi32((int)ha, 0, 0, 0, (int)hb, 0, 0, 0);
    *first = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_or_si256(_mm256_shuffle_epi8(h, spread_first), others), all), b4);
    *last = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_or_si256(_mm256_shuffle_epi8(h, spread_last), others), all), b4);
}

/* Products of weight blocks a, b against prepared pair (first, last
 * halves): eight int32, four partial sums of a then four of b. */
typedef __m256i (*pair_prod_fn)(const uint8_t *wa, const uint8_t *wb, const int8_t *first, const int8_t *last);

/* 4-bit codes: pairs <= 2·15·127 per maddubs, the two added stay in int16 */
QM_INLINE __m256i pair_nibbles(__m256i v, __m256i bits_first, __m256i bits_last, const int8_t *first,
                               const int8_t *last)
{
    const __m256i m15 = _mm256_set1_epi8(15);
    __m256i lo = _mm256_or_si256(_mm256_and_si256(v, m15), bits_first);
    __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m15), bits_last);
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, load32(first)), _mm256_maddubs_epi16(hi, load32(last)));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

QM_INLINE __m256i pair_q4_0(const uint8_t *wa, const uint8_t *wb, const int8_t *first, const int8_t *last)
{
    const __m256i z = _mm256_setzero_si256();
    return pair_nibbles(load_pair(((const blk_q4_0 *)wa)->qs, ((const blk_q4_0 *)wb)->qs), z, z, first, last);
}

QM_INLINE __m256i pair_q4_1(const uint8_t *wa, const uint8_t *wb, const int8_t *first, const int8_t *last)
{
    const __m256i z = _mm256_setzero_si256();
    return pair_nibbles(load_pair(((const blk_q4_1 *)wa)->qs, ((const blk_q4_1 *)wb)->qs), z, z, first, last);
}

/* 5-bit codes: pairs <= 2·31·127, the two added <= 15748, still int16 */
QM_INLINE __m256i pair_q5_0(const uint8_t *wa, const uint8_t *wb, const int8_t *first, const int8_t *last)
{
    const blk_q5_0 *a = (const blk_q5_0 *)wa, *b = (const blk_q5_0 *)wb;
    __m256i bf, bl;
    fifth_bits_pair(a->qh, b->qh, &bf, &bl);
    return pair_nibbles(load_pair(a->qs, b->qs), bf, bl, first, last);
}

QM_INLINE __m256i pair_q5_1(const uint8_t *wa, const uint8_t *wb, const int8_t *first, const int8_t *last)
{
    const blk_q5_1 *a = (const blk_q5_1 *)wa, *b = (const blk_q5_1 *)wb;
    __m256i bf, bl;
    fifth_bits_pair(a->qh, b->qh, &bf, &bl);
    return pair_nibbles(load_pair(a->qs, b->qs), bf, bl, first, last);
}

/* IQ4_NL: values up to 127 in magnitude, so a maddubs pair is up to 32258
 * and the two halves are widened separately before they are added */
QM_INLINE __m256i pair_iq4_nl(const uint8_t *wa, const uint8_t *wb, const int8_t *first, const int8_t *last)
{
    const __m256i book = _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                                          -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    const __m256i mag = _mm256_abs_epi8(book), m15 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    __m256i v = load_pair(((const blk_iq4_nl *)wa)->qs, ((const blk_iq4_nl *)wb)->qs);
    __m256i lo = _mm256_and_si256(v, m15), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m15);
    __m256i pl = _mm256_maddubs_epi16(_mm256_shuffle_epi8(mag, lo), _mm256_sign_epi8(load32(first), _mm256_shuffle_epi8(book, lo)));
    __m256i ph = _mm256_maddubs_epi16(_mm256_shuffle_epi8(mag, hi), _mm256_sign_epi8(load32(last), _mm256_shuffle_epi8(book, hi)));
    return _mm256_add_epi32(_mm256_madd_epi16(pl, ones), _mm256_madd_epi16(ph, ones));
}

/* Σ over a prepared row.  offset_shift: Q4_0 (3) and Q5_0 (4) subtract
 * 8·Σa or 16·Σa from each block sum; has_min: Q4_1/Q5_1 add m·s.  The tail
 * blocks go through the plain per-block functions. */
QM_INLINE float dot_prep32(int64_t nb, const uint8_t *w, size_t wsz, const uint8_t *prep, size_t asz,
                           pair_prod_fn pair, blk_isum_fn isum, int offset_shift, int has_min)
{
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    int64_t g = 0;
    for (; g < nb / 8; g++) {
        const uint8_t *wg = w + (size_t)g * 8 * wsz;
        const struct prep_group *p = (const struct prep_group *)(prep + (size_t)g * sizeof *p);
        prefetch_ahead(wg, 8 * wsz);
        __m256i m0 = pair(wg, wg + wsz, p->q[0], p->q[1]);
        __m256i m1 = pair(wg + 2 * wsz, wg + 3 * wsz, p->q[2], p->q[3]);
        __m256i m2 = pair(wg + 4 * wsz, wg + 5 * wsz, p->q[4], p->q[5]);
        __m256i m3 = pair(wg + 6 * wsz, wg + 7 * wsz, p->q[6], p->q[7]);
        __m256i r = _mm256_hadd_epi32(_mm256_hadd_epi32(m0, m1), _mm256_hadd_epi32(m2, m3));
        if (offset_shift)
            r = _mm256_sub_epi32(r, _mm256_slli_epi32(load32(p->u.sum), offset_shift));
        __m256 d = _mm256_mul_ps(f16x8_prep_order(wg, wsz), _mm256_loadu_ps(p->d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(r), acc);
        if (has_min)
            accm = _mm256_fmadd_ps(f16x8_prep_order(wg + 2, wsz), _mm256_loadu_ps(p->u.s), accm);
    }
    float sum = hsum_ps(_mm256_add_ps(acc, accm));
    const uint8_t *tail = prep + (size_t)g * sizeof(struct prep_group);
    for (int64_t b = g * 8; b < nb; b++) {
        const uint8_t *wb = w + (size_t)b * wsz, *ab = tail + (size_t)(b - g * 8) * asz;
        sum += f16_at(wb) * f16_at(ab) * (float)hsum_epi32(isum(wb, ab));
        if (has_min)
            sum += f16_at(wb + 2) * f16_at(ab + 2);
    }
    return sum;
}

static void dot_prep_q4_0(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_prep32(n / QK4_0, w, sizeof(blk_q4_0), a, sizeof(blk_q8_0), pair_q4_0, isum_q4_0, 3, 0);
}

static void dot_prep_q4_1(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_prep32(n / QK4_1, w, sizeof(blk_q4_1), a, sizeof(blk_q8_1), pair_q4_1, isum_q4_1, 0, 1);
}

static void dot_prep_q5_0(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_prep32(n / QK5_0, w, sizeof(blk_q5_0), a, sizeof(blk_q8_0), pair_q5_0, isum_q5_0, 4, 0);
}

static void dot_prep_q5_1(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_prep32(n / QK5_1, w, sizeof(blk_q5_1), a, sizeof(blk_q8_1), pair_q5_1, isum_q5_1, 0, 1);
}

static void dot_prep_iq4_nl(int64_t n, float *s, const void *w, const void *a)
{
    *s = dot_prep32(n / QK4_NL, w, sizeof(blk_iq4_nl), a, sizeof(blk_q8_0), pair_iq4_nl, isum_iq4_nl, 0, 0);
}

/* ---- four activation rows at once (the vec_dot_x4 slot of kernels.h) ------
 * Prompt processing applies every weight row to many token rows, and the
 * single dots above unpack the weight blocks again for each of them.  These
 * kernels unpack a group of eight weight blocks (nibbles split, fifth bits
 * merged, code book looked up, weight scales converted) once into registers
 * and run the multiplies of four token rows against it, with one
 * accumulator per token.  For each token the arithmetic is the one of the
 * single kernel for the same rows (the prepared dot for the types that have
 * one, which is why they read prepared rows), in the same order, so the
 * results equal the single kernel's. */

/* A pair of weight blocks unpacked for the prepared layout: u_first/u_last
 * are the unsigned maddubs operands of the first/last halves, and for a
 * code-book type v_first/v_last the signed values whose signs move onto the
 * activations. */
typedef void (*pair_unpack_fn)(const uint8_t *wa, const uint8_t *wb, __m256i *u_first, __m256i *u_last,
                               __m256i *v_first, __m256i *v_last);

QM_INLINE void unpack_nibbles(__m256i v, __m256i *lo, __m256i *hi)
{
    const __m256i m15 = _mm256_set1_epi8(15);
    *lo = _mm256_and_si256(v, m15);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m15);
}

QM_INLINE void unpack_q4_0(const uint8_t *wa, const uint8_t *wb, __m256i *uf, __m256i *ul, __m256i *vf,
                           __m256i *vl)
{
    (void)vf, (void)vl;
    unpack_nibbles(load_pair(((const blk_q4_0 *)wa)->qs, ((const blk_q4_0 *)wb)->qs), uf, ul);
}

QM_INLINE void unpack_q4_1(const uint8_t *wa, const uint8_t *wb, __m256i *uf, __m256i *ul, __m256i *vf,
                           __m256i *vl)
{
    (void)vf, (void)vl;
    unpack_nibbles(load_pair(((const blk_q4_1 *)wa)->qs, ((const blk_q4_1 *)wb)->qs), uf, ul);
}

QM_INLINE void unpack_q5_0(const uint8_t *wa, const uint8_t *wb, __m256i *uf, __m256i *ul, __m256i *vf,
                           __m256i *vl)
{
    const blk_q5_0 *a = (const blk_q5_0 *)wa, *b = (const blk_q5_0 *)wb;
    __m256i bf, bl;
    (void)vf, (void)vl;
    fifth_bits_pair(a->qh, b->qh, &bf, &bl);
    unpack_nibbles(load_pair(a->qs, b->qs), uf, ul);
    *uf = _mm256_or_si256(*uf, bf);
    *ul = _mm256_or_si256(*ul, bl);
}

QM_INLINE void unpack_q5_1(const uint8_t *wa, const uint8_t *wb, __m256i *uf, __m256i *ul, __m256i *vf,
                           __m256i *vl)
{
    const blk_q5_1 *a = (const blk_q5_1 *)wa, *b = (const blk_q5_1 *)wb;
    __m256i bf, bl;
    (void)vf, (void)vl;
    fifth_bits_pair(a->qh, b->qh, &bf, &bl);
    unpack_nibbles(load_pair(a->qs, b->qs), uf, ul);
    *uf = _mm256_or_si256(*uf, bf);
    *ul = _mm256_or_si256(*ul, bl);
}

QM_INLINE void unpack_iq4_nl(const uint8_t *wa, const uint8_t *wb, __m256i *uf, __m256i *ul, __m256i *vf,
                             __m256i *vl)
{
    const __m256i book = _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                                          -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    const __m256i mag = _mm256_abs_epi8(book);
    __m256i lo, hi;
    unpack_nibbles(load_pair(((const blk_iq4_nl *)wa)->qs, ((const blk_iq4_nl *)wb)->qs), &lo, &hi);
    *uf = _mm256_shuffle_epi8(mag, lo);
    *ul = _mm256_shuffle_epi8(mag, hi);
    *vf = _mm256_shuffle_epi8(book, lo);
    *vl = _mm256_shuffle_epi8(book, hi);
}

/* The products of one unpacked pair against one prepared pair, as the
 * pair_* functions above compute them (book: IQ4_NL's signed values, whose
 * 16-bit pair sums must be widened before they are added). */
QM_INLINE __m256i pair_x(__m256i uf, __m256i ul, __m256i vf, __m256i vl, const int8_t *first, const int8_t *last,
                         int book)
{
    const __m256i ones = _mm256_set1_epi16(1);
    if (book) {
        __m256i pl = _mm256_maddubs_epi16(uf, _mm256_sign_epi8(load32(first), vf));
        __m256i ph = _mm256_maddubs_epi16(ul, _mm256_sign_epi8(load32(last), vl));
        return _mm256_add_epi32(_mm256_madd_epi16(pl, ones), _mm256_madd_epi16(ph, ones));
    }
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(uf, load32(first)), _mm256_maddubs_epi16(ul, load32(last)));
    return _mm256_madd_epi16(p, ones);
}

/* dot_prep32 for the four prepared rows at prep + k·stride. */
QM_INLINE void dot_prep32_x4(int64_t nb, float *s, const uint8_t *w, size_t wsz, const uint8_t *prep,
                             size_t stride, size_t asz, pair_unpack_fn unpack, blk_isum_fn isum, int offset_shift,
                             int has_min, int book)
{
    __m256 acc[4], accm[4];
    for (int k = 0; k < 4; k++)
        acc[k] = accm[k] = _mm256_setzero_ps();
    int64_t g = 0;
    for (; g < nb / 8; g++) {
        const uint8_t *wg = w + (size_t)g * 8 * wsz;
        prefetch_ahead(wg, 8 * wsz);
        __m256i u[8], v[8];
        for (int q = 0; q < 4; q++) {
            v[2 * q] = v[2 * q + 1] = _mm256_setzero_si256();
            unpack(wg + (size_t)(2 * q) * wsz, wg + (size_t)(2 * q + 1) * wsz, &u[2 * q], &u[2 * q + 1], &v[2 * q],
                   &v[2 * q + 1]);
        }
        __m256 dw = f16x8_prep_order(wg, wsz);
        __m256 mw = has_min ? f16x8_prep_order(wg + 2, wsz) : _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            const struct prep_group *p =
                (const struct prep_group *)(prep + (size_t)k * stride + (size_t)g * sizeof(struct prep_group));
            __m256i m0 = pair_x(u[0], u[1], v[0], v[1], p->q[0], p->q[1], book);
            __m256i m1 = pair_x(u[2], u[3], v[2], v[3], p->q[2], p->q[3], book);
            __m256i m2 = pair_x(u[4], u[5], v[4], v[5], p->q[4], p->q[5], book);
            __m256i m3 = pair_x(u[6], u[7], v[6], v[7], p->q[6], p->q[7], book);
            __m256i r = _mm256_hadd_epi32(_mm256_hadd_epi32(m0, m1), _mm256_hadd_epi32(m2, m3));
            if (offset_shift)
                r = _mm256_sub_epi32(r, _mm256_slli_epi32(load32(p->u.sum), offset_shift));
            acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_loadu_ps(p->d)), _mm256_cvtepi32_ps(r), acc[k]);
            if (has_min)
                accm[k] = _mm256_fmadd_ps(mw, _mm256_loadu_ps(p->u.s), accm[k]);
        }
    }
    for (int k = 0; k < 4; k++) {
        float sum = hsum_ps(_mm256_add_ps(acc[k], accm[k]));
        const uint8_t *tail = prep + (size_t)k * stride + (size_t)g * sizeof(struct prep_group);
        for (int64_t b = g * 8; b < nb; b++) {
            const uint8_t *wb = w + (size_t)b * wsz, *ab = tail + (size_t)(b - g * 8) * asz;
            sum += f16_at(wb) * f16_at(ab) * (float)hsum_epi32(isum(wb, ab));
            if (has_min)
                sum += f16_at(wb + 2) * f16_at(ab + 2);
        }
        s[k] = sum;
    }
}

static void dot_x4_q4_0(int64_t n, float *s, const void *w, const void *a, size_t stride)
{
    dot_prep32_x4(n / QK4_0, s, w, sizeof(blk_q4_0), a, stride, sizeof(blk_q8_0), unpack_q4_0, isum_q4_0, 3, 0, 0);
}

static void dot_x4_q4_1(int64_t n, float *s, const void *w, const void *a, size_t stride)
{
    dot_prep32_x4(n / QK4_1, s, w, sizeof(blk_q4_1), a, stride, sizeof(blk_q8_1), unpack_q4_1, isum_q4_1, 0, 1, 0);
}

static void dot_x4_q5_0(int64_t n, float *s, const void *w, const void *a, size_t stride)
{
    dot_prep32_x4(n / QK5_0, s, w, sizeof(blk_q5_0), a, stride, sizeof(blk_q8_0), unpack_q5_0, isum_q5_0, 4, 0, 0);
}

static void dot_x4_q5_1(int64_t n, float *s, const void *w, const void *a, size_t stride)
{
    dot_prep32_x4(n / QK5_1, s, w, sizeof(blk_q5_1), a, stride, sizeof(blk_q8_1), unpack_q5_1, isum_q5_1, 0, 1, 0);
}

static void dot_x4_iq4_nl(int64_t n, float *s, const void *w, const void *a, size_t stride)
{
    dot_prep32_x4(n / QK4_NL, s, w, sizeof(blk_iq4_nl), a, stride, sizeof(blk_q8_0), unpack_iq4_nl, isum_iq4_nl, 0,
                  0, 1);
}

/* Q8_0 has no x4 dot: with the weight's signs moved onto the activation,
 * all that four tokens could share is |w| and the weight scales, and the
 * x4 versions tried (|w| of eight blocks kept for four tokens; the same in
 * two halves of four blocks) measured 10-25% slower than four single dots
 * on the development machine, so the matmul keeps the single one. */

/* ---- float weights, f32 activations ---------------------------------------
 * Eight independent accumulators so the FMA latency never stalls the stream
 * (four measured a few percent short of the read bandwidth from DRAM);
 * the converters (F16C for halves, a widen-and-shift for bfloat16) are the
 * only difference between the three. */

typedef __m256 (*load8_fn)(const void *w, int64_t i);

QM_INLINE __m256 load8_f32(const void *w, int64_t i)
{
    return _mm256_loadu_ps((const float *)w + i);
}

QM_INLINE __m256 load8_f16(const void *w, int64_t i)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const qm_f16 *)w + i)));
}

QM_INLINE __m256 load8_bf16(const void *w, int64_t i)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const qm_bf16 *)w + i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

QM_INLINE float dot_floats(int64_t n, const void *w, const float *y, load8_fn load8, size_t esz)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        prefetch_ahead((const uint8_t *)w + i * esz, 64 * esz);
        a0 = _mm256_fmadd_ps(load8(w, i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(load8(w, i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(load8(w, i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(load8(w, i + 24), _mm256_loadu_ps(y + i + 24), a3);
        a4 = _mm256_fmadd_ps(load8(w, i + 32), _mm256_loadu_ps(y + i + 32), a4);
        a5 = _mm256_fmadd_ps(load8(w, i + 40), _mm256_loadu_ps(y + i + 40), a5);
        a6 = _mm256_fmadd_ps(load8(w, i + 48), _mm256_loadu_ps(y + i + 48), a6);
        a7 = _mm256_fmadd_ps(load8(w, i + 56), _mm256_loadu_ps(y + i + 56), a7);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(load8(w, i), _mm256_loadu_ps(y + i), a0);
    a0 = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    a4 = _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7));
    return hsum_ps(_mm256_add_ps(a0, a4));
}

static void dot_f32(int64_t n, float *s, const void *w, const void *a)
{
    const float *x = w, *y = a;
    float sum = dot_floats(n, w, y, load8_f32, 4);
    for (int64_t i = n & ~(int64_t)7; i < n; i++)
        sum += x[i] * y[i];
    *s = sum;
}

static void dot_f16(int64_t n, float *s, const void *w, const void *a)
{
    const qm_f16 *x = w;
    const float *y = a;
    float sum = dot_floats(n, w, y, load8_f16, 2);
    for (int64_t i = n & ~(int64_t)7; i < n; i++)
        sum += _cvtsh_ss(x[i]) * y[i];
    *s = sum;
}

static void dot_bf16(int64_t n, float *s, const void *w, const void *a)
{
    const qm_bf16 *x = w;
    const float *y = a;
    float sum = dot_floats(n, w, y, load8_bf16, 2);
    for (int64_t i = n & ~(int64_t)7; i < n; i++)
        sum += qm_bf16_to_f32(x[i]) * y[i];
    *s = sum;
}

/* ---- activation quantizers ------------------------------------------------
 * Byte-identical to the reference ones in quant_act.c, only eight values at a
 * time: the same scale (max|x|/127 in f32, its reciprocal in f32, the f16
 * copy saturated at 65504) and the same rounding of half away from zero,
 * which the vector unit has no mode for and so is spelled out as
 * truncate-then-compare.  Being identical means the dot kernels see exactly
 * the codes the reference path would, and the tests can say so.  Blocks off
 * the common path (all zero, a scale too small to invert, an Inf or NaN in
 * the input) are rare and handed to the reference quantizer, which owns the
 * rules for them. */

/* max |x| over n values (a multiple of 32), taken on the bit patterns as the
 * reference does, so that a NaN or Inf in the input comes out as one */
QM_INLINE float absmax(const float *x, int n)
{
    const __m256i mask = _mm256_set1_epi32(0x7fffffff);
    __m256i m = _mm256_setzero_si256();
    for (int j = 0; j < n; j += 16) {
        __m256i a = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + j)), mask);
        __m256i b = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + j + 8)), mask);
        m = _mm256_max_epi32(m, _mm256_max_epi32(a, b));
    }
    __m128i h = _mm_max_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    h = _mm_max_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_max_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtss_f32(_mm_castsi128_ps(h));
}

/* 1/d for d = max|x|/127 when the block is on the common path, else 0 */
QM_INLINE float common_inverse(float d)
{
    if (!(d > 0.0f && d <= 3.4028234e38f))
        return 0.0f;
    float id = 1.0f / d;
    return id <= 3.4028234e38f ? id : 0.0f;
}

/* f32 → f16 saturating at the largest finite half, as the reference */
QM_INLINE qm_f16 f16_sat(float v)
{
    v = v <= 65504.0f ? v : 65504.0f;
    v = v >= -65504.0f ? v : -65504.0f;
    return (qm_f16)_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT);
}

/* round(x·id) of eight values, half away from zero; |x·id| <= 127.0001 */
QM_INLINE __m256i round_codes8(const float *x, __m256 id)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), id);
    __m256 a = _mm256_andnot_ps(sign, v);
    __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 up = _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(a, t), _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                              _mm256_set1_ps(1.0f));
    return _mm256_cvttps_epi32(_mm256_or_ps(_mm256_add_ps(t, up), _mm256_and_ps(v, sign)));
}

/* Four vectors of int32 codes (32 in element order) → 32 int8 at dst. */
QM_INLINE void store_codes32(int8_t *dst, __m256i i0, __m256i i1, __m256i i2, __m256i i3)
{
    /* the packs work per 128-bit lane: the low lane ends up with codes 0-3 of
     * each input, the high lane codes 4-7; one permute restores the order */
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)dst, p);
}

/* Codes of 32 values at dst; returns their sum.  Four vectors of the int32
 * codes are left in c[] for callers that want more sums. */
QM_INLINE int32_t codes32(const float *x, __m256 id, int8_t *dst, __m256i c[4])
{
    for (int k = 0; k < 4; k++)
        c[k] = round_codes8(x + 8 * k, id);
    store_codes32(dst, c[0], c[1], c[2], c[3]);
    return hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(c[0], c[1]), _mm256_add_epi32(c[2], c[3])));
}

static void quant_q8_0(const float *x, void *dst, int64_t n)
{
    blk_q8_0 *y = dst;
    __m256i c[4];
    for (int64_t b = 0; b < n / QK8_0; b++, x += QK8_0) {
        float d = absmax(x, QK8_0) / 127.0f;
        float id = common_inverse(d);
        if (id == 0.0f) {
            qm_quant_q8_0(x, &y[b], QK8_0);
            continue;
        }
        y[b].d = f16_sat(d);
        codes32(x, _mm256_set1_ps(id), y[b].qs, c);
    }
}

static void quant_q8_1(const float *x, void *dst, int64_t n)
{
    blk_q8_1 *y = dst;
    __m256i c[4];
    for (int64_t b = 0; b < n / QK8_1; b++, x += QK8_1) {
        float d = absmax(x, QK8_1) / 127.0f;
        float id = common_inverse(d);
        if (id == 0.0f) {
            qm_quant_q8_1(x, &y[b], QK8_1);
            continue;
        }
        int32_t sum = codes32(x, _mm256_set1_ps(id), y[b].qs, c);
        y[b].d = f16_sat(d);
        y[b].s = f16_sat(d * (float)sum);
    }
}

static void quant_q8_k(const float *x, void *dst, int64_t n)
{
    blk_q8_k *y = dst;
    __m256i c[8];
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float d = absmax(x, QK_K) / 127.0f;
        float id = common_inverse(d);
        if (id == 0.0f) {
            qm_quant_q8_k(x, &y[b], QK_K);
            continue;
        }
        y[b].d = d;
        __m256 vid = _mm256_set1_ps(id);
        for (int j = 0; j < QK_K; j += 64) {
            codes32(x + j, vid, y[b].qs + j, c);
            codes32(x + j + 32, vid, y[b].qs + j + 32, c + 4);
            /* bsums of the four groups of 16 among these 64 codes */
            __m256i g0 = _mm256_add_epi32(c[0], c[1]), g1 = _mm256_add_epi32(c[2], c[3]);
            __m256i g2 = _mm256_add_epi32(c[4], c[5]), g3 = _mm256_add_epi32(c[6], c[7]);
            __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(g0, g1), _mm256_hadd_epi32(g2, g3));
            __m128i t = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
            _mm_storel_epi64((__m128i *)&y[b].bsums[j / 16], _mm_packs_epi32(t, t));
        }
    }
}

/* ---- registration ------------------------------------------------------- */

void qm_kernels_register_avx2(struct qm_cpu_kernels *k)
{
    k->vec_dot[QM_TYPE_F32] = dot_f32;
    k->vec_dot[QM_TYPE_F16] = dot_f16;
    k->vec_dot[QM_TYPE_BF16] = dot_bf16;
    k->vec_dot[QM_TYPE_Q4_0] = dot_q4_0;
    k->vec_dot[QM_TYPE_Q4_1] = dot_q4_1;
    k->vec_dot[QM_TYPE_Q5_0] = dot_q5_0;
    k->vec_dot[QM_TYPE_Q5_1] = dot_q5_1;
    k->vec_dot[QM_TYPE_Q8_0] = dot_q8_0;
    k->vec_dot[QM_TYPE_IQ4_NL] = dot_iq4_nl;
    /* the x4 dots of the prepared types read prepared rows, as their
     * single dots in the matmul do (qm_prep_register_avx2 below) */
    k->vec_dot_x4[QM_TYPE_Q4_0] = dot_x4_q4_0;
    k->vec_dot_x4[QM_TYPE_Q4_1] = dot_x4_q4_1;
    k->vec_dot_x4[QM_TYPE_Q5_0] = dot_x4_q5_0;
    k->vec_dot_x4[QM_TYPE_Q5_1] = dot_x4_q5_1;
    k->vec_dot_x4[QM_TYPE_IQ4_NL] = dot_x4_iq4_nl;
    k->quantize[QM_TYPE_Q8_0] = quant_q8_0;
    k->quantize[QM_TYPE_Q8_1] = quant_q8_1;
    k->quantize[QM_TYPE_Q8_K] = quant_q8_k;
}

void qm_prep_register_avx2(struct qm_cpu_prep *p)
{
    p->prepare[QM_TYPE_Q8_0] = prep_q8_0;
    p->prepare[QM_TYPE_Q8_1] = prep_q8_1;
    p->group_size[QM_TYPE_Q8_0] = sizeof(struct prep_group);
    p->group_size[QM_TYPE_Q8_1] = sizeof(struct prep_group);
    p->dot[QM_TYPE_Q4_0] = dot_prep_q4_0;
    p->dot[QM_TYPE_Q4_1] = dot_prep_q4_1;
    p->dot[QM_TYPE_Q5_0] = dot_prep_q5_0;
    p->dot[QM_TYPE_Q5_1] = dot_prep_q5_1;
    p->dot[QM_TYPE_IQ4_NL] = dot_prep_iq4_nl;
}
