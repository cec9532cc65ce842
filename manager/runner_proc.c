/* runner_proc.c - spawning a runner and framing its socket. */
#include "runner_proc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "runner_proto.h"

struct qm_runner_proc {
    uv_process_t proc;
    uv_pipe_t pipe;
    uv_timer_t kill_timer;
    struct qm_runner_proc_cbs cbs;
    void *ud;
    char *buf;
    size_t len, cap;
    int open_handles;        /* freed when the last one has closed */
    int exited, pipe_closed, stopping;
    int64_t exit_status;
    int term_signal;
};

static void maybe_free(struct qm_runner_proc *p)
{
    if (p->open_handles == 0) {
        free(p->buf);
        free(p);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct qm_runner_proc *p = h->data;
    p->open_handles--;
    maybe_free(p);
}

/* Report the exit once both the process and its socket are done, so that
 * every message it wrote has been delivered first. */
static void maybe_report_exit(struct qm_runner_proc *p)
{
    if (!p->exited || !p->pipe_closed)
        return;
    p->open_handles++;   /* hold p through the callback */
    if (p->cbs.on_exit)
        p->cbs.on_exit(p, p->exit_status, p->term_signal, p->ud);
    uv_close((uv_handle_t *)&p->proc, on_handle_closed);
    uv_close((uv_handle_t *)&p->kill_timer, on_handle_closed);
    p->open_handles--;
}

static void close_pipe(struct qm_runner_proc *p)
{
    if (p->pipe_closed)
        return;
    p->pipe_closed = 1;
    uv_close((uv_handle_t *)&p->pipe, on_handle_closed);
    maybe_report_exit(p);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig)
{
    struct qm_runner_proc *p = h->data;
    p->exited = 1;
    p->exit_status = status;
    p->term_signal = sig;
    uv_timer_stop(&p->kill_timer);
    maybe_report_exit(p);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct qm_runner_proc *p = h->data;
    (void)suggested;
    if (p->cap - p->len < 65536) {
        size_t cap = p->cap ? p->cap * 2 : 131072;
        char *nb = realloc(p->buf, cap);
        if (!nb) {
            *b = uv_buf_init(NULL, 0);
            return;
        }
        p->buf = nb;
        p->cap = cap;
    }
    *b = uv_buf_init(p->buf + p->len, (unsigned)(p->cap - p->len));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct qm_runner_proc *p = s->data;
    (void)b;
    if (n < 0) {
        uv_read_stop(s);
        close_pipe(p);
        return;
    }
    p->len += (size_t)n;
    size_t start = 0;
    char *nl;
    while ((nl = memchr(p->buf + start, '\n', p->len - start))) {
        size_t line = (size_t)(nl - (p->buf + start));
        json_error_t je;
        json_t *msg = json_loadb(p->buf + start, line, 0, &je);
        start += line + 1;
        if (!msg || !json_is_object(msg)) {
            qm_log_warn("runner %d: a line that is no JSON object: %s", (int)p->proc.pid, msg ? "" : je.text);
            json_decref(msg);
            continue;
        }
        if (p->cbs.on_message)
            p->cbs.on_message(p, msg, p->ud);
        json_decref(msg);
        if (p->pipe_closed)
            return;
    }
    memmove(p->buf, p->buf + start, p->len - start);
    p->len -= start;
    if (p->len > QM_RUNNER_MAX_LINE) {
        qm_log_err("runner %d: a line longer than %u bytes; stopping it", (int)p->proc.pid, QM_RUNNER_MAX_LINE);
        qm_runner_proc_stop(p, 0);
    }
}

struct qm_runner_proc *qm_runner_proc_start(uv_loop_t *loop, const struct qm_runner_spawn *sp,
                                            const struct qm_runner_proc_cbs *cbs, void *ud, char *err,
                                            size_t err_size)
{
    struct qm_runner_proc *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    p->cbs = *cbs;
    p->ud = ud;
    char nums[5][16];
    char *args[20];
    int a = 0;
    args[a++] = (char *)(sp->exe ? sp->exe : "/proc/self/exe");
    args[a++] = "runner";
    args[a++] = "--model";
    args[a++] = (char *)sp->model_path;
#define NUM(flag, v, i)                                    \
    if ((v) > 0) {                                         \
        snprintf(nums[i], sizeof nums[i], "%d", (int)(v)); \
        args[a++] = flag;                                  \
        args[a++] = nums[i];                               \
    }
    NUM("--ctx", sp->n_ctx, 0)
    NUM("--parallel", sp->n_parallel, 1)
    NUM("--threads", sp->n_threads, 2)
    NUM("--batch", sp->n_batch, 3)
    NUM("--gpu-layers", sp->gpu_layers, 4)
#undef NUM
    if (sp->kv_type) {
        args[a++] = "--kv-type";
        args[a++] = (char *)sp->kv_type;
    }
    args[a] = NULL;

    uv_pipe_init(loop, &p->pipe, 0);
    uv_timer_init(loop, &p->kill_timer);
    p->pipe.data = p->proc.data = p->kill_timer.data = p;
    uv_stdio_container_t stdio[4] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = 2},   /* its stdout is not the protocol: logs */
        {.flags = UV_INHERIT_FD, .data.fd = 2},
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&p->pipe},
    };
    uv_process_options_t opts = {
        .exit_cb = on_exit_cb,
        .file = args[0],
        .args = args,
        .stdio = stdio,
        .stdio_count = 4,
    };
    int rc = uv_spawn(loop, &p->proc, &opts);
    if (rc < 0) {
        snprintf(err, err_size, "cannot start a runner: %s", uv_strerror(rc));
        p->exited = 1;
        p->open_handles = 3;
        p->pipe_closed = 1;
        uv_close((uv_handle_t *)&p->pipe, on_handle_closed);
        uv_close((uv_handle_t *)&p->kill_timer, on_handle_closed);
        uv_close((uv_handle_t *)&p->proc, on_handle_closed);
        return NULL;
    }
    p->open_handles = 3;
    uv_read_start((uv_stream_t *)&p->pipe, alloc_cb, read_cb);
    qm_log_debug("runner %d started for %s", (int)p->proc.pid, sp->model_path);
    return p;
}

static void write_done(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

void qm_runner_proc_send(struct qm_runner_proc *p, json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(msg);
    if (!s || p->pipe_closed || p->stopping) {
        free(s);
        return;
    }
    size_t n = strlen(s);
    s[n] = '\n';
    uv_write_t *w = malloc(sizeof *w);
    if (!w) {
        free(s);
        return;
    }
    w->data = s;
    uv_buf_t b = uv_buf_init(s, (unsigned)(n + 1));
    if (uv_write(w, (uv_stream_t *)&p->pipe, &b, 1, write_done) < 0) {
        free(s);
        free(w);
    }
}

static void kill_cb(uv_timer_t *t)
{
    struct qm_runner_proc *p = t->data;
    if (!p->exited)
        uv_process_kill(&p->proc, SIGKILL);
}

void qm_runner_proc_stop(struct qm_runner_proc *p, uint64_t grace_ms)
{
    if (p->exited)
        return;
    if (!p->stopping) {
        qm_runner_proc_send(p, json_pack("{s:s}", "op", "quit"));
        p->stopping = 1;
    }
    if (grace_ms == 0)
        uv_process_kill(&p->proc, SIGKILL);
    else
        uv_timer_start(&p->kill_timer, kill_cb, grace_ms, 0);
}

int qm_runner_proc_pid(const struct qm_runner_proc *p)
{
    return p->proc.pid;
}
