// forward_cuda.h - the transformer forward pass on one NVIDIA GPU (the CUDA build only).
//
// Same contract as forward.h: a batch is n rows, row i appends tokens[i] to KV sequence
// seqs[i] (rows of one sequence in order), and sequences follow kvcache.h's prefix model (a
// chain's own token j sits at position n_prefix + j and it reads its parent's first n_prefix
// tokens). Weights live on the device in bf16, the KV cache in bf16, activations in fp32 with
// bf16 copies where a matmul reads them. Logits stay on the device unless asked for.
#pragma once
#include "model.h"
#include "sampler.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct CudaForward CudaForward;

// 1 if a CUDA device can be used (driver present, at least one device), else 0.
int cuda_device_available(void);

// Uploads m's weights (dequantized to fp32 on the host, rounded to bf16) and allocates
// scratch for max_rows rows and max_seqs sequences; kv_limit_bytes (0 = none) bounds the
// device KV cache. NULL + a one-line message on failure (out of memory names the bytes).
// m must outlive the returned object only during this call (weights are copied).
CudaForward *cuda_forward_init(Model *m, int max_rows, int max_seqs, size_t kv_limit_bytes,
                               char *err, size_t errlen);
// Config of a named model shape for random weights: "llama2-7b". 0, or -1 if unknown.
int cuda_random_config(const char *name, Config *cfg);
// A model of shape cfg with random bf16 weights generated on the device from seed (no file).
CudaForward *cuda_forward_init_random(const Config *cfg, uint64_t seed, int max_rows,
                                      int max_seqs, size_t kv_limit_bytes, char *err,
                                      size_t errlen);
void cuda_forward_free(CudaForward *f);

const Config *cuda_forward_config(const CudaForward *f);
// The last error of cuda_forward / cuda_sample (one line).
const char *cuda_forward_error(const CudaForward *f);

// KV sequences (see kvcache.h): id, or -1 + err (no slot, bad parent, KV limit, device OOM).
int cuda_seq_new(CudaForward *f, int parent, int cap, char *err, size_t errlen);
void cuda_seq_free(CudaForward *f, int id);
int cuda_seq_pos(const CudaForward *f, int id);   // position of the sequence's next token
size_t cuda_kv_bytes_used(const CudaForward *f);  // stored tokens x token bytes
size_t cuda_kv_token_bytes(const CudaForward *f); // one token's K+V over all layers
size_t cuda_weight_bytes(const CudaForward *f);   // device bytes of the weights

// Runs the batch (n <= max_rows) and keeps the logits of rows out_rows[0..n_out) on the
// device for cuda_sample; copies them to logits_host [n_out, vocab] too if it is not NULL.
// 0, or -1 (message in cuda_forward_error).
int cuda_forward(CudaForward *f, const int *tokens, const int *seqs, int n, const int *out_rows,
                 int n_out, float *logits_host);
// Samples one token for each of the n_out rows of the last cuda_forward with the fused kernel
// (semantics of sampler.h). p, seed, chain, step, ids, logprobs: [n_out] host arrays.
// conf [n_out] (or NULL): each row's token confidence and entropy (kernels/confidence.cu).
int cuda_sample(CudaForward *f, int n_out, const SamplerParams *p, const uint64_t *seed,
                const uint32_t *chain, const uint32_t *step, int *ids, float *logprobs,
                TokenConf *conf);

// `chorus bench --device cuda`: prints one row per measurement to out (see bench_cuda.c).
// model: a loaded model, or NULL with random_model naming a shape ("llama2-7b").
int cuda_bench(Model *model, const char *random_model, FILE *out, char *err, size_t errlen);
