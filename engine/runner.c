/* runner.c - a loaded model serving the daemon: slots, steps, streaming.
 *
 * One loop: take every message waiting on the socket (new requests,
 * cancellations), build one batch from all busy slots, run the model, then
 * for each slot that asked for logits sample a token and stream its text.
 * When no slot is busy the loop sleeps in poll.  A slot's life:
 *
 *   free --request--> prompt (chunks of its prompt go into batches)
 *        --last prompt token evaluated--> decode (one token per step)
 *        --end token / stop string / num_predict / full context / cancel--> free
 *
 * and a free slot keeps the tokens in its part of the KV cache for the next
 * request that starts the same way. */
#include "runner.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "forward.h"
#include "log.h"
#include "prompt.h"
#include "runner_io.h"
#include "runner_slot.h"

struct runner {
    struct qm_rio io;
    struct qm_model *m;
    struct qm_tokenizer *tok;
    struct qm_ctx *ctx;
    int32_t n_ctx, n_batch;
    struct qm_slot *slots;
    int32_t n_slots;
    uint64_t clock;            /* ticks for least-recently-used choice */
    /* batch arrays: n_batch prompt tokens + one decode token per slot */
    int32_t *b_tok, *b_pos, *b_seq;
    bool *b_logits;
    int32_t *out_slot;         /* logits row i belongs to this slot */
};

/* ---- loading ---------------------------------------------------------------- */

static void send_progress(struct runner *r, double p)
{
    qm_rio_send(&r->io, json_pack("{s:s, s:f}", "type", "progress", "progress", p));
}

/* Touch every page of the weights so the first request does not wait on the
 * disk, reporting progress as the daemon's load progress. */
static void prefault(struct runner *r)
{
    const struct gguf_file *f = r->m->file;
    uint64_t total = gguf_tensor_bytes(f), done = 0, next = total / 20;
    long page = sysconf(_SC_PAGESIZE);
    volatile unsigned char sink = 0;
    for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
        const struct gguf_tensor *t = gguf_tensor(f, i);
        const unsigned char *p = t->data;
        madvise((void *)((uintptr_t)p & ~(uintptr_t)(page - 1)), t->nbytes, MADV_WILLNEED);
        for (uint64_t o = 0; o < t->nbytes; o += (uint64_t)page)
            sink ^= p[o];
        done += t->nbytes;
        if (done >= next) {
            send_progress(r, total ? (double)done / (double)total : 1.0);
            next = done + total / 20;
        }
    }
    (void)sink;
}

/* Bytes of the weights of layers [first, n_layer): what the GPU would hold. */
static uint64_t layer_bytes(const struct qm_model *m, int32_t first)
{
    uint64_t b = 0;
    char prefix[32];
    for (int64_t i = 0; i < gguf_tensor_count(m->file); i++) {
        const struct gguf_tensor *t = gguf_tensor(m->file, i);
        for (int32_t l = first; l < m->hp.n_layer; l++) {
            int n = snprintf(prefix, sizeof prefix, "blk.%d.", l);
            if (!strncmp(t->name, prefix, (size_t)n)) {
                b += t->nbytes;
                break;
            }
        }
    }
    return b;
}

/* For the daemon's tests: QM_TEST_LOAD_GATE=SUBSTRING:FILE holds the load
 * of a model whose path contains SUBSTRING until FILE exists (a slow disk
 * the test ends when it chooses; at most 2 minutes). */
static void test_load_gate(const char *path)
{
    const char *v = getenv("QM_TEST_LOAD_GATE");
    const char *colon = v ? strchr(v, ':') : NULL;
    if (!colon || colon == v)
        return;
    char sub[256];
    size_t n = (size_t)(colon - v) < sizeof sub - 1 ? (size_t)(colon - v) : sizeof sub - 1;
    memcpy(sub, v, n);
    sub[n] = 0;
    if (!strstr(path, sub))
        return;
    const struct timespec tick = {0, 10000000};
    for (int i = 0; i < 12000 && access(colon + 1, F_OK) != 0; i++)
        nanosleep(&tick, NULL);
}

static int load(struct runner *r, const struct qm_runner_opts *o, struct qm_err *err)
{
    int rc;
    send_progress(r, 0.0);
    if ((rc = qm_model_load(&r->m, o->model_path, err)) < 0 ||
        (rc = qm_tokenizer_load(&r->tok, r->m->file, err)) < 0)
        return rc;
    struct qm_ctx_params cp;
    qm_ctx_default_params(&cp);
    if (o->n_ctx > 0)
        cp.n_ctx = o->n_ctx;
    if (cp.n_ctx > r->m->hp.n_ctx_train && r->m->hp.n_ctx_train > 0)
        cp.n_ctx = r->m->hp.n_ctx_train;
    cp.n_seq = o->n_parallel > 0 ? o->n_parallel : 1;
    if (o->n_batch > 0)
        cp.n_batch = o->n_batch;
    cp.n_threads = o->n_threads;
    if ((rc = qm_kv_type_parse(o->kv_type, &cp.kv_type, err)) < 0 ||
        (rc = qm_ctx_create(&r->ctx, r->m, &cp, err)) < 0)
        return rc;
    r->n_ctx = qm_ctx_n_ctx(r->ctx);
    r->n_batch = cp.n_batch;
    r->n_slots = cp.n_seq;
    size_t nb = (size_t)(r->n_batch + r->n_slots);
    r->slots = calloc((size_t)r->n_slots, sizeof *r->slots);
    r->b_tok = malloc(nb * sizeof *r->b_tok);
    r->b_pos = malloc(nb * sizeof *r->b_pos);
    r->b_seq = malloc(nb * sizeof *r->b_seq);
    r->b_logits = malloc(nb * sizeof *r->b_logits);
    r->out_slot = malloc(nb * sizeof *r->out_slot);
    if (!r->slots || !r->b_tok || !r->b_pos || !r->b_seq || !r->b_logits || !r->out_slot)
        return qm_err_set(err, "out of memory");
    for (int32_t i = 0; i < r->n_slots; i++)
        qm_slot_init(&r->slots[i], i);
    prefault(r);
    test_load_gate(o->model_path);

    /* Memory as the daemon's estimate counts it (manager/estimate.c): the
     * layers [n - gl, n) with their share of the cache and the compute
     * buffers are "VRAM" (a simulated GPU until the CUDA backend runs them),
     * the head too when every layer is there. */
    const struct qm_kvcache *kv = qm_ctx_kv(r->ctx);
    const struct qm_hparams *hp = &r->m->hp;
    uint64_t kv_bytes = qm_kvcache_bytes(kv->n_layer, kv->n_seq, kv->n_ctx, kv->kv_dim, kv->type);
    uint64_t graph = (uint64_t)r->n_batch * (4u * (uint64_t)hp->n_embd + 2u * (uint64_t)hp->n_ff + (uint64_t)r->n_ctx) * 4u;
    uint64_t logits = (uint64_t)r->n_slots * (uint64_t)hp->n_vocab * 4u;
    const struct gguf_tensor *head = gguf_find_tensor(r->m->file, "output.weight");
    if (!head)
        head = gguf_find_tensor(r->m->file, "token_embd.weight");
    int32_t gl = o->gpu_layers < 0 ? 0 : o->gpu_layers > hp->n_layer ? hp->n_layer : o->gpu_layers;
    uint64_t vram = 0;
    if (gl > 0) {
        vram = layer_bytes(r->m, hp->n_layer - gl) + kv_bytes / (uint64_t)hp->n_layer * (uint64_t)gl + graph;
        if (gl == hp->n_layer)
            vram += (head ? head->nbytes : 0) + logits;
    }
    uint64_t total = r->m->weight_bytes + kv_bytes + graph + logits;
    if (vram > total)
        vram = total;
    qm_rio_send(&r->io, json_pack("{s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:i, s:i, s:s, s:s}", "type", "ready",
                                  "n_ctx", r->n_ctx, "n_ctx_train", r->m->hp.n_ctx_train, "n_parallel",
                                  r->n_slots, "n_vocab", r->m->hp.n_vocab, "ram", (json_int_t)(total - vram),
                                  "vram", (json_int_t)vram, "gpu_layers", gl, "n_layer", r->m->hp.n_layer,
                                  "arch", r->m->arch.name, "chat_format",
                                  qm_chat_format_name(qm_prompt_model_format(r->m))));
    return 0;
}

/* ---- requests --------------------------------------------------------------- */

static void send_fail(struct runner *r, json_t *id, int status, const char *msg)
{
    qm_rio_send(&r->io, json_pack("{s:s, s:O, s:s, s:i}", "type", "fail", "id", id ? id : json_null(), "error",
                                  msg, "status", status));
}

static struct qm_slot *free_slot_for(struct runner *r, const int32_t *toks, int32_t n, int32_t *lcp_out)
{
    struct qm_slot *best = NULL;
    int32_t best_lcp = -1;
    for (int32_t i = 0; i < r->n_slots; i++) {
        struct qm_slot *s = &r->slots[i];
        if (s->state != QM_SLOT_FREE)
            continue;
        int32_t l = qm_slot_common_prefix(s, toks, n);
        if (l > best_lcp || (l == best_lcp && s->last_used < best->last_used)) {
            best = s;
            best_lcp = l;
        }
    }
    *lcp_out = best_lcp;
    return best;
}

static struct qm_slot *find_slot(struct runner *r, json_t *id)
{
    for (int32_t i = 0; i < r->n_slots; i++)
        if (r->slots[i].state != QM_SLOT_FREE && json_equal(r->slots[i].id, id))
            return &r->slots[i];
    return NULL;
}

static void start_completion(struct runner *r, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    struct qm_err err = {{0}};
    int32_t *toks = NULL;
    size_t n = 0;
    int status = qm_slot_prompt_tokens(r->m, r->tok, msg, &toks, &n, &err);
    if (status) {
        send_fail(r, id, status, err.msg);
        return;
    }
    if (n >= (size_t)r->n_ctx) {
        qm_err_set(&err, "the prompt has %zu tokens, more than the context of %d allows", n, r->n_ctx);
        free(toks);
        send_fail(r, id, 400, err.msg);
        return;
    }
    int32_t lcp;
    struct qm_slot *s = free_slot_for(r, toks, (int32_t)n, &lcp);
    if (!s) {
        free(toks);
        send_fail(r, id, 503, "every slot of the runner is busy");
        return;
    }
    status = qm_slot_start(s, r->tok, r->m->hp.n_vocab, r->n_ctx, msg, toks, (int32_t)n, &err);
    if (status) {
        send_fail(r, id, status, err.msg);
        qm_slot_finish(s);
        return;
    }
    /* keep the shared prefix, but always evaluate at least one token for logits */
    int32_t keep = lcp < (int32_t)n ? lcp : (int32_t)n - 1;
    qm_kvcache_truncate(qm_ctx_kv(r->ctx), s->seq, keep);
    s->n_cache = keep;
    s->n_fed = keep;
    s->n_reused = keep;
    s->t_start = qm_now_s();
    s->last_used = ++r->clock;
}

static void embed(struct runner *r, json_t *msg);

static void handle(struct runner *r, json_t *msg)
{
    const char *op = json_string_value(json_object_get(msg, "op"));
    json_t *id = json_object_get(msg, "id");
    if (json_is_string(msg)) {
        qm_log_warn("runner: %s", json_string_value(msg));
        send_fail(r, NULL, 400, json_string_value(msg));
    } else if (!op) {
        send_fail(r, id, 400, "a message without \"op\"");
    } else if (!strcmp(op, "completion")) {
        start_completion(r, msg);
    } else if (!strcmp(op, "embed")) {
        embed(r, msg);
    } else if (!strcmp(op, "tokenize")) {
        const char *text = json_string_value(json_object_get(msg, "text"));
        int32_t *ids = NULL;
        size_t n = 0;
        struct qm_err err = {{0}};
        if (!text || qm_tokenize(r->tok, text, strlen(text), true, true, &ids, &n, &err) < 0) {
            send_fail(r, id, 400, text ? err.msg : "tokenize wants \"text\"");
            return;
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_integer(ids[i]));
        free(ids);
        qm_rio_send(&r->io, json_pack("{s:s, s:O, s:o}", "type", "tokens", "id", id, "tokens", arr));
    } else if (!strcmp(op, "cancel")) {
        struct qm_slot *s = find_slot(r, id);
        if (s)
            s->cancel = true;
    } else if (!strcmp(op, "quit")) {
        r->io.eof = 1;
    } else {
        send_fail(r, id, 400, "unknown op");
    }
}

/* ---- embeddings ------------------------------------------------------------- */

/* Pooling of <arch>.pooling_type: 1 mean (the default for generative
 * models, which carry none), 2 first token, 3 last token. */
static uint32_t pooling(const struct qm_model *m)
{
    char key[96];
    uint32_t p = 1;
    struct qm_err e;
    snprintf(key, sizeof key, "%s.pooling_type", m->arch.name);
    if (gguf_get_u32(m->file, key, &p, &e) < 0 || p < 1 || p > 3)
        p = 1;
    return p;
}

static int embed_one(struct runner *r, int32_t seq, const int32_t *toks, int32_t n, int32_t dims, json_t **out,
                     struct qm_err *err)
{
    const int32_t E = r->m->hp.n_embd;
    uint32_t pool = pooling(r->m);
    double *acc = calloc((size_t)E, sizeof *acc);
    if (!acc)
        return qm_err_set(err, "out of memory");
    qm_kvcache_truncate(qm_ctx_kv(r->ctx), seq, 0);
    qm_ctx_set_embeddings(r->ctx, true);
    int rc = 0;
    for (int32_t off = 0; off < n && rc == 0; off += r->n_batch) {
        int32_t T = n - off < r->n_batch ? n - off : r->n_batch;
        for (int32_t t = 0; t < T; t++) {
            r->b_tok[t] = toks[off + t];
            r->b_pos[t] = off + t;
            r->b_seq[t] = seq;
            int32_t g = off + t;
            r->b_logits[t] = pool == 1 || (pool == 2 && g == 0) || (pool == 3 && g == n - 1);
        }
        struct qm_batch b = {.n = T, .token = r->b_tok, .pos = r->b_pos, .seq = r->b_seq, .logits = r->b_logits};
        if ((rc = qm_forward(r->ctx, &b, err)) < 0)
            break;
        const float *e;
        for (int32_t i = 0; (e = qm_ctx_embedding(r->ctx, i)); i++)
            for (int32_t j = 0; j < E; j++)
                acc[j] += e[j];
    }
    qm_ctx_set_embeddings(r->ctx, false);
    qm_kvcache_truncate(qm_ctx_kv(r->ctx), seq, 0);
    if (rc == 0) {
        int32_t d = dims > 0 && dims < E ? dims : E;
        double norm = 0;
        for (int32_t j = 0; j < d; j++)
            norm += acc[j] * acc[j];
        norm = norm > 0 ? 1.0 / sqrt(norm) : 0.0;
        json_t *v = json_array();
        for (int32_t j = 0; j < d; j++)
            json_array_append_new(v, json_real(acc[j] * norm));
        *out = v;
    }
    free(acc);
    return rc;
}

static void embed(struct runner *r, json_t *msg)
{
    json_t *id = json_object_get(msg, "id"), *input = json_object_get(msg, "input");
    json_t *trunc = json_object_get(msg, "truncate");
    bool truncate = !json_is_false(trunc);
    int32_t dims = (int32_t)json_integer_value(json_object_get(msg, "dimensions"));
    int32_t lcp;
    struct qm_slot *s = free_slot_for(r, NULL, 0, &lcp);
    if (!s) {
        send_fail(r, id, 503, "every slot of the runner is busy");
        return;
    }
    s->n_cache = 0;   /* its cache is about to be overwritten */
    json_t *list = json_array();
    int32_t total = 0;
    size_t i;
    json_t *item;
    struct qm_err err = {{0}};
    json_t *token_lists = json_object_get(msg, "tokens");
    if (json_is_array(token_lists))
        input = token_lists;
    json_array_foreach(input, i, item) {
        const char *text = json_string_value(item);
        int32_t *toks = NULL;
        size_t n = 0;
        json_t *v = NULL;
        if (input == token_lists) {
            if (!json_is_array(item) || !(toks = malloc((json_array_size(item) + 1) * sizeof *toks))) {
                send_fail(r, id, 400, "token inputs must be arrays of token ids");
                goto out;
            }
            size_t k;
            json_t *t;
            json_array_foreach(item, k, t) {
                json_int_t tid = json_integer_value(t);
                if (!json_is_integer(t) || tid < 0 || tid >= r->m->hp.n_vocab) {
                    free(toks);
                    send_fail(r, id, 400, "a token input holds something that is no token id of this model");
                    goto out;
                }
                toks[n++] = (int32_t)tid;
            }
        } else if (!text) {
            send_fail(r, id, 400, "embedding inputs must be strings");
            goto out;
        } else if (qm_tokenize(r->tok, text, strlen(text), true, true, &toks, &n, &err) < 0) {
            send_fail(r, id, 400, err.msg);
            goto out;
        }
        if (n > (size_t)r->n_ctx) {
            if (!truncate) {
                free(toks);
                qm_err_set(&err, "input %zu has %zu tokens, more than the context of %d", i, n, r->n_ctx);
                send_fail(r, id, 400, err.msg);
                goto out;
            }
            n = (size_t)r->n_ctx;
        }
        if (n == 0) {
            free(toks);
            send_fail(r, id, 400, "an embedding input is empty");
            goto out;
        }
        int rc = embed_one(r, s->seq, toks, (int32_t)n, dims, &v, &err);
        free(toks);
        if (rc < 0) {
            send_fail(r, id, 500, err.msg);
            goto out;
        }
        json_array_append_new(list, v);
        total += (int32_t)n;
    }
    qm_rio_send(&r->io, json_pack("{s:s, s:O, s:O, s:i}", "type", "embedding", "id", id, "embeddings", list,
                                  "prompt_eval_count", total));
out:
    json_decref(list);
}

/* ---- one step ----------------------------------------------------------------- */

static void finish(struct runner *r, struct qm_slot *s, const char *reason)
{
    double t = qm_now_s();
    json_t *done = qm_slot_done_event(s, reason, t);
    if (done)
        qm_rio_send(&r->io, done);
    s->last_used = ++r->clock;
    qm_slot_finish(s);
}

static int step(struct runner *r, struct qm_err *err)
{
    int32_t n = 0, n_out = 0;
    /* decode tokens first: they are what keeps streams moving */
    for (int32_t i = 0; i < r->n_slots; i++) {
        struct qm_slot *s = &r->slots[i];
        if (s->state == QM_SLOT_FREE)
            continue;
        if (s->cancel) {
            finish(r, s, "cancel");
            continue;
        }
        if (s->state != QM_SLOT_DECODE)
            continue;
        r->b_tok[n] = s->next;
        r->b_pos[n] = s->n_cache;
        r->b_seq[n] = s->seq;
        r->b_logits[n] = true;
        r->out_slot[n_out++] = i;
        n++;
    }
    int32_t budget = r->n_batch;
    for (int32_t i = 0; i < r->n_slots && budget > 0; i++) {
        struct qm_slot *s = &r->slots[i];
        if (s->state != QM_SLOT_PROMPT)
            continue;
        int32_t left = s->n_prompt - s->n_fed, chunk = left < budget ? left : budget;
        for (int32_t t = 0; t < chunk; t++) {
            r->b_tok[n] = s->prompt[s->n_fed + t];
            r->b_pos[n] = s->n_fed + t;
            r->b_seq[n] = s->seq;
            r->b_logits[n] = s->n_fed + t == s->n_prompt - 1;
            if (r->b_logits[n])
                r->out_slot[n_out++] = i;
            n++;
        }
        budget -= chunk;
    }
    if (n == 0)
        return 0;
    struct qm_batch b = {.n = n, .token = r->b_tok, .pos = r->b_pos, .seq = r->b_seq, .logits = r->b_logits};
    int rc = qm_forward(r->ctx, &b, err);
    if (rc < 0)
        return rc;
    /* the batch is in the cache now */
    for (int32_t t = 0; t < n; t++) {
        struct qm_slot *s = &r->slots[r->b_seq[t]];
        qm_slot_cached(s, r->b_tok[t]);
        if (s->state == QM_SLOT_PROMPT)
            s->n_fed++;
    }
    double t_now = qm_now_s();
    for (int32_t k = 0; k < n_out; k++) {
        struct qm_slot *s = &r->slots[r->out_slot[k]];
        if (s->state == QM_SLOT_PROMPT) {
            s->state = QM_SLOT_DECODE;
            s->t_prompt_end = t_now;
        }
        json_t *ev = NULL;
        const char *reason = qm_slot_sample(s, r->tok, qm_ctx_logits(r->ctx, k), r->n_ctx, &ev, err);
        if (ev)
            qm_rio_send(&r->io, ev);
        if (reason)
            finish(r, s, reason);
    }
    return 0;
}

static bool any_busy(const struct runner *r)
{
    for (int32_t i = 0; i < r->n_slots; i++)
        if (r->slots[i].state != QM_SLOT_FREE)
            return true;
    return false;
}

int qm_runner_main(const struct qm_runner_opts *o, int fd)
{
    struct runner r = {0};
    struct qm_err err = {{0}};
    int status = 1;
    signal(SIGPIPE, SIG_IGN);
    qm_rio_init(&r.io, fd);
    if (load(&r, o, &err) < 0) {
        qm_rio_send(&r.io, json_pack("{s:s, s:s}", "type", "error", "error", err.msg));
        goto out;
    }
    qm_log_info("runner: %s ready: %d slots of %d tokens", o->model_path, r.n_slots, r.n_ctx);
    while (!r.io.broken) {
        bool busy = any_busy(&r);
        if (qm_rio_fill(&r.io, busy ? 0 : -1) < 0 && !r.io.len)
            break;
        json_t *msg;
        while ((msg = qm_rio_next(&r.io))) {
            handle(&r, msg);
            json_decref(msg);
        }
        if (r.io.eof && !r.io.len)
            break;
        if (step(&r, &err) < 0) {
            /* a failed forward pass leaves the batch's slots unusable: fail
             * them and start their caches afresh */
            qm_log_err("runner: %s", err.msg);
            for (int32_t i = 0; i < r.n_slots; i++)
                if (r.slots[i].state != QM_SLOT_FREE) {
                    send_fail(&r, r.slots[i].id, 500, err.msg);
                    qm_kvcache_truncate(qm_ctx_kv(r.ctx), r.slots[i].seq, 0);
                    r.slots[i].n_cache = 0;
                    qm_slot_finish(&r.slots[i]);
                }
        }
    }
    status = 0;
out:
    for (int32_t i = 0; r.slots && i < r.n_slots; i++)
        qm_slot_free(&r.slots[i]);
    free(r.slots);
    free(r.b_tok);
    free(r.b_pos);
    free(r.b_seq);
    free(r.b_logits);
    free(r.out_slot);
    qm_ctx_free(r.ctx);
    qm_tokenizer_free(r.tok);
    qm_model_free(r.m);
    qm_rio_free(&r.io);
    return status;
}
