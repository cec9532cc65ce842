/* estimate.c - the memory arithmetic of estimate.h, and nothing else.
 *
 * All sums saturate at UINT64_MAX: the figures come from files a user
 * downloaded, and a wrapped sum would make a huge model look small enough
 * to load. */
#include "estimate.h"

#include "ckd.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;
    return qm_ckd_add(&r, a, b) ? UINT64_MAX : r;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return qm_ckd_mul(&r, a, b) ? UINT64_MAX : r;
}

static uint64_t pos(int v)
{
    return v > 0 ? (uint64_t)v : 0;
}

uint64_t qm_est_kv_per_token_layer(const struct qm_model_sizes *mi, enum qm_kv_type t)
{
    uint64_t kv_dim = sat_mul(pos(mi->n_head_kv), pos(mi->head_dim));
    uint64_t row = t == QM_KV_Q8_0 ? sat_mul((kv_dim + 31) / 32, 34) : sat_mul(kv_dim, 2);
    return sat_mul(row, 2);
}

/* Weights of layers [from, to). */
static uint64_t layers_bytes(const struct qm_model_sizes *mi, int from, int to)
{
    uint64_t sum = 0;
    for (int i = from; i < to; i++)
        sum = sat_add(sum, mi->layer_bytes[i]);
    return sum;
}

struct parts {
    uint64_t kv_layer;   /* kv cache of one layer for every slot */
    uint64_t graph;
    uint64_t logits;
};

/* Both sides for L layers on the GPU out of n. */
static void vram_ram(const struct qm_model_sizes *mi, const struct qm_est_params *p, const struct parts *pt,
                     int n, int L, uint64_t *vram, uint64_t *ram)
{
    bool head_gpu = L == n && n > 0;
    *vram = 0;
    if (L > 0) {
        *vram = sat_add(p->proc_overhead, layers_bytes(mi, n - L, n));
        *vram = sat_add(*vram, sat_mul(pt->kv_layer, (uint64_t)L));
        *vram = sat_add(*vram, pt->graph);
        if (head_gpu)
            *vram = sat_add(sat_add(*vram, mi->head_bytes), pt->logits);
    }
    *ram = sat_add(sat_add(mi->embd_bytes, mi->other_bytes), layers_bytes(mi, 0, n - L));
    *ram = sat_add(*ram, sat_mul(pt->kv_layer, (uint64_t)(n - L)));
    if (!head_gpu)
        *ram = sat_add(sat_add(*ram, mi->head_bytes), pt->graph);
    *ram = sat_add(*ram, pt->logits);
}

void qm_estimate(const struct qm_model_sizes *mi, const struct qm_est_params *p, struct qm_est *out)
{
    int n = mi->n_layer < 0 ? 0 : mi->n_layer > QM_EST_MAX_LAYERS ? QM_EST_MAX_LAYERS : mi->n_layer;
    uint64_t ctx = p->num_ctx > 0 ? (uint64_t)p->num_ctx : 1;
    uint64_t par = p->num_parallel > 0 ? (uint64_t)p->num_parallel : 1;
    uint64_t batch = p->n_batch > 0 ? (uint64_t)p->n_batch : QM_EST_N_BATCH;

    struct parts pt;
    pt.kv_layer = sat_mul(sat_mul(qm_est_kv_per_token_layer(mi, p->kv_type), ctx), par);
    uint64_t act = sat_add(sat_add(sat_mul(4, pos(mi->n_embd)), sat_mul(2, pos(mi->n_ff))), ctx);
    pt.graph = sat_mul(sat_mul(batch, act), 4);
    pt.logits = sat_mul(sat_mul(par, pos(mi->n_vocab)), 4);

    int L;
    uint64_t vram, ram;
    if (p->num_gpu >= 0) {
        L = p->num_gpu > n ? n : p->num_gpu;
        vram_ram(mi, p, &pt, n, L, &vram, &ram);
    } else {
        /* vram(L) grows with L, so the first L from the top that fits is
         * the largest; n_layer <= 512 keeps the scan cheap */
        for (L = n; L > 0; L--) {
            vram_ram(mi, p, &pt, n, L, &vram, &ram);
            if (vram <= p->gpu_free)
                break;
        }
        if (L == 0)
            vram_ram(mi, p, &pt, n, 0, &vram, &ram);
    }
    out->num_gpu = L;
    out->head_on_gpu = L == n && n > 0;
    out->vram = vram;
    out->ram = ram;
    out->fits = vram <= p->gpu_free;
    out->kv_bytes = sat_mul(pt.kv_layer, (uint64_t)n);
    out->graph_bytes = pt.graph;
}
