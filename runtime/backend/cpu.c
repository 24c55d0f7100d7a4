// backend/cpu.c - the CPU backend: cpu/forward.c's step (the batched forward pass, then the CPU
// sampler over the output rows) over the KV cache.
#include "backend/backend.h"
#include "backend/kv_entries.h"
#include "cpu/forward.h"
#include "cpu/isa.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    KVCache kv; // first: the shared KV entries take the impl as its KVCache (backend.h)
    Forward f;
} CpuBackend;
_Static_assert(offsetof(CpuBackend, kv) == 0, "the KV entries need the KVCache first");

// Bytes of every matrix a step reads once, in its GGUF type (the embedding table is read only
// by rows, so it counts only as the output matrix when tied).
static size_t weight_bytes(const Model *m) {
    size_t b = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const Weight *ws[LAYER_N_WEIGHTS];
        layer_weights(&m->layers[l], ws);
        for (int i = 0; i < LAYER_N_WEIGHTS; i++) b += ws[i]->row_bytes * (size_t)ws[i]->out;
    }
    return b + m->output.row_bytes * (size_t)m->output.out;
}

static void cpu_times(void *impl, double *forward_s, double *sample_s) {
    forward_times(&((CpuBackend *)impl)->f, forward_s, sample_s);
}

static int cpu_step(void *impl, const Step *st, char *err, size_t errlen) {
    CpuBackend *cb = impl;
    if (forward(&cb->f, st)) return snprintf(err, errlen, "forward: %s", cb->f.err), -1;
    return 0;
}

static void cpu_free(Backend *b) {
    CpuBackend *cb = b->impl;
    if (!cb) return;
    forward_free(&cb->f);
    kv_free(&cb->kv);
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
    backend_set_kv_entries(b);
    b->step = cpu_step;
    b->times = cpu_times;
    b->weight_bytes = weight_bytes(m);
    b->kernel = cpu_isa_name(cpu_isa());
    b->numerics = numerics_name(cb->f.numerics);
    return 0;
}

int backend_cpu_set_numerics(Backend *b, int numerics, char *err, size_t errlen) {
    CpuBackend *cb = b->impl;
    if (forward_set_numerics(&cb->f, (Numerics)numerics, err, errlen)) return -1;
    b->numerics = numerics_name(cb->f.numerics);
    return 0;
}
