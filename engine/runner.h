/* runner.h - the loop of a `qm runner` process: one loaded model serving
 * the daemon's requests over a socketpair (common/runner_proto.h).
 *
 * The runner owns n_parallel slots over one context.  Each step packs into
 * one batch the next token of every decoding slot and a chunk of the prompt
 * of every slot still reading one (continuous batching), runs the model once,
 * then samples and streams for each slot that got logits.  A finished slot
 * keeps its KV cache; a new request takes the free slot whose cached tokens
 * share the longest prefix with its prompt and evaluates only the rest. */
#ifndef QM_ENGINE_RUNNER_H
#define QM_ENGINE_RUNNER_H

#include <stdint.h>

struct qm_runner_opts {
    const char *model_path;
    int32_t n_ctx;          /* per slot; <= 0: 4096 capped at the training context */
    int32_t n_parallel;     /* slots (default 1) */
    int32_t n_threads;      /* <= 0: one per core */
    int32_t n_batch;        /* most tokens per step (default 512) */
    int32_t gpu_layers;     /* layers accounted as GPU memory (a simulated GPU until the
                               CUDA backend runs them) */
    const char *kv_type;    /* "f16" (default) or "q8_0" */
};

/* Load the model, report ready, serve until the daemon says quit or closes
 * its end.  Returns the process exit status. */
int qm_runner_main(const struct qm_runner_opts *o, int fd);

#endif
