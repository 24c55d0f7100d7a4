// pretok.c - pre-tokenization: splitting text into the words that BPE merges within.
//
// Each family is one regex in the model's tokenizer.json; llama.cpp uses these (we implement
// them by hand, scanning codepoints, as llama.cpp's custom splitters do):
//   gpt-2   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   smollm  first \p{N} (every digit becomes its own piece), then gpt-2 inside each piece
//   llama3  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//           | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   qwen2   as llama3 with \p{N} instead of \p{N}{1,3}
//   default llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT ("default" or no tokenizer.ggml.pre), four
//           regexes applied in stages, each splitting every piece of the stage before into its
//           matches and the unmatched parts between them (both kept):
//             [\p{P}\$\+<=>\^~\|]+   then the gpt-2 regex   then \p{N}+
//             then [0-9][0-9][0-9]   (leftmost, non-overlapping matches)
// A regex split is applied to a segment: lookaheads such as (?!\S) do not see past its end.
#include <stdbool.h>

#include "tok_internal.h"
#include "unicode.h"

typedef struct {
    const uint32_t *cps;
    size_t lo, hi; // the segment being split: cps[lo..hi)
    size_t *ends;  // output: word ends
    size_t n_words;
    size_t prev;       // end of the last word emitted
    bool split_digits; // "default": split every word further by \p{N}+ and [0-9]{3}
} Splitter;

static uint32_t cp_at(const Splitter *s, size_t i) {
    return i < s->hi ? s->cps[i] : 0xFFFFFFFFu;
}
// The letter / number / space classes (punctuation is not one of them here).
static int fl_at(const Splitter *s, size_t i) {
    return i < s->hi ? uni_flags(s->cps[i]) & (UNI_LETTER | UNI_NUMBER | UNI_SPACE) : 0;
}
// "Any codepoint at all": every codepoint inside the segment, none past its end.
static bool in_seg(const Splitter *s, size_t i) {
    return i < s->hi;
}

static void push(Splitter *s, size_t end) {
    s->ends[s->n_words++] = end;
}

static bool is_ascii_digit(uint32_t c) {
    return c >= '0' && c <= '9';
}

// The "default" stages 3 and 4 on the word cps[a..b): runs of \p{N} and the parts between them
// are pieces; within a run, each leftmost three ASCII digits in a row are a piece of their own.
static void split_numbers(Splitter *s, size_t a, size_t b) {
    const uint32_t *c = s->cps;
    for (size_t i = a; i < b;) {
        bool num = uni_flags(c[i]) & UNI_NUMBER;
        size_t j = i;
        while (j < b && !(uni_flags(c[j]) & UNI_NUMBER) == !num) j++;
        if (num) {
            size_t start = i;
            for (size_t k = i; k + 3 <= j;) {
                if (is_ascii_digit(c[k]) && is_ascii_digit(c[k + 1]) && is_ascii_digit(c[k + 2])) {
                    if (k > start) push(s, k);
                    push(s, k + 3);
                    start = k += 3;
                } else {
                    k++;
                }
            }
            if (j > start) push(s, j);
        } else {
            push(s, j);
        }
        i = j;
    }
}

static void emit(Splitter *s, size_t end) {
    if (end > s->prev) {
        if (s->split_digits)
            split_numbers(s, s->prev, end);
        else
            push(s, end);
    }
    s->prev = end;
}

static bool is_rn(uint32_t c) {
    return c == '\r' || c == '\n';
}
static uint32_t lower_ascii(uint32_t c) {
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

// 's 't 're 've 'm 'll 'd at i (i points at the apostrophe): returns the match length or 0.
static size_t contraction(const Splitter *s, size_t i, bool any_case) {
    if (cp_at(s, i) != '\'' || !in_seg(s, i + 1)) return 0;
    uint32_t a = cp_at(s, i + 1), b = in_seg(s, i + 2) ? cp_at(s, i + 2) : 0;
    if (any_case) a = lower_ascii(a), b = lower_ascii(b);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

// Whitespace run at i: \s+(?!\S) leaves the last space for the next word unless the run ends
// the segment; returns the end of the whitespace word.
static size_t space_run_end(const Splitter *s, size_t i) {
    size_t j = i;
    while (fl_at(s, j) & UNI_SPACE) j++;
    if (j - i > 1 && in_seg(s, j)) return j - 1;
    return j;
}

static void split_gpt2(Splitter *s) {
    size_t i = s->lo;
    while (i < s->hi) {
        size_t c = contraction(s, i, false);
        if (c) {
            emit(s, i += c);
            continue;
        }
        // " ?X+" where X is letters, numbers, or neither-space-letter-number
        size_t j = i + (cp_at(s, i) == ' ');
        int f = fl_at(s, j);
        if (in_seg(s, j) && (f & (UNI_LETTER | UNI_NUMBER))) {
            int cls = f & (UNI_LETTER | UNI_NUMBER);
            while (in_seg(s, j) && (fl_at(s, j) & cls)) j++;
            emit(s, i = j);
            continue;
        }
        if (in_seg(s, j) && !f) {
            while (in_seg(s, j) && !fl_at(s, j)) j++;
            emit(s, i = j);
            continue;
        }
        emit(s, i = space_run_end(s, i)); // i is whitespace here
    }
}

// llama3 / qwen2: max_digits is 3 or 1.
static void split_llama3(Splitter *s, int max_digits) {
    size_t i = s->lo;
    while (i < s->hi) {
        size_t c = contraction(s, i, true);
        if (c) {
            emit(s, i += c);
            continue;
        }
        uint32_t cp = cp_at(s, i);
        int f = fl_at(s, i);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (!is_rn(cp) && !(f & UNI_NUMBER) &&
            ((f & UNI_LETTER) || (fl_at(s, i + 1) & UNI_LETTER))) {
            size_t j = i + 1;
            while (fl_at(s, j) & UNI_LETTER) j++;
            emit(s, i = j);
            continue;
        }
        // \p{N}{1,max_digits}
        if (f & UNI_NUMBER) {
            size_t j = i;
            while ((fl_at(s, j) & UNI_NUMBER) && j - i < (size_t)max_digits) j++;
            emit(s, i = j);
            continue;
        }
        // " ?[^\s\p{L}\p{N}]+[\r\n]*"
        size_t j = i + (cp == ' ');
        if (in_seg(s, j) && !fl_at(s, j)) {
            while (in_seg(s, j) && !fl_at(s, j)) j++;
            while (is_rn(cp_at(s, j))) j++;
            emit(s, i = j);
            continue;
        }
        if (j > i && !in_seg(s, j)) { // a lone space at the end of the segment
            emit(s, i = j);
            continue;
        }
        // \s*[\r\n]+ : whitespace up to and including the last \r or \n of the run
        size_t k = i, last_rn = 0;
        while (fl_at(s, k) & UNI_SPACE) {
            if (is_rn(cp_at(s, k))) last_rn = k + 1;
            k++;
        }
        if (last_rn) {
            emit(s, i = last_rn);
            continue;
        }
        emit(s, i = space_run_end(s, i));
    }
}

// [\p{P}\$\+<=>\^~\|] (llama.cpp adds the ASCII symbols that are not category P).
static bool is_default_punct(uint32_t c) {
    return (uni_flags(c) & UNI_PUNCT) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' ||
           c == '^' || c == '~' || c == '|';
}

size_t pretok_split(PreType pre, const uint32_t *cps, size_t n, size_t *ends) {
    Splitter s = {cps, 0, n, ends, 0, 0, false};
    switch (pre) {
    case PRE_LLAMA3: split_llama3(&s, 3); break;
    case PRE_QWEN2: split_llama3(&s, 1); break;
    case PRE_GPT2: split_gpt2(&s); break;
    case PRE_SMOLLM: // each number codepoint is its own segment; gpt-2 within the others
        for (size_t i = 0; i < n;) {
            size_t j = i;
            if (uni_flags(cps[i]) & UNI_NUMBER)
                j = i + 1;
            else
                while (j < n && !(uni_flags(cps[j]) & UNI_NUMBER)) j++;
            s.lo = i, s.hi = j, s.prev = i;
            split_gpt2(&s);
            i = j;
        }
        break;
    case PRE_DEFAULT: // punctuation runs and the parts between them, gpt-2 within each
        s.split_digits = true;
        for (size_t i = 0; i < n;) {
            bool p = is_default_punct(cps[i]);
            size_t j = i + 1;
            while (j < n && is_default_punct(cps[j]) == p) j++;
            s.lo = i, s.hi = j, s.prev = i;
            split_gpt2(&s);
            i = j;
        }
        break;
    }
    return s.n_words;
}
