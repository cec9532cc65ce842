/* clock.h - the two clocks qm reads: monotonic for durations and deadlines,
 * the wall clock for timestamps shown to people. */
#ifndef QM_COMMON_CLOCK_H
#define QM_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t qm_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t qm_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Monotonic seconds, for measuring. */
static inline double qm_now_s(void)
{
    return (double)qm_mono_ns() * 1e-9;
}

#endif
