/* daemon.h - the scheduler with real runner processes under it.
 *
 * Glues the policy (scheduler.h) to runner processes (runner_proc.h) on the
 * daemon's loop: spawns and stops runners when the scheduler says so, sends
 * each dispatched request's job to its runner, routes the runner's events
 * back to the request by id, and keeps the scheduler's timer armed. */
#ifndef QM_MANAGER_DAEMON_H
#define QM_MANAGER_DAEMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "estimate.h"

struct qm_daemon;
struct qm_dreq;

struct qm_dreq_cbs {
    /* The request runs: its model is loaded (load_duration_ns spent waiting
     * for that).  For a load-only request this is the end. */
    void (*on_start)(void *ud, int64_t load_duration_ns);
    /* A runner event of this request (token, done, embedding, tokens, fail);
     * done, embedding, tokens and fail end it.  The daemon's own failures
     * (queue full, runner crash) come as {"type":"fail","status":N,"error":…}. */
    void (*on_event)(void *ud, const json_t *ev);
};

struct qm_dreq_spec {
    const char *model;              /* the name it is known by (/api/ps shows it) */
    const char *path;               /* its GGUF */
    const char *digest;             /* its manifest's digest, for /api/ps (may be NULL) */
    const struct qm_model_sizes *info;
    int model_num_ctx;              /* Modelfile num_ctx; 0: none */
    int model_num_parallel;         /* Modelfile num_parallel; 0: none */
    int num_ctx;                    /* request's; 0: the model's or the config's */
    int num_gpu;                    /* request's; -1: automatic */
    bool has_keep_alive;
    int64_t keep_alive_ns;
    bool load_only;
    bool pin;                       /* QM_PRELOAD */
    json_t *job;                    /* the runner job (runner_proto.h) without id; borrowed */
};

struct qm_daemon *qm_daemon_new(uv_loop_t *loop, const struct qm_config *cfg);
/* Free once empty (after qm_daemon_shutdown has finished). */
void qm_daemon_free(struct qm_daemon *d);

/* Submit a request; the callbacks report on it until it ends or is
 * cancelled.  NULL when out of memory. */
struct qm_dreq *qm_daemon_submit(struct qm_daemon *d, const struct qm_dreq_spec *spec,
                                 const struct qm_dreq_cbs *cbs, void *ud);

/* The client went away: no callback is made for r after this, and a running
 * generation is cancelled in its runner. */
void qm_daemon_cancel(struct qm_dreq *r);

/* keep_alive 0 with no prompt: unload the model once idle.  Returns whether
 * it was loaded. */
bool qm_daemon_unload(struct qm_daemon *d, const char *model);

/* The loaded instances as /api/ps shows them. */
struct qm_daemon_ps {
    const char *name;
    const char *digest;
    uint64_t size, size_vram;
    int64_t expires_at_ns;          /* Unix ns; INT64_MAX: never */
    int context_length;
    int num_gpu, n_layer;
    const char *state;
};
/* Fill up to cap entries; returns how many instances there are. */
int qm_daemon_ps(struct qm_daemon *d, struct qm_daemon_ps *out, int cap);

/* SIGTERM: refuse new requests, let running ones finish; after grace_ns
 * (< 0: no limit) end those still running (their last event says
 * done_reason "shutdown"), then stop the runners.  done() is called once no
 * runner is left. */
void qm_daemon_shutdown(struct qm_daemon *d, int64_t grace_ns, void (*done)(void *ud), void *ud);

/* Models loaded now (for systemd's STATUS= line). */
int qm_daemon_n_loaded(const struct qm_daemon *d);

#endif
