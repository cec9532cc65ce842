/* download.c - fetching one blob with parallel, resumable range requests
 * (transfer.h).
 *
 * A download is a thread of its own driving one curl multi handle: the blob
 * is cut into pieces of conf.chunk bytes, at most conf.connections of them in
 * flight, each written with pwrite at its offset into
 * blobs/<sha256-hex|url-hash>-partial.  Every second (and when it stops) the
 * bytes each piece holds are saved in <partial>.json after an fdatasync of
 * the data, so the state never claims bytes the disk does not have.  A
 * piece that fails is retried from the byte it reached, with exponential
 * backoff; the count of failures starts again whenever it made progress.
 * The partial file is flock'ed, so two processes sharing a store never write
 * one partial at once. */
#include "transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "blob.h"
#include "clock.h"
#include "log.h"
#include "store_impl.h"

#define UNKNOWN_LEN UINT64_MAX

struct piece {
    struct qm_download *d;
    uint64_t off, len, filled, filled_at_start;
    int attempts;
    uint64_t next_try_ns;
    CURL *h;
    bool done, checked, discard, bad_range, overflow;
    int werr;                     /* errno of a failed write */
    long status;
    char why[256];                /* the last failure, for the final error */
};

struct qm_download {
    struct qm_download *next;
    char key[QM_SOURCE_KEY_MAX];
    struct qm_store *store;
    char *url, *auth;
    bool insecure, ranges;
    char digest[QM_DIGEST_STR_LEN + 1];   /* expected, "" when unknown */
    uint64_t size;
    struct qm_xfer_conf conf;
    int fd;
    char *partial, *state;
    struct piece *pieces;
    size_t n_pieces;
    /* shared with the waiters, under g_mu */
    int refs, waiters;
    atomic_int stop;
    _Atomic uint64_t done_bytes;
    atomic_int phase;
    bool finished;
    int rc;
    struct qm_err err;
    char result[QM_DIGEST_STR_LEN + 1];
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static struct qm_download *g_list;
static int g_threads;

static uint64_t now_ns(void)
{
    return (uint64_t)qm_mono_ns();
}

/* ---- the state file --------------------------------------------------------- */

static void save_state(struct qm_download *d)
{
    if (!d->ranges || !d->size || fdatasync(d->fd) != 0)
        return;
    json_t *filled = json_array();
    for (size_t i = 0; i < d->n_pieces; i++)
        json_array_append_new(filled, json_integer((json_int_t)d->pieces[i].filled));
    json_t *st = json_pack("{s:s, s:I, s:I, s:o}", "key", d->key, "size", (json_int_t)d->size, "chunk",
                           (json_int_t)d->conf.chunk, "filled", filled);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", d->state);
    if (st && json_dump_file(st, tmp, JSON_COMPACT) == 0 && rename(tmp, d->state) != 0)
        unlink(tmp);
    json_decref(st);
}

/* the bytes each piece held when the last run stopped, when that run cut
 * the blob the same way */
static void load_state(struct qm_download *d)
{
    json_t *st = json_load_file(d->state, 0, NULL);
    json_t *filled = json_object_get(st, "filled");
    bool same = st && json_is_array(filled) && json_array_size(filled) == d->n_pieces &&
                json_is_string(json_object_get(st, "key")) &&
                !strcmp(json_string_value(json_object_get(st, "key")), d->key) &&
                json_integer_value(json_object_get(st, "size")) == (json_int_t)d->size &&
                json_integer_value(json_object_get(st, "chunk")) == (json_int_t)d->conf.chunk;
    if (same) {
        uint64_t total = 0;
        for (size_t i = 0; i < d->n_pieces; i++) {
            json_int_t v = json_integer_value(json_array_get(filled, i));
            struct piece *p = &d->pieces[i];
            p->filled = v < 0 ? 0 : (uint64_t)v > p->len ? p->len : (uint64_t)v;
            p->done = p->filled == p->len;
            total += p->filled;
        }
        atomic_store(&d->done_bytes, total);
        if (total)
            qm_log_info("pull: resuming %s at %llu of %llu bytes", d->key, (unsigned long long)total,
                        (unsigned long long)d->size);
    }
    json_decref(st);
}

/* ---- pieces ----------------------------------------------------------------- */

static int make_pieces(struct qm_download *d)
{
    free(d->pieces);
    uint64_t chunk = d->conf.chunk;
    d->n_pieces = d->ranges && d->size ? (size_t)((d->size + chunk - 1) / chunk) : 1;
    if (d->n_pieces == 0)
        d->n_pieces = 1;
    d->pieces = calloc(d->n_pieces, sizeof *d->pieces);
    if (!d->pieces)
        return QM_ENOMEM;
    for (size_t i = 0; i < d->n_pieces; i++) {
        struct piece *p = &d->pieces[i];
        p->d = d;
        p->off = i * chunk;
        p->len = !d->size ? UNKNOWN_LEN : d->n_pieces == 1 ? d->size : (i + 1 < d->n_pieces ? chunk : d->size - p->off);
    }
    atomic_store(&d->done_bytes, 0);
    return 0;
}

static size_t on_data(char *buf, size_t size, size_t n, void *ud)
{
    struct piece *p = ud;
    size_t len = size * n;
    if (!p->checked) {
        p->checked = true;
        curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &p->status);
        if (p->status >= 300)
            p->discard = true;
        else if (p->status == 200 && p->off + p->filled > 0) {
            p->bad_range = true;   /* the server sent the whole file */
            return 0;
        }
    }
    if (p->discard)
        return len;
    size_t keep = len;
    if (p->len != UNKNOWN_LEN && keep > p->len - p->filled) {
        keep = (size_t)(p->len - p->filled);
        p->overflow = true;
    }
    for (size_t w = 0; w < keep;) {
        ssize_t k = pwrite(p->d->fd, buf + w, keep - w, (off_t)(p->off + p->filled + w));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            p->werr = k < 0 ? errno : EIO;
            return 0;
        }
        w += (size_t)k;
    }
    p->filled += keep;
    atomic_fetch_add(&p->d->done_bytes, keep);
    return p->overflow ? 0 : len;
}

static int start_piece(struct qm_download *d, CURLM *m, struct piece *p, struct curl_slist *hdr)
{
    CURL *h = curl_easy_init();
    if (!h)
        return QM_ENOMEM;
    p->h = h;
    p->checked = p->discard = p->bad_range = p->overflow = false;
    p->status = 0;
    p->filled_at_start = p->filled;
    curl_easy_setopt(h, CURLOPT_URL, d->url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    qm_xfer_setopt_security(h, d->url, d->insecure);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "qm/" QM_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(h, CURLOPT_PRIVATE, p);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)d->conf.stall_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)d->conf.stall_s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    char range[64];
    if (d->ranges) {
        if (p->len == UNKNOWN_LEN)
            snprintf(range, sizeof range, "%llu-", (unsigned long long)(p->off + p->filled));
        else
            snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)(p->off + p->filled),
                     (unsigned long long)(p->off + p->len - 1));
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    }
    curl_multi_add_handle(m, h);
    return 0;
}

static void stop_piece(CURLM *m, struct piece *p)
{
    if (p->h) {
        curl_multi_remove_handle(m, p->h);
        curl_easy_cleanup(p->h);
        p->h = NULL;
    }
}

/* What to do once a piece's request ended: 0 go on, or a fatal code. */
static int finish_piece(struct qm_download *d, struct piece *p, CURLcode cc, struct qm_err *err)
{
    if (p->werr) {
        int e = p->werr;
        qm_err_set(err, "cannot write %s: %s", d->partial, strerror(e));
        return e == ENOSPC || e == EDQUOT || e == EFBIG ? QM_XFER_ENOSPC : QM_EIO;
    }
    if (p->bad_range)
        return 1;   /* the caller starts over without ranges */
    bool complete = p->len == UNKNOWN_LEN ? cc == CURLE_OK && p->status / 100 == 2 : p->filled == p->len;
    if (complete && !p->discard) {
        p->done = true;
        if (p->len == UNKNOWN_LEN)
            p->len = p->filled;
        return 0;
    }
    if (p->status == 404 || p->status == 410) {
        qm_err_set(err, "%s: not found (HTTP %ld)", d->url, p->status);
        return QM_XFER_ENOTFOUND;
    }
    if (p->status == 401 || p->status == 403) {
        qm_err_set(err, "%s: access denied (HTTP %ld)", d->url, p->status);
        return QM_XFER_EREMOTE;
    }
    if (p->status == 416) {
        p->filled = 0;   /* our idea of the piece is wrong: fetch it again */
        snprintf(p->why, sizeof p->why, "HTTP 416");
    } else if (p->discard || p->status >= 300)
        snprintf(p->why, sizeof p->why, "HTTP %ld", p->status);
    else if (cc != CURLE_OK)
        snprintf(p->why, sizeof p->why, "%s", curl_easy_strerror(cc));
    else
        snprintf(p->why, sizeof p->why, "the connection ended early");
    if (p->filled > p->filled_at_start)
        p->attempts = 0;   /* it got somewhere: only failures in a row count */
    if (++p->attempts >= d->conf.retries) {
        qm_err_set(err, "download of %s failed after %d attempts: %s", d->url, p->attempts, p->why);
        return QM_XFER_EREMOTE;
    }
    uint64_t wait_ms = (uint64_t)d->conf.backoff_ms << (p->attempts - 1 < 16 ? p->attempts - 1 : 16);
    if (wait_ms > 30000)
        wait_ms = 30000;
    p->next_try_ns = now_ns() + wait_ms * 1000000ull;
    qm_log_info("pull: %s bytes %llu+: %s; retrying in %llu ms", d->key,
                (unsigned long long)(p->off + p->filled), p->why, (unsigned long long)wait_ms);
    return 0;
}

static int fetch(struct qm_download *d, struct qm_err *err)
{
    CURLM *m = curl_multi_init();
    struct curl_slist *hdr = d->auth ? curl_slist_append(NULL, d->auth) : NULL;
    if (!m)
        return qm_err_set(err, "out of memory"), QM_ENOMEM;
    int rc = 0;
    uint64_t last_save = now_ns();
    for (;;) {
        if (atomic_load(&d->stop)) {
            rc = QM_XFER_ECANCELED;
            qm_err_set(err, "cancelled");
            break;
        }
        size_t active = 0, done = 0;
        uint64_t now = now_ns();
        for (size_t i = 0; i < d->n_pieces; i++)
            active += d->pieces[i].h != NULL, done += d->pieces[i].done;
        if (done == d->n_pieces)
            break;
        for (size_t i = 0; i < d->n_pieces && active < (size_t)d->conf.connections; i++) {
            struct piece *p = &d->pieces[i];
            if (!p->done && !p->h && p->next_try_ns <= now) {
                if (start_piece(d, m, p, hdr) < 0) {
                    rc = (qm_err_set(err, "out of memory"), QM_ENOMEM);
                    goto out;
                }
                active++;
            }
        }
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        bool restart = false;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct piece *p;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
            CURLcode cc = msg->data.result;
            if (!p->checked)
                curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &p->status);
            stop_piece(m, p);
            int f = finish_piece(d, p, cc, err);
            if (f < 0) {
                rc = f;
                goto out;
            }
            restart |= f == 1;
        }
        if (restart) {
            /* the server ignores ranges: one plain request from the start */
            qm_log_info("pull: %s: the server ignores range requests; fetching it whole", d->url);
            for (size_t i = 0; i < d->n_pieces; i++)
                stop_piece(m, &d->pieces[i]);
            d->ranges = false;
            if (make_pieces(d) < 0 || ftruncate(d->fd, 0) != 0) {
                rc = (qm_err_set(err, "cannot restart the download of %s", d->url), QM_EIO);
                goto out;
            }
            unlink(d->state);
            continue;
        }
        if (now - last_save > 1000000000ull) {
            save_state(d);
            last_save = now;
        }
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
out:
    for (size_t i = 0; i < d->n_pieces; i++)
        stop_piece(m, &d->pieces[i]);
    save_state(d);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
    return rc;
}

/* ---- verify and install -------------------------------------------------------- */

static int verify_and_install(struct qm_download *d, struct qm_err *err)
{
    atomic_store(&d->phase, QM_DOWNLOAD_VERIFYING);
    if (fdatasync(d->fd) != 0)
        return store_os_error(d->store, err, "sync", d->partial, errno);
    struct qm_sha256 *h = qm_sha256_new();
    enum { BUF = 1 << 20 };
    char *buf = malloc(BUF);
    if (!h || !buf) {
        qm_sha256_free(h);
        free(buf);
        return qm_err_set(err, "out of memory"), QM_ENOMEM;
    }
    uint64_t off = 0;
    int rc = 0;
    for (;;) {
        if (atomic_load(&d->stop)) {
            rc = (qm_err_set(err, "cancelled"), QM_XFER_ECANCELED);
            break;
        }
        ssize_t k = pread(d->fd, buf, BUF, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = store_os_error(d->store, err, "read", d->partial, errno);
            break;
        }
        if (k == 0)
            break;
        qm_sha256_update(h, buf, (size_t)k);
        off += (uint64_t)k;
    }
    free(buf);
    char got[QM_DIGEST_STR_LEN + 1];
    if (rc < 0) {
        qm_sha256_free(h);
        return rc;
    }
    qm_sha256_final(h, got);
    if ((d->size && off != d->size) || (*d->digest && strcmp(got, d->digest))) {
        unlink(d->partial);
        unlink(d->state);
        if (*d->digest && strcmp(got, d->digest))
            return qm_err_set(err, "digest mismatch: the file from %s hashes to %s, not %s; "
                                   "it was removed and must be downloaded again",
                              d->url, got, d->digest),
                   QM_EINVAL;
        return qm_err_set(err, "the file from %s is %llu bytes, not %llu; it was removed", d->url,
                          (unsigned long long)off, (unsigned long long)d->size),
               QM_EINVAL;
    }
    char *final;
    if ((rc = qm_store_blob_path(d->store, got, &final, err)) < 0)
        return rc;
    struct stat st;
    if (stat(final, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == off)
        unlink(d->partial);   /* another pull put it there first */
    else if (rename(d->partial, final) != 0)
        rc = store_os_error(d->store, err, "install", final, errno);
    free(final);
    unlink(d->state);
    store_fsync_dir(d->store->blobs);
    memcpy(d->result, got, sizeof got);
    return rc;
}

/* ---- the thread ------------------------------------------------------------------ */

static int lock_partial(struct qm_download *d, struct qm_err *err)
{
    for (;;) {
        d->fd = open(d->partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (d->fd < 0)
            return store_os_error(d->store, err, "create", d->partial, errno);
        if (flock(d->fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        close(d->fd);
        d->fd = -1;
        if (errno != EWOULDBLOCK)
            return store_os_error(d->store, err, "lock", d->partial, errno);
        /* another process fetches this blob into this store: wait for it */
        if (atomic_load(&d->stop))
            return qm_err_set(err, "cancelled"), QM_XFER_ECANCELED;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int run(struct qm_download *d, struct qm_err *err)
{
    int rc = store_check_writable(d->store, err);
    if (rc < 0)
        return rc;
    if ((rc = lock_partial(d, err)) < 0)
        return rc;
    if (*d->digest && qm_store_blob_exists(d->store, d->digest, NULL)) {
        /* it arrived while we waited for the lock */
        unlink(d->partial);
        unlink(d->state);
        memcpy(d->result, d->digest, sizeof d->result);
        return 0;
    }
    if (make_pieces(d) < 0)
        return qm_err_set(err, "out of memory"), QM_ENOMEM;
    if (d->ranges && d->size)
        load_state(d);
    if (!atomic_load(&d->done_bytes) && ftruncate(d->fd, 0) != 0)
        return store_os_error(d->store, err, "truncate", d->partial, errno);
    if (d->size) {
        int e = posix_fallocate(d->fd, 0, (off_t)d->size);
        if (e == ENOSPC || e == EDQUOT || e == EFBIG) {
            qm_err_set(err, "not enough disk space for %s: it needs %.1f MB in %s (%s)", d->key,
                       (double)d->size / 1e6, d->store->blobs, strerror(e));
            return QM_XFER_ENOSPC;
        }
    }
    if ((rc = fetch(d, err)) < 0)
        return rc;
    if (!d->size) {
        uint64_t size = 0;
        for (size_t i = 0; i < d->n_pieces; i++)
            size += d->pieces[i].filled;
        pthread_mutex_lock(&g_mu);   /* waiters read it */
        d->size = size;
        pthread_mutex_unlock(&g_mu);
    }
    return verify_and_install(d, err);
}

static void unlink_from_list(struct qm_download *d)
{
    for (struct qm_download **pp = &g_list; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            return;
        }
}

static void dl_free(struct qm_download *d)
{
    free(d->url);
    free(d->auth);
    free(d->partial);
    free(d->state);
    free(d->pieces);
    free(d);
}

static void *thread_main(void *arg)
{
    struct qm_download *d = arg;
    struct qm_err err = {{0}};
    int rc = run(d, &err);
    if (d->fd >= 0)
        close(d->fd);   /* releases the flock */
    if (rc < 0 && rc != QM_XFER_ECANCELED)
        qm_log_warn("pull: %s: %s", d->key, err.msg);
    pthread_mutex_lock(&g_mu);
    d->finished = true;
    d->rc = rc;
    d->err = err;
    atomic_store(&d->phase, QM_DOWNLOAD_DONE);
    unlink_from_list(d);
    bool last = --d->refs == 0;
    g_threads--;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    if (last)
        dl_free(d);
    return NULL;
}

/* ---- the public side -------------------------------------------------------------- */

int qm_download_start(struct qm_store *s, const struct qm_download_spec *spec,
                      const struct qm_xfer_conf *conf, struct qm_download **out, struct qm_err *err)
{
    qm_xfer_global_init();
    char key[QM_SOURCE_KEY_MAX], base[80];
    if (spec->digest) {
        snprintf(key, sizeof key, "%s", spec->digest);
        snprintf(base, sizeof base, "sha256-%s", spec->digest + 7);
    } else {
        char h[QM_DIGEST_STR_LEN + 1];
        qm_sha256_buf(spec->url, strlen(spec->url), h);
        snprintf(key, sizeof key, "url:%.*s", 1000, spec->url);
        snprintf(base, sizeof base, "url-%.32s", h + 7);
    }
    pthread_mutex_lock(&g_mu);
    for (struct qm_download *d = g_list; d; d = d->next)
        if (d->store == s && !strcmp(d->key, key) && !d->finished) {
            d->refs++;
            d->waiters++;
            pthread_mutex_unlock(&g_mu);
            *out = d;
            return 0;
        }
    struct qm_download *d = calloc(1, sizeof *d);
    int rc = QM_ENOMEM;
    if (!d)
        goto fail;
    memcpy(d->key, key, sizeof key);
    d->store = s;
    d->fd = -1;
    d->url = strdup(spec->url);
    d->auth = spec->auth ? strdup(spec->auth) : NULL;
    d->insecure = spec->insecure;
    d->ranges = spec->ranges;
    d->size = spec->size;
    d->conf = *conf;
    if (spec->digest)
        snprintf(d->digest, sizeof d->digest, "%s", spec->digest);
    if (asprintf(&d->partial, "%s/%s-partial", s->blobs, base) < 0)
        d->partial = NULL;
    if (asprintf(&d->state, "%s/%s-partial.json", s->blobs, base) < 0)
        d->state = NULL;
    if (!d->url || !d->partial || !d->state || (spec->auth && !d->auth))
        goto fail;
    d->refs = 2;   /* the thread's and the caller's */
    d->waiters = 1;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &attr, thread_main, d);
    pthread_attr_destroy(&attr);
    if (e) {
        rc = QM_EIO;
        goto fail;
    }
    d->next = g_list;
    g_list = d;
    g_threads++;
    pthread_mutex_unlock(&g_mu);
    *out = d;
    return 0;
fail:
    pthread_mutex_unlock(&g_mu);
    if (d)
        dl_free(d);
    qm_err_set(err, rc == QM_ENOMEM ? "out of memory" : "cannot start a download thread");
    return rc;
}

int qm_download_wait(struct qm_download *d, const atomic_int *cancel,
                     void (*tick)(enum qm_download_phase phase, uint64_t done, uint64_t total, void *ud),
                     void *ud, char *digest_out, struct qm_err *err)
{
    int rc;
    pthread_mutex_lock(&g_mu);
    for (;;) {
        if (d->finished) {
            rc = d->rc;
            if (rc < 0 && err)
                *err = d->err;
            if (rc == 0 && digest_out)
                memcpy(digest_out, d->result, QM_DIGEST_STR_LEN + 1);
            break;
        }
        if (cancel && atomic_load(cancel)) {
            if (--d->waiters == 0)
                atomic_store(&d->stop, 1);
            rc = QM_XFER_ECANCELED;
            qm_err_set(err, "cancelled");
            break;
        }
        enum qm_download_phase ph = (enum qm_download_phase)atomic_load(&d->phase);
        uint64_t done = atomic_load(&d->done_bytes), total = d->size;
        pthread_mutex_unlock(&g_mu);
        if (tick)
            tick(ph, done, total, ud);
        pthread_mutex_lock(&g_mu);
        if (!d->finished) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L)
                ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&g_cv, &g_mu, &ts);
        }
    }
    uint64_t total = d->size;
    bool last = --d->refs == 0;
    pthread_mutex_unlock(&g_mu);
    if (rc == 0 && tick)
        tick(QM_DOWNLOAD_DONE, total, total, ud);
    if (last)
        dl_free(d);
    return rc;
}

void qm_download_shutdown(int timeout_ms)
{
    pthread_mutex_lock(&g_mu);
    for (struct qm_download *d = g_list; d; d = d->next)
        atomic_store(&d->stop, 1);
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (g_threads > 0 && now_ns() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&g_cv, &g_mu, &ts);
    }
    pthread_mutex_unlock(&g_mu);
}
