/* params.h - model parameters (Modelfile PARAMETER, `/set parameter`).
 *
 * Parameters are stored as a JSON object (the params layer) with the types
 * the runner expects, so text values are converted by key: integers
 * (num_ctx 8192), reals (temperature 0.7), booleans (use_mmap false) and
 * strings collected into an array (stop, which may repeat).  An unknown key
 * is refused, as Ollama refuses it, so a typo is not silently ignored. */
#ifndef QM_REGISTRY_PARAMS_H
#define QM_REGISTRY_PARAMS_H

#include <jansson.h>

#include "error.h"

enum qm_param_type {
    QM_PARAM_UNKNOWN = 0,
    QM_PARAM_INT,
    QM_PARAM_REAL,
    QM_PARAM_BOOL,
    QM_PARAM_STRINGS,   /* an array of strings; each setting appends */
};

/* The type of a parameter key (case-sensitive, as in Ollama). */
enum qm_param_type qm_param_type(const char *key);

/* Convert value for key and set it in params (an object); QM_EINVAL with a
 * message naming the key and the expected type. */
int qm_params_set(json_t *params, const char *key, const char *value, struct qm_err *err);

/* The value of one parameter as Modelfile text ("0.7", "true", "8192");
 * malloc'd.  For arrays, element i. */
char *qm_param_format(const json_t *value);

#endif
