// kvcache.c - allocation and accounting of prefix and chain sequences (see kvcache.h).
#include "model/kvcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kv_init(KVCache *kv, int n_layers, int n_kv_heads, int head_dim, int max_seqs,
            size_t limit_bytes) {
    memset(kv, 0, sizeof *kv);
    kv->n_layers = n_layers;
    kv->n_kv_heads = n_kv_heads;
    kv->head_dim = head_dim;
    kv->kv_dim = n_kv_heads * head_dim;
    kv->max_seqs = max_seqs;
    kv->limit_bytes = limit_bytes;
    kv->half = 1;
    kv->seqs = calloc(max_seqs, sizeof(KVSeq));
    return kv->seqs ? 0 : -1;
}

int kv_set_half(KVCache *kv, int half) {
    if (kv->half == half) return 0;
    for (int i = 0; i < kv->max_seqs; i++)
        if (kv->seqs[i].in_use) return -1;
    kv->half = half;
    return 0;
}

// Frees a sequence's storage and slot (children first: a child's free may release its parent).
static void seq_release(KVCache *kv, int id);

void kv_free(KVCache *kv) {
    for (int i = 0; i < kv->max_seqs && kv->seqs; i++)
        if (kv->seqs[i].in_use && kv->seqs[i].parent >= 0) seq_release(kv, i);
    for (int i = 0; i < kv->max_seqs && kv->seqs; i++)
        if (kv->seqs[i].in_use) seq_release(kv, i);
    free(kv->seqs);
    memset(kv, 0, sizeof *kv);
}

void kv_set_store(KVCache *kv, const KVStore *store) {
    kv->store = *store;
}

// Bytes a sequence of capacity `cap` holds: values for cap tokens, keys for cap rounded up to
// whole 16-token tiles (CPU storage), or what the backend's storage says.
static size_t seq_bytes(const KVCache *kv, int cap) {
    if (kv->store.alloc) return kv->store.seq_bytes(kv->store.ctx, cap);
    return ((size_t)cap + kv_cap16(cap)) * (kv_token_bytes(kv) / 2);
}

// The CPU storage of sequence s: keys zeroed, values not. 0, or -1 + err.
static int cpu_alloc(const KVCache *kv, KVSeq *s, int cap, size_t bytes, char *err, size_t errlen) {
    // Keys are padded to whole 16-token tiles; zeroed so that the unused keys of a last tile,
    // which the attention reads into dropped columns, are never garbage.
    const size_t v_bytes = (size_t)cap * (kv_token_bytes(kv) / 2), k_bytes = bytes - v_bytes;
    s->k = calloc(1, k_bytes ? k_bytes : 1);
    s->v = malloc(v_bytes ? v_bytes : 1);
    if (!s->k || !s->v) {
        free(s->k);
        free(s->v);
        s->k = s->v = NULL;
        snprintf(err, errlen, "KV cache: out of memory allocating %zu bytes for %d tokens", bytes,
                 cap);
        return -1;
    }
    return 0;
}

int kv_seq_new(KVCache *kv, int parent, int cap, char *err, size_t errlen) {
    int id = -1;
    for (int i = 0; i < kv->max_seqs; i++)
        if (!kv->seqs[i].in_use) {
            id = i;
            break;
        }
    if (id < 0) {
        snprintf(err, errlen, "KV cache: all %d sequence slots are in use", kv->max_seqs);
        return -1;
    }
    if (cap < 0) {
        snprintf(err, errlen, "KV cache: capacity %d is negative", cap);
        return -1;
    }
    if (parent >= 0 && (parent >= kv->max_seqs || !kv->seqs[parent].in_use ||
                        kv->seqs[parent].parent >= 0 || kv->seqs[parent].released)) {
        snprintf(err, errlen, "KV cache: parent %d is not a live prefix sequence", parent);
        return -1;
    }
    const size_t bytes = seq_bytes(kv, cap);
    if (kv->limit_bytes && kv->bytes_reserved + bytes > kv->limit_bytes) {
        snprintf(err, errlen,
                 "KV cache: %zu more bytes needed for %d tokens but only %zu of the %zu-byte limit "
                 "are free",
                 bytes, cap, kv->limit_bytes - kv->bytes_reserved, kv->limit_bytes);
        return -1;
    }
    KVSeq *s = &kv->seqs[id];
    if (kv->store.alloc ? kv->store.alloc(kv->store.ctx, id, cap, err, errlen)
                        : cpu_alloc(kv, s, cap, bytes, err, errlen))
        return -1;
    s->in_use = 1;
    s->parent = parent;
    s->n_prefix = parent >= 0 ? kv->seqs[parent].n_prefix + kv->seqs[parent].len : 0;
    s->len = 0;
    s->cap = cap;
    s->n_children = 0;
    s->released = 0;
    if (parent >= 0) kv->seqs[parent].n_children++;
    kv->bytes_reserved += bytes;
    return id;
}

static void seq_release(KVCache *kv, int id) {
    KVSeq *s = &kv->seqs[id];
    const int parent = s->parent;
    kv->bytes_reserved -= seq_bytes(kv, s->cap);
    if (kv->store.alloc) {
        kv->store.release(kv->store.ctx, id);
    } else {
        free(s->k);
        free(s->v);
    }
    memset(s, 0, sizeof *s);
    if (parent >= 0) {
        KVSeq *p = &kv->seqs[parent];
        if (--p->n_children == 0 && p->released) seq_release(kv, parent);
    }
}

void kv_seq_free(KVCache *kv, int id) {
    if (id < 0 || id >= kv->max_seqs) return;
    KVSeq *s = &kv->seqs[id];
    if (!s->in_use || s->released) return;
    if (s->n_children > 0) {
        s->released = 1; // chains still read it: it goes with the last of them
        return;
    }
    seq_release(kv, id);
}

size_t kv_bytes_used(const KVCache *kv) {
    size_t tokens = 0;
    for (int i = 0; i < kv->max_seqs; i++)
        if (kv->seqs[i].in_use) tokens += kv->seqs[i].len;
    return tokens * kv_token_bytes(kv);
}
