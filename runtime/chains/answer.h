// answer.h - pulling a chain's final answer out of its text, in a canonical form that votes can
// compare byte for byte ("1,234.50" and "$1234.5" are the same vote).
//
// Extraction, first rule that yields an answer wins (docs/design.md, "The controller"):
//   1. "####": the first number on the rest of the line after the LAST "####" (GSM8K's
//      format); if that line has no number, its text (if any).
//   2. "\boxed{...}": the content of the LAST \boxed{} with balanced braces (a truncated
//      one is ignored), normalised as a whole.
//   3. "answer is" (any case): the first number after its LAST occurrence; if an operator
//      (+ - * / x) follows that number, the expression is worked out ("The answer is
//      7 + 4 = 11.") and the answer is the first number after the next '=' on that line.
//   4. The last number in the text.
// Thinking models (Qwen3, DeepSeek-R1 distills) write "<think> ... </think>" before the answer:
// when the text has a "</think>", the rules run first on what follows the last one, and on the
// whole text only if that part has no answer (a chain cut off inside its thinking).
// With a regex (POSIX extended, see answer_regex_compile) only the regex is used: its LAST
// match in the text; the answer is capture group 1 if the pattern has groups and group 1
// took part in the match, else the whole match. No match means no answer.
//
// A number: an optional sign ('-', '+' or U+2212 minus, only where it does not follow a
// letter or digit, so "x-3" gives 3 and "5-3" gives 5 and 3), an optional '$' or '\$', digits
// with optional thousands groups (a comma followed by exactly three digits), an optional
// fraction ('.' then digits; ".5" counts), an optional '%' or '\%'. A number glued to a
// preceding letter or digit ("H2O", "step2") is not one.
// Canonical number: no sign for zero, '-' for negatives, no '+', no commas, '$' or '%', no
// leading zeros, no trailing fractional zeros and no bare '.': "1,234.50" -> "1234.5",
// "$18.00" -> "18", "-0.0" -> "0", "50%" -> "50", "007" -> "7".
// Other text (answer_normalize): surrounding whitespace and trailing periods removed, inner
// runs of whitespace collapsed to one space, case kept; if what is left is exactly one
// number, its canonical form.
#pragma once
#include <regex.h>
#include <stddef.h>

#define ANSWER_MAX       128        // a buffer this big holds any answer worth voting on
#define ANSWER_THINK_END "</think>" // the end of a thinking block (see above)

// Writes the normalised answer of text into out[cap]. Returns 1 if found, 0 if the text has
// no answer (or it does not fit in cap bytes with its terminator: a clipped answer could merge
// distinct votes, so it does not vote). out is "" when 0 is returned.
int answer_extract(const char *text, const regex_t *re_or_null, char *out, size_t cap);

// Normalises one raw answer string (see above). Returns 1 if out holds a non-empty answer,
// 0 if the result is empty or does not fit.
int answer_normalize(const char *raw, char *out, size_t cap);

// Compiles an --answer-regex (REG_EXTENDED). Returns 0, or -1 with a one-line reason in
// err[errcap] (nothing to free then). A compiled regex is released with regfree().
int answer_regex_compile(regex_t *re, const char *pattern, char *err, size_t errcap);
