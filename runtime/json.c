// json.c - JSON string escaping (see json.h).
#include "json.h"

#include <math.h>
#include <string.h>

// Length of the valid UTF-8 sequence starting at p (0 if invalid), within n bytes.
static size_t utf8_len(const unsigned char *p, size_t n) {
    size_t len = p[0] < 0x80         ? 1
                 : (p[0] >> 5) == 6  ? 2
                 : (p[0] >> 4) == 14 ? 3
                 : (p[0] >> 3) == 30 ? 4
                                     : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (len == 2 && p[0] < 0xC2) return 0; // overlong
    return len;
}

void json_str_n(FILE *f, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\') {
            fputc('\\', f);
            fputc(ch, f);
            i++;
            continue;
        }
        if (ch == '\n') {
            fputs("\\n", f);
            i++;
            continue;
        }
        if (ch == '\t') {
            fputs("\\t", f);
            i++;
            continue;
        }
        if (ch == '\r') {
            fputs("\\r", f);
            i++;
            continue;
        }
        if (ch < 0x20) {
            fprintf(f, "\\u%04x", ch);
            i++;
            continue;
        }
        size_t len = utf8_len(p + i, n - i);
        if (len == 0) {
            fputs("\\ufffd", f);
            i++;
            continue;
        }
        fwrite(p + i, 1, len, f);
        i += len;
    }
    fputc('"', f);
}

void json_str(FILE *f, const char *s) {
    if (!s)
        fputs("null", f);
    else
        json_str_n(f, s, strlen(s));
}

void json_num_fmt(FILE *f, const char *fmt, double v) {
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fputs("null", f);
}
