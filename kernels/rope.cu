// rope.cu - rotary position embedding of q and k, fused with the store of k and v into the
// KV cache: after the QKV matmul, one pass reads each row's q, k, v once and writes q back
// (rotated, f32, for attention) and k (rotated), v as bf16 into the row's sequence storage.
//
// Pairing: adjacent pairs (x[2j], x[2j+1]) rotate by theta_j = pos * base^(-2j/hd) (GGUF llama
// checkpoints are permuted for this at conversion; see runtime/ops_cpu.c's rope). The angle is
// computed in double, as the CPU reference does: at positions in the thousands a float angle
// is off by ~1e-4 rad, which would be the largest error in the whole layer.
// Layout: qkv [n, n_heads*hd + 2*kv_dim] f32; cache K/V [n_layers, cap, kv_dim] bf16 per
// sequence (RowKV). Launch: one block per row, one thread per rotation pair (q pairs, then k
// pairs), then a loop for v. The store of k is the only write of k: attention reads it back
// from the cache, so a row attends to its own key in bf16 like every other key.
#include "common.cuh"
#include "kernels.h"

__global__ void rope_qkv_store_kernel(float *qkv, const RowKV *rows, int layer, int n_heads,
                                      int n_kv_heads, int hd, float base) {
    int i = blockIdx.x, dim = n_heads * hd, kv_dim = n_kv_heads * hd, half = hd / 2;
    RowKV r = rows[i];
    float *row = qkv + (size_t)i * (dim + 2 * kv_dim);
    size_t off = ((size_t)layer * r.cap + r.slot) * kv_dim;
    int n_pairs = (n_heads + n_kv_heads) * half;
    for (int p = threadIdx.x; p < n_pairs; p += blockDim.x) {
        int j = p % half;               // pair index inside the head
        double theta = r.pos * pow((double)base, -2.0 * j / hd);
        float c = (float)cos(theta), sn = (float)sin(theta);
        float *x = row + 2 * p;         // q pairs run into k pairs: [q | k] is contiguous
        float a = x[0], b = x[1];
        float ra = a * c - b * sn, rb = a * sn + b * c;
        if (p < n_heads * half) {
            x[0] = ra;
            x[1] = rb;
        } else {
            int e = 2 * p - dim; // element inside k
            r.k[off + e] = f32_to_bf16_bits(ra);
            r.k[off + e + 1] = f32_to_bf16_bits(rb);
        }
    }
    const float *v = row + dim + kv_dim;
    for (int e = threadIdx.x; e < kv_dim; e += blockDim.x) r.v[off + e] = f32_to_bf16_bits(v[e]);
}

extern "C" cudaError_t rope_qkv_store_cuda(float *qkv, const RowKV *rows, int n, int layer,
                                           int n_heads, int n_kv_heads, int head_dim, float base,
                                           cudaStream_t s) {
    if (n < 0 || n_heads <= 0 || n_kv_heads <= 0 || head_dim <= 0 || head_dim % 2 ||
        n_heads % n_kv_heads || layer < 0)
        return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    rope_qkv_store_kernel<<<n, 256, 0, s>>>(qkv, rows, layer, n_heads, n_kv_heads, head_dim, base);
    LAUNCH_CHECK();
}
