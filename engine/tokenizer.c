/* tokenizer.c - loading a GGUF vocabulary, cutting out special tokens, decoding.
 *
 * Loading reads the tokenizer.* keys of engine-reference.md section 5.1 and
 * builds everything encoding and decoding will need, once, so that the hot
 * paths only do hash look-ups:
 *   - every token's text copied into one arena, with a hash table text -> id
 *     (open addressing, the later id winning for a duplicated text, as in
 *     llama.cpp's and Hugging Face's maps);
 *   - the special ids, add_bos/add_eos/add_space_prefix with llama.cpp's
 *     defaults, and the end-of-generation set of section 6 (end markers found
 *     by name are forced to CONTROL type, as llama.cpp does);
 *   - a byte trie of the special tokens' texts;
 *   - every token's decoded bytes ("piece"), so decoding is a copy;
 *   - the model-specific parts: merges and regexes (tokenizer_bpe.c), byte
 *     fallback tokens (tokenizer_spm.c).
 * For a 262k-token vocabulary this takes a few tens of milliseconds.
 *
 * Encoding first cuts special tokens out of the text (section 5.2).
 * llama.cpp does that token by token, longest text first, searching every
 * remaining fragment for each of them; with Gemma's 6,400 special tokens
 * that is 6,400 searches per prompt.  We get the same result from one pass:
 * walk the trie from every position that can start a special token to list
 * all occurrences, then accept them longest first (among equal lengths
 * leftmost first), skipping any that overlaps one already accepted.  A
 * longest-first token search followed by the search for the next length
 * accepts exactly these.  (llama.cpp's order among tokens of equal length is
 * that of an unstable sort; leftmost-first is also what Hugging Face's
 * leftmost-longest matcher does there.)
 *
 * Decoding follows section 5.5.  The stream decoder holds back an incomplete
 * UTF-8 sequence and passes invalid bytes through unchanged. */
#include "tokenizer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "log.h"
#include "tokenizer_impl.h"

/* ---- UTF-8 -------------------------------------------------------------- */

size_t tok_utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The range the second byte of a sequence must lie in, given the lead byte
 * (this excludes overlong forms, surrogates and code points past U+10FFFF). */
static void utf8_second_range(uint8_t lead, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (lead == 0xE0)
        *lo = 0xA0;
    else if (lead == 0xED)
        *hi = 0x9F;
    else if (lead == 0xF0)
        *lo = 0x90;
    else if (lead == 0xF4)
        *hi = 0x8F;
}

/* How many bytes a valid sequence starting with lead has, 0 if none does. */
static size_t utf8_need(uint8_t lead)
{
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    if (lead >= 0xF0 && lead <= 0xF4)
        return 4;
    return 0;
}

int32_t tok_utf8_get(const char *s, size_t n, size_t *adv)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t need = utf8_need(u[0]);
    *adv = 1;
    if (need == 1)
        return u[0];
    if (need == 0 || need > n)
        return -1;
    uint8_t lo, hi;
    utf8_second_range(u[0], &lo, &hi);
    if (u[1] < lo || u[1] > hi)
        return -1;
    uint32_t cp = u[0] & (0x7F >> need);
    for (size_t i = 1; i < need; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return -1;
        cp = cp << 6 | (u[i] & 0x3F);
    }
    *adv = need;
    return (int32_t)cp;
}

/* Of s[0..n), the trailing bytes that begin a valid UTF-8 sequence still
 * missing its last bytes (0 to 3).  Everything before them is final. */
static size_t utf8_incomplete_tail(const uint8_t *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        uint8_t c = s[n - k];
        if ((c & 0xC0) == 0x80)
            continue;               /* a continuation byte: look further back */
        size_t need = utf8_need(c);
        if (need <= k)
            return 0;               /* ASCII, an invalid lead, or complete */
        if (k >= 2) {
            uint8_t lo, hi;
            utf8_second_range(c, &lo, &hi);
            if (s[n - k + 1] < lo || s[n - k + 1] > hi)
                return 0;           /* can never become valid: release it */
        }
        return k;
    }
    return 0;
}

/* ---- the vocabulary hash ------------------------------------------------ */

/* FNV-1a over both parts, then a final mix so that the low bits (the table
 * index) depend on all of the input. */
uint64_t tok_hash(const char *a, size_t alen, const char *b, size_t blen)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ (uint8_t)a[i]) * 0x100000001b3ull;
    for (size_t i = 0; i < blen; i++)
        h = (h ^ (uint8_t)b[i]) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

static int32_t id_before(const char *text)
{
    int32_t id;
    memcpy(&id, text - 4, 4);
    return id;
}

int32_t tok_lookup_hashed(const struct qm_tokenizer *tok, uint64_t h, const char *a, size_t alen,
                          const char *b, size_t blen)
{
    size_t len = alen + blen;
    size_t i = h & tok->index_mask;
    for (;;) {
        struct tok_slot slot = tok->index[i];
        if (slot.off == 0)
            return -1;
        if (slot.len == len) {
            const char *s = tok->text + slot.off;
            if ((alen == 0 || memcmp(s, a, alen) == 0) && (blen == 0 || memcmp(s + alen, b, blen) == 0))
                return id_before(s);
        }
        i = (i + 1) & tok->index_mask;
    }
}

int32_t tok_lookup2(const struct qm_tokenizer *tok, const char *a, size_t alen, const char *b,
                    size_t blen)
{
    return tok_lookup_hashed(tok, tok_hash(a, alen, b, blen), a, alen, b, blen);
}

int32_t qm_tok_lookup(const struct qm_tokenizer *tok, const char *text, size_t len)
{
    return tok_lookup2(tok, text, len, NULL, 0);
}

/* Insert id, whose text hashes to h; a text already present now maps to
 * the later id. */
static void index_insert(struct qm_tokenizer *tok, int32_t id, uint64_t h)
{
    const struct tok_token *t = &tok->tokens[id];
    const char *s = tok->text + t->off;
    size_t i = h & tok->index_mask;
    for (;;) {
        struct tok_slot slot = tok->index[i];
        if (slot.off == 0)
            break;
        if (slot.len == t->len && memcmp(tok->text + slot.off, s, t->len) == 0) {
            tok->tokens[id_before(tok->text + slot.off)].shadowed = 1;
            break;
        }
        i = (i + 1) & tok->index_mask;
    }
    tok->index[i] = (struct tok_slot){.off = t->off, .len = t->len};
}

/* ---- small shared containers -------------------------------------------- */

int tok_ids_push(struct tok_ids *ids, int32_t id, struct qm_err *err)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (!v) {
            qm_err_set(err, "tokenizer: out of memory for %zu token ids", cap);
            return QM_ENOMEM;
        }
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return 0;
}

static bool cand_less(const struct tok_cand *x, const struct tok_cand *y)
{
    return x->key < y->key || (x->key == y->key && x->pos < y->pos);
}

int tok_heap_push(struct tok_heap *h, struct tok_cand c, struct qm_err *err)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct tok_cand *v = realloc(h->v, cap * sizeof *v);
        if (!v) {
            qm_err_set(err, "tokenizer: out of memory for the merge queue");
            return QM_ENOMEM;
        }
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(&c, &h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = c;
    return 0;
}

struct tok_cand tok_heap_pop(struct tok_heap *h)
{
    struct tok_cand top = h->v[0];
    struct tok_cand last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && cand_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!cand_less(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

int tok_scratch_symbols(struct tok_scratch *s, size_t n, struct qm_err *err)
{
    if (n <= s->cap_sym)
        return 0;
    size_t cap = s->cap_sym ? s->cap_sym : 256;
    while (cap < n)
        cap *= 2;
    int32_t *prev = realloc(s->prev, cap * sizeof *prev);
    if (prev)
        s->prev = prev;
    int32_t *next = realloc(s->next, cap * sizeof *next);
    if (next)
        s->next = next;
    int32_t *id = realloc(s->id, cap * sizeof *id);
    if (id)
        s->id = id;
    uint32_t *start = realloc(s->start, cap * sizeof *start);
    if (start)
        s->start = start;
    uint32_t *len = realloc(s->len, cap * sizeof *len);
    if (len)
        s->len = len;
    if (!prev || !next || !id || !start || !len) {
        qm_err_set(err, "tokenizer: out of memory for %zu symbols", n);
        return QM_ENOMEM;
    }
    s->cap_sym = cap;
    return 0;
}

int tok_scratch_buf(struct tok_scratch *s, size_t n, struct qm_err *err)
{
    if (n <= s->cap_buf)
        return 0;
    size_t cap = s->cap_buf ? s->cap_buf : 1024;
    while (cap < n)
        cap *= 2;
    char *buf = realloc(s->buf, cap);
    if (!buf) {
        qm_err_set(err, "tokenizer: out of memory for a %zu-byte fragment", n);
        return QM_ENOMEM;
    }
    s->buf = buf;
    s->cap_buf = cap;
    return 0;
}

static void scratch_free(struct tok_scratch *s)
{
    free(s->heap.v);
    free(s->prev);
    free(s->next);
    free(s->id);
    free(s->start);
    free(s->len);
    free(s->buf);
    free(s->cuts);
    free(s->cuts2);
    if (s->md)
        pcre2_match_data_free(s->md);
}

/* ---- loading: metadata helpers ------------------------------------------ */

/* An optional id key.  Absent: *id keeps its default.  Present but past the
 * vocabulary: ignored with a warning (section 5.1). */
static int read_id(const struct gguf_file *f, const char *key, int32_t n_vocab, int32_t *id,
                   struct qm_err *err)
{
    const struct gguf_value *v = gguf_find(f, key);
    if (!v)
        return 0;
    int64_t x = 0;
    switch (v->type) {
    case GGUF_U32: {
        uint32_t u;
        gguf_value_u32(v, &u, NULL);
        x = u;
        break;
    }
    case GGUF_I32: {
        int32_t i;
        gguf_value_i32(v, &i, NULL);
        x = i;
        break;
    }
    case GGUF_U64: {
        uint64_t u;
        gguf_value_u64(v, &u, NULL);
        x = u > INT64_MAX ? -1 : (int64_t)u;
        break;
    }
    case GGUF_I64:
        gguf_value_i64(v, &x, NULL);
        break;
    default:
        return qm_err_set(err, "tokenizer: key '%s' has type %s, not an integer token id", key,
                          gguf_vtype_name(v->type));
    }
    if (x < 0 || x >= n_vocab) {
        qm_log_warn("tokenizer: %s = %" PRId64 " is not a token of this vocabulary of %" PRId32
                    " tokens; ignored", key, x, n_vocab);
        return 0;
    }
    *id = (int32_t)x;
    return 0;
}

static int read_bool(const struct gguf_file *f, const char *key, bool *out, struct qm_err *err)
{
    int rc = gguf_get_bool(f, key, out, err);
    if (rc == GGUF_ENOKEY)
        return 0;
    if (rc)
        return qm_err_set(err, "tokenizer: key '%s' must be a bool", key);
    return 0;
}

/* An optional array key of n elements of type want; *out NULL when absent. */
static int read_array(const struct gguf_file *f, const char *key, enum gguf_vtype want, int32_t n,
                      const struct gguf_value **out, struct qm_err *err)
{
    *out = gguf_find(f, key);
    if (!*out)
        return 0;
    const struct gguf_value *v = *out;
    if (v->type != GGUF_ARRAY || v->elem_type != want)
        return qm_err_set(err, "tokenizer: key '%s' must be an array of %s", key, gguf_vtype_name(want));
    if (v->count != (uint64_t)n)
        return qm_err_set(err, "tokenizer: '%s' has %" PRIu64 " entries but the vocabulary has %" PRId32
                          " tokens", key, v->count, n);
    return 0;
}

/* ---- loading: end of generation ------------------------------------------ */

/* Token texts that end a generation whatever the metadata says (section 6). */
static const char *const eog_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "<|return|>", "<|call|>",
};
/* Candidates for a missing eot_token_id, most specific first. */
static const char *const eot_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>", "<EOT>", "_<EOT>", "<end_of_utterance>",
};
/* Fill-in-the-middle tokens that also end a generation. */
static const char *const fim_pad_names[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"};
static const char *const fim_rep_names[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
                                            "<reponame>"};
static const char *const fim_sep_names[] = {"<|file_sep|>"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The first of names that is a token, or -1; that token becomes CONTROL. */
static int32_t find_named(struct qm_tokenizer *tok, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int32_t id = qm_tok_lookup(tok, names[i], strlen(names[i]));
        if (id >= 0) {
            tok->tokens[id].type = QM_TOKEN_CONTROL;
            return id;
        }
    }
    return -1;
}

static int build_eog(struct qm_tokenizer *tok, int32_t fim_pad, int32_t fim_rep, int32_t fim_sep,
                     struct qm_err *err)
{
    if (tok->eot < 0)
        tok->eot = find_named(tok, eot_names, COUNT(eot_names));
    if (tok->eom < 0)
        tok->eom = find_named(tok, (const char *const[]){"<|eom_id|>"}, 1);
    if (fim_pad < 0)
        fim_pad = find_named(tok, fim_pad_names, COUNT(fim_pad_names));
    if (fim_rep < 0)
        fim_rep = find_named(tok, fim_rep_names, COUNT(fim_rep_names));
    if (fim_sep < 0)
        fim_sep = find_named(tok, fim_sep_names, COUNT(fim_sep_names));

    int32_t ids[] = {tok->eos, tok->eot, tok->eom, fim_pad, fim_rep, fim_sep};
    for (size_t i = 0; i < COUNT(ids); i++)
        if (ids[i] >= 0)
            tok->tokens[ids[i]].eog = 1;
    bool has_return = false, has_call = false;
    int32_t end_id = -1;
    for (size_t i = 0; i < COUNT(eog_names); i++) {
        int32_t id = qm_tok_lookup(tok, eog_names[i], strlen(eog_names[i]));
        if (id < 0)
            continue;
        tok->tokens[id].eog = 1;
        tok->tokens[id].type = QM_TOKEN_CONTROL;
        has_return |= strcmp(eog_names[i], "<|return|>") == 0;
        has_call |= strcmp(eog_names[i], "<|call|>") == 0;
        if (strcmp(eog_names[i], "<|end|>") == 0)
            end_id = id;
    }
    /* gpt-oss (harmony) ends a message with <|end|> but a generation with
     * <|return|> or <|call|>; there <|end|> is an ordinary marker. */
    if (has_return && has_call && end_id >= 0 && end_id != tok->eos) {
        tok->tokens[end_id].eog = 0;
        tok->tokens[end_id].type = QM_TOKEN_USER_DEFINED;
    }

    size_t n = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++)
        n += tok->tokens[i].eog;
    tok->eog_ids = malloc((n ? n : 1) * sizeof *tok->eog_ids);
    if (!tok->eog_ids)
        return qm_err_set(err, "tokenizer: out of memory"), QM_ENOMEM;
    tok->n_eog = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++)
        if (tok->tokens[i].eog)
            tok->eog_ids[tok->n_eog++] = i;
    return 0;
}

/* ---- loading: the special-token trie ------------------------------------- */

static bool is_special_type(uint8_t type)
{
    return type == QM_TOKEN_CONTROL || type == QM_TOKEN_USER_DEFINED || type == QM_TOKEN_UNKNOWN;
}

static int build_trie(struct qm_tokenizer *tok, struct qm_err *err)
{
    size_t cap = 1;
    for (int32_t i = 0; i < tok->n_vocab; i++)
        if (is_special_type(tok->tokens[i].type))
            cap += tok->tokens[i].len;
    tok->trie = malloc(cap * sizeof *tok->trie);
    if (!tok->trie)
        return qm_err_set(err, "tokenizer: out of memory for the special tokens"), QM_ENOMEM;
    tok->trie[0] = (struct tok_trie_node){.child = -1, .sibling = -1, .id = -1};
    tok->n_trie = 1;
    memset(tok->special_first, 0, sizeof tok->special_first);

    for (int32_t id = 0; id < tok->n_vocab; id++) {
        const struct tok_token *t = &tok->tokens[id];
        if (!is_special_type(t->type))
            continue;
        const uint8_t *s = (const uint8_t *)tok->text + t->off;
        tok->special_first[s[0] >> 3] |= (uint8_t)(1u << (s[0] & 7));
        int32_t node = 0;
        for (uint32_t j = 0; j < t->len; j++) {
            int32_t c = tok->trie[node].child;
            while (c >= 0 && tok->trie[c].byte != s[j])
                c = tok->trie[c].sibling;
            if (c < 0) {
                c = (int32_t)tok->n_trie++;
                tok->trie[c] = (struct tok_trie_node){.child = -1, .sibling = tok->trie[node].child,
                                                      .id = -1, .byte = s[j]};
                tok->trie[node].child = c;
            }
            node = c;
        }
        tok->trie[node].id = id;  /* a duplicated text: the later id, as the index has it */
    }
    return 0;
}

/* ---- loading: pieces ----------------------------------------------------- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Byte tokens are spelled <0xXX>; -1 for any other text. */
static int byte_token_value(const char *s, size_t n)
{
    if (n != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>')
        return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Decode token id into out (room for its text's length); returns the length. */
static size_t decode_token(const struct qm_tokenizer *tok, int32_t id, char *out)
{
    const struct tok_token *t = &tok->tokens[id];
    const char *s = tok->text + t->off;
    size_t n = t->len, o = 0;
    switch (t->type) {
    case QM_TOKEN_NORMAL:
        if (tok->model == QM_TOK_SPM) {
            for (size_t i = 0; i < n; i++) {
                if (i + 2 < n && (uint8_t)s[i] == 0xE2 && (uint8_t)s[i + 1] == 0x96 &&
                    (uint8_t)s[i + 2] == 0x81) {
                    out[o++] = ' ';
                    i += 2;
                } else {
                    out[o++] = s[i];
                }
            }
        } else {
            /* Byte-level characters back to bytes.  A character outside the
             * table (a broken vocabulary) is kept as it is written. */
            for (size_t i = 0; i < n;) {
                size_t adv;
                int32_t cp = tok_utf8_get(s + i, n - i, &adv);
                int b = cp >= 0 ? tok_cp_to_byte((uint32_t)cp) : -1;
                if (b >= 0) {
                    out[o++] = (char)b;
                } else {
                    memcpy(out + o, s + i, adv);
                    o += adv;
                }
                i += adv;
            }
        }
        return o;
    case QM_TOKEN_BYTE: {
        int b = byte_token_value(s, n);
        if (b >= 0) {
            out[0] = (char)b;
            return 1;
        }
        memcpy(out, s, n);
        return n;
    }
    case QM_TOKEN_CONTROL:
    case QM_TOKEN_UNKNOWN:
    case QM_TOKEN_USER_DEFINED:
        memcpy(out, s, n);
        return n;
    default:  /* unused, undefined: nothing, as llama.cpp renders them */
        return 0;
    }
}

static int build_pieces(struct qm_tokenizer *tok, size_t text_total, struct qm_err *err)
{
    /* A piece is never longer than its token's text: every byte-level
     * character, U+2581 and <0xXX> shrink to one byte. */
    tok->piece = malloc(text_total ? text_total : 1);
    tok->piece_off = malloc(((size_t)tok->n_vocab + 1) * sizeof *tok->piece_off);
    if (!tok->piece || !tok->piece_off)
        return qm_err_set(err, "tokenizer: out of memory for the decoded pieces"), QM_ENOMEM;
    uint32_t off = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        tok->piece_off[i] = off;
        off += (uint32_t)decode_token(tok, i, tok->piece + off);
    }
    tok->piece_off[tok->n_vocab] = off;
    return 0;
}

/* ---- loading ------------------------------------------------------------- */

static int load_tokens(struct qm_tokenizer *tok, const struct gguf_file *f, size_t *text_total,
                       struct qm_err *err)
{
    const struct gguf_value *tv, *sv, *yv;
    int rc = gguf_get_array(f, "tokenizer.ggml.tokens", &tv, err);
    if (rc == GGUF_ENOKEY)
        return qm_err_set(err, "tokenizer: the file has no tokenizer.ggml.tokens");
    if (rc)
        return rc;
    if (tv->elem_type != GGUF_STRING)
        return qm_err_set(err, "tokenizer: tokenizer.ggml.tokens must be an array of strings");
    if (tv->count == 0 || tv->count >= INT32_MAX)
        return qm_err_set(err, "tokenizer: a vocabulary of %" PRIu64 " tokens is not supported",
                          tv->count);
    int32_t n = (int32_t)tv->count;
    if ((rc = read_array(f, "tokenizer.ggml.scores", GGUF_F32, n, &sv, err)) ||
        (rc = read_array(f, "tokenizer.ggml.token_type", GGUF_I32, n, &yv, err)))
        return rc;

    tok->n_vocab = n;
    tok->tokens = calloc((size_t)n, sizeof *tok->tokens);
    if (!tok->tokens)
        return qm_err_set(err, "tokenizer: out of memory for %" PRId32 " tokens", n), QM_ENOMEM;

    /* First pass: lengths, so the arena is allocated once.  An empty token
     * is renamed [EMPTY_i] (section 5.1), so that it cannot match anything. */
    char name[32];
    uint64_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        struct gguf_str s;
        if ((rc = gguf_array_str(tv, (uint64_t)i, &s, err)))
            return rc;
        size_t len = s.len ? s.len : (size_t)snprintf(name, sizeof name, "[EMPTY_%" PRId32 "]", i);
        if (len >= UINT32_MAX || qm_ckd_add(&total, total, (uint64_t)len + 4) || total >= UINT32_MAX)
            return qm_err_set(err, "tokenizer: the vocabulary's texts exceed 4 GiB");
    }
    *text_total = (size_t)total;
    tok->text = malloc(total ? (size_t)total : 1);
    if (!tok->text)
        return qm_err_set(err, "tokenizer: out of memory for the vocabulary"), QM_ENOMEM;

    uint32_t off = 0;
    for (int32_t i = 0; i < n; i++) {
        struct gguf_str s;
        gguf_array_str(tv, (uint64_t)i, &s, NULL);
        struct tok_token *t = &tok->tokens[i];
        memcpy(tok->text + off, &i, 4);
        off += 4;
        t->off = off;
        if (s.len) {
            memcpy(tok->text + off, s.ptr, s.len);
            t->len = (uint32_t)s.len;
        } else {
            t->len = (uint32_t)snprintf(tok->text + off, sizeof name, "[EMPTY_%" PRId32 "]", i);
            qm_log_warn("tokenizer: token %" PRId32 " has an empty text; renamed [EMPTY_%" PRId32 "]",
                        i, i);
        }
        off += t->len;
        t->type = QM_TOKEN_NORMAL;
        if (sv)
            memcpy(&t->score, sv->data + (size_t)i * 4, 4);
        if (yv) {
            int32_t type;
            memcpy(&type, yv->data + (size_t)i * 4, 4);
            /* Unknown numbers become UNDEFINED, as in llama.cpp. */
            t->type = type >= QM_TOKEN_NORMAL && type <= QM_TOKEN_BYTE ? (uint8_t)type
                                                                        : QM_TOKEN_UNDEFINED;
        }
    }

    size_t cap = 16;
    while (cap < (size_t)n * 2)
        cap *= 2;
    tok->index = calloc(cap, sizeof *tok->index);
    if (!tok->index)
        return qm_err_set(err, "tokenizer: out of memory for the vocabulary index"), QM_ENOMEM;
    tok->index_mask = cap - 1;
    /* Hash a batch first and prefetch its slots, so that the cache misses
     * of the inserts overlap. */
    uint64_t h[32];
    for (int32_t base = 0; base < n; base += 32) {
        int32_t nb = n - base < 32 ? n - base : 32;
        for (int32_t k = 0; k < nb; k++) {
            const struct tok_token *t = &tok->tokens[base + k];
            h[k] = tok_hash(tok->text + t->off, t->len, NULL, 0);
            __builtin_prefetch(&tok->index[h[k] & tok->index_mask], 1);
        }
        for (int32_t k = 0; k < nb; k++)
            index_insert(tok, base + k, h[k]);
    }
    return 0;
}

int qm_tokenizer_load(struct qm_tokenizer **out, const struct gguf_file *f, struct qm_err *err)
{
    *out = NULL;
    struct qm_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return qm_err_set(err, "tokenizer: out of memory"), QM_ENOMEM;
    int rc;
    size_t text_total = 0;
    struct gguf_str model;
    if ((rc = gguf_get_str(f, "tokenizer.ggml.model", &model, err))) {
        if (rc == GGUF_ENOKEY)
            qm_err_set(err, "tokenizer: the file has no tokenizer.ggml.model");
        goto err;
    }
    if (gguf_str_eq(model, "gpt2")) {
        tok->model = QM_TOK_BPE;
    } else if (gguf_str_eq(model, "llama")) {
        tok->model = QM_TOK_SPM;
    } else {
        char name[64];
        gguf_str_copy(name, sizeof name, model);
        rc = QM_EUNSUPPORTED;
        qm_err_set(err, "tokenizer: tokenizer.ggml.model '%s' is not supported (only 'gpt2' and "
                   "'llama' are)", name);
        goto err;
    }
    if ((rc = load_tokens(tok, f, &text_total, err)))
        goto err;

    /* llama.cpp's defaults for each kind, then the file's values. */
    int32_t fim_pad = -1, fim_rep = -1, fim_sep = -1;
    if (tok->model == QM_TOK_SPM) {
        tok->bos = 1, tok->eos = 2, tok->unk = 0;
        tok->add_bos = true, tok->add_space_prefix = true;
    } else {
        tok->bos = tok->eos = 11, tok->unk = -1;
    }
    tok->eot = tok->eom = tok->pad = -1;
    /* A default that does not exist in a small vocabulary means none. */
    if (tok->bos >= tok->n_vocab)
        tok->bos = -1;
    if (tok->eos >= tok->n_vocab)
        tok->eos = -1;
    if (tok->unk >= tok->n_vocab)
        tok->unk = -1;
    if (tok->model == QM_TOK_BPE && (rc = tok_bpe_init(tok, f, err)))
        goto err;       /* sets add_bos, ignore_merges, clean_spaces by .pre */
    if (tok->model == QM_TOK_SPM)
        snprintf(tok->pre, sizeof tok->pre, "default");
    const struct {
        const char *key;
        int32_t *id;
    } id_keys[] = {
        {"tokenizer.ggml.bos_token_id", &tok->bos},
        {"tokenizer.ggml.eos_token_id", &tok->eos},
        {"tokenizer.ggml.eot_token_id", &tok->eot},
        {"tokenizer.ggml.eom_token_id", &tok->eom},
        {"tokenizer.ggml.unknown_token_id", &tok->unk},
        {"tokenizer.ggml.padding_token_id", &tok->pad},
    };
    for (size_t i = 0; i < COUNT(id_keys); i++)
        if ((rc = read_id(f, id_keys[i].key, tok->n_vocab, id_keys[i].id, err)))
            goto err;
    if ((rc = read_id(f, "tokenizer.ggml.fim_pad_token_id", tok->n_vocab, &fim_pad, err)) ||
        (rc = read_id(f, "tokenizer.ggml.fim_rep_token_id", tok->n_vocab, &fim_rep, err)) ||
        (rc = read_id(f, "tokenizer.ggml.fim_sep_token_id", tok->n_vocab, &fim_sep, err)) ||
        (rc = read_bool(f, "tokenizer.ggml.add_bos_token", &tok->add_bos, err)) ||
        (rc = read_bool(f, "tokenizer.ggml.add_eos_token", &tok->add_eos, err)) ||
        (rc = read_bool(f, "tokenizer.ggml.add_space_prefix", &tok->add_space_prefix, err)))
        goto err;
    if (tok->model == QM_TOK_SPM && (rc = tok_spm_init(tok, err)))
        goto err;       /* byte fallback, which may fall back on UNK */
    if (tok->add_bos && tok->bos < 0) {
        rc = qm_err_set(err, "tokenizer: add_bos_token is set but the vocabulary has no BOS token");
        goto err;
    }
    if (tok->add_eos && tok->eos < 0) {
        rc = qm_err_set(err, "tokenizer: add_eos_token is set but the vocabulary has no EOS token");
        goto err;
    }
    if ((rc = build_eog(tok, fim_pad, fim_rep, fim_sep, err)) || (rc = build_trie(tok, err)) ||
        (rc = build_pieces(tok, text_total, err)))
        goto err;
    *out = tok;
    return 0;
err:
    qm_tokenizer_free(tok);
    return rc < 0 ? rc : QM_EINVAL;
}

void qm_tokenizer_free(struct qm_tokenizer *tok)
{
    if (!tok)
        return;
    tok_bpe_free(tok);
    free(tok->tokens);
    free(tok->text);
    free(tok->index);
    free(tok->eog_ids);
    free(tok->piece);
    free(tok->piece_off);
    free(tok->trie);
    free(tok);
}

/* ---- properties ----------------------------------------------------------- */

enum qm_tok_model qm_tok_model(const struct qm_tokenizer *tok) { return tok->model; }
const char *qm_tok_pre(const struct qm_tokenizer *tok) { return tok->pre; }
int32_t qm_tok_n_vocab(const struct qm_tokenizer *tok) { return tok->n_vocab; }
int32_t qm_tok_bos(const struct qm_tokenizer *tok) { return tok->bos; }
int32_t qm_tok_eos(const struct qm_tokenizer *tok) { return tok->eos; }
int32_t qm_tok_eot(const struct qm_tokenizer *tok) { return tok->eot; }
int32_t qm_tok_eom(const struct qm_tokenizer *tok) { return tok->eom; }
int32_t qm_tok_unk(const struct qm_tokenizer *tok) { return tok->unk; }
int32_t qm_tok_pad(const struct qm_tokenizer *tok) { return tok->pad; }
bool qm_tok_add_bos(const struct qm_tokenizer *tok) { return tok->add_bos; }
bool qm_tok_add_eos(const struct qm_tokenizer *tok) { return tok->add_eos; }
bool qm_tok_add_space_prefix(const struct qm_tokenizer *tok) { return tok->add_space_prefix; }

static bool valid_id(const struct qm_tokenizer *tok, int32_t id)
{
    return id >= 0 && id < tok->n_vocab;
}

bool qm_tok_is_eog(const struct qm_tokenizer *tok, int32_t id)
{
    return valid_id(tok, id) && tok->tokens[id].eog;
}

const int32_t *qm_tok_eog_ids(const struct qm_tokenizer *tok, size_t *n)
{
    *n = tok->n_eog;
    return tok->eog_ids;
}

enum qm_token_type qm_tok_type(const struct qm_tokenizer *tok, int32_t id)
{
    return valid_id(tok, id) ? (enum qm_token_type)tok->tokens[id].type : QM_TOKEN_UNDEFINED;
}

const char *qm_tok_text(const struct qm_tokenizer *tok, int32_t id, size_t *len)
{
    if (!valid_id(tok, id)) {
        *len = 0;
        return NULL;
    }
    *len = tok->tokens[id].len;
    return tok->text + tok->tokens[id].off;
}

float qm_tok_score(const struct qm_tokenizer *tok, int32_t id)
{
    return valid_id(tok, id) ? tok->tokens[id].score : 0.0f;
}

/* ---- encoding: special tokens ---------------------------------------------- */

struct occ {
    uint32_t pos, len;
    int32_t id;
};

struct occ_list {
    struct occ *v;
    size_t n, cap;
};

static int occ_push(struct occ_list *l, struct occ o, struct qm_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct occ *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return qm_err_set(err, "tokenizer: out of memory"), QM_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = o;
    return 0;
}

/* Every occurrence of every special token that may be matched, in order of
 * position (and, at one position, of length). */
static int find_occurrences(const struct qm_tokenizer *tok, const uint8_t *s, size_t len,
                            bool parse_special, struct occ_list *out, uint32_t *max_len,
                            struct qm_err *err)
{
    *max_len = 0;
    for (size_t i = 0; i < len; i++) {
        if (!(tok->special_first[s[i] >> 3] & (1u << (s[i] & 7))))
            continue;
        int32_t node = tok->trie[0].child;
        for (size_t j = i; j < len && node >= 0; j++) {
            while (node >= 0 && tok->trie[node].byte != s[j])
                node = tok->trie[node].sibling;
            if (node < 0)
                break;
            int32_t id = tok->trie[node].id;
            /* Without parse_special only user-defined tokens are cut out. */
            if (id >= 0 && (parse_special || tok->tokens[id].type == QM_TOKEN_USER_DEFINED)) {
                uint32_t l = (uint32_t)(j - i + 1);
                int rc = occ_push(out, (struct occ){.pos = (uint32_t)i, .len = l, .id = id}, err);
                if (rc)
                    return rc;
                if (l > *max_len)
                    *max_len = l;
            }
            node = tok->trie[node].child;
        }
    }
    return 0;
}

/* One fragment of the input: raw text, or a special token. */
struct frag_sink {
    const struct qm_tokenizer *tok;
    struct tok_scratch *scratch;
    struct tok_ids *out;
    bool prev_special;      /* SPM: the space prefix goes after a special token */
};

static int sink_text(struct frag_sink *k, const char *s, size_t n, struct qm_err *err)
{
    if (n == 0)
        return 0;
    int rc;
    if (k->tok->model == QM_TOK_SPM)
        rc = tok_spm_encode(k->tok, k->scratch, s, n, k->tok->add_space_prefix && k->prev_special,
                            k->out, err);
    else
        rc = tok_bpe_encode(k->tok, k->scratch, s, n, k->out, err);
    k->prev_special = false;
    return rc;
}

static int sink_token(struct frag_sink *k, int32_t id, struct qm_err *err)
{
    k->prev_special = true;
    return tok_ids_push(k->out, id, err);
}

/* Cut the special tokens out of text and feed every fragment to the sink. */
static int split_and_encode(struct frag_sink *k, const char *text, size_t len, bool parse_special,
                            struct qm_err *err)
{
    const struct qm_tokenizer *tok = k->tok;
    struct occ_list occ = {0};
    struct occ *sorted = NULL;
    size_t *count = NULL;
    uint8_t *taken = NULL;
    int32_t *start = NULL;
    uint32_t max_len;
    int rc = find_occurrences(tok, (const uint8_t *)text, len, parse_special, &occ, &max_len, err);
    if (rc)
        goto out;
    if (occ.n == 0) {
        rc = sink_text(k, text, len, err);
        goto out;
    }

    /* Longest first, then leftmost: a counting sort by length keeps the
     * position order within each length. */
    sorted = malloc(occ.n * sizeof *sorted);
    count = calloc((size_t)max_len + 2, sizeof *count);
    taken = calloc(len, 1);
    start = malloc(len * sizeof *start);
    if (!sorted || !count || !taken || !start) {
        rc = (qm_err_set(err, "tokenizer: out of memory"), QM_ENOMEM);
        goto out;
    }
    for (size_t i = 0; i < occ.n; i++)
        count[max_len - occ.v[i].len + 1]++;
    for (size_t l = 1; l <= max_len + 1; l++)
        count[l] += count[l - 1];
    for (size_t i = 0; i < occ.n; i++)
        sorted[count[max_len - occ.v[i].len]++] = occ.v[i];
    for (size_t i = 0; i < len; i++)
        start[i] = -1;
    for (size_t i = 0; i < occ.n; i++) {
        const struct occ *o = &sorted[i];
        if (memchr(taken + o->pos, 1, o->len))
            continue;   /* overlaps a token accepted before it */
        memset(taken + o->pos, 1, o->len);
        start[o->pos] = o->id;
    }

    size_t raw = 0;
    for (size_t i = 0; i < len;) {
        if (start[i] < 0) {
            i++;
            continue;
        }
        int32_t id = start[i];
        if ((rc = sink_text(k, text + raw, i - raw, err)) || (rc = sink_token(k, id, err)))
            goto out;
        i += tok->tokens[id].len;
        raw = i;
    }
    rc = sink_text(k, text + raw, len - raw, err);
out:
    free(occ.v);
    free(sorted);
    free(count);
    free(taken);
    free(start);
    return rc;
}

int qm_tokenize(const struct qm_tokenizer *tok, const char *text, size_t len, bool add_special,
                bool parse_special, int32_t **ids, size_t *n, struct qm_err *err)
{
    *ids = NULL;
    *n = 0;
    if (len >= INT32_MAX)
        return qm_err_set(err, "tokenizer: a text of %zu bytes is too long to tokenize", len);
    struct tok_ids out = {0};
    struct tok_scratch scratch = {0};
    struct frag_sink sink = {.tok = tok, .scratch = &scratch, .out = &out, .prev_special = true};
    int rc = 0;
    if (add_special && tok->add_bos && (rc = tok_ids_push(&out, tok->bos, err)))
        goto err;
    if (len && (rc = split_and_encode(&sink, text, len, parse_special, err)))
        goto err;
    if (add_special && tok->add_eos && (rc = tok_ids_push(&out, tok->eos, err)))
        goto err;
    scratch_free(&scratch);
    *ids = out.v;
    *n = out.n;
    if (out.n == 0) {
        free(out.v);
        *ids = NULL;
    }
    return 0;
err:
    scratch_free(&scratch);
    free(out.v);
    return rc;
}

/* ---- decoding ------------------------------------------------------------- */

static const char *piece_of(const struct qm_tokenizer *tok, int32_t id, bool special, size_t *len)
{
    uint8_t type = tok->tokens[id].type;
    if (!special && (type == QM_TOKEN_CONTROL || type == QM_TOKEN_UNKNOWN)) {
        *len = 0;
        return tok->piece + tok->piece_off[id];
    }
    *len = tok->piece_off[id + 1] - tok->piece_off[id];
    return tok->piece + tok->piece_off[id];
}

int qm_token_to_piece(const struct qm_tokenizer *tok, int32_t id, bool special, const char **piece,
                      size_t *len, struct qm_err *err)
{
    if (!valid_id(tok, id)) {
        *piece = NULL;
        *len = 0;
        return qm_err_set(err, "tokenizer: token id %" PRId32 " is not in the vocabulary of %" PRId32
                          " tokens", id, tok->n_vocab);
    }
    *piece = piece_of(tok, id, special, len);
    return 0;
}

static bool ends_sentence(char c)
{
    return c == '?' || c == '!' || c == '.' || c == ',';
}

/* llama.cpp's clean_up_tokenization_spaces, in place; returns the new length.
 * Three passes, each over the previous one's output:
 *   1. drop a space before ? ! . ,
 *   2. " ' " becomes "'" (the space after is used up and cannot start another);
 *   3. drop a space before 's 'm 're 've (not before 't 'd 'll). */
static size_t clean_spaces(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' && i + 1 < n && ends_sentence(s[i + 1]))
            continue;
        s[o++] = s[i];
    }
    n = o;

    o = 0;
    bool prev_space = false;  /* the byte before was a space that is still there */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\'' && prev_space && i + 1 < n && s[i + 1] == ' ') {
            s[o - 1] = '\'';    /* takes the place of the space before */
            i++;                /* and swallows the one after */
            prev_space = false;
            continue;
        }
        prev_space = c == ' ';
        s[o++] = c;
    }
    n = o;

    o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' && i + 2 < n && s[i + 1] == '\'') {
            char x1 = s[i + 2];
            bool re_ve = i + 3 < n && (x1 == 'r' || x1 == 'v') && s[i + 3] == 'e';
            if (x1 == 's' || x1 == 'm' || re_ve)
                continue;
        }
        s[o++] = s[i];
    }
    return o;
}

int qm_detokenize(const struct qm_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
                  char **text, size_t *len, struct qm_err *err)
{
    *text = NULL;
    *len = 0;
    bool special = flags & QM_DETOK_SPECIAL, raw = flags & QM_DETOK_RAW;
    bool strip = tok->add_space_prefix && !raw;
    if ((flags & QM_DETOK_REMOVE_SPECIAL) && tok->add_bos && n > 0 && ids[0] == tok->bos) {
        strip = false;  /* llama.cpp: the space after a dropped BOS stays */
        ids++;
        n--;
    }
    if ((flags & QM_DETOK_REMOVE_SPECIAL) && tok->add_eos && n > 0 && ids[n - 1] == tok->eos)
        n--;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid_id(tok, ids[i]))
            return qm_err_set(err, "tokenizer: token id %" PRId32 " (position %zu) is not in the "
                              "vocabulary of %" PRId32 " tokens", ids[i], i, tok->n_vocab);
        size_t l;
        piece_of(tok, ids[i], special, &l);
        total += l;
    }
    char *s = malloc(total + 1);
    if (!s)
        return qm_err_set(err, "tokenizer: out of memory for %zu bytes of text", total), QM_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        const char *p = piece_of(tok, ids[i], special, &l);
        if (i == 0 && strip && l > 0 && p[0] == ' ')
            p++, l--;
        memcpy(s + o, p, l);
        o += l;
    }
    if (tok->clean_spaces && !raw)
        o = clean_spaces(s, o);
    s[o] = '\0';
    *text = s;
    *len = o;
    return 0;
}

/* ---- streaming ------------------------------------------------------------- */

struct qm_detok {
    const struct qm_tokenizer *tok;
    bool special;
    char *buf;          /* what the last push released */
    size_t cap;
    char held_bytes[4]; /* the start of a character still missing bytes */
    size_t held;
};

int qm_detok_new(struct qm_detok **out, const struct qm_tokenizer *tok, unsigned flags,
                 struct qm_err *err)
{
    struct qm_detok *d = calloc(1, sizeof *d);
    if (!d)
        return qm_err_set(err, "tokenizer: out of memory"), QM_ENOMEM;
    d->tok = tok;
    d->special = flags & QM_DETOK_SPECIAL;
    *out = d;
    return 0;
}

int qm_detok_push(struct qm_detok *d, int32_t id, const char **text, size_t *len, struct qm_err *err)
{
    *text = "";
    *len = 0;
    const char *p;
    size_t l;
    int rc = qm_token_to_piece(d->tok, id, d->special, &p, &l, err);
    if (rc)
        return rc;
    size_t n = d->held + l;
    if (n == 0)
        return 0;
    if (n > d->cap) {
        size_t cap = d->cap ? d->cap : 64;
        while (cap < n)
            cap *= 2;
        char *b = realloc(d->buf, cap);
        if (!b)
            return qm_err_set(err, "tokenizer: out of memory"), QM_ENOMEM;
        d->buf = b;
        d->cap = cap;
    }
    /* The bytes held back last time first, then the new piece. */
    memcpy(d->buf, d->held_bytes, d->held);
    if (l)
        memcpy(d->buf + d->held, p, l);
    size_t tail = utf8_incomplete_tail((const uint8_t *)d->buf, n);
    memcpy(d->held_bytes, d->buf + n - tail, tail);
    d->held = tail;
    *text = d->buf;
    *len = n - tail;
    return 0;
}

void qm_detok_flush(struct qm_detok *d, const char **text, size_t *len)
{
    *text = d->held_bytes;
    *len = d->held;
    d->held = 0;
}

void qm_detok_reset(struct qm_detok *d)
{
    d->held = 0;
}

void qm_detok_free(struct qm_detok *d)
{
    if (!d)
        return;
    free(d->buf);
    free(d);
}
