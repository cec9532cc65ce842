/* json_schema.c - compile the supported JSON-schema subset
 * (json_constraint.h) into the nodes the matcher walks. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "json_constraint_impl.h"

#define BIG (INT_MAX / 4)   /* "no bound" for byte counts; sums saturate here */
#define MAX_REFS 32

struct cctx {
    struct jc_schema *s;
    const json_t *root;
    const json_t *refs[MAX_REFS];   /* $ref targets being compiled: a repeat is recursion */
    int n_refs;
    struct qm_err *err;
};

static int sat(long long v)
{
    return v > BIG ? BIG : (int)v;
}

static int new_node(struct cctx *c)
{
    struct jc_schema *s = c->s;
    if (s->n_nodes == JC_MAX_NODES) {
        qm_err_set(c->err, "the JSON schema is too large (more than %d subschemas)", JC_MAX_NODES);
        return -1;
    }
    if (s->n_nodes == s->cap_nodes) {
        int cap = s->cap_nodes ? 2 * s->cap_nodes : 16;
        struct jc_node *n = realloc(s->nodes, (size_t)cap * sizeof *n);
        if (!n) {
            qm_err_set(c->err, "out of memory");
            return -1;
        }
        s->nodes = n;
        s->cap_nodes = cap;
    }
    s->nodes[s->n_nodes] = (struct jc_node){.types = JC_ANY, .max_items = -1, .max_len = -1, .min_opt = BIG};
    return s->n_nodes++;
}

/* v as compact JSON; *quoted strips the quotes of a string. */
static int dump_lit(struct cctx *c, const json_t *v, bool unquote, struct jc_lit *out)
{
    char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!d) {
        qm_err_set(c->err, "out of memory");
        return -1;
    }
    size_t n = strlen(d);
    if (unquote) {
        memmove(d, d + 1, n - 2);
        n -= 2;
        d[n] = 0;
    }
    *out = (struct jc_lit){d, (int)n};
    return 0;
}

static int count_arg(struct cctx *c, const json_t *sch, const char *key, int *out)
{
    json_t *v = json_object_get(sch, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        qm_err_set(c->err, "JSON schema \"%s\" must be a non-negative integer", key);
        return -1;
    }
    *out = json_integer_value(v) > BIG ? BIG : (int)json_integer_value(v);
    return 0;
}

static int type_bit(struct cctx *c, const json_t *t, unsigned *bits)
{
    static const struct { const char *name; unsigned bit; } names[] = {
        {"null", JC_NULL}, {"boolean", JC_BOOL}, {"integer", JC_INT}, {"number", JC_NUM},
        {"string", JC_STR}, {"array", JC_ARR}, {"object", JC_OBJ},
    };
    const char *s = json_string_value(t);
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *bits |= names[i].bit;
            return 0;
        }
    qm_err_set(c->err, "JSON schema \"type\" %s%s%s is not one of object, array, string, number, integer, "
               "boolean, null", s ? "\"" : "", s ? s : "(not a string)", s ? "\"" : "");
    return -1;
}

static int check_keywords(struct cctx *c, const json_t *sch)
{
    static const char *const ok[] = {
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
        "minLength", "maxLength", "enum", "const", "$ref",
        /* annotations, and the definitions $ref points into */
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "readOnly", "writeOnly",
        "deprecated", "$defs", "definitions",
    };
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sch, k, v) {
        size_t i = 0;
        while (i < sizeof ok / sizeof ok[0] && strcmp(k, ok[i]))
            i++;
        if (i == sizeof ok / sizeof ok[0]) {
            qm_err_set(c->err, "JSON schema keyword \"%s\" is not supported", k);
            return -1;
        }
    }
    return 0;
}

/* The value a "#/a/b" JSON pointer names in the document, or NULL. */
static const json_t *resolve(const json_t *root, const char *ref)
{
    if (ref[0] != '#' || (ref[1] && ref[1] != '/'))
        return NULL;
    const json_t *at = root;
    const char *p = ref + 1;
    while (*p == '/' && at) {
        char tok[256];
        size_t n = 0;
        for (p++; *p && *p != '/'; p++) {
            char ch = *p;
            if (ch == '~' && (p[1] == '0' || p[1] == '1'))
                ch = *++p == '0' ? '~' : '/';
            if (n + 1 >= sizeof tok)
                return NULL;
            tok[n++] = ch;
        }
        tok[n] = 0;
        if (json_is_object(at)) {
            at = json_object_get(at, tok);
        } else if (json_is_array(at)) {
            char *end;
            long i = strtol(tok, &end, 10);
            at = *end || end == tok ? NULL : json_array_get(at, (size_t)i);
        } else {
            at = NULL;
        }
    }
    return at;
}

static int compile(struct cctx *c, const json_t *sch, int depth);

static int compile_ref(struct cctx *c, const char *ref, int depth)
{
    const json_t *t = resolve(c->root, ref);
    if (!t) {
        qm_err_set(c->err, "JSON schema \"$ref\" \"%s\" names nothing in the schema (only \"#/...\" pointers)", ref);
        return -1;
    }
    for (int i = 0; i < c->n_refs; i++)
        if (c->refs[i] == t) {
            qm_err_set(c->err, "JSON schema \"$ref\" \"%s\" is recursive, which is not supported", ref);
            return -1;
        }
    if (c->n_refs == MAX_REFS) {
        qm_err_set(c->err, "JSON schema \"$ref\" chains deeper than %d", MAX_REFS);
        return -1;
    }
    c->refs[c->n_refs++] = t;
    int r = compile(c, t, depth);
    c->n_refs--;
    return r;
}

static int compile_object(struct cctx *c, const json_t *sch, int id, int depth)
{
    json_t *props = json_object_get(sch, "properties"), *req = json_object_get(sch, "required");
    json_t *addl = json_object_get(sch, "additionalProperties");
    if (props && !json_is_object(props))
        return qm_err_set(c->err, "JSON schema \"properties\" must be an object"), -1;
    if (req && !json_is_array(req))
        return qm_err_set(c->err, "JSON schema \"required\" must be an array of names"), -1;
    if (props && json_object_size(props) > JC_MAX_SET)
        return qm_err_set(c->err, "JSON schema objects may have at most %d properties", JC_MAX_SET), -1;
    struct jc_node *n = &c->s->nodes[id];
    if (props) {
        /* Only declared members: always valid output, whatever additionalProperties says. */
        n->closed = true;
        n->props = calloc(json_object_size(props) + 1, sizeof *n->props);
        n->req_tail = calloc(json_object_size(props) + 1, sizeof *n->req_tail);
        if (!n->props || !n->req_tail)
            return qm_err_set(c->err, "out of memory"), -1;
        const char *k;
        json_t *v;
        json_object_foreach(props, k, v) {
            int child = compile(c, v, depth + 1);
            if (child < 0)
                return -1;
            n = &c->s->nodes[id];
            struct jc_prop *p = &n->props[n->n_props++];
            json_t *ks = json_string(k);
            int rc = ks ? dump_lit(c, ks, true, &p->key) : -1;
            json_decref(ks);
            if (rc < 0)
                return -1;
            p->node = child;
        }
    } else if (json_is_false(addl)) {
        n->closed = true;
    } else if (addl && !json_is_true(addl)) {
        int child = compile(c, addl, depth + 1);
        if (child < 0)
            return -1;
        c->s->nodes[id].extra = child;
    }
    n = &c->s->nodes[id];
    size_t i;
    json_t *r;
    json_array_foreach(req, i, r) {
        int j = 0;
        while (j < n->n_props && (!json_is_string(r) || strcmp(n->props[j].key.s, json_string_value(r)) != 0))
            j++;
        if (j == n->n_props) {
            /* a free-form object may hold it; a closed one never could */
            if (!n->closed && json_is_string(r))
                continue;
            qm_err_set(c->err, "JSON schema \"required\" names %s%s%s, which is not in \"properties\"",
                       json_is_string(r) ? "\"" : "", json_is_string(r) ? json_string_value(r) : "a non-string",
                       json_is_string(r) ? "\"" : "");
            return -1;
        }
        n->props[j].required = true;
    }
    return 0;
}

/* Byte counts the matcher's qm_jc_rest is built from. */
static void sizes(struct jc_schema *s, int id)
{
    struct jc_node *n = &s->nodes[id];
    if (n->n_lits) {
        int m = BIG;
        for (int i = 0; i < n->n_lits; i++)
            if (n->lits[i].len < m)
                m = n->lits[i].len;
        n->min_size = m;
        return;
    }
    if (n->req_tail) {
        n->req_tail[n->n_props] = 0;
        for (int i = n->n_props - 1; i >= 0; i--) {
            const struct jc_prop *p = &n->props[i];
            long long member = 1LL + p->key.len + 2 + 1 + s->nodes[p->node].min_size;
            n->req_tail[i] = sat(n->req_tail[i + 1] + (p->required ? member : 0));
            if (!p->required && member - 1 < n->min_opt)
                n->min_opt = sat(member - 1);
        }
    }
    long long m = BIG;
    if (n->types & (JC_NULL | JC_BOOL))
        m = 4;
    if (n->types & (JC_INT | JC_NUM))
        m = 1;
    if ((n->types & JC_STR) && 2LL + n->min_len < m)
        m = 2LL + n->min_len;
    if (n->types & JC_ARR) {
        long long a = 2;
        if (n->min_items)
            a += (long long)n->min_items * (s->nodes[n->items].min_size + 1) - 1;
        if (a < m)
            m = a;
    }
    if (n->types & JC_OBJ) {
        long long o = 2 + (n->req_tail && n->req_tail[0] ? n->req_tail[0] - 1 : 0);
        if (o < m)
            m = o;
    }
    n->min_size = sat(m);
}

static int compile(struct cctx *c, const json_t *sch, int depth)
{
    if (depth > QM_JC_MAX_DEPTH) {
        qm_err_set(c->err, "the JSON schema nests deeper than %d", QM_JC_MAX_DEPTH);
        return -1;
    }
    if (json_is_true(sch))
        return 0;
    if (!json_is_object(sch)) {
        qm_err_set(c->err, json_is_false(sch) ? "JSON schema false accepts nothing"
                                              : "a JSON schema must be an object");
        return -1;
    }
    if (check_keywords(c, sch) < 0)
        return -1;
    json_t *ref = json_object_get(sch, "$ref");
    if (ref) {
        if (!json_is_string(ref))
            return qm_err_set(c->err, "JSON schema \"$ref\" must be a string"), -1;
        return compile_ref(c, json_string_value(ref), depth);
    }
    int id = new_node(c);
    if (id < 0)
        return -1;
    struct jc_node *n = &c->s->nodes[id];

    json_t *cst = json_object_get(sch, "const"), *en = json_object_get(sch, "enum");
    if (cst || en) {
        if (!cst && (!json_is_array(en) || !json_array_size(en) || json_array_size(en) > JC_MAX_SET)) {
            qm_err_set(c->err, "JSON schema \"enum\" must be an array of 1 to %d values", JC_MAX_SET);
            return -1;
        }
        int k = cst ? 1 : (int)json_array_size(en);
        if (!(n->lits = calloc((size_t)k, sizeof *n->lits)))
            return qm_err_set(c->err, "out of memory"), -1;
        for (int i = 0; i < k; i++) {
            if (dump_lit(c, cst ? cst : json_array_get(en, (size_t)i), false, &n->lits[i]) < 0)
                return -1;
            n->n_lits++;
        }
        sizes(c->s, id);
        return id;
    }

    json_t *type = json_object_get(sch, "type");
    if (type) {
        n->types = 0;
        if (json_is_array(type)) {
            size_t i;
            json_t *t;
            json_array_foreach(type, i, t)
                if (type_bit(c, t, &n->types) < 0)
                    return -1;
            if (!n->types)
                return qm_err_set(c->err, "JSON schema \"type\" is an empty array"), -1;
        } else if (type_bit(c, type, &n->types) < 0) {
            return -1;
        }
    } else if (json_object_get(sch, "properties") || json_object_get(sch, "required") ||
               json_object_get(sch, "additionalProperties")) {
        n->types = JC_OBJ;
    } else if (json_object_get(sch, "items") || json_object_get(sch, "minItems") || json_object_get(sch, "maxItems")) {
        n->types = JC_ARR;
    } else if (json_object_get(sch, "minLength") || json_object_get(sch, "maxLength")) {
        n->types = JC_STR;
    }

    int v = 0;
    if (count_arg(c, sch, "minItems", &v) < 0)
        return -1;
    c->s->nodes[id].min_items = v;
    v = -1;
    if (count_arg(c, sch, "maxItems", &v) < 0)
        return -1;
    c->s->nodes[id].max_items = v;
    v = 0;
    if (count_arg(c, sch, "minLength", &v) < 0)
        return -1;
    c->s->nodes[id].min_len = v;
    v = -1;
    if (count_arg(c, sch, "maxLength", &v) < 0)
        return -1;
    c->s->nodes[id].max_len = v;
    n = &c->s->nodes[id];
    if (n->max_items >= 0 && n->max_items < n->min_items)
        return qm_err_set(c->err, "JSON schema \"maxItems\" is below \"minItems\""), -1;
    if (n->max_len >= 0 && n->max_len < n->min_len)
        return qm_err_set(c->err, "JSON schema \"maxLength\" is below \"minLength\""), -1;

    json_t *items = json_object_get(sch, "items");
    if (items) {
        if (json_is_array(items))
            return qm_err_set(c->err, "JSON schema \"items\" as an array (tuples) is not supported"), -1;
        int child = compile(c, items, depth + 1);
        if (child < 0)
            return -1;
        c->s->nodes[id].items = child;
    }
    if (c->s->nodes[id].types & JC_OBJ) {
        if (compile_object(c, sch, id, depth) < 0)
            return -1;
    } else if (json_object_get(sch, "properties")) {
        return qm_err_set(c->err, "JSON schema \"properties\" needs \"type\" to include \"object\""), -1;
    }
    sizes(c->s, id);
    return id;
}

int jc_compile(struct jc_schema *s, const json_t *schema, struct qm_err *err)
{
    struct cctx c = {.s = s, .root = schema, .err = err};
    *s = (struct jc_schema){0};
    if (new_node(&c) < 0)       /* node 0: anything */
        return -1;
    s->nodes[0].min_size = 1;
    if (!schema) {
        /* "format":"json": one object with any members */
        int id = new_node(&c);
        if (id < 0)
            return -1;
        s->nodes[id].types = JC_OBJ;
        s->nodes[id].min_size = 2;
        s->root = id;
        return 0;
    }
    s->root = compile(&c, schema, 0);
    return s->root < 0 ? -1 : 0;
}

void jc_schema_free(struct jc_schema *s)
{
    for (int i = 0; i < s->n_nodes; i++) {
        struct jc_node *n = &s->nodes[i];
        for (int j = 0; j < n->n_lits; j++)
            free(n->lits[j].s);
        for (int j = 0; j < n->n_props; j++)
            free(n->props[j].key.s);
        free(n->lits);
        free(n->props);
        free(n->req_tail);
    }
    free(s->nodes);
    *s = (struct jc_schema){0};
}
