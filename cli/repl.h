/* repl.h - `qm run`'s chat session: the conversation and its settings
 * (cmd_run.c: options, one chat turn, model checks) and the interactive
 * loop over it (repl.c: line editing with libedit, the /commands). */
#ifndef QM_CLI_REPL_H
#define QM_CLI_REPL_H

#include <signal.h>
#include <stdbool.h>

#include <jansson.h>

#include "client.h"

struct run_session {
    struct qm_client c;
    char *model;          /* as the user named it */
    json_t *history;      /* the turns so far: user and assistant messages, in order */
    char *system;         /* `/set system`: sent as a first system message; NULL when none */
    json_t *options;      /* `/set parameter`: typed, sent as "options" */
    bool json_format;     /* --format json, `/set format json` */
    json_t *keep_alive;   /* --keepalive, sent with every request; NULL when not given */
    bool verbose;         /* timing statistics after each answer (on stderr) */
    bool wordwrap;        /* wrap answers at word boundaries (only where stdout is a terminal) */
    bool interactive;     /* the REPL: a blank line after each answer */
};

/* Set by SIGINT in the REPL; the client's cancel flag while a request runs. */
extern volatile sig_atomic_t run_interrupted;

/* One chat turn: POST /api/chat with the history and prompt, the answer
 * streamed to stdout as it comes.  0: answered, and both messages joined
 * the history.  QM_CLIENT_ECANCELED: stopped by Ctrl-C; the history is
 * left as it was (neither the prompt nor the partial answer is kept).
 * Other negative codes: an error, in err. */
int run_turn(struct run_session *s, const char *prompt, struct qm_err *err);

/* POST /api/show for model; *out gets the answer (the caller frees it). */
int run_show(struct run_session *s, const char *model, json_t **out, struct qm_err *err);

/* Load the model with an empty /api/generate, so that the first answer does
 * not wait for it. */
int run_load(struct run_session *s, struct qm_err *err);

/* The interactive loop on the terminal; returns the exit status. */
int run_repl(struct run_session *s);

#endif
