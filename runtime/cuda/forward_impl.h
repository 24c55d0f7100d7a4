// cuda/forward_impl.h - what the CUDA host files share (not an API): the device weights
// (cuda/weights.c), the device KV storage (cuda/kvstore.c), the graph cache (cuda/graph.c) and
// the forward state (cuda/forward.c).
#pragma once
#include "cuda/batch_plan.h"
#include "cuda/forward_cuda.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

// ---- cuda/weights.c -------------------------------------------------------------------------
typedef struct {
    float *attn_norm, *ffn_norm; // [dim] each
    uint16_t *wqkv;              // [q_dim + 2*kv_dim, dim] bf16: Wq | Wk | Wv stacked by rows
    uint16_t *wo;                // [dim, q_dim]
    float *bqkv;                 // [q_dim + 2*kv_dim] q|k|v biases (qwen2), or NULL
    float *q_norm, *k_norm;      // [head_dim] per-head norms of q and k (qwen3), or NULL
    uint16_t *wgu;               // [2*hidden, dim]: W_gate | W_up
    uint16_t *wdown;             // [dim, hidden]
} CudaLayer;

typedef struct {
    uint16_t *tok_embd;  // [vocab, dim] bf16
    uint16_t *output;    // [vocab, dim] bf16 (== tok_embd when tied)
    float *out_norm;     // [dim]
    float *rope_factors; // [head_dim / 2] rope frequency divisors (Llama 3.x), or NULL
    CudaLayer *layers;   // [n_layers] host array of device pointers
    int n_layers;
    size_t bytes; // bytes of the matrices a step reads (each once)
} CudaWeights;

// cudaMalloc of `bytes` (16 when 0) into *p, for `what`. 0, or -1 with *p NULL and a message
// naming the bytes, the purpose and the device's free memory.
int dev_alloc(void **p, size_t bytes, const char *what, char *err, size_t errlen);
// Converts every weight of m to bf16 (quant.c's dequantizers, on the host, in parallel) and
// copies it to the device. 0, or -1 + a message naming the tensor or the bytes.
int weights_upload_cuda(CudaWeights *w, const Model *m, char *err, size_t errlen);
void weights_free_cuda(CudaWeights *w);

// ---- cuda/kvstore.c ---------------------------------------------------------------------------
typedef struct {
    uint16_t **k, **v; // [max_seqs] device K and V of each sequence: [n_layers, cap, kv_dim] bf16
    int max_seqs;
    size_t token_bytes; // one token's K and V over all layers
} KvStoreCuda;

// Plugs device storage into kv (kv_set_store). 0, or -1 + message.
int kvstore_cuda_init(KvStoreCuda *st, KVCache *kv, char *err, size_t errlen);
// Frees whatever storage is still held and detaches it from kv.
void kvstore_cuda_free(KvStoreCuda *st, KVCache *kv);

// ---- cuda/graph.c -----------------------------------------------------------------------------
// Captured forward graphs by step shape (n rows, n_out output rows), least recently used out.
#define GRAPH_CACHE 32
typedef struct {
    int n, n_out;         // the shape (n = 0: a free entry)
    int seen;             // steps of this shape so far (captured on the second)
    int failed;           // capture or instantiation failed: this shape runs eagerly
    unsigned long last;   // use counter, for eviction
    cudaGraphExec_t exec; // NULL until captured
} GraphEntry;

typedef struct {
    GraphEntry e[GRAPH_CACHE];
    unsigned long clock;
    CudaGraphStats stats;
} GraphCache;

// Enqueues the forward part of a step of (n, n_out) on f's stream: 0, or -1 + f->err.
typedef int (*EnqueueFn)(CudaForward *f, int n, int n_out);
// Runs the forward part of a step: from the shape's graph, by capturing it (second sighting),
// or eagerly. A capture that fails marks the shape eager and runs it eagerly. 0, or -1 + err.
int graph_run_cuda(GraphCache *g, CudaForward *f, cudaStream_t s, int n, int n_out,
                   EnqueueFn enqueue, char *err, size_t errlen);
void graph_free_cuda(GraphCache *g);

// ---- cuda/forward.c -------------------------------------------------------------------------
struct CudaForward {
    Config cfg;
    int max_rows, n_sms;
    int debug;  // CHORUS_CUDA_DEBUG: synchronise and check after every launch
    int graphs; // capture and replay steps as CUDA graphs
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws; // [BLAS_WORKSPACE] cuBLAS workspace (set explicitly: graphs need it fixed)
    CudaWeights w;
    KVCache *kv;
    KvStoreCuda store;
    // activations
    float *x;             // [max_rows, dim] residual stream
    uint16_t *xb;         // [max_rows, dim] normed input of a matmul
    float *qkv;           // [max_rows, dim + 2*kv_dim]
    uint16_t *att;        // [max_rows, dim] attention output
    float *gu;            // [max_rows, 2*hidden] gate | up
    uint16_t *hb;         // [max_rows, hidden]
    float *logits;        // [max_rows, vocab]
    float *part_o;        // [part_rows, n_heads, head_dim] attention partials
    float *part_ml;       // [part_rows, n_heads, 2]
    BatchPlanner planner; // plans each step on the host
    // The step's metadata (tokens, rows, attention plan, sampling settings, results) in one
    // layout over two blocks, uploaded in one copy a step: dev_meta points into the device block
    // the kernels read, host_meta into the pinned host block the planner fills and the results
    // come back to.
    BatchMeta dev_meta, host_meta;
    void *meta_dev_block, *meta_host_block;
    size_t meta_bytes, upload_bytes;
    GraphCache graph;
    cudaEvent_t ev[3]; // step start, forward done, sampling done
    double forward_s, sample_s;
    char err[320];
};
