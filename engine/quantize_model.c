/* quantize_model.c - file types, the per-tensor type rules, and re-quantizing
 * a whole GGUF model.
 *
 * Three parts:
 *   1. file-type names and the rule that picks each tensor's type
 *      (engine-reference.md 2.5, llama.cpp's mixes for dense models);
 *   2. quantizers for IQ4_NL and IQ4_XS, which the type table lacks but which
 *      the rules need (Q2_K and Q3_K fall back to IQ4_NL when a row does not
 *      divide into 256-element super-blocks, as Qwen1.5-14B's ffn_down does);
 *   3. qm_quantize_model: input tensors are read through the mapping, each
 *      output tensor is produced by a gguf_write data callback in chunks of
 *      rows that OpenMP threads convert in parallel, so memory use is a few
 *      megabytes whatever the model size, and the output appears atomically.
 *
 * Determinism: every row is quantized independently of the others and of
 * the thread that does it, so the output bytes do not depend on the thread
 * count. */
#include "quantize_model.h"

#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "gguf.h"
#include "gguf_write.h"

/* ======================================================================
 * File types and tensor-type rules
 * ====================================================================== */

struct qz_ftype_info {
    enum qm_ftype id;
    const char *name;
    enum qm_type base;
};

static const struct qz_ftype_info qz_ftypes[] = {
    {QM_FTYPE_ALL_F32, "F32", QM_TYPE_F32},
    {QM_FTYPE_F16, "F16", QM_TYPE_F16},
    {QM_FTYPE_BF16, "BF16", QM_TYPE_BF16},
    {QM_FTYPE_Q4_0, "Q4_0", QM_TYPE_Q4_0},
    {QM_FTYPE_Q4_1, "Q4_1", QM_TYPE_Q4_1},
    {QM_FTYPE_Q5_0, "Q5_0", QM_TYPE_Q5_0},
    {QM_FTYPE_Q5_1, "Q5_1", QM_TYPE_Q5_1},
    {QM_FTYPE_Q8_0, "Q8_0", QM_TYPE_Q8_0},
    {QM_FTYPE_Q2_K, "Q2_K", QM_TYPE_Q2_K},
    {QM_FTYPE_Q3_K_S, "Q3_K_S", QM_TYPE_Q3_K},
    {QM_FTYPE_Q3_K_M, "Q3_K_M", QM_TYPE_Q3_K},
    {QM_FTYPE_Q3_K_L, "Q3_K_L", QM_TYPE_Q3_K},
    {QM_FTYPE_Q4_K_S, "Q4_K_S", QM_TYPE_Q4_K},
    {QM_FTYPE_Q4_K_M, "Q4_K_M", QM_TYPE_Q4_K},
    {QM_FTYPE_Q5_K_S, "Q5_K_S", QM_TYPE_Q5_K},
    {QM_FTYPE_Q5_K_M, "Q5_K_M", QM_TYPE_Q5_K},
    {QM_FTYPE_Q6_K, "Q6_K", QM_TYPE_Q6_K},
    {QM_FTYPE_IQ4_NL, "IQ4_NL", QM_TYPE_IQ4_NL},
    {QM_FTYPE_IQ4_XS, "IQ4_XS", QM_TYPE_IQ4_XS},
};
#define QZ_N_FTYPES (sizeof qz_ftypes / sizeof qz_ftypes[0])

static const struct qz_ftype_info *qz_ftype(uint32_t id)
{
    for (size_t i = 0; i < QZ_N_FTYPES; i++)
        if ((uint32_t)qz_ftypes[i].id == id)
            return &qz_ftypes[i];
    return NULL;
}

const char *qm_ftype_name(uint32_t ftype)
{
    const struct qz_ftype_info *f = qz_ftype(ftype);
    return f ? f->name : NULL;
}

enum qm_type qm_ftype_base_type(enum qm_ftype ftype)
{
    const struct qz_ftype_info *f = qz_ftype(ftype);
    return f ? f->base : QM_TYPE_F32;
}

int qm_ftype_parse(const char *s, enum qm_ftype *out, struct qm_err *err)
{
    static const struct { const char *alias; enum qm_ftype id; } aliases[] = {
        {"Q3_K", QM_FTYPE_Q3_K_M}, {"Q4_K", QM_FTYPE_Q4_K_M}, {"Q5_K", QM_FTYPE_Q5_K_M},
        {"ALL_F32", QM_FTYPE_ALL_F32}, {"MOSTLY_F16", QM_FTYPE_F16},
    };
    char up[16];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof up)
        goto bad;
    for (size_t i = 0; i <= n; i++)
        up[i] = (char)toupper((unsigned char)s[i]);
    for (size_t i = 0; i < QZ_N_FTYPES; i++)
        if (!strcmp(up, qz_ftypes[i].name)) {
            *out = qz_ftypes[i].id;
            return 0;
        }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(up, aliases[i].alias)) {
            *out = aliases[i].id;
            return 0;
        }
bad:;
    char list[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < QZ_N_FTYPES && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", qz_ftypes[i].name);
    return qm_err_set(err, "unknown file type '%s' (choose one of %s)", s, list);
}

int qm_tensor_layer(const char *name)
{
    if (strncmp(name, "blk.", 4) != 0 || !isdigit((unsigned char)name[4]))
        return -1;
    long v = 0;
    const char *p = name + 4;
    while (isdigit((unsigned char)*p) && v < 1000000)
        v = v * 10 + (*p++ - '0');
    return *p == '.' ? (int)v : -1;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers, and
 * every third layer in between, get the extra bits. */
static bool qz_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static bool qz_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Tensors that keep full precision whatever the file type: anything that is
 * not a weight (biases), vectors, norms, and a few small special tensors. */
static bool qz_quantizable(const char *name, uint32_t n_dims)
{
    static const char *const keep[] = {
        "_norm.weight", "ffn_gate_inp.weight", "pos_embd", "token_types", "rope_freqs",
    };
    if (n_dims < 2 || !qz_ends_with(name, "weight"))
        return false;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (strstr(name, keep[i]))
            return false;
    return true;
}

/* When ne0 is not a multiple of t's block: the nearest type whose block
 * divides it (llama.cpp's choice), F16 when none does. */
static enum qm_type qz_fallback(enum qm_type t, int64_t ne0)
{
    if (ne0 % qm_type_traits(t)->blck == 0)
        return t;
    switch (t) {
    case QM_TYPE_Q2_K:
    case QM_TYPE_Q3_K:
    case QM_TYPE_IQ4_XS:
        t = QM_TYPE_IQ4_NL;
        break;
    case QM_TYPE_Q4_K: t = QM_TYPE_Q5_0; break;
    case QM_TYPE_Q5_K: t = QM_TYPE_Q5_1; break;
    case QM_TYPE_Q6_K: t = QM_TYPE_Q8_0; break;
    default: t = QM_TYPE_F16; break;
    }
    if (ne0 % qm_type_traits(t)->blck)
        t = QM_TYPE_F16;
    return t;
}

enum qm_type qm_ftype_tensor_type(enum qm_ftype ftype, const char *name, uint32_t n_dims, int64_t ne0,
                                  int layer, int n_layer, int n_gqa, bool tied_output)
{
    const struct qz_ftype_info *fi = qz_ftype(ftype);
    if (!fi || !qz_quantizable(name, n_dims) || ftype == QM_FTYPE_ALL_F32)
        return QM_TYPE_F32;
    enum qm_type base = fi->base, t = base;
    if (ftype == QM_FTYPE_F16 || ftype == QM_FTYPE_BF16)
        return base;   /* the mix rules are for quantized file types only */

    const bool head = !strcmp(name, "output.weight") || (tied_output && !strcmp(name, "token_embd.weight"));
    const enum qm_ftype f = ftype;
    if (head) {
        /* more bits for the head, except where Q8_0 is already the base */
        if (ne0 % qm_type_traits(base)->blck)
            t = QM_TYPE_Q8_0;
        else if (base != QM_TYPE_Q8_0)
            t = QM_TYPE_Q6_K;
    } else if (strstr(name, "attn_v.weight")) {
        if (f == QM_FTYPE_Q2_K)
            t = n_gqa >= 4 ? QM_TYPE_Q4_K : QM_TYPE_Q3_K;
        else if (f == QM_FTYPE_Q3_K_M)
            t = layer < 2 ? QM_TYPE_Q5_K : QM_TYPE_Q4_K;
        else if (f == QM_FTYPE_Q3_K_L)
            t = QM_TYPE_Q5_K;
        else if ((f == QM_FTYPE_IQ4_NL || f == QM_FTYPE_IQ4_XS) && n_gqa >= 4)
            t = QM_TYPE_Q5_K;
        else if ((f == QM_FTYPE_Q4_K_M || f == QM_FTYPE_Q5_K_M) && qz_more_bits(layer, n_layer))
            t = QM_TYPE_Q6_K;
        else if (f == QM_FTYPE_Q4_K_S && layer < 4)
            t = QM_TYPE_Q5_K;
    } else if (strstr(name, "ffn_down")) {
        if (f == QM_FTYPE_Q2_K)
            t = QM_TYPE_Q3_K;
        else if (f == QM_FTYPE_Q3_K_M)
            t = layer < n_layer / 16 ? QM_TYPE_Q5_K : QM_TYPE_Q4_K;
        else if (f == QM_FTYPE_Q3_K_L)
            t = QM_TYPE_Q5_K;
        else if ((f == QM_FTYPE_Q4_K_M || f == QM_FTYPE_Q5_K_M) && qz_more_bits(layer, n_layer))
            t = QM_TYPE_Q6_K;
        else if ((f == QM_FTYPE_Q4_K_S || f == QM_FTYPE_IQ4_NL || f == QM_FTYPE_IQ4_XS) &&
                 layer < n_layer / 8)
            t = QM_TYPE_Q5_K;
    } else if (strstr(name, "attn_output.weight")) {
        if (f == QM_FTYPE_Q2_K)
            t = QM_TYPE_Q3_K;
        else if (f == QM_FTYPE_Q3_K_M)
            t = QM_TYPE_Q4_K;
        else if (f == QM_FTYPE_Q3_K_L)
            t = QM_TYPE_Q5_K;
    } else if (strstr(name, "attn_qkv.weight")) {
        if (f == QM_FTYPE_Q4_K_M)
            t = QM_TYPE_Q5_K;
    }
    return qz_fallback(t, ne0);
}

/* ======================================================================
 * IQ4_NL and IQ4_XS quantizers
 *
 * Both store 4-bit indices into the fixed non-linear code book K
 * (qm_iq4nl_values, -127 ... 113) times a scale.  For a group of 32 values
 * we try scales that put the largest-magnitude value on either end of the
 * code book (and a few neighbours of those), assign each value its nearest
 * code, re-fit the scale by least squares for those codes, and keep the
 * candidate with the smallest squared error.  Simple, and about as fast as
 * the K-quants.
 * ====================================================================== */

/* Index of the code nearest to v.  The code book holds integers, so every
 * midpoint between neighbours is a multiple of 1/2 and the nearest code is
 * constant on each interval [j/2, (j+1)/2): a table over those intervals
 * replaces a search (this is the inner loop of the scale search). */
#define QZ_IQ4_LO (-128)
#define QZ_IQ4_HI 114
static uint8_t qz_iq4_lut[2 * (QZ_IQ4_HI - QZ_IQ4_LO)];
static pthread_once_t qz_iq4_once = PTHREAD_ONCE_INIT;

static void qz_iq4_init(void)
{
    const int8_t *K = qm_iq4nl_values;
    for (int j = 0; j < 2 * (QZ_IQ4_HI - QZ_IQ4_LO); j++) {
        float v = QZ_IQ4_LO + 0.5f * (float)j + 0.25f;   /* inside the interval */
        int best = 0;
        for (int k = 1; k < 16; k++)
            if (fabsf(v - K[k]) < fabsf(v - K[best]))
                best = k;
        qz_iq4_lut[j] = (uint8_t)best;
    }
}

static inline int qz_iq4_nearest(float v)
{
    if (!(v > QZ_IQ4_LO))   /* also NaN */
        return 0;
    if (v >= QZ_IQ4_HI)
        return 15;
    return qz_iq4_lut[(int)(2.0f * (v - QZ_IQ4_LO))];
}

/* Codes for x with scale d; with d == 0 every code decodes to 0, we use 8. */
static void qz_iq4_assign(const float *x, int n, float d, uint8_t *q)
{
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j++)
        q[j] = (uint8_t)(d != 0.0f ? qz_iq4_nearest(x[j] * id) : 8);
}

/* Best scale for n values; fills the codes that go with it. */
static float qz_iq4_fit(const float *x, int n, uint8_t *best_q)
{
    const int8_t *K = qm_iq4nl_values;
    float amax = 0.0f, vmax = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            vmax = x[j];
        }
    if (amax < 1e-30f) {
        qz_iq4_assign(x, n, 0.0f, best_q);
        return 0.0f;
    }
    float best_d = 0.0f, best_e = INFINITY;
    uint8_t q[QK_K];
    for (int end = 0; end < 2; end++) {
        for (int s = -4; s <= 4; s++) {
            float target = end == 0 ? (float)K[0] + 2.0f * (float)s : (float)K[15] + 2.0f * (float)s;
            float d = vmax / target;
            qz_iq4_assign(x, n, d, q);
            double sxk = 0, skk = 0;
            for (int j = 0; j < n; j++) {
                sxk += (double)x[j] * K[q[j]];
                skk += (double)K[q[j]] * K[q[j]];
            }
            float dl = skk > 0 ? (float)(sxk / skk) : d;
            double e = 0;
            for (int j = 0; j < n; j++) {
                double r = x[j] - (double)dl * K[q[j]];
                e += r * r;
            }
            if (e < best_e) {
                best_e = e;
                best_d = dl;
                memcpy(best_q, q, (size_t)n);
            }
        }
    }
    return best_d;
}

static void qz_quant_iq4_nl(const float *src, void *dst, int64_t n)
{
    blk_iq4_nl *b = dst;
    pthread_once(&qz_iq4_once, qz_iq4_init);
    for (int64_t i = 0; i < n / QK4_NL; i++, b++, src += QK4_NL) {
        uint8_t q[QK4_NL];
        float d = qz_iq4_fit(src, QK4_NL, q);
        b->d = qm_f32_to_f16(d);
        /* codes for the scale as stored, not as computed */
        qz_iq4_assign(src, QK4_NL, qm_f16_to_f32(b->d), q);
        for (int j = 0; j < QK4_NL / 2; j++)
            b->qs[j] = (uint8_t)(q[j] | q[j + QK4_NL / 2] << 4);
    }
}

static void qz_quant_iq4_xs(const float *src, void *dst, int64_t n)
{
    blk_iq4_xs *b = dst;
    pthread_once(&qz_iq4_once, qz_iq4_init);
    for (int64_t i = 0; i < n / QK_K; i++, b++, src += QK_K) {
        float sub_d[QK_K / 32], amax = 0.0f;
        uint8_t q[32];
        for (int s = 0; s < QK_K / 32; s++) {
            sub_d[s] = qz_iq4_fit(src + 32 * s, 32, q);
            amax = fmaxf(amax, fabsf(sub_d[s]));
        }
        /* 6-bit signed sub-block scales l in [-32, 31] times one f16 d */
        b->d = qm_f32_to_f16(amax / 31.0f);
        float d = qm_f16_to_f32(b->d);
        b->scales_h = 0;
        memset(b->scales_l, 0, sizeof b->scales_l);
        for (int s = 0; s < QK_K / 32; s++) {
            int l = d > 0.0f ? (int)lrintf(sub_d[s] / d) : 0;
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            int ls = l + 32;
            b->scales_l[s / 2] |= (uint8_t)((ls & 15) << (4 * (s % 2)));
            b->scales_h |= (uint16_t)(((ls >> 4) & 3) << (2 * s));
            qz_iq4_assign(src + 32 * s, 32, d * (float)l, q);
            for (int j = 0; j < 16; j++)
                b->qs[16 * s + j] = (uint8_t)(q[j] | q[j + 16] << 4);
        }
    }
}

bool qm_can_quantize(enum qm_type t)
{
    const struct qm_type_traits *tt = qm_type_traits(t);
    return t == QM_TYPE_IQ4_NL || t == QM_TYPE_IQ4_XS || (tt && tt->from_float);
}

void qm_quantize_row(enum qm_type t, const float *src, void *dst, int64_t n)
{
    if (t == QM_TYPE_IQ4_NL)
        qz_quant_iq4_nl(src, dst, n);
    else if (t == QM_TYPE_IQ4_XS)
        qz_quant_iq4_xs(src, dst, n);
    else
        qm_type_traits(t)->from_float(src, dst, n);
}

/* ======================================================================
 * Whole files
 * ====================================================================== */

#define QZ_CHUNK_BYTES (8u << 20)   /* output bytes converted per parallel step */

struct qz_job {
    const struct gguf_file *in;
    int threads;
    qm_quant_progress_fn progress;
    void *progress_ctx;
};

struct qz_tensor {
    struct qz_job *job;
    const struct gguf_tensor *src;
    int64_t index;
    enum qm_type dst;
    uint64_t dst_bytes;
};

static void qz_report(const struct qz_tensor *t)
{
    if (!t->job->progress)
        return;
    struct qm_quant_progress p = {
        .index = t->index,
        .count = gguf_tensor_count(t->job->in),
        .name = t->src->name,
        .n_dims = t->src->n_dims,
        .src_type = t->src->type,
        .dst_type = t->dst,
        .src_bytes = t->src->nbytes,
        .dst_bytes = t->dst_bytes,
    };
    memcpy(p.ne, t->src->ne, sizeof p.ne);
    t->job->progress(t->job->progress_ctx, &p);
}

/* gguf_write data callback: the tensor's rows, converted chunk by chunk. */
static int qz_write_tensor(void *ctx, struct gguf_w_stream *s, struct qm_err *err)
{
    struct qz_tensor *t = ctx;
    const struct gguf_tensor *src = t->src;
    int rc = 0;
    float *tmp = NULL;
    uint8_t *out = NULL;

    if (src->type == t->dst) {
        if ((rc = gguf_w_stream_write(s, src->data, (size_t)src->nbytes, err)) < 0)
            return rc;
        qz_report(t);
        return 0;
    }

    const int64_t ne0 = src->ne[0];
    const int64_t rows = gguf_tensor_nelements(src) / (ne0 ? ne0 : 1);
    const size_t src_row = qm_row_size(src->type, ne0), dst_row = qm_row_size(t->dst, ne0);
    const qm_to_float_fn to_float = qm_type_traits(src->type)->to_float;
    const int nt = t->job->threads;
    int64_t chunk = dst_row ? (int64_t)(QZ_CHUNK_BYTES / dst_row) : rows;
    if (chunk < 1)
        chunk = 1;
    if (chunk > rows)
        chunk = rows;

    if (ne0 == 0 || rows == 0)
        goto done;
    tmp = malloc((size_t)nt * (size_t)ne0 * sizeof *tmp);
    out = malloc((size_t)chunk * dst_row);
    if (!tmp || !out) {
        rc = qm_err_set(err, "quantize: out of memory converting '%s'", src->name);
        rc = QM_ENOMEM;
        goto done;
    }
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const int64_t n = rows - r0 < chunk ? rows - r0 : chunk;
        #pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int64_t r = 0; r < n; r++) {
            float *row = tmp + (size_t)omp_get_thread_num() * (size_t)ne0;
            const uint8_t *in = (const uint8_t *)src->data + (size_t)(r0 + r) * src_row;
            to_float(in, row, ne0);
            qm_quantize_row(t->dst, row, out + (size_t)r * dst_row, ne0);
        }
        if ((rc = gguf_w_stream_write(s, out, (size_t)n * dst_row, err)) < 0)
            goto done;
    }
done:
    free(tmp);
    free(out);
    if (rc == 0)
        qz_report(t);
    return rc;
}

/* n_layer, n_gqa of the model: from <arch>.block_count and the head counts,
 * or from the tensor names when the keys are missing. */
static int qz_shape(const struct gguf_file *f, int *n_layer, int *n_gqa, struct qm_err *err)
{
    struct gguf_str a;
    char arch[64] = "";
    int64_t v;
    int rc;
    if (gguf_get_str(f, "general.architecture", &a, NULL) == 0)
        gguf_str_copy(arch, sizeof arch, a);
    *n_layer = 0;
    for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
        int l = qm_tensor_layer(gguf_tensor(f, i)->name);
        if (l + 1 > *n_layer)
            *n_layer = l + 1;
    }
    if ((rc = qm_arch_get_int(f, arch, "block_count", &v, err)) == 0) {
        if (v < 1 || v > 100000)
            return qm_err_set(err, "quantize: %s.block_count %lld is out of range", arch, (long long)v);
        *n_layer = (int)v;
    } else if (rc != GGUF_ENOKEY) {
        return rc;
    }
    int64_t heads = 1, heads_kv = 0;
    if ((rc = qm_arch_get_int(f, arch, "attention.head_count", &heads, err)) < 0 && rc != GGUF_ENOKEY)
        return rc;
    if ((rc = qm_arch_get_int(f, arch, "attention.head_count_kv", &heads_kv, err)) < 0 && rc != GGUF_ENOKEY)
        return rc;
    if (heads_kv <= 0)
        heads_kv = heads;
    *n_gqa = heads > 0 && heads_kv > 0 ? (int)(heads / heads_kv) : 1;
    return 0;
}

int qm_quantize_model(const char *in_path, const char *out_path, enum qm_ftype ftype, int threads,
                      qm_quant_progress_fn progress, void *progress_ctx, struct qm_quant_stats *stats,
                      struct qm_err *err)
{
    struct gguf_file *in = NULL;
    struct gguf_writer *w = NULL;
    struct qz_tensor *ts = NULL;
    struct qm_quant_stats st = {0};
    int rc, n_layer = 0, n_gqa = 1;

    if (!qz_ftype(ftype))
        return qm_err_set(err, "quantize: file type %d is not one qm can produce", (int)ftype);
    if ((rc = gguf_open(&in, in_path, GGUF_OPEN_ANY_TYPE, err)) < 0)
        return rc;
    if ((rc = qz_shape(in, &n_layer, &n_gqa, err)) < 0)
        goto out;
    if ((rc = gguf_w_new(&w, err)) < 0)
        goto out;
    /* all metadata as it was, then the two keys that describe the new file */
    if ((rc = gguf_w_copy_kvs(w, in, NULL, err)) < 0 ||
        (rc = gguf_w_set_u32(w, "general.quantization_version", 2, err)) < 0 ||
        (rc = gguf_w_set_u32(w, "general.file_type", (uint32_t)ftype, err)) < 0)
        goto out;

    const int64_t nt = gguf_tensor_count(in);
    struct qz_job job = {
        .in = in,
        .threads = threads > 0 ? threads : omp_get_max_threads(),
        .progress = progress,
        .progress_ctx = progress_ctx,
    };
    ts = calloc((size_t)nt + 1, sizeof *ts);
    if (!ts) {
        rc = qm_err_set(err, "quantize: out of memory");
        rc = QM_ENOMEM;
        goto out;
    }
    const bool tied = gguf_find_tensor(in, "output.weight") == NULL;
    uint64_t by_type[QM_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < nt; i++) {
        const struct gguf_tensor *src = gguf_tensor(in, i);
        struct qz_tensor *t = &ts[i];
        t->job = &job;
        t->src = src;
        t->index = i;
        t->dst = qm_ftype_tensor_type(ftype, src->name, src->n_dims, src->ne[0], qm_tensor_layer(src->name),
                                      n_layer, n_gqa, tied);
        bool is_float = src->type == QM_TYPE_F32 || src->type == QM_TYPE_F16 || src->type == QM_TYPE_BF16;
        if (!is_float && !qz_quantizable(src->name, src->n_dims) && ftype != QM_FTYPE_ALL_F32)
            t->dst = src->type;  /* integer or odd vectors: kept as they are, as llama.cpp does */
        if (src->type != t->dst) {
            const struct qm_type_traits *tt = qm_type_traits(src->type);
            if (!is_float || !tt || !tt->to_float) {
                rc = qm_err_set(err, "quantize: tensor '%s' is %s, not F32, F16 or BF16; qm quantize "
                                     "converts unquantized models only (it would need %s here)",
                                src->name, qm_type_name(src->type), qm_type_name(t->dst));
                goto out;
            }
            if (!qm_can_quantize(t->dst)) {
                rc = qm_err_set(err, "quantize: qm cannot produce %s (tensor '%s')", qm_type_name(t->dst),
                                src->name);
                goto out;
            }
            st.n_quantized++;
        }
        t->dst_bytes = qm_row_size(t->dst, src->ne[0]) * (uint64_t)(gguf_tensor_nelements(src) /
                                                                    (src->ne[0] ? src->ne[0] : 1));
        if ((rc = gguf_w_add_tensor_cb(w, src->name, t->dst, src->n_dims, src->ne, qz_write_tensor, t, err)) < 0)
            goto out;
        st.n_elements += (uint64_t)gguf_tensor_nelements(src);
        st.src_tensor_bytes += src->nbytes;
        st.dst_tensor_bytes += t->dst_bytes;
        by_type[src->type] += src->nbytes;
    }
    st.n_tensors = nt;
    for (int k = 0; k < QM_TYPE_COUNT; k++)
        if (by_type[k] > by_type[st.src_type])
            st.src_type = (enum qm_type)k;
    st.src_file_bytes = gguf_file_size(in);

    if ((rc = gguf_w_write(w, out_path, &st.dst_file_bytes, err)) < 0)
        goto out;
    if (stats)
        *stats = st;
out:
    free(ts);
    gguf_w_free(w);
    gguf_close(in);
    return rc;
}
