/* generate.h - one prompt in, streamed text out: the simplest driver of the
 * engine, for `qm generate` and for tests.
 *
 * Runs sequence 0 of a context: evaluates the prompt in batches, then
 * samples, detokenizes and filters stop strings token by token until an
 * end-of-generation token, a stop string, num_predict tokens, a full
 * context, or the caller's emit callback asks to stop.  The daemon's runner
 * drives many sequences at once with the same pieces (forward, sampler,
 * detok, stop). */
#ifndef QM_ENGINE_GENERATE_H
#define QM_ENGINE_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "forward.h"
#include "sampler.h"
#include "tokenizer.h"

struct qm_gen_params {
    struct qm_sampler_params sampling;
    int32_t num_predict;          /* < 0: until an end token or a full context */
    const char *const *stop;      /* stop strings, never part of the output */
    size_t n_stop;
};

enum qm_done_reason {
    QM_DONE_STOP,     /* an end token or a stop string */
    QM_DONE_LENGTH,   /* num_predict reached or the context is full */
    QM_DONE_CANCEL,   /* the emit callback asked to stop */
};

struct qm_gen_stats {
    int32_t n_prompt;      /* prompt tokens evaluated */
    int32_t n_gen;         /* tokens generated */
    double prompt_s;       /* seconds evaluating the prompt */
    double gen_s;          /* seconds generating */
    enum qm_done_reason reason;
};

/* Text to show; return non-zero to stop generating. */
typedef int (*qm_gen_emit_fn)(void *ud, const char *text, size_t len);

void qm_gen_params_default(struct qm_gen_params *p);

int qm_generate(struct qm_ctx *c, const struct qm_tokenizer *tok, const int32_t *prompt, size_t n_prompt,
                const struct qm_gen_params *p, qm_gen_emit_fn emit, void *ud, struct qm_gen_stats *st,
                struct qm_err *err);

const char *qm_done_reason_name(enum qm_done_reason r);

#endif
