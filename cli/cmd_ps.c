/* cmd_ps.c - `qm ps`: the models loaded now, from GET /api/ps.
 *
 *   NAME            ID              SIZE      PROCESSOR          CONTEXT   UNTIL
 *   qwen2.5:0.5b    a8b0c5157701    1.1 GB    48%/52% CPU/GPU    4096      4 minutes from now
 *
 * PROCESSOR is where the weights and cache live (size against size_vram);
 * UNTIL is when the keep-alive runs out, "Forever" for a model kept loaded
 * (or busy: the daemon shows no expiry while a request runs).  /api/ps may
 * leave the digest out; the ID is then looked up in /api/tags by name. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "commands.h"
#include "format.h"

static void ps_usage(FILE *out)
{
    fprintf(out,
            "Usage: qm ps\n"
            "\n"
            "List the models loaded now: size, CPU/GPU split, context length and when\n"
            "each one will be unloaded.\n");
}

static void processor(char *out, size_t cap, int64_t size, int64_t vram)
{
    if (vram <= 0) {
        snprintf(out, cap, "100%% CPU");
    } else if (vram == size) {
        snprintf(out, cap, "100%% GPU");
    } else if (vram > size || size <= 0) {
        snprintf(out, cap, "Unknown");
    } else {
        int cpu = (int)lround((double)(size - vram) * 100.0 / (double)size);
        snprintf(out, cap, "%d%%/%d%% CPU/GPU", cpu, 100 - cpu);
    }
}

static const char *strip_sha(const char *d)
{
    if (d && (!strncmp(d, "sha256:", 7) || !strncmp(d, "sha256-", 7)))
        d += 7;
    return d ? d : "";
}

/* The digest of a model by name from /api/tags (tags may be NULL). */
static const char *tag_digest(json_t *tags, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(tags, "models"), i, m) {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (n && !strcmp(n, name))
            return json_string_value(json_object_get(m, "digest"));
    }
    return NULL;
}

int cmd_ps(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            ps_usage(stdout);
            return 0;
        }
        fprintf(stderr, "qm ps: unknown option '%s'\n", argv[optind - 1]);
        ps_usage(stderr);
        return 2;
    }
    if (optind < argc) {
        ps_usage(stderr);
        return 2;
    }
    struct qm_client cl;
    struct qm_err err = {{0}};
    json_t *ans = NULL, *tags = NULL;
    if (qm_client_init(&cl, &err) < 0 || qm_client_call_json(&cl, "GET", "/api/ps", NULL, &ans, &err) < 0)
        return qm_cli_fail(&err);
    json_t *models = json_object_get(ans, "models");
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        if (!*strip_sha(json_string_value(json_object_get(m, "digest")))) {
            /* best effort: without it the ID column stays empty */
            qm_client_call_json(&cl, "GET", "/api/tags", NULL, &tags, NULL);
            break;
        }
    }

    struct qm_table t;
    qm_table_init(&t, 6);
    qm_table_add(&t, "NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL");
    double now = qm_fmt_now();
    json_array_foreach(models, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        if (!name)
            name = json_string_value(json_object_get(m, "model"));
        if (!name)
            continue;
        const char *digest = strip_sha(json_string_value(json_object_get(m, "digest")));
        if (!*digest)
            digest = strip_sha(tag_digest(tags, name));
        int64_t size = (int64_t)json_integer_value(json_object_get(m, "size"));
        int64_t vram = (int64_t)json_integer_value(json_object_get(m, "size_vram"));
        char id[13], sz[32], proc[48], ctx[24] = "", until[64] = "";
        snprintf(id, sizeof id, "%s", digest);
        qm_fmt_bytes(sz, sizeof sz, size);
        processor(proc, sizeof proc, size, vram);
        json_t *cl_len = json_object_get(m, "context_length");
        if (json_is_integer(cl_len))
            snprintf(ctx, sizeof ctx, "%lld", (long long)json_integer_value(cl_len));
        double exp;
        if (qm_parse_rfc3339(json_string_value(json_object_get(m, "expires_at")), &exp)) {
            if (exp < now)
                snprintf(until, sizeof until, "Stopping...");
            else
                qm_fmt_relative(until, sizeof until, exp, now);
        }
        qm_table_add(&t, name, id, sz, proc, ctx, until);
    }
    json_decref(ans);
    json_decref(tags);
    int rc = 0;
    if (t.oom) {
        qm_err_set(&err, "out of memory");
        rc = qm_cli_fail(&err);
    } else {
        qm_table_print(&t, stdout);
    }
    qm_table_free(&t);
    return rc;
}
