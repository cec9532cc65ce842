/* tokenizer_impl.h - what the tokenizer's files share; not part of the API.
 *
 * tokenizer.c loads the vocabulary, cuts special tokens out of the text and
 * decodes; tokenizer_bpe.c and tokenizer_spm.c each encode one raw fragment
 * with their algorithm.  They meet in struct qm_tokenizer and in the small
 * helpers declared here (a growable id list, a binary heap of candidate
 * merges, the vocabulary hash). */
#ifndef QM_ENGINE_TOKENIZER_IMPL_H
#define QM_ENGINE_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer.h"

/* At most this many regexes run one after another in a pre-tokenizer. */
#define TOK_MAX_REGEX 6

struct tok_token {
    uint32_t off;       /* text at tok->text + off, its id in the 4 bytes before */
    uint32_t len;
    float score;
    uint8_t type;       /* enum qm_token_type, after the loader's corrections */
    uint8_t eog;
    uint8_t shadowed;   /* a later token has the same text (look-ups find that one) */
};

/* One node of the byte trie of special-token texts. */
struct tok_trie_node {
    int32_t child;      /* first child, or -1 */
    int32_t sibling;    /* next child of the same parent, or -1 */
    int32_t id;         /* the special token that ends here, or -1 */
    uint8_t byte;
};

/* (left id, right id) -> rank and the id of the merged token. */
struct tok_merge {
    uint64_t key;       /* left << 32 | right */
    int32_t rank;       /* -1: empty slot */
    int32_t result;
};

struct qm_tokenizer {
    enum qm_tok_model model;
    int32_t n_vocab;
    struct tok_token *tokens;       /* [n_vocab] */
    char *text;                     /* every token as its id (4 bytes) and text */

    /* text -> id, open addressing.  A slot holds where the text is, so a
     * look-up reads the slot and the text (the id is next to it) and
     * nothing else: these are the cache misses that loading a 150k-merge
     * vocabulary is made of. */
    struct tok_slot {
        uint32_t off;               /* of the text in tok->text; 0 = empty */
        uint32_t len;
    } *index;
    size_t index_mask;

    int32_t bos, eos, eot, eom, unk, pad;
    bool add_bos, add_eos, add_space_prefix;
    bool ignore_merges;             /* BPE: a piece that is a token is emitted whole */
    bool clean_spaces;              /* detokenize: " ." -> "." and friends */
    char pre[32];

    int32_t *eog_ids;               /* sorted */
    size_t n_eog;

    /* Decoded bytes of every token (control tokens: their text). */
    char *piece;
    uint32_t *piece_off;            /* [n_vocab + 1] */

    /* Special tokens (control, user-defined, unknown) as a trie, with a
     * bitmap of the bytes they can start with so most positions of a text
     * cost one bit test. */
    struct tok_trie_node *trie;     /* node 0 is the root */
    size_t n_trie;
    uint8_t special_first[32];

    /* SPM: the token for each byte when a character has no token (<0xXX>);
     * BPE: the token of each byte's byte-level character.  -1: none. */
    int32_t byte_token[256];

    /* BPE only */
    struct tok_merge *merges;
    size_t merge_mask;
    pcre2_code *re[TOK_MAX_REGEX];
    size_t n_re;
};

/* ---- shared helpers (tokenizer.c) ---------------------------------------- */

/* A growing list of ids. */
struct tok_ids {
    int32_t *v;
    size_t n, cap;
};
int tok_ids_push(struct tok_ids *ids, int32_t id, struct qm_err *err);

/* A binary min-heap of candidate merges ordered by (key, pos): the lowest
 * key first, and among equal keys the leftmost.  BPE keys are ranks, SPM
 * keys are negated scores. */
struct tok_cand {
    double key;
    int32_t pos;        /* left symbol */
    int32_t right;      /* right symbol at the time of the push */
    int32_t a, b;       /* BPE: ids of both sides; SPM: a = byte size of the pair */
    int32_t res;        /* BPE: the merged token */
};
struct tok_heap {
    struct tok_cand *v;
    size_t n, cap;
};
int tok_heap_push(struct tok_heap *h, struct tok_cand c, struct qm_err *err);
struct tok_cand tok_heap_pop(struct tok_heap *h);

/* Scratch arrays one encode call reuses from fragment to fragment. */
struct tok_scratch {
    struct tok_heap heap;
    int32_t *prev, *next, *id;      /* per symbol */
    uint32_t *start, *len;          /* per symbol (SPM) */
    size_t cap_sym;
    char *buf;                      /* SPM: the escaped fragment; BPE: a mapped piece */
    size_t cap_buf;
    pcre2_match_data *md;
    uint32_t *cuts;                 /* BPE: piece boundaries */
    size_t cap_cuts;
    uint32_t *cuts2;
    size_t cap_cuts2;
};
int tok_scratch_symbols(struct tok_scratch *s, size_t n, struct qm_err *err);
int tok_scratch_buf(struct tok_scratch *s, size_t n, struct qm_err *err);

/* The id of the token whose text is a followed by b (either may be empty), or -1. */
int32_t tok_lookup2(const struct qm_tokenizer *tok, const char *a, size_t alen, const char *b,
                    size_t blen);
/* The same with h = tok_hash(a, alen, b, blen) computed beforehand (loading
 * hashes a batch first and prefetches the slots). */
uint64_t tok_hash(const char *a, size_t alen, const char *b, size_t blen);
int32_t tok_lookup_hashed(const struct qm_tokenizer *tok, uint64_t h, const char *a, size_t alen,
                          const char *b, size_t blen);

/* ---- the two algorithms -------------------------------------------------- */

/* tokenizer_bpe.c */
int tok_bpe_init(struct qm_tokenizer *tok, const struct gguf_file *f, struct qm_err *err);
void tok_bpe_free(struct qm_tokenizer *tok);
int tok_bpe_encode(const struct qm_tokenizer *tok, struct tok_scratch *s, const char *text,
                   size_t len, struct tok_ids *out, struct qm_err *err);
/* The byte-level character of byte b (GPT-2's table) and back: the byte of
 * code point cp, or -1 when cp is no byte-level character. */
uint32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(uint32_t cp);

/* tokenizer_spm.c */
int tok_spm_init(struct qm_tokenizer *tok, struct qm_err *err);
int tok_spm_encode(const struct qm_tokenizer *tok, struct tok_scratch *s, const char *text,
                   size_t len, bool space_prefix, struct tok_ids *out, struct qm_err *err);

/* UTF-8 helpers */
/* Encode cp as UTF-8 into out (4 bytes room); returns the length. */
size_t tok_utf8_put(uint32_t cp, char *out);
/* Decode one code point of s[0..n) (n >= 1); *adv receives how many bytes it
 * used.  Returns -1 for an invalid sequence, with *adv = 1. */
int32_t tok_utf8_get(const char *s, size_t n, size_t *adv);

#endif
