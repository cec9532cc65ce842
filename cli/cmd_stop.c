/* cmd_stop.c - `qm stop MODEL`: unload a running model now.
 *
 * POST /api/generate with no prompt and keep_alive 0 is Ollama's way to
 * unload: the daemon answers at once (done_reason "unload") and lets the
 * model go as soon as its running requests end, so `qm ps` may still show
 * it for a moment.  A model that is not loaded is no error; one that does
 * not exist is. */
#include <getopt.h>
#include <stdio.h>

#include "client.h"
#include "commands.h"

static void stop_usage(FILE *out)
{
    fprintf(out,
            "Usage: qm stop MODEL\n"
            "\n"
            "Unload a running model (it stays in the store).\n");
}

int cmd_stop(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            stop_usage(stdout);
            return 0;
        }
        fprintf(stderr, "qm stop: unknown option '%s'\n", argv[optind - 1]);
        stop_usage(stderr);
        return 2;
    }
    if (argc - optind != 1) {
        stop_usage(stderr);
        return 2;
    }
    struct qm_client cl = {.status = 0};
    struct qm_err err = {{0}};
    json_t *body = json_pack("{s:s, s:i, s:b}", "model", argv[optind], "keep_alive", 0, "stream", 0);
    int rc = body ? qm_client_init(&cl, &err) : qm_err_set(&err, "out of memory");
    if (rc == 0)
        rc = qm_client_call(&cl, "POST", "/api/generate", body, NULL, NULL, &err);
    json_decref(body);
    if (rc < 0) {
        if (cl.status == 404)
            qm_err_set(&err, "couldn't find model \"%s\" to stop", argv[optind]);
        return qm_cli_fail(&err);
    }
    return 0;
}
