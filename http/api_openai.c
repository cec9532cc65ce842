/* api_openai.c - OpenAI's request bodies: /v1/chat/completions,
 * /v1/completions and /v1/embeddings, as Ollama's compatibility layer
 * reads them.
 *
 * Where OpenAI's defaults differ from the model's, Ollama's layer sends
 * OpenAI's: temperature 1 and top_p 1 unless the request says otherwise
 * (so a Modelfile's temperature does not apply here), no token limit unless
 * max_tokens is given (OpenAI's 16 for /v1/completions is not applied).
 * The /v1/completions prompt goes through the model's template, as in
 * Ollama; a prompt of token ids goes to the runner untouched. */
#include "api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A chat message's content: a string, null, or parts of which only "text"
 * ones are served; text parts are joined by newlines into one message. */
static int message_content(const json_t *c, size_t i, struct qm_strbuf *text, struct qm_err *err)
{
    if (!c)
        return 0;
    if (json_is_string(c)) {
        qm_strbuf_puts(text, json_string_value(c));
        return 0;
    }
    if (!json_is_array(c)) {
        qm_err_set(err, "\"messages[%zu].content\" must be a string or an array of parts", i);
        return -1;
    }
    size_t j, n = 0;
    json_t *part;
    json_array_foreach(c, j, part) {
        const char *type = json_string_value(json_object_get(part, "type"));
        if (!json_is_object(part) || !type) {
            qm_err_set(err, "\"messages[%zu].content[%zu]\" must be an object with a \"type\"", i, j);
            return -1;
        }
        if (strcmp(type, "image_url") == 0 || strcmp(type, "image") == 0) {
            qm_err_set(err, "\"messages[%zu].content[%zu]\": images are not supported", i, j);
            return -1;
        }
        if (strcmp(type, "text") != 0) {
            qm_err_set(err, "\"messages[%zu].content[%zu]\": content type \"%s\" is not supported",
                       i, j, type);
            return -1;
        }
        const char *s = json_string_value(json_object_get(part, "text"));
        if (!s) {
            qm_err_set(err, "\"messages[%zu].content[%zu].text\" must be a string", i, j);
            return -1;
        }
        if (n++)
            qm_strbuf_puts(text, "\n");
        qm_strbuf_puts(text, s);
    }
    return 0;
}

static int decode_messages(const json_t *req, json_t *runner, struct qm_err *err)
{
    json_t *msgs = qm_api__field(req, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        qm_err_set(err, "\"messages\" must be a non-empty array");
        return -1;
    }
    json_t *out = json_array();
    if (!qm_api__set(runner, "messages", out))
        return -1;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        char name[64];
        const char *role = NULL;
        if (!json_is_object(m)) {
            qm_err_set(err, "\"messages[%zu]\" must be an object", i);
            return -1;
        }
        snprintf(name, sizeof name, "messages[%zu].role", i);
        if (qm_api__get_string(m, "role", name, &role, err))
            return -1;
        if (!role || !*role) {
            qm_err_set(err, "\"%s\" is required", name);
            return -1;
        }
        if (strcmp(role, "developer") == 0)   /* OpenAI's newer name for system */
            role = "system";
        struct qm_strbuf text = {0};
        int rc = message_content(qm_api__field(m, "content"), i, &text, err);
        if (rc == 0 && !text.oom)
            rc = json_array_append_new(out, json_pack("{s:s, s:s}", "role", role, "content",
                                                      text.p ? text.p : ""));
        else if (rc == 0)
            rc = -1;
        free(text.p);
        if (rc)
            return -1;
    }
    return 0;
}

/* /v1/completions' prompt: a string, [string], [ids…] or [[ids…]]. */
static int decode_prompt(const json_t *req, json_t *runner, struct qm_err *err)
{
    json_t *p = qm_api__field(req, "prompt");
    if (!p)
        return qm_api__set(runner, "prompt", json_string("")) ? 0 : -1;
    if (json_is_string(p))
        return qm_api__set(runner, "prompt", json_copy(p)) ? 0 : -1;
    if (!json_is_array(p) || json_array_size(p) == 0) {
        qm_err_set(err, "\"prompt\" must be a string, an array of one string, or token ids");
        return -1;
    }
    json_t *first = json_array_get(p, 0);
    if (json_is_string(first) || json_is_array(first)) {
        if (json_array_size(p) != 1) {
            qm_err_set(err, "\"prompt\": only one prompt per request is supported");
            return -1;
        }
        if (json_is_string(first))
            return qm_api__set(runner, "prompt", json_copy(first)) ? 0 : -1;
        p = first;
        if (json_array_size(p) == 0) {
            qm_err_set(err, "\"prompt[0]\" must not be empty");
            return -1;
        }
    }
    size_t i;
    json_t *e;
    json_array_foreach(p, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX) {
            qm_err_set(err, "\"prompt\": element %zu is not a token id", i);
            return -1;
        }
    }
    return qm_api__set(runner, "tokens", json_deep_copy(p)) ? 0 : -1;
}

/* The sampling fields both generation endpoints share. */
static int decode_sampling(const json_t *req, json_t *opts, struct qm_err *err)
{
    static const struct { const char *key; const char *opt; } SAME[] = {
        {"temperature", "temperature"}, {"top_p", "top_p"}, {"seed", "seed"},
        {"stop", "stop"}, {"frequency_penalty", "frequency_penalty"},
        {"presence_penalty", "presence_penalty"},
    };
    for (size_t i = 0; i < sizeof SAME / sizeof SAME[0]; i++) {
        json_t *v = qm_api__field(req, SAME[i].key), *norm;
        if (!v)
            continue;
        if (qm_api__check_option(SAME[i].opt, v, NULL, &norm, err) != 1 ||
            !qm_api__set(opts, SAME[i].opt, norm))
            return -1;
    }
    if (!json_object_get(opts, "temperature") && !qm_api__set(opts, "temperature", json_real(1.0)))
        return -1;
    if (!json_object_get(opts, "top_p") && !qm_api__set(opts, "top_p", json_real(1.0)))
        return -1;

    /* max_completion_tokens is the newer name and wins; -1 is "no limit",
     * as Ollama's num_predict reads it */
    const char *key = qm_api__field(req, "max_completion_tokens") ? "max_completion_tokens"
                                                                  : "max_tokens";
    int64_t n;
    bool has;
    if (qm_api__get_int(req, key, key, -1, INT32_MAX, &n, &has, err))
        return -1;
    if (has && !qm_api__set(opts, "num_predict", json_integer(n)))
        return -1;

    int64_t choices = 1;
    if (qm_api__get_int(req, "n", "n", INT64_MIN, INT64_MAX, &choices, NULL, err))
        return -1;
    if (choices != 1) {
        qm_err_set(err, "\"n\": only 1 choice per request is supported");
        return -1;
    }
    return 0;
}

static int decode_logit_bias(const json_t *req, json_t *runner, struct qm_err *err)
{
    json_t *lb = qm_api__field(req, "logit_bias");
    if (!lb)
        return 0;
    if (!json_is_object(lb)) {
        qm_err_set(err, "\"logit_bias\" must be an object of token ids to biases");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(lb, key, v) {
        char name[96];
        size_t len = strlen(key);
        if (len == 0 || len > 10 || strspn(key, "0123456789") != len ||
            strtoll(key, NULL, 10) > INT32_MAX) {
            qm_err_set(err, "\"logit_bias\": key \"%.40s\" is not a token id", key);
            return -1;
        }
        double bias;
        snprintf(name, sizeof name, "logit_bias.%s", key);
        if (qm_api__real_value(v, name, -100, 100, &bias, err))
            return -1;
    }
    if (json_object_size(lb) && !qm_api__set(runner, "logit_bias", json_deep_copy(lb)))
        return -1;
    return 0;
}

static int decode_response_format(const json_t *req, json_t *runner, struct qm_err *err)
{
    json_t *rf = qm_api__field(req, "response_format");
    if (!rf)
        return 0;
    const char *type = json_string_value(json_object_get(rf, "type"));
    if (!json_is_object(rf) || !type) {
        qm_err_set(err, "\"response_format\" must be an object with a \"type\"");
        return -1;
    }
    if (strcmp(type, "text") == 0)
        return 0;
    if (strcmp(type, "json_object") == 0)
        return qm_api__set(runner, "format", json_string("json")) ? 0 : -1;
    if (strcmp(type, "json_schema") == 0) {
        json_t *js = qm_api__field(rf, "json_schema");
        json_t *schema = js ? qm_api__field(js, "schema") : NULL;
        if (js && !json_is_object(js)) {
            qm_err_set(err, "\"response_format.json_schema\" must be an object");
            return -1;
        }
        if (schema && !json_is_object(schema)) {
            qm_err_set(err, "\"response_format.json_schema.schema\" must be an object");
            return -1;
        }
        /* no schema: any JSON will do */
        return qm_api__set(runner, "format", schema ? json_deep_copy(schema) : json_string("json"))
                   ? 0 : -1;
    }
    qm_err_set(err, "\"response_format.type\" must be \"text\", \"json_object\" or \"json_schema\"");
    return -1;
}

static int decode_stream(const json_t *req, struct qm_api_job *job, struct qm_err *err)
{
    json_t *so = qm_api__field(req, "stream_options");
    if (qm_api__get_bool(req, "stream", "stream", &job->stream, err))
        return -1;
    if (so && !json_is_object(so)) {
        qm_err_set(err, "\"stream_options\" must be an object");
        return -1;
    }
    bool usage = false;
    if (so && qm_api__get_bool(so, "include_usage", "stream_options.include_usage", &usage, err))
        return -1;
    job->include_usage = job->stream && usage;
    return 0;
}

/* /v1/completions' "logprobs": how many alternatives per token (0..20;
 * OpenAI stops at 5, the runner at 20). */
static int completion_logprobs(const json_t *req, struct qm_api_job *job, struct qm_err *err)
{
    int64_t n;
    bool has;
    if (qm_api__get_int(req, "logprobs", "logprobs", 0, 20, &n, &has, err))
        return -1;
    if (!has)
        return 0;
    if (!qm_api__set(job->runner, "logprobs", json_true()) ||
        !qm_api__set(job->runner, "top_logprobs", json_integer(n)) ||
        !qm_api__set(job->echo, "logprobs", json_true()) ||
        !qm_api__set(job->echo, "top_logprobs", json_integer(n)))
        return -1;
    return 0;
}

static int decode_generation(enum qm_api_kind kind, const json_t *req, struct qm_api_job *job,
                             struct qm_err *err)
{
    json_t *opts = json_object();
    job->runner = json_pack("{s:s}", "op", "completion");
    if (!job->runner || !qm_api__set(job->runner, "options", opts))
        return -1;
    if (decode_stream(req, job, err) || decode_sampling(req, opts, err) ||
        decode_logit_bias(req, job->runner, err) ||
        decode_response_format(req, job->runner, err))
        return -1;
    if (kind == QM_API_OAI_CHAT)
        return decode_messages(req, job->runner, err) || qm_api__get_logprobs(req, job, err);

    const char *suffix = NULL;
    if (decode_prompt(req, job->runner, err) || completion_logprobs(req, job, err) ||
        qm_api__get_string(req, "suffix", "suffix", &suffix, err))
        return -1;
    if (suffix && *suffix && !qm_api__set(job->runner, "suffix", json_string(suffix)))
        return -1;
    return 0;
}

/* A non-empty array of token ids. */
static int token_ids(const json_t *a, const char *name, struct qm_err *err)
{
    if (!json_is_array(a) || json_array_size(a) == 0) {
        qm_err_set(err, "\"%s\" must be a non-empty array of token ids", name);
        return -1;
    }
    size_t i;
    json_t *t;
    json_array_foreach(a, i, t) {
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > INT32_MAX) {
            qm_err_set(err, "\"%s[%zu]\" is not a token id", name, i);
            return -1;
        }
    }
    return 0;
}

/* /v1/embeddings' input: a string, strings, token ids or arrays of them. */
static int decode_embed(const json_t *req, struct qm_api_job *job, struct qm_err *err)
{
    json_t *in = qm_api__field(req, "input");
    job->runner = json_pack("{s:s, s:b}", "op", "embed", "truncate", 1);
    if (!job->runner)
        return -1;
    if (!in || (json_is_string(in) && !*json_string_value(in)) ||
        (json_is_array(in) && json_array_size(in) == 0)) {
        qm_err_set(err, "\"input\" must not be empty");
        return -1;
    }
    if (json_is_string(in)) {
        if (!qm_api__set(job->runner, "input", json_pack("[o]", json_deep_copy(in))))
            return -1;
    } else if (json_is_array(in)) {
        /* one shape for all elements, decided by the first */
        json_t *first = json_array_get(in, 0);
        bool strings = json_is_string(first), lists = json_is_array(first);
        size_t i;
        json_t *e;
        json_array_foreach(in, i, e) {
            char name[48];
            snprintf(name, sizeof name, "input[%zu]", i);
            if (strings ? !json_is_string(e) : lists ? token_ids(e, name, err) : !json_is_integer(e)) {
                if (strings || !lists)
                    qm_err_set(err, "\"%s\": input must be strings, token ids or arrays of "
                                    "token ids, not a mix", name);
                return -1;
            }
        }
        if (!strings && !lists && token_ids(in, "input", err))
            return -1;
        json_t *copy = json_deep_copy(in);
        if (!qm_api__set(job->runner, strings ? "input" : "tokens",
                         strings || lists ? copy : json_pack("[o]", copy)))
            return -1;
    } else {
        qm_err_set(err, "\"input\" must be a string, an array of strings or token ids");
        return -1;
    }

    const char *fmt = "float";
    int64_t dims = 0;
    bool has_dims;
    if (qm_api__get_string(req, "encoding_format", "encoding_format", &fmt, err) ||
        qm_api__get_int(req, "dimensions", "dimensions", 1, 1 << 20, &dims, &has_dims, err))
        return -1;
    if (strcmp(fmt, "float") != 0 && strcmp(fmt, "base64") != 0) {
        qm_err_set(err, "\"encoding_format\" must be \"float\" or \"base64\"");
        return -1;
    }
    if (!qm_api__set(job->echo, "encoding_format", json_string(fmt)))
        return -1;
    if (has_dims && (!qm_api__set(job->runner, "dimensions", json_integer(dims)) ||
                     !qm_api__set(job->echo, "dimensions", json_integer(dims))))
        return -1;
    return 0;
}

int qm_api__decode_openai(enum qm_api_kind kind, const json_t *req, struct qm_api_job *job,
                          struct qm_err *err)
{
    job->stream = false;
    if (qm_api__get_model(req, NULL, &job->model, err) ||
        !qm_api__set(job->echo, "model", json_string(job->model)) ||
        qm_api__get_keep_alive(req, job, err))   /* not OpenAI's, but harmless to honour */
        return -1;
    if (kind == QM_API_OAI_EMBED)
        return decode_embed(req, job, err);
    return decode_generation(kind, req, job, err);
}
