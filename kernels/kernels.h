// kernels.h - the C API of chorus's CUDA kernels (extern "C", callable from C11).
//
// Every launcher takes DEVICE pointers and a stream, checks its shapes, launches, and returns
// the launch error (cudaSuccess, or cudaErrorInvalidValue for a bad shape). Nothing here
// synchronizes. bf16 tensors are passed as raw uint16_t bits (C has no bf16 type).
//
// Names follow the CPU operations in runtime/ops.h and runtime/attention.h with a _cuda
// suffix (C has one namespace, and the tests link both).
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "sampler.h" // SamplerParams

#ifdef __cplusplus
extern "C" {
#endif

// ---- embed.cu ------------------------------------------------------------------------------
// x[i] = fp32(table[tokens[i]]).     x: [n, dim] f32; table: [vocab, dim] bf16; tokens: [n]
// Tokens outside [0, vocab) give a zero row (the host validates them first).
cudaError_t embed_cuda(float *x, const uint16_t *table, const int *tokens, int n, int dim,
                       int vocab, cudaStream_t s);

// ---- rmsnorm.cu ----------------------------------------------------------------------------
// out[i] = bf16(x[r] / rms(x[r]) * w), r = rows ? rows[i] : i.
//                                    out: [n, dim] bf16; x: [*, dim] f32; w: [dim] f32
cudaError_t rmsnorm_cuda(uint16_t *out, const float *x, const float *w, const int *rows, int n,
                         int dim, float eps, cudaStream_t s);

// ---- swiglu.cu -----------------------------------------------------------------------------
// out[i, j] = bf16(silu(gu[i, j]) * gu[i, hidden + j]): the gate and up projections come from
// one matmul with the two weights stacked.   out: [n, hidden] bf16; gu: [n, 2*hidden] f32
cudaError_t swiglu_cuda(uint16_t *out, const float *gu, int n, int hidden, cudaStream_t s);

// ---- rope.cu -------------------------------------------------------------------------------
// Where each batch row's key and value go: the row's own sequence storage.
typedef struct {
    uint16_t *k, *v; // layer-0 base of the sequence's K and V: [n_layers, cap, kv_dim] bf16
    int cap;         // tokens per layer in that storage
    int slot;        // the row's index inside it (its own-token index)
    int pos;         // the row's absolute position (RoPE angle)
} RowKV;
// qkv rows hold [q (n_heads*hd) | k (kv_dim) | v (kv_dim)] f32 from the fused QKV matmul.
// Rotates q in place (adjacent pairs, theta_j = pos * base^(-2j/hd)), rotates k, and stores
// k and v as bf16 into rows[i]'s sequence at `layer`.        qkv: [n, dim + 2*kv_dim] f32
cudaError_t rope_qkv_store_cuda(float *qkv, const RowKV *rows, int n, int layer, int n_heads,
                                int n_kv_heads, int head_dim, float base, cudaStream_t s);

// ---- attention.cu --------------------------------------------------------------------------
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
// Max query vectors (rows x query heads per KV head) one item may hold.
#define ATTN_MAX_QVECS 128
// Partial attention of `items` at `layer`. Key range of block z: [z*split_len, (z+1)*split_len)
// intersected with [0, lim[row]). Writes for every row of every item and every split z:
//   part_o[(part0 + z), row, head, :] = sum_t exp(s_t - m) v_t  (unnormalised)
//   part_ml[(part0 + z), row, head] = (m, l = sum_t exp(s_t - m)); l = 0 when no key.
//   q: row i at q + i*q_stride: [n_heads, hd] f32 (already rotated); lim: [n] keys of this source row i sees;
//   part_o: [n_parts, n, n_heads, hd] f32; part_ml: [n_parts, n, n_heads, 2] f32.
// head_dim must be a multiple of 32 and <= 128; n_rows * (n_heads/n_kv_heads) <= ATTN_MAX_QVECS.
cudaError_t attention_partial_cuda(float *part_o, float *part_ml, int part0, int n_splits,
                                   int split_len, const float *q, int q_stride,
                                   const AttnItem *items, int n_items, const int *row_idx, const int *lim, int n,
                                   int layer, int n_heads, int n_kv_heads, int head_dim,
                                   cudaStream_t s);
// out[i, h] = bf16(sum_p exp(m_p - M) o_p / sum_p exp(m_p - M) l_p) over the n_parts partials
// (those with l = 0 are empty). A row with no key at all gets zeros.   out: [n, n_heads*hd] bf16
cudaError_t attention_merge_cuda(uint16_t *out, const float *part_o, const float *part_ml,
                                 int n_parts, int n, int n_heads, int head_dim, cudaStream_t s);

// ---- sample.cu -----------------------------------------------------------------------------
typedef struct {
    SamplerParams p;
    uint64_t seed;
    uint32_t chain, step;
} SampleRow;
// One block per row: the semantics of sampler/sampler.h (temperature, top-k, top-p, min-p,
// draw with rng_uniform(seed, chain, step)); ids[i] the token, logprobs[i] its log-prob under
// log_softmax(logits[i]).   ids, logprobs: [n]; logits: [n, ld] f32 (ld >= vocab); args: [n]
// Only ids [0, vocab) of a row are candidates, for the draw and the log-prob alike: a padded
// vocabulary passes its tokenizer's token count as vocab and the embedding's rows as ld.
cudaError_t sample_cuda(int *ids, float *logprobs, const float *logits, const SampleRow *args,
                        int n, int vocab, int ld, cudaStream_t s);

// ---- convert.cu ----------------------------------------------------------------------------
// dst[i] = bf16(src[i]) (round to nearest even).       dst: [count] bf16; src: [count] f32
cudaError_t f32_to_bf16_cuda(uint16_t *dst, const float *src, int64_t count, cudaStream_t s);
// dst[i] = bf16(scale * (2u - 1)), u uniform in [0,1) from a hash of (seed, i): random weights
// generated on the device (no file, no host copy).          dst: [count] bf16
cudaError_t fill_random_bf16_cuda(uint16_t *dst, int64_t count, uint64_t seed, float scale,
                                  cudaStream_t s);
// dst[i] = value.                                        dst: [count] f32
cudaError_t fill_f32_cuda(float *dst, int64_t count, float value, cudaStream_t s);

#ifdef __cplusplus
}
#endif
