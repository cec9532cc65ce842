/* test_kdot_x4.c - the four-activation-row AVX2 dots of the K-quants and
 * IQ4_XS (engine/cpu/dot_k_x4_avx2.c) against the plain-C reference dot of
 * the quant table, applied to each of the four rows, and against the
 * single-row AVX2 kernel.
 *
 * The x4 kernels do the same integer sums as the single-row ones, only the
 * float accumulation is ordered differently, so every output must agree
 * with the reference within float rounding.  The tolerance is relative to
 * Σ |w_i| · |a_i| (dequantized weights and activations), which bounds every
 * term the kernels add up up to the split of a weight into scale and min
 * parts; the weights here have no such cancellation to speak of.  Cases:
 * random weights and activations for 1, 2, 3, 7 and 16 blocks, rows packed
 * and with a padded stride, the rows placed so that ASan sees any read past
 * the last block; and the extreme codes (every weight byte 0x00, 0xff, 0x55,
 * 0xaa) against +-127 activations, where a wrong bound would saturate an
 * int16 pair; the four rows differ so a mixed-up row shows. */
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

#define KX_REL_TOL 1e-5

/* ---- random numbers (xorshift64*, fixed seed) ---------------------------- */

static uint64_t kx_state = 0x6a09e667f3bcc909ull;

static uint64_t kx_rand(void)
{
    kx_state ^= kx_state >> 12;
    kx_state ^= kx_state << 25;
    kx_state ^= kx_state >> 27;
    return kx_state * 0x2545f4914f6cdd1dull;
}

static double kx_unit(void) { return (double)(kx_rand() >> 11) * 0x1p-53; }

static qm_f16 kx_scale(void)
{
    float v = (float)(0.001 + 0.099 * kx_unit());
    return qm_f32_to_f16((kx_rand() & 1) ? -v : v);
}

/* ---- the types under test ------------------------------------------------ */

struct kx_type {
    enum qm_type type;
    size_t size;             /* bytes per block */
    size_t d_off, dmin_off;  /* f16 scale fields; dmin_off 0: none */
};

static const struct kx_type kx_types[] = {
    {QM_TYPE_Q2_K, sizeof(blk_q2_k), offsetof(blk_q2_k, d), offsetof(blk_q2_k, dmin)},
    {QM_TYPE_Q3_K, sizeof(blk_q3_k), offsetof(blk_q3_k, d), 0},
    {QM_TYPE_Q4_K, sizeof(blk_q4_k), offsetof(blk_q4_k, d), offsetof(blk_q4_k, dmin)},
    {QM_TYPE_Q5_K, sizeof(blk_q5_k), offsetof(blk_q5_k, d), offsetof(blk_q5_k, dmin)},
    {QM_TYPE_Q6_K, sizeof(blk_q6_k), offsetof(blk_q6_k, d), 0},
    {QM_TYPE_IQ4_XS, sizeof(blk_iq4_xs), offsetof(blk_iq4_xs, d), 0},
};
#define KX_NTYPES (sizeof kx_types / sizeof kx_types[0])

static struct qm_cpu_kernels kx_avx2;

static int kx_setup(void **state)
{
    (void)state;
    memset(&kx_avx2, 0, sizeof kx_avx2);
    qm_kernels_register_avx2_k(&kx_avx2);
    qm_kernels_register_avx2_k_x4(&kx_avx2);
    return 0;
}

static void kx_need_avx2(void)
{
    if (!qm_cpu_features()->avx2) {
        print_message("skipped: this CPU has no AVX2 (or QM_CPU caps it)\n");
        skip();
    }
}

static void kx_fill_weights(const struct kx_type *t, uint8_t *w, int nb)
{
    for (size_t i = 0; i < t->size * (size_t)nb; i++)
        w[i] = (uint8_t)kx_rand();
    for (int b = 0; b < nb; b++) {
        qm_f16 d = kx_scale();
        memcpy(w + t->size * b + t->d_off, &d, sizeof d);
        if (t->dmin_off) {
            qm_f16 dmin = kx_scale();
            memcpy(w + t->size * b + t->dmin_off, &dmin, sizeof dmin);
        }
    }
}

static void kx_fix_bsums(blk_q8_k *y)
{
    for (int g = 0; g < QK_K / 16; g++) {
        int sum = 0;
        for (int l = 0; l < 16; l++)
            sum += y->qs[16 * g + l];
        y->bsums[g] = (int16_t)sum;
    }
}

static void kx_fill_acts(blk_q8_k *y, int nb)
{
    for (int b = 0; b < nb; b++) {
        y[b].d = (float)(0.0005 + 0.05 * kx_unit());
        for (int j = 0; j < QK_K; j++)
            y[b].qs[j] = (int8_t)((int)(kx_rand() % 255) - 127);
        kx_fix_bsums(&y[b]);
    }
}

/* Σ |w_i| · |a_i| over the row, from the table's dequantizer. */
static double kx_mag(const struct kx_type *t, const uint8_t *w, const blk_q8_k *y, int nb)
{
    const struct qm_type_traits *tr = qm_type_traits(t->type);
    float v[QK_K];
    double mag = 0;
    for (int b = 0; b < nb; b++) {
        tr->to_float(w + t->size * b, v, QK_K);
        for (int j = 0; j < QK_K; j++)
            mag += fabs((double)v[j]) * fabs((double)y[b].d * y[b].qs[j]);
    }
    return mag;
}

/* The x4 kernel on rows at a, a + stride, ... against the reference and the
 * single-row AVX2 kernel on each row. */
static void kx_check(const struct kx_type *t, const uint8_t *w, const uint8_t *a, size_t stride, int nb)
{
    const struct qm_type_traits *tr = qm_type_traits(t->type);
    qm_vec_dot_x4_fn x4 = kx_avx2.vec_dot_x4[t->type];
    qm_vec_dot_fn one = kx_avx2.vec_dot[t->type];
    assert_non_null(tr);
    assert_non_null(x4);
    assert_non_null(one);
    assert_int_equal(tr->act_type, QM_TYPE_Q8_K);

    const int64_t n = (int64_t)nb * QK_K;
    float got[4] = {NAN, NAN, NAN, NAN};
    x4(n, got, w, a, stride);
    for (int k = 0; k < 4; k++) {
        const blk_q8_k *y = (const blk_q8_k *)(const void *)(a + (size_t)k * stride);
        float ref = NAN, single = NAN;
        tr->vec_dot(n, &ref, w, y);
        one(n, &single, w, y);
        double tol = KX_REL_TOL * kx_mag(t, w, y, nb) + 1e-30;
        if (!(fabs((double)got[k] - ref) <= tol) || !(fabs((double)got[k] - single) <= tol)) {
            print_error("%s, %d blocks, row %d: x4 %.9g, reference %.9g, single avx2 %.9g (tolerance %.3g)\n",
                        tr->name, nb, k, (double)got[k], (double)ref, (double)single, tol);
            fail();
        }
    }
}

/* ---- tests ---------------------------------------------------------------- */

static void kx_random(void **state)
{
    (void)state;
    kx_need_avx2();
    static const int counts[] = {1, 2, 3, 7, 16};
    for (size_t ti = 0; ti < KX_NTYPES; ti++)
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++)
            for (int trial = 0; trial < 8; trial++) {
                /* odd trials: a padded stride (one block plus 4 bytes more
                 * than the row), and rows off the allocator's alignment; the
                 * last row always ends at the end of the buffer for ASan */
                const struct kx_type *t = &kx_types[ti];
                int nb = counts[ci];
                size_t row = sizeof(blk_q8_k) * (size_t)nb;
                size_t stride = trial & 1 ? row + sizeof(blk_q8_k) + 4 : row;
                size_t wsh = trial & 1 ? 2 : 0, ash = trial & 1 ? 4 : 0;
                uint8_t *wbuf = malloc(t->size * (size_t)nb + wsh);
                uint8_t *abuf = calloc(1, 3 * stride + row + ash);
                assert_non_null(wbuf);
                assert_non_null(abuf);
                uint8_t *w = wbuf + wsh, *a = abuf + ash;
                kx_fill_weights(t, w, nb);
                for (int k = 0; k < 4; k++)
                    kx_fill_acts((blk_q8_k *)(void *)(a + (size_t)k * stride), nb);
                kx_check(t, w, a, stride, nb);
                free(wbuf);
                free(abuf);
            }
}

/* Every weight byte one pattern; the four rows +127, -127, alternating and
 * alternating the other way: the largest products the int16 pairs see. */
static void kx_extremes(void **state)
{
    (void)state;
    kx_need_avx2();
    static const uint8_t patterns[] = {0x00, 0xff, 0x55, 0xaa};
    enum { NB = 2 };
    uint8_t w[sizeof(blk_q6_k) * NB];
    blk_q8_k y[4][NB];
    for (size_t ti = 0; ti < KX_NTYPES; ti++) {
        const struct kx_type *t = &kx_types[ti];
        for (size_t pi = 0; pi < sizeof patterns; pi++) {
            memset(w, patterns[pi], sizeof w);
            for (int b = 0; b < NB; b++) {
                qm_f16 d = qm_f32_to_f16(b ? -0.05f : 0.0625f);
                memcpy(w + t->size * b + t->d_off, &d, sizeof d);
                if (t->dmin_off) {
                    qm_f16 dmin = qm_f32_to_f16(0.01f);
                    memcpy(w + t->size * b + t->dmin_off, &dmin, sizeof dmin);
                }
                for (int k = 0; k < 4; k++) {
                    y[k][b].d = 0.02f * (float)(k + 1);
                    for (int j = 0; j < QK_K; j++) {
                        int v = k == 0 ? 127 : k == 1 ? -127 : ((j & 1) ^ (k & 1)) ? -127 : 127;
                        y[k][b].qs[j] = (int8_t)v;
                    }
                    kx_fix_bsums(&y[k][b]);
                }
            }
            kx_check(t, w, (const uint8_t *)y, sizeof y[0], NB);
        }
    }
}

/* n = 0: four empty sums. */
static void kx_empty(void **state)
{
    (void)state;
    kx_need_avx2();
    for (size_t ti = 0; ti < KX_NTYPES; ti++) {
        float got[4] = {NAN, NAN, NAN, NAN};
        kx_avx2.vec_dot_x4[kx_types[ti].type](0, got, NULL, NULL, 0);
        for (int k = 0; k < 4; k++)
            assert_true(got[k] == 0.0f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kx_random),
        cmocka_unit_test(kx_extremes),
        cmocka_unit_test(kx_empty),
    };
    return cmocka_run_group_tests(tests, kx_setup, NULL);
}
