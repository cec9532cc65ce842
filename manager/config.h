/* config.h - the daemon's settings, read from the environment.
 *
 * Every setting QM_X falls back to OLLAMA_X when QM_X is unset, so that an
 * Ollama systemd unit or shell profile carries over; an empty value counts
 * as unset (systemd's `Environment=QM_X=` then means "the default").
 * Values are trimmed of blanks and of one pair of surrounding quotes, as
 * Ollama does.  A value that does not parse is an error naming the variable
 * that held it ("QM_NUM_PARALLEL=\"abc\" is not valid: ..."), and the daemon
 * refuses to start rather than run with a setting it did not understand.
 *
 *   variable            default               notes
 *   HOST                127.0.0.1:11434       kept as given; http/ parses it
 *   MODELS              $HOME/.qm/models      a leading "~/" is expanded
 *   MAX_LOADED_MODELS   3 per GPU, 3 on CPU   0 means the default
 *   NUM_PARALLEL        1                     slots per instance; 0 = default
 *   KEEP_ALIVE          5m                    duration; negative = forever
 *   MAX_QUEUE           512                   waiting requests; 0 = default
 *   CONTEXT_LENGTH      4096                  0 = default
 *   GPU_OVERHEAD        0                     bytes kept free on each GPU
 *   ORIGINS             ""                    extra CORS origins, comma-separated
 *   API_KEY             ""                    required Bearer token when set
 *   KV_CACHE_TYPE       f16                   f16 | q8_0
 *   FLASH_ATTENTION     false                 boolean
 *   LOAD_TIMEOUT        5m                    no progress that long fails a
 *                                             load; <= 0 means no limit
 *   PRELOAD             ""                    models loaded at start, pinned
 *   SHUTDOWN_TIMEOUT    30s                   how long SIGTERM waits for
 *                                             in-flight requests before the
 *                                             runners are killed: shorter than
 *                                             systemd's 90 s stop timeout, so
 *                                             qm exits on its own terms; 0 =
 *                                             no wait, negative = no limit
 *   DEBUG               0                     boolean or a level
 *   SIM_GPU             none                  "vram=8GiB[,count=2][,name=X]"
 *
 * Durations are Go's (what Ollama accepts): "300ms", "1h30m", "-1m", "1.5h",
 * units ns us µs ms s m h, or a bare integer meaning seconds ("300", "-1").
 * Sizes are a number with an optional unit: B; KB MB GB TB (powers of 1000);
 * KiB MiB GiB TiB and the bare K M G T (powers of 1024); units are
 * case-insensitive and a fraction is allowed with a unit ("1.5GiB"). */
#ifndef QM_MANAGER_CONFIG_H
#define QM_MANAGER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

enum qm_kv_type {
    QM_KV_F16 = 0,
    QM_KV_Q8_0 = 1,
};

/* "f16" / "q8_0": the runner's --kv-type argument. */
const char *qm_kv_type_name(enum qm_kv_type t);

enum {
    QM_CONFIG_MAX_PRELOAD = 32,
    QM_CONFIG_NAME_MAX = 256,   /* one preloaded model name, NUL included */
    QM_SIM_GPU_MAX = 16,
};

/* QM_SIM_GPU: count GPUs of vram bytes each that runners account as VRAM
 * while computing on the CPU (design.md: tests of placement without a GPU). */
struct qm_sim_gpu {
    int count;        /* 0: no simulated GPU */
    uint64_t vram;    /* bytes per GPU */
    char name[64];    /* "" unless name= was given */
};

struct qm_config {
    char host[256];
    char models[4096];
    int max_loaded_models;        /* 0: 3 per GPU (the scheduler resolves it) */
    int num_parallel;             /* >= 1 */
    int64_t keep_alive_ns;        /* 0: unload when idle; negative: never */
    int max_queue;                /* >= 1 */
    int context_length;           /* >= 1 */
    uint64_t gpu_overhead;        /* bytes */
    char origins[4096];
    char api_key[512];
    enum qm_kv_type kv_cache_type;
    bool flash_attention;
    int64_t load_timeout_ns;      /* <= 0: no limit */
    int n_preload;
    char preload[QM_CONFIG_MAX_PRELOAD][QM_CONFIG_NAME_MAX];
    int64_t shutdown_timeout_ns;  /* 0: no wait; negative: no limit */
    int debug;                    /* 0 off, 1 debug, higher: more */
    struct qm_sim_gpu sim_gpu;
};

/* Reads one variable; NULL when unset.  ud is passed through. */
typedef const char *(*qm_getenv_fn)(void *ud, const char *name);

/* The defaults, without looking at the environment (models stays "" as it
 * needs $HOME). */
void qm_config_defaults(struct qm_config *cfg);

/* Fill cfg from the variables get returns (get NULL: the process's
 * environment).  QM_EINVAL with err naming the variable on a bad value. */
int qm_config_load(struct qm_config *cfg, qm_getenv_fn get, void *ud, struct qm_err *err);

/* The same from an environ-style array of "NAME=value" strings; NULL reads
 * the process's environment. */
int qm_config_from_env(struct qm_config *cfg, char *const *envp, struct qm_err *err);

/* ---- parsers other modules share (http: keep_alive; cli: sizes) ---------- */

/* A Go duration or a bare integer of seconds, into nanoseconds.  QM_EINVAL
 * (err says why) on syntax or overflow. */
int qm_parse_duration_ns(const char *s, int64_t *out, struct qm_err *err);

/* A size as above, into bytes.  QM_EINVAL on syntax, a negative number or
 * overflow. */
int qm_parse_bytes(const char *s, uint64_t *out, struct qm_err *err);

/* true/false, 1/0, yes/no, on/off, t/f (case-insensitive). */
int qm_parse_bool(const char *s, bool *out, struct qm_err *err);

#endif
