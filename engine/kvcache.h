/* kvcache.h - the keys and values of every token seen, per layer and slot.
 *
 * One cache serves n_seq independent sequences (the runner's parallel
 * slots); each has n_ctx cells, cell p holding the RoPE'd key and the value
 * of the token at position p.  Rows are f16 by default or q8_0
 * (QM_KV_CACHE_TYPE=q8_0), which halves the memory for a small error. */
#ifndef QM_ENGINE_KVCACHE_H
#define QM_ENGINE_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "quant.h"

struct qm_kvcache {
    int32_t n_layer;
    int32_t n_seq;
    int32_t n_ctx;        /* cells per sequence */
    int32_t kv_dim;       /* n_head_kv * head_dim: elements of one row */
    enum qm_type type;    /* QM_TYPE_F16 or QM_TYPE_Q8_0 */
    size_t row_bytes;     /* bytes of one cell's K (or V) row in one layer */
    uint8_t *k;           /* (layer, seq, cell, kv_dim) */
    uint8_t *v;           /* (layer, seq, cell, kv_dim) */
    int32_t *n_past;      /* per sequence: cells [0, n_past) hold tokens */
};

/* Parse "f16" / "q8_0" (NULL or "" gives f16). */
int qm_kv_type_parse(const char *s, enum qm_type *out, struct qm_err *err);

int qm_kvcache_init(struct qm_kvcache *kv, int32_t n_layer, int32_t n_seq, int32_t n_ctx, int32_t kv_dim,
                    enum qm_type type, struct qm_err *err);
void qm_kvcache_free(struct qm_kvcache *kv);

/* Bytes a cache of these dimensions takes (for memory estimates). */
uint64_t qm_kvcache_bytes(int32_t n_layer, int32_t n_seq, int32_t n_ctx, int32_t kv_dim, enum qm_type type);

static inline uint8_t *qm_kv_k_row(const struct qm_kvcache *kv, int32_t layer, int32_t seq, int32_t cell)
{
    return kv->k + (((size_t)layer * (size_t)kv->n_seq + (size_t)seq) * (size_t)kv->n_ctx + (size_t)cell) *
                       kv->row_bytes;
}

static inline uint8_t *qm_kv_v_row(const struct qm_kvcache *kv, int32_t layer, int32_t seq, int32_t cell)
{
    return kv->v + (((size_t)layer * (size_t)kv->n_seq + (size_t)seq) * (size_t)kv->n_ctx + (size_t)cell) *
                       kv->row_bytes;
}

/* Forget the cells of a sequence from position p on (p = 0: all of it). */
void qm_kvcache_truncate(struct qm_kvcache *kv, int32_t seq, int32_t p);

#endif
