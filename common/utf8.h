/* utf8.h - making arbitrary bytes safe to put in a JSON string. */
#ifndef QM_COMMON_UTF8_H
#define QM_COMMON_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s[0..n) (1..4), or 0 when
 * s starts with an invalid or incomplete one. */
size_t qm_utf8_seq_len(const unsigned char *s, size_t n);

/* Copy s[0..n) to out with every invalid byte replaced by U+FFFD (out must
 * hold 3n bytes).  Returns the length written. */
size_t qm_utf8_sanitize(const char *s, size_t n, char *out);

#endif
