/* json_constraint_impl.h - what json_schema.c (the compiler) and
 * json_constraint.c (the matcher) share: a schema compiled into nodes. */
#ifndef QM_ENGINE_JSON_CONSTRAINT_IMPL_H
#define QM_ENGINE_JSON_CONSTRAINT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "json_constraint.h"

/* Type bits of a node. */
enum {
    JC_NULL = 1, JC_BOOL = 2, JC_INT = 4, JC_NUM = 8, JC_STR = 16, JC_ARR = 32, JC_OBJ = 64,
    JC_ANY = 127,
};

/* Candidate sets (enum values, property keys) are 64-bit masks. */
#define JC_MAX_SET 64
/* Nodes one schema may compile to ($ref expands in place). */
#define JC_MAX_NODES 4096

/* A byte string (not NUL-terminated in meaning; len counts). */
struct jc_lit {
    char *s;
    int len;
};

struct jc_prop {
    struct jc_lit key;      /* as it appears between the quotes */
    int node;
    bool required;
};

struct jc_node {
    unsigned types;
    struct jc_lit *lits;    /* enum/const: the only values allowed, when n_lits */
    int n_lits;
    /* object */
    struct jc_prop *props;
    int n_props;
    bool closed;            /* only the declared properties */
    int extra;              /* the node of any other member's value */
    int *req_tail;          /* [n_props + 1]: bytes of the required members from i on,
                               each as ,"key":value (shortest value) */
    int min_opt;            /* cheapest optional member "key":value, or INT_MAX/4 */
    /* array */
    int items;
    int min_items, max_items;   /* max -1: none */
    /* string */
    int min_len, max_len;
    int min_size;           /* the shortest value's bytes */
};

struct jc_schema {
    struct jc_node *nodes;  /* nodes[0] accepts anything */
    int n_nodes, cap_nodes;
    int root;
};

/* Compile schema (NULL: any object) into s.  0, or -1 with err set. */
int jc_compile(struct jc_schema *s, const json_t *schema, struct qm_err *err);
void jc_schema_free(struct jc_schema *s);

#endif
