/* cmd_runner.c - `qm runner`: the daemon's per-model worker process.
 *
 * Not for people: the daemon starts it with a socketpair on fd 3
 * (common/runner_proto.h).  Arguments name the model and its instance's
 * settings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "runner.h"
#include "runner_proto.h"

static int int_arg(const char *opt, const char *v, int32_t lo, int32_t hi, int32_t *out)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "qm runner: %s wants an integer in [%d, %d]\n", opt, lo, hi);
        return -1;
    }
    *out = (int32_t)x;
    return 0;
}

int cmd_runner(int argc, char **argv)
{
    struct qm_runner_opts o = {.n_parallel = 1, .kv_type = getenv("QM_KV_CACHE_TYPE")};
    int fd = QM_RUNNER_FD;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        i++;
        if (!strcmp(a, "--model") && v) o.model_path = v;
        else if (!strcmp(a, "--kv-type") && v) o.kv_type = v;
        else if (!strcmp(a, "--ctx")) rc = int_arg(a, v, 0, 1 << 24, &o.n_ctx);
        else if (!strcmp(a, "--parallel")) rc = int_arg(a, v, 1, 256, &o.n_parallel);
        else if (!strcmp(a, "--threads")) rc = int_arg(a, v, 0, 1024, &o.n_threads);
        else if (!strcmp(a, "--batch")) rc = int_arg(a, v, 1, 1 << 16, &o.n_batch);
        else if (!strcmp(a, "--gpu-layers")) rc = int_arg(a, v, -1, 1 << 16, &o.gpu_layers);
        else if (!strcmp(a, "--fd")) rc = int_arg(a, v, 0, 1 << 20, &fd);
        else {
            fprintf(stderr, "qm runner: unknown or incomplete option '%s'\n", a);
            return 2;
        }
        if (rc < 0)
            return 2;
    }
    if (!o.model_path) {
        fprintf(stderr, "qm runner: --model PATH is required (the daemon starts runners)\n");
        return 2;
    }
    return qm_runner_main(&o, fd);
}
