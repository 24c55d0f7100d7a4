// spm.c - SentencePiece-style BPE (tokenizer.ggml.model = "llama": Llama 2, TinyLlama, Mistral).
//
// There is no merge list: every token has a score, and the text (spaces already replaced by
// U+2581 '▁') starts as one symbol per UTF-8 character. Repeatedly, the adjacent pair whose
// concatenation is the highest-scoring token is merged. A final symbol that is not a token
// (a character outside the vocabulary) falls back to its bytes as <0xXX> tokens.
#include <string.h>

#include "merge_heap.h"
#include "tok_internal.h"
#include "unicode.h"

typedef struct {
    int start, len; // the symbol's bytes in the text; len 0 once merged into its left neighbour
    int prev, next; // neighbours, -1 at the ends
} SpmSym;

static int try_pair(const Tokenizer *t, const uint8_t *s, SpmSym *sym, MergeHeap *h, int l, int r) {
    if (l < 0 || r < 0) return 0;
    int len = sym[l].len + sym[r].len; // the pair is contiguous in the text
    int id = tok_lookup(t, (const char *)s + sym[l].start, (size_t)len);
    if (id < 0) return 0;
    return mh_push(h, (MergeCand){-(double)t->score[id], l, r, len});
}

static int emit_symbol(const Tokenizer *t, const uint8_t *s, const SpmSym *y, IntVec *out) {
    int id = tok_lookup(t, (const char *)s + y->start, (size_t)y->len);
    if (id >= 0) return intvec_push(out, id);
    for (int k = 0; k < y->len; k++) { // byte fallback
        int b = t->byte_tok[s[y->start + k]];
        if (intvec_push(out, b >= 0 ? b : t->unk)) return -1;
    }
    return 0;
}

int spm_encode(const Tokenizer *t, const uint8_t *s, size_t n, IntVec *out) {
    if (n == 0) return 0;
    SpmSym *sym = malloc(n * sizeof *sym); // [n] at most one symbol per byte
    MergeHeap h = {0};
    int rc = -1, ns = 0;
    if (!sym) return -1;
    // Characters by their lead byte's length alone, as llama.cpp splits them (no validation:
    // a broken sequence is one symbol that ends up as byte tokens).
    for (size_t i = 0; i < n; ns++) {
        size_t len = (size_t)uni_seq_len(s[i]);
        if (len > n - i) len = n - i;
        sym[ns] = (SpmSym){(int)i, (int)len, ns - 1, -1};
        if (ns > 0) sym[ns - 1].next = ns;
        i += len;
    }
    for (int i = 0; i + 1 < ns; i++)
        if (try_pair(t, s, sym, &h, i, i + 1)) goto done;
    while (h.n > 0) {
        MergeCand c = mh_pop(&h);
        SpmSym *l = &sym[c.left], *r = &sym[c.right];
        // stale: a side was merged since (lengths no longer add up to the candidate's)
        if (l->len == 0 || r->len == 0 || l->len + r->len != c.aux) continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = c.left;
        if (try_pair(t, s, sym, &h, l->prev, c.left) || try_pair(t, s, sym, &h, c.left, l->next))
            goto done;
    }
    for (int i = 0; i >= 0; i = sym[i].next)
        if (emit_symbol(t, s, &sym[i], out)) goto done;
    rc = 0;
done:
    free(sym);
    free(h.a);
    return rc;
}
