// model.h - a Llama-family model as views into a GGUF file: config and weights.
// Architectures (general.architecture): llama (Llama 1-3, SmolLM2, Mistral, TinyLlama), qwen2
// (q/k/v biases, NeoX rope), qwen3 (per-head RMSNorm of q and k, NeoX rope). They are one
// forward pass with switches: the biases and q/k norms are there when the file has them, and
// the rope's pairing, scaling and frequency factors are in the Config.
// Weights stay in their file type (mmap'd, never copied); only the small norm vectors are
// converted to fp32 copies at load.
#pragma once
#include "model/gguf.h"
#include <stddef.h>
#include <stdint.h>

enum { ARCH_LLAMA = 0, ARCH_QWEN2 = 1, ARCH_QWEN3 = 2 };

typedef struct {
    int arch; // ARCH_*
    int dim;  // embedding width d
    int n_layers;
    int n_heads;    // query heads
    int n_kv_heads; // key/value heads (GQA: n_heads is a multiple of it)
    int head_dim;   // <arch>.attention.key_length, else dim / n_heads (q is n_heads * head_dim
                    // wide, which need not be dim: Qwen3-0.6B)
    int kv_dim;     // n_kv_heads * head_dim
    int hidden_dim; // FFN width
    int vocab_size; // rows of token_embd.weight (and output.weight): ids a forward accepts
    int n_tokens;   // tokens the tokenizer knows, <= vocab_size: ids a sampler may return
    int context_length;
    float rope_base;   // <arch>.rope.freq_base
    int rope_neox;     // rotate the pairs (x[j], x[j + head_dim / 2]) (qwen2, qwen3), not
                       // (x[2j], x[2j + 1]) (llama, whose GGUF q/k rows are permuted to it)
    float rope_linear; // linear rope scaling: positions are divided by it (0 or 1: none)
    float norm_eps;    // llama.attention.layer_norm_rms_epsilon
} Config;

// A matrix with Hugging Face shape [out, in] (ggml ne = [in, out]): row r holds the `in`
// weights of output r, stored in `type` blocks along `in`.
typedef struct {
    const void *data;
    uint32_t type;
    int64_t in, out;
    size_t row_bytes;
    const char *name;
    // The CPU's int8 panels of this weight (qgemm.h), or NULL: set on a Forward's own copies of
    // the model's weights, never in the model.
    const struct QPacked *packed;
} Weight;

typedef struct {
    float *attn_norm;       // [dim]
    Weight wq, wk, wv, wo;  // [dim -> q_dim], [dim -> kv_dim], [dim -> kv_dim], [q_dim -> dim]
    float *bq, *bk, *bv;    // [q_dim], [kv_dim], [kv_dim] biases (qwen2), or NULL
    float *q_norm, *k_norm; // [head_dim] per-head RMSNorm weights of q and k (qwen3), or NULL
    float *ffn_norm;        // [dim]
    Weight w_gate, w_up;    // [dim -> hidden_dim]
    Weight w_down;          // [hidden_dim -> dim]
} Layer;

// The seven matrices of a layer, in this order everywhere (wq, wk, wv, wo, w_gate, w_up, w_down).
#define LAYER_N_WEIGHTS 7
static inline void layer_weights(const Layer *L, const Weight *w[LAYER_N_WEIGHTS]) {
    w[0] = &L->wq, w[1] = &L->wk, w[2] = &L->wv, w[3] = &L->wo;
    w[4] = &L->w_gate, w[5] = &L->w_up, w[6] = &L->w_down;
}

typedef struct {
    GGUFFile file;
    Config cfg;
    Weight tok_embd;     // [vocab -> ... ] rows are token embeddings: in = dim, out = vocab
    Layer *layers;       // [n_layers]
    float *out_norm;     // [dim]
    float *rope_factors; // [head_dim / 2] divisors of the rope frequencies (rope_freqs.weight:
                         // Llama 3.x rope scaling), or NULL
    Weight output;       // [dim -> vocab]; == tok_embd when the embeddings are tied
    int tied_embeddings;
    void *owned; // weights held in memory (model_random.c), freed by model_free
} Model;

// Width of q and of the attention output: n_heads * head_dim.
static inline int config_q_dim(const Config *c) {
    return c->n_heads * c->head_dim;
}

// Ids a sampler may return: [0, n_tokens). Rows past the tokenizer's tokens (a padded
// vocabulary) have logits but no text, so they are never sampled. A Config made by hand
// without n_tokens samples the whole vocabulary.
static inline int config_sampled_vocab(const Config *c) {
    return c->n_tokens > 0 && c->n_tokens < c->vocab_size ? c->n_tokens : c->vocab_size;
}

// Loads and validates a model. 0 on success; -1 with a one-line message in err.
int model_load(Model *m, const char *path, char *err, size_t errlen);
void model_free(Model *m);
