/* pull.h - `qm pull` as a function, for `qm run` too (it pulls a model it
 * does not find, as Ollama's does). */
#ifndef QM_CLI_PULL_H
#define QM_CLI_PULL_H

#include <stdbool.h>

#include "client.h"

/* POST /api/pull {"model": name, "insecure": insecure, "stream": true},
 * drawing a progress bar per layer on stderr (size, rate, ETA; plain lines
 * when stderr is not a terminal) and printing "success" at the end.
 * 0, or a negative code with the daemon's message in err. */
int qm_cli_pull(struct qm_client *c, const char *name, bool insecure, struct qm_err *err);

#endif
