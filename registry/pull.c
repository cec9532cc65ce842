/* pull.c - a model from a registry, a catalog entry or a file URL (pull.h). */
#include "pull.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "blob.h"
#include "log.h"
#include "manifest.h"
#include "source.h"
#include "store_impl.h"
#include "transfer.h"

enum { MANIFEST_MAX = 4 << 20, AUTH_MAX = 8192 };

static void report(const struct qm_pull_opts *o, const char *status, const char *digest, uint64_t total,
                   uint64_t completed, const char *model)
{
    if (o->progress) {
        struct qm_pull_progress p = {status, digest, total, completed, model};
        o->progress(&p, o->ud);
    }
}

/* ---- progress of one blob ---------------------------------------------------------- */

struct blob_tick {
    const struct qm_pull_opts *o;
    const char *digest;        /* NULL until known */
    char status[96];
    uint64_t last, last_total;
    bool any;
};

static void on_tick(enum qm_download_phase phase, uint64_t done, uint64_t total, void *ud)
{
    struct blob_tick *t = ud;
    (void)phase;
    if (t->any && done == t->last && total == t->last_total)
        return;
    t->any = true;
    t->last = done;
    t->last_total = total;
    report(t->o, t->status, t->digest, total, done, NULL);
}

/* ---- registry tokens --------------------------------------------------------------- */

/* the value of key="value" in a WWW-Authenticate challenge */
static bool challenge_param(const char *h, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = h; (p = strcasestr(p, key)); p += kl) {
        if ((p != h && p[-1] != ' ' && p[-1] != ',') || p[kl] != '=' || p[kl + 1] != '"')
            continue;
        const char *v = p + kl + 2, *e = strchr(v, '"');
        if (!e || (size_t)(e - v) >= cap)
            return false;
        memcpy(out, v, (size_t)(e - v));
        out[e - v] = '\0';
        return true;
    }
    return false;
}

/* Anonymous bearer token for a "Bearer realm=...,service=...,scope=..." challenge. */
static int fetch_token(const char *challenge, bool insecure, const atomic_int *cancel, char *auth,
                       struct qm_err *err)
{
    char realm[1024], service[256] = "", scope[512] = "";
    if (strncasecmp(challenge, "Bearer ", 7) || !challenge_param(challenge, "realm", realm, sizeof realm))
        return qm_err_set(err, "the registry wants an authentication qm cannot give (%s)", challenge),
               QM_PULL_EREMOTE;
    challenge_param(challenge, "service", service, sizeof service);
    challenge_param(challenge, "scope", scope, sizeof scope);
    char *es = curl_easy_escape(NULL, service, 0), *ec = curl_easy_escape(NULL, scope, 0);
    char url[2048];
    snprintf(url, sizeof url, "%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?", es ? es : "",
             ec ? ec : "");
    curl_free(es);
    curl_free(ec);
    struct qm_xfer_reply r;
    int rc = qm_xfer_request(url, false, "application/json", NULL, insecure, 64 << 10, cancel, &r, err);
    if (rc == 0) {
        json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
        const char *tok = json_string_value(json_object_get(j, "token"));
        if (!tok)
            tok = json_string_value(json_object_get(j, "access_token"));
        if (r.status == 200 && tok && strlen(tok) < AUTH_MAX - 32)
            snprintf(auth, AUTH_MAX, "Authorization: Bearer %s", tok);
        else
            rc = (qm_err_set(err, "the registry's token service %s answered HTTP %ld", realm, r.status), QM_PULL_EREMOTE);
        json_decref(j);
    }
    qm_xfer_reply_free(&r);
    return rc;
}

/* ---- from a registry ------------------------------------------------------------------ */

static int get_manifest(const struct qm_source *src, const struct qm_pull_opts *o, char *auth,
                        struct qm_xfer_reply *r, struct qm_err *err)
{
    char url[QM_SOURCE_URL_MAX + 512];
    snprintf(url, sizeof url, "%s/v2/%s/%s/manifests/%s", src->base, src->name.ns, src->name.model,
             src->name.tag);
    const char *accept = QM_MT_MANIFEST ", application/vnd.oci.image.manifest.v1+json";
    for (int round = 0;; round++) {
        int rc = qm_xfer_request(url, false, accept, *auth ? auth : NULL, src->insecure, MANIFEST_MAX,
                                 o->cancel, r, err);
        if (rc < 0)
            return rc;
        if (r->status == 401 && round == 0 && *r->www_auth) {
            char challenge[sizeof r->www_auth];
            memcpy(challenge, r->www_auth, sizeof challenge);
            qm_xfer_reply_free(r);
            if ((rc = fetch_token(challenge, src->insecure, o->cancel, auth, err)) < 0)
                return rc;
            continue;
        }
        if (r->status == 200 && r->body)
            return 0;
        char disp[QM_NAME_STR_MAX];
        qm_name_display(&src->name, disp, sizeof disp);
        qm_xfer_reply_free(r);
        if (r->status == 404)
            return qm_err_set(err, "pull model manifest: file does not exist: '%s' is not in %s", disp, src->base),
                   QM_PULL_ENOTFOUND;
        return qm_err_set(err, "pull model manifest: %s answered HTTP %ld", url, r->status), QM_PULL_EREMOTE;
    }
}

static int pull_registry(struct qm_store *s, const struct qm_source *src, const struct qm_pull_opts *o,
                         const struct qm_xfer_conf *conf, struct qm_err *err)
{
    char *auth = calloc(1, AUTH_MAX);
    if (!auth)
        return qm_err_set(err, "out of memory"), QM_ENOMEM;
    struct qm_xfer_reply r = {0};
    struct qm_manifest m = {0};
    struct qm_download **dl = NULL;
    int hold = -1, rc = get_manifest(src, o, auth, &r, err);
    if (rc < 0)
        goto out;
    if ((rc = qm_manifest_parse(&m, r.body, r.len, err)) < 0)
        goto out;
    size_t n = m.n_layers + 1;
    dl = calloc(n, sizeof *dl);
    if (!dl) {
        rc = (qm_err_set(err, "out of memory"), QM_ENOMEM);
        goto out;
    }
    if ((hold = qm_store_hold(s, err)) < 0) {
        rc = hold;
        goto out;
    }
    /* every missing blob starts at once; progress follows them in order */
    for (size_t i = 0; i < n; i++) {
        const struct qm_layer *l = i == 0 ? &m.config : &m.layers[i - 1];
        uint64_t have;
        if (qm_store_blob_exists(s, l->digest, &have) && have == l->size)
            continue;
        char url[QM_SOURCE_URL_MAX + 512];
        snprintf(url, sizeof url, "%s/v2/%s/%s/blobs/%s", src->base, src->name.ns, src->name.model, l->digest);
        struct qm_download_spec spec = {url, l->digest, l->size, true, src->insecure, *auth ? auth : NULL};
        if ((rc = qm_download_start(s, &spec, conf, &dl[i], err)) < 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct qm_layer *l = i == 0 ? &m.config : &m.layers[i - 1];
        struct blob_tick t = {.o = o, .digest = l->digest};
        snprintf(t.status, sizeof t.status, "pulling %.12s", l->digest + 7);
        if (!dl[i]) {
            report(o, t.status, l->digest, l->size, l->size, NULL);
            continue;
        }
        struct qm_download *d = dl[i];
        dl[i] = NULL;
        if ((rc = qm_download_wait(d, o->cancel, on_tick, &t, NULL, err)) < 0)
            goto out;
    }
    report(o, "verifying sha256 digest", NULL, 0, 0, NULL);
    for (size_t i = 0; i < n; i++) {
        const struct qm_layer *l = i == 0 ? &m.config : &m.layers[i - 1];
        uint64_t have;
        if (!qm_store_blob_exists(s, l->digest, &have) || have != l->size) {
            rc = (qm_err_set(err, "blob %s is missing or has the wrong size after its download", l->digest), QM_EIO);
            goto out;
        }
    }
    report(o, "writing manifest", NULL, 0, 0, NULL);
    rc = store_write_manifest(s, &src->name, r.body, r.len, err);
out:
    if (dl) {
        atomic_int stop = 1;   /* let go of the downloads not waited for */
        for (size_t i = 0; i < m.n_layers + 1; i++)
            if (dl[i])
                qm_download_wait(dl[i], &stop, NULL, NULL, NULL, NULL);
        free(dl);
    }
    if (hold >= 0)
        qm_store_release(hold);
    qm_manifest_free(&m);
    qm_xfer_reply_free(&r);
    free(auth);
    return rc;
}

/* ---- from a file URL ---------------------------------------------------------------------- */

static int pull_file(struct qm_store *s, const struct qm_source *src, const struct qm_pull_opts *o,
                     const struct qm_xfer_conf *conf, struct qm_err *err)
{
    struct qm_xfer_reply r = {0};
    int rc = QM_PULL_EREMOTE, chosen = -1;
    struct qm_err why = {{0}};
    for (int i = 0; i < src->n_urls && chosen < 0; i++) {
        rc = qm_xfer_request(src->urls[i], true, NULL, NULL, src->insecure, 0, o->cancel, &r, &why);
        if (rc == QM_XFER_ECANCELED)
            return qm_err_set(err, "cancelled"), rc;
        if (rc < 0) {
            qm_log_info("pull: %s", why.msg);
            continue;
        }
        /* a server that refuses HEAD may still serve GET: try it without a size */
        if (r.status == 405 || r.status == 501) {
            r.status = 200;
            r.length = r.linked_size = 0;
            r.ranges = false;
            r.linked_etag[0] = '\0';
        }
        if (r.status / 100 == 2)
            chosen = i;
        else {
            rc = r.status == 404 || r.status == 410 ? QM_PULL_ENOTFOUND : QM_PULL_EREMOTE;
            qm_err_set(&why, "%s: HTTP %ld", src->urls[i], r.status);
            qm_log_info("pull: %s", why.msg);
        }
    }
    if (chosen < 0) {
        if (rc == QM_PULL_ENOTFOUND)
            qm_err_set(err, "pull model manifest: file does not exist: %s", why.msg);
        else
            qm_err_set(err, "cannot fetch the model: %s", why.msg);
        return rc;
    }
    const char *url = src->urls[chosen];
    const char *digest = r.linked_etag[0] ? r.linked_etag : NULL;
    uint64_t size = r.linked_size ? r.linked_size : r.length;
    const char *file = strrchr(url, '/') + 1;
    struct blob_tick t = {.o = o, .digest = digest};
    if (digest)
        snprintf(t.status, sizeof t.status, "pulling %.12s", digest + 7);
    else
        snprintf(t.status, sizeof t.status, "pulling %.80s", file);
    int hold = qm_store_hold(s, err);
    if (hold < 0)
        return hold;
    char got[QM_DIGEST_STR_LEN + 1], full[QM_NAME_STR_MAX];
    uint64_t have;
    if (digest && qm_store_blob_exists(s, digest, &have) && (!size || have == size)) {
        report(o, t.status, digest, have, have, NULL);
        memcpy(got, digest, sizeof got);
    } else {
        struct qm_download_spec spec = {url, digest, size, r.ranges && size, src->insecure, NULL};
        struct qm_download *d;
        if ((rc = qm_download_start(s, &spec, conf, &d, err)) < 0 ||
            (rc = qm_download_wait(d, o->cancel, on_tick, &t, got, err)) < 0)
            goto out;
    }
    report(o, "verifying sha256 digest", NULL, 0, 0, NULL);
    report(o, "writing manifest", NULL, 0, 0, NULL);
    qm_name_full(&src->name, full, sizeof full);
    struct qm_create_spec cs = {.from = got};
    rc = qm_store_create(s, full, &cs, err);
out:
    qm_store_release(hold);
    return rc;
}

/* ---- entry points ---------------------------------------------------------------------------- */

int qm_pull(struct qm_store *s, const struct qm_pull_opts *o, struct qm_err *err)
{
    struct qm_source *src = calloc(1, sizeof *src);
    if (!src)
        return qm_err_set(err, "out of memory"), QM_ENOMEM;
    int rc = qm_source_resolve(o->name, o->insecure, src, err);
    if (rc < 0)
        goto out;
    if ((rc = store_check_writable(s, err)) < 0)
        goto out;
    struct qm_xfer_conf conf;
    qm_xfer_conf_read(&conf);
    report(o, "pulling manifest", NULL, 0, 0, NULL);
    rc = src->kind == QM_SOURCE_REGISTRY ? pull_registry(s, src, o, &conf, err) : pull_file(s, src, o, &conf, err);
    if (rc >= 0) {
        char disp[QM_NAME_STR_MAX];
        qm_name_display(&src->name, disp, sizeof disp);
        report(o, "success", NULL, 0, 0, disp);
        size_t removed = 0;
        qm_store_prune(s, &removed, NULL);   /* layers a replaced manifest no longer uses */
        rc = 0;
    }
out:
    free(src);
    return rc;
}

void qm_pull_shutdown(int timeout_ms)
{
    qm_download_shutdown(timeout_ms);
}
