/* cpu_features.c - CPUID and XGETBV, read once.
 *
 * A feature counts only when the OS also saves its register state (XCR0), or
 * the first AVX instruction would fault.  QM_CPU lets tests force a lower
 * level so every kernel family can be exercised on one machine. */
#include "cpu_features.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static struct qm_cpu_features features;
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    bool osxsave = c & bit_OSXSAVE, fma = c & bit_FMA, f16c = c & bit_F16C, avx = c & bit_AVX;
    if (!osxsave || !avx)
        return;
    unsigned long long xcr0 = xgetbv0();
    bool ymm_ok = (xcr0 & 0x6) == 0x6;
    bool zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return;
    features.avx2 = ymm_ok && fma && f16c && (b & bit_AVX2) && (b & bit_BMI2);
    features.avx512 = features.avx2 && zmm_ok && (b & bit_AVX512F) && (b & bit_AVX512BW) &&
                      (b & bit_AVX512VL) && (b & bit_AVX512DQ);
    features.avx512_vnni = features.avx512 && (c & bit_AVX512VNNI);
#endif
    const char *cap = getenv("QM_CPU");
    if (cap && strcmp(cap, "ref") == 0)
        memset(&features, 0, sizeof features);
    else if (cap && strcmp(cap, "avx2") == 0)
        features.avx512 = features.avx512_vnni = false;
}

const struct qm_cpu_features *qm_cpu_features(void)
{
    pthread_once(&features_once, detect);
    return &features;
}

/* Only kernel families that exist are named: the AVX-512 kernels are not
 * written yet (no machine here to verify them on), so a CPU with AVX-512
 * runs the AVX2 kernels. */
const char *qm_cpu_compiled_isas(void)
{
#if defined(__x86_64__)
    return "avx2";
#else
    return "";
#endif
}

const char *qm_cpu_active_isa(void)
{
    return qm_cpu_features()->avx2 ? "avx2" : "ref";
}
