// kvcache.h - K/V storage for shared prefixes and per-chain suffixes.
//
// A *sequence* is a run of tokens with their keys and values at every layer. A prompt is one
// sequence (no parent). A chain is a sequence whose parent is its prompt: the chain's own token j
// sits at position n_prefix + j, and attention for it reads the parent's first n_prefix tokens,
// then the chain's own tokens. The prefix is therefore stored once however many chains read it,
// and each chain stores only what it generated.
#pragma once
#include <stddef.h>

typedef struct {
    int in_use;
    int parent;   // id of the prefix sequence, or -1
    int n_prefix; // parent tokens visible to this sequence (= position of own token 0)
    int len;      // own tokens stored
    int cap;      // own capacity in tokens
    int n_children; // live sequences whose parent is this one (a prefix is freed after them)
    float *k, *v; // [n_layers, cap, kv_dim] each
} KVSeq;

typedef struct {
    int n_layers;
    int kv_dim;        // n_kv_heads * head_dim
    int max_seqs;
    KVSeq *seqs;       // [max_seqs]
    size_t bytes_reserved; // bytes allocated for all live sequences (cap)
    size_t limit_bytes;    // refuse allocations past this (0 = no limit)
} KVCache;

int kv_init(KVCache *kv, int n_layers, int kv_dim, int max_seqs, size_t limit_bytes);
void kv_free(KVCache *kv);
// New sequence of capacity `cap` tokens. With parent >= 0 it sees the parent's current tokens
// as its prefix. Returns its id, or -1 with a message (out of slots, or the bytes needed).
int kv_seq_new(KVCache *kv, int parent, int cap, char *err, size_t errlen);
void kv_seq_free(KVCache *kv, int id);
// Position the next token of `id` will take.
static inline int kv_seq_pos(const KVCache *kv, int id) {
    return kv->seqs[id].n_prefix + kv->seqs[id].len;
}
// Bytes holding tokens right now: every stored token once (prefixes are not counted per chain).
size_t kv_bytes_used(const KVCache *kv);
// Bytes of one token's K and V across all layers.
static inline size_t kv_token_bytes(const KVCache *kv) {
    return (size_t)2 * kv->n_layers * kv->kv_dim * sizeof(float);
}
static inline float *kv_k(const KVCache *kv, int id, int layer) {
    const KVSeq *s = &kv->seqs[id];
    return s->k + (size_t)layer * s->cap * kv->kv_dim;
}
static inline float *kv_v(const KVCache *kv, int id, int layer) {
    const KVSeq *s = &kv->seqs[id];
    return s->v + (size_t)layer * s->cap * kv->kv_dim;
}
