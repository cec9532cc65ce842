/* repl.c - the interactive loop of `qm run`: a prompt with line editing
 * (libedit, emacs keys, history for the session), multi-line input between
 * """ lines, and the /commands of `ollama run` (/set, /show, /load, /clear,
 * /bye, /?).
 *
 * Ctrl-C.  libedit's own signal handling is off (it re-sends the signal to
 * the whole process group); instead SIGINT only sets run_interrupted.  At
 * the prompt, SIGINT is blocked except inside the ppoll() that waits for a
 * key, so a Ctrl-C can never be lost between a check and a read: the read
 * function then fails with EINTR, el_gets() returns, and the line is
 * dropped.  While an answer streams the same flag is the client's cancel
 * flag, so the transfer is aborted, the daemon sees the connection close
 * and cancels the generation, and run_turn() leaves the history as it was
 * (the unanswered prompt and the partial answer are both forgotten). */
#include <errno.h>
#include <histedit.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "params.h"
#include "repl.h"
#include "strbuf.h"

volatile sig_atomic_t run_interrupted;

struct repl {
    struct run_session *s;
    EditLine *el;
    History *hist;
    bool history_on;        /* lines go into the line history (/set history) */
    bool in_block;          /* inside a """ block: the prompt is "... " */
    bool block_system;      /* the block was opened by /set system """ */
    struct qm_strbuf block; /* its lines so far, joined with newlines */
    int block_parts;
};

static void on_sigint(int sig)
{
    (void)sig;
    run_interrupted = 1;
}

/* ---- libedit hooks ------------------------------------------------------------------ */

static char *prompt_fn(EditLine *el)
{
    static char main_prompt[] = ">>> ", cont_prompt[] = "... ";
    struct repl *r = NULL;
    el_get(el, EL_CLIENTDATA, &r);
    return r && r->in_block ? cont_prompt : main_prompt;
}

/* One byte of the terminal: 1, 0 at end of file, -1 with errno (EINTR
 * after Ctrl-C). */
static int read_byte(int fd, unsigned char *b)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    int rc;
    for (;;) {
        if (run_interrupted) {
            rc = -1;
            errno = EINTR;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (ppoll(&p, 1, NULL, &old) < 0) {   /* the one place SIGINT is let in */
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        ssize_t n = read(fd, b, 1);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        rc = n < 0 ? -1 : (int)n;
        break;
    }
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return rc;
}

/* EL_GETCFN: one character, decoded from the locale's (UTF-8) bytes. */
static int getc_fn(EditLine *el, wchar_t *wc)
{
    char buf[MB_LEN_MAX];
    size_t n = 0;
    (void)el;
    for (;;) {
        unsigned char b;
        int rc = read_byte(STDIN_FILENO, &b);
        if (rc <= 0) {
            *wc = 0;
            return rc;
        }
        buf[n++] = (char)b;
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t k = mbrtowc(wc, buf, n, &st);
        if (k == (size_t)-2 && n < sizeof buf)
            continue;              /* the rest of a sequence follows */
        if (k == (size_t)-1 || k == (size_t)-2) {
            n = 0;                 /* not a character: dropped */
            continue;
        }
        return 1;
    }
}

/* ---- help texts ------------------------------------------------------------------------ */

static void help(void)
{
    fputs("Available Commands:\n"
          "  /set            Set session variables\n"
          "  /show           Show model information\n"
          "  /load <model>   Load a model (and start a new conversation)\n"
          "  /clear          Clear session context\n"
          "  /bye            Exit\n"
          "  /?, /help       Help for a command\n"
          "  /? shortcuts    Help for keyboard shortcuts\n"
          "\n"
          "Use \"\"\" to begin a multi-line message.\n\n",
          stdout);
}

static void help_set(void)
{
    fputs("Available Commands:\n"
          "  /set parameter ...     Set a parameter\n"
          "  /set system <string>   Set system message\n"
          "  /set history           Enable history\n"
          "  /set nohistory         Disable history\n"
          "  /set wordwrap          Enable wordwrap\n"
          "  /set nowordwrap        Disable wordwrap\n"
          "  /set format json       Enable JSON mode\n"
          "  /set noformat          Disable formatting\n"
          "  /set verbose           Show LLM stats\n"
          "  /set quiet             Disable LLM stats\n\n",
          stdout);
}

static void help_parameters(void)
{
    fputs("Available Parameters:\n"
          "  /set parameter seed <int>             Random number seed\n"
          "  /set parameter num_predict <int>      Max number of tokens to predict\n"
          "  /set parameter top_k <int>            Pick from top k num of tokens\n"
          "  /set parameter top_p <float>          Pick token based on sum of probabilities\n"
          "  /set parameter min_p <float>          Pick token based on top token probability * min_p\n"
          "  /set parameter num_ctx <int>          Set the context size\n"
          "  /set parameter temperature <float>    Set creativity level\n"
          "  /set parameter repeat_penalty <float> How strongly to penalize repetitions\n"
          "  /set parameter repeat_last_n <int>    Set how far back to look for repetitions\n"
          "  /set parameter num_gpu <int>          The number of layers to send to the GPU\n"
          "  /set parameter stop <string> <string> ...   Set the stop parameters\n\n",
          stdout);
}

static void help_show(void)
{
    fputs("Available Commands:\n"
          "  /show info         Show details for this model\n"
          "  /show license      Show model license\n"
          "  /show modelfile    Show Modelfile for this model\n"
          "  /show parameters   Show parameters for this model\n"
          "  /show system       Show system message\n"
          "  /show template     Show prompt template\n\n",
          stdout);
}

static void help_shortcuts(void)
{
    fputs("Available keyboard shortcuts:\n"
          "  Ctrl + a            Move to the beginning of the line (Home)\n"
          "  Ctrl + e            Move to the end of the line (End)\n"
          "  Alt + b             Move back (left) one word\n"
          "  Alt + f             Move forward (right) one word\n"
          "  Ctrl + k            Delete the text after the cursor\n"
          "  Ctrl + w            Delete the word before the cursor\n"
          "  Up, Down            Earlier and later lines of this session\n"
          "\n"
          "  Ctrl + l            Clear the screen\n"
          "  Ctrl + c            Stop the model from responding\n"
          "  Ctrl + d            Exit (/bye)\n\n",
          stdout);
}

/* ---- commands --------------------------------------------------------------------------- */

/* The next space-separated word of *p, NUL-terminated in place. */
static char *word(char **p)
{
    char *s = *p + strspn(*p, " \t");
    if (!*s)
        return NULL;
    char *e = s + strcspn(s, " \t");
    *p = *e ? e + 1 : e;
    *e = 0;
    return s;
}

/* Text as a block: each line of it after an indent. */
static void print_indented(const char *text, const char *indent)
{
    while (text && *text) {
        size_t n = strcspn(text, "\n");
        printf("%s%.*s\n", indent, (int)n, text);
        text += n + (text[n] == '\n');
    }
}

static void print_text(const char *text)
{
    size_t n = strlen(text);
    fputs(text, stdout);
    if (!n || text[n - 1] != '\n')
        fputc('\n', stdout);
}

static void report(int rc, const struct qm_err *err)
{
    if (rc < 0 && rc != QM_CLIENT_ECANCELED)
        fprintf(stderr, "Error: %s\n", err->msg[0] ? err->msg : "failed");
}

static void set_system(struct repl *r, const char *text)
{
    size_t n = strlen(text);
    if (n >= 2 && text[0] == '"' && text[n - 1] == '"') {   /* /set system "..." */
        text++;
        n -= 2;
    }
    free(r->s->system);
    r->s->system = n ? strndup(text, n) : NULL;
    puts(n ? "Set system message." : "Cleared system message.");
}

static void set_parameter(struct repl *r, char *rest)
{
    struct qm_err err = {{0}};
    char *name = word(&rest);
    if (!name) {
        help_parameters();
        return;
    }
    rest += strspn(rest, " \t");
    if (!*rest) {
        puts("Usage: /set parameter <name> <value>");
        return;
    }
    int rc = 0;
    struct qm_strbuf shown = {0};
    if (qm_param_type(name) == QM_PARAM_STRINGS) {   /* stop: every word is one more */
        json_object_del(r->s->options, name);
        for (char *p = rest, *w; rc == 0 && (w = word(&p));) {
            rc = qm_params_set(r->s->options, name, w, &err);
            if (shown.len)
                qm_strbuf_puts(&shown, ", ");
            qm_strbuf_puts(&shown, w);
        }
    } else {
        size_t n = strlen(rest);
        while (n && (rest[n - 1] == ' ' || rest[n - 1] == '\t'))
            rest[--n] = 0;
        rc = qm_params_set(r->s->options, name, rest, &err);
        qm_strbuf_puts(&shown, rest);
    }
    if (rc < 0) {
        json_object_del(r->s->options, name);
        printf("Couldn't set parameter: %s\n", err.msg);
    } else {
        printf("Set parameter '%s' to '%s'\n", name, shown.p ? shown.p : "");
    }
    free(shown.p);
}

static void cmd_set(struct repl *r, char *rest)
{
    struct run_session *s = r->s;
    char *what = word(&rest);
    if (!what) {
        help_set();
    } else if (!strcmp(what, "parameter")) {
        set_parameter(r, rest);
    } else if (!strcmp(what, "system")) {
        set_system(r, rest + strspn(rest, " \t"));
    } else if (!strcmp(what, "verbose") || !strcmp(what, "quiet")) {
        s->verbose = what[0] == 'v';
        printf("Set '%s' mode.\n", what);
    } else if (!strcmp(what, "wordwrap") || !strcmp(what, "nowordwrap")) {
        s->wordwrap = what[0] == 'w';
        printf("Set '%s' mode.\n", what);
    } else if (!strcmp(what, "history") || !strcmp(what, "nohistory")) {
        r->history_on = what[0] == 'h';
        printf("Set '%s' mode.\n", what);
    } else if (!strcmp(what, "format")) {
        char *f = word(&rest);
        if (f && !strcmp(f, "json")) {
            s->json_format = true;
            puts("Set format to 'json' mode.");
        } else {
            printf("Invalid or missing format. For 'json' mode use '/set format json'\n");
        }
    } else if (!strcmp(what, "noformat")) {
        s->json_format = false;
        puts("Disabled format.");
    } else {
        printf("Unknown command '/set %s'. Type /? for help\n", what);
    }
}

static void show_info(const json_t *info)
{
    const json_t *d = json_object_get(info, "details"), *mi = json_object_get(info, "model_info");
    const char *arch = json_string_value(json_object_get(mi, "general.architecture"));
    if (!arch)
        arch = json_string_value(json_object_get(d, "family"));
    printf("  Model\n");
    if (arch)
        printf("    %-20s%s\n", "architecture", arch);
    const char *ps = json_string_value(json_object_get(d, "parameter_size"));
    if (ps && *ps)
        printf("    %-20s%s\n", "parameters", ps);
    static const char *const keys[][2] = {{"context_length", "context length"},
                                          {"embedding_length", "embedding length"}};
    for (size_t i = 0; arch && i < 2; i++) {
        char key[128];
        snprintf(key, sizeof key, "%s.%s", arch, keys[i][0]);
        json_t *v = json_object_get(mi, key);
        if (json_is_integer(v))
            printf("    %-20s%lld\n", keys[i][1], (long long)json_integer_value(v));
    }
    const char *q = json_string_value(json_object_get(d, "quantization_level"));
    if (q && *q)
        printf("    %-20s%s\n", "quantization", q);
    json_t *caps = json_object_get(info, "capabilities"), *c;
    size_t i;
    if (json_array_size(caps)) {
        printf("\n  Capabilities\n");
        json_array_foreach(caps, i, c)
            printf("    %s\n", json_string_value(c) ? json_string_value(c) : "?");
    }
    static const char *const texts[][2] = {{"parameters", "Parameters"}, {"system", "System"},
                                           {"license", "License"}};
    for (i = 0; i < 3; i++) {
        const char *t = json_string_value(json_object_get(info, texts[i][0]));
        if (t && *t) {
            printf("\n  %s\n", texts[i][1]);
            print_indented(t, "    ");
        }
    }
    printf("\n");
}

static void show_parameters(struct run_session *s, const json_t *info)
{
    const char *key;
    json_t *v;
    if (json_object_size(s->options)) {
        puts("User defined parameters:");
        json_object_foreach(s->options, key, v) {
            size_t n = json_is_array(v) ? json_array_size(v) : 1;
            for (size_t i = 0; i < n; i++) {
                char *text = qm_param_format(json_is_array(v) ? json_array_get(v, i) : v);
                printf("%-30s %s\n", key, text ? text : "");
                free(text);
            }
        }
        puts("");
    }
    const char *model = json_string_value(json_object_get(info, "parameters"));
    if (model && *model) {
        puts("Model defined parameters:");
        print_text(model);
    } else if (!json_object_size(s->options)) {
        puts("No parameters were specified for this model.");
    }
}

static void cmd_show(struct repl *r, char *rest)
{
    struct run_session *s = r->s;
    static const char *const whats[] = {"info", "license", "modelfile", "parameters", "system", "template"};
    char *what = word(&rest);
    size_t k = 0;
    while (what && k < sizeof whats / sizeof whats[0] && strcmp(what, whats[k]))
        k++;
    if (!what || k == sizeof whats / sizeof whats[0]) {
        if (what)
            printf("Unknown command '/show %s'. Type /? for help\n", what);
        help_show();
        return;
    }
    struct qm_err err = {{0}};
    json_t *info = NULL;
    int rc = run_show(s, s->model, &info, &err);
    if (rc < 0) {
        report(rc, &err);
        return;
    }
    const char *text = json_string_value(json_object_get(info, what));
    if (!strcmp(what, "info")) {
        show_info(info);
    } else if (!strcmp(what, "parameters")) {
        show_parameters(s, info);
    } else if (!strcmp(what, "system") && s->system) {
        print_text(s->system);
    } else if (text && *text) {
        print_text(text);
    } else {
        printf("No %s was specified for this model.\n", !strcmp(what, "system")     ? "system message"
                                                        : !strcmp(what, "template") ? "prompt template"
                                                                                    : what);
    }
    json_decref(info);
}

static void cmd_load(struct repl *r, char *rest)
{
    struct run_session *s = r->s;
    struct qm_err err = {{0}};
    char *name = word(&rest);
    if (!name) {
        puts("Usage:\n  /load <modelname>");
        return;
    }
    json_t *info = NULL;
    int rc = run_show(s, name, &info, &err);
    json_decref(info);
    if (rc == QM_CLIENT_EHTTP && s->c.status == 404) {
        printf("Couldn't find model '%s'\n", name);
        return;
    }
    char *copy = rc < 0 ? NULL : strdup(name);
    if (rc == 0 && !copy)
        rc = qm_err_set(&err, "out of memory");
    if (rc < 0) {
        report(rc, &err);
        return;
    }
    free(s->model);
    s->model = copy;
    json_array_clear(s->history);
    printf("Loading model '%s'\n", name);
    report(run_load(s, &err), &err);
}

/* A line that starts with '/'.  1 when the loop should end. */
static int command(struct repl *r, char *line)
{
    char *rest = line;
    char *cmd = word(&rest);
    if (!strcmp(cmd, "/bye") || !strcmp(cmd, "/exit"))
        return 1;
    if (!strcmp(cmd, "/set")) {
        cmd_set(r, rest);
    } else if (!strcmp(cmd, "/show")) {
        cmd_show(r, rest);
    } else if (!strcmp(cmd, "/load")) {
        cmd_load(r, rest);
    } else if (!strcmp(cmd, "/clear")) {
        json_array_clear(r->s->history);
        puts("Cleared session context");
    } else if (!strcmp(cmd, "/?") || !strcmp(cmd, "/help")) {
        char *topic = word(&rest);
        if (!topic)
            help();
        else if (!strcmp(topic, "set") || !strcmp(topic, "/set"))
            help_set();
        else if (!strcmp(topic, "show") || !strcmp(topic, "/show"))
            help_show();
        else if (!strncmp(topic, "shortcut", 8))
            help_shortcuts();
        else
            help();
    } else {
        printf("Unknown command '%s'. Type /? for help\n", cmd);
    }
    return 0;
}

/* ---- lines ---------------------------------------------------------------------------- */

static void ask(struct repl *r, const char *text)
{
    struct qm_err err = {{0}};
    report(run_turn(r->s, text, &err), &err);
}

/* Whether s (its first *n bytes) ends with """, ignoring trailing blanks;
 * *n becomes the length of what comes before the quotes. */
static bool closes_block(const char *s, size_t *n)
{
    size_t len = *n;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len < 3 || memcmp(s + len - 3, "\"\"\"", 3) != 0)
        return false;
    *n = len - 3;
    return true;
}

static void block_add(struct repl *r, const char *s, size_t n)
{
    if (r->block_parts++)
        qm_strbuf_put(&r->block, "\n", 1);
    qm_strbuf_put(&r->block, s, n);
}

static void block_done(struct repl *r)
{
    const char *text = r->block.p ? r->block.p : "";
    r->in_block = false;
    if (r->block.oom)
        fprintf(stderr, "Error: out of memory\n");
    else if (r->block_system)
        set_system(r, text);
    else if (*text)
        ask(r, text);
    free(r->block.p);
    r->block = (struct qm_strbuf){0};
    r->block_parts = 0;
}

/* One line as typed (no newline).  1 when the loop should end. */
static int handle_line(struct repl *r, char *line)
{
    static const char sys_open[] = "/set system \"\"\"";
    size_t n = strlen(line);
    if (r->history_on && n) {
        HistEvent ev;
        history(r->hist, &ev, H_ENTER, line);
    }
    if (r->in_block) {
        bool closes = closes_block(line, &n);
        if (!closes || n)
            block_add(r, line, n);
        if (closes)
            block_done(r);
        return 0;
    }
    const char *rest = NULL;
    if (!strncmp(line, "\"\"\"", 3))
        rest = line + 3;
    else if (!strncmp(line, sys_open, sizeof sys_open - 1))
        rest = line + sizeof sys_open - 1;
    if (rest) {
        r->in_block = true;
        r->block_system = rest != line + 3;
        n = strlen(rest);
        bool closes = closes_block(rest, &n);
        if (n)
            block_add(r, rest, n);
        if (closes)
            block_done(r);
        return 0;
    }
    if (!line[strspn(line, " \t")])
        return 0;
    if (line[0] == '/')
        return command(r, line);
    ask(r, line);
    return 0;
}

/* Ctrl-C at the prompt: the line (or the """ block) is dropped. */
static void interrupted_at_prompt(struct repl *r)
{
    const LineInfo *li = el_line(r->el);
    bool empty = li->lastchar == li->buffer;
    fputc('\n', stdout);
    if (r->in_block) {
        free(r->block.p);
        r->block = (struct qm_strbuf){0};
        r->block_parts = 0;
        r->in_block = false;
    } else if (empty) {
        puts("Use Ctrl + d or /bye to exit.");
    }
    fflush(stdout);
}

int run_repl(struct run_session *s)
{
    struct repl r = {.s = s, .history_on = true};
    struct sigaction sa = {.sa_handler = on_sigint}, old_sa;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);   /* no SA_RESTART: a blocked read must return */
    s->c.cancel = &run_interrupted;

    int status = 0;
    r.el = el_init("qm", stdin, stdout, stderr);
    r.hist = history_init();
    if (!r.el || !r.hist) {
        fprintf(stderr, "Error: cannot set up line editing on this terminal\n");
        status = 1;
        goto out;
    }
    HistEvent ev;
    history(r.hist, &ev, H_SETSIZE, 1000);
    el_set(r.el, EL_CLIENTDATA, &r);
    el_set(r.el, EL_SIGNAL, 0);
    el_set(r.el, EL_EDITOR, "emacs");
    el_set(r.el, EL_PROMPT, prompt_fn);
    el_set(r.el, EL_HIST, history, r.hist);
    el_set(r.el, EL_GETCFN, getc_fn);
    el_set(r.el, EL_BIND, "^W", "ed-delete-prev-word", NULL);
    el_source(r.el, NULL);   /* ~/.editrc, as every libedit program reads it */

    for (;;) {
        int n = 0;
        run_interrupted = 0;
        /* Raw mode before the prompt is written: libedit writes the prompt
         * first, and a Ctrl-D typed in between would reach it as a NUL. */
        el_set(r.el, EL_PREP_TERM, 1);
        const char *got = el_gets(r.el, &n);
        if (!got) {
            if (n < 0 && run_interrupted) {
                interrupted_at_prompt(&r);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            fputc('\n', stdout);   /* Ctrl-D on an empty line */
            break;
        }
        char *line = strdup(got);
        if (!line) {
            fprintf(stderr, "Error: out of memory\n");
            status = 1;
            break;
        }
        line[strcspn(line, "\r\n")] = 0;
        int end = handle_line(&r, line);
        free(line);
        fflush(stdout);
        if (end)
            break;
    }
out:
    if (r.el)
        el_end(r.el);
    if (r.hist)
        history_end(r.hist);
    free(r.block.p);
    s->c.cancel = NULL;
    sigaction(SIGINT, &old_sa, NULL);
    return status;
}
