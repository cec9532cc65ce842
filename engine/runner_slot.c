/* runner_slot.c - a request inside a runner: options, prompt, sampling,
 * streamed text and its accounting. */
#include "runner_slot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prompt.h"
#include "utf8.h"

void qm_slot_init(struct qm_slot *s, int32_t seq)
{
    *s = (struct qm_slot){.seq = seq, .state = QM_SLOT_FREE};
}

void qm_slot_finish(struct qm_slot *s)
{
    json_decref(s->id);
    json_decref(s->pending_lp);
    qm_sampler_free(s->smp);
    qm_detok_free(s->dt);
    qm_stop_free(s->stop);
    qm_jc_free(s->jc);
    free(s->scratch);
    free(s->prompt);
    s->id = s->pending_lp = NULL;
    s->smp = NULL;
    s->dt = NULL;
    s->stop = NULL;
    s->jc = NULL;
    s->scratch = NULL;
    s->prompt = NULL;
    s->state = QM_SLOT_FREE;
    s->cancel = false;
}

void qm_slot_free(struct qm_slot *s)
{
    qm_slot_finish(s);
    free(s->cache);
    s->cache = NULL;
}

int32_t qm_slot_common_prefix(const struct qm_slot *s, const int32_t *toks, int32_t n)
{
    int32_t i = 0;
    while (i < n && i < s->n_cache && s->cache[i] == toks[i])
        i++;
    return i;
}

void qm_slot_cached(struct qm_slot *s, int32_t token)
{
    if (s->n_cache < s->cap_cache)
        s->cache[s->n_cache] = token;
    s->n_cache++;
}

/* A JSON string of any bytes: invalid UTF-8 shows as U+FFFD. */
static json_t *text_json(const char *p, size_t n)
{
    char small[256];
    char *buf = 3 * n <= sizeof small ? small : malloc(3 * n);
    if (!buf)
        return json_string("");
    size_t m = qm_utf8_sanitize(p, n, buf);
    json_t *j = json_stringn(buf, m);
    if (buf != small)
        free(buf);
    return j;
}

/* ---- the prompt ------------------------------------------------------------- */

static int bad(struct qm_err *err, const char *msg)
{
    qm_err_set(err, "%s", msg);
    return 400;
}

static int ids_from(json_t *arr, int32_t n_vocab, int32_t *out, size_t *n, struct qm_err *err)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= n_vocab) {
            qm_err_set(err, "token %zu is not a token id of this model (0..%d)", i, n_vocab - 1);
            return 400;
        }
        out[(*n)++] = (int32_t)json_integer_value(v);
    }
    return 0;
}

int qm_slot_prompt_tokens(const struct qm_model *m, const struct qm_tokenizer *tok, json_t *msg, int32_t **toks,
                          size_t *n, struct qm_err *err)
{
    json_t *tokens = json_object_get(msg, "tokens"), *context = json_object_get(msg, "context");
    json_t *messages = json_object_get(msg, "messages");
    const int32_t n_vocab = m->hp.n_vocab;
    *toks = NULL;
    *n = 0;
    if (tokens && !json_is_array(tokens))
        return bad(err, "\"tokens\" must be an array of token ids");
    if (context && !json_is_array(context))
        return bad(err, "\"context\" must be an array of token ids");
    if (messages && !json_is_array(messages))
        return bad(err, "\"messages\" must be an array");
    if (tokens) {
        if (!(*toks = malloc((json_array_size(tokens) + 1) * sizeof **toks)))
            return qm_err_set(err, "out of memory"), 500;
        int st = ids_from(tokens, n_vocab, *toks, n, err);
        if (!st && *n == 0)
            st = bad(err, "the prompt is empty");
        if (st) {
            free(*toks);
            *toks = NULL;
        }
        return st;
    }

    struct qm_chat_msg *msgs = NULL;
    size_t n_msgs = 0;
    if (messages) {
        if (!(msgs = calloc(json_array_size(messages) + 1, sizeof *msgs)))
            return qm_err_set(err, "out of memory"), 500;
        size_t i;
        json_t *mj;
        json_array_foreach(messages, i, mj) {
            const char *role = json_string_value(json_object_get(mj, "role"));
            json_t *content = json_object_get(mj, "content");
            if (!role || (content && !json_is_string(content) && !json_is_null(content))) {
                free(msgs);
                qm_err_set(err, "message %zu needs a \"role\" and a string \"content\"", i);
                return 400;
            }
            msgs[n_msgs++] = (struct qm_chat_msg){role, json_string_value(content)};
        }
    }
    struct qm_prompt_spec spec = {
        .messages = messages ? msgs : NULL,
        .n_messages = n_msgs,
        .prompt = json_string_value(json_object_get(msg, "prompt")),
        .system = json_string_value(json_object_get(msg, "system")),
        .go_template = json_string_value(json_object_get(msg, "template")),
        .raw = json_is_true(json_object_get(msg, "raw")),
    };
    char *text = NULL;
    int rc = qm_prompt_build(m, &spec, &text, err);
    free(msgs);
    if (rc < 0)
        return rc == QM_ENOMEM ? 500 : 400;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    rc = qm_tokenize(tok, text, strlen(text), !context || !json_array_size(context), true, &ids, &n_ids, err);
    free(text);
    if (rc < 0)
        return rc == QM_ENOMEM ? 500 : 400;
    size_t n_ctx_toks = context ? json_array_size(context) : 0;
    if (!(*toks = malloc((n_ctx_toks + n_ids + 1) * sizeof **toks))) {
        free(ids);
        return qm_err_set(err, "out of memory"), 500;
    }
    int st = context ? ids_from(context, n_vocab, *toks, n, err) : 0;
    if (!st) {
        if (n_ids)
            memcpy(*toks + *n, ids, n_ids * sizeof *ids);
        *n += n_ids;
        if (*n == 0)
            st = bad(err, "the prompt is empty");
    }
    free(ids);
    if (st) {
        free(*toks);
        *toks = NULL;
    }
    return st;
}

/* ---- options ------------------------------------------------------------------ */

static int opt_num(json_t *opts, const char *key, double *out, struct qm_err *err)
{
    json_t *v = json_object_get(opts, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v)) {
        qm_err_set(err, "option %s must be a number", key);
        return 400;
    }
    *out = json_number_value(v);
    if (!isfinite(*out)) {
        qm_err_set(err, "option %s must be finite", key);
        return 400;
    }
    return 0;
}

static int read_options(struct qm_slot *s, json_t *msg, int32_t n_ctx, struct qm_sampler_params *sp,
                        struct qm_logit_bias **bias, size_t *n_bias, struct qm_err *err)
{
    json_t *o = json_object_get(msg, "options");
    double d;
    int st = 0;
    qm_sampler_params_default(sp);
    sp->num_ctx = n_ctx;
    s->num_predict = -1;
#define F(key, field, cast)                                                 \
    d = NAN;                                                                \
    if ((st = opt_num(o, key, &d, err)))                                    \
        return st;                                                          \
    if (!isnan(d))                                                          \
        field = (cast)d;
    F("temperature", sp->temperature, float)
    F("top_k", sp->top_k, int32_t)
    F("top_p", sp->top_p, float)
    F("min_p", sp->min_p, float)
    F("typical_p", sp->typical_p, float)
    F("repeat_last_n", sp->repeat_last_n, int32_t)
    F("repeat_penalty", sp->repeat_penalty, float)
    F("presence_penalty", sp->presence_penalty, float)
    F("frequency_penalty", sp->frequency_penalty, float)
    F("seed", sp->seed, int64_t)
    F("num_predict", s->num_predict, int32_t)
#undef F
    if (s->num_predict < -2)
        s->num_predict = -1;
    if (s->num_predict == -2)   /* Ollama: -2 fills the context */
        s->num_predict = -1;

    json_t *lb = json_object_get(msg, "logit_bias");
    if (lb && json_is_object(lb) && json_object_size(lb)) {
        *bias = calloc(json_object_size(lb), sizeof **bias);
        if (!*bias)
            return qm_err_set(err, "out of memory"), 500;
        const char *k;
        json_t *v;
        json_object_foreach(lb, k, v) {
            char *end;
            long id = strtol(k, &end, 10);
            if (*end || end == k || !json_is_number(v)) {
                qm_err_set(err, "logit_bias wants token ids mapped to numbers");
                return 400;
            }
            (*bias)[(*n_bias)++] = (struct qm_logit_bias){(int32_t)id, (float)json_number_value(v)};
        }
        sp->logit_bias = *bias;
        sp->n_logit_bias = *n_bias;
    }
    s->logprobs = json_is_true(json_object_get(msg, "logprobs"));
    if (s->logprobs) {
        json_int_t top = json_integer_value(json_object_get(msg, "top_logprobs"));
        sp->n_probs = top < 0 ? 0 : top > QM_SAMPLER_MAX_PROBS ? QM_SAMPLER_MAX_PROBS : (int32_t)top;
    }
    return 0;
}

static int make_stop(struct qm_slot *s, json_t *msg, struct qm_err *err)
{
    json_t *stops = json_object_get(json_object_get(msg, "options"), "stop");
    const char *list[64];
    size_t n = 0;
    if (json_is_string(stops)) {
        list[n++] = json_string_value(stops);
    } else if (stops && !json_is_null(stops)) {
        if (!json_is_array(stops))
            return qm_err_set(err, "option stop must be a string or an array of strings"), 400;
        size_t i;
        json_t *v;
        json_array_foreach(stops, i, v) {
            if (!json_is_string(v))
                return qm_err_set(err, "option stop must hold strings"), 400;
            if (n == sizeof list / sizeof list[0])
                return qm_err_set(err, "at most %zu stop strings", n), 400;
            list[n++] = json_string_value(v);
        }
    }
    s->stop = qm_stop_new(list, n, err);
    return s->stop ? 0 : 500;
}

/* "format": "json" (any object) or a JSON schema object. */
static int make_format(struct qm_slot *s, json_t *msg, int32_t n_vocab, struct qm_err *err)
{
    json_t *f = json_object_get(msg, "format");
    if (!f || json_is_null(f) || (json_is_string(f) && !*json_string_value(f)))
        return 0;
    if (!json_is_object(f) && !(json_is_string(f) && !strcmp(json_string_value(f), "json")))
        return qm_err_set(err, "\"format\" must be \"json\" or a JSON schema object"), 400;
    if (!(s->jc = qm_jc_new(json_is_object(f) ? f : NULL, err)))
        return 400;
    s->n_vocab = n_vocab;
    if (!(s->scratch = malloc((size_t)n_vocab * sizeof *s->scratch)))
        return qm_err_set(err, "out of memory"), 500;
    return 0;
}

int qm_slot_start(struct qm_slot *s, const struct qm_tokenizer *tok, int32_t n_vocab, int32_t n_ctx, json_t *msg,
                  int32_t *prompt, int32_t n_prompt, struct qm_err *err)
{
    struct qm_sampler_params sp;
    struct qm_logit_bias *bias = NULL;
    size_t n_bias = 0;
    int st;
    s->id = json_incref(json_object_get(msg, "id"));
    s->prompt = prompt;
    s->n_prompt = n_prompt;
    s->n_gen = 0;
    s->state = QM_SLOT_PROMPT;
    s->want_context = json_object_get(msg, "prompt") && !json_object_get(msg, "tokens");
    if (!s->cache) {
        if (!(s->cache = malloc((size_t)n_ctx * sizeof *s->cache)))
            return qm_err_set(err, "out of memory"), 500;
        s->cap_cache = n_ctx;
    }
    if ((st = make_format(s, msg, n_vocab, err)))
        return st;
    if ((st = read_options(s, msg, n_ctx, &sp, &bias, &n_bias, err)))
        goto out;
    st = 400;
    if (!(s->smp = qm_sampler_new(&sp, n_vocab, err)))
        goto out;
    for (int32_t i = 0; i < n_prompt; i++)
        qm_sampler_accept(s->smp, prompt[i]);
    st = 500;
    if (qm_detok_new(&s->dt, tok, 0, err) < 0)
        goto out;
    st = make_stop(s, msg, err);
out:
    free(bias);
    return st;
}

/* ---- sampling ------------------------------------------------------------------ */

static json_t *lp_entry(const struct qm_tokenizer *tok, int32_t id, float lp)
{
    const char *p = "";
    size_t n = 0;
    struct qm_err e;
    qm_token_to_piece(tok, id, true, &p, &n, &e);
    json_t *bytes = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(bytes, json_integer((unsigned char)p[i]));
    return json_pack("{s:o, s:f, s:o}", "token", text_json(p, n), "logprob", (double)lp, "bytes", bytes);
}

static void note_logprobs(struct qm_slot *s, const struct qm_tokenizer *tok, const struct qm_sample_info *info)
{
    json_t *e = lp_entry(tok, info->token, info->logprob);
    json_t *top = json_array();
    for (int32_t i = 0; i < info->n_top; i++)
        json_array_append_new(top, lp_entry(tok, info->top[i].token, info->top[i].logprob));
    json_object_set_new(e, "top_logprobs", top);
    if (!s->pending_lp)
        s->pending_lp = json_array();
    json_array_append_new(s->pending_lp, e);
}

/* A token event with text t[0..n) and the logprobs gathered so far. */
static json_t *token_event(struct qm_slot *s, const char *t, size_t n, json_t *prev)
{
    if (prev) {
        /* one event per step: append to it */
        json_t *old = json_object_get(prev, "text");
        size_t on = json_string_length(old);
        char *joined = malloc(on + n + 1);
        if (joined) {
            memcpy(joined, json_string_value(old), on);
            memcpy(joined + on, t, n);
            json_object_set_new(prev, "text", text_json(joined, on + n));
            free(joined);
        }
        if (s->pending_lp) {
            json_t *lp = json_object_get(prev, "logprobs");
            if (lp)
                json_array_extend(lp, s->pending_lp);
            else
                json_object_set(prev, "logprobs", s->pending_lp);
            json_decref(s->pending_lp);
            s->pending_lp = NULL;
        }
        return prev;
    }
    if (!n && !s->pending_lp)
        return NULL;
    json_t *ev = json_pack("{s:s, s:O, s:o}", "type", "token", "id", s->id, "text", text_json(t, n));
    if (s->pending_lp && n) {
        json_object_set_new(ev, "logprobs", s->pending_lp);
        s->pending_lp = NULL;
    }
    return ev;
}

/* The end of the text: what the detokenizer and the stop matcher still hold. */
static json_t *flush(struct qm_slot *s, json_t *ev, struct qm_err *err)
{
    const char *t;
    size_t n;
    struct qm_stop_result sr;
    qm_detok_flush(s->dt, &t, &n);
    if (qm_stop_feed(s->stop, t, n, &sr, err) < 0)
        return ev;
    if (sr.len)
        ev = token_event(s, sr.text, sr.len, ev);
    if (sr.stop < 0) {
        qm_stop_flush(s->stop, &sr);
        if (sr.len)
            ev = token_event(s, sr.text, sr.len, ev);
    }
    if (!ev && s->pending_lp)
        ev = token_event(s, "", 0, NULL);
    return ev;
}

/* ---- constrained sampling ("format") ------------------------------------------ */

/* Whether token id may come next.  budget >= 0: the value must stay
 * completable within that many more bytes (qm_jc_rest), which one byte per
 * token always allows, so a num_predict or context limit still ends on
 * whole JSON. */
static bool allowed(const struct qm_slot *s, const struct qm_tokenizer *tok, int32_t id, int budget)
{
    if (qm_tok_is_eog(tok, id))
        return qm_jc_complete(s->jc);
    const char *p;
    size_t n;
    int rest;
    /* empty pieces (control tokens) would let the model stall forever */
    if (qm_token_to_piece(tok, id, false, &p, &n, NULL) < 0 || n == 0 || !qm_jc_try(s->jc, p, n, &rest))
        return false;
    return budget < 0 || rest <= budget;
}

/* Sample among the allowed tokens, as if the refused ones had logit
 * -infinity before the chain ran: draw, and ban the draw while it is
 * refused; after a few misses mask the whole vocabulary at once. */
static int32_t pick(struct qm_slot *s, const struct qm_tokenizer *tok, const float *logits, int budget,
                    struct qm_sample_info *info)
{
    enum { TRIES = 16 };
    float *x = s->scratch;
    memcpy(x, logits, (size_t)s->n_vocab * sizeof *x);
    for (int i = 0; i < TRIES; i++) {
        int32_t id = qm_sampler_sample(s->smp, x, info);
        if (id < 0)
            return id;
        if (allowed(s, tok, id, budget))
            return id;
        x[id] = -INFINITY;
    }
    int32_t n_ok = 0;
    for (int32_t id = 0; id < s->n_vocab; id++) {
        if (!(x[id] > -INFINITY))
            continue;
        if (allowed(s, tok, id, budget))
            n_ok++;
        else
            x[id] = -INFINITY;
    }
    return n_ok ? qm_sampler_sample(s->smp, x, info) : -1;
}

/* The least qm_jc_rest any token can leave (-1: none is allowed): when
 * the budget cannot close the value byte by byte, take the quickest way. */
static int closest(const struct qm_slot *s, const struct qm_tokenizer *tok)
{
    int best = -1;
    for (int32_t id = 0; id < s->n_vocab; id++) {
        const char *p;
        size_t n;
        int rest;
        if (!qm_tok_is_eog(tok, id) && qm_token_to_piece(tok, id, false, &p, &n, NULL) == 0 && n &&
            qm_jc_try(s->jc, p, n, &rest) && (best < 0 || rest < best))
            best = rest;
    }
    return best;
}

static int32_t constrained_sample(struct qm_slot *s, const struct qm_tokenizer *tok, const float *logits,
                                  int32_t n_ctx, struct qm_sample_info *info)
{
    /* tokens left after this one */
    int64_t left = (int64_t)n_ctx - s->n_cache;
    if (s->num_predict >= 0 && s->num_predict - s->n_gen < left)
        left = s->num_predict - s->n_gen;
    left = left > 0 ? left - 1 : 0;
    int rest = qm_jc_rest(s->jc);
    int budget = left >= rest ? (left > INT32_MAX / 2 ? INT32_MAX / 2 : (int)left) : closest(s, tok);
    int32_t id = pick(s, tok, logits, budget, info);
    if (id < 0)   /* no token of this vocabulary gets closer: drop the budget */
        id = pick(s, tok, logits, -1, info);
    return id;
}

const char *qm_slot_sample(struct qm_slot *s, const struct qm_tokenizer *tok, const float *logits, int32_t n_ctx,
                           json_t **ev, struct qm_err *err)
{
    struct qm_sample_info info;
    *ev = NULL;
    int32_t id = s->jc ? constrained_sample(s, tok, logits, n_ctx, s->logprobs ? &info : NULL)
                       : qm_sampler_sample(s->smp, logits, s->logprobs ? &info : NULL);
    if (id < 0 || qm_tok_is_eog(tok, id)) {
        *ev = flush(s, NULL, err);
        return "stop";
    }
    qm_sampler_accept(s->smp, id);
    s->n_gen++;
    if (s->logprobs)
        note_logprobs(s, tok, &info);
    const char *t;
    size_t n;
    struct qm_stop_result sr;
    if (s->jc && qm_token_to_piece(tok, id, false, &t, &n, NULL) == 0)
        qm_jc_feed(s->jc, t, n);
    if (qm_detok_push(s->dt, id, &t, &n, err) < 0 || qm_stop_feed(s->stop, t, n, &sr, err) < 0)
        return "stop";
    if (sr.len)
        *ev = token_event(s, sr.text, sr.len, NULL);
    if (sr.stop >= 0) {
        json_decref(s->pending_lp);
        s->pending_lp = NULL;
        return "stop";
    }
    if (s->jc && qm_jc_done(s->jc)) {   /* the value is closed: nothing may follow */
        *ev = flush(s, *ev, err);
        return "stop";
    }
    if ((s->num_predict >= 0 && s->n_gen >= s->num_predict) || s->n_cache >= n_ctx) {
        *ev = flush(s, *ev, err);
        return "length";
    }
    s->next = id;
    return NULL;
}

json_t *qm_slot_done_event(struct qm_slot *s, const char *reason, double t_end)
{
    double t_pe = s->t_prompt_end > 0 ? s->t_prompt_end : t_end;
    json_t *ev = json_pack("{s:s, s:O, s:s, s:i, s:I, s:i, s:I, s:i}", "type", "done", "id", s->id, "done_reason",
                           reason, "prompt_eval_count", s->n_prompt - s->n_reused, "prompt_eval_duration",
                           (json_int_t)((t_pe - s->t_start) * 1e9), "eval_count", s->n_gen, "eval_duration",
                           (json_int_t)((t_end - t_pe) * 1e9), "prompt_cached", s->n_reused);
    if (ev && s->want_context) {
        json_t *ctx = json_array();
        int32_t n = s->n_cache < s->cap_cache ? s->n_cache : s->cap_cache;
        for (int32_t i = 0; i < n; i++)
            json_array_append_new(ctx, json_integer(s->cache[i]));
        json_object_set_new(ev, "context", ctx);
    }
    s->t_prompt_end = 0;
    return ev;
}
