/* server.c - the server's life: configuration, listeners, shutdown.
 *
 * The server struct outlives everything that points to it: listeners,
 * connections and requests each count in srv->live, and qm_http_server_free
 * only marks it; the last close callback (or the handler finishing the last
 * request it holds) frees it.  So a handler that finishes a request after
 * the server was told to go never touches freed memory. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "log.h"
#include "server_int.h"

void qm_http_config_defaults(struct qm_http_config *cfg)
{
    *cfg = (struct qm_http_config){
        .max_body = (size_t)32 << 20,
        .max_header_bytes = (size_t)64 << 10,
        .max_headers = 100,
        .header_timeout_ms = 10 * 1000,
        .idle_timeout_ms = 5 * 60 * 1000,
    };
}

static void destroy(struct qm_http_server *srv)
{
    http_cors_free(&srv->cors);
    free(srv->origins);
    free(srv->api_key);
    free(srv);
}

void http_server_unlive(struct qm_http_server *srv)
{
    if (--srv->live == 0 && srv->freeing)
        destroy(srv);
}

struct qm_http_server *qm_http_server_new(uv_loop_t *loop, const struct qm_http_config *cfg,
                                          const struct qm_http_handlers *h, struct qm_err *err)
{
    if (!loop || !h || !h->handler) {
        qm_err_set(err, "the HTTP server needs a loop and a handler");
        return NULL;
    }
    struct qm_http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        qm_err_set(err, "out of memory creating the HTTP server");
        return NULL;
    }
    srv->loop = loop;
    srv->h = *h;
    /* Zero fields take the defaults, so a partly filled config is safe. */
    struct qm_http_config d;
    qm_http_config_defaults(&d);
    if (cfg) {
        srv->cfg = *cfg;
        if (!cfg->max_body) srv->cfg.max_body = d.max_body;
        if (!cfg->max_header_bytes) srv->cfg.max_header_bytes = d.max_header_bytes;
        if (cfg->max_headers <= 0) srv->cfg.max_headers = d.max_headers;
        if (!cfg->header_timeout_ms) srv->cfg.header_timeout_ms = d.header_timeout_ms;
        if (!cfg->idle_timeout_ms) srv->cfg.idle_timeout_ms = d.idle_timeout_ms;
    } else {
        srv->cfg = d;
    }
    if ((srv->cfg.origins && !(srv->origins = strdup(srv->cfg.origins))) ||
        (srv->cfg.api_key && !(srv->api_key = strdup(srv->cfg.api_key)))) {
        qm_err_set(err, "out of memory creating the HTTP server");
        destroy(srv);
        return NULL;
    }
    srv->cfg.origins = srv->origins;
    srv->cfg.api_key = srv->api_key;
    if (http_cors_init(&srv->cors, srv->origins, err) != 0 ||
        http_auth_init(&srv->auth, srv->api_key, err) != 0) {
        destroy(srv);
        return NULL;
    }
    http_conn_settings(&srv->settings);
    /* libuv writes with write(2): a client that vanished mid-response would
     * raise SIGPIPE and kill the daemon.  Ignored, the write fails with EPIPE
     * instead.  (uv_spawn resets signals in children, so runners keep it.) */
    signal(SIGPIPE, SIG_IGN);
    return srv;
}

/* ---- listeners ---------------------------------------------------------------- */

static void on_listener_closed(uv_handle_t *h)
{
    struct http_listener *l = h->data;
    struct qm_http_server *srv = l->srv;
    free(l);
    http_server_unlive(srv);
}

static void on_connection(uv_stream_t *s, int status)
{
    struct http_listener *l = s->data;
    if (status < 0) {
        qm_log_warn("http: accept failed: %s", uv_strerror(status));
        return;
    }
    http_conn_accept(l->srv, s, l->loopback);
}

static struct http_listener *listener_new(struct qm_http_server *srv)
{
    struct http_listener *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->srv = srv;
    uv_tcp_init(srv->loop, &l->tcp);
    l->tcp.data = l;
    srv->live++;
    return l;
}

static int listener_port(const struct http_listener *l, bool *loopback)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (loopback)
            *loopback = IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    if (loopback)
        *loopback = (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Append, so that qm_http_port reports the first address listened on.  As
 * Ollama, only a loopback listener checks Host: one bound to all addresses
 * was opened to other names on purpose. */
static void listener_add(struct qm_http_server *srv, struct http_listener *l)
{
    listener_port(l, &l->loopback);
    struct http_listener **p = &srv->listeners;
    while (*p)
        p = &(*p)->next;
    *p = l;
}

int qm_http_listen(struct qm_http_server *srv, const char *hostport, struct qm_err *err)
{
    char host[256];
    int port;
    struct sockaddr_storage ss;
    if (qm_http_parse_hostport(hostport, host, sizeof host, &port, err) != 0 ||
        http_resolve(host, port, &ss, err) != 0)
        return QM_EINVAL;
    struct http_listener *l = listener_new(srv);
    if (!l) {
        qm_err_set(err, "out of memory listening on %s", hostport);
        return QM_ENOMEM;
    }
    /* libuv opens sockets with SOCK_CLOEXEC and sets SO_REUSEADDR; a bind
     * error may only show at listen. */
    int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, HTTP_BACKLOG, on_connection);
    if (rc != 0) {
        qm_err_set(err, "cannot listen on %s (%s:%d): %s", hostport ? hostport : "", host, port,
                   uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return QM_EIO;
    }
    listener_add(srv, l);
    qm_log_info("http: listening on %s (port %d)", host, listener_port(l, NULL));
    return 0;
}

int qm_http_listen_fd(struct qm_http_server *srv, int fd, struct qm_err *err)
{
    int accepting = 0;
    socklen_t len = sizeof accepting;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) {
        qm_err_set(err, "file descriptor %d is not a listening socket", fd);
        return QM_EINVAL;
    }
    /* Inherited descriptors (systemd's) are not close-on-exec; the runners
     * the daemon spawns must not hold the listening socket. */
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) {
        qm_err_set(err, "cannot set close-on-exec on descriptor %d", fd);
        return QM_EIO;
    }
    struct http_listener *l = listener_new(srv);
    if (!l) {
        qm_err_set(err, "out of memory adopting descriptor %d", fd);
        return QM_ENOMEM;
    }
    int rc = uv_tcp_open(&l->tcp, fd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, HTTP_BACKLOG, on_connection);
    if (rc != 0) {
        qm_err_set(err, "cannot listen on descriptor %d: %s", fd, uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return QM_EIO;
    }
    listener_add(srv, l);
    qm_log_info("http: listening on inherited descriptor %d (port %d)", fd, listener_port(l, NULL));
    return 0;
}

int qm_http_port(const struct qm_http_server *srv)
{
    return srv->listeners ? listener_port(srv->listeners, NULL) : -1;
}

/* ---- shutdown ------------------------------------------------------------------ */

static void close_listeners(struct qm_http_server *srv)
{
    struct http_listener *l = srv->listeners;
    srv->listeners = NULL;
    while (l) {
        struct http_listener *next = l->next;
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        l = next;
    }
}

void qm_http_stop_accepting(struct qm_http_server *srv)
{
    srv->stopping = true;
    close_listeners(srv);
    for (struct http_conn *c = srv->conns; c; c = c->next) {
        if (!c->req && c->in_off == c->in_len)
            http_conn_close(c);
        else
            c->close_after = true;
    }
}

size_t qm_http_n_active(const struct qm_http_server *srv)
{
    return srv->n_active;
}

void qm_http_close_all(struct qm_http_server *srv)
{
    close_listeners(srv);
    for (struct http_conn *c = srv->conns; c; c = c->next)
        http_conn_close(c);
}

void qm_http_server_free(struct qm_http_server *srv)
{
    if (!srv)
        return;
    srv->stopping = srv->freeing = true;
    qm_http_close_all(srv);
    if (srv->live == 0)
        destroy(srv);
}

int64_t qm_http_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = rl;
        /* "unlimited" is refused for files; the kernel's cap is nr_open */
        want.rlim_cur = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    return (int64_t)rl.rlim_cur;
}
