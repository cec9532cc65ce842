/* template_tool.c - the chat-template code driven from the command line, for
 * the Python tests that hold it against jinja2.
 *
 *   template_tool detect TEMPLATE_FILE          print the detected format name
 *   template_tool defsys TEMPLATE_FILE          print the default system prompt
 *                                               (nothing if there is none)
 *   template_tool render FORMAT MSGS gen|nogen [TEMPLATE_FILE]
 *                                               print the rendered prompt; with
 *                                               TEMPLATE_FILE, its default
 *                                               system prompt is applied
 *   template_tool stops FORMAT                  print the stop texts, one a line
 *   template_tool gotmpl TEMPLATE_FILE MSGS     render a chat through a Go template
 *
 * MSGS is a text file with one message a line, "role<TAB>content", where the
 * content escapes a newline as \n, a tab as \t and a backslash as \\.
 * Output is written as raw bytes with no newline added.  Exit status 0 on
 * success, 1 with one line on stderr otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gotmpl.h"
#include "template.h"

static int tt_read(const char *path, char **buf, size_t *len, struct qm_err *err)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return qm_err_set(err, "cannot open %s: %s", path, strerror(errno)), QM_EIO;
    for (;;) {
        if (n + 1 >= cap) {
            size_t ncap = cap ? 2 * cap : 4096;
            char *q = realloc(p, ncap);
            if (!q) {
                qm_err_set(err, "out of memory reading %s", path);
                goto err;
            }
            p = q;
            cap = ncap;
        }
        size_t got = fread(p + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        qm_err_set(err, "cannot read %s", path);
        goto err;
    }
    fclose(f);
    p[n] = '\0';
    *buf = p;
    *len = n;
    return 0;
err:
    fclose(f);
    free(p);
    return QM_EIO;
}

/* Parse the message file in place: roles and contents point into buf. */
static int tt_messages(char *buf, struct qm_chat_msg **out, size_t *n, struct qm_err *err)
{
    size_t cap = 0, count = 0;
    struct qm_chat_msg *v = NULL;
    char *line = buf;
    while (*line) {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : line + strlen(line);
        if (nl)
            *nl = '\0';
        if (*line) {
            char *tab = strchr(line, '\t');
            if (!tab) {
                free(v);
                return qm_err_set(err, "message line without a tab: %s", line);
            }
            *tab = '\0';
            /* unescape the content in place */
            char *r = tab + 1, *w = tab + 1;
            while (*r) {
                if (r[0] == '\\' && r[1] == 'n') {
                    *w++ = '\n';
                    r += 2;
                } else if (r[0] == '\\' && r[1] == 't') {
                    *w++ = '\t';
                    r += 2;
                } else if (r[0] == '\\' && r[1] == '\\') {
                    *w++ = '\\';
                    r += 2;
                } else {
                    *w++ = *r++;
                }
            }
            *w = '\0';
            if (count == cap) {
                cap = cap ? 2 * cap : 8;
                struct qm_chat_msg *nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    free(v);
                    return qm_err_set(err, "out of memory"), QM_ENOMEM;
                }
                v = nv;
            }
            v[count++] = (struct qm_chat_msg){line, tab + 1};
        }
        line = next;
    }
    *out = v;
    *n = count;
    return 0;
}

static int tt_format(const char *name, enum qm_chat_format *fmt, struct qm_err *err)
{
    *fmt = qm_chat_format_from_name(name);
    if (*fmt == QM_CHAT_UNKNOWN)
        return qm_err_set(err, "unknown chat format '%s'", name);
    return 0;
}

static int tt_run(int argc, char **argv, struct qm_err *err)
{
    char *tmpl = NULL, *msgbuf = NULL, *out = NULL, *defsys = NULL;
    struct qm_chat_msg *msgs = NULL;
    struct qm_gotmpl *gt = NULL;
    size_t tlen = 0, mlen = 0, n = 0, olen = 0;
    enum qm_chat_format fmt;
    int rc = QM_EINVAL;
    const char *cmd = argc > 1 ? argv[1] : "";

    if (strcmp(cmd, "detect") == 0 && argc == 3) {
        rc = tt_read(argv[2], &tmpl, &tlen, err);
        if (rc == 0)
            fputs(qm_chat_format_name(qm_chat_detect(tmpl, tlen)), stdout);
    } else if (strcmp(cmd, "defsys") == 0 && argc == 3) {
        rc = tt_read(argv[2], &tmpl, &tlen, err);
        if (rc == 0)
            rc = qm_chat_default_system(tmpl, tlen, &defsys, err);
        if (rc == 0 && defsys)
            fputs(defsys, stdout);
    } else if (strcmp(cmd, "render") == 0 && (argc == 5 || argc == 6)) {
        struct qm_chat_opts opts = {.add_generation_prompt = strcmp(argv[4], "gen") == 0};
        rc = tt_format(argv[2], &fmt, err);
        if (rc == 0)
            rc = tt_read(argv[3], &msgbuf, &mlen, err);
        if (rc == 0)
            rc = tt_messages(msgbuf, &msgs, &n, err);
        if (rc == 0 && argc == 6) {
            rc = tt_read(argv[5], &tmpl, &tlen, err);
            if (rc == 0)
                rc = qm_chat_default_system(tmpl, tlen, &defsys, err);
            opts.default_system = defsys;
        }
        if (rc == 0)
            rc = qm_chat_render_opts(fmt, msgs, n, &opts, &out, err);
        if (rc == 0)
            fwrite(out, 1, strlen(out), stdout);
    } else if (strcmp(cmd, "stops") == 0 && argc == 3) {
        rc = tt_format(argv[2], &fmt, err);
        if (rc == 0)
            for (const char *const *s = qm_chat_stop_strings(fmt); *s; s++)
                printf("%s\n", *s);
    } else if (strcmp(cmd, "gotmpl") == 0 && argc == 4) {
        rc = tt_read(argv[2], &tmpl, &tlen, err);
        if (rc == 0)
            rc = tt_read(argv[3], &msgbuf, &mlen, err);
        if (rc == 0)
            rc = tt_messages(msgbuf, &msgs, &n, err);
        if (rc == 0)
            rc = qm_gotmpl_parse(tmpl, tlen, &gt, err);
        if (rc == 0)
            rc = qm_gotmpl_render_chat(gt, msgs, n, &out, &olen, err);
        if (rc == 0)
            fwrite(out, 1, olen, stdout);
    } else {
        qm_err_set(err, "usage: template_tool detect|defsys|render|stops|gotmpl ... (see the source)");
    }
    free(tmpl);
    free(msgbuf);
    free(msgs);
    free(out);
    free(defsys);
    qm_gotmpl_free(gt);
    return rc;
}

int main(int argc, char **argv)
{
    struct qm_err err = {{0}};
    if (tt_run(argc, argv, &err) < 0) {
        fprintf(stderr, "template_tool: %s\n", err.msg);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
