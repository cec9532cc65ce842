/* llama.c - Llama 2/3 (and the many models that share its layer).
 *
 * x += Wo·Attn(RoPE(q), RoPE(k), v) of RMSNorm(x); x += FFN_SiLU(RMSNorm(x)).
 * RoPE in the NORM style: converters permute Wq/Wk so pairs are adjacent.
 * Biases on q/k/v are optional; the output head may be tied. */
#include "arch.h"

const struct qm_arch_desc qm_arch_llama = {
    .arch = {
        .name = "llama",
        .rope_style = QM_ROPE_NORM,
        .act = QM_ACT_SILU,
        .qkv_bias = true,
    },
};
