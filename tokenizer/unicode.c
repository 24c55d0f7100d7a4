// unicode.c - UTF-8 decoding/encoding and codepoint classes (see unicode.h).
#include "unicode.h"

int uni_flags(uint32_t cp) {
    // ASCII is most of the text: answer it without a search.
    if (cp < 128) {
        if (cp == ' ' || (cp >= 9 && cp <= 13)) return UNI_SPACE;
        if ((cp | 32) >= 'a' && (cp | 32) <= 'z') return UNI_LETTER;
        if (cp >= '0' && cp <= '9') return UNI_NUMBER;
        // general category P*: !"#%&'()*,-./:;?@[\]_{} (not the symbols $+<=>^`|~)
        if ((cp >= '!' && cp <= '/' && cp != '$' && cp != '+') || cp == ':' || cp == ';' ||
            cp == '?' || cp == '@' || (cp >= '[' && cp <= ']') || cp == '_' || cp == '{' ||
            cp == '}')
            return UNI_PUNCT;
        return 0;
    }
    int lo = 0, hi = uni_n_ranges - 1;
    while (lo <= hi) { // binary search over the sorted ranges
        int mid = (lo + hi) / 2;
        if (cp < uni_ranges[mid].first)
            hi = mid - 1;
        else if (cp > uni_ranges[mid].last)
            lo = mid + 1;
        else
            return uni_ranges[mid].flags;
    }
    return 0;
}

static int is_cont(uint8_t b) {
    return (b & 0xC0) == 0x80;
}

uint32_t uni_decode(const uint8_t *s, size_t n, size_t *pos) {
    size_t i = *pos;
    uint8_t b = s[i];
    int len = b < 0x80 ? 1 : b < 0xC0 ? 0 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF8 ? 4 : 0;
    if (len == 1) {
        *pos = i + 1;
        return b;
    }
    *pos = i + 1; // the invalid case advances by one byte
    if (len == 0 || i + (size_t)len > n) return UNI_REPLACEMENT;
    for (int k = 1; k < len; k++)
        if (!is_cont(s[i + k])) return UNI_REPLACEMENT;
    uint32_t cp = b & (0x7F >> len);
    for (int k = 1; k < len; k++) cp = (cp << 6) | (s[i + k] & 0x3F);
    if (cp > 0x10FFFF) return UNI_REPLACEMENT;
    *pos = i + (size_t)len;
    return cp;
}

int uni_encode(uint32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

size_t uni_complete_prefix(const uint8_t *s, size_t n) {
    // Only the last <= 3 bytes can be an unfinished sequence: find the last lead byte there
    // and check whether all of its continuation bytes have arrived.
    size_t back = n < 4 ? n : 4;
    for (size_t k = 1; k <= back; k++) {
        uint8_t b = s[n - k];
        if (is_cont(b)) continue;
        if (b < 0xC0 || b >= 0xF8) return n; // ASCII or a byte that never completes: emit
        int need = uni_seq_len(b);
        return (size_t)need > k ? n - k : n;
    }
    return n; // only continuation bytes at the end: nothing can complete them
}
