// cuda/weights.c - a model's weights on the device in bf16 (the CUDA build).
//
// Matrices that one matmul reads together are stacked into one device matrix by rows (Wq|Wk|Wv,
// W_gate|W_up): one cuBLAS call, one weight stream. Every GGUF type is converted on the host by
// quant.c's dequantizers (the reference the CPU path uses too), rows in parallel, then rounded to
// bf16 (round to nearest even); BF16 weights (random models, BF16 files) are copied as they are.
// Norm vectors stay fp32.
#include "cuda/forward_impl.h"
#include "model/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dev_alloc(void **p, size_t bytes, const char *what, char *err, size_t errlen) {
    *p = NULL;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 16);
    if (e == cudaSuccess) return 0;
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    snprintf(err, errlen, "CUDA: cannot allocate %zu bytes for %s (%s; %zu of %zu bytes free)",
             bytes, what, cudaGetErrorString(e), free_b, total_b);
    *p = NULL;
    return -1;
}

// w (rows of `in` weights, any GGUF type) as bf16 into dst at row row0.
static int put_matrix(uint16_t *dst, int64_t row0, const Weight *w, int64_t in, char *err,
                      size_t errlen) {
    if (w->in != in) {
        snprintf(err, errlen, "%s: %lld inputs, expected %lld", w->name, (long long)w->in,
                 (long long)in);
        return -1;
    }
    const size_t elems = (size_t)in * (size_t)w->out, bytes = elems * sizeof(uint16_t);
    const void *src = w->data;
    uint16_t *buf = NULL;
    if (w->type != GGML_TYPE_BF16 || w->row_bytes != (size_t)in * 2) {
        if (!(buf = malloc(bytes))) {
            snprintf(err, errlen, "%s: out of host memory converting %zu bytes to bf16", w->name,
                     bytes);
            return -1;
        }
        int failed = 0;
#pragma omp parallel reduction(| : failed)
        {
            float *row = malloc(sizeof(float) * (size_t)in);
            failed = !row;
#pragma omp for schedule(static)
            for (int64_t r = 0; r < w->out; r++) {
                if (!row) continue;
                dequantize_row(w->type, (const char *)w->data + (size_t)r * w->row_bytes, row, in);
                for (int64_t j = 0; j < in; j++) buf[r * in + j] = f32_to_bf16(row[j]);
            }
            free(row);
        }
        if (failed) {
            free(buf);
            snprintf(err, errlen, "%s: out of host memory converting to bf16", w->name);
            return -1;
        }
        src = buf;
    }
    cudaError_t e = cudaMemcpy(dst + row0 * in, src, bytes, cudaMemcpyHostToDevice);
    free(buf);
    if (e != cudaSuccess) {
        snprintf(err, errlen, "%s: copy to the device failed: %s", w->name, cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

// A device matrix of `rows` x in bf16 holding the parts stacked in order.
static int stacked(uint16_t **dst, const Weight *const *parts, int n_parts, int64_t in,
                   const char *what, char *err, size_t errlen) {
    int64_t rows = 0;
    for (int i = 0; i < n_parts; i++) rows += parts[i]->out;
    if (dev_alloc((void **)dst, (size_t)rows * in * 2, what, err, errlen)) return -1;
    for (int i = 0, at = 0; i < n_parts; at += (int)parts[i]->out, i++)
        if (put_matrix(*dst, at, parts[i], in, err, errlen)) return -1;
    return 0;
}

static int vector(float **dst, const float *src, int n, char *err, size_t errlen) {
    if (dev_alloc((void **)dst, sizeof(float) * n, "norm weights", err, errlen)) return -1;
    cudaError_t e = cudaMemcpy(*dst, src, sizeof(float) * n, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) return 0;
    snprintf(err, errlen, "CUDA: copying norm weights failed: %s", cudaGetErrorString(e));
    return -1;
}

// The optional vectors of the architectures (qwen2's biases, stacked as q|k|v; qwen3's q/k
// norms) where the model has them; they stay NULL otherwise.
static int arch_vectors(CudaLayer *G, const Layer *L, const Config *c, char *err, size_t errlen) {
    const int qd = config_q_dim(c), n = qd + 2 * c->kv_dim;
    if (L->bq) {
        float *b = malloc(sizeof(float) * n);
        if (!b) return snprintf(err, errlen, "out of host memory"), -1;
        memcpy(b, L->bq, sizeof(float) * qd);
        memcpy(b + qd, L->bk, sizeof(float) * c->kv_dim);
        memcpy(b + qd + c->kv_dim, L->bv, sizeof(float) * c->kv_dim);
        int rc = vector(&G->bqkv, b, n, err, errlen);
        free(b);
        if (rc) return -1;
    }
    if (L->q_norm && (vector(&G->q_norm, L->q_norm, c->head_dim, err, errlen) ||
                      vector(&G->k_norm, L->k_norm, c->head_dim, err, errlen)))
        return -1;
    return 0;
}

int weights_upload_cuda(CudaWeights *w, const Model *m, char *err, size_t errlen) {
    const Config *c = &m->cfg;
    memset(w, 0, sizeof *w);
    w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
    if (!w->layers) return snprintf(err, errlen, "out of host memory"), -1;
    w->n_layers = c->n_layers;
    const int64_t d = c->dim, h = c->hidden_dim, qd = config_q_dim(c);
    for (int l = 0; l < c->n_layers; l++) {
        const Layer *L = &m->layers[l];
        CudaLayer *G = &w->layers[l];
        const Weight *qkv[3] = {&L->wq, &L->wk, &L->wv}, *gu[2] = {&L->w_gate, &L->w_up};
        const Weight *o[1] = {&L->wo}, *down[1] = {&L->w_down};
        if (stacked(&G->wqkv, qkv, 3, d, "attention weights", err, errlen) ||
            stacked(&G->wo, o, 1, qd, "attention output weights", err, errlen) ||
            stacked(&G->wgu, gu, 2, d, "FFN weights", err, errlen) ||
            stacked(&G->wdown, down, 1, h, "FFN down weights", err, errlen) ||
            vector(&G->attn_norm, L->attn_norm, c->dim, err, errlen) ||
            vector(&G->ffn_norm, L->ffn_norm, c->dim, err, errlen) ||
            arch_vectors(G, L, c, err, errlen))
            return -1; // the caller frees what was made
        w->bytes += (size_t)((qd + 2 * c->kv_dim) * d + qd * d + 3 * h * d) * 2;
    }
    const Weight *emb[1] = {&m->tok_embd}, *out[1] = {&m->output};
    if (stacked(&w->tok_embd, emb, 1, d, "token embeddings", err, errlen)) return -1;
    if (m->tied_embeddings)
        w->output = w->tok_embd;
    else if (stacked(&w->output, out, 1, d, "the output matrix", err, errlen))
        return -1;
    if (vector(&w->out_norm, m->out_norm, c->dim, err, errlen)) return -1;
    if (m->rope_factors && vector(&w->rope_factors, m->rope_factors, c->head_dim / 2, err, errlen))
        return -1;
    w->bytes += (size_t)c->vocab_size * d * 2; // the output matrix (read whole each step)
    return 0;
}

void weights_free_cuda(CudaWeights *w) {
    for (int l = 0; w->layers && l < w->n_layers; l++) {
        CudaLayer *G = &w->layers[l];
        cudaFree(G->attn_norm);
        cudaFree(G->ffn_norm);
        cudaFree(G->wqkv);
        cudaFree(G->wo);
        cudaFree(G->wgu);
        cudaFree(G->wdown);
        cudaFree(G->bqkv), cudaFree(G->q_norm), cudaFree(G->k_norm);
    }
    cudaFree(w->rope_factors);
    if (w->output != w->tok_embd) cudaFree(w->output);
    cudaFree(w->tok_embd);
    cudaFree(w->out_norm);
    free(w->layers);
    memset(w, 0, sizeof *w);
}
