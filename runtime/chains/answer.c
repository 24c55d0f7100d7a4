// answer.c - answer extraction and normalisation (rules and canonical forms in answer.h).
//
// Everything works on spans [begin, end) of the chain's text, so no copies are made until the
// canonical answer is written. Only ASCII and the UTF-8 bytes of U+2212 are interpreted; other
// UTF-8 passes through untouched, byte for byte.
#include "chains/answer.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}
static int is_alnum(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// ---- numbers ----------------------------------------------------------------------------------

// A number found in the text: its sign, integer digits (may hold thousands commas) and fraction.
typedef struct {
    int neg;
    const char *ip, *ie; // integer part, possibly empty (".5")
    const char *fp, *fe; // fraction digits, possibly empty
} Num;

static size_t sign_at(const char *p, const char *end, int *neg) {
    if (p < end && (*p == '-' || *p == '+')) {
        *neg = *p == '-';
        return 1;
    }
    if (end - p >= 3 && !memcmp(p, "\xE2\x88\x92", 3)) { // U+2212 MINUS SIGN
        *neg = 1;
        return 3;
    }
    return 0;
}

static size_t escaped_at(const char *p, const char *end, char c) { // "c" or "\c"
    if (p < end && *p == c) return 1;
    if (end - p >= 2 && p[0] == '\\' && p[1] == c) return 2;
    return 0;
}

// Integer digits, then thousands groups (",ddd" not followed by a fourth digit).
static const char *scan_integer(const char *q, const char *end) {
    const char *start = q;
    while (q < end && is_digit(*q)) q++;
    while (q > start && end - q >= 4 && q[0] == ',' && is_digit(q[1]) && is_digit(q[2]) &&
           is_digit(q[3]) && (end - q == 4 || !is_digit(q[4])))
        q += 4;
    return q;
}

// Parses a number starting exactly at p. Returns its end, or NULL if none starts there.
static const char *scan_number(const char *begin, const char *p, const char *end, Num *n) {
    const char *q = p;
    n->neg = 0;
    size_t k = sign_at(q, end, &n->neg);
    if (k && q > begin && is_alnum(q[-1])) return NULL; // "x-3": a minus between terms
    q += k;
    size_t d = escaped_at(q, end, '$');
    q += d;
    if (d && !k) q += sign_at(q, end, &n->neg);                                // "$-5"
    if (q == p && q > begin && (is_alnum(q[-1]) || q[-1] == '.')) return NULL; // glued
    n->ip = q;
    q = scan_integer(q, end);
    n->ie = q;
    n->fp = n->fe = q;
    if (end - q >= 2 && q[0] == '.' && is_digit(q[1])) {
        n->fp = ++q;
        while (q < end && is_digit(*q)) q++;
        n->fe = q;
    }
    if (n->ie == n->ip && n->fe == n->fp) return NULL; // no digits at all
    return q + escaped_at(q, end, '%');
}

// Writes the canonical form (see answer.h). Returns 1, or 0 if it does not fit in cap.
static int emit_number(const Num *n, char *out, size_t cap) {
    const char *ip = n->ip, *fe = n->fe;
    while (ip < n->ie && (*ip == '0' || *ip == ',')) ip++; // leading zeros
    while (fe > n->fp && fe[-1] == '0') fe--;              // trailing fractional zeros
    size_t len = 0, nint = 0;
    for (const char *c = ip; c < n->ie; c++) nint += is_digit(*c);
    int zero = nint == 0 && fe == n->fp;
    size_t need = (n->neg && !zero) + (nint ? nint : 1) + (fe > n->fp ? 1 + (fe - n->fp) : 0);
    if (need + 1 > cap) return 0;
    if (n->neg && !zero) out[len++] = '-';
    if (!nint) out[len++] = '0';
    for (const char *c = ip; c < n->ie; c++)
        if (is_digit(*c)) out[len++] = *c;
    if (fe > n->fp) {
        out[len++] = '.';
        memcpy(out + len, n->fp, (size_t)(fe - n->fp));
        len += (size_t)(fe - n->fp);
    }
    out[len] = '\0';
    return 1;
}

// The first number starting in [p, end). Returns 1 and fills *n, or 0.
static int next_number(const char *begin, const char *p, const char *end, Num *n,
                       const char **after) {
    for (; p < end; p++) {
        const char *e = scan_number(begin, p, end, n);
        if (e) {
            *after = e;
            return 1;
        }
    }
    return 0;
}

static int last_number(const char *begin, const char *end, Num *last) {
    Num n;
    const char *p = begin;
    int found = 0;
    while (next_number(begin, p, end, &n, &p)) {
        *last = n;
        found = 1;
    }
    return found;
}

// ---- normalising a span -----------------------------------------------------------------------

// Text answer: trims, drops trailing periods and one pair of surrounding '$' (TeX math),
// collapses inner whitespace; a span that is exactly one number gets the canonical number.
// Returns 1, 0 if nothing is left, -1 if it does not fit in cap.
static int normalize_span(const char *b, const char *e, char *out, size_t cap) {
    for (;;) {
        while (b < e && is_space(*b)) b++;
        while (e > b && (is_space(e[-1]) || e[-1] == '.')) e--;
        if (e - b < 2 || *b != '$' || e[-1] != '$') break;
        b++, e--;
    }
    if (b == e) return 0;
    Num n;
    if (scan_number(b, b, e, &n) == e) return emit_number(&n, out, cap) ? 1 : -1;
    size_t len = 0;
    for (const char *c = b; c < e; c++) {
        if (is_space(*c) && is_space(c[1])) continue; // c + 1 < e: e[-1] is not a space
        if (len + 2 > cap) return -1;
        out[len++] = is_space(*c) ? ' ' : *c;
    }
    out[len] = '\0';
    return 1;
}

int answer_normalize(const char *raw, char *out, size_t cap) {
    if (cap == 0) return 0;
    int r = normalize_span(raw, raw + strlen(raw), out, cap);
    if (r != 1) out[0] = '\0';
    return r == 1;
}

// ---- extraction rules -------------------------------------------------------------------------

static const char *last_of(const char *text, const char *needle, int icase) {
    const char *last = NULL;
    for (const char *p = text; (p = icase ? strcasestr(p, needle) : strstr(p, needle)); p++)
        last = p;
    return last;
}

// Rule 1: "####".
static int after_hashes(const char *text, const char *end, char *out, size_t cap) {
    const char *m = last_of(text, "####", 0);
    if (!m) return 0;
    const char *s = m + 4, *eol = memchr(s, '\n', (size_t)(end - s));
    if (!eol) eol = end;
    Num n;
    const char *after;
    if (next_number(text, s, eol, &n, &after)) return emit_number(&n, out, cap) ? 1 : -1;
    return normalize_span(s, eol, out, cap);
}

// Rule 2: the \boxed{...} that starts last among those whose braces balance.
//
// In one backward pass, not one forward scan per box (model output is untrusted: 100k
// unclosed boxes would rescan the text 100k times). With r(i) = '{' minus '}' in text[i..end),
// the box whose content starts at s closes iff a later position j has r(j) > r(s): there, the
// braces since s have gone one below balance. So walking from the end, keeping the largest r
// seen, the first opening found with r(s) below it is the answer; its '}' is found by one
// forward scan.
static int boxed(const char *text, const char *end, char *out, size_t cap) {
    static const char open[] = "\\boxed{";
    const size_t k = sizeof open - 1;
    long r = 0, r_max = LONG_MIN; // r = r(s); r_max = max r(j) over j in (s, end]
    for (const char *s = end;; s--) {
        if ((size_t)(s - text) >= k && !memcmp(s - k, open, k) && r_max > r) {
            const char *q = s;
            for (long depth = 1; (depth += (*q == '{') - (*q == '}')) > 0;) q++;
            return normalize_span(s, q, out, cap); // empty: the next rule decides
        }
        if (s == text) return 0;
        if (r > r_max) r_max = r;
        r += (s[-1] == '{') - (s[-1] == '}');
    }
}

// Rule 3: the first number after the last "answer is" -- unless that number starts a worked
// expression ("The answer is 7 + 4 = 11."): then the first number after the expression's '='
// on the same line.
static int answer_is(const char *text, const char *end, char *out, size_t cap) {
    const char *m = last_of(text, "answer is", 1);
    Num n;
    const char *after;
    if (!m || !next_number(text, m + 9, end, &n, &after)) return 0;
    const char *p = after;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p < end && strchr("+-*/x", *p)) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *lim = eol ? eol : end;
        const char *eq = memchr(p, '=', (size_t)(lim - p));
        Num r;
        if (eq && next_number(text, eq + 1, lim, &r, &after)) n = r;
    }
    return emit_number(&n, out, cap) ? 1 : -1;
}

// The regex override: its last match; group 1 if it took part, else the whole match.
// REG_STARTEND (glibc, the BSDs) bounds each search to [at, end) of the whole text: a plain
// regexec would take strlen of the rest at every match, quadratic in the number of matches.
// Offsets are relative to text; '^' matches only at the start of the text.
static int by_regex(const char *text, const char *end, const regex_t *re, char *out, size_t cap) {
    regmatch_t m[2];
    size_t ng = re->re_nsub >= 1 ? 2 : 1;
    const char *b = NULL, *e = NULL;
    regoff_t at = 0, n = (regoff_t)(end - text);
    for (int flags = REG_STARTEND; at <= n; flags |= REG_NOTBOL) {
        m[0].rm_so = at, m[0].rm_eo = n;
        if (regexec(re, text, ng, m, flags) != 0) break;
        const regmatch_t *g = ng == 2 && m[1].rm_so >= 0 ? &m[1] : &m[0];
        b = text + g->rm_so, e = text + g->rm_eo;
        at = m[0].rm_eo > m[0].rm_so ? m[0].rm_eo : m[0].rm_so + 1; // an empty match: on by one
    }
    return b ? normalize_span(b, e, out, cap) : 0;
}

// The rules above over [text, end).
static int extract_span(const char *text, const char *end, const regex_t *re_or_null, char *out,
                        size_t cap) {
    int r;
    if (re_or_null) {
        r = by_regex(text, end, re_or_null, out, cap);
    } else if (!(r = after_hashes(text, end, out, cap)) && !(r = boxed(text, end, out, cap)) &&
               !(r = answer_is(text, end, out, cap))) {
        Num n;
        r = last_number(text, end, &n) ? (emit_number(&n, out, cap) ? 1 : -1) : 0;
    }
    if (r != 1) out[0] = '\0'; // -1 (found but too long) does not vote either
    return r == 1;
}

int answer_extract(const char *text, const regex_t *re_or_null, char *out, size_t cap) {
    if (cap) out[0] = '\0';
    if (!text || cap == 0) return 0;
    const char *end = text + strlen(text), *think = last_of(text, ANSWER_THINK_END, 0);
    // a thinking model's answer follows its thinking block: the numbers inside it are drafts
    if (think && extract_span(think + strlen(ANSWER_THINK_END), end, re_or_null, out, cap))
        return 1;
    return extract_span(text, end, re_or_null, out, cap);
}

int answer_regex_compile(regex_t *re, const char *pattern, char *err, size_t errcap) {
    int rc = regcomp(re, pattern, REG_EXTENDED);
    if (rc == 0) return 0;
    char why[128];
    regerror(rc, re, why, sizeof why);
    if (err && errcap) snprintf(err, errcap, "bad --answer-regex \"%s\": %s", pattern, why);
    return -1;
}
