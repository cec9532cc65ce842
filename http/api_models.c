/* api_models.c - the answers of the endpoints that describe models:
 * /api/tags, /api/ps, /api/show, /api/version, /v1/models[/{id}].
 *
 * Times are printed in UTC (Ollama prints local time with an offset; both
 * are RFC 3339, which is all clients parse). */
#include "api_internal.h"

#include <string.h>

#include "name.h"

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static json_t *details(const struct qm_api_details *d)
{
    json_t *fam;
    if (d->families && d->n_families) {
        fam = json_array();
        for (size_t i = 0; fam && i < d->n_families; i++)
            if (json_array_append_new(fam, json_string(d->families[i]))) {
                json_decref(fam);
                fam = NULL;
            }
    } else {
        fam = d->family && *d->family ? json_pack("[s]", d->family) : json_null();
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s}", "parent_model", or_empty(d->parent_model),
                     "format", d->format ? d->format : "gguf", "family", or_empty(d->family),
                     "families", fam, "parameter_size", or_empty(d->parameter_size),
                     "quantization_level", or_empty(d->quantization_level));
}

static json_t *model_entry(const struct qm_api_model *m, bool running)
{
    char ts[64];
    qm_api__rfc3339(m->modified_at_ns, ts);
    json_t *v = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o}", "name", or_empty(m->name), "model",
                          m->model ? m->model : or_empty(m->name), "modified_at", ts, "size",
                          (json_int_t)m->size, "digest", or_empty(m->digest), "details",
                          details(&m->details));
    if (!v || !running)
        return v;
    /* /api/ps shows when the model goes instead of when it was made */
    json_object_del(v, "modified_at");
    qm_api__rfc3339(m->expires_at_ns, ts);
    if (!qm_api__set(v, "expires_at", json_string(ts)) ||
        !qm_api__set(v, "size_vram", json_integer((json_int_t)m->size_vram)) ||
        !qm_api__set(v, "context_length", json_integer(m->context_length))) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static json_t *model_list(const struct qm_api_model *m, size_t n, bool running)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, model_entry(&m[i], running))) {
            json_decref(a);
            a = NULL;
        }
    return a ? json_pack("{s:o}", "models", a) : NULL;
}

json_t *qm_api_tags_json(const struct qm_api_model *m, size_t n)
{
    return model_list(m, n, false);
}

json_t *qm_api_ps_json(const struct qm_api_model *m, size_t n)
{
    return model_list(m, n, true);
}

json_t *qm_api_oai_model_json(const struct qm_api_model *m)
{
    /* owned_by is the name's namespace, as Ollama reports it ("library") */
    struct qm_name name;
    const char *owner = "library";
    if (m->name && qm_name_parse(&name, m->name, NULL) == 0)
        owner = name.ns;
    return json_pack("{s:s, s:s, s:I, s:s}", "id", or_empty(m->name), "object", "model",
                     "created", (json_int_t)(m->modified_at_ns / 1000000000), "owned_by", owner);
}

json_t *qm_api_oai_models_json(const struct qm_api_model *m, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, qm_api_oai_model_json(&m[i]))) {
            json_decref(a);
            a = NULL;
        }
    return a ? json_pack("{s:s, s:o}", "object", "list", "data", a) : NULL;
}

json_t *qm_api_version_json(const char *version)
{
    return json_pack("{s:s}", "version", or_empty(version));
}

json_t *qm_api_show_json(const struct qm_api_show *s)
{
    json_t *v = json_object();
    char ts[64];
    qm_api__rfc3339(s->modified_at_ns, ts);
    const struct { const char *key, *val; } strs[] = {
        {"license", s->license}, {"modelfile", s->modelfile}, {"parameters", s->parameters},
        {"template", s->template}, {"system", s->system},
    };
    for (size_t i = 0; v && i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i].val && !qm_api__set(v, strs[i].key, json_string(strs[i].val))) {
            json_decref(v);
            v = NULL;
        }
    json_t *caps = json_array();
    if (s->capabilities && s->n_capabilities) {
        for (size_t i = 0; caps && i < s->n_capabilities; i++)
            if (json_array_append_new(caps, json_string(s->capabilities[i]))) {
                json_decref(caps);
                caps = NULL;
            }
    } else if (caps && json_array_append_new(caps, json_string("completion"))) {
        json_decref(caps);
        caps = NULL;
    }
    json_t *info = s->model_info ? json_deep_copy(s->model_info) : json_object();
    if (!v) {
        json_decref(caps);
        json_decref(info);
        return NULL;
    }
    if (!qm_api__set(v, "details", details(&s->details)) ||
        !qm_api__set(v, "model_info", info) || !qm_api__set(v, "capabilities", caps) ||
        !qm_api__set(v, "modified_at", json_string(ts))) {
        json_decref(v);
        return NULL;
    }
    return v;
}
