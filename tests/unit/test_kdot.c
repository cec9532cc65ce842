/* test_kdot.c - the AVX2 dot products of the K-quants and IQ4_XS
 * (engine/cpu/dot_k_avx2.c) against a dequantize-and-dot in double written
 * here from the block layouts of engine-reference.md 2.3, and against the
 * plain-C reference dots of the quant table.
 *
 * Weights are random bytes with sane f16 scales, activations random Q8_K
 * blocks with consistent bsums; a second set of cases uses the extreme codes
 * and activations (all bits set, +-127) where an int16 intermediate would
 * saturate if a kernel's bounds were wrong.  The tolerance is relative to the
 * sum of the magnitudes of all the terms the kernels add up, so it stays
 * tight even where the result itself cancels to near zero. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu_features.h"
#include "kernels.h"
#include "quant.h"

#define KD_REL_TOL 1e-5

/* ---- random numbers (xorshift64*, fixed seed: failures reproduce) ------- */

static uint64_t kd_state = 0x9e3779b97f4a7c15ull;

static uint64_t kd_rand(void)
{
    kd_state ^= kd_state >> 12;
    kd_state ^= kd_state << 25;
    kd_state ^= kd_state >> 27;
    return kd_state * 0x2545f4914f6cdd1dull;
}

/* uniform in [0, 1) */
static double kd_unit(void) { return (double)(kd_rand() >> 11) * 0x1p-53; }

/* A scale: magnitude uniform in [0.001, 0.1], random sign, as f16. */
static qm_f16 kd_scale(void)
{
    float v = (float)(0.001 + 0.099 * kd_unit());
    return qm_f32_to_f16((kd_rand() & 1) ? -v : v);
}

/* ---- the float reference: one block to 256 values ------------------------
 * Each dequantizer writes the value of every element and a bound on the
 * magnitude of the terms a kernel sums for it (the scale part and the min or
 * offset part separately), for the tolerance. */

static void kd_deq_q2_k(const void *blk, double *v, double *mag)
{
    const blk_q2_k *x = blk;
    double d = qm_f16_to_f32(x->d), dmin = qm_f16_to_f32(x->dmin);
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 2; k++)
                for (int l = 0; l < 16; l++) {
                    int e = 128 * h + 32 * j + 16 * k + l, i = 8 * h + 2 * j + k;
                    int q = (x->qs[32 * h + 16 * k + l] >> (2 * j)) & 3;
                    double a = d * (x->scales[i] & 15) * q, b = dmin * (x->scales[i] >> 4);
                    v[e] = a - b;
                    mag[e] = fabs(a) + fabs(b);
                }
}

static int kd_q3_scale(const uint8_t *S, int i)
{
    int lo = i < 8 ? S[i] & 15 : S[i - 8] >> 4;
    int hi = (S[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (lo | hi << 4) - 32;
}

static void kd_deq_q3_k(const void *blk, double *v, double *mag)
{
    const blk_q3_k *x = blk;
    double d = qm_f16_to_f32(x->d);
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 2; k++)
                for (int l = 0; l < 16; l++) {
                    int e = 128 * h + 32 * j + 16 * k + l, i = 8 * h + 2 * j + k;
                    int q = (x->qs[32 * h + 16 * k + l] >> (2 * j)) & 3;
                    int set = (x->hmask[16 * k + l] >> (4 * h + j)) & 1;
                    double sc = d * kd_q3_scale(x->scales, i);
                    v[e] = sc * (q - (set ? 0 : 4));
                    mag[e] = fabs(sc) * (q + 4 * set + 4);
                }
}

static void kd_k4_scale_min(const uint8_t *S, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = S[j] & 63;
        *m = S[j + 4] & 63;
    } else {
        *sc = (S[j + 4] & 15) | (S[j - 4] >> 6) << 4;
        *m = (S[j + 4] >> 4) | (S[j] >> 6) << 4;
    }
}

/* Q4_K and Q5_K; qh NULL for Q4_K. */
static void kd_deq_k45(const uint8_t *S, const uint8_t *qs, const uint8_t *qh, qm_f16 hd, qm_f16 hdmin,
                       double *v, double *mag)
{
    double d = qm_f16_to_f32(hd), dmin = qm_f16_to_f32(hdmin);
    for (int c = 0; c < 4; c++)
        for (int half = 0; half < 2; half++) {
            int sc, m;
            kd_k4_scale_min(S, 2 * c + half, &sc, &m);
            for (int l = 0; l < 32; l++) {
                int q = half ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 15;
                if (qh)
                    q |= ((qh[l] >> (2 * c + half)) & 1) << 4;
                int e = 64 * c + 32 * half + l;
                double a = d * sc * q, b = dmin * m;
                v[e] = a - b;
                mag[e] = fabs(a) + fabs(b);
            }
        }
}

static void kd_deq_q4_k(const void *blk, double *v, double *mag)
{
    const blk_q4_k *x = blk;
    kd_deq_k45(x->scales, x->qs, NULL, x->d, x->dmin, v, mag);
}

static void kd_deq_q5_k(const void *blk, double *v, double *mag)
{
    const blk_q5_k *x = blk;
    kd_deq_k45(x->scales, x->qs, x->qh, x->d, x->dmin, v, mag);
}

static void kd_deq_q6_k(const void *blk, double *v, double *mag)
{
    const blk_q6_k *x = blk;
    double d = qm_f16_to_f32(x->d);
    for (int h = 0; h < 2; h++)
        for (int r = 0; r < 4; r++)
            for (int l = 0; l < 32; l++) {
                uint8_t ql = x->ql[64 * h + 32 * (r % 2) + l];
                int lo = r < 2 ? ql & 15 : ql >> 4;
                int q = lo | ((x->qh[32 * h + l] >> (2 * r)) & 3) << 4;
                int e = 128 * h + 32 * r + l;
                double sc = d * x->scales[8 * h + 2 * r + l / 16];
                v[e] = sc * (q - 32);
                mag[e] = fabs(sc) * (q + 32);
            }
}

static void kd_deq_iq4_xs(const void *blk, double *v, double *mag)
{
    const blk_iq4_xs *x = blk;
    double d = qm_f16_to_f32(x->d);
    for (int i = 0; i < 8; i++) {
        int ls = ((x->scales_l[i / 2] >> (4 * (i % 2))) & 15) | ((x->scales_h >> (2 * i)) & 3) << 4;
        double sc = d * (ls - 32);
        for (int l = 0; l < 16; l++) {
            v[32 * i + l] = sc * qm_iq4nl_values[x->qs[16 * i + l] & 15];
            v[32 * i + 16 + l] = sc * qm_iq4nl_values[x->qs[16 * i + l] >> 4];
        }
    }
    for (int e = 0; e < QK_K; e++)
        mag[e] = fabs(v[e]);
}

/* ---- the types under test ------------------------------------------------ */

struct kd_type {
    enum qm_type type;
    size_t size;                                   /* bytes per block */
    void (*deq)(const void *blk, double *v, double *mag);
    size_t d_off, dmin_off;                        /* f16 scale fields; dmin_off 0: none */
};

static const struct kd_type kd_types[] = {
    {QM_TYPE_Q2_K, sizeof(blk_q2_k), kd_deq_q2_k, offsetof(blk_q2_k, d), offsetof(blk_q2_k, dmin)},
    {QM_TYPE_Q3_K, sizeof(blk_q3_k), kd_deq_q3_k, offsetof(blk_q3_k, d), 0},
    {QM_TYPE_Q4_K, sizeof(blk_q4_k), kd_deq_q4_k, offsetof(blk_q4_k, d), offsetof(blk_q4_k, dmin)},
    {QM_TYPE_Q5_K, sizeof(blk_q5_k), kd_deq_q5_k, offsetof(blk_q5_k, d), offsetof(blk_q5_k, dmin)},
    {QM_TYPE_Q6_K, sizeof(blk_q6_k), kd_deq_q6_k, offsetof(blk_q6_k, d), 0},
    {QM_TYPE_IQ4_XS, sizeof(blk_iq4_xs), kd_deq_iq4_xs, offsetof(blk_iq4_xs, d), 0},
};
#define KD_NTYPES (sizeof kd_types / sizeof kd_types[0])

/* The AVX2 kernels, straight from their registration. */
static struct qm_cpu_kernels kd_avx2;

static int kd_setup(void **state)
{
    (void)state;
    memset(&kd_avx2, 0, sizeof kd_avx2);
    qm_kernels_register_avx2_k(&kd_avx2);
    return 0;
}

static void kd_need_avx2(void)
{
    if (!qm_cpu_features()->avx2) {
        print_message("skipped: this CPU has no AVX2 (or QM_CPU caps it)\n");
        skip();
    }
}

/* Fill nb weight blocks with random bytes and sane f16 scales. */
static void kd_fill_weights(const struct kd_type *t, uint8_t *w, int nb)
{
    for (size_t i = 0; i < t->size * (size_t)nb; i++)
        w[i] = (uint8_t)kd_rand();
    for (int b = 0; b < nb; b++) {
        qm_f16 d = kd_scale();
        memcpy(w + t->size * b + t->d_off, &d, sizeof d);
        if (t->dmin_off) {
            qm_f16 dmin = kd_scale();
            memcpy(w + t->size * b + t->dmin_off, &dmin, sizeof dmin);
        }
    }
}

/* bsums consistent with qs */
static void kd_fix_bsums(blk_q8_k *y)
{
    for (int g = 0; g < QK_K / 16; g++) {
        int sum = 0;
        for (int l = 0; l < 16; l++)
            sum += y->qs[16 * g + l];
        y->bsums[g] = (int16_t)sum;
    }
}

static void kd_fill_acts(blk_q8_k *y, int nb)
{
    for (int b = 0; b < nb; b++) {
        y[b].d = (float)(0.0005 + 0.05 * kd_unit());
        for (int j = 0; j < QK_K; j++)
            y[b].qs[j] = (int8_t)((int)(kd_rand() % 255) - 127);
        kd_fix_bsums(&y[b]);
    }
}

/* dot in double and the magnitude sum for the tolerance */
static void kd_reference(const struct kd_type *t, const uint8_t *w, const blk_q8_k *y, int nb,
                         double *dot, double *mag)
{
    double v[QK_K], m[QK_K];
    *dot = 0;
    *mag = 0;
    for (int b = 0; b < nb; b++) {
        t->deq(w + t->size * b, v, m);
        for (int j = 0; j < QK_K; j++) {
            double a = (double)y[b].d * y[b].qs[j];
            *dot += v[j] * a;
            *mag += m[j] * fabs(a);
        }
    }
}

/* The AVX2 kernel against the double reference and the table's reference. */
static void kd_check(const struct kd_type *t, const uint8_t *w, const blk_q8_k *y, int nb)
{
    const struct qm_type_traits *tr = qm_type_traits(t->type);
    qm_vec_dot_fn fast = kd_avx2.vec_dot[t->type];
    assert_non_null(tr);
    assert_non_null(fast);
    assert_int_equal(tr->act_type, QM_TYPE_Q8_K);

    double want, mag;
    kd_reference(t, w, y, nb, &want, &mag);
    float got = NAN, ref = NAN;
    fast((int64_t)nb * QK_K, &got, w, y);
    tr->vec_dot((int64_t)nb * QK_K, &ref, w, y);

    double tol = KD_REL_TOL * mag + 1e-30;
    if (!(fabs(got - want) <= tol) || !(fabs(got - (double)ref) <= tol)) {
        print_error("%s, %d blocks: avx2 %.9g, double %.9g, reference %.9g (tolerance %.3g)\n", tr->name, nb,
                    (double)got, want, (double)ref, tol);
        fail();
    }
}

/* ---- tests ---------------------------------------------------------------- */

static void kd_random(void **state)
{
    (void)state;
    kd_need_avx2();
    static const int counts[] = {1, 2, 3, 7, 16};
    for (size_t ti = 0; ti < KD_NTYPES; ti++)
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++)
            for (int trial = 0; trial < 20; trial++) {
                /* rows end exactly at the end of their allocation, so ASan
                 * sees any read past the last block; odd trials also move
                 * the rows off the allocator's alignment (blocks only
                 * promise 2 bytes, Q8_K blocks 4) */
                int nb = counts[ci];
                size_t wsh = trial & 1 ? 2 : 0, ash = trial & 1 ? 4 : 0;
                uint8_t *wbuf = malloc(kd_types[ti].size * (size_t)nb + wsh);
                uint8_t *abuf = malloc(sizeof(blk_q8_k) * (size_t)nb + ash);
                assert_non_null(wbuf);
                assert_non_null(abuf);
                uint8_t *w = wbuf + wsh;
                blk_q8_k *y = (blk_q8_k *)(void *)(abuf + ash);
                kd_fill_weights(&kd_types[ti], w, nb);
                kd_fill_acts(y, nb);
                kd_check(&kd_types[ti], w, y, nb);
                free(wbuf);
                free(abuf);
            }
}

/* Every weight byte one pattern, every activation one value: all codes at
 * their maximum (0xff) or minimum (0x00), against +-127 and alternating
 * signs.  These are the largest products each kernel's int16 pairs see. */
static void kd_extremes(void **state)
{
    (void)state;
    kd_need_avx2();
    static const uint8_t patterns[] = {0x00, 0xff, 0x55, 0xaa};
    static const int acts[] = {127, -127, 0 /* alternating */};
    uint8_t w[sizeof(blk_q6_k) * 2];
    blk_q8_k y[2];
    for (size_t ti = 0; ti < KD_NTYPES; ti++) {
        const struct kd_type *t = &kd_types[ti];
        for (size_t pi = 0; pi < sizeof patterns; pi++)
            for (size_t ai = 0; ai < sizeof acts / sizeof acts[0]; ai++) {
                memset(w, patterns[pi], sizeof w);
                for (int b = 0; b < 2; b++) {
                    qm_f16 d = qm_f32_to_f16(b ? -0.05f : 0.0625f);
                    memcpy(w + t->size * b + t->d_off, &d, sizeof d);
                    if (t->dmin_off) {
                        qm_f16 dmin = qm_f32_to_f16(0.01f);
                        memcpy(w + t->size * b + t->dmin_off, &dmin, sizeof dmin);
                    }
                    y[b].d = 0.02f;
                    for (int j = 0; j < QK_K; j++)
                        y[b].qs[j] = (int8_t)(acts[ai] ? acts[ai] : (j & 1 ? -127 : 127));
                    kd_fix_bsums(&y[b]);
                }
                kd_check(t, w, y, 2);
            }
    }
}

/* n = 0 is an empty sum. */
static void kd_empty(void **state)
{
    (void)state;
    kd_need_avx2();
    for (size_t ti = 0; ti < KD_NTYPES; ti++) {
        float got = NAN;
        kd_avx2.vec_dot[kd_types[ti].type](0, &got, NULL, NULL);
        assert_true(got == 0.0f);
    }
}

/* The kernel table of this process hands out these kernels (on an AVX-512
 * machine a faster family may take their place: then they just have to be
 * there). */
static void kd_table(void **state)
{
    (void)state;
    kd_need_avx2();
    const struct qm_cpu_kernels *k = qm_cpu_kernels();
    for (size_t ti = 0; ti < KD_NTYPES; ti++) {
        enum qm_type type = kd_types[ti].type;
        assert_non_null(kd_avx2.vec_dot[type]);
        assert_non_null(k->vec_dot[type]);
        if (!qm_cpu_features()->avx512)
            assert_ptr_equal(k->vec_dot[type], kd_avx2.vec_dot[type]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kd_random),
        cmocka_unit_test(kd_extremes),
        cmocka_unit_test(kd_empty),
        cmocka_unit_test(kd_table),
    };
    return cmocka_run_group_tests(tests, kd_setup, NULL);
}
