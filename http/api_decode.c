/* api_decode.c - qm_api_decode: the parts every generation request shares.
 *
 * The per-API readers (api_ollama.c, api_openai.c) fill a job whose
 * runner and echo objects already exist; this file makes them, maps a
 * failure to its status, and leaves nothing behind on error. */
#include "api_internal.h"

#include <stdlib.h>
#include <string.h>

int qm_api_decode(enum qm_api_kind kind, const char *body, size_t len,
                  struct qm_api_job *out, struct qm_err *err)
{
    struct qm_err local;
    if (!err)
        err = &local;
    err->msg[0] = '\0';
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->num_gpu = -1;

    json_t *req = qm_api__parse_object(body, len, err);
    if (!req)
        return 400;
    out->echo = json_object();
    int rc = -1;
    if (out->echo) {
        switch (kind) {
        case QM_API_GENERATE:
        case QM_API_CHAT:
        case QM_API_EMBED:
        case QM_API_EMBEDDINGS:
            rc = qm_api__decode_ollama(kind, req, out, err);
            break;
        case QM_API_OAI_CHAT:
        case QM_API_OAI_COMPLETION:
        case QM_API_OAI_EMBED:
            rc = qm_api__decode_openai(kind, req, out, err);
            break;
        default:
            qm_err_set(err, "unknown request kind");
            break;
        }
    }
    json_decref(req);
    if (rc == 0)
        return 0;
    qm_api_job_free(out);
    if (err->msg[0] == '\0') {   /* a reader only stays silent when memory ran out */
        qm_err_set(err, "out of memory");
        return 500;
    }
    return 400;
}

void qm_api_job_free(struct qm_api_job *job)
{
    if (!job)
        return;
    free(job->model);
    json_decref(job->runner);
    json_decref(job->echo);
    job->model = NULL;
    job->runner = NULL;
    job->echo = NULL;
}

/* logprobs / top_logprobs as Ollama's and OpenAI chat's requests carry them. */
int qm_api__get_logprobs(const json_t *req, struct qm_api_job *job, struct qm_err *err)
{
    bool lp = false;
    int64_t top = 0;
    if (qm_api__get_bool(req, "logprobs", "logprobs", &lp, err) ||
        qm_api__get_int(req, "top_logprobs", "top_logprobs", 0, 20, &top, NULL, err))
        return -1;
    if (!lp)
        return 0;
    if (!qm_api__set(job->runner, "logprobs", json_true()) ||
        !qm_api__set(job->runner, "top_logprobs", json_integer(top)) ||
        !qm_api__set(job->echo, "logprobs", json_true()) ||
        !qm_api__set(job->echo, "top_logprobs", json_integer(top)))
        return -1;
    return 0;
}
