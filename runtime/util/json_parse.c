// json_parse.c - a recursive-descent JSON reader (see json_parse.h).
#include "util/json_parse.h"
#include "util/printable.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t n, i;
    char *err;
    size_t errlen;
    int failed;
} Parser;

static int perr(Parser *p, const char *fmt, ...) {
    if (p->failed) return -1; // keep the first (innermost) reason
    p->failed = 1;
    int k = snprintf(p->err, p->errlen, "column %zu: ", p->i + 1);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < p->errlen) vsnprintf(p->err + k, p->errlen - k, fmt, ap);
    va_end(ap);
    return -1;
}

static void skip_ws(Parser *p) {
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

// ---- strings ---------------------------------------------------------------------------------

typedef struct {
    char *b;
    size_t len, cap;
} Buf;

static int buf_put(Buf *b, const char *src, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *t = realloc(b->b, cap);
        if (!t) return -1;
        b->b = t, b->cap = cap;
    }
    memcpy(b->b + b->len, src, n);
    b->len += n;
    b->b[b->len] = 0;
    return 0;
}

static int utf8_put(Buf *b, unsigned cp) {
    char u[4];
    size_t k;
    if (cp < 0x80)
        u[0] = (char)cp, k = 1;
    else if (cp < 0x800)
        u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 63)), k = 2;
    else if (cp < 0x10000)
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 63)),
        u[2] = (char)(0x80 | (cp & 63)), k = 3;
    else
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 63)),
        u[2] = (char)(0x80 | ((cp >> 6) & 63)), u[3] = (char)(0x80 | (cp & 63)), k = 4;
    return buf_put(b, u, k);
}

static int hex4(Parser *p, unsigned *out) {
    if (p->i + 4 > p->n) return perr(p, "truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i + k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return perr(p, "bad \\u escape");
        v = v * 16 + (unsigned)d;
    }
    p->i += 4;
    *out = v;
    return 0;
}

// \uXXXX after the backslash and 'u': a surrogate pair becomes one code point; a lone
// surrogate becomes U+FFFD (it cannot be written as UTF-8).
static int unicode_escape(Parser *p, Buf *b) {
    unsigned cp;
    if (hex4(p, &cp)) return -1;
    if (cp >= 0xD800 && cp < 0xDC00 && p->i + 6 <= p->n && p->s[p->i] == '\\' &&
        p->s[p->i + 1] == 'u') {
        size_t save = p->i;
        unsigned lo;
        p->i += 2;
        if (hex4(p, &lo)) return -1;
        if (lo >= 0xDC00 && lo < 0xE000)
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        else
            p->i = save;
    }
    if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
    return utf8_put(b, cp) ? perr(p, "out of memory") : 0;
}

static int parse_string(Parser *p, char **out, size_t *len) {
    Buf b = {0};
    if (buf_put(&b, "", 0)) return perr(p, "out of memory");
    p->i++; // opening quote
    for (;;) {
        if (p->i >= p->n) {
            free(b.b);
            return perr(p, "unterminated string");
        }
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') break;
        if (c < 0x20) {
            free(b.b);
            return perr(p, "control character in string");
        }
        size_t run = p->i;
        while (run < p->n && p->s[run] != '"' && p->s[run] != '\\' &&
               (unsigned char)p->s[run] >= 0x20)
            run++;
        if (run > p->i) {
            if (buf_put(&b, p->s + p->i, run - p->i)) {
                free(b.b);
                return perr(p, "out of memory");
            }
            p->i = run;
            continue;
        }
        p->i++; // the backslash
        if (p->i >= p->n) {
            free(b.b);
            return perr(p, "unterminated string");
        }
        char e = p->s[p->i++], ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u':
            if (unicode_escape(p, &b)) {
                free(b.b);
                return -1;
            }
            continue;
        default: {
            char pc[8];
            p->i--;
            free(b.b);
            return perr(p, "bad escape '\\%s'", printable(pc, sizeof pc, &e, 1));
        }
        }
        if (buf_put(&b, &ch, 1)) {
            free(b.b);
            return perr(p, "out of memory");
        }
    }
    p->i++; // closing quote
    *out = b.b;
    *len = b.len;
    return 0;
}

// ---- numbers and literals --------------------------------------------------------------------

static int digits(Parser *p) {
    size_t from = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    return p->i > from;
}

static int parse_number(Parser *p, JsonValue *v) {
    size_t from = p->i;
    if (p->s[p->i] == '-') p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (!digits(p))
        return perr(p, "bad number");
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!digits(p)) return perr(p, "bad number");
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        if (!digits(p)) return perr(p, "bad number");
    }
    char tmp[64];
    size_t len = p->i - from;
    if (len >= sizeof tmp) return perr(p, "number too long");
    memcpy(tmp, p->s + from, len);
    tmp[len] = 0;
    v->type = JSON_NUMBER;
    v->number = strtod(tmp, NULL);
    // 1e999 is valid JSON but no double: as inf it would be written back as "inf", which is
    // not JSON (a merged report could not be read again). Underflow to 0 is harmless.
    if (!isfinite(v->number)) return perr(p, "number out of range");
    return 0;
}

static int literal(Parser *p, const char *word) {
    size_t k = strlen(word);
    if (p->i + k > p->n || memcmp(p->s + p->i, word, k)) return perr(p, "unexpected character");
    p->i += k;
    return 0;
}

// ---- containers ------------------------------------------------------------------------------

static int parse_value(Parser *p, JsonValue *v, int depth);

static int grow(JsonValue *v, int with_keys) {
    JsonValue *it = realloc(v->items, (size_t)(v->n + 1) * sizeof *it);
    if (!it) return -1;
    v->items = it;
    memset(&it[v->n], 0, sizeof *it);
    if (with_keys) {
        char **k = realloc(v->keys, (size_t)(v->n + 1) * sizeof *k);
        if (!k) return -1;
        v->keys = k;
        k[v->n] = NULL;
    }
    v->n++;
    return 0;
}

// Arrays and objects share the loop: `close` is ']' or '}', and objects read "key": first.
static int parse_container(Parser *p, JsonValue *v, int depth, char close) {
    int obj = close == '}';
    v->type = obj ? JSON_OBJECT : JSON_ARRAY;
    if (depth >= JSON_MAX_DEPTH) return perr(p, "nested deeper than %d", JSON_MAX_DEPTH);
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (grow(v, obj)) return perr(p, "out of memory");
        if (obj) {
            size_t klen;
            if (p->i >= p->n || p->s[p->i] != '"') return perr(p, "expected a string key");
            if (parse_string(p, &v->keys[v->n - 1], &klen)) return -1;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') return perr(p, "expected ':'");
            p->i++;
        }
        if (parse_value(p, &v->items[v->n - 1], depth + 1)) return -1;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        return perr(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(Parser *p, JsonValue *v, int depth) {
    skip_ws(p);
    if (p->i >= p->n) return perr(p, "unexpected end of input");
    char c = p->s[p->i];
    switch (c) {
    case '{': return parse_container(p, v, depth, '}');
    case '[': return parse_container(p, v, depth, ']');
    case '"': v->type = JSON_STRING; return parse_string(p, &v->str, &v->len);
    case 't':
        v->type = JSON_BOOL;
        v->boolean = 1;
        return literal(p, "true");
    case 'f': v->type = JSON_BOOL; return literal(p, "false");
    case 'n': v->type = JSON_NULL; return literal(p, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
        char pc[8];
        return perr(p, "unexpected character '%s'", printable(pc, sizeof pc, &c, 1));
    }
}

int json_parse(const char *text, size_t n, JsonValue *out, char *err, size_t errlen) {
    Parser p = {.s = text, .n = n, .err = err, .errlen = errlen};
    memset(out, 0, sizeof *out);
    int rc = parse_value(&p, out, 0);
    if (!rc) {
        skip_ws(&p);
        if (p.i < p.n) rc = perr(&p, "unexpected text after the value");
    }
    if (rc) json_free(out);
    return rc;
}

void json_free(JsonValue *v) {
    for (int i = 0; i < v->n; i++) {
        if (v->items) json_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

const JsonValue *json_get(const JsonValue *v, const char *key) {
    if (!v || v->type != JSON_OBJECT) return NULL;
    for (int i = v->n - 1; i >= 0; i--)
        if (v->keys[i] && !strcmp(v->keys[i], key)) return &v->items[i];
    return NULL;
}

double json_num(const JsonValue *v, const char *key, double dflt) {
    const JsonValue *m = json_get(v, key);
    return m && m->type == JSON_NUMBER ? m->number : dflt;
}

double json_num_or_null(const JsonValue *v, const char *key, double dflt, double if_null) {
    const JsonValue *m = json_get(v, key);
    return m && m->type == JSON_NULL ? if_null : json_num(v, key, dflt);
}

const char *json_string(const JsonValue *v, const char *key) {
    const JsonValue *m = json_get(v, key);
    return m && m->type == JSON_STRING ? m->str : NULL;
}
