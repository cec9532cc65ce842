/* test_gguf.c - the GGUF reader against files built byte by byte here.
 *
 * A tiny writer (struct buf) lays out headers, KVs and tensor infos exactly
 * as the format says, so each test states the bytes it feeds the reader.
 * Valid files check that every value type, nested arrays, v2 and v3, custom
 * alignment and zero tensors read back; hostile files check that each kind
 * of damage is refused with its own message (we assert a substring of it).
 * Every image is copied into a heap block of exactly its size before it is
 * parsed, so under ASan a read one byte past the end is a crash, not luck. */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gguf.h"

/* ======================================================================
 * The writer
 * ====================================================================== */

struct buf {
    uint8_t *p;
    size_t n, cap;
};

static void b_bytes(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void b_u8(struct buf *b, uint8_t v) { b_bytes(b, &v, 1); }
static void b_u16(struct buf *b, uint16_t v) { uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; b_bytes(b, x, 2); }
static void b_u32(struct buf *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b_u8(b, (uint8_t)(v >> (8 * i)));
}
static void b_u64(struct buf *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b_u8(b, (uint8_t)(v >> (8 * i)));
}
static void b_f32(struct buf *b, float f) { uint32_t u; memcpy(&u, &f, 4); b_u32(b, u); }
static void b_f64(struct buf *b, double f) { uint64_t u; memcpy(&u, &f, 8); b_u64(b, u); }
static void b_strn(struct buf *b, const char *s, size_t n) { b_u64(b, n); b_bytes(b, s, n); }
static void b_str(struct buf *b, const char *s) { b_strn(b, s, strlen(s)); }

static void b_header(struct buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    b_bytes(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, n_tensors);
    b_u64(b, n_kv);
}

/* key and value type; the caller writes the value */
static void b_key(struct buf *b, const char *key, enum gguf_vtype t)
{
    b_str(b, key);
    b_u32(b, t);
}

static void b_tinfo(struct buf *b, const char *name, uint32_t n_dims, const int64_t *ne,
                    uint32_t type, uint64_t offset)
{
    b_str(b, name);
    b_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        b_u64(b, (uint64_t)ne[d]);
    b_u32(b, type);
    b_u64(b, offset);
}

static void b_pad(struct buf *b, size_t align)
{
    while (b->n % align)
        b_u8(b, 0);
}

static void b_free(struct buf *b)
{
    free(b->p);
    *b = (struct buf){0};
}

/* ======================================================================
 * Opening images
 * ====================================================================== */

/* An image in a heap block of exactly its size, and the file parsed from it. */
struct img {
    uint8_t *data;
    struct gguf_file *f;
    struct qm_err err;
    int rc;
};

static struct img img_open(const uint8_t *p, size_t n, unsigned flags)
{
    struct img m = {0};
    m.data = malloc(n ? n : 1);
    assert_non_null(m.data);
    if (n)
        memcpy(m.data, p, n);
    m.rc = gguf_open_memory(&m.f, m.data, n, flags, &m.err);
    return m;
}

static void img_close(struct img *m)
{
    gguf_close(m->f);
    free(m->data);
    m->f = NULL;
    m->data = NULL;
}

/* Expect the image to be refused with rc and a message containing want. */
static void expect_fail_rc(const struct buf *b, unsigned flags, int rc, const char *want)
{
    struct img m = img_open(b->p, b->n, flags);
    if (m.rc == 0 || !strstr(m.err.msg, want) || strncmp(m.err.msg, "gguf: ", 6) != 0)
        fail_msg("expected an error containing \"%s\", got rc %d: \"%s\"", want, m.rc,
                 m.rc ? m.err.msg : "(success)");
    assert_int_equal(m.rc, rc);
    assert_null(m.f);
    img_close(&m);
}

static void expect_fail(const struct buf *b, const char *want)
{
    expect_fail_rc(b, 0, QM_EINVAL, want);
}

static void expect_ok(const struct buf *b, unsigned flags)
{
    struct img m = img_open(b->p, b->n, flags);
    if (m.rc != 0)
        fail_msg("expected success, got rc %d: \"%s\"", m.rc, m.err.msg);
    img_close(&m);
}

/* ======================================================================
 * A valid file holding every value type
 * ====================================================================== */

#define N_KV_ALL 26

/* 2 tensors, alignment 64, every value type; returns the image. */
static struct buf make_all_types(uint32_t version)
{
    struct buf b = {0};
    b_header(&b, version, 2, N_KV_ALL);
    b_key(&b, "general.alignment", GGUF_U32); b_u32(&b, 64);
    b_key(&b, "v.u8", GGUF_U8); b_u8(&b, 200);
    b_key(&b, "v.i8", GGUF_I8); b_u8(&b, (uint8_t)-100);
    b_key(&b, "v.u16", GGUF_U16); b_u16(&b, 60000);
    b_key(&b, "v.i16", GGUF_I16); b_u16(&b, (uint16_t)-30000);
    b_key(&b, "v.u32", GGUF_U32); b_u32(&b, 4000000000u);
    b_key(&b, "v.i32", GGUF_I32); b_u32(&b, (uint32_t)-2000000000);
    b_key(&b, "v.f32", GGUF_F32); b_f32(&b, 0.1f);
    b_key(&b, "v.bool", GGUF_BOOL); b_u8(&b, 1);
    b_key(&b, "v.str", GGUF_STRING); b_str(&b, "hello");
    b_key(&b, "v.u64", GGUF_U64); b_u64(&b, 18000000000000000000ull);
    b_key(&b, "v.i64", GGUF_I64); b_u64(&b, (uint64_t)INT64_MIN);
    b_key(&b, "v.f64", GGUF_F64); b_f64(&b, 2.0 / 3.0);
    b_key(&b, "v.empty_str", GGUF_STRING); b_str(&b, "");
    /* arrays of each scalar kind */
    b_key(&b, "a.u8", GGUF_ARRAY); b_u32(&b, GGUF_U8); b_u64(&b, 3); b_u8(&b, 1); b_u8(&b, 2); b_u8(&b, 255);
    b_key(&b, "a.i16", GGUF_ARRAY); b_u32(&b, GGUF_I16); b_u64(&b, 2); b_u16(&b, (uint16_t)-5); b_u16(&b, 7);
    b_key(&b, "a.i32", GGUF_ARRAY); b_u32(&b, GGUF_I32); b_u64(&b, 3);
    b_u32(&b, (uint32_t)-1); b_u32(&b, 0); b_u32(&b, 123456);
    b_key(&b, "a.f32", GGUF_ARRAY); b_u32(&b, GGUF_F32); b_u64(&b, 2); b_f32(&b, -1.5f); b_f32(&b, 1e-30f);
    b_key(&b, "a.u64", GGUF_ARRAY); b_u32(&b, GGUF_U64); b_u64(&b, 1); b_u64(&b, UINT64_MAX);
    b_key(&b, "a.f64", GGUF_ARRAY); b_u32(&b, GGUF_F64); b_u64(&b, 1); b_f64(&b, 1e300);
    b_key(&b, "a.bool", GGUF_ARRAY); b_u32(&b, GGUF_BOOL); b_u64(&b, 2); b_u8(&b, 0); b_u8(&b, 1);
    b_key(&b, "a.str", GGUF_ARRAY); b_u32(&b, GGUF_STRING); b_u64(&b, 3);
    b_str(&b, "a"); b_str(&b, ""); b_strn(&b, "x\0y", 3);
    b_key(&b, "a.empty", GGUF_ARRAY); b_u32(&b, GGUF_U32); b_u64(&b, 0);
    /* [[1, 2], [3]] of u16 */
    b_key(&b, "a.nested", GGUF_ARRAY); b_u32(&b, GGUF_ARRAY); b_u64(&b, 2);
    b_u32(&b, GGUF_U16); b_u64(&b, 2); b_u16(&b, 1); b_u16(&b, 2);
    b_u32(&b, GGUF_U16); b_u64(&b, 1); b_u16(&b, 3);
    /* [[["deep"]], []] : three levels, strings innermost, an empty array */
    b_key(&b, "a.deep", GGUF_ARRAY); b_u32(&b, GGUF_ARRAY); b_u64(&b, 2);
    b_u32(&b, GGUF_ARRAY); b_u64(&b, 1);
    b_u32(&b, GGUF_STRING); b_u64(&b, 1); b_str(&b, "deep");
    b_u32(&b, GGUF_I8); b_u64(&b, 0);
    b_key(&b, "general.name", GGUF_STRING); b_str(&b, "tiny");

    int64_t ne0[2] = {4, 2}, ne1[1] = {64};
    b_tinfo(&b, "w.f32", 2, ne0, QM_TYPE_F32, 0);
    b_tinfo(&b, "w.q8", 1, ne1, QM_TYPE_Q8_0, 64);
    b_pad(&b, 64);
    for (int i = 0; i < 8; i++)
        b_f32(&b, (float)i + 0.5f);
    b_pad(&b, 64);
    for (int i = 0; i < 68; i++)       /* two Q8_0 blocks */
        b_u8(&b, (uint8_t)i);
    return b;
}

static void check_all_types(struct gguf_file *f, uint32_t version, size_t size)
{
    struct qm_err err;
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
    uint64_t u64; int64_t i64; float f32; double f64; bool bo;
    struct gguf_str s;
    struct gguf_value e, e2;
    const struct gguf_value *v;

    assert_int_equal(gguf_version(f), version);
    assert_int_equal(gguf_file_size(f), size);
    assert_int_equal(gguf_alignment(f), 64);
    assert_int_equal(gguf_kv_count(f), N_KV_ALL);
    assert_int_equal(gguf_tensor_count(f), 2);
    assert_int_equal(gguf_data_start(f) % 64, 0);
    assert_int_equal(gguf_data_start(f) + 64 + 68, size);
    assert_string_equal(gguf_kv_key(f, 0), "general.alignment");
    assert_null(gguf_kv_key(f, N_KV_ALL));
    assert_int_equal(gguf_find_key(f, "v.u8"), 1);
    assert_int_equal(gguf_find_key(f, "v.u"), -1);
    assert_int_equal(gguf_find_key(f, "v.u88"), -1);

    assert_int_equal(gguf_get_u8(f, "v.u8", &u8, &err), 0); assert_int_equal(u8, 200);
    assert_int_equal(gguf_get_i8(f, "v.i8", &i8, &err), 0); assert_int_equal(i8, -100);
    assert_int_equal(gguf_get_u16(f, "v.u16", &u16, &err), 0); assert_int_equal(u16, 60000);
    assert_int_equal(gguf_get_i16(f, "v.i16", &i16, &err), 0); assert_int_equal(i16, -30000);
    assert_int_equal(gguf_get_u32(f, "v.u32", &u32, &err), 0); assert_true(u32 == 4000000000u);
    assert_int_equal(gguf_get_i32(f, "v.i32", &i32, &err), 0); assert_int_equal(i32, -2000000000);
    assert_int_equal(gguf_get_f32(f, "v.f32", &f32, &err), 0); assert_true(f32 == 0.1f);
    assert_int_equal(gguf_get_bool(f, "v.bool", &bo, &err), 0); assert_true(bo);
    assert_int_equal(gguf_get_str(f, "v.str", &s, &err), 0); assert_true(gguf_str_eq(s, "hello"));
    assert_int_equal(gguf_get_u64(f, "v.u64", &u64, &err), 0); assert_true(u64 == 18000000000000000000ull);
    assert_int_equal(gguf_get_i64(f, "v.i64", &i64, &err), 0); assert_true(i64 == INT64_MIN);
    assert_int_equal(gguf_get_f64(f, "v.f64", &f64, &err), 0); assert_true(f64 == 2.0 / 3.0);
    assert_int_equal(gguf_get_str(f, "v.empty_str", &s, &err), 0); assert_int_equal(s.len, 0);
    assert_int_equal(gguf_get_str(f, "general.name", &s, &err), 0); assert_true(gguf_str_eq(s, "tiny"));

    /* strict types: no conversion between integer kinds */
    assert_int_equal(gguf_get_u32(f, "v.i32", &u32, &err), QM_EINVAL);
    assert_string_equal(err.msg, "gguf: key 'v.i32' has type i32, not u32");
    assert_int_equal(gguf_get_i64(f, "v.u64", &i64, &err), QM_EINVAL);
    assert_int_equal(gguf_get_f64(f, "v.f32", &f64, &err), QM_EINVAL);
    assert_int_equal(gguf_get_str(f, "a.str", &s, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "has type array, not string"));
    assert_int_equal(gguf_get_u32(f, "no.such.key", &u32, &err), GGUF_ENOKEY);
    assert_string_equal(err.msg, "gguf: key 'no.such.key' not found");
    assert_int_equal(gguf_value_u16(gguf_find(f, "v.u8"), &u16, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "has type u8, not u16"));
    assert_int_equal(gguf_get_array(f, "v.u8", &v, &err), QM_EINVAL);
    assert_null(v);

    /* arrays of scalars */
    assert_int_equal(gguf_get_array(f, "a.u8", &v, &err), 0);
    assert_int_equal(v->elem_type, GGUF_U8);
    assert_int_equal(v->count, 3);
    assert_int_equal(gguf_array_elem(v, 2, &e, &err), 0);
    assert_int_equal(gguf_value_u8(&e, &u8, &err), 0); assert_int_equal(u8, 255);
    assert_int_equal(gguf_array_elem(v, 3, &e, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "out of range"));
    assert_int_equal(gguf_value_i8(&e, &i8, &err), QM_EINVAL);   /* e untouched: still u8 */

    assert_int_equal(gguf_get_array(f, "a.i16", &v, &err), 0);
    assert_int_equal(gguf_array_elem(v, 0, &e, &err), 0);
    assert_int_equal(gguf_value_i16(&e, &i16, &err), 0); assert_int_equal(i16, -5);
    assert_int_equal(gguf_get_array(f, "a.i32", &v, &err), 0);
    assert_int_equal(gguf_array_elem(v, 0, &e, &err), 0);
    assert_int_equal(gguf_value_i32(&e, &i32, &err), 0); assert_int_equal(i32, -1);
    assert_int_equal(gguf_array_elem(v, 2, &e, &err), 0);
    assert_int_equal(gguf_value_i32(&e, &i32, &err), 0); assert_int_equal(i32, 123456);
    assert_int_equal(gguf_value_u32(&e, &u32, &err), QM_EINVAL);
    assert_int_equal(gguf_get_array(f, "a.f32", &v, &err), 0);
    assert_int_equal(gguf_array_elem(v, 1, &e, &err), 0);
    assert_int_equal(gguf_value_f32(&e, &f32, &err), 0); assert_true(f32 == 1e-30f);
    assert_int_equal(gguf_get_array(f, "a.u64", &v, &err), 0);
    assert_int_equal(gguf_array_elem(v, 0, &e, &err), 0);
    assert_int_equal(gguf_value_u64(&e, &u64, &err), 0); assert_true(u64 == UINT64_MAX);
    assert_int_equal(gguf_get_array(f, "a.f64", &v, &err), 0);
    assert_int_equal(gguf_array_elem(v, 0, &e, &err), 0);
    assert_int_equal(gguf_value_f64(&e, &f64, &err), 0); assert_true(f64 == 1e300);
    assert_int_equal(gguf_get_array(f, "a.bool", &v, &err), 0);
    assert_int_equal(gguf_array_elem(v, 1, &e, &err), 0);
    assert_int_equal(gguf_value_bool(&e, &bo, &err), 0); assert_true(bo);
    assert_int_equal(gguf_get_array(f, "a.empty", &v, &err), 0);
    assert_int_equal(v->count, 0);
    assert_int_equal(v->elem_type, GGUF_U32);

    /* strings: O(1) access, embedded NUL kept, copy-out helpers */
    char small[3];
    assert_int_equal(gguf_get_array(f, "a.str", &v, &err), 0);
    assert_int_equal(v->count, 3);
    assert_int_equal(gguf_array_str(v, 0, &s, &err), 0); assert_true(gguf_str_eq(s, "a"));
    assert_int_equal(gguf_array_str(v, 1, &s, &err), 0); assert_int_equal(s.len, 0);
    assert_int_equal(gguf_array_str(v, 2, &s, &err), 0);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "x\0y", 3);
    assert_int_equal(gguf_str_copy(small, sizeof small, s), 3);
    assert_string_equal(small, "x");
    char *dup = gguf_str_dup(s);
    assert_memory_equal(dup, "x\0y", 4);
    free(dup);
    assert_int_equal(gguf_array_elem(v, 0, &e, &err), 0);
    assert_int_equal(gguf_value_str(&e, &s, &err), 0); assert_true(gguf_str_eq(s, "a"));
    assert_int_equal(gguf_array_str(v, 3, &s, &err), QM_EINVAL);
    assert_int_equal(gguf_array_str(gguf_find(f, "a.u8"), 0, &s, &err), QM_EINVAL);

    /* nested: [[1, 2], [3]] */
    assert_int_equal(gguf_get_array(f, "a.nested", &v, &err), 0);
    assert_int_equal(v->elem_type, GGUF_ARRAY);
    assert_int_equal(v->count, 2);
    assert_int_equal(gguf_array_elem(v, 0, &e, &err), 0);
    assert_int_equal(e.type, GGUF_ARRAY);
    assert_int_equal(e.elem_type, GGUF_U16);
    assert_int_equal(e.count, 2);
    assert_int_equal(gguf_array_elem(&e, 1, &e2, &err), 0);
    assert_int_equal(gguf_value_u16(&e2, &u16, &err), 0); assert_int_equal(u16, 2);
    assert_int_equal(gguf_array_elem(v, 1, &e, &err), 0);
    assert_int_equal(e.count, 1);
    assert_int_equal(gguf_array_elem(&e, 0, &e2, &err), 0);
    assert_int_equal(gguf_value_u16(&e2, &u16, &err), 0); assert_int_equal(u16, 3);

    /* three levels: [[["deep"]], []] */
    assert_int_equal(gguf_get_array(f, "a.deep", &v, &err), 0);
    assert_int_equal(gguf_array_elem(v, 0, &e, &err), 0);
    assert_int_equal(e.elem_type, GGUF_ARRAY);
    assert_int_equal(gguf_array_elem(&e, 0, &e2, &err), 0);
    assert_int_equal(e2.elem_type, GGUF_STRING);
    assert_int_equal(gguf_array_str(&e2, 0, &s, &err), 0); assert_true(gguf_str_eq(s, "deep"));
    assert_int_equal(gguf_array_elem(v, 1, &e, &err), 0);
    assert_int_equal(e.elem_type, GGUF_I8);
    assert_int_equal(e.count, 0);

    /* tensors */
    const struct gguf_tensor *t = gguf_tensor(f, 0);
    assert_string_equal(t->name, "w.f32");
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 4); assert_int_equal(t->ne[1], 2);
    assert_int_equal(t->ne[2], 1); assert_int_equal(t->ne[3], 1);
    assert_int_equal(t->type, QM_TYPE_F32);
    assert_int_equal(t->offset, 0);
    assert_int_equal(t->nbytes, 32);
    assert_int_equal(gguf_tensor_nelements(t), 8);
    float x;
    memcpy(&x, (const uint8_t *)t->data + 7 * 4, 4);
    assert_true(x == 7.5f);
    t = gguf_find_tensor(f, "w.q8");
    assert_ptr_equal(t, gguf_tensor(f, 1));
    assert_int_equal(t->type, QM_TYPE_Q8_0);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->nbytes, 68);
    assert_int_equal(t->offset, 64);
    assert_int_equal(((const uint8_t *)t->data)[67], 67);
    assert_null(gguf_find_tensor(f, "w.q"));
    assert_null(gguf_tensor(f, 2));
    assert_int_equal(gguf_tensor_bytes(f), 100);
}

static void valid_v3_every_type(void **state)
{
    (void)state;
    struct buf b = make_all_types(3);
    struct img m = img_open(b.p, b.n, 0);
    if (m.rc)
        fail_msg("%s", m.err.msg);
    check_all_types(m.f, 3, b.n);
    img_close(&m);
    b_free(&b);
}

static void valid_v2(void **state)
{
    (void)state;
    struct buf b = make_all_types(2);
    struct img m = img_open(b.p, b.n, 0);
    if (m.rc)
        fail_msg("%s", m.err.msg);
    check_all_types(m.f, 2, b.n);
    img_close(&m);
    b_free(&b);
}

static void zero_tensors_default_alignment(void **state)
{
    (void)state;
    struct buf b = {0};
    b_header(&b, 3, 0, 1);
    b_key(&b, "general.architecture", GGUF_STRING); b_str(&b, "llama");
    /* no padding after the KVs: nothing follows, which is fine */
    struct img m = img_open(b.p, b.n, 0);
    if (m.rc)
        fail_msg("%s", m.err.msg);
    assert_int_equal(gguf_alignment(m.f), GGUF_DEFAULT_ALIGNMENT);
    assert_int_equal(gguf_tensor_count(m.f), 0);
    assert_int_equal(gguf_data_start(m.f), 96);   /* 69 rounded up to 32 */
    assert_int_equal(gguf_tensor_bytes(m.f), 0);
    assert_null(gguf_find_tensor(m.f, "x"));
    img_close(&m);

    /* and a file of nothing but the header */
    b_free(&b);
    b_header(&b, 3, 0, 0);
    m = img_open(b.p, b.n, 0);
    assert_int_equal(m.rc, 0);
    assert_int_equal(gguf_kv_count(m.f), 0);
    assert_int_equal(gguf_find_key(m.f, "a"), -1);
    img_close(&m);
    b_free(&b);
}

/* A zero-size tensor may sit anywhere, even where another tensor is. */
static void empty_tensor_overlaps_nothing(void **state)
{
    (void)state;
    struct buf b = {0};
    int64_t ne[2] = {8, 1}, ne0[2] = {8, 0};
    b_header(&b, 3, 2, 0);
    b_tinfo(&b, "a", 2, ne, QM_TYPE_F32, 0);
    b_tinfo(&b, "empty", 2, ne0, QM_TYPE_F32, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 32; i++)
        b_u8(&b, 0);
    struct img m = img_open(b.p, b.n, 0);
    if (m.rc)
        fail_msg("%s", m.err.msg);
    assert_int_equal(gguf_find_tensor(m.f, "empty")->nbytes, 0);
    img_close(&m);
    b_free(&b);
}

/* ======================================================================
 * Hostile files
 * ====================================================================== */

static void truncated_at_every_byte(void **state)
{
    (void)state;
    struct buf b = make_all_types(3);
    for (size_t n = 0; n < b.n; n++) {
        struct img m = img_open(b.p, n, 0);
        if (m.rc == 0)
            fail_msg("a prefix of %zu of %zu bytes was accepted", n, b.n);
        assert_true(m.rc < 0);
        assert_null(m.f);
        assert_int_equal(strncmp(m.err.msg, "gguf: ", 6), 0);
        img_close(&m);
    }
    expect_ok(&b, 0);
    b_free(&b);
}

static void short_reads_name_the_field(void **state)
{
    (void)state;
    struct buf b = make_all_types(3);
    struct img m = img_open(b.p, 0, 0);
    assert_string_equal(m.err.msg, "gguf: unexpected end of file at byte 0 reading the magic: "
                                   "need 4 bytes, 0 left");
    img_close(&m);
    m = img_open(b.p, 10, 0);
    assert_string_equal(m.err.msg, "gguf: unexpected end of file at byte 8 reading the tensor "
                                   "count: need 8 bytes, 2 left");
    img_close(&m);
    m = img_open(b.p, 30, 0);   /* the counts claim more than 6 bytes can hold */
    assert_string_equal(m.err.msg, "gguf: tensor count 2 at byte 8 is impossible: that many tensor "
                                   "infos need at least 24 bytes each but only 6 bytes are left");
    img_close(&m);
    b_free(&b);

    /* one KV "general.alignment" u32 64, cut inside its key length, its key,
     * its type and its value */
    b_header(&b, 3, 0, 1);
    b_key(&b, "general.alignment", GGUF_U32);
    b_u32(&b, 64);
    m = img_open(b.p, 40, 0);
    assert_string_equal(m.err.msg, "gguf: string length 17 at byte 24 exceeds the 8 bytes left (KV 0)");
    img_close(&m);
    m = img_open(b.p, 51, 0);
    assert_string_equal(m.err.msg, "gguf: unexpected end of file at byte 49 reading a value type: "
                                   "need 4 bytes, 2 left (KV 0, key 'general.alignment')");
    img_close(&m);
    m = img_open(b.p, 56, 0);
    assert_string_equal(m.err.msg, "gguf: unexpected end of file at byte 53 reading a value: "
                                   "need 4 bytes, 3 left (KV 0, key 'general.alignment')");
    img_close(&m);
    b_free(&b);

    /* cut inside the second key's length: KV 0 spans bytes 24..65 */
    b_header(&b, 3, 0, 2);
    b_key(&b, "a", GGUF_STRING);
    b_str(&b, "01234567890123456789");
    b_key(&b, "b", GGUF_U8);
    b_u8(&b, 1);
    m = img_open(b.p, 70, 0);
    assert_string_equal(m.err.msg, "gguf: unexpected end of file at byte 65 reading a key: "
                                   "need 8 bytes, 5 left (KV 1)");
    img_close(&m);
    b_free(&b);
}

static void bad_magic_and_versions(void **state)
{
    (void)state;
    struct buf b = {0};
    b_bytes(&b, "GGML", 4); b_u32(&b, 3); b_u64(&b, 0); b_u64(&b, 0);
    expect_fail(&b, "bad magic 0x4c4d4747 at byte 0: not a GGUF file");
    b_free(&b);

    static const struct { uint32_t v; const char *want; } cases[] = {
        {0, "version 0 at byte 4 is invalid"},
        {1, "version 1 at byte 4 (32-bit counts)"},
        {4, "version 4 at byte 4 is newer"},
        {0x03000000u, "looks byte-swapped: this is a big-endian GGUF file"},
        {0x00020000u, "big-endian"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        b_header(&b, cases[i].v, 0, 0);
        expect_fail(&b, cases[i].want);
        b_free(&b);
    }
}

static void impossible_counts(void **state)
{
    (void)state;
    struct buf b = {0};
    b_header(&b, 3, 1000000, 0);
    expect_fail(&b, "tensor count 1000000 at byte 8 is impossible");
    b_free(&b);
    b_header(&b, 3, 0, 1u << 30);
    for (int i = 0; i < 64; i++)
        b_u8(&b, 0);
    expect_fail(&b, "KV count 1073741824 at byte 16 is impossible");
    b_free(&b);
    b_header(&b, 3, UINT64_MAX, 0);
    expect_fail(&b, "tensor count 18446744073709551615 at byte 8 is negative");
    b_free(&b);
    b_header(&b, 3, 0, UINT64_MAX);
    expect_fail(&b, "KV count 18446744073709551615 at byte 16 is negative");
    b_free(&b);
    /* each count alone fits, both together do not */
    b_header(&b, 3, 2, 2);
    for (int i = 0; i < 48; i++)
        b_u8(&b, 0);
    expect_fail(&b, "2 tensor infos and 2 KVs");
    b_free(&b);
}

static void string_and_array_lengths(void **state)
{
    (void)state;
    struct buf b = {0};
    b_header(&b, 3, 0, 1);
    b_u64(&b, UINT64_MAX);
    for (int i = 0; i < 40; i++)
        b_u8(&b, 'k');
    expect_fail(&b, "gguf: string length 18446744073709551615 at byte 24 exceeds the 40 bytes left "
                    "(KV 0)");
    b_free(&b);

    b_header(&b, 3, 0, 1);
    b_key(&b, "k", GGUF_STRING);
    b_u64(&b, 1000);
    b_bytes(&b, "abc", 3);
    expect_fail(&b, "string length 1000 at byte 37 exceeds the 3 bytes left (KV 0, key 'k')");
    b_free(&b);

    /* arrays whose count cannot fit, for fixed, string and array elements */
    static const enum gguf_vtype ets[] = {GGUF_U8, GGUF_U64, GGUF_STRING, GGUF_ARRAY};
    for (size_t i = 0; i < 4; i++) {
        b_header(&b, 3, 0, 1);
        b_key(&b, "arr", GGUF_ARRAY);
        b_u32(&b, ets[i]);
        b_u64(&b, i == 0 ? 100 : UINT64_MAX / 2);
        for (int j = 0; j < 16; j++)
            b_u8(&b, 0);
        expect_fail(&b, "array count");
        b_free(&b);
    }
    /* a string inside an array running past the end */
    b_header(&b, 3, 0, 1);
    b_key(&b, "arr", GGUF_ARRAY);
    b_u32(&b, GGUF_STRING); b_u64(&b, 2);
    b_str(&b, "ok");
    b_u64(&b, 5); b_u8(&b, 'x');
    expect_fail(&b, "string length 5 at byte");
    b_free(&b);
}

static void duplicate_key_and_bad_types(void **state)
{
    (void)state;
    struct buf b = {0};
    b_header(&b, 3, 0, 3);
    b_key(&b, "a", GGUF_U8); b_u8(&b, 1);
    b_key(&b, "b", GGUF_U8); b_u8(&b, 1);
    b_key(&b, "a", GGUF_U32); b_u32(&b, 1);
    expect_fail(&b, "duplicate key 'a' at byte 52 (KV 0 and KV 2)");
    b_free(&b);

    b_header(&b, 3, 0, 1);
    b_key(&b, "a", 13); b_u32(&b, 0);
    expect_fail(&b, "unknown value type 13 at byte 33 (KV 0, key 'a')");
    b_free(&b);

    b_header(&b, 3, 0, 1);
    b_key(&b, "a", GGUF_ARRAY); b_u32(&b, 99); b_u64(&b, 0);
    expect_fail(&b, "unknown array element type 99 at byte 37");
    b_free(&b);

    b_header(&b, 3, 0, 1);
    b_str(&b, "bad");
    b.p[b.n - 2] = '\0';
    b_u32(&b, GGUF_U8); b_u8(&b, 0);
    expect_fail(&b, "key at byte 24 contains a NUL byte");
    b_free(&b);
}

static void nesting_depth(void **state)
{
    (void)state;
    for (int depth = GGUF_MAX_ARRAY_DEPTH; depth <= GGUF_MAX_ARRAY_DEPTH + 1; depth++) {
        struct buf b = {0};
        b_header(&b, 3, 0, 1);
        b_key(&b, "deep", GGUF_ARRAY);
        for (int d = 1; d < depth; d++) {
            b_u32(&b, GGUF_ARRAY);
            b_u64(&b, 1);
        }
        b_u32(&b, GGUF_U8); b_u64(&b, 1); b_u8(&b, 42);
        if (depth <= GGUF_MAX_ARRAY_DEPTH) {
            struct img m = img_open(b.p, b.n, 0);
            if (m.rc)
                fail_msg("%s", m.err.msg);
            struct gguf_value v = *gguf_find(m.f, "deep"), e;
            for (int d = 1; d < depth; d++) {
                assert_int_equal(gguf_array_elem(&v, 0, &e, NULL), 0);
                v = e;
            }
            uint8_t x;
            assert_int_equal(gguf_array_elem(&v, 0, &e, NULL), 0);
            assert_int_equal(gguf_value_u8(&e, &x, NULL), 0);
            assert_int_equal(x, 42);
            img_close(&m);
        } else {
            expect_fail(&b, "arrays nested deeper than 8 levels");
        }
        b_free(&b);
    }

    /* A wide hostile nest: many empty arrays inside arrays stays bounded and
     * frees cleanly when it fails at the very end. */
    struct buf b = {0};
    b_header(&b, 3, 0, 1);
    b_key(&b, "wide", GGUF_ARRAY);
    b_u32(&b, GGUF_ARRAY); b_u64(&b, 1000);
    for (int i = 0; i < 999; i++) {
        b_u32(&b, GGUF_ARRAY); b_u64(&b, 1);
        b_u32(&b, GGUF_U8); b_u64(&b, 0);
    }
    b_u32(&b, GGUF_ARRAY); b_u64(&b, 1);
    b_u32(&b, GGUF_U8); b_u64(&b, 1);
    expect_fail(&b, "array count 1 at byte 24044");
    b_free(&b);
}

static void bad_alignment(void **state)
{
    (void)state;
    static const uint32_t vals[] = {0, 3, 48};
    static const char *const want[] = {"general.alignment at byte 53 is zero",
                                       "general.alignment 3 at byte 53 is not a power of two",
                                       "general.alignment 48 at byte 53 is not a power of two"};
    for (int i = 0; i < 3; i++) {
        struct buf b = {0};
        b_header(&b, 3, 0, 1);
        b_key(&b, "general.alignment", GGUF_U32); b_u32(&b, vals[i]);
        expect_fail(&b, want[i]);
        b_free(&b);
    }
    struct buf b = {0};
    b_header(&b, 3, 0, 1);
    b_key(&b, "general.alignment", GGUF_I32); b_u32(&b, 32);
    expect_fail(&b, "general.alignment at byte 53 has type i32; it must be u32");
    b_free(&b);
    b_header(&b, 3, 0, 1);
    b_key(&b, "general.alignment", GGUF_U64); b_u64(&b, 32);
    expect_fail(&b, "has type u64; it must be u32");
    b_free(&b);
    /* alignment 1 is a power of two */
    b_header(&b, 3, 0, 1);
    b_key(&b, "general.alignment", GGUF_U32); b_u32(&b, 1);
    expect_ok(&b, 0);
    b_free(&b);
}

/* One tensor info (after a header of one tensor, no KVs), then data of
 * data_bytes at the default alignment. */
static struct buf one_tensor(const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type,
                             uint64_t offset, size_t data_bytes)
{
    struct buf b = {0};
    b_header(&b, 3, 1, 0);
    b_tinfo(&b, name, n_dims, ne, type, offset);
    b_pad(&b, 32);
    for (size_t i = 0; i < data_bytes; i++)
        b_u8(&b, 0);
    return b;
}

static void bad_tensor_infos(void **state)
{
    (void)state;
    char name[80];
    int64_t ne[5] = {32, 1, 1, 1, 1};
    struct buf b;

    memset(name, 'n', 63);
    name[63] = '\0';
    b = one_tensor(name, 1, ne, QM_TYPE_F32, 0, 128);
    expect_ok(&b, 0);
    b_free(&b);
    name[63] = 'n';
    name[64] = '\0';
    b = one_tensor(name, 1, ne, QM_TYPE_F32, 0, 128);
    expect_fail(&b, "is 64 bytes long; the limit is 63");
    b_free(&b);

    b = one_tensor("t", 5, ne, QM_TYPE_F32, 0, 128);
    expect_fail(&b, "tensor 't' has 5 dimensions (at byte 33); it must have 1 to 4");
    b_free(&b);
    b = one_tensor("t", 0, ne, QM_TYPE_F32, 0, 128);
    expect_fail(&b, "tensor 't' has 0 dimensions");
    b_free(&b);

    int64_t neg[2] = {32, -1};
    b = one_tensor("t", 2, neg, QM_TYPE_F32, 0, 128);
    expect_fail(&b, "tensor 't' dimension 1 is negative (-1) at byte 45");
    b_free(&b);

    int64_t big[3] = {1 << 16, INT64_C(1) << 32, INT64_C(1) << 20};
    b = one_tensor("t", 3, big, QM_TYPE_F32, 0, 128);
    expect_fail(&b, "tensor 't' has dimensions whose product overflows int64 (dimension 2");
    b_free(&b);

    int64_t huge[1] = {INT64_C(1) << 62};   /* 2^62 elements fit, 2^64 bytes do not */
    b = one_tensor("t", 1, huge, QM_TYPE_F32, 0, 128);
    expect_fail(&b, "byte size that overflows 64 bits");
    b_free(&b);

    b = one_tensor("t", 1, ne, 40, 0, 128);
    expect_fail(&b, "tensor 't' has type id 40 at byte 45, which is no GGUF type");
    b_free(&b);
    b = one_tensor("t", 1, ne, 4, 0, 128);
    expect_fail(&b, "tensor 't' has type id 4 at byte 45, which is a retired GGUF type id");
    b_free(&b);
    b = one_tensor("t", 1, ne, 0x7fffffff, 0, 128);
    expect_fail(&b, "type id 2147483647");
    b_free(&b);

    int64_t odd[1] = {33};
    b = one_tensor("t", 1, odd, QM_TYPE_Q8_0, 0, 128);
    expect_fail(&b, "tensor 't' has ne[0] = 33, not a multiple of the Q8_0 block size 32");
    b_free(&b);
    int64_t k[1] = {128};
    b = one_tensor("t", 1, k, QM_TYPE_Q4_K, 0, 128);
    expect_fail(&b, "not a multiple of the Q4_K block size 256");
    b_free(&b);

    b = one_tensor("t", 1, ne, QM_TYPE_F32, 16, 128);
    expect_fail(&b, "tensor 't' has offset 16 (at byte 49), not a multiple of the alignment 32");
    b_free(&b);

    b = one_tensor("t", 1, ne, QM_TYPE_F32, 0, 127);
    expect_fail(&b, "tensor 't' data [offset 0 + data start 64 = byte 64, 128 bytes] lies past the "
                    "end of the file (size 191)");
    b_free(&b);
    b = one_tensor("t", 1, ne, QM_TYPE_F32, 1u << 20, 128);
    expect_fail(&b, "lies past the end of the file");
    b_free(&b);
    b = one_tensor("t", 1, ne, QM_TYPE_F32, UINT64_MAX - 31, 128);
    expect_fail(&b, "overflows 64 bits");
    b_free(&b);

    b = one_tensor("b\0d", 1, ne, QM_TYPE_F32, 0, 128);
    /* one_tensor used strlen: rewrite the name as 3 bytes with a NUL */
    b_free(&b);
    b_header(&b, 3, 1, 0);
    b_strn(&b, "b\0d", 3);
    b_u32(&b, 1); b_u64(&b, 32); b_u32(&b, QM_TYPE_F32); b_u64(&b, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 128; i++)
        b_u8(&b, 0);
    expect_fail(&b, "tensor name at byte 24 contains a NUL byte");
    b_free(&b);
}

static void duplicate_and_overlapping_tensors(void **state)
{
    (void)state;
    int64_t ne[1] = {32};
    struct buf b = {0};
    b_header(&b, 3, 3, 0);
    b_tinfo(&b, "a", 1, ne, QM_TYPE_F32, 0);
    b_tinfo(&b, "b", 1, ne, QM_TYPE_F32, 128);
    b_tinfo(&b, "a", 1, ne, QM_TYPE_F32, 256);
    b_pad(&b, 32);
    for (int i = 0; i < 384; i++)
        b_u8(&b, 0);
    expect_fail(&b, "duplicate tensor name 'a' at byte 90 (tensor infos 0 and 2)");
    b_free(&b);

    /* c [96, 224) overlaps a [0, 128); listed out of offset order on purpose */
    b_header(&b, 3, 3, 0);
    b_tinfo(&b, "b", 1, ne, QM_TYPE_F32, 256);
    b_tinfo(&b, "a", 1, ne, QM_TYPE_F32, 0);
    b_tinfo(&b, "c", 1, ne, QM_TYPE_F32, 96);
    b_pad(&b, 32);
    for (int i = 0; i < 384; i++)
        b_u8(&b, 0);
    expect_fail(&b, "tensors 'a' [offset 0, 128 bytes] and 'c' [offset 96, 128 bytes] overlap");
    b_free(&b);

    /* the same start */
    b_header(&b, 3, 2, 0);
    b_tinfo(&b, "x", 1, ne, QM_TYPE_F32, 0);
    b_tinfo(&b, "y", 1, ne, QM_TYPE_F32, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 128; i++)
        b_u8(&b, 0);
    expect_fail(&b, "overlap");
    b_free(&b);

    /* touching is fine */
    b_header(&b, 3, 2, 0);
    b_tinfo(&b, "x", 1, ne, QM_TYPE_F32, 128);
    b_tinfo(&b, "y", 1, ne, QM_TYPE_F32, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 256; i++)
        b_u8(&b, 0);
    expect_ok(&b, 0);
    b_free(&b);
}

static void unsupported_types(void **state)
{
    (void)state;
    int64_t ne[2] = {256, 2};
    struct buf b = {0};
    b_header(&b, 3, 2, 0);
    b_tinfo(&b, "blk.0.ffn_up.weight", 2, ne, QM_TYPE_Q4_K, 0);
    b_tinfo(&b, "blk.0.ffn_down.weight", 2, ne, QM_TYPE_IQ2_XXS, 288);
    b_pad(&b, 32);
    for (int i = 0; i < 288 + 132; i++)
        b_u8(&b, 0);
    expect_fail_rc(&b, 0, QM_EUNSUPPORTED,
                   "gguf: tensor 'blk.0.ffn_down.weight' has type IQ2_XXS, which qm does not support");
    struct img m = img_open(b.p, b.n, GGUF_OPEN_ANY_TYPE);
    if (m.rc)
        fail_msg("%s", m.err.msg);
    assert_int_equal(gguf_find_tensor(m.f, "blk.0.ffn_down.weight")->type, QM_TYPE_IQ2_XXS);
    assert_int_equal(gguf_find_tensor(m.f, "blk.0.ffn_down.weight")->nbytes, 132);
    img_close(&m);
    b_free(&b);

    static const uint32_t others[] = {QM_TYPE_TQ1_0, QM_TYPE_MXFP4, QM_TYPE_I8, QM_TYPE_Q8_K};
    for (size_t i = 0; i < 4; i++) {
        const struct qm_type_traits *tt = qm_type_traits(others[i]);
        int64_t n1[1] = {tt->blck * 8};
        b = one_tensor("w", 1, n1, others[i], 0, tt->size * 8);
        char want[128];
        snprintf(want, sizeof want, "tensor 'w' has type %s, which qm does not support", tt->name);
        expect_fail_rc(&b, 0, QM_EUNSUPPORTED, want);
        expect_ok(&b, GGUF_OPEN_ANY_TYPE);
        b_free(&b);
    }
}

/* ======================================================================
 * Scale and files on disk
 * ====================================================================== */

/* A 150k-string vocabulary and thousands of tensors and keys: the indexes
 * must find each one (and duplicates must still be caught among them). */
static void large_tables(void **state)
{
    (void)state;
    enum { NV = 150000, NT = 3000, NK = 5000 };
    char s[64];
    struct buf b = {0};
    b_header(&b, 3, NT, NK + 1);
    b_key(&b, "tokenizer.ggml.tokens", GGUF_ARRAY);
    b_u32(&b, GGUF_STRING);
    b_u64(&b, NV);
    for (int i = 0; i < NV; i++) {
        snprintf(s, sizeof s, "tok%d", i);
        b_str(&b, s);
    }
    for (int i = 0; i < NK; i++) {
        snprintf(s, sizeof s, "key.%d", i);
        b_key(&b, s, GGUF_I32);
        b_u32(&b, (uint32_t)i);
    }
    int64_t ne[1] = {8};
    for (int i = 0; i < NT; i++) {
        snprintf(s, sizeof s, "blk.%d.weight", i);
        b_tinfo(&b, s, 1, ne, QM_TYPE_F32, (uint64_t)i * 32);
    }
    b_pad(&b, 32);
    for (int i = 0; i < NT * 32; i++)
        b_u8(&b, (uint8_t)i);

    struct img m = img_open(b.p, b.n, 0);
    if (m.rc)
        fail_msg("%s", m.err.msg);
    const struct gguf_value *v = gguf_find(m.f, "tokenizer.ggml.tokens");
    struct gguf_str str;
    assert_int_equal(v->count, NV);
    assert_int_equal(gguf_array_str(v, NV - 1, &str, NULL), 0);
    assert_true(gguf_str_eq(str, "tok149999"));
    for (int i = 0; i < NK; i += 7) {
        int32_t x;
        snprintf(s, sizeof s, "key.%d", i);
        assert_int_equal(gguf_get_i32(m.f, s, &x, NULL), 0);
        assert_int_equal(x, i);
    }
    for (int i = 0; i < NT; i++) {
        snprintf(s, sizeof s, "blk.%d.weight", i);
        const struct gguf_tensor *t = gguf_find_tensor(m.f, s);
        assert_non_null(t);
        assert_int_equal(t->offset, (uint64_t)i * 32);
    }
    img_close(&m);

    /* a duplicate name among many is caught through the same index */
    b_free(&b);
    b_header(&b, 3, 3, 0);
    b_tinfo(&b, "x.0", 1, ne, QM_TYPE_F32, 0);
    b_tinfo(&b, "x.1", 1, ne, QM_TYPE_F32, 32);
    b_tinfo(&b, "x.0", 1, ne, QM_TYPE_F32, 64);
    b_pad(&b, 32);
    for (int i = 0; i < 96; i++)
        b_u8(&b, 0);
    expect_fail(&b, "duplicate tensor name 'x.0'");
    b_free(&b);
}

static void open_from_disk(void **state)
{
    (void)state;
    struct buf b = make_all_types(3);
    char path[] = "/tmp/qm_test_gguf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b.p, b.n), (ssize_t)b.n);
    close(fd);

    struct gguf_file *f;
    struct qm_err err;
    assert_int_equal(gguf_open(&f, path, 0, &err), 0);
    check_all_types(f, 3, b.n);
    gguf_close(f);

    /* an empty file: a clean error, not an mmap failure */
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(gguf_open(&f, path, 0, &err), QM_EINVAL);
    assert_null(f);
    assert_non_null(strstr(err.msg, "unexpected end of file at byte 0 reading the magic"));
    unlink(path);

    assert_int_equal(gguf_open(&f, path, 0, &err), QM_EIO);
    assert_non_null(strstr(err.msg, "cannot open"));
    assert_int_equal(gguf_open(&f, "/tmp", 0, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "is not a regular file"));
    /* NULL err is allowed */
    assert_int_equal(gguf_open(&f, "/tmp", 0, NULL), QM_EINVAL);
    b_free(&b);
}

/* ======================================================================
 * Random damage
 * ====================================================================== */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    /* xorshift64*: fixed seed, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Read everything an accepted file exposes, as a consumer would. */
static uint64_t walk_value(const struct gguf_value *v)
{
    uint64_t h = v->type;
    struct gguf_value e;
    struct gguf_str s;
    if (v->type == GGUF_ARRAY) {
        for (uint64_t i = 0; i < v->count; i++) {
            assert_int_equal(gguf_array_elem(v, i, &e, NULL), 0);
            h += walk_value(&e);
        }
    } else if (v->type == GGUF_STRING) {
        assert_int_equal(gguf_value_str(v, &s, NULL), 0);
        for (size_t i = 0; i < s.len; i++)
            h += (unsigned char)s.ptr[i];
    } else {
        uint64_t u;
        double d;
        h += gguf_value_u64(v, &u, NULL) == 0 ? u : 0;
        h += gguf_value_f64(v, &d, NULL) == 0 ? (uint64_t)(d == d) : 0;
        h += v->data[0];
    }
    return h;
}

static void walk_file(const struct gguf_file *f)
{
    uint64_t h = 0;
    for (int64_t i = 0; i < gguf_kv_count(f); i++) {
        assert_ptr_equal(gguf_find(f, gguf_kv_key(f, i)), gguf_kv_value(f, i));
        h += walk_value(gguf_kv_value(f, i));
    }
    for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
        const struct gguf_tensor *t = gguf_tensor(f, i);
        assert_ptr_equal(gguf_find_tensor(f, t->name), t);
        assert_true(t->n_dims >= 1 && t->n_dims <= 4);
        assert_true(gguf_data_start(f) + t->offset + t->nbytes <= gguf_file_size(f));
        const uint8_t *p = t->data;
        for (uint64_t j = 0; j < t->nbytes; j++)
            h += p[j];
    }
    (void)h;
}

static void random_mutations(void **state)
{
    (void)state;
    struct buf b = make_all_types(3);
    int accepted = 0;
    for (int iter = 0; iter < 4000; iter++) {
        uint8_t *copy = malloc(b.n);
        memcpy(copy, b.p, b.n);
        int flips = 1 + (int)(rng() % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = rng() % b.n;
            switch (rng() % 4) {
            case 0: copy[at] ^= (uint8_t)(1u << (rng() % 8)); break;
            case 1: copy[at] = (uint8_t)rng(); break;
            case 2: copy[at] = 0xff; break;
            default: copy[at] = 0; break;
            }
        }
        size_t n = rng() % 8 == 0 ? rng() % b.n : b.n;
        struct img m = img_open(copy, n, (iter & 1) ? GGUF_OPEN_ANY_TYPE : 0);
        if (m.rc == 0) {
            accepted++;
            walk_file(m.f);
        } else {
            assert_int_equal(strncmp(m.err.msg, "gguf: ", 6), 0);
        }
        img_close(&m);
        free(copy);
    }
    /* many flips land in values or tensor data and leave the file valid */
    assert_true(accepted > 0);
    b_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_v3_every_type),
        cmocka_unit_test(valid_v2),
        cmocka_unit_test(zero_tensors_default_alignment),
        cmocka_unit_test(empty_tensor_overlaps_nothing),
        cmocka_unit_test(truncated_at_every_byte),
        cmocka_unit_test(short_reads_name_the_field),
        cmocka_unit_test(bad_magic_and_versions),
        cmocka_unit_test(impossible_counts),
        cmocka_unit_test(string_and_array_lengths),
        cmocka_unit_test(duplicate_key_and_bad_types),
        cmocka_unit_test(nesting_depth),
        cmocka_unit_test(bad_alignment),
        cmocka_unit_test(bad_tensor_infos),
        cmocka_unit_test(duplicate_and_overlapping_tensors),
        cmocka_unit_test(unsupported_types),
        cmocka_unit_test(large_tables),
        cmocka_unit_test(open_from_disk),
        cmocka_unit_test(random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
