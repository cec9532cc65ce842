/* tokenizer_spm.c - SentencePiece-style BPE ("llama" vocabularies: Gemma, Llama 2 ...).
 *
 * Encoding one fragment of raw text, as llama.cpp does it
 * (engine-reference.md section 5.4):
 *   1. a space is put in front when the vocabulary has add_space_prefix and
 *      the fragment opens the text or follows a special token; every space
 *      becomes U+2581;
 *   2. the fragment starts as one symbol per UTF-8 character, and the
 *      adjacent pair whose concatenation is the token with the highest
 *      score is merged, leftmost first among equal scores, until no
 *      adjacent pair forms a token.  There is no merges list: the scores
 *      are the ranks;
 *   3. each symbol is emitted as its token; a character that formed no
 *      token is emitted as the byte tokens <0xXX> of its UTF-8 bytes.
 * Every merge yields a token by construction, so only single characters
 * can be left without one; llama.cpp's re-splitting along the merge
 * history never has anything to split here.
 *
 * Symbols are byte ranges of the escaped fragment; a pair is looked up
 * straight in the vocabulary hash, as the two ranges are adjacent.
 *
 * Invalid UTF-8 (which Hugging Face cannot even take) is where we differ
 * from llama.cpp on purpose: llama.cpp sizes a character by its first byte
 * alone, so a stray lead byte swallows what follows it, a space included,
 * and the escaped space then comes back as the three bytes of U+2581.  We
 * make every byte that is not part of a valid sequence a symbol of its own,
 * so that any input decodes back to itself.  Valid text is cut the same. */
#include <stdio.h>
#include <string.h>

#include "tokenizer_impl.h"

int tok_spm_init(struct qm_tokenizer *tok, struct qm_err *err)
{
    (void)err;
    /* Byte fallback: "<0x41>" (upper-case hex), else a token that is the
     * raw byte, else UNK.  With none of them the byte is dropped. */
    for (int b = 0; b < 256; b++) {
        char name[8];
        int n = snprintf(name, sizeof name, "<0x%02X>", b);
        int32_t id = qm_tok_lookup(tok, name, (size_t)n);
        if (id < 0) {
            char raw = (char)b;
            id = qm_tok_lookup(tok, &raw, 1);
        }
        tok->byte_token[b] = id >= 0 ? id : tok->unk;
    }
    return 0;
}

static int try_pair(const struct qm_tokenizer *tok, struct tok_scratch *s, int32_t l, int32_t r,
                    struct qm_err *err)
{
    if (l < 0 || r < 0)
        return 0;
    uint32_t size = s->len[l] + s->len[r];
    int32_t id = qm_tok_lookup(tok, s->buf + s->start[l], size);
    if (id < 0)
        return 0;
    /* The heap pops the lowest key: negate, so the best score comes first. */
    return tok_heap_push(&s->heap, (struct tok_cand){.key = -(double)tok->tokens[id].score, .pos = l,
                                                     .right = r, .a = (int32_t)size}, err);
}

int tok_spm_encode(const struct qm_tokenizer *tok, struct tok_scratch *s, const char *text, size_t len,
                   bool space_prefix, struct tok_ids *out, struct qm_err *err)
{
    static const char lower_one_eighth_block[3] = {'\xE2', '\x96', '\x81'};  /* U+2581 */
    int rc;
    if (len > (INT32_MAX - 3) / 3)   /* symbols are counted in int32_t */
        return qm_err_set(err, "tokenizer: a fragment of %zu bytes is too long to tokenize", len);
    if ((rc = tok_scratch_buf(s, 3 * len + 3, err)))
        return rc;
    size_t m = 0;
    if (space_prefix) {
        memcpy(s->buf, lower_one_eighth_block, 3);
        m = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s->buf + m, lower_one_eighth_block, 3);
            m += 3;
        } else {
            s->buf[m++] = text[i];
        }
    }

    if ((rc = tok_scratch_symbols(s, m, err)))
        return rc;
    int32_t n = 0;
    for (size_t i = 0; i < m; n++) {
        size_t l;
        tok_utf8_get(s->buf + i, m - i, &l);   /* an invalid byte is a symbol of its own */
        s->start[n] = (uint32_t)i;
        s->len[n] = (uint32_t)l;
        s->prev[n] = n - 1;
        s->next[n] = n + 1;
        i += l;
    }
    s->next[n - 1] = -1;

    s->heap.n = 0;
    for (int32_t i = 1; i < n; i++)
        if ((rc = try_pair(tok, s, i - 1, i, err)))
            return rc;
    while (s->heap.n) {
        struct tok_cand c = tok_heap_pop(&s->heap);
        int32_t l = c.pos, r = c.right;
        /* Stale: either side was merged since, so the pair is not the same text. */
        if (s->len[l] == 0 || s->len[r] == 0 || s->len[l] + s->len[r] != (uint32_t)c.a)
            continue;
        s->len[l] += s->len[r];
        s->len[r] = 0;
        s->next[l] = s->next[r];
        if (s->next[r] >= 0)
            s->prev[s->next[r]] = l;
        if ((rc = try_pair(tok, s, s->prev[l], l, err)) || (rc = try_pair(tok, s, l, s->next[l], err)))
            return rc;
    }

    for (int32_t i = 0; i >= 0; i = s->next[i]) {
        int32_t id = qm_tok_lookup(tok, s->buf + s->start[i], s->len[i]);
        if (id >= 0) {
            if ((rc = tok_ids_push(out, id, err)))
                return rc;
            continue;
        }
        for (uint32_t j = 0; j < s->len[i]; j++) {
            int32_t b = tok->byte_token[(uint8_t)s->buf[s->start[i] + j]];
            if (b >= 0 && (rc = tok_ids_push(out, b, err)))
                return rc;
        }
    }
    return 0;
}
