/* api_openai_stream.c - runner events as OpenAI's answers: SSE chunks of
 * chat.completion.chunk / text_completion ending in "data: [DONE]", the
 * whole chat.completion / text_completion objects, and embedding lists.
 *
 * Usage counts the whole prompt (tokens evaluated plus those reused from
 * the cache, the latter also as prompt_tokens_details.cached_tokens), as
 * OpenAI bills it; Ollama's own API reports only the evaluated ones. */
#include "api_internal.h"

#include <stdlib.h>
#include <string.h>

#define FINGERPRINT "fp_ollama"   /* what clients that check it know from Ollama */

const char *qm_api__openai_error_type(int status)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 404:
        return "not_found_error";
    default:
        return "api_error";
    }
}

static void sse(const json_t *v, struct qm_strbuf *out)
{
    qm_strbuf_puts(out, "data: ");
    qm_api_dump(v, "\n\n", out);
}

static bool chat(const struct qm_api_stream *s)
{
    return s->job->kind == QM_API_OAI_CHAT;
}

/* The envelope of every chunk or object; choices come from the caller. */
static json_t *envelope(const struct qm_api_stream *s, const char *object, json_t *choices)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:o}", "id", s->id, "object", object, "created",
                     (json_int_t)s->created, "model", s->model, "system_fingerprint",
                     FINGERPRINT, "choices", choices);
}

static size_t utf8_chars(const char *p)
{
    size_t n = 0;
    for (; *p; p++)
        n += ((unsigned char)*p & 0xC0) != 0x80;
    return n;
}

/* The legacy /v1/completions form of entries in runner_proto.h's shape:
 * parallel lists tokens, token_logprobs, top_logprobs ({token: logprob},
 * the chosen token included) and text_offset (characters from the start
 * of the completion). */
static json_t *legacy_logprobs(const json_t *entries, int64_t *offset)
{
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(),
           *offs = json_array();
    json_t *v = json_pack("{s:o, s:o, s:o, s:o}", "tokens", tokens, "token_logprobs", lps,
                          "top_logprobs", tops, "text_offset", offs);
    if (!v)
        return NULL;
    size_t i, j;
    json_t *e, *alt;
    json_array_foreach(entries, i, e) {
        const char *tok = json_string_value(json_object_get(e, "token"));
        json_t *lp = json_object_get(e, "logprob");
        json_t *top = json_object();
        if (!tok)
            tok = "";
        json_array_foreach(json_object_get(e, "top_logprobs"), j, alt) {
            const char *at = json_string_value(json_object_get(alt, "token"));
            if (at && top)
                json_object_set(top, at, json_object_get(alt, "logprob"));
        }
        if (top && lp)
            json_object_set(top, tok, lp);
        if (json_array_append_new(tokens, json_string(tok)) ||
            json_array_append_new(lps, lp ? json_incref(lp) : json_real(0)) ||
            json_array_append_new(tops, top) ||
            json_array_append_new(offs, json_integer(*offset))) {
            json_decref(v);
            return NULL;
        }
        *offset += (int64_t)utf8_chars(tok);
    }
    return v;
}

/* A choice's "logprobs": null unless asked; entries in the API's form. */
static json_t *choice_logprobs(struct qm_api_stream *s, const json_t *entries, int64_t *offset)
{
    if (!s->logprobs)
        return json_null();
    if (!entries)
        entries = json_array();
    else
        json_incref((json_t *)entries);
    json_t *v = chat(s) ? json_pack("{s:O}", "content", entries) : legacy_logprobs(entries, offset);
    json_decref((json_t *)entries);
    return v;
}

static json_t *choice(struct qm_api_stream *s, const char *text, const char *finish,
                      json_t *logprobs, bool whole)
{
    json_t *fin = finish ? json_string(finish) : json_null();
    if (!chat(s))
        return json_pack("{s:s, s:i, s:o, s:o}", "text", text, "index", 0, "finish_reason", fin,
                         "logprobs", logprobs);
    return json_pack("{s:i, s:{s:s, s:s}, s:o, s:o}", "index", 0, whole ? "message" : "delta",
                     "role", "assistant", "content", text, "finish_reason", fin, "logprobs",
                     logprobs);
}

static const char *object_name(const struct qm_api_stream *s, bool whole)
{
    if (!chat(s))
        return "text_completion";
    return whole ? "chat.completion" : "chat.completion.chunk";
}

int qm_api__openai_token(struct qm_api_stream *s, const json_t *ev,
                         const struct qm_api_timing *t, struct qm_strbuf *out)
{
    (void)t;
    const char *text = json_string_value(json_object_get(ev, "text"));
    json_t *lp = json_object_get(ev, "logprobs");
    if (!text)
        text = "";
    if (!json_is_array(lp) || !s->logprobs)
        lp = NULL;
    if (!s->job->stream) {
        qm_strbuf_puts(&s->text, text);
        return lp && json_array_extend(s->logprobs, lp) ? QM_ENOMEM : 0;
    }
    if (!*text && !json_array_size(lp))
        return 0;
    json_t *c = choice(s, text, NULL, choice_logprobs(s, lp, &s->text_offset), false);
    json_t *v = c ? envelope(s, object_name(s, false), json_pack("[o]", c)) : NULL;
    if (!v)
        return QM_ENOMEM;
    sse(v, out);
    json_decref(v);
    return 0;
}

static json_t *usage(const json_t *ev)
{
    int64_t prompt = qm_api__ev_int(ev, "prompt_eval_count") + qm_api__ev_int(ev, "prompt_cached");
    int64_t gen = qm_api__ev_int(ev, "eval_count");
    return json_pack("{s:I, s:I, s:I, s:{s:I}}", "prompt_tokens", (json_int_t)prompt,
                     "completion_tokens", (json_int_t)gen, "total_tokens", (json_int_t)(prompt + gen),
                     "prompt_tokens_details", "cached_tokens",
                     (json_int_t)qm_api__ev_int(ev, "prompt_cached"));
}

int qm_api__openai_done(struct qm_api_stream *s, const json_t *ev,
                        const struct qm_api_timing *t, struct qm_strbuf *out)
{
    (void)t;
    const char *reason = json_string_value(json_object_get(ev, "done_reason"));
    /* "cancel" only reaches a client that is gone; OpenAI knows stop and length */
    const char *finish = reason && strcmp(reason, "length") == 0 ? "length" : "stop";
    bool whole = !s->job->stream;
    int64_t offset = 0;
    json_t *lp = whole ? choice_logprobs(s, s->logprobs, &offset) : json_null();
    json_t *c = choice(s, whole && s->text.p ? s->text.p : "", finish, lp, whole);
    json_t *v = c ? envelope(s, object_name(s, whole), json_pack("[o]", c)) : NULL;
    if (!v)
        return QM_ENOMEM;
    if (whole) {
        if (!qm_api__set(v, "usage", usage(ev))) {
            json_decref(v);
            return QM_ENOMEM;
        }
        qm_api_dump(v, NULL, out);
        json_decref(v);
        return 1;
    }
    sse(v, out);
    json_decref(v);
    if (s->job->include_usage) {
        /* OpenAI's last chunk: no choices, only usage */
        v = envelope(s, object_name(s, false), json_array());
        if (!v || !qm_api__set(v, "usage", usage(ev))) {
            json_decref(v);
            return QM_ENOMEM;
        }
        sse(v, out);
        json_decref(v);
    }
    qm_strbuf_puts(out, "data: [DONE]\n\n");
    return 1;
}

/* A vector as base64 of its little-endian float32 bytes. */
static json_t *base64_vector(const json_t *vec)
{
    size_t n = json_array_size(vec);
    unsigned char *bytes = malloc(4 * n + 1);
    if (!bytes)
        return NULL;
    size_t i;
    json_t *x;
    json_array_foreach(vec, i, x) {
        float f = (float)json_number_value(x);
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int k = 0; k < 4; k++)
            bytes[4 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
    struct qm_strbuf b = {0};
    qm_api__base64(bytes, 4 * n, &b);
    free(bytes);
    json_t *v = b.oom ? NULL : json_string(b.p ? b.p : "");
    free(b.p);
    return v;
}

int qm_api__openai_embedding(struct qm_api_stream *s, const json_t *ev,
                             const struct qm_api_timing *t, struct qm_strbuf *out)
{
    (void)t;
    json_t *vecs = qm_api__embeddings(ev, true,
                                      json_integer_value(json_object_get(s->job->echo, "dimensions")));
    if (!vecs)
        return QM_EINVAL;
    const char *fmt = json_string_value(json_object_get(s->job->echo, "encoding_format"));
    bool b64 = fmt && strcmp(fmt, "base64") == 0;
    json_t *data = json_array();
    size_t i;
    json_t *vec;
    json_array_foreach(vecs, i, vec) {
        json_t *e = b64 ? base64_vector(vec) : json_incref(vec);
        if (json_array_append_new(data, json_pack("{s:s, s:o, s:i}", "object", "embedding",
                                                  "embedding", e, "index", (int)i))) {
            json_decref(data);
            json_decref(vecs);
            return QM_ENOMEM;
        }
    }
    json_decref(vecs);
    json_int_t n = (json_int_t)qm_api__ev_int(ev, "prompt_eval_count");
    json_t *v = json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data, "model",
                          s->model, "usage", "prompt_tokens", n, "total_tokens", n);
    if (!v)
        return QM_ENOMEM;
    qm_api_dump(v, NULL, out);
    json_decref(v);
    return 1;
}

void qm_api__openai_stream_error(int status, const char *msg, struct qm_strbuf *out)
{
    json_t *v = json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", msg, "type",
                          qm_api__openai_error_type(status), "param", "code");
    sse(v, out);
    json_decref(v);
}
