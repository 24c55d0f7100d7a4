// model_random.c - a Model whose weights are generated in host memory (see model_random.h).
//
// The Model is the same struct model_load fills from a GGUF file: Weight views of type BF16
// into one buffer (m->owned), fp32 norm vectors. Backends cannot tell the difference, so a
// benchmark through the Backend runs the same code on a random model as on a real one.
#include "model/model_random.h"
#include "model/quant.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *MODEL_RANDOM_SHAPES = "smollm2-135m, llama2-7b";

typedef struct {
    const char *name;
    Config cfg;
    int tied;
} Shape;

static const Shape SHAPES[] = {
    {"smollm2-135m", // the default model's shape (its weights are Q4_1; these are BF16)
     {.dim = 576,
      .n_layers = 30,
      .n_heads = 9,
      .n_kv_heads = 3,
      .head_dim = 64,
      .kv_dim = 192,
      .hidden_dim = 1536,
      .vocab_size = 49152,
      .context_length = 8192,
      .rope_base = 100000.0f,
      .norm_eps = 1e-5f},
     1},
    {"llama2-7b",
     {.dim = 4096,
      .n_layers = 32,
      .n_heads = 32,
      .n_kv_heads = 32,
      .head_dim = 128,
      .kv_dim = 4096,
      .hidden_dim = 11008,
      .vocab_size = 32000,
      .context_length = 4096,
      .rope_base = 10000.0f,
      .norm_eps = 1e-5f},
     0},
};

static const Shape *find(const char *name) {
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
        if (!strcmp(SHAPES[i].name, name)) return &SHAPES[i];
    return NULL;
}

int model_random_config(const char *shape, Config *cfg) {
    const Shape *s = find(shape);
    if (!s) return -1;
    *cfg = s->cfg;
    return 0;
}

// Row r of matrix `which`: a xorshift stream seeded from (seed, which, r), so rows can be
// generated in parallel and the result does not depend on the thread count.
static void fill_rows(uint16_t *w, int64_t in, int64_t out, uint64_t seed, uint32_t which) {
    const float scale = 1.0f / sqrtf((float)in);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < out; r++) {
        uint64_t x = rng_bits(seed, which, (uint32_t)r) | 1;
        uint16_t *row = w + r * in;
        for (int64_t j = 0; j < in; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            float u = (float)(x >> 40) * (1.0f / 16777216.0f); // [0, 1)
            row[j] = f32_to_bf16(scale * (2.0f * u - 1.0f));
        }
    }
}

static float *ones(int n) {
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int i = 0; v && i < n; i++) v[i] = 1.0f;
    return v;
}

int model_random(Model *m, const char *shape, uint64_t seed, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->file.fd = -1; // no file: model_free must not close a descriptor
    const Shape *s = find(shape);
    if (!s) {
        snprintf(err, errlen, "--random-model: unknown shape '%s' (known: %s)", shape,
                 MODEL_RANDOM_SHAPES);
        return -1;
    }
    const Config *c = &s->cfg;
    m->cfg = *c;
    m->tied_embeddings = s->tied;
    // elements: per layer q, k, v, o, gate, up, down; then the embedding table (and output)
    const int64_t d = c->dim, kvd = c->kv_dim, h = c->hidden_dim, v = c->vocab_size;
    const int64_t per_layer = d * d + 2 * kvd * d + d * d + 3 * h * d;
    const int64_t total = per_layer * c->n_layers + v * d * (s->tied ? 1 : 2);
    uint16_t *buf = malloc(sizeof(uint16_t) * (size_t)total);
    m->layers = calloc((size_t)c->n_layers, sizeof(Layer));
    m->out_norm = ones(c->dim);
    m->owned = buf;
    if (!buf || !m->layers || !m->out_norm) {
        snprintf(err, errlen, "--random-model %s: out of memory for %.2f GB of weights", shape,
                 total * 2.0 / 1e9);
        model_free(m);
        return -1;
    }
    uint16_t *at = buf;
    uint32_t which = 0;
#define MATRIX(w, name_, in_, out_)                                                                \
    do {                                                                                           \
        (w) = (Weight){at, GGML_TYPE_BF16, (in_), (out_), (size_t)(in_)*2, (name_), NULL};         \
        fill_rows(at, (in_), (out_), seed, which++);                                               \
        at += (int64_t)(in_) * (out_);                                                             \
    } while (0)
    for (int l = 0; l < c->n_layers; l++) {
        Layer *L = &m->layers[l];
        if (!(L->attn_norm = ones(c->dim)) || !(L->ffn_norm = ones(c->dim))) {
            snprintf(err, errlen, "--random-model %s: out of memory", shape);
            model_free(m);
            return -1;
        }
        MATRIX(L->wq, "attn_q (random)", d, d);
        MATRIX(L->wk, "attn_k (random)", d, kvd);
        MATRIX(L->wv, "attn_v (random)", d, kvd);
        MATRIX(L->wo, "attn_output (random)", d, d);
        MATRIX(L->w_gate, "ffn_gate (random)", d, h);
        MATRIX(L->w_up, "ffn_up (random)", d, h);
        MATRIX(L->w_down, "ffn_down (random)", h, d);
    }
    MATRIX(m->tok_embd, "token_embd (random)", d, v);
    if (s->tied)
        m->output = m->tok_embd;
    else
        MATRIX(m->output, "output (random)", d, v);
#undef MATRIX
    return 0;
}
