/* kernels.h - the CPU backend's kernel table, filled once per process.
 *
 * Starts as the plain-C reference dots of the quant table; each instruction
 * set the CPU supports then overwrites the entries it implements, from the
 * lowest to the highest, so the best available kernel wins per type. */
#ifndef QM_ENGINE_CPU_KERNELS_H
#define QM_ENGINE_CPU_KERNELS_H

#include "quant.h"

/* One weight row applied to four activation rows at once:
 * s[k] = dot(w, a + k*a_stride) for k = 0..3; a_stride in bytes.
 * The weight blocks are unpacked once for four dots, which is what makes
 * prompt processing faster than four single dots.  For the weight types
 * that have prepared dots (prep.h: Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) the four
 * rows are prepared rows, as the prepared dot reads them; for every other
 * type they are plain rows of the activation type. */
typedef void (*qm_vec_dot_x4_fn)(int64_t n, float *s, const void *w, const void *a, size_t a_stride);

struct qm_cpu_kernels {
    qm_vec_dot_fn vec_dot[QM_TYPE_COUNT];      /* weight row · activation row */
    qm_from_float_fn quantize[QM_TYPE_COUNT];  /* f32 → activation type */
    qm_vec_dot_x4_fn vec_dot_x4[QM_TYPE_COUNT]; /* weight row · 4 activation rows; NULL: none */
};

/* Registration, one function per kernel file; each sets only what it has. */
void qm_kernels_register_avx2(struct qm_cpu_kernels *k);    /* dot_avx2.c: 32-element types (x4 too), floats */
void qm_kernels_register_avx2_k(struct qm_cpu_kernels *k);  /* dot_k_avx2.c: K-quants, IQ4_XS */
void qm_kernels_register_avx2_k_x4(struct qm_cpu_kernels *k);  /* dot_k_x4_avx2.c: x4 dots, K-quants, IQ4_XS */

/* The table for this CPU (honours QM_CPU=ref|avx2). */
const struct qm_cpu_kernels *qm_cpu_kernels(void);

#endif
