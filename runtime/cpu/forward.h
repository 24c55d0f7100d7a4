// forward.h - one step of the model on the CPU: the transformer forward pass over a batch of
// rows, then the CPU sampler (sampler/sampler.c) over the rows that want a token. The step is a
// Step (model/step.h), the same contract as the GPU's forward_cuda (cuda/forward_cuda.h).
#pragma once
#include "model/kvcache.h"
#include "model/model.h"
#include "model/step.h"
#include "cpu/qgemm.h"
#include "cpu/workspace.h"

// How the matmuls of quantized weights (every quantized type) multiply: by int8-quantized
// activations with integer dot products (qgemm.h, the default; BF16 weights then take bf16
// activations and bf16 dot products), or by the fp32 activations (cpu/matmul.c, the reference).
// F16 and F32 weights always take the fp32 path. The KV cache follows: fp16 with int8, fp32 with
// f32 (kvcache.h).
typedef enum { NUMERICS_INT8 = 0, NUMERICS_F32 = 1 } Numerics;
const char *numerics_name(Numerics nm);
// "int8" or "f32" -> *nm: 0, or -1 if it is neither.
int numerics_parse(const char *s, Numerics *nm);

#define FWD_MATS LAYER_N_WEIGHTS // matrices per layer, in layer_weights order (model.h)

typedef struct {
    Model *m;
    KVCache *kv;
    int max_rows;
    // scratch, sized for max_rows rows
    int *pos;       // [max_rows] position of each row
    float *rope_cs; // [max_rows, head_dim / 2, 2] cos and sin of each row's rotation angles
    float *x;       // [max_rows, dim] residual stream
    float *xb;      // [max_rows, max(dim, q_dim)] normed input / attention output
    float *xb2;     // [max_rows, dim] projection output
    float *q;       // [max_rows, n_heads, head_dim]
    float *k, *v;   // [max_rows, kv_dim]
    float *hb;      // [max_rows, hidden_dim] gate, then swiglu output
    float *hb2;     // [max_rows, hidden_dim] up
    float *logits;  // [max_rows, vocab]
    Workspace ws;   // per-thread scratch of matmul and attention
    Numerics numerics;
    int numerics_ready; // the weights are packed (or not) for `numerics`
    Weight *w;          // [n_layers * FWD_MATS + 1] the matrices as the matmuls see them (layer by
                        // layer in FWD_MATS order, then the output): copies of the model's, with
                        // their int8 panels set under NUMERICS_INT8
    QPacked *packs;     // [n_layers * FWD_MATS + 1] those panels (data NULL where a type has none)
    Sampler *samplers;  // [n_samplers] one per thread: a step samples its rows in parallel
    int n_samplers;
    double forward_s, sample_s; // seconds spent so far in steps: the model, the sampling
    char err[160];              // why the last forward() failed
} Forward;

// Sets up a forward pass with NUMERICS_INT8; the quantized weights are repacked (qpack) by
// forward_set_numerics, or else on the first step.
int forward_init(Forward *f, Model *m, KVCache *kv, int max_rows, char *err, size_t errlen);
// Sets the numerics, repacking or freeing the panels now. 0, or -1 + err (out of memory, or the
// KV cache would change type while it holds sequences).
int forward_set_numerics(Forward *f, Numerics nm, char *err, size_t errlen);
void forward_free(Forward *f);
// Runs the step (st->n_rows <= max_rows): appends every row's K/V to its sequence, then samples
// the output rows (each with its own settings and RNG counters) and copies their logits when
// asked. 0, or -1 with the reason in f->err; on failure no sequence length changes.
int forward(Forward *f, const Step *st);
// Seconds spent so far in forward(): running the model, and sampling.
void forward_times(const Forward *f, double *forward_s, double *sample_s);
