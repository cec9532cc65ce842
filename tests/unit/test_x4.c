/* test_x4.c - the four-activation-row dots (vec_dot_x4 of kernels.h).
 *
 * Every x4 kernel of the active table is checked against the reference dot
 * of the quant table (qm_type_traits(t)->vec_dot), separately for each of
 * its four outputs, with four different activation rows laid out at a
 * stride larger than a row (so a kernel that ignores the stride, or mixes
 * up rows, fails), for block counts below, at and above the eight-block
 * groups of the SIMD loops; on random data and on the extreme codes where a
 * 16-bit intermediate would saturate.  The rows are prepared (prep.h) for
 * the types whose matmul dot reads prepared rows, as the matmul hands them
 * over.  The x4 result must also agree with the single dot the matmul uses
 * for the remaining tokens, within float rounding. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu_features.h"
#include "kernels.h"
#include "kernels_fixture.h"
#include "prep.h"
#include "quant.h"

#define REL_TOL 1e-5
#define STRIDE_PAD 40   /* at least this many bytes between two activation rows */

static const int64_t block_counts[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 33};

static void *xcalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    assert_non_null(p);
    return p;
}

/* One weight row of type t against four activation rows made from x[k]
 * (n floats each), w_byte >= 0 replacing the weight's code bytes. */
static void x4_check(enum qm_type t, int64_t n, float *const x[4], int w_byte)
{
    const struct qm_cpu_kernels *kt = qm_cpu_kernels();
    const struct qm_cpu_prep *pk = qm_cpu_prep();
    const struct qm_type_traits *tr = qm_type_traits(t), *at = qm_type_traits(tr->act_type);
    bool prepared = pk->dot[t] && pk->prepare[tr->act_type];
    size_t qrow = qm_row_size(tr->act_type, n);
    size_t row = prepared ? qm_prep_row_size(tr->act_type, n) : qrow;
    /* rows 64-byte aligned as the matmul lays them out (prepared groups hold floats) */
    size_t stride = (row + STRIDE_PAD + 63) / 64 * 64;
    uint8_t *w = xcalloc(qm_row_size(t, n));
    uint8_t *q = xcalloc(4 * qrow), *rows = xcalloc(4 * stride);
    float *wf = xcalloc(sizeof(float) * (size_t)n), *af = xcalloc(sizeof(float) * (size_t)n);

    kf_weights(t, w, n);
    if (w_byte >= 0) {
        int d, min;
        kf_fields(t, &d, &min);
        for (int64_t b = 0; b < n / tr->blck; b++)
            for (size_t i = 0; i < tr->size; i++)
                if ((int)i != d && (int)i != d + 1 && (min < 0 || ((int)i != min && (int)i != min + 1)))
                    w[(size_t)b * tr->size + i] = (uint8_t)w_byte;
    }
    tr->to_float(w, wf, n);
    for (int k = 0; k < 4; k++) {
        uint8_t *qk = q + (size_t)k * qrow;
        at->from_float(x[k], qk, n);
        if (prepared)
            pk->prepare[tr->act_type](qk, rows + (size_t)k * stride, n);
        else
            memcpy(rows + (size_t)k * stride, qk, qrow);
        /* garbage in the padding: a kernel reading past a row would notice */
        memset(rows + (size_t)k * stride + row, 0x7f, stride - row);
    }
    float s[4] = {NAN, NAN, NAN, NAN};
    kt->vec_dot_x4[t](n, s, w, rows, stride);
    for (int k = 0; k < 4; k++) {
        const uint8_t *qk = q + (size_t)k * qrow;
        float want = NAN, single = NAN;
        tr->vec_dot(n, &want, w, qk);
        if (prepared)
            pk->dot[t](n, &single, w, rows + (size_t)k * stride);
        else
            kt->vec_dot[t](n, &single, w, qk);
        at->to_float(qk, af, n);
        double tol = kf_tolerance(t, w, wf, af, n, REL_TOL);
        if (!(fabs((double)s[k] - want) <= tol) || !(fabs((double)s[k] - single) <= tol)) {
            print_error("x4 %s n=%lld row %d (weight byte %d): got %.9g, reference %.9g, single kernel %.9g "
                        "(tolerance %.3g)\n",
                        tr->name, (long long)n, k, w_byte, s[k], want, single, tol);
            fail();
        }
    }
    free(w);
    free(q);
    free(rows);
    free(wf);
    free(af);
}

static int x4_types_tested;

static void x4_random(void **state)
{
    (void)state;
    for (uint32_t t = 0; t < QM_TYPE_COUNT; t++) {
        if (!qm_cpu_kernels()->vec_dot_x4[t])
            continue;
        x4_types_tested++;
        int64_t blck = qm_type_traits(t)->blck;
        for (size_t i = 0; i < sizeof block_counts / sizeof block_counts[0]; i++) {
            int64_t n = block_counts[i] * blck;
            float *x[4];
            for (int k = 0; k < 4; k++) {
                x[k] = xcalloc(sizeof(float) * (size_t)n);
                /* a different scale per row, so swapped rows are caught */
                for (int64_t j = 0; j < n; j++)
                    x[k][j] = kf_signed_unit() * (float)(k + 1);
            }
            x4_check(t, n, x, -1);
            for (int k = 0; k < 4; k++)
                free(x[k]);
        }
    }
}

/* Largest codes against activations of ±127 (x of ±1 in runs quantizes to
 * exactly that in every activation format), four different sign patterns. */
static void x4_extreme(void **state)
{
    static const int bytes[] = {0x00, 0xff, 0x80, 0x7f, 0x88, 0x11};
    (void)state;
    for (uint32_t t = 0; t < QM_TYPE_COUNT; t++) {
        if (!qm_cpu_kernels()->vec_dot_x4[t])
            continue;
        int64_t n = 9 * qm_type_traits(t)->blck;
        float *x[4];
        for (int k = 0; k < 4; k++) {
            x[k] = xcalloc(sizeof(float) * (size_t)n);
            for (int64_t j = 0; j < n; j++)
                x[k][j] = k == 0 ? 1.0f : k == 1 ? -1.0f : ((j / (k + 1)) % 2 ? -1.0f : 1.0f);
        }
        for (size_t b = 0; b < sizeof bytes / sizeof bytes[0]; b++)
            x4_check(t, n, x, bytes[b]);
        for (int k = 0; k < 4; k++)
            free(x[k]);
    }
}

/* With AVX2, the 4- and 5-bit 32-element types have x4 dots (Q8_0 has
 * none: it measured slower, see dot_avx2.c); without AVX2 (or
 * under QM_CPU=ref) the table has none and the matmul uses single dots. */
static void x4_registered(void **state)
{
    (void)state;
    static const enum qm_type mine[] = {QM_TYPE_Q4_0, QM_TYPE_Q4_1, QM_TYPE_Q5_0,
                                        QM_TYPE_Q5_1, QM_TYPE_IQ4_NL};
    const char *isa = qm_cpu_active_isa();
    if (strcmp(isa, "ref") == 0) {
        for (uint32_t t = 0; t < QM_TYPE_COUNT; t++)
            assert_null(qm_cpu_kernels()->vec_dot_x4[t]);
        print_message("note: reference kernels only: no x4 dots to test\n");
        skip();
    }
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
        assert_non_null(qm_cpu_kernels()->vec_dot_x4[mine[i]]);
    assert_true(x4_types_tested >= (int)(sizeof mine / sizeof mine[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(x4_random),
        cmocka_unit_test(x4_extreme),
        cmocka_unit_test(x4_registered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
