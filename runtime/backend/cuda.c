// backend/cuda.c - the CUDA backend: cuda/forward.c's step (the forward pass and the fused
// sampler; only ids, log-probs and confidences come back) over the KV cache (kvcache.c's
// sequence table, device storage), and the device's description for benchmarks.
#include "backend/backend.h"
#include "backend/kv_entries.h"
#include "cuda/forward_cuda.h"

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    KVCache kv; // first: the shared KV entries take the impl as its KVCache (backend.h)
    CudaForward *f;
} CudaBackend;
_Static_assert(offsetof(CudaBackend, kv) == 0, "the KV entries need the KVCache first");

static void cu_times(void *impl, double *forward_s, double *sample_s) {
    forward_cuda_times(((CudaBackend *)impl)->f, forward_s, sample_s);
}

static int cu_step(void *impl, const Step *st, char *err, size_t errlen) {
    CudaBackend *cb = impl;
    if (forward_cuda(cb->f, st)) return snprintf(err, errlen, "%s", forward_cuda_error(cb->f)), -1;
    return 0;
}

// Bytes/s of a device-to-device copy (read + written), the ceiling a memory-bound step can
// reach: 10 timed copies of 512 MiB after one untimed.
static double copy_bandwidth(void) {
    const size_t bytes = (size_t)512 << 20;
    void *a = NULL, *b = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL;
    float ms = 0;
    if (cudaMalloc(&a, bytes) == cudaSuccess && cudaMalloc(&b, bytes) == cudaSuccess &&
        cudaEventCreate(&e0) == cudaSuccess && cudaEventCreate(&e1) == cudaSuccess) {
        cudaMemset(a, 1, bytes);
        cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
        cudaEventRecord(e0, 0);
        for (int i = 0; i < 10; i++) cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0);
        cudaEventRecord(e1, 0);
        cudaEventSynchronize(e1);
        cudaEventElapsedTime(&ms, e0, e1);
    }
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    cudaFree(a);
    cudaFree(b);
    cudaGetLastError();
    return ms > 0 ? 2.0 * bytes * 10 / (ms * 1e-3) : 0;
}

// One line about the device: name, SMs, memory, measured copy bandwidth.
static void cu_describe(char *buf, size_t len) {
    struct cudaDeviceProp p;
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
        cudaGetLastError();
        snprintf(buf, len, "cuda device: unknown");
        return;
    }
    snprintf(buf, len, "cuda device: %s, %d SMs, %.0f GB; copy bandwidth %.0f GB/s (read + write)",
             p.name, p.multiProcessorCount, p.totalGlobalMem / 1e9, copy_bandwidth() / 1e9);
}

static void cu_free(Backend *b) {
    CudaBackend *cb = b->impl;
    if (!cb) return;
    kv_free(&cb->kv); // device storage goes back through the store, so before the forward state
    forward_cuda_free(cb->f);
    free(cb);
    b->impl = NULL;
}

int backend_cuda_available(void) {
    return forward_cuda_available();
}

int backend_cuda_init(Backend *b, Model *m, int max_rows, int max_seqs, size_t kv_limit_bytes,
                      char *err, size_t errlen) {
    memset(b, 0, sizeof *b);
    CudaBackend *cb = calloc(1, sizeof *cb);
    if (!cb) return snprintf(err, errlen, "out of memory"), -1;
    b->impl = cb;
    b->free = cu_free;
    const Config *c = &m->cfg;
    if (kv_init(&cb->kv, c->n_layers, c->n_kv_heads, c->head_dim, max_seqs, kv_limit_bytes)) {
        cu_free(b);
        return snprintf(err, errlen, "out of memory for the KV cache table"), -1;
    }
    if (!(cb->f = forward_cuda_init(m, &cb->kv, max_rows, err, errlen))) {
        cu_free(b);
        return -1;
    }
    b->name = "cuda";
    b->max_rows = max_rows;
    b->vocab = c->vocab_size;
    b->context = c->context_length;
    backend_set_kv_entries(b);
    b->step = cu_step;
    b->times = cu_times;
    b->describe = cu_describe;
    b->weight_bytes = forward_cuda_weight_bytes(cb->f);
    b->kernel = "cuda";
    b->numerics = "gpu";
    return 0;
}
