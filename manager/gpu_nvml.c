/* gpu_nvml.c - NVML through dlopen: device names, total and free memory.
 *
 * Only the handful of entry points qm needs are looked up, by their
 * documented names; types are declared here as NVML's header defines them
 * (return codes are ints, 0 is success; a device is an opaque pointer). */
#include "gpu_nvml.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVML_SUCCESS 0
#define NVML_NAME_LEN 96

typedef int nvml_ret;
typedef void *nvml_device;
struct nvml_memory {
    unsigned long long total, free, used;
};

struct qm_nvml {
    void *lib;
    nvml_ret (*init)(void);
    nvml_ret (*shutdown)(void);
    nvml_ret (*count)(unsigned *n);
    nvml_ret (*handle)(unsigned index, nvml_device *dev);
    nvml_ret (*memory)(nvml_device dev, struct nvml_memory *mem);
    nvml_ret (*name)(nvml_device dev, char *name, unsigned len);
    const char *(*error_string)(nvml_ret r);
};

static const char *why(const struct qm_nvml *n, nvml_ret r)
{
    const char *s = n->error_string ? n->error_string(r) : NULL;
    return s ? s : "unknown NVML error";
}

/* dlsym into a function pointer without the object/function cast warning */
static int sym(void *lib, const char *name, void *fn_ptr, struct qm_err *err)
{
    void *p = dlsym(lib, name);
    if (!p)
        return qm_err_set(err, "NVML library lacks %s", name), QM_EUNSUPPORTED;
    memcpy(fn_ptr, &p, sizeof p);
    return 0;
}

int qm_nvml_open(struct qm_nvml **out, struct qm_err *err)
{
    *out = NULL;
    const char *path = getenv("QM_NVML_LIBRARY");
    if (!path || !*path)
        path = "libnvidia-ml.so.1";
    struct qm_nvml *n = calloc(1, sizeof *n);
    if (!n)
        return qm_err_set(err, "out of memory"), QM_ENOMEM;
    n->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!n->lib) {
        qm_err_set(err, "no NVIDIA driver (%s): %s", path, dlerror());
        free(n);
        return QM_EUNSUPPORTED;
    }
    int rc;
    if ((rc = sym(n->lib, "nvmlInit_v2", &n->init, err)) < 0 ||
        (rc = sym(n->lib, "nvmlShutdown", &n->shutdown, err)) < 0 ||
        (rc = sym(n->lib, "nvmlDeviceGetCount_v2", &n->count, err)) < 0 ||
        (rc = sym(n->lib, "nvmlDeviceGetHandleByIndex_v2", &n->handle, err)) < 0 ||
        (rc = sym(n->lib, "nvmlDeviceGetMemoryInfo", &n->memory, err)) < 0 ||
        (rc = sym(n->lib, "nvmlDeviceGetName", &n->name, err)) < 0 ||
        (rc = sym(n->lib, "nvmlErrorString", &n->error_string, err)) < 0) {
        dlclose(n->lib);
        free(n);
        return rc;
    }
    nvml_ret r = n->init();
    if (r != NVML_SUCCESS) {
        /* the library without a working driver: a container without the
         * GPU, or a driver/library version mismatch */
        qm_err_set(err, "NVML did not start: %s", why(n, r));
        dlclose(n->lib);
        free(n);
        return QM_EUNSUPPORTED;
    }
    *out = n;
    return 0;
}

/* CUDA_VISIBLE_DEVICES as a list of indices into [0, count): how many were
 * written to idx, or -1 when it is unset or names devices by UUID (then
 * every device is visible as far as qm can tell). */
static int visible(unsigned count, unsigned *idx, int cap)
{
    const char *p = getenv("CUDA_VISIBLE_DEVICES");
    if (!p)
        return -1;
    int n = 0;
    while (n < cap) {
        char *end;
        errno = 0;
        long i = strtol(p, &end, 10);
        if (end == p || errno)   /* "" hides all devices; a UUID qm cannot map */
            return n == 0 && *p ? -1 : n;
        if (i < 0 || (unsigned long)i >= count)
            return n;   /* CUDA ignores everything from the first invalid index on */
        idx[n++] = (unsigned)i;
        if (*end != ',')
            return n;
        p = end + 1;
    }
    return n;
}

int qm_nvml_query(struct qm_nvml *n, struct qm_gpu_info *out, int cap, struct qm_err *err)
{
    unsigned count = 0;
    nvml_ret r = n->count(&count);
    if (r != NVML_SUCCESS)
        return qm_err_set(err, "NVML cannot count devices: %s", why(n, r)), QM_EIO;
    unsigned idx[QM_MAX_GPUS];
    int m = visible(count, idx, QM_MAX_GPUS);
    if (m < 0)
        for (m = 0; (unsigned)m < count && m < QM_MAX_GPUS; m++)
            idx[m] = (unsigned)m;
    int k = 0;
    for (int i = 0; i < m && k < cap; i++) {
        nvml_device dev;
        struct nvml_memory mem;
        char name[NVML_NAME_LEN] = "";
        if ((r = n->handle(idx[i], &dev)) != NVML_SUCCESS || (r = n->memory(dev, &mem)) != NVML_SUCCESS)
            return qm_err_set(err, "NVML cannot read GPU %u: %s", idx[i], why(n, r)), QM_EIO;
        if (n->name(dev, name, sizeof name) != NVML_SUCCESS)
            snprintf(name, sizeof name, "GPU %u", idx[i]);
        name[sizeof name - 1] = 0;
        memset(&out[k], 0, sizeof out[k]);
        snprintf(out[k].name, sizeof out[k].name, "%s", name);
        out[k].total = mem.total;
        out[k].free = mem.free < mem.total ? mem.free : mem.total;
        k++;
    }
    return k;
}

void qm_nvml_close(struct qm_nvml *n)
{
    if (!n)
        return;
    n->shutdown();
    dlclose(n->lib);
    free(n);
}
