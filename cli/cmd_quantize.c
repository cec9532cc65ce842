/* cmd_quantize.c - `qm quantize IN.gguf OUT.gguf TYPE [--threads N]`.
 *
 * Converts an F32/F16/BF16 model to one of llama.cpp's file types with the
 * same tensor mix llama-quantize would choose (engine/quantize_model.h).
 * One line per tensor as it is written, then a summary: sizes before and
 * after, bits per weight, time.  Exit status 0, 1 on a failure (one line on
 * stderr; OUT is then left untouched), 2 on a usage error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "quantize_model.h"

static void quantize_usage(FILE *out)
{
    fprintf(out,
            "Usage: qm quantize IN.gguf OUT.gguf TYPE [--threads N] [--quiet]\n"
            "\n"
            "Quantize an F32, F16 or BF16 GGUF model with llama.cpp's tensor-type mixes.\n"
            "TYPE (case-insensitive): F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_S Q3_K_M\n"
            "Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL IQ4_XS.\n"
            "  --threads N   threads converting rows (default: all cores)\n"
            "  --quiet       no per-tensor lines, only the summary\n");
}

static double mib(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

static void quantize_progress(void *ctx, const struct qm_quant_progress *p)
{
    (void)ctx;
    char shape[96];
    int n = snprintf(shape, sizeof shape, "[%lld", (long long)p->ne[0]);
    for (uint32_t d = 1; d < p->n_dims && n < (int)sizeof shape; d++)
        n += snprintf(shape + n, sizeof shape - (size_t)n, ", %lld", (long long)p->ne[d]);
    if (n < (int)sizeof shape)
        snprintf(shape + n, sizeof shape - (size_t)n, "]");
    printf("[%*lld/%lld] %-32s %-20s %-6s -> %-6s %9.2f MiB -> %9.2f MiB\n",
           p->count >= 1000 ? 4 : p->count >= 100 ? 3 : 2, (long long)(p->index + 1), (long long)p->count,
           p->name, shape, qm_type_name(p->src_type), qm_type_name(p->dst_type), mib(p->src_bytes),
           mib(p->dst_bytes));
    fflush(stdout);
}

int cmd_quantize(int argc, char **argv)
{
    const char *pos[3];
    int npos = 0, threads = 0;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            quantize_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--threads") || !strcmp(argv[i], "-t")) {
            char *end;
            if (i + 1 >= argc) {
                fprintf(stderr, "qm quantize: %s needs a number\n", argv[i]);
                return 2;
            }
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || *end || v < 1 || v > 4096) {
                fprintf(stderr, "qm quantize: --threads takes a number from 1 to 4096, not '%s'\n", argv[i]);
                return 2;
            }
            threads = (int)v;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            quiet = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "qm quantize: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, "qm quantize: too many arguments ('%s')\n", argv[i]);
            return 2;
        }
    }
    if (npos != 3) {
        quantize_usage(stderr);
        return 2;
    }

    struct qm_err err = {{0}};
    enum qm_ftype ftype;
    if (qm_ftype_parse(pos[2], &ftype, &err) < 0) {
        fprintf(stderr, "qm quantize: %s\n", err.msg);
        return 2;
    }

    struct timespec t0, t1;
    struct qm_quant_stats st;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = qm_quantize_model(pos[0], pos[1], ftype, threads, quiet ? NULL : quantize_progress, NULL, &st, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.msg);   /* already prefixed by its module */
        return 1;
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    double n = st.n_elements ? (double)st.n_elements : 1.0;
    printf("quantized %lld tensors (%lld converted, %.2f M parameters) in %.1f s\n", (long long)st.n_tensors,
           (long long)st.n_quantized, (double)st.n_elements / 1e6, secs);
    printf("  before: %s, %s: %.2f MiB of tensors, %.2f bpw; file %.2f MiB\n", pos[0], qm_type_name(st.src_type),
           mib(st.src_tensor_bytes), 8.0 * (double)st.src_tensor_bytes / n, mib(st.src_file_bytes));
    printf("  after:  %s, %s: %.2f MiB of tensors, %.2f bpw; file %.2f MiB\n", pos[1], qm_ftype_name(ftype),
           mib(st.dst_tensor_bytes), 8.0 * (double)st.dst_tensor_bytes / n, mib(st.dst_file_bytes));
    return 0;
}
