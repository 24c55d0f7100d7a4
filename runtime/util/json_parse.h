// json_parse.h - reading JSON into a small tree: task files (one flat object a line) and eval
// reports (chorus eval --merge). Strict RFC 8259: no comments, no trailing commas; strings
// are decoded (escapes, \uXXXX with surrogate pairs -> UTF-8); nesting is capped at
// JSON_MAX_DEPTH so hostile input cannot exhaust the stack; a number beyond double range
// (1e999) is an error, so every number read is finite.
#pragma once
#include <stddef.h>

#define JSON_MAX_DEPTH 64

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue {
    JsonType type;
    int boolean;
    double number;
    char *str; // JSON_STRING: decoded, NUL-terminated (len excludes the NUL)
    size_t len;
    struct JsonValue *items; // JSON_ARRAY / JSON_OBJECT: [n] values
    char **keys;             // JSON_OBJECT: [n] keys (decoded)
    int n;
} JsonValue;

// Parses text[0..n) as exactly one JSON value (surrounding whitespace allowed). Returns 0, or
// -1 with "column C: reason" in err (C counts bytes from 1). Free *out with json_free.
int json_parse(const char *text, size_t n, JsonValue *out, char *err, size_t errlen);
void json_free(JsonValue *v);

// The member `key` of an object (the last one if repeated), or NULL (also when v is not an
// object).
const JsonValue *json_get(const JsonValue *v, const char *key);
// Typed getters: the member's value if it exists with that type, else `dflt` / NULL.
double json_num(const JsonValue *v, const char *key, double dflt);
// The same, but `if_null` where the member is null (how chorus writes a number that is not
// finite: json.h's json_num_fmt).
double json_num_or_null(const JsonValue *v, const char *key, double dflt, double if_null);
const char *json_string(const JsonValue *v, const char *key);
