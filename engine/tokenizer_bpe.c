/* tokenizer_bpe.c - byte-level BPE ("gpt2" vocabularies: Qwen, Llama 3, GPT-2 ...).
 *
 * Encoding one fragment of raw text (engine-reference.md section 5.3):
 *   1. the pre-tokenizer cuts it into pieces with the regexes that
 *      tokenizer.ggml.pre names, each regex splitting every piece the
 *      previous one left; text between two matches is a piece of its own;
 *   2. each piece starts as one symbol per byte: the token of the byte's
 *      byte-level character (GPT-2's table maps every byte to a printable
 *      code point, space to U+0120 and so on);
 *   3. the adjacent pair with the lowest merge rank is merged, leftmost first
 *      among equal ranks, until no pair has a merge.
 * Symbols are token ids from the start: a merge looks up the pair (left id,
 * right id) in a hash table that gives its rank and the merged token, so no
 * strings are built or compared while merging.  A merge whose parts or
 * result are not tokens could never apply to id pairs; such merges (only
 * broken files have them) are dropped at load with a warning, where
 * llama.cpp would merge the strings and emit the result byte by byte.
 *
 * The regexes run in PCRE2 (UTF and UCP mode, JIT-compiled where the
 * platform allows).  They are written as Hugging Face's tokenizers runs them
 * with Oniguruma, with one change: \s and \S are spelled out as the Unicode
 * White_Space set, because PCRE2's \s leaves out U+0085 (NEL), which
 * Oniguruma's includes.  Invalid UTF-8 is allowed in the subject
 * (PCRE2_MATCH_INVALID_UTF): no regex matches an invalid byte, so it ends up
 * in a piece of its own and is encoded through its byte-level character,
 * never lost. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tokenizer_impl.h"

/* ---- GPT-2's byte table -------------------------------------------------- */

/* Bytes that stand for themselves: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF.
 * The other 68 (controls, space, DEL, U+0080..U+00A0, soft hyphen) take
 * U+0100, U+0101, ... in increasing order. */
static bool byte_is_self(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t tok_byte_to_cp(uint8_t b)
{
    if (byte_is_self(b))
        return b;
    if (b <= 0x20)
        return 0x100 + b;                   /* 0x00..0x20: the first 33 */
    if (b >= 0x7F && b <= 0xA0)
        return 0x100 + 33 + (b - 0x7F);     /* 0x7F..0xA0: the next 34 */
    return 0x100 + 67;                      /* 0xAD */
}

int tok_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100)
        return byte_is_self(cp) ? (int)cp : -1;
    if (cp >= 0x100 + 68)
        return -1;
    uint32_t k = cp - 0x100;
    if (k < 33)
        return (int)k;
    if (k < 67)
        return (int)(0x7F + k - 33);
    return 0xAD;
}

/* ---- pre-tokenizers ------------------------------------------------------ */

/* Unicode White_Space, what \s means to Oniguruma. */
#define WS "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
#define SP "[" WS "]"
#define NOT_SP "[^" WS "]"

/* Qwen2: contractions, letters with one leading non-letter, single digits,
 * punctuation runs with trailing newlines, newline runs, other whitespace. */
#define RE_QWEN2                                                                                  \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*" \
    "|" SP "*[\\r\\n]+|" SP "+(?!" NOT_SP ")|" SP "+"
/* Llama 3: the same with digits in runs of up to three. */
#define RE_LLAMA3                                                                                 \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS                  \
    "\\p{L}\\p{N}]+[\\r\\n]*|" SP "*[\\r\\n]+|" SP "+(?!" NOT_SP ")|" SP "+"
/* GPT-2's original pattern (case-sensitive contractions). */
#define RE_GPT2                                                                                   \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|" SP "+(?!" NOT_SP ")|" SP "+"

enum pre_group { PRE_DEFAULT, PRE_QWEN2, PRE_LLAMA3, PRE_LLAMA3_PLAIN, PRE_GPT2, PRE_STARCODER };

static const char *const pre_regexes[][TOK_MAX_REGEX] = {
    /* llama.cpp's fallback for a missing or unknown .pre */
    [PRE_DEFAULT] = {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
    [PRE_QWEN2] = {RE_QWEN2},
    [PRE_LLAMA3] = {RE_LLAMA3},
    [PRE_LLAMA3_PLAIN] = {RE_LLAMA3},
    [PRE_GPT2] = {RE_GPT2},
    [PRE_STARCODER] = {"\\p{N}", RE_GPT2},
};

static const struct {
    const char *name;
    enum pre_group group;
    bool clean_spaces;      /* detokenize clean-up kept (true) or turned off */
} pre_names[] = {
    {"default", PRE_DEFAULT, true},
    {"qwen2", PRE_QWEN2, false},
    {"deepseek-r1-qwen", PRE_QWEN2, false},
    {"kormo", PRE_QWEN2, false},
    {"stablelm2", PRE_QWEN2, false},
    {"llama3", PRE_LLAMA3, true},
    {"llama-v3", PRE_LLAMA3, true},
    {"llama-bpe", PRE_LLAMA3, true},
    {"falcon3", PRE_LLAMA3, true},
    {"falcon-h1", PRE_LLAMA3, true},
    {"pixtral", PRE_LLAMA3, false},
    {"midm-2.0", PRE_LLAMA3, true},
    {"lfm2", PRE_LLAMA3, true},
    {"dbrx", PRE_LLAMA3_PLAIN, true},
    {"smaug-bpe", PRE_LLAMA3_PLAIN, true},
    {"glm4", PRE_LLAMA3_PLAIN, true},
    {"gpt-2", PRE_GPT2, true},
    {"phi-2", PRE_GPT2, true},
    {"mpt", PRE_GPT2, true},
    {"olmo", PRE_GPT2, false},
    {"jais", PRE_GPT2, true},
    {"starcoder", PRE_STARCODER, true},
    {"refact", PRE_STARCODER, true},
    {"command-r", PRE_STARCODER, false},
    {"smollm", PRE_STARCODER, false},
};

static int compile_regexes(struct qm_tokenizer *tok, enum pre_group g, struct qm_err *err)
{
    for (size_t i = 0; i < TOK_MAX_REGEX && pre_regexes[g][i]; i++) {
        int code;
        PCRE2_SIZE at;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pre_regexes[g][i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
        if (!re) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(code, msg, sizeof msg);
            return qm_err_set(err, "tokenizer: pre-tokenizer regex %zu of '%s' does not compile at "
                              "offset %zu: %s", i, tok->pre, (size_t)at, (const char *)msg);
        }
        tok->re[tok->n_re++] = re;
        /* Without JIT (a platform PCRE2 lacks it for, or W^X memory) the
         * interpreter runs the same pattern, only slower. */
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------- */

/* The slot a pair starts probing at: splitmix64's finaliser, so that both
 * ids reach the low bits the mask keeps. */
static size_t merge_slot(const struct qm_tokenizer *tok, uint64_t key)
{
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ull;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebull;
    key ^= key >> 31;
    return (size_t)key & tok->merge_mask;
}

static int merge_insert(struct qm_tokenizer *tok, int32_t l, int32_t r, int32_t rank, int32_t result)
{
    uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    size_t i = merge_slot(tok, key);
    while (tok->merges[i].rank >= 0) {
        if (tok->merges[i].key == key)
            return 0;   /* a repeated merge keeps its first (lowest) rank, as in llama.cpp */
        i = (i + 1) & tok->merge_mask;
    }
    tok->merges[i] = (struct tok_merge){.key = key, .rank = rank, .result = result};
    return 1;
}

static const struct tok_merge *merge_find(const struct qm_tokenizer *tok, int32_t l, int32_t r)
{
    uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    size_t i = merge_slot(tok, key);
    while (tok->merges[i].rank >= 0) {
        if (tok->merges[i].key == key)
            return &tok->merges[i];
        i = (i + 1) & tok->merge_mask;
    }
    return NULL;
}

static int load_merges(struct qm_tokenizer *tok, const struct gguf_file *f, struct qm_err *err)
{
    const struct gguf_value *mv;
    int rc = gguf_get_array(f, "tokenizer.ggml.merges", &mv, err);
    if (rc == GGUF_ENOKEY)
        return qm_err_set(err, "tokenizer: a 'gpt2' vocabulary needs tokenizer.ggml.merges, which "
                          "the file lacks");
    if (rc)
        return rc;
    if (mv->elem_type != GGUF_STRING)
        return qm_err_set(err, "tokenizer: tokenizer.ggml.merges must be an array of strings");
    if (mv->count >= INT32_MAX)
        return qm_err_set(err, "tokenizer: %" PRIu64 " merges are too many", mv->count);
    size_t cap = 16;
    while (cap < mv->count * 2)
        cap *= 2;
    tok->merges = malloc(cap * sizeof *tok->merges);
    if (!tok->merges)
        return qm_err_set(err, "tokenizer: out of memory for %" PRIu64 " merges", mv->count), QM_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        tok->merges[i].rank = -1;
    tok->merge_mask = cap - 1;

    /* Each merge costs three look-ups and an insert, each a cache miss in
     * tables of several MiB.  Working through a batch in passes lets the
     * misses of 32 merges overlap: split and hash all, prefetching their
     * slots; prefetch the texts the slots point at; resolve the ids,
     * prefetching the merge slot; insert. */
    enum { BATCH = 32 };
    struct {
        const char *l, *r;
        size_t ll, rl;
        uint64_t hl, hr;
        int32_t il, ir, m;
        size_t slot;
    } b[BATCH];
    size_t skipped = 0;
    int32_t m = -1;
    for (uint64_t base = 0; base < mv->count; base += BATCH) {
        size_t nb = mv->count - base < BATCH ? (size_t)(mv->count - base) : BATCH;
        for (size_t k = 0; k < nb; k++) {
            struct gguf_str s;
            if ((rc = gguf_array_str(mv, base + k, &s, err)))
                return rc;
            /* "left right"; the search starts at 1 so that a left part could
             * be a space itself (byte-level vocabularies spell it U+0120). */
            const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
            if (!sp) {
                char shown[48];
                gguf_str_copy(shown, sizeof shown, s);
                return qm_err_set(err, "tokenizer: merge %" PRIu64 " ('%s') is not two tokens "
                                  "separated by a space", base + k, shown);
            }
            b[k].l = s.ptr;
            b[k].ll = (size_t)(sp - s.ptr);
            b[k].r = sp + 1;
            b[k].rl = s.len - b[k].ll - 1;
            b[k].hl = tok_hash(b[k].l, b[k].ll, NULL, 0);
            b[k].hr = tok_hash(b[k].r, b[k].rl, NULL, 0);
            __builtin_prefetch(&tok->index[b[k].hl & tok->index_mask]);
            __builtin_prefetch(&tok->index[b[k].hr & tok->index_mask]);
        }
        for (size_t k = 0; k < nb; k++) {
            __builtin_prefetch(tok->text + tok->index[b[k].hl & tok->index_mask].off);
            __builtin_prefetch(tok->text + tok->index[b[k].hr & tok->index_mask].off);
        }
        for (size_t k = 0; k < nb; k++) {
            b[k].il = tok_lookup_hashed(tok, b[k].hl, b[k].l, b[k].ll, NULL, 0);
            b[k].ir = tok_lookup_hashed(tok, b[k].hr, b[k].r, b[k].rl, NULL, 0);
            /* Vocabularies made by BPE training list the merged tokens in
             * merge order, so the result is usually the token after the last
             * one: check that before hashing. */
            int32_t guess = m + 1;
            const struct tok_token *g = guess > 0 && guess < tok->n_vocab ? &tok->tokens[guess] : NULL;
            if (g && !g->shadowed && g->len == b[k].ll + b[k].rl &&
                memcmp(tok->text + g->off, b[k].l, b[k].ll) == 0 &&
                memcmp(tok->text + g->off + b[k].ll, b[k].r, b[k].rl) == 0)
                m = guess;
            else
                m = tok_lookup2(tok, b[k].l, b[k].ll, b[k].r, b[k].rl);
            b[k].m = m;
            if (b[k].il >= 0 && b[k].ir >= 0 && m >= 0) {
                b[k].slot = merge_slot(tok, (uint64_t)(uint32_t)b[k].il << 32 | (uint32_t)b[k].ir);
                __builtin_prefetch(&tok->merges[b[k].slot], 1);
            }
        }
        for (size_t k = 0; k < nb; k++) {
            if (b[k].il < 0 || b[k].ir < 0 || b[k].m < 0)
                skipped++;
            else
                merge_insert(tok, b[k].il, b[k].ir, (int32_t)(base + k), b[k].m);
        }
    }
    if (skipped)
        qm_log_warn("tokenizer: %zu of %" PRIu64 " merges name a text that is not in the vocabulary; "
                    "they are ignored", skipped, mv->count);
    return 0;
}

int tok_bpe_init(struct qm_tokenizer *tok, const struct gguf_file *f, struct qm_err *err)
{
    struct gguf_str pre = {0};
    int rc = gguf_get_str(f, "tokenizer.ggml.pre", &pre, err);
    if (rc && rc != GGUF_ENOKEY)
        return rc;
    size_t which = 0;   /* "default" */
    if (rc == GGUF_ENOKEY) {
        qm_log_warn("tokenizer: the file has no tokenizer.ggml.pre; using the 'default' pre-tokenizer, "
                    "which may not split text the way this model was trained");
    } else {
        size_t k;
        for (k = 0; k < sizeof pre_names / sizeof pre_names[0]; k++)
            if (gguf_str_eq(pre, pre_names[k].name))
                break;
        if (k < sizeof pre_names / sizeof pre_names[0]) {
            which = k;
        } else {
            char name[48];
            gguf_str_copy(name, sizeof name, pre);
            qm_log_warn("tokenizer: unknown pre-tokenizer '%s'; using 'default', which may not split "
                        "text the way this model was trained", name);
        }
    }
    enum pre_group g = pre_names[which].group;
    snprintf(tok->pre, sizeof tok->pre, "%s", pre_names[which].name);
    tok->clean_spaces = pre_names[which].clean_spaces;
    tok->ignore_merges = g == PRE_LLAMA3;
    tok->add_bos = g == PRE_LLAMA3;   /* the default; add_bos_token overrides it */
    tok->add_space_prefix = false;

    if ((rc = load_merges(tok, f, err)) || (rc = compile_regexes(tok, g, err)))
        return rc;
    for (int b = 0; b < 256; b++) {
        char u[4];
        size_t n = tok_utf8_put(tok_byte_to_cp((uint8_t)b), u);
        tok->byte_token[b] = qm_tok_lookup(tok, u, n);
    }
    return 0;
}

void tok_bpe_free(struct qm_tokenizer *tok)
{
    for (size_t i = 0; i < tok->n_re; i++)
        pcre2_code_free(tok->re[i]);
    tok->n_re = 0;
    free(tok->merges);
    tok->merges = NULL;
}

/* ---- encoding ------------------------------------------------------------ */

static int grow_cuts(uint32_t **v, size_t *cap, size_t n, struct qm_err *err)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < n)
        c *= 2;
    uint32_t *p = realloc(*v, c * sizeof *p);
    if (!p)
        return qm_err_set(err, "tokenizer: out of memory"), QM_ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

/* Split the pieces cuts[0..*n) (boundaries, first 0, last the length) with
 * regex re, writing the new boundaries to out. */
static int split_pass(const pcre2_code *re, const char *text, const uint32_t *cuts, size_t n,
                      struct tok_scratch *s, size_t *n_out, struct qm_err *err)
{
    size_t o = 0;
    int rc;
    if ((rc = grow_cuts(&s->cuts2, &s->cap_cuts2, 1, err)))
        return rc;
    s->cuts2[o++] = cuts[0];
    for (size_t p = 0; p + 1 < n; p++) {
        const char *piece = text + cuts[p];
        size_t plen = cuts[p + 1] - cuts[p];
        size_t at = 0;
        while (at < plen) {
            int m = pcre2_match(re, (PCRE2_SPTR)piece, plen, at, 0, s->md, NULL);
            if (m == PCRE2_ERROR_JIT_STACKLIMIT)   /* a very long run: the interpreter copes */
                m = pcre2_match(re, (PCRE2_SPTR)piece, plen, at, PCRE2_NO_JIT, s->md, NULL);
            if (m == PCRE2_ERROR_NOMATCH)
                break;
            if (m < 0) {
                PCRE2_UCHAR msg[128];
                pcre2_get_error_message(m, msg, sizeof msg);
                return qm_err_set(err, "tokenizer: the pre-tokenizer failed: %s", (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            size_t ms = ov[0], me = ov[1];
            if (me == ms) {     /* an empty match (no pattern of ours has one): step on */
                size_t adv;
                tok_utf8_get(piece + at, plen - at, &adv);
                at += adv;
                continue;
            }
            if ((rc = grow_cuts(&s->cuts2, &s->cap_cuts2, o + 2, err)))
                return rc;
            if (cuts[p] + ms > s->cuts2[o - 1])
                s->cuts2[o++] = cuts[p] + (uint32_t)ms;
            s->cuts2[o++] = cuts[p] + (uint32_t)me;
            at = me;
        }
        if ((rc = grow_cuts(&s->cuts2, &s->cap_cuts2, o + 1, err)))
            return rc;
        if (cuts[p + 1] > s->cuts2[o - 1])
            s->cuts2[o++] = cuts[p + 1];
    }
    *n_out = o;
    return 0;
}

static int try_pair(const struct qm_tokenizer *tok, struct tok_scratch *s, int32_t l, int32_t r,
                    struct qm_err *err)
{
    int32_t a = s->id[l], b = s->id[r];
    if (a < 0 || b < 0)
        return 0;
    const struct tok_merge *m = merge_find(tok, a, b);
    if (!m)
        return 0;
    return tok_heap_push(&s->heap, (struct tok_cand){.key = m->rank, .pos = l, .right = r, .a = a,
                                                     .b = b, .res = m->result}, err);
}

/* Merge one piece's bytes into tokens. */
static int bpe_piece(const struct qm_tokenizer *tok, struct tok_scratch *s, const uint8_t *p, size_t n,
                     struct tok_ids *out, struct qm_err *err)
{
    int rc;
    if (n == 1) {
        int32_t id = tok->byte_token[p[0]];
        return id >= 0 ? tok_ids_push(out, id, err) : 0;
    }
    if (tok->ignore_merges) {
        /* Llama 3: a piece that is a token is that token, whatever the merges say. */
        if ((rc = tok_scratch_buf(s, n * 2, err)))
            return rc;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            m += tok_utf8_put(tok_byte_to_cp(p[i]), s->buf + m);
        int32_t id = qm_tok_lookup(tok, s->buf, m);
        if (id >= 0)
            return tok_ids_push(out, id, err);
    }
    if ((rc = tok_scratch_symbols(s, n, err)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        s->id[i] = tok->byte_token[p[i]];
        s->prev[i] = (int32_t)i - 1;
        s->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    s->heap.n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if ((rc = try_pair(tok, s, (int32_t)i, (int32_t)i + 1, err)))
            return rc;
    while (s->heap.n) {
        struct tok_cand c = tok_heap_pop(&s->heap);
        int32_t l = c.pos, r = c.right;
        /* Stale: a side was merged away or into something else since. */
        if (s->next[l] != r || s->id[l] != c.a || s->id[r] != c.b)
            continue;
        int32_t nr = s->next[r];
        s->id[l] = c.res;
        s->next[l] = nr;
        if (nr >= 0)
            s->prev[nr] = l;
        s->id[r] = -2;
        s->next[r] = -2;
        if (s->prev[l] >= 0 && (rc = try_pair(tok, s, s->prev[l], l, err)))
            return rc;
        if (nr >= 0 && (rc = try_pair(tok, s, l, nr, err)))
            return rc;
    }
    for (int32_t i = 0; i >= 0; i = s->next[i])
        if (s->id[i] >= 0 && (rc = tok_ids_push(out, s->id[i], err)))
            return rc;
    /* A byte whose character is not in the vocabulary (id -1) has no token
     * at all; llama.cpp drops it too. */
    return 0;
}

int tok_bpe_encode(const struct qm_tokenizer *tok, struct tok_scratch *s, const char *text, size_t len,
                   struct tok_ids *out, struct qm_err *err)
{
    int rc;
    if (!s->md) {
        s->md = pcre2_match_data_create(1, NULL);
        if (!s->md)
            return qm_err_set(err, "tokenizer: out of memory"), QM_ENOMEM;
    }
    if ((rc = grow_cuts(&s->cuts, &s->cap_cuts, 2, err)))
        return rc;
    s->cuts[0] = 0;
    s->cuts[1] = (uint32_t)len;
    size_t n = 2;
    for (size_t i = 0; i < tok->n_re; i++) {
        size_t n2 = 0;
        if ((rc = split_pass(tok->re[i], text, s->cuts, n, s, &n2, err)))
            return rc;
        uint32_t *t = s->cuts;
        size_t tc = s->cap_cuts;
        s->cuts = s->cuts2, s->cap_cuts = s->cap_cuts2;
        s->cuts2 = t, s->cap_cuts2 = tc;
        n = n2;
    }
    for (size_t p = 0; p + 1 < n; p++)
        if ((rc = bpe_piece(tok, s, (const uint8_t *)text + s->cuts[p], s->cuts[p + 1] - s->cuts[p], out,
                            err)))
            return rc;
    return 0;
}
