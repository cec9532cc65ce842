/* ckd.h - overflow-checked integer arithmetic.
 *
 * Every size computed from untrusted input (a GGUF header, an HTTP length)
 * goes through these: they return true when the result overflowed, as C23's
 * ckd_add/ckd_mul do, so a hostile count can never wrap into a small one. */
#ifndef QM_COMMON_CKD_H
#define QM_COMMON_CKD_H

#include <stdbool.h>
#include <stdint.h>

#define qm_ckd_add(r, a, b) __builtin_add_overflow((a), (b), (r))
#define qm_ckd_sub(r, a, b) __builtin_sub_overflow((a), (b), (r))
#define qm_ckd_mul(r, a, b) __builtin_mul_overflow((a), (b), (r))

/* Round v up to a multiple of the power of two a; true on overflow. */
static inline bool qm_ckd_align(uint64_t *r, uint64_t v, uint64_t a)
{
    uint64_t t;
    if (qm_ckd_add(&t, v, a - 1))
        return true;
    *r = t & ~(a - 1);
    return false;
}

#endif
