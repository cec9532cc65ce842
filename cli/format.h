/* format.h - how the command line shows sizes, times and tables, the way
 * Ollama's CLI prints them (so that scripts and eyes used to it are at home).
 *
 *   qm_fmt_bytes       397 MB, 4.7 GB, 1.2 kB, 512 B        (decimal units)
 *   qm_fmt_number      494.03M, 7.6B, 12K                   (parameter counts)
 *   qm_fmt_relative    2 days ago, About a minute ago, 4 minutes from now, Forever
 *   qm_fmt_duration    20s, 1m20s, 2h5m                     (an ETA)
 *   struct qm_table    left-aligned columns, 3 spaces apart
 *   qm_progress        the status lines and progress bars of a pull or a create */
#ifndef QM_CLI_FORMAT_H
#define QM_CLI_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Every qm_fmt_* writes into out (capacity cap; 32 is always enough) and
 * returns out. */
char *qm_fmt_bytes(char *out, size_t cap, int64_t bytes);
char *qm_fmt_number(char *out, size_t cap, uint64_t n);

/* t relative to now (both Unix seconds, with fractions): "3 hours ago",
 * "4 minutes from now"; more than 20 years ahead is "Forever" (a
 * keep-alive of -1). */
char *qm_fmt_relative(char *out, size_t cap, double t, double now);

/* The wall clock in Unix seconds, with fractions. */
double qm_fmt_now(void);

/* A duration in Go's style rounded to seconds: "45s", "1m20s", "2h5m0s". */
char *qm_fmt_duration(char *out, size_t cap, double seconds);

/* An RFC 3339 time ("2024-05-01T12:34:56.789Z", "...+02:00") as Unix
 * seconds with fractions.  false when s is not one. */
bool qm_parse_rfc3339(const char *s, double *t);

/* Display width of a UTF-8 string (one column per code point). */
size_t qm_fmt_width(const char *s);

/* A table printed once all rows are in, each column as wide as its widest
 * cell plus 3 spaces (the last one unpadded).  Cells are copied. */
struct qm_table {
    size_t ncol, nrow, cap;
    char **cells;      /* nrow * ncol */
    bool oom;          /* sticky: a row could not be added */
};

void qm_table_init(struct qm_table *t, size_t ncol);
/* Add a row of t->ncol strings (NULL prints as ""). */
void qm_table_add(struct qm_table *t, ...);
void qm_table_print(const struct qm_table *t, FILE *out);
void qm_table_free(struct qm_table *t);

/* The status stream of /api/pull and /api/create, drawn for a person.
 * Each status with a digest is a transfer of its own: on a terminal one
 * line per digest, redrawn in place with '\r' as it goes
 *
 *   pulling 1a2b3c4d5e6f:  42% ▕██████      ▏ 1.2 GB/2.9 GB  85 MB/s  20s
 *
 * (rate over the last few seconds, time left) and ended with '\n' when the
 * digest completes or another status comes; updates of a digest that is
 * not the one on screen are kept until its turn.  Elsewhere (a log, a
 * pipe) a line only when a status or a digest's status changes.  Other
 * statuses are printed once each ("pulling manifest", "success"). */
struct qm_progress;

/* NULL when out of memory.  tty: draw bars (normally isatty(fileno(out))). */
struct qm_progress *qm_progress_new(FILE *out, bool tty);
/* One status; digest NULL or "" for a plain one; total < 0 when unknown. */
void qm_progress_status(struct qm_progress *p, const char *status, const char *digest, int64_t total,
                        int64_t completed);
/* End whatever line is being drawn (before an error message, say). */
void qm_progress_finish(struct qm_progress *p);
void qm_progress_free(struct qm_progress *p);

#endif
