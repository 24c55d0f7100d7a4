// forward_cuda.c - host side of the GPU forward pass: device weights, the device KV cache,
// per-batch metadata, and the sequence of cuBLAS calls and kernel launches that is one step.
//
// Per layer (n rows; shapes in the struct below):
//   xb  = rmsnorm(x) ................................ rmsnorm_cuda          (bf16 out)
//   qkv = xb Wqkv^T ................................. cublasGemmEx          (Wq|Wk|Wv stacked)
//   rope(q, k); K/V -> cache ........................ rope_qkv_store_cuda
//   att = attention(prefix partials, own partials) .. attention_partial/merge_cuda
//   x  += att Wo^T .................................. cublasGemmEx, beta = 1 (residual fused)
//   xb  = rmsnorm(x); gu = xb Wgu^T ................. rmsnorm_cuda, cublasGemmEx (gate|up stacked)
//   hb  = silu(g) * u; x += hb Wdown^T .............. swiglu_cuda, cublasGemmEx, beta = 1
// then logits = rmsnorm(x[out_rows]) Wout^T. Weights are bf16 and GEMMs accumulate in fp32
// (CUBLAS_COMPUTE_32F), writing fp32.
//
// Metadata for a batch (row positions, KV destinations, attention items) is built on the host
// and uploaded in ONE copy from a pinned staging buffer.
#include "forward_cuda.h"
#include "kernels.h"
#include "quant.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *attn_norm, *ffn_norm; // [dim] each
    uint16_t *wqkv;              // [dim + 2*kv_dim, dim] bf16
    uint16_t *wo;                // [dim, dim]
    uint16_t *wgu;               // [2*hidden, dim]
    uint16_t *wdown;             // [dim, hidden]
} CudaLayer;

typedef struct {
    int in_use, parent, n_prefix, len, cap;
    uint16_t *k, *v; // [n_layers, cap, kv_dim] bf16 each
} CudaSeq;

// Device metadata of one batch; the same layout in the pinned host staging buffer.
typedef struct {
    int *tokens;       // [max_rows]
    int *out_rows;     // [max_rows]
    int *lim_own;      // [max_rows] own keys each row sees (slot + 1)
    int *lim_pre;      // [max_rows] prefix keys each row sees (0 without a parent)
    int *idx_own;      // [max_rows] rows grouped by own sequence
    int *idx_pre;      // [max_rows] rows grouped by parent
    RowKV *rows;       // [max_rows]
    AttnItem *it_own;  // [max_rows]
    AttnItem *it_pre;  // [max_rows]
    SampleRow *sample; // [max_rows]
    int *ids;          // [max_rows] sampled tokens
    float *logprobs;   // [max_rows]
} Meta;

struct CudaForward {
    Config cfg;
    int max_rows, max_seqs, n_sms;
    size_t kv_limit, kv_reserved, weight_bytes;
    cudaStream_t stream;
    cublasHandle_t blas;
    // weights
    uint16_t *tok_embd; // [vocab, dim] bf16
    uint16_t *output;   // [vocab, dim] bf16 (== tok_embd when tied)
    float *out_norm;    // [dim]
    CudaLayer *layers;  // [n_layers] host array of device pointers
    // activations
    float *x;        // [max_rows, dim] residual stream
    uint16_t *xb;    // [max_rows, dim] normed input of a matmul
    float *qkv;      // [max_rows, dim + 2*kv_dim]
    uint16_t *att;   // [max_rows, dim] attention output
    float *gu;       // [max_rows, 2*hidden] gate | up
    uint16_t *hb;    // [max_rows, hidden]
    float *logits;   // [max_rows, vocab]
    float *part_o;   // [part_rows, n_heads, head_dim] attention partials
    float *part_ml;  // [part_rows, n_heads, 2]
    int part_rows;   // capacity in (part, row) pairs
    void *meta_dev, *meta_host;
    size_t meta_bytes;
    Meta md, mh; // device and host views
    CudaSeq *seqs; // [max_seqs]
    int last_n_out;
    char err[320];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int cuda_device_available(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); // clear the sticky "no driver" error
        return 0;
    }
    return n > 0;
}

// cudaMalloc with an out-of-memory message naming the bytes and what they were for.
static int dev_alloc(void **p, size_t bytes, const char *what, char *err, size_t errlen) {
    *p = NULL;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e == cudaSuccess) return 0;
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    set_err(err, errlen, "CUDA: cannot allocate %zu bytes for %s (%s; %zu of %zu bytes free)",
            bytes, what, cudaGetErrorString(e), free_b, total_b);
    *p = NULL;
    return -1;
}

#define ALLOC(ptr, bytes, what)                                                                    \
    do {                                                                                           \
        if (dev_alloc((void **)&(ptr), (bytes), (what), err, errlen)) goto fail;                   \
    } while (0)

// Hands out the next 16-byte-aligned piece at offset *cur (pointer NULL when sizing only).
static void carve(char *base, size_t *cur, void **out, size_t bytes) {
    *out = base ? base + *cur : NULL;
    *cur += (bytes + 15) & ~(size_t)15;
}

// Lays out Meta over a base pointer (NULL: just size it); returns the total bytes.
static size_t meta_layout(Meta *m, char *base, int r) {
    size_t cur = 0;
    carve(base, &cur, (void **)&m->tokens, sizeof(int) * r);
    carve(base, &cur, (void **)&m->out_rows, sizeof(int) * r);
    carve(base, &cur, (void **)&m->lim_own, sizeof(int) * r);
    carve(base, &cur, (void **)&m->lim_pre, sizeof(int) * r);
    carve(base, &cur, (void **)&m->idx_own, sizeof(int) * r);
    carve(base, &cur, (void **)&m->idx_pre, sizeof(int) * r);
    carve(base, &cur, (void **)&m->rows, sizeof(RowKV) * r);
    carve(base, &cur, (void **)&m->it_own, sizeof(AttnItem) * r);
    carve(base, &cur, (void **)&m->it_pre, sizeof(AttnItem) * r);
    carve(base, &cur, (void **)&m->sample, sizeof(SampleRow) * r);
    carve(base, &cur, (void **)&m->ids, sizeof(int) * r);
    carve(base, &cur, (void **)&m->logprobs, sizeof(float) * r);
    return cur;
}

// Everything but the weights: stream, cuBLAS, activations, metadata, sequence table.
static CudaForward *common_init(const Config *cfg, int max_rows, int max_seqs, size_t kv_limit,
                                char *err, size_t errlen) {
    if (!cuda_device_available()) {
        set_err(err, errlen, "CUDA: no usable device");
        return NULL;
    }
    if (max_rows <= 0 || max_seqs <= 0 || cfg->head_dim % 32 || cfg->head_dim > 128 ||
        cfg->n_heads % cfg->n_kv_heads) {
        set_err(err, errlen,
                "CUDA: unsupported shape (max_rows %d, max_seqs %d, head_dim %d: the kernels "
                "need head_dim a multiple of 32 up to 128)",
                max_rows, max_seqs, cfg->head_dim);
        return NULL;
    }
    CudaForward *f = calloc(1, sizeof *f);
    if (!f) {
        set_err(err, errlen, "out of host memory");
        return NULL;
    }
    f->cfg = *cfg;
    f->max_rows = max_rows;
    f->max_seqs = max_seqs;
    f->kv_limit = kv_limit;
    f->seqs = calloc((size_t)max_seqs, sizeof *f->seqs);
    f->layers = calloc((size_t)cfg->n_layers, sizeof *f->layers);
    if (!f->seqs || !f->layers) {
        set_err(err, errlen, "out of host memory");
        goto fail;
    }
    int dev = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&f->n_sms, cudaDevAttrMultiProcessorCount, dev);
    if (cudaStreamCreate(&f->stream) != cudaSuccess) {
        set_err(err, errlen, "CUDA: cannot create a stream");
        goto fail;
    }
    if (cublasCreate(&f->blas) != CUBLAS_STATUS_SUCCESS) {
        set_err(err, errlen, "cuBLAS: cannot create a handle");
        goto fail;
    }
    cublasSetStream(f->blas, f->stream);
    const size_t r = (size_t)max_rows, d = cfg->dim, kvd = cfg->kv_dim, h = cfg->hidden_dim;
    ALLOC(f->x, r * d * 4, "the residual stream");
    ALLOC(f->xb, r * d * 2, "normed activations");
    ALLOC(f->qkv, r * (d + 2 * kvd) * 4, "q/k/v activations");
    ALLOC(f->att, r * d * 2, "attention output");
    ALLOC(f->gu, r * 2 * h * 4, "gate/up activations");
    ALLOC(f->hb, r * h * 2, "FFN activations");
    ALLOC(f->logits, r * cfg->vocab_size * 4, "logits");
    // Partials: prefill batches get 2 parts a row; decode batches (<= 64 rows) up to 34.
    f->part_rows = 2 * max_rows + 32 * (max_rows < 64 ? max_rows : 64);
    ALLOC(f->part_o, (size_t)f->part_rows * cfg->n_heads * cfg->head_dim * 4, "attention partials");
    ALLOC(f->part_ml, (size_t)f->part_rows * cfg->n_heads * 2 * 4, "attention partials");
    f->meta_bytes = meta_layout(&f->mh, NULL, max_rows); // offsets from NULL = sizes
    ALLOC(f->meta_dev, f->meta_bytes, "batch metadata");
    if (cudaMallocHost(&f->meta_host, f->meta_bytes) != cudaSuccess) {
        set_err(err, errlen, "CUDA: cannot allocate %zu bytes of pinned host memory", f->meta_bytes);
        goto fail;
    }
    meta_layout(&f->md, f->meta_dev, max_rows);
    meta_layout(&f->mh, f->meta_host, max_rows);
    return f;
fail:
    cuda_forward_free(f);
    return NULL;
}

void cuda_forward_free(CudaForward *f) {
    if (!f) return;
    if (f->stream) cudaStreamSynchronize(f->stream);
    for (int i = 0; f->seqs && i < f->max_seqs; i++) cuda_seq_free(f, i);
    for (int l = 0; f->layers && l < f->cfg.n_layers; l++) {
        CudaLayer *L = &f->layers[l];
        cudaFree(L->attn_norm);
        cudaFree(L->ffn_norm);
        cudaFree(L->wqkv);
        cudaFree(L->wo);
        cudaFree(L->wgu);
        cudaFree(L->wdown);
    }
    if (f->output != f->tok_embd) cudaFree(f->output);
    cudaFree(f->tok_embd);
    cudaFree(f->out_norm);
    cudaFree(f->x);
    cudaFree(f->xb);
    cudaFree(f->qkv);
    cudaFree(f->att);
    cudaFree(f->gu);
    cudaFree(f->hb);
    cudaFree(f->logits);
    cudaFree(f->part_o);
    cudaFree(f->part_ml);
    cudaFree(f->meta_dev);
    if (f->meta_host) cudaFreeHost(f->meta_host);
    if (f->blas) cublasDestroy(f->blas);
    if (f->stream) cudaStreamDestroy(f->stream);
    free(f->layers);
    free(f->seqs);
    free(f);
}

// ---- weights from a GGUF model ------------------------------------------------------------

// Dequantizes w (rows of `in` weights, any GGUF type) to bf16 and copies it to dst + row0
// rows. The host does the conversion with quant.c, the reference dequantizer.
static int upload_weight(uint16_t *dst, int64_t row0, const Weight *w, int64_t in, char *err,
                         size_t errlen) {
    if (w->in != in) {
        set_err(err, errlen, "%s: %lld inputs, expected %lld", w->name, (long long)w->in,
                (long long)in);
        return -1;
    }
    float *row = malloc(sizeof(float) * (size_t)in);
    uint16_t *buf = malloc(sizeof(uint16_t) * (size_t)in * (size_t)w->out);
    if (!row || !buf) {
        free(row);
        free(buf);
        set_err(err, errlen, "%s: out of host memory converting to bf16", w->name);
        return -1;
    }
    for (int64_t r = 0; r < w->out; r++) {
        dequantize_row(w->type, (const char *)w->data + (size_t)r * w->row_bytes, row, in);
        for (int64_t j = 0; j < in; j++) buf[r * in + j] = f32_to_bf16(row[j]);
    }
    cudaError_t e = cudaMemcpy(dst + row0 * in, buf, sizeof(uint16_t) * (size_t)in * w->out,
                               cudaMemcpyHostToDevice);
    free(row);
    free(buf);
    if (e != cudaSuccess) {
        set_err(err, errlen, "%s: copy to the device failed: %s", w->name, cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

static int upload_f32(float **dst, const float *src, int n, const char *what, char *err,
                      size_t errlen) {
    if (dev_alloc((void **)dst, sizeof(float) * n, what, err, errlen)) return -1;
    if (cudaMemcpy(*dst, src, sizeof(float) * n, cudaMemcpyHostToDevice) != cudaSuccess) {
        set_err(err, errlen, "%s: copy to the device failed", what);
        return -1;
    }
    return 0;
}

CudaForward *cuda_forward_init(Model *m, int max_rows, int max_seqs, size_t kv_limit_bytes,
                               char *err, size_t errlen) {
    const Config *c = &m->cfg;
    CudaForward *f = common_init(c, max_rows, max_seqs, kv_limit_bytes, err, errlen);
    if (!f) return NULL;
    const size_t d = c->dim, kvd = c->kv_dim, h = c->hidden_dim, v = c->vocab_size;
    ALLOC(f->tok_embd, v * d * 2, "token embeddings");
    if (upload_weight(f->tok_embd, 0, &m->tok_embd, c->dim, err, errlen)) goto fail;
    if (m->tied_embeddings) {
        f->output = f->tok_embd;
    } else {
        ALLOC(f->output, v * d * 2, "the output matrix");
        if (upload_weight(f->output, 0, &m->output, c->dim, err, errlen)) goto fail;
    }
    if (upload_f32(&f->out_norm, m->out_norm, c->dim, "output norm", err, errlen)) goto fail;
    f->weight_bytes = (v * d * (m->tied_embeddings ? 1 : 2)) * 2;
    for (int l = 0; l < c->n_layers; l++) {
        CudaLayer *L = &f->layers[l];
        const Layer *ml = &m->layers[l];
        ALLOC(L->wqkv, (d + 2 * kvd) * d * 2, "attention weights");
        ALLOC(L->wo, d * d * 2, "attention output weights");
        ALLOC(L->wgu, 2 * h * d * 2, "FFN weights");
        ALLOC(L->wdown, d * h * 2, "FFN down weights");
        if (upload_weight(L->wqkv, 0, &ml->wq, c->dim, err, errlen) ||
            upload_weight(L->wqkv, c->dim, &ml->wk, c->dim, err, errlen) ||
            upload_weight(L->wqkv, c->dim + c->kv_dim, &ml->wv, c->dim, err, errlen) ||
            upload_weight(L->wo, 0, &ml->wo, c->dim, err, errlen) ||
            upload_weight(L->wgu, 0, &ml->w_gate, c->dim, err, errlen) ||
            upload_weight(L->wgu, c->hidden_dim, &ml->w_up, c->dim, err, errlen) ||
            upload_weight(L->wdown, 0, &ml->w_down, c->hidden_dim, err, errlen) ||
            upload_f32(&L->attn_norm, ml->attn_norm, c->dim, "attention norm", err, errlen) ||
            upload_f32(&L->ffn_norm, ml->ffn_norm, c->dim, "FFN norm", err, errlen))
            goto fail;
        f->weight_bytes += ((d + 2 * kvd) * d + d * d + 3 * h * d) * 2;
    }
    return f;
fail:
    cuda_forward_free(f);
    return NULL;
}

// ---- random weights (benchmark shapes) -----------------------------------------------------

int cuda_random_config(const char *name, Config *cfg) {
    if (strcmp(name, "llama2-7b") != 0) return -1;
    Config c = {.dim = 4096, .n_layers = 32, .n_heads = 32, .n_kv_heads = 32, .head_dim = 128,
                .kv_dim = 4096, .hidden_dim = 11008, .vocab_size = 32000,
                .context_length = 4096, .rope_base = 10000.0f, .norm_eps = 1e-5f};
    *cfg = c;
    return 0;
}

// Uniform(-1/sqrt(in), 1/sqrt(in)) weights keep activations O(1) through the layers.
static int random_matrix(uint16_t **dst, size_t out, size_t in, uint64_t seed, const char *what,
                         char *err, size_t errlen) {
    if (dev_alloc((void **)dst, out * in * 2, what, err, errlen)) return -1;
    if (fill_random_bf16_cuda(*dst, (int64_t)(out * in), seed, 1.0f / sqrtf((float)in), 0)) {
        set_err(err, errlen, "CUDA: random fill of %s failed", what);
        return -1;
    }
    return 0;
}

static int ones(float **dst, int n, char *err, size_t errlen) {
    if (dev_alloc((void **)dst, sizeof(float) * n, "norm weights", err, errlen)) return -1;
    return fill_f32_cuda(*dst, n, 1.0f, 0) == cudaSuccess ? 0 : -1;
}

CudaForward *cuda_forward_init_random(const Config *c, uint64_t seed, int max_rows,
                                      int max_seqs, size_t kv_limit_bytes, char *err,
                                      size_t errlen) {
    CudaForward *f = common_init(c, max_rows, max_seqs, kv_limit_bytes, err, errlen);
    if (!f) return NULL;
    const size_t d = c->dim, kvd = c->kv_dim, h = c->hidden_dim, v = c->vocab_size;
    if (random_matrix(&f->tok_embd, v, d, seed, "token embeddings", err, errlen) ||
        random_matrix(&f->output, v, d, seed + 1, "the output matrix", err, errlen) ||
        ones(&f->out_norm, c->dim, err, errlen))
        goto fail;
    f->weight_bytes = 2 * v * d * 2;
    for (int l = 0; l < c->n_layers; l++) {
        CudaLayer *L = &f->layers[l];
        uint64_t s = seed + 16 * (uint64_t)(l + 1);
        if (random_matrix(&L->wqkv, d + 2 * kvd, d, s, "attention weights", err, errlen) ||
            random_matrix(&L->wo, d, d, s + 1, "attention output weights", err, errlen) ||
            random_matrix(&L->wgu, 2 * h, d, s + 2, "FFN weights", err, errlen) ||
            random_matrix(&L->wdown, d, h, s + 3, "FFN down weights", err, errlen) ||
            ones(&L->attn_norm, c->dim, err, errlen) || ones(&L->ffn_norm, c->dim, err, errlen))
            goto fail;
        f->weight_bytes += ((d + 2 * kvd) * d + d * d + 3 * h * d) * 2;
    }
    if (cudaDeviceSynchronize() != cudaSuccess) {
        set_err(err, errlen, "CUDA: generating random weights failed");
        goto fail;
    }
    return f;
fail:
    cuda_forward_free(f);
    return NULL;
}

// ---- sequences -----------------------------------------------------------------------------

const Config *cuda_forward_config(const CudaForward *f) { return &f->cfg; }
const char *cuda_forward_error(const CudaForward *f) { return f->err; }
size_t cuda_weight_bytes(const CudaForward *f) { return f->weight_bytes; }
size_t cuda_kv_token_bytes(const CudaForward *f) {
    return (size_t)2 * f->cfg.n_layers * f->cfg.kv_dim * sizeof(uint16_t);
}
size_t cuda_kv_bytes_used(const CudaForward *f) {
    size_t tokens = 0;
    for (int i = 0; i < f->max_seqs; i++)
        if (f->seqs[i].in_use) tokens += f->seqs[i].len;
    return tokens * cuda_kv_token_bytes(f);
}
int cuda_seq_pos(const CudaForward *f, int id) { return f->seqs[id].n_prefix + f->seqs[id].len; }

int cuda_seq_new(CudaForward *f, int parent, int cap, char *err, size_t errlen) {
    int id = -1;
    for (int i = 0; i < f->max_seqs && id < 0; i++)
        if (!f->seqs[i].in_use) id = i;
    if (id < 0) {
        set_err(err, errlen, "KV cache: all %d sequence slots are in use", f->max_seqs);
        return -1;
    }
    if (parent >= 0 && (parent >= f->max_seqs || !f->seqs[parent].in_use ||
                        f->seqs[parent].parent >= 0)) {
        set_err(err, errlen, "KV cache: parent %d is not a live prefix sequence", parent);
        return -1;
    }
    if (cap < 0) { // 0 is fine: a one-token prompt's prefix holds no tokens
        set_err(err, errlen, "KV cache: capacity %d is negative", cap);
        return -1;
    }
    size_t bytes = (size_t)cap * cuda_kv_token_bytes(f);
    if (f->kv_limit && f->kv_reserved + bytes > f->kv_limit) {
        set_err(err, errlen,
                "KV cache: %zu more bytes needed for %d tokens but only %zu of the %zu-byte "
                "limit are free",
                bytes, cap, f->kv_limit - f->kv_reserved, f->kv_limit);
        return -1;
    }
    CudaSeq *s = &f->seqs[id];
    size_t half = bytes ? bytes / 2 : 16; // a valid pointer even for an empty sequence
    if (dev_alloc((void **)&s->k, half, "KV cache keys", err, errlen)) return -1;
    if (dev_alloc((void **)&s->v, half, "KV cache values", err, errlen)) {
        cudaFree(s->k);
        s->k = NULL;
        return -1;
    }
    s->in_use = 1;
    s->parent = parent;
    s->n_prefix = parent >= 0 ? f->seqs[parent].len : 0;
    s->len = 0;
    s->cap = cap;
    f->kv_reserved += bytes;
    return id;
}

void cuda_seq_free(CudaForward *f, int id) {
    if (id < 0 || id >= f->max_seqs || !f->seqs[id].in_use) return;
    CudaSeq *s = &f->seqs[id];
    // Work already queued may still read this storage: cudaFree waits for the device.
    cudaFree(s->k);
    cudaFree(s->v);
    f->kv_reserved -= (size_t)s->cap * cuda_kv_token_bytes(f);
    memset(s, 0, sizeof *s);
}

// ---- one step ------------------------------------------------------------------------------

// y[n, out] (+)= x[n, in] W^T with W [out, in] row-major bf16: in cuBLAS's column-major terms
// y^T (out x n) = op(W) (out x in) * x^T (in x n) with op = transpose.
static int gemm(CudaForward *f, float *y, const uint16_t *x, const uint16_t *w, int n, int out,
                int in, float beta) {
    const float alpha = 1.0f;
    cublasStatus_t st = cublasGemmEx(f->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &alpha, w,
                                     CUDA_R_16BF, in, x, CUDA_R_16BF, in, &beta, y, CUDA_R_32F,
                                     out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) {
        set_err(f->err, sizeof f->err, "cuBLAS GEMM [%d x %d] x [%d x %d] failed (status %d)", n,
                in, out, in, (int)st);
        return -1;
    }
    return 0;
}

// Groups the rows with key[row] >= 0 by key (counting sort, rows keep their order inside a
// group) into idx, and cuts each group into items of at most per_item rows.
// Returns the item count; *max_keys gets the largest item key count.
static int build_items(CudaForward *f, const int *key, const int *lim, int n, int per_item,
                       int *idx, AttnItem *items, int *max_keys) {
    int *count = calloc((size_t)f->max_seqs + 1, sizeof(int));
    if (!count) return -1;
    for (int i = 0; i < n; i++)
        if (key[i] >= 0) count[key[i] + 1]++;
    for (int s = 0; s < f->max_seqs; s++) count[s + 1] += count[s];
    int total = count[f->max_seqs];
    int *fill = malloc(sizeof(int) * ((size_t)f->max_seqs + 1));
    if (!fill) {
        free(count);
        return -1;
    }
    memcpy(fill, count, sizeof(int) * ((size_t)f->max_seqs + 1));
    for (int i = 0; i < n; i++)
        if (key[i] >= 0) idx[fill[key[i]]++] = i;
    int n_items = 0;
    *max_keys = 0;
    for (int a = 0; a < total;) {
        const CudaSeq *src = &f->seqs[key[idx[a]]];
        int end = count[key[idx[a]] + 1];
        for (int b = a; b < end; b += per_item) {
            AttnItem *it = &items[n_items++];
            it->k = src->k;
            it->v = src->v;
            it->cap = src->cap;
            it->row0 = b;
            it->n_rows = end - b < per_item ? end - b : per_item;
            it->n_keys = 0;
            for (int r = b; r < b + it->n_rows; r++)
                if (lim[idx[r]] > it->n_keys) it->n_keys = lim[idx[r]];
            if (it->n_keys > *max_keys) *max_keys = it->n_keys;
        }
        a = end;
    }
    free(count);
    free(fill);
    return n_items;
}

// Splits a key range across blocks so that a launch has about 2 blocks per SM, within the
// partial buffers' capacity (max_parts) and at least 64 keys a split.
static void choose_splits(const CudaForward *f, int n_items, int max_keys, int max_parts,
                          int *n_splits, int *split_len) {
    int blocks = n_items * f->cfg.n_kv_heads, s = 1;
    if (blocks < 2 * f->n_sms) s = (2 * f->n_sms + blocks - 1) / blocks;
    int by_keys = (max_keys + 63) / 64;
    if (s > by_keys) s = by_keys;
    if (s > max_parts) s = max_parts;
    if (s < 1) s = 1;
    int len = (max_keys + s - 1) / s;
    len = (len + 31) / 32 * 32;
    if (len < 32) len = 32;
    *split_len = len;
    *n_splits = (max_keys + len - 1) / len;
    if (*n_splits < 1) *n_splits = 1;
}

#define KCHECK(call)                                                                               \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            set_err(f->err, sizeof f->err, "CUDA: %s failed: %s", #call, cudaGetErrorString(e_)); \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

int cuda_forward(CudaForward *f, const int *tokens, const int *seqs, int n, const int *out_rows,
                 int n_out, float *logits_host) {
    const Config *c = &f->cfg;
    const Meta *h = &f->mh, *d = &f->md;
    if (n <= 0 || n > f->max_rows || n_out < 0 || n_out > n) {
        set_err(f->err, sizeof f->err, "cuda_forward: %d rows (%d outputs) for at most %d", n,
                n_out, f->max_rows);
        return -1;
    }
    // Positions and KV slots; validate everything before touching the device.
    int *added = calloc((size_t)f->max_seqs, sizeof(int));
    int *parent_key = malloc(sizeof(int) * (size_t)n), *own_key = malloc(sizeof(int) * (size_t)n);
    if (!added || !parent_key || !own_key) {
        free(added), free(parent_key), free(own_key);
        set_err(f->err, sizeof f->err, "cuda_forward: out of host memory");
        return -1;
    }
    int bad = 0;
    for (int i = 0; i < n && !bad; i++) {
        int sid = seqs[i];
        if (sid < 0 || sid >= f->max_seqs || !f->seqs[sid].in_use) {
            set_err(f->err, sizeof f->err, "cuda_forward: row %d: sequence %d is not live", i, sid);
            bad = 1;
            break;
        }
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size) {
            set_err(f->err, sizeof f->err, "cuda_forward: row %d: token %d out of range", i,
                    tokens[i]);
            bad = 1;
            break;
        }
        CudaSeq *s = &f->seqs[sid];
        int slot = s->len + added[sid]++;
        if (slot >= s->cap) {
            set_err(f->err, sizeof f->err, "cuda_forward: sequence %d is full (%d tokens)", sid,
                    s->cap);
            bad = 1;
            break;
        }
        RowKV rk = {s->k, s->v, s->cap, slot, s->n_prefix + slot};
        h->rows[i] = rk;
        h->tokens[i] = tokens[i];
        h->lim_own[i] = slot + 1;
        h->lim_pre[i] = s->parent >= 0 ? s->n_prefix : 0;
        own_key[i] = sid;
        parent_key[i] = s->parent >= 0 && s->n_prefix > 0 ? s->parent : -1;
    }
    for (int j = 0; j < n_out && !bad; j++) {
        if (out_rows[j] < 0 || out_rows[j] >= n) {
            set_err(f->err, sizeof f->err, "cuda_forward: output row %d out of range", out_rows[j]);
            bad = 1;
        }
        h->out_rows[j] = out_rows[j];
    }
    const int group = c->n_heads / c->n_kv_heads, per_item = ATTN_MAX_QVECS / group;
    int n_own = 0, n_pre = 0, max_own = 0, max_pre = 0;
    if (!bad) {
        n_own = build_items(f, own_key, h->lim_own, n, per_item, h->idx_own, h->it_own, &max_own);
        n_pre = build_items(f, parent_key, h->lim_pre, n, per_item, h->idx_pre, h->it_pre, &max_pre);
        if (n_own < 0 || n_pre < 0) {
            set_err(f->err, sizeof f->err, "cuda_forward: out of host memory");
            bad = 1;
        }
    }
    free(parent_key);
    if (bad) {
        free(added);
        free(own_key);
        return -1;
    }
    // Parts: [0, s_pre) prefix splits, [s_pre, s_pre + s_own) own splits.
    int max_parts = f->part_rows / n, s_pre = 0, len_pre = 32, s_own, len_own;
    if (n_pre > 0) choose_splits(f, n_pre, max_pre, max_parts / 2, &s_pre, &len_pre);
    choose_splits(f, n_own, max_own, max_parts - s_pre, &s_own, &len_own);

    KCHECK(cudaMemcpyAsync(f->meta_dev, f->meta_host, f->meta_bytes, cudaMemcpyHostToDevice,
                           f->stream));
    if (s_pre > 0) // rows without a prefix must read empty (l = 0) prefix partials
        KCHECK(cudaMemsetAsync(f->part_ml, 0, sizeof(float) * 2 * (size_t)s_pre * n * c->n_heads,
                               f->stream));
    const int qkv_out = c->dim + 2 * c->kv_dim;
    KCHECK(embed_cuda(f->x, f->tok_embd, d->tokens, n, c->dim, c->vocab_size, f->stream));
    for (int l = 0; l < c->n_layers; l++) {
        const CudaLayer *L = &f->layers[l];
        KCHECK(rmsnorm_cuda(f->xb, f->x, L->attn_norm, NULL, n, c->dim, c->norm_eps, f->stream));
        if (gemm(f, f->qkv, f->xb, L->wqkv, n, qkv_out, c->dim, 0.0f)) goto fail;
        KCHECK(rope_qkv_store_cuda(f->qkv, d->rows, n, l, c->n_heads, c->n_kv_heads, c->head_dim,
                                   c->rope_base, f->stream));
        if (s_pre > 0)
            KCHECK(attention_partial_cuda(f->part_o, f->part_ml, 0, s_pre, len_pre, f->qkv, qkv_out,
                                          d->it_pre, n_pre, d->idx_pre, d->lim_pre, n, l,
                                          c->n_heads, c->n_kv_heads, c->head_dim, f->stream));
        KCHECK(attention_partial_cuda(f->part_o, f->part_ml, s_pre, s_own, len_own, f->qkv,
                                      qkv_out,
                                      d->it_own, n_own, d->idx_own, d->lim_own, n, l, c->n_heads,
                                      c->n_kv_heads, c->head_dim, f->stream));
        KCHECK(attention_merge_cuda(f->att, f->part_o, f->part_ml, s_pre + s_own, n, c->n_heads,
                                    c->head_dim, f->stream));
        if (gemm(f, f->x, f->att, L->wo, n, c->dim, c->dim, 1.0f)) goto fail;
        KCHECK(rmsnorm_cuda(f->xb, f->x, L->ffn_norm, NULL, n, c->dim, c->norm_eps, f->stream));
        if (gemm(f, f->gu, f->xb, L->wgu, n, 2 * c->hidden_dim, c->dim, 0.0f)) goto fail;
        KCHECK(swiglu_cuda(f->hb, f->gu, n, c->hidden_dim, f->stream));
        if (gemm(f, f->x, f->hb, L->wdown, n, c->dim, c->hidden_dim, 1.0f)) goto fail;
    }
    if (n_out > 0) {
        KCHECK(rmsnorm_cuda(f->xb, f->x, f->out_norm, d->out_rows, n_out, c->dim, c->norm_eps,
                            f->stream));
        if (gemm(f, f->logits, f->xb, f->output, n_out, c->vocab_size, c->dim, 0.0f)) goto fail;
    }
    for (int s = 0; s < f->max_seqs; s++) f->seqs[s].len += added[s];
    free(added);
    free(own_key);
    f->last_n_out = n_out;
    if (logits_host && n_out > 0)
        KCHECK(cudaMemcpyAsync(logits_host, f->logits, sizeof(float) * (size_t)n_out * c->vocab_size,
                               cudaMemcpyDeviceToHost, f->stream));
    KCHECK(cudaStreamSynchronize(f->stream)); // surfaces asynchronous errors at this call
    return 0;
fail:
    free(added);
    free(own_key);
    return -1;
}

int cuda_sample(CudaForward *f, int n_out, const SamplerParams *p, const uint64_t *seed,
                const uint32_t *chain, const uint32_t *step, int *ids, float *logprobs) {
    if (n_out < 0 || n_out > f->last_n_out) {
        set_err(f->err, sizeof f->err, "cuda_sample: %d rows but the last forward kept %d",
                n_out, f->last_n_out);
        return -1;
    }
    if (n_out == 0) return 0;
    for (int j = 0; j < n_out; j++) {
        SampleRow r = {p[j], seed[j], chain[j], step[j]};
        f->mh.sample[j] = r;
    }
    KCHECK(cudaMemcpyAsync(f->md.sample, f->mh.sample, sizeof(SampleRow) * n_out,
                           cudaMemcpyHostToDevice, f->stream));
    // only the tokenizer's ids are drawn: a padded vocabulary's extra rows never are
    KCHECK(sample_cuda(f->md.ids, f->md.logprobs, f->logits, f->md.sample, n_out,
                       config_sampled_vocab(&f->cfg), f->cfg.vocab_size, f->stream));
    KCHECK(cudaMemcpyAsync(f->mh.ids, f->md.ids, sizeof(int) * n_out, cudaMemcpyDeviceToHost,
                           f->stream));
    KCHECK(cudaMemcpyAsync(f->mh.logprobs, f->md.logprobs, sizeof(float) * n_out,
                           cudaMemcpyDeviceToHost, f->stream));
    KCHECK(cudaStreamSynchronize(f->stream));
    memcpy(ids, f->mh.ids, sizeof(int) * n_out);
    memcpy(logprobs, f->mh.logprobs, sizeof(float) * n_out);
    return 0;
}
