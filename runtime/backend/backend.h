// backend.h - what the controller needs from a compute backend (CPU or CUDA): sequences in a KV
// cache, and steps (model/step.h): "run these rows, then sample one token for each of these
// rows". Logits never leave the backend: only token ids and their log-probs come back
// (docs/design.md, "One step"). What only one backend has (the CPU's numerics and ISA levels, the
// GPU's device) stays behind the options and the descriptions here, so callers need not know which
// backend they hold.
#pragma once
#include "model/kvcache.h"
#include "model/model.h"
#include "model/step.h"
#include <stddef.h>
#include <stdint.h>

typedef struct Backend {
    void *impl;
    const char *name; // "cpu" or "cuda"
    int max_rows;     // rows one step accepts
    int vocab;
    int context; // the model's context length (positions)
    // New KV sequence (parent = prefix id or -1) with room for cap own tokens: id, or -1 + err.
    int (*seq_new)(void *impl, int parent, int cap, char *err, size_t errlen);
    void (*seq_free)(void *impl, int id);
    // Runs one step (step.h: prefill lists no output row, decode one per chain). 0, or -1 + err;
    // on failure no sequence grows.
    int (*step)(void *impl, const Step *st, char *err, size_t errlen);
    size_t (*kv_bytes_used)(void *impl);  // bytes holding tokens now (prefixes counted once)
    size_t (*kv_token_bytes)(void *impl); // bytes of one token's K/V over all layers
    // Seconds spent so far in step() running the model and sampling (the GPU's own clock on
    // CUDA); a benchmark takes differences.
    void (*times)(void *impl, double *forward_s, double *sample_s);
    // One line about the device for benchmark output (it may measure the device: slow), or NULL
    // where there is nothing to say beyond `kernel` (the CPU).
    void (*describe)(char *buf, size_t len);
    void (*free)(struct Backend *b);
    size_t weight_bytes; // bytes of the weights a step reads, each matrix once, as stored here
    // What the benchmark reports about the arithmetic: the CPU's int8 kernels' level ("avx2",
    // ...) and its numerics ("int8", "f32"); "cuda" and "gpu" on CUDA.
    const char *kernel, *numerics;
} Backend;

typedef struct {
    const char *device;    // "cpu", "cuda", or NULL: cuda when built with it and a device exists,
                           // else cpu (saying so on stderr)
    const char *numerics;  // the CPU's "int8" or "f32" (NULL: int8); a choice only the CPU has
    int max_rows;          // rows one step accepts
    int max_seqs;          // live sequences (prefixes + chains)
    size_t kv_limit_bytes; // bound on the KV cache (0: none)
} BackendOptions;

// Checks the options that need no model (the numerics' name, whether the device asked for is
// there), so a CLI can refuse them before loading one. 0, or -1 + err naming the flag.
int backend_check_options(const BackendOptions *o, char *err, size_t errlen);
// The backend for o->device over a loaded model. 0, or -1 + err.
int backend_open(Backend *b, Model *m, const BackendOptions *o, char *err, size_t errlen);

// The environment the CPU kernels read (CHORUS_ISA): 0, or -1 + a one-line message. Programs
// call it at start-up.
int backend_check_env(char *err, size_t errlen);
// This machine's limits on the benchmark's threads (`chorus bench --limits`): streaming-read
// bandwidth and the int8 multiply-add peak of the CPU kernels' level (`kernel`).
typedef struct {
    int threads;
    const char *kernel;
    double stream_gb_s, int8_peak_gmacs;
} MachineLimits;
MachineLimits backend_machine_limits(void);

// The CPU backend over a loaded model (what backend_open picks for "cpu", with int8 numerics
// packed on the first step). 0, or -1 + err.
int backend_cpu_init(Backend *b, Model *m, int max_rows, int max_seqs, size_t kv_limit_bytes,
                     char *err, size_t errlen);
// Switches a CPU backend's numerics (a Numerics of cpu/forward.h; the default is int8), repacking
// the weights now. 0, or -1 + err.
int backend_cpu_set_numerics(Backend *b, int numerics, char *err, size_t errlen);

#ifdef CHORUS_CUDA
// The CUDA backend (runtime/backend/cuda.c): same contract, weights and KV on the device.
int backend_cuda_available(void);
int backend_cuda_init(Backend *b, Model *m, int max_rows, int max_seqs, size_t kv_limit_bytes,
                      char *err, size_t errlen);
#endif
