/* test_sched.c - the scheduler's policy (manager/scheduler.h), without processes.
 *
 * A fake clock and fake ops that record every start, stop, dispatch and
 * reject; each test then checks the exact sequence of actions.  The GPU is
 * a simulated 8 GiB one and the models are about 3.4 GiB each, so it holds
 * two of three: every placement, eviction and waiting path is reachable.
 * Instances "report" their estimate when they become ready. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "scheduler.h"

#define S(x) ((int64_t)(x) * 1000000000ll)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* ---- the fake daemon ---------------------------------------------------- */

enum ev_type { EV_START, EV_STOP, EV_DISPATCH, EV_REJECT };

struct ev {
    enum ev_type type;
    struct qm_inst *inst;
    struct qm_sched_req *req;
    char model[64];
    int status;
    char msg[512];
};

struct fx {
    struct qm_sched *s;
    struct ev ev[256];
    int n, pos;
};

static struct ev *record(struct fx *f, enum ev_type t, struct qm_inst *inst, struct qm_sched_req *req)
{
    assert_true(f->n < 256);
    struct ev *e = &f->ev[f->n++];
    memset(e, 0, sizeof *e);
    e->type = t;
    e->inst = inst;
    e->req = req;
    if (inst)
        snprintf(e->model, sizeof e->model, "%s", inst->name);
    return e;
}

static void op_start(void *ud, struct qm_inst *inst) { record(ud, EV_START, inst, NULL); }
static void op_stop(void *ud, struct qm_inst *inst) { record(ud, EV_STOP, inst, NULL); }
static void op_dispatch(void *ud, struct qm_sched_req *r, struct qm_inst *inst)
{
    record(ud, EV_DISPATCH, inst, r);
}
static void op_reject(void *ud, struct qm_sched_req *r, int status, const char *msg)
{
    struct ev *e = record(ud, EV_REJECT, NULL, r);
    e->status = status;
    snprintf(e->msg, sizeof e->msg, "%s", msg);
}

static const struct qm_sched_ops fake_ops = {op_start, op_stop, op_dispatch, op_reject};

static const char *ev_name(const struct ev *e)
{
    static char buf[700];
    static const char *const names[] = {"start", "stop", "dispatch", "reject"};
    snprintf(buf, sizeof buf, "%s %s %s", names[e->type], e->model, e->msg);
    return buf;
}

static struct ev *next_ev(struct fx *f, enum ev_type t)
{
    if (f->pos >= f->n)
        fail_msg("expected a %s, nothing happened", t == EV_START ? "start" : t == EV_STOP ? "stop"
                                                                  : t == EV_DISPATCH ? "dispatch"
                                                                                     : "reject");
    struct ev *e = &f->ev[f->pos++];
    if (e->type != t)
        fail_msg("unexpected action: %s", ev_name(e));
    return e;
}

static struct qm_inst *want_start(struct fx *f, const char *model)
{
    struct ev *e = next_ev(f, EV_START);
    assert_string_equal(e->model, model);
    return e->inst;
}

static void want_stop(struct fx *f, const struct qm_inst *inst)
{
    struct ev *e = next_ev(f, EV_STOP);
    if (e->inst != inst)
        fail_msg("stopped %s, expected %s", e->model, inst->name);
}

static void want_dispatch(struct fx *f, const struct qm_sched_req *r, const struct qm_inst *inst)
{
    struct ev *e = next_ev(f, EV_DISPATCH);
    assert_ptr_equal(e->req, r);
    assert_ptr_equal(e->inst, inst);
}

static const char *want_reject(struct fx *f, const struct qm_sched_req *r, int status)
{
    struct ev *e = next_ev(f, EV_REJECT);
    assert_ptr_equal(e->req, r);
    assert_int_equal(e->status, status);
    return e->msg;
}

static void want_nothing(struct fx *f)
{
    if (f->pos < f->n)
        fail_msg("unexpected action: %s", ev_name(&f->ev[f->pos]));
}

/* ---- models and requests ------------------------------------------------ */

struct tmodel {
    const char *name;
    const char *path;
    struct qm_model_sizes info;
    int num_parallel;
    int num_ctx;
};

/* n_layer layers of layer_mib each, 100 MiB head and embedding; about
 * 3.4 GiB on the GPU with the defaults (32 layers of 100 MiB). */
static void make_model(struct tmodel *m, const char *name, int n_layer, uint64_t layer_mib)
{
    memset(m, 0, sizeof *m);
    m->name = name;
    m->path = name;   /* any distinct string */
    struct qm_model_sizes *mi = &m->info;
    snprintf(mi->arch, sizeof mi->arch, "llama");
    mi->n_layer = n_layer;
    mi->n_ctx_train = 32768;
    mi->n_embd = 2048;
    mi->n_ff = 5632;
    mi->n_head_kv = 4;
    mi->head_dim = 64;
    mi->n_vocab = 32000;
    mi->embd_bytes = 100 * MiB;
    mi->head_bytes = 100 * MiB;
    for (int i = 0; i < n_layer; i++)
        mi->layer_bytes[i] = layer_mib * MiB;
    mi->weight_bytes = (uint64_t)n_layer * layer_mib * MiB + 200 * MiB;
}

static struct tmodel A, B, C, BIG;

static void req_init(struct qm_sched_req *r, const struct tmodel *m)
{
    memset(r, 0, sizeof *r);
    r->model.name = m->name;
    r->model.path = m->path;
    r->model.info = &m->info;
    r->model.num_parallel = m->num_parallel;
    r->model.num_ctx = m->num_ctx;
    r->num_gpu = -1;
}

static void submit(struct fx *f, struct qm_sched_req *r, const struct tmodel *m, int64_t now)
{
    req_init(r, m);
    qm_sched_submit(f->s, r, now);
}

static struct qm_sched_config base_config(void)
{
    return (struct qm_sched_config){
        .max_loaded = 0,
        .num_parallel = 1,
        .num_ctx = 4096,
        .keep_alive_ns = S(300),
        .max_queue = 512,
        .load_timeout_ns = S(300),
        .kv_type = QM_KV_F16,
    };
}

static const struct qm_gpu_info gpu8 = {.name = "sim", .total = 8 * GiB, .free = 8 * GiB, .simulated = true};

static void fx_open(struct fx *f, const struct qm_sched_config *cfg, const struct qm_gpu_info *gpus, int n)
{
    memset(f, 0, sizeof *f);
    f->s = qm_sched_new(cfg, gpus, n, &fake_ops, f);
    assert_non_null(f->s);
}

static void fx_close(struct fx *f)
{
    want_nothing(f);
    qm_sched_free(f->s);
}

static void ready(struct fx *f, struct qm_inst *inst, int64_t now)
{
    qm_sched_loaded(f->s, inst, inst->vram, inst->ram, now);
}

/* Submit, expect a start, make it ready, expect the dispatch. */
static struct qm_inst *load_and_run(struct fx *f, struct qm_sched_req *r, const struct tmodel *m, int64_t now)
{
    submit(f, r, m, now);
    struct qm_inst *inst = want_start(f, m->name);
    want_nothing(f);
    ready(f, inst, now);
    want_dispatch(f, r, inst);
    return inst;
}

static int setup(void **state)
{
    (void)state;
    make_model(&A, "a", 32, 100);
    make_model(&B, "b", 32, 100);
    make_model(&C, "c", 32, 100);
    make_model(&BIG, "big", 40, 300);
    return 0;
}

/* ---- the tests ---------------------------------------------------------- */

/* The premise of the others: two fit in 8 GiB, three do not. */
static void two_of_three_fit(void **state)
{
    (void)state;
    struct qm_est e;
    struct qm_est_params p = {.num_ctx = 4096, .num_parallel = 1, .num_gpu = -1, .gpu_free = 8 * GiB};
    qm_estimate(&A.info, &p, &e);
    assert_int_equal(e.num_gpu, 32);
    assert_true(2 * e.vram <= 8 * GiB && 3 * e.vram > 8 * GiB);

    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    assert_int_equal(qm_sched_max_loaded(f.s), 3);
    struct qm_sched_req ra, rb;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(1));
    assert_int_equal(ia->gpu, 0);
    assert_int_equal(ia->num_gpu, 32);
    assert_int_equal(ia->num_ctx, 4096);
    assert_int_equal(ia->num_parallel, 1);
    assert_true(ia->vram == e.vram);
    struct qm_inst *ib = load_and_run(&f, &rb, &B, S(2));
    assert_true(qm_sched_gpu_room(f.s, 0) == (int64_t)(8 * GiB - ia->vram - ib->vram));
    fx_close(&f);
}

/* Eviction takes the least recently used idle instance, not the oldest. */
static void lru_eviction_order(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req ra, rb, ra2, rc;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(1));
    struct qm_inst *ib = load_and_run(&f, &rb, &B, S(2));
    qm_sched_request_done(f.s, &ra, S(10));
    qm_sched_request_done(f.s, &rb, S(20));
    submit(&f, &ra2, &A, S(30));   /* A is used again: B is now the LRU */
    want_dispatch(&f, &ra2, ia);
    qm_sched_request_done(f.s, &ra2, S(31));
    want_nothing(&f);

    submit(&f, &rc, &C, S(40));
    want_stop(&f, ib);
    want_nothing(&f);   /* C waits for B's process to exit */
    assert_int_equal(ib->state, QM_INST_UNLOADING);
    qm_sched_runner_exited(f.s, ib, "exit status 0", S(41));
    struct qm_inst *ic = want_start(&f, "c");
    ready(&f, ic, S(42));
    want_dispatch(&f, &rc, ic);

    /* and the next one goes after A (used at 31) rather than C (at 42) */
    struct qm_sched_req rb2;
    qm_sched_request_done(f.s, &rc, S(43));
    submit(&f, &rb2, &B, S(50));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, NULL, S(51));
    struct qm_inst *ib2 = want_start(&f, "b");
    ready(&f, ib2, S(52));
    want_dispatch(&f, &rb2, ib2);
    fx_close(&f);
}

static void max_loaded_forces_eviction(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    cfg.max_loaded = 1;
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req ra, rb;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(1));
    qm_sched_request_done(f.s, &ra, S(2));
    submit(&f, &rb, &B, S(3));   /* fits in VRAM, but only one may be loaded */
    want_stop(&f, ia);
    want_nothing(&f);
    qm_sched_runner_exited(f.s, ia, NULL, S(4));
    struct qm_inst *ib = want_start(&f, "b");
    ready(&f, ib, S(5));
    want_dispatch(&f, &rb, ib);
    fx_close(&f);
}

static void keep_alive_expiry(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    assert_true(qm_sched_next_deadline(f.s) == -1);

    /* the config's 5 minutes, counted from the end of the request */
    struct qm_sched_req r1;
    struct qm_inst *ia = load_and_run(&f, &r1, &A, S(1));
    assert_true(qm_sched_next_deadline(f.s) == -1);   /* busy: nothing timed */
    qm_sched_request_done(f.s, &r1, S(100));
    assert_true(qm_sched_next_deadline(f.s) == S(400));
    qm_sched_tick(f.s, S(399));
    want_nothing(&f);
    qm_sched_tick(f.s, S(400));
    want_stop(&f, ia);
    assert_true(qm_sched_next_deadline(f.s) == -1);
    qm_sched_runner_exited(f.s, ia, NULL, S(401));

    /* a request's keep_alive wins over the config's */
    struct qm_sched_req r2;
    req_init(&r2, &A);
    r2.has_keep_alive = true;
    r2.keep_alive_ns = S(10);
    qm_sched_submit(f.s, &r2, S(500));
    ia = want_start(&f, "a");
    ready(&f, ia, S(501));
    want_dispatch(&f, &r2, ia);
    qm_sched_request_done(f.s, &r2, S(502));
    assert_true(qm_sched_next_deadline(f.s) == S(512));
    qm_sched_tick(f.s, S(512));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, NULL, S(513));

    /* keep_alive 0: stopped as soon as it is idle, no tick needed */
    struct qm_sched_req r3;
    req_init(&r3, &A);
    r3.has_keep_alive = true;
    r3.keep_alive_ns = 0;
    qm_sched_submit(f.s, &r3, S(600));
    ia = want_start(&f, "a");
    ready(&f, ia, S(601));
    want_dispatch(&f, &r3, ia);
    want_nothing(&f);
    qm_sched_request_done(f.s, &r3, S(602));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, NULL, S(603));

    /* negative: never */
    struct qm_sched_req r4;
    req_init(&r4, &A);
    r4.has_keep_alive = true;
    r4.keep_alive_ns = -1;
    qm_sched_submit(f.s, &r4, S(700));
    ia = want_start(&f, "a");
    ready(&f, ia, S(701));
    want_dispatch(&f, &r4, ia);
    qm_sched_request_done(f.s, &r4, S(702));
    assert_true(qm_sched_next_deadline(f.s) == -1);
    qm_sched_tick(f.s, S(1000000));
    want_nothing(&f);

    /* unload (keep_alive 0 without a prompt) */
    assert_int_equal(qm_sched_unload(f.s, "a", S(1000001)), 1);
    want_stop(&f, ia);
    assert_int_equal(qm_sched_unload(f.s, "b", S(1000001)), 0);
    qm_sched_runner_exited(f.s, ia, NULL, S(1000002));
    assert_true(qm_sched_empty(f.s));
    fx_close(&f);
}

static void queue_overflow_503(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    cfg.max_queue = 2;
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req rb, r[3], rb2;
    struct qm_inst *ib = load_and_run(&f, &rb, &B, S(1));
    qm_sched_request_done(f.s, &rb, S(2));

    submit(&f, &r[0], &A, S(3));
    struct qm_inst *ia = want_start(&f, "a");
    submit(&f, &r[1], &A, S(4));
    want_nothing(&f);
    assert_int_equal(qm_sched_waiting(f.s), 2);
    submit(&f, &r[2], &A, S(5));
    const char *msg = want_reject(&f, &r[2], 503);
    assert_string_equal(msg, "server busy, please try again. maximum pending requests exceeded");
    assert_int_equal(r[2].state, QM_REQ_FINISHED);
    assert_int_equal(qm_sched_waiting(f.s), 2);

    /* with the queue full, a request that can run at once still runs */
    submit(&f, &rb2, &B, S(6));
    want_dispatch(&f, &rb2, ib);

    ready(&f, ia, S(7));
    want_dispatch(&f, &r[0], ia);   /* one slot: r[1] waits for it */
    qm_sched_request_done(f.s, &r[0], S(8));
    want_dispatch(&f, &r[1], ia);
    qm_sched_request_done(f.s, &r[1], S(9));
    qm_sched_request_done(f.s, &rb2, S(9));
    fx_close(&f);
}

/* A busy instance is never stopped: the newcomer waits for it to finish. */
static void busy_never_evicted(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req ra, rb, rc, rb2;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(1));
    struct qm_inst *ib = load_and_run(&f, &rb, &B, S(2));

    submit(&f, &rc, &C, S(3));
    want_nothing(&f);   /* both busy: no stop, no start */
    qm_sched_tick(f.s, S(4));
    want_nothing(&f);

    /* B finishes first: B goes, though A is the LRU, because A is busy */
    qm_sched_request_done(f.s, &rb, S(5));
    want_stop(&f, ib);
    want_nothing(&f);
    assert_int_equal(ia->state, QM_INST_READY);

    /* a request for B now waits behind C (no overtaking) */
    submit(&f, &rb2, &B, S(6));
    want_nothing(&f);

    qm_sched_runner_exited(f.s, ib, NULL, S(7));
    struct qm_inst *ic = want_start(&f, "c");
    want_nothing(&f);
    ready(&f, ic, S(8));
    want_dispatch(&f, &rc, ic);
    want_nothing(&f);   /* B needs room: A and C are busy */

    qm_sched_request_done(f.s, &ra, S(9));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, NULL, S(10));
    struct qm_inst *ib2 = want_start(&f, "b");
    ready(&f, ib2, S(11));
    want_dispatch(&f, &rb2, ib2);
    qm_sched_request_done(f.s, &rc, S(12));
    qm_sched_request_done(f.s, &rb2, S(12));
    fx_close(&f);
}

/* A busy victim takes no newer request (else a steady stream to it would
 * starve the waiting model), but does serve the older ones. */
static void busy_victim_drains(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    cfg.max_loaded = 1;
    fx_open(&f, &cfg, &gpu8, 1);
    struct tmodel A2 = A;
    A2.num_parallel = 2;
    struct qm_sched_req ra1, ra2, rb, ra3;
    struct qm_inst *ia = load_and_run(&f, &ra1, &A2, S(1));
    assert_int_equal(ia->num_parallel, 2);
    submit(&f, &rb, &B, S(2));      /* needs A gone; A is busy */
    want_nothing(&f);
    submit(&f, &ra2, &A2, S(3));    /* A has a free slot, but B came first */
    want_nothing(&f);
    qm_sched_request_done(f.s, &ra1, S(4));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, NULL, S(5));
    struct qm_inst *ib = want_start(&f, "b");
    ready(&f, ib, S(6));
    want_dispatch(&f, &rb, ib);
    submit(&f, &ra3, &A2, S(7));
    want_nothing(&f);
    qm_sched_request_done(f.s, &rb, S(8));
    want_stop(&f, ib);
    qm_sched_runner_exited(f.s, ib, NULL, S(9));
    struct qm_inst *ia2 = want_start(&f, "a");
    ready(&f, ia2, S(10));
    want_dispatch(&f, &ra2, ia2);   /* both, in arrival order, two slots */
    want_dispatch(&f, &ra3, ia2);
    qm_sched_request_done(f.s, &ra2, S(11));
    qm_sched_request_done(f.s, &ra3, S(11));
    fx_close(&f);
}

/* While one request waits for room, a later one that would need a load
 * waits behind it even if it would fit now (arrival order; no starving the
 * big model by a stream of small ones). */
static void no_overtaking(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct tmodel big6, small1;
    make_model(&big6, "big6", 40, 150);   /* about 6 GiB */
    make_model(&small1, "small1", 8, 100);   /* under 1 GiB */
    struct qm_sched_req ra, rbig, rsmall, ra2;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(1));
    submit(&f, &rbig, &big6, S(2));     /* needs A gone: A is busy */
    want_nothing(&f);
    submit(&f, &rsmall, &small1, S(3)); /* would fit beside A, but waits */
    want_nothing(&f);
    /* a request that a loaded instance can serve is not held up: A is the
     * big model's victim, though, so not by A */
    qm_sched_request_done(f.s, &ra, S(4));
    want_stop(&f, ia);
    submit(&f, &ra2, &A, S(5));
    want_nothing(&f);
    qm_sched_runner_exited(f.s, ia, NULL, S(6));
    struct qm_inst *ib = want_start(&f, "big6");
    struct qm_inst *is = want_start(&f, "small1");   /* room for both now */
    want_nothing(&f);   /* A would not fit beside them: it waits for room */
    ready(&f, ib, S(7));
    want_dispatch(&f, &rbig, ib);
    ready(&f, is, S(8));
    want_dispatch(&f, &rsmall, is);
    qm_sched_request_done(f.s, &rbig, S(9));
    want_stop(&f, ib);   /* small1 is busy; big6 idle makes the room */
    qm_sched_runner_exited(f.s, ib, NULL, S(10));
    struct qm_inst *ia2 = want_start(&f, "a");
    ready(&f, ia2, S(11));
    want_dispatch(&f, &ra2, ia2);
    qm_sched_request_done(f.s, &rsmall, S(12));
    qm_sched_request_done(f.s, &ra2, S(12));
    fx_close(&f);
}

static void waiting_request_runs_when_room_frees(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    cfg.max_loaded = 1;
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req ra, rb;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(1));
    submit(&f, &rb, &B, S(2));
    want_nothing(&f);
    qm_sched_request_done(f.s, &ra, S(3));
    want_stop(&f, ia);
    want_nothing(&f);
    qm_sched_runner_exited(f.s, ia, NULL, S(4));
    struct qm_inst *ib = want_start(&f, "b");
    ready(&f, ib, S(5));
    want_dispatch(&f, &rb, ib);
    qm_sched_request_done(f.s, &rb, S(6));
    fx_close(&f);
}

static void num_ctx_reuse_and_reload(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req r1, r2, r3, r4;
    struct qm_inst *ia = load_and_run(&f, &r1, &A, S(1));
    qm_sched_request_done(f.s, &r1, S(2));

    /* smaller: the same instance, no reload */
    req_init(&r2, &A);
    r2.num_ctx = 2048;
    qm_sched_submit(f.s, &r2, S(3));
    want_dispatch(&f, &r2, ia);
    assert_int_equal(r2.want_ctx, 2048);

    /* larger while busy: waits; the instance is replaced once idle */
    req_init(&r3, &A);
    r3.num_ctx = 8192;
    qm_sched_submit(f.s, &r3, S(4));
    want_nothing(&f);
    qm_sched_request_done(f.s, &r2, S(5));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, NULL, S(6));
    struct qm_inst *ia2 = want_start(&f, "a");
    assert_int_equal(ia2->num_ctx, 8192);
    ready(&f, ia2, S(7));
    want_dispatch(&f, &r3, ia2);

    /* beyond what the model was trained for: capped, so no endless reloads */
    req_init(&r4, &A);
    r4.num_ctx = 1 << 20;
    qm_sched_submit(f.s, &r4, S(8));
    want_nothing(&f);
    assert_int_equal(r4.want_ctx, 32768);
    qm_sched_request_done(f.s, &r3, S(9));
    want_stop(&f, ia2);
    qm_sched_runner_exited(f.s, ia2, NULL, S(10));
    struct qm_inst *ia3 = want_start(&f, "a");
    assert_int_equal(ia3->num_ctx, 32768);
    ready(&f, ia3, S(11));
    want_dispatch(&f, &r4, ia3);
    qm_sched_request_done(f.s, &r4, S(12));

    /* the model's own num_ctx (Modelfile) is the default */
    struct tmodel A2 = A;
    A2.num_ctx = 16384;
    struct qm_sched_req r5;
    submit(&f, &r5, &A2, S(13));
    assert_int_equal(r5.want_ctx, 16384);
    want_dispatch(&f, &r5, ia3);
    qm_sched_request_done(f.s, &r5, S(14));
    fx_close(&f);
}

/* The instance being replaced takes no newer request, even with a free
 * slot: else a steady stream would keep it busy and the reload waiting. */
static void replacement_drains(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct tmodel A2 = A;
    A2.num_parallel = 2;
    struct qm_sched_req r1, r2, r3;
    struct qm_inst *ia = load_and_run(&f, &r1, &A2, S(1));
    req_init(&r2, &A2);
    r2.num_ctx = 8192;
    qm_sched_submit(f.s, &r2, S(2));
    submit(&f, &r3, &A2, S(3));   /* 4096 would fit the old one, which has a free slot */
    want_nothing(&f);
    qm_sched_request_done(f.s, &r1, S(4));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, NULL, S(5));
    struct qm_inst *ia2 = want_start(&f, "a");
    assert_int_equal(ia2->num_ctx, 8192);
    ready(&f, ia2, S(6));
    want_dispatch(&f, &r2, ia2);
    want_dispatch(&f, &r3, ia2);   /* the bigger context serves it too */
    qm_sched_request_done(f.s, &r2, S(7));
    qm_sched_request_done(f.s, &r3, S(7));
    fx_close(&f);
}

static void num_gpu_change_reloads(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req r1, r2, r3, r4;
    struct qm_inst *ia = load_and_run(&f, &r1, &A, S(1));
    qm_sched_request_done(f.s, &r1, S(2));

    req_init(&r2, &A);
    r2.num_gpu = 999;   /* "all layers": same as what is loaded */
    qm_sched_submit(f.s, &r2, S(3));
    want_dispatch(&f, &r2, ia);
    qm_sched_request_done(f.s, &r2, S(4));

    req_init(&r3, &A);
    r3.num_gpu = 10;
    qm_sched_submit(f.s, &r3, S(5));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, NULL, S(6));
    struct qm_inst *ia2 = want_start(&f, "a");
    assert_int_equal(ia2->num_gpu, 10);
    assert_int_equal(ia2->gpu, 0);
    ready(&f, ia2, S(7));
    want_dispatch(&f, &r3, ia2);
    qm_sched_request_done(f.s, &r3, S(8));

    /* no num_gpu: whatever is loaded serves */
    submit(&f, &r4, &A, S(9));
    want_dispatch(&f, &r4, ia2);
    qm_sched_request_done(f.s, &r4, S(10));
    fx_close(&f);
}

static void loading_does_not_block_loaded(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req ra, rb, ra2;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(1));
    qm_sched_request_done(f.s, &ra, S(2));
    submit(&f, &rb, &B, S(3));
    struct qm_inst *ib = want_start(&f, "b");
    submit(&f, &ra2, &A, S(4));    /* B still loading */
    want_dispatch(&f, &ra2, ia);
    ready(&f, ib, S(60));
    want_dispatch(&f, &rb, ib);
    qm_sched_request_done(f.s, &ra2, S(61));
    qm_sched_request_done(f.s, &rb, S(61));
    fx_close(&f);
}

static void runner_crash(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req r1, r2, r3;
    struct qm_inst *ia = load_and_run(&f, &r1, &A, S(1));
    uint64_t id = ia->id;
    submit(&f, &r2, &A, S(2));   /* waits for the one slot */
    want_nothing(&f);
    qm_sched_runner_exited(f.s, ia, "signal 9", S(3));
    const char *msg = want_reject(&f, &r1, 500);
    assert_non_null(strstr(msg, "stopped unexpectedly"));
    assert_non_null(strstr(msg, "signal 9"));
    /* the waiting one loads the model afresh */
    struct qm_inst *ia2 = want_start(&f, "a");
    assert_true(ia2->id != id);
    ready(&f, ia2, S(4));
    want_dispatch(&f, &r2, ia2);
    qm_sched_request_done(f.s, &r2, S(5));

    /* and after a crash with nothing waiting, the next request loads it */
    qm_sched_runner_exited(f.s, ia2, "signal 11", S(6));
    want_nothing(&f);
    submit(&f, &r3, &A, S(7));
    struct qm_inst *ia3 = want_start(&f, "a");
    ready(&f, ia3, S(8));
    want_dispatch(&f, &r3, ia3);
    qm_sched_request_done(f.s, &r3, S(9));
    fx_close(&f);
}

static void load_failure_fails_waiters(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req r1, r2, rb, r3;
    submit(&f, &r1, &A, S(1));
    struct qm_inst *ia = want_start(&f, "a");
    submit(&f, &r2, &A, S(2));
    submit(&f, &rb, &B, S(3));
    struct qm_inst *ib = want_start(&f, "b");
    qm_sched_load_failed(f.s, ia, "cudaMalloc failed: out of memory", S(4));
    const char *m1 = want_reject(&f, &r1, 500);
    assert_non_null(strstr(m1, "out of memory"));
    want_reject(&f, &r2, 500);
    want_stop(&f, ia);
    want_nothing(&f);   /* B's request is untouched */
    qm_sched_runner_exited(f.s, ia, "exit status 1", S(5));
    want_nothing(&f);

    /* a runner that dies while loading fails its waiters the same way */
    submit(&f, &r3, &A, S(6));
    struct qm_inst *ia2 = want_start(&f, "a");
    qm_sched_runner_exited(f.s, ia2, "signal 6", S(7));
    const char *m3 = want_reject(&f, &r3, 500);
    assert_non_null(strstr(m3, "failed to load"));
    assert_non_null(strstr(m3, "signal 6"));

    ready(&f, ib, S(8));
    want_dispatch(&f, &rb, ib);
    qm_sched_request_done(f.s, &rb, S(9));
    fx_close(&f);
}

static void load_timeout(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    cfg.load_timeout_ns = S(60);
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req r1;
    submit(&f, &r1, &A, S(0));
    struct qm_inst *ia = want_start(&f, "a");
    assert_true(qm_sched_next_deadline(f.s) == S(60));
    qm_sched_load_progress(f.s, ia, S(50));   /* progress moves the deadline */
    assert_true(qm_sched_next_deadline(f.s) == S(110));
    qm_sched_tick(f.s, S(100));
    want_nothing(&f);
    qm_sched_tick(f.s, S(110));
    const char *msg = want_reject(&f, &r1, 500);
    assert_non_null(strstr(msg, "timed out"));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, "signal 9", S(111));
    fx_close(&f);
}

/* 12 GiB of layers on an 8 GiB GPU: the most layers that fit. */
static void hybrid_when_too_big(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req ra, rbig;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(1));
    qm_sched_request_done(f.s, &ra, S(2));

    /* each layer: 300 MiB weights + 4 MiB KV (4096 tokens x 1 KiB); the
     * compute buffer is 512 x (4*2048 + 2*5632 + 4096) x 4 B = 46 MiB:
     * (8192 - 46) / 304 = 26.8, so 26 layers */
    submit(&f, &rbig, &BIG, S(3));
    want_stop(&f, ia);   /* it fits only with the GPU to itself */
    qm_sched_runner_exited(f.s, ia, NULL, S(4));
    struct qm_inst *ig = want_start(&f, "big");
    assert_int_equal(ig->num_gpu, 26);
    assert_int_equal(ig->gpu, 0);
    assert_true(ig->vram <= 8 * GiB);
    struct qm_est e;
    struct qm_est_params p = {.num_ctx = 4096, .num_parallel = 1, .num_gpu = 27, .gpu_free = 8 * GiB};
    qm_estimate(&BIG.info, &p, &e);
    assert_false(e.fits);
    ready(&f, ig, S(5));
    want_dispatch(&f, &rbig, ig);
    qm_sched_request_done(f.s, &rbig, S(6));
    fx_close(&f);

    /* with no GPU: everything on the CPU, only MAX_LOADED_MODELS counts */
    fx_open(&f, &cfg, NULL, 0);
    assert_int_equal(qm_sched_max_loaded(f.s), 3);
    struct qm_sched_req r[4];
    const struct tmodel *ms[4] = {&BIG, &A, &B, &C};
    struct qm_inst *in[4];
    for (int i = 0; i < 3; i++) {
        in[i] = load_and_run(&f, &r[i], ms[i], S(10 + i));
        assert_int_equal(in[i]->num_gpu, 0);
        assert_int_equal(in[i]->gpu, -1);
        assert_true(in[i]->vram == 0);
        qm_sched_request_done(f.s, &r[i], S(20 + i));
    }
    req_init(&r[3], &C);
    r[3].num_gpu = 5;   /* no GPU to put them on */
    qm_sched_submit(f.s, &r[3], S(30));
    assert_int_equal(r[3].want_gpu, 0);
    want_stop(&f, in[0]);
    qm_sched_runner_exited(f.s, in[0], NULL, S(31));
    in[3] = want_start(&f, "c");
    assert_int_equal(in[3]->num_gpu, 0);
    ready(&f, in[3], S(32));
    want_dispatch(&f, &r[3], in[3]);
    qm_sched_request_done(f.s, &r[3], S(33));
    fx_close(&f);
}

/* QM_PRELOAD: pinned instances are never evicted, never expire. */
static void pinned_never_evicted(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    cfg.max_loaded = 2;
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req rp, ra, rb, rc;
    req_init(&rp, &C);
    rp.load_only = true;
    rp.pin = true;
    qm_sched_submit(f.s, &rp, S(1));
    struct qm_inst *ic = want_start(&f, "c");
    ready(&f, ic, S(2));
    want_dispatch(&f, &rp, ic);    /* load_only: answered, no slot held */
    assert_int_equal(rp.state, QM_REQ_FINISHED);
    assert_int_equal(ic->busy, 0);
    assert_true(ic->pinned);

    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(3));
    qm_sched_request_done(f.s, &ra, S(4));
    /* C is the LRU, but pinned: A goes */
    submit(&f, &rb, &B, S(5));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, NULL, S(6));
    struct qm_inst *ib = want_start(&f, "b");
    ready(&f, ib, S(7));
    want_dispatch(&f, &rb, ib);
    qm_sched_request_done(f.s, &rb, S(8));

    /* years later: B expired, C still there */
    qm_sched_tick(f.s, S(100000000));
    want_stop(&f, ib);
    qm_sched_runner_exited(f.s, ib, NULL, S(100000001));
    assert_true(qm_sched_next_deadline(f.s) == -1);

    /* a request with keep_alive 0 does not unload a pinned model... */
    req_init(&rc, &C);
    rc.has_keep_alive = true;
    rc.keep_alive_ns = 0;
    qm_sched_submit(f.s, &rc, S(100000002));
    want_dispatch(&f, &rc, ic);
    qm_sched_request_done(f.s, &rc, S(100000003));
    want_nothing(&f);
    /* ...an explicit unload does */
    assert_int_equal(qm_sched_unload(f.s, "c", S(100000004)), 1);
    want_stop(&f, ic);
    qm_sched_runner_exited(f.s, ic, NULL, S(100000005));
    fx_close(&f);
}

/* Pinned models filling MAX_LOADED_MODELS: a clear 503 rather than a wait
 * that can never end. */
static void pinned_fill_all(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    cfg.max_loaded = 1;
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req rp, ra;
    req_init(&rp, &C);
    rp.load_only = rp.pin = true;
    qm_sched_submit(f.s, &rp, S(1));
    struct qm_inst *ic = want_start(&f, "c");
    ready(&f, ic, S(2));
    want_dispatch(&f, &rp, ic);
    submit(&f, &ra, &A, S(3));
    const char *msg = want_reject(&f, &ra, 503);
    assert_non_null(strstr(msg, "pinned"));
    fx_close(&f);
}

static void per_model_num_parallel(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct tmodel A3 = A;
    A3.num_parallel = 3;
    struct qm_sched_req r[4], rb[2];
    submit(&f, &r[0], &A3, S(1));
    struct qm_inst *ia = want_start(&f, "a");
    assert_int_equal(ia->num_parallel, 3);
    for (int i = 1; i < 4; i++)
        submit(&f, &r[i], &A3, S(1 + i));
    want_nothing(&f);
    ready(&f, ia, S(5));
    want_dispatch(&f, &r[0], ia);
    want_dispatch(&f, &r[1], ia);
    want_dispatch(&f, &r[2], ia);
    want_nothing(&f);
    assert_int_equal(ia->busy, 3);
    qm_sched_request_done(f.s, &r[1], S(6));
    want_dispatch(&f, &r[3], ia);

    /* another model keeps the global 1 */
    submit(&f, &rb[0], &B, S(7));
    struct qm_inst *ib = want_start(&f, "b");
    assert_int_equal(ib->num_parallel, 1);
    ready(&f, ib, S(8));
    want_dispatch(&f, &rb[0], ib);
    submit(&f, &rb[1], &B, S(9));
    want_nothing(&f);
    qm_sched_request_done(f.s, &rb[0], S(10));
    want_dispatch(&f, &rb[1], ib);
    qm_sched_request_done(f.s, &rb[1], S(11));
    qm_sched_request_done(f.s, &r[0], S(11));
    qm_sched_request_done(f.s, &r[2], S(11));
    qm_sched_request_done(f.s, &r[3], S(11));
    fx_close(&f);
}

static void cancel_waiting(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req r1, r2, r3;
    struct qm_inst *ia = load_and_run(&f, &r1, &A, S(1));
    submit(&f, &r2, &A, S(2));
    submit(&f, &r3, &A, S(3));
    want_nothing(&f);
    assert_true(qm_sched_cancel(f.s, &r2, S(4)));
    assert_int_equal(r2.state, QM_REQ_FINISHED);
    assert_int_equal(qm_sched_waiting(f.s), 1);
    assert_false(qm_sched_cancel(f.s, &r1, S(4)));   /* running: the runner cancels it */
    assert_false(qm_sched_cancel(f.s, &r2, S(4)));   /* already gone */
    want_nothing(&f);
    qm_sched_request_done(f.s, &r1, S(5));
    want_dispatch(&f, &r3, ia);                      /* not r2 */
    qm_sched_request_done(f.s, &r3, S(6));
    fx_close(&f);
}

/* A cancelled request gives back what it had claimed: the busy instance it
 * was draining takes new requests again. */
static void cancel_releases_drain(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    cfg.max_loaded = 1;
    fx_open(&f, &cfg, &gpu8, 1);
    struct tmodel A2 = A;
    A2.num_parallel = 2;
    struct qm_sched_req ra, rb, ra2;
    struct qm_inst *ia = load_and_run(&f, &ra, &A2, S(1));
    submit(&f, &rb, &B, S(2));
    submit(&f, &ra2, &A2, S(3));
    want_nothing(&f);
    assert_true(qm_sched_cancel(f.s, &rb, S(4)));
    want_dispatch(&f, &ra2, ia);
    qm_sched_request_done(f.s, &ra, S(5));
    qm_sched_request_done(f.s, &ra2, S(5));
    want_nothing(&f);
    fx_close(&f);
}

static void drain_and_stop_all(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req ra, rb, ra2, rc, rx;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(1));
    struct qm_inst *ib = load_and_run(&f, &rb, &B, S(2));
    qm_sched_request_done(f.s, &rb, S(3));
    submit(&f, &ra2, &A, S(4));   /* waits for A's slot */
    submit(&f, &rc, &C, S(5));
    want_stop(&f, ib);            /* room for C */

    qm_sched_drain(f.s, S(6));
    want_reject(&f, &ra2, 503);
    want_reject(&f, &rc, 503);
    want_nothing(&f);             /* A is busy: it finishes */
    submit(&f, &rx, &A, S(7));
    assert_string_equal(want_reject(&f, &rx, 503), "server is shutting down");
    assert_false(qm_sched_empty(f.s));
    qm_sched_request_done(f.s, &ra, S(8));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, NULL, S(9));
    qm_sched_runner_exited(f.s, ib, NULL, S(9));
    assert_true(qm_sched_empty(f.s));
    fx_close(&f);

    /* stop_all: busy ones too; their requests fail with 503 at exit */
    fx_open(&f, &cfg, &gpu8, 1);
    ia = load_and_run(&f, &ra, &A, S(1));
    qm_sched_stop_all(f.s, S(2));
    want_stop(&f, ia);
    qm_sched_runner_exited(f.s, ia, "signal 15", S(3));
    assert_string_equal(want_reject(&f, &ra, 503), "server is shutting down");
    assert_true(qm_sched_empty(f.s));
    fx_close(&f);
}

/* Two GPUs: each instance on one; eviction is LRU across both. */
static void two_gpus(void **state)
{
    (void)state;
    struct qm_gpu_info gpus[2];
    struct qm_sim_gpu sim = {.count = 2, .vram = 4 * GiB};
    assert_int_equal(qm_gpu_info_from_sim(&sim, gpus, 2), 2);
    assert_true(gpus[1].free == 4 * GiB && gpus[1].simulated);
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, gpus, 2);
    assert_int_equal(qm_sched_max_loaded(f.s), 6);
    struct qm_sched_req ra, rb, rc;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(1));
    struct qm_inst *ib = load_and_run(&f, &rb, &B, S(2));
    assert_int_equal(ia->num_gpu, 32);
    assert_int_equal(ib->num_gpu, 32);
    assert_true(ia->gpu != ib->gpu);
    qm_sched_request_done(f.s, &rb, S(3));
    qm_sched_request_done(f.s, &ra, S(4));
    submit(&f, &rc, &C, S(5));
    want_stop(&f, ib);   /* the LRU, on the second GPU */
    qm_sched_runner_exited(f.s, ib, NULL, S(6));
    struct qm_inst *ic = want_start(&f, "c");
    assert_int_equal(ic->num_gpu, 32);
    assert_int_equal(ic->gpu, 1);
    ready(&f, ic, S(7));
    want_dispatch(&f, &rc, ic);
    qm_sched_request_done(f.s, &rc, S(8));
    fx_close(&f);
}

/* GPU_OVERHEAD comes off the budget; reported memory replaces the estimate. */
static void overhead_and_reports(void **state)
{
    (void)state;
    struct fx f;
    struct qm_sched_config cfg = base_config();
    cfg.gpu_overhead = 2 * GiB;   /* 6 GiB left: one model and a bit */
    fx_open(&f, &cfg, &gpu8, 1);
    struct qm_sched_req ra, rb;
    submit(&f, &ra, &A, S(1));
    struct qm_inst *ia = want_start(&f, "a");
    qm_sched_loaded(f.s, ia, 1 * GiB, 0, S(2));   /* far less than estimated */
    want_dispatch(&f, &ra, ia);
    assert_true(ia->reported);
    assert_true(qm_sched_gpu_room(f.s, 0) == (int64_t)(5 * GiB));
    qm_sched_request_done(f.s, &ra, S(3));
    submit(&f, &rb, &B, S(4));   /* fits next to the 1 GiB A */
    struct qm_inst *ib = want_start(&f, "b");
    ready(&f, ib, S(5));
    want_dispatch(&f, &rb, ib);
    qm_sched_request_done(f.s, &rb, S(6));
    fx_close(&f);
}

/* A real GPU: the driver's free memory moves placements (NVML in the daemon). */
static void gpu_update_from_driver(void **state)
{
    (void)state;
    const struct qm_gpu_info real = {.name = "real", .total = 8 * GiB, .free = 8 * GiB};
    struct fx f;
    struct qm_sched_config cfg = base_config();
    fx_open(&f, &cfg, &real, 1);
    /* another process holds 6 GiB: a (about 3.4 GiB) loads partly on the GPU
     * instead of failing */
    qm_sched_gpu_update(f.s, 0, 8 * GiB, 2 * GiB, S(1));
    want_nothing(&f);
    assert_int_equal(qm_sched_gpu_room(f.s, 0), (int64_t)(2 * GiB));
    struct qm_sched_req ra, rb;
    struct qm_inst *ia = load_and_run(&f, &ra, &A, S(2));
    assert_int_equal(ia->gpu, 0);
    assert_true(ia->num_gpu > 0 && ia->num_gpu < 32);
    assert_true(ia->vram <= 2 * GiB);
    qm_sched_request_done(f.s, &ra, S(3));
    /* the other process is gone; the driver's free memory excludes a's own,
     * which is added back: b loads whole beside a */
    qm_sched_gpu_update(f.s, 0, 8 * GiB, 8 * GiB - ia->vram, S(4));
    want_nothing(&f);
    assert_int_equal(qm_sched_gpu_room(f.s, 0), (int64_t)(8 * GiB - ia->vram));
    struct qm_inst *ib = load_and_run(&f, &rb, &B, S(5));
    assert_int_equal(ib->num_gpu, 32);
    qm_sched_request_done(f.s, &rb, S(6));
    fx_close(&f);

    /* a simulated GPU keeps its own figures */
    fx_open(&f, &cfg, &gpu8, 1);
    qm_sched_gpu_update(f.s, 0, 8 * GiB, 1 * GiB, S(1));
    assert_int_equal(qm_sched_gpu_room(f.s, 0), (int64_t)(8 * GiB));
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_of_three_fit),
        cmocka_unit_test(lru_eviction_order),
        cmocka_unit_test(max_loaded_forces_eviction),
        cmocka_unit_test(keep_alive_expiry),
        cmocka_unit_test(queue_overflow_503),
        cmocka_unit_test(busy_never_evicted),
        cmocka_unit_test(busy_victim_drains),
        cmocka_unit_test(no_overtaking),
        cmocka_unit_test(waiting_request_runs_when_room_frees),
        cmocka_unit_test(num_ctx_reuse_and_reload),
        cmocka_unit_test(replacement_drains),
        cmocka_unit_test(num_gpu_change_reloads),
        cmocka_unit_test(loading_does_not_block_loaded),
        cmocka_unit_test(runner_crash),
        cmocka_unit_test(load_failure_fails_waiters),
        cmocka_unit_test(load_timeout),
        cmocka_unit_test(hybrid_when_too_big),
        cmocka_unit_test(pinned_never_evicted),
        cmocka_unit_test(pinned_fill_all),
        cmocka_unit_test(per_model_num_parallel),
        cmocka_unit_test(cancel_waiting),
        cmocka_unit_test(cancel_releases_drain),
        cmocka_unit_test(drain_and_stop_all),
        cmocka_unit_test(two_gpus),
        cmocka_unit_test(overhead_and_reports),
        cmocka_unit_test(gpu_update_from_driver),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
