// json.c - JSON string escaping (see json.h).
#include "util/json.h"

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

// The two-character escape of ch, or NULL (the other control bytes take \u00XX).
static const char *short_escape(unsigned char ch) {
    switch (ch) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\t': return "\\t";
    case '\r': return "\\r";
    default: return NULL;
    }
}

void json_str_n(FILE *f, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        const char *esc = short_escape(p[i]);
        // a byte that starts no valid UTF-8 sequence (len 0) becomes U+FFFD
        const size_t len = esc || p[i] < 0x20 ? 1 : utf8_len(p + i, n - i);
        if (esc)
            fputs(esc, f);
        else if (p[i] < 0x20)
            fprintf(f, "\\u%04x", p[i]);
        else if (len == 0)
            fputs("\\ufffd", f);
        else
            fwrite(p + i, 1, len, f);
        i += len ? len : 1;
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
