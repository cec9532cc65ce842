/* test_registry_store.c - the model store (registry/store.h, blob.h) in a
 * temporary directory.
 *
 * create -> resolve -> list -> copy -> delete round trips; garbage
 * collection removing exactly the unreferenced blobs and never a partial
 * one; the blob writer refusing a wrong digest with nothing left behind;
 * write errors reported with strerror; a read-only store readable but not
 * writable; a corrupt manifest skipped by list; and threads creating and
 * deleting models at once without losing a blob. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "blob.h"
#include "gguf_write.h"
#include "store.h"

/* ---- helpers ------------------------------------------------------------ */

struct fx {
    char dir[64];       /* the store root */
    char gguf[128];     /* a tiny GGUF outside the store */
    struct qm_store *s;
    char gguf_digest[QM_DIGEST_STR_LEN + 1];
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A small valid GGUF: a qwen2 "Q4_K_M" file of 96 F32 parameters. */
static void make_gguf(const char *path, const char *arch)
{
    struct gguf_writer *w;
    struct qm_err err;
    static float data[96];
    for (int i = 0; i < 96; i++)
        data[i] = (float)i;
    assert_int_equal(gguf_w_new(&w, &err), QM_OK);
    assert_int_equal(gguf_w_set_str(w, "general.architecture", arch, &err), QM_OK);
    assert_int_equal(gguf_w_set_u32(w, "general.file_type", 15, &err), QM_OK);
    int64_t ne1[2] = {8, 4}, ne2[2] = {8, 8};
    assert_int_equal(gguf_w_add_tensor(w, "token_embd.weight", QM_TYPE_F32, 2, ne1, data, &err), QM_OK);
    assert_int_equal(gguf_w_add_tensor(w, "blk.0.attn_q.weight", QM_TYPE_F32, 2, ne2, data + 32, &err),
                     QM_OK);
    assert_int_equal(gguf_w_write(w, path, NULL, &err), QM_OK);
    gguf_w_free(w);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/qm_test_reg_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->gguf, sizeof f->gguf, "%s.gguf", f->dir);
    make_gguf(f->gguf, "qwen2");
    struct qm_err err;
    if (qm_store_open(&f->s, f->dir, &err) != QM_OK ||
        qm_store_import_file(f->s, f->gguf, f->gguf_digest, NULL, &err) != QM_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    qm_store_close(f->s);
    chmod(f->dir, 0700);
    rm_rf(f->dir);
    unlink(f->gguf);
    free(f);
    return 0;
}

/* Files in <root>/<sub> whose names start with prefix. */
static int count_files(const struct fx *f, const char *sub, const char *prefix)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", f->dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && !strncmp(e->d_name, prefix, strlen(prefix)))
            n++;
    closedir(d);
    return n;
}

static bool exists(const struct fx *f, const char *rel)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", f->dir, rel);
    return stat(path, &st) == 0;
}

static void create_model(struct fx *f, const char *name, const char *system, const char *params_json)
{
    json_t *params = params_json ? json_loads(params_json, 0, NULL) : NULL;
    struct qm_create_spec spec = {
        .from = f->gguf_digest,
        .template = "{{ .System }} {{ .Prompt }}",
        .system = system,
        .params = params,
    };
    struct qm_err err = {{0}};
    int rc = qm_store_create(f->s, name, &spec, &err);
    json_decref(params);
    if (rc)
        fail_msg("create %s: %s", name, err.msg);
}

/* ---- tests -------------------------------------------------------------- */

static void test_create_resolve(void **state)
{
    struct fx *f = *state;
    create_model(f, "Test-Model:v1", "be brief",
                 "{\"stop\":[\"<|im_end|>\"],\"num_ctx\":8192,\"temperature\":0.7}");
    assert_true(exists(f, "manifests/registry.ollama.ai/library/Test-Model/v1"));

    struct qm_model_ref r;
    struct qm_err err = {{0}};
    assert_int_equal(qm_store_resolve(f->s, "Test-Model:v1", &r, &err), QM_OK);
    assert_string_equal(r.display, "Test-Model:v1");
    char *want_path;
    assert_int_equal(qm_store_blob_path(f->s, f->gguf_digest, &want_path, NULL), QM_OK);
    assert_string_equal(r.gguf_path, want_path);
    assert_string_equal(r.model_digest, f->gguf_digest);
    free(want_path);
    assert_string_equal(r.template, "{{ .System }} {{ .Prompt }}");
    assert_string_equal(r.system, "be brief");
    assert_null(r.license);
    assert_null(r.messages);
    assert_int_equal(json_integer_value(json_object_get(r.params, "num_ctx")), 8192);
    assert_true(json_real_value(json_object_get(r.params, "temperature")) == 0.7);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r.params, "stop"), 0)),
                        "<|im_end|>");
    /* Details: from the GGUF header, written into the config blob. */
    assert_string_equal(r.details.format, "gguf");
    assert_string_equal(r.details.family, "qwen2");
    assert_int_equal(r.details.n_families, 1);
    assert_string_equal(r.details.parameter_size, "96");
    assert_string_equal(r.details.quantization_level, "Q4_K_M");

    /* The ID is the sha256 of the manifest file; size counts every layer. */
    char mpath[256], id[QM_DIGEST_STR_LEN + 1];
    unsigned long long msize;
    snprintf(mpath, sizeof mpath, "%s/manifests/registry.ollama.ai/library/Test-Model/v1", f->dir);
    assert_int_equal(qm_sha256_file(mpath, id, &msize, NULL), QM_OK);
    assert_string_equal(r.manifest_digest, id);
    char *text;
    size_t len;
    assert_int_equal(qm_store_read_blob(f->s, r.manifest_digest, 1 << 20, &text, &len, &err),
                     QM_STORE_ENOTFOUND);   /* a manifest is no blob */
    FILE *mf = fopen(mpath, "r");
    char mbuf[4096] = {0};
    assert_true(fread(mbuf, 1, sizeof mbuf - 1, mf) > 0);
    fclose(mf);
    json_t *m = json_loads(mbuf, 0, NULL);
    assert_non_null(m);
    assert_int_equal(json_integer_value(json_object_get(m, "schemaVersion")), 2);
    assert_string_equal(json_string_value(json_object_get(m, "mediaType")),
                        "application/vnd.docker.distribution.manifest.v2+json");
    uint64_t sum = (uint64_t)json_integer_value(json_object_get(json_object_get(m, "config"), "size"));
    json_t *layers = json_object_get(m, "layers");
    assert_int_equal(json_array_size(layers), 4);   /* model, template, system, params */
    assert_string_equal(json_string_value(json_object_get(json_array_get(layers, 0), "mediaType")),
                        "application/vnd.ollama.image.model");
    for (size_t i = 0; i < json_array_size(layers); i++)
        sum += (uint64_t)json_integer_value(json_object_get(json_array_get(layers, i), "size"));
    assert_int_equal(r.size, sum);
    /* Every blob it names is there and hashes to its name. */
    assert_int_equal(qm_store_verify_blob(f->s, json_string_value(json_object_get(
                                                     json_object_get(m, "config"), "digest")), &err),
                     QM_OK);
    for (size_t i = 0; i < json_array_size(layers); i++)
        assert_int_equal(qm_store_verify_blob(f->s, json_string_value(json_object_get(
                                                         json_array_get(layers, i), "digest")), &err),
                         QM_OK);
    /* The config blob carries Ollama's fields. */
    const char *cd = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
    assert_int_equal(qm_store_read_blob(f->s, cd, 1 << 20, &text, &len, &err), QM_OK);
    json_t *cfg = json_loads(text, 0, NULL);
    free(text);
    assert_string_equal(json_string_value(json_object_get(cfg, "model_format")), "gguf");
    assert_string_equal(json_string_value(json_object_get(cfg, "model_family")), "qwen2");
    assert_string_equal(json_string_value(json_object_get(cfg, "file_type")), "Q4_K_M");
    assert_string_equal(json_string_value(json_object_get(cfg, "os")), "linux");
    assert_string_equal(json_string_value(json_object_get(json_object_get(cfg, "rootfs"), "type")),
                        "layers");
    assert_int_equal(json_array_size(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids")), 4);
    json_decref(cfg);
    json_decref(m);
    qm_model_ref_free(&r);

    /* Case-insensitive lookup gives the name as stored. */
    assert_int_equal(qm_store_resolve(f->s, "registry.ollama.ai/LIBRARY/test-model:V1", &r, &err),
                     QM_OK);
    assert_string_equal(r.display, "Test-Model:v1");
    /* Pinned to its own ID: found; to another: not. */
    char pinned[200];
    snprintf(pinned, sizeof pinned, "test-model:v1@%s", id);
    qm_model_ref_free(&r);
    assert_int_equal(qm_store_resolve(f->s, pinned, &r, &err), QM_OK);
    qm_model_ref_free(&r);
    snprintf(pinned, sizeof pinned, "test-model:v1@%s", f->gguf_digest);
    assert_int_equal(qm_store_resolve(f->s, pinned, &r, &err), QM_STORE_ENOTFOUND);

    /* Unknown names and bad names. */
    memset(&err, 0, sizeof err);
    assert_int_equal(qm_store_resolve(f->s, "nosuch", &r, &err), QM_STORE_ENOTFOUND);
    assert_string_equal(err.msg, "model 'nosuch:latest' not found");
    assert_int_equal(qm_store_resolve(f->s, "test-model:v2", &r, &err), QM_STORE_ENOTFOUND);
    assert_int_equal(qm_store_resolve(f->s, "../../etc/passwd", &r, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "invalid model name"));

    /* A differently-cased new name is refused, as Ollama refuses it... */
    struct qm_create_spec spec = {.from = f->gguf_digest};
    assert_int_equal(qm_store_create(f->s, "test-model:V1", &spec, &err), QM_STORE_EEXIST);
    assert_non_null(strstr(err.msg, "already exists as 'Test-Model:v1'"));
    /* ...the same spelling replaces the model. */
    spec.system = "new system";
    assert_int_equal(qm_store_create(f->s, "Test-Model:v1", &spec, &err), QM_OK);
    assert_int_equal(qm_store_resolve(f->s, "test-model:v1", &r, &err), QM_OK);
    assert_string_equal(r.system, "new system");
    assert_null(r.template);   /* FROM a blob: a new model, nothing kept */
    qm_model_ref_free(&r);
}

static void test_create_errors(void **state)
{
    struct fx *f = *state;
    struct qm_err err = {{0}};
    struct qm_create_spec spec = {.from = "sha256:0000000000000000000000000000000000000000000000000000000000000000"};
    assert_int_equal(qm_store_create(f->s, "x", &spec, &err), QM_STORE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "not in the store"));
    spec.from = "nosuch:model";
    assert_int_equal(qm_store_create(f->s, "x", &spec, &err), QM_STORE_ENOTFOUND);
    spec.from = NULL;
    assert_int_equal(qm_store_create(f->s, "x", &spec, &err), QM_EINVAL);
    spec.from = f->gguf_digest;
    assert_int_equal(qm_store_create(f->s, "x/../y", &spec, &err), QM_EINVAL);
    json_t *arr = json_array();
    spec.params = arr;
    assert_int_equal(qm_store_create(f->s, "x", &spec, &err), QM_EINVAL);
    json_decref(arr);
    /* A blob that is not a GGUF cannot be a model layer. */
    char d[QM_DIGEST_STR_LEN + 1];
    assert_int_equal(qm_store_put_blob(f->s, "not a model", 11, d, &err), QM_OK);
    spec.params = NULL;
    spec.from = d;
    assert_int_equal(qm_store_create(f->s, "x", &spec, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "not a usable GGUF"));
    assert_int_equal(count_files(f, "manifests", ""), 0);
}

static void test_inherit_and_merge(void **state)
{
    struct fx *f = *state;
    create_model(f, "base", "base system", "{\"stop\":[\"a\",\"b\"],\"temperature\":0.5}");
    json_t *params = json_pack("{s:f, s:i}", "temperature", 0.9, "num_ctx", 4096);
    json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "hi");
    struct qm_create_spec spec = {.from = "base", .system = "", .params = params,
                                  .license = "MIT", .messages = msgs};
    struct qm_err err = {{0}};
    assert_int_equal(qm_store_create(f->s, "child", &spec, &err), QM_OK);
    json_decref(params);
    json_decref(msgs);
    struct qm_model_ref r;
    assert_int_equal(qm_store_resolve(f->s, "child", &r, &err), QM_OK);
    assert_null(r.system);                                        /* "" removed it */
    assert_string_equal(r.template, "{{ .System }} {{ .Prompt }}");   /* inherited */
    assert_string_equal(r.license, "MIT");
    assert_int_equal(json_array_size(json_object_get(r.params, "stop")), 2);
    assert_true(json_real_value(json_object_get(r.params, "temperature")) == 0.9);
    assert_int_equal(json_integer_value(json_object_get(r.params, "num_ctx")), 4096);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.messages, 0), "content")),
                        "hi");
    assert_string_equal(r.model_digest, f->gguf_digest);
    qm_model_ref_free(&r);
}

static void test_list_copy_delete_gc(void **state)
{
    struct fx *f = *state;
    create_model(f, "a", "system A", NULL);
    create_model(f, "hf.co/owner/repo:Q4_K_M", "system B", NULL);

    /* An unreferenced blob, and partial downloads GC must never touch. */
    char unused[QM_DIGEST_STR_LEN + 1], path[512];
    struct qm_err err = {{0}};
    assert_int_equal(qm_store_put_blob(f->s, "orphan", 6, unused, &err), QM_OK);
    snprintf(path, sizeof path, "%s/blobs/sha256-%s-partial", f->dir, unused + 7);
    write_file(path, "half", 4);
    snprintf(path, sizeof path, "%s/blobs/sha256-%s-partial-0", f->dir, unused + 7);
    write_file(path, "half", 4);

    struct qm_model_info *list;
    size_t n;
    assert_int_equal(qm_store_list(f->s, &list, &n, &err), QM_OK);
    assert_int_equal(n, 2);
    bool seen_a = false, seen_hf = false;
    for (size_t i = 0; i < n; i++) {
        seen_a |= !strcmp(list[i].display, "a:latest");
        seen_hf |= !strcmp(list[i].display, "hf.co/owner/repo:Q4_K_M");
        assert_string_equal(list[i].details.family, "qwen2");
        assert_string_equal(list[i].details.quantization_level, "Q4_K_M");
        assert_true(list[i].size > 0 && list[i].modified > 0);
    }
    assert_true(seen_a && seen_hf);
    char id_a[QM_DIGEST_STR_LEN + 1];
    struct qm_model_ref r;
    assert_int_equal(qm_store_resolve(f->s, "a", &r, &err), QM_OK);
    memcpy(id_a, r.manifest_digest, sizeof id_a);
    qm_model_ref_free(&r);
    qm_model_list_free(list);

    /* A copy has the same ID; a copy onto itself changes nothing. */
    assert_int_equal(qm_store_copy(f->s, "a", "myns/a-copy:v2", &err), QM_OK);
    assert_int_equal(qm_store_resolve(f->s, "myns/a-copy:v2", &r, &err), QM_OK);
    assert_string_equal(r.manifest_digest, id_a);
    assert_string_equal(r.display, "myns/a-copy:v2");
    qm_model_ref_free(&r);
    assert_int_equal(qm_store_copy(f->s, "a", "a:latest", &err), QM_OK);
    assert_int_equal(qm_store_copy(f->s, "nosuch", "b", &err), QM_STORE_ENOTFOUND);
    assert_int_equal(qm_store_copy(f->s, "a", "../b", &err), QM_EINVAL);

    /* Delete a: its copy still holds every blob, so only the orphan goes. */
    int blobs_before = count_files(f, "blobs", "sha256-");
    assert_int_equal(qm_store_delete(f->s, "A:LATEST", &err), QM_OK);
    assert_false(exists(f, "manifests/registry.ollama.ai/library/a"));
    assert_true(exists(f, "manifests/registry.ollama.ai/myns/a-copy/v2"));
    assert_false(qm_store_blob_exists(f->s, unused, NULL));
    assert_int_equal(count_files(f, "blobs", "sha256-"), blobs_before - 1);
    snprintf(path, sizeof path, "blobs/sha256-%s-partial", unused + 7);
    assert_true(exists(f, path));
    snprintf(path, sizeof path, "blobs/sha256-%s-partial-0", unused + 7);
    assert_true(exists(f, path));
    assert_int_equal(qm_store_resolve(f->s, "myns/a-copy:v2", &r, &err), QM_OK);
    qm_model_ref_free(&r);

    /* Delete the copy: system A goes; the GGUF stays for hf.co/owner/repo. */
    assert_int_equal(qm_store_delete(f->s, "myns/a-copy:v2", &err), QM_OK);
    assert_false(exists(f, "manifests/registry.ollama.ai"));   /* empty dirs pruned */
    assert_true(qm_store_blob_exists(f->s, f->gguf_digest, NULL));
    assert_int_equal(qm_store_resolve(f->s, "hf.co/owner/repo:q4_k_m", &r, &err), QM_OK);
    assert_string_equal(r.system, "system B");
    qm_model_ref_free(&r);
    assert_int_equal(qm_store_delete(f->s, "a", &err), QM_STORE_ENOTFOUND);
    assert_string_equal(err.msg, "model 'a:latest' not found");

    /* Last model: every complete blob goes, the partials stay. */
    assert_int_equal(qm_store_delete(f->s, "hf.co/owner/repo:Q4_K_M", &err), QM_OK);
    assert_int_equal(count_files(f, "blobs", ""), 2);
    assert_int_equal(count_files(f, "manifests", ""), 0);
    assert_int_equal(qm_store_list(f->s, &list, &n, &err), QM_OK);
    assert_int_equal(n, 0);
    qm_model_list_free(list);
}

static void test_gc_waits_for_writers(void **state)
{
    struct fx *f = *state;
    struct qm_err err = {{0}};
    char d[QM_DIGEST_STR_LEN + 1];
    int hold = qm_store_hold(f->s, &err);
    assert_true(hold >= 0);
    /* A pull in progress: a committed blob with no manifest yet. */
    assert_int_equal(qm_store_put_blob(f->s, "layer", 5, d, &err), QM_OK);
    size_t removed = 99;
    assert_int_equal(qm_store_prune(f->s, &removed, &err), QM_OK);
    assert_int_equal(removed, 0);
    assert_true(qm_store_blob_exists(f->s, d, NULL));
    qm_store_release(hold);
    assert_int_equal(qm_store_prune(f->s, &removed, &err), QM_OK);
    assert_int_equal(removed, 2);   /* the layer and the imported GGUF */
    assert_false(qm_store_blob_exists(f->s, d, NULL));
}

static void test_list_skips_broken(void **state)
{
    struct fx *f = *state;
    create_model(f, "good", NULL, NULL);
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/manifests/registry.ollama.ai/library/broken", f->dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/latest", dir);
    write_file(path, "{\"schemaVersion\":2,\"layers\":[", 29);
    snprintf(path, sizeof path, "%s/baddigest", dir);
    const char *bad = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:../../x\","
                      "\"size\":1},\"layers\":[]}";
    write_file(path, bad, strlen(bad));
    snprintf(path, sizeof path, "%s/bad name", dir);   /* not a valid tag */
    write_file(path, "{}", 2);
    snprintf(path, sizeof path, "%s/.latest.tmp-abcdef", dir);   /* a writer's temporary */
    write_file(path, "{", 1);

    struct qm_model_info *list;
    size_t n;
    struct qm_err err = {{0}};
    assert_int_equal(qm_store_list(f->s, &list, &n, &err), QM_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].display, "good:latest");
    qm_model_list_free(list);
    struct qm_model_ref r;
    assert_int_equal(qm_store_resolve(f->s, "broken", &r, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "not JSON"));
    assert_int_equal(qm_store_resolve(f->s, "broken:baddigest", &r, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "digest"));

    /* GC keeps what an unparsable manifest mentions. */
    char d[QM_DIGEST_STR_LEN + 1];
    assert_int_equal(qm_store_put_blob(f->s, "kept", 4, d, &err), QM_OK);
    char text[200];
    snprintf(text, sizeof text, "{ broken %s", d);
    snprintf(path, sizeof path, "%s/latest", dir);
    write_file(path, text, strlen(text));
    assert_int_equal(qm_store_prune(f->s, NULL, &err), QM_OK);
    assert_true(qm_store_blob_exists(f->s, d, NULL));

    /* A model whose GGUF blob went missing says so. */
    assert_int_equal(qm_store_resolve(f->s, "good", &r, &err), QM_OK);
    unlink(r.gguf_path);
    qm_model_ref_free(&r);
    assert_int_equal(qm_store_resolve(f->s, "good", &r, &err), QM_EIO);
    assert_non_null(strstr(err.msg, "missing its weights"));
}

static void test_blob_writer(void **state)
{
    struct fx *f = *state;
    struct qm_err err = {{0}};
    char good[QM_DIGEST_STR_LEN + 1], wrong[QM_DIGEST_STR_LEN + 1], got[QM_DIGEST_STR_LEN + 1];
    qm_sha256_buf("hello world", 11, good);
    qm_sha256_buf("something else", 14, wrong);
    int before = count_files(f, "blobs", "");

    /* Wrong digest: refused, nothing under the final name, no partial left. */
    struct qm_blob_writer *w;
    assert_int_equal(qm_blob_writer_open(&w, f->s, wrong, &err), QM_OK);
    assert_int_equal(count_files(f, "blobs", ""), before + 1);   /* the partial */
    assert_int_equal(qm_blob_writer_write(w, "hello ", 6, &err), QM_OK);
    assert_int_equal(qm_blob_writer_write(w, "world", 5, &err), QM_OK);
    assert_int_equal(qm_blob_writer_size(w), 11);
    assert_int_equal(qm_blob_writer_commit(w, got, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "digest mismatch"));
    assert_non_null(strstr(err.msg, good));
    assert_false(qm_store_blob_exists(f->s, wrong, NULL));
    assert_false(qm_store_blob_exists(f->s, good, NULL));
    assert_int_equal(count_files(f, "blobs", ""), before);

    /* Right digest: installed and verifiable. */
    assert_int_equal(qm_blob_writer_open(&w, f->s, good, &err), QM_OK);
    assert_int_equal(qm_blob_writer_write(w, "hello world", 11, &err), QM_OK);
    assert_int_equal(qm_blob_writer_commit(w, got, &err), QM_OK);
    assert_string_equal(got, good);
    uint64_t size;
    assert_true(qm_store_blob_exists(f->s, good, &size));
    assert_int_equal(size, 11);
    assert_int_equal(qm_store_verify_blob(f->s, good, &err), QM_OK);

    /* Unknown digest up front; abort leaves nothing. */
    assert_int_equal(qm_blob_writer_open(&w, f->s, NULL, &err), QM_OK);
    assert_int_equal(qm_blob_writer_write(w, "something else", 14, &err), QM_OK);
    assert_int_equal(qm_blob_writer_commit(w, got, &err), QM_OK);
    assert_string_equal(got, wrong);
    assert_int_equal(qm_blob_writer_open(&w, f->s, NULL, &err), QM_OK);
    qm_blob_writer_abort(w);
    qm_blob_writer_abort(NULL);
    assert_int_equal(count_files(f, "blobs", ""), before + 2);

    /* Bad digests never become paths. */
    assert_int_equal(qm_blob_writer_open(&w, f->s, "sha256:../../etc", &err), QM_EINVAL);
    char *p = NULL;
    assert_int_equal(qm_store_blob_path(f->s, "sha256-../x", &p, &err), QM_EINVAL);
    assert_null(p);

    /* A corrupted blob fails verification. */
    char *path;
    assert_int_equal(qm_store_blob_path(f->s, good, &path, NULL), QM_OK);
    write_file(path, "hello World", 11);
    assert_int_equal(qm_store_verify_blob(f->s, good, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "corrupt"));
    unlink(path);
    free(path);
    assert_int_equal(qm_store_verify_blob(f->s, good, &err), QM_STORE_ENOTFOUND);
}

static void test_write_errors(void **state)
{
    struct fx *f = *state;
    struct qm_err err = {{0}};
    int before = count_files(f, "blobs", "");
    /* A file size limit stands in for a full disk: the write fails with
     * EFBIG and the error carries strerror's text and the path. */
    struct rlimit old, lim;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1 << 16;
    struct qm_blob_writer *w;
    assert_int_equal(qm_blob_writer_open(&w, f->s, NULL, &err), QM_OK);
    static char big[1 << 17];
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = qm_blob_writer_write(w, big, sizeof big, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, QM_EIO);
    assert_non_null(strstr(err.msg, "File too large"));
    assert_non_null(strstr(err.msg, "-partial"));
    qm_blob_writer_abort(w);
    assert_int_equal(count_files(f, "blobs", ""), before);

    /* Importing something that is not a GGUF leaves nothing behind. */
    char path[128];
    snprintf(path, sizeof path, "%s.txt", f->dir);
    write_file(path, "hello", 5);
    char d[QM_DIGEST_STR_LEN + 1];
    assert_int_equal(qm_store_import_file(f->s, path, d, NULL, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "not a GGUF"));
    unlink(path);
    assert_int_equal(qm_store_import_file(f->s, path, d, NULL, &err), QM_EIO);
    assert_non_null(strstr(err.msg, "No such file"));
    assert_int_equal(count_files(f, "blobs", ""), before);

    /* The import's digest is the file's sha256. */
    char want[QM_DIGEST_STR_LEN + 1];
    unsigned long long size;
    uint64_t got_size;
    assert_int_equal(qm_sha256_file(f->gguf, want, &size, NULL), QM_OK);
    assert_int_equal(qm_store_import_file(f->s, f->gguf, d, &got_size, &err), QM_OK);
    assert_string_equal(d, want);
    assert_int_equal(got_size, size);
}

/* ---- read-only ------------------------------------------------------------ */

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            _exit(1);                                                             \
        }                                                                         \
    } while (0)

/* In a child process, as a user the store's modes apply to (root ignores
 * them, so a root test drops to nobody first). */
static void readonly_checks(const char *root, const char *empty_root)
{
    if (geteuid() == 0)
        CHECK(setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0);
    struct qm_store *s;
    struct qm_err err = {{0}};
    CHECK(qm_store_open(&s, root, &err) == QM_OK);
    CHECK(qm_store_readonly(s));
    struct qm_model_ref r;
    CHECK(qm_store_resolve(s, "ro", &r, &err) == QM_OK);
    CHECK(r.system && !strcmp(r.system, "read me"));
    qm_model_ref_free(&r);
    struct qm_model_info *list;
    size_t n;
    CHECK(qm_store_list(s, &list, &n, &err) == QM_OK && n == 1);
    qm_model_list_free(list);

    struct qm_create_spec spec = {.from = "ro"};
    CHECK(qm_store_create(s, "ro2", &spec, &err) == QM_EIO);
    CHECK(strstr(err.msg, "read-only"));
    CHECK(qm_store_delete(s, "ro", &err) == QM_EIO && strstr(err.msg, "read-only"));
    CHECK(qm_store_copy(s, "ro", "ro3", &err) == QM_EIO && strstr(err.msg, "read-only"));
    struct qm_blob_writer *w;
    CHECK(qm_blob_writer_open(&w, s, NULL, &err) == QM_EIO && strstr(err.msg, "read-only"));
    CHECK(qm_store_prune(s, NULL, &err) == QM_OK);
    CHECK(qm_store_resolve(s, "ro", &r, &err) == QM_OK);   /* still there */
    qm_model_ref_free(&r);
    qm_store_close(s);

    /* A read-only directory without blobs/ and manifests/: an empty store. */
    CHECK(qm_store_open(&s, empty_root, &err) == QM_OK && qm_store_readonly(s));
    CHECK(qm_store_list(s, &list, &n, &err) == QM_OK && n == 0);
    CHECK(qm_store_resolve(s, "ro", &r, &err) == QM_STORE_ENOTFOUND);
    qm_store_close(s);

    /* A root that cannot even be created is an error. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/sub/store", empty_root);
    CHECK(qm_store_open(&s, missing, &err) == QM_EIO && strstr(err.msg, "Permission denied"));
    _exit(0);
}

static int chmod_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag, (void)ftw;
    return chmod(path, S_ISDIR(st->st_mode) ? 0555 : 0444);
}

static int unchmod_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag, (void)ftw;
    return chmod(path, S_ISDIR(st->st_mode) ? 0755 : 0644);
}

static void test_readonly(void **state)
{
    struct fx *f = *state;
    create_model(f, "ro", "read me", NULL);
    char empty[128];
    snprintf(empty, sizeof empty, "%s-empty", f->dir);
    assert_int_equal(mkdir(empty, 0555), 0);
    assert_int_equal(chmod(empty, 0555), 0);
    assert_int_equal(nftw(f->dir, chmod_entry, 16, FTW_PHYS), 0);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        readonly_checks(f->dir, empty);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    nftw(f->dir, unchmod_entry, 16, FTW_PHYS);
    rmdir(empty);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- concurrency ----------------------------------------------------------- */

struct worker {
    struct fx *f;
    int id;
    int failures;
};

static void *creator(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 12; i++) {
        char name[64], system[64];
        snprintf(name, sizeof name, "w%d:t%d", w->id, i);
        snprintf(system, sizeof system, "system %d %d", w->id, i);
        struct qm_create_spec spec = {.from = w->f->gguf_digest, .system = system};
        struct qm_err err;
        if (qm_store_create(w->f->s, name, &spec, &err) != QM_OK) {
            fprintf(stderr, "create %s: %s\n", name, err.msg);
            w->failures++;
        }
    }
    return NULL;
}

/* Creates and deletes a model of its own over and over: every delete runs
 * garbage collection while the creators work. */
static void *churner(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 30; i++) {
        char system[64];
        snprintf(system, sizeof system, "churn %d", i);
        struct qm_create_spec spec = {.from = w->f->gguf_digest, .system = system};
        struct qm_err err;
        if (qm_store_create(w->f->s, "churn", &spec, &err) != QM_OK ||
            qm_store_delete(w->f->s, "churn", &err) != QM_OK) {
            fprintf(stderr, "churn: %s\n", err.msg);
            w->failures++;
        }
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    struct fx *f = *state;
    /* The GGUF must be referenced before the churner's GC can run. */
    create_model(f, "anchor", NULL, NULL);
    enum { N = 4 };
    pthread_t t[N + 1];
    struct worker w[N + 1];
    for (int i = 0; i <= N; i++) {
        w[i] = (struct worker){.f = f, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, i < N ? creator : churner, &w[i]), 0);
    }
    /* Join every thread before any assertion can leave the test: a thread
     * still running at teardown would use a closed store. */
    int failures = 0;
    for (int i = 0; i <= N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        failures += w[i].failures;
    }
    assert_int_equal(failures, 0);
    /* Collect what the churner's deferred collections left, then check that
     * nothing was lost: every model resolves, every blob it names verifies. */
    struct qm_model_info *list;
    size_t n;
    struct qm_err err = {{0}};
    assert_int_equal(qm_store_prune(f->s, NULL, &err), QM_OK);
    assert_int_equal(qm_store_list(f->s, &list, &n, &err), QM_OK);
    assert_int_equal(n, N * 12 + 1);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 12; j++) {
            char name[64], system[64];
            snprintf(name, sizeof name, "w%d:t%d", i, j);
            snprintf(system, sizeof system, "system %d %d", i, j);
            struct qm_model_ref r;
            assert_int_equal(qm_store_resolve(f->s, name, &r, &err), QM_OK);
            assert_string_equal(r.system, system);
            assert_int_equal(qm_store_verify_blob(f->s, r.model_digest, &err), QM_OK);
            qm_model_ref_free(&r);
        }
    }
    qm_model_list_free(list);
    assert_int_equal(count_files(f, "blobs", "sha256-partial"), 0);
    /* Each model: its config and system blobs; the anchor: GGUF, template, config. */
    assert_int_equal(count_files(f, "blobs", "sha256-"), 2 * (N * 12) + 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inherit_and_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_copy_delete_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_waits_for_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_skips_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
