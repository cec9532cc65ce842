/* qwen.c - Qwen1.5, Qwen2 and Qwen2.5 (architecture "qwen2") and Qwen3.
 *
 * qwen2 is the llama layer with q/k/v biases and NEOX RoPE; Qwen1.5 uses
 * full multi-head attention, Qwen2/2.5 grouped-query attention.  qwen3 drops
 * the biases and RMS-normalises each q and k head before RoPE. */
#include "arch.h"

const struct qm_arch_desc qm_arch_qwen2 = {
    .arch = {
        .name = "qwen2",
        .rope_style = QM_ROPE_NEOX,
        .act = QM_ACT_SILU,
        .qkv_bias = true,
    },
};

const struct qm_arch_desc qm_arch_qwen3 = {
    .arch = {
        .name = "qwen3",
        .rope_style = QM_ROPE_NEOX,
        .act = QM_ACT_SILU,
        .qk_norm = true,
    },
};
