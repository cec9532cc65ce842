/* api_ollama.c - Ollama's request bodies: /api/generate, /api/chat,
 * /api/embed and the legacy /api/embeddings.
 *
 * Fields follow Ollama's docs/api.md.  An empty prompt, message list or
 * input is Ollama's way to load (or, with keep_alive 0, unload) a model:
 * such a job is load_only and has no runner part.  "think" and "tools"
 * are accepted and ignored (qm has no thinking or tool-call parsing yet);
 * images are refused, since no supported architecture has a vision tower. */
#include "api_internal.h"

#include <string.h>

/* "images": absent, null or [] are fine; anything else is a request qm
 * cannot serve. */
static int no_images(const json_t *obj, const char *name, struct qm_err *err)
{
    json_t *im = qm_api__field(obj, "images");
    if (im && !(json_is_array(im) && json_array_size(im) == 0)) {
        qm_err_set(err, "\"%s\": images are not supported", name);
        return -1;
    }
    return 0;
}

/* Copy an optional string field into the runner job under the same key. */
static int copy_string(const json_t *req, const char *key, json_t *runner, struct qm_err *err)
{
    const char *s = NULL;
    if (qm_api__get_string(req, key, key, &s, err))
        return -1;
    if (s && *s && !qm_api__set(runner, key, json_string(s)))
        return -1;
    return 0;
}

static int decode_context(const json_t *req, json_t *runner, struct qm_err *err)
{
    json_t *ctx = qm_api__field(req, "context");
    if (!ctx)
        return 0;
    if (!json_is_array(ctx)) {
        qm_err_set(err, "\"context\" must be an array of token ids");
        return -1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(ctx, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) < 0 ||
            json_integer_value(e) > INT32_MAX) {
            qm_err_set(err, "\"context[%zu]\" must be a token id", i);
            return -1;
        }
    }
    if (json_array_size(ctx) && !qm_api__set(runner, "context", json_deep_copy(ctx)))
        return -1;
    return 0;
}

static int decode_generate(const json_t *req, struct qm_api_job *job, struct qm_err *err)
{
    json_t *r = job->runner;
    const char *prompt = NULL;
    bool raw = false;
    if (qm_api__get_string(req, "prompt", "prompt", &prompt, err) ||
        qm_api__get_bool(req, "raw", "raw", &raw, err) || no_images(req, "images", err) ||
        copy_string(req, "suffix", r, err) || copy_string(req, "system", r, err) ||
        copy_string(req, "template", r, err) || decode_context(req, r, err))
        return -1;
    if (!prompt || !*prompt) {
        job->load_only = true;
        return 0;
    }
    if (!qm_api__set(r, "prompt", json_string(prompt)))
        return -1;
    if (raw && (!qm_api__set(r, "raw", json_true()) || !qm_api__set(job->echo, "raw", json_true())))
        return -1;
    return 0;
}

static int decode_messages(const json_t *req, struct qm_api_job *job, struct qm_err *err)
{
    json_t *msgs = qm_api__field(req, "messages");
    if (!msgs || (json_is_array(msgs) && json_array_size(msgs) == 0)) {
        job->load_only = true;
        return 0;
    }
    if (!json_is_array(msgs)) {
        qm_err_set(err, "\"messages\" must be an array");
        return -1;
    }
    json_t *out = json_array();
    if (!qm_api__set(job->runner, "messages", out))
        return -1;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        char name[64];
        const char *role = NULL, *content = "";
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
        snprintf(name, sizeof name, "messages[%zu].content", i);
        if (qm_api__get_string(m, "content", name, &content, err))
            return -1;
        snprintf(name, sizeof name, "messages[%zu].images", i);
        if (no_images(m, name, err))
            return -1;
        if (json_array_append_new(out, json_pack("{s:s, s:s}", "role", role, "content",
                                                 content ? content : "")))
            return -1;
    }
    return 0;
}

static int decode_embed_input(const json_t *req, struct qm_api_job *job, struct qm_err *err)
{
    json_t *in = qm_api__field(req, "input");
    json_t *list = NULL;
    if (!in || (json_is_string(in) && !*json_string_value(in)) ||
        (json_is_array(in) && json_array_size(in) == 0)) {
        job->load_only = true;
        return 0;
    }
    if (json_is_string(in)) {
        list = json_pack("[o]", json_deep_copy(in));
    } else if (json_is_array(in)) {
        size_t i;
        json_t *e;
        json_array_foreach(in, i, e) {
            if (!json_is_string(e)) {
                qm_err_set(err, "\"input[%zu]\" must be a string", i);
                return -1;
            }
        }
        list = json_deep_copy(in);
    } else {
        qm_err_set(err, "\"input\" must be a string or an array of strings");
        return -1;
    }
    if (!qm_api__set(job->runner, "input", list))
        return -1;

    bool truncate = true;
    int64_t dims = 0;
    bool has_dims = false;
    if (qm_api__get_bool(req, "truncate", "truncate", &truncate, err) ||
        qm_api__get_int(req, "dimensions", "dimensions", 1, 1 << 20, &dims, &has_dims, err))
        return -1;
    if (!qm_api__set(job->runner, "truncate", json_boolean(truncate)))
        return -1;
    if (has_dims && (!qm_api__set(job->runner, "dimensions", json_integer(dims)) ||
                     !qm_api__set(job->echo, "dimensions", json_integer(dims))))
        return -1;
    return 0;
}

static int decode_embeddings(const json_t *req, struct qm_api_job *job, struct qm_err *err)
{
    const char *prompt = NULL;
    if (qm_api__get_string(req, "prompt", "prompt", &prompt, err))
        return -1;
    if (!prompt || !*prompt) {
        job->load_only = true;
        return 0;
    }
    if (!qm_api__set(job->runner, "input", json_pack("[s]", prompt)) ||
        !qm_api__set(job->runner, "truncate", json_true()))
        return -1;
    return 0;
}

int qm_api__decode_ollama(enum qm_api_kind kind, const json_t *req, struct qm_api_job *job,
                          struct qm_err *err)
{
    bool embed = kind == QM_API_EMBED || kind == QM_API_EMBEDDINGS;
    job->stream = !embed;
    if (qm_api__get_model(req, NULL, &job->model, err) ||
        !qm_api__set(job->echo, "model", json_string(job->model)) ||
        qm_api__get_keep_alive(req, job, err))
        return -1;
    if (!embed && qm_api__get_bool(req, "stream", "stream", &job->stream, err))
        return -1;

    job->runner = json_pack("{s:s}", "op", embed ? "embed" : "completion");
    json_t *opts = embed ? NULL : json_object();
    if (!job->runner || (!embed && !qm_api__set(job->runner, "options", opts)))
        return -1;
    if (qm_api__decode_options(qm_api__field(req, "options"), "options", opts, job, err))
        return -1;

    int rc;
    switch (kind) {
    case QM_API_GENERATE:
        rc = decode_generate(req, job, err);
        break;
    case QM_API_CHAT:
        rc = decode_messages(req, job, err);
        break;
    case QM_API_EMBED:
        rc = decode_embed_input(req, job, err);
        break;
    default:
        rc = decode_embeddings(req, job, err);
        break;
    }
    if (rc)
        return -1;
    if (!embed && (qm_api__get_format(req, job->runner, err) ||
                   qm_api__get_logprobs(req, job, err)))
        return -1;
    if (job->load_only) {
        json_decref(job->runner);
        job->runner = NULL;
    }
    return 0;
}
