/* test_registry_modelfile.c - Modelfile parsing and rendering
 * (registry/modelfile.h, params.h).
 *
 * A Modelfile using every form (comments, mixed-case instructions, the three
 * kinds of values, typed and repeated parameters, messages, two licenses);
 * each error with the line it must name; and render -> parse giving back
 * the same values, quotes, backslashes and """ included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "details.h"
#include "modelfile.h"
#include "params.h"

static int parse(struct qm_modelfile *mf, const char *text, struct qm_err *err)
{
    memset(err, 0, sizeof *err);
    return qm_modelfile_parse(mf, text, strlen(text), err);
}

static void test_full(void **state)
{
    (void)state;
    const char *text =
        "# a comment\n"
        "\n"
        "from ./models/qwen2.gguf  \n"
        "PARAMETER temperature 0.7\n"
        "parameter num_ctx 8192\n"
        "PARAMETER stop \"<|im_start|>\"\n"
        "PARAMETER stop <|im_end|>\n"
        "PARAMETER use_mmap false\n"
        "PARAMETER seed -1\n"
        "Template \"\"\"{{ if .System }}<|im_start|>system\n"
        "{{ .System }}<|im_end|>\n"
        "{{ end }}\"\"\"\n"
        "  # an indented comment\n"
        "SYSTEM You are \"helpful\".   \n"
        "MESSAGE user \"Is \\\"this\\\" quoted?\"\n"
        "MESSAGE assistant \"\"\"yes\n"
        "over two lines\"\"\"\n"
        "LICENSE MIT\r\n"
        "LICENSE \"\"\"and more\"\"\"\n";
    struct qm_modelfile mf;
    struct qm_err err;
    if (parse(&mf, text, &err))
        fail_msg("%s", err.msg);
    assert_string_equal(mf.from, "./models/qwen2.gguf");
    assert_int_equal(mf.from_line, 3);
    assert_string_equal(mf.template,
                        "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}");
    assert_string_equal(mf.system, "You are \"helpful\".");
    assert_string_equal(mf.license, "MIT\n\nand more");
    json_t *p = mf.params;
    assert_true(json_is_real(json_object_get(p, "temperature")));
    assert_true(json_real_value(json_object_get(p, "temperature")) == 0.7);
    assert_true(json_is_integer(json_object_get(p, "num_ctx")));
    assert_int_equal(json_integer_value(json_object_get(p, "num_ctx")), 8192);
    assert_int_equal(json_integer_value(json_object_get(p, "seed")), -1);
    assert_true(json_is_false(json_object_get(p, "use_mmap")));
    json_t *stop = json_object_get(p, "stop");
    assert_int_equal(json_array_size(stop), 2);
    assert_string_equal(json_string_value(json_array_get(stop, 0)), "<|im_start|>");
    assert_string_equal(json_string_value(json_array_get(stop, 1)), "<|im_end|>");
    assert_int_equal(json_array_size(mf.messages), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(mf.messages, 0), "content")),
                        "Is \"this\" quoted?");
    assert_string_equal(json_string_value(json_object_get(json_array_get(mf.messages, 1), "role")),
                        "assistant");
    assert_string_equal(json_string_value(json_object_get(json_array_get(mf.messages, 1), "content")),
                        "yes\nover two lines");
    qm_modelfile_free(&mf);

    /* Minimal; an empty SYSTEM is kept as "" (it removes the base's). */
    assert_int_equal(parse(&mf, "FROM qwen2:0.5b\nSYSTEM \"\"", &err), QM_OK);
    assert_string_equal(mf.from, "qwen2:0.5b");
    assert_string_equal(mf.system, "");
    assert_null(mf.template);
    assert_null(mf.params);
    assert_null(mf.messages);
    qm_modelfile_free(&mf);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        const char *msg;
    } cases[] = {
        {"FROM x\n\nFOO bar\n", QM_EINVAL, "line 3: unknown instruction 'FOO'"},
        {"FROM x\nTEMPLATE \"\"\"abc\n\ndef\n", QM_EINVAL, "line 2: the \"\"\" opened here is never closed"},
        {"FROM x\nSYSTEM \"abc\n", QM_EINVAL, "line 2: the quote opened here is never closed"},
        {"FROM x\n# c\nPARAMETER colour red\n", QM_EINVAL, "line 3: unknown parameter 'colour'"},
        {"FROM x\nPARAMETER num_ctx lots\n", QM_EINVAL, "line 2: parameter num_ctx: 'lots' is not an integer"},
        {"FROM x\nPARAMETER temperature hot\n", QM_EINVAL, "line 2: parameter temperature: 'hot' is not a number"},
        {"FROM x\nPARAMETER temperature nan\n", QM_EINVAL, "is not a number"},
        {"FROM x\nPARAMETER use_mmap maybe\n", QM_EINVAL, "line 2: parameter use_mmap: 'maybe' is not true or false"},
        {"FROM x\nPARAMETER num_ctx\n", QM_EINVAL, "line 2: PARAMETER needs a value"},
        {"FROM x\nPARAMETER\n", QM_EINVAL, "line 2: PARAMETER needs a name and a value"},
        {"FROM x\n\n\nADAPTER ./lora.gguf\n", QM_EUNSUPPORTED, "line 4: ADAPTER is not supported"},
        {"# only\nSYSTEM hi\n", QM_EINVAL, "no FROM"},
        {"", QM_EINVAL, "no FROM"},
        {"FROM a\nFROM b\n", QM_EINVAL, "line 2: a second FROM (the first is on line 1)"},
        {"FROM\n", QM_EINVAL, "line 1: FROM needs a value"},
        {"FROM x\nSYSTEM \"\"\"a\"\"\" trailing\n", QM_EINVAL, "line 2: unexpected text after the closing \"\"\""},
        {"FROM x\nTEMPLATE \"\"\"a\nb\"\"\" junk\n", QM_EINVAL, "line 3: unexpected text after"},
        {"FROM x\nSYSTEM \"a\" b\n", QM_EINVAL, "line 2: unexpected text after the closing quote"},
        {"FROM x\nMESSAGE robot hi\n", QM_EINVAL, "line 2: MESSAGE role 'robot'"},
        {"FROM x\nMESSAGE user\n", QM_EINVAL, "line 2: MESSAGE needs a value"},
        {"FROM x\nMESSAGE user \"\\xff\xff\"\n", QM_EINVAL, "line 2: MESSAGE content is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct qm_modelfile mf;
        struct qm_err err;
        int rc = parse(&mf, cases[i].text, &err);
        if (rc != cases[i].rc || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d, message '%s', wanted '%s'", i, rc, err.msg, cases[i].msg);
        assert_null(mf.from);   /* freed on error */
    }
    /* A NUL byte: not a text file, with its line. */
    struct qm_modelfile mf;
    struct qm_err err = {{0}};
    assert_int_equal(qm_modelfile_parse(&mf, "FROM x\nSYS\0TEM", 14, &err), QM_EINVAL);
    assert_non_null(strstr(err.msg, "line 2: the file holds a NUL byte"));
}

static void test_params(void **state)
{
    (void)state;
    assert_int_equal(qm_param_type("num_ctx"), QM_PARAM_INT);
    assert_int_equal(qm_param_type("top_p"), QM_PARAM_REAL);
    assert_int_equal(qm_param_type("use_mlock"), QM_PARAM_BOOL);
    assert_int_equal(qm_param_type("stop"), QM_PARAM_STRINGS);
    assert_int_equal(qm_param_type("Num_Ctx"), QM_PARAM_UNKNOWN);
    json_t *p = json_object();
    assert_int_equal(qm_params_set(p, "use_mlock", "T", NULL), QM_OK);
    assert_true(json_is_true(json_object_get(p, "use_mlock")));
    assert_int_equal(qm_params_set(p, "num_ctx", "99999999999999999999999", NULL), QM_EINVAL);
    assert_int_equal(qm_params_set(p, "num_ctx", "", NULL), QM_EINVAL);
    assert_int_equal(qm_params_set(p, "top_k", "4.5", NULL), QM_EINVAL);
    assert_int_equal(qm_params_set(p, "top_p", "1e-3", NULL), QM_OK);
    char *s = qm_param_format(json_object_get(p, "top_p"));
    assert_string_equal(s, "0.001");
    free(s);
    json_decref(p);

    char buf[32];
    static const struct {
        uint64_t n;
        const char *s;
    } human[] = {
        {494032768, "494.03M"}, {7615616512ull, "7.6B"}, {8000000000ull, "8B"},
        {1500000, "1.50M"},     {2000000, "2M"},         {268098176, "268.10M"},
        {1500, "2K"},           {999, "999"},            {0, "0"},
    };
    for (size_t i = 0; i < sizeof human / sizeof *human; i++) {
        qm_human_params(human[i].n, buf, sizeof buf);
        assert_string_equal(buf, human[i].s);
    }
    assert_string_equal(qm_file_type_name(15), "Q4_K_M");
    assert_string_equal(qm_file_type_name(32), "BF16");
    assert_null(qm_file_type_name(5));
    assert_null(qm_file_type_name(1000));
}

static void test_render_round_trip(void **state)
{
    (void)state;
    struct qm_model_ref r;
    memset(&r, 0, sizeof r);
    strcpy(r.display, "tricky:latest");
    r.gguf_path = "/store/blobs/sha256-abc";
    r.template = "has \"\"\" inside and a \\ backslash";
    r.system = "ends with a quote\"";
    r.license = "  leading spaces\nand lines\n";
    r.params = json_pack("{s:[s,s,s,s], s:f, s:i, s:b}", "stop", "<|im_end|>", " lead", "\"q",
                         "", "temperature", 0.1, "num_ctx", 2048, "use_mmap", 0);
    r.messages = json_pack("[{s:s, s:s}]", "role", "system", "content", "multi\nline \"\"\"");
    char *text = qm_modelfile_render(&r);
    assert_non_null(text);
    const char *head = "# Modelfile generated by \"qm show\"\n"
                       "# To build a new Modelfile based on this, replace FROM with:\n"
                       "# FROM tricky:latest\n\nFROM /store/blobs/sha256-abc\n";
    assert_memory_equal(text, head, strlen(head));
    assert_non_null(strstr(text, "\nPARAMETER num_ctx 2048\nPARAMETER stop <|im_end|>\n"));
    assert_non_null(strstr(text, "\nPARAMETER temperature 0.1\n"));
    assert_non_null(strstr(text, "\nPARAMETER use_mmap false\n"));

    struct qm_modelfile mf;
    struct qm_err err;
    if (parse(&mf, text, &err))
        fail_msg("%s\n%s", err.msg, text);
    assert_string_equal(mf.from, r.gguf_path);
    assert_string_equal(mf.template, r.template);
    assert_string_equal(mf.system, r.system);
    assert_string_equal(mf.license, r.license);
    assert_true(json_equal(mf.params, r.params));
    assert_true(json_equal(mf.messages, r.messages));
    qm_modelfile_free(&mf);
    free(text);
    json_decref(r.params);
    json_decref(r.messages);
}

static void test_from_path(void **state)
{
    (void)state;
    char dir[] = "/tmp/qm_test_mf_XXXXXX", file[64];
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/model.gguf", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    char *p;
    assert_int_equal(qm_modelfile_from_path("model.gguf", dir, &p), 1);   /* exists there */
    assert_string_equal(p, file);
    free(p);
    assert_int_equal(qm_modelfile_from_path("other.gguf", dir, &p), 0);   /* a model name */
    assert_null(p);
    assert_int_equal(qm_modelfile_from_path("qwen2:0.5b", dir, &p), 0);
    assert_int_equal(qm_modelfile_from_path("./missing.gguf", dir, &p), 1);
    assert_non_null(strstr(p, "/./missing.gguf"));
    free(p);
    assert_int_equal(qm_modelfile_from_path("/abs/m.gguf", dir, &p), 1);
    assert_string_equal(p, "/abs/m.gguf");
    free(p);
    setenv("HOME", "/home/someone", 1);
    assert_int_equal(qm_modelfile_from_path("~/m.gguf", NULL, &p), 1);
    assert_string_equal(p, "/home/someone/m.gguf");
    free(p);
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_render_round_trip),
        cmocka_unit_test(test_from_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
