// backend/cpu.c - the CPU backend: cpu/forward.c's batched forward pass, the KV cache, and the
// CPU sampler run over the requested rows (one Sampler per thread).
#include "backend/backend.h"
#include "cpu/forward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    KVCache kv;
    Forward f;
    Sampler *samplers; // [n_threads]
    int n_samplers;
    double forward_s, sample_s; // time spent in decode(), for times()
} CpuBackend;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Bytes of every matrix a step reads once, in its GGUF type (the embedding table is read only
// by rows, so it counts only as the output matrix when tied).
static size_t weight_bytes(const Model *m) {
    size_t b = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const Layer *L = &m->layers[l];
        const Weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 7; i++) b += ws[i]->row_bytes * (size_t)ws[i]->out;
    }
    return b + m->output.row_bytes * (size_t)m->output.out;
}

static void cpu_times(void *impl, double *forward_s, double *sample_s) {
    const CpuBackend *cb = impl;
    *forward_s = cb->forward_s;
    *sample_s = cb->sample_s;
}

static int cpu_seq_new(void *impl, int parent, int cap, char *err, size_t errlen) {
    return kv_seq_new(&((CpuBackend *)impl)->kv, parent, cap, err, errlen);
}
static void cpu_seq_free(void *impl, int id) {
    kv_seq_free(&((CpuBackend *)impl)->kv, id);
}
static size_t cpu_kv_bytes_used(void *impl) {
    return kv_bytes_used(&((CpuBackend *)impl)->kv);
}
static size_t cpu_kv_token_bytes(void *impl) {
    return kv_token_bytes(&((CpuBackend *)impl)->kv);
}

static int cpu_decode(void *impl, const int *tokens, const int *seqs, int n, const int *out_rows,
                      int n_out, const SamplerParams *params, const uint64_t *seeds,
                      const uint32_t *chains, const uint32_t *steps, int *ids, float *logprobs,
                      TokenConf *conf, char *err, size_t errlen) {
    CpuBackend *cb = impl;
    double t0 = now_s();
    const float *logits = forward(&cb->f, tokens, seqs, n, out_rows, n_out);
    double t1 = now_s();
    cb->forward_s += t1 - t0;
    if (!logits) {
        snprintf(err, errlen, "forward: %s", cb->f.err);
        return -1;
    }
    // logits: [n_out, vocab_size]; the samplers see only the first n_tokens of a row (padding ids
    // past the tokenizer are never drawn: config_sampled_vocab).
    const int vocab = cb->f.m->cfg.vocab_size;
    // Each row's draw depends only on its own (seed, chain, step): rows can go in any order.
#pragma omp parallel for schedule(dynamic, 1) if (n_out > 1)
    for (int j = 0; j < n_out; j++) {
#ifdef _OPENMP
        Sampler *s = &cb->samplers[omp_get_thread_num() % cb->n_samplers];
#else
        Sampler *s = &cb->samplers[0];
#endif
        const float *row = logits + (size_t)j * vocab;
        ids[j] = sample(s, row, &params[j], seeds[j], chains[j], steps[j], &logprobs[j]);
        if (conf)
            conf[j] = params[j].conf_k > 0
                          ? token_confidence(s, row, params[j].temperature, params[j].conf_k)
                          : (TokenConf){NAN, NAN};
    }
    cb->sample_s += now_s() - t1;
    return 0;
}

static void cpu_free(Backend *b) {
    CpuBackend *cb = b->impl;
    if (!cb) return;
    forward_free(&cb->f);
    kv_free(&cb->kv);
    for (int i = 0; i < cb->n_samplers; i++) sampler_free(&cb->samplers[i]);
    free(cb->samplers);
    free(cb);
    b->impl = NULL;
}

int backend_cpu_init(Backend *b, Model *m, int max_rows, int max_seqs, size_t kv_limit_bytes,
                     char *err, size_t errlen) {
    memset(b, 0, sizeof *b);
    CpuBackend *cb = calloc(1, sizeof *cb);
    if (!cb) return snprintf(err, errlen, "out of memory"), -1;
    b->impl = cb;
    b->free = cpu_free;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    cb->samplers = calloc(threads, sizeof(Sampler));
    if (!cb->samplers) {
        cpu_free(b);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    for (int i = 0; i < threads; i++, cb->n_samplers++)
        if (sampler_init(&cb->samplers[i], config_sampled_vocab(&m->cfg))) {
            cpu_free(b);
            return snprintf(err, errlen, "out of memory for the sampler"), -1;
        }
    if (kv_init(&cb->kv, m->cfg.n_layers, m->cfg.n_kv_heads, m->cfg.head_dim, max_seqs,
                kv_limit_bytes)) {
        cpu_free(b);
        return snprintf(err, errlen, "out of memory for the KV cache table"), -1;
    }
    if (forward_init(&cb->f, m, &cb->kv, max_rows, err, errlen)) {
        cpu_free(b);
        return -1;
    }
    b->name = "cpu";
    b->max_rows = max_rows;
    b->vocab = m->cfg.vocab_size;
    b->context = m->cfg.context_length;
    b->seq_new = cpu_seq_new;
    b->seq_free = cpu_seq_free;
    b->decode = cpu_decode;
    b->kv_bytes_used = cpu_kv_bytes_used;
    b->kv_token_bytes = cpu_kv_token_bytes;
    b->times = cpu_times;
    b->weight_bytes = weight_bytes(m);
    return 0;
}

int backend_cpu_set_numerics(Backend *b, int numerics, char *err, size_t errlen) {
    return forward_set_numerics(&((CpuBackend *)b->impl)->f, (Numerics)numerics, err, errlen);
}
