/* json_constraint.c - the byte-level matcher behind "format": a pushdown
 * automaton over the compiled schema (json_schema.c).  Its state is a stack
 * of small frames, copied by value to test candidate bytes. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_constraint_impl.h"

#define MAX_NL 2        /* newlines in one run of whitespace */
#define MAX_BLANK 24    /* spaces and tabs in one run: room for some indentation */
#define BIG (INT_MAX / 4)

enum { K_TOP, K_OBJ, K_ARR, K_STR, K_KEY, K_NUM, K_LIT };
enum { O_OPEN, O_NEXT, O_COLON, O_VALUE, O_AFTER };
enum { A_OPEN, A_NEXT, A_AFTER };
enum { N_START, N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };
enum { LIT_NODE = -1, LIT_BOOL = 0, LIT_NULL = 1 };

struct frame {
    uint8_t kind, st;
    uint8_t need, lo, hi;   /* string: UTF-8 continuation bytes due, the next one's range */
    int16_t node;
    int32_t a, b;           /* obj: next property, chosen one; arr: items; str: characters;
                               key, lit: position (b: literal list); num: length, integer only */
    uint64_t mask;          /* key, lit: candidates still alive */
};

struct jc_state {
    int depth;
    uint8_t nl, blank;      /* the current whitespace run */
    struct frame f[QM_JC_MAX_DEPTH + 2];   /* top, containers, one leaf */
};

struct qm_jc {
    struct jc_schema s;
    struct jc_state st;
};

static const struct jc_lit bool_lits[] = {{"true", 4}, {"false", 5}};
static const struct jc_lit null_lits[] = {{"null", 4}};

enum { REJECT, OK, AGAIN };   /* AGAIN: the leaf ended before this byte; give it to its parent */

static const struct jc_lit *lits_of(const struct jc_schema *s, const struct frame *f, int *n)
{
    if (f->b == LIT_BOOL)
        return *n = 2, bool_lits;
    if (f->b == LIT_NULL)
        return *n = 1, null_lits;
    *n = s->nodes[f->node].n_lits;
    return s->nodes[f->node].lits;
}

static struct frame *push(struct jc_state *t, int kind, int node)
{
    struct frame *f = &t->f[t->depth++];
    *f = (struct frame){.kind = (uint8_t)kind, .node = (int16_t)node};
    return f;
}

/* ---- leaves ---------------------------------------------------------------- */

static bool lit_has_len(const struct jc_lit *l, int n, uint64_t mask, int len, bool longer)
{
    for (int i = 0; i < n; i++)
        if ((mask >> i & 1) && (longer ? l[i].len > len : l[i].len == len))
            return true;
    return false;
}

static int lit_byte(const struct jc_schema *s, struct jc_state *t, struct frame *f, unsigned char ch)
{
    int n;
    const struct jc_lit *l = lits_of(s, f, &n);
    uint64_t m = 0;
    for (int i = 0; i < n; i++)
        if ((f->mask >> i & 1) && l[i].len > f->a && (unsigned char)l[i].s[f->a] == ch)
            m |= 1ULL << i;
    if (!m) {
        if (!lit_has_len(l, n, f->mask, f->a, false))
            return REJECT;
        t->depth--;
        return AGAIN;
    }
    f->mask = m;
    f->a++;
    if (!lit_has_len(l, n, m, f->a, true))   /* nothing longer can follow: done */
        t->depth--;
    return OK;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool num_accepting(int st)
{
    return st == N_ZERO || st == N_INT || st == N_FRAC || st == N_EXP;
}

static int num_next(int st, unsigned char c, bool int_only)
{
    bool d = is_digit(c), e = (c == 'e' || c == 'E') && !int_only;
    switch (st) {
    case N_START: return c == '-' ? N_MINUS : c == '0' ? N_ZERO : d ? N_INT : -1;
    case N_MINUS: return c == '0' ? N_ZERO : d ? N_INT : -1;
    case N_ZERO: return c == '.' && !int_only ? N_DOT : e ? N_E : -1;
    case N_INT: return d ? N_INT : c == '.' && !int_only ? N_DOT : e ? N_E : -1;
    case N_DOT: return d ? N_FRAC : -1;
    case N_FRAC: return d ? N_FRAC : e ? N_E : -1;
    case N_E: return c == '+' || c == '-' ? N_ESIGN : d ? N_EXP : -1;
    case N_ESIGN:
    case N_EXP: return d ? N_EXP : -1;
    }
    return -1;
}

static int num_byte(struct jc_state *t, struct frame *f, unsigned char ch)
{
    int nx = f->a < QM_JC_MAX_NUMBER ? num_next(f->st, ch, f->b) : -1;
    if (nx < 0) {
        if (!num_accepting(f->st))
            return REJECT;
        t->depth--;
        return AGAIN;
    }
    f->st = (uint8_t)nx;
    f->a++;
    return OK;
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Inside a string: st 0 plain, 1 after a backslash, 2..5 hex digits of
 * \u still due + 1. */
static int str_byte(const struct jc_schema *s, struct jc_state *t, struct frame *f, unsigned char ch)
{
    const struct jc_node *n = &s->nodes[f->node];
    if (f->need) {
        if (ch < f->lo || ch > f->hi)
            return REJECT;
        f->need--;
        f->lo = 0x80;
        f->hi = 0xBF;
        return OK;
    }
    if (f->st == 1) {
        if (ch == 'u')
            f->st = 5;
        else if (ch && strchr("\"\\/bfnrt", ch))
            f->st = 0;
        else
            return REJECT;
        return OK;
    }
    if (f->st >= 2) {
        if (!is_hex(ch))
            return REJECT;
        f->st = f->st == 2 ? 0 : f->st - 1;
        return OK;
    }
    if (ch == '"') {
        if (f->a < n->min_len)
            return REJECT;
        t->depth--;
        return OK;
    }
    if (n->max_len >= 0 && f->a >= n->max_len)
        return REJECT;
    uint8_t need = 0, lo = 0x80, hi = 0xBF;
    if (ch == '\\')
        f->st = 1;
    else if (ch < 0x20)
        return REJECT;
    else if (ch < 0x80)
        ;
    else if (ch >= 0xC2 && ch <= 0xDF)
        need = 1;
    else if (ch >= 0xE0 && ch <= 0xEF)
        need = 2, lo = ch == 0xE0 ? 0xA0 : 0x80, hi = ch == 0xED ? 0x9F : 0xBF;
    else if (ch >= 0xF0 && ch <= 0xF4)
        need = 3, lo = ch == 0xF0 ? 0x90 : 0x80, hi = ch == 0xF4 ? 0x8F : 0xBF;
    else
        return REJECT;
    f->need = need;
    f->lo = lo;
    f->hi = hi;
    f->a++;
    return OK;
}

/* A declared property name, matched against the candidates' spelling. */
static int key_byte(const struct jc_schema *s, struct jc_state *t, struct frame *f, unsigned char ch)
{
    const struct jc_node *n = &s->nodes[f->node];
    uint64_t m = 0;
    for (int j = 0; j < n->n_props; j++)
        if ((f->mask >> j & 1) && n->props[j].key.len > f->a && (unsigned char)n->props[j].key.s[f->a] == ch)
            m |= 1ULL << j;
    if (m) {
        f->mask = m;
        f->a++;
        return OK;
    }
    if (ch != '"')
        return REJECT;
    for (int j = 0; j < n->n_props; j++)
        if ((f->mask >> j & 1) && n->props[j].key.len == f->a) {
            struct frame *obj = &t->f[t->depth - 2];
            obj->b = j;
            obj->a = j + 1;
            t->depth--;
            return OK;
        }
    return REJECT;
}

/* ---- values and containers ------------------------------------------------------ */

static int start_value(const struct jc_schema *s, struct jc_state *t, int node, unsigned char ch)
{
    const struct jc_node *n = &s->nodes[node];
    struct frame *f;
    if (n->n_lits) {
        uint64_t m = 0;
        for (int i = 0; i < n->n_lits; i++)
            if ((unsigned char)n->lits[i].s[0] == ch)
                m |= 1ULL << i;
        if (!m)
            return REJECT;
        f = push(t, K_LIT, node);
        f->b = LIT_NODE;
        f->mask = ~0ULL;
        return lit_byte(s, t, f, ch);
    }
    switch (ch) {
    case '{':
    case '[':
        if (!(n->types & (ch == '{' ? JC_OBJ : JC_ARR)) || t->depth > QM_JC_MAX_DEPTH)
            return REJECT;
        push(t, ch == '{' ? K_OBJ : K_ARR, node);
        return OK;
    case '"':
        if (!(n->types & JC_STR))
            return REJECT;
        push(t, K_STR, node);
        return OK;
    case 't':
    case 'f':
    case 'n':
        if (!(n->types & (ch == 'n' ? JC_NULL : JC_BOOL)))
            return REJECT;
        f = push(t, K_LIT, node);
        f->b = ch == 'n' ? LIT_NULL : LIT_BOOL;
        f->mask = ~0ULL;
        return lit_byte(s, t, f, ch);
    default:
        if (!(ch == '-' || is_digit(ch)) || !(n->types & (JC_NUM | JC_INT)))
            return REJECT;
        f = push(t, K_NUM, node);
        f->b = !(n->types & JC_NUM);
        return num_byte(t, f, ch);
    }
}

/* The properties a key may name now: the next ones up to the first required. */
static uint64_t key_choices(const struct jc_node *n, int from)
{
    uint64_t m = 0;
    for (int j = from; j < n->n_props; j++) {
        m |= 1ULL << j;
        if (n->props[j].required)
            break;
    }
    return m;
}

static int start_key(const struct jc_schema *s, struct jc_state *t, struct frame *f)
{
    const struct jc_node *n = &s->nodes[f->node];
    int node = f->node;
    f->st = O_COLON;
    if (!n->closed) {
        push(t, K_STR, 0);
        return OK;
    }
    uint64_t m = key_choices(n, f->a);
    if (!m)
        return REJECT;
    f = push(t, K_KEY, node);
    f->mask = m;
    return OK;
}

static bool obj_closable(const struct jc_node *n, int from)
{
    return !n->req_tail || n->req_tail[from] == 0;
}

static int obj_byte(const struct jc_schema *s, struct jc_state *t, struct frame *f, unsigned char ch)
{
    const struct jc_node *n = &s->nodes[f->node];
    switch (f->st) {
    case O_OPEN:
    case O_AFTER:
        if (ch == '}') {
            if (!obj_closable(n, f->a))
                return REJECT;
            t->depth--;
            return OK;
        }
        if (f->st == O_OPEN)
            return ch == '"' ? start_key(s, t, f) : REJECT;
        if (ch != ',' || (n->closed && f->a >= n->n_props))
            return REJECT;
        f->st = O_NEXT;
        return OK;
    case O_NEXT:
        return ch == '"' ? start_key(s, t, f) : REJECT;
    case O_COLON:
        if (ch != ':')
            return REJECT;
        f->st = O_VALUE;
        return OK;
    default:   /* O_VALUE */
        f->st = O_AFTER;
        return start_value(s, t, n->closed ? n->props[f->b].node : n->extra, ch);
    }
}

static int arr_byte(const struct jc_schema *s, struct jc_state *t, struct frame *f, unsigned char ch)
{
    const struct jc_node *n = &s->nodes[f->node];
    if (f->st != A_NEXT && ch == ']') {
        if (f->a < n->min_items)
            return REJECT;
        t->depth--;
        return OK;
    }
    if (f->st == A_AFTER) {
        if (ch != ',' || (n->max_items >= 0 && f->a >= n->max_items))
            return REJECT;
        f->st = A_NEXT;
        return OK;
    }
    if (n->max_items >= 0 && f->a >= n->max_items)
        return REJECT;
    f->a++;
    f->st = A_AFTER;
    return start_value(s, t, n->items, ch);
}

/* RFC 8259's whitespace less \r: a model needs no CRLF, and a lone \r
 * only garbles the output. */
static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

static bool step(const struct jc_schema *s, struct jc_state *t, unsigned char ch)
{
    for (;;) {
        struct frame *f = &t->f[t->depth - 1];
        int r;
        if (f->kind == K_TOP || f->kind == K_OBJ || f->kind == K_ARR) {
            if (is_ws(ch)) {
                if (f->kind == K_TOP)
                    return false;   /* the value starts at once, and nothing follows it */
                if (ch == '\n' ? ++t->nl > MAX_NL : ++t->blank > MAX_BLANK)
                    return false;
                return true;
            }
            t->nl = t->blank = 0;
        }
        switch (f->kind) {
        case K_TOP:
            if (f->st)
                return false;
            f->st = 1;
            r = start_value(s, t, s->root, ch);
            break;
        case K_OBJ: r = obj_byte(s, t, f, ch); break;
        case K_ARR: r = arr_byte(s, t, f, ch); break;
        case K_STR: r = str_byte(s, t, f, ch); break;
        case K_KEY: r = key_byte(s, t, f, ch); break;
        case K_NUM: r = num_byte(t, f, ch); break;
        default: r = lit_byte(s, t, f, ch); break;
        }
        if (r != AGAIN)
            return r == OK;
    }
}

/* ---- the shortest completion -------------------------------------------------- */

static long long frame_rest(const struct jc_schema *s, const struct jc_state *t, int i)
{
    static const int num_rest[] = {1, 1, 0, 0, 1, 0, 1, 1, 0};
    const struct frame *f = &t->f[i];
    const struct jc_node *n = &s->nodes[f->node];
    bool child = i < t->depth - 1;
    long long m = BIG;
    switch (f->kind) {
    case K_TOP:
        return f->st ? 0 : s->nodes[s->root].min_size;
    case K_OBJ: {
        long long tail = n->req_tail ? n->req_tail[f->a] : 0;
        /* the value of the member being written (a closed object knows it once its key is done) */
        long long val = !n->closed ? s->nodes[n->extra].min_size
                        : n->n_props ? s->nodes[n->props[f->b].node].min_size : 0;
        switch (f->st) {
        case O_OPEN: return tail ? tail : 1;
        case O_NEXT:
            if (tail)
                return tail;
            return (n->closed ? n->min_opt : 3LL + s->nodes[n->extra].min_size) + 1;
        case O_COLON:
            if (child && t->f[i + 1].kind == K_KEY)
                return 0;   /* the key counts the rest of its member */
            return 1 + val + tail + 1;
        case O_VALUE: return val + tail + 1;
        default: return tail + 1;
        }
    }
    case K_KEY:
        for (int j = 0; j < n->n_props; j++)
            if (f->mask >> j & 1) {
                long long r = (long long)n->props[j].key.len - f->a + 2 + s->nodes[n->props[j].node].min_size +
                              n->req_tail[j + 1] + 1;
                if (r < m)
                    m = r;
            }
        return m;
    case K_ARR: {
        long long ms = s->nodes[n->items].min_size + 1;
        long long want = n->min_items - f->a - (f->st == A_NEXT);
        if (want < 0)
            want = 0;
        if (f->st == A_OPEN)
            return n->min_items ? n->min_items * ms : 1;
        return (f->st == A_NEXT ? ms - 1 : 0) + want * ms + 1;
    }
    case K_STR: {
        long long chars = n->min_len - f->a;
        return (f->st == 1 ? 1 : f->st >= 2 ? f->st - 1 : 0) + f->need + (chars > 0 ? chars : 0) + 1;
    }
    case K_NUM:
        return num_rest[f->st];
    default: {
        int k;
        const struct jc_lit *l = lits_of(s, f, &k);
        for (int j = 0; j < k; j++)
            if ((f->mask >> j & 1) && l[j].len - f->a < m)
                m = l[j].len - f->a;
        return m;
    }
    }
}

static int state_rest(const struct jc_schema *s, const struct jc_state *t)
{
    long long r = 0;
    for (int i = 0; i < t->depth && r < BIG; i++)
        r += frame_rest(s, t, i);
    return r > BIG ? BIG : (int)r;
}

/* ---- the API ---------------------------------------------------------------- */

struct qm_jc *qm_jc_new(const json_t *schema, struct qm_err *err)
{
    struct qm_jc *c = calloc(1, sizeof *c);
    if (!c) {
        qm_err_set(err, "out of memory");
        return NULL;
    }
    if (jc_compile(&c->s, schema, err) < 0) {
        jc_schema_free(&c->s);
        free(c);
        return NULL;
    }
    qm_jc_reset(c);
    return c;
}

void qm_jc_free(struct qm_jc *c)
{
    if (!c)
        return;
    jc_schema_free(&c->s);
    free(c);
}

void qm_jc_reset(struct qm_jc *c)
{
    c->st.depth = 0;
    c->st.nl = c->st.blank = 0;
    push(&c->st, K_TOP, c->s.root);
}

static void copy_state(struct jc_state *to, const struct jc_state *from)
{
    to->depth = from->depth;
    to->nl = from->nl;
    to->blank = from->blank;
    memcpy(to->f, from->f, (size_t)from->depth * sizeof from->f[0]);
}

bool qm_jc_try(const struct qm_jc *c, const char *b, size_t n, int *rest)
{
    struct jc_state t;
    copy_state(&t, &c->st);
    for (size_t i = 0; i < n; i++)
        if (!step(&c->s, &t, (unsigned char)b[i]))
            return false;
    if (rest)
        *rest = state_rest(&c->s, &t);
    return true;
}

bool qm_jc_feed(struct qm_jc *c, const char *b, size_t n)
{
    struct jc_state t;
    copy_state(&t, &c->st);
    for (size_t i = 0; i < n; i++)
        if (!step(&c->s, &t, (unsigned char)b[i]))
            return false;
    copy_state(&c->st, &t);
    return true;
}

bool qm_jc_done(const struct qm_jc *c)
{
    return c->st.depth == 1 && c->st.f[0].st;
}

bool qm_jc_complete(const struct qm_jc *c)
{
    if (qm_jc_done(c))
        return true;
    if (c->st.depth != 2)
        return false;
    const struct frame *f = &c->st.f[1];
    if (f->kind == K_NUM)
        return num_accepting(f->st);
    if (f->kind == K_LIT) {
        int k;
        const struct jc_lit *l = lits_of(&c->s, f, &k);
        return lit_has_len(l, k, f->mask, f->a, false);
    }
    return false;
}

int qm_jc_rest(const struct qm_jc *c)
{
    return state_rest(&c->s, &c->st);
}
