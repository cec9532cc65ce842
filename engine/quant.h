/* quant.h - the tensor types qm computes with: block layouts and one table.
 *
 * Each type is one row of the table in quant.c: elements per block, bytes per
 * block, dequantize, quantize, the reference dot product and the activation
 * type that dot product pairs with.  Code that handles "any type" looks the
 * row up instead of switching on the type.  Layouts are GGUF's (see
 * shared/docs/engine-reference.md section 2); every block struct carries a
 * static assertion of its size. */
#ifndef QM_ENGINE_QUANT_H
#define QM_ENGINE_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp16.h"

/* Ids are the GGUF tensor type field. */
enum qm_type {
    QM_TYPE_F32 = 0,
    QM_TYPE_F16 = 1,
    QM_TYPE_Q4_0 = 2,
    QM_TYPE_Q4_1 = 3,
    QM_TYPE_Q5_0 = 6,
    QM_TYPE_Q5_1 = 7,
    QM_TYPE_Q8_0 = 8,
    QM_TYPE_Q8_1 = 9,
    QM_TYPE_Q2_K = 10,
    QM_TYPE_Q3_K = 11,
    QM_TYPE_Q4_K = 12,
    QM_TYPE_Q5_K = 13,
    QM_TYPE_Q6_K = 14,
    QM_TYPE_Q8_K = 15,
    QM_TYPE_IQ2_XXS = 16,
    QM_TYPE_IQ2_XS = 17,
    QM_TYPE_IQ3_XXS = 18,
    QM_TYPE_IQ1_S = 19,
    QM_TYPE_IQ4_NL = 20,
    QM_TYPE_IQ3_S = 21,
    QM_TYPE_IQ2_S = 22,
    QM_TYPE_IQ4_XS = 23,
    QM_TYPE_I8 = 24,
    QM_TYPE_I16 = 25,
    QM_TYPE_I32 = 26,
    QM_TYPE_I64 = 27,
    QM_TYPE_F64 = 28,
    QM_TYPE_IQ1_M = 29,
    QM_TYPE_BF16 = 30,
    QM_TYPE_TQ1_0 = 34,
    QM_TYPE_TQ2_0 = 35,
    QM_TYPE_MXFP4 = 39,
    QM_TYPE_COUNT = 40,
};

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK4_NL 32
#define QK_K 256
#define K_SCALE_SIZE 12

/* ---- 32-element blocks ------------------------------------------------ */

typedef struct { qm_f16 d; uint8_t qs[QK4_0 / 2]; } blk_q4_0;
typedef struct { qm_f16 d, m; uint8_t qs[QK4_1 / 2]; } blk_q4_1;
typedef struct { qm_f16 d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } blk_q5_0;
typedef struct { qm_f16 d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } blk_q5_1;
typedef struct { qm_f16 d; int8_t qs[QK8_0]; } blk_q8_0;
/* activation format for the "_1" weight types: s = d * sum(qs) */
typedef struct { qm_f16 d, s; int8_t qs[QK8_1]; } blk_q8_1;
typedef struct { qm_f16 d; uint8_t qs[QK4_NL / 2]; } blk_iq4_nl;

_Static_assert(sizeof(blk_q4_0) == 18, "q4_0 block size");
_Static_assert(sizeof(blk_q4_1) == 20, "q4_1 block size");
_Static_assert(sizeof(blk_q5_0) == 22, "q5_0 block size");
_Static_assert(sizeof(blk_q5_1) == 24, "q5_1 block size");
_Static_assert(sizeof(blk_q8_0) == 34, "q8_0 block size");
_Static_assert(sizeof(blk_q8_1) == 36, "q8_1 block size");
_Static_assert(sizeof(blk_iq4_nl) == 18, "iq4_nl block size");

/* ---- 256-element super-blocks (K-quants) ------------------------------ */

typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; qm_f16 d, dmin; } blk_q2_k;
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; qm_f16 d; } blk_q3_k;
typedef struct { qm_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } blk_q4_k;
typedef struct { qm_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } blk_q5_k;
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; qm_f16 d; } blk_q6_k;
/* activation format for the K-quants: d is f32; bsums[g] = sum of qs[16g..16g+15] */
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } blk_q8_k;
typedef struct { qm_f16 d; uint16_t scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; } blk_iq4_xs;

_Static_assert(sizeof(blk_q2_k) == 84, "q2_k block size");
_Static_assert(sizeof(blk_q3_k) == 110, "q3_k block size");
_Static_assert(sizeof(blk_q4_k) == 144, "q4_k block size");
_Static_assert(sizeof(blk_q5_k) == 176, "q5_k block size");
_Static_assert(sizeof(blk_q6_k) == 210, "q6_k block size");
_Static_assert(sizeof(blk_q8_k) == 292, "q8_k block size");
_Static_assert(sizeof(blk_iq4_xs) == 136, "iq4_xs block size");

/* The IQ4_NL / IQ4_XS code book (engine-reference.md 2.2). */
extern const int8_t qm_iq4nl_values[16];

/* ---- the table -------------------------------------------------------- */

/* n is a whole number of blocks in all three. */
typedef void (*qm_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*qm_from_float_fn)(const float *src, void *dst, int64_t n);
/* *s = dot(w, a) over n elements; w in the weight type, a in its act_type. */
typedef void (*qm_vec_dot_fn)(int64_t n, float *s, const void *w, const void *a);

struct qm_type_traits {
    const char *name;          /* as GGUF tools print it: "Q4_K", "F16" */
    int64_t blck;              /* elements per block; 0: a retired id */
    size_t size;               /* bytes per block */
    bool compute;              /* qm can dequantize and dot this type */
    enum qm_type act_type;     /* the activation type vec_dot expects */
    qm_to_float_fn to_float;   /* NULL where !compute */
    qm_from_float_fn from_float; /* NULL where qm has no quantizer */
    qm_vec_dot_fn vec_dot;     /* plain-C reference; NULL where !compute */
};

/* The row of a GGUF type id, or NULL for an id that is no type at all
 * (>= QM_TYPE_COUNT or retired).  Rows of types qm does not compute with
 * still carry name, blck and size so files holding them can be sized. */
const struct qm_type_traits *qm_type_traits(uint32_t id);

/* Name of any id, "unknown(N)" style names for ids that are no type. */
const char *qm_type_name(uint32_t id);

/* Bytes of a row of n elements; n must be a multiple of the block size. */
size_t qm_row_size(enum qm_type type, int64_t n);

#endif
