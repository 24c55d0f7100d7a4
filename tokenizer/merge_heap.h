// merge_heap.h - the priority queue both BPE flavours merge with: candidates for merging two
// adjacent symbols, best first. Best = smallest key (BPE: merge rank; SentencePiece: -score),
// ties broken by the leftmost position, which is the order llama.cpp merges in. Each merge
// pops one candidate and pushes at most two, so a word of n symbols costs O(n log n).
#pragma once
#include <stdlib.h>

typedef struct {
    double key;      // smaller merges first
    int left, right; // symbol indices
    int aux;         // BPE: merged token id; SPM: byte length of the merged text
} MergeCand;

typedef struct {
    MergeCand *a; // [cap], heap-ordered in a[0..n)
    int n, cap;
} MergeHeap;

static inline int mh_less(const MergeCand *x, const MergeCand *y) {
    return x->key < y->key || (x->key == y->key && x->left < y->left);
}

static inline int mh_push(MergeHeap *h, MergeCand c) {
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 64;
        MergeCand *a = (MergeCand *)realloc(h->a, (size_t)cap * sizeof(MergeCand));
        if (!a) return -1;
        h->a = a;
        h->cap = cap;
    }
    int i = h->n++;
    while (i > 0) { // sift up
        int p = (i - 1) / 2;
        if (!mh_less(&c, &h->a[p])) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = c;
    return 0;
}

static inline MergeCand mh_pop(MergeHeap *h) {
    MergeCand top = h->a[0], last = h->a[--h->n];
    int i = 0;
    for (;;) { // sift the last element down from the root
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && mh_less(&h->a[c + 1], &h->a[c])) c++;
        if (!mh_less(&h->a[c], &last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n > 0) h->a[i] = last;
    return top;
}
