/* make_test_model.c - small (or not so small) models with random weights, for
 * tests and benchmarks, in any of qm's six architectures and any file type.
 *
 *   make_test_model --arch A --out FILE --type FTYPE [--seed S]
 *                   [--n-embd N] [--n-layer N] [--n-head N] [--n-head-kv N]
 *                   [--n-ff N] [--head-dim N] [--n-vocab N] [--ctx N]
 *                   [--tied | --untied] [--vocab-from REAL.gguf]
 *                   [--preset NAME] [--threads N] [--name TEXT] [--plan]
 *   make_test_model --check FILE [--prompt TEXT]
 *   make_test_model --list-presets
 *
 * The file is complete: every hyper-parameter key the architecture needs
 * (sliding windows, soft-caps, rope bases, key lengths), every tensor with
 * its exact shape (qwen2's q/k/v biases, qwen3's and gemma3's q/k norms,
 * gemma2/3's post-norms), and a tokenizer.  The tokenizer is either copied
 * from a real GGUF (--vocab-from: every tokenizer.* key; the vocabulary is
 * padded with "[PADn]" tokens when the model asks for more rows, as the
 * Qwen converters do) or built here: a byte-level BPE vocabulary ("gpt2":
 * the 256 byte characters, merges of a space or letter with a following
 * letter, breadth first, and ChatML's special tokens) for llama-less
 * architectures, and a SentencePiece-style one ("llama": byte-fallback
 * tokens <0xXX>, U+2581 and letter pieces scored by length) for llama and
 * gemma.
 *
 * Weights.  Each tensor row is drawn from its own SplitMix64 stream (Steele,
 * Lea and Flood, "Fast splittable pseudorandom number generators", 2014),
 * seeded from (--seed, the tensor's name, the row), so the file depends on
 * the seed only, not on the thread count or the order of work.  Normal
 * deviates are approximated by the Irwin-Hall sum of the four 16-bit
 * quarters of one 64-bit output, rescaled to unit variance (cut at 3.46
 * sigma, which weights never miss).  Matrices are N(0, 0.02) - the usual
 * initialisation scale, under which a residual stream passes through dozens
 * of RMS-normalised layers without blowing up; norm weights are
 * 1 + N(0, 0.02) (for Gemma that is the stored value, the converters having
 * added the 1 already), biases N(0, 0.01).  Each f32 row is quantized with
 * the type table as the file type's mix rule (quantize_model.h) says, so a
 * Q4_K_M file has exactly llama.cpp's Q4_K_M layout.
 *
 * --check loads a file the way the engine does (model, tokenizer), encodes
 * and decodes a prompt, runs it through the forward pass and prints one
 * line of facts, or fails naming what went wrong. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "error.h"
#include "forward.h"
#include "gguf.h"
#include "gguf_write.h"
#include "model.h"
#include "quant.h"
#include "quantize_model.h"
#include "tokenizer.h"

/* ======================================================================
 * Configuration and presets
 * ====================================================================== */

struct mt_cfg {
    const char *arch;
    int n_embd, n_layer, n_head, n_head_kv, n_ff, head_dim, n_vocab, ctx;
    int tied;               /* 1: no output.weight; -1 unset */
    float rope_base, norm_eps;
    int swa;                /* gemma2/3 sliding window */
    float yarn_factor;      /* > 0: YaRN RoPE scaling by this factor */
    int yarn_orig;          /* YaRN: original context length */
};

struct mt_preset {
    const char *name;
    struct mt_cfg cfg;
    const char *about;
};

/* tied: gemma* are always tied, whatever the field says */
static const struct mt_preset mt_presets[] = {
    {"tiny-llama", {"llama", 256, 4, 4, 2, 512, 64, 512, 2048, 0, 10000.0f, 1e-5f, 0, 0.0f, 0},
     "llama, 4 layers, GQA 2, untied head"},
    {"tiny-qwen2", {"qwen2", 256, 4, 4, 1, 768, 64, 512, 4096, 0, 1000000.0f, 1e-6f, 0, 0.0f, 0},
     "qwen2, 4 layers, GQA 4, q/k/v biases, untied head"},
    {"tiny-qwen3", {"qwen3", 256, 8, 4, 2, 512, 128, 512, 4096, 1, 1000000.0f, 1e-6f, 0, 0.0f, 0},
     "qwen3, 8 layers, head_dim 128 != n_embd/n_head, q/k norms, tied head"},
    {"tiny-gemma", {"gemma", 256, 4, 4, 1, 512, 64, 512, 2048, 1, 10000.0f, 1e-6f, 0, 0.0f, 0},
     "gemma, 4 layers, MQA"},
    {"tiny-gemma2", {"gemma2", 256, 4, 4, 2, 512, 64, 512, 2048, 1, 10000.0f, 1e-6f, 64, 0.0f, 0},
     "gemma2, 4 layers, window 64, soft-caps"},
    {"tiny-gemma3", {"gemma3", 128, 6, 4, 1, 384, 64, 512, 2048, 1, 1000000.0f, 1e-6f, 32, 0.0f, 0},
     "gemma3, 6 layers, n_embd 128 and n_ff 384 (K-quant fallbacks), window 32"},
    {"tiny-qwen2-yarn", {"qwen2", 256, 4, 4, 1, 768, 64, 512, 4096, 0, 1000000.0f, 1e-6f, 0, 4.0f, 1024},
     "tiny-qwen2 with YaRN RoPE scaling (factor 4 over 1024 tokens)"},
    {"qwen1.5-0.5b", {"qwen2", 1024, 24, 16, 16, 2816, 64, 151936, 32768, 0, 1000000.0f, 1e-6f, 0, 0.0f, 0},
     "Qwen1.5-0.5B shape"},
    {"qwen1.5-7b", {"qwen2", 4096, 32, 32, 32, 11008, 128, 151936, 32768, 0, 1000000.0f, 1e-6f, 0, 0.0f, 0},
     "Qwen1.5-7B shape"},
    {"qwen1.5-14b", {"qwen2", 5120, 40, 40, 40, 13696, 128, 152064, 32768, 0, 1000000.0f, 1e-6f, 0, 0.0f, 0},
     "Qwen1.5-14B shape (n_ff not a multiple of 256)"},
    {"gemma2-9b", {"gemma2", 3584, 42, 16, 8, 14336, 256, 256000, 8192, 1, 10000.0f, 1e-6f, 4096, 0.0f, 0},
     "Gemma-2-9B shape"},
};
#define MT_N_PRESETS (sizeof mt_presets / sizeof mt_presets[0])

/* What each architecture's layer holds. */
struct mt_arch {
    const char *name;
    bool qkv_bias, qk_norm, post_norms, always_tied, spm, kv_lengths;
};

static const struct mt_arch mt_archs[] = {
    {"llama", false, false, false, false, true, false},
    {"qwen2", true, false, false, false, false, false},
    {"qwen3", false, true, false, false, false, true},
    {"gemma", false, false, false, true, true, true},
    {"gemma2", false, false, true, true, true, true},
    {"gemma3", false, true, true, true, true, true},
};

static const struct mt_arch *mt_arch_find(const char *name)
{
    for (size_t i = 0; i < sizeof mt_archs / sizeof mt_archs[0]; i++)
        if (!strcmp(mt_archs[i].name, name))
            return &mt_archs[i];
    return NULL;
}

/* ======================================================================
 * Random numbers
 * ====================================================================== */

#define MT_GOLDEN 0x9e3779b97f4a7c15ull

static inline uint64_t mt_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* About N(0, 1): four 16-bit uniforms summed, centred, scaled by sqrt(12/4). */
static inline float mt_gauss(uint64_t *s)
{
    *s += MT_GOLDEN;
    uint64_t r = mt_mix(*s);
    int64_t sum = (int64_t)(r & 0xffff) + (int64_t)((r >> 16) & 0xffff) + (int64_t)((r >> 32) & 0xffff) +
                  (int64_t)(r >> 48);
    return (float)(sum - 2 * 65535) * (1.7320508f / 65536.0f);
}

static uint64_t mt_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;  /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

/* ======================================================================
 * Tensors
 * ====================================================================== */

enum mt_kind { MT_MATRIX, MT_NORM, MT_BIAS };

struct mt_tensor {
    char name[GGUF_NAME_MAX];
    uint32_t n_dims;
    int64_t ne[2];
    enum mt_kind kind;
    enum qm_type type;
    uint64_t key;            /* stream key from seed and name */
    int threads;
};

struct mt_list {
    struct mt_tensor *t;
    int64_t n, cap;
};

static int mt_add(struct mt_list *l, enum mt_kind kind, int64_t ne0, int64_t ne1, const char *fmt, int layer)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        struct mt_tensor *p = realloc(l->t, (size_t)cap * sizeof *p);
        if (!p)
            return QM_ENOMEM;
        l->t = p;
        l->cap = cap;
    }
    struct mt_tensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, fmt, layer);
    t->kind = kind;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->n_dims = ne1 > 0 ? 2 : 1;
    return 0;
}

/* The tensors of the architecture, in the order converters write them. */
static int mt_tensors(struct mt_list *l, const struct mt_arch *a, const struct mt_cfg *c, bool tied)
{
    const int64_t E = c->n_embd, Q = (int64_t)c->n_head * c->head_dim,
                  KV = (int64_t)c->n_head_kv * c->head_dim, F = c->n_ff, V = c->n_vocab, hd = c->head_dim;
    int rc = 0;
    rc |= mt_add(l, MT_MATRIX, E, V, "token_embd.weight", 0);
    for (int i = 0; i < c->n_layer && rc == 0; i++) {
        rc |= mt_add(l, MT_NORM, E, 0, "blk.%d.attn_norm.weight", i);
        rc |= mt_add(l, MT_MATRIX, E, Q, "blk.%d.attn_q.weight", i);
        if (a->qkv_bias)
            rc |= mt_add(l, MT_BIAS, Q, 0, "blk.%d.attn_q.bias", i);
        rc |= mt_add(l, MT_MATRIX, E, KV, "blk.%d.attn_k.weight", i);
        if (a->qkv_bias)
            rc |= mt_add(l, MT_BIAS, KV, 0, "blk.%d.attn_k.bias", i);
        rc |= mt_add(l, MT_MATRIX, E, KV, "blk.%d.attn_v.weight", i);
        if (a->qkv_bias)
            rc |= mt_add(l, MT_BIAS, KV, 0, "blk.%d.attn_v.bias", i);
        rc |= mt_add(l, MT_MATRIX, Q, E, "blk.%d.attn_output.weight", i);
        if (a->qk_norm) {
            rc |= mt_add(l, MT_NORM, hd, 0, "blk.%d.attn_q_norm.weight", i);
            rc |= mt_add(l, MT_NORM, hd, 0, "blk.%d.attn_k_norm.weight", i);
        }
        if (a->post_norms)
            rc |= mt_add(l, MT_NORM, E, 0, "blk.%d.post_attention_norm.weight", i);
        rc |= mt_add(l, MT_NORM, E, 0, "blk.%d.ffn_norm.weight", i);
        rc |= mt_add(l, MT_MATRIX, E, F, "blk.%d.ffn_gate.weight", i);
        rc |= mt_add(l, MT_MATRIX, E, F, "blk.%d.ffn_up.weight", i);
        rc |= mt_add(l, MT_MATRIX, F, E, "blk.%d.ffn_down.weight", i);
        if (a->post_norms)
            rc |= mt_add(l, MT_NORM, E, 0, "blk.%d.post_ffw_norm.weight", i);
    }
    rc |= mt_add(l, MT_NORM, E, 0, "output_norm.weight", 0);
    if (!tied)
        rc |= mt_add(l, MT_MATRIX, E, V, "output.weight", 0);
    return rc ? QM_ENOMEM : 0;
}

static void mt_row(const struct mt_tensor *t, int64_t row, float *x)
{
    uint64_t s = mt_mix(t->key + (uint64_t)row * MT_GOLDEN);
    const int64_t n = t->ne[0];
    switch (t->kind) {
    case MT_MATRIX:
        for (int64_t i = 0; i < n; i++)
            x[i] = 0.02f * mt_gauss(&s);
        break;
    case MT_NORM:
        for (int64_t i = 0; i < n; i++)
            x[i] = 1.0f + 0.02f * mt_gauss(&s);
        break;
    case MT_BIAS:
        for (int64_t i = 0; i < n; i++)
            x[i] = 0.01f * mt_gauss(&s);
        break;
    }
}

#define MT_CHUNK_BYTES (8u << 20)

/* gguf_write callback: rows generated and quantized in parallel, in chunks. */
static int mt_write_tensor(void *ctx, struct gguf_w_stream *s, struct qm_err *err)
{
    const struct mt_tensor *t = ctx;
    const int64_t ne0 = t->ne[0], rows = t->n_dims == 2 ? t->ne[1] : 1;
    const size_t row_bytes = qm_row_size(t->type, ne0);
    int64_t chunk = (int64_t)(MT_CHUNK_BYTES / row_bytes);
    chunk = chunk < 1 ? 1 : chunk > rows ? rows : chunk;
    float *tmp = malloc((size_t)t->threads * (size_t)ne0 * sizeof *tmp);
    uint8_t *out = malloc((size_t)chunk * row_bytes);
    int rc = 0;
    if (!tmp || !out) {
        rc = qm_err_set(err, "make_test_model: out of memory for '%s'", t->name);
        goto done;
    }
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const int64_t n = rows - r0 < chunk ? rows - r0 : chunk;
        #pragma omp parallel for num_threads(t->threads) schedule(dynamic, 1)
        for (int64_t r = 0; r < n; r++) {
            float *x = tmp + (size_t)omp_get_thread_num() * (size_t)ne0;
            mt_row(t, r0 + r, x);
            qm_quantize_row(t->type, x, out + (size_t)r * row_bytes, ne0);
        }
        if ((rc = gguf_w_stream_write(s, out, (size_t)n * row_bytes, err)) < 0)
            goto done;
    }
done:
    free(tmp);
    free(out);
    return rc;
}

/* ======================================================================
 * Tokenizers
 * ====================================================================== */

/* A list of strings in one growing arena. */
struct mt_strs {
    char *buf;
    size_t len, cap;
    size_t *off;             /* n + 1 offsets */
    int64_t n, ncap;
};

static int mt_strs_add(struct mt_strs *s, const char *a, size_t alen, const char *b, size_t blen)
{
    if (s->len + alen + blen + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 1 << 16;
        while (cap < s->len + alen + blen + 1)
            cap *= 2;
        char *p = realloc(s->buf, cap);
        if (!p)
            return QM_ENOMEM;
        s->buf = p;
        s->cap = cap;
    }
    if (s->n + 2 > s->ncap) {
        int64_t ncap = s->ncap ? 2 * s->ncap : 1024;
        size_t *o = realloc(s->off, (size_t)ncap * sizeof *o);
        if (!o)
            return QM_ENOMEM;
        s->off = o;
        s->ncap = ncap;
    }
    if (s->n == 0)
        s->off[0] = 0;
    memcpy(s->buf + s->len, a, alen);
    memcpy(s->buf + s->len + alen, b, blen);
    s->len += alen + blen;
    s->buf[s->len++] = '\0';
    s->off[++s->n] = s->len;
    return 0;
}

static const char *mt_str(const struct mt_strs *s, int64_t i, size_t *len)
{
    size_t a = i == 0 ? 0 : s->off[i];
    *len = s->off[i + 1] - a - 1;
    return s->buf + a;
}

static void mt_strs_free(struct mt_strs *s)
{
    free(s->buf);
    free(s->off);
}

/* A whole vocabulary being built: tokens with types and scores, merges. */
struct mt_vocab {
    struct mt_strs tokens, merges;
    int32_t *types;
    float *scores;
    int64_t cap;
};

static int mt_tok(struct mt_vocab *v, const char *s, size_t len, int32_t type, float score)
{
    if (v->tokens.n == v->cap) {
        int64_t cap = v->cap ? 2 * v->cap : 1024;
        int32_t *t = realloc(v->types, (size_t)cap * sizeof *t);
        if (!t)
            return QM_ENOMEM;
        v->types = t;
        float *sc = realloc(v->scores, (size_t)cap * sizeof *sc);
        if (!sc)
            return QM_ENOMEM;
        v->scores = sc;
        v->cap = cap;
    }
    v->types[v->tokens.n] = type;
    v->scores[v->tokens.n] = score;
    return mt_strs_add(&v->tokens, s, len, "", 0);
}

static void mt_vocab_free(struct mt_vocab *v)
{
    mt_strs_free(&v->tokens);
    mt_strs_free(&v->merges);
    free(v->types);
    free(v->scores);
}

static size_t mt_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 63));
        return 2;
    }
    out[0] = (char)(0xe0 | cp >> 12);
    out[1] = (char)(0x80 | ((cp >> 6) & 63));
    out[2] = (char)(0x80 | (cp & 63));
    return 3;
}

static const char mt_letters[] = "etaoinshrdlcumwfgypbvkjxqz";  /* by English frequency */

/* Byte-level BPE: ids 0-255 the byte characters, then one token per merge,
 * then <|endoftext|>, <|im_start|>, <|im_end|>. */
static int mt_build_bpe(struct mt_vocab *v, int64_t n_vocab, int32_t *special)
{
    static const char *const specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    const int64_t n_special = 3;
    int rc;
    if (n_vocab < 256 + n_special + 27)
        return QM_EINVAL;
    /* GPT-2's byte-to-character table: printable Latin-1 bytes stand for
     * themselves, the other 68 take U+0100 onwards in byte order */
    uint32_t next = 0x100;
    char ch[256][4];
    size_t chlen[256];
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        chlen[b] = mt_utf8(keep ? (uint32_t)b : next++, ch[b]);
        if ((rc = mt_tok(v, ch[b], chlen[b], 1, 0.0f)) < 0)
            return rc;
    }
    struct mt_strs pieces = {0};
    if ((rc = mt_strs_add(&pieces, ch[' '], chlen[' '], "", 0)) < 0)
        goto out;
    for (const char *c = mt_letters; *c; c++)
        if ((rc = mt_strs_add(&pieces, c, 1, "", 0)) < 0)
            goto out;
    int64_t want = n_vocab - 256 - n_special;
    for (int64_t made = 0; made < want;) {
        /* one piece at a time so merges and tokens stay in step */
        int64_t i = made / 26;
        size_t ll;
        const char *l = mt_str(&pieces, i, &ll);
        char left[256];
        if (ll >= sizeof left - 2) {
            rc = QM_EINVAL;
            goto out;
        }
        memcpy(left, l, ll);
        char r = mt_letters[made % 26];
        char merged[258];
        memcpy(merged, left, ll);
        merged[ll] = r;
        if ((rc = mt_strs_add(&v->merges, left, ll, (const char[]){' ', r}, 2)) < 0 ||
            (rc = mt_tok(v, merged, ll + 1, 1, 0.0f)) < 0 || (rc = mt_strs_add(&pieces, merged, ll + 1, "", 0)) < 0)
            goto out;
        made++;
    }
    for (int64_t i = 0; i < n_special; i++) {
        special[i] = (int32_t)v->tokens.n;
        if ((rc = mt_tok(v, specials[i], strlen(specials[i]), 3, 0.0f)) < 0)
            goto out;
    }
out:
    mt_strs_free(&pieces);
    return rc;
}

/* SentencePiece style: the special tokens given, 256 byte tokens, U+2581 and
 * the letters, then breadth-first pieces; scores fall with each piece so
 * shorter, earlier pieces merge first. */
static int mt_build_spm(struct mt_vocab *v, int64_t n_vocab, const char *const *specials, const int32_t *types,
                        int n_special)
{
    int rc;
    if (n_vocab < n_special + 256 + 27)
        return QM_EINVAL;
    for (int i = 0; i < n_special; i++)
        if ((rc = mt_tok(v, specials[i], strlen(specials[i]), types[i], 0.0f)) < 0)
            return rc;
    for (int b = 0; b < 256; b++) {
        char t[8];
        snprintf(t, sizeof t, "<0x%02X>", b);
        if ((rc = mt_tok(v, t, 6, 6, 0.0f)) < 0)
            return rc;
    }
    struct mt_strs pieces = {0};
    float score = 0.0f;
    static const char space[] = "\xe2\x96\x81";
    if ((rc = mt_strs_add(&pieces, space, 3, "", 0)) < 0 || (rc = mt_tok(v, space, 3, 1, score--)) < 0)
        goto out;
    for (const char *c = mt_letters; *c; c++)
        if ((rc = mt_strs_add(&pieces, c, 1, "", 0)) < 0 || (rc = mt_tok(v, c, 1, 1, score--)) < 0)
            goto out;
    int64_t want = n_vocab - v->tokens.n;
    for (int64_t made = 0; made < want; made++) {
        size_t ll;
        const char *l = mt_str(&pieces, made / 26, &ll);
        char merged[260];
        if (ll >= sizeof merged - 2) {
            rc = QM_EINVAL;
            goto out;
        }
        memcpy(merged, l, ll);
        merged[ll] = mt_letters[made % 26];
        if ((rc = mt_strs_add(&pieces, merged, ll + 1, "", 0)) < 0 ||
            (rc = mt_tok(v, merged, ll + 1, 1, score--)) < 0)
            goto out;
    }
out:
    mt_strs_free(&pieces);
    return rc;
}

static int mt_set_vocab(struct gguf_writer *w, const struct mt_vocab *v, struct qm_err *err)
{
    int rc;
    struct gguf_w_value *a;
    if ((rc = gguf_w_value_array(&a, GGUF_STRING, err)) < 0)
        return rc;
    for (int64_t i = 0; i < v->tokens.n; i++) {
        size_t len;
        const char *s = mt_str(&v->tokens, i, &len);
        if ((rc = gguf_w_value_push_str(a, s, len, err)) < 0) {
            gguf_w_value_free(a);
            return rc;
        }
    }
    if ((rc = gguf_w_set_value(w, "tokenizer.ggml.tokens", a, err)) < 0 ||
        (rc = gguf_w_set_array(w, "tokenizer.ggml.token_type", GGUF_I32, v->types, (uint64_t)v->tokens.n, err)) < 0)
        return rc;
    if (v->merges.n) {
        if ((rc = gguf_w_value_array(&a, GGUF_STRING, err)) < 0)
            return rc;
        for (int64_t i = 0; i < v->merges.n; i++) {
            size_t len;
            const char *s = mt_str(&v->merges, i, &len);
            if ((rc = gguf_w_value_push_str(a, s, len, err)) < 0) {
                gguf_w_value_free(a);
                return rc;
            }
        }
        return gguf_w_set_value(w, "tokenizer.ggml.merges", a, err);
    }
    return gguf_w_set_array(w, "tokenizer.ggml.scores", GGUF_F32, v->scores, (uint64_t)v->tokens.n, err);
}

static const char mt_chatml[] =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}";
static const char mt_gemma_chat[] =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + "
    "message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<start_of_turn>model\\n' }}{% endif %}";

/* The built-in vocabulary of n_vocab tokens for the architecture. */
static int mt_builtin_tokenizer(struct gguf_writer *w, const struct mt_arch *a, int64_t n_vocab, struct qm_err *err)
{
    struct mt_vocab v = {0};
    int rc;
    bool gemma = !strncmp(a->name, "gemma", 5);
    if (!a->spm) {
        int32_t sp[3];
        if ((rc = mt_build_bpe(&v, n_vocab, sp)) < 0) {
            rc = qm_err_set(err, "make_test_model: a byte-level vocabulary needs at least %d tokens", 256 + 3 + 27);
            goto out;
        }
        if ((rc = gguf_w_set_str(w, "tokenizer.ggml.model", "gpt2", err)) < 0 ||
            (rc = gguf_w_set_str(w, "tokenizer.ggml.pre", "qwen2", err)) < 0 ||
            (rc = mt_set_vocab(w, &v, err)) < 0 ||
            (rc = gguf_w_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)sp[0], err)) < 0 ||
            (rc = gguf_w_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)sp[2], err)) < 0 ||
            (rc = gguf_w_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)sp[0], err)) < 0 ||
            (rc = gguf_w_set_bool(w, "tokenizer.ggml.add_bos_token", false, err)) < 0 ||
            (rc = gguf_w_set_str(w, "tokenizer.chat_template", mt_chatml, err)) < 0)
            goto out;
    } else {
        /* Gemma's ids for its first tokens; Llama 2's for llama */
        static const char *const g_sp[] = {"<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"};
        static const int32_t g_ty[] = {3, 3, 3, 2, 3, 3};
        static const char *const l_sp[] = {"<unk>", "<s>", "</s>"};
        static const int32_t l_ty[] = {2, 3, 3};
        int ns = gemma ? 6 : 3;
        if ((rc = mt_build_spm(&v, n_vocab, gemma ? g_sp : l_sp, gemma ? g_ty : l_ty, ns)) < 0) {
            rc = qm_err_set(err, "make_test_model: a SentencePiece vocabulary needs at least %d tokens", ns + 256 + 27);
            goto out;
        }
        uint32_t bos = gemma ? 2 : 1, eos = gemma ? 1 : 2, unk = gemma ? 3 : 0;
        if ((rc = gguf_w_set_str(w, "tokenizer.ggml.model", "llama", err)) < 0 ||
            (rc = gguf_w_set_str(w, "tokenizer.ggml.pre", "default", err)) < 0 ||
            (rc = mt_set_vocab(w, &v, err)) < 0 ||
            (rc = gguf_w_set_u32(w, "tokenizer.ggml.bos_token_id", bos, err)) < 0 ||
            (rc = gguf_w_set_u32(w, "tokenizer.ggml.eos_token_id", eos, err)) < 0 ||
            (rc = gguf_w_set_u32(w, "tokenizer.ggml.unknown_token_id", unk, err)) < 0 ||
            (gemma && (rc = gguf_w_set_u32(w, "tokenizer.ggml.padding_token_id", 0, err)) < 0) ||
            (rc = gguf_w_set_bool(w, "tokenizer.ggml.add_bos_token", true, err)) < 0 ||
            (rc = gguf_w_set_bool(w, "tokenizer.ggml.add_eos_token", false, err)) < 0 ||
            (rc = gguf_w_set_bool(w, "tokenizer.ggml.add_space_prefix", !gemma, err)) < 0 ||
            (gemma && (rc = gguf_w_set_str(w, "tokenizer.chat_template", mt_gemma_chat, err)) < 0))
            goto out;
    }
out:
    mt_vocab_free(&v);
    return rc;
}

/* Every tokenizer.* key of the real file f; the token arrays padded to
 * n_vocab with "[PADn]" tokens of type unused (5) when the model has more
 * rows than the vocabulary has tokens, as the Qwen converters do. */
static int mt_copy_tokenizer(struct gguf_writer *w, const struct gguf_file *f, const char *path, int64_t n_tok,
                             int64_t n_vocab, struct qm_err *err)
{
    static const struct { const char *key; enum gguf_vtype type; } arrays[] = {
        {"tokenizer.ggml.tokens", GGUF_STRING},
        {"tokenizer.ggml.token_type", GGUF_I32},
        {"tokenizer.ggml.scores", GGUF_F32},
    };
    int rc = gguf_w_copy_kvs(w, f, "tokenizer.", err);
    for (size_t k = 0; rc == 0 && n_vocab > n_tok && k < sizeof arrays / sizeof arrays[0]; k++) {
        const struct gguf_value *src = gguf_find(f, arrays[k].key);
        struct gguf_w_value *a;
        if (!src)
            continue;
        if (src->type != GGUF_ARRAY || src->elem_type != arrays[k].type || (int64_t)src->count != n_tok)
            return qm_err_set(err, "make_test_model: %s in %s is not an array of %lld %s", arrays[k].key, path,
                              (long long)n_tok, gguf_vtype_name(arrays[k].type));
        if ((rc = gguf_w_value_from_file(&a, src, err)) < 0)
            return rc;
        for (int64_t i = n_tok; i < n_vocab && rc == 0; i++) {
            const int32_t unused = 5;
            const float score = -1000.0f;
            if (arrays[k].type == GGUF_STRING) {
                char pad[32];
                int n = snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
                rc = gguf_w_value_push_str(a, pad, (size_t)n, err);
            } else if (arrays[k].type == GGUF_I32) {
                rc = gguf_w_value_push(a, GGUF_I32, &unused, 1, err);
            } else {
                rc = gguf_w_value_push(a, GGUF_F32, &score, 1, err);
            }
        }
        if (rc < 0) {
            gguf_w_value_free(a);
            return rc;
        }
        rc = gguf_w_set_value(w, arrays[k].key, a, err);
    }
    return rc;
}

/* ======================================================================
 * Building the file
 * ====================================================================== */

static int mt_set_hparams(struct gguf_writer *w, const struct mt_arch *a, const struct mt_cfg *c, struct qm_err *err)
{
    char k[128];
    int rc;
#define KEY(suffix) (snprintf(k, sizeof k, "%s.%s", a->name, suffix), k)
    if ((rc = gguf_w_set_u32(w, KEY("context_length"), (uint32_t)c->ctx, err)) < 0 ||
        (rc = gguf_w_set_u32(w, KEY("embedding_length"), (uint32_t)c->n_embd, err)) < 0 ||
        (rc = gguf_w_set_u32(w, KEY("block_count"), (uint32_t)c->n_layer, err)) < 0 ||
        (rc = gguf_w_set_u32(w, KEY("feed_forward_length"), (uint32_t)c->n_ff, err)) < 0 ||
        (rc = gguf_w_set_u32(w, KEY("attention.head_count"), (uint32_t)c->n_head, err)) < 0 ||
        (rc = gguf_w_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_head_kv, err)) < 0 ||
        (rc = gguf_w_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->norm_eps, err)) < 0 ||
        (rc = gguf_w_set_f32(w, KEY("rope.freq_base"), c->rope_base, err)) < 0)
        return rc;
    /* gemma and qwen3 heads need not be n_embd / n_head wide: say so always */
    if (a->kv_lengths || c->head_dim * c->n_head != c->n_embd) {
        if ((rc = gguf_w_set_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim, err)) < 0 ||
            (rc = gguf_w_set_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim, err)) < 0)
            return rc;
    }
    if (!strcmp(a->name, "llama") &&
        (rc = gguf_w_set_u32(w, KEY("rope.dimension_count"), (uint32_t)c->head_dim, err)) < 0)
        return rc;
    if (!strcmp(a->name, "gemma2")) {
        if ((rc = gguf_w_set_u32(w, KEY("attention.sliding_window"), (uint32_t)c->swa, err)) < 0 ||
            (rc = gguf_w_set_f32(w, KEY("attn_logit_softcapping"), 50.0f, err)) < 0 ||
            (rc = gguf_w_set_f32(w, KEY("final_logit_softcapping"), 30.0f, err)) < 0)
            return rc;
    }
    if (!strcmp(a->name, "gemma3") &&
        (rc = gguf_w_set_u32(w, KEY("attention.sliding_window"), (uint32_t)c->swa, err)) < 0)
        return rc;
    if (c->yarn_factor > 0.0f &&
        ((rc = gguf_w_set_str(w, KEY("rope.scaling.type"), "yarn", err)) < 0 ||
         (rc = gguf_w_set_f32(w, KEY("rope.scaling.factor"), c->yarn_factor, err)) < 0 ||
         (rc = gguf_w_set_u32(w, KEY("rope.scaling.original_context_length"), (uint32_t)c->yarn_orig, err)) < 0))
        return rc;
#undef KEY
    return 0;
}

struct mt_opts {
    struct mt_cfg cfg;
    const char *out, *type, *vocab_from, *preset, *name;
    uint64_t seed;
    int threads;
    bool explicit_vocab;
    bool plan;               /* print the tensor types and sizes, write nothing */
};

static double mt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int mt_make(const struct mt_opts *o, struct qm_err *err)
{
    struct mt_cfg c = o->cfg;
    const struct mt_arch *a = mt_arch_find(c.arch);
    struct gguf_writer *w = NULL;
    struct gguf_file *vf = NULL;
    struct mt_list l = {0};
    enum qm_ftype ftype;
    int rc;
    double t0 = mt_now();

    if (!a)
        return qm_err_set(err, "make_test_model: unknown architecture '%s' (llama, qwen2, qwen3, gemma, gemma2, "
                               "gemma3)", c.arch);
    if ((rc = qm_ftype_parse(o->type, &ftype, err)) < 0)
        return rc;
    if (c.n_embd < 1 || c.n_layer < 1 || c.n_head < 1 || c.n_head_kv < 1 || c.n_ff < 1 || c.head_dim < 2 ||
        c.ctx < 1 || c.n_vocab < 1 || c.n_head % c.n_head_kv || c.head_dim % 2)
        return qm_err_set(err, "make_test_model: bad shape (n_embd %d, n_layer %d, heads %d/%d, n_ff %d, "
                               "head_dim %d, n_vocab %d): all must be positive, n_head a multiple of n_head_kv, "
                               "head_dim even", c.n_embd, c.n_layer, c.n_head, c.n_head_kv, c.n_ff, c.head_dim,
                          c.n_vocab);
    const bool tied = a->always_tied || c.tied == 1;

    /* the vocabulary decides n_vocab before anything is written */
    int64_t n_tok = 0;
    if (o->vocab_from) {
        const struct gguf_value *tok;
        if ((rc = gguf_open(&vf, o->vocab_from, GGUF_OPEN_ANY_TYPE, err)) < 0)
            goto out;
        if ((rc = gguf_get_array(vf, "tokenizer.ggml.tokens", &tok, err)) < 0) {
            if (rc == GGUF_ENOKEY)
                rc = qm_err_set(err, "make_test_model: %s has no tokenizer.ggml.tokens", o->vocab_from);
            goto out;
        }
        n_tok = (int64_t)tok->count;
        if (o->explicit_vocab && c.n_vocab < n_tok) {
            rc = qm_err_set(err, "make_test_model: --n-vocab %d is smaller than the %lld tokens of %s", c.n_vocab,
                            (long long)n_tok, o->vocab_from);
            goto out;
        }
        if (n_tok > INT32_MAX) {
            rc = qm_err_set(err, "make_test_model: %s has too many tokens", o->vocab_from);
            goto out;
        }
        if (c.n_vocab < n_tok)
            c.n_vocab = (int)n_tok;
    }

    if ((rc = gguf_w_new(&w, err)) < 0)
        goto out;
    const char *name = o->name ? o->name : o->preset ? o->preset : c.arch;
    if ((rc = gguf_w_set_str(w, "general.architecture", a->name, err)) < 0 ||
        (rc = gguf_w_set_str(w, "general.type", "model", err)) < 0 ||
        (rc = gguf_w_set_str(w, "general.name", name, err)) < 0 ||
        (rc = gguf_w_set_str(w, "general.description", "qm test model with random weights", err)) < 0 ||
        (rc = gguf_w_set_u64(w, "general.seed", o->seed, err)) < 0 ||
        (rc = gguf_w_set_u32(w, "general.file_type", (uint32_t)ftype, err)) < 0 ||
        (rc = gguf_w_set_u32(w, "general.quantization_version", 2, err)) < 0 ||
        (rc = mt_set_hparams(w, a, &c, err)) < 0)
        goto out;
    if (vf)
        rc = mt_copy_tokenizer(w, vf, o->vocab_from, n_tok, c.n_vocab, err);
    else if (!o->plan)
        rc = mt_builtin_tokenizer(w, a, c.n_vocab, err);
    if (rc < 0)
        goto out;
    gguf_close(vf);
    vf = NULL;

    if ((rc = mt_tensors(&l, a, &c, tied)) < 0) {
        qm_err_set(err, "make_test_model: out of memory");
        goto out;
    }
    const uint64_t seed_key = mt_mix(o->seed ^ 0x51ed270b27e2f5a1ull);
    const int threads = o->threads > 0 ? o->threads : omp_get_max_threads();
    const int n_gqa = c.n_head / c.n_head_kv;
    uint64_t n_el = 0;
    for (int64_t i = 0; i < l.n; i++) {
        struct mt_tensor *t = &l.t[i];
        t->key = mt_mix(seed_key ^ mt_hash(t->name));
        t->threads = threads;
        t->type = qm_ftype_tensor_type(ftype, t->name, t->n_dims, t->ne[0], qm_tensor_layer(t->name), c.n_layer,
                                       n_gqa, tied);
        if (!qm_can_quantize(t->type)) {
            rc = qm_err_set(err, "make_test_model: cannot produce %s for '%s'", qm_type_name(t->type), t->name);
            goto out;
        }
        if ((rc = gguf_w_add_tensor_cb(w, t->name, t->type, t->n_dims, t->ne, mt_write_tensor, t, err)) < 0)
            goto out;
        n_el += (uint64_t)t->ne[0] * (uint64_t)(t->n_dims == 2 ? t->ne[1] : 1);
    }
    if (o->plan) {
        /* the mix without the weights: one line per tensor and the total */
        uint64_t total = 0;
        for (int64_t i = 0; i < l.n; i++) {
            const struct mt_tensor *t = &l.t[i];
            uint64_t bytes = qm_row_size(t->type, t->ne[0]) * (uint64_t)(t->n_dims == 2 ? t->ne[1] : 1);
            printf("%s %s %lld %lld %llu\n", t->name, qm_type_name(t->type), (long long)t->ne[0],
                   (long long)(t->n_dims == 2 ? t->ne[1] : 1), (unsigned long long)bytes);
            total += bytes;
        }
        printf("total %llu %llu\n", (unsigned long long)total, (unsigned long long)n_el);
        goto out;
    }
    uint64_t size = 0;
    if ((rc = gguf_w_write(w, o->out, &size, err)) < 0)
        goto out;
    printf("wrote %s: %s %s, %lld tensors, %.2f M parameters, %.2f MiB (%.2f bpw), %.1f s\n", o->out, a->name,
           qm_ftype_name(ftype), (long long)l.n, (double)n_el / 1e6, (double)size / (1024.0 * 1024.0),
           8.0 * (double)gguf_w_tensor_bytes(w) / (double)(n_el ? n_el : 1), mt_now() - t0);
out:
    free(l.t);
    gguf_w_free(w);
    gguf_close(vf);
    return rc;
}

/* ======================================================================
 * --check: load, tokenize, run
 * ====================================================================== */

static int mt_check(const char *path, const char *prompt, int threads, struct qm_err *err)
{
    struct qm_model *m = NULL;
    struct qm_tokenizer *tok = NULL;
    struct qm_ctx *ctx = NULL;
    int32_t *ids = NULL, *pos = NULL;
    char *text = NULL;
    size_t n = 0, tlen = 0;
    int rc;

    if ((rc = qm_model_load(&m, path, err)) < 0 || (rc = qm_tokenizer_load(&tok, m->file, err)) < 0)
        goto out;
    if (qm_tok_n_vocab(tok) != m->hp.n_vocab) {
        rc = qm_err_set(err, "check: the vocabulary has %d tokens but token_embd has %d rows", qm_tok_n_vocab(tok),
                        m->hp.n_vocab);
        goto out;
    }
    if ((rc = qm_tokenize(tok, prompt, strlen(prompt), true, false, &ids, &n, err)) < 0 ||
        (rc = qm_detokenize(tok, ids, n, QM_DETOK_REMOVE_SPECIAL, &text, &tlen, err)) < 0)
        goto out;
    bool roundtrip = tlen == strlen(prompt) && memcmp(text, prompt, tlen) == 0;
    if (n == 0) {
        rc = qm_err_set(err, "check: the prompt gave no tokens");
        goto out;
    }

    struct qm_ctx_params p;
    qm_ctx_default_params(&p);
    p.n_ctx = (int32_t)n + 16;
    p.n_threads = threads;
    if ((rc = qm_ctx_create(&ctx, m, &p, err)) < 0)
        goto out;
    if (!(pos = malloc(n * sizeof *pos))) {
        rc = qm_err_set(err, "check: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        pos[i] = (int32_t)i;
    struct qm_batch b = {.n = (int32_t)n, .token = ids, .pos = pos};
    if ((rc = qm_forward(ctx, &b, err)) < 0)
        goto out;
    const float *lg = qm_ctx_logits(ctx, 0);
    if (!lg) {
        rc = qm_err_set(err, "check: no logits came back");
        goto out;
    }
    double sum = 0, sum2 = 0;
    float mx = -INFINITY;
    int32_t arg = 0;
    for (int32_t i = 0; i < m->hp.n_vocab; i++) {
        if (!isfinite(lg[i])) {
            rc = qm_err_set(err, "check: logit %d is %g", i, (double)lg[i]);
            goto out;
        }
        sum += lg[i];
        sum2 += (double)lg[i] * lg[i];
        if (lg[i] > mx) {
            mx = lg[i];
            arg = i;
        }
    }
    double mean = sum / m->hp.n_vocab, sd = sqrt(fmax(0.0, sum2 / m->hp.n_vocab - mean * mean));
    printf("ok arch=%s n_layer=%d n_embd=%d n_head=%d n_head_kv=%d head_dim=%d n_ff=%d n_vocab=%d n_swa=%d "
           "tok_model=%s n_tokens=%zu roundtrip=%s logits_std=%.4f logits_max=%.4f argmax=%d\n",
           m->arch.name, m->hp.n_layer, m->hp.n_embd, m->hp.n_head, m->hp.n_head_kv, m->hp.head_dim, m->hp.n_ff,
           m->hp.n_vocab, m->hp.n_swa, qm_tok_model(tok) == QM_TOK_BPE ? "gpt2" : "llama", n,
           roundtrip ? "yes" : "no", sd, (double)mx, arg);
out:
    qm_ctx_free(ctx);
    free(pos);
    free(ids);
    free(text);
    qm_tokenizer_free(tok);
    qm_model_free(m);
    return rc;
}

/* ======================================================================
 * Command line
 * ====================================================================== */

static void mt_usage(FILE *o)
{
    fprintf(o,
            "Usage: make_test_model --arch A --out FILE --type FTYPE [--seed S] [--preset NAME]\n"
            "         [--n-embd N] [--n-layer N] [--n-head N] [--n-head-kv N] [--n-ff N] [--head-dim N]\n"
            "         [--n-vocab N] [--ctx N] [--tied|--untied] [--vocab-from REAL.gguf] [--threads N]\n"
            "         [--name TEXT] [--plan]\n"
            "       (--plan: print each tensor's type and size, write nothing)\n"
            "       make_test_model --check FILE [--prompt TEXT] [--threads N]\n"
            "       make_test_model --list-presets\n"
            "A: llama qwen2 qwen3 gemma gemma2 gemma3.  FTYPE: f32 f16 bf16 q4_0 ... q4_k_m ... iq4_xs.\n");
}

static bool mt_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

int main(int argc, char **argv)
{
    struct mt_opts o = {.type = "f32", .seed = 42};
    struct mt_cfg def = {NULL, 256, 4, 4, 4, 512, 0, 512, 2048, -1, 10000.0f, 1e-6f, 64, 0.0f, 0};
    /* per option: the value given, or -1 */
    int n_embd = -1, n_layer = -1, n_head = -1, n_head_kv = -1, n_ff = -1, head_dim = -1, n_vocab = -1, ctx = -1;
    int tied = -1;
    const char *arch = NULL, *check = NULL, *prompt = "Hello world, this is a test.";
    struct qm_err err = {{0}};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *ip = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            mt_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--list-presets")) {
            for (size_t k = 0; k < MT_N_PRESETS; k++)
                printf("%-14s %s\n", mt_presets[k].name, mt_presets[k].about);
            return 0;
        } else if (!strcmp(a, "--plan")) {
            o.plan = true;
            continue;
        } else if (!strcmp(a, "--tied")) {
            tied = 1;
            continue;
        } else if (!strcmp(a, "--untied")) {
            tied = 0;
            continue;
        }
        if (!v) {
            fprintf(stderr, "make_test_model: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--arch")) arch = v;
        else if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--type")) o.type = v;
        else if (!strcmp(a, "--vocab-from")) o.vocab_from = v;
        else if (!strcmp(a, "--preset")) o.preset = v;
        else if (!strcmp(a, "--name")) o.name = v;
        else if (!strcmp(a, "--check")) check = v;
        else if (!strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            o.seed = strtoull(v, &end, 0);
            if (errno || *end || end == v) {
                fprintf(stderr, "make_test_model: --seed takes a number, not '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--threads")) ip = &o.threads;
        else if (!strcmp(a, "--n-embd")) ip = &n_embd;
        else if (!strcmp(a, "--n-layer")) ip = &n_layer;
        else if (!strcmp(a, "--n-head")) ip = &n_head;
        else if (!strcmp(a, "--n-head-kv")) ip = &n_head_kv;
        else if (!strcmp(a, "--n-ff")) ip = &n_ff;
        else if (!strcmp(a, "--head-dim")) ip = &head_dim;
        else if (!strcmp(a, "--n-vocab")) ip = &n_vocab;
        else if (!strcmp(a, "--ctx")) ip = &ctx;
        else {
            fprintf(stderr, "make_test_model: unknown option '%s'\n", a);
            mt_usage(stderr);
            return 2;
        }
        if (ip && !mt_int(v, 1, 1 << 30, ip)) {
            fprintf(stderr, "make_test_model: %s takes a positive number, not '%s'\n", a, v);
            return 2;
        }
    }

    if (check) {
        if (mt_check(check, prompt, o.threads, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        return 0;
    }

    if (o.preset) {
        size_t k;
        for (k = 0; k < MT_N_PRESETS && strcmp(mt_presets[k].name, o.preset); k++)
            ;
        if (k == MT_N_PRESETS) {
            fprintf(stderr, "make_test_model: unknown preset '%s' (see --list-presets)\n", o.preset);
            return 2;
        }
        def = mt_presets[k].cfg;
    }
    o.cfg = def;
    if (arch)
        o.cfg.arch = arch;
    if (!o.cfg.arch || (!o.out && !o.plan)) {
        mt_usage(stderr);
        return 2;
    }
#define OVR(field, v) if ((v) > 0) o.cfg.field = (v)
    OVR(n_embd, n_embd);
    OVR(n_layer, n_layer);
    OVR(n_head, n_head);
    OVR(n_head_kv, n_head_kv);
    OVR(n_ff, n_ff);
    OVR(head_dim, head_dim);
    OVR(n_vocab, n_vocab);
    OVR(ctx, ctx);
#undef OVR
    if (n_head > 0 && n_head_kv < 0 && !o.preset)
        o.cfg.n_head_kv = n_head;
    if (o.cfg.head_dim <= 0 || (head_dim < 0 && !o.preset))
        o.cfg.head_dim = o.cfg.n_embd / o.cfg.n_head;
    if (tied >= 0)
        o.cfg.tied = tied;
    o.explicit_vocab = n_vocab > 0;
    if (mt_make(&o, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return 0;
}
