// attention.h - attention on the CPU (the reference for kernels/attention.cu).
#pragma once
#include "model/kvcache.h"
#include "cpu/workspace.h"

// out[i, h] = softmax(q[i, h] . K^T / sqrt(head_dim)) V over every key row i's sequence sees
// (its prefix, then its own tokens up to position pos[i]); K/V of `layer` must already hold
// row i's own key and value.    out, q: [n, n_heads, head_dim]; seqs, pos: [n]
// Scratch comes from ws. Returns 0, or -1 if scratch memory could not be had.
int attention(float *out, const float *q, const KVCache *kv, const int *seqs, const int *pos, int n,
              int layer, int n_heads, int n_kv_heads, int head_dim, Workspace *ws);
