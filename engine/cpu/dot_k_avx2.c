/* dot_k_avx2.c - AVX2 dot products for the K-quants and IQ4_XS. */
#include "kernels.h"

void qm_kernels_register_avx2_k(struct qm_cpu_kernels *k) { (void)k; }
