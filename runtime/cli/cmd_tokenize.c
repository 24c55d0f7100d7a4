// cmd_tokenize.c - `chorus tokenize`: shows how a model's tokenizer splits text.
//
//   chorus tokenize -m MODEL [--ids] [--no-special] [--] "text"   ids and pieces, one a line
//   chorus tokenize -m MODEL --bench FILE                          encode throughput on FILE
// ("--" ends the options, so a text that starts with '-' can follow it; see cli.h.)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "model/gguf.h"
#include "tokenizer.h"
#include "util/clock.h"

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr,
            "chorus tokenize: %s%s%s (usage: chorus tokenize -m MODEL [--ids] "
            "[--no-special] [--bench FILE] [--] \"text\")\n",
            msg, arg ? " " : "", arg ? arg : "");
    return 2;
}

// Length of the complete UTF-8 character at s[0..n), 0 if there is none (a split character).
static int utf8_char_len(const unsigned char *s, int n) {
    int len = s[0] >= 0xF0 && s[0] < 0xF5 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (s[0] >= 0xF5 || len > n) return 0;
    for (int k = 1; k < len; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return len;
}

// Prints a token's bytes quoted, escaping what would not show in a terminal (controls, and
// bytes of a character that is split over several tokens).
static void print_piece(const char *b, int len) {
    putchar('\'');
    for (int i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c >= 0x80) {
            int k = utf8_char_len((const unsigned char *)b + i, len - i);
            if (k)
                fwrite(b + i, 1, (size_t)k, stdout), i += k - 1;
            else
                printf("\\x%02x", c);
            continue;
        }
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c == '\'' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('\'');
}

static char *read_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 20, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += k;
        if (n == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) free(buf);
            buf = p;
        }
    }
    fclose(fp);
    *len = n;
    return buf;
}

// Encodes FILE a few times and prints the best throughput (one line, parsed by
// tools/bench_tokenizer.py).
static int bench(const Tokenizer *t, const char *path, int special) {
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "chorus tokenize: cannot read %s\n", path);
        return 1;
    }
    double best = 1e30;
    int n = 0;
    for (int rep = 0; rep < 3; rep++) {
        int *ids;
        double t0 = now_s();
        n = tokenizer_encode(t, text, len, special, &ids);
        double dt = now_s() - t0;
        free(ids);
        if (n < 0) break;
        if (dt < best) best = dt;
    }
    free(text);
    if (n < 0) {
        fprintf(stderr, "chorus tokenize: encoding %s failed (out of memory)\n", path);
        return 1;
    }
    printf("bench: %zu bytes, %d tokens, %.3f s, %.2f MB/s\n", len, n, best,
           (double)len / 1e6 / best);
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *bench_file = NULL;
    int ids_only = 0, special = 1;
    int ended = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        CliArgKind kind = cli_arg_kind(a, &ended);
        if (kind == CLI_END_OF_OPTIONS) continue;
        if (kind == CLI_OPERAND) {
            if (text) return usage_error("more than one text argument:", a);
            text = a;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--bench")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v) return CLI_USAGE_ERROR;
            if (!strcmp(a, "--bench"))
                bench_file = v;
            else
                model = v;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: chorus tokenize -m MODEL [--ids] [--no-special] [--] \"text\"\n"
                   "       chorus tokenize -m MODEL --bench FILE\n"
                   "  prints each token's id and bytes; --ids: ids only, on one line;\n"
                   "  --no-special: control-token text such as <|im_end|> is plain text;\n"
                   "  --bench FILE: encode FILE three times and print the best throughput\n%s",
                   CLI_END_HELP);
            return 0;
        } else if (!strcmp(a, "--ids")) {
            ids_only = 1;
        } else if (!strcmp(a, "--no-special")) {
            special = 0;
        } else {
            return usage_error("unknown option", a);
        }
    }
    if (!model) return usage_error("-m MODEL is required", NULL);
    if (!text && !bench_file) return usage_error("no text to tokenize", NULL);

    char err[512];
    GGUFFile f;
    if (gguf_open(&f, model, err, sizeof err)) {
        fprintf(stderr, "chorus tokenize: %s\n", err);
        return 1;
    }
    Tokenizer *t = tokenizer_load(&f, err, sizeof err);
    gguf_close(&f);
    if (!t) {
        fprintf(stderr, "chorus tokenize: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (bench_file) {
        rc = bench(t, bench_file, special);
    } else {
        int *ids, n = tokenizer_encode(t, text, strlen(text), special, &ids);
        if (n < 0) {
            fprintf(stderr, "chorus tokenize: out of memory\n");
            rc = 1;
        }
        for (int i = 0; i < n; i++) {
            if (ids_only) {
                printf(i + 1 < n ? "%d " : "%d\n", ids[i]);
                continue;
            }
            int len;
            const char *b = tokenizer_token_bytes(t, ids[i], &len);
            printf("%6d  ", ids[i]);
            print_piece(b, len);
            putchar('\n');
        }
        free(ids);
    }
    tokenizer_free(t);
    return rc;
}
