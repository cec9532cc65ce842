/* cmd_show.c - `qm show MODEL [--modelfile|--parameters|--template|--system|
 * --license] [--verbose]`: what POST /api/show says about a model.
 *
 * With one of the flags, that field as the daemon sent it.  Without, the
 * sections Ollama prints:
 *
 *     Model
 *       architecture        qwen2
 *       parameters          494.03M
 *       context length      32768
 *       embedding length    896
 *       quantization        Q4_K_M
 *
 *     Parameters
 *       stop    "<|im_end|>"
 *
 *     System / License      (their first two lines)
 *
 * --verbose adds every metadata key of the GGUF (arrays as lengths). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "commands.h"
#include "format.h"

static void show_usage(FILE *out)
{
    fprintf(out,
            "Usage: qm show MODEL [--modelfile | --parameters | --template | --system | --license]\n"
            "               [--verbose]\n"
            "\n"
            "Show information about a model.\n"
            "  --modelfile    the Modelfile that recreates it\n"
            "  --parameters   its PARAMETER settings\n"
            "  --template     its prompt template\n"
            "  --system       its system prompt\n"
            "  --license      its license\n"
            "  -v, --verbose  every GGUF metadata key too\n");
}

/* One section: a title and rows of cells, the first column padded. */
static void section(const char *title, struct qm_table *rows)
{
    if (rows->nrow == 0)
        return;
    printf("  %s\n", title);
    size_t w = 0;
    for (size_t r = 0; r < rows->nrow; r++) {
        size_t cw = qm_fmt_width(rows->cells[r * 2] ? rows->cells[r * 2] : "");
        w = cw > w ? cw : w;
    }
    for (size_t r = 0; r < rows->nrow; r++) {
        const char *k = rows->cells[r * 2] ? rows->cells[r * 2] : "";
        const char *v = rows->cells[r * 2 + 1] ? rows->cells[r * 2 + 1] : "";
        if (*v)
            printf("    %s%*s%s\n", k, (int)(w - qm_fmt_width(k) + 4), "", v);
        else
            printf("    %s\n", k);
    }
    printf("\n");
}

/* The first n non-empty lines of s, trimmed, as rows with no value. */
static void head_rows(struct qm_table *t, const char *s, int n)
{
    while (s && *s && n > 0) {
        size_t len = strcspn(s, "\n");
        const char *b = s, *e = s + len;
        while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (e > b) {
            char *line = strndup(b, (size_t)(e - b));
            qm_table_add(t, line, "");
            free(line);
            n--;
        }
        s += len + (s[len] == '\n');
    }
}

static void scalar_text(json_t *v, char *out, size_t cap)
{
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(out, cap, "[...]");
}

static void print_summary(json_t *ans, bool verbose)
{
    json_t *info = json_object_get(ans, "model_info");
    json_t *details = json_object_get(ans, "details");
    const char *arch = json_string_value(json_object_get(info, "general.architecture"));
    if (!arch)
        arch = json_string_value(json_object_get(details, "family"));
    char buf[256], key[160];
    struct qm_table t;

    qm_table_init(&t, 2);
    if (arch)
        qm_table_add(&t, "architecture", arch);
    json_t *pc = json_object_get(info, "general.parameter_count");
    const char *ps = json_string_value(json_object_get(details, "parameter_size"));
    if (json_is_integer(pc) && json_integer_value(pc) > 0)
        qm_table_add(&t, "parameters", qm_fmt_number(buf, sizeof buf, (uint64_t)json_integer_value(pc)));
    else if (ps && *ps)
        qm_table_add(&t, "parameters", ps);
    static const struct { const char *suffix, *label; } lens[] = {
        {"context_length", "context length"}, {"embedding_length", "embedding length"},
    };
    for (size_t i = 0; arch && i < sizeof lens / sizeof lens[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", arch, lens[i].suffix);
        json_t *v = json_object_get(info, key);
        if (json_is_integer(v)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            qm_table_add(&t, lens[i].label, buf);
        }
    }
    const char *q = json_string_value(json_object_get(details, "quantization_level"));
    if (q && *q)
        qm_table_add(&t, "quantization", q);
    section("Model", &t);
    qm_table_free(&t);

    qm_table_init(&t, 2);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ans, "capabilities"), i, v)
        if (json_is_string(v))
            qm_table_add(&t, json_string_value(v), "");
    section("Capabilities", &t);
    qm_table_free(&t);

    /* "key<spaces>value" lines: the key, then the rest as it is */
    qm_table_init(&t, 2);
    const char *p = json_string_value(json_object_get(ans, "parameters"));
    while (p && *p) {
        size_t len = strcspn(p, "\n");
        char *line = strndup(p, len);
        if (line) {
            char *k = line + strspn(line, " \t");
            char *sep = k + strcspn(k, " \t");
            char *val = sep + strspn(sep, " \t");
            if (*sep)
                *sep = '\0';
            if (*k)
                qm_table_add(&t, k, val);
            free(line);
        }
        p += len + (p[len] == '\n');
    }
    section("Parameters", &t);
    qm_table_free(&t);

    const char *sys = json_string_value(json_object_get(ans, "system"));
    qm_table_init(&t, 2);
    head_rows(&t, sys, 2);
    section("System", &t);
    qm_table_free(&t);

    const char *lic = json_string_value(json_object_get(ans, "license"));
    qm_table_init(&t, 2);
    head_rows(&t, lic, 2);
    section("License", &t);
    qm_table_free(&t);

    if (verbose && json_object_size(info)) {
        qm_table_init(&t, 2);
        const char *k;
        json_object_foreach(info, k, v) {
            scalar_text(v, buf, sizeof buf);
            qm_table_add(&t, k, buf);
        }
        section("Metadata", &t);
        qm_table_free(&t);
    }
}

int cmd_show(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},       {"modelfile", no_argument, NULL, 'm'},
        {"parameters", no_argument, NULL, 'p'}, {"template", no_argument, NULL, 't'},
        {"system", no_argument, NULL, 's'},     {"license", no_argument, NULL, 'l'},
        {"verbose", no_argument, NULL, 'v'},    {0},
    };
    const char *field = NULL;
    bool verbose = false;
    int c, nfields = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            show_usage(stdout);
            return 0;
        case 'm': field = "modelfile"; nfields++; break;
        case 'p': field = "parameters"; nfields++; break;
        case 't': field = "template"; nfields++; break;
        case 's': field = "system"; nfields++; break;
        case 'l': field = "license"; nfields++; break;
        case 'v': verbose = true; break;
        default:
            fprintf(stderr, "qm show: unknown option '%s'\n", argv[optind - 1]);
            show_usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        show_usage(stderr);
        return 2;
    }
    if (nfields > 1) {
        fprintf(stderr, "qm show: only one of --modelfile, --parameters, --template, --system, --license\n");
        return 2;
    }
    struct qm_client cl;
    struct qm_err err = {{0}};
    json_t *ans = NULL;
    json_t *body = json_pack("{s:s, s:b}", "model", argv[optind], "verbose", verbose);
    if (!body)
        return qm_err_set(&err, "out of memory"), qm_cli_fail(&err);
    int rc = qm_client_init(&cl, &err);
    if (rc == 0)
        rc = qm_client_call_json(&cl, "POST", "/api/show", body, &ans, &err);
    json_decref(body);
    if (rc < 0)
        return qm_cli_fail(&err);
    if (field) {
        const char *s = json_string_value(json_object_get(ans, field));
        s = s ? s : "";
        size_t n = strlen(s);
        fputs(s, stdout);
        if (!n || s[n - 1] != '\n')
            fputc('\n', stdout);
    } else {
        print_summary(ans, verbose);
    }
    json_decref(ans);
    return 0;
}
