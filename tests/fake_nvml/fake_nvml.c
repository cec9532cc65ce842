/* fake_nvml.c - a stand-in for libnvidia-ml.so.1, for tests on machines
 * without an NVIDIA driver.  The devices come from the file named by
 * FAKE_NVML_FILE, read on every call so a test can change free memory while
 * the daemon runs: one line per device, "total_MiB free_MiB name...".
 * FAKE_NVML_INIT=fail makes nvmlInit_v2 fail as a missing driver does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OK = 0, ERR_INVALID_ARGUMENT = 2, ERR_NOT_FOUND = 6, ERR_DRIVER_NOT_LOADED = 9, ERR_UNKNOWN = 999 };

struct memory {
    unsigned long long total, free, used;
};

struct dev {
    unsigned long long total_mib, free_mib;
    char name[96];
};

static struct dev devs[16];

/* the devices now; -1 when the file cannot be read */
static int load(void)
{
    const char *path = getenv("FAKE_NVML_FILE");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    int n = 0;
    char line[256];
    while (n < 16 && fgets(line, sizeof line, f)) {
        int used = 0;
        if (sscanf(line, "%llu %llu %n", &devs[n].total_mib, &devs[n].free_mib, &used) < 2)
            continue;
        snprintf(devs[n].name, sizeof devs[n].name, "%s", line + used);
        devs[n].name[strcspn(devs[n].name, "\n")] = 0;
        n++;
    }
    fclose(f);
    return n;
}

int nvmlInit_v2(void)
{
    const char *mode = getenv("FAKE_NVML_INIT");
    return mode && !strcmp(mode, "fail") ? ERR_DRIVER_NOT_LOADED : OK;
}

int nvmlShutdown(void) { return OK; }

int nvmlDeviceGetCount_v2(unsigned *count)
{
    int n = load();
    if (n < 0)
        return ERR_UNKNOWN;
    *count = (unsigned)n;
    return OK;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned index, void **dev)
{
    int n = load();
    if (n < 0 || index >= (unsigned)n)
        return ERR_INVALID_ARGUMENT;
    *dev = &devs[index];
    return OK;
}

int nvmlDeviceGetMemoryInfo(void *dev, struct memory *mem)
{
    const struct dev *d = dev;
    if (!d || !mem)
        return ERR_INVALID_ARGUMENT;
    mem->total = d->total_mib << 20;
    mem->free = d->free_mib << 20;
    mem->used = mem->total - mem->free;
    return OK;
}

int nvmlDeviceGetName(void *dev, char *name, unsigned len)
{
    const struct dev *d = dev;
    if (!d || !name || !len)
        return ERR_INVALID_ARGUMENT;
    snprintf(name, len, "%s", d->name);
    return OK;
}

const char *nvmlErrorString(int r)
{
    switch (r) {
    case OK: return "Success";
    case ERR_INVALID_ARGUMENT: return "Invalid Argument";
    case ERR_NOT_FOUND: return "Not Found";
    case ERR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    default: return "Unknown Error";
    }
}
