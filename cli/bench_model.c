/* bench_model.c - `qm bench --file MODEL`: prompt and generation speed.
 *
 * Measured as llama-bench does, so the figures compare: pp = one batch of
 * -p prompt tokens from an empty cache, tg = -n tokens decoded one at a
 * time from an empty cache; tokens are pseudo-random ids (the speed does
 * not depend on which).  Each figure is the median of -r runs after one
 * warm-up run.  Peak RSS is the high-water mark of this process's memory
 * (VmHWM: unlike getrusage's ru_maxrss it does not carry over the peak of
 * a parent that forked us, such as a benchmark driver holding another model). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "clock.h"
#include "bench.h"
#include "cpu_features.h"
#include "forward.h"

struct bench_opts {
    const char *file;
    int32_t n_prompt, n_gen, threads, reps;
    int json;
};

/* VmHWM from /proc/self/status, in MiB; 0 where unavailable. */
static double peak_rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kib = 0.0;
    if (!f)
        return 0.0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf kB", &kib) == 1)
            break;
    fclose(f);
    return kib / 1024.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One pp run: n tokens in one forward call from an empty cache; seconds. */
static int run_pp(struct qm_ctx *c, const int32_t *tok, const int32_t *pos, int32_t n, double *secs,
                  struct qm_err *err)
{
    qm_kvcache_truncate(qm_ctx_kv(c), 0, 0);
    struct qm_batch b = {.n = n, .token = tok, .pos = pos};
    double t0 = qm_now_s();
    int rc = qm_forward(c, &b, err);
    *secs = qm_now_s() - t0;
    return rc;
}

/* One tg run: n single-token forward calls from an empty cache; seconds. */
static int run_tg(struct qm_ctx *c, const int32_t *tok, const int32_t *pos, int32_t n, double *secs,
                  struct qm_err *err)
{
    qm_kvcache_truncate(qm_ctx_kv(c), 0, 0);
    double t0 = qm_now_s();
    for (int32_t i = 0; i < n; i++) {
        struct qm_batch b = {.n = 1, .token = tok + i, .pos = pos + i};
        int rc = qm_forward(c, &b, err);
        if (rc < 0)
            return rc;
    }
    *secs = qm_now_s() - t0;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: qm bench --file MODEL.gguf [-p 512] [-n 128] [-t THREADS] [-r 3] [--json]\n");
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
    *o = (struct bench_opts){.n_prompt = 512, .n_gen = 128, .threads = 0, .reps = 3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "qm bench: %s needs a value\n", a);
            return -1;
        }
        if (!strcmp(a, "--file") || !strcmp(a, "-m"))
            o->file = v;
        else if (!strcmp(a, "-p"))
            o->n_prompt = atoi(v);
        else if (!strcmp(a, "-n"))
            o->n_gen = atoi(v);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
            o->threads = atoi(v);
        else if (!strcmp(a, "-r"))
            o->reps = atoi(v);
        else {
            fprintf(stderr, "qm bench: unknown option '%s'\n", a);
            return -1;
        }
        i++;
    }
    if (!o->file || o->n_prompt < 0 || o->n_gen < 0 || o->reps < 1 || o->reps > 100 ||
        o->n_prompt + o->n_gen == 0) {
        usage();
        return -1;
    }
    return 0;
}

int bench_model(int argc, char **argv)
{
    struct bench_opts o;
    struct qm_err err = {{0}};
    struct qm_model *m = NULL;
    struct qm_ctx *c = NULL;
    int32_t *tok = NULL, *pos = NULL;
    double *pp = NULL, *tg = NULL;
    int rc = 1;
    if (parse(argc, argv, &o) < 0)
        return 2;
    if (qm_model_load(&m, o.file, &err) < 0)
        goto fail;

    int32_t n_max = o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen;
    struct qm_ctx_params p;
    qm_ctx_default_params(&p);
    p.n_ctx = n_max;
    p.n_batch = o.n_prompt > 0 ? o.n_prompt : 1;
    p.n_threads = o.threads;
    if (qm_ctx_create(&c, m, &p, &err) < 0)
        goto fail;

    tok = malloc((size_t)n_max * sizeof *tok);
    pos = malloc((size_t)n_max * sizeof *pos);
    pp = calloc((size_t)o.reps, sizeof *pp);
    tg = calloc((size_t)o.reps, sizeof *tg);
    if (!tok || !pos || !pp || !tg) {
        qm_err_set(&err, "out of memory");
        goto fail;
    }
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int32_t i = 0; i < n_max; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((state >> 33) % (uint64_t)m->hp.n_vocab);
        pos[i] = i;
    }

    double secs;
    for (int r = -1; r < o.reps; r++) { /* r = -1: warm-up */
        if (o.n_prompt > 0) {
            if (run_pp(c, tok, pos, o.n_prompt, &secs, &err) < 0)
                goto fail;
            if (r >= 0)
                pp[r] = o.n_prompt / secs;
        }
        if (o.n_gen > 0) {
            if (run_tg(c, tok, pos, o.n_gen, &secs, &err) < 0)
                goto fail;
            if (r >= 0)
                tg[r] = o.n_gen / secs;
        }
    }
    double rss_mib = peak_rss_mib();
    double pp_med = o.n_prompt > 0 ? median(pp, o.reps) : 0.0;
    double tg_med = o.n_gen > 0 ? median(tg, o.reps) : 0.0;
    int threads = o.threads > 0 ? o.threads : omp_get_num_procs();
    if (o.json) {
        printf("{\"file\": \"%s\", \"arch\": \"%s\", \"weight_bytes\": %llu, \"threads\": %d, "
               "\"isa\": \"%s\", \"n_prompt\": %d, \"n_gen\": %d, \"reps\": %d, "
               "\"pp_tok_s\": %.2f, \"tg_tok_s\": %.2f, \"peak_rss_mib\": %.1f}\n",
               o.file, m->arch.name, (unsigned long long)m->weight_bytes, threads, qm_cpu_active_isa(),
               o.n_prompt, o.n_gen, o.reps, pp_med, tg_med, rss_mib);
    } else {
        printf("model: %s (%s, %.1f MiB of weights)\n", o.file, m->arch.name,
               (double)m->weight_bytes / (1024.0 * 1024.0));
        printf("threads: %d (%s kernels), median of %d runs after a warm-up\n", threads, qm_cpu_active_isa(),
               o.reps);
        if (o.n_prompt > 0)
            printf("pp%-5d %10.2f tok/s\n", o.n_prompt, pp_med);
        if (o.n_gen > 0)
            printf("tg%-5d %10.2f tok/s\n", o.n_gen, tg_med);
        printf("peak RSS: %.1f MiB\n", rss_mib);
    }
    rc = 0;
fail:
    if (rc)
        fprintf(stderr, "qm bench: %s\n", err.msg);
    free(tok);
    free(pos);
    free(pp);
    free(tg);
    qm_ctx_free(c);
    qm_model_free(m);
    return rc;
}
