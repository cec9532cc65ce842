/* api.h - the JSON of the HTTP API, without the transport.
 *
 * Pure functions over jansson values: the Ollama and OpenAI request bodies
 * become one runner job (common/runner_proto.h), and the runner's events
 * become the bytes each API streams back.  Nothing here touches a socket,
 * libuv or the store, so every function is testable on its own.
 *
 * A generation request's life, as the transport drives it:
 *
 *     struct qm_api_job job;
 *     int status = qm_api_decode(kind, body, len, &job, &err);
 *     if (status)  -> answer status with qm_api_error_body(kind, status, err.msg)
 *     if (job.load_only) -> load the model (or unload it: keep_alive 0), then
 *                           answer qm_api_encode_load(&job, &timing, &out)
 *     else: add "id" to job.runner, send it to a runner, and
 *         struct qm_api_stream *s = qm_api_stream_new(&job, NULL);
 *         for each runner event ev of this id:
 *             rc = qm_api_stream_event(s, ev, &timing, &out);
 *             send out's bytes (status qm_api_stream_status(s) and content
 *             type qm_api_stream_content_type(s) if nothing was sent yet);
 *             rc == 1: the response is complete.
 *     qm_api_stream_free(s); qm_api_job_free(&job);
 *
 * Errors the daemon meets itself once a request runs (the runner died, the
 * queue is full) are fed as the runner would send them:
 * {"type":"fail","error":"…","status":503}; the encoder then writes an error
 * body with that status while nothing was sent, or the API's in-stream
 * error form after that.
 *
 * Every function that appends to a struct qm_strbuf leaves the strbuf's
 * sticky oom/full flags to report failure; free its p with free(). */
#ifndef QM_HTTP_API_H
#define QM_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "strbuf.h"

/* ---- generation and embedding requests --------------------------------- */

enum qm_api_kind {
    QM_API_GENERATE,        /* POST /api/generate */
    QM_API_CHAT,            /* POST /api/chat */
    QM_API_EMBED,           /* POST /api/embed */
    QM_API_EMBEDDINGS,      /* POST /api/embeddings (legacy: one prompt, one vector) */
    QM_API_OAI_CHAT,        /* POST /v1/chat/completions */
    QM_API_OAI_COMPLETION,  /* POST /v1/completions */
    QM_API_OAI_EMBED,       /* POST /v1/embeddings */
};

/* The upper bound on a requested context length (num_ctx). */
#define QM_API_MAX_NUM_CTX (1 << 20)

struct qm_api_job {
    enum qm_api_kind kind;
    char *model;             /* as requested (malloc'd); never empty */
    bool stream;             /* Ollama: default true; OpenAI: default false */
    bool has_keep_alive;
    int64_t keep_alive_ns;   /* when has_keep_alive: < 0 forever, 0 unload now */
    int32_t num_ctx;         /* 0: unset */
    int32_t num_gpu;         /* layers on the GPU; -1: unset (the manager picks) */
    int32_t num_thread;      /* 0: unset */
    int32_t num_batch;       /* 0: unset */
    bool include_usage;      /* OpenAI stream_options.include_usage (streams only) */
    /* Ollama's empty prompt / messages / input: load the model and answer
     * done_reason "load" (or "unload" when keep_alive is 0); runner is NULL. */
    bool load_only;
    /* The runner job of runner_proto.h without "id": op "completion" with
     * prompt|tokens|messages, system, template, raw, suffix, options,
     * logit_bias, logprobs, top_logprobs, format, context; or op "embed" with
     * input, truncate, dimensions (and "tokens":[[ids…],…] for OpenAI token
     * inputs, in place of "input"). */
    json_t *runner;
    /* What the encoders need from the request: "model" (echoed back as
     * requested), "raw", "logprobs", "top_logprobs", "encoding_format",
     * "dimensions". */
    json_t *echo;
};

/* Decode a request body of this kind.  Returns 0, or 400 with err naming
 * the field at fault (500 only when memory ran out; out is then left empty).  Unknown top-level fields and
 * unknown option names are ignored (the latter with a warning in the log),
 * as Ollama does; a wrong type or an out-of-range value is refused. */
int qm_api_decode(enum qm_api_kind kind, const char *body, size_t len,
                  struct qm_api_job *out, struct qm_err *err);
void qm_api_job_free(struct qm_api_job *job);

/* Fill what the request left unset from a model's Modelfile parameters
 * ({"temperature":0.7,"stop":[…],"num_ctx":8192}, Ollama's params layer):
 * runner options and num_ctx/num_gpu/num_thread/num_batch.  Parameters of
 * the wrong type are skipped with a warning.  Returns 0 or QM_ENOMEM. */
int qm_api_job_apply_params(struct qm_api_job *job, const json_t *params);

/* keep_alive as the APIs take it: a number of seconds, or a string holding a
 * Go duration ("5m", "1h30m", "-1s", "1.5h") or a plain number of seconds
 * ("300", "-1").  Anything negative means forever (*ns = -1).  Returns 0 or
 * 400 with a message naming "keep_alive". */
int qm_api_parse_keep_alive(const json_t *v, int64_t *ns, struct qm_err *err);
/* The string form alone (also for QM_KEEP_ALIVE); 0 or QM_EINVAL. */
int qm_api_parse_duration(const char *s, int64_t *ns);

/* ---- responses to generation and embedding requests --------------------- */

/* Times the daemon measured; the encoders only print them. */
struct qm_api_timing {
    int64_t now_ns;             /* wall clock (Unix ns) for created_at; 0: read it */
    int64_t total_duration_ns;  /* from the request's arrival to now */
    int64_t load_duration_ns;   /* time this request waited for the model to load */
};

/* Per-request encoder state: the accumulated text and logprobs of a
 * non-streamed answer, the OpenAI id and created time, text offsets. */
struct qm_api_stream;

/* id: the OpenAI response id ("chatcmpl-…", "cmpl-…"); NULL picks a random
 * one.  The job must outlive the stream.  NULL when out of memory. */
struct qm_api_stream *qm_api_stream_new(const struct qm_api_job *job, const char *id);
void qm_api_stream_free(struct qm_api_stream *s);

/* Encode one runner event (token, done, embedding or fail) and append the
 * bytes to send to out (possibly none: a non-streamed answer is written
 * whole at done).  Returns 0 while more events are due, 1 once the response
 * is complete, QM_EINVAL for an event this kind does not expect (out
 * untouched), QM_ENOMEM. */
int qm_api_stream_event(struct qm_api_stream *s, const json_t *ev,
                        const struct qm_api_timing *t, struct qm_strbuf *out);

/* Tell the encoder the transport has sent the status line (for instance to
 * keep a client waiting through a long load): a later fail must then be
 * written in the stream's own error form. */
void qm_api_stream_headers_sent(struct qm_api_stream *s);
/* 200, or a fail's status (default 500) when it came before any output. */
int qm_api_stream_status(const struct qm_api_stream *s);
/* "application/x-ndjson", "text/event-stream" or "application/json". */
const char *qm_api_stream_content_type(const struct qm_api_stream *s);

/* The answer to a load_only job: the done object with done_reason "load", or
 * "unload" when keep_alive is 0 (/api/embed: no vectors; /api/embeddings:
 * an empty one).  Content type: qm_api_content_type(job). */
void qm_api_encode_load(const struct qm_api_job *job, const struct qm_api_timing *t,
                        struct qm_strbuf *out);
/* The content type of a successful response to this job. */
const char *qm_api_content_type(const struct qm_api_job *job);

/* An error body before anything was streamed.  Ollama: {"error":"msg"};
 * OpenAI: {"error":{"message","type","param":null,"code":null}} with type
 * invalid_request_error (400), not_found_error (404) or api_error.  The
 * management endpoints take QM_API_GENERATE's (Ollama's) form.  Returns a
 * malloc'd NUL-terminated string, NULL when out of memory. */
char *qm_api_error_body(enum qm_api_kind kind, int status, const char *msg);

/* ---- the other endpoints: plain C data in, JSON out --------------------- */

struct qm_api_details {
    const char *parent_model;        /* NULL: "" */
    const char *format;              /* "gguf" */
    const char *family;
    const char *const *families;     /* n_families of them; NULL/0: [family] */
    size_t n_families;
    const char *parameter_size;      /* "7.6B" */
    const char *quantization_level;  /* "Q4_K_M" */
};

struct qm_api_model {
    const char *name;        /* "qwen2:7b" */
    const char *model;       /* NULL: name */
    int64_t modified_at_ns;  /* Unix ns */
    uint64_t size;           /* bytes */
    const char *digest;      /* hex, without "sha256:" (Ollama's /api/tags form) */
    struct qm_api_details details;
    /* /api/ps only: */
    int64_t expires_at_ns;   /* Unix ns */
    uint64_t size_vram;
    int64_t context_length;
};

/* Each returns a new reference, NULL when out of memory. */
json_t *qm_api_tags_json(const struct qm_api_model *m, size_t n);     /* {"models":[…]} */
json_t *qm_api_ps_json(const struct qm_api_model *m, size_t n);       /* {"models":[…]} */
json_t *qm_api_oai_models_json(const struct qm_api_model *m, size_t n); /* {"object":"list",…} */
json_t *qm_api_oai_model_json(const struct qm_api_model *m);          /* /v1/models/{id} */
json_t *qm_api_version_json(const char *version);

struct qm_api_show {
    const char *modelfile, *parameters, *template, *system, *license;  /* NULL: left out */
    struct qm_api_details details;
    const json_t *model_info;   /* {"general.architecture":…}; NULL: {} */
    const char *const *capabilities;  /* NULL/0: ["completion"] */
    size_t n_capabilities;
    int64_t modified_at_ns;
};
json_t *qm_api_show_json(const struct qm_api_show *s);

/* Serialise a response object compactly (reals with 9 significant digits,
 * enough for a float32), appending optional suffix ("\n" for NDJSON). */
void qm_api_dump(const json_t *v, const char *suffix, struct qm_strbuf *out);

/* ---- bodies of the management endpoints -------------------------------- */

enum qm_api_manage_kind {
    QM_API_SHOW,     /* {model|name, verbose} */
    QM_API_COPY,     /* {source, destination} */
    QM_API_DELETE,   /* {model|name} */
    QM_API_PULL,     /* {model|name, insecure, stream} */
    QM_API_PUSH,     /* {model|name, insecure, stream} */
    QM_API_CREATE,   /* {model|name, from, files, template, system, parameters,
                        license, quantize, messages, modelfile, stream} */
};

struct qm_api_manage {
    enum qm_api_manage_kind kind;
    char *model;                  /* model|name; copy: the source */
    char *destination;            /* copy */
    bool verbose, insecure;
    bool stream;                  /* default true */
    /* create (each NULL when absent): */
    char *from, *template, *system, *quantize, *modelfile;
    json_t *license;              /* an array of strings (a string is wrapped) */
    json_t *files;                /* {"name.gguf":"sha256:<hex>"} */
    json_t *parameters;           /* Modelfile parameters, type-checked */
    json_t *messages;             /* [{"role","content"}] */
};

/* Returns 0 or 400 with err naming the field (500: out of memory; out is
 * left empty either way). */
int qm_api_decode_manage(enum qm_api_manage_kind kind, const char *body, size_t len,
                         struct qm_api_manage *out, struct qm_err *err);
void qm_api_manage_free(struct qm_api_manage *m);

#endif
