// cli.h - small helpers for command-line parsing: every bad flag or value is one line on stderr
// and exit code 2 (DESIGN.md §6).
#pragma once
#include <stdint.h>

#define CLI_USAGE_ERROR 2

// Prints "chorus: <message>" and returns CLI_USAGE_ERROR.
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// The value after flag argv[*i] (advancing *i), or NULL after printing an error.
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
