/* prompt.c - choosing the template of a request and rendering it. */
#include "prompt.h"

#include <stdlib.h>
#include <string.h>

#include "gotmpl.h"

enum qm_chat_format qm_prompt_model_format(const struct qm_model *m)
{
    struct gguf_str tmpl = {0};
    struct qm_err err;
    if (gguf_get_str(m->file, "tokenizer.chat_template", &tmpl, &err) < 0)
        tmpl = (struct gguf_str){0};
    enum qm_chat_format fmt = qm_chat_detect(tmpl.ptr, tmpl.len);
    if (fmt == QM_CHAT_UNKNOWN && !tmpl.len) {
        /* no template in the file (Ollama ships its own beside the model):
         * the architecture's family format */
        if (!strncmp(m->arch.name, "gemma", 5))
            fmt = QM_CHAT_GEMMA;
        else if (!strncmp(m->arch.name, "qwen", 4))
            fmt = QM_CHAT_CHATML;
    }
    return fmt;
}

/* The messages of the request: a generate request is one user turn. */
static int collect(const struct qm_prompt_spec *s, struct qm_chat_msg **out, size_t *n, struct qm_err *err)
{
    size_t cap = (s->messages ? s->n_messages : 1) + 1, k = 0;
    struct qm_chat_msg *msgs = calloc(cap, sizeof *msgs);
    if (!msgs)
        return qm_err_set(err, "out of memory");
    bool has_system = false;
    for (size_t i = 0; s->messages && i < s->n_messages; i++)
        has_system |= s->messages[i].role && !strcmp(s->messages[i].role, "system");
    if (s->system && *s->system && !has_system)
        msgs[k++] = (struct qm_chat_msg){"system", s->system};
    if (s->messages)
        for (size_t i = 0; i < s->n_messages; i++)
            msgs[k++] = s->messages[i];
    else
        msgs[k++] = (struct qm_chat_msg){"user", s->prompt ? s->prompt : ""};
    *out = msgs;
    *n = k;
    return 0;
}

static int render_go(const char *src, const struct qm_chat_msg *msgs, size_t n, char **out, struct qm_err *err)
{
    struct qm_gotmpl *t;
    int rc = qm_gotmpl_parse(src, strlen(src), &t, err);
    if (rc < 0)
        return rc;
    rc = qm_gotmpl_render_chat(t, msgs, n, out, NULL, err);
    qm_gotmpl_free(t);
    return rc;
}

int qm_prompt_build(const struct qm_model *m, const struct qm_prompt_spec *s, char **out, struct qm_err *err)
{
    *out = NULL;
    if (s->raw) {
        *out = strdup(s->prompt ? s->prompt : "");
        return *out ? 0 : qm_err_set(err, "out of memory");
    }
    struct qm_chat_msg *msgs = NULL;
    size_t n = 0;
    int rc = collect(s, &msgs, &n, err);
    if (rc < 0)
        return rc;
    if (s->go_template && *s->go_template) {
        rc = render_go(s->go_template, msgs, n, out, err);
        free(msgs);
        return rc;
    }
    enum qm_chat_format fmt;
    if (s->format_name) {
        fmt = qm_chat_format_from_name(s->format_name);
        if (fmt == QM_CHAT_UNKNOWN) {
            free(msgs);
            return qm_err_set(err, "unknown chat template '%s'", s->format_name);
        }
    } else {
        fmt = qm_prompt_model_format(m);
    }
    if (!qm_chat_format_renderable(fmt)) {
        /* Ollama's default template */
        rc = render_go("{{ .Prompt }}", msgs, n, out, err);
        free(msgs);
        return rc;
    }
    char *def_system = NULL;
    struct gguf_str tmpl = {0};
    struct qm_err e2;
    if (fmt == QM_CHAT_CHATML && gguf_get_str(m->file, "tokenizer.chat_template", &tmpl, &e2) == 0 &&
        (rc = qm_chat_default_system(tmpl.ptr, tmpl.len, &def_system, err)) < 0) {
        free(msgs);
        return rc;
    }
    struct qm_chat_opts copts = {.add_generation_prompt = true, .default_system = def_system};
    rc = qm_chat_render_opts(fmt, msgs, n, &copts, out, err);
    free(def_system);
    free(msgs);
    return rc;
}
