// commands.h - the subcommands of the chorus CLI; argv[0] is the subcommand's name.
#pragma once

int cmd_run(int argc, char **argv);      // cmd_run.c (the default command)
int cmd_inspect(int argc, char **argv);  // cmd_inspect.c
int cmd_bench(int argc, char **argv);    // cmd_bench.c
int cmd_eval(int argc, char **argv);     // cmd_eval.c
int cmd_gen(int argc, char **argv);      // cli/cmd_gen.c
int cmd_tokenize(int argc, char **argv); // cmd_tokenize.c
