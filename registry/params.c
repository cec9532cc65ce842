/* params.c - typed model parameters. */
#include "params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *key;
    enum qm_param_type type;
} params[] = {
    {"num_ctx", QM_PARAM_INT},         {"num_batch", QM_PARAM_INT},
    {"num_gpu", QM_PARAM_INT},         {"main_gpu", QM_PARAM_INT},
    {"num_thread", QM_PARAM_INT},      {"num_keep", QM_PARAM_INT},
    {"num_predict", QM_PARAM_INT},     {"num_parallel", QM_PARAM_INT},
    {"top_k", QM_PARAM_INT},           {"repeat_last_n", QM_PARAM_INT},
    {"seed", QM_PARAM_INT},            {"mirostat", QM_PARAM_INT},
    {"temperature", QM_PARAM_REAL},    {"top_p", QM_PARAM_REAL},
    {"min_p", QM_PARAM_REAL},          {"typical_p", QM_PARAM_REAL},
    {"tfs_z", QM_PARAM_REAL},          {"repeat_penalty", QM_PARAM_REAL},
    {"presence_penalty", QM_PARAM_REAL}, {"frequency_penalty", QM_PARAM_REAL},
    {"mirostat_tau", QM_PARAM_REAL},   {"mirostat_eta", QM_PARAM_REAL},
    {"penalize_newline", QM_PARAM_BOOL}, {"use_mmap", QM_PARAM_BOOL},
    {"use_mlock", QM_PARAM_BOOL},      {"numa", QM_PARAM_BOOL},
    {"low_vram", QM_PARAM_BOOL},       {"vocab_only", QM_PARAM_BOOL},
    {"stop", QM_PARAM_STRINGS},
};

enum qm_param_type qm_param_type(const char *key)
{
    for (size_t i = 0; i < sizeof params / sizeof *params; i++)
        if (!strcmp(params[i].key, key))
            return params[i].type;
    return QM_PARAM_UNKNOWN;
}

/* Go's strconv.ParseBool spellings, which Ollama's Modelfiles use. */
static int parse_bool(const char *s, int *out)
{
    static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (int i = 0; i < 6; i++) {
        if (!strcmp(s, t[i]) || !strcmp(s, f[i])) {
            *out = !strcmp(s, t[i]);
            return 0;
        }
    }
    return -1;
}

static int oom(struct qm_err *err)
{
    qm_err_set(err, "out of memory");
    return QM_ENOMEM;
}

int qm_params_set(json_t *params, const char *key, const char *value, struct qm_err *err)
{
    enum qm_param_type type = qm_param_type(key);
    json_t *v = NULL;
    char *end;
    errno = 0;
    switch (type) {
    case QM_PARAM_UNKNOWN:
        return qm_err_set(err, "unknown parameter '%.64s'", key);
    case QM_PARAM_INT: {
        long long n = strtoll(value, &end, 10);
        if (!*value || *end || errno)
            return qm_err_set(err, "parameter %s: '%.64s' is not an integer", key, value);
        v = json_integer(n);
        break;
    }
    case QM_PARAM_REAL: {
        double d = strtod(value, &end);
        if (!*value || *end || errno || !isfinite(d))
            return qm_err_set(err, "parameter %s: '%.64s' is not a number", key, value);
        v = json_real(d);
        break;
    }
    case QM_PARAM_BOOL: {
        int b;
        if (parse_bool(value, &b))
            return qm_err_set(err, "parameter %s: '%.64s' is not true or false", key, value);
        v = json_boolean(b);
        break;
    }
    case QM_PARAM_STRINGS: {
        json_t *arr = json_object_get(params, key);
        if (!json_is_array(arr)) {
            if (!(arr = json_array()) || json_object_set_new(params, key, arr))
                return oom(err);
        }
        if (!(v = json_string(value)))
            return qm_err_set(err, "parameter %s: the value is not valid UTF-8", key);
        if (json_array_append_new(arr, v))
            return oom(err);
        return QM_OK;
    }
    }
    if (!v || json_object_set_new(params, key, v))
        return oom(err);
    return QM_OK;
}

char *qm_param_format(const json_t *value)
{
    char *s = NULL;
    int n = -1;
    if (json_is_integer(value)) {
        n = asprintf(&s, "%lld", (long long)json_integer_value(value));
    } else if (json_is_real(value)) {
        /* The shortest text that reads back as the same double. */
        double d = json_real_value(value);
        for (int prec = 6; prec <= 17; prec++) {
            free(s);
            s = NULL;
            if ((n = asprintf(&s, "%.*g", prec, d)) < 0 || strtod(s, NULL) == d)
                break;
        }
    } else if (json_is_boolean(value)) {
        return strdup(json_is_true(value) ? "true" : "false");
    } else if (json_is_string(value)) {
        return strdup(json_string_value(value));
    } else {
        return json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    return n < 0 ? NULL : s;
}
