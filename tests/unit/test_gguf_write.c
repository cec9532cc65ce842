/* test_gguf_write.c - the GGUF writer (gguf_write.h) against the reader.
 *
 * Files are written with every metadata value type (scalars at their
 * extremes, strings with odd bytes, arrays of each type, arrays of arrays),
 * with alignments 32 and 64 and tensors of several types given both as
 * buffers and as callbacks, then opened with gguf_open and compared field by
 * field and byte by byte.  The failure cases check that each error says what
 * went wrong and that nothing is left behind: no file under the final name,
 * no temporary file in the directory, an older file under that name intact. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gguf.h"
#include "gguf_write.h"

/* ---- helpers ------------------------------------------------------------ */

struct tdir {
    char path[64];
};

static void tdir_make(struct tdir *d)
{
    strcpy(d->path, "/tmp/qm_test_gw_XXXXXX");
    assert_non_null(mkdtemp(d->path));
}

/* Entries of the directory other than . and .. */
static int tdir_count(const struct tdir *d)
{
    DIR *dir = opendir(d->path);
    assert_non_null(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(dir);
    return n;
}

static void tdir_file(const struct tdir *d, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", d->path, name);
}

static void tdir_remove(struct tdir *d)
{
    DIR *dir = opendir(d->path);
    if (dir) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(dir)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", d->path, e->d_name);
                unlink(p);
            }
        closedir(dir);
    }
    rmdir(d->path);
}

static bool str_is(struct gguf_str s, const char *c, size_t len)
{
    return s.len == len && memcmp(s.ptr, c, len) == 0;
}

#define OK(call) assert_int_equal((call), 0)

/* ---- every value type --------------------------------------------------- */

static const char odd_str[] = "nul\0inside \xc3\xa9 \xff end";   /* embedded NUL, invalid UTF-8 */

static void build_values(struct gguf_writer *w)
{
    struct qm_err err;
    OK(gguf_w_set_str(w, "general.architecture", "test", &err));
    OK(gguf_w_set_u8(w, "s.u8", 255, &err));
    OK(gguf_w_set_i8(w, "s.i8", -128, &err));
    OK(gguf_w_set_u16(w, "s.u16", 65535, &err));
    OK(gguf_w_set_i16(w, "s.i16", -32768, &err));
    OK(gguf_w_set_u32(w, "s.u32", 4294967295u, &err));
    OK(gguf_w_set_i32(w, "s.i32", INT32_MIN, &err));
    OK(gguf_w_set_f32(w, "s.f32", -0.1f, &err));
    OK(gguf_w_set_bool(w, "s.bool_t", true, &err));
    OK(gguf_w_set_bool(w, "s.bool_f", false, &err));
    OK(gguf_w_set_str(w, "s.str", "hello", &err));
    OK(gguf_w_set_str(w, "s.str_empty", "", &err));
    OK(gguf_w_set_strn(w, "s.str_odd", odd_str, sizeof odd_str - 1, &err));
    OK(gguf_w_set_u64(w, "s.u64", UINT64_MAX, &err));
    OK(gguf_w_set_i64(w, "s.i64", INT64_MIN, &err));
    OK(gguf_w_set_f64(w, "s.f64", 5e-324, &err));

    static const uint8_t au8[] = {0, 1, 255};
    static const int8_t ai8[] = {-128, 0, 127};
    static const uint16_t au16[] = {0, 65535};
    static const int16_t ai16[] = {-32768, 32767};
    static const uint32_t au32[] = {0, 4294967295u, 7};
    static const int32_t ai32[] = {INT32_MIN, INT32_MAX};
    static const float af32[] = {0.1f, -2.5f, 1e-38f, 3.0e38f};
    static const bool abool[] = {true, false, true};
    static const uint64_t au64[] = {0, UINT64_MAX};
    static const int64_t ai64[] = {INT64_MIN, INT64_MAX};
    static const double af64[] = {0.1, -1e-300, 1.7976931348623157e308};
    OK(gguf_w_set_array(w, "a.u8", GGUF_U8, au8, 3, &err));
    OK(gguf_w_set_array(w, "a.i8", GGUF_I8, ai8, 3, &err));
    OK(gguf_w_set_array(w, "a.u16", GGUF_U16, au16, 2, &err));
    OK(gguf_w_set_array(w, "a.i16", GGUF_I16, ai16, 2, &err));
    OK(gguf_w_set_array(w, "a.u32", GGUF_U32, au32, 3, &err));
    OK(gguf_w_set_array(w, "a.i32", GGUF_I32, ai32, 2, &err));
    OK(gguf_w_set_array(w, "a.f32", GGUF_F32, af32, 4, &err));
    OK(gguf_w_set_array(w, "a.bool", GGUF_BOOL, abool, 3, &err));
    OK(gguf_w_set_array(w, "a.u64", GGUF_U64, au64, 2, &err));
    OK(gguf_w_set_array(w, "a.i64", GGUF_I64, ai64, 2, &err));
    OK(gguf_w_set_array(w, "a.f64", GGUF_F64, af64, 3, &err));
    OK(gguf_w_set_array(w, "a.empty", GGUF_I32, NULL, 0, &err));
    const char *strs[] = {"a", "", "b c", "\xc3\xbc"};
    OK(gguf_w_set_str_array(w, "a.str", strs, NULL, 4, &err));

    /* n.nested = [[1, 2], [3, 4, 5], []]  (i32) */
    struct gguf_w_value *outer, *sub;
    OK(gguf_w_value_array(&outer, GGUF_ARRAY, &err));
    static const int32_t n1[] = {1, 2}, n2[] = {3, 4, 5};
    OK(gguf_w_value_array(&sub, GGUF_I32, &err));
    OK(gguf_w_value_push(sub, GGUF_I32, n1, 2, &err));
    OK(gguf_w_value_push_array(outer, sub, &err));
    OK(gguf_w_value_array(&sub, GGUF_I32, &err));
    OK(gguf_w_value_push(sub, GGUF_I32, n2, 3, &err));
    OK(gguf_w_value_push_array(outer, sub, &err));
    OK(gguf_w_value_array(&sub, GGUF_I32, &err));
    OK(gguf_w_value_push_array(outer, sub, &err));
    OK(gguf_w_set_value(w, "n.i32", outer, &err));

    /* n.mixed = [["x", "yz"], [[2.5]]]: sub-arrays of different types, depth 3 */
    OK(gguf_w_value_array(&outer, GGUF_ARRAY, &err));
    OK(gguf_w_value_array(&sub, GGUF_STRING, &err));
    OK(gguf_w_value_push_str(sub, "x", 1, &err));
    OK(gguf_w_value_push_str(sub, "yz", 2, &err));
    OK(gguf_w_value_push_array(outer, sub, &err));
    struct gguf_w_value *mid, *leaf;
    OK(gguf_w_value_array(&mid, GGUF_ARRAY, &err));
    OK(gguf_w_value_array(&leaf, GGUF_F64, &err));
    double d25 = 2.5;
    OK(gguf_w_value_push(leaf, GGUF_F64, &d25, 1, &err));
    OK(gguf_w_value_push_array(mid, leaf, &err));
    OK(gguf_w_value_push_array(outer, mid, &err));
    OK(gguf_w_set_value(w, "n.mixed", outer, &err));

    /* replacing keeps the position, removing drops it */
    OK(gguf_w_set_u32(w, "s.replaced", 1, &err));
    OK(gguf_w_set_str(w, "s.removed", "gone", &err));
    OK(gguf_w_set_f32(w, "s.replaced", 2.0f, &err));
    OK(gguf_w_remove(w, "s.removed"));
    assert_false(gguf_w_has_key(w, "s.removed"));
}

static void check_values(const struct gguf_file *f)
{
    struct qm_err err;
    struct gguf_str s;
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
    float f32; bool b; uint64_t u64; int64_t i64; double f64;

    OK(gguf_get_str(f, "general.architecture", &s, &err));
    assert_true(str_is(s, "test", 4));
    OK(gguf_get_u8(f, "s.u8", &u8, &err)); assert_int_equal(u8, 255);
    OK(gguf_get_i8(f, "s.i8", &i8, &err)); assert_int_equal(i8, -128);
    OK(gguf_get_u16(f, "s.u16", &u16, &err)); assert_int_equal(u16, 65535);
    OK(gguf_get_i16(f, "s.i16", &i16, &err)); assert_int_equal(i16, -32768);
    OK(gguf_get_u32(f, "s.u32", &u32, &err)); assert_true(u32 == 4294967295u);
    OK(gguf_get_i32(f, "s.i32", &i32, &err)); assert_true(i32 == INT32_MIN);
    OK(gguf_get_f32(f, "s.f32", &f32, &err)); assert_true(f32 == -0.1f);
    OK(gguf_get_bool(f, "s.bool_t", &b, &err)); assert_true(b);
    OK(gguf_get_bool(f, "s.bool_f", &b, &err)); assert_false(b);
    OK(gguf_get_str(f, "s.str", &s, &err)); assert_true(str_is(s, "hello", 5));
    OK(gguf_get_str(f, "s.str_empty", &s, &err)); assert_int_equal(s.len, 0);
    OK(gguf_get_str(f, "s.str_odd", &s, &err)); assert_true(str_is(s, odd_str, sizeof odd_str - 1));
    OK(gguf_get_u64(f, "s.u64", &u64, &err)); assert_true(u64 == UINT64_MAX);
    OK(gguf_get_i64(f, "s.i64", &i64, &err)); assert_true(i64 == INT64_MIN);
    OK(gguf_get_f64(f, "s.f64", &f64, &err)); assert_true(f64 == 5e-324);
    /* strict types survive: a u32 is not an i32 */
    assert_int_equal(gguf_get_i32(f, "s.u32", &i32, &err), QM_EINVAL);

    const struct gguf_value *a;
    struct gguf_value e;
    OK(gguf_get_array(f, "a.u8", &a, &err));
    assert_int_equal(a->elem_type, GGUF_U8); assert_int_equal(a->count, 3);
    OK(gguf_array_elem(a, 2, &e, &err)); OK(gguf_value_u8(&e, &u8, &err)); assert_int_equal(u8, 255);
    OK(gguf_get_array(f, "a.i8", &a, &err));
    OK(gguf_array_elem(a, 0, &e, &err)); OK(gguf_value_i8(&e, &i8, &err)); assert_int_equal(i8, -128);
    OK(gguf_get_array(f, "a.u16", &a, &err));
    OK(gguf_array_elem(a, 1, &e, &err)); OK(gguf_value_u16(&e, &u16, &err)); assert_int_equal(u16, 65535);
    OK(gguf_get_array(f, "a.i16", &a, &err));
    OK(gguf_array_elem(a, 0, &e, &err)); OK(gguf_value_i16(&e, &i16, &err)); assert_int_equal(i16, -32768);
    OK(gguf_get_array(f, "a.u32", &a, &err)); assert_int_equal(a->count, 3);
    OK(gguf_array_elem(a, 1, &e, &err)); OK(gguf_value_u32(&e, &u32, &err)); assert_true(u32 == 4294967295u);
    OK(gguf_array_elem(a, 2, &e, &err)); OK(gguf_value_u32(&e, &u32, &err)); assert_int_equal(u32, 7);
    OK(gguf_get_array(f, "a.i32", &a, &err));
    OK(gguf_array_elem(a, 1, &e, &err)); OK(gguf_value_i32(&e, &i32, &err)); assert_true(i32 == INT32_MAX);
    OK(gguf_get_array(f, "a.f32", &a, &err)); assert_int_equal(a->count, 4);
    static const float af32[] = {0.1f, -2.5f, 1e-38f, 3.0e38f};
    for (int i = 0; i < 4; i++) {
        OK(gguf_array_elem(a, (uint64_t)i, &e, &err));
        OK(gguf_value_f32(&e, &f32, &err));
        assert_memory_equal(&f32, &af32[i], 4);
    }
    OK(gguf_get_array(f, "a.bool", &a, &err)); assert_int_equal(a->elem_type, GGUF_BOOL);
    OK(gguf_array_elem(a, 1, &e, &err)); OK(gguf_value_bool(&e, &b, &err)); assert_false(b);
    OK(gguf_array_elem(a, 2, &e, &err)); OK(gguf_value_bool(&e, &b, &err)); assert_true(b);
    OK(gguf_get_array(f, "a.u64", &a, &err));
    OK(gguf_array_elem(a, 1, &e, &err)); OK(gguf_value_u64(&e, &u64, &err)); assert_true(u64 == UINT64_MAX);
    OK(gguf_get_array(f, "a.i64", &a, &err));
    OK(gguf_array_elem(a, 0, &e, &err)); OK(gguf_value_i64(&e, &i64, &err)); assert_true(i64 == INT64_MIN);
    OK(gguf_get_array(f, "a.f64", &a, &err));
    OK(gguf_array_elem(a, 2, &e, &err)); OK(gguf_value_f64(&e, &f64, &err));
    assert_true(f64 == 1.7976931348623157e308);
    OK(gguf_get_array(f, "a.empty", &a, &err));
    assert_int_equal(a->elem_type, GGUF_I32); assert_int_equal(a->count, 0);
    OK(gguf_get_array(f, "a.str", &a, &err)); assert_int_equal(a->count, 4);
    OK(gguf_array_str(a, 0, &s, &err)); assert_true(str_is(s, "a", 1));
    OK(gguf_array_str(a, 1, &s, &err)); assert_int_equal(s.len, 0);
    OK(gguf_array_str(a, 2, &s, &err)); assert_true(str_is(s, "b c", 3));
    OK(gguf_array_str(a, 3, &s, &err)); assert_true(str_is(s, "\xc3\xbc", 2));

    OK(gguf_get_array(f, "n.i32", &a, &err));
    assert_int_equal(a->elem_type, GGUF_ARRAY); assert_int_equal(a->count, 3);
    static const int32_t want[2][3] = {{1, 2}, {3, 4, 5}};
    for (int i = 0; i < 3; i++) {
        struct gguf_value sub, x;
        OK(gguf_array_elem(a, (uint64_t)i, &sub, &err));
        assert_int_equal(sub.type, GGUF_ARRAY);
        assert_int_equal(sub.elem_type, GGUF_I32);
        assert_int_equal(sub.count, i == 0 ? 2 : i == 1 ? 3 : 0);
        for (uint64_t j = 0; j < sub.count; j++) {
            OK(gguf_array_elem(&sub, j, &x, &err));
            OK(gguf_value_i32(&x, &i32, &err));
            assert_int_equal(i32, want[i][j]);
        }
    }
    OK(gguf_get_array(f, "n.mixed", &a, &err)); assert_int_equal(a->count, 2);
    struct gguf_value s0, s1, leaf, x;
    OK(gguf_array_elem(a, 0, &s0, &err));
    assert_int_equal(s0.elem_type, GGUF_STRING);
    OK(gguf_array_str(&s0, 1, &s, &err)); assert_true(str_is(s, "yz", 2));
    OK(gguf_array_elem(a, 1, &s1, &err));
    assert_int_equal(s1.elem_type, GGUF_ARRAY); assert_int_equal(s1.count, 1);
    OK(gguf_array_elem(&s1, 0, &leaf, &err));
    assert_int_equal(leaf.elem_type, GGUF_F64);
    OK(gguf_array_elem(&leaf, 0, &x, &err)); OK(gguf_value_f64(&x, &f64, &err));
    assert_true(f64 == 2.5);

    OK(gguf_get_f32(f, "s.replaced", &f32, &err)); assert_true(f32 == 2.0f);
    assert_null(gguf_find(f, "s.removed"));
    /* order: first set first; the replaced key kept its place */
    assert_string_equal(gguf_kv_key(f, 0), "general.architecture");
    assert_string_equal(gguf_kv_key(f, gguf_kv_count(f) - 1), "s.replaced");
}

static void test_value_types(void **state)
{
    (void)state;
    struct tdir d;
    struct qm_err err;
    struct gguf_writer *w;
    struct gguf_file *f;
    char path[256];
    uint64_t size = 0;
    tdir_make(&d);
    tdir_file(&d, "values.gguf", path, sizeof path);

    OK(gguf_w_new(&w, &err));
    build_values(w);
    OK(gguf_w_write(w, path, &size, &err));
    OK(gguf_open(&f, path, 0, &err));
    assert_int_equal(gguf_file_size(f), size);
    assert_int_equal(gguf_version(f), 3);
    assert_int_equal(gguf_kv_count(f), gguf_w_kv_count(w));
    assert_int_equal(gguf_tensor_count(f), 0);
    check_values(f);

    /* copying every KV of the file gives the same values again */
    struct gguf_writer *w2;
    char path2[256];
    struct gguf_file *f2;
    tdir_file(&d, "copy.gguf", path2, sizeof path2);
    OK(gguf_w_new(&w2, &err));
    OK(gguf_w_copy_kvs(w2, f, NULL, &err));
    OK(gguf_w_write(w2, path2, NULL, &err));
    OK(gguf_open(&f2, path2, 0, &err));
    check_values(f2);
    gguf_close(f2);
    gguf_w_free(w2);

    /* a prefix copies only its keys */
    OK(gguf_w_new(&w2, &err));
    OK(gguf_w_copy_kvs(w2, f, "a.", &err));
    assert_int_equal(gguf_w_kv_count(w2), 13);
    assert_true(gguf_w_has_key(w2, "a.str"));
    assert_false(gguf_w_has_key(w2, "s.u8"));
    OK(gguf_w_write(w2, path2, NULL, &err));
    OK(gguf_open(&f2, path2, 0, &err));
    assert_int_equal(gguf_kv_count(f2), 13);
    const struct gguf_value *a;
    struct gguf_str s;
    OK(gguf_get_array(f2, "a.str", &a, &err));
    OK(gguf_array_str(a, 2, &s, &err));
    assert_true(str_is(s, "b c", 3));
    gguf_close(f2);
    gguf_w_free(w2);

    gguf_close(f);
    gguf_w_free(w);
    assert_int_equal(tdir_count(&d), 2); /* values.gguf and copy.gguf, no temporaries */
    tdir_remove(&d);
}

/* ---- tensors and alignment ---------------------------------------------- */

struct pieces_ctx {
    const uint8_t *data;
    size_t n;
    size_t piece;
};

/* hands the bytes over in pieces of ctx->piece, to exercise the stream */
static int pieces_cb(void *ctx, struct gguf_w_stream *s, struct qm_err *err)
{
    struct pieces_ctx *c = ctx;
    for (size_t off = 0; off < c->n; off += c->piece) {
        size_t k = c->n - off < c->piece ? c->n - off : c->piece;
        int rc = gguf_w_stream_write(s, c->data + off, k, err);
        if (rc < 0)
            return rc;
    }
    assert_int_equal(gguf_w_stream_left(s), 0);
    return 0;
}

struct tspec {
    const char *name;
    enum qm_type type;
    uint32_t n_dims;
    int64_t ne[4];
};

static const struct tspec tensors[] = {
    {"t.f32", QM_TYPE_F32, 2, {3, 2}},
    {"t.f16", QM_TYPE_F16, 1, {5}},
    {"t.q4_0", QM_TYPE_Q4_0, 2, {64, 3}},
    {"t.q8_0", QM_TYPE_Q8_0, 3, {32, 1, 2}},
    {"t.q4_k", QM_TYPE_Q4_K, 2, {256, 2}},
    {"t.q6_k", QM_TYPE_Q6_K, 4, {256, 1, 1, 3}},
    {"t.bf16", QM_TYPE_BF16, 2, {7, 1}},
    {"t.iq4_nl", QM_TYPE_IQ4_NL, 1, {32}},
    {"t.empty", QM_TYPE_F32, 2, {4, 0}},
};
#define N_TENSORS (sizeof tensors / sizeof tensors[0])

static void write_tensors(uint32_t align)
{
    struct tdir d;
    struct qm_err err;
    struct gguf_writer *w;
    struct gguf_file *f;
    char path[256];
    uint8_t *data[N_TENSORS];
    size_t nbytes[N_TENSORS];
    struct pieces_ctx ctx[N_TENSORS];
    tdir_make(&d);
    tdir_file(&d, "tensors.gguf", path, sizeof path);

    OK(gguf_w_new(&w, &err));
    OK(gguf_w_set_str(w, "general.architecture", "test", &err));
    if (align != GGUF_DEFAULT_ALIGNMENT)
        OK(gguf_w_set_u32(w, "general.alignment", align, &err));
    uint64_t total = 0;
    for (size_t i = 0; i < N_TENSORS; i++) {
        const struct tspec *t = &tensors[i];
        const struct qm_type_traits *tt = qm_type_traits(t->type);
        int64_t nel = 1;
        for (uint32_t k = 0; k < t->n_dims; k++)
            nel *= t->ne[k];
        nbytes[i] = (size_t)(nel / tt->blck) * tt->size;
        data[i] = malloc(nbytes[i] + 1);
        for (size_t k = 0; k < nbytes[i]; k++)   /* bytes that differ per tensor and position */
            data[i][k] = (uint8_t)(k * 31 + i * 7 + 1);
        /* even-numbered tensors from buffers, odd ones from callbacks */
        if (i % 2 == 0) {
            OK(gguf_w_add_tensor(w, t->name, t->type, t->n_dims, t->ne, data[i], &err));
        } else {
            ctx[i] = (struct pieces_ctx){data[i], nbytes[i], 1 + i * 5};
            OK(gguf_w_add_tensor_cb(w, t->name, t->type, t->n_dims, t->ne, pieces_cb, &ctx[i], &err));
        }
        total += nbytes[i];
    }
    assert_int_equal(gguf_w_tensor_count(w), N_TENSORS);
    assert_int_equal(gguf_w_tensor_bytes(w), total);

    uint64_t size;
    OK(gguf_w_write(w, path, &size, &err));
    OK(gguf_open(&f, path, GGUF_OPEN_ANY_TYPE, &err));
    assert_int_equal(gguf_alignment(f), align);
    assert_int_equal(gguf_data_start(f) % align, 0);
    assert_int_equal(gguf_tensor_count(f), N_TENSORS);
    assert_int_equal(gguf_tensor_bytes(f), total);
    uint64_t off = 0;
    for (size_t i = 0; i < N_TENSORS; i++) {
        const struct tspec *t = &tensors[i];
        const struct gguf_tensor *g = gguf_tensor(f, (int64_t)i);
        assert_string_equal(g->name, t->name);
        assert_int_equal(g->type, t->type);
        assert_int_equal(g->n_dims, t->n_dims);
        for (uint32_t k = 0; k < 4; k++)
            assert_int_equal(g->ne[k], k < t->n_dims ? t->ne[k] : 1);
        /* ggml's rule: each offset is the running sum of padded sizes */
        assert_int_equal(g->offset, off);
        assert_int_equal(g->nbytes, nbytes[i]);
        if (nbytes[i])
            assert_memory_equal(g->data, data[i], nbytes[i]);
        off += (nbytes[i] + align - 1) / align * align;
    }
    assert_int_equal(size, gguf_data_start(f) + off);
    assert_int_equal(gguf_file_size(f), size);
    /* the padding bytes are zeros */
    const uint8_t *first = gguf_tensor(f, 0)->data;
    for (size_t k = nbytes[0]; k < align; k++)
        assert_int_equal(first[k], 0);
    gguf_close(f);

    /* writing again replaces the file: same bytes (determinism) */
    uint64_t size2;
    OK(gguf_w_write(w, path, &size2, &err));
    assert_int_equal(size2, size);
    assert_int_equal(tdir_count(&d), 1);

    gguf_w_free(w);
    for (size_t i = 0; i < N_TENSORS; i++)
        free(data[i]);
    tdir_remove(&d);
}

static void test_tensors_align32(void **state)
{
    (void)state;
    write_tensors(32);
}

static void test_tensors_align64(void **state)
{
    (void)state;
    write_tensors(64);
}

/* ---- refusals ----------------------------------------------------------- */

static void test_bad_input(void **state)
{
    (void)state;
    struct qm_err err;
    struct gguf_writer *w;
    static const float x[512];
    OK(gguf_w_new(&w, &err));

    int64_t ne[2] = {33, 2};
    assert_int_equal(gguf_w_add_tensor(w, "q", QM_TYPE_Q4_0, 2, ne, x, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "not a multiple of the Q4_0 block size 32"));
    ne[0] = 32;
    OK(gguf_w_add_tensor(w, "q", QM_TYPE_Q4_0, 2, ne, x, &err));
    assert_int_equal(gguf_w_add_tensor(w, "q", QM_TYPE_Q4_0, 2, ne, x, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "added twice"));
    char longname[80];
    memset(longname, 'n', 64);
    longname[64] = '\0';
    assert_int_equal(gguf_w_add_tensor(w, longname, QM_TYPE_F32, 1, ne, x, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "1 to 63 bytes"));
    longname[63] = '\0';
    OK(gguf_w_add_tensor(w, longname, QM_TYPE_F32, 1, ne, x, &err));
    assert_int_equal(gguf_w_add_tensor(w, "r", (enum qm_type)4, 1, ne, x, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "no tensor type"));
    assert_int_equal(gguf_w_add_tensor(w, "r", QM_TYPE_F32, 5, ne, x, &err), QM_EINVAL);
    assert_int_equal(gguf_w_add_tensor(w, "r", QM_TYPE_F32, 0, ne, x, &err), QM_EINVAL);
    int64_t neg[1] = {-1};
    assert_int_equal(gguf_w_add_tensor(w, "r", QM_TYPE_F32, 1, neg, x, &err), QM_EINVAL);

    assert_int_equal(gguf_w_set_u32(w, "general.alignment", 48, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "not a power of two"));
    assert_int_equal(gguf_w_set_u32(w, "general.alignment", 0, &err), QM_EINVAL);
    assert_int_equal(gguf_w_set_u64(w, "general.alignment", 64, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "must be a u32"));
    assert_false(gguf_w_has_key(w, "general.alignment"));
    assert_int_equal(gguf_w_set_u32(w, "", 1, &err), QM_EINVAL);

    struct gguf_w_value *arr, *sub;
    OK(gguf_w_value_array(&arr, GGUF_I32, &err));
    float f1 = 1.0f;
    assert_int_equal(gguf_w_value_push(arr, GGUF_F32, &f1, 1, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "cannot append f32 values to an array of i32"));
    assert_int_equal(gguf_w_value_push_str(arr, "s", 1, &err), QM_EINVAL);
    OK(gguf_w_value_array(&sub, GGUF_I32, &err));
    assert_int_equal(gguf_w_value_push_array(arr, sub, &err), QM_EINVAL); /* sub freed */
    assert_int_equal(gguf_w_set_array(w, "k", GGUF_STRING, NULL, 0, &err), QM_EINVAL);
    gguf_w_value_free(arr);
    gguf_w_free(w);
}

/* The target's directory does not exist, or is a file: a clear error, and
 * nothing is created anywhere. */
static void test_unwritable(void **state)
{
    (void)state;
    struct tdir d;
    struct qm_err err;
    struct gguf_writer *w;
    char path[256];
    tdir_make(&d);
    OK(gguf_w_new(&w, &err));
    OK(gguf_w_set_str(w, "general.architecture", "test", &err));

    tdir_file(&d, "missing/model.gguf", path, sizeof path);
    assert_int_equal(gguf_w_write(w, path, NULL, &err), QM_EIO);
    assert_non_null(strstr(err.msg, "cannot create"));
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "No such file or directory"));
    assert_int_equal(tdir_count(&d), 0);

    char file[256];
    tdir_file(&d, "plain", file, sizeof file);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    tdir_file(&d, "plain/model.gguf", path, sizeof path);
    assert_int_equal(gguf_w_write(w, path, NULL, &err), QM_EIO);
    assert_non_null(strstr(err.msg, "Not a directory"));
    assert_int_equal(tdir_count(&d), 1);

    /* a directory without write permission (root ignores permissions) */
    if (geteuid() != 0) {
        char ro[256];
        tdir_file(&d, "ro", ro, sizeof ro);
        assert_int_equal(mkdir(ro, 0500), 0);
        tdir_file(&d, "ro/model.gguf", path, sizeof path);
        assert_int_equal(gguf_w_write(w, path, NULL, &err), QM_EIO);
        assert_non_null(strstr(err.msg, "Permission denied"));
        rmdir(ro);
    }

    /* the target is a directory: the rename fails, the temporary goes away */
    char sub[256];
    tdir_file(&d, "adir", sub, sizeof sub);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(gguf_w_write(w, sub, NULL, &err), QM_EIO);
    assert_non_null(strstr(err.msg, "cannot rename"));
    assert_int_equal(tdir_count(&d), 2);  /* plain and adir */
    rmdir(sub);

    gguf_w_free(w);
    tdir_remove(&d);
}

struct fail_ctx {
    int calls;
    size_t give;     /* bytes to write before failing / returning */
    bool fail;
};

static int failing_cb(void *ctx, struct gguf_w_stream *s, struct qm_err *err)
{
    struct fail_ctx *c = ctx;
    static const uint8_t zeros[4096];
    c->calls++;
    int rc = gguf_w_stream_write(s, zeros, c->give, err);
    if (rc < 0)
        return rc;
    if (c->fail)
        return qm_err_set(err, "test: the source went away");
    return 0;
}

/* A callback that fails, writes too little or too much: the write fails
 * with that reason, and an older file under the name is left as it was. */
static void test_callback_errors(void **state)
{
    (void)state;
    struct tdir d;
    struct qm_err err;
    char path[256];
    tdir_make(&d);
    tdir_file(&d, "model.gguf", path, sizeof path);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("old contents", fp);
    fclose(fp);

    static const struct { size_t give; bool fail; const char *msg; } cases[] = {
        {100, true, "the source went away"},
        {100, false, "28 of its 128 bytes were not written"},
        {200, false, "200 more bytes given where 128 were left of its 128"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gguf_writer *w;
        struct fail_ctx c = {.give = cases[i].give, .fail = cases[i].fail};
        int64_t ne[1] = {32};
        OK(gguf_w_new(&w, &err));
        OK(gguf_w_add_tensor_cb(w, "t", QM_TYPE_F32, 1, ne, failing_cb, &c, &err));
        assert_true(gguf_w_write(w, path, NULL, &err) < 0);
        assert_int_equal(c.calls, 1);
        assert_non_null(strstr(err.msg, cases[i].msg));
        gguf_w_free(w);
        assert_int_equal(tdir_count(&d), 1);
        char buf[64] = {0};
        fp = fopen(path, "r");
        assert_non_null(fp);
        assert_non_null(fgets(buf, sizeof buf, fp));
        fclose(fp);
        assert_string_equal(buf, "old contents");
    }
    tdir_remove(&d);
}

/* A write error in the middle of the data (here the file size limit, which
 * behaves as a full disk does: write(2) fails part way) removes the
 * temporary file and names the target. */
static void test_write_error(void **state)
{
    (void)state;
    struct tdir d;
    struct qm_err err;
    struct gguf_writer *w;
    char path[256];
    struct rlimit old, lim;
    tdir_make(&d);
    tdir_file(&d, "big.gguf", path, sizeof path);

    size_t n = 8u << 20;   /* larger than the writer's buffer, so it reaches write(2) */
    uint8_t *data = calloc(n, 1);
    assert_non_null(data);
    int64_t ne[1] = {(int64_t)n};
    OK(gguf_w_new(&w, &err));
    OK(gguf_w_add_tensor(w, "t", QM_TYPE_I8, 1, ne, data, &err));

    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1 << 20;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = gguf_w_write(w, path, NULL, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    assert_int_equal(rc, QM_EIO);
    assert_non_null(strstr(err.msg, "cannot write"));
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "File too large"));
    assert_int_equal(tdir_count(&d), 0);

    /* and without the limit the same writer succeeds */
    OK(gguf_w_write(w, path, NULL, &err));
    struct gguf_file *f;
    OK(gguf_open(&f, path, GGUF_OPEN_ANY_TYPE, &err));
    assert_int_equal(gguf_find_tensor(f, "t")->nbytes, n);
    gguf_close(f);

    gguf_w_free(w);
    free(data);
    tdir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_types),
        cmocka_unit_test(test_tensors_align32),
        cmocka_unit_test(test_tensors_align64),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_unwritable),
        cmocka_unit_test(test_callback_errors),
        cmocka_unit_test(test_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
