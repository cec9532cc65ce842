/* quant_stubs.c - TEMPORARY: functions not written yet; each is deleted as its
   real version lands in quant_*.c.  Owned by the quantizer work. */
#include <stdlib.h>
#include "quant_impl.h"

void qm_dequant_f32(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_f16(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q4_0(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q4_1(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q5_0(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q5_1(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q8_0(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q8_1(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q2_k(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q3_k(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q4_k(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q5_k(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q6_k(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_q8_k(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_iq4_nl(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_iq4_xs(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_dequant_bf16(const void *src, float *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_f32(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_f16(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q4_0(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q4_1(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q5_0(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q5_1(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q8_0(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q8_1(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q2_k(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q3_k(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q4_k(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q5_k(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q6_k(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_q8_k(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
void qm_quant_bf16(const float *src, void *dst, int64_t n) { (void)src; (void)dst; (void)n; abort(); }
