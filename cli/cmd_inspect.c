/* cmd_inspect.c - `qm inspect FILE [--json]`: what a GGUF file holds.
 *
 * The text form is for people, in the spirit of gguf-dump: a header line, one
 * line per metadata key (long arrays and strings abbreviated), the tensor
 * table and the total.  The JSON form is for programs and tests: every value
 * in full, floats with enough digits to round-trip (%.9g for f32, %.17g for
 * f64), strings as valid JSON whatever bytes the file holds.  The JSON is
 * written by hand here so the engine needs no JSON library; the escaping is
 * the one subtle part (invalid UTF-8 becomes U+FFFD, since JSON text must be
 * UTF-8; non-finite floats, which JSON has no number for, become the strings
 * "nan", "inf" and "-inf").
 *
 * The file is opened with GGUF_OPEN_ANY_TYPE: inspecting a file qm cannot run
 * is one of the reasons to inspect it. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gguf.h"

/* Text form: how much of a long value to show. */
#define INSPECT_STR_MAX 120       /* bytes of a string value */
#define INSPECT_ELEM_STR_MAX 40   /* bytes of a string inside an array */
#define INSPECT_ARRAY_ALL 8       /* arrays up to this long are shown whole */
#define INSPECT_ARRAY_HEAD 3      /* of longer ones, the first few elements */

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0 when the bytes there
 * are no valid sequence (overlong forms and surrogates included). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;   /* range of the second byte */

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* ======================================================================
 * Text form
 * ====================================================================== */

/* A string C-style quoted: printable UTF-8 as is, the rest escaped; cut
 * after max bytes of the source (never inside a UTF-8 sequence). */
static void text_str(FILE *o, struct gguf_str s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i = 0;
    putc('"', o);
    while (i < s.len && i < max) {
        size_t n = utf8_len(p + i, s.len - i);
        unsigned char c = p[i];
        if (n > 1) {
            if (i + n > max)
                break;
            fwrite(p + i, 1, n, o);
            i += n;
            continue;
        }
        if (c == '"' || c == '\\')
            fprintf(o, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", o);
        else if (c == '\t')
            fputs("\\t", o);
        else if (c == '\r')
            fputs("\\r", o);
        else if (n == 0 || c < 0x20 || c == 0x7f)
            fprintf(o, "\\x%02x", c);
        else
            putc(c, o);
        i++;
    }
    putc('"', o);
    if (i < s.len)
        fprintf(o, "...(%zu bytes)", s.len);
}

/* A key or tensor name, left-aligned in width columns; control bytes are
 * shown as '?' so that a hostile name cannot drive the terminal. */
static void text_name(FILE *o, const char *s, int width)
{
    int n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        putc(c < 0x20 || c == 0x7f ? '?' : c, o);
    }
    for (; n < width; n++)
        putc(' ', o);
}

static void text_value(FILE *o, const struct gguf_value *v, size_t str_max);

static void text_array(FILE *o, const struct gguf_value *v)
{
    uint64_t shown = v->count <= INSPECT_ARRAY_ALL ? v->count : INSPECT_ARRAY_HEAD;
    const char *tn = v->elem_type == GGUF_STRING ? "strings"
                   : v->elem_type == GGUF_ARRAY ? "arrays" : gguf_vtype_name(v->elem_type);
    fprintf(o, "[%" PRIu64 " %s%s", v->count, tn, v->count ? ": " : "");
    for (uint64_t i = 0; i < shown; i++) {
        struct gguf_value e;
        if (gguf_array_elem(v, i, &e, NULL))
            break;
        if (i)
            fputs(", ", o);
        text_value(o, &e, INSPECT_ELEM_STR_MAX);
    }
    fputs(shown < v->count ? ", ... ]" : "]", o);
}

static void text_value(FILE *o, const struct gguf_value *v, size_t str_max)
{
    union {
        uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
        uint64_t u64; int64_t i64; float f32; double f64; bool b;
    } x;
    struct gguf_str s;

    /* each getter succeeds: the switch is on the value's own type */
    switch (v->type) {
    case GGUF_U8: gguf_value_u8(v, &x.u8, NULL); fprintf(o, "%u", (unsigned)x.u8); break;
    case GGUF_I8: gguf_value_i8(v, &x.i8, NULL); fprintf(o, "%d", (int)x.i8); break;
    case GGUF_U16: gguf_value_u16(v, &x.u16, NULL); fprintf(o, "%u", (unsigned)x.u16); break;
    case GGUF_I16: gguf_value_i16(v, &x.i16, NULL); fprintf(o, "%d", (int)x.i16); break;
    case GGUF_U32: gguf_value_u32(v, &x.u32, NULL); fprintf(o, "%" PRIu32, x.u32); break;
    case GGUF_I32: gguf_value_i32(v, &x.i32, NULL); fprintf(o, "%" PRId32, x.i32); break;
    case GGUF_U64: gguf_value_u64(v, &x.u64, NULL); fprintf(o, "%" PRIu64, x.u64); break;
    case GGUF_I64: gguf_value_i64(v, &x.i64, NULL); fprintf(o, "%" PRId64, x.i64); break;
    case GGUF_F32: gguf_value_f32(v, &x.f32, NULL); fprintf(o, "%.9g", (double)x.f32); break;
    case GGUF_F64: gguf_value_f64(v, &x.f64, NULL); fprintf(o, "%.17g", x.f64); break;
    case GGUF_BOOL: gguf_value_bool(v, &x.b, NULL); fputs(x.b ? "true" : "false", o); break;
    case GGUF_STRING: gguf_value_str(v, &s, NULL); text_str(o, s, str_max); break;
    case GGUF_ARRAY: text_array(o, v); break;
    default: fputs("?", o); break;
    }
}

static void text_shape(char *buf, size_t cap, const struct gguf_tensor *t)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (uint32_t d = 0; d < t->n_dims && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64, d ? ", " : "", t->ne[d]);
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
}

static void human_bytes(char *buf, size_t cap, uint64_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void print_text(FILE *o, const struct gguf_file *f)
{
    int64_t nkv = gguf_kv_count(f), nt = gguf_tensor_count(f);
    int kw = 10, nw = 4;
    char type[32], shape[96], hb[32];

    fprintf(o, "GGUF v%" PRIu32 ": %" PRId64 " tensors, %" PRId64 " metadata keys, alignment %"
            PRIu32 ", data at byte %" PRIu64 ", file %" PRIu64 " bytes\n", gguf_version(f), nt,
            nkv, gguf_alignment(f), gguf_data_start(f), gguf_file_size(f));

    for (int64_t i = 0; i < nkv; i++) {
        int n = (int)strlen(gguf_kv_key(f, i));
        if (n > kw)
            kw = n < 48 ? n : 48;
    }
    fprintf(o, "\nMetadata (%" PRId64 " keys):\n", nkv);
    for (int64_t i = 0; i < nkv; i++) {
        const struct gguf_value *v = gguf_kv_value(f, i);
        if (v->type == GGUF_ARRAY)
            snprintf(type, sizeof type, "array[%s]", gguf_vtype_name(v->elem_type));
        else
            snprintf(type, sizeof type, "%s", gguf_vtype_name(v->type));
        fprintf(o, "%5" PRId64 "  ", i);
        text_name(o, gguf_kv_key(f, i), kw);
        fprintf(o, "  %-13s  ", type);
        text_value(o, v, INSPECT_STR_MAX);
        putc('\n', o);
    }

    for (int64_t i = 0; i < nt; i++) {
        int n = (int)strlen(gguf_tensor(f, i)->name);
        if (n > nw)
            nw = n;
    }
    fprintf(o, "\nTensors (%" PRId64 "):\n", nt);
    fprintf(o, "%5s  %-*s  %-7s  %-26s  %14s  %14s\n", "#", nw, "name", "type", "shape",
            "bytes", "offset");
    for (int64_t i = 0; i < nt; i++) {
        const struct gguf_tensor *t = gguf_tensor(f, i);
        text_shape(shape, sizeof shape, t);
        fprintf(o, "%5" PRId64 "  ", i);
        text_name(o, t->name, nw);
        fprintf(o, "  %-7s  %-26s  %14" PRIu64 "  %14" PRIu64 "\n", qm_type_name(t->type), shape,
                t->nbytes, t->offset);
    }
    human_bytes(hb, sizeof hb, gguf_tensor_bytes(f));
    fprintf(o, "\nTotal tensor bytes: %" PRIu64 " (%s)\n", gguf_tensor_bytes(f), hb);
}

/* ======================================================================
 * JSON form
 * ====================================================================== */

static void json_str(FILE *o, const char *ptr, size_t len)
{
    const unsigned char *p = (const unsigned char *)ptr;
    putc('"', o);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = utf8_len(p + i, len - i);
        if (n == 0) {
            fputs("\\ufffd", o);    /* JSON text must be UTF-8 */
            i++;
            continue;
        }
        if (n > 1) {
            fwrite(p + i, 1, n, o);
            i += n;
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", o); break;
        case '\\': fputs("\\\\", o); break;
        case '\n': fputs("\\n", o); break;
        case '\t': fputs("\\t", o); break;
        case '\r': fputs("\\r", o); break;
        case '\b': fputs("\\b", o); break;
        case '\f': fputs("\\f", o); break;
        default:
            if (c < 0x20)
                fprintf(o, "\\u%04x", c);
            else
                putc(c, o);
        }
        i++;
    }
    putc('"', o);
}

static void json_float(FILE *o, double x, const char *fmt)
{
    if (isnan(x))
        fputs("\"nan\"", o);
    else if (isinf(x))
        fputs(x > 0 ? "\"inf\"" : "\"-inf\"", o);
    else
        fprintf(o, fmt, x);
}

static void json_value(FILE *o, const struct gguf_value *v);

/* An array's elements as a JSON array; an element that is itself an array
 * becomes {"elem_type": ..., "value": [...]} so its element type survives. */
static void json_array(FILE *o, const struct gguf_value *v)
{
    putc('[', o);
    for (uint64_t i = 0; i < v->count; i++) {
        struct gguf_value e;
        if (gguf_array_elem(v, i, &e, NULL))
            break;
        if (i)
            fputs(", ", o);
        if (e.type == GGUF_ARRAY) {
            fprintf(o, "{\"elem_type\": \"%s\", \"value\": ", gguf_vtype_name(e.elem_type));
            json_array(o, &e);
            putc('}', o);
        } else {
            json_value(o, &e);
        }
    }
    putc(']', o);
}

static void json_value(FILE *o, const struct gguf_value *v)
{
    union {
        uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
        uint64_t u64; int64_t i64; float f32; double f64; bool b;
    } x;
    struct gguf_str s;

    switch (v->type) {
    case GGUF_U8: gguf_value_u8(v, &x.u8, NULL); fprintf(o, "%u", (unsigned)x.u8); break;
    case GGUF_I8: gguf_value_i8(v, &x.i8, NULL); fprintf(o, "%d", (int)x.i8); break;
    case GGUF_U16: gguf_value_u16(v, &x.u16, NULL); fprintf(o, "%u", (unsigned)x.u16); break;
    case GGUF_I16: gguf_value_i16(v, &x.i16, NULL); fprintf(o, "%d", (int)x.i16); break;
    case GGUF_U32: gguf_value_u32(v, &x.u32, NULL); fprintf(o, "%" PRIu32, x.u32); break;
    case GGUF_I32: gguf_value_i32(v, &x.i32, NULL); fprintf(o, "%" PRId32, x.i32); break;
    case GGUF_U64: gguf_value_u64(v, &x.u64, NULL); fprintf(o, "%" PRIu64, x.u64); break;
    case GGUF_I64: gguf_value_i64(v, &x.i64, NULL); fprintf(o, "%" PRId64, x.i64); break;
    case GGUF_F32: gguf_value_f32(v, &x.f32, NULL); json_float(o, x.f32, "%.9g"); break;
    case GGUF_F64: gguf_value_f64(v, &x.f64, NULL); json_float(o, x.f64, "%.17g"); break;
    case GGUF_BOOL: gguf_value_bool(v, &x.b, NULL); fputs(x.b ? "true" : "false", o); break;
    case GGUF_STRING: gguf_value_str(v, &s, NULL); json_str(o, s.ptr, s.len); break;
    case GGUF_ARRAY: json_array(o, v); break;
    default: fputs("null", o); break;
    }
}

static void print_json(FILE *o, const struct gguf_file *f)
{
    int64_t nkv = gguf_kv_count(f), nt = gguf_tensor_count(f);

    fprintf(o, "{\n  \"version\": %" PRIu32 ",\n  \"file_size\": %" PRIu64 ",\n  \"alignment\": %"
            PRIu32 ",\n  \"data_offset\": %" PRIu64 ",\n  \"kv_count\": %" PRId64
            ",\n  \"tensor_count\": %" PRId64 ",\n  \"metadata\": [", gguf_version(f),
            gguf_file_size(f), gguf_alignment(f), gguf_data_start(f), nkv, nt);
    for (int64_t i = 0; i < nkv; i++) {
        const struct gguf_value *v = gguf_kv_value(f, i);
        const char *key = gguf_kv_key(f, i);
        fputs(i ? ",\n    {\"key\": " : "\n    {\"key\": ", o);
        json_str(o, key, strlen(key));
        fprintf(o, ", \"type\": \"%s\", ", gguf_vtype_name(v->type));
        if (v->type == GGUF_ARRAY)
            fprintf(o, "\"elem_type\": \"%s\", ", gguf_vtype_name(v->elem_type));
        fputs("\"value\": ", o);
        json_value(o, v);
        putc('}', o);
    }
    fputs(nkv ? "\n  ],\n  \"tensors\": [" : "],\n  \"tensors\": [", o);
    for (int64_t i = 0; i < nt; i++) {
        const struct gguf_tensor *t = gguf_tensor(f, i);
        fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", o);
        json_str(o, t->name, strlen(t->name));
        fprintf(o, ", \"type\": \"%s\", \"type_id\": %d, \"shape\": [", qm_type_name(t->type),
                (int)t->type);
        for (uint32_t d = 0; d < t->n_dims; d++)
            fprintf(o, "%s%" PRId64, d ? ", " : "", t->ne[d]);
        fprintf(o, "], \"offset\": %" PRIu64 ", \"nbytes\": %" PRIu64 ", \"file_offset\": %" PRIu64
                "}", t->offset, t->nbytes, gguf_data_start(f) + t->offset);
    }
    fprintf(o, "%s  \"total_tensor_bytes\": %" PRIu64 "\n}\n", nt ? "\n  ],\n" : "],\n",
            gguf_tensor_bytes(f));
}

/* ======================================================================
 * The command
 * ====================================================================== */

static void usage(FILE *o)
{
    fprintf(o, "Usage: qm inspect FILE [--json]\n\n"
               "Print a GGUF file's header, metadata and tensor table.\n"
               "  --json   everything as one JSON document, values in full\n");
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    struct gguf_file *f = NULL;
    struct qm_err err = {{0}};
    int rc;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "qm inspect: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (path) {
            fprintf(stderr, "qm inspect: one file at a time\n");
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }

    if ((rc = gguf_open(&f, path, GGUF_OPEN_ANY_TYPE, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (json)
        print_json(stdout, f);
    else
        print_text(stdout, f);
    gguf_close(f);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "qm inspect: cannot write the output\n");
        return 1;
    }
    return 0;
}
