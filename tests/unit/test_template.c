/* test_template.c - chat formats (template.h) and Go templates (gotmpl.h).
 *
 * The expected prompts are written out by hand from engine-reference.md
 * section 6, not produced by the code under test.  The conversation used for
 * every format has a system prompt, two user turns and an answer padded with
 * white space, so that each format's trimming rule shows in the result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "error.h"
#include "gotmpl.h"
#include "template.h"

static const struct qm_chat_msg conv[] = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", " Hi there \n"},
    {"user", "Who are you"},
};
enum { NCONV = sizeof conv / sizeof *conv };

struct expect {
    enum qm_chat_format fmt;
    const char *no_gen;   /* add_generation_prompt = false */
    const char *gen;      /* add_generation_prompt = true */
};

static const struct expect expected[] = {
    {QM_CHAT_CHATML,
     "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
     "<|im_start|>user\nHello<|im_end|>\n"
     "<|im_start|>assistant\n Hi there \n<|im_end|>\n"
     "<|im_start|>user\nWho are you<|im_end|>\n",
     "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
     "<|im_start|>user\nHello<|im_end|>\n"
     "<|im_start|>assistant\n Hi there \n<|im_end|>\n"
     "<|im_start|>user\nWho are you<|im_end|>\n"
     "<|im_start|>assistant\n"},
    {QM_CHAT_GEMMA,
     "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n"
     "<start_of_turn>model\nHi there<end_of_turn>\n"
     "<start_of_turn>user\nWho are you<end_of_turn>\n",
     "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n"
     "<start_of_turn>model\nHi there<end_of_turn>\n"
     "<start_of_turn>user\nWho are you<end_of_turn>\n"
     "<start_of_turn>model\n"},
    {QM_CHAT_LLAMA3,
     "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
     "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
     "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>",
     "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
     "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
     "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\n"},
    /* [INST] formats have no generation prompt: both strings are equal */
    {QM_CHAT_LLAMA2,
     "[INST] You are a helpful assistant\nHello [/INST] Hi there \n</s>[INST] Who are you [/INST]",
     "[INST] You are a helpful assistant\nHello [/INST] Hi there \n</s>[INST] Who are you [/INST]"},
    {QM_CHAT_LLAMA2_SYS,
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there \n</s>"
     "[INST] Who are you [/INST]",
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there \n</s>"
     "[INST] Who are you [/INST]"},
    {QM_CHAT_LLAMA2_SYS_BOS,
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there \n</s>"
     "<s>[INST] Who are you [/INST]",
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there \n</s>"
     "<s>[INST] Who are you [/INST]"},
    {QM_CHAT_LLAMA2_SYS_STRIP,
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>"
     "[INST] Who are you [/INST]",
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>"
     "[INST] Who are you [/INST]"},
    {QM_CHAT_MISTRAL_V1,
     " [INST] You are a helpful assistant\n\nHello [/INST]  Hi there \n</s> [INST] Who are you [/INST]",
     " [INST] You are a helpful assistant\n\nHello [/INST]  Hi there \n</s> [INST] Who are you [/INST]"},
    {QM_CHAT_MISTRAL_V3,
     "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST]",
     "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST]"},
    {QM_CHAT_MISTRAL_V3_TEKKEN,
     "[INST]You are a helpful assistant\n\nHello[/INST] Hi there \n</s>[INST]Who are you[/INST]",
     "[INST]You are a helpful assistant\n\nHello[/INST] Hi there \n</s>[INST]Who are you[/INST]"},
    {QM_CHAT_MISTRAL_V7,
     "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST]  Hi there \n</s>"
     "[INST] Who are you[/INST]",
     "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST]  Hi there \n</s>"
     "[INST] Who are you[/INST]"},
    {QM_CHAT_MISTRAL_V7_TEKKEN,
     "[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST] Hi there \n</s>"
     "[INST]Who are you[/INST]",
     "[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST] Hi there \n</s>"
     "[INST]Who are you[/INST]"},
    {QM_CHAT_PHI3,
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n"
     "<|assistant|>\n Hi there \n<|end|>\n<|user|>\nWho are you<|end|>\n",
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n"
     "<|assistant|>\n Hi there \n<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n"},
    {QM_CHAT_PHI4,
     "<|im_start|>system<|im_sep|>You are a helpful assistant<|im_end|>"
     "<|im_start|>user<|im_sep|>Hello<|im_end|>"
     "<|im_start|>assistant<|im_sep|> Hi there \n<|im_end|>"
     "<|im_start|>user<|im_sep|>Who are you<|im_end|>",
     "<|im_start|>system<|im_sep|>You are a helpful assistant<|im_end|>"
     "<|im_start|>user<|im_sep|>Hello<|im_end|>"
     "<|im_start|>assistant<|im_sep|> Hi there \n<|im_end|>"
     "<|im_start|>user<|im_sep|>Who are you<|im_end|>"
     "<|im_start|>assistant<|im_sep|>"},
};

static char *render(enum qm_chat_format fmt, const struct qm_chat_msg *m, size_t n, bool gen)
{
    struct qm_err err = {{0}};
    char *out = NULL;
    int rc = qm_chat_render(fmt, m, n, gen, &out, &err);
    if (rc != 0)
        fail_msg("%s: %s", qm_chat_format_name(fmt), err.msg);
    assert_non_null(out);
    return out;
}

static void each_format_renders_the_conversation(void **state)
{
    (void)state;
    size_t covered = 0;
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
        for (int gen = 0; gen < 2; gen++) {
            char *got = render(expected[i].fmt, conv, NCONV, gen);
            const char *want = gen ? expected[i].gen : expected[i].no_gen;
            if (strcmp(got, want) != 0)
                fail_msg("%s (gen=%d):\n got  [%s]\n want [%s]", qm_chat_format_name(expected[i].fmt), gen,
                         got, want);
            free(got);
        }
        covered++;
    }
    /* every renderable format has its expectation above */
    for (int f = QM_CHAT_UNKNOWN + 1; f < QM_CHAT_FORMAT_COUNT; f++) {
        bool listed = false;
        for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
            listed |= expected[i].fmt == (enum qm_chat_format)f;
        assert_int_equal(listed, qm_chat_format_renderable((enum qm_chat_format)f));
    }
    assert_int_equal(covered, QM_CHAT_RENDERED_COUNT - 1);
}

static void gemma_folds_system(void **state)
{
    (void)state;
    /* two system texts (trimmed, joined as they are), an answer first: the
     * system text waits for the user turn; a trailing system text is lost */
    const struct qm_chat_msg m[] = {
        {"system", " Be brief. "}, {"system", "Be kind."}, {"assistant", "Hello!"},
        {"user", "\tHi\n"}, {"system", "dropped"},
    };
    char *got = render(QM_CHAT_GEMMA, m, 5, true);
    assert_string_equal(got, "<start_of_turn>model\nHello!<end_of_turn>\n"
                             "<start_of_turn>user\nBe brief.Be kind.\n\nHi<end_of_turn>\n"
                             "<start_of_turn>model\n");
    free(got);
    /* no system role ever appears */
    got = render(QM_CHAT_GEMMA, conv, NCONV, false);
    assert_null(strstr(got, "system"));
    free(got);
}

static void empty_and_edge_conversations(void **state)
{
    (void)state;
    char *got = render(QM_CHAT_CHATML, NULL, 0, true);
    assert_string_equal(got, "<|im_start|>assistant\n");
    free(got);
    got = render(QM_CHAT_MISTRAL_V7, NULL, 0, true);
    assert_string_equal(got, "");
    free(got);
    got = render(QM_CHAT_LLAMA2, NULL, 0, false);
    assert_string_equal(got, "[INST] ");
    free(got);
    const struct qm_chat_msg nullc[] = {{"user", NULL}};
    got = render(QM_CHAT_LLAMA3, nullc, 1, false);
    assert_string_equal(got, "<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|>");
    free(got);
}

static void default_system_prompt_option(void **state)
{
    (void)state;
    struct qm_err err = {{0}};
    struct qm_chat_opts opts = {.add_generation_prompt = true, .default_system = "You are Qwen."};
    const struct qm_chat_msg user[] = {{"user", "Hi"}};
    char *out = NULL;
    assert_int_equal(qm_chat_render_opts(QM_CHAT_CHATML, user, 1, &opts, &out, &err), 0);
    assert_string_equal(out, "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                             "<|im_start|>assistant\n");
    free(out);
    /* a conversation with its own system prompt keeps it alone */
    assert_int_equal(qm_chat_render_opts(QM_CHAT_CHATML, conv, NCONV, &opts, &out, &err), 0);
    assert_null(strstr(out, "Qwen"));
    free(out);
    /* applies to an empty conversation too; NULL opts = no prompt, no default */
    assert_int_equal(qm_chat_render_opts(QM_CHAT_CHATML, NULL, 0, &opts, &out, &err), 0);
    assert_string_equal(out, "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    assert_int_equal(qm_chat_render_opts(QM_CHAT_CHATML, user, 1, NULL, &out, &err), 0);
    assert_string_equal(out, "<|im_start|>user\nHi<|im_end|>\n");
    free(out);
}

static void bad_roles_and_formats(void **state)
{
    (void)state;
    struct qm_err err = {{0}};
    char *out = (char *)1;
    const struct qm_chat_msg tool[] = {{"user", "x"}, {"tool", "{\"ok\":1}"}};
    assert_int_equal(qm_chat_render(QM_CHAT_CHATML, tool, 2, true, &out, &err), QM_EINVAL);
    assert_null(out);
    assert_non_null(strstr(err.msg, "message 2"));
    assert_non_null(strstr(err.msg, "'tool'"));

    const struct qm_chat_msg norole[] = {{NULL, "x"}};
    assert_int_equal(qm_chat_render(QM_CHAT_GEMMA, norole, 1, true, &out, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "no role"));

    assert_int_equal(qm_chat_render(QM_CHAT_ZEPHYR, conv, NCONV, true, &out, &err), QM_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "zephyr"));
    assert_int_equal(qm_chat_render(QM_CHAT_UNKNOWN, conv, NCONV, true, &out, &err), QM_EINVAL);
    assert_int_equal(qm_chat_render((enum qm_chat_format)999, conv, NCONV, true, &out, &err), QM_EINVAL);
}

static enum qm_chat_format detect(const char *s)
{
    return qm_chat_detect(s, strlen(s));
}

static void detection(void **state)
{
    (void)state;
    /* ChatML and its look-alikes */
    assert_int_equal(detect("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n'}}{% endfor %}"),
                     QM_CHAT_CHATML);
    assert_int_equal(detect("{{'<|im_start|>' + role + '<|im_sep|>'}}"), QM_CHAT_PHI4);
    assert_int_equal(detect("<|im_start|>User:{{c}}<end_of_utterance>"), QM_CHAT_SMOLVLM);
    /* ChatML wins over anything tested later */
    assert_int_equal(detect("<|im_start|> <start_of_turn> <|start_header_id|><|end_header_id|> [INST]"),
                     QM_CHAT_CHATML);

    /* the [INST] family */
    assert_int_equal(detect("{{ '[SYSTEM_PROMPT] ' + c + '[/SYSTEM_PROMPT]' }}{{ '[INST] ' }}"),
                     QM_CHAT_MISTRAL_V7);
    assert_int_equal(detect("{{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}"),
                     QM_CHAT_MISTRAL_V1);
    assert_int_equal(detect("{{- \"[AVAILABLE_TOOLS] [\" }}{{- \"[INST] \" + message[\"content\"] }}"),
                     QM_CHAT_MISTRAL_V3);
    assert_int_equal(detect("{{- \"[AVAILABLE_TOOLS][\" }}{{- \"[INST]\" + message[\"content\"] }}"),
                     QM_CHAT_MISTRAL_V3_TEKKEN);
    assert_int_equal(detect("{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}<<SYS>>"),
                     QM_CHAT_LLAMA2_SYS_STRIP);
    assert_int_equal(detect("{{- bos_token + '[INST] ' + messages[idx]['content'] }}<<SYS>>"),
                     QM_CHAT_LLAMA2_SYS_BOS);
    assert_int_equal(detect("{{ '[INST] <<SYS>>\\n' + system + '\\n<</SYS>>' }}"), QM_CHAT_LLAMA2_SYS);
    assert_int_equal(detect("{{ '[INST] ' + message['content'] + ' [/INST]' }}"), QM_CHAT_LLAMA2);
    /* a text starting with "mistral" is in the family even without [INST] */
    assert_int_equal(detect("mistral-ish"), QM_CHAT_LLAMA2);

    /* the later families, in llama.cpp's order */
    assert_int_equal(detect("{{'<|' + role + '|>'}}<|end|><|assistant|>"), QM_CHAT_PHI3);
    assert_int_equal(detect("<|user|>x<|assistant|></s>"), QM_CHAT_FALCON3);
    assert_int_equal(detect("<|user|>\n{{c}}<|endoftext|>"), QM_CHAT_ZEPHYR);
    assert_int_equal(detect("{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim }}"),
                     QM_CHAT_GEMMA);
    assert_int_equal(detect("{{'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'}}"),
                     QM_CHAT_LLAMA3);
    /* Gemma comes before Llama 3 when both appear */
    assert_int_equal(detect("<|start_header_id|><|end_header_id|><start_of_turn>"), QM_CHAT_GEMMA);
    assert_int_equal(detect("{% for m in messages %}{{ m.content }}{% endfor %}"), QM_CHAT_UNKNOWN);
    assert_int_equal(qm_chat_detect("", 0), QM_CHAT_UNKNOWN);
    assert_int_equal(qm_chat_detect(NULL, 0), QM_CHAT_UNKNOWN);
    /* the length bounds the search: the marker past it does not count */
    assert_int_equal(qm_chat_detect("xx<|im_start|>", 2), QM_CHAT_UNKNOWN);

    /* exact names are taken as they are, and only exact ones */
    static const char *const names[] = {"chatml", "gemma", "llama3", "llama2", "llama2-sys", "llama2-sys-bos",
                                        "llama2-sys-strip", "mistral-v1", "mistral-v3", "mistral-v3-tekken",
                                        "mistral-v7", "mistral-v7-tekken", "phi3", "phi4", "zephyr"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        enum qm_chat_format f = detect(names[i]);
        assert_int_not_equal(f, QM_CHAT_UNKNOWN);
        assert_string_equal(qm_chat_format_name(f), names[i]);
        assert_int_equal(qm_chat_format_from_name(names[i]), f);
    }
    assert_int_equal(detect("mistral-v7"), QM_CHAT_MISTRAL_V7);
    assert_int_equal(detect("mistral-v7-tekken"), QM_CHAT_MISTRAL_V7_TEKKEN);
    assert_int_equal(qm_chat_format_from_name("ChatML"), QM_CHAT_UNKNOWN);
    assert_int_equal(qm_chat_format_from_name("chatml "), QM_CHAT_UNKNOWN);
    assert_int_equal(qm_chat_format_from_name(NULL), QM_CHAT_UNKNOWN);
    assert_string_equal(qm_chat_format_name(QM_CHAT_UNKNOWN), "unknown");
    assert_string_equal(qm_chat_format_name((enum qm_chat_format)-5), "unknown");
}

static bool stops_have(enum qm_chat_format f, const char *s)
{
    for (const char *const *p = qm_chat_stop_strings(f); *p; p++)
        if (strcmp(*p, s) == 0)
            return true;
    return false;
}

static void stop_strings(void **state)
{
    (void)state;
    assert_string_equal(qm_chat_stop_strings(QM_CHAT_CHATML)[0], "<|im_end|>");
    assert_true(stops_have(QM_CHAT_CHATML, "<|endoftext|>"));
    assert_string_equal(qm_chat_stop_strings(QM_CHAT_GEMMA)[0], "<end_of_turn>");
    assert_string_equal(qm_chat_stop_strings(QM_CHAT_LLAMA3)[0], "<|eot_id|>");
    assert_true(stops_have(QM_CHAT_LLAMA2, "</s>"));
    assert_true(stops_have(QM_CHAT_MISTRAL_V3_TEKKEN, "</s>"));
    assert_true(stops_have(QM_CHAT_PHI3, "<|end|>"));
    assert_null(qm_chat_stop_strings(QM_CHAT_UNKNOWN)[0]);
    /* every renderable format ends its turns with something */
    for (int f = QM_CHAT_UNKNOWN + 1; f < QM_CHAT_RENDERED_COUNT; f++)
        assert_non_null(qm_chat_stop_strings((enum qm_chat_format)f)[0]);
}

static char *defsys(const char *tmpl)
{
    struct qm_err err = {{0}};
    char *out = (char *)1;
    assert_int_equal(qm_chat_default_system(tmpl, strlen(tmpl), &out, &err), 0);
    return out;
}

static void default_system_extraction(void **state)
{
    (void)state;
    /* Qwen2.5: in the else branch of the first-message test */
    char *s = defsys("{%- if messages[0]['role'] == 'system' %}\n"
                     "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
                     "{%- else %}\n"
                     "    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
                     "helpful assistant.<|im_end|>\\n' }}\n"
                     "{%- endif %}");
    assert_non_null(s);
    assert_string_equal(s, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
    free(s);
    /* Qwen2: "!= 'system'" form, double quotes and escapes decoded */
    s = defsys("{% if loop.first and messages[0]['role'] != 'system' %}"
               "{{ \"<|im_start|>system\\nYou're \\\"helpful\\\".\\tOK<|im_end|>\\n\" }}{% endif %}");
    assert_non_null(s);
    assert_string_equal(s, "You're \"helpful\".\tOK");
    free(s);
    /* the same literal twice is fine */
    s = defsys("{{ messages[0] }}{{ '<|im_start|>system\\nA<|im_end|>\\n' }}{{ '<|im_start|>system\\nA<|im_end|>\\n' }}");
    assert_string_equal(s, "A");
    free(s);

    /* nothing: no default (Qwen3 style), two different ones, the text only
     * in plain template text, no first-message test, an undecoded escape,
     * an unterminated literal, a literal holding another turn */
    assert_null(defsys("{%- if messages[0].role == 'system' %}{{- '<|im_start|>system\\n' + messages[0].content + "
                       "'<|im_end|>\\n' }}{%- endif %}"));
    assert_null(defsys("{{ messages[0] }}{{ '<|im_start|>system\\nA<|im_end|>\\n' }}"
                       "{{ '<|im_start|>system\\nB<|im_end|>\\n' }}"));
    assert_null(defsys("{{ messages[0] }}'<|im_start|>system\\nA<|im_end|>\\n'"));
    assert_null(defsys("{{ '<|im_start|>system\\nA<|im_end|>\\n' }}"));
    assert_null(defsys("{{ messages[0] }}{{ '<|im_start|>system\\nA\\u00e9<|im_end|>\\n' }}"));
    assert_null(defsys("{{ messages[0] }}{{ '<|im_start|>system\\nA<|im_end|>\\n }}"));
    assert_null(defsys("{{ messages[0] }}{{ '<|im_start|>system\\nA<|im_end|>\\n<|im_start|>user\\nB<|im_end|>\\n' }}"));
    assert_null(defsys("{{ messages[0] }}{# '<|im_start|>system\\nA<|im_end|>\\n' #}<|im_start|>"));
    assert_null(defsys(""));
}

/* ---- Go templates ---------------------------------------------------------- */

static struct qm_gotmpl *parse_ok(const char *src)
{
    struct qm_err err = {{0}};
    struct qm_gotmpl *t = NULL;
    int rc = qm_gotmpl_parse(src, strlen(src), &t, &err);
    if (rc != 0)
        fail_msg("parse [%s]: %s", src, err.msg);
    assert_non_null(t);
    return t;
}

static char *go(const char *src, const struct qm_gotmpl_data *d)
{
    struct qm_err err = {{0}};
    struct qm_gotmpl *t = parse_ok(src);
    char *out = NULL;
    size_t len = 0;
    int rc = qm_gotmpl_render(t, d, &out, &len, &err);
    if (rc != 0)
        fail_msg("render [%s]: %s", src, err.msg);
    assert_int_equal(len, strlen(out));
    qm_gotmpl_free(t);
    return out;
}

static char *go_chat(const char *src, const struct qm_chat_msg *m, size_t n)
{
    struct qm_err err = {{0}};
    struct qm_gotmpl *t = parse_ok(src);
    char *out = NULL;
    int rc = qm_gotmpl_render_chat(t, m, n, &out, NULL, &err);
    if (rc != 0)
        fail_msg("render_chat [%s]: %s", src, err.msg);
    qm_gotmpl_free(t);
    return out;
}

static void expect_go(const char *src, const struct qm_gotmpl_data *d, const char *want)
{
    char *got = go(src, d);
    if (strcmp(got, want) != 0)
        fail_msg("[%s]:\n got  [%s]\n want [%s]", src, got, want);
    free(got);
}

/* ChatML and Llama 3 written the way Ollama writes its templates */
static const char go_chatml[] =
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
    "{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n";

static const char go_llama3[] =
    "{{- range $i, $m := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 -}}\n"
    "<|start_header_id|>{{ $m.Role }}<|end_header_id|>\n"
    "\n"
    "{{ $m.Content }}<|eot_id|>\n"
    "{{- if and $last (ne $m.Role \"assistant\") }}<|start_header_id|>assistant<|end_header_id|>\n"
    "\n"
    "{{ end }}\n"
    "{{- end -}}\n";

/* The older form: one exchange per run, answer where .Response is. */
static const char go_legacy_chatml[] =
    "{{ if .System }}<|im_start|>system\n"
    "{{ .System }}<|im_end|>\n"
    "{{ end }}{{ if .Prompt }}<|im_start|>user\n"
    "{{ .Prompt }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
    "{{ .Response }}<|im_end|>\n";

static const struct qm_chat_msg conv_plain[] = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
};

static void go_templates_match_builtin_formats(void **state)
{
    (void)state;
    struct {
        const char *src;
        enum qm_chat_format fmt;
    } cases[] = {{go_chatml, QM_CHAT_CHATML}, {go_llama3, QM_CHAT_LLAMA3}, {go_legacy_chatml, QM_CHAT_CHATML}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        for (size_t n = 1; n <= 4; n++) {
            /* conversations that end on a user turn: 2 and 4 messages */
            if (n % 2)
                continue;
            char *want = render(cases[i].fmt, conv_plain, n, true);
            char *got = go_chat(cases[i].src, conv_plain, n);
            if (strcmp(got, want) != 0)
                fail_msg("case %zu, %zu messages:\n got  [%s]\n want [%s]", i, n, got, want);
            free(want);
            free(got);
        }
    }
    /* Llama 3: an answer as the last message gets no new header */
    char *got = go_chat(go_llama3, conv_plain, 3);
    assert_string_equal(got, "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
                             "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                             "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>");
    free(got);

    struct qm_gotmpl *t = parse_ok(go_chatml);
    assert_true(qm_gotmpl_uses_messages(t));
    qm_gotmpl_free(t);
    t = parse_ok(go_legacy_chatml);
    assert_false(qm_gotmpl_uses_messages(t));
    qm_gotmpl_free(t);
    t = parse_ok("{{ len $.Messages }}");
    assert_true(qm_gotmpl_uses_messages(t));
    qm_gotmpl_free(t);
}

static void go_chat_collation(void **state)
{
    (void)state;
    /* consecutive turns of one role merge; .System gathers the system texts */
    const struct qm_chat_msg m[] = {
        {"system", "S1"}, {"system", "S2"}, {"user", "a"}, {"user", "b"},
        {"tool", "t1"}, {"tool", "t2"}, {"assistant", "c"},
    };
    char *got = go_chat("[{{ .System }}]{{ range .Messages }}{{ .Role }}={{ .Content }};{{ end }}", m, 7);
    assert_string_equal(got, "[S1\n\nS2]system=S1\n\nS2;user=a\n\nb;tool=t1;tool=t2;assistant=c;");
    free(got);

    /* legacy form: a template without .Response gets it appended (Ollama),
     * so earlier answers show, and the last run stops where it would be */
    const struct qm_chat_msg abc[] = {{"user", "a"}, {"assistant", "b"}, {"user", "c"}};
    got = go_chat("{{ .Prompt }}", abc, 3);
    assert_string_equal(got, "abc");
    free(got);
    /* the cut removes what follows the first .Response in the last run only */
    got = go_chat("<{{ .Prompt }}|{{ .Response }}>", abc, 3);
    assert_string_equal(got, "<a|b><c|");
    free(got);
    /* a system text after an exchange starts a new run */
    const struct qm_chat_msg sys2[] = {{"system", "S"}, {"user", "u"}, {"system", "T"}, {"user", "v"}};
    got = go_chat("({{ .System }}:{{ .Prompt }}){{ .Response }}", sys2, 4);
    assert_string_equal(got, "(S:u)(T:v)");
    free(got);
    /* in the legacy form a tool turn is skipped */
    const struct qm_chat_msg tool[] = {{"user", "u"}, {"tool", "x"}};
    got = go_chat("{{ .Prompt }}{{ .Response }}", tool, 2);
    assert_string_equal(got, "u");
    free(got);
}

static void go_trim_and_comments(void **state)
{
    (void)state;
    struct qm_gotmpl_data d = {.prompt = "X"};
    expect_go("a  \n{{- .Prompt -}} \t\n b", &d, "aXb");
    expect_go("a  {{ .Prompt }}  b", &d, "a  X  b");
    expect_go("x {{/* a comment */}} y", &d, "x  y");
    expect_go("x \n {{- /* trimmed both sides */ -}} \n y", &d, "xy");
    expect_go("{{- /* multi\nline */ -}}\n{{ .Prompt }}", &d, "X");
    /* "{{-3}}" is the number -3, not a trim marker */
    expect_go("a {{-3}}", &d, "a -3");
    /* trimming stops at the first non-space and never crosses an action */
    expect_go("{{ .Prompt }} \n {{- \"\" }}|", &d, "X|");
}

static void go_control_flow(void **state)
{
    (void)state;
    const struct qm_chat_msg m[] = {{"system", "s"}, {"user", "u1"}, {"assistant", "a1"}, {"user", "u2"}};
    struct qm_gotmpl_data d = {.system = "", .prompt = "hi", .messages = m, .n_messages = 4};
    struct qm_gotmpl_data empty = {0};

    const char *ifs = "{{ if eq .Prompt \"x\" }}X{{ else if eq .Prompt \"hi\" }}HI{{ else }}other{{ end }}";
    expect_go(ifs, &d, "HI");
    expect_go(ifs, &empty, "other");
    expect_go("{{ range .Messages }}{{ .Role }} {{ else }}none{{ end }}", &d, "system user assistant user ");
    expect_go("{{ range .Messages }}{{ .Role }} {{ else }}none{{ end }}", &empty, "none");
    expect_go("{{ range $i, $m := .Messages }}{{ $i }}:{{ $m.Content }}{{ if lt $i 3 }},{{ end }}{{ end }}", &d,
              "0:s,1:u1,2:a1,3:u2");
    expect_go("{{ range $m := .Messages }}{{ if eq $m.Role \"user\" }}{{ continue }}{{ end }}"
              "{{ if eq $m.Role \"assistant\" }}{{ break }}{{ end }}{{ $m.Content }}{{ end }}",
              &d, "s");
    expect_go("{{ range .Messages }}{{ $.Prompt }}/{{ .Content }} {{ end }}", &d, "hi/s hi/u1 hi/a1 hi/u2 ");
    expect_go("{{ with .Prompt }}[{{ . }}]{{ else }}none{{ end }}{{ with .System }}[{{ . }}]{{ else }}none{{ end }}",
              &d, "[hi]none");
    expect_go("{{ $x := \"a\" }}{{ $x }}{{ $x = \"b\" }}{{ $x }}{{ if true }}{{ $x = \"c\" }}{{ end }}{{ $x }}", &d,
              "abc");
    expect_go("{{ if $p := .Prompt }}{{ $p }}{{ end }}", &d, "hi");
    expect_go("{{ range 3 }}{{ . }}{{ end }}", &d, "012");
    /* ranges nest, $ stays the root */
    expect_go("{{ range $i, $a := .Messages }}{{ range $j, $b := $.Messages }}{{ if eq $i $j }}{{ $i }}{{ end }}"
              "{{ end }}{{ end }}",
              &d, "0123");
}

static void go_functions_and_literals(void **state)
{
    (void)state;
    const struct qm_chat_msg m[] = {{"user", "u1"}, {"assistant", "a1"}, {"user", "u2"}};
    struct qm_gotmpl_data d = {.system = "", .prompt = "a<b>&\"c\"\n", .messages = m, .n_messages = 3};

    expect_go("{{ len .Messages }} {{ len \"abc\" }} {{ len .Tools }}", &d, "3 3 0");
    expect_go("{{ (index .Messages 1).Content }} {{ index \"AB\" 1 }}", &d, "a1 66");
    expect_go("{{ len (slice .Messages 1) }} {{ slice \"hello\" 1 3 }} {{ (index (slice .Messages 2) 0).Role }}", &d,
              "2 el user");
    expect_go("{{ or .System \"default\" }} {{ and .Prompt 7 }} {{ and .System 7 }}| {{ not .System }}", &d,
              "default 7 | true");
    expect_go("{{ eq 1 2 3 1 }} {{ ne \"a\" \"b\" }} {{ lt \"a\" \"b\" }} {{ ge 2 2 }} {{ gt -1 0 }} {{ le 0x10 16 }}",
              &d, "true true true true false true");
    expect_go("{{ print 1 2 \"a\" 3 }}|{{ println \"x\" 1 }}|{{ printf \"%s-%d-%v%%\" \"s\" 4 true }}", &d,
              "1 2a3|x 1\n|s-4-true%");
    expect_go("{{ json .Prompt }} {{ json 3 }} {{ json .Tools }}", &d,
              "\"a\\u003cb\\u003e\\u0026\\\"c\\\"\\n\" 3 null");
    expect_go("{{ json (index .Messages 0) }}", &d, "{\"role\":\"user\",\"content\":\"u1\"}");
    expect_go("{{ \"tab\\there\\u00e9\\x41\\101\" }}|{{ `raw\\n` }}|{{ 'A' }}|{{ 'é' }}", &d,
              "tab\there\xc3\xa9" "AA|raw\\n|65|233");
    expect_go("{{ .Prompt | len }} {{ \"x\" | printf \"%s%s\" \"y\" }} {{ .Messages | len | eq 3 }}", &d,
              "9 yx true");
    expect_go("{{ nil }}|{{ true }}|{{ -42 }}|{{ .Tools }}|{{ .Think }}", &d, "<no value>|true|-42|[]|false");
    /* fields of a message that qm does not fill are empty */
    expect_go("{{ range .Messages }}[{{ .Thinking }}{{ len .ToolCalls }}{{ .ToolName }}]{{ end }}", &d,
              "[0][0][0]");
    /* NULL strings and no messages read as empty */
    expect_go("[{{ .System }}{{ .Prompt }}{{ .Response }}{{ len .Messages }}]", NULL, "[0]");
}

struct bad {
    const char *src;
    const char *where;   /* "line L, column C" expected in the message */
    const char *what;    /* and this text */
};

static void go_parse_errors(void **state)
{
    (void)state;
    static const struct bad bad[] = {
        {"abc {{ .Prompt", "line 1, column 5", "unclosed action"},
        {"{{ foo .Prompt }}", "line 1, column 4", "function \"foo\" is not defined"},
        {"{{ html .Prompt }}", "line 1, column 4", "not supported"},
        {"x\n{{ if .Prompt }}y", "line 2, column 18", "has no {{end}}"},
        {"{{ range .Messages }}{{ else }}{{ else }}{{ end }}", "column 32", "second {{else}}"},
        {"{{ end }}", "line 1, column 1", "unexpected {{end}}"},
        {"a{{ else }}", "line 1, column 2", "unexpected {{else}}"},
        {"{{ $y }}", "line 1, column 4", "undefined variable \"$y\""},
        {"{{ $y = 1 }}", "line 1, column 4", "undefined variable"},
        {"{{ if true }}{{ $v := 1 }}{{ end }}{{ $v }}", "column 39", "undefined variable"},
        {"{{ \"abc }}", "line 1, column 4", "unterminated quoted string"},
        {"{{ \"a\\qb\" }}", "column 6", "bad escape"},
        {"{{ `abc }}", "column 4", "unterminated raw string"},
        {"{{ 'ab' }}", "column 4", "one character"},
        {"{{ define \"x\" }}{{ end }}", "column 4", "not supported"},
        {"{{ template \"x\" }}", "column 4", "not supported"},
        {"{{ break }}", "column 4", "outside {{range}}"},
        {"{{ if true }}{{ continue }}{{ end }}", "column 17", "outside {{range}}"},
        {"{{ 1.5 }}", "column 4", "floating-point"},
        {"{{ .5 }}", "column 4", "floating-point"},
        {"{{ 12abc }}", "column 4", "bad number"},
        {"{{ 99999999999999999999 }}", "column 4", "out of range"},
        {"{{/* never closed }}", "column 1", "unclosed comment"},
        {"{{/* c */ x}}", "column 10", "comment ends before"},
        {"{{ .Prompt | .System }}", "column 14", "pipe can only feed a function"},
        {"{{ .Prompt \"x\" }}", "column 12", "only a function can take arguments"},
        {"{{ (.Prompt }}", "column 13", "expected ')'"},
        {"{{ }}", "column 4", "missing value"},
        {"{{ eq .Prompt\"x\" }}", "column 14", "missing space"},
        {"{{ $a, $b := .Messages }}", "column 6", "only range"},
        {"{{ ($x := 1) }}", "column 5", "inside parentheses"},
        {"{{ .Prompt # }}", "column 12", "unexpected character '#'"},
        {"{{ if }}{{ end }}", "column 7", "missing value"},
        {"{{ range .Messages }}{{ else if true }}{{ end }}", "column 30", "expected }} after else"},
        {"{{ \"x\".Role }}", "column 7", "cannot follow"},
        {"{{ : }}", "column 4", "expected :="},
        {"{{ end", "column 1", "unclosed action"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct qm_err err = {{0}};
        struct qm_gotmpl *t = (struct qm_gotmpl *)1;
        int rc = qm_gotmpl_parse(bad[i].src, strlen(bad[i].src), &t, &err);
        if (rc >= 0)
            fail_msg("[%s] parsed", bad[i].src);
        assert_null(t);
        if (!strstr(err.msg, bad[i].where) || !strstr(err.msg, bad[i].what))
            fail_msg("[%s]: message \"%s\" lacks \"%s\" / \"%s\"", bad[i].src, err.msg, bad[i].where, bad[i].what);
    }
    /* deep nesting is refused, not recursed into */
    char deep[4096] = "{{ ";
    for (int i = 0; i < 300; i++)
        strcat(deep, "(");
    strcat(deep, ".Prompt");
    for (int i = 0; i < 300; i++)
        strcat(deep, ")");
    strcat(deep, " }}");
    struct qm_err err = {{0}};
    struct qm_gotmpl *t = NULL;
    assert_true(qm_gotmpl_parse(deep, strlen(deep), &t, &err) < 0);
    assert_non_null(strstr(err.msg, "nested too deeply"));
}

static void go_render_errors(void **state)
{
    (void)state;
    const struct qm_chat_msg m[] = {{"user", "u"}};
    struct qm_gotmpl_data d = {.prompt = "p", .messages = m, .n_messages = 1};
    static const struct bad bad[] = {
        {"ab\n  {{ .Nope }}", "line 2, column 6", "no field \"Nope\""},
        {"{{ range .Messages }}{{ .System }}{{ end }}", "column 25", "a message has no field \"System\""},
        {"{{ .Prompt.Role }}", "column 4", "cannot read field \"Role\" of a string"},
        {"{{ .Messages }}", "column 1", "cannot print a list of messages"},
        {"{{ index .Messages 5 }}", "column 4", "index 5 out of range"},
        {"{{ index .Messages \"x\" }}", "column 4", "must be an integer"},
        {"{{ slice \"abc\" 2 1 }}", "column 4", "slice bounds"},
        {"{{ eq .Prompt 1 }}", "column 4", "incompatible types"},
        {"{{ eq .Messages 1 }}", "column 4", "cannot compare"},
        {"{{ lt true false }}", "column 4", "cannot order"},
        {"{{ not }}", "column 4", "wrong number of arguments for not"},
        {"{{ len 3 }}", "column 4", "len of an integer"},
        {"{{ range .Prompt }}{{ end }}", "column 1", "cannot iterate over a string"},
        {"{{ printf \"%q\" 1 }}", "column 4", "not supported"},
        {"{{ printf \"%s %s\" \"a\" }}", "column 4", "too few"},
        {"{{ printf \"%d\" \"a\" }}", "column 4", "given a string"},
        {"{{ and }}", "column 4", "at least one"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct qm_err err = {{0}};
        struct qm_gotmpl *t = parse_ok(bad[i].src);
        char *out = (char *)1;
        int rc = qm_gotmpl_render(t, &d, &out, NULL, &err);
        qm_gotmpl_free(t);
        if (rc >= 0)
            fail_msg("[%s] rendered", bad[i].src);
        assert_null(out);
        if (!strstr(err.msg, bad[i].where) || !strstr(err.msg, bad[i].what))
            fail_msg("[%s]: message \"%s\" lacks \"%s\" / \"%s\"", bad[i].src, err.msg, bad[i].where, bad[i].what);
    }
}

static void go_runaway_is_stopped(void **state)
{
    (void)state;
    static struct qm_chat_msg many[200];
    for (size_t i = 0; i < 200; i++)
        many[i] = (struct qm_chat_msg){"user", "x"};
    struct qm_gotmpl_data d = {.messages = many, .n_messages = 200};
    struct qm_gotmpl *t =
        parse_ok("{{ range .Messages }}{{ range $.Messages }}{{ range $.Messages }}{{ end }}{{ end }}{{ end }}");
    struct qm_err err = {{0}};
    char *out = NULL;
    assert_int_equal(qm_gotmpl_render(t, &d, &out, NULL, &err), QM_EUNSUPPORTED);
    assert_null(out);
    assert_non_null(strstr(err.msg, "runs too long"));
    qm_gotmpl_free(t);
}

/* Random mutations of real templates: whatever comes out, parse and render
 * must answer 0 or an error with a message, and never touch bad memory
 * (this test runs under ASan+UBSan in CI). */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void go_fuzz_mutations(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        go_chatml, go_llama3, go_legacy_chatml,
        "{{ if and .System (ne .Prompt \"\") }}{{ printf \"%s|%d\" .System (len .Messages) }}{{ else }}"
        "{{ json .Prompt }}{{ end }}{{ range $i, $m := .Messages }}{{ with $m.Content }}{{ . }}{{ end }}"
        "{{ if eq $i 1 }}{{ break }}{{ end }}{{ end }}{{ `raw` }}{{ 'x' }}{{/* c */}}",
    };
    static const char alphabet[] = "{}-$.|()\"`'\\ \n/*:=,%0123456789abcdefghijklmnopqrstuvwxyzRCMSP";
    static const char *const inserts[] = {"{{", "}}", "{{- ", " -}}", "{{ end }}", "{{ else }}", "{{ range .Messages }}",
                                          "{{ if ", "$x", "$", ".Content", "(", ")", "\"", "/*", "*/", "{{ break }}",
                                          "{{ $x := 1 }}", " | len", "slice", "index"};
    const struct qm_chat_msg m[] = {{"system", "s"}, {"user", "u"}, {"assistant", "a"}, {"tool", "t"}, {"user", "v"}};
    struct qm_gotmpl_data d = {.system = "S", .prompt = "P", .response = "R", .messages = m, .n_messages = 5};
    char buf[2048];
    size_t parsed = 0, rendered = 0;

    for (int iter = 0; iter < 6000; iter++) {
        const char *seed = seeds[rnd(sizeof seeds / sizeof *seeds)];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int edits = 1 + (int)rnd(6);
        for (int k = 0; k < edits; k++) {
            size_t at = len ? rnd((uint32_t)len + 1) : 0;
            switch (rnd(3)) {
            case 0: /* replace */
                if (at < len)
                    buf[at] = alphabet[rnd(sizeof alphabet - 1)];
                break;
            case 1: { /* insert */
                const char *s = inserts[rnd(sizeof inserts / sizeof *inserts)];
                size_t n = strlen(s);
                if (len + n < sizeof buf) {
                    memmove(buf + at + n, buf + at, len - at);
                    memcpy(buf + at, s, n);
                    len += n;
                }
                break;
            }
            default: { /* delete */
                size_t n = rnd(8);
                if (at + n > len)
                    n = len - at;
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
            }
            }
        }
        struct qm_err err = {{0}};
        struct qm_gotmpl *t = NULL;
        /* not NUL-terminated on purpose: the length bounds everything */
        int rc = qm_gotmpl_parse(buf, len, &t, &err);
        if (rc < 0) {
            assert_null(t);
            assert_true(err.msg[0] != '\0');
            continue;
        }
        parsed++;
        char *out = NULL;
        size_t olen = 0;
        err.msg[0] = '\0';
        rc = qm_gotmpl_render(t, &d, &out, &olen, &err);
        if (rc == 0) {
            assert_int_equal(strlen(out) <= olen, true);
            rendered++;
            free(out);
        } else {
            assert_null(out);
            assert_true(err.msg[0] != '\0');
        }
        rc = qm_gotmpl_render_chat(t, m, 5, &out, NULL, &err);
        if (rc == 0)
            free(out);
        qm_gotmpl_free(t);
    }
    /* the mutations must leave enough valid templates to exercise exec */
    assert_true(parsed > 300);
    assert_true(rendered > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_format_renders_the_conversation),
        cmocka_unit_test(gemma_folds_system),
        cmocka_unit_test(empty_and_edge_conversations),
        cmocka_unit_test(default_system_prompt_option),
        cmocka_unit_test(bad_roles_and_formats),
        cmocka_unit_test(detection),
        cmocka_unit_test(stop_strings),
        cmocka_unit_test(default_system_extraction),
        cmocka_unit_test(go_templates_match_builtin_formats),
        cmocka_unit_test(go_chat_collation),
        cmocka_unit_test(go_trim_and_comments),
        cmocka_unit_test(go_control_flow),
        cmocka_unit_test(go_functions_and_literals),
        cmocka_unit_test(go_parse_errors),
        cmocka_unit_test(go_render_errors),
        cmocka_unit_test(go_runaway_is_stopped),
        cmocka_unit_test(go_fuzz_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
