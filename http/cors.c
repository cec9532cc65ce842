/* cors.c - which browser origins may call the API, and which Host names.
 *
 * The rules are Ollama's, so that web UIs and editor extensions that work
 * with Ollama work here: localhost, 127.0.0.1 and 0.0.0.0 on any port, the
 * app/file/tauri/vscode schemes, browser extensions, and QM_ORIGINS (comma-
 * separated, '*' matches any run of characters, a lone "*" allows all).
 * Matching is case-insensitive, as browsers lower-case scheme and host. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <uv.h>

#include "server_int.h"

static const char *const default_origins[] = {
    "http://localhost", "https://localhost", "http://localhost:*", "https://localhost:*",
    "http://127.0.0.1", "https://127.0.0.1", "http://127.0.0.1:*", "https://127.0.0.1:*",
    "http://0.0.0.0", "https://0.0.0.0", "http://0.0.0.0:*", "https://0.0.0.0:*",
    "app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*",
    /* gin-contrib/cors AllowBrowserExtensions, which Ollama turns on */
    "chrome-extension://*", "moz-extension://*", "safari-extension://*", "ms-browser-extension://*",
};

/* Glob with '*' only: origins may hold '[' (IPv6) and '?', which fnmatch
 * would treat as syntax.  Backtracks to the last star: linear in practice. */
static bool star_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (tolower((unsigned char)*pat) == tolower((unsigned char)*s)) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static int add_pattern(struct http_cors *c, const char *p, size_t n)
{
    while (n && isspace((unsigned char)*p))
        p++, n--;
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    if (n == 0)
        return 0;
    if (n == 1 && *p == '*') {
        c->any = true;
        return 0;
    }
    char **grown = realloc(c->patterns, (c->n + 1) * sizeof *grown);
    if (!grown)
        return QM_ENOMEM;
    c->patterns = grown;
    char *copy = strndup(p, n);
    if (!copy)
        return QM_ENOMEM;
    c->patterns[c->n++] = copy;
    return 0;
}

int http_cors_init(struct http_cors *c, const char *extra, struct qm_err *err)
{
    memset(c, 0, sizeof *c);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof default_origins / sizeof *default_origins; i++)
        rc = add_pattern(c, default_origins[i], strlen(default_origins[i]));
    for (const char *p = extra; rc == 0 && p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        rc = add_pattern(c, p, n);
        p = comma ? comma + 1 : p + n;
    }
    if (rc != 0) {
        http_cors_free(c);
        qm_err_set(err, "out of memory reading the allowed origins");
    }
    return rc;
}

void http_cors_free(struct http_cors *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->patterns[i]);
    free(c->patterns);
    memset(c, 0, sizeof *c);
}

bool http_cors_allowed(const struct http_cors *c, const char *origin)
{
    if (c->any)
        return true;
    for (size_t i = 0; i < c->n; i++)
        if (star_match(c->patterns[i], origin))
            return true;
    return false;
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n > k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* Ollama's allowedHostsMiddleware: a page on evil.com that re-resolves its
 * name to 127.0.0.1 (DNS rebinding) sends "Host: evil.com"; local names and IP
 * literals cannot be rebound, so only those pass.  Without Host (HTTP/1.0)
 * there is nothing to rebind. */
bool http_host_allowed(const char *host_header)
{
    if (!host_header || !*host_header)
        return true;
    char host[256];
    const char *h = host_header;
    size_t n;
    if (*h == '[') {  /* [v6]:port */
        const char *close = strchr(h, ']');
        if (!close)
            return false;
        h++;
        n = (size_t)(close - h);
    } else {
        const char *colon = strchr(h, ':');
        n = colon ? (size_t)(colon - h) : strlen(h);
    }
    if (n == 0)
        return true;
    if (n >= sizeof host)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';

    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    if (uv_ip4_addr(host, 0, &a4) == 0 || uv_ip6_addr(host, 0, &a6) == 0)
        return true;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (has_suffix(host, n, ".localhost") || has_suffix(host, n, ".local") ||
        has_suffix(host, n, ".internal"))
        return true;
    char self[256];
    if (gethostname(self, sizeof self) == 0) {
        self[sizeof self - 1] = '\0';
        if (strcasecmp(host, self) == 0)
            return true;
    }
    return false;
}
