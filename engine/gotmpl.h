/* gotmpl.h - Ollama's prompt templates: a subset of Go's text/template.
 *
 * A Modelfile TEMPLATE (or the API's `template` field) is Go template text
 * such as
 *
 *     {{- range .Messages }}<|im_start|>{{ .Role }}
 *     {{ .Content }}<|im_end|>
 *     {{ end }}<|im_start|>assistant
 *
 * qm_gotmpl_parse compiles one; qm_gotmpl_render runs it over the data Ollama
 * gives its templates; qm_gotmpl_render_chat does what Ollama does with a
 * chat request (one pass over .Messages, or the older .System/.Prompt/
 * .Response form run once per exchange).
 *
 * The subset is what the templates Ollama ships use:
 *   text and actions, {{- and -}} trimming, comments (slash-star inside
 *   the braces);
 *   if / else if / else / end, range (with else, $i, $e :=), with, break,
 *   continue; variables ($x := v, $x = v, $ for the data root);
 *   fields .System .Prompt .Response .Messages .Tools .Suffix .Think
 *   .IsThinkSet and, on a message, .Role .Content .Thinking .ToolName
 *   .ToolCalls .Images (the lists that qm does not fill are empty);
 *   "strings", `raw strings`, 'c', integers, true, false, nil, ( pipelines ),
 *   | pipes; the functions and or not eq ne lt le gt ge len index slice
 *   print printf (%s %v %d %%) println json.
 * Anything else (define, template, block, other functions, unknown fields,
 * floats) is an error that names the line and column, at parse time where Go
 * reports it then, else when the construct is executed.  Nesting is bounded
 * and execution has a step and output budget, so no template can crash,
 * recurse without end or loop forever.
 *
 * As in Ollama, a template that mentions neither .Messages nor .Response
 * gets {{ .Response }} appended when it is parsed. */
#ifndef QM_ENGINE_GOTMPL_H
#define QM_ENGINE_GOTMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "template.h"

struct qm_gotmpl;

/* The template's data ("dot" at the start, and $). NULL strings read as "". */
struct qm_gotmpl_data {
    const char *system;                  /* .System */
    const char *prompt;                  /* .Prompt */
    const char *response;                /* .Response */
    const struct qm_chat_msg *messages;  /* .Messages: .Role, .Content; any role */
    size_t n_messages;
};

/* Compile src[0..len) (any bytes; a copy is kept).  On error *out is NULL and
 * err says what and where ("template line 3, column 9: ..."). */
int qm_gotmpl_parse(const char *src, size_t len, struct qm_gotmpl **out, struct qm_err *err);

void qm_gotmpl_free(struct qm_gotmpl *t);

/* True if the template refers to .Messages (as $.Messages too): Ollama then
 * renders a chat in one pass rather than once per exchange. */
bool qm_gotmpl_uses_messages(const struct qm_gotmpl *t);

/* Run the template once over data; *out is malloc'd and NUL-terminated,
 * *out_len (if not NULL) its length.  Errors: QM_EINVAL with the position of
 * the failing construct, QM_ENOMEM, QM_EUNSUPPORTED for an over-long run. */
int qm_gotmpl_render(const struct qm_gotmpl *t, const struct qm_gotmpl_data *data, char **out,
                     size_t *out_len, struct qm_err *err);

/* Render a chat the way Ollama's template.Execute does:
 *  - consecutive messages of one role are merged (contents joined by a
 *    blank line), except "tool" messages; .System is all system texts
 *    joined the same way;
 *  - a template that uses .Messages is run once with .System and the merged
 *    .Messages, .Prompt and .Response empty;
 *  - any other template is run once per exchange with .System, .Prompt and
 *    .Response set from the messages, and a last time for the final one with
 *    everything after the first .Response in the template text left out, so
 *    the prompt ends where the model's answer goes.  Roles other than
 *    system, user and assistant are skipped in that form. */
int qm_gotmpl_render_chat(const struct qm_gotmpl *t, const struct qm_chat_msg *msgs, size_t n,
                          char **out, size_t *out_len, struct qm_err *err);

#endif
