// forward.h - the transformer forward pass over a batch of rows.
//
// A batch is n rows; row i appends token tokens[i] to KV sequence seqs[i]. Rows of one sequence
// must appear in order (prefill: P rows of the prompt's sequence; decode: one row per chain).
// Each row attends causally to everything its sequence can see (its prefix, then its own tokens
// up to and including itself).
#pragma once
#include "kvcache.h"
#include "model.h"
#include "workspace.h"

typedef struct {
    Model *m;
    KVCache *kv;
    int max_rows;
    // scratch, sized for max_rows rows
    int *pos;      // [max_rows] position of each row
    float *rope_cs; // [max_rows, head_dim / 2, 2] cos and sin of each row's rotation angles
    float *x;      // [max_rows, dim] residual stream
    float *xb;     // [max_rows, dim] normed input / attention output
    float *xb2;    // [max_rows, dim] projection output
    float *q;      // [max_rows, n_heads, head_dim]
    float *k, *v;  // [max_rows, kv_dim]
    float *hb;     // [max_rows, hidden_dim] gate, then swiglu output
    float *hb2;    // [max_rows, hidden_dim] up
    float *logits; // [max_rows, vocab]
    Workspace ws;  // per-thread scratch of matmul and attention
    char err[160]; // why the last forward() returned NULL
} Forward;

int forward_init(Forward *f, Model *m, KVCache *kv, int max_rows, char *err, size_t errlen);
void forward_free(Forward *f);
// Runs the batch (n <= max_rows), appends every row's K/V to its sequence, and returns the
// logits of the rows listed in out_rows: [n_out, vocab] (valid until the next call), or NULL
// with the reason in f->err.
float *forward(Forward *f, const int *tokens, const int *seqs, int n, const int *out_rows, int n_out);
