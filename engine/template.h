/* template.h - chat prompts in the built-in formats of llama.cpp.
 *
 * A chat request is a list of {role, content} messages; a model wants one
 * prompt string in the format it was tuned on.  This module knows those
 * formats the way llama.cpp's built-in renderer writes them
 * (engine-reference.md section 6), recognises which one a GGUF's
 * `tokenizer.chat_template` (Jinja text) is, and lists the end-of-turn texts
 * that stop generation in each.  It does not run Jinja: like llama.cpp it
 * detects the family by looking for marker strings, first match wins.
 *
 * Ollama-style Go templates (Modelfile TEMPLATE) live in gotmpl.h.
 *
 * BOS is never part of a rendered prompt: the tokenizer adds it when the
 * vocabulary says add_bos. */
#ifndef QM_ENGINE_TEMPLATE_H
#define QM_ENGINE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* The formats.  The first block is rendered by qm_chat_render.  The second
 * block is only recognised: detection must test for them in llama.cpp's order
 * so that "first match wins" gives the same answer, but qm has no renderer for
 * them (qm_chat_render answers QM_EUNSUPPORTED; give such a model a TEMPLATE). */
enum qm_chat_format {
    QM_CHAT_UNKNOWN = 0,
    QM_CHAT_CHATML,            /* Qwen 1.5 / 2 / 2.5 / 3 and many fine-tunes */
    QM_CHAT_LLAMA2,            /* [INST]; system text + "\n", no <<SYS>> */
    QM_CHAT_LLAMA2_SYS,        /* [INST] with <<SYS>> ... <</SYS>> */
    QM_CHAT_LLAMA2_SYS_BOS,    /* ... and "<s>" before every later [INST] */
    QM_CHAT_LLAMA2_SYS_STRIP,  /* ... and every content trimmed */
    QM_CHAT_MISTRAL_V1,        /* " [INST] USER [/INST] ASSISTANT</s>" */
    QM_CHAT_MISTRAL_V3,        /* "[INST] USER[/INST] ASSISTANT</s>", assistant trimmed */
    QM_CHAT_MISTRAL_V3_TEKKEN, /* "[INST]USER[/INST]ASSISTANT</s>" */
    QM_CHAT_MISTRAL_V7,        /* [SYSTEM_PROMPT] ...[/SYSTEM_PROMPT], spaces after tags */
    QM_CHAT_MISTRAL_V7_TEKKEN, /* the same without the spaces */
    QM_CHAT_PHI3,
    QM_CHAT_PHI4,
    QM_CHAT_GEMMA,             /* Gemma 1, 2, 3 */
    QM_CHAT_LLAMA3,
    QM_CHAT_RENDERED_COUNT,    /* formats below are detected, not rendered */
    QM_CHAT_SMOLVLM = QM_CHAT_RENDERED_COUNT,
    QM_CHAT_CHATGLM4,
    QM_CHAT_FALCON3,
    QM_CHAT_GLMEDGE,
    QM_CHAT_ZEPHYR,
    QM_CHAT_MONARCH,
    QM_CHAT_ORION,
    QM_CHAT_OPENCHAT,
    QM_CHAT_VICUNA,
    QM_CHAT_VICUNA_ORCA,
    QM_CHAT_DEEPSEEK,
    QM_CHAT_COMMAND_R,
    QM_CHAT_FORMAT_COUNT
};

/* One message.  role is "system", "user" or "assistant"; content may be NULL
 * (taken as "").  Other roles ("tool" included) are refused by qm_chat_render
 * with a clear error rather than being passed off as a user turn: tool results
 * need the model's own template (gotmpl.h passes any role through). */
struct qm_chat_msg {
    const char *role;
    const char *content;
};

struct qm_chat_opts {
    /* Append the opening of an assistant turn.  Formats whose user turn
     * already ends in the cue for the answer (Llama 2, Mistral: "[/INST]")
     * have nothing to append and ignore it, as llama.cpp does. */
    bool add_generation_prompt;
    /* If not NULL, a system message with this text is put in front when the
     * conversation does not start with one (or is empty).  This is how the
     * HF templates of Qwen behave; llama.cpp's built-in ChatML does not, so
     * the caller decides, e.g. from qm_chat_default_system(). */
    const char *default_system;
};

/* The canonical name of a format ("chatml", "llama2-sys-bos", "mistral-v7",
 * "gemma", "llama3", ...; "unknown" for QM_CHAT_UNKNOWN). */
const char *qm_chat_format_name(enum qm_chat_format fmt);

/* The format named exactly `name` (as the user writes it to override the
 * detection); QM_CHAT_UNKNOWN if there is none. */
enum qm_chat_format qm_chat_format_from_name(const char *name);

/* True if qm_chat_render can write this format. */
bool qm_chat_format_renderable(enum qm_chat_format fmt);

/* The format of a GGUF chat template (`tokenizer.chat_template`, not
 * NUL-terminated, any bytes): an exact format name is taken as it is, then
 * llama.cpp's marker rules apply in their order.  QM_CHAT_UNKNOWN when
 * nothing matches (or len is 0). */
enum qm_chat_format qm_chat_detect(const char *tmpl, size_t len);

/* Render msgs[0..n) into a malloc'd NUL-terminated prompt in *out (the
 * caller frees it).  Returns 0, QM_EINVAL for a message with a missing or
 * unsupported role, QM_EUNSUPPORTED for a format that is only recognised,
 * QM_ENOMEM. */
int qm_chat_render(enum qm_chat_format fmt, const struct qm_chat_msg *msgs, size_t n,
                   bool add_generation_prompt, char **out, struct qm_err *err);

/* The same with options (opts may be NULL: no generation prompt, no default
 * system prompt). */
int qm_chat_render_opts(enum qm_chat_format fmt, const struct qm_chat_msg *msgs, size_t n,
                        const struct qm_chat_opts *opts, char **out, struct qm_err *err);

/* The texts of the tokens that end a turn in this format, most specific
 * first, as a NULL-terminated list of static strings: the runner adds the
 * vocabulary's tokens with these texts to the end-of-generation set.  An
 * empty list for QM_CHAT_UNKNOWN and the formats that are only recognised. */
const char *const *qm_chat_stop_strings(enum qm_chat_format fmt);

/* The default system prompt a ChatML Jinja template inserts when the
 * conversation has no system message, e.g. Qwen2.5's "You are Qwen, created
 * by Alibaba Cloud. You are a helpful assistant.".
 *
 * The rule, deliberately narrow so that it never invents a prompt: the
 * template must branch on the first message (it mentions "messages[0]") and
 * hold, inside a {{ }} or {% %} tag, a whole string literal that reads
 * '<|im_start|>system\n' + TEXT + '<|im_end|>\n' with TEXT non-empty and free
 * of ChatML markers.  Every such literal must carry the same TEXT.  Escapes
 * \n \t \r \\ \' \" are decoded; a literal with another escape is ignored.
 * Templates that build the turn from pieces, or keep the text in a variable,
 * yield nothing.
 *
 * On success *out is a malloc'd string, or NULL when the template has no
 * default system prompt by that rule.  Returns 0 or QM_ENOMEM. */
int qm_chat_default_system(const char *tmpl, size_t len, char **out, struct qm_err *err);

#endif
