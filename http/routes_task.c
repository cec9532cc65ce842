/* routes_task.c - long jobs (pulls, creates) on threads of their own,
 * reporting progress to the client as NDJSON.
 *
 * The job's thread appends JSON objects to a queue under a mutex and wakes
 * the loop with a uv_async; the loop writes them out.  The libuv thread
 * pool is not used: a pull may take hours and would starve the store calls
 * that share the pool. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "pull.h"
#include "routes.h"

struct line {
    struct line *next;
    json_t *obj;
};

struct qm_task {
    struct qm_task *next;          /* in r->tasks */
    struct qm_routes *r;
    struct qm_http_req *req;       /* NULL once the client is gone */
    bool stream, began;
    uv_async_t async;
    pthread_t thread;
    qm_task_run run;
    void *arg;
    void (*free_arg)(void *arg);
    atomic_int cancel;
    /* under mu */
    pthread_mutex_t mu;
    struct line *head, **tail;
    bool finished;
    int status;
    struct qm_err err;
    json_t *last;                  /* not streamed: the object answered at the end */
};

void qm_task_emit(struct qm_task *t, json_t *obj)
{
    struct line *l = obj ? malloc(sizeof *l) : NULL;
    if (!l) {
        json_decref(obj);
        return;
    }
    l->next = NULL;
    l->obj = obj;
    pthread_mutex_lock(&t->mu);
    *t->tail = l;
    t->tail = &l->next;
    pthread_mutex_unlock(&t->mu);
    uv_async_send(&t->async);
}

const atomic_int *qm_task_cancelled(struct qm_task *t)
{
    return &t->cancel;
}

struct qm_routes *qm_task_routes(struct qm_task *t)
{
    return t->r;
}

static void *thread_main(void *arg)
{
    struct qm_task *t = arg;
    struct qm_err err = {{0}};
    int status = t->run(t, t->arg, &err);
    pthread_mutex_lock(&t->mu);
    t->finished = true;
    t->status = status;
    t->err = err;
    pthread_mutex_unlock(&t->mu);
    uv_async_send(&t->async);
    return NULL;
}

static void task_free(uv_handle_t *h)
{
    struct qm_task *t = h->data;
    for (struct line *l = t->head, *n; l; l = n) {
        n = l->next;
        json_decref(l->obj);
        free(l);
    }
    json_decref(t->last);
    if (t->free_arg)
        t->free_arg(t->arg);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static void unlink_task(struct qm_task *t)
{
    for (struct qm_task **pp = &t->r->tasks; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

static void write_line(struct qm_task *t, json_t *obj)
{
    if (!t->req)
        return;
    if (!t->stream) {
        json_decref(t->last);
        t->last = json_incref(obj);
        return;
    }
    if (!t->began) {
        qm_http_stream_begin(t->req, 200, "application/x-ndjson");
        t->began = true;
    }
    char *s = json_dumps(obj, JSON_COMPACT);
    size_t n = s ? strlen(s) : 0;
    char *line = s ? malloc(n + 1) : NULL;
    if (line) {
        memcpy(line, s, n);
        line[n] = '\n';
        qm_http_stream_write(t->req, line, n + 1);
    }
    free(line);
    free(s);
}

static void finish(struct qm_task *t)
{
    if (t->req) {
        if (t->stream) {
            if (t->status) {
                json_t *e = json_pack("{s:s}", "error", t->err.msg);
                if (!t->began) {
                    /* nothing sent yet: a plain error answer carries the status */
                    qm_http_respond_error(t->req, t->status, t->err.msg);
                    json_decref(e);
                    t->req = NULL;
                } else {
                    write_line(t, e);
                    json_decref(e);
                }
            }
            if (t->req) {
                if (!t->began)
                    qm_http_stream_begin(t->req, 200, "application/x-ndjson");
                qm_http_stream_end(t->req);
            }
        } else if (t->status) {
            qm_http_respond_error(t->req, t->status, t->err.msg);
        } else {
            qm_http_respond_json(t->req, 200, t->last ? json_incref(t->last) : json_object());
        }
        t->req = NULL;
    }
    pthread_join(t->thread, NULL);
    unlink_task(t);
    uv_close((uv_handle_t *)&t->async, task_free);
}

static void on_async(uv_async_t *a)
{
    struct qm_task *t = a->data;
    pthread_mutex_lock(&t->mu);
    struct line *l = t->head;
    t->head = NULL;
    t->tail = &t->head;
    bool finished = t->finished;
    pthread_mutex_unlock(&t->mu);
    for (struct line *n; l; l = n) {
        n = l->next;
        write_line(t, l->obj);
        json_decref(l->obj);
        free(l);
    }
    if (finished)
        finish(t);
}

static void on_close(struct qm_http_req *req, void *ud)
{
    struct qm_task *t = ud;
    (void)req;
    atomic_store(&t->cancel, 1);
    qm_http_req_release(t->req);
    t->req = NULL;
}

void qm_task_start(struct qm_routes *r, struct qm_http_req *req, bool stream, qm_task_run run, void *arg,
                   void (*free_arg)(void *arg))
{
    struct qm_task *t = calloc(1, sizeof *t);
    if (!t) {
        if (free_arg)
            free_arg(arg);
        qm_http_respond_error(req, 500, "out of memory");
        return;
    }
    t->r = r;
    t->req = req;
    t->stream = stream;
    t->run = run;
    t->arg = arg;
    t->free_arg = free_arg;
    t->tail = &t->head;
    pthread_mutex_init(&t->mu, NULL);
    t->async.data = t;
    uv_async_init(r->loop, &t->async, on_async);
    t->next = r->tasks;
    r->tasks = t;
    qm_http_req_on_close(req, on_close, t);
    if (pthread_create(&t->thread, NULL, thread_main, t) != 0) {
        qm_http_respond_error(req, 500, "cannot start a thread");
        t->req = NULL;
        unlink_task(t);
        uv_close((uv_handle_t *)&t->async, task_free);
        return;
    }
}

void qm_routes_shutdown(struct qm_routes *r)
{
    for (struct qm_task *t = r->tasks; t; t = t->next)
        atomic_store(&t->cancel, 1);
}

void qm_routes_close(struct qm_routes *r)
{
    qm_pull_shutdown(5000);   /* downloads save their progress for the next start */
    while (r->tasks) {
        struct qm_task *t = r->tasks;
        atomic_store(&t->cancel, 1);
        if (t->req) {
            qm_http_req_release(t->req);
            t->req = NULL;
        }
        finish(t);   /* joins the thread; the queued lines are freed with it */
    }
}

static void free_manage(void *arg)
{
    qm_api_manage_free(arg);
    free(arg);
}

void qm_task_start_manage(struct qm_routes *r, struct qm_http_req *req, int kind, qm_task_run run)
{
    struct qm_api_manage *m = calloc(1, sizeof *m);
    if (!m) {
        qm_http_respond_error(req, 500, "out of memory");
        return;
    }
    size_t len;
    const char *body = qm_http_req_body(req, &len);
    struct qm_err err = {{0}};
    int st = qm_api_decode_manage((enum qm_api_manage_kind)kind, body, len, m, &err);
    if (st) {
        qm_http_respond_error(req, st, err.msg);
        free(m);
        return;
    }
    qm_task_start(r, req, m->stream, run, m, free_manage);
}
