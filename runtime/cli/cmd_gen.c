// cli/cmd_gen.c - `chorus gen arith`: the command line and the JSONL writer. The problems
// themselves (levels, templates) are made in arith_problems.c.
//
// Determinism: question i draws from rng_bits(seed, i, counter), so it depends only on
// (seed, i, its level), not on --count. Levels are dealt round-robin over the range (question
// i gets level lo + i mod (hi - lo + 1)), so every level is equally represented.
#include "cli/cmd_gen.h"
#include "eval/arith_problems.h"
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "usage: chorus gen arith --count N [--levels 1-5] [--seed S]"

// One line on stderr, exit code 2. arg (if not NULL) is quoted after what.
static int usage_error(const char *what, const char *arg) {
    if (arg)
        fprintf(stderr, "chorus gen: %s '%s' (" USAGE ")\n", what, arg);
    else
        fprintf(stderr, "chorus gen: %s (" USAGE ")\n", what);
    return 2;
}

// A whole decimal number in [lo, hi]; 0 on success.
static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

// "L" or "L1-L2" with 1 <= L1 <= L2 <= 5.
static int parse_levels(const char *s, int *lo, int *hi) {
    int a, b, n = 0;
    if (sscanf(s, "%d-%d%n", &a, &b, &n) == 2 && s[n] == '\0') {
    } else if (sscanf(s, "%d%n", &a, &n) == 1 && s[n] == '\0') {
        b = a;
    } else {
        return -1;
    }
    if (a < 1 || b > ARITH_LEVELS || a > b) return -1;
    *lo = a, *hi = b;
    return 0;
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void write_problem(FILE *f, const ArithProblem *p, int level) {
    fputs("{\"question\": ", f);
    json_string(f, p->question);
    fprintf(f, ", \"answer\": \"%ld\", \"level\": %d, \"expr\": ", p->answer, level);
    json_string(f, p->expr);
    fputs("}\n", f);
}

int cmd_gen(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "arith") != 0)
        return usage_error("unknown generator", argc < 2 ? "" : argv[1]);
    long count = -1, seed = 1;
    int lo = 1, hi = ARITH_LEVELS;
    int ended = 0;
    for (int i = 2; i < argc; i++) {
        const char *flag = argv[i], *val;
        CliArgKind kind = cli_arg_kind(flag, &ended);
        if (kind == CLI_END_OF_OPTIONS) continue;
        if (kind == CLI_OPERAND) return usage_error("unexpected argument", flag);
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) {
            printf("%s\n%s", USAGE, CLI_END_HELP);
            return 0;
        }
        if (strcmp(flag, "--count") && strcmp(flag, "--levels") && strcmp(flag, "--seed"))
            return usage_error("unknown flag", flag);
        if (!(val = cli_value(argc, argv, &i))) return CLI_USAGE_ERROR;
        if (!strcmp(flag, "--count")) {
            if (parse_long(val, 1, 10000000, &count)) return usage_error("bad --count", val);
        } else if (!strcmp(flag, "--levels")) {
            if (parse_levels(val, &lo, &hi))
                return usage_error("bad --levels (want L or L1-L2 in 1-5)", val);
        } else if (parse_long(val, 0, LONG_MAX, &seed)) {
            return usage_error("bad --seed", val);
        }
    }
    if (count < 0) return usage_error("--count N is required", NULL);
    for (long i = 0; i < count; i++) {
        int level = lo + (int)(i % (hi - lo + 1));
        ArithProblem p;
        arith_problem((uint64_t)seed, (uint32_t)i, level, &p);
        write_problem(stdout, &p, level);
    }
    return ferror(stdout) ? 1 : 0; // main.c flushes stdout and reports a failed write
}
