// model.c - builds a Model (config + weight views) from a GGUF file and checks every tensor's
// presence, type and shape against the config before anything runs.
#include "model.h"
#include "printable.h"
#include "quant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t n, const char *path, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, n, "%s: %s", path, msg);
    return -1;
}

// Reads an integer llama.* key within [lo, hi]; a missing key is an error unless def is given
// (def >= lo). Range-checked as int64, before any narrowing.
static int cfg_int(const GGUFFile *f, const char *key, int lo, int hi, int64_t def, int *out,
                   char *err, size_t n) {
    int64_t v = gguf_get_int(f, key, INT64_MIN);
    if (v == INT64_MIN && def < lo) return fail(err, n, f->path, "missing metadata '%s'", key);
    if (v == INT64_MIN) v = def;
    if (v < lo || v > hi)
        return fail(err, n, f->path, "'%s' = %lld is out of range [%d, %d]", key, (long long)v, lo,
                    hi);
    *out = (int)v;
    return 0;
}

// Reads a float llama.* key (def when missing) that must be finite and in (0, hi].
static int cfg_pos_float(const GGUFFile *f, const char *key, double def, double hi, float *out,
                         char *err, size_t n) {
    double v = gguf_get_float(f, key, def);
    if (!(v > 0 && v <= hi)) // also catches NaN
        return fail(err, n, f->path, "'%s' = %g is not a number in (0, %g]", key, v, hi);
    *out = (float)v;
    return 0;
}

static int read_config(const GGUFFile *f, Config *c, char *err, size_t n) {
    char *arch = gguf_get_str(f, "general.architecture");
    if (!arch) return fail(err, n, f->path, "missing general.architecture");
    if (strcmp(arch, "llama") != 0) {
        char a[PRINTABLE_MAX];
        fail(err, n, f->path, "architecture '%s' is not supported (supported: llama)",
             printable_str(a, sizeof a, arch));
        free(arch);
        return -1;
    }
    free(arch);
    if (cfg_int(f, "llama.embedding_length", 1, 1 << 16, -1, &c->dim, err, n) ||
        cfg_int(f, "llama.block_count", 1, 1024, -1, &c->n_layers, err, n) ||
        cfg_int(f, "llama.feed_forward_length", 1, 1 << 18, -1, &c->hidden_dim, err, n) ||
        cfg_int(f, "llama.attention.head_count", 1, 1024, -1, &c->n_heads, err, n) ||
        cfg_int(f, "llama.attention.head_count_kv", 1, 1024, c->n_heads, &c->n_kv_heads, err, n) ||
        cfg_int(f, "llama.context_length", 1, 1 << 24, 2048, &c->context_length, err, n) ||
        // rope_base: any positive float (bases from 1e4 to 1e6 and more are in use).
        // rms eps: a small positive number; past 1 it would swamp the mean of squares.
        cfg_pos_float(f, "llama.rope.freq_base", 10000.0, 3.0e38, &c->rope_base, err, n) ||
        cfg_pos_float(f, "llama.attention.layer_norm_rms_epsilon", 1e-5, 1.0, &c->norm_eps, err, n))
        return -1;
    if (c->dim % c->n_heads) return fail(err, n, f->path, "embedding_length %d is not a multiple of head_count %d", c->dim, c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return fail(err, n, f->path, "head_count %d is not a multiple of head_count_kv %d", c->n_heads, c->n_kv_heads);
    c->head_dim = c->dim / c->n_heads;
    if (c->head_dim % 2) return fail(err, n, f->path, "head dimension %d is odd (RoPE needs pairs)", c->head_dim);
    if (c->head_dim > 1024) return fail(err, n, f->path, "head dimension %d is over 1024", c->head_dim);
    int64_t rot = gguf_get_int(f, "llama.rope.dimension_count", c->head_dim);
    if (rot != c->head_dim)
        return fail(err, n, f->path, "partial RoPE (%lld of %d dims) is not supported", (long long)rot, c->head_dim);
    c->kv_dim = c->n_kv_heads * c->head_dim;
    return 0;
}

// The tokenizer's token count against the embedding's rows. Fewer tokens than rows is a padded
// vocabulary (common: rows rounded up to a multiple of 64 or 128); those extra ids are never
// sampled (Config.n_tokens). More tokens than rows would let a prompt name an id that has no
// embedding row: refused here, once, for every backend.
static int check_tokens(const GGUFFile *f, Config *c, char *err, size_t n) {
    const GGUFKV *toks = gguf_find(f, "tokenizer.ggml.tokens");
    c->n_tokens = c->vocab_size;
    if (!toks || toks->type != GGUF_ARRAY || toks->arr_len == 0) return 0; // tokenizer_load decides
    if (toks->arr_len > (uint64_t)c->vocab_size)
        return fail(err, n, f->path,
                    "the tokenizer has %llu tokens but token_embd.weight has only %d rows",
                    (unsigned long long)toks->arr_len, c->vocab_size);
    c->n_tokens = (int)toks->arr_len;
    return 0;
}

// Finds tensor `name` and checks it is an [out, in] matrix (ne = [in, out]).
static int get_weight(const GGUFFile *f, const char *name, int64_t in, int64_t out, Weight *w,
                      char *err, size_t n) {
    const GGUFTensor *t = gguf_find_tensor(f, name);
    if (!t) return fail(err, n, f->path, "missing tensor '%s'", name);
    if (t->n_dims > 2 || (int64_t)t->ne[0] != in || (int64_t)t->ne[1] != out)
        return fail(err, n, f->path, "tensor '%s' has shape [%llu, %llu], expected [%lld, %lld]",
                    name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                    (long long)in, (long long)out);
    if (out > 1 && in % QK)
        return fail(err, n, f->path, "tensor '%s': rows of %lld are not a multiple of %d",
                    name, (long long)in, QK);
    w->data = t->data;
    w->type = t->type;
    w->in = in;
    w->out = out;
    w->row_bytes = ggml_row_bytes(t->type, in);
    w->name = t->name;
    return 0;
}

// Norm vectors are tiny: keep an fp32 copy whatever their stored type.
static int get_vector(const GGUFFile *f, const char *name, int64_t len, float **out, char *err,
                      size_t n) {
    Weight w;
    if (get_weight(f, name, len, 1, &w, err, n)) return -1;
    *out = malloc((size_t)len * sizeof(float));
    if (!*out) return fail(err, n, f->path, "out of memory");
    dequantize_row(w.type, w.data, *out, len);
    return 0;
}

static int load_layer(Model *m, int l, char *err, size_t n) {
    const GGUFFile *f = &m->file;
    const Config *c = &m->cfg;
    Layer *L = &m->layers[l];
    char name[96];
#define W(field, suffix, in, out)                                                                  \
    (snprintf(name, sizeof name, "blk.%d.%s.weight", l, suffix),                                   \
     get_weight(f, name, in, out, &L->field, err, n))
#define V(field, suffix)                                                                           \
    (snprintf(name, sizeof name, "blk.%d.%s.weight", l, suffix),                                   \
     get_vector(f, name, c->dim, &L->field, err, n))
    if (V(attn_norm, "attn_norm") || V(ffn_norm, "ffn_norm") ||
        W(wq, "attn_q", c->dim, c->dim) || W(wk, "attn_k", c->dim, c->kv_dim) ||
        W(wv, "attn_v", c->dim, c->kv_dim) || W(wo, "attn_output", c->dim, c->dim) ||
        W(w_gate, "ffn_gate", c->dim, c->hidden_dim) || W(w_up, "ffn_up", c->dim, c->hidden_dim) ||
        W(w_down, "ffn_down", c->hidden_dim, c->dim))
        return -1;
#undef W
#undef V
    return 0;
}

int model_load(Model *m, const char *path, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    if (gguf_open(&m->file, path, err, errlen)) return -1;
    Config *c = &m->cfg;
    const GGUFFile *f = &m->file;
    if (read_config(f, c, err, errlen)) goto fail;
    const GGUFTensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) { fail(err, errlen, path, "missing tensor 'token_embd.weight'"); goto fail; }
    if (emb->ne[1] > INT32_MAX) {
        fail(err, errlen, path, "token_embd.weight has %llu rows", (unsigned long long)emb->ne[1]);
        goto fail;
    }
    c->vocab_size = (int)emb->ne[1];
    int64_t vocab_meta = gguf_get_int(f, "llama.vocab_size", c->vocab_size);
    if (vocab_meta != c->vocab_size || c->vocab_size < 1) {
        fail(err, errlen, path, "token_embd.weight has %d rows but llama.vocab_size is %lld",
             c->vocab_size, (long long)vocab_meta);
        goto fail;
    }
    if (check_tokens(f, c, err, errlen)) goto fail;
    if (get_weight(f, "token_embd.weight", c->dim, c->vocab_size, &m->tok_embd, err, errlen)) goto fail;
    m->layers = calloc(c->n_layers, sizeof(Layer));
    if (!m->layers) { fail(err, errlen, path, "out of memory"); goto fail; }
    for (int l = 0; l < c->n_layers; l++)
        if (load_layer(m, l, err, errlen)) goto fail;
    if (get_vector(f, "output_norm.weight", c->dim, &m->out_norm, err, errlen)) goto fail;
    m->tied_embeddings = gguf_find_tensor(f, "output.weight") == NULL;
    if (m->tied_embeddings) m->output = m->tok_embd;
    else if (get_weight(f, "output.weight", c->dim, c->vocab_size, &m->output, err, errlen)) goto fail;
    return 0;
fail:
    model_free(m);
    return -1;
}

void model_free(Model *m) {
    if (m->layers) {
        for (int l = 0; l < m->cfg.n_layers; l++) {
            free(m->layers[l].attn_norm);
            free(m->layers[l].ffn_norm);
        }
    }
    free(m->layers);
    free(m->out_norm);
    free(m->owned);
    gguf_close(&m->file);
    memset(m, 0, sizeof *m);
}
