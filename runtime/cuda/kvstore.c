// cuda/kvstore.c - KV storage on the device for kvcache.c (the CUDA build).
//
// kvcache.c keeps the sequence table (parents, children, lengths, byte accounting, the deferred
// free of a prefix that chains still read); this file only allocates and frees each sequence's
// K and V: [n_layers, cap, kv_dim] bf16 each, the layout the kernels index (rope.cu writes a
// row at ((layer * cap + slot) * kv_dim), attention.cu reads tiles of it).
//
// Freeing: cudaFree waits for the device, and forward_cuda synchronises at the end of every
// step anyway, so no kernel can still be reading storage freed between steps.
#include "cuda/forward_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t seq_bytes(void *ctx, int cap) {
    const KvStoreCuda *st = ctx;
    return (size_t)cap * st->token_bytes;
}

static int seq_alloc(void *ctx, int id, int cap, char *err, size_t errlen) {
    KvStoreCuda *st = ctx;
    const size_t half = (size_t)cap * st->token_bytes / 2;             // K, then V
    cudaError_t e = cudaMalloc((void **)&st->k[id], half ? half : 16); // valid even when empty
    if (e == cudaSuccess) e = cudaMalloc((void **)&st->v[id], half ? half : 16);
    if (e == cudaSuccess) return 0;
    cudaGetLastError();
    cudaFree(st->k[id]);
    st->k[id] = st->v[id] = NULL;
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    snprintf(err, errlen,
             "KV cache: cannot allocate 2 x %zu device bytes for %d tokens (%s; %zu of %zu bytes "
             "free)",
             half, cap, cudaGetErrorString(e), free_b, total_b);
    return -1;
}

static void seq_release(void *ctx, int id) {
    KvStoreCuda *st = ctx;
    cudaFree(st->k[id]);
    cudaFree(st->v[id]);
    st->k[id] = st->v[id] = NULL;
}

int kvstore_cuda_init(KvStoreCuda *st, KVCache *kv, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    for (int i = 0; i < kv->max_seqs; i++)
        if (kv->seqs[i].in_use) {
            snprintf(err, errlen, "CUDA: the KV cache already holds sequences on the host");
            return -1;
        }
    st->max_seqs = kv->max_seqs;
    st->token_bytes = (size_t)2 * kv->n_layers * kv->kv_dim * sizeof(uint16_t);
    st->k = calloc((size_t)kv->max_seqs, sizeof *st->k);
    st->v = calloc((size_t)kv->max_seqs, sizeof *st->v);
    if (!st->k || !st->v) {
        free(st->k), free(st->v);
        st->k = st->v = NULL;
        snprintf(err, errlen, "out of host memory");
        return -1;
    }
    KVStore s = {st, st->token_bytes, seq_bytes, seq_alloc, seq_release};
    kv_set_store(kv, &s);
    return 0;
}

void kvstore_cuda_free(KvStoreCuda *st, KVCache *kv) {
    for (int i = 0; st->k && i < st->max_seqs; i++) seq_release(st, i);
    if (kv && kv->store.ctx == st) memset(&kv->store, 0, sizeof kv->store);
    free(st->k), free(st->v);
    memset(st, 0, sizeof *st);
}
