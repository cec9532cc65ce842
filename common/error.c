/* error.c - filling a struct qm_err. */
#include "error.h"

#include <stdio.h>

int qm_err_set(struct qm_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return QM_EINVAL;
}
