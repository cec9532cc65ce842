/* source.c - from what the user typed to where a pull fetches (source.h). */
#include "source.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "catalog.h"

static const char *endpoint(const char *var, const char *fallback)
{
    const char *e = getenv(var);
    return e && *e ? e : fallback;
}

/* base + rest with base's trailing slashes dropped */
static int join(char *out, const char *base, const char *rest, struct qm_err *err)
{
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    int n = snprintf(out, QM_SOURCE_URL_MAX, "%.*s%s", (int)bl, base, rest);
    if (n < 0 || n >= QM_SOURCE_URL_MAX)
        return qm_err_set(err, "URL too long"), QM_EINVAL;
    return 0;
}

static int hf_url(char *out, const char *repo, const char *rev, const char *file, struct qm_err *err)
{
    char rest[QM_SOURCE_URL_MAX];
    snprintf(rest, sizeof rest, "/%s/resolve/%s/%s", repo, rev, file);
    return join(out, endpoint("HF_ENDPOINT", "https://huggingface.co"), rest, err);
}

static int ms_url(char *out, const char *repo, const char *rev, const char *file, struct qm_err *err)
{
    char rest[QM_SOURCE_URL_MAX];
    snprintf(rest, sizeof rest, "/models/%s/resolve/%s/%s", repo, rev, file);
    return join(out, endpoint("MODELSCOPE_ENDPOINT", "https://modelscope.cn"), rest, err);
}

/* "Qwen2.5-0.5B-Instruct-Q4_K_M" -> a valid tag/model part: lower case,
 * other characters as '-', at most 80 bytes */
static void part_from(char *out, const char *s, size_t len)
{
    if (len > QM_NAME_PART_MAX)
        len = QM_NAME_PART_MAX;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = isalnum(c) || c == '_' || (i && (c == '.' || c == '-')) ? (char)tolower(c) : '_';
    }
    out[len] = '\0';
}

static int set_name(struct qm_source *o, const char *host, const char *ns, const char *model,
                    const char *tag, struct qm_err *err)
{
    char full[QM_NAME_STR_MAX + 8];
    snprintf(full, sizeof full, "%s/%s/%s:%s", host, ns, model, tag);
    return qm_name_parse(&o->name, full, err);
}

/* path segments of an https URL; *n gets how many (at most max) */
static int split_path(char *path, char **seg, int max)
{
    int n = 0;
    for (char *p = strtok(path, "/"); p && n < max; p = strtok(NULL, "/"))
        seg[n++] = p;
    return n;
}

static bool ends_with_gguf(const char *path)
{
    size_t n = strlen(path);
    return n > 5 && !strcasecmp(path + n - 5, ".gguf");
}

static int from_url(const char *input, bool insecure, struct qm_source *o, struct qm_err *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    int rc = QM_EINVAL;
    if (!u || curl_url_set(u, CURLUPART_URL, input, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
        qm_err_set(err, "'%.200s' is not a valid URL", input);
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    bool plain = !strcasecmp(scheme, "http");
    if (!plain && strcasecmp(scheme, "https")) {
        qm_err_set(err, "cannot pull from a %s:// URL (http and https only)", scheme);
        goto out;
    }
    o->insecure = insecure;
    char hostport[QM_NAME_HOST_MAX + 1];
    snprintf(hostport, sizeof hostport, "%s%s%s", host, port ? ":" : "", port ? port : "");

    if (!ends_with_gguf(path)) {
        /* http://host/ns/model:tag: an Ollama-protocol registry */
        rc = qm_name_parse(&o->name, input, err);
        if (rc == 0) {
            o->kind = QM_SOURCE_REGISTRY;
            snprintf(o->base, sizeof o->base, "%s://%s", plain ? "http" : "https", o->name.host);
        }
        goto out;
    }
    char *dup = strdup(path), *seg[64];
    if (!dup) {
        qm_err_set(err, "out of memory");
        rc = QM_ENOMEM;
        goto out;
    }
    int n = split_path(dup, seg, 64);
    for (int i = 0; i < n; i++)
        if (!strcmp(seg[i], "..") || !strcmp(seg[i], ".")) {
            qm_err_set(err, "'%.200s': a URL path may not hold '.' or '..' segments", input);
            free(dup);
            goto out;
        }
    const char *file = seg[n - 1];
    char stem[QM_NAME_PART_MAX + 1];
    part_from(stem, file, strlen(file) - 5);
    o->kind = QM_SOURCE_FILE;
    o->n_urls = 1;
    bool hf = !strcasecmp(host, "huggingface.co") || !strcasecmp(host, "hf.co") ||
              !strcasecmp(host, "www.huggingface.co");
    bool ms = !strcasecmp(host, "modelscope.cn") || !strcasecmp(host, "www.modelscope.cn");
    int skip = ms ? 1 : 0;   /* ModelScope paths start with /models */
    if ((hf || ms) && n >= skip + 5 && (!ms || !strcmp(seg[0], "models")) &&
        (!strcmp(seg[skip + 2], "resolve") || !strcmp(seg[skip + 2], "blob"))) {
        char repo[512], rest[QM_SOURCE_URL_MAX] = "";
        snprintf(repo, sizeof repo, "%s/%s", seg[skip], seg[skip + 1]);
        for (int i = skip + 4; i < n; i++) {
            strncat(rest, i > skip + 4 ? "/" : "", sizeof rest - strlen(rest) - 1);
            strncat(rest, seg[i], sizeof rest - strlen(rest) - 1);
        }
        char model[QM_NAME_PART_MAX + 1];
        snprintf(model, sizeof model, "%s", seg[skip + 1]);
        rc = (hf ? hf_url : ms_url)(o->urls[0], repo, seg[skip + 3], rest, err);
        if (rc == 0)
            rc = set_name(o, hf ? "hf.co" : "modelscope.cn", seg[skip], model, stem, err);
    } else {
        rc = snprintf(o->urls[0], QM_SOURCE_URL_MAX, "%s", input) >= QM_SOURCE_URL_MAX
                 ? (qm_err_set(err, "URL too long"), QM_EINVAL)
                 : set_name(o, hostport, "files", stem, "latest", err);
    }
    free(dup);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

int qm_source_resolve(const char *input, bool insecure, struct qm_source *o, struct qm_err *err)
{
    memset(o, 0, sizeof *o);
    if (!strncasecmp(input, "http://", 7) || !strncasecmp(input, "https://", 8))
        return from_url(input, insecure, o, err);
    int rc = qm_name_parse(&o->name, input, err);
    if (rc < 0)
        return rc;
    o->insecure = insecure;
    const struct qm_name *n = &o->name;
    if (!strcmp(n->host, QM_NAME_DEFAULT_HOST) && !strcmp(n->ns, QM_NAME_DEFAULT_NAMESPACE)) {
        struct qm_catalog_hit hit;
        rc = qm_catalog_lookup(n->model, n->tag, &hit, err);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            o->kind = QM_SOURCE_FILE;
            size_t tl = strlen(hit.tag);
            if (tl > QM_NAME_PART_MAX || !qm_name_tag_valid(hit.tag))
                return qm_err_set(err, "the catalog's tag '%.80s' is not a valid tag", hit.tag);
            memcpy(o->name.tag, hit.tag, tl + 1);
            bool ms_first = !strcasecmp(endpoint("QM_PULL_SOURCE", ""), "modelscope");
            char hf[QM_SOURCE_URL_MAX] = "", ms[QM_SOURCE_URL_MAX] = "";
            if (*hit.huggingface && (rc = hf_url(hf, hit.huggingface, "main", hit.file, err)) < 0)
                return rc;
            if (*hit.modelscope && (rc = ms_url(ms, hit.modelscope, "master", hit.file, err)) < 0)
                return rc;
            const char *order[2] = {ms_first ? ms : hf, ms_first ? hf : ms};
            for (int i = 0; i < 2; i++)
                if (*order[i])
                    memcpy(o->urls[o->n_urls++], order[i], QM_SOURCE_URL_MAX);
            return 0;
        }
    }
    o->kind = QM_SOURCE_REGISTRY;
    snprintf(o->base, sizeof o->base, "%s://%s",
             !strcmp(n->scheme, "http") || (insecure && strcmp(n->scheme, "https")) ? "http" : "https",
             n->host);
    return 0;
}
