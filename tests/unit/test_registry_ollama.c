/* test_registry_ollama.c - a store written the way Ollama writes one.
 *
 * The manifests, config blobs and layers are laid down by hand with the
 * exact JSON Ollama produces (and hashed here with OpenSSL directly, not
 * through the store), so a store that QM_MODELS points at works as it is:
 * listed with Ollama's IDs, sizes and details, resolved to its GGUF, built
 * upon, copied byte for byte, and left intact when qm's own models go. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "blob.h"
#include "gguf_write.h"
#include "modelfile.h"
#include "store.h"

#define QWEN2_TEMPLATE                                                                        \
    "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}" \
    "<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"             \
    "{{ .Response }}<|im_end|>\n"
#define QWEN2_PARAMS "{\"stop\":[\"<|im_start|>\",\"<|im_end|>\"]}"
#define LICENSE_TEXT "Apache License\nVersion 2.0, January 2004\n"

struct blob {
    char hex[65];
    size_t size;
};

static char root[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void hex_sha256(const void *data, size_t len, char *hex)
{
    unsigned char md[32];
    unsigned int n;
    assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
}

static void put_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static struct blob put_blob(const void *data, size_t len)
{
    struct blob b = {.size = len};
    hex_sha256(data, len, b.hex);
    char path[256];
    snprintf(path, sizeof path, "%s/blobs/sha256-%s", root, b.hex);
    put_file(path, data, len);
    return b;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *buf = malloc(*len + 1);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static struct blob gguf_blob(const char *arch)
{
    char path[128];
    snprintf(path, sizeof path, "%s.gguf", root);
    struct gguf_writer *w;
    struct qm_err err;
    static float data[96];
    int64_t ne1[2] = {8, 4}, ne2[2] = {8, 8};
    assert_int_equal(gguf_w_new(&w, &err), QM_OK);
    gguf_w_set_str(w, "general.architecture", arch, &err);
    gguf_w_set_u32(w, "general.file_type", 15, &err);
    gguf_w_add_tensor(w, "token_embd.weight", QM_TYPE_F32, 2, ne1, data, &err);
    gguf_w_add_tensor(w, "blk.0.attn_q.weight", QM_TYPE_F32, 2, ne2, data + 32, &err);
    assert_int_equal(gguf_w_write(w, path, NULL, &err), QM_OK);
    gguf_w_free(w);
    size_t len;
    char *bytes = read_all(path, &len);
    struct blob b = put_blob(bytes, len);
    free(bytes);
    unlink(path);
    return b;
}

/* A manifest as Go's encoding/json writes Ollama's struct: compact, in
 * field order.  Returns the sha256 hex of its bytes (the model's ID). */
static void put_manifest(const char *rel, const struct blob *config, const char *const *types,
                         const struct blob *layers, int n, time_t mtime, char *id_hex)
{
    char json[4096];
    int len = snprintf(json, sizeof json,
                       "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution."
                       "manifest.v2+json\",\"config\":{\"mediaType\":\"application/vnd.docker."
                       "container.image.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu},"
                       "\"layers\":[",
                       config->hex, config->size);
    for (int i = 0; i < n; i++)
        len += snprintf(json + len, sizeof json - (size_t)len,
                        "%s{\"mediaType\":\"%s\",\"digest\":\"sha256:%s\",\"size\":%zu}",
                        i ? "," : "", types[i], layers[i].hex, layers[i].size);
    len += snprintf(json + len, sizeof json - (size_t)len, "]}");
    char path[512];
    snprintf(path, sizeof path, "%s/manifests/%s", root, rel);
    char dir[512];
    strcpy(dir, path);
    for (char *p = dir + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    put_file(path, json, (size_t)len);
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimes(path, tv), 0);
    hex_sha256(json, (size_t)len, id_hex);
}

static struct blob qwen_gguf, qwen_tmpl, qwen_params, qwen_license, qwen_config;
static struct blob hf_gguf, hf_system, hf_config;
static char qwen_id[65], hf_id[65];

static int setup(void **state)
{
    (void)state;
    strcpy(root, "/tmp/qm_test_ollama_XXXXXX");
    if (!mkdtemp(root))
        return -1;
    char p[128];
    snprintf(p, sizeof p, "%s/blobs", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/manifests", root);
    mkdir(p, 0755);

    /* registry.ollama.ai/library/qwen2:0.5b, as `ollama pull` leaves it. */
    qwen_gguf = gguf_blob("qwen2");
    qwen_tmpl = put_blob(QWEN2_TEMPLATE, strlen(QWEN2_TEMPLATE));
    qwen_params = put_blob(QWEN2_PARAMS, strlen(QWEN2_PARAMS));
    qwen_license = put_blob(LICENSE_TEXT, strlen(LICENSE_TEXT));
    char cfg[1024];
    int n = snprintf(cfg, sizeof cfg,
                     "{\"model_format\":\"gguf\",\"model_family\":\"qwen2\",\"model_families\":"
                     "[\"qwen2\"],\"model_type\":\"494.03M\",\"file_type\":\"Q4_0\","
                     "\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                     "\"diff_ids\":[\"sha256:%s\",\"sha256:%s\",\"sha256:%s\",\"sha256:%s\"]}}",
                     qwen_gguf.hex, qwen_tmpl.hex, qwen_license.hex, qwen_params.hex);
    qwen_config = put_blob(cfg, (size_t)n);
    const char *qtypes[] = {"application/vnd.ollama.image.model",
                            "application/vnd.ollama.image.template",
                            "application/vnd.ollama.image.license",
                            "application/vnd.ollama.image.params"};
    struct blob ql[] = {qwen_gguf, qwen_tmpl, qwen_license, qwen_params};
    put_manifest("registry.ollama.ai/library/qwen2/0.5b", &qwen_config, qtypes, ql, 4, 1700000000,
                 qwen_id);

    /* hf.co/bartowski/Tiny-GGUF:Q4_K_M with a config lacking the details
     * (they then come from the GGUF header). */
    hf_gguf = gguf_blob("llama");
    hf_system = put_blob("You are a pirate.", 17);
    n = snprintf(cfg, sizeof cfg,
                 "{\"model_format\":\"gguf\",\"architecture\":\"amd64\",\"os\":\"linux\","
                 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
    hf_config = put_blob(cfg, (size_t)n);
    const char *htypes[] = {"application/vnd.ollama.image.model",
                            "application/vnd.ollama.image.system"};
    struct blob hl[] = {hf_gguf, hf_system};
    put_manifest("hf.co/bartowski/Tiny-GGUF/Q4_K_M", &hf_config, htypes, hl, 2, 1700000100, hf_id);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void test_list(void **state)
{
    (void)state;
    struct qm_store *s;
    struct qm_err err = {{0}};
    assert_int_equal(qm_store_open(&s, root, &err), QM_OK);
    assert_false(qm_store_readonly(s));
    struct qm_model_info *list;
    size_t n;
    assert_int_equal(qm_store_list(s, &list, &n, &err), QM_OK);
    assert_int_equal(n, 2);
    /* Newest first. */
    assert_string_equal(list[0].display, "hf.co/bartowski/Tiny-GGUF:Q4_K_M");
    assert_string_equal(list[1].display, "qwen2:0.5b");
    assert_string_equal(list[1].digest + 7, qwen_id);
    assert_string_equal(list[0].digest + 7, hf_id);
    assert_int_equal(list[1].modified, 1700000000);
    assert_int_equal(list[1].size, qwen_config.size + qwen_gguf.size + qwen_tmpl.size +
                                       qwen_license.size + qwen_params.size);
    assert_int_equal(list[0].size, hf_config.size + hf_gguf.size + hf_system.size);
    /* Details: Ollama's config for qwen2, the GGUF header for the other. */
    assert_string_equal(list[1].details.family, "qwen2");
    assert_string_equal(list[1].details.parameter_size, "494.03M");
    assert_string_equal(list[1].details.quantization_level, "Q4_0");
    assert_string_equal(list[0].details.format, "gguf");
    assert_string_equal(list[0].details.family, "llama");
    assert_int_equal(list[0].details.n_families, 1);
    assert_string_equal(list[0].details.families[0], "llama");
    assert_string_equal(list[0].details.parameter_size, "96");
    assert_string_equal(list[0].details.quantization_level, "Q4_K_M");
    assert_int_equal(list[0].details.parameter_count, 96);
    json_t *dj = qm_details_json(&list[1].details);
    char *dumped = json_dumps(dj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(dumped, "{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":\"qwen2\","
                                "\"families\":[\"qwen2\"],\"parameter_size\":\"494.03M\","
                                "\"quantization_level\":\"Q4_0\"}");
    free(dumped);
    json_decref(dj);
    qm_model_list_free(list);
    qm_store_close(s);
}

static void test_resolve_and_show(void **state)
{
    (void)state;
    struct qm_store *s;
    struct qm_err err = {{0}};
    assert_int_equal(qm_store_open(&s, root, &err), QM_OK);
    struct qm_model_ref r;
    assert_int_equal(qm_store_resolve(s, "qwen2:0.5b", &r, &err), QM_OK);
    char want[256];
    snprintf(want, sizeof want, "%s/blobs/sha256-%s", root, qwen_gguf.hex);
    assert_string_equal(r.gguf_path, want);
    assert_string_equal(r.template, QWEN2_TEMPLATE);
    assert_null(r.system);
    assert_string_equal(r.license, LICENSE_TEXT);
    json_t *stop = json_object_get(r.params, "stop");
    assert_int_equal(json_array_size(stop), 2);
    assert_string_equal(json_string_value(json_array_get(stop, 1)), "<|im_end|>");
    assert_string_equal(r.manifest_digest + 7, qwen_id);

    char *mf = qm_modelfile_render(&r);
    assert_non_null(mf);
    char line[300];
    snprintf(line, sizeof line, "\nFROM %s\n", want);
    assert_non_null(strstr(mf, "# Modelfile generated by \"qm show\"\n"));
    assert_non_null(strstr(mf, "# FROM qwen2:0.5b\n"));
    assert_non_null(strstr(mf, line));
    assert_non_null(strstr(mf, "TEMPLATE \"\"\"{{ if .System }}<|im_start|>system\n"));
    assert_non_null(strstr(mf, "\nPARAMETER stop <|im_start|>\nPARAMETER stop <|im_end|>\n"));
    assert_non_null(strstr(mf, "LICENSE \"\"\"" LICENSE_TEXT "\"\"\"\n"));
    free(mf);
    qm_model_ref_free(&r);

    /* Fully qualified and differently cased, the hf.co model. */
    assert_int_equal(qm_store_resolve(s, "HF.CO/bartowski/tiny-gguf:q4_k_m", &r, &err), QM_OK);
    assert_string_equal(r.display, "hf.co/bartowski/Tiny-GGUF:Q4_K_M");
    assert_string_equal(r.system, "You are a pirate.");
    assert_int_equal(json_object_size(r.params), 0);
    qm_model_ref_free(&r);
    qm_store_close(s);
}

static void test_build_on_ollama_store(void **state)
{
    (void)state;
    struct qm_store *s;
    struct qm_err err = {{0}};
    assert_int_equal(qm_store_open(&s, root, &err), QM_OK);
    /* A model of ours on top of Ollama's, then a copy of Ollama's. */
    struct qm_create_spec spec = {.from = "qwen2:0.5b", .system = "Answer in French."};
    assert_int_equal(qm_store_create(s, "french", &spec, &err), QM_OK);
    assert_int_equal(qm_store_copy(s, "qwen2:0.5b", "qwen2-copy", &err), QM_OK);
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/manifests/registry.ollama.ai/library/qwen2/0.5b", root);
    snprintf(b, sizeof b, "%s/manifests/registry.ollama.ai/library/qwen2-copy/latest", root);
    size_t la, lb;
    char *ta = read_all(a, &la), *tb = read_all(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    free(ta);
    free(tb);

    struct qm_model_ref r;
    assert_int_equal(qm_store_resolve(s, "french", &r, &err), QM_OK);
    assert_string_equal(r.system, "Answer in French.");
    assert_string_equal(r.template, QWEN2_TEMPLATE);
    assert_string_equal(r.license, LICENSE_TEXT);
    assert_int_equal(json_array_size(json_object_get(r.params, "stop")), 2);
    assert_string_equal(r.model_digest + 7, qwen_gguf.hex);
    qm_model_ref_free(&r);

    /* Removing ours leaves every blob of Ollama's models in place. */
    assert_int_equal(qm_store_delete(s, "french", &err), QM_OK);
    assert_int_equal(qm_store_delete(s, "qwen2-copy", &err), QM_OK);
    const struct blob *all[] = {&qwen_gguf, &qwen_tmpl, &qwen_params, &qwen_license, &qwen_config,
                                &hf_gguf,   &hf_system, &hf_config};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        char d[80];
        snprintf(d, sizeof d, "sha256:%s", all[i]->hex);
        assert_int_equal(qm_store_verify_blob(s, d, &err), QM_OK);
    }
    struct qm_model_info *list;
    size_t n;
    assert_int_equal(qm_store_list(s, &list, &n, &err), QM_OK);
    assert_int_equal(n, 2);
    qm_model_list_free(list);
    qm_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_resolve_and_show),
        cmocka_unit_test(test_build_on_ollama_store),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
