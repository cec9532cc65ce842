/* error.h - the one error convention of qm.
 *
 * Functions that can fail return 0 or a negative code and, when given a
 * struct qm_err, fill it with one sentence the user can read.  Callers pass
 * NULL when they do not care about the message. */
#ifndef QM_COMMON_ERROR_H
#define QM_COMMON_ERROR_H

#include <stdarg.h>

struct qm_err {
    char msg[512];
};

enum {
    QM_OK = 0,
    QM_EINVAL = -1,   /* bad input: a malformed file, a bad argument */
    QM_ENOMEM = -2,
    QM_EIO = -3,      /* the operating system said no */
    QM_EUNSUPPORTED = -4,
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int qm_err_set(struct qm_err *err, const char *fmt, ...);

#endif
