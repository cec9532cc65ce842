/* forward.h - running a model: a context with its KV cache, and batches.
 *
 * A context owns what one loaded model needs to compute: the KV cache for
 * n_seq sequences of n_ctx tokens, the scratch rows of a batch, the matmul
 * threads.  A batch is any mix of tokens of any sequences at any positions
 * (prompt chunks and single decode tokens together), which is what
 * continuous batching packs; each token may ask for its logits. */
#ifndef QM_ENGINE_FORWARD_H
#define QM_ENGINE_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "kvcache.h"
#include "model.h"

struct qm_ctx_params {
    int32_t n_ctx;        /* cells per sequence (default: 4096, capped at n_ctx_train) */
    int32_t n_seq;        /* parallel sequences (default 1) */
    int32_t n_batch;      /* most tokens per forward call (default 512) */
    int32_t n_threads;    /* <= 0: one per core */
    enum qm_type kv_type; /* QM_TYPE_F16 (default) or QM_TYPE_Q8_0 */
};

struct qm_batch {
    int32_t n;
    const int32_t *token;  /* n token ids */
    const int32_t *pos;    /* n positions; a sequence's positions must continue its cache */
    const int32_t *seq;    /* n sequence ids (NULL: all 0) */
    const bool *logits;    /* n flags (NULL: only the last token) */
};

struct qm_ctx;

void qm_ctx_default_params(struct qm_ctx_params *p);
int qm_ctx_create(struct qm_ctx **out, const struct qm_model *m, const struct qm_ctx_params *p,
                  struct qm_err *err);
void qm_ctx_free(struct qm_ctx *c);

const struct qm_model *qm_ctx_model(const struct qm_ctx *c);
struct qm_kvcache *qm_ctx_kv(struct qm_ctx *c);
int32_t qm_ctx_n_ctx(const struct qm_ctx *c);
void qm_ctx_set_threads(struct qm_ctx *c, int32_t n_threads);

/* Run the model over the batch, appending its keys and values to the cache.
 * Splits batches larger than n_batch.  On success the logits of the tokens
 * that asked for them are available, in batch order, through qm_ctx_logits. */
int qm_forward(struct qm_ctx *c, const struct qm_batch *b, struct qm_err *err);

/* Logits (n_vocab floats) of the i-th token that asked for logits in the
 * last qm_forward call, or NULL. */
const float *qm_ctx_logits(const struct qm_ctx *c, int32_t i);

/* Embeddings mode: qm_forward computes, for the tokens that ask for output,
 * the final-normed hidden state (n_embd floats) instead of the logits. */
void qm_ctx_set_embeddings(struct qm_ctx *c, bool on);

/* The i-th output row of the last qm_forward in embeddings mode, or NULL. */
const float *qm_ctx_embedding(const struct qm_ctx *c, int32_t i);

#endif
