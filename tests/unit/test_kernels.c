/* test_kernels.c - the CPU dot products and activation quantizers.
 *
 * Three layers, each checked against the one below it:
 *  - the reference dots of the quant table (engine/cpu/dot_ref.c) against a
 *    dequantize-both-sides dot in double, for every compute type;
 *  - every kernel of the active table, the AVX2 ones explicitly where the
 *    CPU has AVX2, and the dots over prepared activation rows (prep.h),
 *    against the reference dot, on random data and on the extreme codes
 *    where a 16-bit intermediate would saturate if a kernel's bounds were
 *    wrong;
 *  - the table's activation quantizers (SIMD where there are some) against
 *    the reference ones in quant_act.c: byte for byte, ties, zeros, tiny and
 *    non-finite values included.
 * Block counts are odd and even, below and above the eight-block stride of
 * the SIMD loops; float lengths leave every possible tail.  The tolerance is
 * relative to the sum of the magnitudes of the terms, so it stays tight even
 * where a result cancels to near zero. */
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
#include "kernels_fixture.h"
#include "prep.h"
#include "quant.h"

#define REL_TOL 1e-5

static const int64_t block_counts[] = {1, 2, 3, 7, 8, 9, 16, 33};
static const int64_t float_lengths[] = {1, 7, 8, 17, 31, 32, 33, 64, 100, 4097};

/* One test case: weights of type t, n elements, random activations
 * quantized by the reference quantizer, and both sides dequantized. */
struct kcase {
    enum qm_type t;
    int64_t n;
    void *w, *a;        /* weight row, activation row in the act type */
    float *x;           /* the f32 activations */
    float *wf, *af;     /* dequantized */
    double tol;         /* float error allowed against the double dot */
};

static void kcase_free(struct kcase *c)
{
    free(c->w);
    free(c->a);
    free(c->x);
    free(c->wf);
    free(c->af);
}

/* Fills c for type t and n elements; x_fill, when given, sets x instead of
 * random values and w_byte, when >= 0, fills the weight bytes (not the
 * scales) with that value. */
static void kcase_make(struct kcase *c, enum qm_type t, int64_t n, const float *x_fill, int w_byte)
{
    const struct qm_type_traits *tr = qm_type_traits(t), *at = qm_type_traits(tr->act_type);
    memset(c, 0, sizeof *c);
    c->t = t;
    c->n = n;
    c->w = calloc(1, qm_row_size(t, n) + 64);
    c->a = calloc(1, qm_row_size(tr->act_type, n) + 64);
    c->x = malloc(sizeof(float) * (size_t)n);
    c->wf = malloc(sizeof(float) * (size_t)n);
    c->af = malloc(sizeof(float) * (size_t)n);
    assert_non_null(c->w);
    assert_non_null(c->a);
    assert_non_null(c->x);
    assert_non_null(c->wf);
    assert_non_null(c->af);
    kf_weights(t, c->w, n);
    if (w_byte >= 0 && tr->blck > 1) {
        /* every byte but the f16 fields */
        int d, min;
        kf_fields(t, &d, &min);
        for (int64_t b = 0; b < n / tr->blck; b++) {
            uint8_t *blk = (uint8_t *)c->w + b * tr->size;
            for (size_t i = 0; i < tr->size; i++)
                if ((int)i != d && (int)i != d + 1 && (min < 0 || ((int)i != min && (int)i != min + 1)))
                    blk[i] = (uint8_t)w_byte;
        }
    }
    for (int64_t i = 0; i < n; i++)
        c->x[i] = x_fill ? x_fill[i] : kf_signed_unit() * 3.0f;
    at->from_float(c->x, c->a, n);
    tr->to_float(c->w, c->wf, n);
    at->to_float(c->a, c->af, n);
    c->tol = kf_tolerance(t, c->w, c->wf, c->af, n, REL_TOL);
}

static double kcase_float_dot(const struct kcase *c)
{
    double s = 0;
    for (int64_t i = 0; i < c->n; i++)
        s += (double)c->wf[i] * c->af[i];
    return s;
}

static void check_close(double got, double want, double tol, const char *what, const struct kcase *c)
{
    if (fabs(got - want) <= tol)
        return;
    print_error("%s: %s n=%lld: got %.9g, want %.9g (diff %.3g, tolerance %.3g)\n", what,
                qm_type_name(c->t), (long long)c->n, got, want, fabs(got - want), tol);
    fail();
}

static bool type_is_float(enum qm_type t)
{
    return t == QM_TYPE_F32 || t == QM_TYPE_F16 || t == QM_TYPE_BF16;
}

/* Calls fn(t, n) for every compute type and every test length. */
static void for_each_case(void (*fn)(enum qm_type t, int64_t n))
{
    for (uint32_t id = 0; id < QM_TYPE_COUNT; id++) {
        const struct qm_type_traits *tr = qm_type_traits(id);
        if (!tr || !tr->compute)
            continue;
        if (type_is_float(id))
            for (size_t i = 0; i < sizeof float_lengths / sizeof float_lengths[0]; i++)
                fn(id, float_lengths[i]);
        else
            for (size_t i = 0; i < sizeof block_counts / sizeof block_counts[0]; i++)
                fn(id, block_counts[i] * tr->blck);
    }
}

/* ---- the reference dots against dequantize-and-dot ------------------------ */

static void ref_case(enum qm_type t, int64_t n)
{
    struct kcase c;
    kcase_make(&c, t, n, NULL, -1);
    float s = NAN;
    qm_type_traits(t)->vec_dot(n, &s, c.w, c.a);
    check_close(s, kcase_float_dot(&c), c.tol, "reference vs float dot", &c);
    kcase_free(&c);
}

static void ref_matches_float_dot(void **state)
{
    (void)state;
    for_each_case(ref_case);
}

/* ---- the fast kernels against the reference -------------------------------- */

static struct qm_cpu_kernels avx2_table;
static bool have_avx2;

static void fast_case_on(struct kcase *c)
{
    const struct qm_cpu_kernels *k = qm_cpu_kernels();
    float want = NAN, got = NAN;
    qm_type_traits(c->t)->vec_dot(c->n, &want, c->w, c->a);
    assert_non_null(k->vec_dot[c->t]);
    k->vec_dot[c->t](c->n, &got, c->w, c->a);
    check_close(got, want, c->tol, "active kernel vs reference", c);
    if (have_avx2 && avx2_table.vec_dot[c->t]) {
        got = NAN;
        avx2_table.vec_dot[c->t](c->n, &got, c->w, c->a);
        check_close(got, want, c->tol, "AVX2 kernel vs reference", c);
    }
    const struct qm_cpu_prep *pk = qm_cpu_prep();
    enum qm_type at = qm_type_traits(c->t)->act_type;
    if (pk->dot[c->t] && pk->prepare[at]) {
        void *prep = malloc(qm_prep_row_size(at, c->n));
        assert_non_null(prep);
        pk->prepare[at](c->a, prep, c->n);
        got = NAN;
        pk->dot[c->t](c->n, &got, c->w, prep);
        free(prep);
        check_close(got, want, c->tol, "prepared dot vs reference", c);
    }
}

static void fast_case(enum qm_type t, int64_t n)
{
    struct kcase c;
    kcase_make(&c, t, n, NULL, -1);
    fast_case_on(&c);
    kcase_free(&c);
}

static void kernels_match_ref(void **state)
{
    (void)state;
    for_each_case(fast_case);
}

/* Largest codes against activations of ±127: saturating intermediates or a
 * lost sign show up here first.  x of ±1 (alternating in runs) quantizes to
 * codes of exactly ±127 in every activation format. */
static void extreme_case(enum qm_type t, int64_t n)
{
    static const int bytes[] = {0x00, 0xff, 0x80, 0x7f, 0x88, 0x11};
    const struct qm_type_traits *tr = qm_type_traits(t);
    if (tr->blck == 1)
        return;
    float *x = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x);
    for (int pattern = 0; pattern < 3; pattern++) {
        for (int64_t i = 0; i < n; i++)
            x[i] = pattern == 0 ? 1.0f : pattern == 1 ? -1.0f : ((i / 3) % 2 ? -1.0f : 1.0f);
        for (size_t b = 0; b < sizeof bytes / sizeof bytes[0]; b++) {
            struct kcase c;
            kcase_make(&c, t, n, x, bytes[b]);
            fast_case_on(&c);
            kcase_free(&c);
        }
    }
    free(x);
}

static void kernels_extreme_codes(void **state)
{
    (void)state;
    for_each_case(extreme_case);
}

static void avx2_present_or_skipped(void **state)
{
    (void)state;
    if (!have_avx2) {
        print_message("note: no AVX2 on this CPU (or QM_CPU caps it): the AVX2 kernels were not tested\n");
        skip();
    }
    /* the 32-element types and floats have AVX2 kernels; where AVX2 is the
     * best the CPU has, they are the ones in use */
    static const enum qm_type mine[] = {QM_TYPE_F32, QM_TYPE_F16, QM_TYPE_BF16, QM_TYPE_Q4_0, QM_TYPE_Q4_1,
                                        QM_TYPE_Q5_0, QM_TYPE_Q5_1, QM_TYPE_Q8_0, QM_TYPE_IQ4_NL};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++) {
        assert_non_null(avx2_table.vec_dot[mine[i]]);
        if (!qm_cpu_features()->avx512)
            assert_ptr_equal(qm_cpu_kernels()->vec_dot[mine[i]], avx2_table.vec_dot[mine[i]]);
    }
    if (!qm_cpu_features()->avx512)
        assert_string_equal(qm_cpu_active_isa(), "avx2");
    /* and the 4- and 5-bit ones read prepared rows */
    static const enum qm_type prepared[] = {QM_TYPE_Q4_0, QM_TYPE_Q4_1, QM_TYPE_Q5_0, QM_TYPE_Q5_1, QM_TYPE_IQ4_NL};
    for (size_t i = 0; i < sizeof prepared / sizeof prepared[0]; i++)
        assert_non_null(qm_cpu_prep()->dot[prepared[i]]);
    assert_true(qm_prep_row_size(QM_TYPE_Q8_0, 9 * 32) == 320 + sizeof(blk_q8_0));
    assert_true(qm_prep_row_size(QM_TYPE_Q8_K, 256) == 0);
}

/* ---- activation quantizers ------------------------------------------------- */

static void check_quant_same(enum qm_type at, qm_from_float_fn fast, const float *x, int64_t n, const char *what)
{
    const struct qm_type_traits *tr = qm_type_traits(at);
    size_t bytes = qm_row_size(at, n);
    uint8_t *want = calloc(1, bytes), *got = calloc(1, bytes);
    assert_non_null(want);
    assert_non_null(got);
    tr->from_float(x, want, n);
    fast(x, got, n);
    for (size_t i = 0; i < bytes; i++)
        if (want[i] != got[i]) {
            print_error("%s %s: byte %zu of block %zu differs: %d vs reference %d\n", what, tr->name,
                        i % tr->size, i / tr->size, got[i], want[i]);
            fail();
        }
    free(want);
    free(got);
}

static void quant_inputs_check(enum qm_type at, qm_from_float_fn fast, const char *what)
{
    const int64_t n = 4 * QK_K;
    float *x = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x);

    /* random values over several magnitudes */
    for (int64_t i = 0; i < n; i++)
        x[i] = kf_signed_unit() * ldexpf(1.0f, (int)(i / 64) % 12 - 6);
    check_quant_same(at, fast, x, n, what);

    /* exact ties: with max |x| = 127 the scale is 1 and x·(1/d) = x */
    for (int64_t i = 0; i < n; i++)
        x[i] = i % 32 == 0 ? 127.0f : (float)((int)(i % 61) - 30) + ((i % 3) ? 0.5f : -0.5f);
    check_quant_same(at, fast, x, n, what);

    /* zeros, a single non-zero, tiny values whose 1/d overflows, and
     * non-finite inputs; blocks of 32 and 256 both see each */
    for (int64_t i = 0; i < n; i++) {
        int64_t blk = i / 256, j = i % 256;
        switch (blk) {
        case 0: x[i] = 0.0f; break;
        case 1: x[i] = j == 77 ? -3.0f : 0.0f; break;
        case 2: x[i] = (j % 2 ? 1e-40f : -2e-40f); break;
        default: x[i] = j == 5 ? NAN : j == 40 ? INFINITY : j == 300 % 256 ? -INFINITY : kf_signed_unit(); break;
        }
    }
    check_quant_same(at, fast, x, n, what);
    free(x);
}

static void act_quantizers_match_ref(void **state)
{
    (void)state;
    static const enum qm_type acts[] = {QM_TYPE_Q8_0, QM_TYPE_Q8_1, QM_TYPE_Q8_K};
    const struct qm_cpu_kernels *k = qm_cpu_kernels();
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        assert_non_null(k->quantize[acts[i]]);
        quant_inputs_check(acts[i], k->quantize[acts[i]], "active quantizer");
        if (have_avx2 && avx2_table.quantize[acts[i]])
            quant_inputs_check(acts[i], avx2_table.quantize[acts[i]], "AVX2 quantizer");
    }
}

/* Quantizing a row in pieces (as the threaded matmul does) gives the same
 * bytes as quantizing it whole. */
static void act_quantizers_split(void **state)
{
    (void)state;
    static const enum qm_type acts[] = {QM_TYPE_Q8_0, QM_TYPE_Q8_1, QM_TYPE_Q8_K};
    const struct qm_cpu_kernels *k = qm_cpu_kernels();
    const int64_t n = 8 * QK_K;
    float *x = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = kf_signed_unit();
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        const struct qm_type_traits *tr = qm_type_traits(acts[i]);
        size_t bytes = qm_row_size(acts[i], n);
        uint8_t *whole = malloc(bytes), *parts = malloc(bytes);
        assert_non_null(whole);
        assert_non_null(parts);
        k->quantize[acts[i]](x, whole, n);
        int64_t half = n / tr->blck / 3 * tr->blck;
        k->quantize[acts[i]](x, parts, half);
        k->quantize[acts[i]](x + half, parts + qm_row_size(acts[i], half), n - half);
        assert_memory_equal(whole, parts, bytes);
        free(whole);
        free(parts);
    }
    free(x);
}

static int setup(void **state)
{
    (void)state;
    memset(&avx2_table, 0, sizeof avx2_table);
#if defined(__x86_64__)
    have_avx2 = qm_cpu_features()->avx2;
    if (have_avx2) {
        qm_kernels_register_avx2(&avx2_table);
        qm_kernels_register_avx2_k(&avx2_table);
    }
#endif
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ref_matches_float_dot),
        cmocka_unit_test(kernels_match_ref),
        cmocka_unit_test(kernels_extreme_codes),
        cmocka_unit_test(avx2_present_or_skipped),
        cmocka_unit_test(act_quantizers_match_ref),
        cmocka_unit_test(act_quantizers_split),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
