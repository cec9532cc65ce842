/* cmd_cp.c - `qm cp SOURCE DESTINATION`: a second name for a model, with
 * POST /api/copy (the manifest is copied; the blobs are shared). */
#include <getopt.h>
#include <stdio.h>

#include "client.h"
#include "commands.h"

static void cp_usage(FILE *out)
{
    fprintf(out,
            "Usage: qm cp SOURCE DESTINATION\n"
            "\n"
            "Copy a model under a new name (no data is duplicated).\n");
}

int cmd_cp(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            cp_usage(stdout);
            return 0;
        }
        fprintf(stderr, "qm cp: unknown option '%s'\n", argv[optind - 1]);
        cp_usage(stderr);
        return 2;
    }
    if (argc - optind != 2) {
        cp_usage(stderr);
        return 2;
    }
    const char *src = argv[optind], *dst = argv[optind + 1];
    struct qm_client cl;
    struct qm_err err = {{0}};
    json_t *body = json_pack("{s:s, s:s}", "source", src, "destination", dst);
    int rc = body ? qm_client_init(&cl, &err) : qm_err_set(&err, "out of memory");
    if (rc == 0)
        rc = qm_client_call(&cl, "POST", "/api/copy", body, NULL, NULL, &err);
    json_decref(body);
    if (rc < 0)
        return qm_cli_fail(&err);
    printf("copied '%s' to '%s'\n", src, dst);
    return 0;
}
