/* json_constraint.h - constrained decoding for the "format" field: an
 * incremental matcher that says which bytes may come next so that the
 * output is one JSON value (Ollama's "format":"json") or one value that
 * matches a JSON schema ("format":{schema}).
 *
 * JSON mode accepts one top-level object with any members.  Everywhere:
 *   - strings: RFC 8259 escapes, well-formed UTF-8, no raw control bytes;
 *   - numbers: RFC 8259 syntax, at most QM_JC_MAX_NUMBER bytes;
 *   - whitespace (space, tab, newline; no \r) only inside the value, at
 *     most 2 newlines and 24 blanks a run, so a model cannot pad forever;
 *   - at most QM_JC_MAX_DEPTH nested objects and arrays.
 *
 * The schema subset (anything else is refused, naming the keyword):
 *   type            a name or an array of names: object, array, string,
 *                   number, integer, boolean, null
 *   properties      emitted in the schema's order; "required" ones must
 *                   appear, the others may be skipped; no other keys
 *   required, additionalProperties (false; or, for an object without
 *                   "properties", true or a schema for every value)
 *   items, minItems, maxItems, minLength, maxLength (code points)
 *   enum, const     the value written as compact JSON (jansson's spelling)
 *   $ref            "#/..." JSON pointers into the document ($defs,
 *                   definitions); recursive references are refused
 *   title, description, default, examples, $schema, $id, $comment,
 *   readOnly, writeOnly, deprecated   ignored
 * A schema without "type" takes it from properties (object) or items
 * (array); {} and true accept any value.
 *
 * State is a small value: qm_jc_try tests bytes without committing, so a
 * sampler can check many candidate tokens per step. */
#ifndef QM_ENGINE_JSON_CONSTRAINT_H
#define QM_ENGINE_JSON_CONSTRAINT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define QM_JC_MAX_DEPTH 64
#define QM_JC_MAX_NUMBER 32

struct qm_jc;

/* A matcher for schema, or for any JSON object when schema is NULL.  NULL
 * with err set for an unsupported or malformed schema (a 400 for the user). */
struct qm_jc *qm_jc_new(const json_t *schema, struct qm_err *err);
void qm_jc_free(struct qm_jc *c);

/* Back to the start, to match another output. */
void qm_jc_reset(struct qm_jc *c);

/* Whether bytes b[0..n) may follow what was fed so far.  When rest is not
 * NULL and they may, *rest receives qm_jc_rest of the state after them. */
bool qm_jc_try(const struct qm_jc *c, const char *b, size_t n, int *rest);
static inline bool qm_jc_accepts(const struct qm_jc *c, const char *b, size_t n)
{
    return qm_jc_try(c, b, n, NULL);
}

/* Commit bytes; false (and the state unchanged) when they are refused. */
bool qm_jc_feed(struct qm_jc *c, const char *b, size_t n);

/* The output may end here: a whole value has been written. */
bool qm_jc_complete(const struct qm_jc *c);
/* Nothing more may follow (the value is closed): generation must end. */
bool qm_jc_done(const struct qm_jc *c);

/* The fewest bytes that complete the value from here (0 when complete); a
 * runner with a token budget keeps it within the budget so the output is
 * whole JSON even when it hits num_predict. */
int qm_jc_rest(const struct qm_jc *c);

#endif
