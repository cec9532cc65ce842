/* config_units.c - the value syntaxes of settings: durations, sizes, booleans.
 *
 * Durations follow Go's time.ParseDuration because that is what Ollama's
 * users write in OLLAMA_KEEP_ALIVE and in a request's keep_alive; a bare
 * integer is seconds, as Ollama also accepts.  Arithmetic is exact in
 * integers, fractions included ("2562047h47m16.854775807s" is INT64_MAX). */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "ckd.h"

/* ---- durations ---------------------------------------------------------- */

struct unit {
    const char *name;
    uint64_t ns;
};

static const struct unit duration_units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000},   /* U+00B5 micro sign */
    {"\xce\xbcs", 1000},   /* U+03BC Greek mu */
    {"ms", 1000000},
    {"s", 1000000000ull},
    {"m", 60ull * 1000000000ull},
    {"h", 3600ull * 1000000000ull},
};

/* frac / scale of a unit, exactly (rounded down): frac < 10^18 and a unit
 * < 2^42, so the product fits in 128 bits. */
static uint64_t frac_of(uint64_t frac, uint64_t scale, uint64_t unit)
{
    return (uint64_t)((unsigned __int128)frac * unit / scale);
}

/* Digits at *p into *v; false on overflow.  *n counts the digits read. */
static bool read_digits(const char **p, uint64_t *v, int *n)
{
    *v = 0;
    *n = 0;
    while (isdigit((unsigned char)**p)) {
        if (qm_ckd_mul(v, *v, 10) || qm_ckd_add(v, *v, (uint64_t)(**p - '0')))
            return false;
        (*p)++;
        (*n)++;
    }
    return true;
}

/* Go's syntax: [-+]? ( number unit )+, or "0".  0 or QM_EINVAL. */
static int parse_go_duration(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (*s == '\0')
        return QM_EINVAL;
    uint64_t total = 0;
    while (*s) {
        uint64_t whole;
        int n_whole, n_frac = 0;
        if (!read_digits(&s, &whole, &n_whole))
            return QM_EINVAL;
        uint64_t frac = 0, scale = 1;
        if (*s == '.') {
            s++;
            while (isdigit((unsigned char)*s)) {
                if (n_frac < 18) {   /* digits past that cannot change a ns */
                    frac = frac * 10 + (uint64_t)(*s - '0');
                    scale *= 10;
                }
                n_frac++;
                s++;
            }
        }
        if (n_whole == 0 && n_frac == 0)
            return QM_EINVAL;
        size_t ulen = 0;
        while (s[ulen] && s[ulen] != '.' && !isdigit((unsigned char)s[ulen]))
            ulen++;
        const struct unit *u = NULL;
        for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++)
            if (strlen(duration_units[i].name) == ulen && memcmp(duration_units[i].name, s, ulen) == 0)
                u = &duration_units[i];
        if (!u)
            return QM_EINVAL;
        s += ulen;
        uint64_t part;
        if (qm_ckd_mul(&part, whole, u->ns))
            return QM_EINVAL;
        if (qm_ckd_add(&part, part, frac_of(frac, scale, u->ns)) || qm_ckd_add(&total, total, part))
            return QM_EINVAL;
    }
    /* the magnitude of INT64_MIN is one more than INT64_MAX's */
    if (total > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return QM_EINVAL;
    *out = neg ? (int64_t)(0 - total) : (int64_t)total;
    return 0;
}

/* A bare integer of seconds. */
static int parse_seconds(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    uint64_t v;
    int n;
    if (!read_digits(&s, &v, &n) || n == 0 || *s != '\0' || qm_ckd_mul(&v, v, 1000000000ull) ||
        v > (uint64_t)INT64_MAX)
        return QM_EINVAL;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

int qm_parse_duration_ns(const char *s, int64_t *out, struct qm_err *err)
{
    if (s && (parse_go_duration(s, out) == 0 || parse_seconds(s, out) == 0))
        return 0;
    return qm_err_set(err,
                      "\"%s\" is not a duration (examples: \"5m\", \"1h30m\", \"300ms\", \"300\" for "
                      "seconds, \"-1\" for forever)",
                      s ? s : "");
}

/* ---- sizes -------------------------------------------------------------- */

static const struct unit size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1ull << 10},  {"kib", 1ull << 10}, {"kb", 1000ull},
    {"m", 1ull << 20},  {"mib", 1ull << 20}, {"mb", 1000000ull},
    {"g", 1ull << 30},  {"gib", 1ull << 30}, {"gb", 1000000000ull},
    {"t", 1ull << 40},  {"tib", 1ull << 40}, {"tb", 1000000000000ull},
};

int qm_parse_bytes(const char *s, uint64_t *out, struct qm_err *err)
{
    const char *p = s ? s : "";
    while (isspace((unsigned char)*p))
        p++;
    uint64_t whole;
    int n_whole, n_frac = 0;
    uint64_t frac = 0, scale = 1;
    if (!read_digits(&p, &whole, &n_whole))
        goto bad;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (n_frac < 18) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
            n_frac++;
            p++;
        }
    }
    if (n_whole == 0 && n_frac == 0)
        goto bad;
    while (isspace((unsigned char)*p))
        p++;
    size_t ulen = strlen(p);
    while (ulen && isspace((unsigned char)p[ulen - 1]))
        ulen--;
    for (size_t i = 0; i < sizeof size_units / sizeof size_units[0]; i++) {
        const struct unit *u = &size_units[i];
        if (strlen(u->name) != ulen || strncasecmp(u->name, p, ulen) != 0)
            continue;
        if (n_frac && u->ns == 1)
            goto bad;   /* a fraction of a byte */
        uint64_t v;
        if (qm_ckd_mul(&v, whole, u->ns) || qm_ckd_add(&v, v, frac_of(frac, scale, u->ns)))
            goto bad;
        *out = v;
        return 0;
    }
bad:
    return qm_err_set(err, "\"%s\" is not a size (examples: \"1073741824\", \"512MiB\", \"1.5GiB\", \"2GB\")",
                      s ? s : "");
}

/* ---- booleans ----------------------------------------------------------- */

int qm_parse_bool(const char *s, bool *out, struct qm_err *err)
{
    static const char *const yes[] = {"1", "t", "true", "yes", "y", "on"};
    static const char *const no[] = {"0", "f", "false", "no", "n", "off"};
    for (size_t i = 0; s && i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return qm_err_set(err, "\"%s\" is not a boolean (true/false, 1/0, yes/no, on/off)", s ? s : "");
}
