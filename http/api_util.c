/* api_util.c - small pieces the encoders share: time stamps, base64,
 * response ids, serialising, embedding vectors. */
#include "api_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void qm_api__rfc3339(int64_t unix_ns, char out[64])
{
    int64_t sec = unix_ns / 1000000000, nsec = unix_ns % 1000000000;
    if (nsec < 0) {   /* floor division, for times before 1970 */
        sec--;
        nsec += 1000000000;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        strcpy(out, "1970-01-01T00:00:00Z");
        return;
    }
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)nsec);
}

int64_t qm_api__now_ns(const struct qm_api_timing *t)
{
    if (t && t->now_ns)
        return t->now_ns;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void qm_api__base64(const unsigned char *p, size_t n, struct qm_strbuf *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        q[0] = A[v >> 18];
        q[1] = A[(v >> 12) & 63];
        q[2] = A[(v >> 6) & 63];
        q[3] = A[v & 63];
        qm_strbuf_put(out, q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        q[0] = A[v >> 18];
        q[1] = A[(v >> 12) & 63];
        q[2] = i + 1 < n ? A[(v >> 6) & 63] : '=';
        q[3] = '=';
        qm_strbuf_put(out, q, 4);
    }
}

void qm_api__random_id(const char *prefix, char *out, size_t cap)
{
    static const char A[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char r[24];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* ids need to be unlikely to repeat, not secret */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uintptr_t)out;
        for (size_t i = 0; i < sizeof r; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            r[i] = (unsigned char)(x >> 56);
        }
    }
    size_t len = strlen(prefix);
    if (cap < len + sizeof r + 1) {
        if (cap)
            out[0] = '\0';
        return;
    }
    memcpy(out, prefix, len);
    for (size_t i = 0; i < sizeof r; i++)
        out[len + i] = A[r[i] % (sizeof A - 1)];
    out[len + sizeof r] = '\0';
}

/* jansson's dump callback, appending to a strbuf. */
static int dump_cb(const char *buf, size_t n, void *data)
{
    qm_strbuf_put(data, buf, n);
    return 0;
}

void qm_api_dump(const json_t *v, const char *suffix, struct qm_strbuf *out)
{
    if (!v || json_dump_callback(v, dump_cb, out, JSON_COMPACT | JSON_REAL_PRECISION(9)))
        out->oom = true;
    if (suffix)
        qm_strbuf_puts(out, suffix);
}

int64_t qm_api__ev_int(const json_t *ev, const char *key)
{
    json_t *v = json_object_get(ev, key);
    return json_is_number(v) ? (int64_t)json_number_value(v) : 0;
}

json_t *qm_api__embeddings(const json_t *ev, bool normalize, int64_t dims)
{
    json_t *in = json_object_get(ev, "embeddings");
    if (!json_is_array(in))
        return NULL;
    json_t *out = json_array();
    size_t i, j;
    json_t *vec, *x;
    json_array_foreach(in, i, vec) {
        if (!json_is_array(vec)) {
            json_decref(out);
            return NULL;
        }
        size_t n = json_array_size(vec);
        if (dims > 0 && (size_t)dims < n)
            n = (size_t)dims;
        float *f = malloc((n ? n : 1) * sizeof *f);
        json_t *o = json_array();
        if (!f || !o || json_array_append_new(out, o)) {
            free(f);
            json_decref(out);
            return NULL;
        }
        double sum = 0;
        for (j = 0; j < n; j++) {
            x = json_array_get(vec, j);
            f[j] = (float)json_number_value(x);
            sum += (double)f[j] * f[j];
        }
        /* the runner may have normalised already: doing it twice is harmless,
         * and it is needed again after a cut to fewer dimensions */
        double scale = normalize && sum > 0 ? 1.0 / sqrt(sum) : 1.0;
        for (j = 0; j < n; j++) {
            if (json_array_append_new(o, json_real((double)(float)(f[j] * scale)))) {
                free(f);
                json_decref(out);
                return NULL;
            }
        }
        free(f);
    }
    return out;
}
