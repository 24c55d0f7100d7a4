// rmsnorm.cu - RMSNorm of the fp32 residual stream into the bf16 input of the next matmul:
// out[i] = bf16(x[r] * w / sqrt(mean(x[r]^2) + eps)), r = rows ? rows[i] : i.
//
// Layout: x [*, dim] f32, w [dim] f32, out [n, dim] bf16 (cuBLAS reads bf16 activations).
// The optional row list lets the final norm gather only the rows whose logits are wanted.
// Launch: one block of 256 threads per row; the sum of squares is a block reduction in fp32
// over per-thread partials (each thread sums dim/256 values, so the fp32 rounding is far under
// the bf16 rounding of the output).
// Why no separate residual kernel: the residual add x += W h is fused into the cuBLAS call
// (beta = 1 accumulates into x), so the stream is read once by this kernel and never by an
// add kernel.
#include "common.cuh"
#include "kernels.h"

__global__ void rmsnorm_kernel(uint16_t *out, const float *x, const float *w, const int *rows,
                               int dim, float eps) {
    __shared__ float red[32];
    int i = blockIdx.x, r = rows ? rows[i] : i;
    const float *xr = x + (size_t)r * dim;
    float ss = 0.0f;
    for (int j = threadIdx.x; j < dim; j += blockDim.x) ss += xr[j] * xr[j];
    ss = block_sum(ss, red);
    float scale = rsqrtf(ss / dim + eps);
    uint16_t *o = out + (size_t)i * dim;
    for (int j = threadIdx.x; j < dim; j += blockDim.x)
        o[j] = f32_to_bf16_bits(xr[j] * scale * w[j]);
}

extern "C" cudaError_t rmsnorm_cuda(uint16_t *out, const float *x, const float *w, const int *rows,
                                    int n, int dim, float eps, cudaStream_t s) {
    if (n < 0 || dim <= 0) return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    rmsnorm_kernel<<<n, 256, 0, s>>>(out, x, w, rows, dim, eps);
    LAUNCH_CHECK();
}
