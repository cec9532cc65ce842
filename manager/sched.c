/* sched.c - the scheduler's events and the pass that serves waiting requests.
 *
 * Every event changes a little state and then runs one pass: the waiting
 * requests in arrival order, each dispatched, left waiting, or handed to
 * sched_place (sched_place.c) to load its model; then idle instances that
 * should go are stopped.  Which instances are draining (taking no newer
 * request because an older one needs them gone) is worked out afresh in
 * every pass, so a cancelled request releases what it had claimed.  A pass
 * is O(waiting × instances); both are small (MAX_QUEUE, MAX_LOADED_MODELS),
 * and it saves keeping indexes in step with the lists. */
#include "sched_impl.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define NO_DRAIN UINT64_MAX

/* A callback calling back in would change the lists under the pass. */
#define ENTER(s) assert((s)->in_callback == 0 && "qm_sched_* called from a scheduler callback")

static const char msg_busy[] = "server busy, please try again. maximum pending requests exceeded";
static const char msg_shutdown[] = "server is shutting down";

const char *qm_inst_state_name(enum qm_inst_state st)
{
    switch (st) {
    case QM_INST_LOADING: return "loading";
    case QM_INST_READY: return "ready";
    case QM_INST_UNLOADING: return "unloading";
    }
    return "?";
}

int qm_gpu_info_from_sim(const struct qm_sim_gpu *sim, struct qm_gpu_info *out, int cap)
{
    int n = 0;
    for (; sim && n < sim->count && n < cap; n++) {
        memset(&out[n], 0, sizeof out[n]);
        snprintf(out[n].name, sizeof out[n].name, "%s", sim->name[0] ? sim->name : "simulated GPU");
        out[n].total = out[n].free = sim->vram;
        out[n].simulated = true;
    }
    return n;
}

void qm_sched_config_from(struct qm_sched_config *sc, const struct qm_config *cfg)
{
    memset(sc, 0, sizeof *sc);
    sc->max_loaded = cfg->max_loaded_models;
    sc->num_parallel = cfg->num_parallel;
    sc->num_ctx = cfg->context_length;
    sc->keep_alive_ns = cfg->keep_alive_ns;
    sc->max_queue = cfg->max_queue;
    sc->gpu_overhead = cfg->gpu_overhead;
    sc->load_timeout_ns = cfg->load_timeout_ns;
    sc->kv_type = cfg->kv_cache_type;
}

/* ---- lists -------------------------------------------------------------- */

static void wait_append(struct qm_sched *s, struct qm_sched_req *r)
{
    r->prev = s->wait_tail;
    r->next = NULL;
    if (s->wait_tail)
        s->wait_tail->next = r;
    else
        s->wait_head = r;
    s->wait_tail = r;
    s->n_waiting++;
}

static void wait_unlink(struct qm_sched *s, struct qm_sched_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        s->wait_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        s->wait_tail = r->prev;
    r->prev = r->next = NULL;
    s->n_waiting--;
}

static void run_append(struct qm_inst *inst, struct qm_sched_req *r)
{
    r->prev = inst->run_tail;
    r->next = NULL;
    if (inst->run_tail)
        inst->run_tail->next = r;
    else
        inst->run_head = r;
    inst->run_tail = r;
    inst->busy++;
}

static void run_unlink(struct qm_inst *inst, struct qm_sched_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        inst->run_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        inst->run_tail = r->prev;
    r->prev = r->next = NULL;
    inst->busy--;
}

/* ---- models ------------------------------------------------------------- */

static struct qm_sched_mdl *mdl_get(struct qm_sched *s, const struct qm_sched_model *m)
{
    struct qm_sched_mdl *d;
    for (d = s->models; d; d = d->next)
        if (strcmp(d->name, m->name) == 0 && strcmp(d->path, m->path) == 0)
            break;
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d || !(d->name = strdup(m->name)) || !(d->path = strdup(m->path))) {
            if (d)
                free(d->name);
            free(d);
            return NULL;
        }
        d->info = *m->info;
        snprintf(d->digest, sizeof d->digest, "%s", m->digest ? m->digest : "");
        d->next = s->models;
        s->models = d;
    }
    /* a re-created Modelfile's values win (same weights: no reload) */
    if (m->digest)
        snprintf(d->digest, sizeof d->digest, "%s", m->digest);
    d->num_ctx = m->num_ctx;
    d->num_parallel = m->num_parallel;
    d->refs++;
    return d;
}

static void mdl_put(struct qm_sched *s, struct qm_sched_mdl *d)
{
    if (--d->refs > 0)
        return;
    for (struct qm_sched_mdl **pp = &s->models; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    free(d->name);
    free(d->path);
    free(d);
}

int sched_num_parallel(const struct qm_sched *s, const struct qm_sched_mdl *m)
{
    return m->num_parallel > 0 ? m->num_parallel : s->cfg.num_parallel;
}

/* ---- callbacks ---------------------------------------------------------- */

void sched_cb_start(struct qm_sched *s, struct qm_inst *inst)
{
    s->in_callback++;
    s->ops.start(s->ud, inst);
    s->in_callback--;
}

void sched_cb_stop(struct qm_sched *s, struct qm_inst *inst)
{
    s->in_callback++;
    s->ops.stop(s->ud, inst);
    s->in_callback--;
}

static void cb_dispatch(struct qm_sched *s, struct qm_sched_req *r, struct qm_inst *inst)
{
    s->in_callback++;
    s->ops.dispatch(s->ud, r, inst);
    s->in_callback--;
}

/* The request is no longer the scheduler's business. */
static void finish(struct qm_sched *s, struct qm_sched_req *r)
{
    r->state = QM_REQ_FINISHED;
    r->inst = NULL;
    if (r->mdl)
        mdl_put(s, r->mdl);
    r->mdl = NULL;
}

static void reject(struct qm_sched *s, struct qm_sched_req *r, int status, const char *msg)
{
    finish(s, r);
    qm_log_debug("sched: request %llu rejected (%d): %s", (unsigned long long)r->seq, status, msg);
    s->in_callback++;
    s->ops.reject(s->ud, r, status, msg);
    s->in_callback--;
}

void sched_reject_waiting(struct qm_sched *s, struct qm_sched_req *r, int status, const char *msg)
{
    wait_unlink(s, r);
    reject(s, r, status, msg);
}

/* ---- instances ---------------------------------------------------------- */

static int64_t keep_alive_of(const struct qm_sched *s, const struct qm_sched_req *r)
{
    return r->has_keep_alive ? r->keep_alive_ns : s->cfg.keep_alive_ns;
}

/* The instance just went idle (or its keep_alive changed while idle). */
static void set_idle(struct qm_inst *inst, int64_t now)
{
    if (inst->pinned || inst->keep_alive_ns < 0)
        inst->expires_ns = INT64_MAX;
    else if (inst->keep_alive_ns > INT64_MAX - now)
        inst->expires_ns = INT64_MAX;
    else
        inst->expires_ns = now + inst->keep_alive_ns;
}

void sched_stop_inst(struct qm_sched *s, struct qm_inst *inst, int64_t now, const char *why)
{
    (void)now;
    qm_log_debug("sched: %s #%llu %s -> unloading (%s)", inst->name, (unsigned long long)inst->id,
                 qm_inst_state_name(inst->state), why);
    inst->state = QM_INST_UNLOADING;
    inst->expires_ns = INT64_MAX;
    sched_cb_stop(s, inst);
}

/* The loading or ready instance of a model; at most one exists. */
static struct qm_inst *live_inst(const struct qm_sched *s, const struct qm_sched_mdl *m)
{
    for (struct qm_inst *i = s->inst_head; i; i = i->next)
        if (i->mdl == m && i->state != QM_INST_UNLOADING)
            return i;
    return NULL;
}

/* No reload for a smaller context; num_gpu only matters when asked for. */
static bool compatible(const struct qm_inst *inst, const struct qm_sched_req *r)
{
    return inst->num_ctx >= r->want_ctx && (r->want_gpu < 0 || inst->num_gpu == r->want_gpu);
}

static bool can_take(const struct qm_inst *inst, const struct qm_sched_req *r)
{
    return inst->state == QM_INST_READY && r->seq < inst->drain_seq &&
           (r->load_only || inst->busy < inst->num_parallel);
}

static void dispatch(struct qm_sched *s, struct qm_sched_req *r, struct qm_inst *inst, int64_t now)
{
    wait_unlink(s, r);
    if (r->pin)
        r->mdl->pinned = true;
    inst->pinned = r->mdl->pinned;
    inst->keep_alive_ns = keep_alive_of(s, r);
    inst->last_used_ns = now;
    qm_log_debug("sched: request %llu -> %s #%llu (%d/%d busy)", (unsigned long long)r->seq, inst->name,
                 (unsigned long long)inst->id, inst->busy + !r->load_only, inst->num_parallel);
    if (r->load_only) {
        if (inst->busy == 0)
            set_idle(inst, now);
        finish(s, r);
    } else {
        run_append(inst, r);
        inst->expires_ns = INT64_MAX;
        r->state = QM_REQ_RUNNING;
        r->inst = inst;
    }
    cb_dispatch(s, r, inst);
}

/* Fail the waiting requests that this (failed) load would have served. */
static void fail_waiters(struct qm_sched *s, struct qm_inst *inst, const char *msg)
{
    struct qm_sched_req *next;
    for (struct qm_sched_req *r = s->wait_head; r; r = next) {
        next = r->next;
        if (r->mdl == inst->mdl && compatible(inst, r))
            sched_reject_waiting(s, r, 500, msg);
    }
}

/* ---- the pass ----------------------------------------------------------- */

static void serve(struct qm_sched *s, struct qm_sched_req *r, int64_t now, bool *load_blocked)
{
    struct qm_inst *inst = live_inst(s, r->mdl);
    if (inst) {
        if (compatible(inst, r)) {
            if (can_take(inst, r))
                dispatch(s, r, inst, now);
            return;   /* else it waits for a slot or for the load */
        }
        /* other options: replace it once the older requests are done */
        if (r->seq < inst->drain_seq)
            inst->drain_seq = r->seq;
        if (inst->state != QM_INST_READY || inst->busy > 0)
            return;
        /* idle: stop it and place the new one now, so that no newer
         * request re-creates the old options in between */
        sched_stop_inst(s, inst, now, "replaced by one with other options");
    }
    if (*load_blocked)
        return;   /* an older request waits for room: no overtaking it */
    bool rejected = false;
    if (!sched_place(s, r, now, &rejected) && !rejected)
        *load_blocked = true;
}

static bool should_stop(const struct qm_sched *s, const struct qm_inst *inst, int64_t now)
{
    if (inst->state != QM_INST_READY || inst->busy > 0)
        return false;
    return s->draining || inst->drain_seq != NO_DRAIN || (!inst->pinned && now >= inst->expires_ns);
}

static void pass(struct qm_sched *s, int64_t now)
{
    for (struct qm_inst *i = s->inst_head; i; i = i->next)
        i->drain_seq = NO_DRAIN;
    bool load_blocked = false;
    struct qm_sched_req *next;
    for (struct qm_sched_req *r = s->wait_head; r; r = next) {
        next = r->next;   /* serve unlinks r at most, never another */
        serve(s, r, now, &load_blocked);
    }
    for (struct qm_inst *i = s->inst_head; i; i = i->next)
        if (should_stop(s, i, now))
            sched_stop_inst(s, i, now,
                            s->draining ? "shutting down"
                            : i->drain_seq != NO_DRAIN ? "evicted"
                                                       : "keep_alive expired");
}

/* ---- life ---------------------------------------------------------------- */

struct qm_sched *qm_sched_new(const struct qm_sched_config *cfg, const struct qm_gpu_info *gpus, int n_gpus,
                              const struct qm_sched_ops *ops, void *ud)
{
    struct qm_sched *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    if (s->cfg.num_parallel < 1)
        s->cfg.num_parallel = 1;
    if (s->cfg.num_ctx < 1)
        s->cfg.num_ctx = 4096;
    if (s->cfg.max_queue < 1)
        s->cfg.max_queue = 512;
    s->n_gpus = n_gpus < 0 ? 0 : n_gpus > QM_MAX_GPUS ? QM_MAX_GPUS : n_gpus;
    if (s->n_gpus)
        memcpy(s->gpus, gpus, (size_t)s->n_gpus * sizeof *gpus);
    s->max_loaded = cfg->max_loaded > 0 ? cfg->max_loaded : 3 * (s->n_gpus > 0 ? s->n_gpus : 1);
    s->ops = *ops;
    s->ud = ud;
    return s;
}

void qm_sched_free(struct qm_sched *s)
{
    if (!s)
        return;
    struct qm_inst *in = s->inst_head;
    while (in) {
        struct qm_inst *next = in->next;
        free(in);
        in = next;
    }
    struct qm_sched_mdl *m = s->models;
    while (m) {
        struct qm_sched_mdl *next = m->next;
        free(m->name);
        free(m->path);
        free(m);
        m = next;
    }
    free(s);
}

/* ---- events ------------------------------------------------------------- */

void qm_sched_submit(struct qm_sched *s, struct qm_sched_req *r, int64_t now)
{
    ENTER(s);
    r->state = QM_REQ_NEW;
    r->inst = NULL;
    r->mdl = NULL;
    r->prev = r->next = NULL;
    r->seq = s->next_seq++;
    r->arrival_ns = now;
    const struct qm_sched_model *m = &r->model;
    if (s->draining) {
        reject(s, r, 503, msg_shutdown);
        return;
    }
    if (!m->name || !m->path || !m->info || m->info->n_layer <= 0 || m->info->n_layer > QM_EST_MAX_LAYERS) {
        reject(s, r, 500, "scheduler: the model's size is unknown (its header could not be read)");
        return;
    }
    if (!(r->mdl = mdl_get(s, m))) {
        reject(s, r, 500, "scheduler: out of memory");
        return;
    }

    int ctx = r->num_ctx > 0 ? r->num_ctx : r->mdl->num_ctx > 0 ? r->mdl->num_ctx : s->cfg.num_ctx;
    if (r->mdl->info.n_ctx_train > 0 && ctx > r->mdl->info.n_ctx_train)
        ctx = r->mdl->info.n_ctx_train;   /* as Ollama: no room for what the model never saw */
    r->want_ctx = ctx;
    if (r->num_gpu < 0)
        r->want_gpu = -1;
    else if (s->n_gpus == 0)
        r->want_gpu = 0;                  /* asking for GPU layers without a GPU */
    else
        r->want_gpu = r->num_gpu > r->mdl->info.n_layer ? r->mdl->info.n_layer : r->num_gpu;

    wait_append(s, r);
    r->state = QM_REQ_WAITING;
    qm_log_debug("sched: request %llu for %s (ctx %d, num_gpu %d), %d waiting", (unsigned long long)r->seq,
                 r->mdl->name, r->want_ctx, r->want_gpu, s->n_waiting);

    /* served at once: the pass would do the same (older waiters have had
     * their turn), but the queue limit must not refuse it */
    struct qm_inst *inst = live_inst(s, r->mdl);
    if (inst && compatible(inst, r) && can_take(inst, r) && inst->drain_seq == NO_DRAIN) {
        dispatch(s, r, inst, now);
        return;
    }
    if (s->n_waiting > s->cfg.max_queue) {
        sched_reject_waiting(s, r, 503, msg_busy);
        return;
    }
    pass(s, now);
}

void qm_sched_loaded(struct qm_sched *s, struct qm_inst *inst, uint64_t vram, uint64_t ram, int64_t now)
{
    ENTER(s);
    inst->vram = vram;   /* even if it is being stopped: the memory is real */
    inst->ram = ram;
    inst->reported = true;
    if (inst->state != QM_INST_LOADING)
        return;
    qm_log_debug("sched: %s #%llu loading -> ready (vram %llu, ram %llu)", inst->name,
                 (unsigned long long)inst->id, (unsigned long long)vram, (unsigned long long)ram);
    inst->state = QM_INST_READY;
    inst->last_used_ns = now;
    set_idle(inst, now);
    pass(s, now);
}

void qm_sched_load_progress(struct qm_sched *s, struct qm_inst *inst, int64_t now)
{
    ENTER(s);
    if (inst->state == QM_INST_LOADING && s->cfg.load_timeout_ns > 0)
        inst->load_deadline_ns = now > INT64_MAX - s->cfg.load_timeout_ns ? INT64_MAX
                                                                            : now + s->cfg.load_timeout_ns;
}

void qm_sched_load_failed(struct qm_sched *s, struct qm_inst *inst, const char *msg, int64_t now)
{
    ENTER(s);
    if (inst->state != QM_INST_LOADING)
        return;
    char text[400];
    snprintf(text, sizeof text, "model failed to load: %s", msg && *msg ? msg : "unknown error");
    qm_log_warn("%s: %s", inst->name, text);
    fail_waiters(s, inst, text);
    sched_stop_inst(s, inst, now, "load failed");
    pass(s, now);
}

void qm_sched_request_done(struct qm_sched *s, struct qm_sched_req *r, int64_t now)
{
    ENTER(s);
    if (r->state != QM_REQ_RUNNING)
        return;
    struct qm_inst *inst = r->inst;
    run_unlink(inst, r);
    inst->last_used_ns = now;
    if (inst->busy == 0 && inst->state == QM_INST_READY)
        set_idle(inst, now);
    finish(s, r);
    pass(s, now);
}

bool qm_sched_cancel(struct qm_sched *s, struct qm_sched_req *r, int64_t now)
{
    ENTER(s);
    if (r->state != QM_REQ_WAITING)
        return false;
    qm_log_debug("sched: request %llu cancelled while waiting", (unsigned long long)r->seq);
    wait_unlink(s, r);
    finish(s, r);
    pass(s, now);   /* what it had claimed (drains, the head of the queue) is free */
    return true;
}

void qm_sched_runner_exited(struct qm_sched *s, struct qm_inst *inst, const char *why, int64_t now)
{
    ENTER(s);
    char text[400];
    if (inst->state == QM_INST_LOADING) {
        snprintf(text, sizeof text, "model failed to load: the runner exited (%s)", why ? why : "unknown");
        qm_log_warn("%s: %s", inst->name, text);
        fail_waiters(s, inst, text);
    } else if (inst->state == QM_INST_READY) {
        qm_log_warn("%s: the runner exited unexpectedly (%s)", inst->name, why ? why : "unknown");
    }
    if (inst->stop_status)
        snprintf(text, sizeof text, "%s", inst->stop_msg);
    else
        snprintf(text, sizeof text,
                 "the model runner stopped unexpectedly (%s); this may be due to resource limits or an "
                 "internal error, see the qm server log",
                 why ? why : "unknown");
    struct qm_sched_req *r;
    while ((r = inst->run_head)) {
        run_unlink(inst, r);
        reject(s, r, inst->stop_status ? inst->stop_status : 500, text);
    }
    if (inst->prev)
        inst->prev->next = inst->next;
    else
        s->inst_head = inst->next;
    if (inst->next)
        inst->next->prev = inst->prev;
    else
        s->inst_tail = inst->prev;
    s->n_insts--;
    qm_log_debug("sched: %s #%llu exited", inst->name, (unsigned long long)inst->id);
    mdl_put(s, inst->mdl);
    free(inst);
    pass(s, now);
}

void qm_sched_gpu_update(struct qm_sched *s, int gpu, uint64_t total, uint64_t free_now, int64_t now)
{
    ENTER(s);
    if (gpu < 0 || gpu >= s->n_gpus || s->gpus[gpu].simulated)
        return;
    /* a loading runner's memory may or may not be in free_now yet: it is
     * not added back, so the budget errs on the small side */
    uint64_t ours = 0;
    for (const struct qm_inst *i = s->inst_head; i; i = i->next)
        if (i->gpu == gpu && i->reported)
            ours = ours > UINT64_MAX - i->vram ? UINT64_MAX : ours + i->vram;
    uint64_t budget = free_now > UINT64_MAX - ours ? UINT64_MAX : free_now + ours;
    s->gpus[gpu].total = total;
    s->gpus[gpu].free = budget < total ? budget : total;
    pass(s, now);
}

void qm_sched_tick(struct qm_sched *s, int64_t now)
{
    ENTER(s);
    for (struct qm_inst *i = s->inst_head; i; i = i->next) {
        if (i->state != QM_INST_LOADING || now < i->load_deadline_ns)
            continue;
        char text[200];
        snprintf(text, sizeof text, "timed out waiting for the model to load (no progress for %lld s)",
                 (long long)(s->cfg.load_timeout_ns / 1000000000));
        qm_log_warn("%s: %s", i->name, text);
        fail_waiters(s, i, text);
        sched_stop_inst(s, i, now, "load timed out");
    }
    pass(s, now);   /* stops what has expired */
}

int64_t qm_sched_next_deadline(const struct qm_sched *s)
{
    int64_t t = INT64_MAX;
    for (const struct qm_inst *i = s->inst_head; i; i = i->next) {
        if (i->state == QM_INST_LOADING && i->load_deadline_ns < t)
            t = i->load_deadline_ns;
        if (i->state == QM_INST_READY && i->busy == 0 && !i->pinned && i->expires_ns < t)
            t = i->expires_ns;
    }
    return t == INT64_MAX ? -1 : t;
}

int qm_sched_unload(struct qm_sched *s, const char *name, int64_t now)
{
    ENTER(s);
    int n = 0;
    for (struct qm_sched_mdl *m = s->models; m; m = m->next)
        if (strcmp(m->name, name) == 0)
            m->pinned = false;
    for (struct qm_inst *i = s->inst_head; i; i = i->next) {
        if (i->state == QM_INST_UNLOADING || strcmp(i->name, name) != 0)
            continue;
        i->pinned = false;
        i->keep_alive_ns = 0;
        if (i->state == QM_INST_READY && i->busy == 0)
            set_idle(i, now);
        n++;
    }
    pass(s, now);
    return n;
}

void qm_sched_drain(struct qm_sched *s, int64_t now)
{
    ENTER(s);
    s->draining = true;
    while (s->wait_head)
        sched_reject_waiting(s, s->wait_head, 503, msg_shutdown);
    for (struct qm_inst *i = s->inst_head; i; i = i->next)
        if (i->state == QM_INST_LOADING)
            sched_stop_inst(s, i, now, "shutting down");
    pass(s, now);
}

void qm_sched_stop_all(struct qm_sched *s, int64_t now)
{
    if (!s->draining)
        qm_sched_drain(s, now);
    ENTER(s);
    for (struct qm_inst *i = s->inst_head; i; i = i->next) {
        if (i->state == QM_INST_UNLOADING)
            continue;
        i->stop_status = 503;
        snprintf(i->stop_msg, sizeof i->stop_msg, "%s", msg_shutdown);
        sched_stop_inst(s, i, now, "shutting down");
    }
    /* those already unloading may still carry requests (none normally) */
    for (struct qm_inst *i = s->inst_head; i; i = i->next)
        if (!i->stop_status) {
            i->stop_status = 503;
            snprintf(i->stop_msg, sizeof i->stop_msg, "%s", msg_shutdown);
        }
}

bool qm_sched_empty(const struct qm_sched *s)
{
    return s->n_insts == 0 && s->n_waiting == 0;
}

/* ---- looking ------------------------------------------------------------ */

struct qm_inst *qm_sched_next_inst(const struct qm_sched *s, const struct qm_inst *prev)
{
    return prev ? prev->next : s->inst_head;
}

int qm_sched_waiting(const struct qm_sched *s)
{
    return s->n_waiting;
}

int qm_sched_max_loaded(const struct qm_sched *s)
{
    return s->max_loaded;
}

const struct qm_gpu_info *qm_sched_gpus(const struct qm_sched *s, int *n_gpus)
{
    *n_gpus = s->n_gpus;
    return s->gpus;
}

int64_t qm_sched_gpu_room(const struct qm_sched *s, int gpu)
{
    if (gpu < 0 || gpu >= s->n_gpus)
        return 0;
    const struct qm_gpu_info *g = &s->gpus[gpu];
    uint64_t budget = g->free > s->cfg.gpu_overhead ? g->free - s->cfg.gpu_overhead : 0;
    int64_t room = budget > INT64_MAX ? INT64_MAX : (int64_t)budget;
    for (const struct qm_inst *i = s->inst_head; i; i = i->next)
        if (i->gpu == gpu)
            room -= i->vram > (uint64_t)INT64_MAX / 4 ? INT64_MAX / 4 : (int64_t)i->vram;
    return room;
}
