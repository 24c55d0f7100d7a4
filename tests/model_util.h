// model_util.h - what the model-level C tests share: a small attention Config, and the argmax of
// a row of logits with its margin over the runner-up.
#pragma once
#include "model/model.h"

#include <math.h>

// A Config for attention tests: n_heads query heads of hd and n_kv KV heads, rope base 10000 and
// norm eps 1e-5; the sizes attention does not read are the caller's.
static inline Config attention_config(int n_layers, int n_heads, int n_kv, int hd, int hidden,
                                      int vocab, int context) {
    Config c = {.dim = n_heads * hd,
                .n_layers = n_layers,
                .n_heads = n_heads,
                .n_kv_heads = n_kv,
                .head_dim = hd,
                .kv_dim = n_kv * hd,
                .hidden_dim = hidden,
                .vocab_size = vocab,
                .context_length = context,
                .rope_base = 10000.0f,
                .norm_eps = 1e-5f};
    return c;
}

// The index of the largest of l[0..n) (the first on ties); *gap, when asked, the margin over the
// second largest.
static inline int argmax(const float *l, int n, float *gap) {
    int a = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[a]) a = i;
    float second = -INFINITY;
    for (int i = 0; i < n; i++)
        if (i != a && l[i] > second) second = l[i];
    if (gap) *gap = l[a] - second;
    return a;
}
