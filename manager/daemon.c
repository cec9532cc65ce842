/* daemon.c - scheduler decisions carried out with runner processes.
 *
 * The scheduler's callbacks must not call back into it, so anything that
 * would (a runner that could not even be spawned) is deferred to the loop
 * through `later`. */
#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "gpu_nvml.h"
#include "log.h"
#include "runner_proc.h"
#include "scheduler.h"

struct rt;

struct qm_dreq {
    struct qm_sched_req sr;
    struct qm_daemon *d;
    struct qm_dreq_cbs cbs;
    void *ud;
    json_t *job;
    uint64_t id;
    int64_t submit_ns;
    bool cancelled;        /* no more callbacks */
    bool cut;              /* cancelled by the end of the shutdown grace period */
    struct rt *rt;         /* while running */
    struct qm_dreq *next;  /* in rt->running */
};

/* The runtime side of an instance: its process and running requests. */
struct rt {
    struct qm_daemon *d;
    struct qm_inst *inst;
    struct qm_runner_proc *proc;
    struct qm_dreq *running;
    bool spawn_failed;
    char spawn_err[256];
    struct rt *next_failed;
};

struct qm_daemon {
    uv_loop_t *loop;
    const struct qm_config *cfg;
    struct qm_sched *sched;
    uv_timer_t tick;
    uv_timer_t later;         /* deferred scheduler calls */
    struct rt *failed;        /* spawns that failed, to report */
    uint64_t next_id;
    bool shutting_down;
    uv_timer_t grace;
    bool cut_sent;            /* the grace period is over; streams are being ended */
    void (*shutdown_done)(void *ud);
    void *shutdown_ud;
};

static void check_shutdown(struct qm_daemon *d);
static void tick_cb(uv_timer_t *t);

/* Arm the timer for the scheduler's next deadline, after every event. */
static void rearm(struct qm_daemon *d)
{
    int64_t next = qm_sched_next_deadline(d->sched);
    if (next < 0) {
        uv_timer_stop(&d->tick);
    } else {
        int64_t delay = next - qm_mono_ns();
        uint64_t ms = delay <= 0 ? 0 : (uint64_t)((delay + 999999) / 1000000);
        uv_timer_start(&d->tick, tick_cb, ms, 0);
    }
    check_shutdown(d);
}

static void tick_cb(uv_timer_t *t)
{
    struct qm_daemon *d = t->data;
    qm_sched_tick(d->sched, qm_mono_ns());
    rearm(d);
}

static void free_req(struct qm_dreq *r)
{
    json_decref(r->job);
    free(r);
}

static void fail_event(struct qm_dreq *r, int status, const char *msg)
{
    if (r->cancelled)
        return;
    json_t *ev = json_pack("{s:s, s:i, s:s}", "type", "fail", "status", status, "error", msg);
    r->cbs.on_event(r->ud, ev);
    json_decref(ev);
}

/* ---- scheduler callbacks ----------------------------------------------------- */

static void on_runner_message(struct qm_runner_proc *p, json_t *msg, void *ud);
static void on_runner_exit(struct qm_runner_proc *p, int64_t status, int sig, void *ud);

static void later_cb(uv_timer_t *t)
{
    struct qm_daemon *d = t->data;
    while (d->failed) {
        struct rt *rt = d->failed;
        d->failed = rt->next_failed;
        int64_t now = qm_mono_ns();
        qm_sched_load_failed(d->sched, rt->inst, rt->spawn_err, now);
        qm_sched_runner_exited(d->sched, rt->inst, "never started", now);
        free(rt);
    }
    rearm(d);
}

static void op_start(void *ud, struct qm_inst *inst)
{
    struct qm_daemon *d = ud;
    struct rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        abort();   /* nothing sane to do without a few bytes */
    rt->d = d;
    rt->inst = inst;
    inst->ud = rt;
    struct qm_runner_spawn sp = {
        .model_path = inst->path,
        .n_ctx = inst->num_ctx,
        .n_parallel = inst->num_parallel,
        .gpu_layers = inst->num_gpu,
        .kv_type = qm_kv_type_name(inst->kv_type),
    };
    struct qm_runner_proc_cbs cbs = {.on_message = on_runner_message, .on_exit = on_runner_exit};
    qm_log_info("loading %s (ctx %d x %d slots, %d GPU layers)", inst->name, inst->num_ctx, inst->num_parallel,
                inst->num_gpu);
    rt->proc = qm_runner_proc_start(d->loop, &sp, &cbs, rt, rt->spawn_err, sizeof rt->spawn_err);
    if (!rt->proc) {
        qm_log_err("%s: %s", inst->name, rt->spawn_err);
        rt->spawn_failed = true;
        rt->next_failed = d->failed;
        d->failed = rt;
        uv_timer_start(&d->later, later_cb, 0, 0);
    }
}

static void op_stop(void *ud, struct qm_inst *inst)
{
    struct rt *rt = inst->ud;
    (void)ud;
    qm_log_info("unloading %s", inst->name);
    if (rt && rt->proc)
        qm_runner_proc_stop(rt->proc, 5000);
}

static void op_dispatch(void *ud, struct qm_sched_req *sr, struct qm_inst *inst)
{
    struct qm_daemon *d = ud;
    struct qm_dreq *r = sr->ud;
    struct rt *rt = inst->ud;
    int64_t waited = qm_mono_ns() - r->submit_ns;
    if (sr->load_only) {
        if (!r->cancelled)
            r->cbs.on_start(r->ud, waited);
        free_req(r);
        return;
    }
    r->rt = rt;
    r->id = ++d->next_id;
    r->next = rt->running;
    rt->running = r;
    if (!r->cancelled)
        r->cbs.on_start(r->ud, waited);
    json_t *job = json_deep_copy(r->job);
    json_object_set_new(job, "id", json_integer((json_int_t)r->id));
    qm_runner_proc_send(rt->proc, job);
    if (r->cancelled)
        qm_runner_proc_send(rt->proc, json_pack("{s:s, s:I}", "op", "cancel", "id", (json_int_t)r->id));
}

static void unlink_running(struct qm_dreq *r)
{
    if (!r->rt)
        return;
    for (struct qm_dreq **pp = &r->rt->running; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    r->rt = NULL;
}

static void op_reject(void *ud, struct qm_sched_req *sr, int status, const char *msg)
{
    struct qm_dreq *r = sr->ud;
    (void)ud;
    unlink_running(r);
    fail_event(r, status, msg);
    free_req(r);
}

/* ---- runner events ----------------------------------------------------------------- */

static void on_runner_message(struct qm_runner_proc *p, json_t *msg, void *ud)
{
    struct rt *rt = ud;
    struct qm_daemon *d = rt->d;
    const char *type = json_string_value(json_object_get(msg, "type"));
    int64_t now = qm_mono_ns();
    (void)p;
    if (!type)
        return;
    if (!strcmp(type, "progress")) {
        qm_sched_load_progress(d->sched, rt->inst, now);
    } else if (!strcmp(type, "ready")) {
        uint64_t vram = (uint64_t)json_integer_value(json_object_get(msg, "vram"));
        uint64_t ram = (uint64_t)json_integer_value(json_object_get(msg, "ram"));
        qm_log_info("%s ready: %llu MiB RAM, %llu MiB VRAM", rt->inst->name, (unsigned long long)(ram >> 20),
                    (unsigned long long)(vram >> 20));
        qm_sched_loaded(d->sched, rt->inst, vram, ram, now);
    } else if (!strcmp(type, "error")) {
        const char *e = json_string_value(json_object_get(msg, "error"));
        qm_log_err("%s: load failed: %s", rt->inst->name, e ? e : "?");
        qm_sched_load_failed(d->sched, rt->inst, e ? e : "the runner failed to load the model", now);
    } else {
        json_t *idj = json_object_get(msg, "id");
        struct qm_dreq *r = rt->running;
        while (r && !(json_is_integer(idj) && (uint64_t)json_integer_value(idj) == r->id))
            r = r->next;
        if (!r) {
            if (!strcmp(type, "fail"))
                qm_log_warn("runner of %s: %s", rt->inst->name, json_string_value(json_object_get(msg, "error")));
            return;
        }
        bool final = strcmp(type, "token") != 0;
        /* a stream cut by shutdown says so, rather than the "cancel" that
         * otherwise only a client that is gone would see */
        const char *reason = json_string_value(json_object_get(msg, "done_reason"));
        if (r->cut && !strcmp(type, "done") && reason && !strcmp(reason, "cancel"))
            json_object_set_new(msg, "done_reason", json_string("shutdown"));
        if (!strcmp(type, "done"))
            qm_log_debug("%s: request %llu done: %s", rt->inst->name, (unsigned long long)r->id,
                         json_string_value(json_object_get(msg, "done_reason")));
        if (!r->cancelled)
            r->cbs.on_event(r->ud, msg);
        if (final) {
            unlink_running(r);
            qm_sched_request_done(d->sched, &r->sr, now);
            free_req(r);
        }
    }
    rearm(d);
}

static void on_runner_exit(struct qm_runner_proc *p, int64_t status, int sig, void *ud)
{
    struct rt *rt = ud;
    struct qm_daemon *d = rt->d;
    char why[64];
    (void)p;
    if (sig)
        snprintf(why, sizeof why, "signal %d", sig);
    else
        snprintf(why, sizeof why, "exit status %lld", (long long)status);
    if (sig || status)
        qm_log_warn("the runner of %s ended: %s", rt->inst->name, why);
    qm_sched_runner_exited(d->sched, rt->inst, why, qm_mono_ns());   /* rejects what still ran */
    free(rt);
    rearm(d);
}

/* ---- GPUs ------------------------------------------------------------------------------ */

/* Layers run on a real GPU only once the engine's CUDA forward pass exists
 * (issue 6); until then the GPUs NVML finds are reported, not used. */
static const bool engine_offloads = false;

/* The NVIDIA GPUs the driver reports (at start, before the loop runs); 0
 * without a driver: the CPU. */
static int real_gpus(struct qm_gpu_info *gpus, int cap)
{
    /* NVML numbers devices in PCI bus order; make the runners' CUDA agree */
    setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID", 0);
    struct qm_nvml *nvml;
    struct qm_err err = {{0}};
    if (qm_nvml_open(&nvml, &err) < 0) {
        qm_log_info("%s: models run on the CPU", err.msg);
        return 0;
    }
    int n = qm_nvml_query(nvml, gpus, cap, &err);
    qm_nvml_close(nvml);
    if (n < 0) {
        qm_log_warn("%s: models run on the CPU", err.msg);
        return 0;
    }
    if (n == 0)
        qm_log_info("NVML sees no GPU: models run on the CPU");
    for (int i = 0; i < n; i++)
        qm_log_info("GPU %d: %s, %llu MiB free of %llu MiB", i, gpus[i].name,
                    (unsigned long long)(gpus[i].free >> 20), (unsigned long long)(gpus[i].total >> 20));
    if (n > 0 && !engine_offloads) {
        qm_log_warn("this build cannot run layers on a GPU yet: models run on the CPU");
        return 0;
    }
    return n;
}

/* ---- the public side ------------------------------------------------------------------ */

static const struct qm_sched_ops ops = {
    .start = op_start, .stop = op_stop, .dispatch = op_dispatch, .reject = op_reject};

struct qm_daemon *qm_daemon_new(uv_loop_t *loop, const struct qm_config *cfg)
{
    struct qm_daemon *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->loop = loop;
    d->cfg = cfg;
    struct qm_sched_config sc;
    qm_sched_config_from(&sc, cfg);
    struct qm_gpu_info gpus[QM_MAX_GPUS];
    int n = qm_gpu_info_from_sim(&cfg->sim_gpu, gpus, QM_MAX_GPUS);
    if (n == 0)
        n = real_gpus(gpus, QM_MAX_GPUS);
    d->sched = qm_sched_new(&sc, gpus, n, &ops, d);
    if (!d->sched) {
        free(d);
        return NULL;
    }
    uv_timer_init(loop, &d->tick);
    uv_timer_init(loop, &d->later);
    uv_timer_init(loop, &d->grace);
    d->tick.data = d->later.data = d->grace.data = d;
    uv_unref((uv_handle_t *)&d->tick);
    uv_unref((uv_handle_t *)&d->later);
    uv_unref((uv_handle_t *)&d->grace);
    return d;
}

static void timer_closed(uv_handle_t *h)
{
    struct qm_daemon *d = h->data;
    if (h == (uv_handle_t *)&d->grace) {
        qm_sched_free(d->sched);
        free(d);
    }
}

void qm_daemon_free(struct qm_daemon *d)
{
    if (!d)
        return;
    uv_close((uv_handle_t *)&d->tick, NULL);
    uv_close((uv_handle_t *)&d->later, NULL);
    uv_close((uv_handle_t *)&d->grace, timer_closed);
}

struct qm_dreq *qm_daemon_submit(struct qm_daemon *d, const struct qm_dreq_spec *spec,
                                 const struct qm_dreq_cbs *cbs, void *ud)
{
    struct qm_dreq *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->d = d;
    r->cbs = *cbs;
    r->ud = ud;
    r->job = spec->job ? json_incref(spec->job) : NULL;
    r->submit_ns = qm_mono_ns();
    r->sr.model = (struct qm_sched_model){.name = spec->model,
                                          .path = spec->path,
                                          .digest = spec->digest,
                                          .info = spec->info,
                                          .num_ctx = spec->model_num_ctx,
                                          .num_parallel = spec->model_num_parallel};
    r->sr.num_ctx = spec->num_ctx;
    r->sr.num_gpu = spec->num_gpu;
    r->sr.has_keep_alive = spec->has_keep_alive;
    r->sr.keep_alive_ns = spec->keep_alive_ns;
    r->sr.load_only = spec->load_only;
    r->sr.pin = spec->pin;
    r->sr.ud = r;
    qm_sched_submit(d->sched, &r->sr, r->submit_ns);
    rearm(d);
    return r;
}

void qm_daemon_cancel(struct qm_dreq *r)
{
    struct qm_daemon *d = r->d;
    r->cancelled = true;
    if (r->sr.state == QM_REQ_WAITING && qm_sched_cancel(d->sched, &r->sr, qm_mono_ns())) {
        free_req(r);
    } else if (r->rt && r->rt->proc) {
        qm_runner_proc_send(r->rt->proc, json_pack("{s:s, s:I}", "op", "cancel", "id", (json_int_t)r->id));
    }
    rearm(d);
}

bool qm_daemon_unload(struct qm_daemon *d, const char *model)
{
    int n = qm_sched_unload(d->sched, model, qm_mono_ns());
    rearm(d);
    return n > 0;
}

/* When an instance's keep-alive runs out, in Unix ns.  A busy or loading
 * instance starts its keep-alive only when it goes idle: shown as if that
 * were now, as Ollama does, rather than as never. */
static int64_t ps_expiry(const struct qm_inst *i, int64_t mono, int64_t wall)
{
    if (i->pinned || i->keep_alive_ns < 0)
        return INT64_MAX;
    if (i->busy || i->state != QM_INST_READY)
        return i->keep_alive_ns > INT64_MAX - wall ? INT64_MAX : wall + i->keep_alive_ns;
    return i->expires_ns == INT64_MAX ? INT64_MAX : wall + (i->expires_ns - mono);
}

int qm_daemon_ps(struct qm_daemon *d, struct qm_daemon_ps *out, int cap)
{
    int n = 0;
    int64_t mono = qm_mono_ns(), wall = qm_wall_ns();
    for (struct qm_inst *i = qm_sched_next_inst(d->sched, NULL); i; i = qm_sched_next_inst(d->sched, i), n++) {
        if (n >= cap)
            continue;
        out[n] = (struct qm_daemon_ps){
            .name = i->name,
            .digest = i->digest,
            .size = i->vram + i->ram,
            .size_vram = i->vram,
            .expires_at_ns = ps_expiry(i, mono, wall),
            .context_length = i->num_ctx,
            .num_gpu = i->num_gpu,
            .n_layer = i->info ? i->info->n_layer : 0,
            .state = qm_inst_state_name(i->state),
        };
    }
    return n;
}

int qm_daemon_n_loaded(const struct qm_daemon *d)
{
    int n = 0;
    for (struct qm_inst *i = qm_sched_next_inst(d->sched, NULL); i; i = qm_sched_next_inst(d->sched, i))
        n += i->state == QM_INST_READY;
    return n;
}

static void check_shutdown(struct qm_daemon *d)
{
    if (d->shutting_down && d->shutdown_done && qm_sched_empty(d->sched)) {
        void (*done)(void *) = d->shutdown_done;
        d->shutdown_done = NULL;
        uv_timer_stop(&d->grace);
        done(d->shutdown_ud);
    }
}

enum { CUT_WAIT_MS = 2000 };   /* for the runners to answer the cancels */

/* The grace period is over.  Killing the runners now would end each stream
 * with an error line; so first cancel what still runs, which the runner
 * answers at its next step with the request's last event (done_reason
 * "shutdown", see on_runner_message).  The scheduler then stops the idle
 * runners; what has not ended CUT_WAIT_MS later is stopped regardless. */
static void grace_cb(uv_timer_t *t)
{
    struct qm_daemon *d = t->data;
    if (!d->cut_sent) {
        d->cut_sent = true;
        int n = 0;
        for (struct qm_inst *i = qm_sched_next_inst(d->sched, NULL); i; i = qm_sched_next_inst(d->sched, i)) {
            struct rt *rt = i->ud;
            for (struct qm_dreq *r = rt && rt->proc ? rt->running : NULL; r; r = r->next) {
                if (r->cancelled)
                    continue;
                r->cut = true;
                qm_runner_proc_send(rt->proc, json_pack("{s:s, s:I}", "op", "cancel", "id", (json_int_t)r->id));
                n++;
            }
        }
        if (n > 0) {
            qm_log_info("shutdown: the grace period is over; ending %d request(s)", n);
            uv_timer_start(&d->grace, grace_cb, CUT_WAIT_MS, 0);
            return;
        }
    }
    qm_log_info("shutdown: stopping the runners");
    qm_sched_stop_all(d->sched, qm_mono_ns());
    rearm(d);
}

void qm_daemon_shutdown(struct qm_daemon *d, int64_t grace_ns, void (*done)(void *ud), void *ud)
{
    d->shutting_down = true;
    d->shutdown_done = done;
    d->shutdown_ud = ud;
    qm_sched_drain(d->sched, qm_mono_ns());
    if (grace_ns >= 0)
        uv_timer_start(&d->grace, grace_cb, (uint64_t)(grace_ns / 1000000), 0);
    rearm(d);
}
