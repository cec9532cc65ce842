/* gotmpl.c - a small interpreter for Ollama's Go prompt templates.
 *
 * Three stages, as in Go's text/template (whose documented behaviour this
 * follows; the code is our own):
 *
 *   lex     the source becomes one flat token array: TEXT, then for each
 *           action LDELIM, the action's tokens, RDELIM.  Trim markers are
 *           applied here by shortening the neighbouring TEXT tokens, and
 *           comments vanish here.
 *   parse   recursive descent over the tokens into a tree of nodes (text,
 *           action, if, range, with, break, continue) whose pipelines are
 *           commands of operands.  Functions and variables are checked here,
 *           as Go does, so a typo fails before any prompt is rendered.
 *   exec    a walk of the tree over a tagged value type; fields are resolved
 *           at run time, since whether .Foo exists depends on what dot is.
 *
 * All of a template lives in one arena (nodes, names, decoded strings, a copy
 * of the source) freed at once.  Every node and operand gets a number in the
 * order Ollama's Go code walks the tree; the last pass of a legacy chat
 * render skips everything numbered after the first .Response, which is how
 * Ollama cuts the template where the answer begins.
 *
 * Robustness: nesting (blocks and parentheses) is bounded at parse time, so
 * both recursive stages have bounded depth; execution counts steps and output
 * bytes, so a template nesting ranges over a long chat cannot run away. */
#include "gotmpl.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "strbuf.h"

enum {
    GT_MAX_DEPTH = 100,              /* nested blocks and parentheses */
    GT_MAX_STEPS = 1 << 22,          /* nodes run and range iterations per render */
    GT_MAX_OUTPUT = 64 << 20,        /* bytes a render may produce */
    GT_BREAK = 1,                    /* exec results besides 0 and errors */
    GT_CONTINUE = 2,
};

#define GT_NO_CUT UINT32_MAX

/* ---- arena ---------------------------------------------------------------- */

struct gt_chunk {
    struct gt_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct gt_arena {
    struct gt_chunk *head;
};

/* Zeroed memory that lives until gt_arena_free; NULL when out of memory. */
static void *gt_alloc(struct gt_arena *a, size_t n)
{
    size_t need;
    if (qm_ckd_add(&need, n, (size_t)15))
        return NULL;
    need &= ~(size_t)15;
    if (need == 0)
        need = 16;
    struct gt_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > 16384 ? need : 16384, bytes;
        if (qm_ckd_add(&bytes, cap, sizeof *c))
            return NULL;
        c = malloc(bytes);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = (unsigned char *)c->data + c->used;
    c->used += need;
    memset(p, 0, n);
    return p;
}

static void gt_arena_free(struct gt_arena *a)
{
    while (a->head) {
        struct gt_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

/* Make room for one more element in an arena-backed array (the old storage
 * is simply abandoned to the arena).  false when out of memory. */
static bool gt_grow(struct gt_arena *a, void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? 2 * *cap : 4, bytes;
    if (qm_ckd_mul(&bytes, ncap, elem))
        return false;
    void *nv = gt_alloc(a, bytes);
    if (!nv)
        return false;
    if (n)
        memcpy(nv, *v, n * elem);
    *v = nv;
    *cap = ncap;
    return true;
}

/* ---- output buffer ---------------------------------------------------------- */

/* ---- errors ------------------------------------------------------------------ */

static void gt_where(const char *src, size_t len, size_t pos, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    if (pos > len)
        pos = len;
    for (size_t i = 0; i < pos; i++) {
        if (src[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int gt_fail(struct qm_err *err, const char *src, size_t len, size_t pos, const char *fmt, ...)
{
    char msg[400];
    size_t line, col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gt_where(src, len, pos, &line, &col);
    qm_err_set(err, "template line %zu, column %zu: %s", line, col, msg);
    return QM_EINVAL;
}

/* A name or text for an error message: at most 40 bytes, non-printing bytes
 * as '?', so a hostile template cannot fill the message with garbage. */
static void gt_show(char *dst, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap && i < 40; i++)
        dst[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (len > 40 && n + 4 < cap) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
}

/* ---- lexer --------------------------------------------------------------------- */

enum gt_tok_kind {
    T_EOF,
    T_TEXT,
    T_LDELIM,
    T_RDELIM,
    T_IDENT,    /* keyword or function name */
    T_FIELD,    /* .Name (s is the name without the dot) */
    T_DOT,
    T_VAR,      /* $ or $name (s includes the $) */
    T_STRING,   /* decoded */
    T_NUMBER,
    T_LPAREN,
    T_RPAREN,
    T_PIPE,
    T_DECLARE,  /* := */
    T_ASSIGN,   /* = */
    T_COMMA,
};

struct gt_token {
    enum gt_tok_kind kind;
    bool space_before;   /* white space between this and the previous token */
    size_t pos;
    const char *s;
    size_t len;
    int64_t num;
};

struct gt_lexer {
    const char *src;
    size_t len;
    struct gt_arena *arena;
    struct qm_err *err;
    struct gt_token *v;
    size_t n, cap;
};

static bool gt_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool gt_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool gt_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool gt_alnum(char c)
{
    return gt_alpha(c) || gt_digit(c);
}

static int gt_emit(struct gt_lexer *lx, struct gt_token tk)
{
    if (lx->n == lx->cap) {
        size_t ncap = lx->cap ? 2 * lx->cap : 64, bytes;
        if (qm_ckd_mul(&bytes, ncap, sizeof *lx->v))
            return qm_err_set(lx->err, "template: out of memory"), QM_ENOMEM;
        struct gt_token *nv = realloc(lx->v, bytes);
        if (!nv)
            return qm_err_set(lx->err, "template: out of memory"), QM_ENOMEM;
        lx->v = nv;
        lx->cap = ncap;
    }
    lx->v[lx->n++] = tk;
    return 0;
}

static int gt_lex_fail(struct gt_lexer *lx, size_t pos, const char *msg)
{
    return gt_fail(lx->err, lx->src, lx->len, pos, "%s", msg);
}

static int gt_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void gt_utf8(struct qm_strbuf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
        cp = 0xfffd;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    qm_strbuf_put(b, u, n);
}

/* One escape sequence of a Go quoted string or character at s[*k] (the
 * backslash), appended to b.  false for a malformed escape. */
static bool gt_escape(const char *s, size_t len, size_t *k, char quote, struct qm_strbuf *b)
{
    size_t i = *k + 1;
    if (i >= len)
        return false;
    char c = s[i];
    const char *simple = "a\ab\bf\fn\nr\rt\tv\v\\\\";
    for (const char *p = simple; *p; p += 2) {
        if (c == p[0]) {
            qm_strbuf_put(b, &p[1], 1);
            *k = i + 1;
            return true;
        }
    }
    if (c == quote) {
        qm_strbuf_put(b, &c, 1);
        *k = i + 1;
        return true;
    }
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (digits) {
        uint32_t v = 0;
        for (int d = 0; d < digits; d++) {
            int h = i + 1 + (size_t)d < len ? gt_hexval(s[i + 1 + d]) : -1;
            if (h < 0)
                return false;
            v = v * 16 + (uint32_t)h;
        }
        if (c == 'x') {
            char byte = (char)v;
            qm_strbuf_put(b, &byte, 1);
        } else {
            gt_utf8(b, v);
        }
        *k = i + 1 + (size_t)digits;
        return true;
    }
    if (c >= '0' && c <= '7') {
        uint32_t v = 0;
        for (int d = 0; d < 3; d++) {
            if (i + (size_t)d >= len || s[i + d] < '0' || s[i + d] > '7')
                return false;
            v = v * 8 + (uint32_t)(s[i + d] - '0');
        }
        if (v > 255)
            return false;
        char byte = (char)v;
        qm_strbuf_put(b, &byte, 1);
        *k = i + 3;
        return true;
    }
    return false;
}

/* A quoted string, raw string or character constant at s[k]. */
static int gt_lex_quoted(struct gt_lexer *lx, size_t *k, struct gt_token *tk)
{
    const char *s = lx->src;
    size_t len = lx->len, i = *k + 1;
    char q = s[*k];
    struct qm_strbuf b = {.limit = GT_MAX_OUTPUT};
    int rc = 0;

    while (i < len && s[i] != q) {
        if (q != '`' && s[i] == '\n')
            break;
        if (q != '`' && s[i] == '\\') {
            if (!gt_escape(s, len, &i, q, &b)) {
                rc = gt_lex_fail(lx, i, "bad escape sequence in quoted text");
                goto out;
            }
            continue;
        }
        qm_strbuf_put(&b, &s[i], 1);
        i++;
    }
    if (i >= len || s[i] != q) {
        rc = gt_lex_fail(lx, *k, q == '`' ? "unterminated raw string" : q == '"'
                                                                         ? "unterminated quoted string"
                                                                         : "unterminated character constant");
        goto out;
    }
    if (b.oom) {
        qm_err_set(lx->err, "template: out of memory");
        rc = QM_ENOMEM;
        goto out;
    }
    if (q == '\'') {
        /* a character constant is the number of its (one) character */
        const unsigned char *u = (const unsigned char *)b.p;
        uint32_t cp;
        if (b.len == 1) {
            cp = u[0];
        } else if (b.len == 2 && (u[0] & 0xe0) == 0xc0) {
            cp = ((uint32_t)(u[0] & 0x1f) << 6) | (u[1] & 0x3f);
        } else if (b.len == 3 && (u[0] & 0xf0) == 0xe0) {
            cp = ((uint32_t)(u[0] & 0x0f) << 12) | ((uint32_t)(u[1] & 0x3f) << 6) | (u[2] & 0x3f);
        } else if (b.len == 4 && (u[0] & 0xf8) == 0xf0) {
            cp = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3f) << 12) |
                 ((uint32_t)(u[2] & 0x3f) << 6) | (u[3] & 0x3f);
        } else {
            rc = gt_lex_fail(lx, *k, "a character constant must hold one character");
            goto out;
        }
        tk->kind = T_NUMBER;
        tk->num = cp;
    } else {
        char *copy = gt_alloc(lx->arena, b.len + 1);
        if (!copy) {
            qm_err_set(lx->err, "template: out of memory");
            rc = QM_ENOMEM;
            goto out;
        }
        if (b.len)
            memcpy(copy, b.p, b.len);
        tk->kind = T_STRING;
        tk->s = copy;
        tk->len = b.len;
    }
    *k = i + 1;
out:
    free(b.p);
    return rc;
}

static int gt_lex_number(struct gt_lexer *lx, size_t *k, struct gt_token *tk)
{
    const char *s = lx->src;
    size_t len = lx->len, i = *k;
    bool neg = false;
    uint64_t v = 0;
    if (s[i] == '-' || s[i] == '+')
        neg = s[i++] == '-';
    if (i + 1 < len && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        size_t start = i;
        while (i < len && gt_hexval(s[i]) >= 0) {
            if (v > (UINT64_MAX >> 4))
                return gt_lex_fail(lx, *k, "number out of range");
            v = v * 16 + (uint64_t)gt_hexval(s[i++]);
        }
        if (i == start)
            return gt_lex_fail(lx, *k, "bad number syntax");
    } else {
        while (i < len && gt_digit(s[i])) {
            if (v > (UINT64_MAX - 9) / 10)
                return gt_lex_fail(lx, *k, "number out of range");
            v = v * 10 + (uint64_t)(s[i++] - '0');
        }
    }
    if (i < len && (s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == 'i'))
        return gt_lex_fail(lx, *k, "floating-point and complex numbers are not supported");
    if (i < len && gt_alnum(s[i]))
        return gt_lex_fail(lx, *k, "bad number syntax");
    if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return gt_lex_fail(lx, *k, "number out of range");
    tk->kind = T_NUMBER;
    tk->num = neg ? (int64_t)(0 - v) : (int64_t)v;
    *k = i;
    return 0;
}

/* The tokens of one action, from s[*k] (after "{{" and any trim marker) up to
 * and including its closing delimiter.  *trim_next says whether it was "-}}". */
static int gt_lex_action(struct gt_lexer *lx, size_t open, size_t *k, bool *trim_next)
{
    const char *s = lx->src;
    size_t len = lx->len, i = *k;
    for (;;) {
        bool space = false;
        while (i < len && gt_space(s[i])) {
            if (i + 3 < len && s[i + 1] == '-' && s[i + 2] == '}' && s[i + 3] == '}') {
                *trim_next = true;
                *k = i + 4;
                return gt_emit(lx, (struct gt_token){.kind = T_RDELIM, .pos = i});
            }
            space = true;
            i++;
        }
        if (i >= len)
            return gt_lex_fail(lx, open, "unclosed action: no closing }}");
        if (s[i] == '}' && i + 1 < len && s[i + 1] == '}') {
            *trim_next = false;
            *k = i + 2;
            return gt_emit(lx, (struct gt_token){.kind = T_RDELIM, .pos = i});
        }

        struct gt_token tk = {.space_before = space, .pos = i, .s = s + i};
        char c = s[i];
        int rc = 0;
        switch (c) {
        case '(': tk.kind = T_LPAREN; i++; break;
        case ')': tk.kind = T_RPAREN; i++; break;
        case '|': tk.kind = T_PIPE; i++; break;
        case ',': tk.kind = T_COMMA; i++; break;
        case '=': tk.kind = T_ASSIGN; i++; break;
        case ':':
            if (i + 1 >= len || s[i + 1] != '=')
                return gt_lex_fail(lx, i, "expected :=");
            tk.kind = T_DECLARE;
            i += 2;
            break;
        case '"':
        case '`':
        case '\'':
            rc = gt_lex_quoted(lx, &i, &tk);
            break;
        case '.':
            if (i + 1 < len && gt_alpha(s[i + 1])) {
                size_t j = i + 1;
                while (j < len && gt_alnum(s[j]))
                    j++;
                tk.kind = T_FIELD;
                tk.s = s + i + 1;
                tk.len = j - i - 1;
                i = j;
            } else if (i + 1 < len && gt_digit(s[i + 1])) {
                return gt_lex_fail(lx, i, "floating-point and complex numbers are not supported");
            } else {
                tk.kind = T_DOT;
                i++;
            }
            break;
        case '$': {
            size_t j = i + 1;
            while (j < len && gt_alnum(s[j]))
                j++;
            tk.kind = T_VAR;
            tk.len = j - i;
            i = j;
            break;
        }
        default:
            if (gt_digit(c) || ((c == '-' || c == '+') && i + 1 < len && gt_digit(s[i + 1]))) {
                rc = gt_lex_number(lx, &i, &tk);
            } else if (gt_alpha(c)) {
                size_t j = i;
                while (j < len && gt_alnum(s[j]))
                    j++;
                tk.kind = T_IDENT;
                tk.len = j - i;
                i = j;
            } else {
                char shown[8];
                gt_show(shown, sizeof shown, &c, 1);
                return gt_fail(lx->err, s, len, i, "unexpected character '%s' in action", shown);
            }
        }
        if (rc < 0)
            return rc;
        rc = gt_emit(lx, tk);
        if (rc < 0)
            return rc;
    }
}

static int gt_lex(struct gt_lexer *lx)
{
    const char *s = lx->src;
    size_t len = lx->len, i = 0;
    bool trim_next = false;
    int rc;

    while (i < len) {
        const char *open = memmem(s + i, len - i, "{{", 2);
        size_t text_end = open ? (size_t)(open - s) : len;
        size_t start = i;
        if (trim_next)
            while (start < text_end && gt_space(s[start]))
                start++;
        trim_next = false;
        size_t j = text_end + 2;
        bool ltrim = open && j + 1 < len && s[j] == '-' && gt_space(s[j + 1]);
        size_t end = text_end;
        if (ltrim) {
            while (end > start && gt_space(s[end - 1]))
                end--;
            j += 2;
        }
        if (end > start) {
            rc = gt_emit(lx, (struct gt_token){.kind = T_TEXT, .pos = start, .s = s + start,
                                               .len = end - start});
            if (rc < 0)
                return rc;
        }
        if (!open)
            break;

        if (j + 1 < len && s[j] == '/' && s[j + 1] == '*') {
            const char *close = j + 2 < len ? memmem(s + j + 2, len - j - 2, "*/", 2) : NULL;
            if (!close)
                return gt_lex_fail(lx, text_end, "unclosed comment");
            size_t k = (size_t)(close - s) + 2;
            if (k + 3 < len && gt_space(s[k]) && s[k + 1] == '-' && s[k + 2] == '}' && s[k + 3] == '}') {
                trim_next = true;
                i = k + 4;
            } else if (k + 1 < len && s[k] == '}' && s[k + 1] == '}') {
                i = k + 2;
            } else {
                return gt_lex_fail(lx, k, "comment ends before closing delimiter");
            }
            continue;
        }
        rc = gt_emit(lx, (struct gt_token){.kind = T_LDELIM, .pos = text_end});
        if (rc < 0)
            return rc;
        rc = gt_lex_action(lx, text_end, &j, &trim_next);
        if (rc < 0)
            return rc;
        i = j;
    }
    return gt_emit(lx, (struct gt_token){.kind = T_EOF, .pos = len});
}

/* ---- the tree ----------------------------------------------------------------- */

enum gt_func {
    F_AND, F_OR, F_NOT, F_LEN, F_INDEX, F_SLICE, F_EQ, F_NE, F_LT, F_LE, F_GT, F_GE,
    F_PRINT, F_PRINTF, F_PRINTLN, F_JSON, F_COUNT
};

static const char *const gt_func_names[F_COUNT] = {
    [F_AND] = "and", [F_OR] = "or", [F_NOT] = "not", [F_LEN] = "len", [F_INDEX] = "index",
    [F_SLICE] = "slice", [F_EQ] = "eq", [F_NE] = "ne", [F_LT] = "lt", [F_LE] = "le",
    [F_GT] = "gt", [F_GE] = "ge", [F_PRINT] = "print", [F_PRINTF] = "printf",
    [F_PRINTLN] = "println", [F_JSON] = "json",
};

enum gt_node_kind { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH, N_BREAK, N_CONTINUE };

struct gt_node;

struct gt_list {
    struct gt_node **v;
    size_t n, cap;
};

struct gt_name {
    const char *s;
    size_t len;
};

struct gt_pipe;

enum gt_arg_kind { A_FIELD, A_VAR, A_DOT, A_NIL, A_BOOL, A_INT, A_STRING, A_FUNC, A_PIPE };

struct gt_arg {
    enum gt_arg_kind kind;
    uint32_t order;
    size_t pos;
    const char *s;          /* A_STRING value, A_VAR name with its $ */
    size_t len;
    int64_t num;            /* A_INT, A_BOOL */
    enum gt_func func;      /* A_FUNC */
    struct gt_pipe *pipe;   /* A_PIPE */
    struct gt_name *chain;  /* fields applied to the operand (all of A_FIELD) */
    size_t nchain, capchain;
};

struct gt_cmd {
    size_t pos;
    struct gt_arg *args;
    size_t nargs, cap;
};

struct gt_pipe {
    size_t pos;
    int ndecl;
    struct gt_name decl[2];
    bool assign;   /* "=" rather than ":=" */
    struct gt_cmd *cmds;
    size_t ncmds, cap;
};

struct gt_node {
    enum gt_node_kind kind;
    uint32_t order;
    size_t pos;
    const char *text;   /* N_TEXT */
    size_t len;
    struct gt_pipe *pipe;
    struct gt_list list, else_list;
};

struct qm_gotmpl {
    struct gt_arena arena;
    const char *src;   /* our copy */
    size_t len;
    struct gt_list root;
    uint32_t response_order;   /* first .Response in an action, GT_NO_CUT if none */
    bool uses_messages, uses_response;
};

/* ---- parser ----------------------------------------------------------------- */

enum gt_term { TERM_EOF, TERM_END, TERM_ELSE };

struct gt_parser {
    struct qm_gotmpl *t;
    struct qm_err *err;
    const struct gt_token *tok;
    size_t ntok, i;
    int depth;
    int in_range;
    int in_action;          /* > 0 while parsing the pipeline of an action */
    uint32_t order;
    struct gt_name *vars;   /* variables in scope, innermost last */
    size_t nvars, capvars;
};

static const struct gt_token *gt_cur(const struct gt_parser *p)
{
    return &p->tok[p->i < p->ntok ? p->i : p->ntok - 1];
}

static int gt_perr(struct gt_parser *p, size_t pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int gt_perr(struct gt_parser *p, size_t pos, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gt_fail(p->err, p->t->src, p->t->len, pos, "%s", msg);
}

static int gt_oom(struct gt_parser *p)
{
    qm_err_set(p->err, "template: out of memory");
    return QM_ENOMEM;
}

static const char *gt_tok_desc(const struct gt_token *tk)
{
    switch (tk->kind) {
    case T_EOF: return "end of template";
    case T_TEXT: return "text";
    case T_LDELIM: return "{{";
    case T_RDELIM: return "}}";
    case T_IDENT: return "identifier";
    case T_FIELD: return "field";
    case T_DOT: return "'.'";
    case T_VAR: return "variable";
    case T_STRING: return "string";
    case T_NUMBER: return "number";
    case T_LPAREN: return "'('";
    case T_RPAREN: return "')'";
    case T_PIPE: return "'|'";
    case T_DECLARE: return "':='";
    case T_ASSIGN: return "'='";
    case T_COMMA: return "','";
    }
    return "token";
}

static bool gt_is_ident(const struct gt_token *tk, const char *word)
{
    return tk->kind == T_IDENT && tk->len == strlen(word) && memcmp(tk->s, word, tk->len) == 0;
}

static bool gt_name_is(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(s, word, len) == 0;
}

static bool gt_name_is_ci(const char *s, size_t len, const char *word)
{
    if (len != strlen(word))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return false;
    }
    return true;
}

static int gt_expect(struct gt_parser *p, enum gt_tok_kind kind, const char *what)
{
    const struct gt_token *tk = gt_cur(p);
    if (tk->kind != kind)
        return gt_perr(p, tk->pos, "expected %s, found %s", what, gt_tok_desc(tk));
    p->i++;
    return 0;
}

static int gt_push_var(struct gt_parser *p, struct gt_name name)
{
    if (p->nvars == p->capvars) {
        size_t ncap = p->capvars ? 2 * p->capvars : 16;
        struct gt_name *nv = realloc(p->vars, ncap * sizeof *nv);
        if (!nv)
            return gt_oom(p);
        p->vars = nv;
        p->capvars = ncap;
    }
    p->vars[p->nvars++] = name;
    return 0;
}

static bool gt_var_known(const struct gt_parser *p, const char *s, size_t len)
{
    for (size_t k = p->nvars; k-- > 0;)
        if (p->vars[k].len == len && memcmp(p->vars[k].s, s, len) == 0)
            return true;
    return false;
}

static int gt_list_add(struct gt_parser *p, struct gt_list *l, struct gt_node *n)
{
    if (!gt_grow(&p->t->arena, (void **)&l->v, &l->cap, l->n, sizeof *l->v))
        return gt_oom(p);
    l->v[l->n++] = n;
    return 0;
}

static struct gt_node *gt_new_node(struct gt_parser *p, enum gt_node_kind kind, size_t pos)
{
    struct gt_node *n = gt_alloc(&p->t->arena, sizeof *n);
    if (n) {
        n->kind = kind;
        n->pos = pos;
        n->order = p->order++;
    }
    return n;
}

static int gt_parse_pipeline(struct gt_parser *p, bool range, bool paren, struct gt_pipe **out);

/* Append field tk to a's chain, noting what Ollama looks for: whether the
 * template names Messages or Response anywhere, and the first field node
 * naming Response inside an action (where the legacy render cuts; a
 * variable's chain such as $.Response is no field node and does not count). */
static int gt_chain_add(struct gt_parser *p, struct gt_arg *a, const struct gt_token *tk)
{
    if (!gt_grow(&p->t->arena, (void **)&a->chain, &a->capchain, a->nchain, sizeof *a->chain))
        return gt_oom(p);
    a->chain[a->nchain++] = (struct gt_name){tk->s, tk->len};
    if (gt_name_is_ci(tk->s, tk->len, "messages"))
        p->t->uses_messages = true;
    if (gt_name_is_ci(tk->s, tk->len, "response")) {
        p->t->uses_response = true;
        if (a->kind == A_FIELD && p->in_action > 0 && p->t->response_order == GT_NO_CUT)
            p->t->response_order = a->order;
    }
    p->i++;
    return 0;
}

/* Fields written right after an operand (no space): $x.Role, (f x).Content. */
static int gt_parse_chain(struct gt_parser *p, struct gt_arg *a)
{
    for (;;) {
        const struct gt_token *tk = gt_cur(p);
        if (tk->kind != T_FIELD || tk->space_before)
            return 0;
        int rc = gt_chain_add(p, a, tk);
        if (rc < 0)
            return rc;
    }
}

static int gt_parse_operand(struct gt_parser *p, struct gt_arg *a)
{
    const struct gt_token *tk = gt_cur(p);
    char shown[64];
    int rc = 0;

    a->pos = tk->pos;
    a->order = p->order++;
    switch (tk->kind) {
    case T_IDENT:
        p->i++;
        if (gt_is_ident(tk, "true") || gt_is_ident(tk, "false")) {
            a->kind = A_BOOL;
            a->num = gt_is_ident(tk, "true");
            break;
        }
        if (gt_is_ident(tk, "nil")) {
            a->kind = A_NIL;
            break;
        }
        gt_show(shown, sizeof shown, tk->s, tk->len);
        for (int f = 0; f < F_COUNT; f++) {
            if (gt_name_is(tk->s, tk->len, gt_func_names[f])) {
                a->kind = A_FUNC;
                a->func = (enum gt_func)f;
                return 0;
            }
        }
        static const char *const keywords[] = {"if", "else", "end", "range", "with", "break",
                                               "continue", "define", "template", "block"};
        for (size_t k = 0; k < sizeof keywords / sizeof *keywords; k++)
            if (gt_is_ident(tk, keywords[k]))
                return gt_perr(p, tk->pos, "unexpected keyword \"%s\" in a command", shown);
        static const char *const go_only[] = {"html", "js", "urlquery", "call"};
        for (size_t k = 0; k < sizeof go_only / sizeof *go_only; k++)
            if (gt_is_ident(tk, go_only[k]))
                return gt_perr(p, tk->pos, "function \"%s\" is not supported", shown);
        return gt_perr(p, tk->pos, "function \"%s\" is not defined", shown);
    case T_FIELD:
        a->kind = A_FIELD;
        rc = gt_chain_add(p, a, tk);
        if (rc < 0)
            return rc;
        return gt_parse_chain(p, a);
    case T_DOT:
        a->kind = A_DOT;
        p->i++;
        break;
    case T_VAR:
        if (!gt_var_known(p, tk->s, tk->len)) {
            gt_show(shown, sizeof shown, tk->s, tk->len);
            return gt_perr(p, tk->pos, "undefined variable \"%s\"", shown);
        }
        a->kind = A_VAR;
        a->s = tk->s;
        a->len = tk->len;
        p->i++;
        return gt_parse_chain(p, a);
    case T_STRING:
        a->kind = A_STRING;
        a->s = tk->s;
        a->len = tk->len;
        p->i++;
        break;
    case T_NUMBER:
        a->kind = A_INT;
        a->num = tk->num;
        p->i++;
        break;
    case T_LPAREN:
        if (++p->depth > GT_MAX_DEPTH)
            return gt_perr(p, tk->pos, "template is nested too deeply");
        p->i++;
        a->kind = A_PIPE;
        rc = gt_parse_pipeline(p, false, true, &a->pipe);
        if (rc < 0)
            return rc;
        rc = gt_expect(p, T_RPAREN, "')'");
        if (rc < 0)
            return rc;
        p->depth--;
        return gt_parse_chain(p, a);
    default:
        return gt_perr(p, tk->pos, "unexpected %s in a command", gt_tok_desc(tk));
    }
    tk = gt_cur(p);
    if (tk->kind == T_FIELD && !tk->space_before)
        return gt_perr(p, tk->pos, "a field cannot follow this operand");
    return 0;
}

static int gt_parse_command(struct gt_parser *p, struct gt_cmd *c)
{
    c->pos = gt_cur(p)->pos;
    for (;;) {
        const struct gt_token *tk = gt_cur(p);
        if (tk->kind == T_RDELIM || tk->kind == T_RPAREN || tk->kind == T_PIPE || tk->kind == T_EOF)
            break;
        if (c->nargs > 0 && !tk->space_before && tk->kind != T_LPAREN)
            return gt_perr(p, tk->pos, "missing space between operands");
        if (!gt_grow(&p->t->arena, (void **)&c->args, &c->cap, c->nargs, sizeof *c->args))
            return gt_oom(p);
        struct gt_arg *a = &c->args[c->nargs];
        memset(a, 0, sizeof *a);
        int rc = gt_parse_operand(p, a);
        if (rc < 0)
            return rc;
        c->nargs++;
    }
    if (c->nargs == 0)
        return gt_perr(p, c->pos, "missing value for command");
    if (c->args[0].kind != A_FUNC && c->nargs > 1)
        return gt_perr(p, c->args[1].pos, "only a function can take arguments");
    return 0;
}

static int gt_parse_pipeline(struct gt_parser *p, bool range, bool paren, struct gt_pipe **out)
{
    struct gt_pipe *pipe = gt_alloc(&p->t->arena, sizeof *pipe);
    if (!pipe)
        return gt_oom(p);
    pipe->pos = gt_cur(p)->pos;

    /* $x :=, $x =, and for range $i, $e := */
    const struct gt_token *t0 = gt_cur(p);
    if (t0->kind == T_VAR && p->i + 1 < p->ntok) {
        const struct gt_token *t1 = &p->tok[p->i + 1];
        if (t1->kind == T_DECLARE || t1->kind == T_ASSIGN) {
            pipe->ndecl = 1;
            pipe->decl[0] = (struct gt_name){t0->s, t0->len};
            pipe->assign = t1->kind == T_ASSIGN;
            p->i += 2;
        } else if (t1->kind == T_COMMA) {
            if (!range)
                return gt_perr(p, t1->pos, "only range can declare two variables");
            if (p->i + 3 >= p->ntok || p->tok[p->i + 2].kind != T_VAR ||
                (p->tok[p->i + 3].kind != T_DECLARE && p->tok[p->i + 3].kind != T_ASSIGN))
                return gt_perr(p, t1->pos, "expected \"$a, $b :=\"");
            pipe->ndecl = 2;
            pipe->decl[0] = (struct gt_name){t0->s, t0->len};
            pipe->decl[1] = (struct gt_name){p->tok[p->i + 2].s, p->tok[p->i + 2].len};
            pipe->assign = p->tok[p->i + 3].kind == T_ASSIGN;
            p->i += 4;
        }
        if (pipe->ndecl && paren)
            return gt_perr(p, t0->pos, "a variable cannot be declared inside parentheses");
        if (pipe->ndecl && pipe->assign) {
            for (int d = 0; d < pipe->ndecl; d++) {
                if (!gt_var_known(p, pipe->decl[d].s, pipe->decl[d].len)) {
                    char shown[64];
                    gt_show(shown, sizeof shown, pipe->decl[d].s, pipe->decl[d].len);
                    return gt_perr(p, t0->pos, "undefined variable \"%s\"", shown);
                }
            }
        }
    }

    for (;;) {
        if (!gt_grow(&p->t->arena, (void **)&pipe->cmds, &pipe->cap, pipe->ncmds, sizeof *pipe->cmds))
            return gt_oom(p);
        struct gt_cmd *c = &pipe->cmds[pipe->ncmds];
        memset(c, 0, sizeof *c);
        int rc = gt_parse_command(p, c);
        if (rc < 0)
            return rc;
        if (pipe->ncmds > 0 && c->args[0].kind != A_FUNC)
            return gt_perr(p, c->pos, "a pipe can only feed a function");
        pipe->ncmds++;
        if (gt_cur(p)->kind != T_PIPE)
            break;
        p->i++;
    }

    if (pipe->ndecl && !pipe->assign) {
        for (int d = 0; d < pipe->ndecl; d++) {
            int rc = gt_push_var(p, pipe->decl[d]);
            if (rc < 0)
                return rc;
        }
    }
    *out = pipe;
    return 0;
}

static int gt_parse_list(struct gt_parser *p, struct gt_list *list, enum gt_term *term, size_t *term_pos);

/* if / range / with, from the token after the keyword.  kw_pos is where the
 * block opened, for "never closed" errors.  Consumes the closing {{end}}. */
static int gt_parse_block(struct gt_parser *p, enum gt_node_kind kind, size_t kw_pos, struct gt_node **out)
{
    static const char *const names[] = {[N_IF] = "if", [N_RANGE] = "range", [N_WITH] = "with"};
    struct gt_node *n = gt_new_node(p, kind, kw_pos);
    size_t mark = p->nvars;
    enum gt_term term;
    size_t term_pos;
    int rc;

    if (!n)
        return gt_oom(p);
    if (++p->depth > GT_MAX_DEPTH)
        return gt_perr(p, kw_pos, "template is nested too deeply");
    int saved_action = p->in_action;
    p->in_action = 0;
    rc = gt_parse_pipeline(p, kind == N_RANGE, false, &n->pipe);
    p->in_action = saved_action;
    if (rc < 0)
        return rc;
    rc = gt_expect(p, T_RDELIM, "}}");
    if (rc < 0)
        return rc;

    if (kind == N_RANGE)
        p->in_range++;
    rc = gt_parse_list(p, &n->list, &term, &term_pos);
    if (kind == N_RANGE)
        p->in_range--;
    if (rc < 0)
        return rc;

    if (term == TERM_ELSE) {
        const struct gt_token *tk = gt_cur(p);
        if ((kind == N_IF && gt_is_ident(tk, "if")) || (kind == N_WITH && gt_is_ident(tk, "with"))) {
            /* {{else if x}} is {{else}}{{if x}}...{{end}}{{end}} sharing one end */
            struct gt_node *inner;
            p->i++;
            rc = gt_parse_block(p, kind, term_pos, &inner);
            if (rc < 0)
                return rc;
            rc = gt_list_add(p, &n->else_list, inner);
            if (rc < 0)
                return rc;
        } else {
            rc = gt_expect(p, T_RDELIM, "}} after else");
            if (rc < 0)
                return rc;
            rc = gt_parse_list(p, &n->else_list, &term, &term_pos);
            if (rc < 0)
                return rc;
            if (term == TERM_ELSE)
                return gt_perr(p, term_pos, "a second {{else}} in one {{%s}}", names[kind]);
        }
    }
    if (term == TERM_EOF) {
        size_t line, col;
        gt_where(p->t->src, p->t->len, kw_pos, &line, &col);
        return gt_perr(p, p->t->len, "{{%s}} opened at line %zu, column %zu has no {{end}}",
                       names[kind], line, col);
    }
    p->nvars = mark;
    p->depth--;
    *out = n;
    return 0;
}

static int gt_parse_list(struct gt_parser *p, struct gt_list *list, enum gt_term *term, size_t *term_pos)
{
    for (;;) {
        const struct gt_token *tk = gt_cur(p);
        struct gt_node *n = NULL;
        int rc;

        if (tk->kind == T_EOF) {
            *term = TERM_EOF;
            *term_pos = tk->pos;
            return 0;
        }
        if (tk->kind == T_TEXT) {
            n = gt_new_node(p, N_TEXT, tk->pos);
            if (!n)
                return gt_oom(p);
            n->text = tk->s;
            n->len = tk->len;
            p->i++;
            rc = gt_list_add(p, list, n);
            if (rc < 0)
                return rc;
            continue;
        }
        /* an action: T_LDELIM */
        size_t open = tk->pos;
        p->i++;
        tk = gt_cur(p);
        if (gt_is_ident(tk, "end")) {
            p->i++;
            *term = TERM_END;
            *term_pos = open;
            return gt_expect(p, T_RDELIM, "}} after end");
        }
        if (gt_is_ident(tk, "else")) {
            p->i++;
            *term = TERM_ELSE;
            *term_pos = open;
            return 0;
        }
        if (gt_is_ident(tk, "if") || gt_is_ident(tk, "range") || gt_is_ident(tk, "with")) {
            enum gt_node_kind kind = gt_is_ident(tk, "if") ? N_IF : gt_is_ident(tk, "range") ? N_RANGE : N_WITH;
            p->i++;
            rc = gt_parse_block(p, kind, open, &n);
        } else if (gt_is_ident(tk, "break") || gt_is_ident(tk, "continue")) {
            bool brk = gt_is_ident(tk, "break");
            if (p->in_range == 0)
                return gt_perr(p, tk->pos, "{{%s}} outside {{range}}", brk ? "break" : "continue");
            p->i++;
            n = gt_new_node(p, brk ? N_BREAK : N_CONTINUE, open);
            if (!n)
                return gt_oom(p);
            rc = gt_expect(p, T_RDELIM, "}}");
        } else if (gt_is_ident(tk, "define") || gt_is_ident(tk, "template") || gt_is_ident(tk, "block")) {
            char shown[16];
            gt_show(shown, sizeof shown, tk->s, tk->len);
            return gt_perr(p, tk->pos, "{{%s}} is not supported", shown);
        } else {
            n = gt_new_node(p, N_ACTION, open);
            if (!n)
                return gt_oom(p);
            p->in_action++;
            rc = gt_parse_pipeline(p, false, false, &n->pipe);
            p->in_action--;
            if (rc == 0)
                rc = gt_expect(p, T_RDELIM, "}}");
        }
        if (rc < 0)
            return rc;
        rc = gt_list_add(p, list, n);
        if (rc < 0)
            return rc;
    }
}

/* Ollama appends {{ .Response }} to a template that names neither .Messages
 * nor .Response, so that legacy rendering shows earlier answers. */
static int gt_append_response(struct gt_parser *p)
{
    struct qm_gotmpl *t = p->t;
    struct gt_node *n = gt_new_node(p, N_ACTION, t->len);
    struct gt_pipe *pipe = gt_alloc(&t->arena, sizeof *pipe);
    struct gt_cmd *c = gt_alloc(&t->arena, sizeof *c);
    struct gt_arg *a = gt_alloc(&t->arena, sizeof *a);
    struct gt_name *name = gt_alloc(&t->arena, sizeof *name);
    if (!n || !pipe || !c || !a || !name)
        return gt_oom(p);
    *name = (struct gt_name){"Response", 8};
    *a = (struct gt_arg){.kind = A_FIELD, .order = p->order++, .pos = t->len, .chain = name,
                         .nchain = 1, .capchain = 1};
    *c = (struct gt_cmd){.pos = t->len, .args = a, .nargs = 1, .cap = 1};
    *pipe = (struct gt_pipe){.pos = t->len, .cmds = c, .ncmds = 1, .cap = 1};
    n->pipe = pipe;
    t->response_order = a->order;
    return gt_list_add(p, &t->root, n);
}

int qm_gotmpl_parse(const char *src, size_t len, struct qm_gotmpl **out, struct qm_err *err)
{
    struct qm_gotmpl *t = NULL;
    struct gt_lexer lx = {0};
    struct gt_parser p = {0};
    enum gt_term term;
    size_t term_pos;
    int rc;

    *out = NULL;
    if (!src && len > 0)
        return qm_err_set(err, "template: no text given"), QM_EINVAL;
    t = calloc(1, sizeof *t);
    if (!t)
        return qm_err_set(err, "template: out of memory"), QM_ENOMEM;
    char *copy = gt_alloc(&t->arena, len + 1);
    if (!copy) {
        qm_err_set(err, "template: out of memory");
        rc = QM_ENOMEM;
        goto err;
    }
    if (len)
        memcpy(copy, src, len);
    t->src = copy;
    t->len = len;
    t->response_order = GT_NO_CUT;

    lx = (struct gt_lexer){.src = t->src, .len = len, .arena = &t->arena, .err = err};
    rc = gt_lex(&lx);
    if (rc < 0)
        goto err;

    p = (struct gt_parser){.t = t, .err = err, .tok = lx.v, .ntok = lx.n};
    rc = gt_push_var(&p, (struct gt_name){"$", 1});
    if (rc < 0)
        goto err;
    rc = gt_parse_list(&p, &t->root, &term, &term_pos);
    if (rc < 0)
        goto err;
    if (term != TERM_EOF) {
        rc = gt_perr(&p, term_pos, "unexpected {{%s}}", term == TERM_END ? "end" : "else");
        goto err;
    }
    if (!t->uses_messages && !t->uses_response) {
        rc = gt_append_response(&p);
        if (rc < 0)
            goto err;
    }
    free(lx.v);
    free(p.vars);
    *out = t;
    return 0;
err:
    free(lx.v);
    free(p.vars);
    qm_gotmpl_free(t);
    return rc;
}

void qm_gotmpl_free(struct qm_gotmpl *t)
{
    if (!t)
        return;
    gt_arena_free(&t->arena);
    free(t);
}

bool qm_gotmpl_uses_messages(const struct qm_gotmpl *t)
{
    return t && t->uses_messages;
}

/* ---- values --------------------------------------------------------------------- */

enum gt_val_kind { V_NIL, V_BOOL, V_INT, V_STR, V_LIST, V_MSG, V_ROOT, V_EMPTY };

/* V_LIST is a run of messages, V_MSG one of them, V_EMPTY an empty list of
 * something qm does not fill (tools, tool calls, images). */
struct gt_val {
    enum gt_val_kind kind;
    int64_t i;
    const char *s;
    size_t len;
    const struct qm_chat_msg *msgs;
    size_t n;
};

static const char *gt_kind_name(enum gt_val_kind k)
{
    switch (k) {
    case V_NIL: return "nil";
    case V_BOOL: return "a bool";
    case V_INT: return "an integer";
    case V_STR: return "a string";
    case V_LIST: return "a list of messages";
    case V_MSG: return "a message";
    case V_ROOT: return "the template data";
    case V_EMPTY: return "an empty list";
    }
    return "a value";
}

static struct gt_val gt_str(const char *s)
{
    if (!s)
        s = "";
    return (struct gt_val){.kind = V_STR, .s = s, .len = strlen(s)};
}

static bool gt_truth(const struct gt_val *v)
{
    switch (v->kind) {
    case V_NIL: return false;
    case V_BOOL:
    case V_INT: return v->i != 0;
    case V_STR: return v->len > 0;
    case V_LIST: return v->n > 0;
    case V_EMPTY: return false;
    case V_MSG:
    case V_ROOT: return true;
    }
    return false;
}

/* ---- execution ------------------------------------------------------------------ */

struct gt_var {
    const char *name;
    size_t len;
    struct gt_val v;
};

struct gt_exec {
    const struct qm_gotmpl *t;
    const struct qm_gotmpl_data *d;
    struct qm_strbuf *out;
    struct gt_arena scratch;   /* strings made by functions during this run */
    struct gt_var *vars;
    size_t nvars, capvars;
    uint64_t steps;
    uint32_t cut;
    struct qm_err *err;
};

static int gt_xerr(struct gt_exec *e, size_t pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int gt_xerr(struct gt_exec *e, size_t pos, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gt_fail(e->err, e->t->src, e->t->len, pos, "%s", msg);
}

static int gt_xoom(struct gt_exec *e)
{
    qm_err_set(e->err, "template: out of memory");
    return QM_ENOMEM;
}

static int gt_step(struct gt_exec *e, size_t pos)
{
    if (++e->steps > GT_MAX_STEPS) {
        gt_xerr(e, pos, "the template runs too long (more than %d steps)", GT_MAX_STEPS);
        return QM_EUNSUPPORTED;
    }
    if (e->out->oom)
        return gt_xoom(e);
    if (e->out->full) {
        gt_xerr(e, pos, "the template produces more than %d bytes", GT_MAX_OUTPUT);
        return QM_EUNSUPPORTED;
    }
    return 0;
}

static int gt_set_var(struct gt_exec *e, struct gt_name name, struct gt_val v, bool declare, size_t pos)
{
    if (!declare) {
        for (size_t k = e->nvars; k-- > 0;) {
            if (e->vars[k].len == name.len && memcmp(e->vars[k].name, name.s, name.len) == 0) {
                e->vars[k].v = v;
                return 0;
            }
        }
        return gt_xerr(e, pos, "undefined variable");
    }
    if (e->nvars == e->capvars) {
        size_t ncap = e->capvars ? 2 * e->capvars : 16;
        struct gt_var *nv = realloc(e->vars, ncap * sizeof *nv);
        if (!nv)
            return gt_xoom(e);
        e->vars = nv;
        e->capvars = ncap;
    }
    e->vars[e->nvars++] = (struct gt_var){name.s, name.len, v};
    return 0;
}

/* A string made at run time, copied into the scratch arena. */
static int gt_make_str(struct gt_exec *e, const struct qm_strbuf *b, struct gt_val *out)
{
    if (b->oom)
        return gt_xoom(e);
    char *s = gt_alloc(&e->scratch, b->len + 1);
    if (!s)
        return gt_xoom(e);
    if (b->len)
        memcpy(s, b->p, b->len);
    *out = (struct gt_val){.kind = V_STR, .s = s, .len = b->len};
    return 0;
}

static int gt_field(struct gt_exec *e, const struct gt_val *v, struct gt_name f, size_t pos,
                    struct gt_val *out)
{
    char shown[64];
    gt_show(shown, sizeof shown, f.s, f.len);
    if (v->kind == V_ROOT) {
        const struct qm_gotmpl_data *d = e->d;
        if (gt_name_is(f.s, f.len, "System"))
            *out = gt_str(d->system);
        else if (gt_name_is(f.s, f.len, "Prompt"))
            *out = gt_str(d->prompt);
        else if (gt_name_is(f.s, f.len, "Response"))
            *out = gt_str(d->response);
        else if (gt_name_is(f.s, f.len, "Messages"))
            *out = (struct gt_val){.kind = V_LIST, .msgs = d->messages, .n = d->messages ? d->n_messages : 0};
        else if (gt_name_is(f.s, f.len, "Tools"))
            *out = (struct gt_val){.kind = V_EMPTY};
        else if (gt_name_is(f.s, f.len, "Suffix"))
            *out = gt_str("");
        else if (gt_name_is(f.s, f.len, "Think") || gt_name_is(f.s, f.len, "IsThinkSet"))
            *out = (struct gt_val){.kind = V_BOOL, .i = 0};
        else
            return gt_xerr(e, pos, "the template data has no field \"%s\"", shown);
        return 0;
    }
    if (v->kind == V_MSG) {
        const struct qm_chat_msg *m = v->msgs;
        if (gt_name_is(f.s, f.len, "Role"))
            *out = gt_str(m->role);
        else if (gt_name_is(f.s, f.len, "Content"))
            *out = gt_str(m->content);
        else if (gt_name_is(f.s, f.len, "Thinking") || gt_name_is(f.s, f.len, "ToolName"))
            *out = gt_str("");
        else if (gt_name_is(f.s, f.len, "ToolCalls") || gt_name_is(f.s, f.len, "Images"))
            *out = (struct gt_val){.kind = V_EMPTY};
        else
            return gt_xerr(e, pos, "a message has no field \"%s\"", shown);
        return 0;
    }
    return gt_xerr(e, pos, "cannot read field \"%s\" of %s", shown, gt_kind_name(v->kind));
}

static int gt_chain(struct gt_exec *e, const struct gt_arg *a, struct gt_val *v)
{
    for (size_t k = 0; k < a->nchain; k++) {
        struct gt_val next;
        int rc = gt_field(e, v, a->chain[k], a->pos, &next);
        if (rc < 0)
            return rc;
        *v = next;
    }
    return 0;
}

static int gt_eval_pipe(struct gt_exec *e, const struct gt_pipe *pipe, const struct gt_val *dot, bool bind,
                        struct gt_val *out, bool *none);
static int gt_call(struct gt_exec *e, const struct gt_arg *fn, const struct gt_arg *args, size_t nargs,
                   const struct gt_val *final, const struct gt_val *dot, struct gt_val *out);

static int gt_eval_arg(struct gt_exec *e, const struct gt_arg *a, const struct gt_val *dot, struct gt_val *out)
{
    int rc;
    switch (a->kind) {
    case A_FIELD:
        *out = *dot;
        return gt_chain(e, a, out);
    case A_VAR:
        for (size_t k = e->nvars; k-- > 0;) {
            if (e->vars[k].len == a->len && memcmp(e->vars[k].name, a->s, a->len) == 0) {
                *out = e->vars[k].v;
                return gt_chain(e, a, out);
            }
        }
        return gt_xerr(e, a->pos, "variable is not set here");
    case A_DOT:
        *out = *dot;
        return 0;
    case A_NIL:
        *out = (struct gt_val){.kind = V_NIL};
        return 0;
    case A_BOOL:
        *out = (struct gt_val){.kind = V_BOOL, .i = a->num};
        return 0;
    case A_INT:
        *out = (struct gt_val){.kind = V_INT, .i = a->num};
        return 0;
    case A_STRING:
        *out = (struct gt_val){.kind = V_STR, .s = a->s, .len = a->len};
        return 0;
    case A_FUNC:
        return gt_call(e, a, NULL, 0, NULL, dot, out);
    case A_PIPE: {
        bool none = false;
        rc = gt_eval_pipe(e, a->pipe, dot, false, out, &none);
        if (rc < 0)
            return rc;
        if (none)
            *out = (struct gt_val){.kind = V_NIL};
        return gt_chain(e, a, out);
    }
    }
    return gt_xerr(e, a->pos, "bad operand");
}

/* ---- functions ---- */

/* The k-th argument of a call: args[k], or the piped value after them. */
static int gt_arg_at(struct gt_exec *e, const struct gt_arg *args, size_t nargs, const struct gt_val *final,
                     size_t k, const struct gt_val *dot, struct gt_val *out)
{
    if (k < nargs)
        return gt_eval_arg(e, &args[k], dot, out);
    *out = *final;
    return 0;
}

static bool gt_basic(enum gt_val_kind k)
{
    return k == V_BOOL || k == V_INT || k == V_STR || k == V_NIL;
}

static int gt_equal(struct gt_exec *e, size_t pos, const struct gt_val *a, const struct gt_val *b, bool *eq)
{
    if (!gt_basic(a->kind) || !gt_basic(b->kind))
        return gt_xerr(e, pos, "cannot compare %s with %s", gt_kind_name(a->kind), gt_kind_name(b->kind));
    if (a->kind == V_NIL || b->kind == V_NIL) {
        *eq = a->kind == b->kind;
        return 0;
    }
    if (a->kind != b->kind)
        return gt_xerr(e, pos, "incompatible types for comparison: %s and %s", gt_kind_name(a->kind),
                       gt_kind_name(b->kind));
    if (a->kind == V_STR)
        *eq = a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
    else
        *eq = a->i == b->i;
    return 0;
}

static int gt_order_cmp(struct gt_exec *e, size_t pos, const struct gt_val *a, const struct gt_val *b, int *cmp)
{
    if (a->kind == V_INT && b->kind == V_INT) {
        *cmp = (a->i > b->i) - (a->i < b->i);
        return 0;
    }
    if (a->kind == V_STR && b->kind == V_STR) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        *cmp = c ? (c > 0) - (c < 0) : (a->len > b->len) - (a->len < b->len);
        return 0;
    }
    return gt_xerr(e, pos, "cannot order %s and %s", gt_kind_name(a->kind), gt_kind_name(b->kind));
}

/* A value as print/printf %v write it. */
static int gt_format(struct gt_exec *e, size_t pos, const struct gt_val *v, struct qm_strbuf *b)
{
    char num[32];
    switch (v->kind) {
    case V_STR:
        qm_strbuf_put(b, v->s, v->len);
        return 0;
    case V_INT:
        snprintf(num, sizeof num, "%" PRId64, v->i);
        qm_strbuf_puts(b, num);
        return 0;
    case V_BOOL:
        qm_strbuf_puts(b, v->i ? "true" : "false");
        return 0;
    case V_NIL:
        qm_strbuf_puts(b, "<nil>");
        return 0;
    case V_EMPTY:
        qm_strbuf_puts(b, "[]");
        return 0;
    default:
        return gt_xerr(e, pos, "cannot print %s", gt_kind_name(v->kind));
    }
}

/* JSON as Go's encoding/json writes strings: HTML-safe escapes included. */
static void gt_json_str(struct qm_strbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    qm_strbuf_put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            qm_strbuf_put(b, esc, 2);
        } else if (c == '\n') {
            qm_strbuf_put(b, "\\n", 2);
        } else if (c == '\r') {
            qm_strbuf_put(b, "\\r", 2);
        } else if (c == '\t') {
            qm_strbuf_put(b, "\\t", 2);
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            qm_strbuf_put(b, esc, 6);
        } else if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
            qm_strbuf_puts(b, (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
            i += 2;
        } else {
            qm_strbuf_put(b, (const char *)&s[i], 1);
        }
    }
    qm_strbuf_put(b, "\"", 1);
}

static int gt_json(struct gt_exec *e, size_t pos, const struct gt_val *v, struct qm_strbuf *b)
{
    switch (v->kind) {
    case V_STR:
        gt_json_str(b, v->s, v->len);
        return 0;
    case V_NIL:
    case V_EMPTY:   /* Ollama's unset lists are nil slices: null */
        qm_strbuf_puts(b, "null");
        return 0;
    case V_INT:
    case V_BOOL:
        return gt_format(e, pos, v, b);
    case V_MSG: {
        const char *role = v->msgs->role ? v->msgs->role : "";
        const char *content = v->msgs->content ? v->msgs->content : "";
        qm_strbuf_puts(b, "{\"role\":");
        gt_json_str(b, role, strlen(role));
        qm_strbuf_puts(b, ",\"content\":");
        gt_json_str(b, content, strlen(content));
        qm_strbuf_puts(b, "}");
        return 0;
    }
    case V_LIST:
        qm_strbuf_puts(b, "[");
        for (size_t k = 0; k < v->n; k++) {
            struct gt_val m = {.kind = V_MSG, .msgs = &v->msgs[k]};
            if (k)
                qm_strbuf_puts(b, ",");
            gt_json(e, pos, &m, b);
        }
        qm_strbuf_puts(b, "]");
        return 0;
    case V_ROOT:
        break;
    }
    return gt_xerr(e, pos, "json cannot encode %s", gt_kind_name(v->kind));
}

static int gt_index_of(struct gt_exec *e, size_t pos, const struct gt_val *v, int64_t lim, int64_t *out)
{
    if (v->kind != V_INT)
        return gt_xerr(e, pos, "an index must be an integer, not %s", gt_kind_name(v->kind));
    if (v->i < 0 || v->i > lim)
        return gt_xerr(e, pos, "index %" PRId64 " out of range", v->i);
    *out = v->i;
    return 0;
}

static int gt_length(const struct gt_val *v, size_t *n)
{
    switch (v->kind) {
    case V_STR: *n = v->len; return 0;
    case V_LIST: *n = v->n; return 0;
    case V_EMPTY: *n = 0; return 0;
    default: return -1;
    }
}

static int gt_printf(struct gt_exec *e, size_t pos, const struct gt_val *vals, size_t n, struct qm_strbuf *b)
{
    if (n == 0 || vals[0].kind != V_STR)
        return gt_xerr(e, pos, "printf needs a format string");
    const char *f = vals[0].s;
    size_t used = 1;
    for (size_t i = 0; i < vals[0].len; i++) {
        if (f[i] != '%') {
            qm_strbuf_put(b, &f[i], 1);
            continue;
        }
        if (++i >= vals[0].len)
            return gt_xerr(e, pos, "printf format ends with %%");
        char verb = f[i];
        if (verb == '%') {
            qm_strbuf_put(b, "%", 1);
            continue;
        }
        if (verb != 's' && verb != 'v' && verb != 'd') {
            char shown[8];
            gt_show(shown, sizeof shown, &verb, 1);
            return gt_xerr(e, pos, "printf verb %%%s is not supported (only %%s %%v %%d %%%%)", shown);
        }
        if (used >= n)
            return gt_xerr(e, pos, "printf has too few arguments for its format");
        const struct gt_val *v = &vals[used++];
        if ((verb == 'd' && v->kind != V_INT) || (verb == 's' && v->kind != V_STR))
            return gt_xerr(e, pos, "printf %%%c given %s", verb, gt_kind_name(v->kind));
        int rc = gt_format(e, pos, v, b);
        if (rc < 0)
            return rc;
    }
    if (used != n)
        return gt_xerr(e, pos, "printf has more arguments than its format uses");
    return 0;
}

static int gt_call(struct gt_exec *e, const struct gt_arg *fn, const struct gt_arg *args, size_t nargs,
                   const struct gt_val *final, const struct gt_val *dot, struct gt_val *out)
{
    size_t na = nargs + (final ? 1 : 0), pos = fn->pos;
    const char *name = gt_func_names[fn->func];
    struct gt_val *vals = NULL;
    struct qm_strbuf b = {.limit = GT_MAX_OUTPUT};
    int rc = 0;

    /* and / or take their arguments lazily: the first that decides wins */
    if (fn->func == F_AND || fn->func == F_OR) {
        if (na == 0)
            return gt_xerr(e, pos, "%s needs at least one argument", name);
        for (size_t k = 0; k < na; k++) {
            rc = gt_arg_at(e, args, nargs, final, k, dot, out);
            if (rc < 0)
                return rc;
            if (gt_truth(out) == (fn->func == F_OR))
                return 0;
        }
        return 0;
    }

    static const struct { int8_t min, max; } arity[F_COUNT] = {
        [F_NOT] = {1, 1}, [F_LEN] = {1, 1}, [F_INDEX] = {1, -1}, [F_SLICE] = {1, 3},
        [F_EQ] = {2, -1}, [F_NE] = {2, 2}, [F_LT] = {2, 2}, [F_LE] = {2, 2}, [F_GT] = {2, 2},
        [F_GE] = {2, 2}, [F_PRINT] = {0, -1}, [F_PRINTF] = {1, -1}, [F_PRINTLN] = {0, -1},
        [F_JSON] = {1, 1},
    };
    if (na < (size_t)arity[fn->func].min || (arity[fn->func].max >= 0 && na > (size_t)arity[fn->func].max))
        return gt_xerr(e, pos, "wrong number of arguments for %s: %zu", name, na);

    if (na > 0) {
        size_t bytes;
        if (qm_ckd_mul(&bytes, na, sizeof *vals))
            return gt_xoom(e);
        vals = gt_alloc(&e->scratch, bytes);
        if (!vals)
            return gt_xoom(e);
    }
    for (size_t k = 0; k < na; k++) {
        rc = gt_arg_at(e, args, nargs, final, k, dot, &vals[k]);
        if (rc < 0)
            return rc;
    }

    switch (fn->func) {
    case F_NOT:
        *out = (struct gt_val){.kind = V_BOOL, .i = !gt_truth(&vals[0])};
        break;
    case F_LEN: {
        size_t n;
        if (gt_length(&vals[0], &n) < 0)
            return gt_xerr(e, pos, "len of %s", gt_kind_name(vals[0].kind));
        *out = (struct gt_val){.kind = V_INT, .i = (int64_t)n};
        break;
    }
    case F_INDEX:
        *out = vals[0];
        for (size_t k = 1; k < na; k++) {
            size_t n;
            int64_t ix;
            if (out->kind == V_ROOT && vals[k].kind == V_STR) {
                struct gt_val next;
                rc = gt_field(e, out, (struct gt_name){vals[k].s, vals[k].len}, pos, &next);
                if (rc < 0)
                    return rc;
                *out = next;
                continue;
            }
            if (gt_length(out, &n) < 0)
                return gt_xerr(e, pos, "cannot index %s", gt_kind_name(out->kind));
            rc = gt_index_of(e, pos, &vals[k], (int64_t)n - 1, &ix);
            if (rc < 0)
                return rc;
            if (out->kind == V_STR)
                *out = (struct gt_val){.kind = V_INT, .i = (unsigned char)out->s[ix]};
            else
                *out = (struct gt_val){.kind = V_MSG, .msgs = &out->msgs[ix], .n = 1};
        }
        break;
    case F_SLICE: {
        size_t n;
        int64_t lo = 0, hi;
        if (gt_length(&vals[0], &n) < 0)
            return gt_xerr(e, pos, "cannot slice %s", gt_kind_name(vals[0].kind));
        hi = (int64_t)n;
        if (na >= 2) {
            rc = gt_index_of(e, pos, &vals[1], (int64_t)n, &lo);
            if (rc < 0)
                return rc;
        }
        if (na == 3) {
            rc = gt_index_of(e, pos, &vals[2], (int64_t)n, &hi);
            if (rc < 0)
                return rc;
            if (hi < lo)
                return gt_xerr(e, pos, "slice bounds %" PRId64 " > %" PRId64, lo, hi);
        }
        *out = vals[0];
        if (out->kind == V_STR) {
            out->s += lo;
            out->len = (size_t)(hi - lo);
        } else if (out->kind == V_LIST) {
            out->msgs += lo;
            out->n = (size_t)(hi - lo);
        }
        break;
    }
    case F_EQ: {
        bool eq = false;
        for (size_t k = 1; k < na && !eq; k++) {
            rc = gt_equal(e, pos, &vals[0], &vals[k], &eq);
            if (rc < 0)
                return rc;
        }
        *out = (struct gt_val){.kind = V_BOOL, .i = eq};
        break;
    }
    case F_NE: {
        bool eq;
        rc = gt_equal(e, pos, &vals[0], &vals[1], &eq);
        if (rc < 0)
            return rc;
        *out = (struct gt_val){.kind = V_BOOL, .i = !eq};
        break;
    }
    case F_LT:
    case F_LE:
    case F_GT:
    case F_GE: {
        int c = 0;
        rc = gt_order_cmp(e, pos, &vals[0], &vals[1], &c);
        if (rc < 0)
            return rc;
        bool r = fn->func == F_LT ? c < 0 : fn->func == F_LE ? c <= 0 : fn->func == F_GT ? c > 0 : c >= 0;
        *out = (struct gt_val){.kind = V_BOOL, .i = r};
        break;
    }
    case F_PRINT:
    case F_PRINTLN:
        for (size_t k = 0; k < na; k++) {
            /* Sprint puts a space only between two operands that are not
             * strings; Sprintln between all of them */
            if (k > 0 && (fn->func == F_PRINTLN || (vals[k - 1].kind != V_STR && vals[k].kind != V_STR)))
                qm_strbuf_put(&b, " ", 1);
            rc = gt_format(e, pos, &vals[k], &b);
            if (rc < 0)
                goto out;
        }
        if (fn->func == F_PRINTLN)
            qm_strbuf_put(&b, "\n", 1);
        rc = gt_make_str(e, &b, out);
        break;
    case F_PRINTF:
        rc = gt_printf(e, pos, vals, na, &b);
        if (rc == 0)
            rc = gt_make_str(e, &b, out);
        break;
    case F_JSON:
        rc = gt_json(e, pos, &vals[0], &b);
        if (rc == 0)
            rc = gt_make_str(e, &b, out);
        break;
    case F_AND:
    case F_OR:
    case F_COUNT:
        break;
    }
out:
    free(b.p);
    return rc;
}

/* Run a pipeline: each command's result feeds the next as its last
 * argument.  Operands numbered after the cut are left out (Ollama deletes
 * them); *none says nothing was left to run.  With bind, declared
 * variables are set. */
static int gt_eval_pipe(struct gt_exec *e, const struct gt_pipe *pipe, const struct gt_val *dot, bool bind,
                        struct gt_val *out, bool *none)
{
    struct gt_val v = {.kind = V_NIL};
    bool have = false;
    int rc;

    for (size_t k = 0; k < pipe->ncmds; k++) {
        const struct gt_cmd *c = &pipe->cmds[k];
        size_t nargs = 0;
        while (nargs < c->nargs && c->args[nargs].order <= e->cut)
            nargs++;
        if (nargs == 0)
            break;
        const struct gt_arg *a0 = &c->args[0];
        struct gt_val r;
        if (a0->kind == A_FUNC)
            rc = gt_call(e, a0, c->args + 1, nargs - 1, have ? &v : NULL, dot, &r);
        else
            rc = gt_eval_arg(e, a0, dot, &r);
        if (rc < 0)
            return rc;
        v = r;
        have = true;
    }
    *none = !have;
    if (have && bind && pipe->ndecl == 1) {
        rc = gt_set_var(e, pipe->decl[0], v, !pipe->assign, pipe->pos);
        if (rc < 0)
            return rc;
    }
    *out = v;
    return 0;
}

static int gt_exec_list(struct gt_exec *e, const struct gt_list *l, const struct gt_val *dot);

static int gt_exec_range(struct gt_exec *e, const struct gt_node *n, const struct gt_val *dot)
{
    const struct gt_pipe *pipe = n->pipe;
    size_t mark = e->nvars;
    struct gt_val v;
    bool none;
    size_t count;
    int rc = gt_eval_pipe(e, pipe, dot, false, &v, &none);
    if (rc < 0)
        return rc;

    switch (v.kind) {
    case V_LIST:
    case V_INT:
        if (v.kind == V_INT && pipe->ndecl == 2)
            return gt_xerr(e, n->pos, "range over an integer takes one variable");
        count = v.kind == V_INT ? (v.i > 0 ? (size_t)v.i : 0) : v.n;
        break;
    case V_NIL:
    case V_EMPTY:
        count = 0;
        break;
    default:
        return gt_xerr(e, n->pos, "range cannot iterate over %s", gt_kind_name(v.kind));
    }

    for (size_t k = 0; k < count; k++) {
        struct gt_val elem = v.kind == V_INT ? (struct gt_val){.kind = V_INT, .i = (int64_t)k}
                                             : (struct gt_val){.kind = V_MSG, .msgs = &v.msgs[k], .n = 1};
        struct gt_val index = {.kind = V_INT, .i = (int64_t)k};
        rc = gt_step(e, n->pos);
        if (rc < 0)
            return rc;
        e->nvars = mark;
        if (pipe->ndecl == 1)
            rc = gt_set_var(e, pipe->decl[0], elem, !pipe->assign, n->pos);
        else if (pipe->ndecl == 2) {
            rc = gt_set_var(e, pipe->decl[0], index, !pipe->assign, n->pos);
            if (rc == 0)
                rc = gt_set_var(e, pipe->decl[1], elem, !pipe->assign, n->pos);
        }
        if (rc < 0)
            return rc;
        rc = gt_exec_list(e, &n->list, &elem);
        e->nvars = mark;
        if (rc < 0)
            return rc;
        if (rc == GT_BREAK)
            break;
    }
    if (count == 0)
        return gt_exec_list(e, &n->else_list, dot);
    return 0;
}

static int gt_exec_node(struct gt_exec *e, const struct gt_node *n, const struct gt_val *dot)
{
    struct gt_val v;
    bool none;
    size_t mark;
    int rc = gt_step(e, n->pos);
    if (rc < 0)
        return rc;

    switch (n->kind) {
    case N_TEXT:
        qm_strbuf_put(e->out, n->text, n->len);
        return 0;
    case N_ACTION:
        rc = gt_eval_pipe(e, n->pipe, dot, true, &v, &none);
        if (rc < 0 || none || n->pipe->ndecl > 0)
            return rc;
        if (v.kind == V_NIL) {
            qm_strbuf_puts(e->out, "<no value>");   /* what Go prints for a missing value */
            return 0;
        }
        return gt_format(e, n->pos, &v, e->out);
    case N_IF:
    case N_WITH:
        mark = e->nvars;
        rc = gt_eval_pipe(e, n->pipe, dot, true, &v, &none);
        if (rc == 0) {
            if (gt_truth(&v))
                rc = gt_exec_list(e, &n->list, n->kind == N_WITH ? &v : dot);
            else
                rc = gt_exec_list(e, &n->else_list, dot);
        }
        e->nvars = mark;
        return rc;
    case N_RANGE:
        return gt_exec_range(e, n, dot);
    case N_BREAK:
        return GT_BREAK;
    case N_CONTINUE:
        return GT_CONTINUE;
    }
    return 0;
}

static int gt_exec_list(struct gt_exec *e, const struct gt_list *l, const struct gt_val *dot)
{
    size_t mark = e->nvars;
    int rc = 0;
    for (size_t k = 0; k < l->n && rc == 0; k++) {
        if (l->v[k]->order > e->cut)
            break;
        rc = gt_exec_node(e, l->v[k], dot);
    }
    e->nvars = mark;
    return rc;
}

/* One run of the template over d, appending to out. */
static int gt_run(const struct qm_gotmpl *t, const struct qm_gotmpl_data *d, uint32_t cut, struct qm_strbuf *out,
                  struct qm_err *err)
{
    struct gt_exec e = {.t = t, .d = d, .out = out, .cut = cut, .err = err};
    struct gt_val root = {.kind = V_ROOT};
    int rc = gt_set_var(&e, (struct gt_name){"$", 1}, root, true, 0);
    if (rc == 0)
        rc = gt_exec_list(&e, &t->root, &root);
    if (rc > 0)
        rc = 0;   /* break/continue cannot escape a range: the parser saw to it */
    if (rc == 0 && out->oom)
        rc = gt_xoom(&e);
    if (rc == 0 && out->full) {
        qm_err_set(err, "template: the prompt would be longer than %d bytes", GT_MAX_OUTPUT);
        rc = QM_EUNSUPPORTED;
    }
    free(e.vars);
    gt_arena_free(&e.scratch);
    return rc;
}

static int gt_finish(struct qm_strbuf *b, char **out, size_t *out_len, struct qm_err *err)
{
    if (!b->p) {
        b->p = calloc(1, 1);
        if (!b->p)
            return qm_err_set(err, "template: out of memory"), QM_ENOMEM;
    }
    *out = b->p;
    if (out_len)
        *out_len = b->len;
    return 0;
}

int qm_gotmpl_render(const struct qm_gotmpl *t, const struct qm_gotmpl_data *data, char **out,
                     size_t *out_len, struct qm_err *err)
{
    static const struct qm_gotmpl_data empty = {0};
    struct qm_strbuf b = {.limit = GT_MAX_OUTPUT};
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!t)
        return qm_err_set(err, "template: no template given"), QM_EINVAL;
    int rc = gt_run(t, data ? data : &empty, GT_NO_CUT, &b, err);
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    return gt_finish(&b, out, out_len, err);
}

/* ---- chats, the way Ollama renders them -------------------------------------- */

static bool gt_role_is(const struct qm_chat_msg *m, const char *role)
{
    return m->role && strcmp(m->role, role) == 0;
}

static const char *gt_or_empty(const char *s)
{
    return s ? s : "";
}

/* Merge runs of one role and gather the system texts; both are built in a. */
static int gt_collate(struct gt_arena *a, const struct qm_chat_msg *msgs, size_t n, struct qm_chat_msg **out,
                      size_t *out_n, const char **system)
{
    struct qm_chat_msg *c = NULL;
    struct qm_strbuf sys = {.limit = GT_MAX_OUTPUT};
    size_t k = 0, nsys = 0, bytes;
    int rc = QM_ENOMEM;

    if (qm_ckd_mul(&bytes, n ? n : 1, sizeof *c) || !(c = gt_alloc(a, bytes)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        const char *content = gt_or_empty(msgs[i].content);
        if (gt_role_is(&msgs[i], "system")) {
            if (nsys++ > 0)
                qm_strbuf_puts(&sys, "\n\n");
            qm_strbuf_puts(&sys, content);
        }
        if (k > 0 && msgs[i].role && c[k - 1].role && strcmp(c[k - 1].role, msgs[i].role) == 0 &&
            !gt_role_is(&msgs[i], "tool")) {
            const char *prev = gt_or_empty(c[k - 1].content);
            size_t lp = strlen(prev), lc = strlen(content), total;
            if (qm_ckd_add(&total, lp, lc) || qm_ckd_add(&total, total, (size_t)3))
                goto out;
            char *m = gt_alloc(a, total);
            if (!m)
                goto out;
            memcpy(m, prev, lp);
            memcpy(m + lp, "\n\n", 2);
            memcpy(m + lp + 2, content, lc + 1);
            c[k - 1].content = m;
        } else {
            c[k++] = msgs[i];
        }
    }
    if (sys.oom)
        goto out;
    char *s = gt_alloc(a, sys.len + 1);
    if (!s)
        goto out;
    if (sys.len)
        memcpy(s, sys.p, sys.len);
    *system = s;
    *out = c;
    *out_n = k;
    rc = 0;
out:
    free(sys.p);
    return rc;
}

int qm_gotmpl_render_chat(const struct qm_gotmpl *t, const struct qm_chat_msg *msgs, size_t n,
                          char **out, size_t *out_len, struct qm_err *err)
{
    struct gt_arena a = {0};
    struct qm_strbuf b = {.limit = GT_MAX_OUTPUT};
    struct qm_chat_msg *c = NULL;
    size_t nc = 0;
    const char *system = "";
    int rc;

    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!t)
        return qm_err_set(err, "template: no template given"), QM_EINVAL;
    if (n > 0 && !msgs)
        return qm_err_set(err, "template: no messages given"), QM_EINVAL;
    rc = gt_collate(&a, msgs, n, &c, &nc, &system);
    if (rc < 0) {
        qm_err_set(err, "template: out of memory");
        goto err;
    }

    if (t->uses_messages) {
        struct qm_gotmpl_data d = {.system = system, .messages = c, .n_messages = nc};
        rc = gt_run(t, &d, GT_NO_CUT, &b, err);
        if (rc < 0)
            goto err;
    } else {
        /* The older form: one run per exchange; a system text or a new user
         * turn after an answer closes the exchange before it. */
        struct qm_gotmpl_data d = {.system = "", .prompt = "", .response = ""};
        for (size_t i = 0; i < nc; i++) {
            const char *content = gt_or_empty(c[i].content);
            bool flush = false;
            if (gt_role_is(&c[i], "system"))
                flush = d.prompt[0] || d.response[0];
            else if (gt_role_is(&c[i], "user"))
                flush = d.response[0] != '\0';
            else if (!gt_role_is(&c[i], "assistant"))
                continue;
            if (flush) {
                rc = gt_run(t, &d, GT_NO_CUT, &b, err);
                if (rc < 0)
                    goto err;
                d.system = d.prompt = d.response = "";
            }
            if (gt_role_is(&c[i], "system"))
                d.system = content;
            else if (gt_role_is(&c[i], "user"))
                d.prompt = content;
            else
                d.response = content;
        }
        rc = gt_run(t, &d, t->response_order, &b, err);
        if (rc < 0)
            goto err;
    }
    rc = gt_finish(&b, out, out_len, err);
    if (rc < 0)
        goto err;
    gt_arena_free(&a);
    return 0;
err:
    free(b.p);
    gt_arena_free(&a);
    return rc;
}
