/* server_addr.c - turning QM_HOST / OLLAMA_HOST into a socket address.
 *
 * The accepted forms are Ollama's (see qm_http_parse_hostport in server.h),
 * except that a scheme never changes the default port: qm has no TLS, so
 * "https://" is accepted only for configs copied from elsewhere. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define DEFAULT_HOST "127.0.0.1"

static int set_host(char *host, size_t hostlen, const char *h, size_t n, const char *s, struct qm_err *err)
{
    if (n == 0) {
        h = DEFAULT_HOST;
        n = strlen(h);
    }
    if (n >= hostlen)
        return qm_err_set(err, "host name in \"%s\" is too long", s);
    memcpy(host, h, n);
    host[n] = '\0';
    return 0;
}

static int set_port(int *port, const char *p, size_t n, const char *s, struct qm_err *err)
{
    if (n == 0) {  /* "host:" - as Ollama, the default */
        *port = QM_HTTP_DEFAULT_PORT;
        return 0;
    }
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || v > 65535)
            return qm_err_set(err, "invalid port in \"%s\"", s);
        v = v * 10 + (p[i] - '0');
    }
    if (v > 65535)
        return qm_err_set(err, "port in \"%s\" is out of range (0-65535)", s);
    *port = v;
    return 0;
}

int qm_http_parse_hostport(const char *s, char *host, size_t hostlen, int *port, struct qm_err *err)
{
    const char *b = s ? s : "", *e;
    while (*b == ' ' || *b == '\t')
        b++;
    const char *scheme = strstr(b, "://");
    if (scheme)
        b = scheme + 3;
    e = b + strcspn(b, "/ \t\r\n");  /* drop a path and trailing blanks */

    *port = QM_HTTP_DEFAULT_PORT;
    if (b < e && *b == '[') {  /* [v6] or [v6]:port */
        const char *close = memchr(b, ']', (size_t)(e - b));
        if (!close)
            return qm_err_set(err, "missing ']' in \"%s\"", s);
        if (set_host(host, hostlen, b + 1, (size_t)(close - b - 1), s, err))
            return QM_EINVAL;
        if (close + 1 == e)
            return 0;
        if (close[1] != ':')
            return qm_err_set(err, "unexpected text after ']' in \"%s\"", s);
        return set_port(port, close + 2, (size_t)(e - close - 2), s, err);
    }
    const char *colon = memchr(b, ':', (size_t)(e - b));
    if (colon && memchr(colon + 1, ':', (size_t)(e - colon - 1)))  /* bare v6: no port */
        return set_host(host, hostlen, b, (size_t)(e - b), s, err);
    if (!colon)
        return set_host(host, hostlen, b, (size_t)(e - b), s, err);
    if (set_host(host, hostlen, b, (size_t)(colon - b), s, err))
        return QM_EINVAL;
    return set_port(port, colon + 1, (size_t)(e - colon - 1), s, err);
}

/* Literal addresses need no lookup; a name is resolved here, once, at start
 * (the only blocking call of the server, made before it serves anyone).  An
 * IPv4 result is preferred, as Go's net.Listen does for "localhost". */
int http_resolve(const char *host, int port, struct sockaddr_storage *ss, struct qm_err *err)
{
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0)
        return qm_err_set(err, "cannot resolve \"%s\": %s", host, gai_strerror(rc));
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    memcpy(ss, pick->ai_addr, pick->ai_addrlen);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    freeaddrinfo(res);
    return 0;
}
