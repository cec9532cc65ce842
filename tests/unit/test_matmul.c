/* test_matmul.c - qm_matmul, qm_matmul_multi and qm_cpu_dequantize_rows.
 *
 * For every compute type and several shapes (odd row counts, one token and
 * many, more tokens than one token block, one thread and two) the product
 * is checked twice:
 *  - bit for bit against the kernel the matmul uses (the prepared dot of
 *    prep.h where the CPU has one for the type, else the kernel table's;
 *    for the tokens the matmul takes four at a time, the type's x4 dot of
 *    kernels.h) called directly on each (row, token) with the activation
 *    row quantized and prepared whole: this is what proves the row split between threads,
 *    the row and token tiling and the split quantization and preparation of
 *    X lose or repeat nothing;
 *  - within float rounding against a naive loop that dequantizes the weight
 *    row and the quantized activation row and takes their dot in double.
 * The shapes are large enough that the two-thread cases really run in
 * parallel (the matmul keeps small products on one thread), and their token
 * counts leave every remainder of four tokens after the x4 groups. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernels.h"
#include "kernels_fixture.h"
#include "matmul.h"
#include "prep.h"
#include "quant.h"

#define REL_TOL 1e-5

struct shape {
    int64_t nrows, ntok;
    int threads;
};

static const struct shape shapes[] = {
    {1, 1, 1}, {37, 1, 1}, {37, 5, 2}, {1, 3, 2}, {301, 1, 2}, {301, 70, 2}, {302, 2, 1}, {19, 4, 1}, {19, 7, 2},
};

static bool type_is_float(enum qm_type t)
{
    return t == QM_TYPE_F32 || t == QM_TYPE_F16 || t == QM_TYPE_BF16;
}

/* Columns for type t: a whole number of blocks, an odd length for floats. */
static int64_t cols_for(enum qm_type t)
{
    return type_is_float(t) ? 257 : 1024;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* The activation row x for weight type t as the matmul hands it to its
 * kernel, quantized by the active quantizer and prepared where the CPU has
 * a prepared dot for t (f32 activations are used as they are); *dot gets
 * that kernel. */
static void *act_row(enum qm_type t, const float *x, int64_t ncols, qm_vec_dot_fn *dot, size_t *row_bytes)
{
    enum qm_type at = qm_type_traits(t)->act_type;
    size_t bytes = qm_row_size(at, ncols);
    void *a = xmalloc(bytes);
    *dot = qm_cpu_kernels()->vec_dot[t];
    *row_bytes = bytes;
    if (at == QM_TYPE_F32) {
        memcpy(a, x, bytes);
        return a;
    }
    qm_cpu_kernels()->quantize[at](x, a, ncols);
    const struct qm_cpu_prep *pk = qm_cpu_prep();
    if (!pk->dot[t] || !pk->prepare[at])
        return a;
    *row_bytes = (qm_prep_row_size(at, ncols) + 63) / 64 * 64;   /* as the matmul aligns them */
    void *prep = xmalloc(*row_bytes);
    pk->prepare[at](a, prep, ncols);
    free(a);
    *dot = pk->dot[t];
    return prep;
}

/* The activation row in the act type alone, for the dequantized side. */
static void *quantized_row(enum qm_type t, const float *x, int64_t ncols)
{
    enum qm_type at = qm_type_traits(t)->act_type;
    void *a = xmalloc(qm_row_size(at, ncols));
    if (at == QM_TYPE_F32)
        memcpy(a, x, sizeof(float) * (size_t)ncols);
    else
        qm_cpu_kernels()->quantize[at](x, a, ncols);
    return a;
}

/* Tokens per block of the matmul's many-token loop (MM_TOK_TILE of
 * matmul.c): within each block it takes the tokens four at a time through
 * the x4 dot where the type has one, and the last (block size % 4) through
 * the single dot. */
#define MM_TOK_TILE 64

/* Whether the matmul computes token tok of ntok with the x4 dot; *first is
 * then the first token of its group of four. */
static bool token_in_x4_group(enum qm_type t, int64_t tok, int64_t ntok, int64_t *first)
{
    if (ntok < 2 || !qm_cpu_kernels()->vec_dot_x4[t])
        return false;
    int64_t t0 = tok / MM_TOK_TILE * MM_TOK_TILE;
    int64_t t1 = t0 + MM_TOK_TILE < ntok ? t0 + MM_TOK_TILE : ntok;
    if (tok >= t0 + (t1 - t0) / 4 * 4)
        return false;
    *first = tok - (tok - t0) % 4;
    return true;
}

/* Checks y (ntok rows of nrows) against the direct kernel calls and the
 * naive double loop. */
static void check_product(enum qm_type t, const uint8_t *w, int64_t nrows, int64_t ncols, const float *x,
                          int64_t ntok, const float *y, const char *what)
{
    const struct qm_type_traits *tr = qm_type_traits(t), *at = qm_type_traits(tr->act_type);
    size_t rs = qm_row_size(t, ncols);
    float *wf = xmalloc(sizeof(float) * (size_t)ncols), *af = xmalloc(sizeof(float) * (size_t)(ncols * ntok));
    void **a = xmalloc(sizeof(void *) * (size_t)ntok);
    qm_vec_dot_fn dot = NULL;
    size_t arow = 0;    /* bytes of one activation row as the kernels read it */
    for (int64_t tok = 0; tok < ntok; tok++) {
        a[tok] = act_row(t, x + tok * ncols, ncols, &dot, &arow);
        void *q = quantized_row(t, x + tok * ncols, ncols);
        at->to_float(q, af + tok * ncols, ncols);
        free(q);
    }
    for (int64_t r = 0; r < nrows; r++) {
        tr->to_float(w + (size_t)r * rs, wf, ncols);
        for (int64_t tok = 0; tok < ntok; tok++) {
            float want = NAN;
            int64_t first;
            if (token_in_x4_group(t, tok, ntok, &first)) {
                /* the four rows contiguous at their own stride, as in the matmul */
                uint8_t *four = aligned_alloc(64, (4 * arow + 63) / 64 * 64);
                assert_non_null(four);
                float s4[4];
                for (int k = 0; k < 4; k++)
                    memcpy(four + (size_t)k * arow, a[first + k], arow);
                qm_cpu_kernels()->vec_dot_x4[t](ncols, s4, w + (size_t)r * rs, four, arow);
                want = s4[tok - first];
                free(four);
            } else {
                dot(ncols, &want, w + (size_t)r * rs, a[tok]);
            }
            float got = y[tok * nrows + r];
            if (memcmp(&got, &want, sizeof got) != 0) {
                print_error("%s %s %lldx%lld, %lld tokens: y[%lld][%lld] = %.9g, the kernel says %.9g\n", what,
                            tr->name, (long long)nrows, (long long)ncols, (long long)ntok, (long long)tok,
                            (long long)r, got, want);
                fail();
            }
            const float *ar = af + tok * ncols;
            double naive = 0;
            for (int64_t i = 0; i < ncols; i++)
                naive += (double)wf[i] * ar[i];
            double tol = kf_tolerance(t, w + (size_t)r * rs, wf, ar, ncols, REL_TOL);
            if (fabs(got - naive) > tol) {
                print_error("%s %s: y[%lld][%lld] = %.9g, dequantize-and-dot says %.9g (tolerance %.3g)\n", what,
                            tr->name, (long long)tok, (long long)r, got, naive, tol);
                fail();
            }
        }
    }
    for (int64_t tok = 0; tok < ntok; tok++)
        free(a[tok]);
    free(a);
    free(wf);
    free(af);
}

static void every_type_every_shape(void **state)
{
    (void)state;
    struct qm_matmul_ctx *ctx = NULL;
    struct qm_err err = {{0}};
    assert_int_equal(qm_matmul_ctx_create(&ctx, 1, &err), 0);
    for (uint32_t id = 0; id < QM_TYPE_COUNT; id++) {
        const struct qm_type_traits *tr = qm_type_traits(id);
        if (!tr || !tr->compute)
            continue;
        int64_t ncols = cols_for(id);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const struct shape *sh = &shapes[s];
            size_t rs = qm_row_size(id, ncols);
            uint8_t *w = xmalloc(rs * (size_t)sh->nrows);
            float *x = xmalloc(sizeof(float) * (size_t)(ncols * sh->ntok));
            float *y = xmalloc(sizeof(float) * (size_t)(sh->nrows * sh->ntok));
            kf_weights(id, w, ncols * sh->nrows);
            for (int64_t i = 0; i < ncols * sh->ntok; i++)
                x[i] = kf_signed_unit() * 2.0f;
            for (int64_t i = 0; i < sh->nrows * sh->ntok; i++)
                y[i] = NAN;
            qm_matmul_ctx_set_threads(ctx, sh->threads);
            assert_int_equal(qm_matmul_ctx_threads(ctx), sh->threads);
            assert_int_equal(qm_matmul(ctx, id, w, sh->nrows, ncols, x, sh->ntok, y, &err), 0);
            check_product(id, w, sh->nrows, ncols, x, sh->ntok, y, "qm_matmul");
            free(w);
            free(x);
            free(y);
        }
    }
    qm_matmul_ctx_free(ctx);
}

/* Several weights of different types and activation types over one X: the
 * same numbers as one call each. */
static void multi_equals_singles(void **state)
{
    (void)state;
    static const enum qm_type types[] = {QM_TYPE_Q4_0, QM_TYPE_Q4_K, QM_TYPE_F16, QM_TYPE_Q5_1, QM_TYPE_Q8_0};
    static const int64_t rows[] = {129, 64, 33, 200, 7};
    enum { N = sizeof types / sizeof types[0] };
    const int64_t ncols = 512, ntok = 3;
    struct qm_matmul_ctx *ctx = NULL;
    struct qm_err err = {{0}};
    struct qm_matmul_op ops[N];
    uint8_t *w[N];
    float *y1[N], *y2[N];
    float *x = xmalloc(sizeof(float) * (size_t)(ncols * ntok));
    for (int64_t i = 0; i < ncols * ntok; i++)
        x[i] = kf_signed_unit();
    for (int i = 0; i < N; i++) {
        w[i] = xmalloc(qm_row_size(types[i], ncols) * (size_t)rows[i]);
        kf_weights(types[i], w[i], ncols * rows[i]);
        y1[i] = xmalloc(sizeof(float) * (size_t)(rows[i] * ntok));
        y2[i] = xmalloc(sizeof(float) * (size_t)(rows[i] * ntok));
        ops[i] = (struct qm_matmul_op){.type = types[i], .w = w[i], .nrows = rows[i], .y = y1[i]};
    }
    for (int threads = 1; threads <= 2; threads++) {
        assert_int_equal(qm_matmul_ctx_create(&ctx, threads, &err), 0);
        assert_int_equal(qm_matmul_multi(ctx, ops, N, ncols, x, ntok, &err), 0);
        for (int i = 0; i < N; i++) {
            assert_int_equal(qm_matmul(ctx, types[i], w[i], rows[i], ncols, x, ntok, y2[i], &err), 0);
            assert_memory_equal(y1[i], y2[i], sizeof(float) * (size_t)(rows[i] * ntok));
            check_product(types[i], w[i], rows[i], ncols, x, ntok, y1[i], "qm_matmul_multi");
        }
        qm_matmul_ctx_free(ctx);
    }
    for (int i = 0; i < N; i++) {
        free(w[i]);
        free(y1[i]);
        free(y2[i]);
    }
    free(x);
}

static void dequantize_rows(void **state)
{
    (void)state;
    static const enum qm_type types[] = {QM_TYPE_Q4_0, QM_TYPE_Q6_K, QM_TYPE_BF16, QM_TYPE_IQ4_XS};
    const int64_t nrows = 301, ncols = 1024;
    struct qm_matmul_ctx *ctx = NULL;
    struct qm_err err = {{0}};
    assert_int_equal(qm_matmul_ctx_create(&ctx, 2, &err), 0);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const struct qm_type_traits *tr = qm_type_traits(types[i]);
        size_t rs = qm_row_size(types[i], ncols);
        uint8_t *w = xmalloc(rs * (size_t)nrows);
        float *got = xmalloc(sizeof(float) * (size_t)(nrows * ncols));
        float *want = xmalloc(sizeof(float) * (size_t)ncols);
        kf_weights(types[i], w, nrows * ncols);
        assert_int_equal(qm_cpu_dequantize_rows(ctx, types[i], w, nrows, ncols, got, &err), 0);
        for (int64_t r = 0; r < nrows; r++) {
            tr->to_float(w + (size_t)r * rs, want, ncols);
            assert_memory_equal(got + r * ncols, want, sizeof(float) * (size_t)ncols);
        }
        free(w);
        free(got);
        free(want);
    }
    qm_matmul_ctx_free(ctx);
}

static void refusals(void **state)
{
    (void)state;
    struct qm_matmul_ctx *ctx = NULL;
    struct qm_err err = {{0}};
    float x[64] = {0}, y[4] = {0};
    uint8_t w[4 * 256] = {0};
    assert_int_equal(qm_matmul_ctx_create(&ctx, 0, &err), 0);
    assert_true(qm_matmul_ctx_threads(ctx) >= 1);

    /* activation-only and non-compute types */
    err.msg[0] = 0;
    assert_int_equal(qm_matmul(ctx, QM_TYPE_Q8_K, w, 1, 256, x, 1, y, &err), QM_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "Q8_K"));
    assert_int_equal(qm_matmul(ctx, QM_TYPE_IQ2_XXS, w, 1, 256, x, 1, y, &err), QM_EUNSUPPORTED);
    assert_int_equal(qm_cpu_dequantize_rows(ctx, QM_TYPE_IQ2_XXS, w, 1, 256, x, &err), QM_EUNSUPPORTED);
    assert_int_equal(qm_matmul(ctx, (enum qm_type)4, w, 1, 32, x, 1, y, &err), QM_EUNSUPPORTED);
    /* rows that are not whole blocks */
    err.msg[0] = 0;
    assert_int_equal(qm_matmul(ctx, QM_TYPE_Q4_0, w, 1, 48, x, 1, y, &err), QM_EINVAL);
    assert_true(strlen(err.msg) > 0);
    assert_int_equal(qm_matmul(ctx, QM_TYPE_Q4_K, w, 1, 32, x, 1, y, &err), QM_EINVAL);
    assert_int_equal(qm_cpu_dequantize_rows(ctx, QM_TYPE_Q4_0, w, 1, 48, x, &err), QM_EINVAL);
    /* too many weights in one call, no columns */
    struct qm_matmul_op ops[QM_MATMUL_MAX_OPS + 1];
    for (int i = 0; i < QM_MATMUL_MAX_OPS + 1; i++)
        ops[i] = (struct qm_matmul_op){.type = QM_TYPE_F32, .w = w, .nrows = 1, .y = y};
    assert_int_equal(qm_matmul_multi(ctx, ops, QM_MATMUL_MAX_OPS + 1, 32, x, 1, &err), QM_EINVAL);
    assert_int_equal(qm_matmul(ctx, QM_TYPE_F32, w, 1, 0, x, 1, y, &err), QM_EINVAL);
    /* no tokens or no rows: nothing to do, nothing written */
    y[0] = 42.0f;
    assert_int_equal(qm_matmul(ctx, QM_TYPE_F32, w, 1, 32, x, 0, y, &err), 0);
    assert_int_equal(qm_matmul(ctx, QM_TYPE_F32, w, 0, 32, x, 1, y, &err), 0);
    assert_true(y[0] == 42.0f);
    qm_matmul_ctx_free(ctx);
    qm_matmul_ctx_free(NULL);
}

/* The scratch grows with the call and is then reused: a smaller call after
 * a larger one must still be right (nothing of the old X leaks in). */
static void scratch_reuse(void **state)
{
    (void)state;
    const int64_t ncols = 256, nrows = 40;
    struct qm_matmul_ctx *ctx = NULL;
    struct qm_err err = {{0}};
    assert_int_equal(qm_matmul_ctx_create(&ctx, 2, &err), 0);
    size_t rs = qm_row_size(QM_TYPE_Q4_1, ncols);
    uint8_t *w = xmalloc(rs * nrows);
    float *x = xmalloc(sizeof(float) * ncols * 9), *y = xmalloc(sizeof(float) * nrows * 9);
    kf_weights(QM_TYPE_Q4_1, w, ncols * nrows);
    for (int64_t ntok = 9; ntok >= 1; ntok -= 4) {
        for (int64_t i = 0; i < ncols * ntok; i++)
            x[i] = kf_signed_unit() * (float)ntok;
        assert_int_equal(qm_matmul(ctx, QM_TYPE_Q4_1, w, nrows, ncols, x, ntok, y, &err), 0);
        check_product(QM_TYPE_Q4_1, w, nrows, ncols, x, ntok, y, "reused scratch");
    }
    free(w);
    free(x);
    free(y);
    qm_matmul_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_type_every_shape),
        cmocka_unit_test(multi_equals_singles),
        cmocka_unit_test(dequantize_rows),
        cmocka_unit_test(refusals),
        cmocka_unit_test(scratch_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
