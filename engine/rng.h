/* rng.h - the Mersenne Twister MT19937, the generator samplers draw from.
 *
 * Matsumoto and Nishimura's 32-bit generator (1998), seeded as the C++
 * standard's std::mt19937 is, so a seed gives the same stream of 32-bit
 * words as there.  Not for anything secret: it is here because "same seed,
 * same text" is a promise users rely on, and MT19937 is the generator the
 * rest of the world's samplers name. */
#ifndef QM_ENGINE_RNG_H
#define QM_ENGINE_RNG_H

#include <stdint.h>

#define QM_MT_N 624

struct qm_mt {
    uint32_t state[QM_MT_N];
    int next;                   /* index of the next word to temper; N: regenerate */
};

/* Seed as std::mt19937(seed) does. */
void qm_mt_seed(struct qm_mt *mt, uint32_t seed);

/* The next 32-bit output. */
uint32_t qm_mt_u32(struct qm_mt *mt);

/* A uniform double in [0, 1) with 53 random bits, made from two outputs
 * (27 high bits of the first, 26 of the second) as in the authors' own
 * genrand_res53: every value is a multiple of 2^-53 and 1.0 never occurs. */
double qm_mt_unit(struct qm_mt *mt);

/* A seed nobody chose: from the kernel's random source, or the clock if
 * that fails. */
uint32_t qm_mt_random_seed(void);

#endif
