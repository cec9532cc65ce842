/* commands.h - the subcommands of the qm binary, one file each. */
#ifndef QM_CLI_COMMANDS_H
#define QM_CLI_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_runner(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
