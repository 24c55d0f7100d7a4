// rope.cu - rotary position embedding of q and k, fused with what comes before it in the
// architectures we run and with the store of k and v into the KV cache: after the QKV matmul,
// one pass reads each row's q, k, v once and writes q back (rotated, f32, for attention) and k
// (rotated), v as bf16 into the row's sequence storage. In order, per row (RopeParams):
//   bias      q, k, v += their biases (qwen2), when rp.bias is set
//   qk norm   every head of q and of k RMS-normed on its own with rp.q_norm / rp.k_norm (qwen3)
//   rope      pair j of each head rotates by theta_j = (pos / linear) * base^(-2j/hd) / factors[j]
//             (linear scaling and Llama 3.x's rope_freqs when given); pairs (x[2j], x[2j+1])
//             (GGUF llama checkpoints are permuted for this at conversion; runtime/cpu/ops.c), or
//             with rp.neox (x[j], x[j + hd/2]) (qwen2, qwen3)
// The angle is computed in double, as the CPU reference does: at positions in the thousands a
// float angle is off by ~1e-4 rad, which would be the largest error in the whole layer.
// Layout: qkv [n, n_heads*hd + 2*kv_dim] f32; cache K/V [n_layers, cap, kv_dim] bf16 per
// sequence (RowKV). Launch: one block per row; the bias a thread per element, the norm a warp
// per head (warp sums), the rope a thread per rotation pair (q pairs, then k pairs), then a
// loop for v. The store of k is the only write of k: attention reads it back from the cache,
// so a row attends to its own key in bf16 like every other key.
#include "common.cuh"
#include "kernels.h"

__global__ void rope_qkv_store_kernel(float *qkv, const RowKV *rows, int layer, int n_heads,
                                      int n_kv_heads, int hd, RopeParams rp) {
    int i = blockIdx.x, dim = n_heads * hd, kv_dim = n_kv_heads * hd, half = hd / 2;
    RowKV r = rows[i];
    float *row = qkv + (size_t)i * (dim + 2 * kv_dim);
    size_t off = ((size_t)layer * r.cap + r.slot) * kv_dim;
    if (rp.bias) {
        for (int e = threadIdx.x; e < dim + 2 * kv_dim; e += blockDim.x) row[e] += rp.bias[e];
        __syncthreads();
    }
    if (rp.q_norm) { // warp w normalises heads w, w + warps, ... of [q heads | k heads]
        int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
        for (int h = threadIdx.x >> 5; h < n_heads + n_kv_heads; h += warps) {
            float *x = row + (size_t)h * hd, ss = 0.0f;
            for (int e = lane; e < hd; e += 32) ss += x[e] * x[e];
            float scale = rsqrtf(warp_sum(ss) / hd + rp.eps);
            const float *w = h < n_heads ? rp.q_norm : rp.k_norm;
            for (int e = lane; e < hd; e += 32) x[e] = x[e] * scale * w[e];
        }
        __syncthreads();
    }
    double pscale = rp.linear > 1.0f ? 1.0 / rp.linear : 1.0;
    int n_pairs = (n_heads + n_kv_heads) * half;
    for (int p = threadIdx.x; p < n_pairs; p += blockDim.x) {
        int j = p % half, head = p / half; // pair index inside the head; q heads run into k heads
        double theta = r.pos * pscale * pow((double)rp.base, -2.0 * j / hd);
        if (rp.factors) theta /= rp.factors[j];
        float c = (float)cos(theta), sn = (float)sin(theta);
        int e0 = head * hd + (rp.neox ? j : 2 * j), e1 = e0 + (rp.neox ? half : 1);
        float a = row[e0], b = row[e1];
        float ra = a * c - b * sn, rb = a * sn + b * c;
        if (e0 < dim) {
            row[e0] = ra;
            row[e1] = rb;
        } else { // elements inside k
            r.k[off + e0 - dim] = f32_to_bf16_bits(ra);
            r.k[off + e1 - dim] = f32_to_bf16_bits(rb);
        }
    }
    const float *v = row + dim + kv_dim;
    for (int e = threadIdx.x; e < kv_dim; e += blockDim.x) r.v[off + e] = f32_to_bf16_bits(v[e]);
}

extern "C" cudaError_t rope_qkv_store_cuda(float *qkv, const RowKV *rows, int n, int layer,
                                           int n_heads, int n_kv_heads, int head_dim,
                                           const RopeParams *rp, cudaStream_t s) {
    if (n < 0 || n_heads <= 0 || n_kv_heads <= 0 || head_dim <= 0 || head_dim % 2 ||
        n_heads % n_kv_heads || layer < 0 || !rp || !rp->q_norm != !rp->k_norm)
        return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    rope_qkv_store_kernel<<<n, 256, 0, s>>>(qkv, rows, layer, n_heads, n_kv_heads, head_dim, *rp);
    LAUNCH_CHECK();
}
