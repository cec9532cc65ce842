/* forward.c - the forward pass of every architecture qm runs, on the CPU.
 *
 * One function per step, reading like the papers: embed, then per layer
 * norm → q/k/v → RoPE → cache write → attention → output projection →
 * residual → norm → gated FFN → residual, then the output norm and head.
 * What differs between llama, qwen and gemma is a flag in struct qm_arch or
 * a number in struct qm_hparams; speed lives in the matmul kernels.
 *
 * A batch holds T tokens of any sequences; every activation buffer is T rows
 * (row t = token t).  Keys and values of the whole batch are written to the
 * cache before attention, so token t sees the tokens before it in the same
 * batch through the cache, masked by position. */
#include "forward.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "matmul.h"
#include "ops.h"

struct qm_ctx {
    const struct qm_model *m;
    struct qm_ctx_params p;
    struct qm_kvcache kv;
    struct qm_matmul_ctx *mm;
    int32_t n_threads;

    /* scratch for n_batch tokens */
    float *x;        /* (T, n_embd) residual stream */
    float *h;        /* (T, n_embd) normed input of a sub-layer */
    float *q;        /* (T, n_head * hd) */
    float *k;        /* (T, n_head_kv * hd) */
    float *v;        /* (T, n_head_kv * hd) */
    float *att;      /* (T, n_head * hd) attention output, heads concatenated */
    float *o;        /* (T, n_embd) sub-layer output */
    float *g;        /* (T, n_ff) gate, then act(gate) * up */
    float *u;        /* (T, n_ff) up */
    float *cs;       /* (T, n_rot) RoPE cos/sin, global layers */
    float *cs_local; /* (T, n_rot) RoPE cos/sin, sliding-window layers */
    float *scores;   /* (threads, n_ctx) attention scores */
    float *vtmp;     /* (threads, hd) a dequantized V row (q8_0 cache) */
    uint8_t *qq;     /* (threads, hd) q quantized for a q8_0 cache */
    int32_t *rows;   /* (T) which batch rows want logits */
    int32_t *tok_of_seq; /* (T) batch rows grouped by sequence, for attention */
    float *kvf;      /* (2, n_head_kv, cells, hd) one sequence's K and V in f32 */
    size_t kvf_cap;  /* floats allocated in kvf */

    float *logits;   /* (n_logits, n_vocab) */
    int32_t n_logits, cap_logits;

    bool embeddings; /* output the final normed hidden rows instead of logits */
    float *embd;     /* (n_embd_rows, n_embd) */
    int32_t n_embd_rows, cap_embd;
};

void qm_ctx_default_params(struct qm_ctx_params *p)
{
    p->n_ctx = 4096;
    p->n_seq = 1;
    p->n_batch = 512;
    p->n_threads = 0;
    p->kv_type = QM_TYPE_F16;
}

const struct qm_model *qm_ctx_model(const struct qm_ctx *c) { return c->m; }
struct qm_kvcache *qm_ctx_kv(struct qm_ctx *c) { return &c->kv; }
int32_t qm_ctx_n_ctx(const struct qm_ctx *c) { return c->p.n_ctx; }

void qm_ctx_set_threads(struct qm_ctx *c, int32_t n_threads)
{
    qm_matmul_ctx_set_threads(c->mm, n_threads);
    c->n_threads = qm_matmul_ctx_threads(c->mm);
}

static void *alloc_floats(size_t n) { return malloc(n * sizeof(float)); }

int qm_ctx_create(struct qm_ctx **out, const struct qm_model *m, const struct qm_ctx_params *params,
                  struct qm_err *err)
{
    const struct qm_hparams *hp = &m->hp;
    struct qm_ctx *c = calloc(1, sizeof *c);
    int rc = QM_ENOMEM;
    *out = NULL;
    if (!c)
        return qm_err_set(err, "out of memory");
    c->m = m;
    c->p = *params;
    if (c->p.n_ctx <= 0)
        c->p.n_ctx = 4096;
    if (c->p.n_ctx > hp->n_ctx_train)
        c->p.n_ctx = hp->n_ctx_train;
    if (c->p.n_seq <= 0)
        c->p.n_seq = 1;
    if (c->p.n_batch <= 0)
        c->p.n_batch = 512;
    if ((rc = qm_kvcache_init(&c->kv, hp->n_layer, c->p.n_seq, c->p.n_ctx, hp->n_head_kv * hp->head_dim,
                              c->p.kv_type, err)) < 0)
        goto fail;
    if ((rc = qm_matmul_ctx_create(&c->mm, c->p.n_threads, err)) < 0)
        goto fail;
    c->n_threads = qm_matmul_ctx_threads(c->mm);

    const size_t T = (size_t)c->p.n_batch, E = (size_t)hp->n_embd, hd = (size_t)hp->head_dim;
    const size_t Q = (size_t)hp->n_head * hd, KV = (size_t)hp->n_head_kv * hd, F = (size_t)hp->n_ff;
    const size_t nt = (size_t)c->n_threads;
    c->x = alloc_floats(T * E);
    c->h = alloc_floats(T * E);
    c->q = alloc_floats(T * Q);
    c->k = alloc_floats(T * KV);
    c->v = alloc_floats(T * KV);
    c->att = alloc_floats(T * Q);
    c->o = alloc_floats(T * E);
    c->g = alloc_floats(T * F);
    c->u = alloc_floats(T * F);
    c->cs = alloc_floats(T * (size_t)hp->n_rot);
    c->cs_local = alloc_floats(T * (size_t)hp->n_rot);
    c->scores = alloc_floats(nt * (size_t)c->p.n_ctx);
    c->vtmp = alloc_floats(nt * hd);
    c->qq = malloc(nt * qm_row_size(QM_TYPE_Q8_0, (int64_t)((hd + 31) / 32 * 32)));
    c->rows = malloc(T * sizeof *c->rows);
    c->tok_of_seq = malloc(T * sizeof *c->tok_of_seq);
    if (!c->x || !c->h || !c->q || !c->k || !c->v || !c->att || !c->o || !c->g || !c->u || !c->cs ||
        !c->cs_local || !c->scores || !c->vtmp || !c->qq || !c->rows ||
        !c->tok_of_seq) {
        rc = qm_err_set(err, "out of memory for the batch buffers");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    qm_ctx_free(c);
    return rc < 0 ? rc : QM_ENOMEM;
}

void qm_ctx_free(struct qm_ctx *c)
{
    if (!c)
        return;
    qm_kvcache_free(&c->kv);
    qm_matmul_ctx_free(c->mm);
    free(c->x); free(c->h); free(c->q); free(c->k); free(c->v); free(c->att); free(c->o);
    free(c->g); free(c->u); free(c->cs); free(c->cs_local); free(c->scores); free(c->vtmp);
    free(c->qq); free(c->rows); free(c->tok_of_seq); free(c->kvf); free(c->logits);
    free(c->embd);
    free(c);
}

const float *qm_ctx_logits(const struct qm_ctx *c, int32_t i)
{
    if (i < 0 || i >= c->n_logits)
        return NULL;
    return c->logits + (size_t)i * (size_t)c->m->hp.n_vocab;
}

void qm_ctx_set_embeddings(struct qm_ctx *c, bool on) { c->embeddings = on; }

const float *qm_ctx_embedding(const struct qm_ctx *c, int32_t i)
{
    if (i < 0 || i >= c->n_embd_rows)
        return NULL;
    return c->embd + (size_t)i * (size_t)c->m->hp.n_embd;
}

/* The final norm of the rows that asked for output, appended to c->embd. */
static int output_embeddings(struct qm_ctx *c, int32_t n, struct qm_err *err)
{
    const struct qm_model *m = c->m;
    const int64_t E = m->hp.n_embd;
    if (c->n_embd_rows + n > c->cap_embd) {
        int32_t cap = c->n_embd_rows + n;
        float *p = realloc(c->embd, (size_t)cap * (size_t)E * sizeof *p);
        if (!p)
            return qm_err_set(err, "out of memory for the embeddings of %d tokens", cap);
        c->embd = p;
        c->cap_embd = cap;
    }
    for (int32_t i = 0; i < n; i++)
        qm_rmsnorm(c->embd + (size_t)(c->n_embd_rows + i) * (size_t)E, c->x + (size_t)c->rows[i] * (size_t)E,
                   m->output_norm.data, E, m->hp.norm_eps);
    c->n_embd_rows += n;
    return 0;
}

/* ---- steps ----------------------------------------------------------------- */

static int embed(struct qm_ctx *c, const int32_t *tokens, int32_t T, struct qm_err *err)
{
    const struct qm_model *m = c->m;
    const struct qm_weight *w = &m->token_embd;
    const int64_t E = m->hp.n_embd;
    const size_t row = qm_row_size(w->type, E);
    const qm_to_float_fn to_float = qm_type_traits(w->type)->to_float;
    const float scale = m->arch.embed_scale ? sqrtf((float)E) : 1.0f;
    for (int32_t t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= m->hp.n_vocab)
            return qm_err_set(err, "token id %d is out of the vocabulary (0..%d)", tokens[t], m->hp.n_vocab - 1);
        float *x = c->x + (size_t)t * (size_t)E;
        to_float((const uint8_t *)w->data + (size_t)tokens[t] * row, x, E);
        if (scale != 1.0f)
            for (int64_t i = 0; i < E; i++)
                x[i] *= scale;
    }
    return 0;
}

/* y[t] = rmsnorm(x[t]) ⊙ w for T rows of n */
static void norm_rows(struct qm_ctx *c, float *y, const float *x, const struct qm_weight *w, int32_t T,
                      int64_t n)
{
    const float eps = c->m->hp.norm_eps;
#pragma omp parallel for num_threads(c->n_threads) if (T > 1)
    for (int32_t t = 0; t < T; t++)
        qm_rmsnorm(y + (size_t)t * (size_t)n, x + (size_t)t * (size_t)n, w->data, n, eps);
}

static void add_bias(float *y, const struct qm_weight *b, int32_t T, int64_t n)
{
    if (!b->data)
        return;
    for (int32_t t = 0; t < T; t++)
        qm_add(y + (size_t)t * (size_t)n, b->data, n);
}

/* Per-head RMSNorm of q and k (qwen3, gemma3). */
static void qk_norm(struct qm_ctx *c, const struct qm_layer *L, int32_t T)
{
    const struct qm_hparams *hp = &c->m->hp;
    const int64_t hd = hp->head_dim;
    for (int32_t t = 0; t < T; t++) {
        float *q = c->q + (size_t)t * (size_t)(hp->n_head * hd);
        float *k = c->k + (size_t)t * (size_t)(hp->n_head_kv * hd);
        for (int32_t h = 0; h < hp->n_head; h++)
            qm_rmsnorm(q + h * hd, q + h * hd, L->q_norm.data, hd, hp->norm_eps);
        for (int32_t h = 0; h < hp->n_head_kv; h++)
            qm_rmsnorm(k + h * hd, k + h * hd, L->k_norm.data, hd, hp->norm_eps);
    }
}

static void rope(struct qm_ctx *c, int il, int32_t T)
{
    const struct qm_hparams *hp = &c->m->hp;
    const float *cs = hp->swa_layer[il] ? c->cs_local : c->cs;
    const int64_t hd = hp->head_dim;
    for (int32_t t = 0; t < T; t++) {
        const float *a = cs + (size_t)t * (size_t)hp->n_rot;
        qm_rope_apply(c->q + (size_t)t * (size_t)(hp->n_head * hd), hp->n_head, hp->head_dim, hp->n_rot, a,
                      c->m->arch.rope_style);
        qm_rope_apply(c->k + (size_t)t * (size_t)(hp->n_head_kv * hd), hp->n_head_kv, hp->head_dim, hp->n_rot,
                      a, c->m->arch.rope_style);
    }
}

static void cache_write(struct qm_ctx *c, int il, const struct qm_batch *b, int32_t T)
{
    const struct qm_kvcache *kv = &c->kv;
    const qm_from_float_fn store = qm_cpu_kernels()->quantize[kv->type] ? qm_cpu_kernels()->quantize[kv->type]
                                                                        : qm_type_traits(kv->type)->from_float;
    for (int32_t t = 0; t < T; t++) {
        int32_t s = b->seq ? b->seq[t] : 0;
        store(c->k + (size_t)t * (size_t)kv->kv_dim, qm_kv_k_row(kv, il, s, b->pos[t]), kv->kv_dim);
        store(c->v + (size_t)t * (size_t)kv->kv_dim, qm_kv_v_row(kv, il, s, b->pos[t]), kv->kv_dim);
    }
}

/* Softmax of sc[j0..p] in place, scaled so that the weights sum to 1. */
static void softmax_range(float *sc, int32_t j0, int32_t p)
{
    float mx = -INFINITY, sum = 0.0f;
    for (int32_t j = j0; j <= p; j++)
        mx = sc[j] > mx ? sc[j] : mx;
    for (int32_t j = j0; j <= p; j++) {
        sc[j] = expf(sc[j] - mx);
        sum += sc[j];
    }
    const float inv = 1.0f / sum;
    for (int32_t j = j0; j <= p; j++)
        sc[j] *= inv;
}

/* The first cell token t may see on layer il: 0, or the start of its window. */
static int32_t first_cell(const struct qm_hparams *hp, int il, int32_t p)
{
    const int32_t window = hp->swa_layer[il] ? hp->n_swa : 0;
    return window > 0 && p - window + 1 > 0 ? p - window + 1 : 0;
}

static float cap_score(float d, float cap) { return cap > 0.0f ? cap * tanhf(d / cap) : d; }

/* att[t, h] = Σ_j softmax_j(cap(scale · q·k_j)) · v_j, reading the cache rows
 * in place: the decode path, where each row is read once per query anyway. */
static void attend_cached(struct qm_ctx *c, int il, const struct qm_batch *b, int32_t t, int32_t h, int tid)
{
    const struct qm_hparams *hp = &c->m->hp;
    const struct qm_kvcache *kv = &c->kv;
    const struct qm_cpu_kernels *K = qm_cpu_kernels();
    const int32_t hd = hp->head_dim, g = h / (hp->n_head / hp->n_head_kv);
    const int32_t s = b->seq ? b->seq[t] : 0, p = b->pos[t], j0 = first_cell(hp, il, p);
    const bool q8 = kv->type == QM_TYPE_Q8_0;
    const size_t koff = (size_t)g * qm_row_size(kv->type, hd);
    float *sc = c->scores + (size_t)tid * (size_t)c->p.n_ctx;
    const float *q = c->q + ((size_t)t * (size_t)hp->n_head + (size_t)h) * (size_t)hd;
    const void *qa = q;
    if (q8) {
        uint8_t *qq = c->qq + (size_t)tid * qm_row_size(QM_TYPE_Q8_0, (hd + 31) / 32 * 32);
        K->quantize[QM_TYPE_Q8_0](q, qq, hd);
        qa = qq;
    }
    for (int32_t j = j0; j <= p; j++) {
        float d;
        K->vec_dot[kv->type](hd, &d, qm_kv_k_row(kv, il, s, j) + koff, qa);
        sc[j] = cap_score(d * hp->query_scale, hp->attn_softcap);
    }
    softmax_range(sc, j0, p);
    float *out = c->att + ((size_t)t * (size_t)hp->n_head + (size_t)h) * (size_t)hd;
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int32_t j = j0; j <= p; j++) {
        const uint8_t *vr = qm_kv_v_row(kv, il, s, j) + koff;
        if (q8) {
            float *vt = c->vtmp + (size_t)tid * (size_t)hd;
            qm_type_traits(kv->type)->to_float(vr, vt, hd);
            qm_axpy_f32(out, sc[j], vt, hd);
        } else {
            qm_axpy_f16(out, sc[j], (const qm_f16 *)vr, hd);
        }
    }
}

/* The prompt path: n tokens (rows idx) of sequence s read the same cache
 * rows, so the K and V rows of each KV head are converted to f32 once and
 * every query then works on plain f32 rows. */
static int attend_sequence(struct qm_ctx *c, int il, const struct qm_batch *b, int32_t s, const int32_t *idx,
                           int32_t n, struct qm_err *err)
{
    const struct qm_hparams *hp = &c->m->hp;
    const struct qm_kvcache *kv = &c->kv;
    const int32_t hd = hp->head_dim, nkv = hp->n_head_kv, group = hp->n_head / hp->n_head_kv;
    int32_t cells = 0, lo = INT32_MAX;
    for (int32_t i = 0; i < n; i++) {
        int32_t p = b->pos[idx[i]];
        cells = p + 1 > cells ? p + 1 : cells;
        int32_t j0 = first_cell(hp, il, p);
        lo = j0 < lo ? j0 : lo;
    }
    const size_t need = 2 * (size_t)nkv * (size_t)cells * (size_t)hd;
    if (need > c->kvf_cap) {
        float *f = realloc(c->kvf, need * sizeof *f);
        if (!f)
            return qm_err_set(err, "out of memory for attention over %d cells", cells);
        c->kvf = f;
        c->kvf_cap = need;
    }
    float *kf = c->kvf, *vf = c->kvf + (size_t)nkv * (size_t)cells * (size_t)hd;
    const qm_to_float_fn to_float = qm_type_traits(kv->type)->to_float;
    const size_t hrow = qm_row_size(kv->type, hd);
#pragma omp parallel for collapse(2) num_threads(c->n_threads)
    for (int32_t g = 0; g < nkv; g++)
        for (int32_t j = lo; j < cells; j++) {
            size_t o = ((size_t)g * (size_t)cells + (size_t)j) * (size_t)hd;
            to_float(qm_kv_k_row(kv, il, s, j) + (size_t)g * hrow, kf + o, hd);
            to_float(qm_kv_v_row(kv, il, s, j) + (size_t)g * hrow, vf + o, hd);
        }

    const qm_vec_dot_fn dot = qm_cpu_kernels()->vec_dot[QM_TYPE_F32];
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(c->n_threads)
    for (int32_t i = 0; i < n; i++) {
        for (int32_t h = 0; h < hp->n_head; h++) {
            const int32_t t = idx[i], p = b->pos[t], j0 = first_cell(hp, il, p), g = h / group;
            float *sc = c->scores + (size_t)omp_get_thread_num() * (size_t)c->p.n_ctx;
            const float *q = c->q + ((size_t)t * (size_t)hp->n_head + (size_t)h) * (size_t)hd;
            const float *kg = kf + (size_t)g * (size_t)cells * (size_t)hd;
            const float *vg = vf + (size_t)g * (size_t)cells * (size_t)hd;
            for (int32_t j = j0; j <= p; j++) {
                float d;
                dot(hd, &d, kg + (size_t)j * (size_t)hd, q);
                sc[j] = cap_score(d * hp->query_scale, hp->attn_softcap);
            }
            softmax_range(sc, j0, p);
            float *out = c->att + ((size_t)t * (size_t)hp->n_head + (size_t)h) * (size_t)hd;
            memset(out, 0, (size_t)hd * sizeof *out);
            for (int32_t j = j0; j <= p; j++)
                qm_axpy_f32(out, sc[j], vg + (size_t)j * (size_t)hd, hd);
        }
    }
    return 0;
}

/* Attention for every token of the batch: sequences with several tokens in
 * it (prompt chunks) go through attend_sequence, single decode tokens read
 * the cache in place, all of them in one parallel region. */
static int attention(struct qm_ctx *c, int il, const struct qm_batch *b, int32_t T, struct qm_err *err)
{
    const struct qm_hparams *hp = &c->m->hp;
    int32_t n_single = 0;
    int32_t *single = c->rows; /* free until output() */
    for (int32_t s = 0; s < c->p.n_seq; s++) {
        int32_t n = 0;
        for (int32_t t = 0; t < T; t++)
            if ((b->seq ? b->seq[t] : 0) == s)
                c->tok_of_seq[n++] = t;
        if (n >= 4) {
            int rc = attend_sequence(c, il, b, s, c->tok_of_seq, n, err);
            if (rc < 0)
                return rc;
        } else {
            for (int32_t i = 0; i < n; i++)
                single[n_single++] = c->tok_of_seq[i];
        }
    }
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(c->n_threads) if (n_single * hp->n_head > 1)
    for (int32_t i = 0; i < n_single; i++)
        for (int32_t h = 0; h < hp->n_head; h++)
            attend_cached(c, il, b, single[i], h, omp_get_thread_num());
    return 0;
}

static int layer(struct qm_ctx *c, int il, const struct qm_batch *b, int32_t T, struct qm_err *err)
{
    const struct qm_model *m = c->m;
    const struct qm_hparams *hp = &m->hp;
    const struct qm_layer *L = &m->layers[il];
    const int64_t E = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim,
                  KV = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff;
    int rc;

    /* attention block */
    norm_rows(c, c->h, c->x, &L->attn_norm, T, E);
    const struct qm_matmul_op qkv[3] = {
        {L->wq.type, L->wq.data, Q, c->q},
        {L->wk.type, L->wk.data, KV, c->k},
        {L->wv.type, L->wv.data, KV, c->v},
    };
    if ((rc = qm_matmul_multi(c->mm, qkv, 3, E, c->h, T, err)) < 0)
        return rc;
    add_bias(c->q, &L->bq, T, Q);
    add_bias(c->k, &L->bk, T, KV);
    add_bias(c->v, &L->bv, T, KV);
    if (m->arch.qk_norm)
        qk_norm(c, L, T);
    rope(c, il, T);
    cache_write(c, il, b, T);
    if ((rc = attention(c, il, b, T, err)) < 0)
        return rc;
    if ((rc = qm_matmul(c->mm, L->wo.type, L->wo.data, E, Q, c->att, T, c->o, err)) < 0)
        return rc;
    if (m->arch.post_norms)
        norm_rows(c, c->o, c->o, &L->post_attn_norm, T, E);
    qm_add(c->x, c->o, (int64_t)T * E);

    /* feed-forward block */
    norm_rows(c, c->h, c->x, &L->ffn_norm, T, E);
    const struct qm_matmul_op gate_up[2] = {
        {L->ffn_gate.type, L->ffn_gate.data, F, c->g},
        {L->ffn_up.type, L->ffn_up.data, F, c->u},
    };
    if ((rc = qm_matmul_multi(c->mm, gate_up, 2, E, c->h, T, err)) < 0)
        return rc;
#pragma omp parallel for num_threads(c->n_threads) if (T > 1)
    for (int32_t t = 0; t < T; t++)
        qm_gated_act(c->g + (size_t)t * (size_t)F, c->u + (size_t)t * (size_t)F, F, m->arch.act);
    if ((rc = qm_matmul(c->mm, L->ffn_down.type, L->ffn_down.data, E, F, c->g, T, c->o, err)) < 0)
        return rc;
    if (m->arch.post_norms)
        norm_rows(c, c->o, c->o, &L->post_ffn_norm, T, E);
    qm_add(c->x, c->o, (int64_t)T * E);
    return 0;
}

static int output(struct qm_ctx *c, const struct qm_batch *b, int32_t off, int32_t T, struct qm_err *err)
{
    const struct qm_model *m = c->m;
    const int64_t E = m->hp.n_embd, V = m->hp.n_vocab;
    int32_t n = 0;
    for (int32_t t = 0; t < T; t++)
        if (b->logits ? b->logits[off + t] : off + t == b->n - 1)
            c->rows[n++] = t;
    if (n == 0)
        return 0;
    if (c->embeddings)
        return output_embeddings(c, n, err);
    if (c->n_logits + n > c->cap_logits) {
        int32_t cap = c->n_logits + n;
        float *p = realloc(c->logits, (size_t)cap * (size_t)V * sizeof *p);
        if (!p)
            return qm_err_set(err, "out of memory for the logits of %d tokens", cap);
        c->logits = p;
        c->cap_logits = cap;
    }
    for (int32_t i = 0; i < n; i++)
        qm_rmsnorm(c->h + (size_t)i * (size_t)E, c->x + (size_t)c->rows[i] * (size_t)E, m->output_norm.data, E,
                   m->hp.norm_eps);
    float *y = c->logits + (size_t)c->n_logits * (size_t)V;
    int rc = qm_matmul(c->mm, m->output.type, m->output.data, V, E, c->h, n, y, err);
    if (rc < 0)
        return rc;
    add_bias(y, &m->output_bias, n, V);
    if (m->hp.final_softcap > 0.0f)
        qm_softcap(y, (int64_t)n * V, m->hp.final_softcap);
    c->n_logits += n;
    return 0;
}

/* Positions must continue each sequence's cache without gaps. */
static int check_batch(struct qm_ctx *c, const struct qm_batch *b, struct qm_err *err)
{
    int32_t next[64];
    int32_t *np = c->p.n_seq <= 64 ? next : malloc((size_t)c->p.n_seq * sizeof *np);
    if (!np)
        return qm_err_set(err, "out of memory");
    memcpy(np, c->kv.n_past, (size_t)c->p.n_seq * sizeof *np);
    int rc = 0;
    for (int32_t t = 0; t < b->n && rc == 0; t++) {
        int32_t s = b->seq ? b->seq[t] : 0;
        if (s < 0 || s >= c->p.n_seq)
            rc = qm_err_set(err, "sequence %d does not exist (0..%d)", s, c->p.n_seq - 1);
        else if (b->pos[t] >= c->p.n_ctx)
            rc = qm_err_set(err, "position %d is past the context of %d tokens", b->pos[t], c->p.n_ctx);
        else if (b->pos[t] != np[s])
            rc = qm_err_set(err, "position %d of sequence %d does not follow its cache (next is %d)", b->pos[t],
                            s, np[s]);
        else
            np[s]++;
    }
    if (np != next)
        free(np);
    return rc;
}

int qm_forward(struct qm_ctx *c, const struct qm_batch *b, struct qm_err *err)
{
    const struct qm_model *m = c->m;
    const struct qm_hparams *hp = &m->hp;
    int rc;
    c->n_logits = 0;
    c->n_embd_rows = 0;
    if (b->n <= 0)
        return qm_err_set(err, "empty batch");
    if ((rc = check_batch(c, b, err)) < 0)
        return rc;
    for (int32_t off = 0; off < b->n; off += c->p.n_batch) {
        const int32_t T = b->n - off < c->p.n_batch ? b->n - off : c->p.n_batch;
        const struct qm_batch sub = {
            .n = T,
            .token = b->token + off,
            .pos = b->pos + off,
            .seq = b->seq ? b->seq + off : NULL,
        };
        if ((rc = embed(c, sub.token, T, err)) < 0)
            return rc;
        const struct qm_rope_params rp = {
            .n_rot = hp->n_rot, .base = hp->rope_base, .freq_scale = hp->rope_freq_scale,
            .factors = m->rope_freqs.data, .yarn_ext = hp->rope_yarn_ext, .attn_factor = hp->rope_attn_factor,
            .n_ctx_orig = hp->rope_n_ctx_orig};
        struct qm_rope_params rp_local = rp;
        rp_local.base = hp->rope_base_local;
        rp_local.freq_scale = hp->rope_freq_scale_local;
        for (int32_t t = 0; t < T; t++) {
            qm_rope_angles(c->cs + (size_t)t * (size_t)hp->n_rot, sub.pos[t], &rp);
            qm_rope_angles(c->cs_local + (size_t)t * (size_t)hp->n_rot, sub.pos[t], &rp_local);
        }
        for (int il = 0; il < hp->n_layer; il++)
            if ((rc = layer(c, il, &sub, T, err)) < 0)
                return rc;
        for (int32_t t = 0; t < T; t++) {
            int32_t s = sub.seq ? sub.seq[t] : 0;
            c->kv.n_past[s] = sub.pos[t] + 1;
        }
        if ((rc = output(c, b, off, T, err)) < 0)
            return rc;
    }
    return 0;
}
