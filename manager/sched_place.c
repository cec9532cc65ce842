/* sched_place.c - starting an instance: where it goes, what has to make room.
 *
 * For each place it could go (each GPU, or the CPU) the request's model is
 * sized against the room it could ever have there: the GPU's budget minus
 * the pinned instances, which never leave.  A model that does not fit that
 * goes hybrid (estimate.c picks the layers) - never because of instances
 * that could be evicted.  Then victims are picked until both the memory on
 * that GPU and MAX_LOADED_MODELS allow it: first instances already
 * unloading (they free their share at exit anyway), then idle ones least
 * recently used first, then busy ones the same way.  Loading and pinned
 * instances are not candidates.  With no victims the load starts at once;
 * else the idle victims are stopped, the busy ones drain, and the request
 * waits for their exits. */
#include "sched_impl.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

enum tier {
    TIER_NONE = -1,      /* not a candidate */
    TIER_UNLOADING = 0,
    TIER_IDLE = 1,
    TIER_BUSY = 2,
};

static enum tier tier_of(const struct qm_inst *i)
{
    if (i->state == QM_INST_UNLOADING)
        return TIER_UNLOADING;
    if (i->state != QM_INST_READY || i->pinned)
        return TIER_NONE;
    return i->busy ? TIER_BUSY : TIER_IDLE;
}

static int cand_cmp(const void *a, const void *b)
{
    const struct qm_inst *x = *(const struct qm_inst *const *)a, *y = *(const struct qm_inst *const *)b;
    enum tier tx = tier_of(x), ty = tier_of(y);
    if (tx != ty)
        return tx < ty ? -1 : 1;
    if (x->last_used_ns != y->last_used_ns)
        return x->last_used_ns < y->last_used_ns ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* One way to place the request. */
struct plan {
    bool ok;           /* it can start once its victims are gone */
    int gpu;           /* -1: on the CPU */
    struct qm_est est;
    uint64_t need;     /* VRAM to find on that GPU */
    int n_busy, n_idle, n_unloading;
    int64_t newest_victim;   /* last use of the most recently used victim */
    int64_t room_left;
};

/* Walk the candidates (sorted) taking those that help, until the plan
 * fits; with apply, act on them.  Returns whether it fits. */
static bool victims(struct qm_sched *s, struct qm_inst **cand, int n_cand, struct plan *p,
                    const struct qm_sched_req *r, bool apply, int64_t now)
{
    int64_t room = p->gpu >= 0 ? qm_sched_gpu_room(s, p->gpu) : INT64_MAX;
    int64_t need = (int64_t)p->need;
    int free_slots = s->max_loaded - s->n_insts;
    p->n_busy = p->n_idle = p->n_unloading = 0;
    p->newest_victim = INT64_MIN;
    for (int k = 0; k < n_cand && !(room >= need && free_slots >= 1); k++) {
        struct qm_inst *c = cand[k];
        bool helps_mem = p->gpu >= 0 && c->gpu == p->gpu && room < need && c->vram > 0;
        if (!helps_mem && free_slots >= 1)
            continue;
        if (c->gpu == p->gpu && p->gpu >= 0)
            room += (int64_t)c->vram;
        free_slots++;
        if (c->last_used_ns > p->newest_victim)
            p->newest_victim = c->last_used_ns;
        switch (tier_of(c)) {
        case TIER_UNLOADING:
            p->n_unloading++;
            break;
        case TIER_IDLE:
            p->n_idle++;
            if (apply) {
                char why[300];
                snprintf(why, sizeof why, "evicted to make room for %s", r->mdl->name);
                sched_stop_inst(s, c, now, why);
            }
            break;
        case TIER_BUSY:
            p->n_busy++;
            if (apply && r->seq < c->drain_seq)
                c->drain_seq = r->seq;   /* finishes its work, takes nothing newer */
            break;
        case TIER_NONE:
            break;
        }
    }
    p->room_left = room == INT64_MAX ? INT64_MAX : room - need;
    return room >= need && free_slots >= 1;
}

/* The GPU's budget minus the pinned instances: the most it could ever give. */
static uint64_t alone_room(const struct qm_sched *s, int g)
{
    const struct qm_gpu_info *gi = &s->gpus[g];
    uint64_t room = gi->free > s->cfg.gpu_overhead ? gi->free - s->cfg.gpu_overhead : 0;
    for (const struct qm_inst *i = s->inst_head; i; i = i->next)
        if (i->gpu == g && i->pinned && i->state != QM_INST_UNLOADING)
            room = room > i->vram ? room - i->vram : 0;
    return room;
}

/* Is a better than b? */
static bool better(const struct plan *a, const struct plan *b)
{
    if (a->ok != b->ok)
        return a->ok;
    if (a->est.num_gpu != b->est.num_gpu)
        return a->est.num_gpu > b->est.num_gpu;
    if (a->n_busy != b->n_busy)
        return a->n_busy < b->n_busy;
    if (a->n_idle != b->n_idle)
        return a->n_idle < b->n_idle;
    if (a->newest_victim != b->newest_victim)   /* LRU across GPUs too */
        return a->newest_victim < b->newest_victim;
    return a->room_left > b->room_left;
}

static void plan_for(struct qm_sched *s, const struct qm_sched_req *r, int g, struct qm_inst **cand,
                     int n_cand, struct plan *p)
{
    struct qm_est_params ep = {
        .num_ctx = r->want_ctx,
        .num_parallel = sched_num_parallel(s, r->mdl),
        .kv_type = s->cfg.kv_type,
        .num_gpu = g < 0 ? 0 : r->want_gpu,
        .n_batch = s->cfg.n_batch,
    };
    uint64_t alone = 0;
    if (g >= 0) {
        alone = alone_room(s, g);
        ep.gpu_free = alone;
        ep.proc_overhead = s->gpus[g].simulated ? 0 : QM_EST_CUDA_OVERHEAD;
    }
    qm_estimate(&r->mdl->info, &ep, &p->est);
    if (p->est.num_gpu == 0) {   /* not one layer fits: the CPU */
        g = -1;
        p->est.vram = 0;
    }
    p->gpu = g;
    /* an explicit num_gpu beyond what could ever fit: make all the room
     * there is and let the runner decide */
    p->need = g >= 0 ? (p->est.vram < alone ? p->est.vram : alone) : 0;
    p->ok = victims(s, cand, n_cand, p, r, false, 0);
}

static int count_pinned(const struct qm_sched *s)
{
    int n = 0;
    for (const struct qm_inst *i = s->inst_head; i; i = i->next)
        n += i->pinned && i->state != QM_INST_UNLOADING;
    return n;
}

static bool start(struct qm_sched *s, struct qm_sched_req *r, const struct plan *p, int64_t now)
{
    struct qm_inst *inst = calloc(1, sizeof *inst);
    if (!inst)
        return false;
    struct qm_sched_mdl *m = r->mdl;
    m->refs++;
    inst->id = ++s->next_inst_id;
    inst->mdl = m;
    inst->name = m->name;
    inst->path = m->path;
    inst->digest = m->digest;
    inst->info = &m->info;
    inst->state = QM_INST_LOADING;
    inst->num_ctx = r->want_ctx;
    inst->num_parallel = sched_num_parallel(s, m);
    inst->num_gpu = p->est.num_gpu;
    inst->gpu = p->gpu;
    inst->kv_type = s->cfg.kv_type;
    inst->vram = p->est.vram;
    inst->ram = p->est.ram;
    inst->pinned = m->pinned;
    inst->keep_alive_ns = r->has_keep_alive ? r->keep_alive_ns : s->cfg.keep_alive_ns;
    inst->started_ns = now;
    inst->last_used_ns = now;
    inst->expires_ns = INT64_MAX;
    inst->drain_seq = UINT64_MAX;
    inst->load_deadline_ns = s->cfg.load_timeout_ns <= 0 ? INT64_MAX
                             : now > INT64_MAX - s->cfg.load_timeout_ns ? INT64_MAX
                                                                        : now + s->cfg.load_timeout_ns;
    inst->prev = s->inst_tail;
    if (s->inst_tail)
        s->inst_tail->next = inst;
    else
        s->inst_head = inst;
    s->inst_tail = inst;
    s->n_insts++;
    qm_log_debug("sched: %s #%llu -> loading (ctx %d x %d, %d/%d layers on %s%d, vram %llu, ram %llu)",
                 inst->name, (unsigned long long)inst->id, inst->num_ctx, inst->num_parallel, inst->num_gpu,
                 m->info.n_layer, inst->gpu >= 0 ? "GPU " : "CPU", inst->gpu >= 0 ? inst->gpu : 0,
                 (unsigned long long)inst->vram, (unsigned long long)inst->ram);
    sched_cb_start(s, inst);
    return true;
}

bool sched_place(struct qm_sched *s, struct qm_sched_req *r, int64_t now, bool *rejected)
{
    *rejected = false;
    struct qm_inst **cand = malloc((size_t)(s->n_insts + 1) * sizeof *cand);
    if (!cand)
        return false;   /* try again at the next event */
    int n_cand = 0;
    for (struct qm_inst *i = s->inst_head; i; i = i->next)
        if (tier_of(i) != TIER_NONE)
            cand[n_cand++] = i;
    qsort(cand, (size_t)n_cand, sizeof *cand, cand_cmp);

    struct plan best = {.ok = false, .gpu = -1};
    bool have = false;
    if (s->n_gpus == 0 || r->want_gpu == 0) {
        plan_for(s, r, -1, cand, n_cand, &best);
        have = true;
    }
    for (int g = 0; !have && g < s->n_gpus; g++) {
        struct plan p;
        plan_for(s, r, g, cand, n_cand, &p);
        if (g == 0 || better(&p, &best))
            best = p;
    }

    bool started = false;
    if (!best.ok) {
        /* only pinned instances could be in the way for good */
        int pinned = count_pinned(s);
        if (pinned >= s->max_loaded) {
            char msg[400];
            snprintf(msg, sizeof msg,
                     "cannot load %s: %d pinned models (QM_PRELOAD) already fill QM_MAX_LOADED_MODELS=%d",
                     r->mdl->name, pinned, s->max_loaded);
            sched_reject_waiting(s, r, 503, msg);
            *rejected = true;
        }
    } else if (best.n_busy + best.n_idle + best.n_unloading > 0) {
        victims(s, cand, n_cand, &best, r, true, now);
    } else if (!(started = start(s, r, &best, now))) {
        sched_reject_waiting(s, r, 500, "scheduler: out of memory");
        *rejected = true;
    }
    free(cand);
    return started;
}
