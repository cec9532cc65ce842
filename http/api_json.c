/* api_json.c - reading request bodies: parsing and typed field access.
 *
 * Every reader names the field in its message, because a client that sent
 * "temperature":"hot" deserves to learn which of its thirty fields is wrong. */
#include "api_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *qm_api__parse_object(const char *body, size_t len, struct qm_err *err)
{
    if (!body || len == 0) {
        qm_err_set(err, "missing request body");
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(body, len, 0, &jerr);
    if (!v) {
        qm_err_set(err, "invalid JSON in request body: %s (line %d, column %d)",
                   jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        qm_err_set(err, "request body must be a JSON object");
        return NULL;
    }
    return v;
}

json_t *qm_api__field(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

int qm_api__get_string(const json_t *obj, const char *key, const char *name,
                       const char **out, struct qm_err *err)
{
    json_t *v = qm_api__field(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v)) {
        qm_err_set(err, "\"%s\" must be a string", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int qm_api__get_bool(const json_t *obj, const char *key, const char *name,
                     bool *out, struct qm_err *err)
{
    json_t *v = qm_api__field(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        qm_err_set(err, "\"%s\" must be true or false", name);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static int range_error(const char *name, int64_t min, int64_t max, struct qm_err *err)
{
    if (max == INT64_MAX)
        qm_err_set(err, "\"%s\" must be at least %lld", name, (long long)min);
    else
        qm_err_set(err, "\"%s\" must be between %lld and %lld", name, (long long)min,
                   (long long)max);
    return -1;
}

int qm_api__int_value(const json_t *v, const char *name, int64_t min, int64_t max,
                      int64_t *out, struct qm_err *err)
{
    int64_t x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d)) {
            qm_err_set(err, "\"%s\" must be an integer", name);
            return -1;
        }
        /* 2^63 as a double: anything at or past it does not fit */
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
            return range_error(name, min, max, err);
        x = (int64_t)d;
    } else {
        qm_err_set(err, "\"%s\" must be an integer", name);
        return -1;
    }
    if (x < min || x > max)
        return range_error(name, min, max, err);
    *out = x;
    return 0;
}

int qm_api__get_int(const json_t *obj, const char *key, const char *name,
                    int64_t min, int64_t max, int64_t *out, bool *present,
                    struct qm_err *err)
{
    json_t *v = qm_api__field(obj, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return 0;
    return qm_api__int_value(v, name, min, max, out, err);
}

int qm_api__real_value(const json_t *v, const char *name, double min, double max,
                       double *out, struct qm_err *err)
{
    if (!json_is_number(v)) {
        qm_err_set(err, "\"%s\" must be a number", name);
        return -1;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) {
        if (isinf(max))
            qm_err_set(err, "\"%s\" must be at least %g", name, min);
        else if (isinf(min))
            qm_err_set(err, "\"%s\" must be a finite number", name);
        else
            qm_err_set(err, "\"%s\" must be between %g and %g", name, min, max);
        return -1;
    }
    *out = d;
    return 0;
}

int qm_api__get_model(const json_t *obj, const char *alt, char **out, struct qm_err *err)
{
    const char *m = NULL;
    if (qm_api__get_string(obj, "model", "model", &m, err))
        return -1;
    if ((!m || !*m) && alt && qm_api__get_string(obj, alt, alt, &m, err))
        return -1;
    if (!m || !*m) {
        qm_err_set(err, "\"model\" is required");
        return -1;
    }
    if (!(*out = strdup(m))) {
        qm_err_set(err, "out of memory");
        return -1;
    }
    return 0;
}

int qm_api__get_format(const json_t *obj, json_t *runner, struct qm_err *err)
{
    json_t *f = qm_api__field(obj, "format");
    if (!f || (json_is_string(f) && !*json_string_value(f)))
        return 0;
    if (json_is_string(f) && strcmp(json_string_value(f), "json") == 0)
        return qm_api__set(runner, "format", json_string("json")) ? 0 : -1;
    if (json_is_object(f))
        return qm_api__set(runner, "format", json_deep_copy(f)) ? 0 : -1;
    qm_err_set(err, "\"format\" must be \"json\" or a JSON schema object");
    return -1;
}

int qm_api__get_keep_alive(const json_t *obj, struct qm_api_job *job, struct qm_err *err)
{
    json_t *v = qm_api__field(obj, "keep_alive");
    if (!v)
        return 0;
    if (qm_api_parse_keep_alive(v, &job->keep_alive_ns, err))
        return -1;
    job->has_keep_alive = true;
    return 0;
}

bool qm_api__set(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0;
}
