/* tok_tool.c - drives engine/tokenizer for tests/py/test_tokenizer_*.py.
 *
 *   tok_tool info MODEL.gguf
 *       one JSON object: kind, pre, vocabulary size, special ids, flags, the
 *       EOG set and how long loading took.
 *   tok_tool encode MODEL.gguf IN.rec OUT.ids OUT.dec OUT.stream [--raw] [--no-special]
 *       tokenizes every record of IN.rec (add_special on unless --no-special,
 *       parse_special on unless --raw) and writes, per record:
 *         OUT.ids     one line of space-separated ids;
 *         OUT.dec     the record's ids detokenized (REMOVE_SPECIAL | SPECIAL);
 *         OUT.stream  the same ids, leading BOS left out, through the
 *                     streaming detokenizer.
 *       It checks itself that no streamed chunk ends inside a UTF-8
 *       character and prints the count of such chunks with the timing.
 *   tok_tool text MODEL.gguf TEXT
 *       the ids of TEXT (add_special, parse_special), for poking around.
 *
 * A record file is a sequence of "LENGTH\n" + LENGTH bytes + "\n", so texts
 * with newlines or NUL bytes need no escaping. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf.h"
#include "tokenizer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double load_cpu_ms;  /* the CPU time of the last load: the wall time counts a busy machine too */

static int open_tok(const char *path, struct gguf_file **f, struct qm_tokenizer **tok, double *ms)
{
    struct qm_err err = {0};
    if (gguf_open(f, path, GGUF_OPEN_ANY_TYPE, &err)) {
        fprintf(stderr, "tok_tool: %s\n", err.msg);
        return 1;
    }
    double t0 = now(), c0 = cpu_now();
    if (qm_tokenizer_load(tok, *f, &err)) {
        fprintf(stderr, "tok_tool: %s\n", err.msg);
        gguf_close(*f);
        return 1;
    }
    *ms = (now() - t0) * 1e3;
    load_cpu_ms = (cpu_now() - c0) * 1e3;
    return 0;
}

static int cmd_info(const char *path)
{
    struct gguf_file *f;
    struct qm_tokenizer *tok;
    double ms;
    if (open_tok(path, &f, &tok, &ms))
        return 1;
    printf("{\"model\": \"%s\", \"pre\": \"%s\", \"n_vocab\": %" PRId32 ", \"bos\": %" PRId32
           ", \"eos\": %" PRId32 ", \"eot\": %" PRId32 ", \"eom\": %" PRId32 ", \"unk\": %" PRId32
           ", \"pad\": %" PRId32 ", \"add_bos\": %s, \"add_eos\": %s, \"add_space_prefix\": %s, \"eog\": [",
           qm_tok_model(tok) == QM_TOK_SPM ? "llama" : "gpt2", qm_tok_pre(tok), qm_tok_n_vocab(tok),
           qm_tok_bos(tok), qm_tok_eos(tok), qm_tok_eot(tok), qm_tok_eom(tok), qm_tok_unk(tok),
           qm_tok_pad(tok), qm_tok_add_bos(tok) ? "true" : "false", qm_tok_add_eos(tok) ? "true" : "false",
           qm_tok_add_space_prefix(tok) ? "true" : "false");
    size_t n;
    const int32_t *eog = qm_tok_eog_ids(tok, &n);
    for (size_t i = 0; i < n; i++)
        printf("%s%" PRId32, i ? ", " : "", eog[i]);
    printf("], \"load_ms\": %.3f, \"load_cpu_ms\": %.3f}\n", ms, load_cpu_ms);
    qm_tokenizer_free(tok);
    gguf_close(f);
    return 0;
}

static int cmd_text(const char *path, const char *text)
{
    struct gguf_file *f;
    struct qm_tokenizer *tok;
    double ms;
    if (open_tok(path, &f, &tok, &ms))
        return 1;
    struct qm_err err = {0};
    int32_t *ids;
    size_t n;
    int rc = qm_tokenize(tok, text, strlen(text), true, true, &ids, &n, &err);
    if (rc) {
        fprintf(stderr, "tok_tool: %s\n", err.msg);
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const char *t = qm_tok_text(tok, ids[i], &len);
            printf("%" PRId32 " '%.*s'\n", ids[i], (int)len, t);
        }
        free(ids);
    }
    qm_tokenizer_free(tok);
    gguf_close(f);
    return rc ? 1 : 0;
}

/* Read a whole file; *len receives its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        if (got == 0)
            break;
        n += got;
    }
    fclose(fp);
    *len = n;
    return buf;
}

/* Whether s[0..n) ends inside a UTF-8 character that a later byte could complete. */
static bool ends_mid_char(const unsigned char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = s[n - k];
        if ((c & 0xC0) == 0x80)
            continue;
        size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
        return need > k;
    }
    return false;
}

static void put_record(FILE *fp, const char *s, size_t n)
{
    fprintf(fp, "%zu\n", n);
    fwrite(s, 1, n, fp);
    fputc('\n', fp);
}

static int cmd_encode(int argc, char **argv)
{
    bool raw = false, no_special = false;
    for (int i = 7; i < argc; i++) {
        if (!strcmp(argv[i], "--raw"))
            raw = true;
        else if (!strcmp(argv[i], "--no-special"))
            no_special = true;
    }
    size_t in_len;
    char *in = slurp(argv[3], &in_len);
    if (!in) {
        fprintf(stderr, "tok_tool: cannot read %s\n", argv[3]);
        return 1;
    }
    struct gguf_file *f;
    struct qm_tokenizer *tok;
    double ms;
    if (open_tok(argv[2], &f, &tok, &ms)) {
        free(in);
        return 1;
    }
    FILE *ids_fp = fopen(argv[4], "w"), *dec_fp = fopen(argv[5], "wb"), *str_fp = fopen(argv[6], "wb");
    struct qm_detok *d = NULL;
    struct qm_err err = {0};
    int rc = 1;
    size_t lines = 0, tokens = 0, half_chars = 0;
    double enc_s = 0;
    if (!ids_fp || !dec_fp || !str_fp) {
        fprintf(stderr, "tok_tool: cannot open an output file\n");
        goto out;
    }
    if (qm_detok_new(&d, tok, QM_DETOK_SPECIAL, &err)) {
        fprintf(stderr, "tok_tool: %s\n", err.msg);
        goto out;
    }
    for (size_t at = 0; at < in_len;) {
        char *end;
        unsigned long long len = strtoull(in + at, &end, 10);
        if (*end != '\n' || (size_t)(end + 1 - in) + len + 1 > in_len) {
            fprintf(stderr, "tok_tool: bad record at byte %zu\n", at);
            goto out;
        }
        const char *text = end + 1;
        at = (size_t)(text - in) + len + 1;

        int32_t *ids;
        size_t n;
        double t0 = now();
        if (qm_tokenize(tok, text, len, !no_special, !raw, &ids, &n, &err)) {
            fprintf(stderr, "tok_tool: record %zu: %s\n", lines, err.msg);
            goto out;
        }
        enc_s += now() - t0;
        for (size_t i = 0; i < n; i++)
            fprintf(ids_fp, "%s%" PRId32, i ? " " : "", ids[i]);
        fputc('\n', ids_fp);

        char *dec;
        size_t dec_len;
        if (qm_detokenize(tok, ids, n, QM_DETOK_REMOVE_SPECIAL | QM_DETOK_SPECIAL, &dec, &dec_len, &err)) {
            fprintf(stderr, "tok_tool: record %zu: %s\n", lines, err.msg);
            free(ids);
            goto out;
        }
        put_record(dec_fp, dec, dec_len);
        free(dec);

        /* The stream sees what a generation would: no BOS. */
        size_t first = n > 0 && qm_tok_add_bos(tok) && !no_special && ids[0] == qm_tok_bos(tok) ? 1 : 0;
        size_t cap = 256, sl = 0;
        char *sb = malloc(cap);
        qm_detok_reset(d);
        for (size_t i = first; i <= n && sb; i++) {
            const char *t;
            size_t tl;
            if (i == n) {
                qm_detok_flush(d, &t, &tl);
            } else if (qm_detok_push(d, ids[i], &t, &tl, &err)) {
                fprintf(stderr, "tok_tool: %s\n", err.msg);
                break;
            } else if (tl && ends_mid_char((const unsigned char *)t, tl)) {
                half_chars++;
            }
            while (sl + tl > cap) {
                cap *= 2;
                char *nb = realloc(sb, cap);
                if (!nb) {
                    free(sb);
                    sb = NULL;
                    break;
                }
                sb = nb;
            }
            if (sb && tl) {
                memcpy(sb + sl, t, tl);
                sl += tl;
            }
        }
        if (!sb) {
            fprintf(stderr, "tok_tool: out of memory\n");
            free(ids);
            goto out;
        }
        put_record(str_fp, sb, sl);
        free(sb);
        free(ids);
        lines++;
        tokens += n;
    }
    printf("{\"lines\": %zu, \"tokens\": %zu, \"encode_s\": %.6f, \"tokens_per_s\": %.0f, \"load_ms\": %.3f, "
           "\"load_cpu_ms\": %.3f, \"half_chars\": %zu}\n", lines, tokens, enc_s,
           enc_s > 0 ? (double)tokens / enc_s : 0.0, ms, load_cpu_ms, half_chars);
    rc = 0;
out:
    qm_detok_free(d);
    if (ids_fp)
        fclose(ids_fp);
    if (dec_fp)
        fclose(dec_fp);
    if (str_fp)
        fclose(str_fp);
    qm_tokenizer_free(tok);
    gguf_close(f);
    free(in);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "info"))
        return cmd_info(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "text"))
        return cmd_text(argv[2], argv[3]);
    if (argc >= 7 && !strcmp(argv[1], "encode"))
        return cmd_encode(argc, argv);
    fprintf(stderr, "usage: tok_tool info MODEL | text MODEL TEXT | "
                    "encode MODEL IN.rec OUT.ids OUT.dec OUT.stream [--raw] [--no-special]\n");
    return 2;
}
