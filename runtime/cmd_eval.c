// cmd_eval.c - placeholder until `chorus eval` lands (issue 6).
#include "cli.h"
#include "commands.h"

int cmd_eval(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_error("eval: not implemented yet");
}
