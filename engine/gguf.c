/* gguf.c - the GGUF reader: map, parse, validate.
 *
 * A GGUF file is a header, a list of typed key/value pairs, a list of tensor
 * infos, padding, and the tensor bytes (engine-reference.md section 1).  This
 * file reads all of it in one forward pass over the mapping and checks every
 * field against the bytes that are actually there before it trusts it: counts
 * are bounded by the bytes left, lengths and offsets go through the
 * overflow-checked helpers of ckd.h, nesting of arrays is bounded, and memory
 * is only allocated for counts already proven to fit in the file, so what we
 * allocate stays proportional to the file size whatever the header claims.
 *
 * Nothing is copied except keys (NUL-terminated for the API's convenience) and
 * tensor names; values and tensor data are read in place.  Arrays of strings
 * get an offset table so element i is O(1), which the tokenizer needs for a
 * vocabulary of 150k strings.  Keys and tensor names are found through a hash
 * table, which also catches duplicates without an O(n^2) scan.
 *
 * Every error message names the problem and the byte offset it was found at,
 * plus the KV or tensor info being read, so a broken file can be diagnosed
 * with a hex dump. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckd.h"

#define GGUF_MAGIC "GGUF"
/* Smallest encodings, used to bound counts by the bytes left before we
 * allocate anything for them: a KV is at least an empty key (8), a value
 * type (4) and a one-byte value; a tensor info at least an empty name (8),
 * n_dims (4), a type (4) and an offset (8). */
#define GGUF_MIN_KV_BYTES 13
#define GGUF_MIN_TENSOR_INFO_BYTES 24
#define GGUF_MIN_STRING_BYTES 8
#define GGUF_MIN_ARRAY_BYTES 12    /* element type + count */

/* ======================================================================
 * Types
 * ====================================================================== */

/* Open-addressing hash set of entry indices (slot = index + 1, 0 = empty),
 * keyed by a name the owner hands out through name_of. */
struct gguf_index {
    size_t *slots;
    size_t mask;
};

struct gguf_kv {
    char *key;               /* NUL-terminated copy */
    struct gguf_value value;
};

struct gguf_file {
    const uint8_t *base;     /* the whole file */
    uint64_t size;
    bool mapped;             /* base came from mmap and must be unmapped */
    uint32_t version;
    uint32_t alignment;
    uint64_t data_start;
    uint64_t tensor_bytes;

    int64_t n_kv;
    struct gguf_kv *kv;
    struct gguf_index kv_index;

    int64_t n_tensors;
    struct gguf_tensor *tensors;
    struct gguf_index tensor_index;
};

/* The cursor of the parse, and what it is reading (for messages). */
struct reader {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    struct qm_err *err;
    int64_t kv;              /* KV being read, or -1 */
    struct gguf_str key;     /* its key once read (ptr NULL before) */
    int64_t tensor;          /* tensor info being read, or -1 */
    const char *tname;       /* its name once read */
};

static const size_t vtype_size[GGUF_VTYPE_COUNT] = {
    [GGUF_U8] = 1, [GGUF_I8] = 1, [GGUF_U16] = 2, [GGUF_I16] = 2,
    [GGUF_U32] = 4, [GGUF_I32] = 4, [GGUF_F32] = 4, [GGUF_BOOL] = 1,
    [GGUF_STRING] = 0, [GGUF_ARRAY] = 0,
    [GGUF_U64] = 8, [GGUF_I64] = 8, [GGUF_F64] = 8,
};

static const char *const vtype_names[GGUF_VTYPE_COUNT] = {
    [GGUF_U8] = "u8", [GGUF_I8] = "i8", [GGUF_U16] = "u16", [GGUF_I16] = "i16",
    [GGUF_U32] = "u32", [GGUF_I32] = "i32", [GGUF_F32] = "f32", [GGUF_BOOL] = "bool",
    [GGUF_STRING] = "string", [GGUF_ARRAY] = "array",
    [GGUF_U64] = "u64", [GGUF_I64] = "i64", [GGUF_F64] = "f64",
};

const char *gguf_vtype_name(enum gguf_vtype t)
{
    if ((unsigned)t < GGUF_VTYPE_COUNT)
        return vtype_names[t];
    return "unknown";
}

/* ======================================================================
 * Little-endian decoding (byte by byte: the mapping is not aligned)
 * ====================================================================== */

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ======================================================================
 * Messages
 * ====================================================================== */

/* Copy a name from the file into buf for a message: control bytes become
 * '?' (a hostile name must not garble a terminal), long names are cut. */
static const char *printable(char *buf, size_t cap, const char *s, size_t n)
{
    size_t max = cap - 4, o = 0;
    for (size_t i = 0; i < n && o < max; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (n > max) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static void context(const struct reader *r, char *buf, size_t cap)
{
    char name[96];
    buf[0] = '\0';
    if (r->tensor >= 0 && r->tname)
        snprintf(buf, cap, " (tensor info %" PRId64 ", '%s')", r->tensor,
                 printable(name, sizeof name, r->tname, strlen(r->tname)));
    else if (r->tensor >= 0)
        snprintf(buf, cap, " (tensor info %" PRId64 ")", r->tensor);
    else if (r->kv >= 0 && r->key.ptr)
        snprintf(buf, cap, " (KV %" PRId64 ", key '%s')", r->kv,
                 printable(name, sizeof name, r->key.ptr, r->key.len));
    else if (r->kv >= 0)
        snprintf(buf, cap, " (KV %" PRId64 ")", r->kv);
}

/* Fail with "gguf: <message>"; fail_ctx adds what is being read. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail_impl(const struct reader *r, bool with_context, const char *fmt, ...)
{
    char msg[400], ctx[160] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (with_context)
        context(r, ctx, sizeof ctx);
    qm_err_set(r->err, "gguf: %s%s", msg, ctx);
    return QM_EINVAL;
}

#define fail(r, ...) fail_impl((r), false, __VA_ARGS__)
#define fail_ctx(r, ...) fail_impl((r), true, __VA_ARGS__)

static int oom(struct qm_err *err)
{
    qm_err_set(err, "gguf: out of memory");
    return QM_ENOMEM;
}

/* ======================================================================
 * Reading primitives: each checks the bytes left first
 * ====================================================================== */

static uint64_t left(const struct reader *r)
{
    return r->size - r->pos;
}

static int need(struct reader *r, uint64_t n, const char *what)
{
    if (n > left(r))
        return fail_ctx(r, "unexpected end of file at byte %" PRIu64 " reading %s: need %" PRIu64
                        " bytes, %" PRIu64 " left", r->pos, what, n, left(r));
    return 0;
}

static int rd_u32(struct reader *r, uint32_t *v, const char *what)
{
    int rc = need(r, 4, what);
    if (rc == 0) {
        *v = le32(r->base + r->pos);
        r->pos += 4;
    }
    return rc;
}

static int rd_u64(struct reader *r, uint64_t *v, const char *what)
{
    int rc = need(r, 8, what);
    if (rc == 0) {
        *v = le64(r->base + r->pos);
        r->pos += 8;
    }
    return rc;
}

static int rd_str(struct reader *r, struct gguf_str *s, const char *what)
{
    uint64_t at = r->pos, len;
    int rc = rd_u64(r, &len, what);
    if (rc)
        return rc;
    if (len > left(r))
        return fail_ctx(r, "string length %" PRIu64 " at byte %" PRIu64 " exceeds the %" PRIu64
                        " bytes left", len, at, left(r));
    s->ptr = (const char *)r->base + r->pos;
    s->len = (size_t)len;
    r->pos += len;
    return 0;
}

/* ======================================================================
 * The name index
 * ====================================================================== */

typedef const char *(*name_of_fn)(const struct gguf_file *f, size_t i);

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;      /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int index_init(struct gguf_index *ix, int64_t n)
{
    size_t cap = 16;
    while (cap < (size_t)n * 2)              /* load factor <= 1/2 */
        cap <<= 1;
    ix->slots = calloc(cap, sizeof *ix->slots);
    if (!ix->slots)
        return QM_ENOMEM;
    ix->mask = cap - 1;
    return 0;
}

/* Entry names hold no NUL byte, so a strncmp plus a terminator check is an
 * exact comparison against the (ptr, len) name. */
static bool name_is(const char *entry, const char *name, size_t len)
{
    return strncmp(entry, name, len) == 0 && entry[len] == '\0';
}

/* The slot holding name, or the empty slot where it would go. */
static size_t *index_slot(const struct gguf_index *ix, const struct gguf_file *f,
                          name_of_fn name_of, const char *name, size_t len)
{
    size_t i = (size_t)hash_bytes(name, len) & ix->mask;
    while (ix->slots[i] && !name_is(name_of(f, ix->slots[i] - 1), name, len))
        i = (i + 1) & ix->mask;
    return &ix->slots[i];
}

static int64_t index_find(const struct gguf_index *ix, const struct gguf_file *f,
                          name_of_fn name_of, const char *name, size_t len)
{
    if (!ix->slots)
        return -1;
    return (int64_t)*index_slot(ix, f, name_of, name, len) - 1;
}

static const char *kv_name(const struct gguf_file *f, size_t i)
{
    return f->kv[i].key;
}

static const char *tensor_name(const struct gguf_file *f, size_t i)
{
    return f->tensors[i].name;
}

/* ======================================================================
 * Values
 * ====================================================================== */

static void value_free(struct gguf_value *v)
{
    if (v->type == GGUF_ARRAY && v->elem_type == GGUF_ARRAY && v->index) {
        struct gguf_value *kids = v->index;
        for (uint64_t i = 0; i < v->count; i++)
            value_free(&kids[i]);
    }
    free(v->index);
    v->index = NULL;
}

/* The body of an array (element type, count, elements) at r->pos; depth is
 * its nesting level, 1 for an array that is a KV's value. */
static int parse_array(struct reader *r, int depth, struct gguf_value *out)
{
    uint64_t at = r->pos, count;
    uint32_t et;
    int rc;

    out->type = GGUF_ARRAY;
    if ((rc = rd_u32(r, &et, "an array's element type")))
        return rc;
    if (et >= GGUF_VTYPE_COUNT)
        return fail_ctx(r, "unknown array element type %" PRIu32 " at byte %" PRIu64, et, at);
    if (et == GGUF_ARRAY && depth >= GGUF_MAX_ARRAY_DEPTH)
        return fail_ctx(r, "arrays nested deeper than %d levels at byte %" PRIu64,
                        GGUF_MAX_ARRAY_DEPTH, at);
    at = r->pos;
    if ((rc = rd_u64(r, &count, "an array's element count")))
        return rc;

    /* Bound the count by the bytes left before touching any element or
     * allocating an index: count * min_size <= left, by division. */
    size_t min = et == GGUF_STRING ? GGUF_MIN_STRING_BYTES
               : et == GGUF_ARRAY ? GGUF_MIN_ARRAY_BYTES : vtype_size[et];
    if (count > left(r) / min)
        return fail_ctx(r, "array count %" PRIu64 " at byte %" PRIu64 ": %" PRIu64
                        " elements of type %s (at least %zu bytes each) exceed the %" PRIu64
                        " bytes left", count, at, count, vtype_names[et], min, left(r));
    out->elem_type = (enum gguf_vtype)et;
    out->count = count;
    out->offset = r->pos;
    out->data = r->base + r->pos;

    if (et == GGUF_STRING) {
        /* count <= left / 8, so this index is at most the file's size */
        uint64_t *offs = count ? malloc((size_t)count * sizeof *offs) : NULL;
        if (count && !offs)
            return oom(r->err);
        out->index = offs;
        for (uint64_t i = 0; i < count; i++) {
            struct gguf_str s;
            offs[i] = r->pos - out->offset;
            if ((rc = rd_str(r, &s, "a string in an array")))
                return rc;
        }
    } else if (et == GGUF_ARRAY) {
        struct gguf_value *kids = count ? calloc((size_t)count, sizeof *kids) : NULL;
        if (count && !kids)
            return oom(r->err);
        out->index = kids;   /* owned from here, so a failure below frees it */
        for (uint64_t i = 0; i < count; i++)
            if ((rc = parse_array(r, depth + 1, &kids[i])))
                return rc;
    } else {
        r->pos += count * min;   /* fits: checked above */
    }
    return 0;
}

/* A value of type t at r->pos. */
static int parse_value(struct reader *r, enum gguf_vtype t, struct gguf_value *out)
{
    int rc;
    out->type = t;
    out->count = 1;
    out->offset = r->pos;
    out->data = r->base + r->pos;
    if (t == GGUF_ARRAY)
        return parse_array(r, 1, out);
    if (t == GGUF_STRING) {
        struct gguf_str s;
        return rd_str(r, &s, "a string value");
    }
    if ((rc = need(r, vtype_size[t], "a value")))
        return rc;
    r->pos += vtype_size[t];
    return 0;
}

/* ======================================================================
 * The header and the KVs
 * ====================================================================== */

static int parse_header(struct reader *r, struct gguf_file *f)
{
    uint64_t nt, nkv, at;
    int rc;

    if ((rc = need(r, 4, "the magic")))
        return rc;
    if (memcmp(r->base, GGUF_MAGIC, 4) != 0)
        return fail(r, "bad magic 0x%08" PRIx32 " at byte 0: not a GGUF file", le32(r->base));
    r->pos = 4;
    if ((rc = rd_u32(r, &f->version, "the version")))
        return rc;
    if (f->version == 0)
        return fail(r, "version 0 at byte 4 is invalid");
    if ((f->version & 0xffff) == 0)
        return fail(r, "version 0x%08" PRIx32 " at byte 4 looks byte-swapped: this is a "
                    "big-endian GGUF file, which qm does not read", f->version);
    if (f->version == 1)
        return fail(r, "version 1 at byte 4 (32-bit counts) is no longer supported; "
                    "qm reads versions 2 and 3");
    if (f->version > 3)
        return fail(r, "version %" PRIu32 " at byte 4 is newer than the versions qm reads (2 and 3)",
                    f->version);

    if ((rc = rd_u64(r, &nt, "the tensor count")) || (rc = rd_u64(r, &nkv, "the KV count")))
        return rc;
    at = 8;
    if (nt > INT64_MAX)
        return fail(r, "tensor count %" PRIu64 " at byte %" PRIu64 " is negative as a signed count",
                    nt, at);
    if (nkv > INT64_MAX)
        return fail(r, "KV count %" PRIu64 " at byte %" PRIu64 " is negative as a signed count",
                    nkv, at + 8);
    if (nt > left(r) / GGUF_MIN_TENSOR_INFO_BYTES)
        return fail(r, "tensor count %" PRIu64 " at byte %" PRIu64 " is impossible: that many "
                    "tensor infos need at least %d bytes each but only %" PRIu64 " bytes are left",
                    nt, at, GGUF_MIN_TENSOR_INFO_BYTES, left(r));
    if (nkv > left(r) / GGUF_MIN_KV_BYTES)
        return fail(r, "KV count %" PRIu64 " at byte %" PRIu64 " is impossible: that many KVs "
                    "need at least %d bytes each but only %" PRIu64 " bytes are left",
                    nkv, at + 8, GGUF_MIN_KV_BYTES, left(r));
    /* each alone fits; together they must too (no overflow: both are small) */
    if (nt * GGUF_MIN_TENSOR_INFO_BYTES + nkv * GGUF_MIN_KV_BYTES > left(r))
        return fail(r, "%" PRIu64 " tensor infos and %" PRIu64 " KVs (counts at byte %" PRIu64
                    ") cannot fit in the %" PRIu64 " bytes left", nt, nkv, at, left(r));
    f->n_tensors = (int64_t)nt;
    f->n_kv = (int64_t)nkv;
    return 0;
}

static int check_alignment(struct reader *r, struct gguf_file *f, const struct gguf_value *v)
{
    if (v->type != GGUF_U32)
        return fail(r, "general.alignment at byte %" PRIu64 " has type %s; it must be u32",
                    v->offset, gguf_vtype_name(v->type));
    uint32_t a = le32(v->data);
    if (a == 0)
        return fail(r, "general.alignment at byte %" PRIu64 " is zero", v->offset);
    if (a & (a - 1))
        return fail(r, "general.alignment %" PRIu32 " at byte %" PRIu64 " is not a power of two",
                    a, v->offset);
    f->alignment = a;
    return 0;
}

static int parse_kvs(struct reader *r, struct gguf_file *f)
{
    int rc;
    if (f->n_kv == 0)
        return 0;
    f->kv = calloc((size_t)f->n_kv, sizeof *f->kv);
    if (!f->kv || index_init(&f->kv_index, f->n_kv))
        return oom(r->err);

    for (int64_t i = 0; i < f->n_kv; i++) {
        struct gguf_kv *kv = &f->kv[i];
        struct gguf_str key;
        uint64_t at = r->pos;
        uint32_t t;
        char name[96];

        r->kv = i;
        r->key.ptr = NULL;
        if ((rc = rd_str(r, &key, "a key")))
            return rc;
        if (memchr(key.ptr, '\0', key.len))
            return fail_ctx(r, "key at byte %" PRIu64 " contains a NUL byte", at);
        r->key = key;
        size_t *slot = index_slot(&f->kv_index, f, kv_name, key.ptr, key.len);
        if (*slot)
            return fail(r, "duplicate key '%s' at byte %" PRIu64 " (KV %" PRId64 " and KV %" PRId64 ")",
                        printable(name, sizeof name, key.ptr, key.len), at,
                        (int64_t)*slot - 1, i);
        kv->key = malloc(key.len + 1);
        if (!kv->key)
            return oom(r->err);
        memcpy(kv->key, key.ptr, key.len);
        kv->key[key.len] = '\0';
        *slot = (size_t)i + 1;

        at = r->pos;
        if ((rc = rd_u32(r, &t, "a value type")))
            return rc;
        if (t >= GGUF_VTYPE_COUNT)
            return fail_ctx(r, "unknown value type %" PRIu32 " at byte %" PRIu64, t, at);
        if ((rc = parse_value(r, (enum gguf_vtype)t, &kv->value)))
            return rc;
        if (!strcmp(kv->key, "general.alignment") && (rc = check_alignment(r, f, &kv->value)))
            return rc;
    }
    r->kv = -1;
    return 0;
}

/* ======================================================================
 * Tensor infos
 * ====================================================================== */

static int parse_tensor_info(struct reader *r, struct gguf_file *f, int64_t i)
{
    struct gguf_tensor *t = &f->tensors[i];
    struct gguf_str name;
    uint64_t info_at = r->pos, at = info_at, v;
    uint32_t n_dims, type;
    int64_t nelem = 1;
    char pn[96];
    int rc;

    r->tensor = i;
    r->tname = NULL;
    if ((rc = rd_str(r, &name, "a tensor name")))
        return rc;
    if (name.len >= GGUF_NAME_MAX)
        return fail_ctx(r, "tensor name '%s' at byte %" PRIu64 " is %zu bytes long; the limit is %d",
                        printable(pn, sizeof pn, name.ptr, name.len), at, name.len,
                        GGUF_NAME_MAX - 1);
    if (memchr(name.ptr, '\0', name.len))
        return fail_ctx(r, "tensor name at byte %" PRIu64 " contains a NUL byte", at);
    memcpy(t->name, name.ptr, name.len);
    t->name[name.len] = '\0';
    printable(pn, sizeof pn, name.ptr, name.len);
    size_t *slot = index_slot(&f->tensor_index, f, tensor_name, name.ptr, name.len);
    if (*slot)
        return fail(r, "duplicate tensor name '%s' at byte %" PRIu64 " (tensor infos %" PRId64
                    " and %" PRId64 ")", pn, at, (int64_t)*slot - 1, i);
    *slot = (size_t)i + 1;
    r->tname = t->name;

    at = r->pos;
    if ((rc = rd_u32(r, &n_dims, "the number of dimensions")))
        return rc;
    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS)
        return fail(r, "tensor '%s' has %" PRIu32 " dimensions (at byte %" PRIu64 "); "
                    "it must have 1 to %d", pn, n_dims, at, GGUF_MAX_DIMS);
    t->n_dims = n_dims;
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        at = r->pos;
        if ((rc = rd_u64(r, &v, "a dimension")))
            return rc;
        /* dims are int64 in ggml; a "huge" u64 is a negative one */
        if (v > INT64_MAX)
            return fail(r, "tensor '%s' dimension %" PRIu32 " is negative (%" PRId64 ") at byte %"
                        PRIu64, pn, d, (int64_t)(v - INT64_MAX - 1) + INT64_MIN, at);
        t->ne[d] = (int64_t)v;
        if (qm_ckd_mul(&nelem, nelem, t->ne[d]))
            return fail(r, "tensor '%s' has dimensions whose product overflows int64 "
                        "(dimension %" PRIu32 " = %" PRId64 " at byte %" PRIu64 ")",
                        pn, d, t->ne[d], at);
    }

    at = r->pos;
    if ((rc = rd_u32(r, &type, "the tensor type")))
        return rc;
    const struct qm_type_traits *tt = qm_type_traits(type);
    if (!tt)
        return fail(r, "tensor '%s' has type id %" PRIu32 " at byte %" PRIu64 ", which is %s",
                    pn, type, at, type < QM_TYPE_COUNT ? "a retired GGUF type id"
                                                       : "no GGUF type");
    t->type = (enum qm_type)type;
    if (t->ne[0] % tt->blck)
        return fail(r, "tensor '%s' has ne[0] = %" PRId64 ", not a multiple of the %s block "
                    "size %" PRId64 " (tensor info at byte %" PRIu64 ")", pn, t->ne[0], tt->name,
                    tt->blck, info_at);

    /* bytes = ne0/blck * size * ne1 * ne2 * ne3, each step checked */
    uint64_t nb = (uint64_t)(t->ne[0] / tt->blck);
    bool ovf = qm_ckd_mul(&nb, nb, (uint64_t)tt->size);
    for (int d = 1; d < GGUF_MAX_DIMS; d++)
        ovf = ovf || qm_ckd_mul(&nb, nb, (uint64_t)t->ne[d]);
    if (ovf)
        return fail(r, "tensor '%s' of %" PRId64 " elements of %s has a byte size that "
                    "overflows 64 bits (tensor info at byte %" PRIu64 ")", pn, nelem, tt->name,
                    info_at);
    t->nbytes = nb;

    at = r->pos;
    if ((rc = rd_u64(r, &t->offset, "the tensor offset")))
        return rc;
    if (t->offset % f->alignment)
        return fail(r, "tensor '%s' has offset %" PRIu64 " (at byte %" PRIu64 "), not a multiple "
                    "of the alignment %" PRIu32, pn, t->offset, at, f->alignment);
    return 0;
}

struct span {
    uint64_t start, nbytes;
    int64_t idx;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Data bounds and overlap: needs data_start, so runs after all infos. */
static int check_tensor_data(struct reader *r, struct gguf_file *f)
{
    struct span *sp = NULL;
    int64_t n = 0;
    int rc = 0;
    char a[96], b[96];

    for (int64_t i = 0; i < f->n_tensors; i++) {
        struct gguf_tensor *t = &f->tensors[i];
        uint64_t start, end;
        printable(a, sizeof a, t->name, strlen(t->name));
        if (qm_ckd_add(&start, f->data_start, t->offset) || qm_ckd_add(&end, start, t->nbytes))
            return fail(r, "tensor '%s' data [offset %" PRIu64 " + data start %" PRIu64 ", %" PRIu64
                        " bytes] overflows 64 bits", a, t->offset, f->data_start, t->nbytes);
        if (end > f->size)
            return fail(r, "tensor '%s' data [offset %" PRIu64 " + data start %" PRIu64 " = byte %"
                        PRIu64 ", %" PRIu64 " bytes] lies past the end of the file (size %" PRIu64 ")",
                        a, t->offset, f->data_start, start, t->nbytes, f->size);
        t->data = f->base + start;
        if (qm_ckd_add(&f->tensor_bytes, f->tensor_bytes, t->nbytes))
            return fail(r, "the tensors' total size overflows 64 bits");
    }

    /* Overlap: sort the non-empty tensors by offset and compare neighbours;
     * O(n log n), which matters for files with thousands of tensors. */
    if (f->n_tensors > 1) {
        sp = malloc((size_t)f->n_tensors * sizeof *sp);
        if (!sp)
            return oom(r->err);
        for (int64_t i = 0; i < f->n_tensors; i++)
            if (f->tensors[i].nbytes)
                sp[n++] = (struct span){f->tensors[i].offset, f->tensors[i].nbytes, i};
        qsort(sp, (size_t)n, sizeof *sp, span_cmp);
        for (int64_t i = 1; i < n; i++) {
            const struct span *p = &sp[i - 1], *c = &sp[i];
            /* sorted by start and pairwise checked, so p ends before every later start */
            if (c->start < p->start + p->nbytes) {
                const struct gguf_tensor *tp = &f->tensors[p->idx], *tc = &f->tensors[c->idx];
                rc = fail(r, "tensors '%s' [offset %" PRIu64 ", %" PRIu64 " bytes] and '%s' [offset %"
                          PRIu64 ", %" PRIu64 " bytes] overlap (data section at byte %" PRIu64 ")",
                          printable(a, sizeof a, tp->name, strlen(tp->name)), tp->offset, tp->nbytes,
                          printable(b, sizeof b, tc->name, strlen(tc->name)), tc->offset, tc->nbytes,
                          f->data_start);
                goto out;
            }
        }
    }
out:
    free(sp);
    return rc;
}

static int parse_tensors(struct reader *r, struct gguf_file *f, unsigned flags)
{
    int rc;
    if (f->n_tensors) {
        f->tensors = calloc((size_t)f->n_tensors, sizeof *f->tensors);
        if (!f->tensors || index_init(&f->tensor_index, f->n_tensors))
            return oom(r->err);
    }
    for (int64_t i = 0; i < f->n_tensors; i++)
        if ((rc = parse_tensor_info(r, f, i)))
            return rc;
    r->tensor = -1;

    if (qm_ckd_align(&f->data_start, r->pos, f->alignment))
        return fail(r, "data start overflows");   /* cannot: pos <= size */
    if ((rc = check_tensor_data(r, f)))
        return rc;

    /* Last, so that a structurally broken file is reported as such first. */
    if (!(flags & GGUF_OPEN_ANY_TYPE)) {
        for (int64_t i = 0; i < f->n_tensors; i++) {
            const struct gguf_tensor *t = &f->tensors[i];
            if (!qm_type_traits(t->type)->compute) {
                char pn[96];
                qm_err_set(r->err, "gguf: tensor '%s' has type %s, which qm does not support",
                           printable(pn, sizeof pn, t->name, strlen(t->name)),
                           qm_type_name(t->type));
                return QM_EUNSUPPORTED;
            }
        }
    }
    return 0;
}

/* ======================================================================
 * Opening and closing
 * ====================================================================== */

static const uint8_t empty_image[1];

static int parse(struct gguf_file *f, unsigned flags, struct qm_err *err)
{
    struct reader r = {.base = f->base, .size = f->size, .err = err, .kv = -1, .tensor = -1};
    int rc;
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    if ((rc = parse_header(&r, f)) || (rc = parse_kvs(&r, f)) || (rc = parse_tensors(&r, f, flags)))
        return rc;
    return 0;
}

int gguf_open_memory(struct gguf_file **out, const void *data, size_t size, unsigned flags,
                     struct qm_err *err)
{
    struct gguf_file *f = calloc(1, sizeof *f);
    int rc;
    *out = NULL;
    if (!f)
        return oom(err);
    f->base = size ? data : empty_image;
    f->size = size;
    if ((rc = parse(f, flags, err)))
        goto err;
    *out = f;
    return 0;
err:
    gguf_close(f);
    return rc;
}

int gguf_open(struct gguf_file **out, const char *path, unsigned flags, struct qm_err *err)
{
    struct gguf_file *f = NULL;
    struct stat st;
    void *map = MAP_FAILED;
    int fd, rc;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        qm_err_set(err, "gguf: cannot open '%s': %s", path, strerror(errno));
        return QM_EIO;
    }
    if (fstat(fd, &st) != 0) {
        rc = QM_EIO;
        qm_err_set(err, "gguf: cannot stat '%s': %s", path, strerror(errno));
        goto err;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = QM_EINVAL;
        qm_err_set(err, "gguf: '%s' is not a regular file", path);
        goto err;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        rc = oom(err);
        goto err;
    }
    f->size = (uint64_t)st.st_size;
    f->base = empty_image;     /* mmap refuses 0 bytes; parse reports "too short" */
    if (st.st_size > 0) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            rc = QM_EIO;
            qm_err_set(err, "gguf: cannot map '%s': %s", path, strerror(errno));
            goto err;
        }
        f->base = map;
        f->mapped = true;
    }
    close(fd);
    fd = -1;
    if ((rc = parse(f, flags, err)))
        goto err;
    *out = f;
    return 0;
err:
    if (fd >= 0)
        close(fd);
    gguf_close(f);
    return rc;
}

void gguf_close(struct gguf_file *f)
{
    if (!f)
        return;
    for (int64_t i = 0; f->kv && i < f->n_kv; i++) {
        free(f->kv[i].key);
        value_free(&f->kv[i].value);
    }
    free(f->kv);
    free(f->kv_index.slots);
    free(f->tensors);
    free(f->tensor_index.slots);
    if (f->mapped)
        munmap((void *)f->base, (size_t)f->size);
    free(f);
}

/* ======================================================================
 * Accessors
 * ====================================================================== */

uint32_t gguf_version(const struct gguf_file *f) { return f->version; }
uint64_t gguf_file_size(const struct gguf_file *f) { return f->size; }
uint32_t gguf_alignment(const struct gguf_file *f) { return f->alignment; }
uint64_t gguf_data_start(const struct gguf_file *f) { return f->data_start; }
uint64_t gguf_tensor_bytes(const struct gguf_file *f) { return f->tensor_bytes; }
int64_t gguf_kv_count(const struct gguf_file *f) { return f->n_kv; }
int64_t gguf_tensor_count(const struct gguf_file *f) { return f->n_tensors; }

const char *gguf_kv_key(const struct gguf_file *f, int64_t i)
{
    return i >= 0 && i < f->n_kv ? f->kv[i].key : NULL;
}

const struct gguf_value *gguf_kv_value(const struct gguf_file *f, int64_t i)
{
    return i >= 0 && i < f->n_kv ? &f->kv[i].value : NULL;
}

int64_t gguf_find_key(const struct gguf_file *f, const char *key)
{
    return index_find(&f->kv_index, f, kv_name, key, strlen(key));
}

const struct gguf_value *gguf_find(const struct gguf_file *f, const char *key)
{
    return gguf_kv_value(f, gguf_find_key(f, key));
}

const struct gguf_tensor *gguf_tensor(const struct gguf_file *f, int64_t i)
{
    return i >= 0 && i < f->n_tensors ? &f->tensors[i] : NULL;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name)
{
    return gguf_tensor(f, index_find(&f->tensor_index, f, tensor_name, name, strlen(name)));
}

int64_t gguf_tensor_nelements(const struct gguf_tensor *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

/* ---- typed values ------------------------------------------------------- */

static int wrong_type(const struct gguf_value *v, enum gguf_vtype want, struct qm_err *err)
{
    return qm_err_set(err, "gguf: value at byte %" PRIu64 " has type %s, not %s", v->offset,
                      gguf_vtype_name(v->type), gguf_vtype_name(want));
}

static float f32_of(const uint8_t *p)
{
    uint32_t u = le32(p);
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static double f64_of(const uint8_t *p)
{
    uint64_t u = le64(p);
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static int16_t i16_of(const uint8_t *p) { uint16_t u = le16(p); int16_t x; memcpy(&x, &u, 2); return x; }
static int32_t i32_of(const uint8_t *p) { uint32_t u = le32(p); int32_t x; memcpy(&x, &u, 4); return x; }
static int64_t i64_of(const uint8_t *p) { uint64_t u = le64(p); int64_t x; memcpy(&x, &u, 8); return x; }
static uint8_t u8_of(const uint8_t *p) { return p[0]; }
static int8_t i8_of(const uint8_t *p) { int8_t x; memcpy(&x, p, 1); return x; }
static bool bool_of(const uint8_t *p) { return p[0] != 0; }   /* as ggml: any non-zero is true */

#define GGUF_VALUE_GETTER(name, ctype, vt, decode)                                        \
    int gguf_value_##name(const struct gguf_value *v, ctype *out, struct qm_err *err)     \
    {                                                                                     \
        if (v->type != vt)                                                                \
            return wrong_type(v, vt, err);                                                \
        *out = decode(v->data);                                                           \
        return 0;                                                                         \
    }

GGUF_VALUE_GETTER(u8, uint8_t, GGUF_U8, u8_of)
GGUF_VALUE_GETTER(i8, int8_t, GGUF_I8, i8_of)
GGUF_VALUE_GETTER(u16, uint16_t, GGUF_U16, le16)
GGUF_VALUE_GETTER(i16, int16_t, GGUF_I16, i16_of)
GGUF_VALUE_GETTER(u32, uint32_t, GGUF_U32, le32)
GGUF_VALUE_GETTER(i32, int32_t, GGUF_I32, i32_of)
GGUF_VALUE_GETTER(f32, float, GGUF_F32, f32_of)
GGUF_VALUE_GETTER(bool, bool, GGUF_BOOL, bool_of)
GGUF_VALUE_GETTER(u64, uint64_t, GGUF_U64, le64)
GGUF_VALUE_GETTER(i64, int64_t, GGUF_I64, i64_of)
GGUF_VALUE_GETTER(f64, double, GGUF_F64, f64_of)

static struct gguf_str str_at(const uint8_t *p)
{
    /* the length was checked against the file when it was parsed */
    return (struct gguf_str){(const char *)p + 8, (size_t)le64(p)};
}

int gguf_value_str(const struct gguf_value *v, struct gguf_str *out, struct qm_err *err)
{
    if (v->type != GGUF_STRING)
        return wrong_type(v, GGUF_STRING, err);
    *out = str_at(v->data);
    return 0;
}

int gguf_array_elem(const struct gguf_value *v, uint64_t i, struct gguf_value *out,
                    struct qm_err *err)
{
    if (v->type != GGUF_ARRAY)
        return wrong_type(v, GGUF_ARRAY, err);
    if (i >= v->count)
        return qm_err_set(err, "gguf: index %" PRIu64 " is out of range for the array of %" PRIu64
                          " elements at byte %" PRIu64, i, v->count, v->offset);
    if (v->elem_type == GGUF_ARRAY) {
        *out = ((const struct gguf_value *)v->index)[i];
        return 0;
    }
    uint64_t off = v->elem_type == GGUF_STRING ? ((const uint64_t *)v->index)[i]
                                               : i * vtype_size[v->elem_type];
    *out = (struct gguf_value){.type = v->elem_type, .count = 1, .offset = v->offset + off,
                               .data = v->data + off};
    return 0;
}

int gguf_array_str(const struct gguf_value *v, uint64_t i, struct gguf_str *out,
                   struct qm_err *err)
{
    if (v->type != GGUF_ARRAY || v->elem_type != GGUF_STRING)
        return qm_err_set(err, "gguf: value at byte %" PRIu64 " is no array of strings", v->offset);
    if (i >= v->count)
        return qm_err_set(err, "gguf: index %" PRIu64 " is out of range for the array of %" PRIu64
                          " strings at byte %" PRIu64, i, v->count, v->offset);
    *out = str_at(v->data + ((const uint64_t *)v->index)[i]);
    return 0;
}

/* ---- typed values by key ------------------------------------------------ */

static int lookup(const struct gguf_file *f, const char *key, const struct gguf_value **v,
                  struct qm_err *err)
{
    char pk[96];
    *v = gguf_find(f, key);
    if (!*v) {
        qm_err_set(err, "gguf: key '%s' not found", printable(pk, sizeof pk, key, strlen(key)));
        return GGUF_ENOKEY;
    }
    return 0;
}

static int key_wrong_type(const char *key, const struct gguf_value *v, enum gguf_vtype want,
                          struct qm_err *err)
{
    char pk[96];
    return qm_err_set(err, "gguf: key '%s' has type %s, not %s",
                      printable(pk, sizeof pk, key, strlen(key)), gguf_vtype_name(v->type),
                      gguf_vtype_name(want));
}

#define GGUF_KEY_GETTER(name, ctype, vt)                                                      \
    int gguf_get_##name(const struct gguf_file *f, const char *key, ctype *out,              \
                        struct qm_err *err)                                                  \
    {                                                                                        \
        const struct gguf_value *v;                                                          \
        int rc = lookup(f, key, &v, err);                                                    \
        if (rc)                                                                              \
            return rc;                                                                       \
        if (v->type != vt)                                                                   \
            return key_wrong_type(key, v, vt, err);                                          \
        return gguf_value_##name(v, out, err);                                               \
    }

GGUF_KEY_GETTER(u8, uint8_t, GGUF_U8)
GGUF_KEY_GETTER(i8, int8_t, GGUF_I8)
GGUF_KEY_GETTER(u16, uint16_t, GGUF_U16)
GGUF_KEY_GETTER(i16, int16_t, GGUF_I16)
GGUF_KEY_GETTER(u32, uint32_t, GGUF_U32)
GGUF_KEY_GETTER(i32, int32_t, GGUF_I32)
GGUF_KEY_GETTER(f32, float, GGUF_F32)
GGUF_KEY_GETTER(bool, bool, GGUF_BOOL)
GGUF_KEY_GETTER(u64, uint64_t, GGUF_U64)
GGUF_KEY_GETTER(i64, int64_t, GGUF_I64)
GGUF_KEY_GETTER(f64, double, GGUF_F64)
GGUF_KEY_GETTER(str, struct gguf_str, GGUF_STRING)

int gguf_get_array(const struct gguf_file *f, const char *key, const struct gguf_value **out,
                   struct qm_err *err)
{
    int rc = lookup(f, key, out, err);
    if (rc)
        return rc;
    if ((*out)->type != GGUF_ARRAY) {
        rc = key_wrong_type(key, *out, GGUF_ARRAY, err);
        *out = NULL;
    }
    return rc;
}

/* ---- strings ------------------------------------------------------------ */

size_t gguf_str_copy(char *dst, size_t cap, struct gguf_str s)
{
    if (cap == 0)
        return s.len;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
    return s.len;
}

char *gguf_str_dup(struct gguf_str s)
{
    char *p = malloc(s.len + 1);
    if (p)
        gguf_str_copy(p, s.len + 1, s);
    return p;
}

bool gguf_str_eq(struct gguf_str s, const char *c)
{
    return strlen(c) == s.len && (s.len == 0 || memcmp(s.ptr, c, s.len) == 0);
}
