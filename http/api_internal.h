/* api_internal.h - what the api_*.c files share and nobody else needs.
 *
 * Field readers follow one convention: JSON null counts as absent (as Go's
 * pointer fields read it), a present value of the wrong type or range fails
 * with a message that names the field ("options.top_k", "messages[2].role"),
 * and every reader returns 0 or -1. */
#ifndef QM_HTTP_API_INTERNAL_H
#define QM_HTTP_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"

/* The body as a JSON object, or NULL with err set. */
json_t *qm_api__parse_object(const char *body, size_t len, struct qm_err *err);

/* A field's value, NULL when absent or null. */
json_t *qm_api__field(const json_t *obj, const char *key);

int qm_api__get_string(const json_t *obj, const char *key, const char *name,
                       const char **out, struct qm_err *err);
int qm_api__get_bool(const json_t *obj, const char *key, const char *name,
                     bool *out, struct qm_err *err);
/* An integer in [min, max]; a real with an integral value counts (clients in
 * JavaScript send 40.0).  *present says whether the field was there. */
int qm_api__get_int(const json_t *obj, const char *key, const char *name,
                    int64_t min, int64_t max, int64_t *out, bool *present,
                    struct qm_err *err);
/* As above for a value already in hand. */
int qm_api__int_value(const json_t *v, const char *name, int64_t min, int64_t max,
                      int64_t *out, struct qm_err *err);
/* A finite number in [min, max]. */
int qm_api__real_value(const json_t *v, const char *name, double min, double max,
                       double *out, struct qm_err *err);

/* "model" (or, with alt, alt too): a non-empty string, malloc'd copy. */
int qm_api__get_model(const json_t *obj, const char *alt, char **out, struct qm_err *err);

/* Decode Ollama "options" (or Modelfile parameters) into job: runner options
 * go into opts (a JSON object), the load-time ones into the job's fields.
 * prefix names the object in messages ("options"). */
int qm_api__decode_options(const json_t *options, const char *prefix, json_t *opts,
                           struct qm_api_job *job, struct qm_err *err);
/* Type-check one Ollama option; 1 when it is a runner option, 0 a load-time
 * or ignored one, -1 a bad value, -2 an unknown name.  *norm receives the
 * value to store (a new reference) for runner options. */
int qm_api__check_option(const char *key, const json_t *v, const char *prefix,
                         json_t **norm, struct qm_err *err);

/* "format": "json", a schema object, "" or absent. */
int qm_api__get_format(const json_t *obj, json_t *runner, struct qm_err *err);

/* logprobs (bool) and top_logprobs (0..20) into the runner job and echo. */
int qm_api__get_logprobs(const json_t *req, struct qm_api_job *job, struct qm_err *err);

/* The per-API request readers behind qm_api_decode. */
int qm_api__decode_ollama(enum qm_api_kind kind, const json_t *req, struct qm_api_job *job,
                          struct qm_err *err);
int qm_api__decode_openai(enum qm_api_kind kind, const json_t *req, struct qm_api_job *job,
                          struct qm_err *err);

/* keep_alive into job (absent: has_keep_alive stays false). */
int qm_api__get_keep_alive(const json_t *obj, struct qm_api_job *job, struct qm_err *err);

/* Set a key, stealing the reference; false when out of memory. */
bool qm_api__set(json_t *obj, const char *key, json_t *v);

/* RFC 3339 in UTC with nanoseconds: "2024-05-01T12:00:00.123456789Z". */
void qm_api__rfc3339(int64_t unix_ns, char out[64]);
/* t->now_ns, or the wall clock when t is NULL or says 0. */
int64_t qm_api__now_ns(const struct qm_api_timing *t);

/* Standard base64 (with padding) of n bytes, appended to out. */
void qm_api__base64(const unsigned char *p, size_t n, struct qm_strbuf *out);

/* prefix followed by 24 random letters and digits, into out (>= strlen(prefix)+25). */
void qm_api__random_id(const char *prefix, char *out, size_t cap);

/* Encoders of each API (api_ollama_stream.c, api_openai_stream.c) work on
 * the shared state below. */
struct qm_api_stream {
    const struct qm_api_job *job;
    const char *model;          /* echo "model" */
    char id[64];
    int64_t created;            /* OpenAI "created": Unix seconds of the first event */
    bool emitted;               /* bytes have gone out: errors must go in-band */
    bool headers_sent;
    bool finished;
    int status;                 /* 200, or the error status of an early fail */
    struct qm_strbuf text;      /* the whole answer, for non-streamed responses */
    json_t *logprobs;           /* every token's logprobs (array), when asked */
    int64_t text_offset;        /* /v1/completions: characters so far */
};

/* Per-API encoders of token / done / embedding; fail is handled in common. */
int qm_api__ollama_token(struct qm_api_stream *s, const json_t *ev,
                         const struct qm_api_timing *t, struct qm_strbuf *out);
int qm_api__ollama_done(struct qm_api_stream *s, const json_t *ev,
                        const struct qm_api_timing *t, struct qm_strbuf *out);
int qm_api__ollama_embedding(struct qm_api_stream *s, const json_t *ev,
                             const struct qm_api_timing *t, struct qm_strbuf *out);
void qm_api__ollama_stream_error(const char *msg, struct qm_strbuf *out);

int qm_api__openai_token(struct qm_api_stream *s, const json_t *ev,
                         const struct qm_api_timing *t, struct qm_strbuf *out);
int qm_api__openai_done(struct qm_api_stream *s, const json_t *ev,
                        const struct qm_api_timing *t, struct qm_strbuf *out);
int qm_api__openai_embedding(struct qm_api_stream *s, const json_t *ev,
                             const struct qm_api_timing *t, struct qm_strbuf *out);
void qm_api__openai_stream_error(int status, const char *msg, struct qm_strbuf *out);
const char *qm_api__openai_error_type(int status);

/* Embedding vectors as float32, L2-normalised and cut to dims (0: as they
 * are) when asked; a new array of arrays, NULL for a malformed event. */
json_t *qm_api__embeddings(const json_t *ev, bool normalize, int64_t dims);

/* An integer field of an event, 0 when absent. */
int64_t qm_api__ev_int(const json_t *ev, const char *key);

#endif
