// json.h - writing JSON strings (the only escaping chorus needs for --json and reports).
#pragma once
#include <stddef.h>
#include <stdio.h>

// Writes s[0..n) as a JSON string literal: quotes, escapes for ", \ and control characters;
// bytes that are not valid UTF-8 become U+FFFD so the output is always valid JSON.
void json_str_n(FILE *f, const char *s, size_t n);
void json_str(FILE *f, const char *s); // NULL writes null
