/* client.c - the command line's HTTP client of the daemon, over libcurl's
 * easy interface.
 *
 * One transfer per call, no connection reuse: a command makes a handful of
 * calls, and a fresh handle per call keeps the state of one call (its
 * buffer, its callback, its error) from leaking into the next.  Answers are
 * read as they arrive and split on '\n', so a streamed answer reaches the
 * callback line by line while the daemon is still writing it; a line that
 * does not parse on its own is kept and joined with the next, which lets a
 * plain JSON answer that happens to span lines through as one object. */
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "digest.h"
#include "server.h"

/* ---- set-up ----------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The host part of c->base ("127.0.0.1", "::1", "localhost"), unbracketed. */
static void base_host(const struct qm_client *c, char *host, size_t cap)
{
    const char *b = strstr(c->base, "://");
    b = b ? b + 3 : c->base;
    size_t n;
    if (*b == '[') {
        b++;
        n = strcspn(b, "]");
    } else {
        n = strcspn(b, ":/");
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(host, b, n);
    host[n] = '\0';
}

bool qm_client_is_local(const struct qm_client *c)
{
    char host[256];
    base_host(c, host, sizeof host);
    return !strncmp(host, "127.", 4) || !strcmp(host, "localhost") || !strcmp(host, "::1") ||
           !strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !strcmp(host, "ip6-localhost");
}

int qm_client_init(struct qm_client *c, struct qm_err *err)
{
    memset(c, 0, sizeof *c);
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return qm_err_set(err, "libcurl: %s", curl_easy_strerror(curl_init_rc)), QM_EIO;

    const char *var = "QM_HOST", *s = getenv(var);
    if (!s || !*s) {
        var = "OLLAMA_HOST";
        s = getenv(var);
    }
    /* blanks and one pair of quotes around the value go, as for `qm serve` */
    char val[512] = "";
    if (s) {
        while (isspace((unsigned char)*s))
            s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
            s++;
            n -= 2;
        }
        if (n >= sizeof val)
            return qm_err_set(err, "%s is too long", var);
        memcpy(val, s, n);
        val[n] = '\0';
    }
    char host[256];
    int port;
    struct qm_err perr;
    if (qm_http_parse_hostport(val, host, sizeof host, &port, &perr) < 0)
        return qm_err_set(err, "%s: %s", var, perr.msg);
    bool https = !strncmp(val, "https://", 8);
    bool v6 = strchr(host, ':') != NULL;
    snprintf(c->base, sizeof c->base, "%s://%s%s%s:%d", https ? "https" : "http", v6 ? "[" : "", host,
             v6 ? "]" : "", port);

    const char *key = getenv("QM_API_KEY");
    if (!key || !*key)
        key = getenv("OLLAMA_API_KEY");
    if (key && *key) {
        if (strlen(key) + 32 > sizeof c->auth)
            return qm_err_set(err, "QM_API_KEY is too long");
        snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", key);
    }
    return 0;
}

/* ---- one transfer ------------------------------------------------------------- */

struct xfer {
    struct qm_client *c;
    CURL *h;
    qm_client_json_cb cb;
    void *ud;
    char *buf;            /* the answer not yet handed on (the whole of it when >= 400) */
    size_t len, cap;
    size_t scanned;       /* bytes of buf already searched for '\n' */
    int stop;             /* why the write callback said stop: 0 or a QM_CLIENT_* code */
    struct qm_err *err;
    /* uploads */
    FILE *in;
    void (*progress)(uint64_t done, uint64_t total, void *ud);
    void *progress_ud;
    uint64_t up_total;
};

static long response_code(CURL *h)
{
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

/* Hand one parsed object on.  An "error" member in a successful answer is a
 * failure reported mid-stream (Ollama's way once the status line is sent). */
static int deliver(struct xfer *x, json_t *obj)
{
    const char *e = json_string_value(json_object_get(obj, "error"));
    int rc = 0;
    if (e) {
        qm_err_set(x->err, "%s", e);
        rc = QM_CLIENT_EHTTP;
    } else if (x->cb && x->cb(obj, x->ud)) {
        qm_err_set(x->err, "canceled");
        rc = QM_CLIENT_ECANCELED;
    }
    json_decref(obj);
    return rc;
}

/* Pass on every complete object in buf.  final: the answer has ended, so
 * what is left must parse. */
static int drain(struct xfer *x, bool final)
{
    size_t start = 0;
    for (;;) {
        char *nl = x->scanned < x->len ? memchr(x->buf + x->scanned, '\n', x->len - x->scanned) : NULL;
        size_t end = nl ? (size_t)(nl - x->buf) + 1 : x->len;
        if (!nl && !final)
            break;
        x->scanned = end;
        size_t i = start;
        while (i < end && isspace((unsigned char)x->buf[i]))
            i++;
        if (i == end) {           /* a blank line */
            start = end;
            if (!nl)
                break;
            continue;
        }
        json_error_t je;
        json_t *obj = json_loadb(x->buf + start, end - start, JSON_DECODE_ANY, &je);
        if (obj) {
            start = end;
            int rc = deliver(x, obj);
            if (rc)
                return rc;
        } else if (!nl) {
            qm_err_set(x->err, "the daemon's answer is not JSON: %s", je.text);
            return QM_EIO;
        }
        /* else: maybe one object over several lines; keep it and read on */
        if (!nl)
            break;
    }
    if (start) {
        memmove(x->buf, x->buf + start, x->len - start);
        x->len -= start;
        x->scanned -= start;
    }
    return 0;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t add = size * n;
    if (x->len + add + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + add + 1)
            cap *= 2;
        char *p = realloc(x->buf, cap);
        if (!p) {
            x->stop = QM_ENOMEM;
            qm_err_set(x->err, "out of memory");
            return 0;
        }
        x->buf = p;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, add);
    x->len += add;
    x->buf[x->len] = '\0';
    if (response_code(x->h) >= 300)   /* an error answer is read whole */
        return add;
    int rc = drain(x, false);
    if (rc) {
        x->stop = rc;
        return 0;
    }
    return add;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    struct xfer *x = ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    if (x->c->cancel && *x->c->cancel) {
        x->stop = QM_CLIENT_ECANCELED;
        return 1;
    }
    if (x->progress && ulnow > 0)
        x->progress((uint64_t)ulnow, x->up_total, x->progress_ud);
    return 0;
}

static size_t on_read(char *data, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t got = fread(data, 1, size * n, x->in);
    if (got == 0 && ferror(x->in))
        return CURL_READFUNC_ABORT;
    return got;
}

/* The daemon's message from an error answer: {"error": "..."}, else the
 * first line of whatever it sent. */
static void http_error(struct xfer *x, long code)
{
    json_t *obj = x->len ? json_loadb(x->buf, x->len, JSON_DECODE_ANY, NULL) : NULL;
    const char *e = json_string_value(json_object_get(obj, "error"));
    if (e) {
        qm_err_set(x->err, "%s", e);
    } else if (x->len) {
        size_t n = strcspn(x->buf, "\r\n");
        qm_err_set(x->err, "%ld: %.*s", code, (int)(n > 300 ? 300 : n), x->buf);
    } else {
        qm_err_set(x->err, "the daemon answered with status %ld", code);
    }
    json_decref(obj);
}

struct call_opts {
    const char *method;
    const char *path;
    const char *body;         /* JSON text, or NULL */
    long timeout_ms;          /* 0: none */
    FILE *upload;             /* POST this file's bytes instead of body */
    uint64_t upload_size;
    void (*progress)(uint64_t done, uint64_t total, void *ud);
    void *progress_ud;
};

static int perform(struct qm_client *c, const struct call_opts *o, qm_client_json_cb cb, void *ud,
                   struct qm_err *err)
{
    struct qm_err scratch;
    if (!err)
        err = &scratch;
    c->status = 0;
    struct xfer x = {.c = c, .cb = cb, .ud = ud, .err = err, .in = o->upload,
                     .progress = o->progress, .progress_ud = o->progress_ud, .up_total = o->upload_size};
    char url[2048];
    if ((size_t)snprintf(url, sizeof url, "%s%s", c->base, o->path) >= sizeof url)
        return qm_err_set(err, "the request path is too long");
    if (!(x.h = curl_easy_init()))
        return qm_err_set(err, "libcurl: cannot make a handle"), QM_ENOMEM;
    struct curl_slist *hdrs = NULL, *t;
    int rc = 0;
    bool oom = false;
#define ADD_HEADER(s) (oom |= !(t = curl_slist_append(hdrs, (s))), hdrs = t ? t : hdrs)
    if (o->body)
        ADD_HEADER("Content-Type: application/json");
    if (o->upload)
        ADD_HEADER("Content-Type: application/octet-stream");
    ADD_HEADER("Expect:");       /* no 100-continue round trip */
    ADD_HEADER("User-Agent: qm/" QM_VERSION);
    if (c->auth[0])
        ADD_HEADER(c->auth);
#undef ADD_HEADER
    if (oom) {
        rc = qm_err_set(err, "out of memory");
        goto out;
    }
    CURL *h = x.h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    if (o->timeout_ms)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    if (qm_client_is_local(c))   /* a proxy from the environment cannot reach our loopback */
        curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    if (!strcmp(o->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (o->upload) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->upload_size);
    } else if (o->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(o->body));
        if (strcmp(o->method, "POST"))
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, o->method);
    } else if (strcmp(o->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, o->method);
    }

    CURLcode cc = curl_easy_perform(h);
    long code = response_code(h);
    c->status = (int)code;
    if (x.stop) {
        rc = x.stop;
        if (rc == QM_CLIENT_ECANCELED)
            qm_err_set(err, "canceled");
    } else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
        qm_err_set(err, "could not connect to qm server at %s; is `qm serve` running?", c->base);
        rc = QM_CLIENT_ECONNECT;
    } else if (cc != CURLE_OK) {
        qm_err_set(err, "%s %s: %s", o->method, c->base, curl_easy_strerror(cc));
        rc = QM_EIO;
    } else if (code >= 300) {
        http_error(&x, code);
        rc = QM_CLIENT_EHTTP;
    } else {
        rc = drain(&x, true);
    }
out:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(x.h);
    free(x.buf);
    return rc;
}

int qm_client_call(struct qm_client *c, const char *method, const char *path, json_t *body,
                   qm_client_json_cb cb, void *ud, struct qm_err *err)
{
    char *text = NULL;
    if (body && !(text = json_dumps(body, JSON_COMPACT)))
        return qm_err_set(err, "out of memory"), QM_ENOMEM;
    struct call_opts o = {.method = method, .path = path, .body = text};
    int rc = perform(c, &o, cb, ud, err);
    free(text);
    return rc;
}

static int keep_last(json_t *obj, void *ud)
{
    json_t **out = ud;
    json_decref(*out);
    *out = json_incref(obj);
    return 0;
}

int qm_client_call_json(struct qm_client *c, const char *method, const char *path, json_t *body,
                        json_t **out, struct qm_err *err)
{
    *out = NULL;
    int rc = qm_client_call(c, method, path, body, keep_last, out, err);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

bool qm_client_alive(struct qm_client *c)
{
    struct call_opts o = {.method = "GET", .path = "/api/version", .timeout_ms = 1500};
    int status = c->status;
    bool ok = perform(c, &o, NULL, NULL, NULL) == 0;
    c->status = status;
    return ok;
}

/* ---- starting a daemon ---------------------------------------------------------- */

static const char *home_dir(void)
{
    const char *h = getenv("HOME");
    if (h && *h)
        return h;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir ? pw->pw_dir : "/tmp";
}

int qm_client_ensure_daemon(struct qm_client *c, struct qm_err *err)
{
    if (qm_client_alive(c))
        return 0;
    if (!qm_client_is_local(c)) {
        qm_err_set(err, "could not connect to qm server at %s; is `qm serve` running there?", c->base);
        return QM_CLIENT_ECONNECT;
    }
    char dir[1024], log[1100];
    snprintf(dir, sizeof dir, "%s/.qm", home_dir());
    snprintf(log, sizeof log, "%s/serve.log", dir);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return qm_err_set(err, "cannot create %s: %s", dir, strerror(errno)), QM_EIO;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return qm_err_set(err, "cannot open %s: %s", log, strerror(errno)), QM_EIO;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return qm_err_set(err, "fork: %s", strerror(errno)), QM_EIO;
    }
    if (pid == 0) {
        /* its own session: Ctrl-C in this terminal does not reach it */
        setsid();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        /* nothing else of ours: a pipe held open here would keep whoever
         * reads our output waiting for an end that never comes */
        long maxfd = sysconf(_SC_OPEN_MAX);
        for (long i = 3; i < (maxfd > 0 && maxfd < 65536 ? maxfd : 65536); i++)
            close((int)i);
        char *argv[] = {"qm", "serve", NULL};
        execv("/proc/self/exe", argv);
        dprintf(2, "qm: cannot run /proc/self/exe serve: %s\n", strerror(errno));
        _exit(127);
    }
    close(fd);
    fprintf(stderr,
            "qm: no daemon was answering at %s; started `qm serve` in the background (log: %s)\n",
            c->base, log);
    int64_t deadline = qm_mono_ns() + 30 * 1000000000ll;
    for (;;) {
        if (qm_client_alive(c))
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            qm_err_set(err, "`qm serve` exited at once (%s %d); see %s",
                       WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                       log);
            return QM_CLIENT_ECONNECT;
        }
        if (c->cancel && *c->cancel)
            return qm_err_set(err, "canceled"), QM_CLIENT_ECANCELED;
        if (qm_mono_ns() > deadline) {
            qm_err_set(err, "`qm serve` did not answer at %s within 30 s; see %s", c->base, log);
            return QM_CLIENT_ECONNECT;
        }
        usleep(100 * 1000);
    }
}

/* ---- blobs --------------------------------------------------------------------------- */

int qm_client_push_blob(struct qm_client *c, const char *path, char *digest_out,
                        void (*progress)(uint64_t done, uint64_t total, void *ud), void *ud,
                        struct qm_err *err)
{
    unsigned long long size = 0;
    int rc = qm_sha256_file(path, digest_out, &size, err);
    if (rc < 0)
        return rc;
    char api[128];
    snprintf(api, sizeof api, "/api/blobs/%s", digest_out);
    struct call_opts head = {.method = "HEAD", .path = api};
    rc = perform(c, &head, NULL, NULL, err);
    if (rc == 0) {
        if (progress)
            progress(size, size, ud);
        return 0;
    }
    if (rc != QM_CLIENT_EHTTP || c->status != 404)
        return rc;
    FILE *f = fopen(path, "rb");
    if (!f)
        return qm_err_set(err, "%s: %s", path, strerror(errno)), QM_EIO;
    struct call_opts post = {.method = "POST", .path = api, .upload = f, .upload_size = size,
                             .progress = progress, .progress_ud = ud};
    rc = perform(c, &post, NULL, NULL, err);
    fclose(f);
    if (rc == 0 && progress)
        progress(size, size, ud);
    return rc;
}

int qm_cli_fail(const struct qm_err *err)
{
    fprintf(stderr, "Error: %s\n", err && err->msg[0] ? err->msg : "unknown error");
    return 1;
}
