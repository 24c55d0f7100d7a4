// model.c - builds a Model (config + weight views) from a GGUF file and checks every tensor's
// presence, type and shape against the config before anything runs.
#include "model/model.h"
#include "util/printable.h"
#include "model/quant.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// What a config key must hold.
enum { KEY_INT, KEY_NUM, KEY_STR };

// A config key the file has must hold its kind of value: one of another type would otherwise
// read as missing and fall back to the default unseen.
static int check_type(const GGUFFile *f, const char *key, int kind, char *err, size_t n) {
    const GGUFKV *kv = gguf_find(f, key);
    if (!kv) return 0;
    const int is_str = kv->type == GGUF_STRING, is_arr = kv->type == GGUF_ARRAY,
              is_float = kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64;
    if (kind == KEY_STR ? is_str : !is_str && !is_arr && (kind == KEY_NUM || !is_float)) return 0;
    static const char *want[] = {"an integer", "a number", "a string"};
    return error_at(err, n, f->path, "'%s' is of type %s, expected %s", key,
                    gguf_value_type_name(kv->type), want[kind]);
}

// Reads an integer llama.* key within [lo, hi]; a missing key is an error unless def is given
// (def >= lo). Range-checked as int64, before any narrowing.
static int cfg_int(const GGUFFile *f, const char *key, int lo, int hi, int64_t def, int *out,
                   char *err, size_t n) {
    if (check_type(f, key, KEY_INT, err, n)) return -1;
    int64_t v = gguf_get_int(f, key, INT64_MIN);
    if (v == INT64_MIN && gguf_find(f, key)) // a u64 past INT64_MAX (or INT64_MIN itself)
        return error_at(err, n, f->path, "'%s' is out of range [%d, %d]", key, lo, hi);
    if (v == INT64_MIN && def < lo) return error_at(err, n, f->path, "missing metadata '%s'", key);
    if (v == INT64_MIN) v = def;
    if (v < lo || v > hi)
        return error_at(err, n, f->path, "'%s' = %lld is out of range [%d, %d]", key, (long long)v,
                        lo, hi);
    *out = (int)v;
    return 0;
}

// Reads a float llama.* key (def when missing) that must be finite and in (0, hi].
static int cfg_pos_float(const GGUFFile *f, const char *key, double def, double hi, float *out,
                         char *err, size_t n) {
    if (check_type(f, key, KEY_NUM, err, n)) return -1;
    double v = gguf_get_float(f, key, def);
    if (!(v > 0 && v <= hi)) // also catches NaN
        return error_at(err, n, f->path, "'%s' = %g is not a number in (0, %g]", key, v, hi);
    *out = (float)v;
    return 0;
}

// The architectures and the prefix of their metadata keys.
static const struct {
    const char *name;
    int arch, neox;
} archs[] = {{"llama", ARCH_LLAMA, 0}, {"qwen2", ARCH_QWEN2, 1}, {"qwen3", ARCH_QWEN3, 1}};

// "<arch>.<key>" in buf.
static const char *akey(char *buf, size_t n, const Config *c, const char *key) {
    snprintf(buf, n, "%s.%s", archs[c->arch].name, key);
    return buf;
}

static int read_arch(const GGUFFile *f, Config *c, char *err, size_t n) {
    if (check_type(f, "general.architecture", KEY_STR, err, n)) return -1;
    char *arch = gguf_get_str(f, "general.architecture");
    if (!arch) return error_at(err, n, f->path, "missing general.architecture");
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
        if (!strcmp(arch, archs[i].name)) {
            free(arch);
            c->arch = archs[i].arch, c->rope_neox = archs[i].neox;
            return 0;
        }
    char a[PRINTABLE_MAX];
    error_at(err, n, f->path, "architecture '%s' is not supported (supported: llama, qwen2, qwen3)",
             printable_str(a, sizeof a, arch));
    free(arch);
    return -1;
}

// <arch>.rope.scaling.*: none, or linear (positions divided by the factor). Llama 3.x's scaling
// comes as the rope_freqs.weight tensor instead (model_load); YaRN and the others are refused.
static int read_rope_scaling(const GGUFFile *f, Config *c, char *err, size_t n) {
    char k[96];
    c->rope_linear = 1.0f;
    if (check_type(f, akey(k, sizeof k, c, "rope.scaling.type"), KEY_STR, err, n)) return -1;
    char *type = gguf_get_str(f, k);
    if (!type || !strcmp(type, "none")) {
        free(type);
        return 0;
    }
    if (strcmp(type, "linear") != 0) {
        char t[PRINTABLE_MAX];
        error_at(err, n, f->path, "rope scaling '%s' is not supported (supported: none, linear)",
                 printable_str(t, sizeof t, type));
        free(type);
        return -1;
    }
    free(type);
    // positions are divided by the factor: below 1 it would stretch them (llama.cpp would), and
    // the rope code reads <= 1 as no scaling, so such a factor is refused rather than ignored
    if (cfg_pos_float(f, akey(k, sizeof k, c, "rope.scaling.factor"), 1.0, 1e6, &c->rope_linear,
                      err, n))
        return -1;
    if (c->rope_linear < 1)
        return error_at(err, n, f->path,
                        "'%s' = %g is below 1 (linear scaling stretches positions)", k,
                        c->rope_linear);
    return 0;
}

static int read_config(const GGUFFile *f, Config *c, char *err, size_t n) {
    char k[10][96];
    if (read_arch(f, c, err, n)) return -1;
    int key_len = 0, value_len = 0;
    if (cfg_int(f, akey(k[0], 96, c, "embedding_length"), 1, 1 << 16, -1, &c->dim, err, n) ||
        cfg_int(f, akey(k[1], 96, c, "block_count"), 1, 1024, -1, &c->n_layers, err, n) ||
        cfg_int(f, akey(k[2], 96, c, "feed_forward_length"), 1, 1 << 18, -1, &c->hidden_dim, err,
                n) ||
        cfg_int(f, akey(k[3], 96, c, "attention.head_count"), 1, 1024, -1, &c->n_heads, err, n) ||
        cfg_int(f, akey(k[4], 96, c, "attention.head_count_kv"), 1, 1024, c->n_heads,
                &c->n_kv_heads, err, n) ||
        cfg_int(f, akey(k[5], 96, c, "context_length"), 1, 1 << 24, 2048, &c->context_length, err,
                n) ||
        // key/value_length: the head size when it is not dim / heads (0: not given)
        cfg_int(f, akey(k[6], 96, c, "attention.key_length"), 0, 1 << 16, 0, &key_len, err, n) ||
        cfg_int(f, akey(k[7], 96, c, "attention.value_length"), 0, 1 << 16, key_len, &value_len,
                err, n) ||
        // rope_base: any positive float (bases from 1e4 to 1e6 and more are in use).
        // rms eps: a small positive number; past 1 it would swamp the mean of squares.
        cfg_pos_float(f, akey(k[8], 96, c, "rope.freq_base"), 10000.0, 3.0e38, &c->rope_base, err,
                      n) ||
        cfg_pos_float(f, akey(k[9], 96, c, "attention.layer_norm_rms_epsilon"), 1e-5, 1.0,
                      &c->norm_eps, err, n) ||
        read_rope_scaling(f, c, err, n))
        return -1;
    if (key_len != value_len)
        return error_at(err, n, f->path, "'%s' = %d differs from '%s' = %d", k[6], key_len, k[7],
                        value_len);
    if (!key_len && c->dim % c->n_heads)
        return error_at(err, n, f->path, "embedding_length %d is not a multiple of head_count %d",
                        c->dim, c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return error_at(err, n, f->path, "head_count %d is not a multiple of head_count_kv %d",
                        c->n_heads, c->n_kv_heads);
    c->head_dim = key_len ? key_len : c->dim / c->n_heads;
    char hd[160]; // where the head dimension came from, for the messages
    if (key_len)
        snprintf(hd, sizeof hd, "head dimension %d ('%s')", key_len, k[6]);
    else
        snprintf(hd, sizeof hd, "head dimension %d (%d / %d heads)", c->head_dim, c->dim,
                 c->n_heads);
    if (c->head_dim % 2) return error_at(err, n, f->path, "%s is odd (RoPE needs pairs)", hd);
    if (c->head_dim > 1024) return error_at(err, n, f->path, "%s is over 1024", hd);
    if (check_type(f, akey(k[0], 96, c, "rope.dimension_count"), KEY_INT, err, n)) return -1;
    int64_t rot = gguf_get_int(f, k[0], c->head_dim);
    if (rot != c->head_dim)
        return error_at(err, n, f->path,
                        "'%s' = %lld differs from the head dimension %d "
                        "(partial RoPE is not supported)",
                        k[0], (long long)rot, c->head_dim);
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
        return error_at(err, n, f->path,
                        "the tokenizer has %llu tokens but token_embd.weight has only %d rows",
                        (unsigned long long)toks->arr_len, c->vocab_size);
    c->n_tokens = (int)toks->arr_len;
    return 0;
}

// Finds tensor `name` and checks it is an [out, in] matrix (ne = [in, out]).
static int get_weight(const GGUFFile *f, const char *name, int64_t in, int64_t out, Weight *w,
                      char *err, size_t n) {
    const GGUFTensor *t = gguf_find_tensor(f, name);
    if (!t) return error_at(err, n, f->path, "missing tensor '%s'", name);
    if (t->n_dims > 2 || (int64_t)t->ne[0] != in || (int64_t)t->ne[1] != out)
        return error_at(err, n, f->path,
                        "tensor '%s' has shape [%llu, %llu], expected [%lld, %lld]", name,
                        (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (long long)in,
                        (long long)out);
    if (out > 1 && in % ggml_type_block_elems(t->type))
        return error_at(err, n, f->path,
                        "tensor '%s': rows of %lld are not a multiple of %d (%s blocks)", name,
                        (long long)in, ggml_type_block_elems(t->type), ggml_type_name(t->type));
    // the matmuls work in blocks of 32 inputs whatever the type (the fp32 path packs 32 x 16
    // tiles, the int8 one quantizes activations per 32): a float matrix with ragged rows would be
    // read past its end. Real models' widths are multiples of 32; q is n_heads * head_dim wide.
    if (out > 1 && in % 32)
        return error_at(err, n, f->path,
                        "tensor '%s': rows of %lld are not a multiple of 32 (the "
                        "matmuls' block)",
                        name, (long long)in);
    w->data = t->data;
    w->type = t->type;
    w->in = in;
    w->out = out;
    w->row_bytes = ggml_row_bytes(t->type, in);
    w->name = t->name;
    return 0;
}

// Norm vectors are tiny: keep an fp32 copy whatever their stored type. An optional one
// (optional != 0) that the file lacks leaves *out NULL.
static int get_vector_opt(const GGUFFile *f, const char *name, int64_t len, float **out,
                          int optional, char *err, size_t n) {
    Weight w = {0};
    *out = NULL;
    if (optional && !gguf_find_tensor(f, name)) return 0;
    if (get_weight(f, name, len, 1, &w, err, n)) return -1;
    *out = malloc((size_t)len * sizeof(float));
    if (!*out) return error_at(err, n, f->path, "out of memory");
    dequantize_row(w.type, w.data, *out, len);
    return 0;
}

static int get_vector(const GGUFFile *f, const char *name, int64_t len, float **out, char *err,
                      size_t n) {
    return get_vector_opt(f, name, len, out, 0, err, n);
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
    // qwen2 has q/k/v biases, qwen3 q/k norms: required there, used wherever a file has them
#define B(field, suffix, len, req)                                                                 \
    (snprintf(name, sizeof name, "blk.%d.%s", l, suffix),                                          \
     get_vector_opt(f, name, len, &L->field, !(req), err, n))
    const int qd = config_q_dim(c), q2 = c->arch == ARCH_QWEN2, q3 = c->arch == ARCH_QWEN3;
    if (V(attn_norm, "attn_norm") || V(ffn_norm, "ffn_norm") || B(bq, "attn_q.bias", qd, q2) ||
        B(bk, "attn_k.bias", c->kv_dim, q2) || B(bv, "attn_v.bias", c->kv_dim, q2) ||
        B(q_norm, "attn_q_norm.weight", c->head_dim, q3) ||
        B(k_norm, "attn_k_norm.weight", c->head_dim, q3) || W(wq, "attn_q", c->dim, qd) ||
        W(wk, "attn_k", c->dim, c->kv_dim) || W(wv, "attn_v", c->dim, c->kv_dim) ||
        W(wo, "attn_output", qd, c->dim) || W(w_gate, "ffn_gate", c->dim, c->hidden_dim) ||
        W(w_up, "ffn_up", c->dim, c->hidden_dim) || W(w_down, "ffn_down", c->hidden_dim, c->dim))
        return -1;
#undef W
#undef V
#undef B
    if (!L->q_norm != !L->k_norm)
        return error_at(err, n, f->path, "layer %d has only one of attn_q_norm and attn_k_norm", l);
    // the forward passes add all three biases or none
    if (!L->bq != !L->bk || !L->bq != !L->bv)
        return error_at(err, n, f->path,
                        "layer %d has only some of attn_q.bias, attn_k.bias and "
                        "attn_v.bias (%s, %s, %s)",
                        l, L->bq ? "q" : "no q", L->bk ? "k" : "no k", L->bv ? "v" : "no v");
    return 0;
}

int model_load(Model *m, const char *path, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    if (gguf_open(&m->file, path, err, errlen)) return -1;
    Config *c = &m->cfg;
    const GGUFFile *f = &m->file;
    if (read_config(f, c, err, errlen)) goto fail;
    const GGUFTensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) {
        error_at(err, errlen, path, "missing tensor 'token_embd.weight'");
        goto fail;
    }
    if (emb->ne[1] > INT32_MAX) {
        error_at(err, errlen, path, "token_embd.weight has %llu rows",
                 (unsigned long long)emb->ne[1]);
        goto fail;
    }
    c->vocab_size = (int)emb->ne[1];
    char vkey[64];
    if (check_type(f, akey(vkey, sizeof vkey, c, "vocab_size"), KEY_INT, err, errlen)) goto fail;
    int64_t vocab_meta = gguf_get_int(f, vkey, c->vocab_size);
    if (vocab_meta != c->vocab_size || c->vocab_size < 1) {
        error_at(err, errlen, path, "token_embd.weight has %d rows but %s is %lld", c->vocab_size,
                 vkey, (long long)vocab_meta);
        goto fail;
    }
    if (check_tokens(f, c, err, errlen)) goto fail;
    if (get_weight(f, "token_embd.weight", c->dim, c->vocab_size, &m->tok_embd, err, errlen))
        goto fail;
    m->layers = calloc(c->n_layers, sizeof(Layer));
    if (!m->layers) {
        error_at(err, errlen, path, "out of memory");
        goto fail;
    }
    for (int l = 0; l < c->n_layers; l++)
        if (load_layer(m, l, err, errlen)) goto fail;
    if (get_vector(f, "output_norm.weight", c->dim, &m->out_norm, err, errlen) ||
        get_vector_opt(f, "rope_freqs.weight", c->head_dim / 2, &m->rope_factors, 1, err, errlen))
        goto fail;
    for (int i = 0; m->rope_factors && i < c->head_dim / 2; i++)
        if (!(m->rope_factors[i] > 0 && m->rope_factors[i] < 1e30f)) { // also NaN
            error_at(err, errlen, path, "rope_freqs.weight[%d] = %g is not a positive number", i,
                     m->rope_factors[i]);
            goto fail;
        }
    m->tied_embeddings = gguf_find_tensor(f, "output.weight") == NULL;
    if (m->tied_embeddings)
        m->output = m->tok_embd;
    else if (get_weight(f, "output.weight", c->dim, c->vocab_size, &m->output, err, errlen))
        goto fail;
    return 0;
fail:
    model_free(m);
    return -1;
}

void model_free(Model *m) {
    if (m->layers) {
        for (int l = 0; l < m->cfg.n_layers; l++) {
            Layer *L = &m->layers[l];
            free(L->attn_norm), free(L->ffn_norm), free(L->bq), free(L->bk), free(L->bv);
            free(L->q_norm), free(L->k_norm);
        }
    }
    free(m->layers);
    free(m->out_norm);
    free(m->rope_factors);
    free(m->owned);
    gguf_close(&m->file);
    memset(m, 0, sizeof *m);
}
