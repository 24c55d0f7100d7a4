// model.h - a Llama-family model as views into a GGUF file: config and weights.
// Weights stay in their file type (mmap'd, never copied); only the small norm vectors are
// converted to fp32 copies at load.
#pragma once
#include "gguf.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int dim;            // embedding width d
    int n_layers;
    int n_heads;        // query heads
    int n_kv_heads;     // key/value heads (GQA: n_heads is a multiple of it)
    int head_dim;       // dim / n_heads
    int kv_dim;         // n_kv_heads * head_dim
    int hidden_dim;     // FFN width
    int vocab_size;     // rows of token_embd.weight (and output.weight): ids a forward accepts
    int n_tokens;       // tokens the tokenizer knows, <= vocab_size: ids a sampler may return
    int context_length;
    float rope_base;    // llama.rope.freq_base
    float norm_eps;     // llama.attention.layer_norm_rms_epsilon
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
    float *attn_norm;        // [dim]
    Weight wq, wk, wv, wo;   // [dim -> dim], [dim -> kv_dim], [dim -> kv_dim], [dim -> dim]
    float *ffn_norm;         // [dim]
    Weight w_gate, w_up;     // [dim -> hidden_dim]
    Weight w_down;           // [hidden_dim -> dim]
} Layer;

typedef struct {
    GGUFFile file;
    Config cfg;
    Weight tok_embd;         // [vocab -> ... ] rows are token embeddings: in = dim, out = vocab
    Layer *layers;           // [n_layers]
    float *out_norm;         // [dim]
    Weight output;           // [dim -> vocab]; == tok_embd when the embeddings are tied
    int tied_embeddings;
    void *owned;             // weights held in memory (model_random.c), freed by model_free
} Model;

// Ids a sampler may return: [0, n_tokens). Rows past the tokenizer's tokens (a padded
// vocabulary) have logits but no text, so they are never sampled. A Config made by hand
// without n_tokens samples the whole vocabulary.
static inline int config_sampled_vocab(const Config *c) {
    return c->n_tokens > 0 && c->n_tokens < c->vocab_size ? c->n_tokens : c->vocab_size;
}

// Loads and validates a model. 0 on success; -1 with a one-line message in err.
int model_load(Model *m, const char *path, char *err, size_t errlen);
void model_free(Model *m);
