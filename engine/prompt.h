/* prompt.h - the text a model reads for a request, as Ollama builds it.
 *
 * A generate request is a prompt (and perhaps a system prompt); a chat
 * request is a list of messages.  Both go through a template: the request's
 * or Modelfile's Go template when there is one, else the model's built-in
 * chat format recognised from `tokenizer.chat_template` (or, for files that
 * carry none, the family format of the architecture: gemma*, qwen*), else
 * Ollama's default template `{{ .Prompt }}`.  A raw request skips all of it. */
#ifndef QM_ENGINE_PROMPT_H
#define QM_ENGINE_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "model.h"
#include "template.h"

struct qm_prompt_spec {
    const struct qm_chat_msg *messages; /* a chat; NULL for a generate request */
    size_t n_messages;
    const char *prompt;      /* a generate request's prompt */
    const char *system;      /* system prompt: a generate request's, or put in front of a
                                chat that has no system message; NULL: none */
    const char *go_template; /* Go template text overriding the model's format; NULL: none */
    const char *format_name; /* built-in format named by the user ("chatml", ...); NULL: detect */
    bool raw;                /* the prompt as it is */
};

/* The chat format the model's metadata calls for (QM_CHAT_UNKNOWN if none). */
enum qm_chat_format qm_prompt_model_format(const struct qm_model *m);

/* Render the request into a malloc'd NUL-terminated *out. */
int qm_prompt_build(const struct qm_model *m, const struct qm_prompt_spec *s, char **out,
                    struct qm_err *err);

#endif
