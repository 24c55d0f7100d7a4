// cli.c - command-line value parsing with range checks (see cli.h).
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const char *CLI_END_HELP =
    "  --                     ends the options: what follows is text (or a file), even if it\n"
    "                         starts with '-'. A flag's value may start with '-': -p \"-5 + 3?\"\n";

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("chorus: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_USAGE_ERROR;
}

CliArgKind cli_arg_kind(const char *arg, int *ended) {
    if (*ended) return CLI_OPERAND;
    if (!strcmp(arg, "--")) return *ended = 1, CLI_END_OF_OPTIONS;
    return arg[0] == '-' && arg[1] ? CLI_OPTION : CLI_OPERAND;
}

const char *cli_value(int argc, char **argv, int *i) {
    int at = *i + 1;
    if (at < argc && !strcmp(argv[at], "--")) {
        // `-p -- TEXT` -> `-p TEXT --`: the value comes first, and the "--" the loop meets next
        // still ends the options (argv is the program's to modify, as getopt does). `-p --` with
        // nothing after it has no value.
        if (at + 1 < argc) {
            char *end = argv[at];
            argv[at] = argv[at + 1];
            argv[at + 1] = end;
        } else {
            at = argc;
        }
    }
    if (at >= argc) {
        cli_error("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[*i = at];
}

int cli_long(const char *flag, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) return cli_error("%s: '%s' is not a whole number", flag, s), -1;
    if (v < lo || v > hi)
        return cli_error("%s: %ld is out of range [%ld, %ld]", flag, v, lo, hi), -1;
    *out = v;
    return 0;
}

int cli_int(const char *flag, const char *s, long lo, long hi, int *out) {
    long v;
    if (cli_long(flag, s, lo, hi, &v)) return -1;
    *out = (int)v;
    return 0;
}

int cli_double(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return cli_error("%s: '%s' is not a number", flag, s), -1;
    if (v < lo || v > hi) return cli_error("%s: %g is out of range [%g, %g]", flag, v, lo, hi), -1;
    *out = v;
    return 0;
}

int cli_float(const char *flag, const char *s, double lo, double hi, float *out) {
    double v;
    if (cli_double(flag, s, lo, hi, &v)) return -1;
    *out = (float)v;
    return 0;
}

int cli_u64(const char *flag, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-') return cli_error("%s: '%s' must not be negative", flag, s), -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) return cli_error("%s: '%s' is not a whole number", flag, s), -1;
    *out = v;
    return 0;
}

// Splits "a,b,c" and parses each piece with one(flag, piece, i): the count, or -1 after an
// error (one line). Both list parsers below are this loop.
typedef int (*ParseOne)(const char *flag, const char *piece, int i, void *ctx);
static int cli_list(const char *flag, const char *s, int cap, ParseOne one, void *ctx) {
    int n = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy) return -1;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == cap) {
            cli_error("%s: more than %d values", flag, cap);
            free(copy);
            return -1;
        }
        if (one(flag, tok, n++, ctx)) {
            free(copy);
            return -1;
        }
    }
    free(copy);
    if (n == 0) return cli_error("%s: empty list", flag), -1;
    return n;
}

typedef struct {
    double lo, hi;
    void *out;
} ListCtx;

static int one_int(const char *flag, const char *piece, int i, void *ctx) {
    ListCtx *c = ctx;
    return cli_int(flag, piece, (long)c->lo, (long)c->hi, &((int *)c->out)[i]);
}

static int one_double(const char *flag, const char *piece, int i, void *ctx) {
    ListCtx *c = ctx;
    return cli_double(flag, piece, c->lo, c->hi, &((double *)c->out)[i]);
}

int cli_int_list(const char *flag, const char *s, long lo, long hi, int *out, int cap) {
    ListCtx c = {(double)lo, (double)hi, out};
    return cli_list(flag, s, cap, one_int, &c);
}

int cli_double_list(const char *flag, const char *s, double lo, double hi, double *out, int cap) {
    ListCtx c = {lo, hi, out};
    return cli_list(flag, s, cap, one_double, &c);
}

void cli_set_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

static int stdout_errno; // the first failed flush's errno, 0 if none

int cli_flush_stdout(void) {
    if (fflush(stdout) == 0) return 0;
    if (!stdout_errno) stdout_errno = errno;
    return -1;
}

int cli_stdout_errno(void) {
    return stdout_errno;
}
