/* api_ollama_stream.c - runner events as Ollama's answers: NDJSON lines for
 * /api/generate and /api/chat (or one object when stream is false), and
 * the embedding objects of /api/embed and /api/embeddings.
 *
 * Durations are nanoseconds; prompt_eval_count is the runner's count of
 * prompt tokens evaluated (a prefix reused from the cache is not counted,
 * as in Ollama), so prompt_eval_count / prompt_eval_duration stays a speed. */
#include "api_internal.h"

#include <string.h>

/* The fields every generate/chat object starts with, and its text. */
static json_t *head(struct qm_api_stream *s, const struct qm_api_timing *t, const char *text)
{
    char ts[64];
    qm_api__rfc3339(qm_api__now_ns(t), ts);
    if (s->job->kind == QM_API_CHAT)
        return json_pack("{s:s, s:s, s:{s:s, s:s}}", "model", s->model, "created_at", ts,
                         "message", "role", "assistant", "content", text);
    return json_pack("{s:s, s:s, s:s}", "model", s->model, "created_at", ts, "response", text);
}

int qm_api__ollama_token(struct qm_api_stream *s, const json_t *ev,
                         const struct qm_api_timing *t, struct qm_strbuf *out)
{
    const char *text = json_string_value(json_object_get(ev, "text"));
    json_t *lp = json_object_get(ev, "logprobs");
    if (!text)
        text = "";
    if (!json_is_array(lp) || !s->logprobs)
        lp = NULL;
    if (!s->job->stream) {
        qm_strbuf_puts(&s->text, text);
        if (lp && json_array_extend(s->logprobs, lp))
            return QM_ENOMEM;
        return 0;
    }
    if (!*text && !json_array_size(lp))
        return 0;   /* nothing a client could use */
    json_t *v = head(s, t, text);
    if (!v || json_object_set_new(v, "done", json_false()) ||
        (lp && json_object_set(v, "logprobs", lp))) {
        json_decref(v);
        return QM_ENOMEM;
    }
    qm_api_dump(v, "\n", out);
    json_decref(v);
    return 0;
}

int qm_api__ollama_done(struct qm_api_stream *s, const json_t *ev,
                        const struct qm_api_timing *t, struct qm_strbuf *out)
{
    const char *reason = json_string_value(json_object_get(ev, "done_reason"));
    json_t *ctx = json_object_get(ev, "context");
    bool raw = json_is_true(json_object_get(s->job->echo, "raw"));
    json_t *v = head(s, t, s->job->stream || !s->text.p ? "" : s->text.p);
    bool ok = v && qm_api__set(v, "done", json_true()) &&
              qm_api__set(v, "done_reason", json_string(reason ? reason : "stop"));
    /* raw prompts return no context, as Ollama documents */
    if (ok && s->job->kind == QM_API_GENERATE && !raw && json_is_array(ctx))
        ok = json_object_set(v, "context", ctx) == 0;
    if (ok)
        ok = qm_api__set(v, "total_duration", json_integer(t ? t->total_duration_ns : 0)) &&
             qm_api__set(v, "load_duration", json_integer(t ? t->load_duration_ns : 0)) &&
             qm_api__set(v, "prompt_eval_count", json_integer(qm_api__ev_int(ev, "prompt_eval_count"))) &&
             qm_api__set(v, "prompt_eval_duration",
                         json_integer(qm_api__ev_int(ev, "prompt_eval_duration"))) &&
             qm_api__set(v, "eval_count", json_integer(qm_api__ev_int(ev, "eval_count"))) &&
             qm_api__set(v, "eval_duration", json_integer(qm_api__ev_int(ev, "eval_duration")));
    if (ok && !s->job->stream && s->logprobs)
        ok = json_object_set(v, "logprobs", s->logprobs) == 0;
    if (!ok) {
        json_decref(v);
        return QM_ENOMEM;
    }
    qm_api_dump(v, s->job->stream ? "\n" : NULL, out);
    json_decref(v);
    return 1;
}

int qm_api__ollama_embedding(struct qm_api_stream *s, const json_t *ev,
                             const struct qm_api_timing *t, struct qm_strbuf *out)
{
    bool legacy = s->job->kind == QM_API_EMBEDDINGS;
    /* /api/embed returns unit vectors; the legacy endpoint the raw one */
    json_t *vecs = qm_api__embeddings(ev, !legacy,
                                      json_integer_value(json_object_get(s->job->echo, "dimensions")));
    if (!vecs)
        return QM_EINVAL;
    json_t *v;
    if (legacy) {
        json_t *first = json_array_get(vecs, 0);
        v = json_pack("{s:o}", "embedding", first ? json_incref(first) : json_array());
    } else {
        v = json_pack("{s:s, s:O, s:I, s:I, s:I}", "model", s->model, "embeddings", vecs,
                      "total_duration", (json_int_t)(t ? t->total_duration_ns : 0),
                      "load_duration", (json_int_t)(t ? t->load_duration_ns : 0),
                      "prompt_eval_count", (json_int_t)qm_api__ev_int(ev, "prompt_eval_count"));
    }
    json_decref(vecs);
    if (!v)
        return QM_ENOMEM;
    qm_api_dump(v, NULL, out);
    json_decref(v);
    return 1;
}

void qm_api__ollama_stream_error(const char *msg, struct qm_strbuf *out)
{
    json_t *v = json_pack("{s:s}", "error", msg);
    qm_api_dump(v, "\n", out);
    json_decref(v);
}
