/* strbuf.h - a growing, NUL-terminated byte string for building output.
 *
 * Appends never fail loudly: an allocation failure sets `oom` and a write
 * past `limit` (when non-zero) sets `full`, both sticky, so a writer appends
 * freely and checks once at the end.  Sizes are overflow-checked. */
#ifndef QM_COMMON_STRBUF_H
#define QM_COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct qm_strbuf {
    char *p;        /* malloc'd; NUL-terminated once anything was appended */
    size_t len, cap;
    size_t limit;   /* most bytes it may hold; 0: no limit */
    bool oom;       /* sticky: an allocation failed */
    bool full;      /* sticky: an append would have passed limit */
};

void qm_strbuf_put(struct qm_strbuf *b, const char *s, size_t n);
void qm_strbuf_puts(struct qm_strbuf *b, const char *s);

#endif
