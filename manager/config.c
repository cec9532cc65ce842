/* config.c - struct qm_config from QM_* (else OLLAMA_*) variables.
 *
 * One function per setting kind; each error names the variable that held
 * the bad value, because that is what the user has to go and fix. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *qm_kv_type_name(enum qm_kv_type t)
{
    return t == QM_KV_Q8_0 ? "q8_0" : "f16";
}

void qm_config_defaults(struct qm_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->host, sizeof cfg->host, "127.0.0.1:11434");
    cfg->max_loaded_models = 0;
    cfg->num_parallel = 1;
    cfg->keep_alive_ns = 5 * 60 * 1000000000ll;
    cfg->max_queue = 512;
    cfg->context_length = 4096;
    cfg->kv_cache_type = QM_KV_F16;
    cfg->load_timeout_ns = 5 * 60 * 1000000000ll;
    cfg->shutdown_timeout_ns = 30 * 1000000000ll;
}

/* ---- reading one variable ----------------------------------------------- */

struct env {
    qm_getenv_fn get;
    void *ud;
};

/* The value of one setting, trimmed, with the name of the variable it came
 * from (for messages).  value is NULL when neither variable is set. */
struct setting {
    char name[64];
    const char *value;
    char buf[8192];
};

static const char *process_getenv(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

/* Blanks and one pair of matching quotes around the value go. */
static void trim_into(char *dst, size_t cap, const char *src)
{
    while (isspace((unsigned char)*src))
        src++;
    size_t n = strlen(src);
    while (n && isspace((unsigned char)src[n - 1]))
        n--;
    if (n >= 2 && (src[0] == '"' || src[0] == '\'') && src[n - 1] == src[0]) {
        src++;
        n -= 2;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int lookup(const struct env *e, const char *key, struct setting *st, struct qm_err *err)
{
    static const char *const prefixes[] = {"QM_", "OLLAMA_"};
    st->value = NULL;
    for (int i = 0; i < 2; i++) {
        snprintf(st->name, sizeof st->name, "%s%s", prefixes[i], key);
        const char *v = e->get(e->ud, st->name);
        if (!v)
            continue;
        if (strlen(v) >= sizeof st->buf)
            return qm_err_set(err, "%s is too long (%zu bytes)", st->name, strlen(v));
        trim_into(st->buf, sizeof st->buf, v);
        if (st->buf[0]) {
            st->value = st->buf;
            return 0;
        }
    }
    return 0;
}

/* "QM_X="v" is not valid: why" from a parser's message. */
static int invalid(const struct setting *st, const char *why, struct qm_err *err)
{
    return qm_err_set(err, "%s=\"%s\" is not valid: %s", st->name, st->value, why);
}

/* ---- one function per kind of setting ----------------------------------- */

/* A whole number in [0, max]; 0 gives def (for the "0 means default" ones). */
static int get_int(const struct env *e, const char *key, int max, int def_for_zero, int *out,
                   struct qm_err *err)
{
    struct setting st;
    int rc = lookup(e, key, &st, err);
    if (rc < 0 || !st.value)
        return rc;
    char *end;
    errno = 0;
    long long v = strtoll(st.value, &end, 10);
    if (*end || errno || v < 0 || v > max || !isdigit((unsigned char)st.value[0])) {
        char why[96];
        snprintf(why, sizeof why, "expected a whole number from 0 to %d", max);
        return invalid(&st, why, err);
    }
    *out = v == 0 ? def_for_zero : (int)v;
    return 0;
}

static int get_duration(const struct env *e, const char *key, int64_t *out, struct qm_err *err)
{
    struct setting st;
    int rc = lookup(e, key, &st, err);
    if (rc < 0 || !st.value)
        return rc;
    struct qm_err perr;
    if (qm_parse_duration_ns(st.value, out, &perr) < 0)
        return invalid(&st, "expected a duration such as \"5m\", \"1h30m\" or \"300\" (seconds)", err);
    return 0;
}

static int get_bytes(const struct env *e, const char *key, uint64_t *out, struct qm_err *err)
{
    struct setting st;
    int rc = lookup(e, key, &st, err);
    if (rc < 0 || !st.value)
        return rc;
    if (qm_parse_bytes(st.value, out, NULL) < 0)
        return invalid(&st, "expected a size such as \"536870912\", \"512MiB\" or \"1GiB\"", err);
    return 0;
}

static int get_bool(const struct env *e, const char *key, bool *out, struct qm_err *err)
{
    struct setting st;
    int rc = lookup(e, key, &st, err);
    if (rc < 0 || !st.value)
        return rc;
    if (qm_parse_bool(st.value, out, NULL) < 0)
        return invalid(&st, "expected true or false (1/0)", err);
    return 0;
}

static int get_str(const struct env *e, const char *key, char *out, size_t cap, struct qm_err *err)
{
    struct setting st;
    int rc = lookup(e, key, &st, err);
    if (rc < 0 || !st.value)
        return rc;
    if (strlen(st.value) >= cap)
        return qm_err_set(err, "%s is too long (at most %zu bytes)", st.name, cap - 1);
    memcpy(out, st.value, strlen(st.value) + 1);
    return 0;
}

static int get_kv_type(const struct env *e, enum qm_kv_type *out, struct qm_err *err)
{
    struct setting st;
    int rc = lookup(e, "KV_CACHE_TYPE", &st, err);
    if (rc < 0 || !st.value)
        return rc;
    if (strcasecmp(st.value, "f16") == 0)
        *out = QM_KV_F16;
    else if (strcasecmp(st.value, "q8_0") == 0)
        *out = QM_KV_Q8_0;
    else
        return invalid(&st, "qm supports the KV cache types f16 and q8_0", err);
    return 0;
}

/* DEBUG: a boolean, or a level as newer Ollama takes ("2" = trace). */
static int get_debug(const struct env *e, int *out, struct qm_err *err)
{
    struct setting st;
    int rc = lookup(e, "DEBUG", &st, err);
    if (rc < 0 || !st.value)
        return rc;
    bool b;
    if (qm_parse_bool(st.value, &b, NULL) == 0) {
        *out = b;
        return 0;
    }
    return get_int(e, "DEBUG", 9, 0, out, err);
}

/* PRELOAD: "a, b,c" gives three names; empty entries are skipped. */
static int get_preload(const struct env *e, struct qm_config *cfg, struct qm_err *err)
{
    struct setting st;
    int rc = lookup(e, "PRELOAD", &st, err);
    if (rc < 0 || !st.value)
        return rc;
    cfg->n_preload = 0;
    for (const char *p = st.value; *p;) {
        size_t len = strcspn(p, ",");
        char raw[QM_CONFIG_NAME_MAX + 1], name[QM_CONFIG_NAME_MAX + 1];
        if (len > QM_CONFIG_NAME_MAX)
            len = QM_CONFIG_NAME_MAX;   /* too long either way; caught below */
        memcpy(raw, p, len);
        raw[len] = '\0';
        trim_into(name, sizeof name, raw);
        if (strlen(name) >= QM_CONFIG_NAME_MAX)
            return qm_err_set(err, "%s: a model name is longer than %d bytes", st.name,
                              QM_CONFIG_NAME_MAX - 1);
        if (name[0]) {
            if (cfg->n_preload == QM_CONFIG_MAX_PRELOAD)
                return qm_err_set(err, "%s names more than %d models", st.name, QM_CONFIG_MAX_PRELOAD);
            memcpy(cfg->preload[cfg->n_preload++], name, strlen(name) + 1);
        }
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    return 0;
}

/* SIM_GPU: comma-separated key=value pairs: vram (required), count, name. */
static int get_sim_gpu(const struct env *e, struct qm_sim_gpu *out, struct qm_err *err)
{
    struct setting st;
    int rc = lookup(e, "SIM_GPU", &st, err);
    if (rc < 0 || !st.value)
        return rc;
    struct qm_sim_gpu g = {.count = 1};
    char spec[sizeof st.buf];
    memcpy(spec, st.value, strlen(st.value) + 1);
    char *save = NULL;
    for (char *kv = strtok_r(spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return invalid(&st, "expected key=value pairs such as \"vram=8GiB,count=2\"", err);
        *eq = '\0';
        char key[32];
        trim_into(key, sizeof key, kv);
        const char *val = eq + 1;
        if (strcasecmp(key, "vram") == 0) {
            if (qm_parse_bytes(val, &g.vram, NULL) < 0 || g.vram == 0)
                return invalid(&st, "vram= needs a size such as \"8GiB\"", err);
        } else if (strcasecmp(key, "count") == 0) {
            char *end;
            long n = strtol(val, &end, 10);
            if (*end || end == val || n < 1 || n > QM_SIM_GPU_MAX)
                return invalid(&st, "count= needs a number of GPUs from 1 to 16", err);
            g.count = (int)n;
        } else if (strcasecmp(key, "name") == 0) {
            trim_into(g.name, sizeof g.name, val);
        } else {
            return invalid(&st, "the keys are vram, count and name", err);
        }
    }
    if (g.vram == 0)
        return invalid(&st, "vram= is required, e.g. \"vram=8GiB\"", err);
    *out = g;
    return 0;
}

/* MODELS, else $HOME/.qm/models; "~/x" is expanded either way. */
static int get_models(const struct env *e, struct qm_config *cfg, struct qm_err *err)
{
    struct setting st;
    int rc = lookup(e, "MODELS", &st, err);
    if (rc < 0)
        return rc;
    const char *home = e->get(e->ud, "HOME");
    if (!home || !*home) {
        const struct passwd *pw = getpwuid(getuid());
        home = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
    }
    const char *v = st.value;
    const char *rest = NULL;
    if (!v)
        rest = "/.qm/models";
    else if (v[0] == '~' && (v[1] == '/' || v[1] == '\0'))
        rest = v + 1;
    int n;
    if (rest) {
        if (!home)
            return qm_err_set(err, "%s", v ? "QM_MODELS starts with ~ but there is no home directory"
                                            : "QM_MODELS is not set and there is no home directory");
        n = snprintf(cfg->models, sizeof cfg->models, "%s%s", home, rest);
    } else {
        n = snprintf(cfg->models, sizeof cfg->models, "%s", v);
    }
    if (n < 0 || (size_t)n >= sizeof cfg->models)
        return qm_err_set(err, "%s: the models path is too long", v ? st.name : "QM_MODELS");
    return 0;
}

/* ---- all of it ---------------------------------------------------------- */

int qm_config_load(struct qm_config *cfg, qm_getenv_fn get, void *ud, struct qm_err *err)
{
    struct env e = {get ? get : process_getenv, ud};
    struct qm_config c;
    qm_config_defaults(&c);
    int rc;
    if ((rc = get_str(&e, "HOST", c.host, sizeof c.host, err)) < 0 ||
        (rc = get_models(&e, &c, err)) < 0 ||
        (rc = get_int(&e, "MAX_LOADED_MODELS", 4096, 0, &c.max_loaded_models, err)) < 0 ||
        (rc = get_int(&e, "NUM_PARALLEL", 1024, 1, &c.num_parallel, err)) < 0 ||
        (rc = get_duration(&e, "KEEP_ALIVE", &c.keep_alive_ns, err)) < 0 ||
        (rc = get_int(&e, "MAX_QUEUE", 1 << 20, 512, &c.max_queue, err)) < 0 ||
        (rc = get_int(&e, "CONTEXT_LENGTH", INT_MAX, 4096, &c.context_length, err)) < 0 ||
        (rc = get_bytes(&e, "GPU_OVERHEAD", &c.gpu_overhead, err)) < 0 ||
        (rc = get_str(&e, "ORIGINS", c.origins, sizeof c.origins, err)) < 0 ||
        (rc = get_str(&e, "API_KEY", c.api_key, sizeof c.api_key, err)) < 0 ||
        (rc = get_kv_type(&e, &c.kv_cache_type, err)) < 0 ||
        (rc = get_bool(&e, "FLASH_ATTENTION", &c.flash_attention, err)) < 0 ||
        (rc = get_duration(&e, "LOAD_TIMEOUT", &c.load_timeout_ns, err)) < 0 ||
        (rc = get_preload(&e, &c, err)) < 0 ||
        (rc = get_duration(&e, "SHUTDOWN_TIMEOUT", &c.shutdown_timeout_ns, err)) < 0 ||
        (rc = get_debug(&e, &c.debug, err)) < 0 ||
        (rc = get_sim_gpu(&e, &c.sim_gpu, err)) < 0)
        return rc;
    *cfg = c;
    return 0;
}

/* ---- from an environ array ---------------------------------------------- */

static const char *envp_get(void *ud, const char *name)
{
    size_t n = strlen(name);
    for (char *const *p = ud; *p; p++)
        if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
            return *p + n + 1;
    return NULL;
}

int qm_config_from_env(struct qm_config *cfg, char *const *envp, struct qm_err *err)
{
    if (!envp)
        return qm_config_load(cfg, NULL, NULL, err);
    return qm_config_load(cfg, envp_get, (void *)envp, err);
}
