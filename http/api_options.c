/* api_options.c - Ollama's "options" (and Modelfile parameters), keep_alive.
 *
 * One table says, for every option name Ollama documents, its type, its
 * sane range and where it goes: into the runner job's "options" (sampling),
 * into the job's load-time fields (num_ctx and friends pick or start a
 * runner), or nowhere (options of llama.cpp that qm has no use for, still
 * type-checked so that a typo'd value is reported the same way).  Names
 * not in the table are ignored with a warning, as Ollama does. */
#include "api_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum opt_type { OPT_INT, OPT_REAL, OPT_BOOL, OPT_STOP };
enum opt_dest { TO_RUNNER, TO_NUM_CTX, TO_NUM_GPU, TO_NUM_THREAD, TO_NUM_BATCH, TO_NOWHERE };

struct opt {
    const char *name;
    enum opt_type type;
    enum opt_dest dest;
    double min, max;   /* inclusive; integers are checked as int64 against them */
};

#define I32 2147483647.0
static const struct opt OPTS[] = {
    {"temperature", OPT_REAL, TO_RUNNER, 0, INFINITY},
    {"top_k", OPT_INT, TO_RUNNER, 0, I32},
    {"top_p", OPT_REAL, TO_RUNNER, 0, 1},
    {"min_p", OPT_REAL, TO_RUNNER, 0, 1},
    {"typical_p", OPT_REAL, TO_RUNNER, 0, 1},
    {"repeat_last_n", OPT_INT, TO_RUNNER, -1, I32},   /* -1: the whole context */
    {"repeat_penalty", OPT_REAL, TO_RUNNER, 0, INFINITY},
    {"presence_penalty", OPT_REAL, TO_RUNNER, -INFINITY, INFINITY},
    {"frequency_penalty", OPT_REAL, TO_RUNNER, -INFINITY, INFINITY},
    {"seed", OPT_INT, TO_RUNNER, -9223372036854775808.0, 9223372036854775807.0},
    {"num_predict", OPT_INT, TO_RUNNER, -2, I32},    /* -1: no limit, -2: fill the context */
    {"stop", OPT_STOP, TO_RUNNER, 0, 0},
    {"num_keep", OPT_INT, TO_RUNNER, -1, I32},
    {"num_ctx", OPT_INT, TO_NUM_CTX, 0, QM_API_MAX_NUM_CTX},
    {"num_gpu", OPT_INT, TO_NUM_GPU, -1, I32},       /* -1: let the manager choose */
    {"num_thread", OPT_INT, TO_NUM_THREAD, 0, 1 << 16},
    {"num_batch", OPT_INT, TO_NUM_BATCH, 0, 1 << 20},
    /* llama.cpp knobs Ollama lists (some only historically) */
    {"numa", OPT_BOOL, TO_NOWHERE, 0, 0},
    {"main_gpu", OPT_INT, TO_NOWHERE, 0, I32},
    {"low_vram", OPT_BOOL, TO_NOWHERE, 0, 0},
    {"vocab_only", OPT_BOOL, TO_NOWHERE, 0, 0},
    {"use_mmap", OPT_BOOL, TO_NOWHERE, 0, 0},
    {"use_mlock", OPT_BOOL, TO_NOWHERE, 0, 0},
    {"f16_kv", OPT_BOOL, TO_NOWHERE, 0, 0},
    {"logits_all", OPT_BOOL, TO_NOWHERE, 0, 0},
    {"embedding_only", OPT_BOOL, TO_NOWHERE, 0, 0},
    {"penalize_newline", OPT_BOOL, TO_NOWHERE, 0, 0},
    {"mirostat", OPT_INT, TO_NOWHERE, 0, 2},
    {"mirostat_tau", OPT_REAL, TO_NOWHERE, -INFINITY, INFINITY},
    {"mirostat_eta", OPT_REAL, TO_NOWHERE, -INFINITY, INFINITY},
    {"tfs_z", OPT_REAL, TO_NOWHERE, -INFINITY, INFINITY},
    {"num_gqa", OPT_INT, TO_NOWHERE, 0, I32},
    {"rope_frequency_base", OPT_REAL, TO_NOWHERE, -INFINITY, INFINITY},
    {"rope_frequency_scale", OPT_REAL, TO_NOWHERE, -INFINITY, INFINITY},
};
#undef I32

static const struct opt *find_opt(const char *name)
{
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++)
        if (strcmp(OPTS[i].name, name) == 0)
            return &OPTS[i];
    return NULL;
}

/* A stop list: a string or an array of strings, always stored as an array. */
static json_t *stop_value(const json_t *v, const char *name, struct qm_err *err)
{
    if (json_is_string(v))
        return json_pack("[o]", json_deep_copy(v));
    if (!json_is_array(v)) {
        qm_err_set(err, "\"%s\" must be a string or an array of strings", name);
        return NULL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            qm_err_set(err, "\"%s[%zu]\" must be a string", name, i);
            return NULL;
        }
    }
    return json_deep_copy(v);
}

static int check(const struct opt *o, const json_t *v, const char *name,
                 json_t **norm, struct qm_err *err)
{
    int64_t i;
    double d;
    switch (o->type) {
    case OPT_INT: {
        int64_t lo = o->min <= -9223372036854775808.0 ? INT64_MIN : (int64_t)o->min;
        int64_t hi = o->max >= 9223372036854775807.0 ? INT64_MAX : (int64_t)o->max;
        if (qm_api__int_value(v, name, lo, hi, &i, err))
            return -1;
        if (norm)
            *norm = json_integer(i);
        return 0;
    }
    case OPT_REAL:
        if (qm_api__real_value(v, name, o->min, o->max, &d, err))
            return -1;
        if (norm)
            *norm = json_real(d);
        return 0;
    case OPT_BOOL:
        if (!json_is_boolean(v)) {
            qm_err_set(err, "\"%s\" must be true or false", name);
            return -1;
        }
        if (norm)
            *norm = json_incref((json_t *)v);
        return 0;
    case OPT_STOP: {
        json_t *s = stop_value(v, name, err);
        if (!s)
            return -1;
        if (norm)
            *norm = s;
        else
            json_decref(s);
        return 0;
    }
    }
    return -1;
}

int qm_api__check_option(const char *key, const json_t *v, const char *prefix,
                         json_t **norm, struct qm_err *err)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", key);
    const struct opt *o = find_opt(key);
    if (!o)
        return -2;
    *norm = NULL;
    if (check(o, v, name, o->dest == TO_RUNNER ? norm : NULL, err))
        return -1;
    return o->dest == TO_RUNNER;
}

/* Store a load-time option in the job, unless the job has it already. */
static void set_load_field(struct qm_api_job *job, enum opt_dest dest, int64_t x, bool override)
{
    switch (dest) {
    case TO_NUM_CTX:
        if (override || job->num_ctx == 0)
            job->num_ctx = (int32_t)x;
        break;
    case TO_NUM_GPU:
        if (override || job->num_gpu < 0)
            job->num_gpu = (int32_t)x;
        break;
    case TO_NUM_THREAD:
        if (override || job->num_thread == 0)
            job->num_thread = (int32_t)x;
        break;
    case TO_NUM_BATCH:
        if (override || job->num_batch == 0)
            job->num_batch = (int32_t)x;
        break;
    default:
        break;
    }
}

/* One option into opts or job; override: the request's own value (not a
 * Modelfile default) wins over what is there. */
static int apply_one(const char *key, const json_t *v, const char *prefix, json_t *opts,
                     struct qm_api_job *job, bool override, struct qm_err *err)
{
    const struct opt *o = find_opt(key);
    if (!o) {
        qm_log_warn("invalid option provided: %s%s%s (ignored)", prefix ? prefix : "",
                    prefix ? "." : "", key);
        return 0;
    }
    char name[160];
    snprintf(name, sizeof name, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", key);
    json_t *norm = NULL;
    if (check(o, v, name, &norm, err))
        return -1;
    int rc = 0;
    if (o->dest == TO_RUNNER) {
        if (opts && (override || !json_object_get(opts, key))) {
            if (json_object_set(opts, key, norm))
                rc = -1;
        }
    } else if (o->dest != TO_NOWHERE) {
        set_load_field(job, o->dest, json_integer_value(norm), override);
    }
    json_decref(norm);
    return rc;
}

int qm_api__decode_options(const json_t *options, const char *prefix, json_t *opts,
                           struct qm_api_job *job, struct qm_err *err)
{
    if (!options)
        return 0;
    if (!json_is_object(options)) {
        qm_err_set(err, "\"%s\" must be an object", prefix);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)options, key, v) {
        if (json_is_null(v))
            continue;
        if (apply_one(key, v, prefix, opts, job, true, err))
            return -1;
    }
    return 0;
}

int qm_api_job_apply_params(struct qm_api_job *job, const json_t *params)
{
    if (!json_is_object(params))
        return 0;
    json_t *opts = NULL;
    if (job->runner && json_is_string(json_object_get(job->runner, "op")) &&
        strcmp(json_string_value(json_object_get(job->runner, "op")), "completion") == 0) {
        opts = json_object_get(job->runner, "options");
        if (!opts) {
            opts = json_object();
            if (!opts || json_object_set_new(job->runner, "options", opts))
                return QM_ENOMEM;
        }
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        struct qm_err err = {{0}};
        if (json_is_null(v))
            continue;
        const struct opt *o = find_opt(key);
        if (!o || (o->dest == TO_RUNNER && !opts))
            continue;   /* a Modelfile may carry parameters qm does not use */
        if (apply_one(key, v, "parameters", opts, job, false, &err)) {
            if (err.msg[0] == '\0')
                return QM_ENOMEM;
            qm_log_warn("model parameter skipped: %s", err.msg);
        }
    }
    return 0;
}

/* ---- keep_alive ------------------------------------------------------------ */

/* Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0". */
static int parse_go_duration(const char *s, int64_t *ns)
{
    static const struct { const char *unit; double ns; } UNITS[] = {
        {"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3}, {"ms", 1e6},
        {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
    };
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (!*s)
        return -1;
    double total = 0;
    while (*s) {
        const char *start = s;
        double whole = 0, frac = 0, scale = 1;
        while (isdigit((unsigned char)*s))
            whole = whole * 10 + (*s++ - '0');
        bool digits = s > start;
        if (*s == '.') {
            s++;
            while (isdigit((unsigned char)*s)) {
                scale /= 10;
                frac += (*s++ - '0') * scale;
                digits = true;
            }
        }
        if (!digits)
            return -1;
        size_t k = 0, ulen = 0;
        for (size_t u = 0; u < sizeof UNITS / sizeof UNITS[0]; u++) {
            size_t l = strlen(UNITS[u].unit);
            /* longest match: "ms" before "m", "ns" before nothing */
            if (strncmp(s, UNITS[u].unit, l) == 0 && l > ulen) {
                k = u;
                ulen = l;
            }
        }
        if (!ulen)
            return -1;
        s += ulen;
        total += (whole + frac) * UNITS[k].ns;
    }
    if (total >= 9223372036854775807.0)
        return -1;
    *ns = neg ? -(int64_t)total : (int64_t)total;
    return 0;
}

int qm_api_parse_duration(const char *s, int64_t *ns)
{
    int64_t d;
    if (parse_go_duration(s, &d) == 0) {
        *ns = d < 0 ? -1 : d;
        return 0;
    }
    /* a bare number is seconds, as Ollama reads "300" and "-1" */
    char *end;
    errno = 0;
    double secs = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(secs) || !isdigit((unsigned char)s[strspn(s, "+-")]))
        return QM_EINVAL;
    if (secs < 0) {
        *ns = -1;
        return 0;
    }
    if (secs * 1e9 >= 9223372036854775807.0)
        return QM_EINVAL;
    *ns = (int64_t)(secs * 1e9);
    return 0;
}

int qm_api_parse_keep_alive(const json_t *v, int64_t *ns, struct qm_err *err)
{
    if (json_is_string(v)) {
        if (qm_api_parse_duration(json_string_value(v), ns) == 0)
            return 0;
        qm_err_set(err, "\"keep_alive\": invalid duration \"%s\" (use e.g. \"5m\", \"1h30m\", "
                        "\"-1\" or a number of seconds)", json_string_value(v));
        return 400;
    }
    if (json_is_number(v)) {
        double secs = json_number_value(v);
        if (secs < 0) {
            *ns = -1;
            return 0;
        }
        if (!(secs * 1e9 < 9223372036854775807.0)) {
            qm_err_set(err, "\"keep_alive\" is too large");
            return 400;
        }
        *ns = (int64_t)(secs * 1e9);
        return 0;
    }
    qm_err_set(err, "\"keep_alive\" must be a duration string or a number of seconds");
    return 400;
}
