/* test_json_constraint.c - the "format" matcher: valid documents fed in
 * random cuts are accepted and complete, invalid ones are refused at the
 * right byte, the limits hold, unsupported schemas are refused by name, and
 * qm_jc_rest always leads to a whole value in that many bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json_constraint.h"

static struct qm_jc *mk(const char *schema)
{
    struct qm_err err = {{0}};
    json_t *j = NULL;
    if (schema) {
        json_error_t je;
        if (!(j = json_loads(schema, JSON_DECODE_ANY, &je)))
            fail_msg("bad test schema: %s", je.text);
    }
    struct qm_jc *c = qm_jc_new(j, &err);
    json_decref(j);
    if (!c)
        fail_msg("qm_jc_new: %s", err.msg);
    return c;
}

/* The error qm_jc_new gives for schema (it must fail). */
static void refused(const char *schema, const char *needle)
{
    struct qm_err err = {{0}};
    json_t *j = json_loads(schema, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    struct qm_jc *c = qm_jc_new(j, &err);
    json_decref(j);
    if (c)
        fail_msg("schema %s was accepted", schema);
    if (!strstr(err.msg, needle))
        fail_msg("error \"%s\" does not name \"%s\"", err.msg, needle);
}

/* From the current state, bytes that each lower qm_jc_rest by one must
 * reach a complete value in exactly qm_jc_rest steps. */
static void completes_in_rest(struct qm_jc *c, const char *prefix, size_t n)
{
    qm_jc_reset(c);
    assert_true(qm_jc_feed(c, prefix, n));
    int rest = qm_jc_rest(c);
    for (int step = 0; step < rest; step++) {
        int want = qm_jc_rest(c) - 1, got = -1;
        char b = 0;
        for (int ch = 1; ch < 0x100 && got != want; ch++) {
            b = (char)ch;
            if (!qm_jc_try(c, &b, 1, &got))
                got = -1;
        }
        if (got != want)
            fail_msg("after %.*s + %d bytes no byte lowers rest %d", (int)n, prefix, step, want + 1);
        assert_true(qm_jc_feed(c, &b, 1));
    }
    assert_true(qm_jc_complete(c));
}

/* doc is accepted whole and in random cuts, and ends complete. */
static void ok_doc(struct qm_jc *c, const char *doc)
{
    size_t len = strlen(doc);
    for (int round = 0; round < 20; round++) {
        qm_jc_reset(c);
        size_t at = 0;
        while (at < len) {
            size_t k = round == 0 ? len : 1 + (size_t)rand() % (len - at);
            if (k > len - at)
                k = len - at;
            if (!qm_jc_accepts(c, doc + at, k) || !qm_jc_feed(c, doc + at, k))
                fail_msg("%s refused in the piece at %zu (+%zu)", doc, at, k);
            at += k;
        }
        if (!qm_jc_complete(c) || qm_jc_rest(c) != 0)
            fail_msg("%s is not complete", doc);
    }
    for (size_t i = 0; i < len; i++)
        completes_in_rest(c, doc, i);
}

/* doc is refused first at byte bad (-1: all bytes pass but it is not complete). */
static void bad_doc(struct qm_jc *c, const char *doc, int bad)
{
    qm_jc_reset(c);
    size_t len = strlen(doc);
    for (size_t i = 0; i < len; i++)
        if (!qm_jc_feed(c, doc + i, 1)) {
            if ((int)i != bad)
                fail_msg("%s refused at %zu, expected %d", doc, i, bad);
            return;
        }
    if (bad >= 0 || qm_jc_complete(c))
        fail_msg("%s accepted, expected a refusal at %d", doc, bad);
}

static void json_mode_valid(void **st)
{
    (void)st;
    struct qm_jc *c = mk(NULL);
    ok_doc(c, "{}");
    ok_doc(c, "{\"a\":1}");
    ok_doc(c, "{\"a\": [1, 2.5e-3, -0, 0.5E+10, true, false, null, \"x\\n\\u00e9\\\"\"], \"b\": {\"c\": {}}}");
    ok_doc(c, "{\"\xc3\xa9\":\"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\"}");
    ok_doc(c, "{\n  \"a\": 1,\n  \"b\": [\n    {}\n  ]\n}");
    qm_jc_free(c);
}

static void json_mode_invalid(void **st)
{
    (void)st;
    struct qm_jc *c = mk(NULL);
    bad_doc(c, "[1]", 0);
    bad_doc(c, "\"s\"", 0);
    bad_doc(c, "{\"a\":01}", 6);
    bad_doc(c, "{\"a\":1,}", 7);
    bad_doc(c, "{\"a\" 1}", 5);
    bad_doc(c, "{\"a\":\"\x01\"}", 6);
    bad_doc(c, "{\"a\":\"\\q\"}", 7);
    bad_doc(c, "{\"a\":\"\\u12g4\"}", 10);
    bad_doc(c, "{\"a\":tru}", 8);
    bad_doc(c, "{\"a\":1.}", 7);
    bad_doc(c, "{\"a\":1e}", 7);
    bad_doc(c, "{\"a\":-}", 6);
    bad_doc(c, "{\"a\":+1}", 5);
    bad_doc(c, "{\"a\":1}x", 7);
    bad_doc(c, "{\"a\":1}}", 7);
    bad_doc(c, "{\"a\":\"\xc0\x80\"}", 6);
    bad_doc(c, "{\"a\":\"\xed\xa0\x80\"}", 7);      /* a UTF-16 surrogate */
    bad_doc(c, "{\"a\":\"\xe6\x97\"}", 8);          /* cut character */
    bad_doc(c, "{'a':1}", 1);
    bad_doc(c, "{\"a\":1", -1);
    qm_jc_free(c);
}

static void whitespace_limits(void **st)
{
    (void)st;
    struct qm_jc *c = mk(NULL);
    ok_doc(c, "{\n\n}");
    bad_doc(c, "{\n\n\n}", 3);
    char doc[64];
    snprintf(doc, sizeof doc, "{%24s}", "");
    ok_doc(c, doc);
    snprintf(doc, sizeof doc, "{%25s}", "");
    bad_doc(c, doc, 25);
    bad_doc(c, "{} ", 2);
    bad_doc(c, "{}\n", 2);
    bad_doc(c, " {}", 0);
    bad_doc(c, "{\r}", 1);
    qm_jc_free(c);
}

static void nesting_and_number_limits(void **st)
{
    (void)st;
    struct qm_jc *c = mk(NULL);
    char doc[256];
    size_t n = 0;
    n += (size_t)sprintf(doc, "{\"a\":");
    for (int i = 1; i < QM_JC_MAX_DEPTH; i++)
        doc[n++] = '[';
    doc[n] = 0;
    qm_jc_reset(c);
    assert_true(qm_jc_feed(c, doc, n));
    assert_false(qm_jc_accepts(c, "[", 1));      /* container number 65 */
    assert_false(qm_jc_accepts(c, "{", 1));
    assert_true(qm_jc_accepts(c, "1]", 2));
    completes_in_rest(c, doc, n);

    n = (size_t)sprintf(doc, "{\"a\":");
    for (int i = 0; i < QM_JC_MAX_NUMBER; i++)
        doc[n++] = '7';
    doc[n] = 0;
    qm_jc_reset(c);
    assert_true(qm_jc_feed(c, doc, n));
    assert_false(qm_jc_accepts(c, "7", 1));
    assert_true(qm_jc_accepts(c, "}", 1));
    qm_jc_free(c);
}

static void try_does_not_commit(void **st)
{
    (void)st;
    struct qm_jc *c = mk(NULL);
    assert_true(qm_jc_feed(c, "{\"k\":", 5));
    int rest = -1;
    assert_true(qm_jc_try(c, "[1,", 3, &rest));
    assert_int_equal(rest, 3);   /* 1]} */
    assert_int_equal(qm_jc_rest(c), 2);   /* 0} */
    assert_false(qm_jc_feed(c, "[1,]", 4));
    assert_true(qm_jc_feed(c, "\"v\"}", 4));
    assert_true(qm_jc_done(c));
    assert_false(qm_jc_accepts(c, "x", 1));
    assert_true(qm_jc_accepts(c, "", 0));
    qm_jc_free(c);
}

#define PERSON "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"age\":{\"type\":\"integer\"}}," \
               "\"required\":[\"name\",\"age\"]}"

static void schema_object(void **st)
{
    (void)st;
    struct qm_jc *c = mk(PERSON);
    ok_doc(c, "{\"name\":\"Bob\",\"age\":42}");
    ok_doc(c, "{ \"name\" : \"\" , \"age\" : -7 }");
    bad_doc(c, "{\"age\":42,\"name\":\"Bob\"}", 2);
    bad_doc(c, "{\"name\":\"Bob\"}", 13);
    bad_doc(c, "{\"name\":\"Bob\",\"age\":4.5}", 21);
    bad_doc(c, "{\"name\":1,\"age\":4}", 8);
    bad_doc(c, "{\"name\":\"Bob\",\"age\":4,\"x\":1}", 21);
    bad_doc(c, "{\"names\":\"Bob\",\"age\":4}", 6);
    qm_jc_free(c);

    /* optional members may be skipped, in the schema's order */
    c = mk("{\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"boolean\"},\"c\":{}},"
           "\"required\":[\"b\"]}");
    ok_doc(c, "{\"b\":true}");
    ok_doc(c, "{\"a\":1,\"b\":false,\"c\":[null]}");
    ok_doc(c, "{\"b\":true,\"c\":\"x\"}");
    bad_doc(c, "{\"b\":true,\"a\":1}", 11);
    bad_doc(c, "{\"a\":1}", 6);
    bad_doc(c, "{\"c\":1}", 2);
    bad_doc(c, "{\"b\":true,}", 10);
    qm_jc_free(c);

    c = mk("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}");
    ok_doc(c, "{\"x\":1,\"y\":2}");
    bad_doc(c, "{\"x\":\"s\"}", 5);
    qm_jc_free(c);
    c = mk("{\"type\":\"object\",\"additionalProperties\":false}");
    ok_doc(c, "{}");
    bad_doc(c, "{\"x\":1}", 1);
    qm_jc_free(c);
}

static void schema_scalars(void **st)
{
    (void)st;
    struct qm_jc *c = mk("{\"type\":[\"string\",\"null\"]}");
    ok_doc(c, "\"x\"");
    ok_doc(c, "null");
    bad_doc(c, "1", 0);
    bad_doc(c, "nul", -1);
    qm_jc_free(c);

    c = mk("{\"type\":\"number\"}");
    ok_doc(c, "-1.5e3");
    qm_jc_reset(c);
    assert_true(qm_jc_feed(c, "12", 2));
    assert_true(qm_jc_complete(c));
    assert_false(qm_jc_done(c));
    qm_jc_free(c);

    c = mk("{\"type\":\"boolean\"}");
    ok_doc(c, "true");
    ok_doc(c, "false");
    bad_doc(c, "tf", 1);
    assert_true(qm_jc_done(c) == false);
    qm_jc_free(c);

    c = mk("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}");
    ok_doc(c, "\"ab\"");
    ok_doc(c, "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"");   /* three code points */
    ok_doc(c, "\"\\n\\u0041b\"");
    bad_doc(c, "\"abcd\"", 4);
    bad_doc(c, "\"a\"", 2);
    qm_jc_free(c);

    c = mk("{\"enum\":[\"red\",\"green\",1,10,null,[1,2]]}");
    ok_doc(c, "\"red\"");
    ok_doc(c, "\"green\"");
    ok_doc(c, "1");
    ok_doc(c, "10");
    ok_doc(c, "null");
    ok_doc(c, "[1,2]");
    bad_doc(c, "\"blue\"", 1);
    bad_doc(c, "\"re\"", 3);
    bad_doc(c, "2", 0);
    qm_jc_free(c);

    c = mk("{\"type\":\"object\",\"properties\":{\"k\":{\"const\":\"v\"}},\"required\":[\"k\"]}");
    ok_doc(c, "{\"k\":\"v\"}");
    bad_doc(c, "{\"k\":\"w\"}", 6);
    qm_jc_free(c);
}

static void schema_arrays_and_refs(void **st)
{
    (void)st;
    struct qm_jc *c = mk("{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":1,\"maxItems\":2}");
    ok_doc(c, "[1]");
    ok_doc(c, "[ 1 , 2 ]");
    bad_doc(c, "[]", 1);
    bad_doc(c, "[1,2,3]", 4);
    bad_doc(c, "[1.5]", 2);
    qm_jc_free(c);

    /* what pydantic's model_json_schema() gives for a nested model */
    c = mk("{\"$defs\":{\"Pet\":{\"properties\":{\"kind\":{\"enum\":[\"cat\",\"dog\"],\"title\":\"Kind\"}},"
           "\"required\":[\"kind\"],\"title\":\"Pet\",\"type\":\"object\"}},"
           "\"properties\":{\"pets\":{\"items\":{\"$ref\":\"#/$defs/Pet\"},\"title\":\"Pets\",\"type\":\"array\"}},"
           "\"required\":[\"pets\"],\"title\":\"Owner\",\"type\":\"object\"}");
    ok_doc(c, "{\"pets\":[{\"kind\":\"cat\"},{\"kind\":\"dog\"}]}");
    ok_doc(c, "{\"pets\":[]}");
    bad_doc(c, "{\"pets\":[{\"kind\":\"cow\"}]}", 19);
    qm_jc_free(c);
}

static void unsupported(void **st)
{
    (void)st;
    refused("{\"type\":\"string\",\"pattern\":\"^a\"}", "pattern");
    refused("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", "anyOf");
    refused("{\"type\":\"string\",\"format\":\"date-time\"}", "format");
    refused("{\"type\":\"integer\",\"minimum\":3}", "minimum");
    refused("{\"type\":\"thing\"}", "thing");
    refused("{\"type\":\"object\",\"properties\":{\"a\":{}},\"required\":[\"b\"]}", "\"b\"");
    refused("{\"$defs\":{\"N\":{\"properties\":{\"next\":{\"$ref\":\"#/$defs/N\"}}}},\"$ref\":\"#/$defs/N\"}",
            "recursive");
    refused("{\"$ref\":\"#/$defs/missing\"}", "missing");
    refused("{\"type\":\"array\",\"items\":[{}]}", "tuples");
    refused("{\"type\":\"string\",\"minLength\":-1}", "minLength");
    refused("false", "nothing");
}

int main(void)
{
    srand(12345);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_mode_valid),
        cmocka_unit_test(json_mode_invalid),
        cmocka_unit_test(whitespace_limits),
        cmocka_unit_test(nesting_and_number_limits),
        cmocka_unit_test(try_does_not_commit),
        cmocka_unit_test(schema_object),
        cmocka_unit_test(schema_scalars),
        cmocka_unit_test(schema_arrays_and_refs),
        cmocka_unit_test(unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
