// forward_cuda.h - one step of the model on one NVIDIA GPU: the forward pass, then the fused
// sampler (the CUDA build only).
//
// Same contract as forward.h: a step is a Step (model/step.h), and sequences follow kvcache.h's
// prefix model; the KVCache keeps the bookkeeping, this file puts its storage on the device.
// Weights live on the device in bf16 (cuda/weights.c), the KV cache in bf16, activations in fp32
// with bf16 copies where a matmul reads them. Logits stay on the device unless asked for.
//
// A step is planned on the host (batch_plan.c), its metadata uploaded in one copy, and its
// kernels and cuBLAS calls replayed from a CUDA graph once a step of the same shape (rows,
// output rows) has been seen twice; then sampling, and ONE host synchronisation, which also
// reports any fault of the step. Sequence lengths advance only after it.
//
// Environment: CHORUS_CUDA_DEBUG=1 synchronises after every launch and names the kernel and
// layer that failed (graphs off); CHORUS_CUDA_GRAPHS=0 runs every step eagerly.
//
// Naming: every function of the CUDA build ends in _cuda, after its CPU counterpart where there
// is one (forward_cuda_init ~ forward_init, forward_cuda ~ forward; the launchers of kernels.h:
// rmsnorm_cuda ~ rmsnorm, sample_cuda ~ sample, ...).
#pragma once
#include "kernel_types.h"
#include "model/kvcache.h"
#include "model/model.h"
#include "model/step.h"

#include <stddef.h>

typedef struct CudaForward CudaForward;

// 1 if a CUDA device can be used (driver present, at least one device), else 0.
int forward_cuda_available(void);
// 0 if the kernels can serve a model of this shape, else -1 + a one-line message naming the
// limit (head size 32/64/96/128, query heads per KV head <= 128, ...). Needs no device.
int forward_cuda_check_shape(const Config *c, char *err, size_t errlen);
// Uploads m's weights (m is only read during the call), allocates scratch for max_rows rows,
// and moves kv's storage to the device: kv must come fresh from kv_init (no sequences) with
// the model's shape, and outlive the returned object; kv_free it before forward_cuda_free.
// NULL + a one-line message on failure (out of memory names the bytes).
CudaForward *forward_cuda_init(const Model *m, KVCache *kv, int max_rows, char *err, size_t errlen);
void forward_cuda_free(CudaForward *f);

// The last error of forward_cuda (one line).
const char *forward_cuda_error(const CudaForward *f);
// Device bytes of the matrices a step reads (each once; the embedding table only by rows).
size_t forward_cuda_weight_bytes(const CudaForward *f);
// GPU seconds spent so far in the forward part of steps and in sampling (CUDA events).
void forward_cuda_times(const CudaForward *f, double *forward_s, double *sample_s);
// How steps ran: replayed from a graph, eagerly, graphs captured, captures that failed (the
// shape then runs eagerly).
typedef struct {
    long graph_steps, eager_steps, captures, capture_failures;
} CudaGraphStats;
CudaGraphStats forward_cuda_graph_stats(const CudaForward *f);
// Graphs on (default, unless CHORUS_CUDA_GRAPHS=0 or CHORUS_CUDA_DEBUG=1) or off.
void forward_cuda_set_graphs(CudaForward *f, int on);

// Runs a step (st->n_rows <= max_rows): the forward part, the fused sampler over the output rows
// (when st->sample), the results' copy back and one synchronisation. 0, or -1 with the message
// in forward_cuda_error; on failure no sequence length changes.
int forward_cuda(CudaForward *f, const Step *st);
