/* sched_impl.h - what sched.c (events, serving) and sched_place.c (loading
 * and eviction) share.  Not for use outside the scheduler. */
#ifndef QM_MANAGER_SCHED_IMPL_H
#define QM_MANAGER_SCHED_IMPL_H

#include "scheduler.h"

/* A model as the scheduler keeps it: shared by its instances and the
 * requests naming it, freed when none refers to it any more. */
struct qm_sched_mdl {
    char *name;
    char *path;
    char digest[80];            /* the manifest's, for /api/ps ("" when unknown) */
    struct qm_model_sizes info;
    int num_ctx;                /* the Modelfile's, 0: config (latest submit wins) */
    int num_parallel;
    bool pinned;                /* QM_PRELOAD: its instances are kept */
    int refs;
    struct qm_sched_mdl *next;
};

struct qm_sched {
    struct qm_sched_config cfg;
    int max_loaded;
    struct qm_gpu_info gpus[QM_MAX_GPUS];
    int n_gpus;
    struct qm_sched_ops ops;
    void *ud;

    struct qm_sched_req *wait_head, *wait_tail;   /* arrival order */
    int n_waiting;
    struct qm_inst *inst_head, *inst_tail;        /* start order */
    int n_insts;
    struct qm_sched_mdl *models;

    uint64_t next_seq;
    uint64_t next_inst_id;
    bool draining;
    int in_callback;            /* > 0 while an ops callback runs */
};

/* The callbacks, with the re-entrancy guard. */
void sched_cb_start(struct qm_sched *s, struct qm_inst *inst);
void sched_cb_stop(struct qm_sched *s, struct qm_inst *inst);

/* Stop a ready (or loading) instance: it turns UNLOADING. */
void sched_stop_inst(struct qm_sched *s, struct qm_inst *inst, int64_t now, const char *why);

/* Slots of a model: its own num_parallel, else the config's. */
int sched_num_parallel(const struct qm_sched *s, const struct qm_sched_mdl *m);

/* Try to start an instance for req (no live instance of its model exists).
 * true: started; false: it must wait (victims are being stopped, or the
 * room is held by loading instances).  May reject req (and say so in
 * *rejected) when it can never be placed. */
bool sched_place(struct qm_sched *s, struct qm_sched_req *req, int64_t now, bool *rejected);

/* Unlink req from the waiting list and fail it. */
void sched_reject_waiting(struct qm_sched *s, struct qm_sched_req *req, int status, const char *msg);

#endif
