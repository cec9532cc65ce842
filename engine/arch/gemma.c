/* gemma.c - Gemma 1, 2 and 3.
 *
 * All three scale the embedding by sqrt(n_embd), use GELU (tanh form) in the
 * FFN and always tie the output head to token_embd.  The converters already
 * added 1 to every norm weight, so norms multiply by the stored weight.
 *   gemma2: RMSNorm after attention and after the FFN; attention scores
 *           soft-capped at 50, logits at 30; even layers see a sliding
 *           window of 4096.
 *   gemma3: as gemma2 without the attention soft-cap, with per-head q/k
 *           norms; five sliding-window layers then one global one; local
 *           layers use RoPE base 10000 unscaled, global ones the file's. */
#include "arch.h"

#include <math.h>

/* Query scale: 1/sqrt(head_dim), except that Gemma 2 27B (46 layers) was
 * trained with 1/sqrt(n_embd/n_head) (query_pre_attn_scalar = 144). */
static void gemma_query_scale(struct qm_hparams *hp)
{
    if (hp->n_layer == 46)
        hp->query_scale = 1.0f / sqrtf((float)hp->n_embd / (float)hp->n_head);
    else
        hp->query_scale = 1.0f / sqrtf((float)hp->head_dim);
}

static int gemma2_finish(const struct gguf_file *f, struct qm_hparams *hp, struct qm_err *err)
{
    int64_t window = 4096;
    int rc = qm_arch_get_int(f, "gemma2", "attention.sliding_window", &window, err);
    if (rc < 0 && rc != GGUF_ENOKEY)
        return rc;
    hp->attn_softcap = 50.0f;
    hp->final_softcap = 30.0f;
    rc = qm_arch_get_float(f, "gemma2", "attn_logit_softcapping", &hp->attn_softcap, err);
    if (rc < 0 && rc != GGUF_ENOKEY)
        return rc;
    rc = qm_arch_get_float(f, "gemma2", "final_logit_softcapping", &hp->final_softcap, err);
    if (rc < 0 && rc != GGUF_ENOKEY)
        return rc;
    hp->n_swa = (int32_t)window;
    for (int l = 0; l < hp->n_layer; l++)
        hp->swa_layer[l] = window > 0 && l % 2 == 0;
    gemma_query_scale(hp);
    return 0;
}

static int gemma3_finish(const struct gguf_file *f, struct qm_hparams *hp, struct qm_err *err)
{
    int64_t window = 0;
    int rc = qm_arch_get_int(f, "gemma3", "attention.sliding_window", &window, err);
    if (rc < 0 && rc != GGUF_ENOKEY)
        return rc;
    hp->final_softcap = 0.0f;
    rc = qm_arch_get_float(f, "gemma3", "final_logit_softcapping", &hp->final_softcap, err);
    if (rc < 0 && rc != GGUF_ENOKEY)
        return rc;
    hp->n_swa = (int32_t)window;
    for (int l = 0; l < hp->n_layer; l++)
        hp->swa_layer[l] = window > 0 && l % 6 < 5;
    hp->rope_base_local = 10000.0f;
    hp->rope_freq_scale_local = 1.0f;
    gemma_query_scale(hp);
    return 0;
}

static int gemma_finish(const struct gguf_file *f, struct qm_hparams *hp, struct qm_err *err)
{
    (void)f;
    (void)err;
    gemma_query_scale(hp);
    return 0;
}

const struct qm_arch_desc qm_arch_gemma = {
    .arch = {
        .name = "gemma",
        .rope_style = QM_ROPE_NEOX,
        .act = QM_ACT_GELU,
        .embed_scale = true,
        .tied_output_always = true,
    },
    .finish = gemma_finish,
};

const struct qm_arch_desc qm_arch_gemma2 = {
    .arch = {
        .name = "gemma2",
        .rope_style = QM_ROPE_NEOX,
        .act = QM_ACT_GELU,
        .post_norms = true,
        .embed_scale = true,
        .tied_output_always = true,
    },
    .finish = gemma2_finish,
};

const struct qm_arch_desc qm_arch_gemma3 = {
    .arch = {
        .name = "gemma3",
        .rope_style = QM_ROPE_NEOX,
        .act = QM_ACT_GELU,
        .qk_norm = true,
        .post_norms = true,
        .embed_scale = true,
        .tied_output_always = true,
    },
    .finish = gemma3_finish,
};
