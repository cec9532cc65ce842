/* placeholder until the real command lands */
#include <stdio.h>
#include "commands.h"
int cmd_bench(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "qm bench: not built yet\n"); return 1; }
