/* sampler.c - from logits to a token: llama.cpp's chain with Ollama's knobs.
 *
 * The stages, in llama.cpp's order: logit bias and repetition penalties
 * change a few tokens' logits; top_k, typical_p, top_p and min_p narrow the
 * candidates; temperature rescales the survivors; one uniform draw from
 * MT19937 walks their cumulative softmax.
 *
 * Vocabularies reach 256000 tokens while a step's interesting part is a few
 * dozen of them, so the code avoids touching the whole vocabulary more than
 * once and never sorts it:
 *   - bias and penalties are a short list of (token, new logit), "mods",
 *     with a token -> slot map; they are never written over a full copy
 *     unless a full copy is being made anyway;
 *   - greedy and top_k (k <= 1024, Ollama's 40 included) read the caller's
 *     logits once: the hot loop is one compare against the worst logit kept
 *     so far, held in a register; the few that pass go into a bounded heap,
 *     and the modified tokens are offered afterwards with their new logits;
 *   - without such a top_k, the logits are copied into an array of
 *     candidates the sampler owns, and top_p and typical_p find their cut
 *     ("the fewest best tokens whose probability reaches p") by a quickselect
 *     steered by mass instead of count: partition around a pivot, sum the
 *     weight of the better side, and recurse into whichever side the cut
 *     lies in.  Expected O(n), where sorting (llama.cpp's way) is O(n log n);
 *     the survivors come out in no particular order, which the draw does not
 *     need;
 *   - min_p is a threshold on the logit, one pass.
 *
 * The order is total: a larger key first, and on equal keys the lower token
 * id first, so ties never depend on how a partition happened to move
 * things, and the same seed and logits always give the same token. */
#include "sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "rng.h"

/* Up to this k, top_k keeps a bounded heap in one pass over the logits
 * (each token costs one compare with the heap's worst, which almost never
 * loses); above it, a copy and a quickselect, whose extra passes then
 * matter less than the heap's log k. */
#define TOP_K_HEAP_MAX 1024

struct cand {
    float key;          /* what the order sorts on: the logit, but for typical_p */
    int32_t id;
    float logit;
    float w;            /* scratch: the softmax weight exp(logit - max) */
};

struct mod {
    int32_t id;
    float logit;        /* after bias and penalties */
};

struct qm_sampler {
    struct qm_sampler_params p;     /* p.logit_bias points at bias below */
    int32_t n_vocab;
    struct qm_logit_bias *bias;

    struct cand *cand;              /* [n_vocab] */
    size_t n;                       /* candidates still in the running */
    size_t n_sorted;                /* cand[0..n_sorted) are the best, in order */
    struct cand *heap;              /* [top_k] when top_k <= TOP_K_HEAP_MAX */

    /* This step's modified logits; slot[t] is t's index in mods or -1.
     * NULL when neither bias nor penalties are configured. */
    struct mod *mods;
    size_t n_mods;
    int32_t *slot;                  /* [n_vocab] */

    /* Penalty history: the last ring_cap accepted tokens; how often each
     * occurs there; and the distinct ones as a list (dpos[t] = t's index in
     * it), so a step costs O(distinct tokens), not O(window) or O(vocab). */
    bool pen_on;
    int32_t *ring;
    size_t ring_cap, ring_len, ring_head;
    int32_t *counts;                /* [n_vocab] */
    int32_t *distinct;              /* [min(ring_cap, n_vocab)] */
    int32_t *dpos;                  /* [n_vocab] */
    size_t n_distinct;

    uint32_t seed;
    struct qm_mt mt;
};

/* ---- parameters ---------------------------------------------------------- */

void qm_sampler_params_default(struct qm_sampler_params *p)
{
    *p = (struct qm_sampler_params){
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.9f,
        .min_p = 0.0f,
        .typical_p = 1.0f,
        .repeat_last_n = 64,
        .repeat_penalty = 1.0f,     /* 1.1 before Ollama's 6a261db7d */
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .seed = -1,
        .num_ctx = 4096,
        .logit_bias = NULL,
        .n_logit_bias = 0,
        .n_probs = 0,
    };
}

static int sampler_check(const struct qm_sampler_params *p, int32_t n_vocab, struct qm_err *err)
{
    if (n_vocab <= 0)
        return qm_err_set(err, "The sampler needs a vocabulary, got %d tokens.", (int)n_vocab);
    const struct { const char *name; float v; } f[] = {
        {"temperature", p->temperature}, {"top_p", p->top_p}, {"min_p", p->min_p},
        {"typical_p", p->typical_p}, {"repeat_penalty", p->repeat_penalty},
        {"presence_penalty", p->presence_penalty}, {"frequency_penalty", p->frequency_penalty},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (isnan(f[i].v))
            return qm_err_set(err, "The sampling option %s is not a number.", f[i].name);
    /* an infinite penalty would turn an infinite logit into inf - inf */
    for (size_t i = 4; i < sizeof f / sizeof f[0]; i++)
        if (isinf(f[i].v))
            return qm_err_set(err, "The sampling option %s must be finite.", f[i].name);
    /* l/r of a positive logit with r = 0 is infinity: the most repeated
     * token would win, the opposite of a penalty. */
    if (!(p->repeat_penalty > 0.0f))
        return qm_err_set(err, "repeat_penalty must be positive, got %g.", (double)p->repeat_penalty);
    if (p->repeat_last_n < -1)
        return qm_err_set(err, "repeat_last_n must be -1 (the whole context) or more, got %d.",
                          (int)p->repeat_last_n);
    if (p->repeat_last_n == -1 && p->num_ctx <= 0)
        return qm_err_set(err, "repeat_last_n -1 needs the context length, got num_ctx %d.",
                          (int)p->num_ctx);
    if (p->n_probs < 0 || p->n_probs > QM_SAMPLER_MAX_PROBS)
        return qm_err_set(err, "The number of logprobs to report must be 0 to %d, got %d.",
                          QM_SAMPLER_MAX_PROBS, (int)p->n_probs);
    if (p->n_logit_bias > 0 && !p->logit_bias)
        return qm_err_set(err, "A logit bias count was given without the list.");
    for (size_t i = 0; i < p->n_logit_bias; i++) {
        if (p->logit_bias[i].token < 0 || p->logit_bias[i].token >= n_vocab)
            return qm_err_set(err, "The logit bias names token %d, outside the vocabulary of %d.",
                              (int)p->logit_bias[i].token, (int)n_vocab);
        if (isnan(p->logit_bias[i].bias))
            return qm_err_set(err, "The logit bias of token %d is not a number.",
                              (int)p->logit_bias[i].token);
    }
    return 0;
}

/* ---- life cycle ---------------------------------------------------------- */

struct qm_sampler *qm_sampler_new(const struct qm_sampler_params *p, int32_t n_vocab,
                                  struct qm_err *err)
{
    struct qm_sampler *s = NULL;
    size_t bytes, nv = (size_t)n_vocab;

    if (sampler_check(p, n_vocab, err) < 0)
        goto err;
    s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->p = *p;
    s->n_vocab = n_vocab;

    if (p->n_logit_bias > 0) {
        if (qm_ckd_mul(&bytes, p->n_logit_bias, sizeof *s->bias))
            goto nomem;
        s->bias = malloc(bytes);
        if (!s->bias)
            goto nomem;
        memcpy(s->bias, p->logit_bias, bytes);
    }
    s->p.logit_bias = s->bias;

    s->cand = malloc(nv * sizeof *s->cand);
    if (!s->cand)
        goto nomem;
    if (p->top_k > 0 && p->top_k <= TOP_K_HEAP_MAX && p->top_k < n_vocab) {
        s->heap = malloc((size_t)p->top_k * sizeof *s->heap);
        if (!s->heap)
            goto nomem;
    }

    /* The penalties are skipped entirely when they cannot change anything:
     * then there is no history to keep either. */
    s->ring_cap = p->repeat_last_n < 0 ? (size_t)p->num_ctx : (size_t)p->repeat_last_n;
    s->pen_on = s->ring_cap > 0 &&
                !(p->repeat_penalty == 1.0f && p->frequency_penalty == 0.0f &&
                  p->presence_penalty == 0.0f);
    size_t max_distinct = s->ring_cap < nv ? s->ring_cap : nv;
    if (s->pen_on) {
        s->ring = malloc(s->ring_cap * sizeof *s->ring);
        s->counts = calloc(nv, sizeof *s->counts);
        s->distinct = malloc(max_distinct * sizeof *s->distinct);
        s->dpos = malloc(nv * sizeof *s->dpos);
        if (!s->ring || !s->counts || !s->distinct || !s->dpos)
            goto nomem;
    }

    if (p->n_logit_bias > 0 || s->pen_on) {
        size_t cap = p->n_logit_bias + (s->pen_on ? max_distinct : 0);
        if (cap > nv)
            cap = nv;
        s->mods = malloc(cap * sizeof *s->mods);
        s->slot = malloc(nv * sizeof *s->slot);
        if (!s->mods || !s->slot)
            goto nomem;
        for (size_t i = 0; i < nv; i++)
            s->slot[i] = -1;
    }

    s->seed = p->seed < 0 ? qm_mt_random_seed() : (uint32_t)(p->seed & 0xffffffff);
    qm_mt_seed(&s->mt, s->seed);
    return s;

nomem:
    qm_err_set(err, "Out of memory creating a sampler for %d tokens.", (int)n_vocab);
err:
    qm_sampler_free(s);
    return NULL;
}

void qm_sampler_free(struct qm_sampler *s)
{
    if (!s)
        return;
    free(s->bias);
    free(s->cand);
    free(s->heap);
    free(s->mods);
    free(s->slot);
    free(s->ring);
    free(s->counts);
    free(s->distinct);
    free(s->dpos);
    free(s);
}

void qm_sampler_reset(struct qm_sampler *s)
{
    for (size_t j = 0; j < s->n_distinct; j++)
        s->counts[s->distinct[j]] = 0;
    s->n_distinct = 0;
    s->ring_len = 0;
    s->ring_head = 0;
    qm_mt_seed(&s->mt, s->seed);
}

uint32_t qm_sampler_seed(const struct qm_sampler *s)
{
    return s->seed;
}

int qm_sampler_accept(struct qm_sampler *s, int32_t token)
{
    if (token < 0 || token >= s->n_vocab)
        return QM_EINVAL;
    if (!s->pen_on)
        return 0;
    if (s->ring_len == s->ring_cap) {
        /* full: the oldest token leaves the window as the new one enters */
        int32_t old = s->ring[s->ring_head];
        if (--s->counts[old] == 0) {
            /* swap-remove it from the distinct list */
            int32_t last = s->distinct[--s->n_distinct];
            s->distinct[s->dpos[old]] = last;
            s->dpos[last] = s->dpos[old];
        }
        s->ring[s->ring_head] = token;
        s->ring_head = (s->ring_head + 1) % s->ring_cap;
    } else {
        s->ring[(s->ring_head + s->ring_len) % s->ring_cap] = token;
        s->ring_len++;
    }
    if (s->counts[token]++ == 0) {
        s->dpos[token] = (int32_t)s->n_distinct;
        s->distinct[s->n_distinct++] = token;
    }
    return 0;
}

/* ---- ordering ------------------------------------------------------------ */

static inline bool cand_before(const struct cand *a, const struct cand *b)
{
    return a->key > b->key || (a->key == b->key && a->id < b->id);
}

static int cand_cmp(const void *pa, const void *pb)
{
    const struct cand *a = pa, *b = pb;
    return cand_before(a, b) ? -1 : cand_before(b, a) ? 1 : 0;
}

static inline void cand_swap(struct cand *a, struct cand *b)
{
    struct cand t = *a;
    *a = *b;
    *b = t;
}

static void cand_sort(struct cand *c, size_t n)
{
    if (n > 16) {
        qsort(c, n, sizeof *c, cand_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {            /* insertion sort: short runs */
        struct cand x = c[i];
        size_t j = i;
        for (; j > 0 && cand_before(&x, &c[j - 1]); j--)
            c[j] = c[j - 1];
        c[j] = x;
    }
}

/* Partition c[lo..hi) (hi - lo >= 3) around the median of its first,
 * middle and last entries: afterwards c[lo..p) beat c[p], the pivot, and
 * c[p+1..hi) lose to it.  Returns p; *mass gets the weights of c[lo..p)
 * summed, for the mass-steered selection. */
static size_t cand_partition(struct cand *c, size_t lo, size_t hi, double *mass)
{
    size_t mid = lo + (hi - lo) / 2, last = hi - 1;
    if (cand_before(&c[mid], &c[lo]))
        cand_swap(&c[mid], &c[lo]);
    if (cand_before(&c[last], &c[lo]))
        cand_swap(&c[last], &c[lo]);
    if (cand_before(&c[mid], &c[last]))         /* the better of the two left */
        cand_swap(&c[mid], &c[last]);
    /* The loop swaps unconditionally and advances store by the compare's
     * result: on random logits that compare is a coin flip, and a
     * mispredicted branch per candidate would cost more than the swap. */
    const struct cand pivot = c[last];
    size_t store = lo;
    double m = 0.0;
    for (size_t i = lo; i < last; i++) {
        struct cand x = c[i];
        size_t better = (size_t)((x.key > pivot.key) | ((x.key == pivot.key) & (x.id < pivot.id)));
        c[i] = c[store];
        c[store] = x;
        m += better ? (double)x.w : 0.0;
        store += better;
    }
    cand_swap(&c[store], &c[last]);
    *mass = m;
    return store;
}

/* Quickselects stop partitioning below this size and sort the rest, and
 * fall back to sorting after this many rounds: the order is total (ids
 * break ties) so there are no runs of equal keys to degrade them, but a
 * hostile pattern then still costs O(n log n), never O(n^2). */
#define SELECT_LEAF 16
#define SELECT_DEPTH 64

/* Rearrange c[0..n) so that c[0..m) are its m best entries, in no
 * particular order. */
static void cand_select(struct cand *c, size_t n, size_t m)
{
    size_t lo = 0, hi = n;
    double unused;

    if (m == 0 || m >= n)
        return;
    for (int depth = 0; hi - lo > SELECT_LEAF && depth < SELECT_DEPTH; depth++) {
        size_t p = cand_partition(c, lo, hi, &unused);
        if (m <= p)
            hi = p;
        else if (m > p + 1)
            lo = p + 1;
        else
            return;                 /* c[0..p] are exactly the m best */
        if (m == lo || m == hi)
            return;
    }
    cand_sort(c + lo, hi - lo);
}

/* The fewest best entries of c[0..n) whose weights sum to at least need
 * (more than need when strict), moved to the front in no particular order;
 * returns their count.  need must be >= 0.  If rounding keeps the sums
 * short of need, all of c[0..n) is kept. */
static inline bool mass_reached(double acc, double need, bool strict)
{
    return strict ? acc > need : acc >= need;
}

static size_t cand_select_mass(struct cand *c, size_t n, double need, bool strict)
{
    size_t lo = 0, hi = n;
    /* invariant: c[0..lo) are in, c[hi..n) are out, and need is what the
     * cut still has to collect from c[lo..hi) */
    for (int depth = 0; hi - lo > SELECT_LEAF && depth < SELECT_DEPTH; depth++) {
        double better;
        size_t p = cand_partition(c, lo, hi, &better);
        if (mass_reached(better, need, strict)) {
            hi = p;                 /* the cut falls among the better ones */
        } else if (mass_reached(better + c[p].w, need, strict)) {
            return p + 1;           /* exactly: everything up to the pivot */
        } else {
            need -= better + c[p].w;
            lo = p + 1;
        }
    }
    cand_sort(c + lo, hi - lo);
    double acc = 0.0;
    for (size_t i = lo; i < hi; i++) {
        acc += c[i].w;
        if (mass_reached(acc, need, strict))
            return i + 1;
    }
    return hi;
}

/* Make cand[0..m) the m best candidates in order (m capped at n). */
static void ensure_sorted(struct qm_sampler *s, size_t m)
{
    if (m > s->n)
        m = s->n;
    if (m <= s->n_sorted)
        return;
    struct cand *rest = s->cand + s->n_sorted;
    size_t want = m - s->n_sorted;
    cand_select(rest, s->n - s->n_sorted, want);
    cand_sort(rest, want);
    s->n_sorted = m;
}

/* ---- softmax helpers ----------------------------------------------------- */

static float cand_max(const struct qm_sampler *s)
{
    if (s->n_sorted > 0)
        return s->cand[0].key;      /* key == logit whenever a prefix is sorted */
    float mx = -INFINITY;
    for (size_t i = 0; i < s->n; i++)
        if (s->cand[i].logit > mx)
            mx = s->cand[i].logit;
    return mx;
}

/* exp(l - max), the unnormalized softmax weight.  With an infinite max
 * (a +inf bias) the tokens at +inf share everything, the rest get nothing;
 * the plain formula would give NaN there. */
static inline float weight(float l, float mx)
{
    if (isinf(mx))
        return l == mx ? 1.0f : 0.0f;
    return expf(l - mx);
}

/* Fill every candidate's w and return their sum. */
static double fill_weights(struct qm_sampler *s, float mx)
{
    double sum = 0.0;
    for (size_t i = 0; i < s->n; i++) {
        float w = weight(s->cand[i].logit, mx);
        s->cand[i].w = w;
        sum += w;
    }
    return sum;
}

/* ln of weight(l, mx) where that is positive, without calling log. */
static inline double log_weight(float l, float mx)
{
    return isinf(mx) ? 0.0 : (double)l - (double)mx;
}

/* ---- bias and penalties: the few tokens whose logits change ------------- */

static inline float raw_logit(const float *logits, int32_t i)
{
    return isnan(logits[i]) ? -INFINITY : logits[i];
}

static struct mod *mod_get(struct qm_sampler *s, const float *logits, int32_t t)
{
    int32_t i = s->slot[t];
    if (i < 0) {
        i = (int32_t)s->n_mods++;
        s->slot[t] = i;
        s->mods[i] = (struct mod){.id = t, .logit = raw_logit(logits, t)};
    }
    return &s->mods[i];
}

/* Logit bias first, then for each token that occurs c > 0 times in the
 * penalty window:
 *   l <- l / r if l > 0 else l * r,   then   l <- l - c*frequency - presence. */
static void mods_build(struct qm_sampler *s, const float *logits)
{
    s->n_mods = 0;
    for (size_t i = 0; i < s->p.n_logit_bias; i++) {
        struct mod *m = mod_get(s, logits, s->bias[i].token);
        m->logit += s->bias[i].bias;
        if (isnan(m->logit))        /* +inf logit, -inf bias: the ban wins */
            m->logit = -INFINITY;
    }
    if (!s->pen_on)
        return;
    const float r = s->p.repeat_penalty;
    for (size_t j = 0; j < s->n_distinct; j++) {
        int32_t t = s->distinct[j];
        struct mod *m = mod_get(s, logits, t);
        float l = m->logit;
        l = l > 0.0f ? l / r : l * r;
        l -= (float)s->counts[t] * s->p.frequency_penalty + s->p.presence_penalty;
        m->logit = l;
    }
}

static void mods_clear(struct qm_sampler *s)
{
    for (size_t i = 0; i < s->n_mods; i++)
        s->slot[s->mods[i].id] = -1;
    s->n_mods = 0;
}

/* Whether token i has a modified logit (checked only for the rare tokens
 * that pass a scan's threshold). */
static inline bool is_modified(const struct qm_sampler *s, int32_t i)
{
    return s->slot && s->slot[i] >= 0;
}

/* ---- the stages ---------------------------------------------------------- */

/* Greedy: the arg-max of the modified logits, lowest id on ties: a strict
 * > scan in id order over the unmodified ones, then the modified ones
 * compared in full.  NaN fails every compare, so it never wins. */
static int greedy_sparse(struct qm_sampler *s, const float *logits)
{
    int32_t best = -1;
    float best_l = -INFINITY;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        float v = logits[i];
        if (v > best_l && !is_modified(s, i)) {
            best_l = v;
            best = i;
        }
    }
    for (size_t j = 0; j < s->n_mods; j++) {
        const struct mod *m = &s->mods[j];
        if (m->logit > best_l || (m->logit == best_l && best >= 0 && m->id < best)) {
            best_l = m->logit;
            best = m->id;
        }
    }
    if (best < 0)
        return QM_EINVAL;           /* everything is -infinity: all banned */
    s->cand[0] = (struct cand){.key = best_l, .id = best, .logit = best_l};
    s->n = 1;
    s->n_sorted = 1;
    return 0;
}

/* Copy the logits into the candidate array and apply the mods there. */
static int load_dense(struct qm_sampler *s, const float *logits)
{
    float mx = -INFINITY;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        float v = raw_logit(logits, i);
        s->cand[i] = (struct cand){.key = v, .id = i, .logit = v};
    }
    for (size_t j = 0; j < s->n_mods; j++) {
        struct cand *c = &s->cand[s->mods[j].id];
        c->logit = c->key = s->mods[j].logit;
    }
    s->n = (size_t)s->n_vocab;
    s->n_sorted = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->cand[i].logit > mx)
            mx = s->cand[i].logit;
    return mx == -INFINITY ? QM_EINVAL : 0;
}

/* Put c at node i of the heap h[0..n), whose every parent is worse than
 * its children (so h[0] is the worst kept), and sift it down into place. */
static void heap_sift(struct cand *h, size_t n, size_t i, struct cand c)
{
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        const struct cand *wc = &c;
        if (l < n && cand_before(wc, &h[l]))
            wc = &h[w = l];
        if (l + 1 < n && cand_before(wc, &h[l + 1]))
            w = l + 1;
        if (w == i)
            break;
        h[i] = h[w];
        i = w;
    }
    h[i] = c;
}

static void heapify(struct cand *h, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        heap_sift(h, n, i, h[i]);
}

/* top_k straight from the caller's logits into the bounded heap. */
static int top_k_sparse(struct qm_sampler *s, const float *logits)
{
    struct cand *h = s->heap;
    const size_t k = (size_t)s->p.top_k;
    size_t hn = 0;
    int32_t i = 0;

    /* The first k unmodified tokens seed the heap. */
    for (; i < s->n_vocab && hn < k; i++) {
        if (is_modified(s, i))
            continue;
        float v = raw_logit(logits, i);
        h[hn++] = (struct cand){.key = v, .id = i, .logit = v};
    }
    if (hn == k) {
        heapify(h, k);
        /* The hot loop.  Tokens come in id order, so one that only ties
         * the worst kept loses to it (the kept one has the lower id): a
         * strict > is the whole test.  NaN fails it too. */
        float worst = h[0].key;
        for (; i < s->n_vocab; i++) {
            float v = logits[i];
            if (!(v > worst) || is_modified(s, i))
                continue;
            heap_sift(h, k, 0, (struct cand){.key = v, .id = i, .logit = v});
            worst = h[0].key;
        }
    }
    /* The modified tokens, with their new logits, in full comparison.  Every
     * token is either unmodified or here, and k < n_vocab, so the heap is
     * full afterwards. */
    for (size_t j = 0; j < s->n_mods; j++) {
        struct cand c = {.key = s->mods[j].logit, .id = s->mods[j].id, .logit = s->mods[j].logit};
        if (hn < k) {
            h[hn++] = c;
            if (hn == k)
                heapify(h, k);
        } else if (cand_before(&c, &h[0])) {
            heap_sift(h, k, 0, c);
        }
    }
    cand_sort(h, hn);
    if (hn == 0 || h[0].logit == -INFINITY)
        return QM_EINVAL;
    memcpy(s->cand, h, hn * sizeof *h);
    s->n = hn;
    s->n_sorted = hn;
    return 0;
}

/* top_k over the candidate array (a k too large for the heap). */
static void stage_top_k(struct qm_sampler *s)
{
    int32_t k = s->p.top_k;
    if (k <= 0 || (size_t)k >= s->n)
        return;
    ensure_sorted(s, (size_t)k);
    s->n = (size_t)k;
}

/* Keep only the best candidate (a cut at p <= 0 keeps one, as llama.cpp's
 * min_keep of 1 does). */
static void keep_best(struct qm_sampler *s)
{
    ensure_sorted(s, 1);
    s->n = 1;
}

/* Locally typical sampling: keep the tokens whose surprise -ln p is closest
 * to the distribution's entropy H, the fewest whose probabilities sum to
 * more than typical_p.  The sort key becomes -|(-ln p) - H| for the
 * duration, so the mass-steered selection orders by typicality. */
static void stage_typical(struct qm_sampler *s)
{
    if (!(s->p.typical_p < 1.0f) || s->n <= 1)
        return;
    float mx = cand_max(s);
    double sum = fill_weights(s, mx), log_sum = log(sum);
    /* ln p = (l - max) - ln(sum), no log call per token */
    double h = 0.0;
    for (size_t i = 0; i < s->n; i++)
        if (s->cand[i].w > 0.0f)
            h -= ((double)s->cand[i].w / sum) * (log_weight(s->cand[i].logit, mx) - log_sum);
    for (size_t i = 0; i < s->n; i++) {
        struct cand *c = &s->cand[i];
        double surprise = log_sum - log_weight(c->logit, mx);
        c->key = c->w > 0.0f ? (float)-fabs(surprise - h) : -INFINITY;
    }
    s->n_sorted = 0;
    double need = (double)s->p.typical_p * sum;
    if (need < 0.0)
        keep_best(s);               /* the most typical one */
    else
        s->n = cand_select_mass(s->cand, s->n, need, true);
    for (size_t i = 0; i < s->n; i++)
        s->cand[i].key = s->cand[i].logit;
    s->n_sorted = s->n == 1;        /* in no order but by typicality */
}

/* ln(1e-4): top_p's first cut keeps tokens with p >= 1e-4 * p_max. */
#define TOP_P_FRONT (-9.2103404f)

/* Nucleus: the most probable tokens, the fewest whose probabilities reach
 * top_p (>=, as llama.cpp; Ollama's own Go sampler used >). */
static void stage_top_p(struct qm_sampler *s)
{
    if (!(s->p.top_p < 1.0f) || s->n <= 1)
        return;
    float mx = cand_max(s);
    double sum = fill_weights(s, mx);
    double need = (double)s->p.top_p * sum;
    if (need <= 0.0) {
        keep_best(s);
        return;
    }
    if (s->n_sorted == s->n) {
        /* already in order (after top_k): walk it */
        double acc = 0.0;
        for (size_t i = 0; i < s->n; i++) {
            acc += s->cand[i].w;
            if (mass_reached(acc, need, false)) {
                s->n = s->n_sorted = i + 1;
                break;
            }
        }
        return;
    }
    /* A first cut at a fixed weight: tokens within TOP_P_FRONT of the top
     * logit go to the front.  Real models put nearly all the mass on a few
     * of them, and then the search for the exact cut stays among those few;
     * when they fall short it goes on in the rest.  Same set either way:
     * the front is a prefix of the sorted order. */
    struct cand *c = s->cand;
    const float thr = isinf(mx) ? mx : mx + TOP_P_FRONT;
    size_t front = 0;
    double front_mass = 0.0;
    for (size_t i = 0; i < s->n; i++) {
        if (c[i].logit >= thr) {
            front_mass += c[i].w;
            cand_swap(&c[i], &c[front++]);
        }
    }
    size_t keep = mass_reached(front_mass, need, false)
                      ? cand_select_mass(c, front, need, false)
                      : front + cand_select_mass(c + front, s->n - front, need - front_mass, false);
    s->n = keep;
    s->n_sorted = 0;
}

/* Keep tokens with p >= min_p * p_max, i.e. logit >= max + ln(min_p).  No
 * sort needed; the compaction is stable, so a sorted prefix stays sorted. */
static void stage_min_p(struct qm_sampler *s)
{
    if (!(s->p.min_p > 0.0f) || s->n <= 1)
        return;
    double thr = (double)cand_max(s) + log((double)s->p.min_p);
    size_t out = 0, sorted = 0;
    for (size_t i = 0; i < s->n; i++) {
        if ((double)s->cand[i].logit >= thr) {
            s->cand[out++] = s->cand[i];
            if (i < s->n_sorted)
                sorted++;
        }
    }
    s->n = out;
    s->n_sorted = sorted;
}

static void stage_temperature(struct qm_sampler *s)
{
    float t = s->p.temperature;
    if (t == 1.0f)
        return;
    for (size_t i = 0; i < s->n; i++) {
        s->cand[i].logit /= t;
        s->cand[i].key = s->cand[i].logit;
    }
}

/* Run every stage but the draw, leaving the survivors in cand[0..n).
 * Returns 0, or QM_EINVAL when nothing is left to draw from. */
static int sampler_chain(struct qm_sampler *s, const float *logits)
{
    const bool greedy = !(s->p.temperature > 0.0f);
    int rc;

    if (s->slot)
        mods_build(s, logits);
    if (greedy) {
        rc = greedy_sparse(s, logits);
    } else if (s->heap) {
        rc = top_k_sparse(s, logits);
    } else {
        rc = load_dense(s, logits);
        if (rc == 0)
            stage_top_k(s);
    }
    if (s->slot)
        mods_clear(s);
    if (rc < 0 || greedy)
        return rc;

    stage_typical(s);
    stage_top_p(s);
    stage_min_p(s);
    stage_temperature(s);
    return 0;
}

/* One uniform u in [0,1) scaled by the total weight, then the first
 * candidate (in array order) whose cumulative weight passes it.  Zero-weight
 * candidates can never be chosen. */
static int32_t sampler_draw(struct qm_sampler *s)
{
    if (s->n == 1)
        return s->cand[0].id;
    double sum = fill_weights(s, cand_max(s));
    double u = qm_mt_unit(&s->mt) * sum;
    double acc = 0.0;
    size_t last = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->cand[i].w <= 0.0f)
            continue;
        acc += s->cand[i].w;
        last = i;
        if (u < acc)
            return s->cand[i].id;
    }
    return s->cand[last].id;        /* u rounded past the last sum */
}

/* ---- logprobs ------------------------------------------------------------ */

static float logprob_of(float l, double lse)
{
    if (isinf(lse))                 /* degenerate: an infinite raw logit */
        return (l == lse && lse > 0) ? 0.0f : -INFINITY;
    return (float)((double)l - lse);
}

/* log-softmax of the raw logits at the chosen token, and the n_probs best
 * tokens kept in a small sorted array (n <= 20: insertion beats a heap). */
static void sampler_info(const struct qm_sampler *s, const float *logits, int32_t token,
                         struct qm_sample_info *info)
{
    const int32_t nv = s->n_vocab;
    float mx = -INFINITY;
    for (int32_t i = 0; i < nv; i++)
        if (raw_logit(logits, i) > mx)
            mx = raw_logit(logits, i);
    double lse = mx;
    if (isfinite(mx)) {
        double sum = 0.0;
        for (int32_t i = 0; i < nv; i++)
            sum += (double)expf(raw_logit(logits, i) - mx);
        lse = (double)mx + log(sum);
    }

    info->token = token;
    info->logprob = logprob_of(raw_logit(logits, token), lse);

    int32_t want = s->p.n_probs < nv ? s->p.n_probs : nv;
    int32_t have = 0;
    struct cand top[QM_SAMPLER_MAX_PROBS];
    for (int32_t i = 0; i < nv && want > 0; i++) {
        struct cand c = {.key = raw_logit(logits, i), .id = i};
        if (have == want && !cand_before(&c, &top[have - 1]))
            continue;
        int32_t j = have < want ? have++ : have - 1;
        for (; j > 0 && cand_before(&c, &top[j - 1]); j--)
            top[j] = top[j - 1];
        top[j] = c;
    }
    info->n_top = have;
    for (int32_t j = 0; j < have; j++)
        info->top[j] = (struct qm_token_logprob){top[j].id, logprob_of(top[j].key, lse)};
}

/* ---- API ----------------------------------------------------------------- */

int32_t qm_sampler_sample(struct qm_sampler *s, const float *logits, struct qm_sample_info *info)
{
    if (sampler_chain(s, logits) < 0)
        return QM_EINVAL;
    int32_t token = sampler_draw(s);
    if (info)
        sampler_info(s, logits, token, info);
    return token;
}

int64_t qm_sampler_survivors(struct qm_sampler *s, const float *logits,
                             int32_t *tokens, float *values, size_t cap)
{
    if (sampler_chain(s, logits) < 0)
        return QM_EINVAL;
    for (size_t i = 0; i < s->n && i < cap; i++) {
        if (tokens)
            tokens[i] = s->cand[i].id;
        if (values)
            values[i] = s->cand[i].logit;
    }
    return (int64_t)s->n;
}
