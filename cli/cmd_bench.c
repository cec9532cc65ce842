/* cmd_bench.c - `qm bench`: measurements, printed, never asserted.
 *
 * The first argument names what to measure; each kind lives in its own
 * bench_*.c file so the command stays a dispatcher.  `qm bench kernels`
 * measures this machine's memory bandwidth and the CPU matrix-vector kernels
 * against it. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "commands.h"

static void bench_usage(FILE *out)
{
    fprintf(out, "Usage: qm bench kernels [--threads N] [--json] [--type NAME]...\n"
                 "       qm bench --file MODEL.gguf [-p 512] [-n 128] [-t THREADS] [-r 3] [--json]\n"
                 "\n"
                 "  kernels   memory bandwidth, then the GB/s of weight bytes each CPU\n"
                 "            matrix-vector kernel streams (4096x4096 and 14336x4096)\n"
                 "  --file    prompt processing (-p tokens in one batch) and generation (-n\n"
                 "            tokens one at a time) in tokens/s, median of -r runs, peak RSS\n");
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        bench_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        bench_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "kernels"))
        return bench_kernels(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--file") || !strcmp(argv[1], "-m"))
        return bench_model(argc, argv);
    fprintf(stderr, "qm bench: unknown benchmark '%s'\n", argv[1]);
    bench_usage(stderr);
    return 2;
}
