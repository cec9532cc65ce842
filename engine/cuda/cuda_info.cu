// cuda_info.cu - the smallest piece of the CUDA backend: how many devices the
// runtime sees.  Only runner processes call it; the daemon reads GPU memory
// through NVML and never creates a CUDA context.
#include <cuda_runtime.h>

extern "C" int qm_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess)
        return 0;
    return n;
}
