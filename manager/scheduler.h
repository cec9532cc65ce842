/* scheduler.h - the scheduler's policy: which model instances live, who waits,
 * who is evicted (design.md, "The manager").
 *
 * A pure state machine.  It owns no process, socket or timer: the daemon
 * tells it what happened (a request arrived, a runner is ready, a request
 * finished, a runner exited, time passed) with the current time in
 * nanoseconds of a monotonic clock, and it answers through the four
 * callbacks of struct qm_sched_ops.  Callbacks run inside qm_sched_* calls
 * and must not call back into the scheduler (defer such work to the loop);
 * the scheduler asserts this.
 *
 * Objects
 *   model     name + GGUF path (+ its Modelfile num_ctx/num_parallel and the
 *             header figures, struct qm_model_sizes), resolved by the daemon
 *             before it submits a request.  Two paths under one name (a
 *             re-pulled model) are two models.
 *   instance  one runner process of one model: loading -> ready -> unloading.
 *             At most one live (loading or ready) instance per model.
 *   request   owned by the daemon (struct qm_sched_req, embedded in its own
 *             request object); the scheduler links it into its lists.
 *
 * Every submitted request ends in exactly one of: dispatch (then, unless
 * load_only, the daemon calls qm_sched_request_done when the runner is done
 * with it — or the scheduler rejects it if the runner dies first), reject,
 * or qm_sched_cancel while it still waits.  After reject, or after
 * qm_sched_request_done / a successful qm_sched_cancel returns, the
 * scheduler holds no pointer to it.
 *
 * Policy
 *   - A request is served by the live instance of its model when that
 *     instance's num_ctx >= the request's (a smaller num_ctx never reloads)
 *     and, if the request set num_gpu, its num_gpu is that.  A ready
 *     instance with a free slot (busy < num_parallel) gets it at once; else
 *     the request waits for a slot, or for the load to finish.
 *   - An instance that cannot serve it (num_ctx too small, other num_gpu) is
 *     replaced: it takes no newer request, finishes the older ones, is
 *     stopped when idle, and the request then places a new one like any
 *     load (the old one's memory counts until its process has exited).
 *   - Not loaded: load when another instance fits under MAX_LOADED_MODELS
 *     (instances count until their process has exited) and the GPU's budget
 *     (free VRAM at start - GPU_OVERHEAD - the instances placed on it, by
 *     estimate until the runner reports).  Else make room: victims are, in
 *     this order, instances already unloading, idle ones least recently used
 *     first (stopped now), then busy ones least recently used first — those
 *     are never killed: they take no newer request, finish what they have,
 *     and are stopped when idle.  Loading and pinned instances are never
 *     victims.  The load starts once the victims have exited.
 *   - A model too big for the GPU even with only the pinned instances
 *     beside it loads with the most layers that fit there (hybrid), or on
 *     the CPU (num_gpu 0) when not one layer fits.  With no GPU everything
 *     runs on the CPU and only MAX_LOADED_MODELS limits.  An explicit
 *     num_gpu is obeyed; when it exceeds what could ever fit, everything
 *     evictable on that GPU is made room for and the runner has the last
 *     word.  Several GPUs: each instance lives on one; the GPU giving the
 *     most layers wins, then the fewest busy, then idle victims, then the
 *     least recently used victims, then the most room left.
 *   - Waiting requests are served in arrival order (FIFO per model).  While
 *     one waits for room, later requests that would also need a new load
 *     wait behind it (no overtaking, so a busy model cannot starve another);
 *     requests that an existing instance can serve are never held up, in
 *     particular not by a load in progress.
 *   - More than max_queue requests waiting: 503 at once.
 *   - keep_alive: the request's, else the config's; the most recent
 *     request's value applies to the instance.  An idle instance expires
 *     keep_alive after it went idle; 0 stops it as soon as it is idle;
 *     negative never expires.  Pinned instances (QM_PRELOAD) never expire
 *     and are never evicted; only qm_sched_unload unpins.
 *   - A runner that exits while requests run on it fails them (500) and is
 *     forgotten; waiting requests for its model load it afresh.  A load
 *     that fails, or makes no progress for load_timeout, fails the requests
 *     that were waiting for it (500).
 */
#ifndef QM_MANAGER_SCHEDULER_H
#define QM_MANAGER_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "estimate.h"

enum {
    QM_MAX_GPUS = 16,
};

/* One GPU as the daemon sees it (NVML, or QM_SIM_GPU). */
struct qm_gpu_info {
    char name[64];
    uint64_t total;     /* bytes */
    uint64_t free;      /* bytes free with none of our instances loaded */
    bool simulated;     /* runners account VRAM but compute on the CPU */
};

/* The GPUs QM_SIM_GPU describes; returns how many were written (<= cap). */
int qm_gpu_info_from_sim(const struct qm_sim_gpu *sim, struct qm_gpu_info *out, int cap);

struct qm_sched_config {
    int max_loaded;             /* 0: 3 per GPU, 3 with no GPU */
    int num_parallel;           /* default slots per instance (>= 1) */
    int num_ctx;                /* default context per slot (>= 1) */
    int64_t keep_alive_ns;      /* default; 0 unload when idle, < 0 never */
    int max_queue;              /* waiting requests before 503 (>= 1) */
    uint64_t gpu_overhead;      /* bytes kept free on each GPU */
    int64_t load_timeout_ns;    /* no load progress that long fails; <= 0 never */
    enum qm_kv_type kv_type;
    int n_batch;                /* 0: QM_EST_N_BATCH */
};

void qm_sched_config_from(struct qm_sched_config *sc, const struct qm_config *cfg);

enum qm_inst_state {
    QM_INST_LOADING,
    QM_INST_READY,
    QM_INST_UNLOADING,   /* stop sent (or failed); memory held until exit */
};

const char *qm_inst_state_name(enum qm_inst_state st);

struct qm_sched_mdl;   /* the scheduler's copy of a model */

/* One model instance.  The daemon reads these fields (for the runner's
 * command line, /api/ps) and owns only ud; the rest is the scheduler's. */
struct qm_inst {
    uint64_t id;                /* unique, increasing */
    const char *name;           /* the model's name and GGUF path */
    const char *path;
    const char *digest;         /* its manifest's digest ("" when unknown) */
    const struct qm_model_sizes *info;
    enum qm_inst_state state;
    int num_ctx;                /* per slot: the runner's --ctx */
    int num_parallel;           /* --parallel */
    int num_gpu;                /* --gpu-layers */
    int gpu;                    /* index into the GPU list; -1: CPU only */
    enum qm_kv_type kv_type;    /* --kv-type */
    uint64_t vram;              /* estimate, then what the runner reported */
    uint64_t ram;
    bool reported;              /* vram/ram are the runner's figures */
    int busy;                   /* requests running on it */
    bool pinned;
    int64_t keep_alive_ns;
    int64_t started_ns;
    int64_t last_used_ns;       /* last dispatch or finish: the LRU key */
    int64_t expires_ns;         /* when idle: when it expires (INT64_MAX never) */
    void *ud;                   /* the daemon's (its runner handle) */

    /* private */
    struct qm_sched_mdl *mdl;
    struct qm_inst *prev, *next;
    struct qm_sched_req *run_head, *run_tail;   /* requests running on it */
    int64_t load_deadline_ns;
    uint64_t drain_seq;         /* takes no request of seq >= this one */
    int stop_status;            /* rejects of running requests at exit */
    char stop_msg[160];
};

/* What the daemon resolved for a request's model.  The pointers need only
 * live during qm_sched_submit: the scheduler copies what it keeps. */
struct qm_sched_model {
    const char *name;
    const char *path;
    const char *digest;         /* the manifest's (may be NULL) */
    const struct qm_model_sizes *info;   /* qm_model_sizes_read */
    int num_ctx;                /* the model's own (Modelfile); 0: the config's */
    int num_parallel;           /* the model's own; 0: the config's */
};

enum qm_req_state {
    QM_REQ_NEW,
    QM_REQ_WAITING,
    QM_REQ_RUNNING,
    QM_REQ_FINISHED,   /* done, rejected or cancelled */
};

struct qm_sched_req {
    /* set by the daemon before qm_sched_submit */
    struct qm_sched_model model;
    int num_ctx;                /* 0: the model's, else the config's */
    int num_gpu;                /* -1: the scheduler chooses */
    bool has_keep_alive;        /* else the config's keep_alive */
    int64_t keep_alive_ns;
    bool load_only;             /* only load (an empty prompt, QM_PRELOAD):
                                   dispatched once ready without taking a slot,
                                   finished by that, no request_done */
    bool pin;                   /* pin the instance (QM_PRELOAD) */
    void *ud;                   /* the daemon's */

    /* set by the scheduler */
    enum qm_req_state state;
    struct qm_inst *inst;       /* while running: the instance serving it */
    int want_ctx;               /* num_ctx resolved (capped at n_ctx_train) */
    int want_gpu;               /* num_gpu resolved: -1 any, else exact */

    /* private */
    uint64_t seq;
    int64_t arrival_ns;
    struct qm_sched_mdl *mdl;
    struct qm_sched_req *prev, *next;
};

struct qm_sched_ops {
    /* Spawn a runner for inst (inst->path, num_ctx, num_parallel, num_gpu,
     * gpu, kv_type); report with qm_sched_loaded / _load_failed /
     * _runner_exited.  The daemon may set inst->ud here. */
    void (*start)(void *ud, struct qm_inst *inst);
    /* Make the runner go (quit, then kill); report qm_sched_runner_exited. */
    void (*stop)(void *ud, struct qm_inst *inst);
    /* Run req on inst (load_only: just answer that the model is loaded). */
    void (*dispatch)(void *ud, struct qm_sched_req *req, struct qm_inst *inst);
    /* Fail req with this HTTP status and message. */
    void (*reject)(void *ud, struct qm_sched_req *req, int http_status, const char *msg);
};

struct qm_sched;

/* gpus may be NULL with n_gpus 0 (CPU only); at most QM_MAX_GPUS. */
struct qm_sched *qm_sched_new(const struct qm_sched_config *cfg, const struct qm_gpu_info *gpus, int n_gpus,
                              const struct qm_sched_ops *ops, void *ud);
/* Frees everything without callbacks; requests still inside are forgotten. */
void qm_sched_free(struct qm_sched *s);

/* ---- events from the daemon --------------------------------------------- */

void qm_sched_submit(struct qm_sched *s, struct qm_sched_req *req, int64_t now);
/* The runner of inst is ready and uses this much memory. */
void qm_sched_loaded(struct qm_sched *s, struct qm_inst *inst, uint64_t vram, uint64_t ram, int64_t now);
/* The runner said how far its load is: the load timeout starts again. */
void qm_sched_load_progress(struct qm_sched *s, struct qm_inst *inst, int64_t now);
/* The runner said its load failed (it exits; report that too). */
void qm_sched_load_failed(struct qm_sched *s, struct qm_inst *inst, const char *msg, int64_t now);
/* A running request ended (done, failed in the runner, or cancelled). */
void qm_sched_request_done(struct qm_sched *s, struct qm_sched_req *req, int64_t now);
/* The client went away.  A waiting request is removed (true); a running
 * one is left alone (false): cancel it in the runner, then request_done. */
bool qm_sched_cancel(struct qm_sched *s, struct qm_sched_req *req, int64_t now);
/* The runner process of inst is gone (why: "exit status 1", "signal 9",
 * may be NULL).  inst is freed by this call. */
void qm_sched_runner_exited(struct qm_sched *s, struct qm_inst *inst, const char *why, int64_t now);
/* What the driver says of a real GPU now (NVML): free_now is free memory
 * with our runners' memory in use, and other processes' too.  The budget
 * becomes free_now plus what our runners reported holding, so memory another
 * process takes or gives back moves the next placements; waiting requests
 * are placed again.  Simulated GPUs ignore this. */
void qm_sched_gpu_update(struct qm_sched *s, int gpu, uint64_t total, uint64_t free_now, int64_t now);
/* Expire idle instances, fail stalled loads.  Call at qm_sched_next_deadline. */
void qm_sched_tick(struct qm_sched *s, int64_t now);
/* The earliest time qm_sched_tick has work, or -1 when nothing is timed. */
int64_t qm_sched_next_deadline(const struct qm_sched *s);
/* keep_alive 0 without a prompt: unpin the model's live instance and stop it
 * once idle (requests waiting for it are served first).  Returns the number
 * of instances affected (0: the model was not loaded). */
int qm_sched_unload(struct qm_sched *s, const char *name, int64_t now);

/* Shutdown.  drain: refuse new requests (503), fail the waiting ones (503),
 * stop loading and idle instances, and busy ones as they go idle.
 * stop_all: also stop busy ones now; their requests fail (503) at exit. */
void qm_sched_drain(struct qm_sched *s, int64_t now);
void qm_sched_stop_all(struct qm_sched *s, int64_t now);
/* No instance and no waiting request left. */
bool qm_sched_empty(const struct qm_sched *s);

/* ---- looking ------------------------------------------------------------ */

/* Instances in start order (for /api/ps): NULL gives the first. */
struct qm_inst *qm_sched_next_inst(const struct qm_sched *s, const struct qm_inst *prev);
int qm_sched_waiting(const struct qm_sched *s);
int qm_sched_max_loaded(const struct qm_sched *s);
const struct qm_gpu_info *qm_sched_gpus(const struct qm_sched *s, int *n_gpus);
/* A GPU's budget left: free - GPU_OVERHEAD - instances placed on it
 * (negative when the runners' reports exceed it). */
int64_t qm_sched_gpu_room(const struct qm_sched *s, int gpu);

#endif
