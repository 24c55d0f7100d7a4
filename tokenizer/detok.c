// detok.c - streaming detokenization: token ids in, complete UTF-8 characters out.
//
// A character may be split over tokens (byte-level BPE spells rare characters byte by byte;
// SentencePiece falls back to <0xXX> byte tokens), so the bytes of an unfinished character are
// held in `pending` until its last byte arrives. Output concatenated over a stream equals the
// full decode (tokenizer_decode) of the same ids.
#include <string.h>

#include "tok_internal.h"
#include "unicode.h"

void detok_init(Detok *d, const Tokenizer *t) {
    memset(d, 0, sizeof *d);
    d->tok = t;
    d->strip_space = t->model == TOK_MODEL_SPM && t->add_space_prefix;
}

int detok_push(Detok *d, int id, char *out, int cap) {
    int len;
    const char *b = tokenizer_token_bytes(d->tok, id, &len);
    if (!b) b = "", len = 0; // an id without text (out of range) adds nothing
    if (d->strip_space && len > 0 && b[0] == ' ') b++, len--; // the stream's first piece only
    int total = d->n_pending + len;
    if (total > cap) return -total; // nothing consumed, strip_space included: call again
    d->strip_space = 0;
    memmove(out + d->n_pending, b, (size_t)len);
    memcpy(out, d->pending, (size_t)d->n_pending);
    int emit = (int)uni_complete_prefix((const uint8_t *)out, (size_t)total);
    d->n_pending = total - emit; // at most 3 bytes: an unfinished sequence
    memcpy(d->pending, out + emit, (size_t)d->n_pending);
    return emit;
}

int detok_flush(Detok *d, char *out, int cap) {
    int n = d->n_pending;
    if (n > cap) return -n;
    memcpy(out, d->pending, (size_t)n);
    d->n_pending = 0;
    return n;
}
