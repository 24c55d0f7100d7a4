// tokenizer.c - encoding entry point: special tokens first, then BPE or SentencePiece on the
// raw text between them; and the small accessors and the full decode.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // memmem
#endif
#include <string.h>

#include "tok_internal.h"

// A piece of the input: raw text s[off..off+len) still to encode, or one special token.
typedef struct {
    size_t off, len;
    int token; // -1 for raw text
} Frag;

typedef struct {
    Frag *a;
    size_t n, cap;
} FragVec;

static int frag_push(FragVec *v, Frag f) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        Frag *a = realloc(v->a, cap * sizeof *a);
        if (!a) return -1;
        v->a = a, v->cap = cap;
    }
    v->a[v->n++] = f;
    return 0;
}

// Splits every raw fragment at each occurrence of token id's text (leftmost first, not
// overlapping). Done for one special token after another, longest first, as llama.cpp does:
// so "<|im_start|>" wins over a shorter token inside it.
static int split_on(const Tokenizer *t, const char *s, int id, FragVec *in, FragVec *out) {
    const char *pat = t->text[id];
    size_t plen = (size_t)t->text_len[id];
    out->n = 0;
    for (size_t k = 0; k < in->n; k++) {
        Frag f = in->a[k];
        while (f.token < 0 && f.len >= plen) {
            const char *m = memmem(s + f.off, f.len, pat, plen);
            if (!m) break;
            size_t at = (size_t)(m - s);
            if (at > f.off && frag_push(out, (Frag){f.off, at - f.off, -1})) return -1;
            if (frag_push(out, (Frag){at, plen, id})) return -1;
            f.len -= at + plen - f.off;
            f.off = at + plen;
        }
        if ((f.token >= 0 || f.len > 0) && frag_push(out, f)) return -1;
    }
    return 0;
}

static int partition(const Tokenizer *t, const char *s, size_t len, int parse_special,
                     FragVec *res) {
    FragVec tmp = {0};
    res->n = 0;
    if (len > 0 && frag_push(res, (Frag){0, len, -1})) return -1;
    for (int k = 0; k < t->n_special && res->n > 0; k++) {
        int id = t->special[k];
        // without parse_special, only user-defined tokens are matched
        if (!parse_special && (t->attr[id] & (TA_CONTROL | TA_UNKNOWN))) continue;
        if (split_on(t, s, id, res, &tmp)) {
            free(tmp.a);
            return -1;
        }
        FragVec swap = *res;
        *res = tmp, tmp = swap;
    }
    free(tmp.a);
    return 0;
}

// SentencePiece fragment: optional leading space, then ' ' -> U+2581.
static int spm_fragment(const Tokenizer *t, const char *s, size_t len, int space, IntVec *out) {
    size_t spaces = (size_t)space;
    for (size_t i = 0; i < len; i++) spaces += s[i] == ' ';
    uint8_t *buf = malloc(len + 2 * spaces + 1); // each space grows from 1 to 3 bytes
    if (!buf) return -1;
    size_t n = 0;
    if (space) memcpy(buf, "\xE2\x96\x81", 3), n = 3;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ')
            memcpy(buf + n, "\xE2\x96\x81", 3), n += 3;
        else
            buf[n++] = (uint8_t)s[i];
    }
    int rc = spm_encode(t, buf, n, out);
    free(buf);
    return rc;
}

int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int parse_special,
                     int **ids_out) {
    FragVec frags = {0};
    IntVec out = {0};
    *ids_out = NULL;
    if (partition(t, text, len, parse_special, &frags)) goto fail;
    int prev_special = 1; // SentencePiece: a space prefix at the start and after a special token
    for (size_t k = 0; k < frags.n; k++) {
        Frag f = frags.a[k];
        int rc;
        if (f.token >= 0) {
            rc = intvec_push(&out, f.token);
            prev_special = 1;
        } else if (t->model == TOK_MODEL_SPM) {
            rc = spm_fragment(t, text + f.off, f.len, t->add_space_prefix && prev_special, &out);
            prev_special = 0;
        } else {
            rc = bpe_encode(t, (const uint8_t *)text + f.off, f.len, &out);
        }
        if (rc) goto fail;
    }
    free(frags.a);
    if (out.n > 0x7FFFFFFF) goto fail;
    *ids_out = out.a;
    return (int)out.n;
fail:
    free(frags.a);
    free(out.a);
    return -1;
}

size_t tokenizer_max_text_bytes(const Tokenizer *t, long n_tokens) {
    size_t per = (size_t)(t->max_text_len > 1 ? t->max_text_len : 1);
    if (t->model == TOK_MODEL_BPE) per *= 4;
    if (n_tokens <= 0) return 0;
    return (size_t)n_tokens > SIZE_MAX / per ? SIZE_MAX : (size_t)n_tokens * per;
}

int tokenizer_vocab_size(const Tokenizer *t) {
    return t->n_vocab;
}
int tokenizer_add_bos(const Tokenizer *t) {
    return t->add_bos && t->bos >= 0;
}
int tokenizer_bos(const Tokenizer *t) {
    return t->bos;
}
int tokenizer_eos(const Tokenizer *t) {
    return t->eos;
}
int tokenizer_max_token_bytes(const Tokenizer *t) {
    return t->max_bytes_len;
}

int tokenizer_is_eog(const Tokenizer *t, int id) {
    return id >= 0 && id < t->n_vocab && t->eog[id];
}

int tokenizer_is_control(const Tokenizer *t, int id) {
    return id >= 0 && id < t->n_vocab && (t->attr[id] & TA_CONTROL);
}

const char *tokenizer_token_bytes(const Tokenizer *t, int id, int *len) {
    if (id < 0 || id >= t->n_vocab) return *len = 0, NULL;
    *len = t->bytes_len[id];
    return t->bytes[id];
}

const char *tokenizer_token_text(const Tokenizer *t, int id, int *len) {
    if (id < 0 || id >= t->n_vocab) return *len = 0, NULL;
    *len = t->text_len[id];
    return t->text[id];
}

char *tokenizer_decode(const Tokenizer *t, const int *ids, int n, size_t *len_out) {
    size_t total = 1;
    for (int i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < t->n_vocab) total += (size_t)t->bytes_len[ids[i]];
    char *s = malloc(total), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < n; i++) {
        int len;
        const char *b = tokenizer_token_bytes(t, ids[i], &len);
        if (!b) continue;
        // SentencePiece adds a space before the text: the first piece's leading one is not
        // the user's. (Mirrors the prefix added in tokenizer_encode.)
        if (i == 0 && t->model == TOK_MODEL_SPM && t->add_space_prefix && len > 0 && b[0] == ' ')
            b++, len--;
        memcpy(p, b, (size_t)len);
        p += len;
    }
    *p = 0;
    if (len_out) *len_out = (size_t)(p - s);
    return s;
}
