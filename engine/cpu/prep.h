/* prep.h - activation rows rearranged once per matmul for the fastest dots.
 *
 * A matrix-vector product applies one activation row to every weight row,
 * so work done on the activation side once per call is free next to work
 * done once per weight row.  For the 4- and 5-bit 32-element types the SIMD
 * kernels spend much of their time on exactly such work: pairing the halves
 * of the Q8 blocks with the nibble halves of the weights, converting the
 * activation scales, summing the activation codes for the Q4_0/Q5_0 offsets.
 * A prepared row does all of that ahead of time, and the dots that read it
 * ("prepared dots") only touch the weights.
 *
 * Internal to engine/cpu: matmul.c prepares the rows and calls these where
 * the CPU has them, the plain kernel table everywhere else.  A prepared dot
 * differs from the table's dot for the same type only in the order of its
 * float additions.  (kernels.h has no slot for these; if it grows one, this
 * header folds into it.) */
#ifndef QM_ENGINE_CPU_PREP_H
#define QM_ENGINE_CPU_PREP_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

/* Blocks a prepared group covers; a row's last nb % 8 blocks (the tail)
 * follow the groups unchanged, in the activation type's own format. */
#define QM_PREP_GROUP 8

/* n elements of activation type t (a whole number of blocks) → a prepared row. */
typedef void (*qm_prep_fn)(const void *act, void *prep, int64_t n);

struct qm_cpu_prep {
    qm_prep_fn prepare[QM_TYPE_COUNT];   /* by activation type */
    size_t group_size[QM_TYPE_COUNT];    /* by activation type: bytes of one prepared group */
    qm_vec_dot_fn dot[QM_TYPE_COUNT];    /* by weight type: weight row · prepared row */
};

/* The prepared kernels of this CPU (none under QM_CPU=ref). */
const struct qm_cpu_prep *qm_cpu_prep(void);

/* Bytes of a prepared row of n elements of activation type t; 0 where t
 * has no prepared form here. */
size_t qm_prep_row_size(enum qm_type t, int64_t n);

/* Registration, by the kernel files (dot_avx2.c). */
void qm_prep_register_avx2(struct qm_cpu_prep *p);

#endif
