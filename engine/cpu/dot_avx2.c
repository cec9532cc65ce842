/* dot_avx2.c - AVX2 dot products for the 32-element block types and floats. */
#include "kernels.h"

void qm_kernels_register_avx2(struct qm_cpu_kernels *k) { (void)k; }
