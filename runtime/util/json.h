// json.h - writing JSON strings and numbers (the escaping chorus needs for --json and reports).
#pragma once
#include <stddef.h>
#include <stdio.h>

// Writes s[0..n) as a JSON string literal: quotes, escapes for ", \ and control characters;
// bytes that are not valid UTF-8 become U+FFFD so the output is always valid JSON.
void json_str_n(FILE *f, const char *s, size_t n);
void json_str(FILE *f, const char *s); // NULL writes null
// Writes v with the printf format fmt (one double), or null where v is NaN or infinite: JSON
// has no such numbers, and "nan" or "-inf" in the output would make it unreadable.
void json_num_fmt(FILE *f, const char *fmt, double v);
