// kvcache.h - K/V storage for shared prefixes and per-chain suffixes.
//
// A *sequence* is a run of tokens with their keys and values at every layer. A prompt is one
// sequence (no parent). A chain is a sequence whose parent is its prompt: the chain's own token j
// sits at position n_prefix + j, and attention for it reads the parent's first n_prefix tokens,
// then the chain's own tokens. The prefix is therefore stored once however many chains read it,
// and each chain stores only what it generated.
//
// This file keeps the bookkeeping of sequences for every backend (slots, parents, children,
// lengths, byte accounting); a backend supplies only the storage. The CPU's storage is built
// in (below); the CUDA backend plugs in device storage with kv_set_store (KVStore).
//
// Lifetime: a prefix freed while chains still read it stays (storage and slot) until its last
// child is freed; it can take no new children meanwhile. Lengths advance only when a backend has
// finished a step (forward() after its last op; the CUDA step after the stream sync that
// reports faults), so a failed step stores nothing.
//
// Layout (CPU): values are token rows, V[layer][token][kv_dim]. Keys are stored already in the
// panel shape the attention's Q K^T product reads (gemm.h): per layer and KV head, tiles of 16
// tokens, each tile [head_dim][16] (element (d, token t0 + j) at d * 16 + j). Writing a key
// costs a strided store once; reading 16 keys as a panel then needs no transpose, every step.
// Both are stored as fp16 (IEEE half, rounded to nearest even) with the default int8 numerics,
// as the GPU and llama.cpp store them: half the bytes a long generation's attention reads; and
// as fp32 with `--numerics f32`, the exact reference (kv->half). The math on them is fp32.
#pragma once
#include "model/quant.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    int in_use;
    int parent;     // id of the prefix sequence, or -1
    int n_prefix;   // parent tokens visible to this sequence (= position of own token 0)
    int len;        // own tokens stored
    int cap;        // own capacity in tokens
    int n_children; // live sequences whose parent is this one (a prefix is freed after them)
    int released;   // freed by its owner while children still read it: goes with the last child
    void *k; // [n_layers, n_kv_heads, cap16 / 16, head_dim, 16], cap16 = cap rounded up to 16
    void *v; // [n_layers, cap, kv_dim]; both fp16 (kv->half) or fp32
} KVSeq;

#define KV_TILE 16 // tokens per key tile

// Storage a backend supplies in place of the CPU's (kvcache.c keeps the bookkeeping).
typedef struct {
    void *ctx;
    size_t token_bytes;                      // one token's K and V over all layers
    size_t (*seq_bytes)(void *ctx, int cap); // bytes a sequence of cap tokens reserves
    // Storage for sequence `id` of `cap` tokens: 0, or -1 + a one-line message.
    int (*alloc)(void *ctx, int id, int cap, char *err, size_t errlen);
    void (*release)(void *ctx, int id);
} KVStore;

typedef struct {
    int n_layers;
    int n_kv_heads, head_dim;
    int kv_dim; // n_kv_heads * head_dim
    int max_seqs;
    KVSeq *seqs;           // [max_seqs]
    size_t bytes_reserved; // bytes allocated for all live sequences (cap)
    size_t limit_bytes;    // refuse allocations past this (0 = no limit)
    int half;              // 1: K and V stored as fp16 (the default), 0: as fp32 (CPU storage)
    KVStore store; // a backend's storage (store.alloc == NULL: the CPU storage of this file)
} KVCache;

int kv_init(KVCache *kv, int n_layers, int n_kv_heads, int head_dim, int max_seqs,
            size_t limit_bytes);
void kv_free(KVCache *kv);
// Replaces the CPU storage with a backend's (before any sequence exists).
void kv_set_store(KVCache *kv, const KVStore *store);
// New sequence of capacity `cap` tokens. With parent >= 0 it sees the parent's current tokens
// as its prefix. Returns its id, or -1 with a message (out of slots, or the bytes needed).
int kv_seq_new(KVCache *kv, int parent, int cap, char *err, size_t errlen);
// Frees a sequence; a prefix with live children is only marked released (see above).
void kv_seq_free(KVCache *kv, int id);
// Position the next token of `id` will take.
static inline int kv_seq_pos(const KVCache *kv, int id) {
    return kv->seqs[id].n_prefix + kv->seqs[id].len;
}
// Bytes holding tokens right now: every stored token once (prefixes are not counted per chain).
size_t kv_bytes_used(const KVCache *kv);
// Bytes of one stored K or V element.
static inline size_t kv_elem_bytes(const KVCache *kv) {
    return kv->half ? 2 : 4;
}
// Bytes of one token's K and V across all layers.
static inline size_t kv_token_bytes(const KVCache *kv) {
    if (kv->store.alloc) return kv->store.token_bytes;
    return (size_t)2 * kv->n_layers * kv->kv_dim * kv_elem_bytes(kv);
}
// Sets the element type (fp16 or fp32); 0, or -1 if sequences of the other type exist.
int kv_set_half(KVCache *kv, int half);
static inline int kv_cap16(int cap) {
    return (cap + KV_TILE - 1) / KV_TILE * KV_TILE;
}
// The key tile holding own tokens t0 .. t0 + 15 (t0 a multiple of 16) of KV head kvh:
// [head_dim, 16] elements, a gemm panel with ldp = 16 (in fp32; tiles follow each other: tile
// t0 + 16 is 16 * head_dim elements further on).
static inline void *kv_k_tile(const KVCache *kv, int id, int layer, int kvh, int t0) {
    const KVSeq *s = &kv->seqs[id];
    const size_t per_head = (size_t)kv_cap16(s->cap) * kv->head_dim;
    return (char *)s->k +
           (((size_t)layer * kv->n_kv_heads + kvh) * per_head + (size_t)t0 * kv->head_dim) *
               kv_elem_bytes(kv);
}
// Value rows of `layer`: [cap, kv_dim] elements.
static inline void *kv_v(const KVCache *kv, int id, int layer) {
    const KVSeq *s = &kv->seqs[id];
    return (char *)s->v + (size_t)layer * s->cap * kv->kv_dim * kv_elem_bytes(kv);
}
// Stores own token `slot` of sequence id at `layer` (rounded to fp16 if kv->half):
// k, v: [kv_dim] fp32 (heads in order).
static inline void kv_put(const KVCache *kv, int id, int layer, int slot, const float *k,
                          const float *v) {
    const int hd = kv->head_dim, t0 = slot / KV_TILE * KV_TILE, j = slot % KV_TILE;
    const size_t vrow = (size_t)slot * kv->kv_dim;
    if (!kv->half) {
        for (int h = 0; h < kv->n_kv_heads; h++) {
            float *tile = (float *)kv_k_tile(kv, id, layer, h, t0) + j;
            for (int d = 0; d < hd; d++) tile[d * KV_TILE] = k[h * hd + d];
        }
        memcpy((float *)kv_v(kv, id, layer) + vrow, v, sizeof(float) * kv->kv_dim);
        return;
    }
    uint16_t kh[1024]; // one head's key (head_dim is at most 1024: checked at load)
    for (int h = 0; h < kv->n_kv_heads; h++) {
        uint16_t *tile = (uint16_t *)kv_k_tile(kv, id, layer, h, t0) + j;
        f32_to_fp16_n(kh, k + h * hd, hd);
        for (int d = 0; d < hd; d++) tile[d * KV_TILE] = kh[d];
    }
    f32_to_fp16_n((uint16_t *)kv_v(kv, id, layer) + vrow, v, kv->kv_dim);
}
