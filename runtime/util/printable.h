// printable.h - quoting bytes from files in one-line messages.
//
// Error messages name what they refuse: a GGUF key, a tensor, an architecture, a tokenizer, a
// template, a field of a task or report file. Those bytes come from the file, and a hostile
// file can hold a newline (which splits the one-line error), ANSI escape sequences (which
// reach the terminal), or megabytes (which drown it). Every message that quotes file content
// goes through printable(): the result is plain, bounded and unambiguous.
#pragma once
#include <stddef.h>

// Enough for any name worth showing; longer input is cut and ends in "...".
#define PRINTABLE_MAX 96

// Writes s[0..n) into out[cap] (cap >= 8) and returns out. Printable ASCII is copied, except
// '\' which is doubled; \n \t \r become those two-character escapes; other bytes below 0x20,
// 0x7F, the C1 controls U+0080..U+009F, and bytes that are not valid UTF-8 become \xNN; valid
// UTF-8 from U+00A0 up is kept. Output that would not fit is cut at a character boundary and
// ends in "...". NUL bytes inside s are escaped like any control byte.
const char *printable(char *out, size_t cap, const char *s, size_t n);
// The same for a NUL-terminated string (NULL prints as "(null)").
const char *printable_str(char *out, size_t cap, const char *s);
