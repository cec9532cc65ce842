/* sampler.h - choosing the next token from a model's logits.
 *
 * The chain is llama.cpp's, the one Ollama's runner drives:
 *
 *   logit bias -> penalties -> top_k -> typical_p -> top_p -> min_p
 *     -> temperature -> draw
 *
 * with Ollama's defaults.  A sampler owns its buffers (one candidate array
 * of n_vocab entries, the penalty history), so sampling allocates nothing
 * per token.  The caller feeds every token that should count for the
 * repetition penalties through qm_sampler_accept: the prompt's tokens and
 * then each generated one, as Ollama does.
 *
 * A sampler is used by one thread at a time. */
#ifndef QM_ENGINE_SAMPLER_H
#define QM_ENGINE_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The most alternatives one token can report (OpenAI's top_logprobs
 * limit); a fixed array keeps qm_sample_info free of allocations. */
#define QM_SAMPLER_MAX_PROBS 20

struct qm_logit_bias {
    int32_t token;
    float bias;         /* added to the token's logit; -INFINITY bans it */
};

struct qm_sampler_params {
    float temperature;          /* <= 0: greedy arg-max after bias and penalties,
                                   the filters skipped */
    int32_t top_k;              /* <= 0 or >= n_vocab: off */
    float top_p;                /* >= 1: off */
    float min_p;                /* <= 0: off */
    float typical_p;            /* >= 1: off */
    int32_t repeat_last_n;      /* history the penalties look at; 0 off, -1 num_ctx */
    float repeat_penalty;       /* 1: off */
    float presence_penalty;     /* 0: off */
    float frequency_penalty;    /* 0: off */
    int64_t seed;               /* < 0: a random one; else its low 32 bits seed mt19937 */
    int32_t num_ctx;            /* the context length, for repeat_last_n = -1 */
    const struct qm_logit_bias *logit_bias;   /* copied by qm_sampler_new */
    size_t n_logit_bias;
    int32_t n_probs;            /* alternatives to report per token, 0..QM_SAMPLER_MAX_PROBS */
};

/* Ollama's defaults (api.DefaultOptions): temperature 0.8, top_k 40, top_p
 * 0.9, min_p 0, typical_p 1, repeat_last_n 64, repeat_penalty 1.0,
 * presence and frequency 0, seed -1; no bias, no logprobs.  num_ctx 4096 is
 * Ollama's small-GPU default: the runner sets the real one.
 *
 * repeat_penalty was 1.1 in Ollama for years; commit 6a261db7d made it 1.0,
 * so by default the penalties stage does nothing.  Models that want a
 * penalty ship it in their parameters. */
void qm_sampler_params_default(struct qm_sampler_params *p);

struct qm_token_logprob {
    int32_t token;
    float logprob;
};

/* What qm_sampler_sample reports besides the token.  The log-probabilities
 * are those of the model's raw logits, log-softmax over the whole
 * vocabulary before bias, penalties, filters or temperature, which is what
 * Ollama and the OpenAI API report: they describe the model, not the dice.
 * top[] is in descending order of logprob, ties by lower token id. */
struct qm_sample_info {
    int32_t token;
    float logprob;                  /* of the chosen token */
    int32_t n_top;                  /* = n_probs (or n_vocab when smaller) */
    struct qm_token_logprob top[QM_SAMPLER_MAX_PROBS];
};

struct qm_sampler;

/* A sampler for a vocabulary of n_vocab tokens.  Fails (NULL, err filled)
 * on a bad parameter: a NaN, a logit bias naming a token outside the
 * vocabulary, n_probs out of range, repeat_last_n < -1. */
struct qm_sampler *qm_sampler_new(const struct qm_sampler_params *p, int32_t n_vocab,
                                  struct qm_err *err);
void qm_sampler_free(struct qm_sampler *s);

/* Forget the history and restart the random stream from the seed, so that
 * a reset sampler draws exactly what a new one with the same params would
 * (a random seed is chosen once, at qm_sampler_new, and kept). */
void qm_sampler_reset(struct qm_sampler *s);

/* Add a token to the history the penalties look at.  Returns QM_EINVAL for
 * a token outside the vocabulary (and ignores it). */
int qm_sampler_accept(struct qm_sampler *s, int32_t token);

/* Pick the next token from logits[n_vocab], which are only read.  NaN
 * logits count as -infinity.  info may be NULL.  Does not accept the token:
 * the caller does, once it keeps it.  Returns the token, or QM_EINVAL when
 * every token is banned (all logits -infinity after bias and penalties;
 * info is then left alone).
 *
 * The same seed, params, history and logits always give the same token
 * with this code.  The draw walks the survivors in the order the filters
 * leave them, which is an implementation detail, so another version of qm
 * may map the same seed to a different (equally likely) token. */
int32_t qm_sampler_sample(struct qm_sampler *s, const float *logits, struct qm_sample_info *info);

/* The seed the random stream started from (the drawn one when params.seed
 * was negative), for logs and for replaying a generation. */
uint32_t qm_sampler_seed(const struct qm_sampler *s);

/* For tests and debugging: run the chain up to, not including, the draw and
 * copy out the surviving tokens and their logits as the draw would see them
 * (after temperature), in the chain's order.  Copies at most cap of them and
 * returns how many survived, or QM_EINVAL when none did.  Greedy samplers
 * (temperature <= 0) report the one arg-max token with its logit.  Uses no
 * randomness and leaves the history alone. */
int64_t qm_sampler_survivors(struct qm_sampler *s, const float *logits,
                             int32_t *tokens, float *values, size_t cap);

#endif
