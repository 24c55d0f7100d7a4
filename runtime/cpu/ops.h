// ops.h - the CPU versions of the forward pass's operations. Every operation works on n rows at
// once (prefill rows of one sequence, or one row per chain in a decode step). These are the
// references the CUDA kernels of the same names are tested against.
#pragma once
#include "model/model.h"
#include "cpu/workspace.h"

// x[i] = embedding row of tokens[i].            x: [n, dim]
// An id outside [0, tok_embd->out) gives a zero row (callers validate ids first).
void embed(float *x, const Weight *tok_embd, const int *tokens, int n);
// out[i] = x[i] / rms(x[i]) * w.                out, x: [n, dim]; w: [dim]; out may equal x
void rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps);
// out[i] = W x[i]. The weight is streamed once: each block is dequantized once and used for all
// n rows. Weights with int8 panels (w->packed) multiply int8-quantized x (qgemm.h), the others
// fp32 x (cpu/matmul.c).                       out: [n, w->out]; x: [n, w->in]
// Returns 0, or -1 if the workspace could not grow (then out is not written).
int matmul(float *out, const float *x, const Weight *w, int n, Workspace *ws);
// outs[i] = W_i x for i < count (<= MATMUL_MANY) weights that read the same x: one parallel
// region and one barrier for all of them (q, k and v; gate and up).
#define MATMUL_MANY 4
int matmul_many(float *const *outs, const Weight *const *w, int count, const float *x, int n,
                Workspace *ws);
// Scratch floats per thread that matmul needs for weights with `in` inputs.
size_t matmul_scratch(int64_t in);
// Rotates adjacent pairs (x[2j], x[2j+1]) of every head by pos[i] * base^(-2j/head_dim).
//                                              x: [n, n_heads, head_dim]; pos: [n]
void rope(float *x, const int *pos, int n, int n_heads, int head_dim, float base);
// rope in two halves, so that a step computes its angles once for all layers and for q and k:
// the table of cos and sin per row and pair,   cs: [n, head_dim / 2, 2]
// with theta_j = (pos / linear) * base^(-2j/head_dim) / factors[j] (linear <= 1 or factors NULL:
// no scaling; factors: Llama 3.x's rope_freqs),
void rope_table(float *cs, const int *pos, int n, int head_dim, float base, float linear,
                const float *factors);
// and the rotation by it of the pairs (x[2j], x[2j+1]), or with neox (x[j], x[j + head_dim/2]).
//                                              x: [n, n_heads, head_dim]
void rope_apply(float *x, const float *cs, int n, int n_heads, int head_dim, int neox);
// x[i][j] += b[j]                                x: [n, dim]; b: [dim]
void add_bias(float *x, const float *b, int n, int dim);
// gate[i] = silu(gate[i]) * up[i].             gate, up: [n, hidden]
void swiglu(float *gate, const float *up, int n, int hidden);
// x += y                                       x, y: [count]
void residual_add(float *x, const float *y, int64_t count);
