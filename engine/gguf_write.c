/* gguf_write.c - the GGUF writer: metadata and tensor infos in memory, tensor
 * bytes streamed, the file put in place atomically.
 *
 * Every metadata value is kept already encoded: a struct gguf_w_value holds
 * its type and the little-endian bytes that follow the type in the file
 * (for an array: the elements back to back, each sub-array with its own
 * element type and count), so writing the header is a concatenation and a
 * value copied from another file is a memcpy for all but strings and nested
 * arrays.
 *
 * The layout follows ggml's writer (engine-reference.md 1.3): data_start is
 * the end of the tensor infos rounded up to the alignment, each tensor starts
 * at the running sum of the previous tensors' sizes each rounded up to the
 * alignment, and the padding is zero bytes.  ggml's reader insists on exactly
 * these offsets, so we never leave gaps of our own.
 *
 * Atomicity: the bytes go to a temporary file next to the target (same
 * directory, hence same file system, so rename(2) is atomic), which is
 * fsync'ed before the rename and whose directory is fsync'ed after it.  A
 * crash or an error at any point leaves either the old file or the new one,
 * never a truncated one; errors unlink the temporary file. */
#include "gguf_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckd.h"

#define GW_VERSION 3
#define GW_KEY_MAX 65535          /* keys are at most this long (spec) */
#define GW_OUTBUF (4u << 20)      /* write(2) in pieces of this size */

/* ---- growable byte buffers ---------------------------------------------- */

struct gw_buf {
    uint8_t *p;
    size_t len, cap;
};

static int gw_buf_reserve(struct gw_buf *b, size_t extra)
{
    size_t need;
    if (qm_ckd_add(&need, b->len, extra))
        return QM_ENOMEM;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (qm_ckd_mul(&cap, cap, (size_t)2))
            return QM_ENOMEM;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return QM_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int gw_buf_put(struct gw_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (gw_buf_reserve(b, n) < 0)
        return QM_ENOMEM;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* Unsigned integers in little-endian order whatever the host's. */
static int gw_buf_le(struct gw_buf *b, uint64_t v, size_t size)
{
    uint8_t t[8];
    for (size_t i = 0; i < size; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    return gw_buf_put(b, t, size);
}

static int gw_buf_str(struct gw_buf *b, const char *s, size_t len)
{
    if (gw_buf_le(b, len, 8) < 0 || gw_buf_put(b, s, len) < 0)
        return QM_ENOMEM;
    return 0;
}

/* ---- values ------------------------------------------------------------- */

struct gguf_w_value {
    enum gguf_vtype type;
    enum gguf_vtype elem;     /* arrays */
    uint64_t count;           /* arrays: elements; 1 otherwise */
    struct gw_buf bytes;      /* what follows the type tag (arrays: after elem and count) */
};

/* Bytes of a scalar of type t, 0 for strings and arrays. */
static size_t gw_scalar_size(enum gguf_vtype t)
{
    switch (t) {
    case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
    case GGUF_U16: case GGUF_I16: return 2;
    case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
    case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
    default: return 0;
    }
}

static bool gw_vtype_ok(enum gguf_vtype t)
{
    return (unsigned)t < GGUF_VTYPE_COUNT;
}

/* Encode n host scalars of type t.  Host floats are IEEE-754, so their bit
 * patterns are their encoding; bools become 0 or 1. */
static int gw_encode_scalars(struct gw_buf *b, enum gguf_vtype t, const void *data, uint64_t n)
{
    size_t sz = gw_scalar_size(t);
    size_t total;
    if (n > SIZE_MAX || qm_ckd_mul(&total, (size_t)n, sz) || gw_buf_reserve(b, total) < 0)
        return QM_ENOMEM;
    const uint8_t *p = data;
    for (uint64_t i = 0; i < n; i++, p += sz) {
        uint64_t v = 0;
        switch (sz) {
        case 1: { uint8_t x; memcpy(&x, p, 1); v = (t == GGUF_BOOL) ? (x != 0) : x; break; }
        case 2: { uint16_t x; memcpy(&x, p, 2); v = x; break; }
        case 4: { uint32_t x; memcpy(&x, p, 4); v = x; break; }
        default: memcpy(&v, p, 8); break;
        }
        gw_buf_le(b, v, sz); /* cannot fail: reserved above */
    }
    return 0;
}

static struct gguf_w_value *gw_value_new(enum gguf_vtype type)
{
    struct gguf_w_value *v = calloc(1, sizeof *v);
    if (v) {
        v->type = type;
        v->count = 1;
    }
    return v;
}

void gguf_w_value_free(struct gguf_w_value *v)
{
    if (!v)
        return;
    free(v->bytes.p);
    free(v);
}

static int gw_oom(struct qm_err *err)
{
    qm_err_set(err, "gguf: out of memory building the file");
    return QM_ENOMEM;
}

int gguf_w_value_array(struct gguf_w_value **out, enum gguf_vtype elem, struct qm_err *err)
{
    *out = NULL;
    if (!gw_vtype_ok(elem))
        return qm_err_set(err, "gguf: %d is no metadata value type", (int)elem);
    struct gguf_w_value *v = gw_value_new(GGUF_ARRAY);
    if (!v)
        return gw_oom(err);
    v->elem = elem;
    v->count = 0;
    *out = v;
    return 0;
}

int gguf_w_value_push(struct gguf_w_value *arr, enum gguf_vtype type, const void *data, uint64_t n,
                      struct qm_err *err)
{
    if (arr->type != GGUF_ARRAY || arr->elem != type || gw_scalar_size(type) == 0)
        return qm_err_set(err, "gguf: cannot append %s values to an array of %s",
                          gguf_vtype_name(type), gguf_vtype_name(arr->elem));
    if (gw_encode_scalars(&arr->bytes, type, data, n) < 0)
        return gw_oom(err);
    arr->count += n;
    return 0;
}

int gguf_w_value_push_str(struct gguf_w_value *arr, const char *s, size_t len, struct qm_err *err)
{
    if (arr->type != GGUF_ARRAY || arr->elem != GGUF_STRING)
        return qm_err_set(err, "gguf: cannot append a string to an array of %s",
                          gguf_vtype_name(arr->elem));
    if (gw_buf_str(&arr->bytes, s, len) < 0)
        return gw_oom(err);
    arr->count++;
    return 0;
}

int gguf_w_value_push_array(struct gguf_w_value *arr, struct gguf_w_value *sub, struct qm_err *err)
{
    int rc = 0;
    if (arr->type != GGUF_ARRAY || arr->elem != GGUF_ARRAY || sub->type != GGUF_ARRAY) {
        rc = qm_err_set(err, "gguf: cannot append a %s to an array of %s", gguf_vtype_name(sub->type),
                        gguf_vtype_name(arr->elem));
        goto out;
    }
    if (gw_buf_le(&arr->bytes, sub->elem, 4) < 0 || gw_buf_le(&arr->bytes, sub->count, 8) < 0 ||
        gw_buf_put(&arr->bytes, sub->bytes.p, sub->bytes.len) < 0) {
        rc = gw_oom(err);
        goto out;
    }
    arr->count++;
out:
    gguf_w_value_free(sub);
    return rc;
}

int gguf_w_value_from_file(struct gguf_w_value **out, const struct gguf_value *v, struct qm_err *err)
{
    struct gguf_w_value *w = NULL;
    int rc;
    *out = NULL;
    if (v->type == GGUF_STRING) {
        struct gguf_str s;
        if ((rc = gguf_value_str(v, &s, err)) < 0)
            return rc;
        if (!(w = gw_value_new(GGUF_STRING)) || gw_buf_str(&w->bytes, s.ptr, s.len) < 0)
            goto oom;
    } else if (v->type != GGUF_ARRAY) {
        size_t sz = gw_scalar_size(v->type);
        if (sz == 0)
            return qm_err_set(err, "gguf: value of unknown type %d", (int)v->type);
        if (!(w = gw_value_new(v->type)) || gw_buf_put(&w->bytes, v->data, sz) < 0)
            goto oom;
    } else {
        if ((rc = gguf_w_value_array(&w, v->elem_type, err)) < 0)
            return rc;
        size_t sz = gw_scalar_size(v->elem_type);
        if (sz) {
            /* the file holds these elements back to back, already encoded */
            size_t total;
            if (v->count > SIZE_MAX || qm_ckd_mul(&total, (size_t)v->count, sz))
                goto oom;
            if (v->count && gw_buf_put(&w->bytes, v->data, total) < 0)
                goto oom;
            w->count = v->count;
        } else if (v->elem_type == GGUF_STRING) {
            for (uint64_t i = 0; i < v->count; i++) {
                struct gguf_str s;
                if ((rc = gguf_array_str(v, i, &s, err)) < 0)
                    goto fail;
                if ((rc = gguf_w_value_push_str(w, s.ptr, s.len, err)) < 0)
                    goto fail;
            }
        } else {
            for (uint64_t i = 0; i < v->count; i++) {
                struct gguf_value e;
                struct gguf_w_value *sub;
                if ((rc = gguf_array_elem(v, i, &e, err)) < 0 ||
                    (rc = gguf_w_value_from_file(&sub, &e, err)) < 0 ||
                    (rc = gguf_w_value_push_array(w, sub, err)) < 0)
                    goto fail;
            }
        }
    }
    *out = w;
    return 0;
oom:
    rc = gw_oom(err);
fail:
    gguf_w_value_free(w);
    return rc;
}

/* ---- the writer --------------------------------------------------------- */

struct gw_kv {
    char *key;
    struct gguf_w_value *v;
};

struct gw_tensor {
    char name[GGUF_NAME_MAX];
    enum qm_type type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint64_t nbytes;
    const void *data;        /* or: */
    gguf_w_data_fn fn;
    void *ctx;
};

struct gguf_writer {
    struct gw_kv *kv;
    int64_t n_kv, cap_kv;
    struct gw_tensor *t;
    int64_t n_t, cap_t;
};

int gguf_w_new(struct gguf_writer **out, struct qm_err *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : gw_oom(err);
}

void gguf_w_free(struct gguf_writer *w)
{
    if (!w)
        return;
    for (int64_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        gguf_w_value_free(w->kv[i].v);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

static int64_t gw_find(const struct gguf_writer *w, const char *key)
{
    for (int64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, key))
            return i;
    return -1;
}

bool gguf_w_has_key(const struct gguf_writer *w, const char *key)
{
    return gw_find(w, key) >= 0;
}

int64_t gguf_w_kv_count(const struct gguf_writer *w)
{
    return w->n_kv;
}

int gguf_w_remove(struct gguf_writer *w, const char *key)
{
    int64_t i = gw_find(w, key);
    if (i >= 0) {
        free(w->kv[i].key);
        gguf_w_value_free(w->kv[i].v);
        memmove(&w->kv[i], &w->kv[i + 1], (size_t)(w->n_kv - i - 1) * sizeof *w->kv);
        w->n_kv--;
    }
    return 0;
}

/* general.alignment decides the layout, so a value ggml would reject is
 * refused when it is set rather than producing an unreadable file. */
static int gw_check_alignment(const struct gguf_w_value *v, struct qm_err *err)
{
    if (v->type != GGUF_U32)
        return qm_err_set(err, "gguf: general.alignment must be a u32, not %s", gguf_vtype_name(v->type));
    uint32_t a = (uint32_t)v->bytes.p[0] | (uint32_t)v->bytes.p[1] << 8 | (uint32_t)v->bytes.p[2] << 16 |
                 (uint32_t)v->bytes.p[3] << 24;
    if (a == 0 || (a & (a - 1)))
        return qm_err_set(err, "gguf: general.alignment %u is not a power of two", a);
    return 0;
}

int gguf_w_set_value(struct gguf_writer *w, const char *key, struct gguf_w_value *v, struct qm_err *err)
{
    int rc;
    size_t klen = strlen(key);
    if (klen == 0 || klen > GW_KEY_MAX) {
        rc = qm_err_set(err, "gguf: a metadata key must be 1 to %d bytes long", GW_KEY_MAX);
        goto fail;
    }
    if (!strcmp(key, "general.alignment") && (rc = gw_check_alignment(v, err)) < 0)
        goto fail;
    int64_t i = gw_find(w, key);
    if (i >= 0) {
        gguf_w_value_free(w->kv[i].v);
        w->kv[i].v = v;
        return 0;
    }
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        struct gw_kv *kv = realloc(w->kv, (size_t)cap * sizeof *kv);
        if (!kv)
            goto oom;
        w->kv = kv;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k)
        goto oom;
    w->kv[w->n_kv++] = (struct gw_kv){k, v};
    return 0;
oom:
    rc = gw_oom(err);
fail:
    gguf_w_value_free(v);
    return rc;
}

static int gw_set_scalar(struct gguf_writer *w, const char *key, enum gguf_vtype t, const void *p,
                         struct qm_err *err)
{
    struct gguf_w_value *v = gw_value_new(t);
    if (!v || gw_encode_scalars(&v->bytes, t, p, 1) < 0) {
        gguf_w_value_free(v);
        return gw_oom(err);
    }
    return gguf_w_set_value(w, key, v, err);
}

int gguf_w_set_u8(struct gguf_writer *w, const char *key, uint8_t v, struct qm_err *err)
{ return gw_set_scalar(w, key, GGUF_U8, &v, err); }
int gguf_w_set_i8(struct gguf_writer *w, const char *key, int8_t v, struct qm_err *err)
{ return gw_set_scalar(w, key, GGUF_I8, &v, err); }
int gguf_w_set_u16(struct gguf_writer *w, const char *key, uint16_t v, struct qm_err *err)
{ return gw_set_scalar(w, key, GGUF_U16, &v, err); }
int gguf_w_set_i16(struct gguf_writer *w, const char *key, int16_t v, struct qm_err *err)
{ return gw_set_scalar(w, key, GGUF_I16, &v, err); }
int gguf_w_set_u32(struct gguf_writer *w, const char *key, uint32_t v, struct qm_err *err)
{ return gw_set_scalar(w, key, GGUF_U32, &v, err); }
int gguf_w_set_i32(struct gguf_writer *w, const char *key, int32_t v, struct qm_err *err)
{ return gw_set_scalar(w, key, GGUF_I32, &v, err); }
int gguf_w_set_f32(struct gguf_writer *w, const char *key, float v, struct qm_err *err)
{ return gw_set_scalar(w, key, GGUF_F32, &v, err); }
int gguf_w_set_u64(struct gguf_writer *w, const char *key, uint64_t v, struct qm_err *err)
{ return gw_set_scalar(w, key, GGUF_U64, &v, err); }
int gguf_w_set_i64(struct gguf_writer *w, const char *key, int64_t v, struct qm_err *err)
{ return gw_set_scalar(w, key, GGUF_I64, &v, err); }
int gguf_w_set_f64(struct gguf_writer *w, const char *key, double v, struct qm_err *err)
{ return gw_set_scalar(w, key, GGUF_F64, &v, err); }

int gguf_w_set_bool(struct gguf_writer *w, const char *key, bool v, struct qm_err *err)
{
    uint8_t b = v;
    return gw_set_scalar(w, key, GGUF_BOOL, &b, err);
}

int gguf_w_set_strn(struct gguf_writer *w, const char *key, const char *s, size_t len, struct qm_err *err)
{
    struct gguf_w_value *v = gw_value_new(GGUF_STRING);
    if (!v || gw_buf_str(&v->bytes, s, len) < 0) {
        gguf_w_value_free(v);
        return gw_oom(err);
    }
    return gguf_w_set_value(w, key, v, err);
}

int gguf_w_set_str(struct gguf_writer *w, const char *key, const char *s, struct qm_err *err)
{
    return gguf_w_set_strn(w, key, s, strlen(s), err);
}

int gguf_w_set_array(struct gguf_writer *w, const char *key, enum gguf_vtype elem, const void *data,
                     uint64_t n, struct qm_err *err)
{
    struct gguf_w_value *v;
    int rc;
    if (gw_scalar_size(elem) == 0)
        return qm_err_set(err, "gguf: gguf_w_set_array takes scalars, not %s",
                          gw_vtype_ok(elem) ? gguf_vtype_name(elem) : "an unknown type");
    if ((rc = gguf_w_value_array(&v, elem, err)) < 0)
        return rc;
    if ((rc = gguf_w_value_push(v, elem, data, n, err)) < 0) {
        gguf_w_value_free(v);
        return rc;
    }
    return gguf_w_set_value(w, key, v, err);
}

int gguf_w_set_str_array(struct gguf_writer *w, const char *key, const char *const *strs,
                         const size_t *lens, uint64_t n, struct qm_err *err)
{
    struct gguf_w_value *v;
    int rc;
    if ((rc = gguf_w_value_array(&v, GGUF_STRING, err)) < 0)
        return rc;
    for (uint64_t i = 0; i < n; i++) {
        if ((rc = gguf_w_value_push_str(v, strs[i], lens ? lens[i] : strlen(strs[i]), err)) < 0) {
            gguf_w_value_free(v);
            return rc;
        }
    }
    return gguf_w_set_value(w, key, v, err);
}

int gguf_w_copy_kv(struct gguf_writer *w, const struct gguf_file *f, int64_t i, struct qm_err *err)
{
    struct gguf_w_value *v;
    int rc = gguf_w_value_from_file(&v, gguf_kv_value(f, i), err);
    if (rc < 0)
        return rc;
    return gguf_w_set_value(w, gguf_kv_key(f, i), v, err);
}

int gguf_w_copy_kvs(struct gguf_writer *w, const struct gguf_file *f, const char *prefix, struct qm_err *err)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    for (int64_t i = 0; i < gguf_kv_count(f); i++) {
        if (plen && strncmp(gguf_kv_key(f, i), prefix, plen) != 0)
            continue;
        int rc = gguf_w_copy_kv(w, f, i, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- tensors ------------------------------------------------------------ */

static int gw_add(struct gguf_writer *w, const char *name, enum qm_type type, uint32_t n_dims,
                  const int64_t *ne, const void *data, gguf_w_data_fn fn, void *ctx, struct qm_err *err)
{
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen >= GGUF_NAME_MAX)
        return qm_err_set(err, "gguf: tensor name '%s' must be 1 to %d bytes long", name, GGUF_NAME_MAX - 1);
    const struct qm_type_traits *tt = qm_type_traits(type);
    if (!tt)
        return qm_err_set(err, "gguf: tensor '%s' has type id %d, which is no tensor type", name, (int)type);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return qm_err_set(err, "gguf: tensor '%s' has %u dimensions; 1 to %d are allowed", name, n_dims,
                          GGUF_MAX_DIMS);
    for (int64_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return qm_err_set(err, "gguf: tensor '%s' is added twice", name);

    struct gw_tensor t = {.type = type, .n_dims = n_dims, .data = data, .fn = fn, .ctx = ctx};
    memcpy(t.name, name, nlen + 1);
    int64_t nel = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] < 0 || qm_ckd_mul(&nel, nel, t.ne[d]))
            return qm_err_set(err, "gguf: tensor '%s' has a negative or too large shape", name);
    }
    if (t.ne[0] % tt->blck)
        return qm_err_set(err, "gguf: tensor '%s': %lld elements per row is not a multiple of the %s "
                               "block size %lld", name, (long long)t.ne[0], tt->name, (long long)tt->blck);
    uint64_t nb;
    if (qm_ckd_mul(&nb, (uint64_t)(nel / tt->blck), (uint64_t)tt->size))
        return qm_err_set(err, "gguf: tensor '%s' is too large", name);
    t.nbytes = nb;

    if (w->n_t == w->cap_t) {
        int64_t cap = w->cap_t ? 2 * w->cap_t : 64;
        struct gw_tensor *p = realloc(w->t, (size_t)cap * sizeof *p);
        if (!p)
            return gw_oom(err);
        w->t = p;
        w->cap_t = cap;
    }
    w->t[w->n_t++] = t;
    return 0;
}

int gguf_w_add_tensor(struct gguf_writer *w, const char *name, enum qm_type type, uint32_t n_dims,
                      const int64_t *ne, const void *data, struct qm_err *err)
{
    return gw_add(w, name, type, n_dims, ne, data, NULL, NULL, err);
}

int gguf_w_add_tensor_cb(struct gguf_writer *w, const char *name, enum qm_type type, uint32_t n_dims,
                         const int64_t *ne, gguf_w_data_fn fn, void *ctx, struct qm_err *err)
{
    return gw_add(w, name, type, n_dims, ne, NULL, fn, ctx, err);
}

int64_t gguf_w_tensor_count(const struct gguf_writer *w)
{
    return w->n_t;
}

uint64_t gguf_w_tensor_bytes(const struct gguf_writer *w)
{
    uint64_t s = 0;
    for (int64_t i = 0; i < w->n_t; i++)
        s += w->t[i].nbytes;
    return s;
}

/* ---- output file -------------------------------------------------------- */

/* A buffered file descriptor that reports errors against the final path,
 * which is the name the user knows. */
struct gw_out {
    int fd;
    const char *path;
    uint8_t *buf;
    size_t len;
    uint64_t pos;            /* bytes handed to gw_out_put so far */
};

static int gw_io_error(const char *path, int e, const char *what, struct qm_err *err)
{
    if (e == ENOSPC || e == EDQUOT)
        qm_err_set(err, "gguf: no space left on device writing %s", path);
    else
        qm_err_set(err, "gguf: cannot %s %s: %s", what, path, strerror(e));
    return QM_EIO;
}

static int gw_write_all(struct gw_out *o, const uint8_t *p, size_t n, struct qm_err *err)
{
    while (n > 0) {
        ssize_t k = write(o->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return gw_io_error(o->path, errno, "write", err);
        }
        if (k == 0) /* no progress and no errno: treat as a full disk */
            return gw_io_error(o->path, ENOSPC, "write", err);
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int gw_out_flush(struct gw_out *o, struct qm_err *err)
{
    int rc = gw_write_all(o, o->buf, o->len, err);
    o->len = 0;
    return rc;
}

static int gw_out_put(struct gw_out *o, const void *data, size_t n, struct qm_err *err)
{
    int rc;
    o->pos += n;
    if (o->len + n > GW_OUTBUF) {
        if ((rc = gw_out_flush(o, err)) < 0)
            return rc;
        if (n >= GW_OUTBUF) /* large pieces go straight out, without a copy */
            return gw_write_all(o, data, n, err);
    }
    memcpy(o->buf + o->len, data, n);
    o->len += n;
    return 0;
}

static int gw_out_pad(struct gw_out *o, uint64_t align, struct qm_err *err)
{
    static const uint8_t zeros[256];
    uint64_t end = o->pos;
    qm_ckd_align(&end, o->pos, align); /* pos is bounded by the layout computed before */
    while (o->pos < end) {
        uint64_t n = end - o->pos < sizeof zeros ? end - o->pos : sizeof zeros;
        int rc = gw_out_put(o, zeros, (size_t)n, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

struct gguf_w_stream {
    struct gw_out *out;
    const struct gw_tensor *t;
    uint64_t left;
};

int gguf_w_stream_write(struct gguf_w_stream *s, const void *buf, size_t n, struct qm_err *err)
{
    if (n > s->left)
        return qm_err_set(err, "gguf: tensor '%s': %zu more bytes given where %llu were left of its %llu",
                          s->t->name, n, (unsigned long long)s->left, (unsigned long long)s->t->nbytes);
    s->left -= n;
    return gw_out_put(s->out, buf, n, err);
}

uint64_t gguf_w_stream_left(const struct gguf_w_stream *s)
{
    return s->left;
}

/* ---- layout and writing ------------------------------------------------- */

static uint32_t gw_alignment(const struct gguf_writer *w)
{
    int64_t i = gw_find(w, "general.alignment");
    if (i < 0)
        return GGUF_DEFAULT_ALIGNMENT;
    const uint8_t *p = w->kv[i].v->bytes.p;  /* checked by gw_check_alignment */
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Header, KVs and tensor infos, padded to the alignment. */
static int gw_header(const struct gguf_writer *w, uint32_t align, struct gw_buf *h, struct qm_err *err)
{
    int rc = 0;
    rc |= gw_buf_put(h, "GGUF", 4);
    rc |= gw_buf_le(h, GW_VERSION, 4);
    rc |= gw_buf_le(h, (uint64_t)w->n_t, 8);
    rc |= gw_buf_le(h, (uint64_t)w->n_kv, 8);
    for (int64_t i = 0; i < w->n_kv && rc == 0; i++) {
        const struct gguf_w_value *v = w->kv[i].v;
        rc |= gw_buf_str(h, w->kv[i].key, strlen(w->kv[i].key));
        rc |= gw_buf_le(h, v->type, 4);
        if (v->type == GGUF_ARRAY) {
            rc |= gw_buf_le(h, v->elem, 4);
            rc |= gw_buf_le(h, v->count, 8);
        }
        rc |= gw_buf_put(h, v->bytes.p, v->bytes.len);
    }
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_t && rc == 0; i++) {
        const struct gw_tensor *t = &w->t[i];
        rc |= gw_buf_str(h, t->name, strlen(t->name));
        rc |= gw_buf_le(h, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++)
            rc |= gw_buf_le(h, (uint64_t)t->ne[d], 8);
        rc |= gw_buf_le(h, (uint64_t)t->type, 4);
        rc |= gw_buf_le(h, off, 8);
        uint64_t end;
        if (qm_ckd_add(&end, off, t->nbytes) || qm_ckd_align(&off, end, align))
            return qm_err_set(err, "gguf: the tensors are too large for one file");
    }
    uint64_t end;
    if (rc == 0 && !qm_ckd_align(&end, h->len, align) && end <= SIZE_MAX) {
        rc = gw_buf_reserve(h, (size_t)(end - h->len));
        if (rc == 0) {
            memset(h->p + h->len, 0, (size_t)(end - h->len));
            h->len = (size_t)end;
        }
    }
    return rc ? gw_oom(err) : 0;
}

/* "PATH.tmp-" and six random characters, created exclusively. */
static int gw_open_tmp(const char *path, char **tmp_out, int *fd_out, struct qm_err *err)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return gw_oom(err);
    for (int attempt = 0; attempt < 100; attempt++) {
        uint8_t r[6];
        if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
            /* no entropy yet: the clock and pid only need to avoid our own collisions */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() << 20 ^
                         (uint64_t)attempt;
            for (int i = 0; i < 6; i++)
                r[i] = (uint8_t)(x >> (8 * i));
        }
        memcpy(tmp, path, plen);
        memcpy(tmp + plen, ".tmp-", 5);
        for (int i = 0; i < 6; i++)
            tmp[plen + 5 + i] = chars[r[i] % (sizeof chars - 1)];
        tmp[plen + 11] = '\0';
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp_out = tmp;
            *fd_out = fd;
            return 0;
        }
        if (errno != EEXIST) {
            int e = errno;
            free(tmp);
            if (e == ENOSPC || e == EDQUOT)
                return gw_io_error(path, e, "create", err);
            return qm_err_set(err, "gguf: cannot create %s: %s", path, strerror(e)), QM_EIO;
        }
    }
    free(tmp);
    return qm_err_set(err, "gguf: cannot create a temporary file next to %s", path), QM_EIO;
}

/* Make the rename durable: fsync the directory that holds path. */
static void gw_sync_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir)
        d = "/";
    else if (slash) {
        *slash = '\0';
        d = dir;
    }
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse fsync on directories */
        close(fd);
    }
    free(dir);
}

int gguf_w_write(struct gguf_writer *w, const char *path, uint64_t *size_out, struct qm_err *err)
{
    struct gw_buf h = {0};
    struct gw_out o = {.fd = -1, .path = path};
    char *tmp = NULL;
    int rc;
    uint32_t align = gw_alignment(w);

    if ((rc = gw_header(w, align, &h, err)) < 0)
        goto err;
    if (!(o.buf = malloc(GW_OUTBUF))) {
        rc = gw_oom(err);
        goto err;
    }
    if ((rc = gw_open_tmp(path, &tmp, &o.fd, err)) < 0)
        goto err;
    if ((rc = gw_out_put(&o, h.p, h.len, err)) < 0)
        goto err;
    for (int64_t i = 0; i < w->n_t; i++) {
        const struct gw_tensor *t = &w->t[i];
        if (t->fn) {
            struct gguf_w_stream s = {.out = &o, .t = t, .left = t->nbytes};
            if ((rc = t->fn(t->ctx, &s, err)) < 0)
                goto err;
            if (s.left) {
                rc = qm_err_set(err, "gguf: tensor '%s': %llu of its %llu bytes were not written", t->name,
                                (unsigned long long)s.left, (unsigned long long)t->nbytes);
                goto err;
            }
        } else if (t->nbytes) {
            if (!t->data) {
                rc = qm_err_set(err, "gguf: tensor '%s' has neither data nor a data callback", t->name);
                goto err;
            }
            if ((rc = gw_out_put(&o, t->data, (size_t)t->nbytes, err)) < 0)
                goto err;
        }
        if ((rc = gw_out_pad(&o, align, err)) < 0)
            goto err;
    }
    if ((rc = gw_out_flush(&o, err)) < 0)
        goto err;
    if (fsync(o.fd) < 0) {
        rc = gw_io_error(path, errno, "write", err);
        goto err;
    }
    if (close(o.fd) < 0) {
        o.fd = -1;
        rc = gw_io_error(path, errno, "write", err);
        goto err;
    }
    o.fd = -1;
    if (rename(tmp, path) < 0) {
        rc = qm_err_set(err, "gguf: cannot rename the finished file to %s: %s", path, strerror(errno));
        rc = QM_EIO;
        goto err;
    }
    gw_sync_dir(path);
    if (size_out)
        *size_out = o.pos;
    free(tmp);
    free(o.buf);
    free(h.p);
    return 0;

err:
    if (o.fd >= 0)
        close(o.fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(o.buf);
    free(h.p);
    return rc;
}
