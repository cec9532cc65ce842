/* runner_slot.h - one parallel slot of a runner: a request's sampling
 * state and the tokens its sequence of the KV cache holds. */
#ifndef QM_ENGINE_RUNNER_SLOT_H
#define QM_ENGINE_RUNNER_SLOT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "json_constraint.h"
#include "model.h"
#include "sampler.h"
#include "stop.h"
#include "tokenizer.h"

enum qm_slot_state { QM_SLOT_FREE, QM_SLOT_PROMPT, QM_SLOT_DECODE };

struct qm_slot {
    int32_t seq;              /* its sequence in the KV cache */
    enum qm_slot_state state;
    json_t *id;               /* the daemon's request id */
    bool cancel;
    uint64_t last_used;

    int32_t *cache;           /* tokens in its cache cells [0, n_cache) */
    int32_t n_cache, cap_cache;

    int32_t *prompt;          /* the request's prompt tokens */
    int32_t n_prompt, n_fed;  /* prompt[0, n_fed) are in the cache */
    int32_t n_reused;         /* of them, found there from an earlier request */
    int32_t next;             /* sampled, to be fed in the next step */
    int32_t n_gen, num_predict;
    bool want_context, logprobs;
    struct qm_sampler *smp;
    struct qm_detok *dt;
    struct qm_stop *stop;
    json_t *pending_lp;       /* logprobs of tokens whose text is held back */
    struct qm_jc *jc;         /* "format": the output must match it, or NULL */
    float *scratch;           /* [n_vocab] logits with refused tokens masked */
    int32_t n_vocab;
    double t_start, t_prompt_end;
};

void qm_slot_init(struct qm_slot *s, int32_t seq);
void qm_slot_free(struct qm_slot *s);

/* Tokens s's cache shares with toks[0..n) from the start. */
int32_t qm_slot_common_prefix(const struct qm_slot *s, const int32_t *toks, int32_t n);

/* The prompt tokens of a completion message (runner_proto.h job fields):
 * token ids as given, or the rendered and tokenized prompt or chat, after
 * the given context.  Returns 0 or the HTTP status of the failure (400 for
 * bad input, 500 otherwise) with err set. */
int qm_slot_prompt_tokens(const struct qm_model *m, const struct qm_tokenizer *tok, json_t *msg, int32_t **toks,
                          size_t *n, struct qm_err *err);

/* Take a request: its options, its prompt (owned from now on).  The caller
 * then sets the reused prefix.  Returns 0 or an HTTP status with err set. */
int qm_slot_start(struct qm_slot *s, const struct qm_tokenizer *tok, int32_t n_vocab, int32_t n_ctx, json_t *msg,
                  int32_t *prompt, int32_t n_prompt, struct qm_err *err);

/* A token of the slot's sequence went into the cache. */
void qm_slot_cached(struct qm_slot *s, int32_t token);

/* Sample from the slot's logits; *ev receives the token event to send (or
 * NULL).  Returns the done reason when the generation ends, else NULL. */
const char *qm_slot_sample(struct qm_slot *s, const struct qm_tokenizer *tok, const float *logits, int32_t n_ctx,
                           json_t **ev, struct qm_err *err);

/* The "done" event of the request (new reference). */
json_t *qm_slot_done_event(struct qm_slot *s, const char *reason, double t_end);

/* Drop the request's state; the cache stays for prefix reuse. */
void qm_slot_finish(struct qm_slot *s);

#endif
