// lookup.c - token text -> id through the vocabulary's hash (tok_internal.h): below both the
// loader (vocab.c: special tokens, byte tokens, the merges through bpe.c) and the encoders.
#include <stdlib.h>
#include <string.h>

#include "tok_stb.h"
#include "tok_internal.h"

int tok_lookup(const Tokenizer *t, const char *s, size_t n) {
    char small[256], *key = small;
    if (n > (size_t)t->max_text_len || !t->vocab) return -1;
    if (n >= sizeof small && !(key = malloc(n + 1))) return -1;
    memcpy(key, s, n);
    key[n] = 0;
    ptrdiff_t i;
    VocabEntry *map = t->vocab;
    stbds_hmget_key_ts(map, sizeof *map, key, sizeof map->key, &i, STBDS_HM_STRING);
    if (key != small) free(key);
    return i < 0 ? -1 : map[i].value;
}

int tok_lookup_pair(const Tokenizer *t, const char *a, size_t na, const char *b, size_t nb) {
    if (na + nb > (size_t)t->max_text_len) return -1;
    char small[256], *buf = na + nb <= sizeof small ? small : malloc(na + nb);
    if (!buf) return -1;
    memcpy(buf, a, na);
    memcpy(buf + na, b, nb);
    int id = tok_lookup(t, buf, na + nb);
    if (buf != small) free(buf);
    return id;
}
