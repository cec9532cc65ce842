/* client.h - the command line's HTTP client of the daemon (libcurl).
 *
 * Every subcommand but serve, runner and the engine tools talks to `qm serve`
 * over its HTTP API, as Ollama's CLI does, so a remote daemon (QM_HOST) works
 * the same as a local one.  Answers are JSON: one object, or NDJSON lines of
 * a streamed answer, each handed to a callback as it arrives. */
#ifndef QM_CLI_CLIENT_H
#define QM_CLI_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

enum {
    QM_CLIENT_ECONNECT = -60,   /* no daemon answers at the address */
    QM_CLIENT_EHTTP = -61,      /* the daemon answered with an error (err holds its message) */
    QM_CLIENT_ECANCELED = -62,  /* *cancel was set (Ctrl-C) */
};

struct qm_client {
    char base[512];          /* "http://127.0.0.1:11434": QM_HOST, else OLLAMA_HOST */
    char auth[600];          /* "Authorization: Bearer <QM_API_KEY>" or "" */
    int status;              /* HTTP status of the last call, 0 when none came */
    volatile sig_atomic_t *cancel;  /* when set and nonzero, aborts the transfer */
};

/* Read QM_HOST (or OLLAMA_HOST; "host", "host:port", "http://host:port",
 * default 127.0.0.1:11434; port default 11434) and QM_API_KEY. */
int qm_client_init(struct qm_client *c, struct qm_err *err);

/* Called with each JSON object of the answer, in order: a streamed NDJSON
 * answer gives one call per line, a plain JSON answer one call.  Return
 * nonzero to stop reading (the call then returns QM_CLIENT_ECANCELED). */
typedef int (*qm_client_json_cb)(json_t *obj, void *ud);

/* method path [body].  2xx: every object goes to cb (may be NULL), returns
 * 0.  A status >= 400, or an object with an "error" member in a stream:
 * QM_CLIENT_EHTTP with the daemon's message in err (c->status has the
 * code).  QM_CLIENT_ECONNECT when nothing listens. */
int qm_client_call(struct qm_client *c, const char *method, const char *path, json_t *body,
                   qm_client_json_cb cb, void *ud, struct qm_err *err);

/* qm_client_call for a one-object answer: *out gets it (the last one of a
 * stream; a new reference, NULL when the answer was empty). */
int qm_client_call_json(struct qm_client *c, const char *method, const char *path, json_t *body,
                        json_t **out, struct qm_err *err);

/* Whether c->base names this machine (127.x, localhost, ::1, 0.0.0.0, ::):
 * only then may qm_client_ensure_daemon start one. */
bool qm_client_is_local(const struct qm_client *c);

/* Whether a daemon answers GET /api/version (within about a second). */
bool qm_client_alive(struct qm_client *c);

/* When no daemon answers and the address is on this machine, start
 * `qm serve` in the background (detached, log in ~/.qm/serve.log), say so on
 * stderr, and wait until it answers.  0 when one answers. */
int qm_client_ensure_daemon(struct qm_client *c, struct qm_err *err);

/* Send a local file as a blob (HEAD first: nothing is sent when the daemon
 * has it).  digest_out (capacity 72) gets "sha256:<hex>", written once the
 * file is hashed, before the first progress call.  progress, when non-NULL,
 * is called as bytes go (done, total), and with (total, total) at the end,
 * also when nothing had to be sent. */
int qm_client_push_blob(struct qm_client *c, const char *path, char *digest_out,
                        void (*progress)(uint64_t done, uint64_t total, void *ud), void *ud,
                        struct qm_err *err);

/* Print "Error: <err->msg>" on stderr, as Ollama's CLI reports a failure;
 * returns 1, the exit status of a failed command. */
int qm_cli_fail(const struct qm_err *err);

#endif
