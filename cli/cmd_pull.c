/* cmd_pull.c - `qm pull [--insecure] NAME`: fetch a model into the daemon's
 * store, with POST /api/pull and its stream of statuses:
 *
 *   {"status":"pulling manifest"}
 *   {"status":"pulling 1a2b3c4d5e6f","digest":"sha256:...","total":N,"completed":M}  (many)
 *   {"status":"verifying sha256 digest"} {"status":"writing manifest"}
 *   {"status":"success","model":"..."}   or   {"error":"..."}
 *
 * drawn by qm_progress (format.h): a bar per layer on a terminal, one line
 * per change elsewhere.  The daemon does the download, so a pull survives
 * this command being interrupted (the daemon finishes or resumes it). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"
#include "format.h"
#include "pull.h"

struct pull_state {
    struct qm_progress *prog;
    const char *name;
};

static int64_t int_or(json_t *v, int64_t dflt)
{
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static int on_status(json_t *obj, void *ud)
{
    struct pull_state *st = ud;
    const char *status = json_string_value(json_object_get(obj, "status"));
    if (!status)
        return 0;
    const char *model = json_string_value(json_object_get(obj, "model"));
    if (!strcmp(status, "success") && model && *model && strcmp(model, st->name)) {
        /* the name it is stored under, when not the one asked for; "success" stays last */
        char line[600];
        snprintf(line, sizeof line, "stored as %s", model);
        qm_progress_status(st->prog, line, NULL, -1, -1);
    }
    qm_progress_status(st->prog, status, json_string_value(json_object_get(obj, "digest")),
                       int_or(json_object_get(obj, "total"), -1), int_or(json_object_get(obj, "completed"), -1));
    return 0;
}

int qm_cli_pull(struct qm_client *c, const char *name, bool insecure, struct qm_err *err)
{
    int rc = qm_client_ensure_daemon(c, err);
    if (rc < 0)
        return rc;
    json_t *body = json_pack("{s:s, s:b, s:b}", "model", name, "insecure", insecure, "stream", 1);
    struct pull_state st = {.prog = qm_progress_new(stderr, isatty(STDERR_FILENO)), .name = name};
    if (!body || !st.prog) {
        json_decref(body);
        qm_progress_free(st.prog);
        return qm_err_set(err, "out of memory"), QM_ENOMEM;
    }
    rc = qm_client_call(c, "POST", "/api/pull", body, on_status, &st, err);
    qm_progress_finish(st.prog);
    qm_progress_free(st.prog);
    json_decref(body);
    return rc;
}

/* ---- the command ----------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void pull_usage(FILE *out)
{
    fprintf(out,
            "Usage: qm pull [--insecure] NAME\n"
            "\n"
            "Download a model into the daemon's store (starting the daemon when none\n"
            "runs on this machine).  NAME: a catalog name (qwen2.5-coder:1.5b),\n"
            "hf.co/OWNER/REPO:QUANT, or registry.ollama.ai/library/MODEL:TAG.\n"
            "  --insecure   allow plain HTTP and unverified TLS to the registry\n");
}

int cmd_pull(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'}, {"insecure", no_argument, NULL, 'i'}, {0}};
    bool insecure = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            pull_usage(stdout);
            return 0;
        }
        if (c == 'i') {
            insecure = true;
            continue;
        }
        fprintf(stderr, "qm pull: unknown option '%s'\n", argv[optind - 1]);
        pull_usage(stderr);
        return 2;
    }
    if (argc - optind != 1) {
        pull_usage(stderr);
        return 2;
    }
    struct qm_client cl;
    struct qm_err err = {{0}};
    if (qm_client_init(&cl, &err) < 0)
        return qm_cli_fail(&err);
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    cl.cancel = &interrupted;
    int rc = qm_cli_pull(&cl, argv[optind], insecure, &err);
    if (rc == QM_CLIENT_ECANCELED)
        return 130;
    return rc < 0 ? qm_cli_fail(&err) : 0;
}
