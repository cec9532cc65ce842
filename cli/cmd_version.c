/* cmd_version.c - `qm version`: the version and the backends compiled in. */
#include <stdio.h>

#include "commands.h"
#include "cpu_features.h"

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("qm version %s\n", QM_VERSION);
    printf("backends: cpu %s%s\n", qm_cpu_compiled_isas(),
#ifdef QM_HAVE_CUDA
           " cuda"
#else
           ""
#endif
    );
    printf("cpu kernels in use: %s\n", qm_cpu_active_isa());
    return 0;
}
