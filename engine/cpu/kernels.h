/* kernels.h - the CPU backend's kernel table, filled once per process.
 *
 * Starts as the plain-C reference dots of the quant table; each instruction
 * set the CPU supports then overwrites the entries it implements, from the
 * lowest to the highest, so the best available kernel wins per type. */
#ifndef QM_ENGINE_CPU_KERNELS_H
#define QM_ENGINE_CPU_KERNELS_H

#include "quant.h"

struct qm_cpu_kernels {
    qm_vec_dot_fn vec_dot[QM_TYPE_COUNT];      /* weight row · activation row */
    qm_from_float_fn quantize[QM_TYPE_COUNT];  /* f32 → activation type */
};

/* Registration, one function per kernel file; each sets only what it has. */
void qm_kernels_register_avx2(struct qm_cpu_kernels *k);    /* dot_avx2.c: 32-element types, floats */
void qm_kernels_register_avx2_k(struct qm_cpu_kernels *k);  /* dot_k_avx2.c: K-quants, IQ4_XS */

/* The table for this CPU (honours QM_CPU=ref|avx2). */
const struct qm_cpu_kernels *qm_cpu_kernels(void);

#endif
