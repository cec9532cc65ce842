/* commands.h - the subcommands of the qm binary, one file each. */
#ifndef QM_CLI_COMMANDS_H
#define QM_CLI_COMMANDS_H

/* the daemon and its worker */
int cmd_serve(int argc, char **argv);
int cmd_runner(int argc, char **argv);

/* clients of the daemon (HTTP, client.h) */
int cmd_run(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_create(int argc, char **argv);

/* tools that work on files, without the daemon */
int cmd_version(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_generate(int argc, char **argv);

#endif
