/* transfer.c - settings and single small requests (transfer.h). */
#include "transfer.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < lo || v > hi ? def : v;
}

void qm_xfer_conf_read(struct qm_xfer_conf *c)
{
    c->retries = (int)env_long("QM_PULL_RETRIES", 6, 1, 1000);
    c->backoff_ms = (int)env_long("QM_PULL_BACKOFF_MS", 1000, 0, 600000);
    c->chunk = (uint64_t)env_long("QM_PULL_CHUNK", 64L << 20, 4096, 1L << 40);
    c->connections = (int)env_long("QM_PULL_CONNECTIONS", 8, 1, 64);
    c->stall_s = (int)env_long("QM_PULL_STALL_S", 30, 1, 3600);
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void qm_xfer_global_init(void)
{
    pthread_once(&g_once, global_init);
}

void qm_xfer_setopt_security(void *curl, const char *url, bool insecure)
{
    /* plain HTTP only where the URL says so or with insecure (Ollama's
     * --insecure); a redirect may not downgrade https to http */
    bool plain = insecure || !strncasecmp(url, "http://", 7);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, plain ? "http,https" : "https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, plain ? "http,https" : "https");
    if (insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

struct req_ctx {
    struct qm_xfer_reply *r;
    size_t max;
    const atomic_int *cancel;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct req_ctx *c = ud;
    size_t len = size * n, keep = len;
    if (c->r->len + keep > c->max)
        keep = c->max > c->r->len ? c->max - c->r->len : 0;
    if (keep) {
        char *b = realloc(c->r->body, c->r->len + keep + 1);
        if (!b)
            return 0;
        memcpy(b + c->r->len, p, keep);
        c->r->len += keep;
        b[c->r->len] = '\0';
        c->r->body = b;
    }
    return len;
}

/* value of header "name: value" when line is that header, else NULL */
static const char *header_value(const char *line, size_t len, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
        return NULL;
    const char *v = line + nl + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (vl >= cap)
        vl = cap - 1;
    memcpy(buf, v, vl);
    buf[vl] = '\0';
    return buf;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct qm_xfer_reply *r = ud;
    size_t len = size * n;
    char v[512];
    if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* a new response (after a redirect): its length and ranges count */
        r->length = 0;
        r->ranges = false;
    } else if (header_value(p, len, "x-linked-etag", v, sizeof v)) {
        /* a quoted 64-hex sha256 for files stored in LFS */
        char *h = v + (*v == '"'), hex[QM_DIGEST_STR_LEN + 1];
        snprintf(hex, sizeof hex, "sha256:%.64s", h);
        for (char *q = hex + 7; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        if (qm_digest_valid(hex, ':'))
            memcpy(r->linked_etag, hex, sizeof hex);
    } else if (header_value(p, len, "x-linked-size", v, sizeof v)) {
        r->linked_size = strtoull(v, NULL, 10);
    } else if (header_value(p, len, "content-length", v, sizeof v)) {
        r->length = strtoull(v, NULL, 10);
    } else if (header_value(p, len, "accept-ranges", v, sizeof v)) {
        r->ranges = !strcasecmp(v, "bytes");
    } else if (header_value(p, len, "www-authenticate", v, sizeof v)) {
        snprintf(r->www_auth, sizeof r->www_auth, "%s", v);
    }
    return len;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    const atomic_int *cancel = ud;
    return cancel && atomic_load(cancel) ? 1 : 0;
}

int qm_xfer_request(const char *url, bool head, const char *accept, const char *auth, bool insecure,
                    size_t max_body, const atomic_int *cancel, struct qm_xfer_reply *r,
                    struct qm_err *err)
{
    qm_xfer_global_init();
    memset(r, 0, sizeof *r);
    CURL *h = curl_easy_init();
    if (!h)
        return qm_err_set(err, "cannot start an HTTP request"), QM_ENOMEM;
    struct curl_slist *hdr = NULL;
    char acc[256];
    if (accept) {
        snprintf(acc, sizeof acc, "Accept: %s", accept);
        hdr = curl_slist_append(hdr, acc);
    }
    if (auth)
        hdr = curl_slist_append(hdr, auth);
    struct req_ctx ctx = {r, max_body, cancel};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOBODY, head ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    qm_xfer_setopt_security(h, url, insecure);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "qm/" QM_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)cancel);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    int rc = 0;
    if (cancel && atomic_load(cancel)) {
        rc = QM_XFER_ECANCELED;
        qm_err_set(err, "cancelled");
    } else if (cc != CURLE_OK) {
        snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(cc));
        qm_err_set(err, "%s: %s", url, r->error);
        rc = QM_XFER_EREMOTE;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return rc;
}

void qm_xfer_reply_free(struct qm_xfer_reply *r)
{
    free(r->body);
    r->body = NULL;
}
