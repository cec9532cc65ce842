/* kernels.c - the CPU backend's kernel table, built once per process.
 *
 * The table starts as the plain-C reference of the quant table: its dot
 * product for every weight type and its quantizer for every type that has
 * one (the activation types Q8_0, Q8_1, Q8_K and F32 are the ones the matmul
 * uses).  Then each instruction set this CPU supports, lowest first, gets to
 * overwrite the entries it has a faster kernel for, and to add the kernels
 * that read prepared activation rows (prep.h).  QM_CPU=ref|avx2 (read by
 * cpu_features.c) caps the level, which is how the tests and the benchmark
 * reach the slower paths on a fast machine. */
#include "kernels.h"

#include <pthread.h>

#include "cpu_features.h"
#include "prep.h"

static struct qm_cpu_kernels table;
static struct qm_cpu_prep prep;    /* prepared-activation kernels: none unless an ISA has some */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void kernels_build(void)
{
    for (uint32_t id = 0; id < QM_TYPE_COUNT; id++) {
        const struct qm_type_traits *t = qm_type_traits(id);
        if (!t)
            continue;
        table.vec_dot[id] = t->compute ? t->vec_dot : NULL;
        table.quantize[id] = t->from_float;
    }
    const struct qm_cpu_features *f = qm_cpu_features();
#if defined(__x86_64__)
    if (f->avx2) {
        qm_kernels_register_avx2(&table);
        qm_kernels_register_avx2_k(&table);
        qm_kernels_register_avx2_k_x4(&table);
        qm_prep_register_avx2(&prep);
    }
#else
    (void)f;
#endif
}

const struct qm_cpu_kernels *qm_cpu_kernels(void)
{
    pthread_once(&table_once, kernels_build);
    return &table;
}

const struct qm_cpu_prep *qm_cpu_prep(void)
{
    pthread_once(&table_once, kernels_build);
    return &prep;
}

size_t qm_prep_row_size(enum qm_type t, int64_t n)
{
    const struct qm_cpu_prep *p = qm_cpu_prep();
    const struct qm_type_traits *tr = qm_type_traits(t);
    if (!tr || (uint32_t)t >= QM_TYPE_COUNT || p->group_size[t] == 0)
        return 0;
    int64_t nb = n / tr->blck;
    return (size_t)(nb / QM_PREP_GROUP) * p->group_size[t] + (size_t)(nb % QM_PREP_GROUP) * tr->size;
}
