/* runner_io.h - newline-delimited JSON over the runner's socket.
 *
 * Reads are non-blocking under poll so that the runner can look for new
 * requests and cancellations between two steps without waiting; writes
 * block until the whole line is out (the daemon always reads). */
#ifndef QM_ENGINE_RUNNER_IO_H
#define QM_ENGINE_RUNNER_IO_H

#include <jansson.h>
#include <stddef.h>

struct qm_rio {
    int fd;
    char *buf;
    size_t len, cap;
    int eof;      /* the daemon closed its end */
    int broken;   /* a write failed: the daemon is gone */
};

void qm_rio_init(struct qm_rio *r, int fd);
void qm_rio_free(struct qm_rio *r);

/* Wait up to timeout_ms (-1: forever, 0: not at all) for input and read
 * what is there.  Returns 0, or -1 on EOF or a read error (r->eof set). */
int qm_rio_fill(struct qm_rio *r, int timeout_ms);

/* The next complete line as a JSON object (new reference), NULL if none is
 * buffered.  A line that is not a JSON object is returned as a JSON string
 * holding the parse error, so the caller can report it. */
json_t *qm_rio_next(struct qm_rio *r);

/* Send one object as a line (steals the reference).  Returns 0 or -1. */
int qm_rio_send(struct qm_rio *r, json_t *msg);

#endif
