/* quant_k.c - the K-quants (Q2_K ... Q6_K) and IQ4_XS: super-blocks of 256
 * values to f32, and f32 to the five K-quants.
 *
 * The dequantizers are bit-exact with the gguf package; the quantizers are
 * our own least-squares method, described in the comment block above them.
 * IQ4_XS is read only (qm writes no IQ types); Q8_K, the activation format
 * of all of these, is quantized in quant_act.c. */
#include <math.h>
#include <string.h>

#include "quant_impl.h"

/* ---- dequantization --------------------------------------------------
 * Layouts per engine-reference.md 2.3.  Each value is (d * scale) * q or
 * (d * scale) * q - (dmin * min), evaluated in f32 in that order, which is
 * the order of the gguf package: the results are bit-identical to it. */

/* Q4_K / Q5_K: the 6-bit scale and min of sub-block j (0..7) */
static void kq_get_scale_min(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

void qm_dequant_q2_k(const void *src, float *dst, int64_t n)
{
    const blk_q2_k *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++, dst += QK_K) {
        float d = qm_f16_to_f32(b->d), dmin = qm_f16_to_f32(b->dmin);
        for (int e = 0; e < QK_K; e += 16) {
            int s = e / 16;
            float dl = d * (float)(b->scales[s] & 15);
            float ml = dmin * (float)(b->scales[s] >> 4);
            /* element e: byte 32*(e/128) + e%32, 2-bit plane (e/32)%4 */
            const uint8_t *q = b->qs + 32 * (e / 128) + e % 32;
            int shift = 2 * ((e / 32) % 4);
            for (int l = 0; l < 16; l++)
                dst[e + l] = dl * (float)((q[l] >> shift) & 3) - ml;
        }
    }
}

void qm_dequant_q3_k(const void *src, float *dst, int64_t n)
{
    const blk_q3_k *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++, dst += QK_K) {
        float d = qm_f16_to_f32(b->d);
        for (int e = 0; e < QK_K; e += 16) {
            int s = e / 16;
            int lo = s < 8 ? b->scales[s] & 15 : b->scales[s - 8] >> 4;
            int hi = (b->scales[8 + s % 4] >> (2 * (s / 4))) & 3;
            float dl = d * (float)((lo | hi << 4) - 32);
            const uint8_t *q = b->qs + 32 * (e / 128) + e % 32;
            const uint8_t *hm = b->hmask + e % 32;
            int shift = 2 * ((e / 32) % 4), bit = e / 32;
            for (int l = 0; l < 16; l++) {
                int c = ((q[l] >> shift) & 3) - (((hm[l] >> bit) & 1) ? 0 : 4);
                dst[e + l] = dl * (float)c;
            }
        }
    }
}

void qm_dequant_q4_k(const void *src, float *dst, int64_t n)
{
    const blk_q4_k *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++, dst += QK_K) {
        float d = qm_f16_to_f32(b->d), dmin = qm_f16_to_f32(b->dmin);
        for (int s = 0; s < 8; s++) {
            int sc, m;
            kq_get_scale_min(b->scales, s, &sc, &m);
            float dl = d * (float)sc, ml = dmin * (float)m;
            /* sub-block s: bytes 32*(s/2).., low nibble for even s */
            const uint8_t *q = b->qs + 32 * (s / 2);
            int shift = 4 * (s % 2);
            for (int l = 0; l < 32; l++)
                dst[32 * s + l] = dl * (float)((q[l] >> shift) & 15) - ml;
        }
    }
}

void qm_dequant_q5_k(const void *src, float *dst, int64_t n)
{
    const blk_q5_k *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++, dst += QK_K) {
        float d = qm_f16_to_f32(b->d), dmin = qm_f16_to_f32(b->dmin);
        for (int s = 0; s < 8; s++) {
            int sc, m;
            kq_get_scale_min(b->scales, s, &sc, &m);
            float dl = d * (float)sc, ml = dmin * (float)m;
            const uint8_t *q = b->qs + 32 * (s / 2);
            int shift = 4 * (s % 2);
            for (int l = 0; l < 32; l++) {
                int c = ((q[l] >> shift) & 15) | ((b->qh[l] >> s) & 1) << 4;
                dst[32 * s + l] = dl * (float)c - ml;
            }
        }
    }
}

void qm_dequant_q6_k(const void *src, float *dst, int64_t n)
{
    const blk_q6_k *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++, dst += QK_K) {
        float d = qm_f16_to_f32(b->d);
        for (int e = 0; e < QK_K; e += 16) {
            float dl = d * (float)b->scales[e / 16];
            int h = e / 128, r = (e / 32) % 4;
            /* low 4 bits: ql[64h + 32(r%2) + l], nibble r/2; high 2 bits:
             * bits 2r, 2r+1 of qh[32h + l] */
            const uint8_t *ql = b->ql + 64 * h + 32 * (r % 2) + e % 32;
            const uint8_t *qh = b->qh + 32 * h + e % 32;
            for (int l = 0; l < 16; l++) {
                int c = ((ql[l] >> (4 * (r / 2))) & 15) | ((qh[l] >> (2 * r)) & 3) << 4;
                dst[e + l] = dl * (float)(c - 32);
            }
        }
    }
}

void qm_dequant_iq4_xs(const void *src, float *dst, int64_t n)
{
    const blk_iq4_xs *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b++, dst += QK_K) {
        float d = qm_f16_to_f32(b->d);
        for (int s = 0; s < QK_K / 32; s++) {
            int ls = ((b->scales_l[s / 2] >> (4 * (s % 2))) & 15) | ((b->scales_h >> (2 * s)) & 3) << 4;
            float dl = d * (float)(ls - 32);
            const uint8_t *q = b->qs + 16 * s;
            for (int j = 0; j < 16; j++) {
                dst[32 * s + j] = dl * (float)qm_iq4nl_values[q[j] & 15];
                dst[32 * s + 16 + j] = dl * (float)qm_iq4nl_values[q[j] >> 4];
            }
        }
    }
}

/* ---- quantization ----------------------------------------------------
 *
 * The method (our own; no reference quantizer is matched here).
 *
 * Every K-quant stores a super-block of 256 values as sub-blocks of 16 or
 * 32 with small integer codes, a small integer scale (and for the
 * "asymmetric" types an integer min) per sub-block, and one or two f16
 * super-scales.  A value decodes as d*sc*q - dmin*m (Q2_K, Q4_K, Q5_K: codes
 * 0..nmax, sc and m unsigned) or d*sc*q (Q3_K: q in -4..3, sc in -32..31;
 * Q6_K: q in -32..31, sc in -128..127).  We minimize the plain squared error
 * of the decoded values, in four steps per super-block:
 *
 * 1. Sub-block fit, real-valued.  Asymmetric: x ~ a*q + b with a >= 0 and
 *    b <= 0 (the format stores -b as an unsigned min).  Starting from the
 *    min/max grid (b = min(x, 0), a = range/nmax) we try a fan of grids a
 *    little finer than min/max (which clip the extremes of the sub-block in
 *    exchange for finer steps in the middle); for each grid the codes are
 *    rounded and then a and b are solved by least squares for those codes
 *    (a 2x2 system, with the b <= 0 constraint applied).  The best is
 *    polished by alternating re-rounding and least squares (Lloyd) until the
 *    error stops falling.  Symmetric: the same with x ~ a*q, trying both
 *    orientations, since the code range is lopsided (-4..3): the larger
 *    magnitude side should get the extra level.
 * 2. Scale quantization.  d = max(a)/smax and dmin = max(-b)/smax (for the
 *    symmetric types d = -v/slo with v the signed largest sub-block scale),
 *    rounded to f16 at once, so that everything after works with the values
 *    a reader will see.  Each sub-block's integer scale (and min) is then
 *    chosen among the three nearest to a/d (-b/dmin), nine pairs for the
 *    asymmetric types, re-rounding the codes for each and keeping the pair
 *    with the smallest error: with 4-bit scales (Q2_K) the nearest integer
 *    is often not the best one.
 * 3. Super-scale refit.  With the integer scales, mins and codes fixed, d
 *    (and dmin) are solved by least squares over all 256 values, rounded to
 *    f16, and step 2's search is repeated around the current integers; kept
 *    only when the total error falls.  Two rounds.
 * 4. Packing into the GGUF layout (the inverse of the dequantizers above).
 *
 * Codes round to nearest.  Every division is guarded: an all-zero
 * sub-block gets scale 0 and codes that decode to exact zeros; a super-block
 * too small for an f16 d (below ~6e-8 * smax) decodes to zeros rather than
 * to NaN; d is clamped to the largest finite half so an enormous input is
 * clipped, never turned into Inf.  Relative RMSE on N(0,1) data: Q2_K 0.264,
 * Q3_K 0.143, Q4_K 0.070, Q5_K 0.035, Q6_K 0.017 (bounds in
 * tests/unit/test_quant.c).
 *
 * Cost: some 40 passes over each value, ~400 instructions per value (about
 * 50 ns on the build machine); the two inner loops (kq_eval, kq_try) are
 * written as 16 float lanes so they vectorize at -O2.  There is no static
 * state: callers may quantize rows on many threads at once. */

/* Search effort, chosen by measurement (relative RMSE on N(0,1) against
 * instructions per value): more grids in step 1 changed the fourth digit
 * only, since the Lloyd polish and step 2 do the real work; a second round
 * of step 3 is worth ~0.5% for Q2_K and costs a third more time. */
#define KQ_FAN 5               /* grids tried per sub-block in step 1 */
#define KQ_WIDTH 0.6f          /* the finest of them: steps 1.6x min/max's */
#define KQ_LLOYD 8             /* at most this many polish iterations */
#define KQ_ROUNDS 2            /* rounds of step 3 */

struct kq_shape {
    int sub;                   /* values per sub-block: 16 or 32 */
    int qlo, qhi;              /* code range */
    int slo, shi;              /* integer scale (and min) range */
};

/* nearest integer to v (half away from zero), clamped to [lo, hi]; a NaN
 * gives lo */
static inline int kq_code(float v, int lo, int hi)
{
    if (!(v > (float)lo))
        return lo;
    if (v >= (float)hi)
        return hi;
    return v >= 0.0f ? (int)(v + 0.5f) : -(int)(0.5f - v);
}

/* the value a reader will see for a super-scale: f16, finite */
static float kq_half(float v)
{
    if (v > 65504.0f)
        v = 65504.0f;
    else if (v < -65504.0f)
        v = -65504.0f;
    return qm_f16_to_f32(qm_f32_to_f16(v));
}

/* sum of 16 lanes, pairwise: the halving steps are element-wise and
 * vectorize, a plain sum loop would be 16 dependent scalar adds */
static inline float kq_hsum16(float *a)
{
    for (int l = 0; l < 8; l++)
        a[l] += a[l + 8];
    for (int l = 0; l < 4; l++)
        a[l] += a[l + 4];
    return (a[0] + a[2]) + (a[1] + a[3]);
}

/* kq_half, but never smaller in magnitude than v (unless v is beyond the
 * f16 range): a super-scale rounded down would push the largest sub-block
 * scale past the integer range, where it is clamped.  That costs ~0.05% in
 * the normal f16 range but up to several percent where d is an f16
 * subnormal of a few ulps (super-blocks of values around 1e-3). */
static float kq_half_up(float v)
{
    float a = v < 0 ? -v : v;
    if (!(a < 65504.0f))
        return kq_half(v);
    qm_f16 h = qm_f32_to_f16(a);
    if (qm_f16_to_f32(h) < a)
        h++;                                   /* next half up: bits are ordered */
    float r = qm_f16_to_f32(h);
    return v < 0 ? -r : r;
}

/* The sums least squares needs for one candidate grid. */
struct kq_sums {
    double sq, sqq, sqx;
};

/* Codes q = clamp(round((x - b) * ia)) of one sub-block (n a multiple of 16)
 * and their sums.  The hot loop of the quantizers: written as 16 lanes with
 * per-lane partial sums and branch-free clamps so that it vectorizes
 * (a float reduction written the plain way would not, without
 * -ffast-math).  The clamp comes first, so the shift by -qlo makes the
 * truncation a floor and round-half-up works for negative codes too. */
static void kq_eval(const float *restrict x, int n, const struct kq_shape *k, float ia, float b,
                    int8_t *restrict q, struct kq_sums *s)
{
    const float lo = (float)k->qlo, hi = (float)k->qhi;
    /* float lanes throughout: codes and their squares are small integers,
     * exact in float, and SSE2 has no packed 32-bit integer multiply */
    float aqx[16] = {0}, aq[16] = {0}, aqq[16] = {0};
    for (int c = 0; c < n; c += 16) {
        for (int l = 0; l < 16; l++) {
            float t = (x[c + l] - b) * ia;
            t = t > lo ? t : lo;
            t = t < hi ? t : hi;
            float v = (float)(int32_t)(t - lo + 0.5f) + lo;
            q[c + l] = (int8_t)(int32_t)v;
            aqx[l] += v * x[c + l];
            aq[l] += v;
            aqq[l] += v * v;
        }
    }
    s->sq = kq_hsum16(aq);
    s->sqq = kq_hsum16(aqq);
    s->sqx = kq_hsum16(aqx);
}

/* -- step 1, asymmetric ---------------------------------------------------- */

/* least squares x ~ a*q + b for the codes summed in s, with a >= 0, b <= 0
 * (sx, sxx: sum of x and of x^2, n values); returns the squared error */
static double kq_ls_asym(const struct kq_sums *s, double sx, double sxx, int n, float *a, float *b)
{
    double A = 0, B = 0, det = s->sqq * n - s->sq * s->sq;
    if (det > 0) {
        A = (n * s->sqx - s->sq * sx) / det;
        B = (s->sqq * sx - s->sq * s->sqx) / det;
    } else if (s->sqq > 0) {
        A = s->sqx / s->sqq;
    } else {
        B = sx / n;
    }
    if (B > 0) {
        B = 0;
        A = s->sqq > 0 ? s->sqx / s->sqq : 0;
    }
    if (A < 0) {
        A = 0;
        B = sx / n < 0 ? sx / n : 0;
    }
    *a = (float)A;
    *b = (float)B;
    double err = sxx - 2 * A * s->sqx - 2 * B * sx + A * A * s->sqq + 2 * A * B * s->sq + B * B * n;
    return err > 0 ? err : 0;
}

/* real-valued (scale, min) of one sub-block: x ~ scale*q - min */
static void kq_fit_asym(const float *x, const struct kq_shape *k, float *scale, float *min)
{
    int n = k->sub, nmax = k->qhi;
    int8_t q[32];
    struct kq_sums s;
    float lo = 0.0f, hi = x[0];
    double sx = 0, sxx = 0;
    for (int i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        sx += x[i];
        sxx += (double)x[i] * x[i];
    }
    if (!(hi > lo)) {                          /* constant (<= 0) or zeros */
        *scale = 0.0f;
        *min = -lo;
        return;
    }
    float range = hi - lo, ba = range / (float)nmax, bb = lo;
    double best = INFINITY;
    for (int f = 0; f <= KQ_FAN; f++) {
        /* grids from min/max (f = 0) to steps about 1.6x finer */
        float ia = (float)nmax * (1.0f + KQ_WIDTH * (float)f / KQ_FAN) / range, a, b;
        kq_eval(x, n, k, ia, lo, q, &s);
        double err = kq_ls_asym(&s, sx, sxx, n, &a, &b);
        if (err < best) {
            best = err;
            ba = a;
            bb = b;
        }
    }
    for (int it = 0; it < KQ_LLOYD && ba > 0; it++) { /* Lloyd polish */
        float a, b;
        kq_eval(x, n, k, 1.0f / ba, bb, q, &s);
        double err = kq_ls_asym(&s, sx, sxx, n, &a, &b);
        if (!(err < best))
            break;
        best = err;
        ba = a;
        bb = b;
    }
    *scale = ba;
    *min = -bb;
}

/* -- step 1, symmetric ----------------------------------------------------- */

/* best a of x ~ a*q for the codes summed in s; returns the reduction of the
 * error, (sum xq)^2 / sum q^2, which the caller maximizes */
static double kq_ls_sym(const struct kq_sums *s, float *a)
{
    if (!(s->sqq > 0)) {
        *a = 0.0f;
        return 0;
    }
    *a = (float)(s->sqx / s->sqq);
    return s->sqx * s->sqx / s->sqq;
}

/* real-valued signed scale of one sub-block: x ~ scale*q, q in [qlo, qhi] */
static float kq_fit_sym(const float *x, const struct kq_shape *k)
{
    int n = k->sub;
    int8_t q[32];
    struct kq_sums s;
    float amax = 0.0f, v = 0.0f;
    for (int i = 0; i < n; i++) {
        float m = x[i] < 0 ? -x[i] : x[i];
        if (m > amax) {
            amax = m;
            v = x[i];
        }
    }
    if (amax == 0.0f)
        return 0.0f;
    float best_a = 0.0f;
    double best = -1;
    for (int f = 0; f <= KQ_FAN; f++) {
        float g = 1.0f + KQ_WIDTH * (float)f / KQ_FAN, a;
        /* v on the long side (qlo), then on the short side (qhi) */
        float ia[2] = {(float)k->qlo * g / v, (float)k->qhi * g / v};
        for (int o = 0; o < 2; o++) {
            kq_eval(x, n, k, ia[o], 0.0f, q, &s);
            double gain = kq_ls_sym(&s, &a);
            if (gain > best) {
                best = gain;
                best_a = a;
            }
        }
    }
    for (int it = 0; it < KQ_LLOYD && best_a != 0.0f; it++) {
        float a;
        kq_eval(x, n, k, 1.0f / best_a, 0.0f, q, &s);
        double gain = kq_ls_sym(&s, &a);
        if (!(gain > best))
            break;
        best = gain;
        best_a = a;
    }
    return best_a;
}

/* -- steps 2 and 3 ---------------------------------------------------------- */

/* squared error of one sub-block decoded as dl*q - ml, with the codes
 * re-rounded for that grid; vectorizes like kq_eval */
static double kq_try(const float *restrict x, int8_t *restrict q, const struct kq_shape *k, float dl, float ml)
{
    const float lo = (float)k->qlo, hi = (float)k->qhi;
    float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
    float acc[16] = {0};
    for (int c = 0; c < k->sub; c += 16) {
        for (int l = 0; l < 16; l++) {
            float t = (x[c + l] + ml) * idl;
            t = t > lo ? t : lo;
            t = t < hi ? t : hi;
            int32_t v = (int32_t)(t - lo + 0.5f) + k->qlo;
            /* the same f32 products the dequantizer forms */
            float e = x[c + l] - (dl * (float)v - ml);
            q[c + l] = (int8_t)v;
            acc[l] += e * e;
        }
    }
    return kq_hsum16(acc);
}

/* step 2 for one sub-block: the best integer scale within +-1 of sc0 (and
 * min within +-1 of m0; mq NULL for the symmetric types), codes re-rounded
 * for each of the (up to) nine pairs.  A coordinate search (scale, then
 * min) would take five trials but loses ~1% of RMSE on Q4_K/Q5_K. */
static double kq_pick(const float *x, int8_t *q, const struct kq_shape *k, float d, float dmin,
                      int sc0, int m0, int *sc, int *mq)
{
    int8_t tq[32];
    double best = INFINITY;
    int have = 0;              /* the first trial counts even if its error is Inf */
    int mlo = mq ? m0 - 1 : 0, mhi = mq ? m0 + 1 : 0;
    for (int s = sc0 - 1; s <= sc0 + 1; s++) {
        if (s < k->slo || s > k->shi)
            continue;
        for (int m = mlo; m <= mhi; m++) {
            if (mq && (m < 0 || m > k->shi))
                continue;
            double err = kq_try(x, tq, k, d * (float)s, mq ? dmin * (float)m : 0.0f);
            if (!have || err < best) {
                have = 1;
                best = err;
                *sc = s;
                if (mq)
                    *mq = m;
                memcpy(q, tq, (size_t)k->sub);
            }
        }
    }
    return best;
}

/* Steps 1-3 for one super-block.  sc, mq (NULL: symmetric) get the integer
 * scales and mins, q the 256 codes; *d_out, *dmin_out the f16 values. */
static void kq_super(const float *x, const struct kq_shape *k, float *d_out, float *dmin_out,
                     int *sc, int *mq, int8_t *q)
{
    int nsub = QK_K / k->sub;
    float s[16], m[16];
    float d, dmin = 0.0f;

    if (mq) {
        float smax = 0.0f, mmax = 0.0f;
        for (int j = 0; j < nsub; j++) {
            kq_fit_asym(x + j * k->sub, k, &s[j], &m[j]);
            smax = s[j] > smax ? s[j] : smax;
            mmax = m[j] > mmax ? m[j] : mmax;
        }
        d = kq_half_up(smax / (float)k->shi);
        dmin = kq_half_up(mmax / (float)k->shi);
    } else {
        float amax = 0.0f, v = 0.0f;
        for (int j = 0; j < nsub; j++) {
            s[j] = kq_fit_sym(x + j * k->sub, k);
            float a = s[j] < 0 ? -s[j] : s[j];
            if (a > amax) {
                amax = a;
                v = s[j];
            }
        }
        d = kq_half_up(v / (float)k->slo);     /* v -> code slo, the long side */
    }

    /* step 2 */
    double total = 0;
    for (int j = 0; j < nsub; j++) {
        int sc0 = d != 0.0f ? kq_code(s[j] / d, k->slo, k->shi) : 0;
        int m0 = mq && dmin != 0.0f ? kq_code(m[j] / dmin, 0, k->shi) : 0;
        total += kq_pick(x + j * k->sub, q + j * k->sub, k, d, dmin, sc0, m0, &sc[j], mq ? &mq[j] : NULL);
    }

    /* step 3: x ~ d*A + e*B, A = sc*q, B = mq, e = -dmin */
    for (int round = 0; round < KQ_ROUNDS; round++) {
        double aa = 0, ab = 0, bb = 0, xa = 0, xb = 0;
        for (int i = 0; i < QK_K; i++) {
            int j = i / k->sub;
            double A = (double)sc[j] * q[i], B = mq ? (double)mq[j] : 0.0;
            aa += A * A;
            ab += A * B;
            bb += B * B;
            xa += x[i] * A;
            xb += x[i] * B;
        }
        double nd, ne, det = aa * bb - ab * ab;
        if (mq && det > 1e-9 * aa * bb) {
            nd = (xa * bb - xb * ab) / det;
            ne = (aa * xb - ab * xa) / det;
        } else if (aa > 0) {
            nd = xa / aa;
            ne = -dmin;
        } else {
            break;
        }
        float td = kq_half((float)nd), tdmin = mq ? kq_half((float)-ne) : 0.0f;
        if (td == d && tdmin == dmin)
            break;
        int tsc[16], tmq[16];
        int8_t tq[QK_K];
        double t = 0;
        for (int j = 0; j < nsub; j++)
            t += kq_pick(x + j * k->sub, tq + j * k->sub, k, td, tdmin, sc[j], mq ? mq[j] : 0,
                         &tsc[j], mq ? &tmq[j] : NULL);
        if (!(t < total))
            break;
        total = t;
        d = td;
        dmin = tdmin;
        memcpy(sc, tsc, sizeof tsc[0] * (size_t)nsub);
        if (mq)
            memcpy(mq, tmq, sizeof tmq[0] * (size_t)nsub);
        memcpy(q, tq, QK_K);
    }
    *d_out = d;
    *dmin_out = dmin;
}

/* -- step 4: packing -------------------------------------------------------- */

/* the Q4_K / Q5_K 12-byte scale block, inverse of kq_get_scale_min */
static void kq_pack_scale_min(uint8_t *s, const int *sc, const int *m)
{
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)((m[j] & 63) | (m[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
}

void qm_quant_q2_k(const float *src, void *dst, int64_t n)
{
    static const struct kq_shape shape = {.sub = 16, .qlo = 0, .qhi = 3, .slo = 0, .shi = 15};
    blk_q2_k *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        int sc[16], mq[16];
        int8_t q[QK_K];
        float d, dmin;
        kq_super(src, &shape, &d, &dmin, sc, mq, q);
        b->d = qm_f32_to_f16(d);
        b->dmin = qm_f32_to_f16(dmin);
        for (int j = 0; j < 16; j++)
            b->scales[j] = (uint8_t)(sc[j] | mq[j] << 4);
        memset(b->qs, 0, sizeof b->qs);
        for (int e = 0; e < QK_K; e++)
            b->qs[32 * (e / 128) + e % 32] |= (uint8_t)(q[e] << (2 * ((e / 32) % 4)));
    }
}

void qm_quant_q3_k(const float *src, void *dst, int64_t n)
{
    static const struct kq_shape shape = {.sub = 16, .qlo = -4, .qhi = 3, .slo = -32, .shi = 31};
    blk_q3_k *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        int sc[16];
        int8_t q[QK_K];
        float d, dmin;
        kq_super(src, &shape, &d, &dmin, sc, NULL, q);
        b->d = qm_f32_to_f16(d);
        memset(b->scales, 0, sizeof b->scales);
        for (int j = 0; j < 16; j++) {
            int u = sc[j] + 32;                    /* stored 6-bit */
            b->scales[j % 8] |= (uint8_t)((u & 15) << (4 * (j / 8)));
            b->scales[8 + j % 4] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
        }
        memset(b->qs, 0, sizeof b->qs);
        memset(b->hmask, 0, sizeof b->hmask);
        for (int e = 0; e < QK_K; e++) {
            int u = q[e] + 4;                      /* bit 2 set: code u - 4 >= 0 */
            b->qs[32 * (e / 128) + e % 32] |= (uint8_t)((u & 3) << (2 * ((e / 32) % 4)));
            b->hmask[e % 32] |= (uint8_t)((u >> 2) << (e / 32));
        }
    }
}

void qm_quant_q4_k(const float *src, void *dst, int64_t n)
{
    static const struct kq_shape shape = {.sub = 32, .qlo = 0, .qhi = 15, .slo = 0, .shi = 63};
    blk_q4_k *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        int sc[8], mq[8];
        int8_t q[QK_K];
        float d, dmin;
        kq_super(src, &shape, &d, &dmin, sc, mq, q);
        b->d = qm_f32_to_f16(d);
        b->dmin = qm_f32_to_f16(dmin);
        kq_pack_scale_min(b->scales, sc, mq);
        memset(b->qs, 0, sizeof b->qs);
        for (int e = 0; e < QK_K; e++)
            b->qs[32 * (e / 64) + e % 32] |= (uint8_t)(q[e] << (4 * ((e / 32) % 2)));
    }
}

void qm_quant_q5_k(const float *src, void *dst, int64_t n)
{
    static const struct kq_shape shape = {.sub = 32, .qlo = 0, .qhi = 31, .slo = 0, .shi = 63};
    blk_q5_k *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        int sc[8], mq[8];
        int8_t q[QK_K];
        float d, dmin;
        kq_super(src, &shape, &d, &dmin, sc, mq, q);
        b->d = qm_f32_to_f16(d);
        b->dmin = qm_f32_to_f16(dmin);
        kq_pack_scale_min(b->scales, sc, mq);
        memset(b->qs, 0, sizeof b->qs);
        memset(b->qh, 0, sizeof b->qh);
        for (int e = 0; e < QK_K; e++) {
            b->qs[32 * (e / 64) + e % 32] |= (uint8_t)((q[e] & 15) << (4 * ((e / 32) % 2)));
            b->qh[e % 32] |= (uint8_t)((q[e] >> 4) << (e / 32));
        }
    }
}

void qm_quant_q6_k(const float *src, void *dst, int64_t n)
{
    static const struct kq_shape shape = {.sub = 16, .qlo = -32, .qhi = 31, .slo = -128, .shi = 127};
    blk_q6_k *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        int sc[16];
        int8_t q[QK_K];
        float d, dmin;
        kq_super(src, &shape, &d, &dmin, sc, NULL, q);
        b->d = qm_f32_to_f16(d);
        for (int j = 0; j < 16; j++)
            b->scales[j] = (int8_t)sc[j];
        memset(b->ql, 0, sizeof b->ql);
        memset(b->qh, 0, sizeof b->qh);
        for (int e = 0; e < QK_K; e++) {
            int u = q[e] + 32, h = e / 128, r = (e / 32) % 4, l = e % 32;
            b->ql[64 * h + 32 * (r % 2) + l] |= (uint8_t)((u & 15) << (4 * (r / 2)));
            b->qh[32 * h + l] |= (uint8_t)((u >> 4) << (2 * r));
        }
    }
}
