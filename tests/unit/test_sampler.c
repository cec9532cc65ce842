/* test_sampler.c - the sampling chain against hand-made distributions.
 *
 * Filters are checked twice: through qm_sampler_survivors (the exact set a
 * stage keeps) and by sampling with many seeds (only that set ever comes
 * out, and all of it does).  Penalties are checked against the formula on a
 * six-token vocabulary, logprobs against a log-softmax in double, the draw
 * against softmax frequencies with a chi-square bound (fixed seeds: the test
 * cannot flake), and MT19937 against the C++ standard's published value. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rng.h"
#include "sampler.h"

/* ---- helpers ------------------------------------------------------------- */

/* Every filter off, temperature 1, a fixed seed. */
static struct qm_sampler_params plain(void)
{
    struct qm_sampler_params p;
    qm_sampler_params_default(&p);
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.typical_p = 1.0f;
    p.seed = 42;
    return p;
}

static struct qm_sampler *make(const struct qm_sampler_params *p, int32_t n_vocab)
{
    struct qm_err err = {{0}};
    struct qm_sampler *s = qm_sampler_new(p, n_vocab, &err);
    if (!s)
        fail_msg("qm_sampler_new: %s", err.msg);
    return s;
}

/* Deterministic pseudo-random logits in [-scale, scale). */
static void fill_logits(float *l, int32_t n, uint32_t seed, float scale)
{
    struct qm_mt mt;
    qm_mt_seed(&mt, seed);
    for (int32_t i = 0; i < n; i++)
        l[i] = (float)((qm_mt_unit(&mt) * 2.0 - 1.0) * scale);
}

static int32_t argmax(const float *l, int32_t n)
{
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (l[i] > l[b])
            b = i;
    return b;
}

/* The surviving token ids as a bitmask (vocabularies <= 32 here). */
static uint32_t survivor_mask(const struct qm_sampler_params *p, const float *l, int32_t n)
{
    struct qm_sampler *s = make(p, n);
    int32_t tok[32];
    int64_t k = qm_sampler_survivors(s, l, tok, NULL, 32);
    assert_true(k > 0 && k <= 32);
    uint32_t mask = 0;
    for (int64_t i = 0; i < k; i++) {
        assert_int_equal(mask & (1u << tok[i]), 0);     /* no duplicates */
        mask |= 1u << tok[i];
    }
    qm_sampler_free(s);
    return mask;
}

/* The tokens drawn over many seeds (a fresh sampler each), as a bitmask. */
static uint32_t drawn_mask(struct qm_sampler_params p, const float *l, int32_t n, int seeds)
{
    uint32_t mask = 0;
    for (int i = 0; i < seeds; i++) {
        p.seed = 1000 + i;
        struct qm_sampler *s = make(&p, n);
        int32_t t = qm_sampler_sample(s, l, NULL);
        assert_true(t >= 0 && t < n);
        mask |= 1u << t;
        qm_sampler_free(s);
    }
    return mask;
}

/* Probabilities 0.5, 0.2, 0.15, 0.1, 0.05 placed on ids 3, 0, 4, 1, 2 so
 * that id order and probability order differ. */
static const int32_t hand_ids[5] = {3, 0, 4, 1, 2};
static const double hand_p[5] = {0.5, 0.2, 0.15, 0.1, 0.05};

static void hand_logits(float l[5])
{
    for (int i = 0; i < 5; i++)
        l[hand_ids[i]] = (float)log(hand_p[i]);
}

/* Mask of the ids holding the given probability ranks (0 = 0.5, ...). */
static uint32_t ranks(int a, int b, int c)
{
    uint32_t m = 0;
    int r[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (r[i] >= 0)
            m |= 1u << hand_ids[r[i]];
    return m;
}

/* ---- MT19937 ------------------------------------------------------------- */

static void mt19937_reference(void **state)
{
    (void)state;
    struct qm_mt mt;
    qm_mt_seed(&mt, 5489);
    uint32_t first = qm_mt_u32(&mt);
    assert_int_equal(first, 3499211612u);           /* the well-known first output */
    uint32_t v = first;
    for (int i = 2; i <= 10000; i++)
        v = qm_mt_u32(&mt);
    assert_int_equal(v, 4123659995u);               /* C++ [rand.predef] */

    qm_mt_seed(&mt, 7);
    for (int i = 0; i < 100000; i++) {
        double u = qm_mt_unit(&mt);
        assert_true(u >= 0.0 && u < 1.0);
    }
}

/* ---- parameters ---------------------------------------------------------- */

static void defaults(void **state)
{
    (void)state;
    struct qm_sampler_params p;
    qm_sampler_params_default(&p);
    assert_true(p.temperature == 0.8f);
    assert_int_equal(p.top_k, 40);
    assert_true(p.top_p == 0.9f);
    assert_true(p.min_p == 0.0f);
    assert_true(p.typical_p == 1.0f);
    assert_int_equal(p.repeat_last_n, 64);
    assert_true(p.repeat_penalty == 1.0f);
    assert_true(p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f);
    assert_true(p.seed == -1);
    assert_int_equal(p.n_probs, 0);
    assert_int_equal(p.n_logit_bias, 0);

    /* seed -1 draws a seed; two samplers almost surely differ, and the seed
     * reported replays the same stream */
    struct qm_sampler *a = make(&p, 100);
    struct qm_sampler_params q = p;
    q.seed = qm_sampler_seed(a);
    struct qm_sampler *b = make(&q, 100);
    float l[100];
    fill_logits(l, 100, 3, 2.0f);
    for (int i = 0; i < 50; i++)
        assert_int_equal(qm_sampler_sample(a, l, NULL), qm_sampler_sample(b, l, NULL));
    qm_sampler_free(a);
    qm_sampler_free(b);
}

static void bad_params(void **state)
{
    (void)state;
    struct qm_err err = {{0}};
    struct qm_sampler_params p = plain();

    struct qm_logit_bias bias = {.token = 10, .bias = 1.0f};
    p.logit_bias = &bias;
    p.n_logit_bias = 1;
    assert_null(qm_sampler_new(&p, 10, &err));
    assert_non_null(strstr(err.msg, "token 10"));

    p = plain();
    p.n_probs = QM_SAMPLER_MAX_PROBS + 1;
    assert_null(qm_sampler_new(&p, 10, &err));
    p = plain();
    p.top_p = NAN;
    assert_null(qm_sampler_new(&p, 10, &err));
    assert_non_null(strstr(err.msg, "top_p"));
    p = plain();
    p.repeat_last_n = -2;
    assert_null(qm_sampler_new(&p, 10, &err));
    p = plain();
    p.repeat_penalty = 0.0f;
    assert_null(qm_sampler_new(&p, 10, &err));
    p = plain();
    assert_null(qm_sampler_new(&p, 0, &err));

    struct qm_sampler *s = make(&p, 10);
    assert_int_equal(qm_sampler_accept(s, 10), QM_EINVAL);
    assert_int_equal(qm_sampler_accept(s, -1), QM_EINVAL);
    assert_int_equal(qm_sampler_accept(s, 9), 0);
    qm_sampler_free(s);
}

/* ---- greedy -------------------------------------------------------------- */

static void greedy_argmax(void **state)
{
    (void)state;
    enum { N = 3000 };
    float *l = malloc(N * sizeof *l);
    assert_non_null(l);
    struct qm_sampler_params p;
    qm_sampler_params_default(&p);          /* filters on: greedy ignores them */
    p.temperature = 0.0f;
    p.typical_p = 0.3f;
    for (uint32_t round = 0; round < 20; round++) {
        fill_logits(l, N, round, 10.0f);
        struct qm_sampler *s = make(&p, N);
        assert_int_equal(qm_sampler_sample(s, l, NULL), argmax(l, N));
        qm_sampler_free(s);
    }
    p.temperature = -1.0f;                  /* negative is greedy too */
    struct qm_sampler *s = make(&p, N);
    assert_int_equal(qm_sampler_sample(s, l, NULL), argmax(l, N));
    qm_sampler_free(s);
    free(l);
}

static void greedy_ties(void **state)
{
    (void)state;
    float l[10] = {0, 1, 2, 5, 1, 0, 5, 5, -1, 0};
    struct qm_sampler_params p = plain();
    p.temperature = 0.0f;
    struct qm_sampler *s = make(&p, 10);
    assert_int_equal(qm_sampler_sample(s, l, NULL), 3);
    qm_sampler_free(s);

    /* NaN counts as -infinity, not as the maximum */
    l[0] = NAN;
    s = make(&p, 10);
    assert_int_equal(qm_sampler_sample(s, l, NULL), 3);
    qm_sampler_free(s);
}

static void top_k_one_is_greedy(void **state)
{
    (void)state;
    enum { N = 500 };
    float l[N];
    struct qm_sampler_params p = plain();
    p.top_k = 1;
    p.temperature = 1.5f;
    for (uint32_t round = 0; round < 50; round++) {
        fill_logits(l, N, 100 + round, 3.0f);
        p.seed = round;
        struct qm_sampler *s = make(&p, N);
        assert_int_equal(qm_sampler_sample(s, l, NULL), argmax(l, N));
        qm_sampler_free(s);
    }
    /* a tie for the top: the lower id, as greedy */
    l[17] = l[400] = 100.0f;
    struct qm_sampler *s = make(&p, N);
    for (int i = 0; i < 20; i++)
        assert_int_equal(qm_sampler_sample(s, l, NULL), 17);
    qm_sampler_free(s);
}

/* ---- filters ------------------------------------------------------------- */

/* top_k on a larger vocabulary with many equal logits: the survivors are
 * exactly the k best by (logit desc, id asc), in that order. */
static int ref_cmp(const void *pa, const void *pb)
{
    const float *a = pa, *b = pb;           /* pairs {logit, id} */
    if (a[0] != b[0])
        return a[0] > b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : 1;
}

static void top_k_exact(void **state)
{
    (void)state;
    enum { N = 20000 };
    float *l = malloc(N * sizeof *l), (*ref)[2] = malloc(N * sizeof *ref);
    int32_t *tok = malloc(N * sizeof *tok);
    assert_true(l && ref && tok);
    for (int pattern = 0; pattern < 3; pattern++) {
        for (int32_t i = 0; i < N; i++) {
            if (pattern == 0)
                l[i] = (float)(i % 7);                  /* runs of ties */
            else if (pattern == 1)
                l[i] = (float)i;                        /* ascending: bad pivots */
            else
                l[i] = (float)(N - i);                  /* descending */
            ref[i][0] = l[i];
            ref[i][1] = (float)i;
        }
        qsort(ref, N, sizeof *ref, ref_cmp);
        int32_t ks[] = {1, 2, 17, 40, 1000, N - 1};
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            struct qm_sampler_params p = plain();
            p.top_k = ks[j];
            struct qm_sampler *s = make(&p, N);
            int64_t k = qm_sampler_survivors(s, l, tok, NULL, N);
            assert_int_equal(k, ks[j]);
            for (int32_t i = 0; i < ks[j]; i++)
                assert_int_equal(tok[i], (int32_t)ref[i][1]);
            qm_sampler_free(s);
        }
    }
    free(l);
    free(ref);
    free(tok);
}

static void top_p_set(void **state)
{
    (void)state;
    float l[5];
    hand_logits(l);
    struct qm_sampler_params p = plain();

    /* cumulative 0.5, 0.7, 0.85, 0.95, 1: the shortest prefix reaching p */
    p.top_p = 0.8f;
    assert_int_equal(survivor_mask(&p, l, 5), ranks(0, 1, 2));
    assert_int_equal(drawn_mask(p, l, 5, 400), ranks(0, 1, 2));
    p.top_p = 0.6f;
    assert_int_equal(survivor_mask(&p, l, 5), ranks(0, 1, -1));
    assert_int_equal(drawn_mask(p, l, 5, 400), ranks(0, 1, -1));
    p.top_p = 0.3f;
    assert_int_equal(survivor_mask(&p, l, 5), ranks(0, -1, -1));
    p.top_p = 0.0f;                                     /* keeps at least one */
    assert_int_equal(survivor_mask(&p, l, 5), ranks(0, -1, -1));
    p.top_p = 1.0f;
    assert_int_equal(survivor_mask(&p, l, 5), 0x1f);
    assert_int_equal(drawn_mask(p, l, 5, 400), 0x1f);
}

static void min_p_set(void **state)
{
    (void)state;
    float l[5];
    hand_logits(l);
    struct qm_sampler_params p = plain();

    /* p >= min_p * 0.5: 0.25 keeps 0.5, 0.2, 0.15 (0.1/0.5 = 0.2 < 0.25) */
    p.min_p = 0.25f;
    assert_int_equal(survivor_mask(&p, l, 5), ranks(0, 1, 2));
    assert_int_equal(drawn_mask(p, l, 5, 400), ranks(0, 1, 2));
    p.min_p = 0.35f;                                    /* 0.2/0.5 = 0.4 stays */
    assert_int_equal(survivor_mask(&p, l, 5), ranks(0, 1, -1));
    assert_int_equal(drawn_mask(p, l, 5, 400), ranks(0, 1, -1));
    p.min_p = 0.05f;                                    /* everything (0.05/0.5 = 0.1) */
    assert_int_equal(survivor_mask(&p, l, 5), 0x1f);
}

/* H = 1.3331 nats; |-ln p - H| = 0.640, 0.276, 0.564, 0.969, 1.663 for
 * p = 0.5, 0.2, 0.15, 0.1, 0.05, so typicality order is 0.2, 0.15, 0.5, 0.1,
 * 0.05 with cumulative 0.2, 0.35, 0.85, 0.95, 1. */
static void typical_p_set(void **state)
{
    (void)state;
    float l[5];
    hand_logits(l);
    struct qm_sampler_params p = plain();

    p.typical_p = 0.5f;
    assert_int_equal(survivor_mask(&p, l, 5), ranks(1, 2, 0));
    assert_int_equal(drawn_mask(p, l, 5, 400), ranks(1, 2, 0));
    /* 0.3: the two most typical, which leave out the most probable token */
    p.typical_p = 0.3f;
    assert_int_equal(survivor_mask(&p, l, 5), ranks(1, 2, -1));
    assert_int_equal(drawn_mask(p, l, 5, 400), ranks(1, 2, -1));
    p.typical_p = 0.1f;
    assert_int_equal(survivor_mask(&p, l, 5), ranks(1, -1, -1));

    /* then top_p sees the typical set: 0.5 of {0.2, 0.15} -> renormalized
     * 0.571 >= 0.5 keeps only the 0.2 token */
    p.typical_p = 0.3f;
    p.top_p = 0.5f;
    assert_int_equal(survivor_mask(&p, l, 5), ranks(1, -1, -1));
}

static int int_cmp(const void *pa, const void *pb)
{
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

/* Cuts that land exactly on a boundary.  Equal logits give weights of
 * exactly 1, so the sums are exact: top_p 0.5 of four equal tokens is
 * reached (>=) after two, typical_p 0.5 is exceeded (>) only after three;
 * min_p 1 keeps every token tied with the top and nothing below it. */
static void boundaries(void **state)
{
    (void)state;
    const float eq[6] = {0.0f, 0.0f, 0.0f, 0.0f, -INFINITY, -INFINITY};
    struct qm_sampler_params p = plain();
    p.top_p = 0.5f;
    assert_int_equal(survivor_mask(&p, eq, 6), 0x3);            /* ids 0, 1 */
    p.top_k = 4;                                                /* sorted road */
    assert_int_equal(survivor_mask(&p, eq, 6), 0x3);
    p = plain();
    p.typical_p = 0.5f;
    assert_int_equal(survivor_mask(&p, eq, 6), 0x7);            /* ids 0, 1, 2 */
    p = plain();
    p.min_p = 1.0f;
    const float near[4] = {1.0f, 0.9999f, 1.0f, 0.5f};
    assert_int_equal(survivor_mask(&p, near, 4), 0x5);          /* ids 0, 2 */
    /* 0.2 / 0.5 = 0.4 is just above 0.39 */
    float l[5];
    hand_logits(l);
    p.min_p = 0.39f;
    assert_int_equal(survivor_mask(&p, l, 5), ranks(0, 1, -1));
}

/* top_p without top_k over a big vocabulary finds its cut by a partition
 * steered by mass: its set must still be exactly the shortest prefix of the
 * sorted distribution (the survivors come in no particular order). */
static void top_p_large(void **state)
{
    (void)state;
    enum { N = 60000 };
    float *l = malloc(N * sizeof *l), (*ref)[2] = malloc(N * sizeof *ref);
    int32_t *tok = malloc(N * sizeof *tok);
    assert_true(l && ref && tok);
    for (int pattern = 0; pattern < 2; pattern++) {
    if (pattern == 0) {
        fill_logits(l, N, 77, 8.0f);                /* a broad distribution */
    } else {
        /* a peak and a long tail far below it that still holds a third of
         * the mass: the cut lies deep in the tail */
        fill_logits(l, N, 78, 0.5f);
        for (int32_t i = 0; i < N; i++)
            l[i] -= 12.0f;
        l[N / 2] = 0.0f;
        l[N / 3] = -1.0f;
    }
    for (int32_t i = 0; i < N; i++) {
        ref[i][0] = l[i];
        ref[i][1] = (float)i;
    }
    qsort(ref, N, sizeof *ref, ref_cmp);
    double sum = 0.0;
    for (int32_t i = 0; i < N; i++)
        sum += exp((double)ref[i][0] - ref[0][0]);
    const float tps[] = {0.5f, 0.9f, 0.99f};
    for (size_t j = 0; j < 3; j++) {
        int32_t want = 0;
        double cum = 0.0;
        while (want < N) {
            cum += exp((double)ref[want][0] - ref[0][0]) / sum;
            want++;
            if (cum >= (double)tps[j])
                break;
        }
        /* not so close to the line that summation order could matter */
        assert_true(fabs(cum - tps[j]) > 1e-7);
        struct qm_sampler_params p = plain();
        p.top_p = tps[j];
        struct qm_sampler *s = make(&p, N);
        int64_t k = qm_sampler_survivors(s, l, tok, NULL, N);
        assert_int_equal(k, want);
        /* many rounds of partitioning (but the peak alone is half the mass) */
        if (pattern == 0 || tps[j] > 0.6f)
            assert_true(want > 100);
        else
            assert_int_equal(want, 1);
        int32_t *exp_tok = malloc((size_t)want * sizeof *exp_tok);
        assert_non_null(exp_tok);
        for (int32_t i = 0; i < want; i++)
            exp_tok[i] = (int32_t)ref[i][1];
        qsort(exp_tok, (size_t)want, sizeof *exp_tok, int_cmp);
        qsort(tok, (size_t)want, sizeof *tok, int_cmp);
        assert_memory_equal(tok, exp_tok, (size_t)want * sizeof *tok);
        free(exp_tok);
        qm_sampler_free(s);
    }
    }
    free(l);
    free(ref);
    free(tok);
}

/* typical_p over a big vocabulary against a reference in double: the set
 * is the fewest tokens, in order of |-ln p - H|, whose mass exceeds p. */
static double typ_dist[60000];

static int typ_cmp(const void *pa, const void *pb)
{
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    if (typ_dist[a] != typ_dist[b])
        return typ_dist[a] < typ_dist[b] ? -1 : 1;
    return (a > b) - (a < b);
}

static void typical_large(void **state)
{
    (void)state;
    enum { N = 60000 };
    float *l = malloc(N * sizeof *l);
    int32_t *order = malloc(N * sizeof *order), *tok = malloc(N * sizeof *tok);
    double *prob = malloc(N * sizeof *prob);
    assert_true(l && order && tok && prob);
    fill_logits(l, N, 91, 6.0f);
    double mx = -INFINITY, z = 0.0, h = 0.0;
    for (int32_t i = 0; i < N; i++)
        mx = fmax(mx, l[i]);
    for (int32_t i = 0; i < N; i++)
        z += exp(l[i] - mx);
    for (int32_t i = 0; i < N; i++) {
        prob[i] = exp(l[i] - mx) / z;
        h -= prob[i] * log(prob[i]);
    }
    for (int32_t i = 0; i < N; i++) {
        typ_dist[i] = fabs(-log(prob[i]) - h);
        order[i] = i;
    }
    qsort(order, N, sizeof *order, typ_cmp);
    const float tps[] = {0.2f, 0.6f, 0.95f};
    for (size_t j = 0; j < 3; j++) {
        int32_t want = 0;
        double cum = 0.0;
        while (want < N && !(cum > tps[j]))
            cum += prob[order[want++]];
        assert_true(cum - tps[j] > 1e-7);
        struct qm_sampler_params p = plain();
        p.typical_p = tps[j];
        struct qm_sampler *s = make(&p, N);
        int64_t k = qm_sampler_survivors(s, l, tok, NULL, N);
        assert_int_equal(k, want);
        assert_true(want > 1000);
        qsort(order, (size_t)want, sizeof *order, int_cmp);
        qsort(tok, (size_t)want, sizeof *tok, int_cmp);
        assert_memory_equal(tok, order, (size_t)want * sizeof *tok);
        qm_sampler_free(s);
        for (int32_t i = 0; i < N; i++)
            order[i] = i;
        qsort(order, N, sizeof *order, typ_cmp);
    }
    free(l);
    free(order);
    free(tok);
    free(prob);
}

/* The same chain by its two roads: top_k = 50 reads the logits straight
 * into a heap with bias and penalties applied on the side; top_k = 1100
 * copies everything and quickselects.  Their first 50 must agree, with the
 * bias and penalties in; and greedy must agree with top_k = 1. */
static void paths_agree(void **state)
{
    (void)state;
    enum { N = 3000 };
    float l[N];
    fill_logits(l, N, 12, 3.0f);
    l[100] = l[200] = 2.99f;                        /* a tie near the top */
    struct qm_logit_bias bias[] = {{5, 4.0f}, {argmax(l, N), -INFINITY}, {7, -0.5f}, {5, 0.5f}};
    struct qm_sampler_params p = plain();
    p.logit_bias = bias;
    p.n_logit_bias = 4;
    p.repeat_penalty = 1.3f;
    p.frequency_penalty = 0.2f;
    p.presence_penalty = 0.1f;
    p.repeat_last_n = 32;

    int32_t tok_a[1100], tok_b[1100];
    float val_a[1100], val_b[1100];
    struct qm_sampler *g = NULL, *one = NULL, *a = NULL, *b = NULL;
    p.top_k = 50;
    a = make(&p, N);
    p.top_k = 1100;
    b = make(&p, N);
    p.top_k = 1;
    one = make(&p, N);
    p.top_k = 0;
    p.temperature = 0.0f;
    g = make(&p, N);
    struct qm_mt mt;
    qm_mt_seed(&mt, 5);
    for (int step = 0; step < 100; step++) {
        assert_int_equal(qm_sampler_survivors(a, l, tok_a, val_a, 1100), 50);
        assert_int_equal(qm_sampler_survivors(b, l, tok_b, val_b, 1100), 1100);
        assert_memory_equal(tok_a, tok_b, 50 * sizeof *tok_a);
        assert_memory_equal(val_a, val_b, 50 * sizeof *val_a);
        int32_t t1 = qm_sampler_sample(one, l, NULL);
        assert_int_equal(t1, qm_sampler_sample(g, l, NULL));
        assert_int_equal(t1, tok_a[0]);
        assert_int_not_equal(t1, argmax(l, N));     /* banned */
        /* history: the winners and the tied pair, so penalties bite */
        int32_t h = step % 3 == 0 ? t1 : step % 3 == 1 ? 100 : tok_a[qm_mt_u32(&mt) % 50];
        qm_sampler_accept(a, h);
        qm_sampler_accept(b, h);
        qm_sampler_accept(one, h);
        qm_sampler_accept(g, h);
    }
    qm_sampler_free(a);
    qm_sampler_free(b);
    qm_sampler_free(one);
    qm_sampler_free(g);
}

/* ---- penalties and bias -------------------------------------------------- */

static const float pen_logits[6] = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 0.0f};

/* Logits after the chain, indexed by token (filters off, temperature 1). */
static void chain_values(struct qm_sampler *s, const float *l, float out[6])
{
    int32_t tok[6];
    float val[6];
    assert_int_equal(qm_sampler_survivors(s, l, tok, val, 6), 6);
    for (int i = 0; i < 6; i++)
        out[tok[i]] = val[i];
}

static float pen(float l, int c, float r, float f, float pr)
{
    l = l > 0.0f ? l / r : l * r;
    return l - (float)c * f - pr;
}

static void penalties_formula(void **state)
{
    (void)state;
    const float r = 1.5f, f = 0.25f, pr = 0.5f;
    struct qm_sampler_params p = plain();
    p.repeat_penalty = r;
    p.frequency_penalty = f;
    p.presence_penalty = pr;
    p.repeat_last_n = 64;
    struct qm_sampler *s = make(&p, 6);
    const int32_t hist[] = {0, 1, 1, 3, 0, 0, 5};
    for (size_t i = 0; i < sizeof hist / sizeof hist[0]; i++)
        assert_int_equal(qm_sampler_accept(s, hist[i]), 0);
    float v[6];
    chain_values(s, pen_logits, v);
    assert_float_equal(v[0], pen(2.0f, 3, r, f, pr), 1e-6);     /* 2/1.5 - 0.75 - 0.5 */
    assert_float_equal(v[1], pen(-1.0f, 2, r, f, pr), 1e-6);    /* -1*1.5 - 0.5 - 0.5 */
    assert_float_equal(v[2], 0.5f, 0);                          /* not in history */
    assert_float_equal(v[3], pen(3.0f, 1, r, f, pr), 1e-6);
    assert_float_equal(v[4], -2.0f, 0);
    assert_float_equal(v[5], pen(0.0f, 1, r, f, pr), 1e-6);     /* 0 * r - 0.25 - 0.5 */
    assert_float_equal(v[0], 2.0f / 1.5f - 0.75f - 0.5f, 1e-6);
    assert_float_equal(v[1], -2.5f, 1e-6);

    /* twice in a row: the counts are restored after each step */
    float w[6];
    chain_values(s, pen_logits, w);
    assert_memory_equal(v, w, sizeof v);

    /* reset forgets the history */
    qm_sampler_reset(s);
    chain_values(s, pen_logits, w);
    assert_memory_equal(w, pen_logits, sizeof w);
    qm_sampler_free(s);

    /* a window of 3 sees only 0, 0, 5 */
    p.repeat_last_n = 3;
    s = make(&p, 6);
    for (size_t i = 0; i < sizeof hist / sizeof hist[0]; i++)
        qm_sampler_accept(s, hist[i]);
    chain_values(s, pen_logits, v);
    assert_float_equal(v[0], pen(2.0f, 2, r, f, pr), 1e-6);
    assert_float_equal(v[1], -1.0f, 0);
    assert_float_equal(v[3], 3.0f, 0);
    assert_float_equal(v[5], pen(0.0f, 1, r, f, pr), 1e-6);
    qm_sampler_free(s);

    /* -1: the whole context, here num_ctx = 4: 3, 0, 0, 5 */
    p.repeat_last_n = -1;
    p.num_ctx = 4;
    s = make(&p, 6);
    for (size_t i = 0; i < sizeof hist / sizeof hist[0]; i++)
        qm_sampler_accept(s, hist[i]);
    chain_values(s, pen_logits, v);
    assert_float_equal(v[0], pen(2.0f, 2, r, f, pr), 1e-6);
    assert_float_equal(v[1], -1.0f, 0);
    assert_float_equal(v[3], pen(3.0f, 1, r, f, pr), 1e-6);
    qm_sampler_free(s);

    /* repeat_last_n = 0: off */
    p.repeat_last_n = 0;
    s = make(&p, 6);
    for (size_t i = 0; i < sizeof hist / sizeof hist[0]; i++)
        qm_sampler_accept(s, hist[i]);
    chain_values(s, pen_logits, v);
    assert_memory_equal(v, pen_logits, sizeof v);
    qm_sampler_free(s);

    /* greedy sees the penalized logits: token 3 (3 -> 3/3 = 1) loses to 0 */
    p = plain();
    p.temperature = 0.0f;
    p.repeat_penalty = 3.0f;
    s = make(&p, 6);
    assert_int_equal(qm_sampler_sample(s, pen_logits, NULL), 3);
    qm_sampler_accept(s, 3);
    assert_int_equal(qm_sampler_sample(s, pen_logits, NULL), 0);
    qm_sampler_free(s);
}

static void logit_bias(void **state)
{
    (void)state;
    struct qm_logit_bias bias[] = {{3, -INFINITY}, {2, 1.25f}, {2, 0.25f}};
    struct qm_sampler_params p = plain();
    p.logit_bias = bias;
    p.n_logit_bias = 3;
    p.temperature = 0.0f;
    struct qm_sampler *s = make(&p, 6);
    bias[0].bias = 0.0f;                    /* the sampler kept its own copy */
    assert_int_equal(qm_sampler_sample(s, pen_logits, NULL), 0);   /* 3 banned */
    qm_sampler_free(s);

    bias[0].bias = -INFINITY;
    p.temperature = 1.0f;
    s = make(&p, 6);
    float v[6];
    int32_t tok[6];
    int64_t n = qm_sampler_survivors(s, pen_logits, tok, v, 6);
    assert_int_equal(n, 6);
    for (int i = 0; i < 6; i++) {
        if (tok[i] == 2)
            assert_float_equal(v[i], 0.5f + 1.5f, 1e-6);      /* additive, twice */
        if (tok[i] == 3)
            assert_true(v[i] == -INFINITY);
    }
    /* never drawn, though it had the highest logit */
    for (int i = 0; i < 2000; i++)
        assert_int_not_equal(qm_sampler_sample(s, pen_logits, NULL), 3);
    qm_sampler_free(s);

    /* everything banned: no token */
    struct qm_logit_bias all[6];
    for (int i = 0; i < 6; i++)
        all[i] = (struct qm_logit_bias){i, -INFINITY};
    p.logit_bias = all;
    p.n_logit_bias = 6;
    s = make(&p, 6);
    assert_int_equal(qm_sampler_sample(s, pen_logits, NULL), QM_EINVAL);
    qm_sampler_free(s);
}

/* ---- the draw ------------------------------------------------------------ */

static void seeds(void **state)
{
    (void)state;
    enum { N = 1000, DRAWS = 1000 };
    float l[N];
    fill_logits(l, N, 5, 4.0f);
    struct qm_sampler_params p;
    qm_sampler_params_default(&p);          /* top_k 40, top_p 0.9, T 0.8 */
    int32_t *a = malloc(DRAWS * sizeof *a), *b = malloc(DRAWS * sizeof *b);
    assert_true(a && b);

    p.seed = 1234;
    struct qm_sampler *s1 = make(&p, N), *s2 = make(&p, N);
    for (int i = 0; i < DRAWS; i++) {
        a[i] = qm_sampler_sample(s1, l, NULL);
        b[i] = qm_sampler_sample(s2, l, NULL);
    }
    assert_memory_equal(a, b, DRAWS * sizeof *a);
    /* reset restarts the same stream */
    qm_sampler_reset(s1);
    for (int i = 0; i < DRAWS; i++)
        assert_int_equal(qm_sampler_sample(s1, l, NULL), a[i]);
    qm_sampler_free(s1);
    qm_sampler_free(s2);

    p.seed = 1235;
    s2 = make(&p, N);
    int differ = 0;
    for (int i = 0; i < DRAWS; i++)
        differ += qm_sampler_sample(s2, l, NULL) != a[i];
    assert_true(differ > DRAWS / 4);
    qm_sampler_free(s2);

    /* only the 32 low bits seed: 1234 + 2^32 is 1234 */
    p.seed = 1234 + (INT64_C(1) << 32);
    s2 = make(&p, N);
    for (int i = 0; i < DRAWS; i++)
        assert_int_equal(qm_sampler_sample(s2, l, NULL), a[i]);
    qm_sampler_free(s2);
    free(a);
    free(b);
}

/* Draw counts against softmax(l / T) with a chi-square bound: 7 degrees of
 * freedom, P(chi2 > 40) < 1e-5 for a correct sampler; the seeds are fixed,
 * so this is a deterministic check that would catch a skewed draw. */
static void frequencies(void **state)
{
    (void)state;
    enum { K = 8, DRAWS = 200000 };
    const float l[K] = {1.0f, 0.5f, -0.25f, 2.0f, 0.0f, -1.5f, 1.2f, 0.3f};
    const float temps[] = {1.0f, 0.5f, 2.0f};
    for (size_t t = 0; t < 3; t++) {
        struct qm_sampler_params p = plain();
        p.temperature = temps[t];
        p.seed = 99 + (int64_t)t;
        struct qm_sampler *s = make(&p, K);
        long count[K] = {0};
        for (int i = 0; i < DRAWS; i++) {
            int32_t tok = qm_sampler_sample(s, l, NULL);
            assert_true(tok >= 0 && tok < K);
            count[tok]++;
        }
        qm_sampler_free(s);

        double z = 0.0, prob[K];
        for (int i = 0; i < K; i++)
            z += exp((double)l[i] / temps[t]);
        double chi2 = 0.0;
        for (int i = 0; i < K; i++) {
            prob[i] = exp((double)l[i] / temps[t]) / z;
            double e = prob[i] * DRAWS;
            chi2 += (count[i] - e) * (count[i] - e) / e;
        }
        assert_true(chi2 < 40.0);

        /* top_k = 3 (the heap road): the same law over the three best */
        p.top_k = 3;
        p.seed = 7;
        s = make(&p, K);
        long c3[K] = {0};
        for (int i = 0; i < DRAWS; i++)
            c3[qm_sampler_sample(s, l, NULL)]++;
        qm_sampler_free(s);
        const int best3[3] = {3, 6, 0};             /* logits 2.0, 1.2, 1.0 */
        double z3 = 0.0, chi3 = 0.0;
        for (int i = 0; i < 3; i++)
            z3 += prob[best3[i]];
        for (int i = 0; i < 3; i++) {
            double e = prob[best3[i]] / z3 * DRAWS;
            chi3 += (c3[best3[i]] - e) * (c3[best3[i]] - e) / e;
        }
        assert_int_equal(c3[0] + c3[3] + c3[6], DRAWS);
        assert_true(chi3 < 30.0);                   /* 2 dof */
        /* and a wrong temperature would fail it: T=1 frequencies vs T=2 */
        if (t == 0) {
            double z2 = 0.0, chi2_wrong = 0.0;
            for (int i = 0; i < K; i++)
                z2 += exp((double)l[i] / 2.0);
            for (int i = 0; i < K; i++) {
                double e = exp((double)l[i] / 2.0) / z2 * DRAWS;
                chi2_wrong += (count[i] - e) * (count[i] - e) / e;
            }
            assert_true(chi2_wrong > 1000.0);
        }
    }
}

/* ---- logprobs ------------------------------------------------------------ */

static void logprobs(void **state)
{
    (void)state;
    enum { N = 5000 };
    float *l = malloc(N * sizeof *l), (*ref)[2] = malloc(N * sizeof *ref);
    double *lp = malloc(N * sizeof *lp);
    assert_true(l && ref && lp);
    fill_logits(l, N, 11, 12.0f);
    l[123] = l[4000] = 30.0f;                   /* a tie at the top */

    double mx = -INFINITY, sum = 0.0;
    for (int32_t i = 0; i < N; i++)
        mx = fmax(mx, l[i]);
    for (int32_t i = 0; i < N; i++)
        sum += exp((double)l[i] - mx);
    for (int32_t i = 0; i < N; i++) {
        lp[i] = (double)l[i] - mx - log(sum);
        ref[i][0] = l[i];
        ref[i][1] = (float)i;
    }
    qsort(ref, N, sizeof *ref, ref_cmp);

    /* Bias, penalty and temperature change the draw, not the logprobs. */
    struct qm_logit_bias bias = {7, 50.0f};
    struct qm_sampler_params p;
    qm_sampler_params_default(&p);
    p.seed = 3;
    p.logit_bias = &bias;
    p.n_logit_bias = 1;
    p.repeat_penalty = 1.3f;
    p.temperature = 0.7f;
    const int32_t nps[] = {0, 1, 5, QM_SAMPLER_MAX_PROBS};
    for (size_t j = 0; j < 4; j++) {
        p.n_probs = nps[j];
        struct qm_sampler *s = make(&p, N);
        qm_sampler_accept(s, 123);
        for (int step = 0; step < 5; step++) {
            struct qm_sample_info info;
            memset(&info, 0xff, sizeof info);
            int32_t tok = qm_sampler_sample(s, l, &info);
            assert_int_equal(tok, 7);           /* the +50 bias */
            assert_int_equal(info.token, 7);
            assert_float_equal(info.logprob, lp[7], 1e-5);
            assert_int_equal(info.n_top, nps[j]);
            for (int32_t i = 0; i < info.n_top; i++) {
                assert_int_equal(info.top[i].token, (int32_t)ref[i][1]);
                assert_float_equal(info.top[i].logprob, lp[info.top[i].token], 1e-5);
                if (i > 0)
                    assert_true(info.top[i].logprob <= info.top[i - 1].logprob);
            }
            if (info.n_top >= 2) {
                assert_int_equal(info.top[0].token, 123);      /* tie: lower id */
                assert_int_equal(info.top[1].token, 4000);
            }
            qm_sampler_accept(s, tok);
        }
        qm_sampler_free(s);
    }

    /* a vocabulary smaller than n_probs reports all of it */
    p = plain();
    p.n_probs = 5;
    struct qm_sampler *s = make(&p, 3);
    const float small[3] = {0.0f, 1.0f, 2.0f};
    struct qm_sample_info info;
    qm_sampler_sample(s, small, &info);
    assert_int_equal(info.n_top, 3);
    assert_int_equal(info.top[0].token, 2);
    assert_int_equal(info.top[2].token, 0);
    double z = log(1.0 + exp(1.0) + exp(2.0));
    assert_float_equal(info.top[0].logprob, 2.0 - z, 1e-6);
    assert_float_equal(info.top[2].logprob, -z, 1e-6);
    qm_sampler_free(s);
    free(l);
    free(ref);
    free(lp);
}

/* ---- a real-sized vocabulary ---------------------------------------------- */

static void big_vocab(void **state)
{
    (void)state;
    enum { N = 256000 };
    float *l = malloc(N * sizeof *l), (*ref)[2] = malloc(N * sizeof *ref);
    assert_true(l && ref);
    fill_logits(l, N, 2024, 15.0f);
    for (int32_t i = 0; i < N; i++) {
        ref[i][0] = l[i];
        ref[i][1] = (float)i;
    }
    qsort(ref, N, sizeof *ref, ref_cmp);
    struct qm_sampler_params p;
    qm_sampler_params_default(&p);
    p.seed = 8;
    p.n_probs = 3;
    struct qm_sampler *s = make(&p, N);
    int seen_not_first = 0;
    for (int step = 0; step < 200; step++) {
        struct qm_sample_info info;
        int32_t tok = qm_sampler_sample(s, l, &info);
        int rank = -1;
        for (int i = 0; i < 40; i++)
            if ((int32_t)ref[i][1] == tok)
                rank = i;
        assert_true(rank >= 0);             /* always among the top 40 */
        seen_not_first |= rank > 0;
        assert_int_equal(info.top[0].token, (int32_t)ref[0][1]);
        qm_sampler_accept(s, tok);
    }
    assert_true(seen_not_first);
    qm_sampler_free(s);
    free(l);
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mt19937_reference),
        cmocka_unit_test(defaults),
        cmocka_unit_test(bad_params),
        cmocka_unit_test(greedy_argmax),
        cmocka_unit_test(greedy_ties),
        cmocka_unit_test(top_k_one_is_greedy),
        cmocka_unit_test(top_k_exact),
        cmocka_unit_test(top_p_set),
        cmocka_unit_test(min_p_set),
        cmocka_unit_test(typical_p_set),
        cmocka_unit_test(boundaries),
        cmocka_unit_test(top_p_large),
        cmocka_unit_test(typical_large),
        cmocka_unit_test(paths_agree),
        cmocka_unit_test(penalties_formula),
        cmocka_unit_test(logit_bias),
        cmocka_unit_test(seeds),
        cmocka_unit_test(frequencies),
        cmocka_unit_test(logprobs),
        cmocka_unit_test(big_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
