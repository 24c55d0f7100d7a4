// bpe.c - byte-level BPE (GPT-2 style; tokenizer.ggml.model = "gpt2").
//
// Text is split into words (pretok.c); each word's UTF-8 bytes start as one symbol per byte,
// spelled with GPT-2's printable stand-in characters (byte 0x20 ' ' is 'Ġ', '\n' is 'Ċ').
// Then, repeatedly, the adjacent pair with the lowest merge rank is merged, until no pair in the
// word has a rank. Everything runs on token ids: a merge (left id, right id) -> (rank, merged
// id) table built once from tokenizer.ggml.merges ("Ġ t" = merge "Ġ" with "t").
#include <stdio.h>
#include <string.h>

#include "merge_heap.h"
#include "tok_stb.h"
#include "tok_internal.h"
#include "unicode.h"

// GPT-2's byte map: printable Latin-1 bytes (! .. ~, ¡ .. ¬, ® .. ÿ) stand for themselves; the
// other 68 bytes, in increasing order, take codepoints 256, 257, ...
static int byte_is_printable(int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t bpe_byte_to_cp(uint8_t b) {
    if (byte_is_printable(b)) return b;
    uint32_t n = 0;
    for (int i = 0; i < b; i++) n += !byte_is_printable(i);
    return 256 + n;
}

int bpe_cp_to_byte(uint32_t cp) {
    if (cp < 256) return byte_is_printable((int)cp) ? (int)cp : -1;
    uint32_t n = 256;
    for (int b = 0; b < 256; b++)
        if (!byte_is_printable(b) && n++ == cp) return b;
    return -1;
}

int bpe_load_merges(Tokenizer *t, const GGUFFile *f, char *err, size_t errlen) {
    const GGUFKV *kv = gguf_find(f, "tokenizer.ggml.merges");
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || !kv->arr_strings) {
        snprintf(err, errlen, "%s: tokenizer.ggml.merges missing or not a string array", f->path);
        return -1;
    }
    for (uint64_t r = 0; r < kv->arr_len; r++) {
        const GGUFString *m = &kv->arr_strings[r];
        // "left right"; the separator is the first space after the first byte
        const char *sp = m->len > 1 ? memchr(m->ptr + 1, ' ', m->len - 1) : NULL;
        if (!sp) continue;
        size_t ln = (size_t)(sp - m->ptr), rn = m->len - ln - 1;
        int l = tok_lookup(t, m->ptr, ln), rt = tok_lookup(t, sp + 1, rn);
        // The merged text must be a token too; merges whose parts or result are not in the
        // vocabulary could only ever produce unknown symbols, so they are left out.
        if (l < 0 || rt < 0) continue;
        // "left right" minus the space is the merged text: find it in place, space removed
        int merged = tok_lookup_pair(t, m->ptr, ln, sp + 1, rn);
        if (merged < 0) continue;
        uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)rt;
        ptrdiff_t tmp;
        MergeEntry *map = t->merges;
        if (map && (stbds_hmget_key_ts(map, sizeof *map, &key, sizeof key, &tmp, STBDS_HM_BINARY),
                    tmp >= 0))
            continue; // duplicate pair: the first (best) rank wins
        hmput(t->merges, key, (r << 32) | (uint32_t)merged);
    }
    return 0;
}

// Rank and merged id of the pair (l, r); 0 if they do not merge.
static int merge_find(const Tokenizer *t, int l, int r, int *rank, int *merged) {
    MergeEntry *map = t->merges;
    if (!map) return 0;
    uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
    ptrdiff_t i;
    stbds_hmget_key_ts(map, sizeof *map, &key, sizeof key, &i, STBDS_HM_BINARY);
    if (i < 0) return 0;
    *rank = (int)(map[i].value >> 32);
    *merged = (int)(uint32_t)map[i].value;
    return 1;
}

enum { SYM_DEAD = -1, SYM_NO_TOKEN = -2 };

typedef struct {
    int id;         // token id; SYM_DEAD once merged into its left neighbour; SYM_NO_TOKEN for a
                    // byte the vocabulary lacks (it never merges and, as in llama.cpp, is dropped)
    int prev, next; // neighbours in the word, -1 at the ends
} Sym;

typedef struct {
    Sym *sym;       // [cap] symbols of the current word
    uint8_t *bytes; // [cap] the current word's UTF-8 bytes
    size_t cap;
    MergeHeap heap;
} BpeWork;

static int push_pair(const Tokenizer *t, BpeWork *w, int l, int r) {
    int rank, merged;
    if (l < 0 || r < 0 || w->sym[l].id < 0 || w->sym[r].id < 0 ||
        !merge_find(t, w->sym[l].id, w->sym[r].id, &rank, &merged))
        return 0;
    return mh_push(&w->heap, (MergeCand){(double)rank, l, r, merged});
}

// Merges the word whose initial symbol ids are w->sym[0..n).id, then appends the result.
static int merge_word(const Tokenizer *t, BpeWork *w, int n, IntVec *out) {
    w->heap.n = 0;
    for (int i = 0; i < n; i++) w->sym[i].prev = i - 1, w->sym[i].next = i + 1 < n ? i + 1 : -1;
    for (int i = 0; i + 1 < n; i++)
        if (push_pair(t, w, i, i + 1)) return -1;
    while (w->heap.n > 0) {
        MergeCand c = mh_pop(&w->heap);
        Sym *l = &w->sym[c.left], *r = &w->sym[c.right];
        // stale candidate: one side has been merged away or changed since it was pushed
        if (l->id < 0 || r->id < 0 || l->next != c.right) continue;
        int rank, merged;
        if (!merge_find(t, l->id, r->id, &rank, &merged) || merged != c.aux) continue;
        l->id = c.aux;
        r->id = SYM_DEAD;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = c.left;
        if (push_pair(t, w, l->prev, c.left) || push_pair(t, w, c.left, l->next)) return -1;
    }
    for (int i = 0; i >= 0; i = w->sym[i].next)
        if (w->sym[i].id >= 0 && intvec_push(out, w->sym[i].id)) return -1;
    return 0;
}

// Llama 3 ("ignore_merges"): a word that is a token as a whole is emitted as that token.
static int whole_word_token(const Tokenizer *t, const uint8_t *bytes, int n) {
    if (n > t->max_text_len) return -1; // spelled in GPT-2 characters it is even longer
    char small[256], *buf = 2 * n <= (int)sizeof small ? small : malloc(2 * (size_t)n);
    if (!buf) return -1;
    int len = 0; // each byte's stand-in character is 1 or 2 bytes of UTF-8
    for (int i = 0; i < n; i++) len += uni_encode(bpe_byte_to_cp(bytes[i]), (uint8_t *)buf + len);
    int id = tok_lookup(t, buf, (size_t)len);
    if (buf != small) free(buf);
    return id;
}

static int encode_word(const Tokenizer *t, BpeWork *w, const uint32_t *cps, size_t n, IntVec *out) {
    if (w->cap < 4 * n) { // each codepoint is at most 4 bytes, one symbol per byte
        size_t cap = 4 * n > 64 ? 4 * n : 64;
        Sym *s = realloc(w->sym, cap * sizeof(Sym));
        if (s) w->sym = s;
        uint8_t *b = realloc(w->bytes, cap);
        if (b) w->bytes = b;
        if (!s || !b) return -1;
        w->cap = cap;
    }
    // the word's bytes, re-encoded from codepoints (invalid input became U+FFFD)
    int nb = 0;
    for (size_t i = 0; i < n; i++) nb += uni_encode(cps[i], w->bytes + nb);
    if (t->ignore_merges) {
        int id = whole_word_token(t, w->bytes, nb);
        if (id >= 0) return intvec_push(out, id);
    }
    for (int i = 0; i < nb; i++) {
        int id = t->byte_tok[w->bytes[i]];
        w->sym[i].id = id >= 0 ? id : SYM_NO_TOKEN;
    }
    return merge_word(t, w, nb, out);
}

int bpe_encode(const Tokenizer *t, const uint8_t *s, size_t n, IntVec *out) {
    if (n == 0) return 0;
    uint32_t *cps = malloc(n * sizeof *cps); // [n] at most one codepoint per byte
    size_t *ends = malloc(n * sizeof *ends); // [n] word ends
    BpeWork w = {0};
    int rc = -1;
    if (!cps || !ends) goto done;
    size_t ncp = 0;
    for (size_t pos = 0; pos < n;) cps[ncp++] = uni_decode(s, n, &pos);
    size_t nw = pretok_split(t->pre, cps, ncp, ends);
    size_t start = 0;
    for (size_t i = 0; i < nw; start = ends[i++])
        if (encode_word(t, &w, cps + start, ends[i] - start, out)) goto done;
    rc = 0;
done:
    free(cps);
    free(ends);
    free(w.sym);
    free(w.bytes);
    free(w.heap.a);
    return rc;
}
