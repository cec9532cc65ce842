/* bench_kernels.c - `qm bench kernels`: how close the CPU matrix-vector
 * kernels come to this machine's memory bandwidth.
 *
 * Decoding one token streams every weight once, so a matvec kernel is as good
 * as the fraction of the memory bandwidth it reaches.  Both sides are measured
 * in the same run with the same OpenMP threads: first a plain read (a sum over
 * 1 GiB), a STREAM-style copy and triad; then, for every type qm computes
 * with, a decode-shaped qm_matmul (one token) over 4096×4096 and 14336×4096
 * weights, each repetition alternated with a plain read of the same bytes:
 * the percentage printed is matvec over that read, so that both sides see
 * the same machine (on a shared machine the bandwidth drifts by the second,
 * and the 1 GiB figure taken first can be far from the one a type met).  The
 * L3 of the target machine is 32 MiB, so each shape is laid out in enough
 * copies to make at least 256 MiB and the copies are visited in turn: the
 * figure is DRAM streaming, as in a real model, not a cache benchmark.
 * Every figure is the median of several repetitions after a warm-up.
 *
 * The weights are random bytes with their scale fields (and the exponents of
 * the float types) forced into a sane range: the kernels' speed does not
 * depend on the values, only on there being no NaN or infinity to trip on. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "bench.h"
#include "cpu_features.h"
#include "matmul.h"
#include "quant.h"

#define BK_READ_BYTES ((size_t)1 << 30)     /* read test: 1 GiB */
#define BK_STREAM_BYTES ((size_t)256 << 20) /* copy/triad: three arrays of 256 MiB */
#define BK_MIN_SET ((size_t)256 << 20)      /* weight copies add up to at least this */
#define BK_MEM_REPS 5
#define BK_MV_REPS 7

struct bk_opts {
    int threads;
    int json;
    int ntypes;                    /* 0: every compute type */
    enum qm_type types[QM_TYPE_COUNT];
};

struct bk_mem {
    double read, copy, triad;      /* GB/s */
};

struct bk_result {
    enum qm_type type;
    double bpw;                    /* bits per weight */
    size_t bytes_small;            /* bytes of one 4096×4096 matrix */
    double gbs_small, gbs_large;   /* GB/s of weight bytes streamed */
    double read_small, read_large; /* GB/s of a plain read of the same bytes, interleaved */
};

static double bk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bk_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double bk_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bk_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t bk_rand(uint64_t *s)
{
    /* xorshift64*: fast and plenty random for filler bytes */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

/* ---- memory bandwidth ---------------------------------------------------- */

/* Sum of n bytes as 64-bit words, four independent accumulators. */
static uint64_t bk_sum(const uint8_t *p, size_t n)
{
#if defined(__x86_64__)
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
    const __m128i *v = (const __m128i *)p;
    for (size_t i = 0; i + 4 <= n / 16; i += 4) {
        a0 = _mm_add_epi64(a0, _mm_load_si128(v + i));
        a1 = _mm_add_epi64(a1, _mm_load_si128(v + i + 1));
        a2 = _mm_add_epi64(a2, _mm_load_si128(v + i + 2));
        a3 = _mm_add_epi64(a3, _mm_load_si128(v + i + 3));
    }
    a0 = _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3));
    uint64_t w[2];
    memcpy(w, &a0, sizeof w);
    return w[0] + w[1];
#else
    const uint64_t *v = (const uint64_t *)p;
    uint64_t s = 0;
    for (size_t i = 0; i < n / 8; i++)
        s += v[i];
    return s;
#endif
}

/* Parallel sum over n bytes with the same threads as the kernels. */
static uint64_t bk_read(const uint8_t *p, size_t n, int threads)
{
    uint64_t total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
        int ith = omp_get_thread_num(), nth = omp_get_num_threads();
        size_t chunk = n / (size_t)nth / 64 * 64;
        total += bk_sum(p + chunk * (size_t)ith, chunk);
    }
    return total;
}

static void bk_memory(int threads, struct bk_mem *m)
{
    double t[BK_MEM_REPS];
    uint8_t *buf = aligned_alloc(4096, BK_READ_BYTES);
    if (!buf) {
        memset(m, 0, sizeof *m);
        return;
    }
    /* first touch from the threads that will read it */
#pragma omp parallel num_threads(threads)
    {
        int ith = omp_get_thread_num(), nth = omp_get_num_threads();
        size_t lo = BK_READ_BYTES / nth * ith, hi = BK_READ_BYTES / nth * (ith + 1);
        uint64_t s = 0x9e3779b97f4a7c15ULL + (uint64_t)ith;
        for (size_t i = lo; i < hi; i += 8) {
            uint64_t r = bk_rand(&s);
            memcpy(buf + i, &r, 8);
        }
    }

    volatile uint64_t sink = 0;
    for (int r = 0; r <= BK_MEM_REPS; r++) {
        double t0 = bk_now();
        sink += bk_read(buf, BK_READ_BYTES, threads);
        double dt = bk_now() - t0;
        if (r > 0) /* the first pass is a warm-up */
            t[r - 1] = (double)BK_READ_BYTES / dt / 1e9;
    }
    (void)sink;
    m->read = bk_median(t, BK_MEM_REPS);

    /* STREAM copy (a = b) and triad (a = b + s·c) over three 256 MiB arrays
     * carved out of the same buffer; bytes counted as STREAM does: 16 and 24
     * per element, the write-allocate read not included */
    size_t n = BK_STREAM_BYTES / sizeof(double);
    double *a = (double *)buf, *b = a + n, *c = b + n;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) {
        a[i] = 0.0;
        b[i] = 1.0;
        c[i] = 2.0;
    }
    double tc[BK_MEM_REPS], tt[BK_MEM_REPS];
    for (int r = 0; r <= BK_MEM_REPS; r++) {
        double t0 = bk_now();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i++)
            a[i] = b[i];
        double t1 = bk_now();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + 3.0 * c[i];
        double t2 = bk_now();
        if (r > 0) {
            tc[r - 1] = 2.0 * (double)BK_STREAM_BYTES / (t1 - t0) / 1e9;
            tt[r - 1] = 3.0 * (double)BK_STREAM_BYTES / (t2 - t1) / 1e9;
        }
    }
    m->copy = bk_median(tc, BK_MEM_REPS);
    m->triad = bk_median(tt, BK_MEM_REPS);
    free(buf);
}

/* ---- weights ------------------------------------------------------------- */

/* Byte offsets of the f16 scale fields in a block of type t; returns how many. */
static int bk_scale_fields(enum qm_type t, size_t off[2])
{
    switch (t) {
    case QM_TYPE_Q4_0: case QM_TYPE_Q5_0: case QM_TYPE_Q8_0: case QM_TYPE_IQ4_NL: case QM_TYPE_IQ4_XS:
        off[0] = 0;
        return 1;
    case QM_TYPE_Q4_1: case QM_TYPE_Q5_1: case QM_TYPE_Q4_K: case QM_TYPE_Q5_K:
        off[0] = 0;
        off[1] = 2;
        return 2;
    case QM_TYPE_Q2_K:
        off[0] = offsetof(blk_q2_k, d);
        off[1] = offsetof(blk_q2_k, dmin);
        return 2;
    case QM_TYPE_Q3_K:
        off[0] = offsetof(blk_q3_k, d);
        return 1;
    case QM_TYPE_Q6_K:
        off[0] = offsetof(blk_q6_k, d);
        return 1;
    default:
        return 0;
    }
}

/* Makes n random bytes valid data of type t: scales in [1/128, 1/64), float
 * weights in [0.5, 1) with a random sign. */
static void bk_fixup(enum qm_type t, uint8_t *p, size_t n, int threads)
{
    const struct qm_type_traits *tr = qm_type_traits(t);
    size_t off[2];
    int nf = bk_scale_fields(t, off);
    size_t nblk = n / tr->size;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t b = 0; b < nblk; b++) {
        uint8_t *blk = p + b * tr->size;
        if (t == QM_TYPE_F32) {
            uint32_t u;
            memcpy(&u, blk, 4);
            u = (u & 0x807fffffu) | 0x3f000000u;
            memcpy(blk, &u, 4);
        } else if (t == QM_TYPE_F16 || t == QM_TYPE_BF16) {
            uint16_t h;
            memcpy(&h, blk, 2);
            h = t == QM_TYPE_F16 ? (uint16_t)((h & 0x83ff) | 0x3800) : (uint16_t)((h & 0x807f) | 0x3f00);
            memcpy(blk, &h, 2);
        } else {
            for (int f = 0; f < nf; f++) {
                uint16_t h;
                memcpy(&h, blk + off[f], 2);
                h = (uint16_t)((h & 0x03ff) | 0x2000);
                memcpy(blk + off[f], &h, 2);
            }
        }
    }
}

/* GB/s of one-token matmuls over nrows×ncols, visiting `copies` copies, and
 * of a plain read of the same bytes, alternating rep by rep so that both
 * see the same machine (a shared machine's bandwidth drifts by the second). */
static void bk_matvec(struct qm_matmul_ctx *ctx, enum qm_type t, const uint8_t *w, int64_t nrows, int64_t ncols,
                      int copies, const float *x, float *y, int threads, double *gbs, double *read_gbs)
{
    size_t bytes = qm_row_size(t, ncols) * (size_t)nrows;
    double g[BK_MV_REPS], r[BK_MV_REPS];
    volatile uint64_t sink = 0;
    for (int rep = 0; rep <= BK_MV_REPS; rep++) {
        double t0 = bk_now();
        sink += bk_read(w, bytes * (size_t)copies, threads);
        double t1 = bk_now();
        for (int c = 0; c < copies; c++)
            if (qm_matmul(ctx, t, w + (size_t)c * bytes, nrows, ncols, x, 1, y, NULL) < 0) {
                *gbs = *read_gbs = 0.0;
                return;
            }
        double t2 = bk_now();
        if (rep > 0) { /* the first pass is a warm-up */
            r[rep - 1] = (double)bytes * copies / (t1 - t0) / 1e9;
            g[rep - 1] = (double)bytes * copies / (t2 - t1) / 1e9;
        }
    }
    (void)sink;
    *gbs = bk_median(g, BK_MV_REPS);
    *read_gbs = bk_median(r, BK_MV_REPS);
}

static int bk_copies(size_t bytes)
{
    size_t c = (BK_MIN_SET + bytes - 1) / bytes;
    return c < 2 ? 2 : (int)c;
}

/* ---- the command --------------------------------------------------------- */

static int bk_parse(int argc, char **argv, struct bk_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            o->json = 1;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1024) {
                fprintf(stderr, "qm bench kernels: --threads wants a number from 1 to 1024\n");
                return -1;
            }
            o->threads = (int)v;
        } else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            const char *name = argv[++i];
            uint32_t id;
            for (id = 0; id < QM_TYPE_COUNT; id++) {
                const struct qm_type_traits *t = qm_type_traits(id);
                if (t && t->compute && !strcasecmp(t->name, name))
                    break;
            }
            if (id == QM_TYPE_COUNT) {
                fprintf(stderr, "qm bench kernels: '%s' is not a type qm computes with\n", name);
                return -1;
            }
            if (o->ntypes < QM_TYPE_COUNT)
                o->types[o->ntypes++] = (enum qm_type)id;
        } else {
            fprintf(stderr, "Usage: qm bench kernels [--threads N] [--json] [--type NAME]...\n");
            return -1;
        }
    }
    if (o->ntypes == 0)
        for (uint32_t id = 0; id < QM_TYPE_COUNT; id++) {
            const struct qm_type_traits *t = qm_type_traits(id);
            if (t && t->compute)
                o->types[o->ntypes++] = (enum qm_type)id;
        }
    return 0;
}

static void bk_print(const struct bk_opts *o, int threads, const struct bk_mem *m, const struct bk_result *res)
{
    if (o->json) {
        printf("{\"threads\": %d, \"isa\": \"%s\", \"read_gbs\": %.2f, \"copy_gbs\": %.2f, "
               "\"triad_gbs\": %.2f, \"kernels\": [",
               threads, qm_cpu_active_isa(), m->read, m->copy, m->triad);
        for (int i = 0; i < o->ntypes; i++)
            printf("%s\n  {\"type\": \"%s\", \"bpw\": %.4f, \"bytes_4096x4096\": %zu, "
                   "\"gbs_4096x4096\": %.2f, \"read_gbs_4096x4096\": %.2f, \"pct_read_4096x4096\": %.1f, "
                   "\"gbs_14336x4096\": %.2f, \"read_gbs_14336x4096\": %.2f, \"pct_read_14336x4096\": %.1f}",
                   i ? "," : "", qm_type_name(res[i].type), res[i].bpw, res[i].bytes_small, res[i].gbs_small,
                   res[i].read_small, 100.0 * res[i].gbs_small / res[i].read_small, res[i].gbs_large,
                   res[i].read_large, 100.0 * res[i].gbs_large / res[i].read_large);
        printf("\n]}\n");
        return;
    }
    printf("memory, %d thread%s: read %.1f GB/s (sum over 1 GiB), copy %.1f GB/s, triad %.1f GB/s "
           "(3 x 256 MiB); median of %d\n\n",
           threads, threads == 1 ? "" : "s", m->read, m->copy, m->triad, BK_MEM_REPS);
    printf("matvec, one token, kernels \"%s\": GB/s of weight bytes, median of %d over >= 256 MiB of copies;\n"
           "%% read = against a plain read of the same bytes, interleaved rep by rep\n\n",
           qm_cpu_active_isa(), BK_MV_REPS);
    printf("%-8s %6s %10s | %-22s | %-22s\n", "", "", "", "      4096 x 4096", "     14336 x 4096");
    printf("%-8s %6s %10s | %7s %7s %6s | %7s %7s %6s\n", "type", "bpw", "MiB 4096^2", "GB/s", "read", "% read",
           "GB/s", "read", "% read");
    for (int i = 0; i < o->ntypes; i++)
        printf("%-8s %6.3f %10.2f | %7.2f %7.2f %5.0f%% | %7.2f %7.2f %5.0f%%\n", qm_type_name(res[i].type),
               res[i].bpw, (double)res[i].bytes_small / (1 << 20), res[i].gbs_small, res[i].read_small,
               100.0 * res[i].gbs_small / res[i].read_small, res[i].gbs_large, res[i].read_large,
               100.0 * res[i].gbs_large / res[i].read_large);
}

int bench_kernels(int argc, char **argv)
{
    static const int64_t ncols = 4096, rows_small = 4096, rows_large = 14336;
    struct bk_opts o;
    struct bk_mem mem;
    struct bk_result res[QM_TYPE_COUNT];
    struct qm_matmul_ctx *ctx = NULL;
    struct qm_err err;
    uint8_t *w = NULL;
    float *x = NULL, *y = NULL;
    int rc = 1;

    if (bk_parse(argc, argv, &o) < 0)
        return 2;
    if (qm_matmul_ctx_create(&ctx, o.threads, &err) < 0) {
        fprintf(stderr, "qm bench kernels: %s\n", err.msg);
        return 1;
    }
    int threads = qm_matmul_ctx_threads(ctx);
    if (!o.json)
        fprintf(stderr, "measuring memory bandwidth with %d thread%s...\n", threads, threads == 1 ? "" : "s");
    bk_memory(threads, &mem);
    if (mem.read <= 0) {
        fprintf(stderr, "qm bench kernels: out of memory for the bandwidth test\n");
        goto out;
    }

    /* one buffer big enough for the largest working set of any type */
    size_t cap = 0;
    for (int i = 0; i < o.ntypes; i++) {
        size_t b = qm_row_size(o.types[i], ncols) * (size_t)rows_large;
        size_t need = b * (size_t)bk_copies(b);
        cap = need > cap ? need : cap;
    }
    w = aligned_alloc(4096, (cap + 4095) / 4096 * 4096);
    x = aligned_alloc(64, sizeof *x * (size_t)ncols);   /* as the forward pass's buffers will be */
    y = malloc(sizeof *y * (size_t)rows_large);
    if (!w || !x || !y) {
        fprintf(stderr, "qm bench kernels: out of memory for %zu MiB of weights\n", cap >> 20);
        goto out;
    }
#pragma omp parallel num_threads(threads)
    {
        int ith = omp_get_thread_num(), nth = omp_get_num_threads();
        size_t lo = cap / 8 / nth * ith * 8, hi = ith == nth - 1 ? cap / 8 * 8 : cap / 8 / nth * (ith + 1) * 8;
        uint64_t s = 0x2545f4914f6cdd1dULL ^ (uint64_t)(ith + 1);
        for (size_t i = lo; i < hi; i += 8) {
            uint64_t r = bk_rand(&s);
            memcpy(w + i, &r, 8);
        }
    }
    uint64_t s = 42;
    for (int64_t i = 0; i < ncols; i++)
        x[i] = (float)((double)(bk_rand(&s) >> 11) * 0x1p-53 * 2.0 - 1.0);

    for (int i = 0; i < o.ntypes; i++) {
        enum qm_type t = o.types[i];
        const struct qm_type_traits *tr = qm_type_traits(t);
        size_t bs = qm_row_size(t, ncols) * (size_t)rows_small, bl = qm_row_size(t, ncols) * (size_t)rows_large;
        int cs = bk_copies(bs), cl = bk_copies(bl);
        if (!o.json)
            fprintf(stderr, "  %s...\n", tr->name);
        size_t span = bs * (size_t)cs > bl * (size_t)cl ? bs * (size_t)cs : bl * (size_t)cl;
        bk_fixup(t, w, span, threads);
        res[i].type = t;
        res[i].bpw = 8.0 * (double)tr->size / (double)tr->blck;
        res[i].bytes_small = bs;
        bk_matvec(ctx, t, w, rows_small, ncols, cs, x, y, threads, &res[i].gbs_small, &res[i].read_small);
        bk_matvec(ctx, t, w, rows_large, ncols, cl, x, y, threads, &res[i].gbs_large, &res[i].read_large);
    }
    bk_print(&o, threads, &mem, res);
    rc = 0;
out:
    free(w);
    free(x);
    free(y);
    qm_matmul_ctx_free(ctx);
    return rc;
}
