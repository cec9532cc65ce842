/* test_api_codec.c - the HTTP API's JSON codecs (http/api.h).
 *
 * Requests of every endpoint decode into the runner job the runner expects;
 * each class of bad input is a 400 whose message names the field; runner
 * events encode into what each API streams, checked by parsing the bytes
 * back (NDJSON line by line, SSE frame by frame). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "api.h"

/* ---- helpers ---------------------------------------------------------------- */

static void decode_ok(enum qm_api_kind kind, const char *body, struct qm_api_job *job)
{
    struct qm_err err = {{0}};
    int st = qm_api_decode(kind, body, strlen(body), job, &err);
    if (st != 0)
        fail_msg("decode of %s: %d %s", body, st, err.msg);
}

static void decode_bad(enum qm_api_kind kind, const char *body, const char *want)
{
    struct qm_err err = {{0}};
    struct qm_api_job job;
    int st = qm_api_decode(kind, body, strlen(body), &job, &err);
    if (st != 400)
        fail_msg("decode of %s: status %d, wanted 400", body, st);
    if (!strstr(err.msg, want))
        fail_msg("decode of %s: message \"%s\" does not name %s", body, err.msg, want);
    assert_null(job.runner);
    assert_null(job.model);
}

static json_t *opt(const struct qm_api_job *job, const char *key)
{
    return json_object_get(json_object_get(job->runner, "options"), key);
}

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s)
        fail_msg("no string \"%s\"", key);
    return s;
}

static json_t *parse(const char *s, size_t n)
{
    json_error_t e;
    json_t *v = json_loadb(s, n, 0, &e);
    if (!v)
        fail_msg("not JSON (%s): %.*s", e.text, (int)n, s);
    return v;
}

static json_t *pj(const char *s)
{
    return parse(s, strlen(s));
}

/* Feed one event given as JSON text; returns the encoder's result. */
static int feed(struct qm_api_stream *s, const char *ev, struct qm_strbuf *out)
{
    struct qm_api_timing t = {.now_ns = 1700000000123456789LL, .total_duration_ns = 5000,
                              .load_duration_ns = 700};
    json_t *v = parse(ev, strlen(ev));
    int rc = qm_api_stream_event(s, v, &t, out);
    json_decref(v);
    return rc;
}

/* Split NDJSON into parsed lines; every line must end in "\n". */
static size_t ndjson(const struct qm_strbuf *b, json_t **lines, size_t max)
{
    size_t n = 0, i = 0;
    while (b->p && i < b->len) {
        const char *nl = memchr(b->p + i, '\n', b->len - i);
        assert_non_null(nl);
        assert_true(n < max);
        lines[n++] = parse(b->p + i, (size_t)(nl - (b->p + i)));
        i = (size_t)(nl - b->p) + 1;
    }
    return n;
}

/* Split SSE into frames: each "data: X\n\n"; X is JSON or [DONE] (NULL). */
static size_t sse(const struct qm_strbuf *b, json_t **frames, size_t max, bool *done_last)
{
    size_t n = 0, i = 0;
    *done_last = false;
    while (b->p && i < b->len) {
        assert_memory_equal(b->p + i, "data: ", 6);
        i += 6;
        const char *end = strstr(b->p + i, "\n\n");
        assert_non_null(end);
        assert_true(n < max);
        size_t len = (size_t)(end - (b->p + i));
        *done_last = len == 6 && memcmp(b->p + i, "[DONE]", 6) == 0;
        frames[n++] = *done_last ? NULL : parse(b->p + i, len);
        i += len + 2;
    }
    return n;
}

static void free_all(json_t **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(v[i]);
}

static void check_created_at(const json_t *v)
{
    /* 2023-11-14T22:13:20.123456789Z: RFC 3339, UTC, nanoseconds */
    assert_string_equal(str(v, "created_at"), "2023-11-14T22:13:20.123456789Z");
}

/* ---- decoding: happy paths --------------------------------------------------- */

static void generate_full(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_GENERATE,
              "{\"model\":\"qwen2:0.5b\",\"prompt\":\"Why?\",\"suffix\":\"end\",\"system\":\"be brief\","
              "\"template\":\"{{ .Prompt }}\",\"context\":[1,2,3],\"raw\":true,\"format\":\"json\","
              "\"keep_alive\":\"10m\",\"logprobs\":true,\"top_logprobs\":3,\"think\":false,"
              "\"unknown_field\":{\"x\":1},\"images\":[],"
              "\"options\":{\"temperature\":0.5,\"top_k\":40.0,\"top_p\":0.9,\"min_p\":0.05,"
              "\"typical_p\":1,\"repeat_last_n\":-1,\"repeat_penalty\":1.1,\"presence_penalty\":-0.5,"
              "\"frequency_penalty\":0.2,\"seed\":42,\"num_predict\":-2,\"stop\":[\"\\n\",\"user:\"],"
              "\"num_keep\":5,\"num_ctx\":8192,\"num_gpu\":10,\"num_thread\":4,\"num_batch\":256,"
              "\"mirostat\":0,\"use_mmap\":true,\"not_an_option\":7,\"seed_typo\":\"x\"}}",
              &job);
    assert_int_equal(job.kind, QM_API_GENERATE);
    assert_string_equal(job.model, "qwen2:0.5b");
    assert_true(job.stream);
    assert_false(job.load_only);
    assert_true(job.has_keep_alive);
    assert_int_equal(job.keep_alive_ns, 600000000000LL);
    assert_int_equal(job.num_ctx, 8192);
    assert_int_equal(job.num_gpu, 10);
    assert_int_equal(job.num_thread, 4);
    assert_int_equal(job.num_batch, 256);
    json_t *r = job.runner;
    assert_string_equal(str(r, "op"), "completion");
    assert_null(json_object_get(r, "id"));
    assert_string_equal(str(r, "prompt"), "Why?");
    assert_string_equal(str(r, "suffix"), "end");
    assert_string_equal(str(r, "system"), "be brief");
    assert_string_equal(str(r, "template"), "{{ .Prompt }}");
    assert_true(json_is_true(json_object_get(r, "raw")));
    assert_string_equal(str(r, "format"), "json");
    assert_int_equal(json_array_size(json_object_get(r, "context")), 3);
    assert_true(json_is_true(json_object_get(r, "logprobs")));
    assert_int_equal(json_integer_value(json_object_get(r, "top_logprobs")), 3);
    assert_true(json_real_value(opt(&job, "temperature")) == 0.5);
    assert_true(json_is_integer(opt(&job, "top_k")));   /* 40.0 normalised */
    assert_int_equal(json_integer_value(opt(&job, "top_k")), 40);
    assert_int_equal(json_integer_value(opt(&job, "seed")), 42);
    assert_int_equal(json_integer_value(opt(&job, "num_predict")), -2);
    assert_int_equal(json_integer_value(opt(&job, "repeat_last_n")), -1);
    assert_int_equal(json_integer_value(opt(&job, "num_keep")), 5);
    assert_true(json_real_value(opt(&job, "presence_penalty")) == -0.5);
    assert_int_equal(json_array_size(opt(&job, "stop")), 2);
    /* load-time and unknown options stay out of the runner's options */
    assert_null(opt(&job, "num_ctx"));
    assert_null(opt(&job, "num_gpu"));
    assert_null(opt(&job, "mirostat"));
    assert_null(opt(&job, "not_an_option"));
    assert_int_equal(json_object_size(json_object_get(r, "options")), 13);
    assert_string_equal(str(job.echo, "model"), "qwen2:0.5b");
    qm_api_job_free(&job);
}

static void generate_defaults(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_GENERATE,
              "{\"model\":\"m\",\"prompt\":\"hi\",\"stream\":false,"
              "\"format\":{\"type\":\"object\",\"properties\":{\"age\":{\"type\":\"integer\"}}}}",
              &job);
    assert_false(job.stream);
    assert_false(job.has_keep_alive);
    assert_int_equal(job.num_ctx, 0);
    assert_int_equal(job.num_gpu, -1);
    assert_null(json_object_get(job.runner, "raw"));
    assert_null(json_object_get(job.runner, "logprobs"));
    assert_true(json_is_object(json_object_get(job.runner, "format")));
    assert_int_equal(json_object_size(json_object_get(job.runner, "options")), 0);
    qm_api_job_free(&job);

    /* format "" and null mean none; stop as a single string becomes a list */
    decode_ok(QM_API_GENERATE,
              "{\"model\":\"m\",\"prompt\":\"hi\",\"format\":\"\",\"options\":{\"stop\":\"###\","
              "\"temperature\":null}}", &job);
    assert_null(json_object_get(job.runner, "format"));
    assert_string_equal(json_string_value(json_array_get(opt(&job, "stop"), 0)), "###");
    assert_null(opt(&job, "temperature"));
    qm_api_job_free(&job);
}

static void chat_full(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_CHAT,
              "{\"model\":\"gemma2\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
              "{\"role\":\"user\",\"content\":\"hello\",\"images\":null},"
              "{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\"}}]},"
              "{\"role\":\"tool\",\"content\":\"42\"}],"
              "\"tools\":[{\"type\":\"function\"}],\"stream\":false,\"keep_alive\":-1,"
              "\"format\":{\"type\":\"object\"},\"options\":{\"num_ctx\":2048,\"temperature\":0}}",
              &job);
    assert_int_equal(job.kind, QM_API_CHAT);
    assert_false(job.stream);
    assert_int_equal(job.keep_alive_ns, -1);
    assert_int_equal(job.num_ctx, 2048);
    json_t *m = json_object_get(job.runner, "messages");
    assert_int_equal(json_array_size(m), 4);
    assert_string_equal(str(json_array_get(m, 1), "role"), "user");
    assert_string_equal(str(json_array_get(m, 1), "content"), "hello");
    assert_string_equal(str(json_array_get(m, 2), "content"), "");   /* content-less */
    assert_int_equal(json_object_size(json_array_get(m, 2)), 2);      /* tool_calls dropped */
    assert_null(json_object_get(job.runner, "tools"));
    assert_null(json_object_get(job.runner, "prompt"));
    assert_true(json_is_object(json_object_get(job.runner, "format")));
    assert_true(json_number_value(opt(&job, "temperature")) == 0);
    qm_api_job_free(&job);
}

static void load_only(void **state)
{
    (void)state;
    struct qm_api_job job;
    struct qm_strbuf out = {0};
    struct qm_api_timing t = {.now_ns = 1700000000123456789LL};

    decode_ok(QM_API_GENERATE, "{\"model\":\"m\"}", &job);
    assert_true(job.load_only);
    assert_null(job.runner);
    qm_api_encode_load(&job, &t, &out);
    assert_string_equal(qm_api_content_type(&job), "application/x-ndjson");
    json_t *v[4];
    assert_int_equal(ndjson(&out, v, 4), 1);
    assert_string_equal(str(v[0], "done_reason"), "load");
    assert_true(json_is_true(json_object_get(v[0], "done")));
    assert_string_equal(str(v[0], "response"), "");
    check_created_at(v[0]);
    free_all(v, 1);
    free(out.p);
    qm_api_job_free(&job);

    /* keep_alive 0: unload */
    memset(&out, 0, sizeof out);
    decode_ok(QM_API_CHAT, "{\"model\":\"m\",\"messages\":[],\"keep_alive\":0}", &job);
    assert_true(job.load_only);
    assert_true(job.has_keep_alive);
    assert_int_equal(job.keep_alive_ns, 0);
    qm_api_encode_load(&job, &t, &out);
    assert_int_equal(ndjson(&out, v, 4), 1);
    assert_string_equal(str(v[0], "done_reason"), "unload");
    assert_string_equal(str(json_object_get(v[0], "message"), "role"), "assistant");
    free_all(v, 1);
    free(out.p);
    qm_api_job_free(&job);

    /* embed: empty input; non-streamed, so no newline */
    memset(&out, 0, sizeof out);
    decode_ok(QM_API_EMBED, "{\"model\":\"e\",\"input\":[]}", &job);
    assert_true(job.load_only);
    qm_api_encode_load(&job, &t, &out);
    assert_string_equal(out.p, "{\"model\":\"e\",\"embeddings\":[]}");
    free(out.p);
    qm_api_job_free(&job);
}

static void embed_requests(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_EMBED,
              "{\"model\":\"e\",\"input\":\"one\",\"keep_alive\":\"1h\",\"options\":{\"num_ctx\":512,"
              "\"temperature\":0.1}}", &job);
    assert_false(job.stream);
    assert_int_equal(job.num_ctx, 512);
    assert_int_equal(job.keep_alive_ns, 3600000000000LL);
    assert_string_equal(str(job.runner, "op"), "embed");
    assert_string_equal(json_string_value(json_array_get(json_object_get(job.runner, "input"), 0)),
                        "one");
    assert_true(json_is_true(json_object_get(job.runner, "truncate")));   /* default */
    assert_null(json_object_get(job.runner, "options"));
    assert_null(json_object_get(job.runner, "dimensions"));
    qm_api_job_free(&job);

    decode_ok(QM_API_EMBED,
              "{\"model\":\"e\",\"input\":[\"a\",\"b\"],\"truncate\":false,\"dimensions\":64}", &job);
    assert_int_equal(json_array_size(json_object_get(job.runner, "input")), 2);
    assert_true(json_is_false(json_object_get(job.runner, "truncate")));
    assert_int_equal(json_integer_value(json_object_get(job.runner, "dimensions")), 64);
    qm_api_job_free(&job);

    decode_ok(QM_API_EMBEDDINGS, "{\"model\":\"e\",\"prompt\":\"legacy\"}", &job);
    assert_string_equal(json_string_value(json_array_get(json_object_get(job.runner, "input"), 0)),
                        "legacy");
    qm_api_job_free(&job);
    decode_ok(QM_API_EMBEDDINGS, "{\"model\":\"e\"}", &job);
    assert_true(job.load_only);
    qm_api_job_free(&job);
}

static void openai_chat_request(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_OAI_CHAT,
              "{\"model\":\"qwen\",\"messages\":[{\"role\":\"developer\",\"content\":\"sys\"},"
              "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"part one\"},"
              "{\"type\":\"text\",\"text\":\"part two\"}]},{\"role\":\"assistant\",\"content\":null}],"
              "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":50,"
              "\"seed\":7,\"stop\":\"END\",\"frequency_penalty\":0.5,\"presence_penalty\":0.25,"
              "\"logprobs\":true,\"top_logprobs\":2,\"logit_bias\":{\"15\":-100,\"7\":2.5},"
              "\"response_format\":{\"type\":\"json_object\"},\"n\":1,\"user\":\"u\","
              "\"tools\":[],\"tool_choice\":\"auto\"}",
              &job);
    assert_int_equal(job.kind, QM_API_OAI_CHAT);
    assert_true(job.stream);
    assert_true(job.include_usage);
    json_t *m = json_object_get(job.runner, "messages");
    assert_int_equal(json_array_size(m), 3);
    assert_string_equal(str(json_array_get(m, 0), "role"), "system");
    assert_string_equal(str(json_array_get(m, 1), "content"), "part one\npart two");
    assert_string_equal(str(json_array_get(m, 2), "content"), "");
    /* OpenAI's defaults, sent as Ollama's compatibility layer sends them */
    assert_true(json_real_value(opt(&job, "temperature")) == 1.0);
    assert_true(json_real_value(opt(&job, "top_p")) == 1.0);
    assert_int_equal(json_integer_value(opt(&job, "num_predict")), 50);
    assert_int_equal(json_integer_value(opt(&job, "seed")), 7);
    assert_string_equal(json_string_value(json_array_get(opt(&job, "stop"), 0)), "END");
    assert_true(json_real_value(opt(&job, "frequency_penalty")) == 0.5);
    assert_string_equal(str(job.runner, "format"), "json");
    assert_true(json_is_true(json_object_get(job.runner, "logprobs")));
    assert_int_equal(json_integer_value(json_object_get(job.runner, "top_logprobs")), 2);
    assert_true(json_number_value(json_object_get(json_object_get(job.runner, "logit_bias"), "15")) ==
                -100);
    qm_api_job_free(&job);

    /* max_completion_tokens wins; explicit temperature kept; json_schema */
    decode_ok(QM_API_OAI_CHAT,
              "{\"model\":\"q\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
              "\"max_tokens\":10,\"max_completion_tokens\":20,\"temperature\":0.2,"
              "\"stream_options\":{\"include_usage\":true},"
              "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\","
              "\"schema\":{\"type\":\"object\"}}}}", &job);
    assert_false(job.stream);
    assert_false(job.include_usage);   /* only meaningful for streams */
    assert_int_equal(json_integer_value(opt(&job, "num_predict")), 20);
    assert_true(json_real_value(opt(&job, "temperature")) == 0.2);
    assert_string_equal(str(json_object_get(job.runner, "format"), "type"), "object");
    assert_null(json_object_get(job.runner, "logprobs"));
    qm_api_job_free(&job);
}

static void openai_completion_request(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_OAI_COMPLETION,
              "{\"model\":\"q\",\"prompt\":\"def f():\",\"suffix\":\"return x\",\"logprobs\":2,"
              "\"echo\":false,\"best_of\":1}", &job);
    assert_string_equal(str(job.runner, "prompt"), "def f():");
    assert_string_equal(str(job.runner, "suffix"), "return x");
    assert_null(json_object_get(job.runner, "raw"));   /* templated, as in Ollama */
    assert_null(opt(&job, "num_predict"));             /* no default of 16 */
    assert_true(json_real_value(opt(&job, "temperature")) == 1.0);
    assert_int_equal(json_integer_value(json_object_get(job.runner, "top_logprobs")), 2);
    assert_false(job.stream);
    qm_api_job_free(&job);

    decode_ok(QM_API_OAI_COMPLETION, "{\"model\":\"q\",\"prompt\":[\"only\"]}", &job);
    assert_string_equal(str(job.runner, "prompt"), "only");
    qm_api_job_free(&job);

    decode_ok(QM_API_OAI_COMPLETION, "{\"model\":\"q\",\"prompt\":[1,2,3],\"max_tokens\":4}", &job);
    assert_null(json_object_get(job.runner, "prompt"));
    assert_int_equal(json_array_size(json_object_get(job.runner, "tokens")), 3);
    assert_int_equal(json_integer_value(opt(&job, "num_predict")), 4);
    qm_api_job_free(&job);

    decode_ok(QM_API_OAI_COMPLETION, "{\"model\":\"q\",\"prompt\":[[5,6]]}", &job);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(job.runner, "tokens"), 1)), 6);
    qm_api_job_free(&job);
}

static void openai_embed_request(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_OAI_EMBED, "{\"model\":\"e\",\"input\":\"x\"}", &job);
    assert_string_equal(str(job.runner, "op"), "embed");
    assert_int_equal(json_array_size(json_object_get(job.runner, "input")), 1);
    assert_string_equal(str(job.echo, "encoding_format"), "float");
    qm_api_job_free(&job);

    decode_ok(QM_API_OAI_EMBED,
              "{\"model\":\"e\",\"input\":[\"x\",\"y\"],\"encoding_format\":\"base64\",\"dimensions\":8}",
              &job);
    assert_int_equal(json_array_size(json_object_get(job.runner, "input")), 2);
    assert_string_equal(str(job.echo, "encoding_format"), "base64");
    assert_int_equal(json_integer_value(json_object_get(job.runner, "dimensions")), 8);
    qm_api_job_free(&job);

    decode_ok(QM_API_OAI_EMBED, "{\"model\":\"e\",\"input\":[1,2,3]}", &job);
    json_t *tok = json_object_get(job.runner, "tokens");
    assert_null(json_object_get(job.runner, "input"));
    assert_int_equal(json_array_size(tok), 1);
    assert_int_equal(json_array_size(json_array_get(tok, 0)), 3);
    qm_api_job_free(&job);

    decode_ok(QM_API_OAI_EMBED, "{\"model\":\"e\",\"input\":[[1],[2,3]]}", &job);
    tok = json_object_get(job.runner, "tokens");
    assert_int_equal(json_array_size(tok), 2);
    assert_int_equal(json_array_size(json_array_get(tok, 1)), 2);
    qm_api_job_free(&job);
}

/* ---- decoding: bad input ------------------------------------------------------ */

static void bad_requests(void **state)
{
    (void)state;
    static const struct { enum qm_api_kind kind; const char *body, *want; } CASES[] = {
        {QM_API_GENERATE, "", "missing request body"},
        {QM_API_GENERATE, "{\"model\":", "invalid JSON"},
        {QM_API_GENERATE, "[1,2]", "JSON object"},
        {QM_API_GENERATE, "{\"prompt\":\"x\"}", "\"model\" is required"},
        {QM_API_GENERATE, "{\"model\":\"\",\"prompt\":\"x\"}", "\"model\" is required"},
        {QM_API_GENERATE, "{\"model\":3}", "\"model\" must be a string"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"prompt\":5}", "\"prompt\""},
        {QM_API_GENERATE, "{\"model\":\"m\",\"stream\":\"yes\"}", "\"stream\""},
        {QM_API_GENERATE, "{\"model\":\"m\",\"raw\":1}", "\"raw\""},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":\"x\"}", "\"options\" must be an object"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"temperature\":\"hot\"}}",
         "\"options.temperature\" must be a number"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"temperature\":-1}}", "options.temperature"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"num_ctx\":-1}}", "options.num_ctx"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"num_ctx\":2000000}}", "options.num_ctx"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"num_ctx\":1e30}}", "options.num_ctx"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"num_predict\":-5}}", "options.num_predict"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"num_predict\":9999999999}}",
         "options.num_predict"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"top_k\":-1}}", "options.top_k"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"top_k\":1.5}}",
         "\"options.top_k\" must be an integer"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"top_k\":true}}", "options.top_k"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"top_p\":1.5}}", "options.top_p"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"stop\":[1]}}", "options.stop[0]"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"num_gpu\":\"all\"}}", "options.num_gpu"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"options\":{\"use_mmap\":3}}", "options.use_mmap"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"prompt\":\"x\",\"images\":[\"iVBOR\"]}",
         "images are not supported"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"format\":\"xml\"}", "\"format\""},
        {QM_API_GENERATE, "{\"model\":\"m\",\"format\":[1]}", "\"format\""},
        {QM_API_GENERATE, "{\"model\":\"m\",\"keep_alive\":\"bogus\"}", "keep_alive"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"keep_alive\":true}", "keep_alive"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"context\":[\"a\"]}", "context[0]"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"context\":5}", "\"context\""},
        {QM_API_GENERATE, "{\"model\":\"m\",\"logprobs\":true,\"top_logprobs\":21}", "top_logprobs"},
        {QM_API_GENERATE, "{\"model\":\"m\",\"logprobs\":\"yes\"}", "\"logprobs\""},
        {QM_API_CHAT, "{\"model\":\"m\",\"messages\":\"hi\"}", "\"messages\""},
        {QM_API_CHAT, "{\"model\":\"m\",\"messages\":[\"hi\"]}", "messages[0]"},
        {QM_API_CHAT, "{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "messages[0].role"},
        {QM_API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                      "{\"role\":\"user\",\"content\":5}]}", "messages[1].content"},
        {QM_API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\","
                      "\"images\":[\"x\"]}]}", "images are not supported"},
        {QM_API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
                      "\"options\":{\"repeat_penalty\":\"x\"}}", "options.repeat_penalty"},
        {QM_API_EMBED, "{\"model\":\"m\",\"input\":5}", "\"input\""},
        {QM_API_EMBED, "{\"model\":\"m\",\"input\":[\"a\",1]}", "input[1]"},
        {QM_API_EMBED, "{\"model\":\"m\",\"input\":\"a\",\"dimensions\":0}", "dimensions"},
        {QM_API_EMBED, "{\"model\":\"m\",\"input\":\"a\",\"truncate\":\"no\"}", "truncate"},
        {QM_API_EMBED, "{\"model\":\"m\",\"input\":\"a\",\"options\":{\"num_ctx\":\"big\"}}",
         "options.num_ctx"},
        {QM_API_EMBEDDINGS, "{\"model\":\"m\",\"prompt\":[\"a\"]}", "\"prompt\""},
        {QM_API_OAI_CHAT, "{\"model\":\"m\"}", "\"messages\""},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[]}", "\"messages\""},
        {QM_API_OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "\"model\""},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"n\":2}", "\"n\""},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"temperature\":\"hot\"}", "\"temperature\" must be a number"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"top_p\":3}", "\"top_p\""},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"max_tokens\":-5}", "\"max_tokens\""},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"max_completion_tokens\":\"a\"}", "\"max_completion_tokens\""},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"logprobs\":true,\"top_logprobs\":30}", "top_logprobs"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"logit_bias\":{\"abc\":1}}", "logit_bias"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"logit_bias\":{\"5\":500}}", "logit_bias.5"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"logit_bias\":{\"9999999999\":1}}", "logit_bias"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"response_format\":{\"type\":\"xml\"}}", "response_format.type"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"response_format\":\"json\"}", "response_format"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
                          "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:\"}}]}]}",
         "images are not supported"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
                          "{\"type\":\"text\",\"text\":3}]}]}", "messages[0].content[0].text"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":7}]}",
         "messages[0].content"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"stream_options\":\"x\"}", "stream_options"},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"stop\":5}", "\"stop\""},
        {QM_API_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"seed\":0.5}", "\"seed\""},
        {QM_API_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}", "only one prompt"},
        {QM_API_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":[-1]}", "prompt"},
        {QM_API_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":{}}", "\"prompt\""},
        {QM_API_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":[]}", "\"prompt\""},
        {QM_API_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"logprobs\":50}", "\"logprobs\""},
        {QM_API_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"suffix\":1}", "\"suffix\""},
        {QM_API_OAI_EMBED, "{\"model\":\"m\",\"input\":[]}", "\"input\""},
        {QM_API_OAI_EMBED, "{\"model\":\"m\",\"input\":\"\"}", "\"input\""},
        {QM_API_OAI_EMBED, "{\"model\":\"m\"}", "\"input\""},
        {QM_API_OAI_EMBED, "{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"hex\"}",
         "encoding_format"},
        {QM_API_OAI_EMBED, "{\"model\":\"m\",\"input\":[1,\"a\"]}", "input[1]"},
        {QM_API_OAI_EMBED, "{\"model\":\"m\",\"input\":[\"a\",1]}", "input[1]"},
        {QM_API_OAI_EMBED, "{\"model\":\"m\",\"input\":[[1],[]]}", "input[1]"},
        {QM_API_OAI_EMBED, "{\"model\":\"m\",\"input\":[[1],[-2]]}", "input[1][0]"},
        {QM_API_OAI_EMBED, "{\"model\":\"m\",\"input\":\"x\",\"dimensions\":-3}", "dimensions"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        decode_bad(CASES[i].kind, CASES[i].body, CASES[i].want);
}

/* ---- keep_alive --------------------------------------------------------------- */

static void keep_alive_table(void **state)
{
    (void)state;
    static const struct { const char *json; int status; int64_t ns; } CASES[] = {
        {"\"5m\"", 0, 300000000000LL},
        {"\"1h30m\"", 0, 5400000000000LL},
        {"\"1.5h\"", 0, 5400000000000LL},
        {"\"250ms\"", 0, 250000000LL},
        {"\"2h45m30.5s\"", 0, 9930500000000LL},
        {"\"300\"", 0, 300000000000LL},
        {"300", 0, 300000000000LL},
        {"1.5", 0, 1500000000LL},
        {"\"-1\"", 0, -1},
        {"-1", 0, -1},
        {"\"-5m\"", 0, -1},
        {"\"0\"", 0, 0},
        {"0", 0, 0},
        {"\"0s\"", 0, 0},
        {"\"bogus\"", 400, 0},
        {"\"5x\"", 400, 0},
        {"\"5m3\"", 400, 0},
        {"\"\"", 400, 0},
        {"\"m\"", 400, 0},
        {"\"inf\"", 400, 0},
        {"\"99999999999h\"", 400, 0},
        {"1e300", 400, 0},
        {"true", 400, 0},
        {"[5]", 400, 0},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        json_t *v = json_loads(CASES[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        struct qm_err err = {{0}};
        int64_t ns = 12345;
        int st = qm_api_parse_keep_alive(v, &ns, &err);
        json_decref(v);
        if (st != CASES[i].status)
            fail_msg("keep_alive %s: status %d, wanted %d", CASES[i].json, st, CASES[i].status);
        if (st == 0 && ns != CASES[i].ns)
            fail_msg("keep_alive %s: %lld ns, wanted %lld", CASES[i].json, (long long)ns,
                     (long long)CASES[i].ns);
        if (st)
            assert_non_null(strstr(err.msg, "keep_alive"));
    }
    /* and through a request */
    struct qm_api_job job;
    decode_ok(QM_API_CHAT, "{\"model\":\"m\",\"keep_alive\":\"1h30m\"}", &job);
    assert_int_equal(job.keep_alive_ns, 5400000000000LL);
    qm_api_job_free(&job);
}

/* ---- encoding: Ollama --------------------------------------------------------- */

static void ollama_generate_stream(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_GENERATE, "{\"model\":\"qwen\",\"prompt\":\"hi\"}", &job);
    struct qm_api_stream *s = qm_api_stream_new(&job, NULL);
    struct qm_strbuf out = {0};
    assert_int_equal(feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"Hel\"}", &out), 0);
    assert_int_equal(feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"\"}", &out), 0);  /* nothing */
    assert_int_equal(feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"lo\\n\\\"x\\\"\"}", &out), 0);
    assert_int_equal(feed(s, "{\"type\":\"done\",\"id\":1,\"done_reason\":\"length\","
                             "\"prompt_eval_count\":4,\"prompt_eval_duration\":100,"
                             "\"eval_count\":2,\"eval_duration\":200,\"prompt_cached\":3,"
                             "\"context\":[1,2,3]}", &out), 1);
    assert_int_equal(qm_api_stream_status(s), 200);
    assert_string_equal(qm_api_stream_content_type(s), "application/x-ndjson");
    /* after the end, nothing more is taken */
    assert_int_equal(feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"x\"}", &out), QM_EINVAL);

    json_t *l[8];
    size_t n = ndjson(&out, l, 8);
    assert_int_equal(n, 3);
    assert_string_equal(str(l[0], "model"), "qwen");
    check_created_at(l[0]);
    assert_string_equal(str(l[0], "response"), "Hel");
    assert_true(json_is_false(json_object_get(l[0], "done")));
    assert_null(json_object_get(l[0], "logprobs"));
    assert_string_equal(str(l[1], "response"), "lo\n\"x\"");
    assert_true(json_is_true(json_object_get(l[2], "done")));
    assert_string_equal(str(l[2], "response"), "");
    assert_string_equal(str(l[2], "done_reason"), "length");
    assert_int_equal(json_array_size(json_object_get(l[2], "context")), 3);
    assert_int_equal(json_integer_value(json_object_get(l[2], "total_duration")), 5000);
    assert_int_equal(json_integer_value(json_object_get(l[2], "load_duration")), 700);
    assert_int_equal(json_integer_value(json_object_get(l[2], "prompt_eval_count")), 4);
    assert_int_equal(json_integer_value(json_object_get(l[2], "prompt_eval_duration")), 100);
    assert_int_equal(json_integer_value(json_object_get(l[2], "eval_count")), 2);
    assert_int_equal(json_integer_value(json_object_get(l[2], "eval_duration")), 200);
    free_all(l, n);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);

    /* raw: no context comes back */
    decode_ok(QM_API_GENERATE, "{\"model\":\"qwen\",\"prompt\":\"hi\",\"raw\":true}", &job);
    s = qm_api_stream_new(&job, NULL);
    memset(&out, 0, sizeof out);
    assert_int_equal(feed(s, "{\"type\":\"done\",\"id\":1,\"done_reason\":\"stop\",\"context\":[1]}",
                          &out), 1);
    assert_int_equal(ndjson(&out, l, 8), 1);
    assert_null(json_object_get(l[0], "context"));
    free_all(l, 1);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);
}

static void ollama_chat_whole(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_CHAT,
              "{\"model\":\"g\",\"stream\":false,\"logprobs\":true,\"top_logprobs\":1,"
              "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &job);
    struct qm_api_stream *s = qm_api_stream_new(&job, NULL);
    struct qm_strbuf out = {0};
    assert_int_equal(feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"Hel\",\"logprobs\":["
                             "{\"token\":\"Hel\",\"logprob\":-0.5,\"bytes\":[72,101,108],"
                             "\"top_logprobs\":[{\"token\":\"Hel\",\"logprob\":-0.5,\"bytes\":[72,101,108]}]}]}",
                          &out), 0);
    assert_int_equal(out.len, 0);   /* a whole answer waits for done */
    assert_int_equal(feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"lo\",\"logprobs\":["
                             "{\"token\":\"lo\",\"logprob\":-0.25,\"bytes\":[108,111],\"top_logprobs\":[]}]}",
                          &out), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(feed(s, "{\"type\":\"done\",\"id\":1,\"done_reason\":\"stop\",\"eval_count\":2,"
                             "\"context\":[9]}", &out), 1);
    assert_string_equal(qm_api_stream_content_type(s), "application/json");
    json_t *v = parse(out.p, out.len);
    assert_string_equal(str(json_object_get(v, "message"), "content"), "Hello");
    assert_string_equal(str(json_object_get(v, "message"), "role"), "assistant");
    assert_true(json_is_true(json_object_get(v, "done")));
    assert_string_equal(str(v, "done_reason"), "stop");
    assert_null(json_object_get(v, "context"));   /* chat has none */
    json_t *lp = json_object_get(v, "logprobs");
    assert_int_equal(json_array_size(lp), 2);
    assert_string_equal(str(json_array_get(lp, 1), "token"), "lo");
    assert_true(json_real_value(json_object_get(json_array_get(lp, 0), "logprob")) == -0.5);
    assert_int_equal(json_array_size(json_object_get(json_array_get(lp, 0), "bytes")), 3);
    assert_int_equal(json_array_size(json_object_get(json_array_get(lp, 0), "top_logprobs")), 1);
    json_decref(v);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);
}

static void ollama_logprobs_stream(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_GENERATE, "{\"model\":\"g\",\"prompt\":\"x\",\"logprobs\":true}", &job);
    struct qm_api_stream *s = qm_api_stream_new(&job, NULL);
    struct qm_strbuf out = {0};
    /* an empty piece that carries logprobs still goes out */
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"\",\"logprobs\":[{\"token\":\"\\u00e2\","
            "\"logprob\":-1.0,\"bytes\":[226],\"top_logprobs\":[]}]}", &out);
    json_t *l[4];
    assert_int_equal(ndjson(&out, l, 4), 1);
    json_t *lp = json_object_get(l[0], "logprobs");
    assert_int_equal(json_array_size(lp), 1);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(json_array_get(lp, 0), "bytes"), 0)),
                     226);
    free_all(l, 1);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);
}

/* ---- encoding: OpenAI --------------------------------------------------------- */

static void openai_chat_sse(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_OAI_CHAT,
              "{\"model\":\"qwen\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
              "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &job);
    struct qm_api_stream *s = qm_api_stream_new(&job, NULL);
    struct qm_strbuf out = {0};
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"Hi\"}", &out);
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\" there\"}", &out);
    assert_int_equal(feed(s, "{\"type\":\"done\",\"id\":1,\"done_reason\":\"stop\","
                             "\"prompt_eval_count\":5,\"prompt_cached\":7,\"eval_count\":2}", &out), 1);
    assert_string_equal(qm_api_stream_content_type(s), "text/event-stream");
    json_t *f[8];
    bool done;
    size_t n = sse(&out, f, 8, &done);
    assert_int_equal(n, 5);
    assert_true(done);
    assert_memory_equal(out.p + out.len - 14, "data: [DONE]\n\n", 14);
    const char *id = str(f[0], "id");
    assert_memory_equal(id, "chatcmpl-", 9);
    assert_true(strlen(id) > 9);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(str(f[i], "id"), id);
        assert_string_equal(str(f[i], "object"), "chat.completion.chunk");
        assert_string_equal(str(f[i], "model"), "qwen");
        assert_string_equal(str(f[i], "system_fingerprint"), "fp_ollama");
        assert_int_equal(json_integer_value(json_object_get(f[i], "created")), 1700000000);
    }
    json_t *c0 = json_array_get(json_object_get(f[0], "choices"), 0);
    assert_int_equal(json_integer_value(json_object_get(c0, "index")), 0);
    assert_string_equal(str(json_object_get(c0, "delta"), "role"), "assistant");
    assert_string_equal(str(json_object_get(c0, "delta"), "content"), "Hi");
    assert_true(json_is_null(json_object_get(c0, "finish_reason")));
    assert_true(json_is_null(json_object_get(c0, "logprobs")));
    json_t *c1 = json_array_get(json_object_get(f[1], "choices"), 0);
    assert_string_equal(str(json_object_get(c1, "delta"), "content"), " there");
    json_t *c2 = json_array_get(json_object_get(f[2], "choices"), 0);
    assert_string_equal(str(c2, "finish_reason"), "stop");
    assert_string_equal(str(json_object_get(c2, "delta"), "content"), "");
    assert_null(json_object_get(f[2], "usage"));
    /* the usage chunk: no choices */
    assert_int_equal(json_array_size(json_object_get(f[3], "choices")), 0);
    json_t *u = json_object_get(f[3], "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), 12);
    assert_int_equal(json_integer_value(json_object_get(u, "completion_tokens")), 2);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")), 14);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(u, "prompt_tokens_details"),
                                                        "cached_tokens")), 7);
    free_all(f, n);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);

    /* without include_usage: the finish chunk, then [DONE] */
    decode_ok(QM_API_OAI_CHAT,
              "{\"model\":\"qwen\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
              &job);
    s = qm_api_stream_new(&job, "chatcmpl-fixed");
    memset(&out, 0, sizeof out);
    feed(s, "{\"type\":\"done\",\"id\":1,\"done_reason\":\"length\"}", &out);
    n = sse(&out, f, 8, &done);
    assert_int_equal(n, 2);
    assert_true(done);
    assert_string_equal(str(f[0], "id"), "chatcmpl-fixed");
    assert_string_equal(str(json_array_get(json_object_get(f[0], "choices"), 0), "finish_reason"),
                        "length");
    free_all(f, n);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);
}

static void openai_chat_whole(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_OAI_CHAT,
              "{\"model\":\"qwen\",\"logprobs\":true,\"top_logprobs\":1,"
              "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &job);
    struct qm_api_stream *s = qm_api_stream_new(&job, NULL);
    struct qm_strbuf out = {0};
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"A\",\"logprobs\":[{\"token\":\"A\",\"logprob\":-0.1,"
            "\"bytes\":[65],\"top_logprobs\":[{\"token\":\"A\",\"logprob\":-0.1,\"bytes\":[65]}]}]}", &out);
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"B\",\"logprobs\":[{\"token\":\"B\",\"logprob\":-0.2,"
            "\"bytes\":[66],\"top_logprobs\":[{\"token\":\"C\",\"logprob\":-0.01,\"bytes\":[67]}]}]}", &out);
    assert_int_equal(out.len, 0);
    assert_int_equal(feed(s, "{\"type\":\"done\",\"id\":1,\"done_reason\":\"length\","
                             "\"prompt_eval_count\":3,\"eval_count\":2}", &out), 1);
    json_t *v = parse(out.p, out.len);
    assert_string_equal(str(v, "object"), "chat.completion");
    assert_memory_equal(str(v, "id"), "chatcmpl-", 9);
    assert_string_equal(str(v, "system_fingerprint"), "fp_ollama");
    json_t *c = json_array_get(json_object_get(v, "choices"), 0);
    assert_string_equal(str(json_object_get(c, "message"), "content"), "AB");
    assert_string_equal(str(json_object_get(c, "message"), "role"), "assistant");
    assert_string_equal(str(c, "finish_reason"), "length");
    json_t *content = json_object_get(json_object_get(c, "logprobs"), "content");
    assert_int_equal(json_array_size(content), 2);
    json_t *e1 = json_array_get(content, 1);
    assert_string_equal(str(e1, "token"), "B");
    assert_true(json_real_value(json_object_get(e1, "logprob")) == -0.2);
    assert_string_equal(str(json_array_get(json_object_get(e1, "top_logprobs"), 0), "token"), "C");
    json_t *u = json_object_get(v, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), 3);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")), 5);
    json_decref(v);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);
}

static void openai_completion_logprobs(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_OAI_COMPLETION, "{\"model\":\"q\",\"prompt\":\"x\",\"stream\":true,\"logprobs\":1}",
              &job);
    struct qm_api_stream *s = qm_api_stream_new(&job, NULL);
    struct qm_strbuf out = {0};
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"h\\u00e9\",\"logprobs\":[{\"token\":\"h\\u00e9\","
            "\"logprob\":-0.5,\"bytes\":[104,195,169],\"top_logprobs\":[{\"token\":\"ha\",\"logprob\":-1.5,"
            "\"bytes\":[104,97]}]}]}", &out);
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"y\",\"logprobs\":[{\"token\":\"y\",\"logprob\":-0.25,"
            "\"bytes\":[121],\"top_logprobs\":[]}]}", &out);
    feed(s, "{\"type\":\"done\",\"id\":1,\"done_reason\":\"stop\"}", &out);
    json_t *f[8];
    bool done;
    size_t n = sse(&out, f, 8, &done);
    assert_int_equal(n, 4);
    assert_true(done);
    assert_memory_equal(str(f[0], "id"), "cmpl-", 5);
    assert_string_equal(str(f[0], "object"), "text_completion");
    json_t *c0 = json_array_get(json_object_get(f[0], "choices"), 0);
    assert_string_equal(str(c0, "text"), "h\xc3\xa9");
    json_t *lp0 = json_object_get(c0, "logprobs");
    assert_string_equal(json_string_value(json_array_get(json_object_get(lp0, "tokens"), 0)), "h\xc3\xa9");
    assert_true(json_real_value(json_array_get(json_object_get(lp0, "token_logprobs"), 0)) == -0.5);
    json_t *top0 = json_array_get(json_object_get(lp0, "top_logprobs"), 0);
    assert_true(json_real_value(json_object_get(top0, "ha")) == -1.5);
    assert_true(json_real_value(json_object_get(top0, "h\xc3\xa9")) == -0.5);   /* chosen one too */
    assert_int_equal(json_integer_value(json_array_get(json_object_get(lp0, "text_offset"), 0)), 0);
    /* offsets run on across chunks, in characters */
    json_t *lp1 = json_object_get(json_array_get(json_object_get(f[1], "choices"), 0), "logprobs");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(lp1, "text_offset"), 0)), 2);
    json_t *c2 = json_array_get(json_object_get(f[2], "choices"), 0);
    assert_string_equal(str(c2, "finish_reason"), "stop");
    assert_string_equal(str(c2, "text"), "");
    free_all(f, n);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);

    /* non-streamed, without logprobs: text_completion with usage, logprobs null */
    decode_ok(QM_API_OAI_COMPLETION, "{\"model\":\"q\",\"prompt\":\"x\"}", &job);
    s = qm_api_stream_new(&job, NULL);
    memset(&out, 0, sizeof out);
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"ab\"}", &out);
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"c\"}", &out);
    feed(s, "{\"type\":\"done\",\"id\":1,\"done_reason\":\"stop\",\"prompt_eval_count\":1,"
            "\"eval_count\":2}", &out);
    json_t *v = parse(out.p, out.len);
    assert_string_equal(str(v, "object"), "text_completion");
    json_t *c = json_array_get(json_object_get(v, "choices"), 0);
    assert_string_equal(str(c, "text"), "abc");
    assert_true(json_is_null(json_object_get(c, "logprobs")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "usage"), "total_tokens")), 3);
    json_decref(v);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);
}

static void openai_chat_logprobs_stream(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_OAI_CHAT,
              "{\"model\":\"q\",\"stream\":true,\"logprobs\":true,"
              "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &job);
    struct qm_api_stream *s = qm_api_stream_new(&job, NULL);
    struct qm_strbuf out = {0};
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"A\",\"logprobs\":[{\"token\":\"A\",\"logprob\":-0.1,"
            "\"bytes\":[65],\"top_logprobs\":[]}]}", &out);
    json_t *f[4];
    bool done;
    size_t n = sse(&out, f, 4, &done);
    assert_int_equal(n, 1);
    json_t *c = json_array_get(json_object_get(f[0], "choices"), 0);
    json_t *content = json_object_get(json_object_get(c, "logprobs"), "content");
    assert_int_equal(json_array_size(content), 1);
    assert_string_equal(str(json_array_get(content, 0), "token"), "A");
    free_all(f, n);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);
}

/* ---- encoding: embeddings ------------------------------------------------------- */

static size_t b64decode(const char *s, unsigned char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0, len = strlen(s);
    assert_int_equal(len % 4, 0);
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            const char *p = strchr(A, s[i + k]);
            if (s[i + k] == '=') {
                pad++;
                p = A;
            }
            assert_non_null(p);
            v = v << 6 | (uint32_t)(p - A);
        }
        out[n++] = (unsigned char)(v >> 16);
        if (pad < 2)
            out[n++] = (unsigned char)(v >> 8);
        if (pad < 1)
            out[n++] = (unsigned char)v;
    }
    return n;
}

static void embeddings(void **state)
{
    (void)state;
    const char *ev = "{\"type\":\"embedding\",\"id\":1,\"embeddings\":[[3,4,0],[0,0,2]],"
                     "\"prompt_eval_count\":6}";
    struct qm_api_job job;
    struct qm_strbuf out = {0};

    /* /api/embed: unit vectors and the counters */
    decode_ok(QM_API_EMBED, "{\"model\":\"e\",\"input\":[\"a\",\"b\"]}", &job);
    struct qm_api_stream *s = qm_api_stream_new(&job, NULL);
    assert_int_equal(feed(s, ev, &out), 1);
    json_t *v = parse(out.p, out.len);
    assert_string_equal(str(v, "model"), "e");
    json_t *e = json_object_get(v, "embeddings");
    assert_int_equal(json_array_size(e), 2);
    assert_float_equal(json_number_value(json_array_get(json_array_get(e, 0), 0)), 0.6, 1e-6);
    assert_float_equal(json_number_value(json_array_get(json_array_get(e, 0), 1)), 0.8, 1e-6);
    assert_float_equal(json_number_value(json_array_get(json_array_get(e, 1), 2)), 1.0, 1e-6);
    assert_int_equal(json_integer_value(json_object_get(v, "prompt_eval_count")), 6);
    assert_int_equal(json_integer_value(json_object_get(v, "total_duration")), 5000);
    assert_int_equal(json_integer_value(json_object_get(v, "load_duration")), 700);
    json_decref(v);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);

    /* /api/embeddings: the first vector as the runner gave it */
    memset(&out, 0, sizeof out);
    decode_ok(QM_API_EMBEDDINGS, "{\"model\":\"e\",\"prompt\":\"a\"}", &job);
    s = qm_api_stream_new(&job, NULL);
    feed(s, ev, &out);
    v = parse(out.p, out.len);
    assert_int_equal(json_object_size(v), 1);
    assert_float_equal(json_number_value(json_array_get(json_object_get(v, "embedding"), 0)), 3, 0);
    json_decref(v);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);

    /* OpenAI floats, cut to 2 dimensions and normalised again */
    memset(&out, 0, sizeof out);
    decode_ok(QM_API_OAI_EMBED, "{\"model\":\"e\",\"input\":[\"a\",\"b\"],\"dimensions\":2}", &job);
    s = qm_api_stream_new(&job, NULL);
    feed(s, "{\"type\":\"embedding\",\"id\":1,\"embeddings\":[[3,4,12]],\"prompt_eval_count\":2}", &out);
    v = parse(out.p, out.len);
    assert_string_equal(str(v, "object"), "list");
    assert_string_equal(str(v, "model"), "e");
    json_t *d0 = json_array_get(json_object_get(v, "data"), 0);
    assert_string_equal(str(d0, "object"), "embedding");
    assert_int_equal(json_integer_value(json_object_get(d0, "index")), 0);
    assert_int_equal(json_array_size(json_object_get(d0, "embedding")), 2);
    assert_float_equal(json_number_value(json_array_get(json_object_get(d0, "embedding"), 1)), 0.8, 1e-6);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "usage"), "prompt_tokens")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "usage"), "total_tokens")), 2);
    json_decref(v);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);

    /* base64: little-endian float32, decoded back bit for bit */
    memset(&out, 0, sizeof out);
    decode_ok(QM_API_OAI_EMBED, "{\"model\":\"e\",\"input\":\"a\",\"encoding_format\":\"base64\"}", &job);
    s = qm_api_stream_new(&job, NULL);
    feed(s, "{\"type\":\"embedding\",\"id\":1,\"embeddings\":[[1,-2,2,0.5,-0.25]],\"prompt_eval_count\":1}",
         &out);
    v = parse(out.p, out.len);
    const char *b64 = str(json_array_get(json_object_get(v, "data"), 0), "embedding");
    unsigned char bytes[64];
    size_t nb = b64decode(b64, bytes);
    assert_int_equal(nb, 5 * 4);
    const double raw[5] = {1, -2, 2, 0.5, -0.25};
    double norm = 0;
    for (int i = 0; i < 5; i++)
        norm += raw[i] * raw[i];
    norm = sqrt(norm);
    for (int i = 0; i < 5; i++) {
        uint32_t u = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
                     (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
        float f;
        memcpy(&f, &u, 4);
        assert_true(f == (float)(float)(raw[i] * (1.0 / norm)));
    }
    json_decref(v);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);
}

/* ---- failures ------------------------------------------------------------------- */

static void failures(void **state)
{
    (void)state;
    struct qm_api_job job;
    struct qm_strbuf out = {0};
    const char *fail = "{\"type\":\"fail\",\"id\":1,\"error\":\"prompt too long\",\"status\":400}";

    /* before any output: a plain error body with the failure's status */
    decode_ok(QM_API_GENERATE, "{\"model\":\"m\",\"prompt\":\"x\"}", &job);
    struct qm_api_stream *s = qm_api_stream_new(&job, NULL);
    assert_int_equal(feed(s, fail, &out), 1);
    assert_int_equal(qm_api_stream_status(s), 400);
    assert_string_equal(qm_api_stream_content_type(s), "application/json");
    assert_string_equal(out.p, "{\"error\":\"prompt too long\"}");
    free(out.p);
    qm_api_stream_free(s);

    /* after output: an NDJSON error line */
    memset(&out, 0, sizeof out);
    s = qm_api_stream_new(&job, NULL);
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"a\"}", &out);
    assert_int_equal(feed(s, "{\"type\":\"fail\",\"id\":1,\"error\":\"runner died\"}", &out), 1);
    assert_int_equal(qm_api_stream_status(s), 200);
    json_t *l[4];
    assert_int_equal(ndjson(&out, l, 4), 2);
    assert_string_equal(str(l[1], "error"), "runner died");
    free_all(l, 2);
    free(out.p);
    qm_api_stream_free(s);

    /* headers already sent: in-band even before the first token */
    memset(&out, 0, sizeof out);
    s = qm_api_stream_new(&job, NULL);
    qm_api_stream_headers_sent(s);
    feed(s, fail, &out);
    assert_int_equal(qm_api_stream_status(s), 200);
    assert_int_equal(ndjson(&out, l, 4), 1);
    free_all(l, 1);
    free(out.p);
    qm_api_stream_free(s);
    qm_api_job_free(&job);

    /* OpenAI before output: its error object, 503 is an api_error */
    memset(&out, 0, sizeof out);
    decode_ok(QM_API_OAI_CHAT,
              "{\"model\":\"q\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &job);
    s = qm_api_stream_new(&job, NULL);
    feed(s, "{\"type\":\"fail\",\"id\":1,\"error\":\"server busy\",\"status\":503}", &out);
    assert_int_equal(qm_api_stream_status(s), 503);
    json_t *v = parse(out.p, out.len);
    json_t *err = json_object_get(v, "error");
    assert_string_equal(str(err, "message"), "server busy");
    assert_string_equal(str(err, "type"), "api_error");
    assert_true(json_is_null(json_object_get(err, "param")));
    assert_true(json_is_null(json_object_get(err, "code")));
    json_decref(v);
    free(out.p);
    qm_api_stream_free(s);

    /* OpenAI mid-stream: an SSE data frame holding the error */
    memset(&out, 0, sizeof out);
    s = qm_api_stream_new(&job, NULL);
    feed(s, "{\"type\":\"token\",\"id\":1,\"text\":\"a\"}", &out);
    feed(s, fail, &out);
    json_t *f[4];
    bool done;
    assert_int_equal(sse(&out, f, 4, &done), 2);
    assert_false(done);
    assert_string_equal(str(json_object_get(f[1], "error"), "type"), "invalid_request_error");
    free_all(f, 2);
    free(out.p);

    /* events the kind does not take */
    memset(&out, 0, sizeof out);
    v = pj("{\"type\":\"embedding\",\"embeddings\":[]}");
    assert_int_equal(qm_api_stream_event(s, v, NULL, &out), QM_EINVAL);
    json_decref(v);
    v = pj("{\"text\":\"x\"}");
    assert_int_equal(qm_api_stream_event(s, v, NULL, &out), QM_EINVAL);
    json_decref(v);
    assert_int_equal(out.len, 0);
    qm_api_stream_free(s);
    qm_api_job_free(&job);

    /* error bodies */
    char *b = qm_api_error_body(QM_API_CHAT, 404, "model \"x\" not found, try pulling it first");
    assert_string_equal(b, "{\"error\":\"model \\\"x\\\" not found, try pulling it first\"}");
    free(b);
    b = qm_api_error_body(QM_API_OAI_EMBED, 400, "bad");
    assert_string_equal(b, "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\","
                           "\"param\":null,\"code\":null}}");
    free(b);
    b = qm_api_error_body(QM_API_OAI_CHAT, 404, "no");
    assert_non_null(strstr(b, "\"not_found_error\""));
    free(b);
}

/* ---- model parameters under the request's options --------------------------------- */

static void apply_params(void **state)
{
    (void)state;
    struct qm_api_job job;
    decode_ok(QM_API_GENERATE,
              "{\"model\":\"m\",\"prompt\":\"x\",\"options\":{\"temperature\":0.5,\"num_gpu\":3}}", &job);
    json_t *p = pj("{\"temperature\":0.9,\"top_k\":20,\"stop\":[\"<|im_end|>\"],\"num_ctx\":8192,"
                      "\"num_gpu\":99,\"top_p\":\"bad\",\"unknown\":1}");
    assert_int_equal(qm_api_job_apply_params(&job, p), 0);
    json_decref(p);
    assert_true(json_real_value(opt(&job, "temperature")) == 0.5);   /* the request wins */
    assert_int_equal(json_integer_value(opt(&job, "top_k")), 20);
    assert_string_equal(json_string_value(json_array_get(opt(&job, "stop"), 0)), "<|im_end|>");
    assert_null(opt(&job, "top_p"));                                 /* bad: skipped */
    assert_null(opt(&job, "unknown"));
    assert_int_equal(job.num_ctx, 8192);
    assert_int_equal(job.num_gpu, 3);
    qm_api_job_free(&job);
}

/* ---- the other endpoints ----------------------------------------------------------- */

static void model_lists(void **state)
{
    (void)state;
    const char *fams[] = {"qwen2"};
    struct qm_api_model m[2] = {
        {.name = "qwen2:0.5b", .modified_at_ns = 1700000000000000000LL, .size = 400000000,
         .digest = "abcd", .details = {.format = "gguf", .family = "qwen2", .families = fams,
                                       .n_families = 1, .parameter_size = "494M",
                                       .quantization_level = "Q4_K_M"},
         .expires_at_ns = 1700000300000000000LL, .size_vram = 123, .context_length = 4096},
        {.name = "hf.co/owner/repo:Q8_0", .model = "hf.co/owner/repo:Q8_0", .size = 1,
         .details = {.family = "gemma2"}},
    };
    json_t *t = qm_api_tags_json(m, 2);
    json_t *ms = json_object_get(t, "models");
    assert_int_equal(json_array_size(ms), 2);
    json_t *e = json_array_get(ms, 0);
    assert_string_equal(str(e, "name"), "qwen2:0.5b");
    assert_string_equal(str(e, "model"), "qwen2:0.5b");
    assert_string_equal(str(e, "modified_at"), "2023-11-14T22:13:20.000000000Z");
    assert_int_equal(json_integer_value(json_object_get(e, "size")), 400000000);
    assert_string_equal(str(e, "digest"), "abcd");
    json_t *d = json_object_get(e, "details");
    assert_string_equal(str(d, "parent_model"), "");
    assert_string_equal(str(d, "format"), "gguf");
    assert_string_equal(str(d, "family"), "qwen2");
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "families"), 0)), "qwen2");
    assert_string_equal(str(d, "parameter_size"), "494M");
    assert_string_equal(str(d, "quantization_level"), "Q4_K_M");
    assert_null(json_object_get(e, "expires_at"));
    /* families default to [family] */
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(json_array_get(ms, 1), "details"), "families"), 0)),
                        "gemma2");
    json_decref(t);

    t = qm_api_ps_json(m, 1);
    e = json_array_get(json_object_get(t, "models"), 0);
    assert_string_equal(str(e, "expires_at"), "2023-11-14T22:18:20.000000000Z");
    assert_int_equal(json_integer_value(json_object_get(e, "size_vram")), 123);
    assert_int_equal(json_integer_value(json_object_get(e, "context_length")), 4096);
    json_decref(t);

    t = qm_api_oai_models_json(m, 2);
    assert_string_equal(str(t, "object"), "list");
    e = json_array_get(json_object_get(t, "data"), 0);
    assert_string_equal(str(e, "id"), "qwen2:0.5b");
    assert_string_equal(str(e, "object"), "model");
    assert_int_equal(json_integer_value(json_object_get(e, "created")), 1700000000);
    assert_string_equal(str(e, "owned_by"), "library");
    assert_string_equal(str(json_array_get(json_object_get(t, "data"), 1), "owned_by"), "owner");
    json_decref(t);

    t = qm_api_oai_model_json(&m[0]);
    assert_string_equal(str(t, "id"), "qwen2:0.5b");
    json_decref(t);

    t = qm_api_version_json("0.1.0");
    struct qm_strbuf out = {0};
    qm_api_dump(t, NULL, &out);
    assert_string_equal(out.p, "{\"version\":\"0.1.0\"}");
    free(out.p);
    json_decref(t);

    json_t *info = pj("{\"general.architecture\":\"qwen2\",\"qwen2.context_length\":32768}");
    struct qm_api_show sh = {.modelfile = "FROM x", .parameters = "stop \"<|im_end|>\"",
                             .template = "{{ .Prompt }}", .details = {.family = "qwen2"},
                             .model_info = info};
    t = qm_api_show_json(&sh);
    json_decref(info);
    assert_string_equal(str(t, "modelfile"), "FROM x");
    assert_string_equal(str(t, "parameters"), "stop \"<|im_end|>\"");
    assert_string_equal(str(t, "template"), "{{ .Prompt }}");
    assert_null(json_object_get(t, "system"));
    assert_string_equal(str(json_object_get(t, "details"), "family"), "qwen2");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "model_info"),
                                                        "qwen2.context_length")), 32768);
    assert_string_equal(json_string_value(json_array_get(json_object_get(t, "capabilities"), 0)),
                        "completion");
    json_decref(t);
}

static void manage_bodies(void **state)
{
    (void)state;
    struct qm_api_manage m;
    struct qm_err err = {{0}};
#define DEC(kind, body) qm_api_decode_manage(kind, body, strlen(body), &m, &err)

    assert_int_equal(DEC(QM_API_SHOW, "{\"name\":\"qwen2\",\"verbose\":true}"), 0);
    assert_string_equal(m.model, "qwen2");
    assert_true(m.verbose);
    qm_api_manage_free(&m);

    assert_int_equal(DEC(QM_API_COPY, "{\"source\":\"a\",\"destination\":\"b\"}"), 0);
    assert_string_equal(m.model, "a");
    assert_string_equal(m.destination, "b");
    qm_api_manage_free(&m);
    assert_int_equal(DEC(QM_API_COPY, "{\"source\":\"a\"}"), 400);
    assert_non_null(strstr(err.msg, "\"destination\""));

    assert_int_equal(DEC(QM_API_DELETE, "{\"model\":\"x:latest\"}"), 0);
    assert_string_equal(m.model, "x:latest");
    qm_api_manage_free(&m);
    assert_int_equal(DEC(QM_API_DELETE, "{}"), 400);
    assert_non_null(strstr(err.msg, "\"model\""));

    assert_int_equal(DEC(QM_API_PULL, "{\"model\":\"x\",\"insecure\":true,\"stream\":false}"), 0);
    assert_true(m.insecure);
    assert_false(m.stream);
    qm_api_manage_free(&m);
    assert_int_equal(DEC(QM_API_PUSH, "{\"name\":\"x\"}"), 0);
    assert_true(m.stream);
    qm_api_manage_free(&m);
    assert_int_equal(DEC(QM_API_PULL, "{\"model\":\"x\",\"insecure\":\"y\"}"), 400);
    assert_non_null(strstr(err.msg, "\"insecure\""));

    const char *digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char body[512];
    snprintf(body, sizeof body,
             "{\"model\":\"mine\",\"files\":{\"m.gguf\":\"%s\"},\"template\":\"T\",\"system\":\"S\","
             "\"license\":\"MIT\",\"parameters\":{\"temperature\":0.7,\"stop\":[\"x\"],\"num_ctx\":4096},"
             "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"quantize\":\"q4_K_M\","
             "\"stream\":false}", digest);
    assert_int_equal(DEC(QM_API_CREATE, body), 0);
    assert_string_equal(m.model, "mine");
    assert_string_equal(json_string_value(json_object_get(m.files, "m.gguf")), digest);
    assert_string_equal(m.template, "T");
    assert_string_equal(m.system, "S");
    assert_string_equal(m.quantize, "q4_K_M");
    assert_string_equal(json_string_value(json_array_get(m.license, 0)), "MIT");
    assert_int_equal(json_integer_value(json_object_get(m.parameters, "num_ctx")), 4096);
    assert_int_equal(json_array_size(m.messages), 1);
    assert_false(m.stream);
    assert_null(m.from);
    qm_api_manage_free(&m);

    assert_int_equal(DEC(QM_API_CREATE, "{\"model\":\"a\",\"from\":\"qwen2\"}"), 0);
    assert_string_equal(m.from, "qwen2");
    qm_api_manage_free(&m);

    static const struct { const char *body, *want; } BAD[] = {
        {"{\"model\":\"a\"}", "\"from\""},
        {"{\"from\":\"b\"}", "\"model\""},
        {"{\"model\":\"a\",\"files\":{\"m.gguf\":\"md5:1\"}}", "files.m.gguf"},
        {"{\"model\":\"a\",\"files\":[]}", "\"files\""},
        {"{\"model\":\"a\",\"from\":\"b\",\"parameters\":{\"temperature\":\"hot\"}}",
         "parameters.temperature"},
        {"{\"model\":\"a\",\"from\":\"b\",\"parameters\":{\"bogus\":1}}", "bogus"},
        {"{\"model\":\"a\",\"from\":\"b\",\"license\":5}", "\"license\""},
        {"{\"model\":\"a\",\"from\":\"b\",\"messages\":[{\"role\":1}]}", "messages[0]"},
        {"{\"model\":\"a\",\"from\":\"b\",\"adapters\":{\"x\":\"sha256:00\"}}", "adapters"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        if (DEC(QM_API_CREATE, BAD[i].body) != 400 || !strstr(err.msg, BAD[i].want))
            fail_msg("create %s: \"%s\" does not name %s", BAD[i].body, err.msg, BAD[i].want);
        assert_null(m.model);
    }
#undef DEC
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generate_full),
        cmocka_unit_test(generate_defaults),
        cmocka_unit_test(chat_full),
        cmocka_unit_test(load_only),
        cmocka_unit_test(embed_requests),
        cmocka_unit_test(openai_chat_request),
        cmocka_unit_test(openai_completion_request),
        cmocka_unit_test(openai_embed_request),
        cmocka_unit_test(bad_requests),
        cmocka_unit_test(keep_alive_table),
        cmocka_unit_test(ollama_generate_stream),
        cmocka_unit_test(ollama_chat_whole),
        cmocka_unit_test(ollama_logprobs_stream),
        cmocka_unit_test(openai_chat_sse),
        cmocka_unit_test(openai_chat_whole),
        cmocka_unit_test(openai_completion_logprobs),
        cmocka_unit_test(openai_chat_logprobs_stream),
        cmocka_unit_test(embeddings),
        cmocka_unit_test(failures),
        cmocka_unit_test(apply_params),
        cmocka_unit_test(model_lists),
        cmocka_unit_test(manage_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
