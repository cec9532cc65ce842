/* estimate_gguf.c - struct qm_model_sizes from a GGUF header.
 *
 * The daemon calls this for every request (off the loop thread: gguf_open
 * maps the file and checks its tensor table), so results are cached.  Only the
 * shape keys the memory formula needs are read; an architecture qm cannot
 * run is still sized, so that the runner, not the estimate, gives the
 * error about it. */
#include "estimate.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/arch.h"
#include "ckd.h"
#include "gguf.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;
    return qm_ckd_add(&r, a, b) ? UINT64_MAX : r;
}

/* "<arch>.<suffix>" as an int in [lo, hi]; def when absent (def < lo:
 * the key is required). */
static int arch_int(const struct gguf_file *f, const char *arch, const char *suffix, int64_t def, int64_t lo,
                    int64_t hi, int *out, struct qm_err *err)
{
    int64_t v = def;
    int rc = qm_arch_get_int(f, arch, suffix, &v, err);
    if (rc < 0 && rc != GGUF_ENOKEY)
        return rc;
    if (rc == GGUF_ENOKEY && def < lo)
        return qm_err_set(err, "model: the file has no '%s.%s'", arch, suffix);
    if (rc == GGUF_ENOKEY)
        v = def;
    if (v < lo || v > hi)
        return qm_err_set(err, "model: '%s.%s' = %lld is out of range [%lld, %lld]", arch, suffix,
                          (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return 0;
}

/* Layer index of a "blk.<i>.<rest>" name, or -1. */
static int layer_of(const char *name)
{
    if (strncmp(name, "blk.", 4) != 0)
        return -1;
    char *end;
    long i = strtol(name + 4, &end, 10);
    if (end == name + 4 || *end != '.' || i < 0 || i > 1 << 20)
        return -1;
    return (int)i;
}

static void size_tensors(struct qm_model_sizes *mi, const struct gguf_file *f)
{
    bool has_output = false;
    for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
        const struct gguf_tensor *t = gguf_tensor(f, i);
        int layer = layer_of(t->name);
        if (layer >= 0 && layer < mi->n_layer)
            mi->layer_bytes[layer] = sat_add(mi->layer_bytes[layer], t->nbytes);
        else if (strcmp(t->name, "token_embd.weight") == 0)
            mi->embd_bytes = sat_add(mi->embd_bytes, t->nbytes);
        else if (strncmp(t->name, "output", 6) == 0) {   /* output.weight, output_norm.* */
            mi->head_bytes = sat_add(mi->head_bytes, t->nbytes);
            has_output |= strcmp(t->name, "output.weight") == 0;
        } else
            mi->other_bytes = sat_add(mi->other_bytes, t->nbytes);
    }
    /* tied embeddings: the GPU needs its own copy to compute the logits */
    if (!has_output)
        mi->head_bytes = sat_add(mi->head_bytes, mi->embd_bytes);
}

int qm_model_sizes_from_gguf(struct qm_model_sizes *mi, const struct gguf_file *f, struct qm_err *err)
{
    memset(mi, 0, sizeof *mi);
    struct gguf_str arch;
    int rc = gguf_get_str(f, "general.architecture", &arch, err);
    if (rc == GGUF_ENOKEY)
        return qm_err_set(err, "model: the file has no general.architecture");
    if (rc < 0)
        return rc;
    if (arch.len == 0 || arch.len >= sizeof mi->arch || memchr(arch.ptr, '\0', arch.len))
        return qm_err_set(err, "model: general.architecture is not a usable name");
    gguf_str_copy(mi->arch, sizeof mi->arch, arch);
    const char *a = mi->arch;

    const struct gguf_tensor *embd = gguf_find_tensor(f, "token_embd.weight");
    int n_head = 0;
    if ((rc = arch_int(f, a, "block_count", 0, 1, QM_EST_MAX_LAYERS, &mi->n_layer, err)) < 0 ||
        (rc = arch_int(f, a, "context_length", 0, 0, INT32_MAX, &mi->n_ctx_train, err)) < 0 ||
        (rc = arch_int(f, a, "embedding_length", embd ? embd->ne[0] : 0, 1, 1 << 24, &mi->n_embd, err)) < 0 ||
        (rc = arch_int(f, a, "attention.head_count", 0, 1, 4096, &n_head, err)) < 0 ||
        (rc = arch_int(f, a, "attention.head_count_kv", n_head, 1, 4096, &mi->n_head_kv, err)) < 0 ||
        (rc = arch_int(f, a, "attention.key_length", mi->n_embd / n_head, 1, 1 << 16, &mi->head_dim, err)) < 0)
        return rc;
    /* a per-layer n_ff that varies is legal GGUF; take 4 n_embd rather than fail */
    if (arch_int(f, a, "feed_forward_length", 4ll * mi->n_embd, 1, 1 << 26, &mi->n_ff, NULL) < 0)
        mi->n_ff = 4 * mi->n_embd;

    const struct gguf_value *tokens = gguf_find(f, "tokenizer.ggml.tokens");
    if (tokens && tokens->type == GGUF_ARRAY && tokens->count <= INT32_MAX)
        mi->n_vocab = (int)tokens->count;
    else if (embd && embd->ne[1] <= INT32_MAX)
        mi->n_vocab = (int)embd->ne[1];

    mi->weight_bytes = gguf_tensor_bytes(f);
    size_tensors(mi, f);
    return 0;
}

/* Every request reads its model's sizes, and checking a GGUF with a large
 * vocabulary takes milliseconds: the last few files read are remembered,
 * known by their inode, size and times (store blobs never change anyway). */
enum { SIZES_CACHE = 8 };
static struct sizes_entry {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    uint64_t used;              /* 0: empty */
    struct qm_model_sizes sizes;
} sizes_cache[SIZES_CACHE];
static uint64_t sizes_clock;
static pthread_mutex_t sizes_lock = PTHREAD_MUTEX_INITIALIZER;

static bool same_file(const struct sizes_entry *e, const struct stat *st)
{
    return e->used && e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           e->ctime.tv_sec == st->st_ctim.tv_sec && e->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static bool cache_get(const struct stat *st, struct qm_model_sizes *out)
{
    bool hit = false;
    pthread_mutex_lock(&sizes_lock);
    for (int i = 0; i < SIZES_CACHE && !hit; i++)
        if (same_file(&sizes_cache[i], st)) {
            *out = sizes_cache[i].sizes;
            sizes_cache[i].used = ++sizes_clock;
            hit = true;
        }
    pthread_mutex_unlock(&sizes_lock);
    return hit;
}

static void cache_put(const struct stat *st, const struct qm_model_sizes *mi)
{
    pthread_mutex_lock(&sizes_lock);
    struct sizes_entry *e = &sizes_cache[0];
    for (int i = 1; i < SIZES_CACHE; i++)
        if (sizes_cache[i].used < e->used)
            e = &sizes_cache[i];   /* the least recently used, or an empty one */
    *e = (struct sizes_entry){.dev = st->st_dev, .ino = st->st_ino, .size = st->st_size, .mtime = st->st_mtim,
                              .ctime = st->st_ctim, .used = ++sizes_clock, .sizes = *mi};
    pthread_mutex_unlock(&sizes_lock);
}

int qm_model_sizes_read(struct qm_model_sizes *out, const char *path, struct qm_err *err)
{
    struct stat st;
    bool known = stat(path, &st) == 0;
    if (known && cache_get(&st, out))
        return 0;
    struct gguf_file *f;
    int rc = gguf_open(&f, path, GGUF_OPEN_ANY_TYPE, err);
    if (rc < 0)
        return rc;
    rc = qm_model_sizes_from_gguf(out, f, err);
    gguf_close(f);
    if (rc == 0 && known)
        cache_put(&st, out);
    return rc;
}
