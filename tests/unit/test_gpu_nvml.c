/* test_gpu_nvml.c - manager/gpu_nvml.c against a stand-in NVML library
 * (tests/fake_nvml, named by QM_FAKE_NVML), and without any library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gpu_nvml.h"

#define MiB (1ull << 20)

static char devices[64];

static void write_devices(const char *text)
{
    FILE *f = fopen(devices, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    const char *lib = getenv("QM_FAKE_NVML");
    if (!lib)
        return -1;
    setenv("QM_NVML_LIBRARY", lib, 1);
    snprintf(devices, sizeof devices, "/tmp/qm_test_nvml_%d", (int)getpid());
    setenv("FAKE_NVML_FILE", devices, 1);
    unsetenv("FAKE_NVML_INIT");
    unsetenv("CUDA_VISIBLE_DEVICES");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(devices);
    return 0;
}

static int query(struct qm_gpu_info *g, int cap)
{
    struct qm_nvml *n;
    struct qm_err err = {{0}};
    if (qm_nvml_open(&n, &err) != 0)
        fail_msg("%s", err.msg);
    int k = qm_nvml_query(n, g, cap, &err);
    if (k < 0)
        fail_msg("%s", err.msg);
    qm_nvml_close(n);
    return k;
}

static void reads_devices(void **state)
{
    (void)state;
    write_devices("81559 80000 NVIDIA H100 80GB HBM3\n24564 1000 NVIDIA GeForce RTX 4090\n");
    struct qm_gpu_info g[4];
    assert_int_equal(query(g, 4), 2);
    assert_string_equal(g[0].name, "NVIDIA H100 80GB HBM3");
    assert_int_equal(g[0].total, 81559 * MiB);
    assert_int_equal(g[0].free, 80000 * MiB);
    assert_false(g[0].simulated);
    assert_string_equal(g[1].name, "NVIDIA GeForce RTX 4090");
    assert_int_equal(g[1].free, 1000 * MiB);
    /* free memory as it is at each query */
    write_devices("81559 20000 NVIDIA H100 80GB HBM3\n");
    assert_int_equal(query(g, 4), 1);
    assert_int_equal(g[0].free, 20000 * MiB);
    /* no room to write: nothing written */
    assert_int_equal(query(g, 0), 0);
}

static void visible_devices(void **state)
{
    (void)state;
    write_devices("100 50 gpu0\n200 60 gpu1\n300 70 gpu2\n");
    struct qm_gpu_info g[4];
    setenv("CUDA_VISIBLE_DEVICES", "2,0", 1);
    assert_int_equal(query(g, 4), 2);
    assert_string_equal(g[0].name, "gpu2");
    assert_string_equal(g[1].name, "gpu0");
    setenv("CUDA_VISIBLE_DEVICES", "1,7,0", 1);   /* CUDA stops at the invalid 7 */
    assert_int_equal(query(g, 4), 1);
    assert_string_equal(g[0].name, "gpu1");
    setenv("CUDA_VISIBLE_DEVICES", "-1", 1);
    assert_int_equal(query(g, 4), 0);
    setenv("CUDA_VISIBLE_DEVICES", "", 1);
    assert_int_equal(query(g, 4), 0);
    setenv("CUDA_VISIBLE_DEVICES", "GPU-8f1a2b3c", 1);   /* a UUID: all, as far as qm can tell */
    assert_int_equal(query(g, 4), 3);
    unsetenv("CUDA_VISIBLE_DEVICES");
}

static void no_driver(void **state)
{
    (void)state;
    struct qm_nvml *n = (struct qm_nvml *)1;
    struct qm_err err = {{0}};
    setenv("QM_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    assert_int_equal(qm_nvml_open(&n, &err), QM_EUNSUPPORTED);
    assert_null(n);
    assert_non_null(strstr(err.msg, "no NVIDIA driver"));
    /* the library is there but the driver is not */
    setenv("QM_NVML_LIBRARY", getenv("QM_FAKE_NVML"), 1);
    setenv("FAKE_NVML_INIT", "fail", 1);
    assert_int_equal(qm_nvml_open(&n, &err), QM_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "Driver Not Loaded"));
    unsetenv("FAKE_NVML_INIT");
    /* a library without NVML's entry points */
    setenv("QM_NVML_LIBRARY", "libc.so.6", 1);
    assert_int_equal(qm_nvml_open(&n, &err), QM_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "lacks nvmlInit_v2"));
    setenv("QM_NVML_LIBRARY", getenv("QM_FAKE_NVML"), 1);
    /* devices that cannot be read: an error, not a crash */
    unlink(devices);
    assert_int_equal(qm_nvml_open(&n, &err), 0);
    struct qm_gpu_info g[2];
    assert_true(qm_nvml_query(n, g, 2, &err) < 0);
    assert_non_null(strstr(err.msg, "NVML cannot count devices"));
    qm_nvml_close(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_devices),
        cmocka_unit_test(visible_devices),
        cmocka_unit_test(no_driver),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
