// kernel_types.h - the plain C structs the CUDA kernels read from device memory, without any
// CUDA header: the host code that fills them (runtime/cuda/batch_plan.c) builds and is tested in
// the CPU-only build too. Pointers in them are DEVICE pointers (opaque to the host), except in
// the calls of the CPU twins (runtime/cpu/fused.h), which read RowKV and RopeParams on the host.
#pragma once
#include <stdint.h>

#include "sampler.h" // SamplerParams, SampleRow (sample.cu reads it), TokenConf

// Where each batch row's key and value go: the row's own sequence storage.
typedef struct {
    uint16_t *k, *v; // layer-0 base of the sequence's K and V: [n_layers, cap, kv_dim] bf16
    int cap;         // tokens per layer in that storage
    int slot;        // the row's index inside it (its own-token index)
    int pos;         // the row's absolute position (RoPE angle)
} RowKV;

// What the architectures do between the QKV matmul and the cache (kernels/rope.cu has the math;
// runtime/cpu/fused.h's rope_qkv_store, the CPU twin, reads the same struct with host pointers).
typedef struct {
    float base;           // rope.freq_base
    float linear;         // linear rope scaling: positions divided by it (<= 1: none)
    int neox;             // pairs (x[j], x[j + hd/2]) (qwen2, qwen3), else (x[2j], x[2j+1])
    const float *factors; // [hd / 2] device: rope frequency divisors (Llama 3.x), or NULL
    const float *bias;    // [n_heads*hd + 2*kv_dim] device: q|k|v biases (qwen2), or NULL
    const float *q_norm;  // [hd] device: per-head RMSNorm of q (qwen3), or NULL
    const float *k_norm;  // [hd] device: of k; set together with q_norm
    float eps;            // the norms' epsilon
} RopeParams;

// Attention is computed per *source* of keys (a prefix sequence, or a row's own sequence) as
// partial softmax results (m, l, o) that attention_merge_cuda combines (log-sum-exp). An
// item is a set of batch rows that read the same source; its K/V tile is loaded once into
// shared memory and used by every query head of every row in it (the prefix is read once per
// step for all chains of that prefix).
typedef struct {
    const uint16_t *k, *v; // layer-0 base of the source: [n_layers, cap, kv_dim] bf16
    int cap;               // tokens per layer in that storage
    int n_keys;            // keys of the source this item's rows can see (max over its rows)
    int row0, n_rows;      // the item's rows are row_idx[row0 .. row0 + n_rows)
} AttnItem;
// How one launch's blocks share the work. It lives in DEVICE memory and the kernels read it,
// so a launch's grid can stay fixed (a captured CUDA graph) while the counts change per step.
typedef struct {
    int n_items;   // items of this launch: blocks with blockIdx.x >= n_items return at once
    int n_splits;  // key splits: blocks with blockIdx.z >= n_splits return at once
    int split_len; // keys per split (a multiple of 32)
    int part0;     // the partial index split 0 writes (split z writes part0 + z)
} AttnSplit;
typedef struct {
    AttnSplit src[2]; // [0]: prefix sources, [1]: the rows' own sequences
} AttnPlan;
// Max query vectors (rows x query heads per KV head) one item may hold.
#define ATTN_MAX_QVECS 128
