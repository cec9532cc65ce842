/* gguf.h - reading GGUF files: metadata, tensor table, tensor bytes.
 *
 * gguf_open maps a GGUF v2 or v3 file read-only and checks all of it before it
 * returns: every length, count, offset and size is bounded by the file, so a
 * caller may use whatever the API hands out without further checks.  Nothing
 * is copied: strings and tensor data point into the mapping, which lives until
 * gguf_close.  The layout is described in shared/docs/engine-reference.md
 * section 1.
 *
 * Metadata values are read through typed getters that are strict: asking for
 * a u32 where the file holds an i32 is an error, never a conversion. */
#ifndef QM_ENGINE_GGUF_H
#define QM_ENGINE_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "quant.h"

/* Metadata value types; the ids are GGUF's. */
enum gguf_vtype {
    GGUF_U8 = 0,
    GGUF_I8 = 1,
    GGUF_U16 = 2,
    GGUF_I16 = 3,
    GGUF_U32 = 4,
    GGUF_I32 = 5,
    GGUF_F32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_U64 = 10,
    GGUF_I64 = 11,
    GGUF_F64 = 12,
    GGUF_VTYPE_COUNT = 13,
};

enum {
    GGUF_DEFAULT_ALIGNMENT = 32,
    GGUF_MAX_DIMS = 4,
    GGUF_NAME_MAX = 64,        /* tensor names are at most 63 bytes */
    GGUF_MAX_ARRAY_DEPTH = 8,  /* an array of arrays of ... at most this deep */
};

/* gguf_open flags */
enum {
    /* Accept tensors of types qm cannot compute with (IQ2_XXS, MXFP4, I8...);
     * by default such a file is refused, naming the tensor and its type. */
    GGUF_OPEN_ANY_TYPE = 1u << 0,
};

/* Returned by the gguf_get_* getters when the key is absent, so that a caller
 * can tell "use the default" apart from "the file is wrong". */
#define GGUF_ENOKEY (-16)

struct gguf_file;

/* A string inside the mapping: not NUL-terminated, may hold any bytes. */
struct gguf_str {
    const char *ptr;
    size_t len;
};

/* One metadata value, or one element of an array value.  Read type,
 * elem_type and count directly; use the functions below for the contents. */
struct gguf_value {
    enum gguf_vtype type;
    enum gguf_vtype elem_type; /* arrays: the type of every element */
    uint64_t count;            /* arrays: number of elements; 1 otherwise */
    uint64_t offset;           /* byte in the file where data starts */
    const uint8_t *data;       /* the payload in the mapping (scalars: the value;
                                  strings: the u64 length; arrays: element 0) */
    void *index;               /* the reader's: element offsets or sub-arrays */
};

/* One tensor info, checked: its data lies within the file, aligned, and
 * overlaps no other tensor's. */
struct gguf_tensor {
    char name[GGUF_NAME_MAX];  /* NUL-terminated */
    uint32_t n_dims;           /* 1..4 */
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] innermost; dims past n_dims are 1 */
    enum qm_type type;
    uint64_t offset;           /* from the start of the data section */
    uint64_t nbytes;
    const void *data;          /* in the mapping */
};

/* ---- opening ------------------------------------------------------------ */

int gguf_open(struct gguf_file **out, const char *path, unsigned flags, struct qm_err *err);

/* Parse a GGUF image already in memory; nothing is copied, so data must
 * outlive the returned file.  For tests and fuzzing. */
int gguf_open_memory(struct gguf_file **out, const void *data, size_t size, unsigned flags,
                     struct qm_err *err);

void gguf_close(struct gguf_file *f);

/* ---- the file ----------------------------------------------------------- */

uint32_t gguf_version(const struct gguf_file *f);
uint64_t gguf_file_size(const struct gguf_file *f);
uint32_t gguf_alignment(const struct gguf_file *f);
/* Where the data section starts: the end of the tensor infos, rounded up to
 * the alignment.  May lie past the end of a file that has no tensor bytes. */
uint64_t gguf_data_start(const struct gguf_file *f);
/* Sum of the tensors' nbytes. */
uint64_t gguf_tensor_bytes(const struct gguf_file *f);

/* ---- metadata ----------------------------------------------------------- */

int64_t gguf_kv_count(const struct gguf_file *f);
/* The key of KV i (0 <= i < count) as a C string (keys hold no NUL byte). */
const char *gguf_kv_key(const struct gguf_file *f, int64_t i);
const struct gguf_value *gguf_kv_value(const struct gguf_file *f, int64_t i);
/* Index of the key, or -1. */
int64_t gguf_find_key(const struct gguf_file *f, const char *key);
/* The value of the key, or NULL. */
const struct gguf_value *gguf_find(const struct gguf_file *f, const char *key);

const char *gguf_vtype_name(enum gguf_vtype t);  /* "u32", "string", ... */

/* Strict scalar getters on a value (a KV's value or an array element):
 * QM_EINVAL, with a message naming both types, when the type differs. */
int gguf_value_u8(const struct gguf_value *v, uint8_t *out, struct qm_err *err);
int gguf_value_i8(const struct gguf_value *v, int8_t *out, struct qm_err *err);
int gguf_value_u16(const struct gguf_value *v, uint16_t *out, struct qm_err *err);
int gguf_value_i16(const struct gguf_value *v, int16_t *out, struct qm_err *err);
int gguf_value_u32(const struct gguf_value *v, uint32_t *out, struct qm_err *err);
int gguf_value_i32(const struct gguf_value *v, int32_t *out, struct qm_err *err);
int gguf_value_f32(const struct gguf_value *v, float *out, struct qm_err *err);
int gguf_value_bool(const struct gguf_value *v, bool *out, struct qm_err *err);
int gguf_value_u64(const struct gguf_value *v, uint64_t *out, struct qm_err *err);
int gguf_value_i64(const struct gguf_value *v, int64_t *out, struct qm_err *err);
int gguf_value_f64(const struct gguf_value *v, double *out, struct qm_err *err);
int gguf_value_str(const struct gguf_value *v, struct gguf_str *out, struct qm_err *err);

/* Element i of an array value, itself a value (an array again for arrays of
 * arrays).  QM_EINVAL when v is no array or i is out of range. */
int gguf_array_elem(const struct gguf_value *v, uint64_t i, struct gguf_value *out,
                    struct qm_err *err);
/* Element i of an array of strings, in O(1) (vocabularies are read this way). */
int gguf_array_str(const struct gguf_value *v, uint64_t i, struct gguf_str *out,
                   struct qm_err *err);

/* The same getters by key: GGUF_ENOKEY when the key is absent, QM_EINVAL when
 * its type differs ("gguf: key 'llama.block_count' has type i32, not u32"). */
int gguf_get_u8(const struct gguf_file *f, const char *key, uint8_t *out, struct qm_err *err);
int gguf_get_i8(const struct gguf_file *f, const char *key, int8_t *out, struct qm_err *err);
int gguf_get_u16(const struct gguf_file *f, const char *key, uint16_t *out, struct qm_err *err);
int gguf_get_i16(const struct gguf_file *f, const char *key, int16_t *out, struct qm_err *err);
int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out, struct qm_err *err);
int gguf_get_i32(const struct gguf_file *f, const char *key, int32_t *out, struct qm_err *err);
int gguf_get_f32(const struct gguf_file *f, const char *key, float *out, struct qm_err *err);
int gguf_get_bool(const struct gguf_file *f, const char *key, bool *out, struct qm_err *err);
int gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t *out, struct qm_err *err);
int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out, struct qm_err *err);
int gguf_get_f64(const struct gguf_file *f, const char *key, double *out, struct qm_err *err);
int gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *out,
                 struct qm_err *err);
/* An array-valued key; QM_EINVAL when the value is no array. */
int gguf_get_array(const struct gguf_file *f, const char *key, const struct gguf_value **out,
                   struct qm_err *err);

/* Copy s into dst (capacity cap >= 1) as a NUL-terminated C string, cut at
 * cap - 1 bytes; returns s.len, as snprintf does, so a cut is visible. */
size_t gguf_str_copy(char *dst, size_t cap, struct gguf_str s);
/* A malloc'd NUL-terminated copy, or NULL when out of memory. */
char *gguf_str_dup(struct gguf_str s);
/* Whether s equals the C string c. */
bool gguf_str_eq(struct gguf_str s, const char *c);

/* ---- tensors ------------------------------------------------------------ */

int64_t gguf_tensor_count(const struct gguf_file *f);
/* Tensor i in file order (0 <= i < count). */
const struct gguf_tensor *gguf_tensor(const struct gguf_file *f, int64_t i);
/* The tensor of that name, or NULL. */
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name);
/* ne[0] * ne[1] * ne[2] * ne[3] (checked against overflow at open). */
int64_t gguf_tensor_nelements(const struct gguf_tensor *t);

#endif
