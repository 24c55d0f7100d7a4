// printable.c - escaping file content for one-line messages (see printable.h).
#include "util/printable.h"

#include <stdio.h>
#include <string.h>

// Length of the valid UTF-8 sequence at s[0..n) that encodes U+00A0 or above, else 0
// (overlong forms, surrogates, values past U+10FFFF and C1 controls all give 0).
static size_t utf8_ok(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4 || len > n) return 0;
    unsigned cp = c & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    static const unsigned min_cp[5] = {0, 0, 0xA0, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return 0;
    return len;
}

const char *printable(char *out, size_t cap, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0, room = cap - 4; // keep space for "..." and the NUL
    for (size_t i = 0; i < n;) {
        char esc[8];
        const char *piece = esc;
        size_t len = utf8_ok(u + i, n - i), step = len;
        if (len) {
            piece = s + i;
        } else {
            step = 1;
            unsigned c = u[i];
            if (c == '\\')
                memcpy(esc, "\\\\", len = 2);
            else if (c == '\n')
                memcpy(esc, "\\n", len = 2);
            else if (c == '\t')
                memcpy(esc, "\\t", len = 2);
            else if (c == '\r')
                memcpy(esc, "\\r", len = 2);
            else if (c >= 0x20 && c < 0x7F)
                esc[0] = (char)c, len = 1;
            else
                len = (size_t)snprintf(esc, sizeof esc, "\\x%02X", c);
        }
        if (o + len > room) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, piece, len);
        o += len;
        i += step;
    }
    out[o] = '\0';
    return out;
}

const char *printable_str(char *out, size_t cap, const char *s) {
    return s ? printable(out, cap, s, strlen(s)) : printable(out, cap, "(null)", 6);
}
