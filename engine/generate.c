/* generate.c - the prompt → tokens → text loop for one sequence.
 *
 * The order of a step matters: sample, end on an end-of-generation token
 * (never shown), accept the token for the penalties, turn it into bytes
 * (whole UTF-8 characters only), pass the bytes through the stop-string
 * matcher (which holds back what could still become a stop string), emit
 * what is safe, then feed the token back to the model.  At the end the
 * held-back text is flushed unless a stop string ended the generation. */
#include "generate.h"

#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "stop.h"

void qm_gen_params_default(struct qm_gen_params *p)
{
    qm_sampler_params_default(&p->sampling);
    p->num_predict = -1;
    p->stop = NULL;
    p->n_stop = 0;
}

const char *qm_done_reason_name(enum qm_done_reason r)
{
    switch (r) {
    case QM_DONE_STOP: return "stop";
    case QM_DONE_LENGTH: return "length";
    case QM_DONE_CANCEL: return "cancel";
    }
    return "?";
}

int qm_generate(struct qm_ctx *c, const struct qm_tokenizer *tok, const int32_t *prompt, size_t n_prompt,
                const struct qm_gen_params *p, qm_gen_emit_fn emit, void *ud, struct qm_gen_stats *st,
                struct qm_err *err)
{
    const struct qm_model *m = qm_ctx_model(c);
    const int32_t n_ctx = qm_ctx_n_ctx(c);
    struct qm_sampler *smp = NULL;
    struct qm_detok *dt = NULL;
    struct qm_stop *stop = NULL;
    int32_t *pos = NULL;
    int rc;

    *st = (struct qm_gen_stats){0};
    if (n_prompt == 0)
        return qm_err_set(err, "the prompt is empty");
    if (n_prompt >= (size_t)n_ctx)
        return qm_err_set(err, "the prompt has %zu tokens, more than the context of %d allows", n_prompt, n_ctx);

    struct qm_sampler_params sp = p->sampling;
    sp.num_ctx = n_ctx;
    rc = QM_EINVAL;
    if (!(smp = qm_sampler_new(&sp, m->hp.n_vocab, err)))
        goto out;
    if ((rc = qm_detok_new(&dt, tok, 0, err)) < 0)
        goto out;
    rc = QM_EINVAL;
    if (!(stop = qm_stop_new(p->stop, p->n_stop, err)))
        goto out;
    rc = QM_ENOMEM;
    if (!(pos = malloc(n_prompt * sizeof *pos))) {
        qm_err_set(err, "out of memory");
        goto out;
    }

    /* the prompt */
    qm_kvcache_truncate(qm_ctx_kv(c), 0, 0);
    for (size_t i = 0; i < n_prompt; i++) {
        pos[i] = (int32_t)i;
        qm_sampler_accept(smp, prompt[i]);
    }
    double t0 = qm_now_s();
    struct qm_batch b = {.n = (int32_t)n_prompt, .token = prompt, .pos = pos};
    if ((rc = qm_forward(c, &b, err)) < 0)
        goto out;
    st->n_prompt = (int32_t)n_prompt;
    st->prompt_s = qm_now_s() - t0;

    /* the answer */
    t0 = qm_now_s();
    int32_t n_past = (int32_t)n_prompt;
    struct qm_stop_result sr;
    for (;;) {
        if (p->num_predict >= 0 && st->n_gen >= p->num_predict) {
            st->reason = QM_DONE_LENGTH;
            break;
        }
        int32_t id = qm_sampler_sample(smp, qm_ctx_logits(c, 0), NULL);
        if (id < 0) {
            rc = qm_err_set(err, "sampling failed: every token is banned");
            goto out;
        }
        if (qm_tok_is_eog(tok, id)) {
            st->reason = QM_DONE_STOP;
            break;
        }
        qm_sampler_accept(smp, id);
        st->n_gen++;
        const char *text;
        size_t len;
        if ((rc = qm_detok_push(dt, id, &text, &len, err)) < 0 ||
            (rc = qm_stop_feed(stop, text, len, &sr, err)) < 0)
            goto out;
        if (sr.len && emit(ud, sr.text, sr.len)) {
            st->reason = QM_DONE_CANCEL;
            break;
        }
        if (sr.stop >= 0) {
            st->reason = QM_DONE_STOP;
            break;
        }
        if (n_past >= n_ctx) {
            st->reason = QM_DONE_LENGTH;
            break;
        }
        struct qm_batch one = {.n = 1, .token = &id, .pos = &n_past};
        if ((rc = qm_forward(c, &one, err)) < 0)
            goto out;
        n_past++;
    }
    st->gen_s = qm_now_s() - t0;
    if (!qm_stop_stopped(stop) && st->reason != QM_DONE_CANCEL) {
        const char *text;
        size_t len;
        qm_detok_flush(dt, &text, &len);
        if ((rc = qm_stop_feed(stop, text, len, &sr, err)) < 0)
            goto out;
        if (sr.len)
            emit(ud, sr.text, sr.len);
        if (sr.stop < 0) {
            qm_stop_flush(stop, &sr);
            if (sr.len)
                emit(ud, sr.text, sr.len);
        }
    }
    rc = 0;
out:
    free(pos);
    qm_stop_free(stop);
    qm_detok_free(dt);
    qm_sampler_free(smp);
    return rc;
}
