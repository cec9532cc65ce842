/* stop.c - the streaming stop-string matcher.
 *
 * The matcher keeps one buffer: the text held back from earlier pieces,
 * with each new piece appended.  A feed then asks two questions of it:
 *
 *   1. Does a stop string occur in it?  The held part alone never holds a
 *      whole one (that would have been found a feed earlier), so a plain
 *      search of the buffer finds exactly the matches this piece completed.
 *      The first occurrence of each string has its lowest end; the lowest
 *      of those wins, the longer on a tie.
 *   2. If not, from where on could the text still turn into one?  That is
 *      the earliest position p whose tail buf[p..] is a proper prefix of
 *      some stop string; only the last (longest stop - 1) positions can be.
 *      buf[0..p) goes out, buf[p..] stays.
 *
 * The text handed out is a pointer into the buffer, so it must stay put
 * until the next call: the consumed bytes are dropped at the start of the
 * next call, not at the end of this one.  Held text is bounded by the
 * longest stop string plus three bytes of a partial character, so the
 * buffer stays small; the scans are O(piece * stops * longest), fine for
 * the handful of short stop strings requests carry. */
#include "stop.h"

#include <stdlib.h>
#include <string.h>

#include "ckd.h"

struct qm_stop {
    char **stops;
    size_t *lens;
    size_t n;
    size_t max_len;

    char *buf;
    size_t cap, len;
    size_t consumed;        /* bytes at the front handed out by the last call */
    int32_t stopped;        /* index of the completed stop string, or -1 */
};

struct qm_stop *qm_stop_new(const char *const *stops, size_t n, struct qm_err *err)
{
    struct qm_stop *m = calloc(1, sizeof *m);
    if (!m)
        goto nomem;
    m->stopped = -1;
    if (n > 0) {
        m->stops = calloc(n, sizeof *m->stops);
        m->lens = calloc(n, sizeof *m->lens);
        if (!m->stops || !m->lens)
            goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
        if (!stops[i]) {
            qm_err_set(err, "Stop string %zu is missing.", i);
            goto err;
        }
        m->lens[i] = strlen(stops[i]);
        m->stops[i] = strdup(stops[i]);
        if (!m->stops[i])
            goto nomem;
        if (m->lens[i] > m->max_len)
            m->max_len = m->lens[i];
    }
    m->n = n;
    return m;

nomem:
    qm_err_set(err, "Out of memory setting up %zu stop strings.", n);
err:
    if (m)
        m->n = n;           /* free the strings copied so far (the rest are NULL) */
    qm_stop_free(m);
    return NULL;
}

void qm_stop_free(struct qm_stop *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->stops && i < m->n; i++)
        free(m->stops[i]);
    free(m->stops);
    free(m->lens);
    free(m->buf);
    free(m);
}

void qm_stop_reset(struct qm_stop *m)
{
    m->len = 0;
    m->consumed = 0;
    m->stopped = -1;
}

bool qm_stop_stopped(const struct qm_stop *m)
{
    return m->stopped >= 0;
}

static int stop_append(struct qm_stop *m, const char *piece, size_t len)
{
    size_t need;
    if (qm_ckd_add(&need, m->len, len))
        return QM_ENOMEM;
    if (need > m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap < need)
            if (qm_ckd_mul(&cap, cap, (size_t)2))
                return QM_ENOMEM;
        char *b = realloc(m->buf, cap);
        if (!b)
            return QM_ENOMEM;
        m->buf = b;
        m->cap = cap;
    }
    if (len > 0)
        memcpy(m->buf + m->len, piece, len);
    m->len = need;
    return 0;
}

/* Whether buf[0..len) ends inside a multi-byte UTF-8 character: if so, the
 * offset of that character's lead byte, else len.  Malformed bytes (a lone
 * continuation byte, an over-long run of them) are not ours to fix: they
 * pass. */
static size_t utf8_complete_end(const char *buf, size_t len)
{
    for (size_t k = 1; k <= 3 && k <= len; k++) {
        unsigned char b = (unsigned char)buf[len - k];
        if ((b & 0xc0) == 0x80)
            continue;                       /* continuation byte: look further back */
        size_t need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
        return need > k ? len - k : len;
    }
    return len;
}

/* The first stop string to complete in buf[0..len): its index and start,
 * or -1. */
static int32_t stop_find(const struct qm_stop *m, size_t *start)
{
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t l = m->lens[i];
        if (l == 0 || l > m->len)
            continue;
        const char *hit = memmem(m->buf, m->len, m->stops[i], l);
        if (!hit)
            continue;
        size_t s = (size_t)(hit - m->buf), e = s + l;
        if (best < 0 || e < best_end || (e == best_end && s < *start)) {
            best = (int32_t)i;
            best_end = e;
            *start = s;
        }
    }
    return best;
}

/* The earliest p whose tail buf[p..len) is a proper prefix of a stop
 * string, or len when no tail is. */
static size_t stop_hold_from(const struct qm_stop *m)
{
    size_t p = m->max_len > m->len ? 0 : m->len - m->max_len + 1;
    for (; p < m->len; p++) {
        size_t tail = m->len - p;
        for (size_t i = 0; i < m->n; i++)
            if (m->lens[i] > tail && memcmp(m->buf + p, m->stops[i], tail) == 0)
                return p;
    }
    return m->len;
}

int qm_stop_feed(struct qm_stop *m, const char *piece, size_t len,
                 struct qm_stop_result *res, struct qm_err *err)
{
    *res = (struct qm_stop_result){.text = "", .len = 0, .stop = m->stopped};
    if (m->stopped >= 0)
        return 1;

    if (m->consumed > 0) {
        memmove(m->buf, m->buf + m->consumed, m->len - m->consumed);
        m->len -= m->consumed;
        m->consumed = 0;
    }
    if (stop_append(m, piece, len) < 0) {
        qm_err_set(err, "Out of memory holding back %zu bytes of text for stop strings.",
                   m->len + len);
        return QM_ENOMEM;
    }

    size_t start = 0;
    int32_t hit = stop_find(m, &start);
    if (hit >= 0) {
        m->stopped = hit;
        *res = (struct qm_stop_result){.text = m->buf, .len = start, .stop = hit};
        m->consumed = m->len;
        return 1;
    }

    size_t emit = utf8_complete_end(m->buf, stop_hold_from(m));
    *res = (struct qm_stop_result){.text = m->buf ? m->buf : "", .len = emit, .stop = -1};
    m->consumed = emit;
    return 0;
}

void qm_stop_flush(struct qm_stop *m, struct qm_stop_result *res)
{
    *res = (struct qm_stop_result){.text = "", .len = 0, .stop = m->stopped};
    if (m->stopped >= 0 || !m->buf)
        return;
    res->text = m->buf + m->consumed;
    res->len = m->len - m->consumed;
    m->consumed = m->len;
}
