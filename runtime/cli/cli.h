// cli.h - small helpers for command-line parsing: every bad flag or value is one line on stderr
// and exit code 2 (docs/design.md, "The command line").
//
// Argument syntax, the same in every subcommand (POSIX utility conventions):
//   - "--" ends the options: every argument after it is an operand (a prompt, a text, a file),
//     even one that starts with '-':  chorus tokenize -m MODEL -- "-42 is negative"
//   - a flag that takes a value takes the next argument as it is, even one that starts with '-':
//     -p "-5 + 3?", --stop "-", --answer-cue "-". A numeric value is then range-checked as usual
//     (--temp -1 is "out of range").
//   - a value written after a "--" belongs to the flag before it: `-p -- TEXT` reads as
//     `-p TEXT --` (so `--stop -- --` is the stop string "--"); the "--" still ends the options.
#pragma once
#include <stdint.h>

#define CLI_USAGE_ERROR 2

// The help line for "--", printed by every subcommand's --help.
extern const char *CLI_END_HELP;

// Prints "chorus: <message>" and returns CLI_USAGE_ERROR.
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// fflush(stdout) that remembers the first failure's errno (cli_stdout_errno), so that the final
// "cannot write the output" message can say why even after later writes lost errno.
int cli_flush_stdout(void);
int cli_stdout_errno(void);

typedef enum { CLI_OPTION, CLI_OPERAND, CLI_END_OF_OPTIONS } CliArgKind;
// What argv[i] is, for a subcommand's argument loop: the first "--" is CLI_END_OF_OPTIONS (the
// loop skips it) and sets *ended; after it everything is an operand. Before it, an argument that
// starts with '-' (other than "-" alone) is an option. Start *ended at 0.
CliArgKind cli_arg_kind(const char *arg, int *ended);
// The value after flag argv[*i] (advancing *i), or NULL after printing an error. It may start
// with '-'; when argv[*i + 1] is "--", the value is the argument after it (see above; argv's
// two entries are swapped so that the loop meets the "--" next).
const char *cli_value(int argc, char **argv, int *i);
// Parse a whole value within [lo, hi]; on failure print an error naming the flag, return -1.
int cli_int(const char *flag, const char *s, long lo, long hi, int *out);
int cli_long(const char *flag, const char *s, long lo, long hi, long *out);
int cli_float(const char *flag, const char *s, double lo, double hi, float *out);
int cli_double(const char *flag, const char *s, double lo, double hi, double *out);
int cli_u64(const char *flag, const char *s, uint64_t *out);
// "1,4,16" -> up to cap ints in [lo, hi]; returns the count, or -1 after an error.
int cli_int_list(const char *flag, const char *s, long lo, long hi, int *out, int cap);
int cli_double_list(const char *flag, const char *s, double lo, double hi, double *out, int cap);
// Sets the OpenMP thread count (no-op without OpenMP).
void cli_set_threads(int n);
