// backend.h - what the controller needs from a compute backend (CPU or CUDA): sequences in a KV
// cache, and "run these rows, then sample one token for each of these rows". Logits never leave
// the backend: only token ids and their log-probs come back (DESIGN.md §2).
#pragma once
#include "model/model.h"
#include "sampler.h"
#include <stddef.h>
#include <stdint.h>

typedef struct Backend {
    void *impl;
    const char *name; // "cpu" or "cuda"
    int max_rows;     // rows one decode call accepts
    int vocab;
    int context; // the model's context length (positions)
    // New KV sequence (parent = prefix id or -1) with room for cap own tokens: id, or -1 + err.
    int (*seq_new)(void *impl, int parent, int cap, char *err, size_t errlen);
    void (*seq_free)(void *impl, int id);
    // Runs n rows (row i appends tokens[i] to sequence seqs[i]; rows of one sequence in order)
    // and samples a token for each row listed in out_rows with the chain's own settings and
    // RNG counters. ids, logprobs: [n_out]. conf [n_out] (NULL if no row's params.conf_k > 0):
    // each row's token confidence and entropy (sampler.h), NaN for rows with conf_k = 0.
    // Returns 0, or -1 + err.
    int (*decode)(void *impl, const int *tokens, const int *seqs, int n, const int *out_rows,
                  int n_out, const SamplerParams *params, const uint64_t *seeds,
                  const uint32_t *chains, const uint32_t *steps, int *ids, float *logprobs,
                  TokenConf *conf, char *err, size_t errlen);
    size_t (*kv_bytes_used)(void *impl);  // bytes holding tokens now (prefixes counted once)
    size_t (*kv_token_bytes)(void *impl); // bytes of one token's K/V over all layers
    // Seconds spent so far in decode() running the model and sampling (the GPU's own clock on
    // CUDA); a benchmark takes differences.
    void (*times)(void *impl, double *forward_s, double *sample_s);
    void (*free)(struct Backend *b);
    size_t weight_bytes; // bytes of the weights a step reads, each matrix once, as stored here
} Backend;

// The backend for `device` ("cpu", "cuda", or NULL: cuda when built with it and a device
// exists, else cpu, saying so on stderr) over a loaded model, with the CPU's `numerics`
// ("int8", "f32" or NULL: int8; a choice only the CPU has). 0, or -1 + err.
int backend_open(Backend *b, Model *m, const char *device, const char *numerics, int max_rows,
                 int max_seqs, size_t kv_limit_bytes, char *err, size_t errlen);

// The CPU backend over a loaded model. max_seqs bounds live sequences (prefixes + chains);
// kv_limit_bytes (0 = none) bounds the KV cache. 0, or -1 + err.
int backend_cpu_init(Backend *b, Model *m, int max_rows, int max_seqs, size_t kv_limit_bytes,
                     char *err, size_t errlen);
// Switches a CPU backend's numerics (a Numerics of forward.h; the default is int8). 0, or -1 + err.
int backend_cpu_set_numerics(Backend *b, int numerics, char *err, size_t errlen);

#ifdef CHORUS_CUDA
// The CUDA backend (runtime/backend/cuda.c): same contract, weights and KV on the device.
int backend_cuda_available(void);
int backend_cuda_init(Backend *b, Model *m, int max_rows, int max_seqs, size_t kv_limit_bytes,
                      char *err, size_t errlen);
// One line about the device for benchmark output: name, SMs, measured copy bandwidth.
void backend_cuda_describe(char *buf, size_t len);
#endif
