/* model.c - from a GGUF file to a struct qm_model.
 *
 * Reads the generic hyper-parameters (<arch>.block_count and friends), lets
 * the architecture finish its own, then binds every tensor the layer needs,
 * checking name, shape and type the way llama.cpp's loader does: a missing
 * tensor, a wrong shape, or a tensor the architecture does not use is an
 * error naming it.  Weights are not copied: they stay in the mapping. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"

static const struct qm_arch_desc *const all_archs[] = {
    &qm_arch_llama, &qm_arch_qwen2, &qm_arch_qwen3, &qm_arch_gemma, &qm_arch_gemma2, &qm_arch_gemma3,
};

const struct qm_arch_desc *qm_arch_find(const char *name)
{
    for (size_t i = 0; i < sizeof all_archs / sizeof all_archs[0]; i++)
        if (strcmp(all_archs[i]->arch.name, name) == 0)
            return all_archs[i];
    return NULL;
}

/* ---- metadata helpers --------------------------------------------------- */

int qm_arch_get_int(const struct gguf_file *f, const char *arch, const char *suffix, int64_t *out,
                    struct qm_err *err)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const struct gguf_value *v = gguf_find(f, key);
    if (!v)
        return GGUF_ENOKEY;
    switch (v->type) {
    case GGUF_U8: { uint8_t x; gguf_value_u8(v, &x, NULL); *out = x; return 0; }
    case GGUF_I8: { int8_t x; gguf_value_i8(v, &x, NULL); *out = x; return 0; }
    case GGUF_U16: { uint16_t x; gguf_value_u16(v, &x, NULL); *out = x; return 0; }
    case GGUF_I16: { int16_t x; gguf_value_i16(v, &x, NULL); *out = x; return 0; }
    case GGUF_U32: { uint32_t x; gguf_value_u32(v, &x, NULL); *out = x; return 0; }
    case GGUF_I32: { int32_t x; gguf_value_i32(v, &x, NULL); *out = x; return 0; }
    case GGUF_I64: { int64_t x; gguf_value_i64(v, &x, NULL); *out = x; return 0; }
    case GGUF_U64: {
        uint64_t x;
        gguf_value_u64(v, &x, NULL);
        if (x > INT64_MAX)
            return qm_err_set(err, "model: key '%s' is too large (%llu)", key, (unsigned long long)x);
        *out = (int64_t)x;
        return 0;
    }
    case GGUF_ARRAY: {
        /* per-layer arrays (head counts, n_ff): accepted when all equal */
        if (v->count == 0)
            return qm_err_set(err, "model: key '%s' is an empty array", key);
        int64_t first = 0;
        for (uint64_t i = 0; i < v->count; i++) {
            struct gguf_value e;
            int64_t x = 0;
            if (gguf_array_elem(v, i, &e, err) < 0)
                return QM_EINVAL;
            if (e.type == GGUF_U32) { uint32_t t; gguf_value_u32(&e, &t, NULL); x = t; }
            else if (e.type == GGUF_I32) { int32_t t; gguf_value_i32(&e, &t, NULL); x = t; }
            else
                return qm_err_set(err, "model: key '%s' is an array of %s, expected integers", key,
                                  gguf_vtype_name(e.type));
            if (i == 0)
                first = x;
            else if (x != first)
                return qm_err_set(err, "model: key '%s' differs between layers, which qm does not support",
                                  key);
        }
        *out = first;
        return 0;
    }
    default:
        return qm_err_set(err, "model: key '%s' has type %s, expected an integer", key,
                          gguf_vtype_name(v->type));
    }
}

int qm_arch_get_float(const struct gguf_file *f, const char *arch, const char *suffix, float *out,
                      struct qm_err *err)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const struct gguf_value *v = gguf_find(f, key);
    if (!v)
        return GGUF_ENOKEY;
    if (v->type == GGUF_F32)
        return gguf_value_f32(v, out, err);
    if (v->type == GGUF_F64) {
        double d;
        gguf_value_f64(v, &d, NULL);
        *out = (float)d;
        return 0;
    }
    int64_t i;
    int rc = qm_arch_get_int(f, arch, suffix, &i, NULL);
    if (rc == 0) {
        *out = (float)i;
        return 0;
    }
    return qm_err_set(err, "model: key '%s' has type %s, expected a number", key, gguf_vtype_name(v->type));
}

/* An integer hyper-parameter in [lo, hi]; required ones fail when absent. */
static int get_hp(const struct gguf_file *f, const char *arch, const char *suffix, bool required,
                  int64_t def, int64_t lo, int64_t hi, int32_t *out, struct qm_err *err)
{
    int64_t v = def;
    int rc = qm_arch_get_int(f, arch, suffix, &v, err);
    if (rc == GGUF_ENOKEY) {
        if (required)
            return qm_err_set(err, "model: the file has no '%s.%s', which %s models need", arch, suffix, arch);
        v = def;
    } else if (rc < 0) {
        return rc;
    }
    if (v < lo || v > hi)
        return qm_err_set(err, "model: '%s.%s' = %lld is out of range [%lld, %lld]", arch, suffix,
                          (long long)v, (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return 0;
}

static int read_hparams(const struct gguf_file *f, const char *a, struct qm_hparams *hp, struct qm_err *err)
{
    int rc;
    const int64_t big = 1 << 24;
    if ((rc = get_hp(f, a, "context_length", true, 0, 1, INT32_MAX, &hp->n_ctx_train, err)) < 0 ||
        (rc = get_hp(f, a, "embedding_length", true, 0, 1, big, &hp->n_embd, err)) < 0 ||
        (rc = get_hp(f, a, "block_count", true, 0, 1, QM_MAX_LAYERS, &hp->n_layer, err)) < 0 ||
        (rc = get_hp(f, a, "feed_forward_length", true, 0, 1, big, &hp->n_ff, err)) < 0 ||
        (rc = get_hp(f, a, "attention.head_count", true, 0, 1, 4096, &hp->n_head, err)) < 0 ||
        (rc = get_hp(f, a, "attention.head_count_kv", false, hp->n_head, 1, hp->n_head, &hp->n_head_kv,
                     err)) < 0)
        return rc;
    if (hp->n_head % hp->n_head_kv != 0)
        return qm_err_set(err, "model: %d heads cannot be grouped over %d key/value heads", hp->n_head,
                          hp->n_head_kv);
    int32_t hd_default = hp->n_embd / hp->n_head, hd_v;
    if ((rc = get_hp(f, a, "attention.key_length", false, hd_default, 2, 4096, &hp->head_dim, err)) < 0 ||
        (rc = get_hp(f, a, "attention.value_length", false, hp->head_dim, 2, 4096, &hd_v, err)) < 0 ||
        (rc = get_hp(f, a, "rope.dimension_count", false, hp->head_dim, 2, hp->head_dim, &hp->n_rot, err)) < 0)
        return rc;
    if (hd_v != hp->head_dim)
        return qm_err_set(err, "model: key length %d differs from value length %d, which qm does not support",
                          hp->head_dim, hd_v);
    if (hp->n_rot % 2)
        return qm_err_set(err, "model: rope.dimension_count %d is odd", hp->n_rot);

    rc = qm_arch_get_float(f, a, "attention.layer_norm_rms_epsilon", &hp->norm_eps, err);
    if (rc == GGUF_ENOKEY)
        return qm_err_set(err, "model: the file has no '%s.attention.layer_norm_rms_epsilon'", a);
    if (rc < 0)
        return rc;
    if (!(hp->norm_eps >= 0.0f && hp->norm_eps < 1.0f))
        return qm_err_set(err, "model: RMSNorm epsilon %g is out of range", (double)hp->norm_eps);

    hp->rope_base = 10000.0f;
    rc = qm_arch_get_float(f, a, "rope.freq_base", &hp->rope_base, err);
    if (rc < 0 && rc != GGUF_ENOKEY)
        return rc;
    if (!(hp->rope_base > 1.0f) || !isfinite(hp->rope_base))
        return qm_err_set(err, "model: rope.freq_base %g is out of range", (double)hp->rope_base);

    /* RoPE scaling: none, linear (absent type means linear, as in
     * llama.cpp; the factor also comes under the older rope.scale_linear)
     * or YaRN */
    float factor = 1.0f;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    struct gguf_str type = {"linear", 6};
    rc = gguf_get_str(f, key, &type, err);
    if (rc < 0 && rc != GGUF_ENOKEY)
        return rc;
    const bool yarn = gguf_str_eq(type, "yarn");
    if (!gguf_str_eq(type, "none") && !gguf_str_eq(type, "linear") && !yarn)
        return qm_err_set(err, "model: RoPE scaling '%.*s' is not supported (only linear and yarn)",
                          (int)type.len, type.ptr);
    if (!gguf_str_eq(type, "none")) {
        rc = qm_arch_get_float(f, a, "rope.scaling.factor", &factor, err);
        if (rc == GGUF_ENOKEY)
            rc = qm_arch_get_float(f, a, "rope.scale_linear", &factor, err);
        if (rc < 0 && rc != GGUF_ENOKEY)
            return rc;
        if (factor == 0.0f) /* converters write 0 for "no scaling" */
            factor = 1.0f;
    }
    if (!(factor >= 1e-3f && factor <= 1e3f))
        return qm_err_set(err, "model: RoPE scaling factor %g is out of range", (double)factor);
    hp->rope_freq_scale = 1.0f / factor;
    hp->rope_base_local = hp->rope_base;
    hp->rope_freq_scale_local = hp->rope_freq_scale;
    hp->rope_yarn_ext = yarn ? 1.0f : 0.0f;
    hp->rope_attn_factor = 1.0f;
    hp->rope_n_ctx_orig = hp->n_ctx_train;
    if (yarn) {
        rc = qm_arch_get_float(f, a, "rope.scaling.attn_factor", &hp->rope_attn_factor, err);
        if (rc < 0 && rc != GGUF_ENOKEY)
            return rc;
        if (!(hp->rope_attn_factor > 0.0f && hp->rope_attn_factor <= 100.0f))
            return qm_err_set(err, "model: rope.scaling.attn_factor %g is out of range",
                              (double)hp->rope_attn_factor);
        int64_t orig = hp->n_ctx_train;
        rc = qm_arch_get_int(f, a, "rope.scaling.original_context_length", &orig, err);
        if (rc < 0 && rc != GGUF_ENOKEY)
            return rc;
        if (orig < 1 || orig > INT32_MAX)
            return qm_err_set(err, "model: rope.scaling.original_context_length %lld is out of range",
                              (long long)orig);
        hp->rope_n_ctx_orig = (int32_t)orig;
    }
    hp->query_scale = 1.0f / sqrtf((float)hp->head_dim);
    return 0;
}

/* ---- tensors ------------------------------------------------------------ */

struct binder {
    const struct gguf_file *f;
    unsigned char *used;     /* one flag per tensor in the file */
    uint64_t bytes;
    struct qm_err *err;
};

/* Bind tensor `name` with shape [ne0] (ne1 == 0) or [ne0, ne1]. */
static int bind(struct binder *b, struct qm_weight *w, const char *name, int64_t ne0, int64_t ne1,
                bool required)
{
    const struct gguf_tensor *t = gguf_find_tensor(b->f, name);
    memset(w, 0, sizeof *w);
    if (!t) {
        if (required)
            return qm_err_set(b->err, "model: tensor '%s' is missing", name);
        return 0;
    }
    bool is_vec = ne1 == 0;
    bool ok = t->ne[0] == ne0 && t->ne[2] == 1 && t->ne[3] == 1 &&
              (is_vec ? t->n_dims == 1 : (t->ne[1] == ne1 && t->n_dims <= 2));
    if (!ok)
        return qm_err_set(b->err,
                          "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld%s%lld]",
                          name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                          (long long)t->ne[3], (long long)ne0, is_vec ? "" : ", ",
                          is_vec ? 0LL : (long long)ne1);
    const struct qm_type_traits *tt = qm_type_traits(t->type);
    if (!tt || !tt->compute)
        return qm_err_set(b->err, "model: tensor '%s' has type %s, which qm does not support", name,
                          qm_type_name(t->type));
    if (is_vec && t->type != QM_TYPE_F32)
        return qm_err_set(b->err, "model: tensor '%s' has type %s; norms and biases must be F32", name,
                          qm_type_name(t->type));
    w->data = t->data;
    w->type = t->type;
    w->ne0 = t->ne[0];
    w->ne1 = is_vec ? 1 : t->ne[1];
    w->name = t->name;
    int64_t idx = t - gguf_tensor(b->f, 0);
    if (!b->used[idx])
        b->bytes += t->nbytes;
    b->used[idx] = 1;
    return 0;
}

static int bind_layer(struct binder *b, const struct qm_arch *ar, const struct qm_hparams *hp, int il,
                      struct qm_layer *L)
{
    const int64_t E = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim,
                  KV = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff, hd = hp->head_dim;
    char n[96];
    int rc = 0;
#define BIND(field, suffix, ne0, ne1, req)                                                          \
    do {                                                                                             \
        snprintf(n, sizeof n, "blk.%d.%s", il, suffix);                                              \
        if ((rc = bind(b, &L->field, n, ne0, ne1, req)) < 0)                                         \
            return rc;                                                                               \
    } while (0)
    BIND(attn_norm, "attn_norm.weight", E, 0, true);
    BIND(wq, "attn_q.weight", E, Q, true);
    BIND(wk, "attn_k.weight", E, KV, true);
    BIND(wv, "attn_v.weight", E, KV, true);
    BIND(wo, "attn_output.weight", Q, E, true);
    if (ar->qkv_bias) {
        BIND(bq, "attn_q.bias", Q, 0, false);
        BIND(bk, "attn_k.bias", KV, 0, false);
        BIND(bv, "attn_v.bias", KV, 0, false);
    }
    if (ar->qk_norm) {
        BIND(q_norm, "attn_q_norm.weight", hd, 0, true);
        BIND(k_norm, "attn_k_norm.weight", hd, 0, true);
    }
    if (ar->post_norms) {
        BIND(post_attn_norm, "post_attention_norm.weight", E, 0, true);
        BIND(post_ffn_norm, "post_ffw_norm.weight", E, 0, true);
    }
    BIND(ffn_norm, "ffn_norm.weight", E, 0, true);
    BIND(ffn_gate, "ffn_gate.weight", E, F, true);
    BIND(ffn_up, "ffn_up.weight", E, F, true);
    BIND(ffn_down, "ffn_down.weight", F, E, true);
#undef BIND
    return 0;
}

int qm_model_from_gguf(struct qm_model **out, struct gguf_file *f, struct qm_err *err)
{
    struct qm_model *m = calloc(1, sizeof *m);
    struct binder b = {.f = f, .err = err};
    int rc = QM_ENOMEM;
    *out = NULL;
    if (!m)
        goto fail;
    m->file = f;

    struct gguf_str arch_name;
    rc = gguf_get_str(f, "general.architecture", &arch_name, err);
    if (rc == GGUF_ENOKEY)
        rc = qm_err_set(err, "model: the file has no general.architecture");
    if (rc < 0)
        goto fail;
    char a[64];
    if (gguf_str_copy(a, sizeof a, arch_name) >= sizeof a) {
        rc = qm_err_set(err, "model: general.architecture is too long");
        goto fail;
    }
    const struct qm_arch_desc *desc = qm_arch_find(a);
    if (!desc) {
        rc = qm_err_set(err, "model: architecture '%s' is not supported (qm runs llama, qwen2, qwen3, "
                             "gemma, gemma2, gemma3)", a);
        goto fail;
    }
    m->arch = desc->arch;
    struct qm_hparams *hp = &m->hp;
    if ((rc = read_hparams(f, a, hp, err)) < 0)
        goto fail;
    if (desc->finish && (rc = desc->finish(f, hp, err)) < 0)
        goto fail;

    rc = QM_ENOMEM;
    b.used = calloc((size_t)gguf_tensor_count(f) + 1, 1);
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!b.used || !m->layers)
        goto fail;

    const struct gguf_tensor *te = gguf_find_tensor(f, "token_embd.weight");
    if (!te) {
        rc = qm_err_set(err, "model: tensor 'token_embd.weight' is missing");
        goto fail;
    }
    if (te->ne[1] < 1 || te->ne[1] > INT32_MAX) {
        rc = qm_err_set(err, "model: token_embd.weight has %lld rows", (long long)te->ne[1]);
        goto fail;
    }
    hp->n_vocab = (int32_t)te->ne[1];
    if ((rc = bind(&b, &m->token_embd, "token_embd.weight", hp->n_embd, hp->n_vocab, true)) < 0 ||
        (rc = bind(&b, &m->output_norm, "output_norm.weight", hp->n_embd, 0, true)) < 0)
        goto fail;
    if (!m->arch.tied_output_always &&
        (rc = bind(&b, &m->output, "output.weight", hp->n_embd, hp->n_vocab, false)) < 0)
        goto fail;
    if (!m->output.data)
        m->output = m->token_embd;
    if ((rc = bind(&b, &m->output_bias, "output.bias", hp->n_vocab, 0, false)) < 0 ||
        (rc = bind(&b, &m->rope_freqs, "rope_freqs.weight", hp->n_rot / 2, 0, false)) < 0)
        goto fail;
    for (int il = 0; il < hp->n_layer; il++)
        if ((rc = bind_layer(&b, &m->arch, hp, il, &m->layers[il])) < 0)
            goto fail;

    for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
        if (!b.used[i]) {
            rc = qm_err_set(err, "model: tensor '%s' is not used by the %s architecture",
                            gguf_tensor(f, i)->name, a);
            goto fail;
        }
    }
    m->weight_bytes = b.bytes;
    free(b.used);
    *out = m;
    return 0;

fail:
    free(b.used);
    if (m) {
        m->file = NULL; /* the caller still owns f on failure */
        qm_model_free(m);
    }
    return rc;
}

int qm_model_load(struct qm_model **out, const char *path, struct qm_err *err)
{
    struct gguf_file *f;
    int rc = gguf_open(&f, path, 0, err);
    if (rc < 0)
        return rc;
    rc = qm_model_from_gguf(out, f, err);
    if (rc < 0)
        gguf_close(f);
    return rc;
}

void qm_model_free(struct qm_model *m)
{
    if (!m)
        return;
    if (m->file)
        gguf_close(m->file);
    free(m->layers);
    free(m);
}
