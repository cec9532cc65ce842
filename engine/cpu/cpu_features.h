/* cpu_features.h - what the CPU we run on can do, read once from CPUID. */
#ifndef QM_ENGINE_CPU_FEATURES_H
#define QM_ENGINE_CPU_FEATURES_H

#include <stdbool.h>

struct qm_cpu_features {
    bool avx2;        /* AVX2 + FMA + F16C, with OS support for ymm state */
    bool avx512;      /* AVX-512 F, BW, VL, DQ, with OS support for zmm state */
    bool avx512_vnni; /* VPDPBUSD on zmm */
};

/* The features of this CPU; QM_CPU=ref|avx2|avx512 caps what is used
 * (for tests and benchmarks of the slower paths). */
const struct qm_cpu_features *qm_cpu_features(void);

/* The kernel families compiled in, as a space-separated list: "avx2". */
const char *qm_cpu_compiled_isas(void);

/* The kernel family in use: "avx2" or "ref". */
const char *qm_cpu_active_isa(void);

#endif
