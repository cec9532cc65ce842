/* bench.h - the parts of `qm bench`, one file each; cmd_bench.c dispatches. */
#ifndef QM_CLI_BENCH_H
#define QM_CLI_BENCH_H

/* qm bench kernels [--threads N] [--json] [--type NAME]...; argv[0] = "kernels". */
int bench_kernels(int argc, char **argv);

/* qm bench --file MODEL [-p N] [-n N] [-t N] [-r N] [--json]; argv[0] = "bench". */
int bench_model(int argc, char **argv);

#endif
