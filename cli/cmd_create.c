/* cmd_create.c - `qm create NAME [-f Modelfile] [-q TYPE]`: a model from a
 * Modelfile, as `ollama create` makes one.
 *
 * The Modelfile is read here, on the client, because FROM may name a file
 * on this machine that the daemon cannot see (it may run elsewhere, or as
 * another user): a local GGUF is sent as a blob first (POST /api/blobs,
 * skipped when the daemon has it) and named in "files"; anything else goes
 * as "from" for the daemon to resolve.  The rest of the Modelfile travels
 * as fields of /api/create, whose statuses (one object, or a stream of
 * them) are printed as they come, "success" last. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"
#include "digest.h"
#include "format.h"
#include "modelfile.h"

static void create_usage(FILE *out)
{
    fprintf(out,
            "Usage: qm create NAME [-f FILE] [-q TYPE]\n"
            "\n"
            "Create a model from a Modelfile (FROM a local GGUF file or an existing model;\n"
            "PARAMETER, TEMPLATE, SYSTEM, MESSAGE and LICENSE as in Ollama).\n"
            "  -f, --file FILE        the Modelfile (default: ./Modelfile)\n"
            "  -q, --quantize TYPE    quantize the weights (for example q4_K_M)\n");
}

/* The whole file, NUL-terminated; NULL with err set. */
static char *read_file(const char *path, size_t *len, struct qm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        qm_err_set(err, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *p = realloc(buf, cap);
            if (!p) {
                qm_err_set(err, "out of memory");
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        qm_err_set(err, "read %s: %s", path, strerror(errno));
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

struct upload {
    struct qm_progress *prog;
    const char *digest;    /* filled by qm_client_push_blob before any progress */
};

static void on_upload(uint64_t done, uint64_t total, void *ud)
{
    struct upload *u = ud;
    char label[64];
    snprintf(label, sizeof label, "copying file %.19s", u->digest);
    qm_progress_status(u->prog, label, u->digest, (int64_t)total, (int64_t)done);
}

static int64_t int_or(json_t *v, int64_t dflt)
{
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static int on_status(json_t *obj, void *ud)
{
    const char *status = json_string_value(json_object_get(obj, "status"));
    if (status)
        qm_progress_status(ud, status, json_string_value(json_object_get(obj, "digest")),
                           int_or(json_object_get(obj, "total"), -1),
                           int_or(json_object_get(obj, "completed"), -1));
    return 0;
}

/* Set key to a string when s is non-NULL; false when out of memory. */
static bool set_str(json_t *o, const char *key, const char *s)
{
    return !s || json_object_set_new(o, key, json_string(s)) == 0;
}

/* The body of /api/create; a local GGUF named by FROM is uploaded first. */
static json_t *create_body(struct qm_client *c, const char *name, const struct qm_modelfile *mf,
                           const char *base_dir, const char *quantize, struct qm_progress *prog,
                           struct qm_err *err)
{
    json_t *body = json_object();
    char *path = NULL;
    if (!body)
        goto oom;
    int isfile = qm_modelfile_from_path(mf->from, base_dir, &path);
    if (isfile < 0)
        goto oom;
    if (isfile) {
        struct stat sb;
        if (stat(path, &sb) < 0) {
            qm_err_set(err, "FROM %s: %s", path, strerror(errno));
            goto fail;
        }
        if (S_ISDIR(sb.st_mode)) {
            qm_err_set(err, "FROM %s: a directory (safetensors) cannot be imported; convert it to GGUF", path);
            goto fail;
        }
        char digest[QM_DIGEST_STR_LEN + 1] = "";
        struct upload u = {.prog = prog, .digest = digest};
        qm_progress_status(prog, "gathering model components", NULL, -1, -1);
        int rc = qm_client_push_blob(c, path, digest, on_upload, &u, err);
        if (rc < 0)
            goto fail;
        /* the daemon takes the .gguf among "files" as the weights */
        char fname[512];
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        size_t bl = strlen(base);
        snprintf(fname, sizeof fname, "%s%s", base, bl > 5 && !strcmp(base + bl - 5, ".gguf") ? "" : ".gguf");
        if (json_object_set_new(body, "files", json_pack("{s:s}", fname, digest)))
            goto oom;
    } else if (!set_str(body, "from", mf->from)) {
        goto oom;
    }
    if (json_object_set_new(body, "model", json_string(name)) || !set_str(body, "template", mf->template) ||
        !set_str(body, "system", mf->system) || !set_str(body, "license", mf->license) ||
        !set_str(body, "quantize", quantize) ||
        (mf->params && json_object_set(body, "parameters", mf->params)) ||
        (mf->messages && json_object_set(body, "messages", mf->messages)) ||
        json_object_set_new(body, "stream", json_true()))
        goto oom;
    free(path);
    return body;
oom:
    qm_err_set(err, "out of memory");
fail:
    free(path);
    json_decref(body);
    return NULL;
}

int cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"file", required_argument, NULL, 'f'},
        {"quantize", required_argument, NULL, 'q'},
        {0},
    };
    const char *file = "Modelfile", *quantize = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hf:q:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            create_usage(stdout);
            return 0;
        case 'f':
            file = optarg;
            break;
        case 'q':
            quantize = optarg;
            break;
        default:
            if (optopt)
                fprintf(stderr, "qm create: option '%s' needs a value\n", argv[optind - 1]);
            else
                fprintf(stderr, "qm create: unknown option '%s'\n", argv[optind - 1]);
            create_usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        create_usage(stderr);
        return 2;
    }
    const char *name = argv[optind];

    struct qm_err err = {{0}};
    struct qm_modelfile mf = {0};
    struct qm_client cl;
    struct qm_progress *prog = NULL;
    json_t *body = NULL;
    char *dir = NULL;
    int rc = -1;
    size_t len = 0;
    char *text = read_file(file, &len, &err);
    if (!text)
        goto out;
    if (qm_modelfile_parse(&mf, text, len, &err) < 0) {
        char msg[sizeof err.msg];
        snprintf(msg, sizeof msg, "%s", err.msg);
        qm_err_set(&err, "%s: %s", file, msg);
        goto out;
    }
    char *copy = strdup(file);
    if (!copy || !(dir = strdup(dirname(copy)))) {
        free(copy);
        qm_err_set(&err, "out of memory");
        goto out;
    }
    free(copy);
    if (qm_client_init(&cl, &err) < 0)
        goto out;
    if (!(prog = qm_progress_new(stderr, isatty(STDERR_FILENO)))) {
        qm_err_set(&err, "out of memory");
        goto out;
    }
    if (!(body = create_body(&cl, name, &mf, dir, quantize, prog, &err)))
        goto out;
    rc = qm_client_call(&cl, "POST", "/api/create", body, on_status, prog, &err);
out:
    qm_progress_finish(prog);
    qm_progress_free(prog);
    json_decref(body);
    free(dir);
    free(text);
    qm_modelfile_free(&mf);
    return rc < 0 ? qm_cli_fail(&err) : 0;
}
