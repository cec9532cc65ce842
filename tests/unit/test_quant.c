/* test_quant.c - quantize -> dequantize through the type table, for every
 * type qm can quantize: error on Gaussian data within a stated bound per
 * type, exact zeros for zero input, and never a NaN or Inf for constant
 * rows, a huge outlier or tiny values.  Also the Q8_K / Q8_1 side fields
 * and the geometry of every row of the table against the GGUF type table.
 * (Bit-exactness against the gguf package is tests/py/test_quant_reference.py.) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "quant.h"

#define N (QK_K * 64)          /* elements per trial: 16384 */

/* ---- a fixed-seed Gaussian source (splitmix64 + Box-Muller) ----------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(void)          /* in (0, 1) */
{
    return ((double)(rng_next() >> 11) + 0.5) * 0x1p-53;
}

static void fill_normal(float *x, int64_t n, uint64_t seed)
{
    rng_state = seed;
    for (int64_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(rng_uniform())), t = 6.283185307179586 * rng_uniform();
        x[i] = (float)(r * cos(t));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(t));
    }
}

/* ---- helpers ----------------------------------------------------------- */

/* quantize n values of x to type, dequantize into y */
static void round_trip(enum qm_type type, const float *x, float *y, int64_t n)
{
    const struct qm_type_traits *t = qm_type_traits(type);
    assert_non_null(t);
    assert_non_null(t->from_float);
    assert_non_null(t->to_float);
    assert_int_equal(n % t->blck, 0);
    void *buf = malloc(qm_row_size(type, n));
    assert_non_null(buf);
    t->from_float(x, buf, n);
    t->to_float(buf, y, n);
    free(buf);
}

static double rel_rmse(const float *x, const float *y, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)x[i] - y[i];
        num += e * e;
        den += (double)x[i] * x[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void assert_all_finite(const float *y, int64_t n, const char *what, enum qm_type type)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            fail_msg("%s, %s: value %lld is %g", qm_type_name(type), what, (long long)i, (double)y[i]);
    }
}

/* ---- error bounds ---------------------------------------------------------
 * Relative RMSE sqrt(sum (x - x')^2 / sum x^2) of quantize -> dequantize on
 * N(0,1) data, 16384 values, seed 1.  Bounds sit 5-10% above what was
 * measured (in the comments) so a regression in the method shows, not a
 * last-digit change. */
static const struct {
    enum qm_type type;
    double bound;
} rmse_table[] = {
    {QM_TYPE_F32, 0.0},        /* measured 0 */
    {QM_TYPE_F16, 0.00023},    /* 0.000210 */
    {QM_TYPE_BF16, 0.0018},    /* 0.00165 */
    {QM_TYPE_Q4_0, 0.090},     /* 0.0854 */
    {QM_TYPE_Q4_1, 0.082},     /* 0.0777 */
    {QM_TYPE_Q5_0, 0.045},     /* 0.0423 */
    {QM_TYPE_Q5_1, 0.040},     /* 0.0374 */
    {QM_TYPE_Q8_0, 0.0057},    /* 0.00536 */
    {QM_TYPE_Q8_1, 0.0057},    /* 0.00536 */
    {QM_TYPE_Q2_K, 0.28},      /* 0.2626 */
    {QM_TYPE_Q3_K, 0.152},     /* 0.1426 */
    {QM_TYPE_Q4_K, 0.074},     /* 0.0697 */
    {QM_TYPE_Q5_K, 0.037},     /* 0.0341 */
    {QM_TYPE_Q6_K, 0.0185},    /* 0.0171 */
    {QM_TYPE_Q8_K, 0.0075},    /* 0.00680 */
};
#define NTYPES (sizeof rmse_table / sizeof rmse_table[0])

static void gaussian_error(void **state)
{
    (void)state;
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    fill_normal(x, N, 1);
    for (size_t k = 0; k < NTYPES; k++) {
        round_trip(rmse_table[k].type, x, y, N);
        double r = rel_rmse(x, y, N);
        print_message("  %-5s rel. RMSE %.5f (bound %.5f)\n", qm_type_name(rmse_table[k].type), r,
                      rmse_table[k].bound);
        if (!(r <= rmse_table[k].bound))
            fail_msg("%s: rel. RMSE %g above %g", qm_type_name(rmse_table[k].type), r, rmse_table[k].bound);
    }
    free(x);
    free(y);
}

static void zeros_stay_zero(void **state)
{
    (void)state;
    float *x = calloc(N, sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t k = 0; k < NTYPES; k++) {
        memset(y, 0xff, N * sizeof *y);               /* NaN everywhere */
        round_trip(rmse_table[k].type, x, y, N);
        for (int64_t i = 0; i < N; i++) {
            if (y[i] != 0.0f)
                fail_msg("%s: zero input gave %g at %lld", qm_type_name(rmse_table[k].type), (double)y[i],
                         (long long)i);
        }
    }
    free(x);
    free(y);
}

/* constant rows of a few values: finite and as good as the Gaussian bound */
static void constant_rows(void **state)
{
    (void)state;
    static const float values[] = {1.0f, -3.25f, 0.7f, 1e-3f, -250.0f};
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
        for (int64_t i = 0; i < N; i++)
            x[i] = values[v];
        for (size_t k = 0; k < NTYPES; k++) {
            round_trip(rmse_table[k].type, x, y, N);
            assert_all_finite(y, N, "constant row", rmse_table[k].type);
            double r = rel_rmse(x, y, N);
            if (!(r <= rmse_table[k].bound + 1e-3))
                fail_msg("%s: constant %g has rel. RMSE %g", qm_type_name(rmse_table[k].type),
                         (double)values[v], r);
        }
    }
    free(x);
    free(y);
}

/* one value 10^4 times the rest in each block: finite, the outlier itself
 * kept well, and the other super-blocks unharmed */
static void huge_outlier(void **state)
{
    (void)state;
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    fill_normal(x, N, 2);
    x[37] = 1e4f;
    x[300] = -2e4f;
    for (size_t k = 0; k < NTYPES; k++) {
        enum qm_type type = rmse_table[k].type;
        round_trip(type, x, y, N);
        assert_all_finite(y, N, "outlier", type);
        if (fabsf(y[37] - 1e4f) > 0.1f * 1e4f || fabsf(y[300] + 2e4f) > 0.1f * 2e4f)
            fail_msg("%s: outliers came back as %g and %g", qm_type_name(type), (double)y[37], (double)y[300]);
        /* super-blocks 2.. hold no outlier: the Gaussian bound applies */
        double r = rel_rmse(x + 2 * QK_K, y + 2 * QK_K, N - 2 * QK_K);
        if (!(r <= rmse_table[k].bound))
            fail_msg("%s: rel. RMSE %g after an outlier", qm_type_name(type), r);
    }
    free(x);
    free(y);
}

/* tiny values, down to where f16 scales are subnormal or zero, and huge ones
 * beyond what an f16 scale reaches: never NaN or Inf */
static void tiny_and_huge_values(void **state)
{
    (void)state;
    static const float mags[] = {1e-3f, 1e-5f, 3e-7f, 1e-9f, 1e-20f, 1e-38f, 1e-42f, 1e6f, 1e9f, 1e30f};
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t m = 0; m < sizeof mags / sizeof mags[0]; m++) {
        fill_normal(x, N, 3 + m);
        for (int64_t i = 0; i < N; i++)
            x[i] *= mags[m];
        for (size_t k = 0; k < NTYPES; k++) {
            enum qm_type type = rmse_table[k].type;
            if (mags[m] > 1e5f && (type == QM_TYPE_F16))
                continue;                     /* F16 itself overflows: Inf is its answer */
            round_trip(type, x, y, N);
            assert_all_finite(y, N, "tiny/huge values", type);
            /* where the scale is an f32 (Q8_K) or the values are normal f16 territory, accuracy holds */
            if ((type == QM_TYPE_Q8_K && mags[m] >= 1e-38f && mags[m] < 1e30f) || (mags[m] >= 1e-3f && mags[m] <= 1e3f)) {
                double r = rel_rmse(x, y, N);
                if (!(r <= rmse_table[k].bound))
                    fail_msg("%s: values of size %g: rel. RMSE %g", qm_type_name(type), (double)mags[m], r);
            }
        }
    }
    free(x);
    free(y);
}

/* a NaN or Inf in the input spoils its own block only: every other block
 * comes back finite and accurate (and nothing on the way is undefined
 * behaviour, which the sanitizer build would catch) */
static void nonfinite_input_is_contained(void **state)
{
    (void)state;
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    fill_normal(x, N, 7);
    x[5] = NAN;                               /* super-block 0 */
    x[QK_K + 9] = INFINITY;                   /* super-block 1 */
    x[2 * QK_K + 200] = -INFINITY;            /* super-block 2 */
    for (size_t k = 0; k < NTYPES; k++) {
        enum qm_type type = rmse_table[k].type;
        round_trip(type, x, y, N);
        assert_all_finite(y + 3 * QK_K, N - 3 * QK_K, "blocks after a NaN", type);
        double r = rel_rmse(x + 3 * QK_K, y + 3 * QK_K, N - 3 * QK_K);
        if (!(r <= rmse_table[k].bound))
            fail_msg("%s: rel. RMSE %g next to NaN/Inf blocks", qm_type_name(type), r);
    }
    free(x);
    free(y);
}

/* Q8_K: codes within +-127, bsums = group sums, d*q close to x */
static void q8_k_fields(void **state)
{
    (void)state;
    enum { NB = 16 };
    float x[NB * QK_K];
    blk_q8_k b[NB];
    fill_normal(x, NB * QK_K, 5);
    for (int i = 0; i < QK_K; i++)
        x[3 * QK_K + i] = -fabsf(x[3 * QK_K + i]);     /* all negative */
    x[7 * QK_K + 11] = 50.0f;
    qm_type_traits(QM_TYPE_Q8_K)->from_float(x, b, NB * QK_K);
    for (int k = 0; k < NB; k++) {
        float amax = 0;
        for (int i = 0; i < QK_K; i++)
            amax = fmaxf(amax, fabsf(x[k * QK_K + i]));
        assert_true(b[k].d > 0);
        assert_true(fabsf(b[k].d - amax / 127) <= 1e-6f * amax);
        for (int g = 0; g < QK_K / 16; g++) {
            int s = 0;
            for (int l = 0; l < 16; l++) {
                int q = b[k].qs[16 * g + l];
                assert_true(q >= -127 && q <= 127);
                /* nearest code */
                assert_true(fabsf(x[k * QK_K + 16 * g + l] - b[k].d * (float)q) <= 0.5001f * b[k].d);
                s += q;
            }
            assert_int_equal(b[k].bsums[g], s);
        }
    }
}

/* Q8_1: s is d*sum(q) in f16 */
static void q8_1_fields(void **state)
{
    (void)state;
    enum { NB = 32 };
    float x[NB * QK8_1];
    blk_q8_1 b[NB];
    fill_normal(x, NB * QK8_1, 6);
    for (int i = 0; i < QK8_1; i++)
        x[i] = fabsf(x[i]) + 1.0f;                       /* sum far from 0 */
    qm_type_traits(QM_TYPE_Q8_1)->from_float(x, b, NB * QK8_1);
    for (int k = 0; k < NB; k++) {
        int sum = 0;
        for (int i = 0; i < QK8_1; i++)
            sum += b[k].qs[i];
        float want = qm_f16_to_f32(b[k].d) * (float)sum, s = qm_f16_to_f32(b[k].s);
        assert_true(fabsf(s - want) <= 2e-3f * fabsf(want) + 1e-6f);
    }
}

/* ---- the table ---------------------------------------------------------- */

static void table_geometry(void **state)
{
    (void)state;
    /* engine-reference.md 2.1: name, elements per block, bytes per block */
    static const struct {
        const char *name;
        int64_t blck;
        size_t size;
    } gguf[QM_TYPE_COUNT] = {
        [0] = {"F32", 1, 4}, [1] = {"F16", 1, 2}, [2] = {"Q4_0", 32, 18}, [3] = {"Q4_1", 32, 20},
        [6] = {"Q5_0", 32, 22}, [7] = {"Q5_1", 32, 24}, [8] = {"Q8_0", 32, 34}, [9] = {"Q8_1", 32, 36},
        [10] = {"Q2_K", 256, 84}, [11] = {"Q3_K", 256, 110}, [12] = {"Q4_K", 256, 144},
        [13] = {"Q5_K", 256, 176}, [14] = {"Q6_K", 256, 210}, [15] = {"Q8_K", 256, 292},
        [16] = {"IQ2_XXS", 256, 66}, [17] = {"IQ2_XS", 256, 74}, [18] = {"IQ3_XXS", 256, 98},
        [19] = {"IQ1_S", 256, 50}, [20] = {"IQ4_NL", 32, 18}, [21] = {"IQ3_S", 256, 110},
        [22] = {"IQ2_S", 256, 82}, [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},
        [25] = {"I16", 1, 2}, [26] = {"I32", 1, 4}, [27] = {"I64", 1, 8}, [28] = {"F64", 1, 8},
        [29] = {"IQ1_M", 256, 56}, [30] = {"BF16", 1, 2}, [34] = {"TQ1_0", 256, 54},
        [35] = {"TQ2_0", 256, 66}, [39] = {"MXFP4", 32, 17},
    };
    for (uint32_t id = 0; id < QM_TYPE_COUNT + 5; id++) {
        const struct qm_type_traits *t = qm_type_traits(id);
        if (id >= QM_TYPE_COUNT || !gguf[id].name) {
            if (t)
                fail_msg("id %u should have no row", id);
            continue;
        }
        if (!t)
            fail_msg("id %u (%s) has no row", id, gguf[id].name);
        assert_string_equal(t->name, gguf[id].name);
        assert_int_equal(t->blck, gguf[id].blck);
        assert_int_equal(t->size, gguf[id].size);
        /* a type we compute with can be read and dotted */
        if (t->compute) {
            assert_non_null(t->to_float);
            assert_non_null(t->vec_dot);
            assert_non_null(qm_type_traits(t->act_type));
        }
    }
    /* the quantizers promised */
    static const enum qm_type quantizable[] = {
        QM_TYPE_F32, QM_TYPE_F16, QM_TYPE_BF16, QM_TYPE_Q4_0, QM_TYPE_Q4_1, QM_TYPE_Q5_0,
        QM_TYPE_Q5_1, QM_TYPE_Q8_0, QM_TYPE_Q8_1, QM_TYPE_Q2_K, QM_TYPE_Q3_K, QM_TYPE_Q4_K,
        QM_TYPE_Q5_K, QM_TYPE_Q6_K, QM_TYPE_Q8_K,
    };
    for (size_t k = 0; k < sizeof quantizable / sizeof quantizable[0]; k++) {
        assert_non_null(qm_type_traits(quantizable[k])->from_float);
        assert_non_null(qm_type_traits(quantizable[k])->to_float);
    }
    assert_non_null(qm_type_traits(QM_TYPE_IQ4_NL)->to_float);
    assert_non_null(qm_type_traits(QM_TYPE_IQ4_XS)->to_float);
    assert_string_equal(qm_type_name(4), "unknown type 4");
    assert_int_equal(qm_row_size(QM_TYPE_Q4_K, 4096), 16 * 144);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gaussian_error),
        cmocka_unit_test(zeros_stay_zero),
        cmocka_unit_test(constant_rows),
        cmocka_unit_test(huge_outlier),
        cmocka_unit_test(tiny_and_huge_values),
        cmocka_unit_test(nonfinite_input_is_contained),
        cmocka_unit_test(q8_k_fields),
        cmocka_unit_test(q8_1_fields),
        cmocka_unit_test(table_geometry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
