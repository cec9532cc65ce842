/* gpu_nvml.h - the GPUs and their memory as the NVIDIA driver reports them.
 *
 * The daemon must run where there is no driver and must never create a CUDA
 * context (a context alone takes hundreds of MiB of the card), so it reads
 * free and total memory through NVML, loaded with dlopen at start.  Without
 * the library, or with it but no device, qm runs on the CPU.
 *
 * QM_NVML_LIBRARY names another library to load (tests use a fake one).
 * CUDA_VISIBLE_DEVICES, when it lists device indices, picks and orders the
 * devices as the runners' CUDA will see them (NVML numbers devices in PCI
 * bus order; qm's runners set CUDA_DEVICE_ORDER=PCI_BUS_ID to match). */
#ifndef QM_GPU_NVML_H
#define QM_GPU_NVML_H

#include "error.h"
#include "scheduler.h"

struct qm_nvml;

/* Load the library and initialise NVML.  QM_ERR_NOT_FOUND (with a message
 * saying so) where there is no driver; other errors name NVML's reason. */
int qm_nvml_open(struct qm_nvml **out, struct qm_err *err);

/* The visible devices' names, total and free memory (free as the driver
 * sees it now, other processes' use included); returns how many were
 * written (<= cap), or < 0 with err. */
int qm_nvml_query(struct qm_nvml *n, struct qm_gpu_info *out, int cap, struct qm_err *err);

void qm_nvml_close(struct qm_nvml *n);

#endif
