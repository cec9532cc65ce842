/* test_registry_name.c - model names and digests (registry/name.h, digest.h).
 *
 * A table of accepted names with the parts they must give, a table of
 * refused names with a word the error must contain (every unsafe form the
 * store must never turn into a path), display forms, case-insensitive
 * equality, digest syntax and sha256 against known vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "digest.h"
#include "name.h"

static const char HEX64[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_valid_names(void **state)
{
    (void)state;
    static const struct {
        const char *in, *host, *ns, *model, *tag, *display;
    } cases[] = {
        {"qwen2", "registry.ollama.ai", "library", "qwen2", "latest", "qwen2:latest"},
        {"qwen2:0.5b", "registry.ollama.ai", "library", "qwen2", "0.5b", "qwen2:0.5b"},
        {"qwen1.5-14b:q2_k", "registry.ollama.ai", "library", "qwen1.5-14b", "q2_k",
         "qwen1.5-14b:q2_k"},
        {"library/qwen2", "registry.ollama.ai", "library", "qwen2", "latest", "qwen2:latest"},
        {"jmorgan/llama3:8b", "registry.ollama.ai", "jmorgan", "llama3", "8b", "jmorgan/llama3:8b"},
        {"registry.ollama.ai/library/qwen:14b", "registry.ollama.ai", "library", "qwen", "14b",
         "qwen:14b"},
        {"hf.co/owner/repo:Q4_K_M", "hf.co", "owner", "repo", "Q4_K_M", "hf.co/owner/repo:Q4_K_M"},
        {"hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", "hf.co", "bartowski",
         "Qwen2.5-0.5B-Instruct-GGUF", "Q4_K_M", "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"},
        {"localhost:5000/ns/model:v1", "localhost:5000", "ns", "model", "v1",
         "localhost:5000/ns/model:v1"},
        {"https://example.com/ns/m", "example.com", "ns", "m", "latest", "example.com/ns/m:latest"},
        {"_private/x_y:_t", "registry.ollama.ai", "_private", "x_y", "_t", "_private/x_y:_t"},
        {"REGISTRY.OLLAMA.AI/Library/Qwen2:Latest", "REGISTRY.OLLAMA.AI", "Library", "Qwen2",
         "Latest", "Qwen2:Latest"},
        {"a.b-c", "registry.ollama.ai", "library", "a.b-c", "latest", "a.b-c:latest"},
        {"m...x", "registry.ollama.ai", "library", "m...x", "latest", "m...x:latest"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct qm_name n;
        struct qm_err err = {{0}};
        int rc = qm_name_parse(&n, cases[i].in, &err);
        if (rc)
            fail_msg("'%s' refused: %s", cases[i].in, err.msg);
        assert_string_equal(n.host, cases[i].host);
        assert_string_equal(n.ns, cases[i].ns);
        assert_string_equal(n.model, cases[i].model);
        assert_string_equal(n.tag, cases[i].tag);
        char buf[QM_NAME_STR_MAX];
        qm_name_display(&n, buf, sizeof buf);
        assert_string_equal(buf, cases[i].display);
    }

    struct qm_name n;
    assert_int_equal(qm_name_parse(&n, "http://localhost:8080/ns/m:t", NULL), QM_OK);
    assert_string_equal(n.scheme, "http");
    assert_string_equal(n.host, "localhost:8080");
    char buf[QM_NAME_STR_MAX];
    qm_name_relpath(&n, buf, sizeof buf);
    assert_string_equal(buf, "localhost:8080/ns/m/t");
    qm_name_full(&n, buf, sizeof buf);
    assert_string_equal(buf, "localhost:8080/ns/m:t");

    /* A pinned digest, either separator, normalised to the colon form. */
    char in[200], want[100];
    snprintf(in, sizeof in, "qwen2:7b@sha256-%s", HEX64);
    snprintf(want, sizeof want, "sha256:%s", HEX64);
    assert_int_equal(qm_name_parse(&n, in, NULL), QM_OK);
    assert_string_equal(n.tag, "7b");
    assert_string_equal(n.digest, want);

    /* The length limits are inclusive: 80 for model, namespace and tag. */
    char longest[200];
    memset(longest, 'a', 80);
    strcpy(longest + 80, ":");
    memset(longest + 81, 't', 80);
    longest[161] = '\0';
    assert_int_equal(qm_name_parse(&n, longest, NULL), QM_OK);
    assert_int_equal(strlen(n.model), 80);
    assert_int_equal(strlen(n.tag), 80);
}

static void test_refused_names(void **state)
{
    (void)state;
    char too_long_model[100], too_long_tag[100], too_long_ns[100], too_long_host[400];
    memset(too_long_model, 'm', 81);
    too_long_model[81] = '\0';
    snprintf(too_long_tag, sizeof too_long_tag, "m:%081d", 0);
    snprintf(too_long_ns, sizeof too_long_ns, "%081d/m", 0);
    memset(too_long_host, 'h', 351);
    strcpy(too_long_host + 351, "/ns/m");

    static const char *ctrl[] = {"qw\x01en", "qwen\n", "qwen\t2", "a\x7f"};
    static const struct {
        const char *in, *why;
    } cases[] = {
        {"", "empty"},
        {"../x", ".."},
        {"..", ".."},
        {"/abs", "absolute"},
        {"/etc/passwd", "absolute"},
        {"a/../b", ".."},
        {"a/b/..", ".."},
        {"x:..", ".."},
        {"x:.", "'.'"},
        {"./x", "'.'"},
        {".hidden", "must start"},
        {"a\\b", "backslash"},
        {"..\\..\\x", "backslash"},
        {"a//b", "empty"},
        {"a/", "empty"},
        {"x:", "tag is empty"},
        {":tag", "model is empty"},
        {"h/n/m/x", "too many"},
        {"x:a/b", "may not contain '/'"},
        {"host:1/m", "':'"},
        {"-dash", "must start"},
        {"model:-t", "must start"},
        {"a b", "spaces"},
        {"qw\xc3\xa9n", "ASCII"},
        {"a*b", "may hold only"},
        {"a$b", "may hold only"},
        {"ns.with.dot/m", "may not contain '.'"},
        {"m@sha256:123", "digest"},
        {"m@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "digest"},
        {"m@x@y", "'@'"},
        {"m:t:u", "':'"},
    };
    struct qm_name n;
    struct qm_err err;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(&err, 0, sizeof err);
        if (qm_name_parse(&n, cases[i].in, &err) != QM_EINVAL)
            fail_msg("'%s' was accepted", cases[i].in);
        if (!strstr(err.msg, cases[i].why))
            fail_msg("'%s': message '%s' lacks '%s'", cases[i].in, err.msg, cases[i].why);
        assert_non_null(strstr(err.msg, "invalid model name"));
    }
    for (size_t i = 0; i < sizeof ctrl / sizeof *ctrl; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(qm_name_parse(&n, ctrl[i], &err), QM_EINVAL);
        assert_non_null(strstr(err.msg, "control characters"));
        for (const char *p = err.msg; *p; p++)   /* never echoed raw */
            assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
    }
    const char *longs[] = {too_long_model, too_long_tag, too_long_ns, too_long_host};
    for (int i = 0; i < 4; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(qm_name_parse(&n, longs[i], &err), QM_EINVAL);
        assert_non_null(strstr(err.msg, "longer than"));
    }
    assert_int_equal(qm_name_parse(&n, NULL, &err), QM_EINVAL);
}

static void test_equal_and_parts(void **state)
{
    (void)state;
    struct qm_name a, b, c;
    assert_int_equal(qm_name_parse(&a, "Qwen2:Latest", NULL), QM_OK);
    assert_int_equal(qm_name_parse(&b, "registry.ollama.ai/library/qwen2", NULL), QM_OK);
    assert_int_equal(qm_name_parse(&c, "qwen2:7b", NULL), QM_OK);
    assert_true(qm_name_equal(&a, &b));
    assert_false(qm_name_equal(&a, &c));

    assert_true(qm_name_host_valid("localhost:11434"));
    assert_false(qm_name_namespace_valid("a:b"));
    assert_false(qm_name_namespace_valid("a.b"));
    assert_true(qm_name_model_valid("a.b"));
    assert_false(qm_name_tag_valid(".."));
    assert_false(qm_name_model_valid(""));
    assert_false(qm_name_tag_valid("a/b"));
}

static void test_digests(void **state)
{
    (void)state;
    char colon[80], dash[80], out[QM_DIGEST_STR_LEN + 1];
    snprintf(colon, sizeof colon, "sha256:%s", HEX64);
    snprintf(dash, sizeof dash, "sha256-%s", HEX64);
    assert_true(qm_digest_valid(colon, ':'));
    assert_false(qm_digest_valid(colon, '-'));
    assert_true(qm_digest_valid(dash, '-'));
    assert_int_equal(qm_digest_parse(dash, out, NULL), QM_OK);
    assert_string_equal(out, colon);

    char bad[8][100];
    snprintf(bad[0], 100, "sha256:%.63s", HEX64);               /* short */
    snprintf(bad[1], 100, "sha256:%sa", HEX64);                 /* long */
    snprintf(bad[2], 100, "sha256:%.63sA", HEX64);              /* uppercase */
    snprintf(bad[3], 100, "sha512:%s", HEX64);
    snprintf(bad[4], 100, "sha256/%s", HEX64);
    snprintf(bad[5], 100, "%s", HEX64);
    snprintf(bad[6], 100, "sha256:%.62s/.", HEX64);
    snprintf(bad[7], 100, "sha256-%s-partial", HEX64);
    for (int i = 0; i < 8; i++) {
        struct qm_err err = {{0}};
        assert_int_equal(qm_digest_parse(bad[i], out, &err), QM_EINVAL);
        assert_non_null(strstr(err.msg, "invalid digest"));
    }
    assert_int_equal(qm_digest_parse(NULL, out, NULL), QM_EINVAL);

    /* FIPS 180-2 vectors. */
    assert_int_equal(qm_sha256_buf("abc", 3, out), QM_OK);
    assert_string_equal(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(qm_sha256_buf("", 0, out), QM_OK);
    assert_string_equal(out, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    struct qm_sha256 *h = qm_sha256_new();
    assert_non_null(h);
    qm_sha256_update(h, "a", 1);
    qm_sha256_update(h, "bc", 2);
    assert_int_equal(qm_sha256_final(h, out), QM_OK);
    assert_string_equal(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    struct qm_err err = {{0}};
    assert_int_equal(qm_sha256_file("/nonexistent/qm", out, NULL, &err), QM_EIO);
    assert_non_null(strstr(err.msg, "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_refused_names),
        cmocka_unit_test(test_equal_and_parts),
        cmocka_unit_test(test_digests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
