/* tokenizer.h - text to token ids and back, the way llama.cpp and Hugging Face do it.
 *
 * A tokenizer is built from the tokenizer.* keys of a GGUF file
 * (engine-reference.md section 5).  Two kinds of vocabulary are supported,
 * named by tokenizer.ggml.model:
 *
 *   "gpt2"   byte-level BPE: the text is cut by the pre-tokenizer regexes that
 *            tokenizer.ggml.pre names, every piece's bytes are merged by the
 *            rank of tokenizer.ggml.merges (Qwen, Llama 3, GPT-2 ...);
 *   "llama"  SentencePiece-style BPE: spaces become U+2581, adjacent symbols
 *            are merged by the score of the token they form, and characters
 *            no token covers fall back to <0xXX> byte tokens (Gemma, Llama 2 ...).
 *
 * Special tokens (control, user-defined and unknown ones) are cut out of the
 * text before either algorithm runs; with parse_special off only the
 * user-defined ones are, so that user text cannot forge a control token.
 *
 * A loaded tokenizer copies what it needs from the file (the GGUF may be
 * closed afterwards) and is never modified again, so any number of threads
 * may encode and decode with one tokenizer at the same time.
 *
 * Decoding comes in three forms: the bytes of one token (qm_token_to_piece),
 * a whole sequence with llama.cpp's clean-ups (qm_detokenize), and a stream
 * (struct qm_detok) that only ever hands out whole UTF-8 characters. */
#ifndef QM_ENGINE_TOKENIZER_H
#define QM_ENGINE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"

/* tokenizer.ggml.model */
enum qm_tok_model {
    QM_TOK_SPM = 1,   /* "llama" */
    QM_TOK_BPE = 2,   /* "gpt2" */
};

/* tokenizer.ggml.token_type values (GGUF's numbering). */
enum qm_token_type {
    QM_TOKEN_UNDEFINED = 0,
    QM_TOKEN_NORMAL = 1,
    QM_TOKEN_UNKNOWN = 2,
    QM_TOKEN_CONTROL = 3,
    QM_TOKEN_USER_DEFINED = 4,
    QM_TOKEN_UNUSED = 5,
    QM_TOKEN_BYTE = 6,
};

struct qm_tokenizer;

/* ---- loading ------------------------------------------------------------ */

/* Build the tokenizer described by f's tokenizer.* metadata.  Refuses, with a
 * sentence naming the key, a vocabulary whose arrays disagree in length or
 * type, a merge without a space, an unsupported tokenizer.ggml.model, or a
 * BOS/EOS that add_bos/add_eos ask for but that does not exist.  Special
 * token ids that point past the vocabulary are ignored with a warning, as
 * llama.cpp does. */
int qm_tokenizer_load(struct qm_tokenizer **out, const struct gguf_file *f, struct qm_err *err);
void qm_tokenizer_free(struct qm_tokenizer *tok);

/* ---- properties --------------------------------------------------------- */

enum qm_tok_model qm_tok_model(const struct qm_tokenizer *tok);
/* The pre-tokenizer in use: "qwen2", "llama3", "gpt-2", "default" ... (BPE);
 * "default" for SentencePiece vocabularies, which have none. */
const char *qm_tok_pre(const struct qm_tokenizer *tok);
int32_t qm_tok_n_vocab(const struct qm_tokenizer *tok);

/* Special ids, or -1 when the vocabulary has none. */
int32_t qm_tok_bos(const struct qm_tokenizer *tok);
int32_t qm_tok_eos(const struct qm_tokenizer *tok);
int32_t qm_tok_eot(const struct qm_tokenizer *tok);
int32_t qm_tok_eom(const struct qm_tokenizer *tok);
int32_t qm_tok_unk(const struct qm_tokenizer *tok);
int32_t qm_tok_pad(const struct qm_tokenizer *tok);

bool qm_tok_add_bos(const struct qm_tokenizer *tok);
bool qm_tok_add_eos(const struct qm_tokenizer *tok);
bool qm_tok_add_space_prefix(const struct qm_tokenizer *tok);

/* Whether generation ends at this token (section 6: EOS, EOT, EOM, the FIM
 * pad/repo/file-separator tokens, and tokens named like an end marker). */
bool qm_tok_is_eog(const struct qm_tokenizer *tok, int32_t id);
/* The ids of the EOG set in increasing order; *n receives their number. */
const int32_t *qm_tok_eog_ids(const struct qm_tokenizer *tok, size_t *n);

/* The token's type after the loader's corrections (end markers are forced
 * to CONTROL); QM_TOKEN_UNDEFINED for an id out of range. */
enum qm_token_type qm_tok_type(const struct qm_tokenizer *tok, int32_t id);
/* The token's text as the vocabulary spells it (byte-level or with U+2581,
 * not NUL-terminated), or NULL for an id out of range. */
const char *qm_tok_text(const struct qm_tokenizer *tok, int32_t id, size_t *len);
float qm_tok_score(const struct qm_tokenizer *tok, int32_t id);
/* The id whose vocabulary text is exactly these bytes, or -1. */
int32_t qm_tok_lookup(const struct qm_tokenizer *tok, const char *text, size_t len);

/* ---- encoding ----------------------------------------------------------- */

/* Tokenize len bytes of text (any bytes; invalid UTF-8 is encoded too).
 * add_special: put BOS first / EOS last where the vocabulary asks for them.
 * parse_special: recognise control tokens written in the text ("<|im_end|>");
 * use it for rendered chat templates, never for raw user text.
 * *ids is malloc'd (free it; NULL when *n is 0). */
int qm_tokenize(const struct qm_tokenizer *tok, const char *text, size_t len, bool add_special,
                bool parse_special, int32_t **ids, size_t *n, struct qm_err *err);

/* ---- decoding ----------------------------------------------------------- */

enum {
    /* Render control and unknown tokens as their text (they are empty
     * otherwise; user-defined tokens always render as their text). */
    QM_DETOK_SPECIAL = 1u << 0,
    /* qm_detokenize: drop a leading BOS and a trailing EOS where the
     * vocabulary adds them. */
    QM_DETOK_REMOVE_SPECIAL = 1u << 1,
    /* qm_detokenize: skip the clean-ups (leading-space strip and
     * clean_spaces), giving exactly the concatenated pieces. */
    QM_DETOK_RAW = 1u << 2,
};

/* The bytes token id stands for: a byte token's byte, U+2581 as a space,
 * byte-level characters mapped back to bytes.  *piece points into the
 * tokenizer (valid while it lives) and may hold an incomplete UTF-8
 * character.  Control and unknown tokens give an empty piece unless special
 * is set.  QM_EINVAL for an id out of range. */
int qm_token_to_piece(const struct qm_tokenizer *tok, int32_t id, bool special, const char **piece,
                      size_t *len, struct qm_err *err);

/* A whole sequence back to text, as llama.cpp's detokenize does: with
 * QM_DETOK_REMOVE_SPECIAL a leading BOS / trailing EOS is dropped; when the
 * vocabulary has add_space_prefix and no BOS was dropped, one leading space
 * of the first piece is removed; vocabularies with clean_spaces (GPT-2 and
 * Llama 3 style, not Qwen or SentencePiece) get " ." -> "." and similar.
 * *text is malloc'd and NUL-terminated (it may also hold NUL bytes: use *len). */
int qm_detokenize(const struct qm_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
                  char **text, size_t *len, struct qm_err *err);

/* Streaming detokenizer.  Feed tokens one at a time; each push hands out the
 * text that is complete so far.  A UTF-8 character split over several tokens
 * (byte-fallback tokens, byte-level pieces of an emoji) is held back until
 * its last byte arrives.  Bytes that can no longer become a valid character
 * (a stray continuation byte, a lead byte followed by ASCII) are handed out
 * as they are, not replaced by U+FFFD: the stream stays byte-exact, and the
 * caller decides how to show invalid text.  No clean-ups are applied. */
struct qm_detok;

/* flags: QM_DETOK_SPECIAL or 0. */
int qm_detok_new(struct qm_detok **out, const struct qm_tokenizer *tok, unsigned flags,
                 struct qm_err *err);
/* Append token id; *text and *len receive what may be shown now (possibly
 * nothing), valid until the next call on d. */
int qm_detok_push(struct qm_detok *d, int32_t id, const char **text, size_t *len,
                  struct qm_err *err);
/* End of the stream: hand out whatever is still held back (an incomplete
 * sequence, as it is). */
void qm_detok_flush(struct qm_detok *d, const char **text, size_t *len);
/* Forget held-back bytes, to start a new stream. */
void qm_detok_reset(struct qm_detok *d);
void qm_detok_free(struct qm_detok *d);

#endif
