// kernels.h - the C API of chorus's CUDA kernels (extern "C", callable from C11).
//
// Every launcher takes DEVICE pointers and a stream, checks its shapes, launches, and returns
// the launch error (cudaSuccess, or cudaErrorInvalidValue for a bad shape). Nothing here
// synchronizes. bf16 tensors are passed as raw uint16_t bits (C has no bf16 type).
//
// Names: X_cuda is the GPU version of the CPU function X, its reference in the tests and in the
// kernel lab (kernels/dev/): C has one namespace, and both link the two. The CPU twins:
// clang-format off
//   embed, rmsnorm, swiglu               runtime/cpu/ops.h
//   rope_qkv_store                       runtime/cpu/fused.h (the CPU pieces composed as fused here)
//   attention_partial, attention_merge   runtime/cpu/attention.c: the two phases of `attention`
//                                        (attention.h), the whole the tests compare against
//   sample, token_confidence             sampler/sampler.h (one row per call)
//   f32_to_bf16                          runtime/model/quant.h (one value per call)
//   matmul                               runtime/cpu/ops.h; on the GPU matmul_cuda in
//                                        runtime/cuda/forward.c, on cuBLAS
// clang-format on
// attention_prepare_cuda computes nothing (it sets a kernel attribute), so it has no twin.
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "kernel_types.h" // RowKV, AttnItem, AttnSplit, AttnPlan (SampleRow: sampler.h)

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
// qkv rows hold [q (n_heads*hd) | k (kv_dim) | v (kv_dim)] f32 from the fused QKV matmul.
// Adds the biases, norms q and k per head, rotates q in place and k (RopeParams), and stores
// k and v as bf16 into rows[i]'s sequence at `layer`.  qkv: [n, n_heads*hd + 2*kv_dim] f32
cudaError_t rope_qkv_store_cuda(float *qkv, const RowKV *rows, int n, int layer, int n_heads,
                                int n_kv_heads, int head_dim, const RopeParams *rp, cudaStream_t s);

// ---- attention.cu --------------------------------------------------------------------------
// Partial softmax results per source of keys, merged with log-sum-exp (kernel_types.h).
// Opens the kernel's shared memory past 48 KB where the shape needs it. Call once before any
// graph capture (the launchers call it too, which is a no-op once done).
cudaError_t attention_prepare_cuda(int n_heads, int n_kv_heads, int head_dim);
// Partial attention of the items at `layer`. Grid (max_items, n_kv_heads, max_splits); the
// counts actually used come from *split (device). Key range of split z: [z*split_len,
// (z+1)*split_len) intersected with [0, lim[row]). For every row of every item and split z:
//   part_o[(part0 + z), row, head, :] = sum_t exp(s_t - m) v_t  (unnormalised)
//   part_ml[(part0 + z), row, head] = (m, l = sum_t exp(s_t - m)); l = 0 when no key.
//   q: row i at q + i*q_stride: [n_heads, hd] f32 (already rotated); lim: [n] keys of this
//   source row i sees; part_o: [n_parts, n, n_heads, hd] f32; part_ml: [n_parts, n, n_heads, 2].
// head_dim must be 32, 64, 96 or 128; n_rows * (n_heads/n_kv_heads) <= ATTN_MAX_QVECS per item.
cudaError_t attention_partial_cuda(float *part_o, float *part_ml, const AttnSplit *split,
                                   int max_items, int max_splits, const float *q, int q_stride,
                                   const AttnItem *items, const int *row_idx, const int *lim, int n,
                                   int layer, int n_heads, int n_kv_heads, int head_dim,
                                   cudaStream_t s);
// out[i, h] = bf16(sum_p exp(m_p - M) o_p / sum_p exp(m_p - M) l_p) over row i's partials:
// the prefix parts of *plan (device) if lim_pre[i] > 0 (or lim_pre is NULL), then its own
// parts. Partials with l = 0 are empty; a NaN l or m makes the output NaN. A row with no key at
// all gets zeros.                                         out: [n, n_heads*hd] bf16
cudaError_t attention_merge_cuda(uint16_t *out, const float *part_o, const float *part_ml,
                                 const AttnPlan *plan, const int *lim_pre, int n, int n_heads,
                                 int head_dim, cudaStream_t s);

// ---- sample.cu -----------------------------------------------------------------------------
// One block per row: the semantics of sampler/sampler.h (temperature, top-k, top-p, min-p,
// draw with rng_uniform(seed, chain, step)); ids[i] the token, logprobs[i] its log-prob under
// log_softmax(logits[i]).   ids, logprobs: [n]; logits: [n, ld] f32 (ld >= vocab); args: [n]
// Only ids [0, vocab) of a row are candidates, for the draw and the log-prob alike: a padded
// vocabulary passes its tokenizer's token count as vocab and the embedding's rows as ld.
cudaError_t sample_cuda(int *ids, float *logprobs, const float *logits, const SampleRow *args,
                        int n, int vocab, int ld, cudaStream_t s);

// ---- confidence.cu -------------------------------------------------------------------------
// out[i] = token confidence and entropy of row i (sampler.h token_confidence; k = its
// args[i].p.conf_k, NaN when 0) over ids [0, vocab).  out: [n]; logits: [n, ld] f32; args: [n]
cudaError_t token_confidence_cuda(TokenConf *out, const float *logits, const SampleRow *args, int n,
                                  int vocab, int ld, cudaStream_t s);

// ---- convert.cu ----------------------------------------------------------------------------
// dst[i] = bf16(src[i]) (round to nearest even).       dst: [count] bf16; src: [count] f32
cudaError_t f32_to_bf16_cuda(uint16_t *dst, const float *src, int64_t count, cudaStream_t s);

#ifdef __cplusplus
}
#endif
