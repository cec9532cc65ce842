/* test_stop.c - the streaming stop-string matcher.
 *
 * Each case feeds pieces and checks, piece by piece, what may be emitted
 * and whether a stop completed; a brute-force check then feeds random
 * texts in random cuts and compares the concatenated output with what a
 * plain search of the whole text says it must be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rng.h"
#include "stop.h"

static struct qm_stop *make(const char *const *stops, size_t n)
{
    struct qm_err err = {{0}};
    struct qm_stop *m = qm_stop_new(stops, n, &err);
    if (!m)
        fail_msg("qm_stop_new: %s", err.msg);
    return m;
}

/* Feed one piece; check the emitted text and the return value. */
static void feed(struct qm_stop *m, const char *piece, const char *want, int want_rc)
{
    struct qm_stop_result r;
    int rc = qm_stop_feed(m, piece, strlen(piece), &r, NULL);
    assert_int_equal(rc, want_rc);
    assert_int_equal(r.len, strlen(want));
    assert_memory_equal(r.text, want, r.len);
    assert_int_equal(r.stop >= 0, want_rc == 1);
}

static void flush(struct qm_stop *m, const char *want)
{
    struct qm_stop_result r;
    qm_stop_flush(m, &r);
    assert_int_equal(r.len, strlen(want));
    assert_memory_equal(r.text, want, r.len);
}

static void split_stop(void **state)
{
    (void)state;
    const char *stops[] = {"lo W"};
    struct qm_stop *m = make(stops, 1);
    feed(m, "Hel", "He", 0);           /* the "l" could begin "lo W": held */
    feed(m, "lo Wo", "l", 1);          /* "llo Wo" holds "lo W": the held "l" goes */
    feed(m, "rld", "", 1);
    qm_stop_free(m);

    /* the brief's case, exactly: "Hel" + "lo Wo" + "rld" with stop "lo W" */
    m = make(stops, 1);
    struct qm_stop_result r;
    char out[64] = "";
    int rc = qm_stop_feed(m, "Hel", 3, &r, NULL);
    strncat(out, r.text, r.len);
    assert_int_equal(rc, 0);
    rc = qm_stop_feed(m, "lo Wo", 5, &r, NULL);
    strncat(out, r.text, r.len);
    assert_int_equal(rc, 1);           /* "lo W" completed inside this piece */
    assert_int_equal(r.stop, 0);
    rc = qm_stop_feed(m, "rld", 3, &r, NULL);
    assert_int_equal(rc, 1);           /* still stopped, nothing more */
    assert_int_equal(r.len, 0);
    assert_string_equal(out, "Hel");
    assert_true(qm_stop_stopped(m));
    flush(m, "");
    qm_stop_free(m);
}

static void split_over_three_pieces(void **state)
{
    (void)state;
    const char *stops[] = {"<|end|>"};
    struct qm_stop *m = make(stops, 1);
    feed(m, "Answer: 42<", "Answer: 42", 0);
    feed(m, "|en", "", 0);
    feed(m, "d|>trailing", "", 1);
    qm_stop_free(m);
}

static void partial_released(void **state)
{
    (void)state;
    const char *stops[] = {"STOP"};
    struct qm_stop *m = make(stops, 1);
    feed(m, "ST", "", 0);
    feed(m, "O", "", 0);
    feed(m, "P!", "", 1);
    qm_stop_free(m);

    m = make(stops, 1);
    feed(m, "a ST", "a ", 0);
    feed(m, "O", "", 0);
    feed(m, "x", "STOx", 0);           /* the partial match failed: all of it goes */
    feed(m, "S", "", 0);
    flush(m, "S");                     /* the held "S" comes out at the end */
    flush(m, "");
    qm_stop_free(m);

    /* a failed partial that contains the start of another try: "SSTOP" */
    m = make(stops, 1);
    feed(m, "SS", "S", 0);
    feed(m, "TO", "", 0);
    feed(m, "P", "", 1);
    qm_stop_free(m);
}

static void prefix_stops(void **state)
{
    (void)state;
    /* one stop is a prefix of another: the shorter completes first */
    const char *stops[] = {"abc", "ab"};
    struct qm_stop *m = make(stops, 2);
    struct qm_stop_result r;
    feed(m, "xa", "x", 0);
    assert_int_equal(qm_stop_feed(m, "bc", 2, &r, NULL), 1);
    assert_int_equal(r.stop, 1);
    assert_int_equal(r.len, 0);
    qm_stop_free(m);

    /* both end at the same byte: the longer wins (it starts earlier) */
    const char *stops2[] = {"bc", "abc"};
    m = make(stops2, 2);
    assert_int_equal(qm_stop_feed(m, "xxabcyy", 7, &r, NULL), 1);
    assert_int_equal(r.stop, 1);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.text, "xx", 2);
    qm_stop_free(m);

    /* overlapping: "bcd" completes before "abcdef", whatever the cuts */
    const char *stops3[] = {"abcdef", "bcd"};
    m = make(stops3, 2);
    assert_int_equal(qm_stop_feed(m, "-abcdef", 7, &r, NULL), 1);
    assert_int_equal(r.stop, 1);
    assert_int_equal(r.len, 2);        /* "-a" */
    qm_stop_free(m);
    m = make(stops3, 2);
    feed(m, "-ab", "-", 0);
    assert_int_equal(qm_stop_feed(m, "cdef", 4, &r, NULL), 1);
    assert_int_equal(r.stop, 1);
    assert_int_equal(r.len, 1);
    assert_memory_equal(r.text, "a", 1);
    qm_stop_free(m);
}

static void stop_in_middle(void **state)
{
    (void)state;
    const char *stops[] = {"\n\nUser:"};
    struct qm_stop *m = make(stops, 1);
    feed(m, "Hello there.", "Hello there.", 0);
    feed(m, " Bye.\n\nUser: more", " Bye.", 1);
    qm_stop_free(m);
}

static void no_stops(void **state)
{
    (void)state;
    struct qm_stop *m = make(NULL, 0);
    feed(m, "every", "every", 0);
    feed(m, "thing at once", "thing at once", 0);
    flush(m, "");
    qm_stop_free(m);

    /* empty strings are ignored rather than matching everywhere */
    const char *stops[] = {""};
    m = make(stops, 1);
    feed(m, "still here", "still here", 0);
    qm_stop_free(m);
}

static void flush_and_reset(void **state)
{
    (void)state;
    const char *stops[] = {"###"};
    struct qm_stop *m = make(stops, 1);
    feed(m, "text #", "text ", 0);
    feed(m, "#", "", 0);
    flush(m, "##");
    qm_stop_reset(m);
    feed(m, "###", "", 1);
    qm_stop_reset(m);
    assert_false(qm_stop_stopped(m));
    feed(m, "again", "again", 0);
    qm_stop_free(m);
}

static void utf8(void **state)
{
    (void)state;
    /* "é" is C3 A9; "→" is E2 86 92.  A stop that begins like "→" but goes
     * on differently must not cut the character when it fails. */
    const char *stops[] = {"\xe2\x86\x93!"};   /* "↓!" */
    struct qm_stop *m = make(stops, 1);
    feed(m, "caf\xc3\xa9 \xe2\x86", "caf\xc3\xa9 ", 0);     /* E2 86 could be "↓" */
    feed(m, "\x92 ok", "\xe2\x86\x92 ok", 0);
    qm_stop_free(m);

    /* A piece ending inside a character holds the partial character back
     * even with no stop strings, and emits it whole once complete. */
    m = make(NULL, 0);
    feed(m, "na\xc3", "na", 0);
    feed(m, "\xaf" "ve \xe2\x86", "\xc3\xaf" "ve ", 0);
    feed(m, "\x92", "\xe2\x86\x92", 0);
    feed(m, "\xf0\x9f", "", 0);
    flush(m, "\xf0\x9f");              /* the end: whatever is left goes */
    qm_stop_free(m);
}

/* Random texts over a small alphabet (so stop strings occur often), cut at
 * random places: the output must be the text up to the first completed
 * stop (lowest end, longest on ties) and nothing of it must ever be
 * emitted early. */
static void random_cuts(void **state)
{
    (void)state;
    const char *stops[] = {"aba", "bb", "abcab", "cc"};
    const size_t ns = 4;
    struct qm_mt mt;
    qm_mt_seed(&mt, 2024);
    for (int round = 0; round < 3000; round++) {
        char text[40];
        size_t len = 1 + qm_mt_u32(&mt) % 39;
        for (size_t i = 0; i < len; i++)
            text[i] = "abcd"[qm_mt_u32(&mt) % 4];
        const char **use = stops;
        size_t n = round % 5 == 0 ? 1 : ns;

        /* the expected answer, by brute force over end positions */
        size_t want_len = len;
        int32_t want_stop = -1;
        for (size_t e = 1; e <= len && want_stop < 0; e++) {
            size_t best_l = 0;
            for (size_t k = 0; k < n; k++) {
                size_t l = strlen(use[k]);
                if (l <= e && l > best_l && memcmp(text + e - l, use[k], l) == 0) {
                    best_l = l;
                    want_stop = (int32_t)k;
                }
            }
            if (want_stop >= 0)
                want_len = e - best_l;
        }

        struct qm_stop *m = make(use, n);
        char out[64];
        size_t out_len = 0, pos = 0;
        int rc = 0;
        struct qm_stop_result r;
        while (pos < len && rc == 0) {
            size_t cut = 1 + qm_mt_u32(&mt) % 6;
            if (cut > len - pos)
                cut = len - pos;
            rc = qm_stop_feed(m, text + pos, cut, &r, NULL);
            assert_true(rc == 0 || rc == 1);
            memcpy(out + out_len, r.text, r.len);
            out_len += r.len;
            pos += cut;
            /* never ahead of the final answer */
            assert_true(out_len <= want_len);
        }
        if (rc == 0) {
            qm_stop_flush(m, &r);
            memcpy(out + out_len, r.text, r.len);
            out_len += r.len;
        }
        assert_int_equal(rc == 1 ? r.stop : -1, want_stop);
        assert_int_equal(out_len, want_len);
        assert_memory_equal(out, text, out_len);
        qm_stop_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_stop),
        cmocka_unit_test(split_over_three_pieces),
        cmocka_unit_test(partial_released),
        cmocka_unit_test(prefix_stops),
        cmocka_unit_test(stop_in_middle),
        cmocka_unit_test(no_stops),
        cmocka_unit_test(flush_and_reset),
        cmocka_unit_test(utf8),
        cmocka_unit_test(random_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
