/* runner_proc.h - the daemon's side of one `qm runner` process.
 *
 * Spawns the runner with a socketpair on its fd 3 (libuv creates it, close-
 * on-exec on our side, so no other runner inherits it), turns the lines it
 * writes into callbacks and sends it JSON messages (common/runner_proto.h).
 * Everything runs on the daemon's loop; nothing blocks. */
#ifndef QM_MANAGER_RUNNER_PROC_H
#define QM_MANAGER_RUNNER_PROC_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

struct qm_runner_proc;

struct qm_runner_proc_cbs {
    /* one message from the runner (progress, ready, error, token, done, ...) */
    void (*on_message)(struct qm_runner_proc *p, json_t *msg, void *ud);
    /* the process is gone (exit status, or the signal that killed it), after
     * its last message; the handle is freed after this returns */
    void (*on_exit)(struct qm_runner_proc *p, int64_t status, int term_signal, void *ud);
};

struct qm_runner_spawn {
    const char *exe;         /* the qm binary (NULL: /proc/self/exe) */
    const char *model_path;
    int32_t n_ctx, n_parallel, n_threads, n_batch, gpu_layers;
    const char *kv_type;     /* NULL: the runner's default */
};

/* Start a runner.  Returns NULL with err filled when the spawn fails. */
struct qm_runner_proc *qm_runner_proc_start(uv_loop_t *loop, const struct qm_runner_spawn *sp,
                                            const struct qm_runner_proc_cbs *cbs, void *ud, char *err,
                                            size_t err_size);

/* Send one message (steals the reference).  Messages to a runner that has
 * gone are dropped. */
void qm_runner_proc_send(struct qm_runner_proc *p, json_t *msg);

/* Ask it to quit (closing its socket ends it), and SIGKILL it after
 * grace_ms if it has not exited. */
void qm_runner_proc_stop(struct qm_runner_proc *p, uint64_t grace_ms);

int qm_runner_proc_pid(const struct qm_runner_proc *p);

#endif
