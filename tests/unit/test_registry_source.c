/* test_registry_source.c - where a pull fetches from (registry/source.h) and
 * the catalog behind short names (registry/catalog.h).
 *
 * Catalog names become Hugging Face (then ModelScope) file URLs with
 * HF_ENDPOINT honoured; other names go to an Ollama-protocol registry over
 * https unless http is asked for; file URLs are rewritten for mirrors and
 * stored under names derived from them; unsafe names and URLs are refused.
 * Every entry of the built-in catalog must resolve for every tag it lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "catalog.h"
#include "source.h"

/* generated from registry/catalog.json */
extern const char qm_catalog_builtin[];
extern const unsigned long qm_catalog_builtin_len;

static int clean_env(void **state)
{
    (void)state;
    unsetenv("HF_ENDPOINT");
    unsetenv("MODELSCOPE_ENDPOINT");
    unsetenv("QM_CATALOG");
    unsetenv("QM_PULL_SOURCE");
    return 0;
}

static void resolve_ok(const char *in, bool insecure, struct qm_source *s)
{
    struct qm_err err = {{0}};
    int rc = qm_source_resolve(in, insecure, s, &err);
    if (rc != 0)
        fail_msg("%s: %s", in, err.msg);
}

static void test_catalog_name(void **state)
{
    (void)state;
    struct qm_source s;
    resolve_ok("qwen1.5-14b:q2_k", false, &s);
    assert_int_equal(s.kind, QM_SOURCE_FILE);
    assert_string_equal(s.name.host, "registry.ollama.ai");
    assert_string_equal(s.name.model, "qwen1.5-14b");
    assert_string_equal(s.name.tag, "q2_k");
    assert_true(s.n_urls >= 1);
    assert_string_equal(s.urls[0],
                        "https://huggingface.co/Qwen/Qwen1.5-14B-Chat-GGUF/resolve/main/qwen1_5-14b-chat-q2_k.gguf");
    if (s.n_urls == 2)
        assert_non_null(strstr(s.urls[1], "/models/"));

    /* no tag, or latest: the entry's default, stored under that tag */
    resolve_ok("Qwen1.5-0.5B", false, &s);
    assert_int_equal(s.kind, QM_SOURCE_FILE);
    assert_string_not_equal(s.name.tag, "latest");
    assert_non_null(strstr(s.urls[0], s.name.tag));
}

static void test_catalog_unknown_tag(void **state)
{
    (void)state;
    struct qm_source s;
    struct qm_err err = {{0}};
    assert_int_equal(qm_source_resolve("qwen1.5-14b:q9_z", false, &s, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "q9_z"));
    assert_non_null(strstr(err.msg, "q2_k"));   /* the tags there are */
}

static void test_hf_endpoint_and_modelscope_first(void **state)
{
    (void)state;
    struct qm_source s;
    setenv("HF_ENDPOINT", "http://mirror.example:8080/", 1);
    resolve_ok("qwen1.5-14b:q4_0", false, &s);
    assert_string_equal(s.urls[0],
                        "http://mirror.example:8080/Qwen/Qwen1.5-14B-Chat-GGUF/resolve/main/qwen1_5-14b-chat-q4_0.gguf");
    setenv("QM_PULL_SOURCE", "modelscope", 1);
    setenv("MODELSCOPE_ENDPOINT", "https://ms.example", 1);
    resolve_ok("qwen1.5-14b:q4_0", false, &s);
    assert_int_equal(s.n_urls, 2);
    assert_string_equal(s.urls[0], "https://ms.example/models/qwen/Qwen1.5-14B-Chat-GGUF/resolve/master/"
                                   "qwen1_5-14b-chat-q4_0.gguf");
    assert_non_null(strstr(s.urls[1], "mirror.example"));
    clean_env(NULL);
}

static void test_custom_catalog(void **state)
{
    (void)state;
    char path[] = "/tmp/qm-catalog-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"version\":1,\"models\":{\"tiny\":{\"huggingface\":\"Owner/Tiny-GGUF\","
                       "\"file\":\"Tiny-{TAG}.gguf\",\"tags\":[\"q8_0\",\"f16\"],\"default\":\"q8_0\","
                       "\"files\":{\"f16\":\"tiny-half.gguf\"}}}}";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    setenv("QM_CATALOG", path, 1);
    struct qm_source s;
    resolve_ok("tiny", false, &s);
    assert_string_equal(s.name.tag, "q8_0");
    assert_string_equal(s.urls[0], "https://huggingface.co/Owner/Tiny-GGUF/resolve/main/Tiny-Q8_0.gguf");
    assert_int_equal(s.n_urls, 1);
    resolve_ok("tiny:f16", false, &s);
    assert_string_equal(s.urls[0], "https://huggingface.co/Owner/Tiny-GGUF/resolve/main/tiny-half.gguf");
    /* not in this catalog: an Ollama registry name */
    resolve_ok("qwen1.5-14b:q2_k", false, &s);
    assert_int_equal(s.kind, QM_SOURCE_REGISTRY);

    /* a broken catalog is an error, not a silent fallback */
    FILE *f = fopen(path, "w");
    fputs("{\"models\": [", f);
    fclose(f);
    struct qm_err err = {{0}};
    assert_int_equal(qm_source_resolve("tiny", false, &s, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "catalog"));
    unlink(path);
    clean_env(NULL);
}

static void test_registry_names(void **state)
{
    (void)state;
    struct qm_source s;
    resolve_ok("qwen2:7b", false, &s);
    assert_int_equal(s.kind, QM_SOURCE_REGISTRY);
    assert_string_equal(s.base, "https://registry.ollama.ai");
    assert_string_equal(s.name.ns, "library");
    resolve_ok("hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", false, &s);
    assert_string_equal(s.base, "https://hf.co");
    assert_string_equal(s.name.ns, "bartowski");
    assert_string_equal(s.name.tag, "Q4_K_M");
    resolve_ok("modelscope.cn/Qwen/Qwen2.5-3B-Instruct-GGUF:Q4_K_M", false, &s);
    assert_string_equal(s.base, "https://modelscope.cn");
    resolve_ok("http://127.0.0.1:5000/ns/model:v1", false, &s);
    assert_string_equal(s.base, "http://127.0.0.1:5000");
    assert_string_equal(s.name.host, "127.0.0.1:5000");
    resolve_ok("127.0.0.1:5000/ns/model:v1", true, &s);   /* --insecure: plain HTTP */
    assert_string_equal(s.base, "http://127.0.0.1:5000");
    assert_true(s.insecure);
    resolve_ok("127.0.0.1:5000/ns/model:v1", false, &s);
    assert_string_equal(s.base, "https://127.0.0.1:5000");
}

static void test_file_urls(void **state)
{
    (void)state;
    struct qm_source s;
    resolve_ok("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/blob/main/qwen2.5-0.5b-instruct-q4_k_m.gguf",
               false, &s);
    assert_int_equal(s.kind, QM_SOURCE_FILE);
    assert_string_equal(s.urls[0], "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/"
                                   "qwen2.5-0.5b-instruct-q4_k_m.gguf");
    assert_string_equal(s.name.host, "hf.co");
    assert_string_equal(s.name.ns, "Qwen");
    assert_string_equal(s.name.model, "Qwen2.5-0.5B-Instruct-GGUF");
    assert_string_equal(s.name.tag, "qwen2.5-0.5b-instruct-q4_k_m");

    setenv("HF_ENDPOINT", "https://hf-mirror.com", 1);
    resolve_ok("https://huggingface.co/bartowski/X-GGUF/resolve/main/sub/X-Q8_0.gguf", false, &s);
    assert_string_equal(s.urls[0], "https://hf-mirror.com/bartowski/X-GGUF/resolve/main/sub/X-Q8_0.gguf");
    assert_string_equal(s.name.tag, "x-q8_0");
    clean_env(NULL);

    resolve_ok("https://modelscope.cn/models/qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/master/a-q4_0.gguf", false,
               &s);
    assert_string_equal(s.urls[0], "https://modelscope.cn/models/qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/master/"
                                   "a-q4_0.gguf");
    assert_string_equal(s.name.host, "modelscope.cn");

    resolve_ok("http://127.0.0.1:8000/some/dir/Tiny%20Model.gguf", false, &s);
    assert_string_equal(s.urls[0], "http://127.0.0.1:8000/some/dir/Tiny%20Model.gguf");
    assert_string_equal(s.name.host, "127.0.0.1:8000");
    assert_string_equal(s.name.ns, "files");
    assert_string_equal(s.name.model, "tiny_model");
    assert_string_equal(s.name.tag, "latest");

    /* dot segments never reach a name; encoded ones are refused */
    resolve_ok("https://example.com/a/../../x.gguf", false, &s);
    assert_string_equal(s.name.model, "x");
    struct qm_err err = {{0}};
    assert_int_equal(qm_source_resolve("https://example.com/a/%2e%2e/x.gguf", false, &s, &err), QM_EINVAL);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "../evil", "/etc/passwd", "a/../../b", "qwen\x01:7b", "ftp://example.com/x.gguf",
        "", "x:..", "host/ns/model/extra/part",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct qm_source s;
        struct qm_err err = {{0}};
        int rc = qm_source_resolve(bad[i], false, &s, &err);
        if (rc != QM_EINVAL)
            fail_msg("'%s' was accepted (rc %d)", bad[i], rc);
        assert_true(err.msg[0] != '\0');
    }
}

/* Every built-in entry resolves for every tag, to a .gguf file URL. */
static void test_builtin_catalog_complete(void **state)
{
    (void)state;
    json_error_t je;
    json_t *root = json_loadb(qm_catalog_builtin, qm_catalog_builtin_len, 0, &je);
    assert_non_null(root);
    json_t *models = json_object_get(root, "models"), *entry;
    const char *name;
    size_t n_models = 0, n_files = 0;
    json_object_foreach(models, name, entry) {
        n_models++;
        size_t i;
        json_t *tag;
        json_array_foreach(json_object_get(entry, "tags"), i, tag) {
            char full[256];
            snprintf(full, sizeof full, "%s:%s", name, json_string_value(tag));
            struct qm_source s;
            resolve_ok(full, false, &s);
            assert_int_equal(s.kind, QM_SOURCE_FILE);
            for (int u = 0; u < s.n_urls; u++) {
                size_t l = strlen(s.urls[u]);
                if (l < 5 || strcmp(s.urls[u] + l - 5, ".gguf"))
                    fail_msg("%s: %s is not a .gguf", full, s.urls[u]);
                if (strstr(s.urls[u], "-of-0"))
                    fail_msg("%s: %s is a split file", full, s.urls[u]);
            }
            n_files++;
        }
    }
    /* the families the catalog must cover */
    static const char *const need[] = {"qwen1.5-0.5b", "qwen1.5-14b", "qwen1.5-72b", "qwen2.5-7b",
                                       "gemma-2b", "gemma2-9b", "gemma3-270m", "gemma3-27b"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!json_object_get(models, need[i]))
            fail_msg("the catalog has no %s", need[i]);
    assert_true(n_files > n_models);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_catalog_name, clean_env),
        cmocka_unit_test_setup(test_catalog_unknown_tag, clean_env),
        cmocka_unit_test_setup(test_hf_endpoint_and_modelscope_first, clean_env),
        cmocka_unit_test_setup(test_custom_catalog, clean_env),
        cmocka_unit_test_setup(test_registry_names, clean_env),
        cmocka_unit_test_setup(test_file_urls, clean_env),
        cmocka_unit_test_setup(test_refused, clean_env),
        cmocka_unit_test_setup(test_builtin_catalog_complete, clean_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
