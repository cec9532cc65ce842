/* modelfile.c - the Modelfile parser: one pass over the text with a cursor
 * that counts lines, so every error can say where it is. */
#include "modelfile.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "params.h"

struct cur {
    const char *p, *end;
    int line;
    struct qm_err *err;
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(struct cur *c, int line, const char *fmt, ...)
{
    char msg[sizeof c->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qm_err_set(c->err, "Modelfile line %d: %s", line, msg);
}

static int oom(struct cur *c)
{
    qm_err_set(c->err, "out of memory");
    return QM_ENOMEM;
}

static void skip_blank(struct cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
        c->p++;
}

static bool at_eol(const struct cur *c)
{
    return c->p == c->end || *c->p == '\n';
}

static void next_line(struct cur *c)
{
    while (c->p < c->end && *c->p != '\n')
        c->p++;
    if (c->p < c->end) {
        c->p++;
        c->line++;
    }
}

/* A run of non-blank characters (an instruction, a key, a role). */
static void read_word(struct cur *c, char *buf, size_t cap)
{
    size_t n = 0;
    while (c->p < c->end && !strchr(" \t\r\n", *c->p)) {
        if (n + 1 < cap)
            buf[n++] = *c->p;
        c->p++;
    }
    buf[n] = '\0';
}

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Text after a closing quote must be blank up to the end of the line. */
static int end_of_value(struct cur *c, const char *what)
{
    skip_blank(c);
    if (!at_eol(c))
        return fail(c, c->line, "unexpected text after the closing %s", what);
    next_line(c);
    return QM_OK;
}

static int read_triple(struct cur *c, char **out)
{
    int start = c->line;
    c->p += 3;
    const char *close = memmem(c->p, (size_t)(c->end - c->p), "\"\"\"", 3);
    if (!close)
        return fail(c, start, "the \"\"\" opened here is never closed");
    if (!(*out = dup_range(c->p, (size_t)(close - c->p))))
        return oom(c);
    for (const char *q = c->p; q < close; q++)
        c->line += *q == '\n';
    c->p = close + 3;
    int rc = end_of_value(c, "\"\"\"");
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int read_quoted(struct cur *c, char **out)
{
    int start = c->line;
    char *buf = malloc((size_t)(c->end - c->p) + 1);
    if (!buf)
        return oom(c);
    size_t n = 0;
    for (c->p++;; c->p++) {
        if (c->p == c->end) {
            free(buf);
            return fail(c, start, "the quote opened here is never closed");
        }
        char ch = *c->p;
        if (ch == '"')
            break;
        if (ch == '\\' && c->p + 1 < c->end && (c->p[1] == '"' || c->p[1] == '\\'))
            ch = *++c->p;
        c->line += ch == '\n';
        buf[n++] = ch;
    }
    c->p++;
    buf[n] = '\0';
    *out = buf;
    int rc = end_of_value(c, "quote");
    if (rc) {
        free(buf);
        *out = NULL;
    }
    return rc;
}

/* The value of an instruction, which starts on the current line; *out is
 * NULL unless it succeeds. */
static int read_value(struct cur *c, const char *instr, char **out)
{
    *out = NULL;
    skip_blank(c);
    if (at_eol(c))
        return fail(c, c->line, "%s needs a value", instr);
    if (c->end - c->p >= 3 && !memcmp(c->p, "\"\"\"", 3))
        return read_triple(c, out);
    if (*c->p == '"')
        return read_quoted(c, out);
    const char *s = c->p;
    while (!at_eol(c))
        c->p++;
    const char *e = c->p;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    next_line(c);
    if (!(*out = dup_range(s, (size_t)(e - s))))
        return oom(c);
    return QM_OK;
}

static int append_license(char **license, char *text)
{
    if (!*license) {
        *license = text;
        return QM_OK;
    }
    char *joined = NULL;
    int n = asprintf(&joined, "%s\n\n%s", *license, text);
    free(text);
    if (n < 0)
        return QM_ENOMEM;
    free(*license);
    *license = joined;
    return QM_OK;
}

static int parameter(struct cur *c, struct qm_modelfile *mf, int line)
{
    char key[64], *value;
    skip_blank(c);
    read_word(c, key, sizeof key);
    if (!*key)
        return fail(c, line, "PARAMETER needs a name and a value");
    int rc = read_value(c, "PARAMETER", &value);
    if (rc)
        return rc;
    if (!mf->params && !(mf->params = json_object())) {
        free(value);
        return oom(c);
    }
    struct qm_err perr;
    rc = qm_params_set(mf->params, key, value, &perr);
    free(value);
    return rc ? fail(c, line, "%s", perr.msg) : QM_OK;
}

static int message(struct cur *c, struct qm_modelfile *mf, int line)
{
    char role[32], *content;
    skip_blank(c);
    read_word(c, role, sizeof role);
    if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))
        return fail(c, line, "MESSAGE role '%s' is not system, user or assistant", role);
    int rc = read_value(c, "MESSAGE", &content);
    if (rc)
        return rc;
    json_t *m = json_pack("{s:s, s:s}", "role", role, "content", content);
    free(content);
    if (!m)
        return fail(c, line, "MESSAGE content is not valid UTF-8");
    if ((!mf->messages && !(mf->messages = json_array())) ||
        json_array_append_new(mf->messages, m)) {
        json_decref(m);
        return oom(c);
    }
    return QM_OK;
}

static int instruction(struct cur *c, struct qm_modelfile *mf)
{
    int line = c->line;
    char word[32];
    read_word(c, word, sizeof word);
    char *v = NULL;
    int rc;
    if (!strcasecmp(word, "FROM")) {
        if (mf->from)
            return fail(c, line, "a second FROM (the first is on line %d): qm builds on one "
                        "model", mf->from_line);
        mf->from_line = line;
        return read_value(c, "FROM", &mf->from);
    }
    if (!strcasecmp(word, "PARAMETER"))
        return parameter(c, mf, line);
    if (!strcasecmp(word, "MESSAGE"))
        return message(c, mf, line);
    if (!strcasecmp(word, "ADAPTER")) {
        fail(c, line, "ADAPTER is not supported: qm cannot apply LoRA adapters");
        return QM_EUNSUPPORTED;
    }
    char **slot = !strcasecmp(word, "TEMPLATE") ? &mf->template
                  : !strcasecmp(word, "SYSTEM") ? &mf->system
                  : NULL;
    if (slot) {
        if ((rc = read_value(c, word, &v)) == QM_OK) {
            free(*slot);
            *slot = v;
        }
        return rc;
    }
    if (!strcasecmp(word, "LICENSE")) {
        if ((rc = read_value(c, "LICENSE", &v)) == QM_OK && append_license(&mf->license, v))
            return oom(c);
        return rc;
    }
    return fail(c, line, "unknown instruction '%s' (expected FROM, PARAMETER, TEMPLATE, SYSTEM, "
                "MESSAGE or LICENSE)", word);
}

int qm_modelfile_parse(struct qm_modelfile *out, const char *text, size_t len,
                       struct qm_err *err)
{
    memset(out, 0, sizeof *out);
    struct cur c = {text, text + len, 1, err};
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *q = text; q < nul; q++)
            line += *q == '\n';
        return fail(&c, line, "the file holds a NUL byte: not a text file");
    }
    int rc = QM_OK;
    while (rc == QM_OK) {
        while (c.p < c.end && strchr(" \t\r\n", *c.p))
            c.line += *c.p++ == '\n';
        if (c.p == c.end)
            break;
        if (*c.p == '#')
            next_line(&c);
        else
            rc = instruction(&c, out);
    }
    if (rc == QM_OK && !out->from)
        rc = qm_err_set(err, "Modelfile: no FROM instruction (it names the model or GGUF file "
                        "to build on)");
    if (rc)
        qm_modelfile_free(out);
    return rc;
}

void qm_modelfile_free(struct qm_modelfile *mf)
{
    free(mf->from);
    free(mf->template);
    free(mf->system);
    free(mf->license);
    json_decref(mf->params);
    json_decref(mf->messages);
    memset(mf, 0, sizeof *mf);
}

int qm_modelfile_from_path(const char *from, const char *base_dir, char **path)
{
    *path = NULL;
    int n;
    if (!strncmp(from, "~/", 2)) {
        const char *home = getenv("HOME");
        n = asprintf(path, "%s/%s", home && *home ? home : ".", from + 2);
    } else if (from[0] == '/') {
        n = (*path = strdup(from)) ? 0 : -1;
    } else {
        n = asprintf(path, "%s/%s", base_dir && *base_dir ? base_dir : ".", from);
        bool pathlike = !strncmp(from, "./", 2) || !strncmp(from, "../", 3);
        if (n >= 0 && !pathlike && access(*path, F_OK) != 0) {
            free(*path);
            *path = NULL;
            return 0;   /* a model name */
        }
    }
    if (n < 0) {
        *path = NULL;
        return QM_ENOMEM;
    }
    return 1;
}
