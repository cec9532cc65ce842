/* stop.h - finding stop strings in streamed text.
 *
 * A generation ends when its text contains one of the request's stop
 * strings, and neither the stop string nor anything after it may reach the
 * client.  Tokens arrive one decoded piece at a time, and a stop string can
 * be split over several pieces, so the matcher holds back the shortest tail
 * of the text that could still be the beginning of a stop string and hands
 * everything before it out at once.
 *
 * Which stop string wins: the one that completes first in the text (the
 * lowest end offset), and among those ending at the same byte the longest.
 * That is what feeding the text one byte at a time would report, so the
 * result does not depend on how the text was cut into pieces.
 *
 * UTF-8: a cut is only ever made where a stop string begins, and the
 * matcher also holds back an incomplete multi-byte character at the end of
 * the text until its last byte arrives (or the flush), so it never emits
 * half a character.  Empty stop strings are ignored. */
#ifndef QM_ENGINE_STOP_H
#define QM_ENGINE_STOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct qm_stop_result {
    const char *text;   /* safe to emit now; valid until the next call on the matcher */
    size_t len;
    int32_t stop;       /* the stop string that completed (index in the list), or -1 */
};

struct qm_stop;

/* A matcher for n stop strings (copied; NUL-terminated).  n may be 0. */
struct qm_stop *qm_stop_new(const char *const *stops, size_t n, struct qm_err *err);
void qm_stop_free(struct qm_stop *m);

/* Forget held text and any stop seen, to reuse the matcher. */
void qm_stop_reset(struct qm_stop *m);

/* Feed the next piece.  Fills res with the text that can be emitted now.
 * Returns 1 when a stop string has completed (res->stop says which, and
 * res->text is what came before it; the generation should end: later feeds
 * emit nothing and return 1 again), 0 when not, QM_ENOMEM on failure. */
int qm_stop_feed(struct qm_stop *m, const char *piece, size_t len,
                 struct qm_stop_result *res, struct qm_err *err);

/* The generation ended for another reason: hand out whatever is held back
 * (nothing if a stop string completed). */
void qm_stop_flush(struct qm_stop *m, struct qm_stop_result *res);

/* Whether a stop string has completed. */
bool qm_stop_stopped(const struct qm_stop *m);

#endif
