/* kvcache.c - allocation and bookkeeping of the KV cache.
 *
 * The memory is allocated once for n_seq × n_ctx cells per layer and never
 * moves; pages are touched only as cells fill, so a large n_ctx costs
 * address space first and memory as it is used. */
#include "kvcache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ckd.h"

int qm_kv_type_parse(const char *s, enum qm_type *out, struct qm_err *err)
{
    if (!s || !*s || !strcmp(s, "f16"))
        *out = QM_TYPE_F16;
    else if (!strcmp(s, "q8_0"))
        *out = QM_TYPE_Q8_0;
    else
        return qm_err_set(err, "unknown KV cache type '%s' (f16 or q8_0)", s);
    return 0;
}

uint64_t qm_kvcache_bytes(int32_t n_layer, int32_t n_seq, int32_t n_ctx, int32_t kv_dim, enum qm_type type)
{
    return 2ull * (uint64_t)n_layer * (uint64_t)n_seq * (uint64_t)n_ctx * qm_row_size(type, kv_dim);
}

static void *map_zeroed(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int qm_kvcache_init(struct qm_kvcache *kv, int32_t n_layer, int32_t n_seq, int32_t n_ctx, int32_t kv_dim,
                    enum qm_type type, struct qm_err *err)
{
    memset(kv, 0, sizeof *kv);
    if (n_layer <= 0 || n_seq <= 0 || n_ctx <= 0 || kv_dim <= 0)
        return qm_err_set(err, "KV cache: bad dimensions");
    if (type != QM_TYPE_F16 && type != QM_TYPE_Q8_0)
        return qm_err_set(err, "KV cache: type %s is not supported", qm_type_name(type));
    if (kv_dim % qm_type_traits(type)->blck)
        return qm_err_set(err, "KV cache: rows of %d elements do not split into %s blocks", kv_dim,
                          qm_type_name(type));
    size_t row = qm_row_size(type, kv_dim), bytes;
    if (qm_ckd_mul(&bytes, row, (size_t)n_layer) || qm_ckd_mul(&bytes, bytes, (size_t)n_seq) ||
        qm_ckd_mul(&bytes, bytes, (size_t)n_ctx))
        return qm_err_set(err, "KV cache: %d layers × %d sequences × %d cells is too large", n_layer, n_seq,
                          n_ctx);
    kv->k = map_zeroed(bytes);
    kv->v = map_zeroed(bytes);
    kv->n_past = calloc((size_t)n_seq, sizeof *kv->n_past);
    if (!kv->k || !kv->v || !kv->n_past) {
        size_t keep = bytes;
        if (kv->k)
            munmap(kv->k, keep);
        if (kv->v)
            munmap(kv->v, keep);
        free(kv->n_past);
        memset(kv, 0, sizeof *kv);
        return qm_err_set(err, "KV cache: out of memory for %zu bytes", 2 * bytes);
    }
    kv->n_layer = n_layer;
    kv->n_seq = n_seq;
    kv->n_ctx = n_ctx;
    kv->kv_dim = kv_dim;
    kv->type = type;
    kv->row_bytes = row;
    return 0;
}

void qm_kvcache_free(struct qm_kvcache *kv)
{
    if (!kv || !kv->k)
        return;
    size_t bytes = kv->row_bytes * (size_t)kv->n_layer * (size_t)kv->n_seq * (size_t)kv->n_ctx;
    munmap(kv->k, bytes);
    munmap(kv->v, bytes);
    free(kv->n_past);
    memset(kv, 0, sizeof *kv);
}

void qm_kvcache_truncate(struct qm_kvcache *kv, int32_t seq, int32_t p)
{
    if (seq < 0 || seq >= kv->n_seq || p < 0)
        return;
    if (kv->n_past[seq] > p)
        kv->n_past[seq] = p;
}
