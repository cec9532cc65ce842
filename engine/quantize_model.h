/* quantize_model.h - turning an F32/F16/BF16 GGUF model into a quantized one.
 *
 * A llama.cpp "file type" (general.file_type, engine-reference.md 2.5) is not
 * one tensor type but a mix: norms and biases stay F32, the output head gets
 * more bits, some layers' attn_v and ffn_down get more bits than the rest,
 * and a tensor whose rows do not divide into the chosen type's blocks falls
 * back to another type.  qm_ftype_tensor_type is that rule for one tensor;
 * qm_quantize_model applies it to a whole file, streaming tensor by tensor
 * (rows quantized in parallel) so that memory use stays a few row blocks
 * whatever the model's size.  The rules are those of llama.cpp's quantizer
 * for dense models without an importance matrix. */
#ifndef QM_ENGINE_QUANTIZE_MODEL_H
#define QM_ENGINE_QUANTIZE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "quant.h"

/* llama.cpp's file type ids (not ggml's ggml_ftype numbering); only those qm
 * can produce are listed. */
enum qm_ftype {
    QM_FTYPE_ALL_F32 = 0,
    QM_FTYPE_F16 = 1,
    QM_FTYPE_Q4_0 = 2,
    QM_FTYPE_Q4_1 = 3,
    QM_FTYPE_Q8_0 = 7,
    QM_FTYPE_Q5_0 = 8,
    QM_FTYPE_Q5_1 = 9,
    QM_FTYPE_Q2_K = 10,
    QM_FTYPE_Q3_K_S = 11,
    QM_FTYPE_Q3_K_M = 12,
    QM_FTYPE_Q3_K_L = 13,
    QM_FTYPE_Q4_K_S = 14,
    QM_FTYPE_Q4_K_M = 15,
    QM_FTYPE_Q5_K_S = 16,
    QM_FTYPE_Q5_K_M = 17,
    QM_FTYPE_Q6_K = 18,
    QM_FTYPE_IQ4_NL = 25,
    QM_FTYPE_IQ4_XS = 30,
    QM_FTYPE_BF16 = 32,
};

/* "Q4_K_M", "F16" ...; NULL for an id qm does not produce. */
const char *qm_ftype_name(uint32_t ftype);
/* Parse a name, case-insensitively: "q4_k_m", "Q8_0", "f16", "bf16", "f32";
 * also llama.cpp's aliases "q3_k" (Q3_K_M), "q4_k" (Q4_K_M), "q5_k" (Q5_K_M).
 * QM_EINVAL with a message listing the choices for anything else. */
int qm_ftype_parse(const char *s, enum qm_ftype *out, struct qm_err *err);
/* The tensor type most tensors of that file type get (Q4_K for Q4_K_M). */
enum qm_type qm_ftype_base_type(enum qm_ftype ftype);

/* N for a tensor named "blk.N.<...>", -1 for any other name. */
int qm_tensor_layer(const char *name);

/* The type a tensor gets in a file of type ftype.
 *   name, n_dims, ne0   the tensor ("blk.3.ffn_down.weight", 2, 5632)
 *   layer, n_layer      its layer (-1 outside the blocks) and the layer count
 *   n_gqa               n_head / n_head_kv
 *   tied_output         the file has no output.weight: token_embd is the head
 * Tensors that are not quantized (norms, biases, 1-D) get F32. */
enum qm_type qm_ftype_tensor_type(enum qm_ftype ftype, const char *name, uint32_t n_dims, int64_t ne0,
                                  int layer, int n_layer, int n_gqa, bool tied_output);

/* Whether qm_quantize_row can produce type t: every type with a quantizer
 * in the type table, plus IQ4_NL and IQ4_XS, quantized here. */
bool qm_can_quantize(enum qm_type t);
/* Quantize n values (a whole number of t's blocks) into dst; t must pass
 * qm_can_quantize.  Thread-safe. */
void qm_quantize_row(enum qm_type t, const float *src, void *dst, int64_t n);

/* ---- whole files ---------------------------------------------------------- */

struct qm_quant_progress {
    int64_t index, count;         /* tensor index in the file, number of tensors */
    const char *name;
    uint32_t n_dims;
    int64_t ne[4];
    enum qm_type src_type, dst_type;
    uint64_t src_bytes, dst_bytes;
};

/* Called after each tensor has been written, from the calling thread. */
typedef void (*qm_quant_progress_fn)(void *ctx, const struct qm_quant_progress *p);

struct qm_quant_stats {
    int64_t n_tensors;
    int64_t n_quantized;          /* tensors whose type changed */
    uint64_t n_elements;          /* parameters */
    uint64_t src_tensor_bytes, dst_tensor_bytes;
    uint64_t src_file_bytes, dst_file_bytes;
    enum qm_type src_type;        /* type of most weight bytes of the input */
};

/* Re-quantize the model in_path (its weights F32, F16 or BF16) to a file of
 * type ftype at out_path, written atomically (out_path may equal in_path).
 * Metadata is copied; general.file_type and general.quantization_version are
 * set.  A tensor of another type is copied when the rule gives it that same
 * type and refused otherwise, naming it.  threads <= 0: all cores.
 * progress and stats may be NULL. */
int qm_quantize_model(const char *in_path, const char *out_path, enum qm_ftype ftype, int threads,
                      qm_quant_progress_fn progress, void *progress_ctx, struct qm_quant_stats *stats,
                      struct qm_err *err);

#endif
