/* main.c - the qm binary: one program, many subcommands.
 *
 * `qm serve` is the daemon, `qm runner` its per-model worker; run, pull,
 * list, ps, stop, rm, cp, show and create are HTTP clients of the daemon
 * (client.h); the rest are tools that work on files.  Each subcommand lives in its own cmd_*.c file. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "Start the daemon (settings from QM_* variables)"},
    {"run", cmd_run, "Run a model: chat with it, or answer one prompt"},
    {"pull", cmd_pull, "Download a model into the store"},
    {"list", cmd_list, "List the models in the store (alias: ls)"},
    {"ps", cmd_ps, "List the models loaded now"},
    {"stop", cmd_stop, "Unload a running model"},
    {"rm", cmd_rm, "Remove models from the store"},
    {"cp", cmd_cp, "Copy a model under a new name"},
    {"show", cmd_show, "Show a model's details, Modelfile, template, parameters"},
    {"create", cmd_create, "Create a model from a Modelfile"},
    {"inspect", cmd_inspect, "Print a GGUF file's metadata and tensor table"},
    {"quantize", cmd_quantize, "Quantize an F32/F16/BF16 model (qm quantize IN OUT Q4_K_M)"},
    {"generate", cmd_generate, "Run a GGUF model on one prompt, without the daemon"},
    {"bench", cmd_bench, "Measure kernels or a model (qm bench kernels, qm bench --file MODEL)"},
    {"version", cmd_version, "Print the version and the compiled backends"},
    {"runner", cmd_runner, "The daemon's per-model worker (internal)"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: qm COMMAND [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "  %-10s %s\n", "help", "Show this help");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-v"))
        name = "version";
    if (!strcmp(name, "ls"))
        name = "list";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "qm: unknown command '%s' (see 'qm help')\n", name);
    return 2;
}
