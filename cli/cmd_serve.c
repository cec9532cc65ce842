/* cmd_serve.c - `qm serve`: the daemon.
 *
 * One libuv loop: the HTTP server, the scheduler's timers and the runner
 * processes' sockets all live on it.  Settings come from QM_* (or OLLAMA_*)
 * variables.  Under systemd: listening sockets from sd_listen_fds, READY=1
 * once listening with the store open, STATUS= lines, WATCHDOG=1 pings,
 * STOPPING=1 on SIGTERM, which drains in-flight requests for
 * QM_SHUTDOWN_TIMEOUT before the runners are stopped and qm exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include "commands.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "routes.h"
#include "server.h"
#include "store.h"

struct serve {
    uv_loop_t *loop;
    struct qm_config cfg;
    struct qm_store *store;
    struct qm_daemon *daemon;
    struct qm_http_server *http;
    struct qm_routes routes;
    uv_signal_t sigterm, sigint;
    uv_timer_t watchdog, status;
    bool stopping;
    int loaded_shown;
};

static void status_cb(uv_timer_t *t)
{
    struct serve *s = t->data;
    int n = qm_daemon_n_loaded(s->daemon);
    if (n != s->loaded_shown) {
        sd_notifyf(0, "STATUS=%d model%s loaded", n, n == 1 ? "" : "s");
        s->loaded_shown = n;
    }
}

static void watchdog_cb(uv_timer_t *t)
{
    (void)t;
    sd_notify(0, "WATCHDOG=1");
}

static void drained(void *ud)
{
    struct serve *s = ud;
    qm_log_info("shutdown: every runner has stopped");
    qm_routes_close(&s->routes);
    qm_http_server_free(s->http);
    s->http = NULL;
    uv_close((uv_handle_t *)&s->watchdog, NULL);
    uv_close((uv_handle_t *)&s->status, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    qm_daemon_free(s->daemon);
    s->daemon = NULL;
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct serve *s = h->data;
    if (s->stopping) {
        if (sig == SIGINT) {   /* a second Ctrl-C: no more waiting */
            qm_log_warn("shutdown: stopping now");
            qm_http_close_all(s->http);
        }
        return;
    }
    s->stopping = true;
    qm_log_info("shutdown (%s): finishing %zu request(s)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                qm_http_n_active(s->http));
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
    qm_http_stop_accepting(s->http);
    qm_routes_shutdown(&s->routes);
    qm_daemon_shutdown(s->daemon, s->cfg.shutdown_timeout_ns, drained, s);
}

static int listen_all(struct serve *s, struct qm_err *err)
{
    int n = sd_listen_fds(1);
    if (n > 0) {
        for (int i = 0; i < n; i++)
            if (qm_http_listen_fd(s->http, SD_LISTEN_FDS_START + i, err) < 0)
                return -1;
        qm_log_info("listening on %d socket(s) from systemd", n);
        return 0;
    }
    if (qm_http_listen(s->http, s->cfg.host, err) < 0)
        return -1;
    qm_log_info("listening on %s (port %d)", s->cfg.host, qm_http_port(s->http));
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    struct serve s = {0};
    struct qm_err err = {{0}};
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: qm serve\n  settings come from the environment: QM_HOST, QM_MODELS, QM_NUM_PARALLEL,\n"
               "  QM_MAX_LOADED_MODELS, QM_KEEP_ALIVE, QM_MAX_QUEUE, QM_CONTEXT_LENGTH, ... (README)\n");
        return 0;
    }
    if (qm_config_from_env(&s.cfg, NULL, &err) < 0) {
        fprintf(stderr, "qm serve: %s\n", err.msg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    qm_http_raise_nofile();
    if (qm_store_open(&s.store, s.cfg.models, &err) < 0) {
        fprintf(stderr, "qm serve: the model store %s: %s\n", s.cfg.models, err.msg);
        return 1;
    }
    if (qm_store_readonly(s.store))
        qm_log_warn("the model store %s is read-only: models can be run, not created or deleted", s.cfg.models);
    s.loop = uv_default_loop();
    if (!(s.daemon = qm_daemon_new(s.loop, &s.cfg))) {
        fprintf(stderr, "qm serve: out of memory\n");
        return 1;
    }
    s.routes = (struct qm_routes){.loop = s.loop, .store = s.store, .daemon = s.daemon};
    struct qm_http_config hc;
    qm_http_config_defaults(&hc);
    hc.origins = s.cfg.origins;
    hc.api_key = s.cfg.api_key;
    struct qm_http_handlers h;
    qm_routes_handlers(&s.routes, &h);
    if (!(s.http = qm_http_server_new(s.loop, &hc, &h, &err)) || listen_all(&s, &err) < 0) {
        fprintf(stderr, "qm serve: %s\n", err.msg);
        return 1;
    }
    uv_signal_init(s.loop, &s.sigterm);
    uv_signal_init(s.loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_timer_init(s.loop, &s.status);
    uv_timer_init(s.loop, &s.watchdog);
    s.status.data = s.watchdog.data = &s;
    uv_timer_start(&s.status, status_cb, 1000, 1000);
    uv_unref((uv_handle_t *)&s.status);
    uint64_t wd_usec = 0;
    if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec >= 2000) {
        uv_timer_start(&s.watchdog, watchdog_cb, 0, wd_usec / 2000);
        uv_unref((uv_handle_t *)&s.watchdog);
    }
    for (int i = 0; i < s.cfg.n_preload; i++)
        qm_routes_preload(&s.routes, s.cfg.preload[i]);
    sd_notify(0, "READY=1\nSTATUS=0 models loaded");
    qm_log_info("qm %s serving the models in %s", QM_VERSION, s.cfg.models);
    uv_run(s.loop, UV_RUN_DEFAULT);
    uv_loop_close(s.loop);
    qm_store_close(s.store);
    qm_log_info("qm serve: stopped");
    return 0;
}
