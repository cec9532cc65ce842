/* matmul.c - Y = W·X on the CPU, threaded with OpenMP.
 *
 * A call runs in one parallel region with two phases.  First the threads
 * quantize X into the activation type of each weight (the blocks of all
 * token rows are dealt out in contiguous runs) and, for the weight types that
 * have prepared dots (prep.h), rearrange their share of the quantized rows
 * into the prepared layout; then they wait for each other at one barrier.
 * Then each thread takes one contiguous range of weight rows, cut by bytes so
 * every thread streams the same amount of memory, and runs the dot product
 * over it: the prepared one where there is one, else the kernel table's.
 *
 * Decoding (one token) is a pure weight stream: the quantized activation row
 * sits in L1 and the only cost that is not the stream is the region's start,
 * the barrier and the final join, a few microseconds, against hundreds of
 * matrix-vector products per token.  Tiny products run on the calling thread
 * alone, where that overhead would be larger than the work.  For many tokens
 * (prompt processing) the rows are walked in small tiles and every token of
 * a block of tokens is applied to a tile before moving on, so the tile stays
 * in L1/L2 while the block's activations stay in L2; the weight is then read
 * once per block of tokens, which is cheap next to the arithmetic.  Where
 * the kernel table has an x4 dot for the weight type (kernels.h), each row
 * of a tile meets the tokens four at a time, so its blocks are unpacked once
 * per four tokens; the x4 dot reads the same rows (prepared or plain) as the
 * single dot of the type, which takes the block's last ntok % 4 tokens. */
#include "matmul.h"

#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "kernels.h"
#include "prep.h"

#define MM_ROW_TILE 16      /* weight rows per tile in the many-token loop */
#define MM_TOK_TILE 64      /* tokens per block in the many-token loop */
#define MM_MIN_PARALLEL (64 * 1024)  /* weight bytes × tokens below which one thread does it all */
#define MM_MAX_ACTS 3       /* activation types in one call: Q8_0, Q8_1, Q8_K (F32 needs none) */

struct mm_scratch {
    void *buf;
    size_t cap;
};

struct qm_matmul_ctx {
    int threads;
    /* by activation type: the quantized X, and its prepared form */
    struct mm_scratch act[QM_TYPE_COUNT], prep[QM_TYPE_COUNT];
};

/* Everything the threads of one call share; built before the region. */
struct mm_plan {
    int64_t ncols, ntok;
    const float *x;
    int nops;
    struct {
        const uint8_t *w;
        float *y;
        int64_t nrows;
        size_t row_size;        /* bytes of one weight row */
        qm_vec_dot_fn dot;
        qm_vec_dot_x4_fn dot_x4;    /* NULL: none; reads the same rows as dot */
        const uint8_t *act;     /* the (quantized, maybe prepared) X for this op */
        size_t act_row;         /* bytes of one row of it */
        int slot;               /* its activation slot; -1: f32, X itself */
        bool prepared;          /* reads the slot's prepared form */
        uint64_t byte0;         /* offset of this op's rows in the joint byte space */
    } op[QM_MATMUL_MAX_OPS];
    uint64_t total_bytes;
    int nacts;                  /* activation types to produce */
    struct {
        enum qm_type type;
        qm_from_float_fn quant;
        uint8_t *buf;
        size_t row;             /* bytes per token row */
        int64_t blck;           /* elements per block */
        size_t bsize;           /* bytes per block */
        qm_prep_fn prepare;     /* NULL: no op wants the prepared form */
        uint8_t *prep;
        size_t prep_row;        /* bytes per prepared row */
        size_t group_size;      /* bytes per prepared group */
    } act[MM_MAX_ACTS];
};

static int mm_default_threads(int threads)
{
    if (threads > 0)
        return threads;
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

int qm_matmul_ctx_create(struct qm_matmul_ctx **out, int threads, struct qm_err *err)
{
    struct qm_matmul_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        qm_err_set(err, "out of memory creating the matmul context");
        return QM_ENOMEM;
    }
    ctx->threads = mm_default_threads(threads);
    *out = ctx;
    return 0;
}

void qm_matmul_ctx_free(struct qm_matmul_ctx *ctx)
{
    if (!ctx)
        return;
    for (int i = 0; i < QM_TYPE_COUNT; i++) {
        free(ctx->act[i].buf);
        free(ctx->prep[i].buf);
    }
    free(ctx);
}

int qm_matmul_ctx_threads(const struct qm_matmul_ctx *ctx)
{
    return ctx->threads;
}

void qm_matmul_ctx_set_threads(struct qm_matmul_ctx *ctx, int threads)
{
    ctx->threads = mm_default_threads(threads);
}

/* Grows a scratch buffer to at least n bytes.  Old contents are not kept:
 * each call rewrites what it uses. */
static int mm_scratch_reserve(struct mm_scratch *s, size_t n, struct qm_err *err)
{
    if (s->cap >= n)
        return 0;
    uint64_t cap;
    if (qm_ckd_align(&cap, n, 64)) {
        qm_err_set(err, "matmul activation buffer of %zu bytes is too large", n);
        return QM_ENOMEM;
    }
    void *buf = aligned_alloc(64, cap);
    if (!buf) {
        qm_err_set(err, "out of memory for a %zu-byte matmul activation buffer", n);
        return QM_ENOMEM;
    }
    free(s->buf);
    s->buf = buf;
    s->cap = cap;
    return 0;
}

/* Phase 1: this thread's share of the quantized X.  The blocks of all token
 * rows of one activation type form one sequence, dealt out in runs of whole
 * units: a block, or a prepared group of blocks where the prepared form is
 * wanted, so that each thread can prepare exactly what it quantized. */
static void mm_quantize_part(const struct mm_plan *p, int ith, int nth)
{
    for (int a = 0; a < p->nacts; a++) {
        int64_t nb = p->ncols / p->act[a].blck;
        int64_t per = p->act[a].prepare ? QM_PREP_GROUP : 1;   /* blocks per unit */
        int64_t nu = (nb + per - 1) / per;                      /* units per row */
        int64_t u = nu * p->ntok * ith / nth, end = nu * p->ntok * (ith + 1) / nth;
        while (u < end) {
            int64_t t = u / nu, u0 = u % nu;
            int64_t u1 = nu < u0 + (end - u) ? nu : u0 + (end - u);
            int64_t b0 = u0 * per, b1 = u1 * per < nb ? u1 * per : nb;
            uint8_t *q = p->act[a].buf + (size_t)t * p->act[a].row + (size_t)b0 * p->act[a].bsize;
            p->act[a].quant(p->x + t * p->ncols + b0 * p->act[a].blck, q, (b1 - b0) * p->act[a].blck);
            if (p->act[a].prepare)
                p->act[a].prepare(q, p->act[a].prep + (size_t)t * p->act[a].prep_row + (size_t)u0 * p->act[a].group_size,
                                  (b1 - b0) * p->act[a].blck);
            u += u1 - u0;
        }
    }
}

/* y of rows [r0, r1) of op i, all tokens. */
static void mm_rows(const struct mm_plan *p, int i, int64_t r0, int64_t r1)
{
    const uint8_t *w = p->op[i].w, *act = p->op[i].act;
    size_t rs = p->op[i].row_size, ar = p->op[i].act_row;
    qm_vec_dot_fn dot = p->op[i].dot;
    qm_vec_dot_x4_fn x4 = p->op[i].dot_x4;
    int64_t n = p->ncols, nrows = p->op[i].nrows;
    float *y = p->op[i].y;

    if (p->ntok == 1) {
        /* the hot loop of decoding: one pass over the rows */
        for (int64_t r = r0; r < r1; r++)
            dot(n, &y[r], w + (size_t)r * rs, act);
        return;
    }
    for (int64_t t0 = 0; t0 < p->ntok; t0 += MM_TOK_TILE) {
        int64_t t1 = t0 + MM_TOK_TILE < p->ntok ? t0 + MM_TOK_TILE : p->ntok;
        for (int64_t ra = r0; ra < r1; ra += MM_ROW_TILE) {
            int64_t rb = ra + MM_ROW_TILE < r1 ? ra + MM_ROW_TILE : r1;
            int64_t t = t0;
            if (x4) {
                /* four tokens per weight row: the row is unpacked once */
                for (; t + 4 <= t1; t += 4)
                    for (int64_t r = ra; r < rb; r++) {
                        float s4[4];
                        x4(n, s4, w + (size_t)r * rs, act + (size_t)t * ar, ar);
                        for (int k = 0; k < 4; k++)
                            y[(t + k) * nrows + r] = s4[k];
                    }
            }
            for (; t < t1; t++)
                for (int64_t r = ra; r < rb; r++)
                    dot(n, &y[t * nrows + r], w + (size_t)r * rs, act + (size_t)t * ar);
        }
    }
}

/* Phase 2: the rows whose first byte falls in this thread's share of the
 * joint byte space of all ops. */
static void mm_compute_part(const struct mm_plan *p, int ith, int nth)
{
    uint64_t lo = p->total_bytes * (uint64_t)ith / (uint64_t)nth;
    uint64_t hi = p->total_bytes * (uint64_t)(ith + 1) / (uint64_t)nth;
    for (int i = 0; i < p->nops; i++) {
        uint64_t b0 = p->op[i].byte0, rs = p->op[i].row_size;
        uint64_t b1 = b0 + rs * (uint64_t)p->op[i].nrows;
        if (hi <= b0 || lo >= b1)
            continue;
        /* row r starts at b0 + r·rs: it is ours when that is in [lo, hi) */
        int64_t r0 = lo > b0 ? (int64_t)((lo - b0 + rs - 1) / rs) : 0;
        int64_t r1 = hi < b1 ? (int64_t)((hi - b0 + rs - 1) / rs) : p->op[i].nrows;
        if (r0 < r1)
            mm_rows(p, i, r0, r1);
    }
}

static void mm_run(const struct mm_plan *p, int ith, int nth)
{
    mm_quantize_part(p, ith, nth);
    if (nth > 1) {
#pragma omp barrier
    }
    mm_compute_part(p, ith, nth);
}

/* The activation slot of the plan for type at, added on first use. */
static int mm_act_slot(struct mm_plan *p, struct qm_matmul_ctx *ctx, enum qm_type at, struct qm_err *err)
{
    const struct qm_cpu_kernels *k = qm_cpu_kernels();
    const struct qm_type_traits *tr = qm_type_traits(at);
    size_t bytes;
    int a, rc;
    for (a = 0; a < p->nacts; a++)
        if (p->act[a].type == at)
            return a;
    if (p->nacts == MM_MAX_ACTS)
        return qm_err_set(err, "matmul: too many activation types in one call");
    if (!k->quantize[at]) {
        qm_err_set(err, "matmul: no quantizer for activation type %s", tr->name);
        return QM_EUNSUPPORTED;
    }
    size_t row = qm_row_size(at, p->ncols);
    if (qm_ckd_mul(&bytes, row, (size_t)p->ntok))
        return qm_err_set(err, "matmul: %lld tokens of %lld values is too large", (long long)p->ntok,
                          (long long)p->ncols);
    rc = mm_scratch_reserve(&ctx->act[at], bytes, err);
    if (rc < 0)
        return rc;
    a = p->nacts++;
    p->act[a].type = at;
    p->act[a].quant = k->quantize[at];
    p->act[a].buf = ctx->act[at].buf;
    p->act[a].row = row;
    p->act[a].blck = tr->blck;
    p->act[a].bsize = tr->size;
    return a;
}

/* Asks slot a for its prepared form too. */
static int mm_act_prepare(struct mm_plan *p, struct qm_matmul_ctx *ctx, int a, struct qm_err *err)
{
    enum qm_type at = p->act[a].type;
    size_t bytes;
    if (p->act[a].prepare)
        return 0;
    /* rows start 64-byte aligned: a row whose tail has an odd number of
     * Q8 blocks would otherwise leave the next row's groups (which hold
     * floats) misaligned */
    uint64_t row;
    if (qm_ckd_align(&row, qm_prep_row_size(at, p->ncols), 64))
        return qm_err_set(err, "matmul: a prepared row of %lld values is too large", (long long)p->ncols);
    if (qm_ckd_mul(&bytes, row, (size_t)p->ntok))
        return qm_err_set(err, "matmul: %lld tokens of %lld values is too large", (long long)p->ntok,
                          (long long)p->ncols);
    int rc = mm_scratch_reserve(&ctx->prep[at], bytes, err);
    if (rc < 0)
        return rc;
    p->act[a].prepare = qm_cpu_prep()->prepare[at];
    p->act[a].prep = ctx->prep[at].buf;
    p->act[a].prep_row = row;
    p->act[a].group_size = qm_cpu_prep()->group_size[at];
    return 0;
}

int qm_matmul_multi(struct qm_matmul_ctx *ctx, const struct qm_matmul_op *ops, int nops, int64_t ncols,
                    const float *x, int64_t ntok, struct qm_err *err)
{
    struct mm_plan p;
    if (nops < 0 || nops > QM_MATMUL_MAX_OPS || ncols <= 0 || ntok < 0)
        return qm_err_set(err, "matmul: bad arguments (%d weights, %lld columns, %lld tokens)", nops,
                          (long long)ncols, (long long)ntok);
    const struct qm_cpu_kernels *k = qm_cpu_kernels();
    const struct qm_cpu_prep *pk = qm_cpu_prep();
    memset(&p, 0, sizeof p);
    p.ncols = ncols;
    p.ntok = ntok;
    p.x = x;
    p.nops = nops;
    for (int i = 0; i < nops; i++) {
        const struct qm_type_traits *t = qm_type_traits(ops[i].type);
        if (!t || !t->compute || !k->vec_dot[ops[i].type]) {
            qm_err_set(err, "matmul: tensor type %s is not supported on the CPU", qm_type_name(ops[i].type));
            return QM_EUNSUPPORTED;
        }
        enum qm_type at = t->act_type;
        if (ncols % t->blck != 0 || ncols % qm_type_traits(at)->blck != 0)
            return qm_err_set(err, "matmul: a row of %lld values is not a whole number of %s blocks",
                              (long long)ncols, t->name);
        if (ops[i].nrows < 0)
            return qm_err_set(err, "matmul: negative row count");
        p.op[i].w = ops[i].w;
        p.op[i].y = ops[i].y;
        p.op[i].nrows = ops[i].nrows;
        p.op[i].row_size = qm_row_size(ops[i].type, ncols);
        p.op[i].byte0 = p.total_bytes;
        p.total_bytes += (uint64_t)p.op[i].row_size * (uint64_t)ops[i].nrows;
        p.op[i].slot = -1;
        p.op[i].dot = k->vec_dot[ops[i].type];
        p.op[i].dot_x4 = k->vec_dot_x4[ops[i].type];
        if (at == QM_TYPE_F32)
            continue;   /* f32 activations are used as they are */
        /* one quantized X per activation type, shared by the ops that take it */
        int a = mm_act_slot(&p, ctx, at, err);
        if (a < 0)
            return a;
        p.op[i].slot = a;
        if (pk->dot[ops[i].type] && pk->prepare[at]) {
            int rc = mm_act_prepare(&p, ctx, a, err);
            if (rc < 0)
                return rc;
            p.op[i].dot = pk->dot[ops[i].type];
            p.op[i].prepared = true;
        }
        /* the x4 dot of a type with prepared dots reads prepared rows */
        if (pk->dot[ops[i].type] && !p.op[i].prepared)
            p.op[i].dot_x4 = NULL;
    }
    for (int i = 0; i < nops; i++) {
        int a = p.op[i].slot;
        if (a < 0) {
            p.op[i].act = (const uint8_t *)x;
            p.op[i].act_row = (size_t)ncols * sizeof(float);
        } else {
            p.op[i].act = p.op[i].prepared ? p.act[a].prep : p.act[a].buf;
            p.op[i].act_row = p.op[i].prepared ? p.act[a].prep_row : p.act[a].row;
        }
    }
    if (ntok == 0 || p.total_bytes == 0)
        return 0;

    int nth = ctx->threads;
    if ((double)p.total_bytes * (double)ntok < MM_MIN_PARALLEL)
        nth = 1;
    if (nth == 1) {
        mm_run(&p, 0, 1);
        return 0;
    }
#pragma omp parallel num_threads(nth)
    mm_run(&p, omp_get_thread_num(), omp_get_num_threads());
    return 0;
}

int qm_matmul(struct qm_matmul_ctx *ctx, enum qm_type type, const void *w, int64_t nrows, int64_t ncols,
              const float *x, int64_t ntok, float *y, struct qm_err *err)
{
    struct qm_matmul_op op = {.type = type, .w = w, .nrows = nrows, .y = y};
    return qm_matmul_multi(ctx, &op, 1, ncols, x, ntok, err);
}

int qm_cpu_dequantize_rows(struct qm_matmul_ctx *ctx, enum qm_type type, const void *src, int64_t nrows,
                           int64_t ncols, float *dst, struct qm_err *err)
{
    const struct qm_type_traits *t = qm_type_traits(type);
    if (!t || !t->to_float) {
        qm_err_set(err, "cannot dequantize tensor type %s", qm_type_name(type));
        return QM_EUNSUPPORTED;
    }
    if (ncols <= 0 || nrows < 0 || ncols % t->blck != 0)
        return qm_err_set(err, "dequantize: a row of %lld values is not a whole number of %s blocks",
                          (long long)ncols, t->name);
    size_t rs = qm_row_size(type, ncols);
    int nth = (double)rs * (double)nrows < MM_MIN_PARALLEL ? 1 : ctx->threads;
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        int ith = omp_get_thread_num(), n = omp_get_num_threads();
        int64_t r0 = nrows * ith / n, r1 = nrows * (ith + 1) / n;
        for (int64_t r = r0; r < r1; r++)
            t->to_float((const uint8_t *)src + (size_t)r * rs, dst + r * ncols, ncols);
    }
    return 0;
}
