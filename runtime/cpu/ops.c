// cpu/ops.c - the element-wise and row-wise operations of the forward pass on the CPU (see
// ops.h). Rows are independent, so OpenMP splits them; every op keeps fp32 throughout.
#include "cpu/ops.h"
#include "model/quant.h"

#include <math.h>

#include "cpu/vexp.h"

void embed(float *x, const Weight *tok_embd, const int *tokens, int n) {
    // x: [n, dim]; the embedding table is [vocab, dim] stored row by row in its GGUF type.
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= tok_embd->out) { // defensive, as kernels/embed.cu:
            for (int64_t j = 0; j < tok_embd->in; j++) x[(size_t)i * tok_embd->in + j] = 0.0f;
            continue; // forward() refuses such ids first; never read outside the table
        }
        const char *row = (const char *)tok_embd->data + (size_t)tokens[i] * tok_embd->row_bytes;
        dequantize_row(tok_embd->type, row, x + (size_t)i * tok_embd->in, tok_embd->in);
    }
}

void rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps) {
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim;
        float *oi = out + (size_t)i * dim;
        // double: the sum of squares of 576+ values loses bits in fp32. Eight partial sums, not
        // one chain of dim dependent adds (4 cycles each); a fixed order, so a row's scale is
        // the same in any batch.
        double acc[8] = {0};
        int j = 0;
        for (; j + 8 <= dim; j += 8)
            for (int l = 0; l < 8; l++) acc[l] += (double)xi[j + l] * xi[j + l];
        for (; j < dim; j++) acc[0] += (double)xi[j] * xi[j];
        const double ss =
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        float scale = (float)(1.0 / sqrt(ss / dim + eps));
        for (j = 0; j < dim; j++) oi[j] = xi[j] * scale * w[j];
    }
}

void rope_table(float *cs, const int *pos, int n, int head_dim, float base, float linear,
                const float *factors) {
    // Pair j rotates by theta_j = pos * base^(-2j/head_dim) (GGUF llama checkpoints have their
    // Q/K rows permuted at conversion so that adjacent pairs are the right pairing; qwen's are
    // not, and pair halves: rope_apply). Scaled as llama.cpp does: positions divided by the
    // linear factor, frequencies by rope_freqs. The angle in double, then rounded: exact
    // enough at positions in the 100 000s.
    const double p_scale = linear > 1 ? 1.0 / linear : 1.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < head_dim / 2; j++) {
            double theta = pos[i] * p_scale * pow((double)base, -2.0 * j / head_dim);
            if (factors) theta /= factors[j];
            cs[((size_t)i * (head_dim / 2) + j) * 2] = (float)cos(theta);
            cs[((size_t)i * (head_dim / 2) + j) * 2 + 1] = (float)sin(theta);
        }
}

void rope_apply(float *x, const float *cs, int n, int n_heads, int head_dim, int neox) {
    // pair j: elements j0 = 2j and j1 = 2j + 1, or with neox j and j + head_dim / 2
    const int half = head_dim / 2, stride = neox ? 1 : 2, other = neox ? half : 1;
    for (int i = 0; i < n; i++)
        for (int h = 0; h < n_heads; h++) {
            float *p = x + ((size_t)i * n_heads + h) * head_dim;
            const float *r = cs + (size_t)i * head_dim; // [head_dim / 2][cos, sin]
            for (int j = 0; j < half; j++) {
                float *p0 = p + stride * j, *p1 = p0 + other;
                float a = *p0, b = *p1, c = r[2 * j], s = r[2 * j + 1];
                *p0 = a * c - b * s;
                *p1 = a * s + b * c;
            }
        }
}

void rope(float *x, const int *pos, int n, int n_heads, int head_dim, float base) {
    float cs[1024]; // one row's table at a time (head_dim is at most 1024: checked at load)
    for (int i = 0; i < n; i++) {
        rope_table(cs, pos + i, 1, head_dim, base, 1, NULL);
        rope_apply(x + (size_t)i * n_heads * head_dim, cs, 1, n_heads, head_dim, 0);
    }
}

void add_bias(float *x, const float *b, int n, int dim) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) x[(size_t)i * dim + j] += b[j];
}

void swiglu(float *gate, const float *up, int n, int hidden) {
    // silu(g) = g / (1 + e^-g), 8 at a time with vexp.h's exponential
    const size_t count = (size_t)n * hidden;
#pragma omp parallel for schedule(static) if (count > 16384)
    for (size_t i = 0; i < count / 8 * 8; i += 8) {
        float e[8];
        for (int l = 0; l < 8; l++) e[l] = -gate[i + l];
        vexp_array(e, e, 8);
        for (int l = 0; l < 8; l++) gate[i + l] = gate[i + l] / (1.0f + e[l]) * up[i + l];
    }
    for (size_t i = count / 8 * 8; i < count; i++)
        gate[i] = gate[i] / (1.0f + vexp1(-gate[i])) * up[i];
}

void residual_add(float *x, const float *y, int64_t count) {
    for (int64_t i = 0; i < count; i++) x[i] += y[i];
}
