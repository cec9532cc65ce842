/* template.c - the built-in chat formats: detection, rendering, stop texts.
 *
 * Every fact here comes from engine-reference.md section 6, which describes
 * llama.cpp's built-in renderer: that is the behaviour a GGUF user expects
 * when the model's Jinja template is not executed.  The formats fall into
 * four shapes, and each shape is one function driven by a row of the format
 * table:
 *
 *   turns    ROLE header + content + footer per message (ChatML, Phi-3,
 *            Phi-4, Llama 3), optionally trimmed; a generation prompt.
 *   gemma    turns with "assistant" renamed "model" and system text folded
 *            into the next user turn, since Gemma has no system role.
 *   llama2   an [INST] ... [/INST] state machine with <<SYS>> variants.
 *   mistral  the v1/v3/v3-tekken [INST] machine, and v7 with its own
 *            [SYSTEM_PROMPT] tag; the two differ only in spaces and trims.
 *
 * Trimming is C isspace() on both ends (space, \t, \n, \v, \f, \r), as
 * llama.cpp does; Jinja's `trim` also strips Unicode spaces such as U+00A0,
 * so the two differ only on content that begins or ends with one of those. */
#include "template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "strbuf.h"

/* ---- messages ---------------------------------------------------------- */

enum chat_role { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT };

/* A message after checking: role decoded, content as pointer + length. */
struct chat_item {
    enum chat_role role;
    const char *text;
    size_t len;
};

static bool chat_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static struct chat_item chat_trimmed(struct chat_item it)
{
    while (it.len > 0 && chat_space(it.text[0])) {
        it.text++;
        it.len--;
    }
    while (it.len > 0 && chat_space(it.text[it.len - 1]))
        it.len--;
    return it;
}

static const char *const chat_role_names[] = {"system", "user", "assistant"};

/* ---- the format table ---------------------------------------------------- */

enum chat_shape { SHAPE_NONE, SHAPE_TURNS, SHAPE_GEMMA, SHAPE_LLAMA2, SHAPE_MISTRAL, SHAPE_MISTRAL_V7 };

struct chat_format_info {
    const char *name;
    enum chat_shape shape;
    /* SHAPE_TURNS: head + ROLE + mid + content + tail per message, gen
     * appended for the generation prompt; content trimmed if trim. */
    const char *head, *mid, *tail, *gen;
    bool trim;
    /* SHAPE_LLAMA2 variants */
    bool sys_tags;       /* system inside <<SYS>> tags (else plain text + "\n") */
    bool bos_in_history; /* later turns reopen with "<s>[INST] " */
    /* SHAPE_LLAMA2 (strip) and SHAPE_MISTRAL (assistant only, v3) */
    bool strip;
    /* SHAPE_MISTRAL: before "[INST]" / after "[INST]" and after "[/INST]" */
    const char *lead, *trail;
    const char *const *stops;
};

static const char *const stops_none[] = {NULL};
static const char *const stops_chatml[] = {"<|im_end|>", "<|endoftext|>", NULL};
static const char *const stops_gemma[] = {"<end_of_turn>", "<eos>", NULL};
static const char *const stops_llama3[] = {"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", NULL};
static const char *const stops_eos_s[] = {"</s>", NULL};
static const char *const stops_phi3[] = {"<|end|>", "<|endoftext|>", NULL};
static const char *const stops_smolvlm[] = {"<end_of_utterance>", NULL};

static const struct chat_format_info chat_formats[QM_CHAT_FORMAT_COUNT] = {
    [QM_CHAT_UNKNOWN] = {.name = "unknown", .stops = stops_none},
    [QM_CHAT_CHATML] = {.name = "chatml", .shape = SHAPE_TURNS, .head = "<|im_start|>", .mid = "\n",
                        .tail = "<|im_end|>\n", .gen = "<|im_start|>assistant\n", .stops = stops_chatml},
    [QM_CHAT_LLAMA2] = {.name = "llama2", .shape = SHAPE_LLAMA2, .stops = stops_eos_s},
    [QM_CHAT_LLAMA2_SYS] = {.name = "llama2-sys", .shape = SHAPE_LLAMA2, .sys_tags = true,
                            .stops = stops_eos_s},
    [QM_CHAT_LLAMA2_SYS_BOS] = {.name = "llama2-sys-bos", .shape = SHAPE_LLAMA2, .sys_tags = true,
                                .bos_in_history = true, .stops = stops_eos_s},
    [QM_CHAT_LLAMA2_SYS_STRIP] = {.name = "llama2-sys-strip", .shape = SHAPE_LLAMA2, .sys_tags = true,
                                  .strip = true, .stops = stops_eos_s},
    [QM_CHAT_MISTRAL_V1] = {.name = "mistral-v1", .shape = SHAPE_MISTRAL, .lead = " ", .trail = " ",
                            .stops = stops_eos_s},
    [QM_CHAT_MISTRAL_V3] = {.name = "mistral-v3", .shape = SHAPE_MISTRAL, .lead = "", .trail = " ",
                            .strip = true, .stops = stops_eos_s},
    [QM_CHAT_MISTRAL_V3_TEKKEN] = {.name = "mistral-v3-tekken", .shape = SHAPE_MISTRAL, .lead = "",
                                   .trail = "", .stops = stops_eos_s},
    [QM_CHAT_MISTRAL_V7] = {.name = "mistral-v7", .shape = SHAPE_MISTRAL_V7, .trail = " ",
                            .stops = stops_eos_s},
    [QM_CHAT_MISTRAL_V7_TEKKEN] = {.name = "mistral-v7-tekken", .shape = SHAPE_MISTRAL_V7, .trail = "",
                                   .stops = stops_eos_s},
    [QM_CHAT_PHI3] = {.name = "phi3", .shape = SHAPE_TURNS, .head = "<|", .mid = "|>\n",
                      .tail = "<|end|>\n", .gen = "<|assistant|>\n", .stops = stops_phi3},
    [QM_CHAT_PHI4] = {.name = "phi4", .shape = SHAPE_TURNS, .head = "<|im_start|>", .mid = "<|im_sep|>",
                      .tail = "<|im_end|>", .gen = "<|im_start|>assistant<|im_sep|>",
                      .stops = stops_chatml},
    [QM_CHAT_GEMMA] = {.name = "gemma", .shape = SHAPE_GEMMA, .stops = stops_gemma},
    [QM_CHAT_LLAMA3] = {.name = "llama3", .shape = SHAPE_TURNS, .head = "<|start_header_id|>",
                        .mid = "<|end_header_id|>\n\n", .tail = "<|eot_id|>",
                        .gen = "<|start_header_id|>assistant<|end_header_id|>\n\n", .trim = true,
                        .stops = stops_llama3},
    [QM_CHAT_SMOLVLM] = {.name = "smolvlm", .stops = stops_smolvlm},
    [QM_CHAT_CHATGLM4] = {.name = "chatglm4", .stops = stops_none},
    [QM_CHAT_FALCON3] = {.name = "falcon3", .stops = stops_none},
    [QM_CHAT_GLMEDGE] = {.name = "glmedge", .stops = stops_none},
    [QM_CHAT_ZEPHYR] = {.name = "zephyr", .stops = stops_none},
    [QM_CHAT_MONARCH] = {.name = "monarch", .stops = stops_none},
    [QM_CHAT_ORION] = {.name = "orion", .stops = stops_none},
    [QM_CHAT_OPENCHAT] = {.name = "openchat", .stops = stops_none},
    [QM_CHAT_VICUNA] = {.name = "vicuna", .stops = stops_none},
    [QM_CHAT_VICUNA_ORCA] = {.name = "vicuna-orca", .stops = stops_none},
    [QM_CHAT_DEEPSEEK] = {.name = "deepseek", .stops = stops_none},
    [QM_CHAT_COMMAND_R] = {.name = "command-r", .stops = stops_none},
};

static const struct chat_format_info *chat_info(enum qm_chat_format fmt)
{
    if ((unsigned)fmt >= QM_CHAT_FORMAT_COUNT)
        fmt = QM_CHAT_UNKNOWN;
    return &chat_formats[fmt];
}

const char *qm_chat_format_name(enum qm_chat_format fmt)
{
    return chat_info(fmt)->name;
}

bool qm_chat_format_renderable(enum qm_chat_format fmt)
{
    return chat_info(fmt)->shape != SHAPE_NONE;
}

const char *const *qm_chat_stop_strings(enum qm_chat_format fmt)
{
    return chat_info(fmt)->stops;
}

static enum qm_chat_format chat_from_name(const char *s, size_t len)
{
    for (int f = QM_CHAT_UNKNOWN + 1; f < QM_CHAT_FORMAT_COUNT; f++) {
        const char *name = chat_formats[f].name;
        if (strlen(name) == len && memcmp(name, s, len) == 0)
            return (enum qm_chat_format)f;
    }
    return QM_CHAT_UNKNOWN;
}

enum qm_chat_format qm_chat_format_from_name(const char *name)
{
    return name ? chat_from_name(name, strlen(name)) : QM_CHAT_UNKNOWN;
}

/* ---- detection ------------------------------------------------------------ */

struct chat_text {
    const char *s;
    size_t len;
};

static bool has(struct chat_text t, const char *needle)
{
    return memmem(t.s, t.len, needle, strlen(needle)) != NULL;
}

/* The [INST] family: Mistral's official templates are told apart by the
 * markers their own text carries, anything else with [INST] is a Llama 2
 * variant. */
static enum qm_chat_format chat_detect_inst(struct chat_text t)
{
    if (has(t, "[SYSTEM_PROMPT]"))
        return QM_CHAT_MISTRAL_V7;
    if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
        if (has(t, " [INST]"))
            return QM_CHAT_MISTRAL_V1;
        if (has(t, "\"[INST]\""))
            return QM_CHAT_MISTRAL_V3_TEKKEN;
        return QM_CHAT_MISTRAL_V3;
    }
    /* The variant flags are tested strongest first: a template that strips
     * its content is taken as the strip variant even if it also has BOS. */
    if (has(t, "content.strip()"))
        return QM_CHAT_LLAMA2_SYS_STRIP;
    if (has(t, "bos_token + '[INST]"))
        return QM_CHAT_LLAMA2_SYS_BOS;
    if (has(t, "<<SYS>>"))
        return QM_CHAT_LLAMA2_SYS;
    return QM_CHAT_LLAMA2;
}

enum qm_chat_format qm_chat_detect(const char *tmpl, size_t len)
{
    struct chat_text t = {tmpl, len};
    if (!tmpl || len == 0)
        return QM_CHAT_UNKNOWN;

    enum qm_chat_format named = chat_from_name(tmpl, len);
    if (named != QM_CHAT_UNKNOWN)
        return named;

    if (has(t, "<|im_start|>")) {
        /* SmolVLM uses <|im_start|> as its BOS but is not ChatML */
        if (has(t, "<|im_sep|>"))
            return QM_CHAT_PHI4;
        if (has(t, "<end_of_utterance>"))
            return QM_CHAT_SMOLVLM;
        return QM_CHAT_CHATML;
    }
    if ((len >= 7 && memcmp(tmpl, "mistral", 7) == 0) || has(t, "[INST]"))
        return chat_detect_inst(t);
    if (has(t, "<|assistant|>") && has(t, "<|end|>"))
        return QM_CHAT_PHI3;
    if (has(t, "[gMASK]<sop>"))
        return QM_CHAT_CHATGLM4;
    if (has(t, "<|assistant|>") && has(t, "<|user|>"))
        return has(t, "</s>") ? QM_CHAT_FALCON3 : QM_CHAT_GLMEDGE;
    if (has(t, "<|{{ item['role'] }}|>") && has(t, "<|begin_of_image|>"))
        return QM_CHAT_GLMEDGE;
    if (has(t, "<|user|>") && has(t, "<|endoftext|>"))
        return QM_CHAT_ZEPHYR;
    if (has(t, "bos_token + message['role']"))
        return QM_CHAT_MONARCH;
    if (has(t, "<start_of_turn>"))
        return QM_CHAT_GEMMA;
    if (has(t, "'\\n\\nAssistant: ' + eos_token"))
        return QM_CHAT_ORION;
    if (has(t, "GPT4 Correct "))
        return QM_CHAT_OPENCHAT;
    if (has(t, "USER: ") && has(t, "ASSISTANT: "))
        return has(t, "SYSTEM: ") ? QM_CHAT_VICUNA_ORCA : QM_CHAT_VICUNA;
    if (has(t, "### Instruction:") && has(t, "<|EOT|>"))
        return QM_CHAT_DEEPSEEK;
    if (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>"))
        return QM_CHAT_COMMAND_R;
    if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>"))
        return QM_CHAT_LLAMA3;
    /* llama.cpp goes on with formats qm does not know (chatglm3, minicpm,
     * deepseek2/3, exaone, granite, llama4, ...); none of them can shadow a
     * format above, so stopping here keeps first-match-wins exact. */
    return QM_CHAT_UNKNOWN;
}

/* ---- rendering ------------------------------------------------------------ */

static void chat_put_item(struct qm_strbuf *b, struct chat_item it)
{
    qm_strbuf_put(b, it.text, it.len);
}

static void render_turns(const struct chat_format_info *f, const struct chat_item *it, size_t n,
                         bool gen, struct qm_strbuf *b)
{
    for (size_t i = 0; i < n; i++) {
        qm_strbuf_puts(b, f->head);
        qm_strbuf_puts(b, chat_role_names[it[i].role]);
        qm_strbuf_puts(b, f->mid);
        chat_put_item(b, f->trim ? chat_trimmed(it[i]) : it[i]);
        qm_strbuf_puts(b, f->tail);
    }
    if (gen)
        qm_strbuf_puts(b, f->gen);
}

/* Gemma has no system role: system texts (trimmed, concatenated) wait for the
 * next turn that is not the model's and open it, followed by a blank line.  A
 * system text with no later user turn is dropped, as in llama.cpp. */
static void render_gemma(const struct chat_item *it, size_t n, bool gen, struct qm_strbuf *b)
{
    struct qm_strbuf sys = {0};
    for (size_t i = 0; i < n; i++) {
        if (it[i].role == ROLE_SYSTEM) {
            chat_put_item(&sys, chat_trimmed(it[i]));
            continue;
        }
        bool model = it[i].role == ROLE_ASSISTANT;
        qm_strbuf_puts(b, "<start_of_turn>");
        qm_strbuf_puts(b, model ? "model" : "user");
        qm_strbuf_puts(b, "\n");
        if (sys.len > 0 && !model) {
            qm_strbuf_put(b, sys.p, sys.len);
            qm_strbuf_puts(b, "\n\n");
            sys.len = 0;
        }
        chat_put_item(b, chat_trimmed(it[i]));
        qm_strbuf_puts(b, "<end_of_turn>\n");
    }
    if (gen)
        qm_strbuf_puts(b, "<start_of_turn>model\n");
    if (sys.oom)
        b->oom = true;
    free(sys.p);
}

/* Llama 2: the prompt opens inside the first [INST]; an assistant answer
 * closes the turn with </s> and the next message reopens one. */
static void render_llama2(const struct chat_format_info *f, const struct chat_item *it, size_t n,
                          struct qm_strbuf *b)
{
    bool in_turn = true;
    qm_strbuf_puts(b, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        struct chat_item c = f->strip ? chat_trimmed(it[i]) : it[i];
        if (!in_turn) {
            qm_strbuf_puts(b, f->bos_in_history ? "<s>[INST] " : "[INST] ");
            in_turn = true;
        }
        switch (c.role) {
        case ROLE_SYSTEM:
            if (f->sys_tags) {
                qm_strbuf_puts(b, "<<SYS>>\n");
                chat_put_item(b, c);
                qm_strbuf_puts(b, "\n<</SYS>>\n\n");
            } else {
                chat_put_item(b, c);
                qm_strbuf_puts(b, "\n");
            }
            break;
        case ROLE_USER:
            chat_put_item(b, c);
            qm_strbuf_puts(b, " [/INST]");
            break;
        case ROLE_ASSISTANT:
            chat_put_item(b, c);
            qm_strbuf_puts(b, "</s>");
            in_turn = false;
            break;
        }
    }
}

/* Mistral v1/v3/v3-tekken: like Llama 2 but the turn is opened lazily, the
 * system text simply precedes the user text, and the three versions differ
 * in the spaces around the tags (lead, trail) and v3's trimmed answers. */
static void render_mistral(const struct chat_format_info *f, const struct chat_item *it, size_t n,
                           struct qm_strbuf *b)
{
    bool in_turn = false;
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            qm_strbuf_puts(b, f->lead);
            qm_strbuf_puts(b, "[INST]");
            qm_strbuf_puts(b, f->trail);
            in_turn = true;
        }
        switch (it[i].role) {
        case ROLE_SYSTEM:
            chat_put_item(b, it[i]);
            qm_strbuf_puts(b, "\n\n");
            break;
        case ROLE_USER:
            chat_put_item(b, it[i]);
            qm_strbuf_puts(b, f->lead);
            qm_strbuf_puts(b, "[/INST]");
            break;
        case ROLE_ASSISTANT:
            qm_strbuf_puts(b, f->trail);
            chat_put_item(b, f->strip ? chat_trimmed(it[i]) : it[i]);
            qm_strbuf_puts(b, "</s>");
            in_turn = false;
            break;
        }
    }
}

static void render_mistral_v7(const struct chat_format_info *f, const struct chat_item *it, size_t n,
                              struct qm_strbuf *b)
{
    for (size_t i = 0; i < n; i++) {
        switch (it[i].role) {
        case ROLE_SYSTEM:
            qm_strbuf_puts(b, "[SYSTEM_PROMPT]");
            qm_strbuf_puts(b, f->trail);
            chat_put_item(b, it[i]);
            qm_strbuf_puts(b, "[/SYSTEM_PROMPT]");
            break;
        case ROLE_USER:
            qm_strbuf_puts(b, "[INST]");
            qm_strbuf_puts(b, f->trail);
            chat_put_item(b, it[i]);
            qm_strbuf_puts(b, "[/INST]");
            break;
        case ROLE_ASSISTANT:
            qm_strbuf_puts(b, f->trail);
            chat_put_item(b, it[i]);
            qm_strbuf_puts(b, "</s>");
            break;
        }
    }
}

/* Check the roles and turn msgs into items, with the default system prompt
 * in front when it applies. */
static int chat_items(const struct qm_chat_msg *msgs, size_t n, const char *default_system,
                      struct chat_item **out, size_t *out_n, struct qm_err *err)
{
    bool add_sys = default_system && (n == 0 || !msgs[0].role || strcmp(msgs[0].role, "system") != 0);
    size_t total, bytes;
    if (qm_ckd_add(&total, n, (size_t)(add_sys ? 1 : 0)) ||
        qm_ckd_mul(&bytes, total ? total : 1, sizeof(struct chat_item)))
        return qm_err_set(err, "chat: too many messages"), QM_ENOMEM;
    struct chat_item *it = malloc(bytes);
    if (!it)
        return qm_err_set(err, "chat: out of memory"), QM_ENOMEM;

    size_t k = 0;
    if (add_sys)
        it[k++] = (struct chat_item){ROLE_SYSTEM, default_system, strlen(default_system)};
    for (size_t i = 0; i < n; i++, k++) {
        const char *role = msgs[i].role;
        if (!role) {
            qm_err_set(err, "chat: message %zu has no role", i + 1);
            goto err;
        }
        if (strcmp(role, "system") == 0)
            it[k].role = ROLE_SYSTEM;
        else if (strcmp(role, "user") == 0)
            it[k].role = ROLE_USER;
        else if (strcmp(role, "assistant") == 0)
            it[k].role = ROLE_ASSISTANT;
        else {
            qm_err_set(err,
                       "chat: message %zu has role '%.40s'; the built-in chat formats take only "
                       "system, user and assistant (use the model's own template for others)",
                       i + 1, role);
            goto err;
        }
        it[k].text = msgs[i].content ? msgs[i].content : "";
        it[k].len = strlen(it[k].text);
    }
    *out = it;
    *out_n = total;
    return 0;
err:
    free(it);
    return QM_EINVAL;
}

int qm_chat_render_opts(enum qm_chat_format fmt, const struct qm_chat_msg *msgs, size_t n,
                        const struct qm_chat_opts *opts, char **out, struct qm_err *err)
{
    static const struct qm_chat_opts no_opts = {0};
    const struct chat_format_info *f = chat_info(fmt);
    struct chat_item *it = NULL;
    struct qm_strbuf b = {0};
    size_t count = 0;
    int rc;

    *out = NULL;
    if (!opts)
        opts = &no_opts;
    if (f->shape == SHAPE_NONE) {
        if (f == &chat_formats[QM_CHAT_UNKNOWN])
            return qm_err_set(err, "chat: no chat format given"), QM_EINVAL;
        qm_err_set(err,
                   "chat: format '%s' is recognised but qm has no built-in renderer for it; "
                   "give the model a TEMPLATE",
                   f->name);
        return QM_EUNSUPPORTED;
    }
    if (n > 0 && !msgs)
        return qm_err_set(err, "chat: no messages given"), QM_EINVAL;
    rc = chat_items(msgs, n, opts->default_system, &it, &count, err);
    if (rc < 0)
        goto err;

    switch (f->shape) {
    case SHAPE_TURNS:
        render_turns(f, it, count, opts->add_generation_prompt, &b);
        break;
    case SHAPE_GEMMA:
        render_gemma(it, count, opts->add_generation_prompt, &b);
        break;
    case SHAPE_LLAMA2:
        render_llama2(f, it, count, &b);
        break;
    case SHAPE_MISTRAL:
        render_mistral(f, it, count, &b);
        break;
    case SHAPE_MISTRAL_V7:
        render_mistral_v7(f, it, count, &b);
        break;
    case SHAPE_NONE:
        break;
    }
    if (!b.oom && !b.p) {
        /* nothing was written (e.g. Mistral with no messages) */
        b.p = calloc(1, 1);
        if (!b.p)
            b.oom = true;
    }
    if (b.oom) {
        qm_err_set(err, "chat: out of memory rendering the prompt");
        rc = QM_ENOMEM;
        goto err;
    }
    free(it);
    *out = b.p;
    return 0;
err:
    free(it);
    free(b.p);
    return rc;
}

int qm_chat_render(enum qm_chat_format fmt, const struct qm_chat_msg *msgs, size_t n,
                   bool add_generation_prompt, char **out, struct qm_err *err)
{
    struct qm_chat_opts opts = {.add_generation_prompt = add_generation_prompt};
    return qm_chat_render_opts(fmt, msgs, n, &opts, out, err);
}

/* ---- default system prompt of a ChatML Jinja template --------------------- */

static const char sys_open[] = "<|im_start|>system\n";
static const char sys_close[] = "<|im_end|>\n";

/* Decode the Jinja string literal starting at t[*i] (the quote) into d.
 * Returns false if the literal is unterminated or holds an escape we do not
 * decode; *i is left after the closing quote (or at the end). */
static bool jinja_literal(const char *t, size_t len, size_t *i, struct qm_strbuf *d)
{
    char q = t[*i];
    bool ok = true;
    size_t k = *i + 1;
    d->len = 0;
    while (k < len && t[k] != q) {
        char c = t[k];
        if (c == '\\' && k + 1 < len) {
            char e = t[k + 1];
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '\\': c = '\\'; break;
            case '\'': c = '\''; break;
            case '"': c = '"'; break;
            default: ok = false; break;
            }
            k += 2;
        } else {
            k++;
        }
        qm_strbuf_put(d, &c, 1);
    }
    if (k >= len) {
        *i = len;
        return false;
    }
    *i = k + 1;
    return ok;
}

/* If the decoded literal is a whole system turn, its text. */
static bool sys_turn_text(const struct qm_strbuf *d, const char **text, size_t *tlen)
{
    size_t no = sizeof sys_open - 1, nc = sizeof sys_close - 1;
    if (d->len <= no + nc || memcmp(d->p, sys_open, no) != 0 ||
        memcmp(d->p + d->len - nc, sys_close, nc) != 0)
        return false;
    struct chat_text mid = {d->p + no, d->len - no - nc};
    if (has(mid, "<|im_start|>") || has(mid, "<|im_end|>"))
        return false;
    *text = mid.s;
    *tlen = mid.len;
    return true;
}

int qm_chat_default_system(const char *tmpl, size_t len, char **out, struct qm_err *err)
{
    struct chat_text t = {tmpl, len};
    struct qm_strbuf lit = {0}, found = {0};
    bool have = false, conflict = false;
    int rc = 0;

    *out = NULL;
    if (!tmpl || len == 0 || !has(t, "messages[0]") || !has(t, "<|im_start|>"))
        return 0;

    /* Walk the text, entering code only inside {{ }} and {% %}: quotes in
     * plain template text are output, not literals.  {# #} is skipped. */
    size_t i = 0;
    while (i + 1 < len && !conflict) {
        if (tmpl[i] != '{' || (tmpl[i + 1] != '{' && tmpl[i + 1] != '%' && tmpl[i + 1] != '#')) {
            i++;
            continue;
        }
        char kind = tmpl[i + 1];
        char close = kind == '{' ? '}' : kind;
        i += 2;
        if (kind == '#') {
            const char *e = memmem(tmpl + i, len - i, "#}", 2);
            i = e ? (size_t)(e - tmpl) + 2 : len;
            continue;
        }
        while (i < len) {
            if (tmpl[i] == '\'' || tmpl[i] == '"') {
                const char *text;
                size_t tl;
                if (jinja_literal(tmpl, len, &i, &lit) && !lit.oom && sys_turn_text(&lit, &text, &tl)) {
                    if (!have) {
                        qm_strbuf_put(&found, text, tl);
                        have = true;
                    } else if (found.len != tl || memcmp(found.p, text, tl) != 0) {
                        conflict = true;
                        break;
                    }
                }
                continue;
            }
            if (tmpl[i] == close && i + 1 < len && tmpl[i + 1] == '}') {
                i += 2;
                break;
            }
            i++;
        }
    }
    if (lit.oom || found.oom) {
        qm_err_set(err, "chat: out of memory reading the chat template");
        rc = QM_ENOMEM;
        goto out;
    }
    if (have && !conflict) {
        *out = found.p;
        found.p = NULL;
    }
out:
    free(lit.p);
    free(found.p);
    return rc;
}
