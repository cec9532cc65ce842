/* runner_io.c - line framing of the runner protocol. */
#include "runner_io.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner_proto.h"

void qm_rio_init(struct qm_rio *r, int fd)
{
    *r = (struct qm_rio){.fd = fd};
}

void qm_rio_free(struct qm_rio *r)
{
    free(r->buf);
    r->buf = NULL;
}

int qm_rio_fill(struct qm_rio *r, int timeout_ms)
{
    if (r->eof)
        return -1;
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : (r->eof = 1, -1);
    if (n == 0)
        return 0;
    for (;;) {
        if (r->cap - r->len < 65536) {
            size_t cap = r->cap ? r->cap * 2 : 131072;
            char *b = realloc(r->buf, cap);
            if (!b)
                return r->eof = 1, -1;
            r->buf = b;
            r->cap = cap;
        }
        ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (got > 0) {
            r->len += (size_t)got;
            /* take what is there without blocking */
            struct pollfd q = {.fd = r->fd, .events = POLLIN};
            if (poll(&q, 1, 0) <= 0)
                return 0;
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        r->eof = 1;
        return -1;
    }
}

json_t *qm_rio_next(struct qm_rio *r)
{
    char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
    if (!nl) {
        if (r->len > QM_RUNNER_MAX_LINE) {
            r->len = 0;
            return json_string("a request line is longer than the runner accepts");
        }
        return NULL;
    }
    size_t line = (size_t)(nl - r->buf);
    json_error_t je;
    json_t *msg = json_loadb(r->buf, line, 0, &je);
    memmove(r->buf, nl + 1, r->len - line - 1);
    r->len -= line + 1;
    if (!msg)
        return json_sprintf("bad request line: %s", je.text);
    if (!json_is_object(msg)) {
        json_decref(msg);
        return json_string("bad request line: not a JSON object");
    }
    return msg;
}

int qm_rio_send(struct qm_rio *r, json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(msg);
    if (!s)
        return -1;
    size_t n = strlen(s);
    s[n] = '\n';   /* json_dumps's NUL becomes the line end */
    size_t off = 0;
    while (off <= n && !r->broken) {
        ssize_t w = write(r->fd, s + off, n + 1 - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = r->fd, .events = POLLOUT};
            poll(&p, 1, -1);
        } else {
            r->broken = 1;
        }
    }
    free(s);
    return r->broken ? -1 : 0;
}
