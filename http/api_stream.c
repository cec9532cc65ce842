/* api_stream.c - the per-request encoder: dispatch of runner events to the
 * API's encoder, failures, status and content type, error bodies, and the
 * answer to a load-only request.
 *
 * A failure is the one event whose form depends on what came before: while
 * nothing was sent the client gets a plain error body with the failure's
 * status (a 400 for a prompt too long reads better as a 400 than as a 200
 * carrying an error line); after that only the stream's in-band error form
 * is left. */
#include "api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_openai(enum qm_api_kind k)
{
    return k == QM_API_OAI_CHAT || k == QM_API_OAI_COMPLETION || k == QM_API_OAI_EMBED;
}

static bool is_embed(enum qm_api_kind k)
{
    return k == QM_API_EMBED || k == QM_API_EMBEDDINGS || k == QM_API_OAI_EMBED;
}

struct qm_api_stream *qm_api_stream_new(const struct qm_api_job *job, const char *id)
{
    struct qm_api_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->job = job;
    s->status = 200;
    s->model = json_string_value(json_object_get(job->echo, "model"));
    if (!s->model)
        s->model = job->model ? job->model : "";
    if (id)
        snprintf(s->id, sizeof s->id, "%s", id);
    else
        qm_api__random_id(job->kind == QM_API_OAI_COMPLETION ? "cmpl-" : "chatcmpl-", s->id,
                          sizeof s->id);
    if (json_is_true(json_object_get(job->echo, "logprobs")) && !(s->logprobs = json_array())) {
        free(s);
        return NULL;
    }
    return s;
}

void qm_api_stream_free(struct qm_api_stream *s)
{
    if (!s)
        return;
    free(s->text.p);
    json_decref(s->logprobs);
    free(s);
}

void qm_api_stream_headers_sent(struct qm_api_stream *s)
{
    s->headers_sent = true;
}

int qm_api_stream_status(const struct qm_api_stream *s)
{
    return s->status;
}

const char *qm_api_stream_content_type(const struct qm_api_stream *s)
{
    if (s->status != 200)
        return "application/json";
    return qm_api_content_type(s->job);
}

const char *qm_api_content_type(const struct qm_api_job *job)
{
    if (!job->stream)
        return "application/json";
    return is_openai(job->kind) ? "text/event-stream" : "application/x-ndjson";
}

static int on_fail(struct qm_api_stream *s, const json_t *ev, struct qm_strbuf *out)
{
    const char *msg = json_string_value(json_object_get(ev, "error"));
    int status = (int)qm_api__ev_int(ev, "status");
    if (!msg)
        msg = "the request failed";
    if (status < 400 || status > 599)
        status = 500;
    if (!s->emitted && !s->headers_sent) {
        s->status = status;
        char *body = qm_api_error_body(s->job->kind, status, msg);
        if (!body)
            return QM_ENOMEM;
        qm_strbuf_puts(out, body);
        free(body);
    } else if (is_openai(s->job->kind)) {
        qm_api__openai_stream_error(status, msg, out);
    } else {
        qm_api__ollama_stream_error(msg, out);
    }
    return 1;
}

int qm_api_stream_event(struct qm_api_stream *s, const json_t *ev,
                        const struct qm_api_timing *t, struct qm_strbuf *out)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type || s->finished)
        return QM_EINVAL;
    if (!s->created)
        s->created = qm_api__now_ns(t) / 1000000000;
    size_t before = out->len;
    bool openai = is_openai(s->job->kind), embed = is_embed(s->job->kind);
    int rc;
    if (strcmp(type, "fail") == 0)
        rc = on_fail(s, ev, out);
    else if (embed && strcmp(type, "embedding") == 0)
        rc = openai ? qm_api__openai_embedding(s, ev, t, out)
                    : qm_api__ollama_embedding(s, ev, t, out);
    else if (!embed && strcmp(type, "token") == 0)
        rc = openai ? qm_api__openai_token(s, ev, t, out) : qm_api__ollama_token(s, ev, t, out);
    else if (!embed && strcmp(type, "done") == 0)
        rc = openai ? qm_api__openai_done(s, ev, t, out) : qm_api__ollama_done(s, ev, t, out);
    else
        return QM_EINVAL;
    if (out->oom || s->text.oom)
        return QM_ENOMEM;
    if (rc < 0)
        return rc;
    if (out->len > before)
        s->emitted = true;
    if (rc == 1)
        s->finished = true;
    return rc;
}

char *qm_api_error_body(enum qm_api_kind kind, int status, const char *msg)
{
    json_t *v;
    if (is_openai(kind))
        v = json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", msg, "type",
                      qm_api__openai_error_type(status), "param", "code");
    else
        v = json_pack("{s:s}", "error", msg);
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return s;
}

void qm_api_encode_load(const struct qm_api_job *job, const struct qm_api_timing *t,
                        struct qm_strbuf *out)
{
    char ts[64];
    qm_api__rfc3339(qm_api__now_ns(t), ts);
    const char *reason = job->has_keep_alive && job->keep_alive_ns == 0 ? "unload" : "load";
    json_t *v;
    switch (job->kind) {
    case QM_API_CHAT:
        v = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:b}", "model", job->model, "created_at", ts,
                      "message", "role", "assistant", "content", "", "done_reason", reason,
                      "done", 1);
        break;
    case QM_API_EMBED:
        v = json_pack("{s:s, s:[]}", "model", job->model, "embeddings");
        break;
    case QM_API_EMBEDDINGS:
        v = json_pack("{s:[]}", "embedding");
        break;
    default:
        v = json_pack("{s:s, s:s, s:s, s:b, s:s}", "model", job->model, "created_at", ts,
                      "response", "", "done", 1, "done_reason", reason);
        break;
    }
    qm_api_dump(v, job->stream ? "\n" : NULL, out);
    json_decref(v);
}
