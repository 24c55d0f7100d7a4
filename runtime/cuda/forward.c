// cuda/forward.c - one step of the model on the GPU: the sequence of kernel launches and cuBLAS
// calls, and the driver around it (plan, run, sample, one synchronisation, commit).
//
// Per layer (n rows; shapes in cuda/forward_impl.h):
//   xb  = rmsnorm(x) ................................ rmsnorm_cuda          (bf16 out)
//   qkv = xb Wqkv^T ................................. cublasGemmEx          (Wq|Wk|Wv stacked)
//   (biases; q/k norms;) rope(q, k); K/V -> cache ... rope_qkv_store_cuda  (RopeParams)
//   att = attention(prefix partials, own partials) .. attention_partial/merge_cuda
//   x  += att Wo^T .................................. cublasGemmEx, beta = 1 (residual fused)
//   xb  = rmsnorm(x); gu = xb Wgu^T ................. rmsnorm_cuda, cublasGemmEx (gate|up stacked)
//   hb  = silu(g) * u; x += hb Wdown^T .............. swiglu_cuda, cublasGemmEx, beta = 1
// then logits = rmsnorm(x[out_rows]) Wout^T. Weights are bf16 and GEMMs accumulate in fp32
// (CUBLAS_COMPUTE_32F), writing fp32. Then the fused sampler, the copy of ids and log-probs
// to pinned memory, and the step's only host synchronisation.
#include "cuda/forward_impl.h"
#include "kernels.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLAS_WORKSPACE ((size_t)32 << 20) // cuBLAS's recommendation for Hopper

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int forward_cuda_available(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); // clear the "no driver" error
        return 0;
    }
    return n > 0;
}

// The limits come from the kernels: attention.cu is compiled for head sizes 32..128 (lane d
// of a warp owns dimensions d, d + 32, ...) and stages at most ATTN_MAX_QVECS query vectors
// (rows x query heads of one KV head) per block; its grid's y is the KV heads (<= 65535).
// q and the attention output are n_heads * head_dim wide, which may differ from dim (Qwen3-0.6B).
int forward_cuda_check_shape(const Config *c, char *err, size_t errlen) {
    const int hd = c->head_dim;
    if (hd != 32 && hd != 64 && hd != 96 && hd != 128)
        return set_err(err, errlen,
                       "CUDA: head size %d is not supported (the attention kernels "
                       "handle 32, 64, 96 and 128)",
                       hd),
               -1;
    if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads)
        return set_err(err, errlen, "CUDA: %d query heads are not a multiple of %d KV heads",
                       c->n_heads, c->n_kv_heads),
               -1;
    if (c->n_heads / c->n_kv_heads > ATTN_MAX_QVECS)
        return set_err(err, errlen,
                       "CUDA: %d query heads per KV head; the attention kernel "
                       "stages at most %d",
                       c->n_heads / c->n_kv_heads, ATTN_MAX_QVECS),
               -1;
    if (c->n_kv_heads > 65535)
        return set_err(err, errlen, "CUDA: %d KV heads; the attention grid allows 65535",
                       c->n_kv_heads),
               -1;
    return 0;
}

static int env_flag(const char *name, int dflt) {
    const char *v = getenv(name);
    return v && *v ? strcmp(v, "0") != 0 : dflt;
}

// Stream, cuBLAS with its workspace, timing events, the attention kernel's shared memory.
static int init_device(CudaForward *f, char *err, size_t errlen) {
    int dev = 0, optin = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&f->n_sms, cudaDevAttrMultiProcessorCount, dev);
    cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    const Config *c = &f->cfg;
    cudaError_t e = attention_prepare_cuda(c->n_heads, c->n_kv_heads, c->head_dim);
    if (e != cudaSuccess)
        return set_err(err, errlen,
                       "CUDA: the attention kernel cannot get its shared memory for "
                       "%d/%d heads of %d (device allows %d bytes a block): %s",
                       c->n_heads, c->n_kv_heads, c->head_dim, optin, cudaGetErrorString(e)),
               -1;
    if (cudaStreamCreateWithFlags(&f->stream, cudaStreamNonBlocking) != cudaSuccess)
        return set_err(err, errlen, "CUDA: cannot create a stream"), -1;
    for (int i = 0; i < 3; i++)
        if (cudaEventCreate(&f->ev[i]) != cudaSuccess)
            return set_err(err, errlen, "CUDA: cannot create an event"), -1;
    if (cublasCreate(&f->blas) != CUBLAS_STATUS_SUCCESS)
        return set_err(err, errlen, "cuBLAS: cannot create a handle"), -1;
    if (dev_alloc(&f->blas_ws, BLAS_WORKSPACE, "the cuBLAS workspace", err, errlen)) return -1;
    // The stream first: cublasSetStream resets the workspace to cuBLAS's own pool.
    if (cublasSetStream(f->blas, f->stream) != CUBLAS_STATUS_SUCCESS ||
        cublasSetWorkspace(f->blas, f->blas_ws, BLAS_WORKSPACE) != CUBLAS_STATUS_SUCCESS)
        return set_err(err, errlen, "cuBLAS: cannot set its stream and workspace"), -1;
    return 0;
}

#define ALLOC(ptr, bytes, what)                                                                    \
    do {                                                                                           \
        if (dev_alloc((void **)&(ptr), (bytes), (what), err, errlen)) goto fail;                   \
    } while (0)

CudaForward *forward_cuda_init(const Model *m, KVCache *kv, int max_rows, char *err,
                               size_t errlen) {
    const Config *c = &m->cfg;
    if (forward_cuda_check_shape(c, err, errlen)) return NULL;
    if (max_rows <= 0 || kv->n_layers != c->n_layers || kv->kv_dim != c->kv_dim) {
        set_err(err, errlen, "CUDA: %d rows, or a KV cache of another shape than the model",
                max_rows);
        return NULL;
    }
    if (!forward_cuda_available()) {
        set_err(err, errlen, "CUDA: no usable device");
        return NULL;
    }
    CudaForward *f = calloc(1, sizeof *f);
    if (!f) return set_err(err, errlen, "out of host memory"), NULL;
    f->cfg = *c;
    f->max_rows = max_rows;
    f->kv = kv;
    f->debug = env_flag("CHORUS_CUDA_DEBUG", 0);
    f->graphs = !f->debug && env_flag("CHORUS_CUDA_GRAPHS", 1);
    if (init_device(f, err, errlen)) goto fail;
    if (batch_planner_init(&f->planner, c, max_rows, kv->max_seqs, f->n_sms)) {
        set_err(err, errlen, "out of host memory");
        goto fail;
    }
    const size_t r = (size_t)max_rows, d = c->dim, kvd = c->kv_dim, h = c->hidden_dim;
    const size_t qd = (size_t)config_q_dim(c), parts = (size_t)f->planner.part_rows * c->n_heads;
    ALLOC(f->x, r * d * 4, "the residual stream");
    ALLOC(f->xb, r * d * 2, "normed activations");
    ALLOC(f->qkv, r * (qd + 2 * kvd) * 4, "q/k/v activations");
    ALLOC(f->att, r * qd * 2, "attention output");
    ALLOC(f->gu, r * 2 * h * 4, "gate/up activations");
    ALLOC(f->hb, r * h * 2, "FFN activations");
    ALLOC(f->logits, r * c->vocab_size * 4, "logits");
    ALLOC(f->part_o, parts * c->head_dim * 4, "attention partials");
    ALLOC(f->part_ml, parts * 2 * 4, "attention partials");
    f->meta_bytes = batch_meta_layout(&f->dev_meta, NULL, max_rows, &f->upload_bytes);
    ALLOC(f->meta_dev_block, f->meta_bytes, "step metadata");
    if (cudaMallocHost(&f->meta_host_block, f->meta_bytes) != cudaSuccess) {
        set_err(err, errlen, "CUDA: cannot allocate %zu bytes of pinned host memory",
                f->meta_bytes);
        goto fail;
    }
    memset(f->meta_host_block, 0, f->meta_bytes);
    batch_meta_layout(&f->dev_meta, f->meta_dev_block, max_rows, NULL);
    batch_meta_layout(&f->host_meta, f->meta_host_block, max_rows, NULL);
    if (weights_upload_cuda(&f->w, m, err, errlen) || kvstore_cuda_init(&f->store, kv, err, errlen))
        goto fail;
    // cudaMemcpy from pageable memory may return before its DMA lands, on the legacy stream,
    // which our non-blocking stream does not wait for: wait here, once.
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        set_err(err, errlen, "CUDA: loading the model failed: %s", cudaGetErrorString(e));
        goto fail;
    }
    return f;
fail:
    forward_cuda_free(f);
    return NULL;
}

void forward_cuda_free(CudaForward *f) {
    if (!f) return;
    if (f->stream) cudaStreamSynchronize(f->stream);
    kvstore_cuda_free(&f->store, f->kv);
    graph_free_cuda(&f->graph);
    weights_free_cuda(&f->w);
    cudaFree(f->x), cudaFree(f->xb), cudaFree(f->qkv), cudaFree(f->att), cudaFree(f->gu);
    cudaFree(f->hb), cudaFree(f->logits), cudaFree(f->part_o), cudaFree(f->part_ml);
    cudaFree(f->meta_dev_block);
    if (f->meta_host_block) cudaFreeHost(f->meta_host_block);
    batch_planner_free(&f->planner);
    if (f->blas) cublasDestroy(f->blas);
    cudaFree(f->blas_ws);
    for (int i = 0; i < 3; i++)
        if (f->ev[i]) cudaEventDestroy(f->ev[i]);
    if (f->stream) cudaStreamDestroy(f->stream);
    free(f);
}

const char *forward_cuda_error(const CudaForward *f) {
    return f->err;
}
size_t forward_cuda_weight_bytes(const CudaForward *f) {
    return f->w.bytes;
}
void forward_cuda_times(const CudaForward *f, double *forward_s, double *sample_s) {
    *forward_s = f->forward_s;
    *sample_s = f->sample_s;
}
CudaGraphStats forward_cuda_graph_stats(const CudaForward *f) {
    return f->graph.stats;
}
void forward_cuda_set_graphs(CudaForward *f, int on) {
    f->graphs = on && !f->debug;
}

// ---- one step --------------------------------------------------------------------------------

// Checks a launch (or API call) of `what` at `layer` (-1: outside the layers). In debug mode
// it also waits for the device, so a fault is reported by the launch that caused it.
static int checked(CudaForward *f, cudaError_t e, const char *what, int layer) {
    if (e == cudaSuccess && f->debug) {
        e = cudaStreamSynchronize(f->stream);
        if (e == cudaSuccess) e = cudaGetLastError();
    }
    if (e == cudaSuccess) return 0;
    if (layer >= 0)
        set_err(f->err, sizeof f->err, "CUDA: %s (layer %d) failed: %s", what, layer,
                cudaGetErrorString(e));
    else
        set_err(f->err, sizeof f->err, "CUDA: %s failed: %s", what, cudaGetErrorString(e));
    return -1;
}
#define CK(what, layer, call)                                                                      \
    do {                                                                                           \
        if (checked(f, (call), (what), (layer))) return -1;                                        \
    } while (0)

// The GPU's matmul (cpu/ops.h), on cuBLAS: y[n, out] (+)= x[n, in] W^T with W [out, in] row-major
// bf16: in cuBLAS's column-major terms y^T (out x n) = op(W) (out x in) * x^T (in x n), op = T.
static int matmul_cuda(CudaForward *f, const char *what, int layer, float *y, const uint16_t *x,
                       const uint16_t *w, int n, int out, int in, float beta) {
    const float alpha = 1.0f;
    cublasStatus_t st = cublasGemmEx(f->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &alpha, w,
                                     CUDA_R_16BF, in, x, CUDA_R_16BF, in, &beta, y, CUDA_R_32F, out,
                                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) {
        set_err(f->err, sizeof f->err,
                "cuBLAS: %s (layer %d) [%d x %d] x [%d x %d]^T failed "
                "(status %d)",
                what, layer, n, in, out, in, (int)st);
        return -1;
    }
    return checked(f, cudaSuccess, what, layer); // the debug synchronisation
}
#define MATMUL(what, layer, ...)                                                                   \
    do {                                                                                           \
        if (matmul_cuda(f, (what), (layer), __VA_ARGS__)) return -1;                               \
    } while (0)

// The forward part of a step of n rows keeping n_out rows' logits: the metadata upload, then
// every launch. Grids depend on (n, n_out) only, so this is what a graph captures.
static int enqueue_forward(CudaForward *f, int n, int n_out) {
    const Config *c = &f->cfg;
    const BatchMeta *dev = &f->dev_meta; // device addresses of the step's metadata
    const CudaWeights *W = &f->w;
    const cudaStream_t s = f->stream;
    const int dim = c->dim, hd = c->head_dim, H = c->n_heads, KV = c->n_kv_heads;
    const int qd = config_q_dim(c), qkv_out = qd + 2 * c->kv_dim;
    const int z = batch_max_splits(&f->planner, n);
    const AttnSplit *pre = &dev->plan->src[0], *own = &dev->plan->src[1]; // device addresses
    CK("metadata upload", -1,
       cudaMemcpyAsync(f->meta_dev_block, f->meta_host_block, f->upload_bytes,
                       cudaMemcpyHostToDevice, s));
    CK("embed", -1, embed_cuda(f->x, W->tok_embd, dev->tokens, n, dim, c->vocab_size, s));
    for (int l = 0; l < c->n_layers; l++) {
        const CudaLayer *L = &W->layers[l];
        CK("rmsnorm", l, rmsnorm_cuda(f->xb, f->x, L->attn_norm, NULL, n, dim, c->norm_eps, s));
        MATMUL("qkv matmul", l, f->qkv, f->xb, L->wqkv, n, qkv_out, dim, 0.0f);
        const RopeParams rp = {.base = c->rope_base,
                               .linear = c->rope_linear,
                               .neox = c->rope_neox,
                               .factors = W->rope_factors,
                               .bias = L->bqkv,
                               .q_norm = L->q_norm,
                               .k_norm = L->k_norm,
                               .eps = c->norm_eps};
        CK("rope_qkv_store", l, rope_qkv_store_cuda(f->qkv, dev->rows, n, l, H, KV, hd, &rp, s));
        CK("attention_partial (prefix)", l,
           attention_partial_cuda(f->part_o, f->part_ml, pre, n, z, f->qkv, qkv_out, dev->it_pre,
                                  dev->idx_pre, dev->lim_pre, n, l, H, KV, hd, s));
        CK("attention_partial (own)", l,
           attention_partial_cuda(f->part_o, f->part_ml, own, n, z, f->qkv, qkv_out, dev->it_own,
                                  dev->idx_own, dev->lim_own, n, l, H, KV, hd, s));
        CK("attention_merge", l,
           attention_merge_cuda(f->att, f->part_o, f->part_ml, dev->plan, dev->lim_pre, n, H, hd,
                                s));
        MATMUL("attention output matmul", l, f->x, f->att, L->wo, n, dim, qd, 1.0f);
        CK("rmsnorm", l, rmsnorm_cuda(f->xb, f->x, L->ffn_norm, NULL, n, dim, c->norm_eps, s));
        MATMUL("gate/up matmul", l, f->gu, f->xb, L->wgu, n, 2 * c->hidden_dim, dim, 0.0f);
        CK("swiglu", l, swiglu_cuda(f->hb, f->gu, n, c->hidden_dim, s));
        MATMUL("down matmul", l, f->x, f->hb, L->wdown, n, dim, c->hidden_dim, 1.0f);
    }
    if (n_out > 0) {
        CK("rmsnorm (output rows)", -1,
           rmsnorm_cuda(f->xb, f->x, W->out_norm, dev->out_rows, n_out, dim, c->norm_eps, s));
        MATMUL("output matmul", -1, f->logits, f->xb, W->output, n_out, c->vocab_size, dim, 0.0f);
    }
    return 0;
}

// Sampling of the n_out rows and the copy of ids and log-probs (and, when asked, each row's
// token confidence: two floats a row, the logits stay) to pinned memory.
static int enqueue_sample(CudaForward *f, int n_out, int conf) {
    const cudaStream_t s = f->stream;
    CK("sample", -1,
       sample_cuda(f->dev_meta.ids, f->dev_meta.logprobs, f->logits, f->dev_meta.sample, n_out,
                   config_sampled_vocab(&f->cfg), f->cfg.vocab_size, s)); // padding never drawn
    CK("ids download", -1,
       cudaMemcpyAsync(f->host_meta.ids, f->dev_meta.ids, sizeof(int) * n_out,
                       cudaMemcpyDeviceToHost, s));
    CK("log-prob download", -1,
       cudaMemcpyAsync(f->host_meta.logprobs, f->dev_meta.logprobs, sizeof(float) * n_out,
                       cudaMemcpyDeviceToHost, s));
    if (!conf) return 0;
    CK("token confidence", -1,
       token_confidence_cuda(f->dev_meta.conf, f->logits, f->dev_meta.sample, n_out,
                             config_sampled_vocab(&f->cfg), f->cfg.vocab_size, s));
    CK("confidence download", -1,
       cudaMemcpyAsync(f->host_meta.conf, f->dev_meta.conf, sizeof(TokenConf) * n_out,
                       cudaMemcpyDeviceToHost, s));
    return 0;
}

// Adds the step's GPU times (forward, sampling) from its events.
static void add_times(CudaForward *f) {
    float a = 0, b = 0;
    if (cudaEventElapsedTime(&a, f->ev[0], f->ev[1]) == cudaSuccess &&
        cudaEventElapsedTime(&b, f->ev[1], f->ev[2]) == cudaSuccess) {
        f->forward_s += a * 1e-3;
        f->sample_s += b * 1e-3;
    }
    cudaGetLastError();
}

static int run_step(CudaForward *f, const Step *st) {
    const int n = st->n_rows, n_out = st->n_out, sample = st->sample && n_out > 0;
    const cudaStream_t s = f->stream;
    CK("event record", -1, cudaEventRecord(f->ev[0], s));
    if (f->graphs) {
        if (graph_run_cuda(&f->graph, f, s, n, n_out, enqueue_forward, f->err, sizeof f->err))
            return -1;
    } else {
        f->graph.stats.eager_steps++;
        if (enqueue_forward(f, n, n_out)) return -1;
    }
    CK("event record", -1, cudaEventRecord(f->ev[1], s));
    if (sample && enqueue_sample(f, n_out, st->conf != NULL)) return -1;
    CK("event record", -1, cudaEventRecord(f->ev[2], s));
    if (st->logits && n_out > 0)
        CK("logits download", -1,
           cudaMemcpyAsync(st->logits, f->logits, sizeof(float) * (size_t)n_out * f->cfg.vocab_size,
                           cudaMemcpyDeviceToHost, s));
    // The step's one synchronisation: it also reports any fault of the step's kernels.
    CK("the step (synchronise)", -1, cudaStreamSynchronize(s));
    return 0;
}

int forward_cuda(CudaForward *f, const Step *st) {
    if (batch_plan(&f->planner, &f->host_meta, f->kv, f->store.k, f->store.v, st->tokens, st->seqs,
                   st->n_rows, st->out_rows, st->n_out, f->err, sizeof f->err))
        return -1;
    if (st->sample && st->n_out > 0)
        memcpy(f->host_meta.sample, st->sample, sizeof(SampleRow) * (size_t)st->n_out);
    if (run_step(f, st)) {
        // Nothing is committed. Drain what was queued so the next step starts clean; a fault
        // that poisoned the context will show again there.
        cudaStreamSynchronize(f->stream);
        cudaGetLastError();
        return -1;
    }
    batch_commit(&f->planner, f->kv); // lengths advance after the sync that reports faults
    add_times(f);
    if (st->sample && st->n_out > 0) {
        memcpy(st->ids, f->host_meta.ids, sizeof(int) * (size_t)st->n_out);
        memcpy(st->logprobs, f->host_meta.logprobs, sizeof(float) * (size_t)st->n_out);
        if (st->conf) memcpy(st->conf, f->host_meta.conf, sizeof(TokenConf) * (size_t)st->n_out);
    }
    return 0;
}
