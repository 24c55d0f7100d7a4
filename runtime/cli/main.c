// main.c - the chorus command line: dispatches to a subcommand (see commands.h).
//   chorus -m MODEL -p "question" [-n 16] ...     run N chains and vote (cmd_run.c)
//   chorus eval | bench | gen | tokenize | inspect ...
#include "cli/cli.h"
#include "cli/commands.h"
#include "backend/backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

// Results go to stdout. A write that failed (a full disk, a closed file system) is an error,
// not exit 0: checked once here, for every command, by flushing and closing stdout.
static int finish_stdout(int rc) {
    int bad = ferror(stdout); // an earlier write failed
    int flush_failed = fflush(stdout) != 0, e = flush_failed ? errno : cli_stdout_errno();
    int close_failed = fclose(stdout) != 0;
    if (close_failed && !e) e = errno;
    if (!bad && !flush_failed && !close_failed) return rc;
    fprintf(stderr, "chorus: cannot write the output to stdout%s%s\n", e ? ": " : "",
            e ? strerror(e) : "");
    return rc ? rc : 1;
}

int main(int argc, char **argv) {
    char err[160];
    if (backend_check_env(err, sizeof err)) { // a bad CHORUS_ISA is a usage error
        fprintf(stderr, "chorus: %s\n", err);
        return 2;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"run", cmd_run},   {"inspect", cmd_inspect}, {"bench", cmd_bench},
                {"eval", cmd_eval}, {"gen", cmd_gen},         {"tokenize", cmd_tokenize}};
    if (argc > 1)
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
            if (!strcmp(argv[1], cmds[i].name))
                return finish_stdout(cmds[i].fn(argc - 1, argv + 1));
    return finish_stdout(cmd_run(argc, argv));
}
