/* test_estimate.c - the memory estimate (manager/estimate.h).
 *
 * The arithmetic against figures worked out by hand from the formula in
 * estimate.h (full offload, hybrid, CPU, q8_0 KV, the CUDA context, absurd
 * sizes that must saturate), and the header reader against small GGUF files
 * written here: per-layer sums, embedding, head (own and tied), the shape
 * keys and their defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "estimate.h"
#include "gguf_write.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* 32 layers of 100 MiB, 100 MiB embedding and head; KV rows of 4 x 64. */
static void small_model(struct qm_model_sizes *mi)
{
    memset(mi, 0, sizeof *mi);
    mi->n_layer = 32;
    mi->n_ctx_train = 32768;
    mi->n_embd = 2048;
    mi->n_ff = 5632;
    mi->n_head_kv = 4;
    mi->head_dim = 64;
    mi->n_vocab = 32000;
    mi->embd_bytes = 100 * MiB;
    mi->head_bytes = 100 * MiB;
    for (int i = 0; i < 32; i++)
        mi->layer_bytes[i] = 100 * MiB;
}

static void kv_bytes(void **state)
{
    (void)state;
    struct qm_model_sizes mi;
    small_model(&mi);
    /* K and V rows of 256 elements: f16 2 x 512 B; q8_0 2 x 8 blocks x 34 B */
    assert_int_equal(qm_est_kv_per_token_layer(&mi, QM_KV_F16), 1024);
    assert_int_equal(qm_est_kv_per_token_layer(&mi, QM_KV_Q8_0), 544);
    mi.head_dim = 40;   /* 160 elements: 5 blocks */
    assert_int_equal(qm_est_kv_per_token_layer(&mi, QM_KV_Q8_0), 2 * 5 * 34);
}

static void full_offload(void **state)
{
    (void)state;
    struct qm_model_sizes mi;
    small_model(&mi);
    struct qm_est e;
    struct qm_est_params p = {.num_ctx = 4096, .num_parallel = 2, .num_gpu = -1, .gpu_free = 16 * GiB};
    qm_estimate(&mi, &p, &e);
    uint64_t kv = 32ull * 4096 * 2 * 1024;                      /* 256 MiB */
    uint64_t graph = 512ull * (4 * 2048 + 2 * 5632 + 4096) * 4; /* 46 MiB */
    uint64_t logits = 2ull * 32000 * 4;
    assert_int_equal(e.num_gpu, 32);
    assert_true(e.head_on_gpu);
    assert_true(e.fits);
    assert_true(e.kv_bytes == kv);
    assert_true(e.graph_bytes == graph);
    assert_true(e.vram == 3200 * MiB + kv + graph + 100 * MiB + logits);
    assert_true(e.ram == 100 * MiB + logits);   /* the embedding stays on the CPU */

    /* a real GPU adds the CUDA context */
    p.proc_overhead = QM_EST_CUDA_OVERHEAD;
    struct qm_est e2;
    qm_estimate(&mi, &p, &e2);
    assert_true(e2.vram == e.vram + 500 * MiB);
    assert_true(e2.ram == e.ram);

    /* q8_0 KV: 544/1024 of the cache */
    p.kv_type = QM_KV_Q8_0;
    qm_estimate(&mi, &p, &e2);
    assert_true(e2.kv_bytes == kv / 1024 * 544);
}

static void hybrid_split(void **state)
{
    (void)state;
    struct qm_model_sizes mi;
    small_model(&mi);
    /* per GPU layer: 100 MiB + 4 MiB KV; fixed: 46 MiB graph + 500 MiB CUDA */
    struct qm_est e;
    struct qm_est_params p = {.num_ctx = 4096,
                              .num_parallel = 1,
                              .num_gpu = -1,
                              .gpu_free = 2 * GiB,
                              .proc_overhead = QM_EST_CUDA_OVERHEAD};
    qm_estimate(&mi, &p, &e);
    /* (2048 - 546) / 104 = 14.4 */
    assert_int_equal(e.num_gpu, 14);
    assert_false(e.head_on_gpu);
    assert_true(e.fits);
    assert_true(e.vram == 546 * MiB + 14 * 104 * MiB);
    uint64_t logits = 32000 * 4;
    assert_true(e.ram == 100 * MiB + 18 * 104 * MiB + 100 * MiB + 46 * MiB + logits);

    /* forced: exactly that many, fitting or not */
    p.num_gpu = 15;
    qm_estimate(&mi, &p, &e);
    assert_int_equal(e.num_gpu, 15);
    assert_false(e.fits);
    p.num_gpu = 1000;
    qm_estimate(&mi, &p, &e);
    assert_int_equal(e.num_gpu, 32);
    assert_true(e.head_on_gpu);

    /* not one layer fits: the CPU, no VRAM at all */
    p.num_gpu = -1;
    p.gpu_free = 600 * MiB;
    qm_estimate(&mi, &p, &e);
    assert_int_equal(e.num_gpu, 0);
    assert_true(e.vram == 0);
    assert_true(e.fits);
    assert_true(e.ram == 100 * MiB + 3200 * MiB + 128 * MiB + 100 * MiB + 46 * MiB + logits);

    /* the last layers go to the GPU: make them bigger and fewer fit */
    p.gpu_free = 2 * GiB;
    mi.layer_bytes[31] = 1 * GiB;
    qm_estimate(&mi, &p, &e);
    assert_int_equal(e.num_gpu, 5);   /* 546 + 1028 + 4 x 104 = 1990 MiB */
}

static void saturates(void **state)
{
    (void)state;
    struct qm_model_sizes mi;
    small_model(&mi);
    mi.layer_bytes[0] = UINT64_MAX / 2;
    mi.layer_bytes[1] = UINT64_MAX / 2;
    mi.n_vocab = INT32_MAX;
    struct qm_est e;
    struct qm_est_params p = {.num_ctx = INT32_MAX, .num_parallel = INT32_MAX, .num_gpu = 32, .gpu_free = 8 * GiB};
    qm_estimate(&mi, &p, &e);
    assert_true(e.vram == UINT64_MAX);
    assert_false(e.fits);
    p.num_gpu = -1;
    qm_estimate(&mi, &p, &e);
    assert_int_equal(e.num_gpu, 0);
}

/* ---- the header reader -------------------------------------------------- */

struct tensor_spec {
    const char *name;
    enum qm_type type;
    int64_t ne0, ne1;
};

static void write_model(const char *path, const struct tensor_spec *ts, int n, bool with_tokens)
{
    struct qm_err err = {{0}};
    struct gguf_writer *w;
    assert_int_equal(gguf_w_new(&w, &err), 0);
    assert_int_equal(gguf_w_set_str(w, "general.architecture", "qwen2", &err), 0);
    assert_int_equal(gguf_w_set_u32(w, "qwen2.block_count", 2, &err), 0);
    assert_int_equal(gguf_w_set_u32(w, "qwen2.context_length", 2048, &err), 0);
    assert_int_equal(gguf_w_set_u32(w, "qwen2.embedding_length", 64, &err), 0);
    assert_int_equal(gguf_w_set_u32(w, "qwen2.feed_forward_length", 128, &err), 0);
    assert_int_equal(gguf_w_set_u32(w, "qwen2.attention.head_count", 4, &err), 0);
    assert_int_equal(gguf_w_set_u32(w, "qwen2.attention.head_count_kv", 2, &err), 0);
    if (with_tokens) {
        const char *toks[120];
        for (int i = 0; i < 120; i++)
            toks[i] = "t";
        assert_int_equal(gguf_w_set_str_array(w, "tokenizer.ggml.tokens", toks, NULL, 120, &err), 0);
    }
    static uint8_t zeros[1 << 16];
    for (int i = 0; i < n; i++) {
        int64_t ne[2] = {ts[i].ne0, ts[i].ne1};
        if (gguf_w_add_tensor(w, ts[i].name, ts[i].type, ts[i].ne1 > 1 ? 2 : 1, ne, zeros, &err) != 0)
            fail_msg("%s: %s", ts[i].name, err.msg);
    }
    if (gguf_w_write(w, path, NULL, &err) != 0)
        fail_msg("write: %s", err.msg);
    gguf_w_free(w);
}

static void reads_header(void **state)
{
    (void)state;
    char dir[] = "/tmp/qm_test_est_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/m.gguf", dir);

    /* sizes: F32 4 B, F16 2 B, Q8_0 34 B per 32 */
    const struct tensor_spec own[] = {
        {"token_embd.weight", QM_TYPE_F16, 64, 100},     /* 12800 */
        {"blk.0.attn_q.weight", QM_TYPE_F16, 64, 64},    /* 8192 */
        {"blk.0.ffn_up.weight", QM_TYPE_Q8_0, 64, 128},  /* 8704 */
        {"blk.1.attn_q.weight", QM_TYPE_F32, 64, 64},    /* 16384 */
        {"blk.1.attn_norm.weight", QM_TYPE_F32, 64, 1},  /* 256 */
        {"output_norm.weight", QM_TYPE_F32, 64, 1},      /* 256 */
        {"output.weight", QM_TYPE_Q8_0, 64, 100},        /* 6800 */
        {"rope_freqs.weight", QM_TYPE_F32, 32, 1},       /* 128 */
    };
    write_model(path, own, 8, true);
    struct qm_model_sizes mi;
    struct qm_err err = {{0}};
    if (qm_model_sizes_read(&mi, path, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(mi.arch, "qwen2");
    assert_int_equal(mi.n_layer, 2);
    assert_int_equal(mi.n_ctx_train, 2048);
    assert_int_equal(mi.n_embd, 64);
    assert_int_equal(mi.n_ff, 128);
    assert_int_equal(mi.n_head_kv, 2);
    assert_int_equal(mi.head_dim, 16);
    assert_int_equal(mi.n_vocab, 120);   /* the tokenizer's count wins */
    assert_int_equal(mi.layer_bytes[0], 8192 + 8704);
    assert_int_equal(mi.layer_bytes[1], 16384 + 256);
    assert_int_equal(mi.embd_bytes, 12800);
    assert_int_equal(mi.head_bytes, 256 + 6800);
    assert_int_equal(mi.other_bytes, 128);
    assert_int_equal(mi.weight_bytes, 12800 + 8192 + 8704 + 16384 + 256 + 256 + 6800 + 128);

    /* tied embeddings, no tokenizer: the head is a GPU copy of the
     * embedding, and the vocabulary its row count */
    const struct tensor_spec tied[] = {
        {"token_embd.weight", QM_TYPE_F16, 64, 100},
        {"blk.0.attn_q.weight", QM_TYPE_F16, 64, 64},
        {"blk.1.attn_q.weight", QM_TYPE_F16, 64, 64},
        {"output_norm.weight", QM_TYPE_F32, 64, 1},
    };
    /* read again: the same figures (from the cache) */
    struct qm_model_sizes again;
    assert_int_equal(qm_model_sizes_read(&again, path, &err), 0);
    assert_memory_equal(&again, &mi, sizeof mi);
    /* replaced by a rename, as the store does: the new file is read, not a
     * cached copy of the old one */
    char fresh[80];
    snprintf(fresh, sizeof fresh, "%s/new.gguf", dir);
    write_model(fresh, tied, 4, false);
    assert_int_equal(rename(fresh, path), 0);
    if (qm_model_sizes_read(&mi, path, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(mi.n_vocab, 100);
    assert_int_equal(mi.head_bytes, 256 + 12800);
    assert_int_equal(mi.embd_bytes, 12800);

    /* not a model */
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("not gguf", fp);
    fclose(fp);
    assert_true(qm_model_sizes_read(&mi, path, &err) < 0);
    assert_true(err.msg[0] != '\0');
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kv_bytes),
        cmocka_unit_test(full_offload),
        cmocka_unit_test(hybrid_split),
        cmocka_unit_test(saturates),
        cmocka_unit_test(reads_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
