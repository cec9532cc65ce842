/* gguf_write.h - building a GGUF file and writing it atomically.
 *
 * A struct gguf_writer collects metadata (key/value pairs of every GGUF value
 * type, arrays of arrays included) and tensor infos (name, type, shape) in
 * memory; gguf_w_write then lays the file out as section 1 of
 * shared/docs/engine-reference.md describes and writes it under its final
 * name only once every byte is on disk: the bytes go to PATH.tmp-XXXXXX in
 * the same directory, which is fsync'ed and renamed over PATH.  On any error
 * the temporary file is removed and nothing appears under PATH.
 *
 * Tensor data is not held by the writer.  A tensor either points at a caller
 * buffer that must stay valid until gguf_w_write returns, or names a callback
 * that produces its bytes at write time through gguf_w_stream_write, in as
 * many pieces as it likes: a multi-gigabyte model is written without ever
 * being whole in memory.
 *
 * Metadata keys keep the order in which they were first set; setting a key
 * again replaces its value in place.  `general.alignment` (u32, a power of
 * two) sets the alignment of the data section and of every tensor; 32 when
 * absent. */
#ifndef QM_ENGINE_GGUF_WRITE_H
#define QM_ENGINE_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "quant.h"

struct gguf_writer;
/* A metadata value under construction (used for arrays of arrays). */
struct gguf_w_value;
/* Where a tensor callback writes the tensor's bytes. */
struct gguf_w_stream;

/* Produce the bytes of one tensor: call gguf_w_stream_write until exactly the
 * tensor's size has been written, then return 0; or return a negative code
 * with err filled, which aborts the whole write. */
typedef int (*gguf_w_data_fn)(void *ctx, struct gguf_w_stream *s, struct qm_err *err);

int gguf_w_new(struct gguf_writer **out, struct qm_err *err);
void gguf_w_free(struct gguf_writer *w);

/* ---- metadata ----------------------------------------------------------- */

int gguf_w_set_u8(struct gguf_writer *w, const char *key, uint8_t v, struct qm_err *err);
int gguf_w_set_i8(struct gguf_writer *w, const char *key, int8_t v, struct qm_err *err);
int gguf_w_set_u16(struct gguf_writer *w, const char *key, uint16_t v, struct qm_err *err);
int gguf_w_set_i16(struct gguf_writer *w, const char *key, int16_t v, struct qm_err *err);
int gguf_w_set_u32(struct gguf_writer *w, const char *key, uint32_t v, struct qm_err *err);
int gguf_w_set_i32(struct gguf_writer *w, const char *key, int32_t v, struct qm_err *err);
int gguf_w_set_f32(struct gguf_writer *w, const char *key, float v, struct qm_err *err);
int gguf_w_set_bool(struct gguf_writer *w, const char *key, bool v, struct qm_err *err);
int gguf_w_set_u64(struct gguf_writer *w, const char *key, uint64_t v, struct qm_err *err);
int gguf_w_set_i64(struct gguf_writer *w, const char *key, int64_t v, struct qm_err *err);
int gguf_w_set_f64(struct gguf_writer *w, const char *key, double v, struct qm_err *err);
/* A NUL-terminated string, or len bytes of any content. */
int gguf_w_set_str(struct gguf_writer *w, const char *key, const char *s, struct qm_err *err);
int gguf_w_set_strn(struct gguf_writer *w, const char *key, const char *s, size_t len,
                    struct qm_err *err);
/* An array of n scalars of type elem, given in the host's C types (uint8_t,
 * int16_t, float, double, bool ...).  Not for GGUF_STRING or GGUF_ARRAY. */
int gguf_w_set_array(struct gguf_writer *w, const char *key, enum gguf_vtype elem, const void *data,
                     uint64_t n, struct qm_err *err);
/* An array of n strings; lens may be NULL for NUL-terminated strings. */
int gguf_w_set_str_array(struct gguf_writer *w, const char *key, const char *const *strs,
                         const size_t *lens, uint64_t n, struct qm_err *err);
/* Any value built with the gguf_w_value_* functions below.  The writer takes
 * ownership of v, also when it fails. */
int gguf_w_set_value(struct gguf_writer *w, const char *key, struct gguf_w_value *v,
                     struct qm_err *err);
/* Remove a key; 0 whether or not it was there. */
int gguf_w_remove(struct gguf_writer *w, const char *key);
bool gguf_w_has_key(const struct gguf_writer *w, const char *key);
int64_t gguf_w_kv_count(const struct gguf_writer *w);

/* Copy KV i of an opened file, or all KVs whose key starts with prefix (NULL
 * or "" for all of them), values and types unchanged. */
int gguf_w_copy_kv(struct gguf_writer *w, const struct gguf_file *f, int64_t i, struct qm_err *err);
int gguf_w_copy_kvs(struct gguf_writer *w, const struct gguf_file *f, const char *prefix,
                    struct qm_err *err);

/* ---- values (arrays of arrays) ------------------------------------------ */

/* An empty array whose elements have type elem (GGUF_ARRAY for an array of
 * arrays, whose sub-arrays may each have their own element type). */
int gguf_w_value_array(struct gguf_w_value **out, enum gguf_vtype elem, struct qm_err *err);
/* Append n scalars (host C types, as for gguf_w_set_array) of the array's
 * element type, which must be type. */
int gguf_w_value_push(struct gguf_w_value *arr, enum gguf_vtype type, const void *data, uint64_t n,
                      struct qm_err *err);
int gguf_w_value_push_str(struct gguf_w_value *arr, const char *s, size_t len, struct qm_err *err);
/* Append a sub-array; arr takes ownership of sub, also when it fails. */
int gguf_w_value_push_array(struct gguf_w_value *arr, struct gguf_w_value *sub, struct qm_err *err);
/* A copy of a value read from a file (any type, nested arrays included). */
int gguf_w_value_from_file(struct gguf_w_value **out, const struct gguf_value *v, struct qm_err *err);
void gguf_w_value_free(struct gguf_w_value *v);

/* ---- tensors ------------------------------------------------------------ */

/* A tensor of n_dims (1..4) dimensions ne[0..n_dims-1], ne[0] innermost and
 * a multiple of the type's block size; names are unique and under 64 bytes.
 * data holds the tensor's bytes and must outlive gguf_w_write. */
int gguf_w_add_tensor(struct gguf_writer *w, const char *name, enum qm_type type, uint32_t n_dims,
                      const int64_t *ne, const void *data, struct qm_err *err);
/* The same, with the bytes produced by fn(ctx, ...) while the file is written. */
int gguf_w_add_tensor_cb(struct gguf_writer *w, const char *name, enum qm_type type, uint32_t n_dims,
                         const int64_t *ne, gguf_w_data_fn fn, void *ctx, struct qm_err *err);
int64_t gguf_w_tensor_count(const struct gguf_writer *w);
/* Sum of the tensors' sizes, without padding. */
uint64_t gguf_w_tensor_bytes(const struct gguf_writer *w);

/* For data callbacks: append n bytes of the current tensor.  Writing past
 * the tensor's size is an error. */
int gguf_w_stream_write(struct gguf_w_stream *s, const void *buf, size_t n, struct qm_err *err);
/* Bytes of the current tensor still expected. */
uint64_t gguf_w_stream_left(const struct gguf_w_stream *s);

/* ---- writing ------------------------------------------------------------ */

/* Write the file to path atomically (see the top of this file).  The writer
 * can be written again afterwards.  *size_out (may be NULL) gets the size of
 * the file written. */
int gguf_w_write(struct gguf_writer *w, const char *path, uint64_t *size_out, struct qm_err *err);

#endif
