/* format.c - sizes, counts, times and tables for people to read.
 *
 * The rules are Ollama's, so that `qm list` and `ollama list` agree to the
 * letter: decimal units, whole numbers from 10 up (397 MB, not 397.8 MB),
 * one decimal below; durations in the style of Docker's HumanDuration
 * ("About an hour", "3 weeks"). */
#include "format.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* ---- sizes and counts ------------------------------------------------------------ */

char *qm_fmt_bytes(char *out, size_t cap, int64_t bytes)
{
    static const struct { double scale; const char *unit; } units[] = {
        {1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if ((double)bytes < units[i].scale)
            continue;
        double v = (double)bytes / units[i].scale;
        if (v >= 10 || v == trunc(v))
            snprintf(out, cap, "%d %s", (int)v, units[i].unit);
        else
            snprintf(out, cap, "%.1f %s", v, units[i].unit);
        return out;
    }
    snprintf(out, cap, "%lld B", (long long)bytes);
    return out;
}

char *qm_fmt_number(char *out, size_t cap, uint64_t n)
{
    static const struct { double scale; const char *suffix; const char *frac; } units[] = {
        {1e9, "B", "%.1f%s"}, {1e6, "M", "%.2f%s"}, {1e3, "K", "%.1f%s"},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if ((double)n < units[i].scale)
            continue;
        double v = (double)n / units[i].scale;
        if (v == floor(v))
            snprintf(out, cap, "%.0f%s", v, units[i].suffix);
        else
            snprintf(out, cap, units[i].frac, v, units[i].suffix);
        return out;
    }
    snprintf(out, cap, "%llu", (unsigned long long)n);
    return out;
}

/* ---- times ------------------------------------------------------------------------- */

/* A positive duration in words: "Less than a second", "1 second",
 * "42 seconds", "About a minute", "12 minutes", "About an hour", "30 hours",
 * "5 days", "3 weeks", "4 months", "2 years". */
static void human_duration(char *out, size_t cap, int64_t sec)
{
    if (sec < 1) {
        snprintf(out, cap, "Less than a second");
        return;
    }
    if (sec == 1) {
        snprintf(out, cap, "1 second");
        return;
    }
    if (sec < 60) {
        snprintf(out, cap, "%lld seconds", (long long)sec);
        return;
    }
    int64_t min = sec / 60;
    if (min == 1) {
        snprintf(out, cap, "About a minute");
        return;
    }
    if (min < 60) {
        snprintf(out, cap, "%lld minutes", (long long)min);
        return;
    }
    int64_t hours = (int64_t)llround((double)sec / 3600.0);
    if (hours == 1)
        snprintf(out, cap, "About an hour");
    else if (hours < 48)
        snprintf(out, cap, "%lld hours", (long long)hours);
    else if (hours < 24 * 7 * 2)
        snprintf(out, cap, "%lld days", (long long)(hours / 24));
    else if (hours < 24 * 30 * 2)
        snprintf(out, cap, "%lld weeks", (long long)(hours / 24 / 7));
    else if (hours < 24 * 365 * 2)
        snprintf(out, cap, "%lld months", (long long)(hours / 24 / 30));
    else
        snprintf(out, cap, "%lld years", (long long)(sec / 3600 / 24 / 365));
}

char *qm_fmt_relative(char *out, size_t cap, double t, double now)
{
    char d[48];
    if (t - now > 20.0 * 365 * 24 * 3600) {
        snprintf(out, cap, "Forever");
    } else if (t > now) {
        human_duration(d, sizeof d, (int64_t)(t - now));
        snprintf(out, cap, "%s from now", d);
    } else {
        human_duration(d, sizeof d, (int64_t)(now - t));
        snprintf(out, cap, "%s ago", d);
    }
    return out;
}

double qm_fmt_now(void)
{
    return (double)qm_wall_ns() * 1e-9;
}

char *qm_fmt_duration(char *out, size_t cap, double seconds)
{
    if (!(seconds >= 0) || seconds > 1e9)   /* NaN or absurd: unknown */
        seconds = 0;
    long long s = llround(seconds);
    if (s < 60)
        snprintf(out, cap, "%llds", s);
    else if (s < 3600)
        snprintf(out, cap, "%lldm%llds", s / 60, s % 60);
    else
        snprintf(out, cap, "%lldh%lldm%llds", s / 3600, s / 60 % 60, s % 60);
    return out;
}

bool qm_parse_rfc3339(const char *s, double *t)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || !n)
        return false;
    const char *p = s + n;
    double frac = 0, scale = 0.1;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || !m)
            return false;
        off = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 1 + m;
    } else {
        return false;
    }
    if (*p)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
                    .tm_sec = sec};
    *t = (double)((int64_t)timegm(&tm) - off) + frac;
    return true;
}

/* ---- tables ------------------------------------------------------------------------- */

size_t qm_fmt_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xC0) != 0x80;
    return w;
}

void qm_table_init(struct qm_table *t, size_t ncol)
{
    *t = (struct qm_table){.ncol = ncol};
}

void qm_table_add(struct qm_table *t, ...)
{
    if (t->oom)
        return;
    if (t->nrow == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncol * sizeof *c);
        if (!c) {
            t->oom = true;
            return;
        }
        t->cells = c;
        t->cap = cap;
    }
    va_list ap;
    va_start(ap, t);
    char **row = t->cells + t->nrow * t->ncol;
    for (size_t i = 0; i < t->ncol; i++) {
        const char *s = va_arg(ap, const char *);
        row[i] = strdup(s ? s : "");
        t->oom |= !row[i];
    }
    va_end(ap);
    t->nrow++;
}

void qm_table_print(const struct qm_table *t, FILE *out)
{
    size_t *w = calloc(t->ncol ? t->ncol : 1, sizeof *w);
    if (!w)
        return;
    for (size_t r = 0; r < t->nrow; r++)
        for (size_t i = 0; i < t->ncol; i++) {
            const char *s = t->cells[r * t->ncol + i];
            size_t cw = s ? qm_fmt_width(s) : 0;
            if (cw > w[i])
                w[i] = cw;
        }
    for (size_t r = 0; r < t->nrow; r++) {
        for (size_t i = 0; i < t->ncol; i++) {
            const char *s = t->cells[r * t->ncol + i];
            s = s ? s : "";
            fputs(s, out);
            if (i + 1 < t->ncol)
                fprintf(out, "%*s", (int)(w[i] - qm_fmt_width(s) + 3), "");
        }
        fputc('\n', out);
    }
    free(w);
}

void qm_table_free(struct qm_table *t)
{
    for (size_t i = 0; i < t->nrow * t->ncol; i++)
        free(t->cells[i]);
    free(t->cells);
    *t = (struct qm_table){0};
}

/* ---- progress ------------------------------------------------------------------------ */

enum { RATE_SAMPLES = 64 };
#define RATE_WINDOW_S 5.0   /* the rate shown is over about this many seconds */
#define REDRAW_S 0.1        /* a line is redrawn at most this often */

struct prog_item {
    char digest[80];
    char *label;                /* the latest status of this digest */
    int64_t total, completed;   /* total < 0: not known yet */
    bool finished;              /* its last line is written */
    bool printed;               /* (not a terminal) its label was printed */
    double now;                 /* when the latest update came */
    double t[RATE_SAMPLES];     /* (time, completed) samples, a ring */
    int64_t c[RATE_SAMPLES];
    int ns, head;
};

struct qm_progress {
    FILE *out;
    bool tty;
    struct prog_item *items;    /* in order of first appearance */
    size_t n, cap;
    struct prog_item *active;   /* the digest whose line is on screen, unfinished */
    double last_draw;
    char *last_status;          /* the last plain status printed */
};

struct qm_progress *qm_progress_new(FILE *out, bool tty)
{
    struct qm_progress *p = calloc(1, sizeof *p);
    if (p) {
        p->out = out;
        p->tty = tty;
    }
    return p;
}

static int term_cols(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n > 0 ? n : 80;
}

static bool item_done(const struct prog_item *it)
{
    return it->total > 0 && it->completed >= it->total;
}

static void add_sample(struct prog_item *it, double now)
{
    it->now = now;
    /* updates can come thousands of times a second: a sample every 0.1 s
     * is enough, and keeps the ring longer than the window */
    if (it->ns && now - it->t[(it->head + it->ns - 1) % RATE_SAMPLES] < 0.1)
        return;
    int i = (it->head + it->ns) % RATE_SAMPLES;
    if (it->ns == RATE_SAMPLES) {
        it->head = (it->head + 1) % RATE_SAMPLES;
        i = (it->head + RATE_SAMPLES - 1) % RATE_SAMPLES;
    } else {
        it->ns++;
    }
    it->t[i] = now;
    it->c[i] = it->completed;
    /* keep one sample older than the window as the baseline */
    while (it->ns > 1 && now - it->t[(it->head + 1) % RATE_SAMPLES] > RATE_WINDOW_S) {
        it->head = (it->head + 1) % RATE_SAMPLES;
        it->ns--;
    }
}

/* Bytes per second from the oldest sample of the window to the latest
 * update; 0 until half a second has been seen. */
static double item_rate(const struct prog_item *it)
{
    if (it->ns < 1)
        return 0;
    double dt = it->now - it->t[it->head];
    int64_t dc = it->completed - it->c[it->head];
    return dt >= 0.5 && dc > 0 ? (double)dc / dt : 0;
}

static void draw(struct qm_progress *p, struct prog_item *it, bool final)
{
    char line[1024], tail[128], a[32], b[32], r[32], eta[32];
    const char *label = it->label ? it->label : it->digest;
    int64_t total = it->total > 0 ? it->total : 0;
    int64_t done = it->completed < total ? it->completed : total;
    int pct = total ? (int)(done * 100 / total) : 0;
    if (final && item_done(it)) {
        snprintf(tail, sizeof tail, " %s", qm_fmt_bytes(a, sizeof a, total));
    } else {
        double rate = item_rate(it);
        int n = snprintf(tail, sizeof tail, " %s/%s", qm_fmt_bytes(a, sizeof a, done),
                         qm_fmt_bytes(b, sizeof b, total));
        if (rate > 0 && !final)
            snprintf(tail + n, sizeof tail - (size_t)n, "  %s/s  %s", qm_fmt_bytes(r, sizeof r, (int64_t)rate),
                     qm_fmt_duration(eta, sizeof eta, (double)(total - done) / rate));
    }
    /* room for a wide tail (" 999 MB/999 MB  99 MB/s  1m20s"), so the
     * bar keeps its width when the rate appears or the sizes change */
    int cols = term_cols(p->out);
    int fixed = (int)qm_fmt_width(label) + 7 + 2 + 30;
    int width = cols - 1 - fixed;
    if (width > 50)
        width = 50;
    int n = snprintf(line, sizeof line, "%s: %3d%% ", label, pct);
    if (width >= 5) {
        int fill = total ? (int)((double)done * width / (double)total) : 0;
        n += snprintf(line + n, sizeof line - (size_t)n, "\u2595");
        for (int i = 0; i < width && n < (int)sizeof line - 8; i++)
            n += snprintf(line + n, sizeof line - (size_t)n, "%s", i < fill ? "\u2588" : " ");
        n += snprintf(line + n, sizeof line - (size_t)n, "\u258f");
    }
    snprintf(line + n, sizeof line - (size_t)n, "%s", tail);
    fprintf(p->out, "\r%s\033[K%s", line, final ? "\n" : "");
    fflush(p->out);
}

/* Write the final line of every digest not finished yet, in order. */
static void finish_items(struct qm_progress *p, bool all)
{
    if (p->active) {
        if (!all && !item_done(p->active))
            return;
        draw(p, p->active, true);
        p->active->finished = true;
        p->active = NULL;
    }
    for (size_t i = 0; i < p->n; i++) {
        struct prog_item *it = &p->items[i];
        if (it->finished)
            continue;
        if (all || item_done(it)) {
            draw(p, it, true);
            it->finished = true;
            continue;
        }
        p->active = it;   /* the first one still going is drawn next */
        draw(p, it, false);
        p->last_draw = qm_now_s();
        return;
    }
}

static struct prog_item *find_item(struct qm_progress *p, const char *digest)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->items[i].digest, digest))
            return &p->items[i];
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct prog_item *items = realloc(p->items, cap * sizeof *items);
        if (!items)
            return NULL;
        if (p->active)
            p->active = items + (p->active - p->items);
        p->items = items;
        p->cap = cap;
    }
    struct prog_item *it = &p->items[p->n++];
    *it = (struct prog_item){.total = -1};
    snprintf(it->digest, sizeof it->digest, "%s", digest);
    return it;
}

static void set_label(struct prog_item *it, const char *status)
{
    if (it->label && !strcmp(it->label, status))
        return;
    char *l = strdup(status);
    if (l) {
        free(it->label);
        it->label = l;
        it->printed = false;
    }
}

void qm_progress_status(struct qm_progress *p, const char *status, const char *digest, int64_t total,
                        int64_t completed)
{
    if (!p || !status)
        return;
    double now = qm_now_s();
    if (digest && *digest) {
        struct prog_item *it = find_item(p, digest);
        if (!it)
            return;
        set_label(it, status);
        if (!it->label)
            return;
        if (total >= 0)
            it->total = total;
        if (completed >= 0)
            it->completed = completed;
        add_sample(it, now);
        if (!p->tty) {
            if (!it->printed) {
                char sz[32];
                if (it->total > 0)
                    fprintf(p->out, "%s: %s\n", it->label, qm_fmt_bytes(sz, sizeof sz, it->total));
                else
                    fprintf(p->out, "%s\n", it->label);
                fflush(p->out);
                it->printed = true;
            }
            return;
        }
        if (it->finished)
            return;
        if (!p->active) {
            p->active = it;
            p->last_draw = 0;
        }
        if (it != p->active)
            return;
        if (item_done(it))
            finish_items(p, false);
        else if (now - p->last_draw >= REDRAW_S) {
            draw(p, it, false);
            p->last_draw = now;
        }
        return;
    }
    if (p->tty)
        finish_items(p, true);
    if (p->last_status && !strcmp(p->last_status, status))
        return;
    fprintf(p->out, "%s\n", status);
    fflush(p->out);
    free(p->last_status);
    p->last_status = strdup(status);
}

void qm_progress_finish(struct qm_progress *p)
{
    if (p && p->tty && p->active) {
        fputc('\n', p->out);
        fflush(p->out);
        p->active->finished = true;
        p->active = NULL;
    }
}

void qm_progress_free(struct qm_progress *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].label);
    free(p->items);
    free(p->last_status);
    free(p);
}
