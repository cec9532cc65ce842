/* quant.c - the table of tensor types.

 * One row per GGUF type id: its name, block geometry, and for the types qm
 * computes with, the dequantizer, quantizer, reference dot product and the
 * activation type that dot product takes.  Rows of types qm cannot compute
 * with still carry their geometry, so a file holding them can be sized and
 * then refused by name.  Ids 4, 5, 31-33 and 36-38 are retired: no row.
 *
 * The functions live in quant_float.c (F32, F16, BF16), quant_legacy.c (the
 * 32-element weight types and IQ4_NL), quant_k.c (K-quants, IQ4_XS),
 * quant_act.c (Q8_0, Q8_1, Q8_K quantizers: the activation formats) and
 * cpu/dot_ref.c (the reference dot products).  No IQ type has a quantizer. */
#include "quant.h"

#include <stdio.h>

#include "quant_impl.h"

const int8_t qm_iq4nl_values[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};


static const struct qm_type_traits table[QM_TYPE_COUNT] = {
    [QM_TYPE_F32] = {.name = "F32", .blck = 1, .size = 4, .compute = true, .act_type = QM_TYPE_F32, .to_float = qm_dequant_f32, .from_float = qm_quant_f32, .vec_dot = qm_dot_f32_ref},
    [QM_TYPE_F16] = {.name = "F16", .blck = 1, .size = 2, .compute = true, .act_type = QM_TYPE_F32, .to_float = qm_dequant_f16, .from_float = qm_quant_f16, .vec_dot = qm_dot_f16_ref},
    [QM_TYPE_Q4_0] = {.name = "Q4_0", .blck = 32, .size = 18, .compute = true, .act_type = QM_TYPE_Q8_0, .to_float = qm_dequant_q4_0, .from_float = qm_quant_q4_0, .vec_dot = qm_dot_q4_0_ref},
    [QM_TYPE_Q4_1] = {.name = "Q4_1", .blck = 32, .size = 20, .compute = true, .act_type = QM_TYPE_Q8_1, .to_float = qm_dequant_q4_1, .from_float = qm_quant_q4_1, .vec_dot = qm_dot_q4_1_ref},
    [QM_TYPE_Q5_0] = {.name = "Q5_0", .blck = 32, .size = 22, .compute = true, .act_type = QM_TYPE_Q8_0, .to_float = qm_dequant_q5_0, .from_float = qm_quant_q5_0, .vec_dot = qm_dot_q5_0_ref},
    [QM_TYPE_Q5_1] = {.name = "Q5_1", .blck = 32, .size = 24, .compute = true, .act_type = QM_TYPE_Q8_1, .to_float = qm_dequant_q5_1, .from_float = qm_quant_q5_1, .vec_dot = qm_dot_q5_1_ref},
    [QM_TYPE_Q8_0] = {.name = "Q8_0", .blck = 32, .size = 34, .compute = true, .act_type = QM_TYPE_Q8_0, .to_float = qm_dequant_q8_0, .from_float = qm_quant_q8_0, .vec_dot = qm_dot_q8_0_ref},
    [QM_TYPE_Q8_1] = {.name = "Q8_1", .blck = 32, .size = 36, .to_float = qm_dequant_q8_1, .from_float = qm_quant_q8_1},
    [QM_TYPE_Q2_K] = {.name = "Q2_K", .blck = 256, .size = 84, .compute = true, .act_type = QM_TYPE_Q8_K, .to_float = qm_dequant_q2_k, .from_float = qm_quant_q2_k, .vec_dot = qm_dot_q2_k_ref},
    [QM_TYPE_Q3_K] = {.name = "Q3_K", .blck = 256, .size = 110, .compute = true, .act_type = QM_TYPE_Q8_K, .to_float = qm_dequant_q3_k, .from_float = qm_quant_q3_k, .vec_dot = qm_dot_q3_k_ref},
    [QM_TYPE_Q4_K] = {.name = "Q4_K", .blck = 256, .size = 144, .compute = true, .act_type = QM_TYPE_Q8_K, .to_float = qm_dequant_q4_k, .from_float = qm_quant_q4_k, .vec_dot = qm_dot_q4_k_ref},
    [QM_TYPE_Q5_K] = {.name = "Q5_K", .blck = 256, .size = 176, .compute = true, .act_type = QM_TYPE_Q8_K, .to_float = qm_dequant_q5_k, .from_float = qm_quant_q5_k, .vec_dot = qm_dot_q5_k_ref},
    [QM_TYPE_Q6_K] = {.name = "Q6_K", .blck = 256, .size = 210, .compute = true, .act_type = QM_TYPE_Q8_K, .to_float = qm_dequant_q6_k, .from_float = qm_quant_q6_k, .vec_dot = qm_dot_q6_k_ref},
    [QM_TYPE_Q8_K] = {.name = "Q8_K", .blck = 256, .size = 292, .to_float = qm_dequant_q8_k, .from_float = qm_quant_q8_k},
    [QM_TYPE_IQ2_XXS] = {.name = "IQ2_XXS", .blck = 256, .size = 66},
    [QM_TYPE_IQ2_XS] = {.name = "IQ2_XS", .blck = 256, .size = 74},
    [QM_TYPE_IQ3_XXS] = {.name = "IQ3_XXS", .blck = 256, .size = 98},
    [QM_TYPE_IQ1_S] = {.name = "IQ1_S", .blck = 256, .size = 50},
    [QM_TYPE_IQ4_NL] = {.name = "IQ4_NL", .blck = 32, .size = 18, .compute = true, .act_type = QM_TYPE_Q8_0, .to_float = qm_dequant_iq4_nl, .vec_dot = qm_dot_iq4_nl_ref},
    [QM_TYPE_IQ3_S] = {.name = "IQ3_S", .blck = 256, .size = 110},
    [QM_TYPE_IQ2_S] = {.name = "IQ2_S", .blck = 256, .size = 82},
    [QM_TYPE_IQ4_XS] = {.name = "IQ4_XS", .blck = 256, .size = 136, .compute = true, .act_type = QM_TYPE_Q8_K, .to_float = qm_dequant_iq4_xs, .vec_dot = qm_dot_iq4_xs_ref},
    [QM_TYPE_I8] = {.name = "I8", .blck = 1, .size = 1},
    [QM_TYPE_I16] = {.name = "I16", .blck = 1, .size = 2},
    [QM_TYPE_I32] = {.name = "I32", .blck = 1, .size = 4},
    [QM_TYPE_I64] = {.name = "I64", .blck = 1, .size = 8},
    [QM_TYPE_F64] = {.name = "F64", .blck = 1, .size = 8},
    [QM_TYPE_IQ1_M] = {.name = "IQ1_M", .blck = 256, .size = 56},
    [QM_TYPE_BF16] = {.name = "BF16", .blck = 1, .size = 2, .compute = true, .act_type = QM_TYPE_F32, .to_float = qm_dequant_bf16, .from_float = qm_quant_bf16, .vec_dot = qm_dot_bf16_ref},
    [QM_TYPE_TQ1_0] = {.name = "TQ1_0", .blck = 256, .size = 54},
    [QM_TYPE_TQ2_0] = {.name = "TQ2_0", .blck = 256, .size = 66},
    [QM_TYPE_MXFP4] = {.name = "MXFP4", .blck = 32, .size = 17},
};

const struct qm_type_traits *qm_type_traits(uint32_t id)
{
    if (id >= QM_TYPE_COUNT || table[id].blck == 0)
        return NULL;
    return &table[id];
}

const char *qm_type_name(uint32_t id)
{
    static _Thread_local char buf[32];
    const struct qm_type_traits *t = qm_type_traits(id);
    if (t)
        return t->name;
    snprintf(buf, sizeof buf, "unknown type %u", id);
    return buf;
}

size_t qm_row_size(enum qm_type type, int64_t n)
{
    const struct qm_type_traits *t = qm_type_traits(type);
    return (size_t)(n / t->blck) * t->size;
}
