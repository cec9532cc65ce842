/* quant_impl.h - the per-type functions the table in quant.c points to.
 * Dequantizers and quantizers live in quant_*.c; the plain-C reference dot
 * products in cpu/dot_ref.c.  Not for use outside engine/: go through the table. */
#ifndef QM_ENGINE_QUANT_IMPL_H
#define QM_ENGINE_QUANT_IMPL_H

#include "quant.h"

void qm_dequant_f32(const void *src, float *dst, int64_t n);
void qm_dequant_f16(const void *src, float *dst, int64_t n);
void qm_dequant_q4_0(const void *src, float *dst, int64_t n);
void qm_dequant_q4_1(const void *src, float *dst, int64_t n);
void qm_dequant_q5_0(const void *src, float *dst, int64_t n);
void qm_dequant_q5_1(const void *src, float *dst, int64_t n);
void qm_dequant_q8_0(const void *src, float *dst, int64_t n);
void qm_dequant_q8_1(const void *src, float *dst, int64_t n);
void qm_dequant_q2_k(const void *src, float *dst, int64_t n);
void qm_dequant_q3_k(const void *src, float *dst, int64_t n);
void qm_dequant_q4_k(const void *src, float *dst, int64_t n);
void qm_dequant_q5_k(const void *src, float *dst, int64_t n);
void qm_dequant_q6_k(const void *src, float *dst, int64_t n);
void qm_dequant_q8_k(const void *src, float *dst, int64_t n);
void qm_dequant_iq4_nl(const void *src, float *dst, int64_t n);
void qm_dequant_iq4_xs(const void *src, float *dst, int64_t n);
void qm_dequant_bf16(const void *src, float *dst, int64_t n);

void qm_quant_f32(const float *src, void *dst, int64_t n);
void qm_quant_f16(const float *src, void *dst, int64_t n);
void qm_quant_q4_0(const float *src, void *dst, int64_t n);
void qm_quant_q4_1(const float *src, void *dst, int64_t n);
void qm_quant_q5_0(const float *src, void *dst, int64_t n);
void qm_quant_q5_1(const float *src, void *dst, int64_t n);
void qm_quant_q8_0(const float *src, void *dst, int64_t n);
void qm_quant_q8_1(const float *src, void *dst, int64_t n);
void qm_quant_q2_k(const float *src, void *dst, int64_t n);
void qm_quant_q3_k(const float *src, void *dst, int64_t n);
void qm_quant_q4_k(const float *src, void *dst, int64_t n);
void qm_quant_q5_k(const float *src, void *dst, int64_t n);
void qm_quant_q6_k(const float *src, void *dst, int64_t n);
void qm_quant_q8_k(const float *src, void *dst, int64_t n);
void qm_quant_bf16(const float *src, void *dst, int64_t n);

void qm_dot_f32_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_f16_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_q4_0_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_q4_1_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_q5_0_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_q5_1_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_q8_0_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_q2_k_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_q3_k_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_q4_k_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_q5_k_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_q6_k_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_iq4_nl_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_iq4_xs_ref(int64_t n, float *s, const void *w, const void *a);
void qm_dot_bf16_ref(int64_t n, float *s, const void *w, const void *a);

#endif
