/* routes.c - which endpoint a request is for. */
#include "routes.h"

#include <string.h>

#include "api.h"
#include "log.h"
#include "store.h"

enum { MODELS_TAGS, MODELS_OAI_LIST, MODELS_OAI_ONE };

int qm_routes_store_status(int rc)
{
    if (rc == QM_STORE_ENOTFOUND)
        return 404;
    if (rc == QM_EINVAL || rc == QM_STORE_EEXIST)
        return 400;
    return 500;
}

static bool is(const char *method, const char *path, const char *m, const char *p)
{
    return !strcmp(method, m) && !strcmp(path, p);
}

static void handle(struct qm_http_req *req, void *ud)
{
    struct qm_routes *r = ud;
    const char *m = qm_http_req_method(req), *p = qm_http_req_path(req);
    qm_log_debug("%s %s from %s", m, p, qm_http_req_remote(req));
    if ((!strcmp(m, "GET") || !strcmp(m, "HEAD")) && !strcmp(p, "/")) {
        static const char ok[] = "qm is running";
        qm_http_respond(req, 200, "text/plain; charset=utf-8", ok, sizeof ok - 1);
    } else if ((!strcmp(m, "GET") || !strcmp(m, "HEAD")) && !strcmp(p, "/api/version")) {
        qm_http_respond_json(req, 200, qm_api_version_json(QM_VERSION));
    } else if (is(m, p, "POST", "/api/generate")) {
        qm_routes_generate(r, req, QM_API_GENERATE);
    } else if (is(m, p, "POST", "/api/chat")) {
        qm_routes_generate(r, req, QM_API_CHAT);
    } else if (is(m, p, "POST", "/api/embed")) {
        qm_routes_generate(r, req, QM_API_EMBED);
    } else if (is(m, p, "POST", "/api/embeddings")) {
        qm_routes_generate(r, req, QM_API_EMBEDDINGS);
    } else if (is(m, p, "POST", "/v1/chat/completions")) {
        qm_routes_generate(r, req, QM_API_OAI_CHAT);
    } else if (is(m, p, "POST", "/v1/completions")) {
        qm_routes_generate(r, req, QM_API_OAI_COMPLETION);
    } else if (is(m, p, "POST", "/v1/embeddings")) {
        qm_routes_generate(r, req, QM_API_OAI_EMBED);
    } else if ((!strcmp(m, "GET") || !strcmp(m, "HEAD")) && !strcmp(p, "/api/tags")) {
        qm_routes_models(r, req, MODELS_TAGS, NULL);
    } else if (is(m, p, "GET", "/v1/models")) {
        qm_routes_models(r, req, MODELS_OAI_LIST, NULL);
    } else if (!strcmp(m, "GET") && !strncmp(p, "/v1/models/", 11) && p[11]) {
        qm_routes_models(r, req, MODELS_OAI_ONE, p + 11);
    } else if (is(m, p, "GET", "/api/ps")) {
        qm_routes_ps(r, req);
    } else if (is(m, p, "POST", "/api/show")) {
        qm_routes_show(r, req);
    } else if (is(m, p, "POST", "/api/copy")) {
        qm_routes_copy(r, req);
    } else if (is(m, p, "DELETE", "/api/delete")) {
        qm_routes_delete(r, req);
    } else if (is(m, p, "POST", "/api/create")) {
        qm_routes_create(r, req);
    } else if ((!strcmp(m, "POST") || !strcmp(m, "HEAD")) && !strncmp(p, "/api/blobs/", 11)) {
        qm_routes_blob(r, req, p + 11);
    } else if (is(m, p, "POST", "/api/pull")) {
        qm_routes_pull(r, req);
    } else if (!strcmp(p, "/api/push")) {
        qm_http_respond_error(req, 501, "pushing models is not implemented");
    } else {
        qm_http_respond_error(req, 404, "404 page not found");
    }
}

static enum qm_http_body_mode body_mode(const char *method, const char *path, void *ud)
{
    (void)ud;
    return !strcmp(method, "POST") && !strncmp(path, "/api/blobs/", 11) ? QM_HTTP_BODY_STREAM
                                                                          : QM_HTTP_BODY_BUFFER;
}

void qm_routes_handlers(struct qm_routes *r, struct qm_http_handlers *h)
{
    *h = (struct qm_http_handlers){.handler = handle, .body_mode = body_mode, .ud = r};
}
