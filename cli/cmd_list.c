/* cmd_list.c - `qm list [PREFIX]` (alias `qm ls`): the models in the
 * daemon's store, from GET /api/tags.
 *
 *   NAME                ID              SIZE      MODIFIED
 *   qwen2.5:0.5b        a8b0c5157701    397 MB    2 days ago
 *
 * ID is the first 12 hex digits of the manifest's digest, as Ollama shows
 * it.  A PREFIX keeps the names that start with it (case-insensitive). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "commands.h"
#include "format.h"

static void list_usage(FILE *out)
{
    fprintf(out,
            "Usage: qm list [PREFIX]\n"
            "\n"
            "List the models in the daemon's store (alias: qm ls).  With PREFIX, only\n"
            "the names starting with it.\n");
}

/* The 12 hex digits Ollama shows for a digest ("sha256:" or not). */
static void short_id(const char *digest, char *out)
{
    const char *d = digest ? digest : "";
    if (!strncmp(d, "sha256:", 7) || !strncmp(d, "sha256-", 7))
        d += 7;
    snprintf(out, 13, "%s", d);
}

int cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            list_usage(stdout);
            return 0;
        }
        fprintf(stderr, "qm list: unknown option '%s'\n", argv[optind - 1]);
        list_usage(stderr);
        return 2;
    }
    if (argc - optind > 1) {
        list_usage(stderr);
        return 2;
    }
    const char *prefix = optind < argc ? argv[optind] : NULL;

    struct qm_client cl;
    struct qm_err err = {{0}};
    json_t *ans = NULL;
    if (qm_client_init(&cl, &err) < 0 || qm_client_call_json(&cl, "GET", "/api/tags", NULL, &ans, &err) < 0)
        return qm_cli_fail(&err);
    struct qm_table t;
    qm_table_init(&t, 4);
    qm_table_add(&t, "NAME", "ID", "SIZE", "MODIFIED");
    double now = qm_fmt_now();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(ans, "models"), i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        if (!name)
            name = json_string_value(json_object_get(m, "model"));
        if (!name || (prefix && strncasecmp(name, prefix, strlen(prefix))))
            continue;
        char id[13], size[32], when[64] = "";
        double t_mod;
        short_id(json_string_value(json_object_get(m, "digest")), id);
        qm_fmt_bytes(size, sizeof size, (int64_t)json_integer_value(json_object_get(m, "size")));
        if (qm_parse_rfc3339(json_string_value(json_object_get(m, "modified_at")), &t_mod))
            qm_fmt_relative(when, sizeof when, t_mod, now);
        qm_table_add(&t, name, id, size, when);
    }
    json_decref(ans);
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
