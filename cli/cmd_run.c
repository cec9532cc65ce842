/* cmd_run.c - `qm run`: chat with a model through the daemon.
 *
 *   qm run MODEL [PROMPT...] [--verbose] [--nowordwrap] [--format json]
 *          [--keepalive DURATION] [--insecure]
 *
 * As `ollama run` does: make sure a daemon answers (starting one when none
 * does), check that the model exists and pull it when the daemon does not
 * know it, load it, then either answer one prompt (a PROMPT argument, or
 * stdin that is not a terminal, appended to it) and exit, or open the
 * interactive loop of repl.c.  Every answer streams from POST /api/chat,
 * token by token; the conversation lives here, in the client, and goes with
 * every request. */
#include <locale.h>
#include <langinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "commands.h"
#include "pull.h"
#include "repl.h"
#include "strbuf.h"

/* ---- word wrap ------------------------------------------------------------------ */

/* Answers arrive a token at a time, so a word is held back until the space
 * or newline after it shows where it ends; then it goes on this line, or on
 * the next when it would not fit.  Columns are those the terminal gives a
 * character (wcwidth: two for CJK ideographs). */
struct wrap {
    int width;          /* 0: no wrapping */
    int col;            /* columns used on the current line */
    char word[256];     /* the word being received */
    size_t wlen;
    int wcols;
    size_t cp_start;    /* where in word the character being received starts */
};

static void wrap_flush_word(struct wrap *w)
{
    if (!w->wlen)
        return;
    if (w->col > 0 && w->col + w->wcols > w->width) {
        fputc('\n', stdout);
        w->col = 0;
    }
    fwrite(w->word, 1, w->wlen, stdout);
    w->col += w->wcols;
    w->wlen = w->cp_start = 0;
    w->wcols = 0;
}

/* The columns of the character that ends at the end of the word, once its
 * last byte is in. */
static void wrap_char_done(struct wrap *w)
{
    wchar_t wc;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t n = w->wlen - w->cp_start;
    size_t k = mbrtowc(&wc, w->word + w->cp_start, n, &st);
    if (k == (size_t)-2)
        return;                     /* more bytes to come */
    int cols = k == (size_t)-1 ? 1 : wcwidth(wc);
    w->wcols += cols < 0 ? 0 : cols;
    w->cp_start = w->wlen;
}

static void wrap_put(struct wrap *w, const char *s, size_t n)
{
    if (!w->width) {
        fwrite(s, 1, n, stdout);
        fflush(stdout);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b == '\n') {
            wrap_flush_word(w);
            fputc('\n', stdout);
            w->col = 0;
        } else if (b == ' ') {
            wrap_flush_word(w);
            if (w->col >= w->width) {   /* the space that ends a full line breaks it */
                fputc('\n', stdout);
                w->col = 0;
            } else {
                fputc(' ', stdout);
                w->col++;
            }
        } else {
            /* a word as long as the line, or the buffer, is broken where it
             * is, between two characters */
            if (w->cp_start == w->wlen && (w->wcols >= w->width || w->wlen + 8 > sizeof w->word))
                wrap_flush_word(w);
            w->word[w->wlen++] = (char)b;
            wrap_char_done(w);
        }
    }
    fflush(stdout);
}

static int terminal_width(void)
{
    struct winsize ws;
    if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
        return 0;
    return ws.ws_col;
}

/* ---- one chat turn ----------------------------------------------------------------- */

struct turn {
    struct wrap w;
    struct qm_strbuf answer;
    json_t *final;   /* the last object (done true): counts and durations */
};

static int on_chunk(json_t *obj, void *ud)
{
    struct turn *t = ud;
    const char *text = json_string_value(json_object_get(json_object_get(obj, "message"), "content"));
    if (text && *text) {
        size_t n = strlen(text);
        wrap_put(&t->w, text, n);
        qm_strbuf_put(&t->answer, text, n);
    }
    if (json_is_true(json_object_get(obj, "done"))) {
        json_decref(t->final);
        t->final = json_incref(obj);
    }
    return 0;
}

/* A duration as people read it: 1.234s, 56.789ms, 12.345µs. */
static const char *duration(int64_t ns, char *buf, size_t cap)
{
    if (ns >= 1000000000)
        snprintf(buf, cap, "%.6gs", (double)ns / 1e9);
    else if (ns >= 1000000)
        snprintf(buf, cap, "%.6gms", (double)ns / 1e6);
    else if (ns >= 1000)
        snprintf(buf, cap, "%.6gµs", (double)ns / 1e3);
    else
        snprintf(buf, cap, "%lldns", (long long)ns);
    return buf;
}

static void print_stats(const json_t *f)
{
    int64_t total = json_integer_value(json_object_get(f, "total_duration"));
    int64_t load = json_integer_value(json_object_get(f, "load_duration"));
    int64_t pc = json_integer_value(json_object_get(f, "prompt_eval_count"));
    int64_t pd = json_integer_value(json_object_get(f, "prompt_eval_duration"));
    int64_t ec = json_integer_value(json_object_get(f, "eval_count"));
    int64_t ed = json_integer_value(json_object_get(f, "eval_duration"));
    char b[32];
    fprintf(stderr, "total duration:       %s\n", duration(total, b, sizeof b));
    fprintf(stderr, "load duration:        %s\n", duration(load, b, sizeof b));
    fprintf(stderr, "prompt eval count:    %lld token(s)\n", (long long)pc);
    fprintf(stderr, "prompt eval duration: %s\n", duration(pd, b, sizeof b));
    fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n", pd > 0 ? (double)pc * 1e9 / (double)pd : 0.0);
    fprintf(stderr, "eval count:           %lld token(s)\n", (long long)ec);
    fprintf(stderr, "eval duration:        %s\n", duration(ed, b, sizeof b));
    fprintf(stderr, "eval rate:            %.2f tokens/s\n", ed > 0 ? (double)ec * 1e9 / (double)ed : 0.0);
}

static json_t *message(const char *role, const char *content)
{
    return json_pack("{s:s, s:s}", "role", role, "content", content);
}

/* Fields every request of the session carries. */
static void common_fields(struct run_session *s, json_t *body)
{
    if (s->keep_alive)
        json_object_set(body, "keep_alive", s->keep_alive);
}

int run_turn(struct run_session *s, const char *prompt, struct qm_err *err)
{
    struct turn t = {.w = {.width = s->wordwrap ? terminal_width() : 0}};
    json_t *user = message("user", prompt);
    json_t *system = s->system && *s->system ? message("system", s->system) : NULL;
    json_t *msgs = json_array();
    if (!user || !msgs || (s->system && *s->system && !system)) {
        json_decref(user);
        json_decref(system);
        json_decref(msgs);
        qm_err_set(err, "the prompt is not valid UTF-8");
        return QM_EINVAL;
    }
    if (system)
        json_array_append_new(msgs, system);
    json_array_extend(msgs, s->history);
    json_array_append(msgs, user);
    json_t *body = json_pack("{s:s, s:o, s:b}", "model", s->model, "messages", msgs, "stream", 1);
    if (!body) {
        json_decref(user);
        qm_err_set(err, "out of memory");
        return QM_ENOMEM;
    }
    if (json_object_size(s->options))
        json_object_set(body, "options", s->options);
    if (s->json_format)
        json_object_set_new(body, "format", json_string("json"));
    common_fields(s, body);

    run_interrupted = 0;
    int rc = qm_client_call(&s->c, "POST", "/api/chat", body, on_chunk, &t, err);
    json_decref(body);
    wrap_flush_word(&t.w);
    if (rc == 0) {
        fputs(s->interactive ? "\n\n" : "\n", stdout);
        fflush(stdout);
        if (s->verbose && t.final)
            print_stats(t.final);
        json_array_append(s->history, user);
        json_array_append_new(s->history, message("assistant", t.answer.p ? t.answer.p : ""));
        if (t.answer.oom) {
            qm_err_set(err, "out of memory");
            rc = QM_ENOMEM;
        }
    } else if (t.answer.len || rc == QM_CLIENT_ECANCELED) {
        fputc('\n', stdout);   /* the prompt, or the error, starts a line of its own */
        fflush(stdout);
    }
    json_decref(user);
    json_decref(t.final);
    free(t.answer.p);
    return rc;
}

/* ---- the model: show, pull, load ------------------------------------------------------ */

static int keep_object(json_t *obj, void *ud)
{
    json_t **out = ud;
    json_decref(*out);
    *out = json_incref(obj);
    return 0;
}

int run_show(struct run_session *s, const char *model, json_t **out, struct qm_err *err)
{
    json_t *body = json_pack("{s:s}", "model", model);
    *out = NULL;
    run_interrupted = 0;
    int rc = qm_client_call(&s->c, "POST", "/api/show", body, keep_object, out, err);
    json_decref(body);
    if (rc == 0 && !json_is_object(*out)) {
        qm_err_set(err, "the daemon's answer to /api/show is not a JSON object");
        rc = QM_EINVAL;
    }
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int run_load(struct run_session *s, struct qm_err *err)
{
    json_t *body = json_pack("{s:s}", "model", s->model);
    common_fields(s, body);
    run_interrupted = 0;
    int rc = qm_client_call(&s->c, "POST", "/api/generate", body, NULL, NULL, err);
    json_decref(body);
    return rc;
}

/* The model exists, or is pulled now: a 404 from /api/show means the
 * daemon does not have it. */
static int ensure_model(struct run_session *s, bool insecure, struct qm_err *err)
{
    json_t *info = NULL;
    int rc = run_show(s, s->model, &info, err);
    json_decref(info);
    if (rc == QM_CLIENT_EHTTP && s->c.status == 404)
        rc = qm_cli_pull(&s->c, s->model, insecure, err);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------ */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: qm run MODEL [PROMPT] [options]\n"
            "  Chat with MODEL: a prompt on the terminal, or one answer to PROMPT (and to\n"
            "  stdin, when it is not a terminal).  The model is pulled when not present.\n"
            "  --verbose              show timings after each answer\n"
            "  --nowordwrap           print answers as they come, without wrapping lines\n"
            "  --format json          answer in JSON\n"
            "  --keepalive DURATION   how long the model stays loaded (e.g. 5m, 1h, 0)\n"
            "  --insecure             allow an insecure registry when pulling\n");
}

/* "5m" goes as it is; a bare number is seconds, as in Ollama's API. */
static json_t *keep_alive_value(const char *v)
{
    char *end;
    long long n = strtoll(v, &end, 10);
    return *v && !*end ? json_integer(n) : json_string(v);
}

static int read_all(FILE *f, struct qm_strbuf *sb)
{
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        qm_strbuf_put(sb, buf, n);
    return ferror(f) || sb->oom ? -1 : 0;
}

/* Line editing and the answers' text are UTF-8 whatever the locale says. */
static void utf8_locale(void)
{
    const char *l = setlocale(LC_CTYPE, "");
    if (!l || strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
        setlocale(LC_CTYPE, "C.UTF-8");
}

struct run_args {
    struct qm_strbuf prompt;   /* the PROMPT words, joined with spaces */
    bool have_prompt, insecure;
};

static bool is_opt(const char *a, const char *name, const char **eq)
{
    size_t n = strlen(name);
    if (strncmp(a, name, n) || (a[n] && a[n] != '='))
        return false;
    *eq = a[n] ? a + n + 1 : NULL;
    return true;
}

/* 0, 1 for --help (printed), -1 with a message in err. */
static int parse_args(int argc, char **argv, struct run_session *s, struct run_args *ra, struct qm_err *err)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!options_done && !strcmp(a, "--")) {   /* what follows is the prompt, dashes and all */
            options_done = true;
        } else if (options_done || a[0] != '-' || !a[1]) {
            if (!s->model) {
                if (!(s->model = strdup(a)))
                    return qm_err_set(err, "out of memory");
            } else {
                if (ra->have_prompt)
                    qm_strbuf_put(&ra->prompt, " ", 1);
                qm_strbuf_puts(&ra->prompt, a);
                ra->have_prompt = true;
            }
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--verbose")) {
            s->verbose = true;
        } else if (!strcmp(a, "--nowordwrap")) {
            s->wordwrap = false;
        } else if (!strcmp(a, "--insecure")) {
            ra->insecure = true;
        } else if (is_opt(a, "--format", &v) || is_opt(a, "--keepalive", &v)) {
            bool format = a[2] == 'f';
            if (!v && !(v = i + 1 < argc ? argv[++i] : NULL))
                return qm_err_set(err, "%s needs a value", format ? "--format" : "--keepalive");
            if (format && *v && strcmp(v, "json") != 0)
                return qm_err_set(err, "invalid format '%s': only 'json' is supported", v);
            if (format) {
                s->json_format = *v != 0;
            } else {
                json_decref(s->keep_alive);
                s->keep_alive = keep_alive_value(v);
            }
        } else {
            return qm_err_set(err, "unknown option '%s' (see 'qm run --help')", a);
        }
    }
    if (!s->model) {
        usage(stderr);
        return qm_err_set(err, "which model? (qm run MODEL [PROMPT])");
    }
    if (ra->prompt.oom)
        return qm_err_set(err, "out of memory");
    return 0;
}

int cmd_run(int argc, char **argv)
{
    struct run_session s = {.wordwrap = true};
    struct run_args ra = {0};
    struct qm_err err = {{0}};
    int rc = 1;

    int parsed = parse_args(argc, argv, &s, &ra, &err);
    if (parsed) {
        rc = parsed > 0 ? 0 : 1;
        goto out;
    }
    utf8_locale();
    s.history = json_array();
    s.options = json_object();
    s.interactive = !ra.have_prompt && isatty(STDIN_FILENO);

    if (qm_client_init(&s.c, &err) < 0 || qm_client_ensure_daemon(&s.c, &err) < 0 ||
        ensure_model(&s, ra.insecure, &err) < 0)
        goto out;
    if (!isatty(STDIN_FILENO)) {
        struct qm_strbuf in = {0};
        if (read_all(stdin, &in) < 0) {
            free(in.p);
            qm_err_set(&err, "cannot read stdin");
            goto out;
        }
        if (in.len) {   /* appended to the PROMPT argument */
            if (ra.have_prompt)
                qm_strbuf_put(&ra.prompt, " ", 1);
            qm_strbuf_put(&ra.prompt, in.p, in.len);
            ra.have_prompt = true;
        }
        free(in.p);
    }
    if (ra.prompt.oom) {
        qm_err_set(&err, "out of memory");
        goto out;
    }
    if (run_load(&s, &err) < 0)
        goto out;
    if (s.interactive) {
        rc = run_repl(&s);   /* it reports its own errors */
        goto done;
    }
    if (!ra.have_prompt || run_turn(&s, ra.prompt.p, &err) == 0)
        rc = 0;
out:
    if (rc)
        fprintf(stderr, "Error: %s\n", err.msg[0] ? err.msg : "failed");
done:
    free(ra.prompt.p);
    free(s.model);
    free(s.system);
    json_decref(s.history);
    json_decref(s.options);
    json_decref(s.keep_alive);
    return rc;
}
