/* logits_tool.c - the engine's logits along a given token sequence, for the
 * reference tests against llama.cpp.
 *
 *   logits_tool MODEL.gguf N_PROMPT ID... [--threads N] [--kv q8_0] [--topk K]
 *
 * Evaluates the first N_PROMPT ids as one batch (prompt processing), then
 * feeds the remaining ids one at a time (decoding, teacher-forced: the ids
 * given, not the ones we would pick).  Prints one line per step, from the
 * last prompt token on: all n_vocab logits separated by spaces, or with
 * --topk the K largest as "id:logit" pairs (for real vocabularies). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"

static int32_t topk;

static void print_logits(const float *l, int32_t n)
{
    if (topk > 0) {
        /* one pass keeping the K largest in a sorted array: K is small */
        int32_t best[64], nb = 0;
        for (int32_t i = 0; i < n; i++) {
            if (nb == topk && l[i] <= l[best[nb - 1]])
                continue;
            int32_t j = nb < topk ? nb++ : nb - 1;
            while (j > 0 && l[best[j - 1]] < l[i]) {
                best[j] = best[j - 1];
                j--;
            }
            best[j] = i;
        }
        for (int32_t k = 0; k < nb; k++)
            printf(k ? " %d:%.6g" : "%d:%.6g", best[k], (double)l[best[k]]);
        printf("\n");
        return;
    }
    for (int32_t i = 0; i < n; i++)
        printf(i ? " %.6g" : "%.6g", (double)l[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    struct qm_err err = {{0}};
    struct qm_ctx_params p;
    qm_ctx_default_params(&p);
    int32_t ids[4096], n = 0, n_prompt;
    if (argc < 4) {
        fprintf(stderr, "usage: logits_tool MODEL N_PROMPT ID... [--threads N] [--kv q8_0]\n");
        return 2;
    }
    n_prompt = atoi(argv[2]);
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            p.n_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kv") && i + 1 < argc) {
            if (qm_kv_type_parse(argv[++i], &p.kv_type, &err) < 0)
                goto fail;
        } else if (!strcmp(argv[i], "--topk") && i + 1 < argc) {
            topk = atoi(argv[++i]);
            if (topk < 1 || topk > 64) {
                fprintf(stderr, "logits_tool: --topk wants 1..64\n");
                return 2;
            }
        } else if (n < 4096)
            ids[n++] = atoi(argv[i]);
    }
    if (n_prompt < 1 || n_prompt > n) {
        fprintf(stderr, "logits_tool: N_PROMPT must be in 1..%d\n", n);
        return 2;
    }
    struct qm_model *m;
    struct qm_ctx *c;
    if (qm_model_load(&m, argv[1], &err) < 0)
        goto fail;
    p.n_ctx = n + 8;
    if (qm_ctx_create(&c, m, &p, &err) < 0)
        goto fail;
    int32_t pos[4096];
    for (int32_t i = 0; i < n; i++)
        pos[i] = i;
    struct qm_batch b = {.n = n_prompt, .token = ids, .pos = pos};
    if (qm_forward(c, &b, &err) < 0)
        goto fail;
    print_logits(qm_ctx_logits(c, 0), m->hp.n_vocab);
    for (int32_t i = n_prompt; i < n; i++) {
        struct qm_batch one = {.n = 1, .token = ids + i, .pos = pos + i};
        if (qm_forward(c, &one, &err) < 0)
            goto fail;
        print_logits(qm_ctx_logits(c, 0), m->hp.n_vocab);
    }
    qm_ctx_free(c);
    qm_model_free(m);
    return 0;
fail:
    fprintf(stderr, "logits_tool: %s\n", err.msg);
    return 1;
}
