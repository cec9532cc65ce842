/* strbuf.c - appending to a struct qm_strbuf (capacity doubles from 256). */
#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

#include "ckd.h"

void qm_strbuf_put(struct qm_strbuf *b, const char *s, size_t n)
{
    if (b->oom || b->full || n == 0)
        return;
    if (b->limit && n > b->limit - b->len) {
        b->full = true;
        return;
    }
    size_t need;
    if (qm_ckd_add(&need, b->len, n) || qm_ckd_add(&need, need, (size_t)1)) {
        b->oom = true;
        return;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) {
            if (qm_ckd_mul(&cap, cap, (size_t)2)) {
                b->oom = true;
                return;
            }
        }
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void qm_strbuf_puts(struct qm_strbuf *b, const char *s)
{
    qm_strbuf_put(b, s, strlen(s));
}
