/* cmd_rm.c - `qm rm MODEL...`: remove models from the daemon's store with
 * DELETE /api/delete, one at a time.
 *
 * A model that is loaded is asked to unload first (keep_alive 0, as
 * Ollama's CLI does), so that its memory goes with its name; that request's
 * answer does not matter, the delete's does.  Stops at the first failure. */
#include <getopt.h>
#include <stdio.h>

#include "client.h"
#include "commands.h"

static void rm_usage(FILE *out)
{
    fprintf(out,
            "Usage: qm rm MODEL [MODEL...]\n"
            "\n"
            "Remove models from the store (blobs no other model uses go too).\n");
}

int cmd_rm(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            rm_usage(stdout);
            return 0;
        }
        fprintf(stderr, "qm rm: unknown option '%s'\n", argv[optind - 1]);
        rm_usage(stderr);
        return 2;
    }
    if (optind >= argc) {
        rm_usage(stderr);
        return 2;
    }
    struct qm_client cl;
    struct qm_err err = {{0}};
    if (qm_client_init(&cl, &err) < 0)
        return qm_cli_fail(&err);
    for (int i = optind; i < argc; i++) {
        json_t *unload = json_pack("{s:s, s:i}", "model", argv[i], "keep_alive", 0);
        json_t *del = json_pack("{s:s}", "model", argv[i]);
        int rc = unload && del ? 0 : qm_err_set(&err, "out of memory");
        if (rc == 0) {
            struct qm_err ignored;
            int u = qm_client_call(&cl, "POST", "/api/generate", unload, NULL, NULL, &ignored);
            if (u == QM_CLIENT_ECONNECT) {
                err = ignored;
                rc = u;
            }
        }
        if (rc == 0)
            rc = qm_client_call(&cl, "DELETE", "/api/delete", del, NULL, NULL, &err);
        json_decref(unload);
        json_decref(del);
        if (rc < 0)
            return qm_cli_fail(&err);
        printf("deleted '%s'\n", argv[i]);
    }
    return 0;
}
