/* test_config.c - settings from the environment (manager/config.h).
 *
 * Environments are injected as arrays of "NAME=value": defaults, the
 * OLLAMA_* fallback and QM_* precedence, each value syntax (durations,
 * sizes, booleans, SIM_GPU, PRELOAD), and that a bad value is an error
 * naming the very variable that held it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

#define NS(s) ((int64_t)(s) * 1000000000ll)

/* Load from a NULL-terminated list; fails the test on error. */
static void load_ok(struct qm_config *c, char *const *env)
{
    struct qm_err err = {{0}};
    if (qm_config_from_env(c, env, &err) != 0)
        fail_msg("qm_config_from_env: %s", err.msg);
}

/* Load expecting an error that mentions every string in want. */
static void load_bad(char *const *env, const char *want1, const char *want2)
{
    struct qm_config c;
    struct qm_err err = {{0}};
    assert_int_equal(qm_config_from_env(&c, env, &err), QM_EINVAL);
    if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
        fail_msg("error \"%s\" does not mention \"%s\"%s%s", err.msg, want1, want2 ? " and " : "",
                 want2 ? want2 : "");
}

static void defaults(void **state)
{
    (void)state;
    char *env[] = {"HOME=/home/u", NULL};
    struct qm_config c;
    load_ok(&c, env);
    assert_string_equal(c.host, "127.0.0.1:11434");
    assert_string_equal(c.models, "/home/u/.qm/models");
    assert_int_equal(c.max_loaded_models, 0);   /* resolved per GPU count by the scheduler */
    assert_int_equal(c.num_parallel, 1);
    assert_true(c.keep_alive_ns == NS(300));
    assert_int_equal(c.max_queue, 512);
    assert_int_equal(c.context_length, 4096);
    assert_true(c.gpu_overhead == 0);
    assert_string_equal(c.origins, "");
    assert_string_equal(c.api_key, "");
    assert_int_equal(c.kv_cache_type, QM_KV_F16);
    assert_false(c.flash_attention);
    assert_true(c.load_timeout_ns == NS(300));
    assert_int_equal(c.n_preload, 0);
    assert_true(c.shutdown_timeout_ns == NS(30));
    assert_int_equal(c.debug, 0);
    assert_int_equal(c.sim_gpu.count, 0);
}

static void every_setting(void **state)
{
    (void)state;
    char *env[] = {
        "HOME=/home/u",
        "QM_HOST=0.0.0.0:8080",
        "QM_MODELS=/srv/models",
        "QM_MAX_LOADED_MODELS=2",
        "QM_NUM_PARALLEL=4",
        "QM_KEEP_ALIVE=1h30m",
        "QM_MAX_QUEUE=10",
        "QM_CONTEXT_LENGTH=8192",
        "QM_GPU_OVERHEAD=512MiB",
        "QM_ORIGINS=http://a.example,http://b.example",
        "QM_API_KEY=secret",
        "QM_KV_CACHE_TYPE=q8_0",
        "QM_FLASH_ATTENTION=true",
        "QM_LOAD_TIMEOUT=90s",
        "QM_PRELOAD=qwen2.5:0.5b,gemma3:270m",
        "QM_SHUTDOWN_TIMEOUT=10s",
        "QM_DEBUG=1",
        "QM_SIM_GPU=vram=8GiB,count=2,name=Fake 8G",
        NULL,
    };
    struct qm_config c;
    load_ok(&c, env);
    assert_string_equal(c.host, "0.0.0.0:8080");
    assert_string_equal(c.models, "/srv/models");
    assert_int_equal(c.max_loaded_models, 2);
    assert_int_equal(c.num_parallel, 4);
    assert_true(c.keep_alive_ns == NS(5400));
    assert_int_equal(c.max_queue, 10);
    assert_int_equal(c.context_length, 8192);
    assert_true(c.gpu_overhead == 512ull << 20);
    assert_string_equal(c.origins, "http://a.example,http://b.example");
    assert_string_equal(c.api_key, "secret");
    assert_int_equal(c.kv_cache_type, QM_KV_Q8_0);
    assert_string_equal(qm_kv_type_name(c.kv_cache_type), "q8_0");
    assert_true(c.flash_attention);
    assert_true(c.load_timeout_ns == NS(90));
    assert_int_equal(c.n_preload, 2);
    assert_string_equal(c.preload[0], "qwen2.5:0.5b");
    assert_string_equal(c.preload[1], "gemma3:270m");
    assert_true(c.shutdown_timeout_ns == NS(10));
    assert_int_equal(c.debug, 1);
    assert_int_equal(c.sim_gpu.count, 2);
    assert_true(c.sim_gpu.vram == 8ull << 30);
    assert_string_equal(c.sim_gpu.name, "Fake 8G");
}

static void ollama_fallback_and_precedence(void **state)
{
    (void)state;
    struct qm_config c;
    /* OLLAMA_ is read when QM_ is unset */
    char *env1[] = {"HOME=/h", "OLLAMA_NUM_PARALLEL=3", "OLLAMA_KEEP_ALIVE=-1", "OLLAMA_HOST=0.0.0.0",
                    "OLLAMA_MODELS=/var/lib/ollama/models", "OLLAMA_MAX_LOADED_MODELS=5", NULL};
    load_ok(&c, env1);
    assert_int_equal(c.num_parallel, 3);
    assert_true(c.keep_alive_ns < 0);
    assert_string_equal(c.host, "0.0.0.0");
    assert_string_equal(c.models, "/var/lib/ollama/models");
    assert_int_equal(c.max_loaded_models, 5);

    /* QM_ wins over OLLAMA_, also when OLLAMA_'s value is bad */
    char *env2[] = {"HOME=/h", "QM_NUM_PARALLEL=2", "OLLAMA_NUM_PARALLEL=abc", NULL};
    load_ok(&c, env2);
    assert_int_equal(c.num_parallel, 2);

    /* an empty QM_ counts as unset */
    char *env3[] = {"HOME=/h", "QM_NUM_PARALLEL=", "OLLAMA_NUM_PARALLEL=6", NULL};
    load_ok(&c, env3);
    assert_int_equal(c.num_parallel, 6);

    /* 0 means the default for these */
    char *env4[] = {"HOME=/h", "QM_NUM_PARALLEL=0", "QM_MAX_QUEUE=0", "QM_CONTEXT_LENGTH=0",
                    "QM_MAX_LOADED_MODELS=0", NULL};
    load_ok(&c, env4);
    assert_int_equal(c.num_parallel, 1);
    assert_int_equal(c.max_queue, 512);
    assert_int_equal(c.context_length, 4096);
    assert_int_equal(c.max_loaded_models, 0);

    /* blanks and quotes around a value go, as in Ollama */
    char *env5[] = {"HOME=/h", "QM_KEEP_ALIVE= \"10m\" ", "QM_NUM_PARALLEL='2'", NULL};
    load_ok(&c, env5);
    assert_true(c.keep_alive_ns == NS(600));
    assert_int_equal(c.num_parallel, 2);

    /* ~ in MODELS */
    char *env6[] = {"HOME=/home/x", "QM_MODELS=~/m", NULL};
    load_ok(&c, env6);
    assert_string_equal(c.models, "/home/x/m");
}

static void process_environment(void **state)
{
    (void)state;
    setenv("QM_NUM_PARALLEL", "7", 1);
    setenv("OLLAMA_CONTEXT_LENGTH", "2048", 1);
    struct qm_config c;
    load_ok(&c, NULL);
    assert_int_equal(c.num_parallel, 7);
    assert_int_equal(c.context_length, 2048);
    setenv("QM_NUM_PARALLEL", "x7", 1);
    struct qm_err err = {{0}};
    assert_int_equal(qm_config_load(&c, NULL, NULL, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "QM_NUM_PARALLEL"));
    unsetenv("QM_NUM_PARALLEL");
    unsetenv("OLLAMA_CONTEXT_LENGTH");
}

static void durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ns;
    } ok[] = {
        {"0", 0},
        {"5m", NS(300)},
        {"1h30m", NS(5400)},
        {"300", NS(300)},
        {"-1", -NS(1)},
        {"-1m", -NS(60)},
        {"+2s", NS(2)},
        {"1.5h", NS(5400)},
        {".5s", 500000000},
        {"1.s", NS(1)},
        {"300ms", 300000000},
        {"10us", 10000},
        {"10\xc2\xb5s", 10000},
        {"7ns", 7},
        {"1h1m1s1ms1us1ns", NS(3661) + 1001001},
        {"2562047h47m16.854775807s", INT64_MAX},
        {"-2562047h47m16.854775808s", INT64_MIN},
        {"9223372036", NS(9223372036)},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = 12345;
        struct qm_err err = {{0}};
        if (qm_parse_duration_ns(ok[i].s, &v, &err) != 0)
            fail_msg("\"%s\": %s", ok[i].s, err.msg);
        if (v != ok[i].ns)
            fail_msg("\"%s\" gave %lld, want %lld", ok[i].s, (long long)v, (long long)ok[i].ns);
    }
    static const char *const bad[] = {
        "", "m", "5x", "1h30", "h1", "1..5s", "--1s", "1 m", "abc", "5m ", "2562047h47m16.854775808s",
        "9223372037", "1e3s", ".s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        struct qm_err err = {{0}};
        if (qm_parse_duration_ns(bad[i], &v, &err) == 0)
            fail_msg("\"%s\" was accepted (%lld)", bad[i], (long long)v);
        assert_non_null(strstr(err.msg, "not a duration"));
    }
}

static void sizes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t v;
    } ok[] = {
        {"0", 0},
        {"1073741824", 1ull << 30},
        {"512MiB", 512ull << 20},
        {"512mib", 512ull << 20},
        {"1GiB", 1ull << 30},
        {"1GB", 1000000000ull},
        {"1gb", 1000000000ull},
        {"8G", 8ull << 30},
        {"1.5GiB", 3ull << 29},
        {"100 KB", 100000},
        {"2KiB", 2048},
        {"3B", 3},
        {"1TiB", 1ull << 40},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 7;
        struct qm_err err = {{0}};
        if (qm_parse_bytes(ok[i].s, &v, &err) != 0)
            fail_msg("\"%s\": %s", ok[i].s, err.msg);
        if (v != ok[i].v)
            fail_msg("\"%s\" gave %llu, want %llu", ok[i].s, (unsigned long long)v, (unsigned long long)ok[i].v);
    }
    static const char *const bad[] = {"", "abc", "-1", "1.5", "1XB", "GiB", "18446744073709551616",
                                      "17179869184GiB", "1 G iB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        struct qm_err err = {{0}};
        if (qm_parse_bytes(bad[i], &v, &err) == 0)
            fail_msg("\"%s\" was accepted (%llu)", bad[i], (unsigned long long)v);
        assert_non_null(strstr(err.msg, "not a size"));
    }
}

static void booleans_and_debug(void **state)
{
    (void)state;
    static const char *const yes[] = {"1", "true", "TRUE", "yes", "on", "t"};
    static const char *const no[] = {"0", "false", "False", "no", "off", "f"};
    for (size_t i = 0; i < 6; i++) {
        bool b = false;
        assert_int_equal(qm_parse_bool(yes[i], &b, NULL), 0);
        assert_true(b);
        assert_int_equal(qm_parse_bool(no[i], &b, NULL), 0);
        assert_false(b);
    }
    bool b;
    assert_int_equal(qm_parse_bool("maybe", &b, NULL), QM_EINVAL);

    struct qm_config c;
    char *env[] = {"HOME=/h", "OLLAMA_DEBUG=2", "OLLAMA_FLASH_ATTENTION=1", NULL};
    load_ok(&c, env);
    assert_int_equal(c.debug, 2);
    assert_true(c.flash_attention);
}

static void sim_gpu(void **state)
{
    (void)state;
    struct qm_config c;
    char *env1[] = {"HOME=/h", "QM_SIM_GPU=vram=8GiB", NULL};
    load_ok(&c, env1);
    assert_int_equal(c.sim_gpu.count, 1);
    assert_true(c.sim_gpu.vram == 8ull << 30);
    assert_string_equal(c.sim_gpu.name, "");

    char *env2[] = {"HOME=/h", "OLLAMA_SIM_GPU=count=3, vram=6GB", NULL};
    load_ok(&c, env2);
    assert_int_equal(c.sim_gpu.count, 3);
    assert_true(c.sim_gpu.vram == 6000000000ull);

    load_bad((char *[]){"HOME=/h", "QM_SIM_GPU=count=2", NULL}, "QM_SIM_GPU", "vram");
    load_bad((char *[]){"HOME=/h", "QM_SIM_GPU=vram=lots", NULL}, "QM_SIM_GPU", "vram");
    load_bad((char *[]){"HOME=/h", "QM_SIM_GPU=vram=8GiB,count=0", NULL}, "QM_SIM_GPU", "count");
    load_bad((char *[]){"HOME=/h", "QM_SIM_GPU=vram=8GiB,count=17", NULL}, "QM_SIM_GPU", "count");
    load_bad((char *[]){"HOME=/h", "QM_SIM_GPU=vram=8GiB,colour=red", NULL}, "QM_SIM_GPU", "keys");
    load_bad((char *[]){"HOME=/h", "QM_SIM_GPU=8GiB", NULL}, "QM_SIM_GPU", NULL);
}

static void preload_list(void **state)
{
    (void)state;
    struct qm_config c;
    char *env[] = {"HOME=/h", "QM_PRELOAD= a ,b:7b,, c/d:latest ,", NULL};
    load_ok(&c, env);
    assert_int_equal(c.n_preload, 3);
    assert_string_equal(c.preload[0], "a");
    assert_string_equal(c.preload[1], "b:7b");
    assert_string_equal(c.preload[2], "c/d:latest");

    char many[40 * 3 + 1] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, "m,");
    char var[200];
    snprintf(var, sizeof var, "QM_PRELOAD=%s", many);
    load_bad((char *[]){"HOME=/h", var, NULL}, "QM_PRELOAD", "more than");
}

/* Each bad value: the error names the variable that held it. */
static void errors_name_the_variable(void **state)
{
    (void)state;
    load_bad((char *[]){"HOME=/h", "QM_NUM_PARALLEL=abc", NULL}, "QM_NUM_PARALLEL", "abc");
    load_bad((char *[]){"HOME=/h", "OLLAMA_NUM_PARALLEL=abc", NULL}, "OLLAMA_NUM_PARALLEL", "abc");
    load_bad((char *[]){"HOME=/h", "QM_NUM_PARALLEL=-2", NULL}, "QM_NUM_PARALLEL", NULL);
    load_bad((char *[]){"HOME=/h", "QM_NUM_PARALLEL=4x", NULL}, "QM_NUM_PARALLEL", NULL);
    load_bad((char *[]){"HOME=/h", "QM_MAX_LOADED_MODELS=-1", NULL}, "QM_MAX_LOADED_MODELS", NULL);
    load_bad((char *[]){"HOME=/h", "QM_MAX_QUEUE=1e3", NULL}, "QM_MAX_QUEUE", NULL);
    load_bad((char *[]){"HOME=/h", "QM_CONTEXT_LENGTH=99999999999", NULL}, "QM_CONTEXT_LENGTH", NULL);
    load_bad((char *[]){"HOME=/h", "OLLAMA_KEEP_ALIVE=forever", NULL}, "OLLAMA_KEEP_ALIVE", "duration");
    load_bad((char *[]){"HOME=/h", "QM_LOAD_TIMEOUT=5 minutes", NULL}, "QM_LOAD_TIMEOUT", "duration");
    load_bad((char *[]){"HOME=/h", "QM_SHUTDOWN_TIMEOUT=soon", NULL}, "QM_SHUTDOWN_TIMEOUT", NULL);
    load_bad((char *[]){"HOME=/h", "QM_GPU_OVERHEAD=1.5", NULL}, "QM_GPU_OVERHEAD", "size");
    load_bad((char *[]){"HOME=/h", "OLLAMA_GPU_OVERHEAD=-1", NULL}, "OLLAMA_GPU_OVERHEAD", NULL);
    load_bad((char *[]){"HOME=/h", "QM_KV_CACHE_TYPE=q4_0", NULL}, "QM_KV_CACHE_TYPE", "q8_0");
    load_bad((char *[]){"HOME=/h", "QM_FLASH_ATTENTION=maybe", NULL}, "QM_FLASH_ATTENTION", NULL);
    load_bad((char *[]){"HOME=/h", "QM_DEBUG=verbose", NULL}, "QM_DEBUG", NULL);

    char longkey[600];
    memset(longkey, 'k', sizeof longkey);
    memcpy(longkey, "QM_API_KEY=", 11);
    longkey[sizeof longkey - 1] = '\0';
    load_bad((char *[]){"HOME=/h", longkey, NULL}, "QM_API_KEY", "too long");

    /* nothing is half-written on error */
    struct qm_config c;
    qm_config_defaults(&c);
    c.num_parallel = 9;
    struct qm_err err;
    char *env[] = {"HOME=/h", "QM_NUM_PARALLEL=2", "QM_MAX_QUEUE=x", NULL};
    assert_int_equal(qm_config_from_env(&c, env, &err), QM_EINVAL);
    assert_int_equal(c.num_parallel, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(every_setting),
        cmocka_unit_test(ollama_fallback_and_precedence),
        cmocka_unit_test(process_environment),
        cmocka_unit_test(durations),
        cmocka_unit_test(sizes),
        cmocka_unit_test(booleans_and_debug),
        cmocka_unit_test(sim_gpu),
        cmocka_unit_test(preload_list),
        cmocka_unit_test(errors_name_the_variable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
