// swiglu.cu - the FFN's gated activation: out[i, j] = bf16(silu(g) * u), g = gu[i, j],
// u = gu[i, hidden + j], silu(g) = g / (1 + exp(-g)).
//
// Layout: gu [n, 2*hidden] f32 is the output of ONE matmul with W_gate and W_up stacked
// (one weight stream, one launch); out [n, hidden] bf16 feeds the down projection.
// Launch: a grid-stride loop over n*hidden elements, 256 threads a block. Memory bound:
// 8 bytes read + 2 written per element.
#include "common.cuh"
#include "kernels.h"

__global__ void swiglu_kernel(uint16_t *out, const float *gu, int hidden, int64_t count) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < count;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e / hidden, j = e - i * hidden;
        float g = gu[i * 2 * hidden + j], u = gu[i * 2 * hidden + hidden + j];
        out[e] = f32_to_bf16_bits(g / (1.0f + expf(-g)) * u); // expf, as the CPU reference
    }
}

extern "C" cudaError_t swiglu_cuda(uint16_t *out, const float *gu, int n, int hidden,
                                   cudaStream_t s) {
    if (n < 0 || hidden <= 0) return cudaErrorInvalidValue;
    int64_t count = (int64_t)n * hidden;
    if (count == 0) return cudaSuccess;
    int64_t blocks = (count + 255) / 256;
    swiglu_kernel<<<(unsigned)(blocks < 65536 ? blocks : 65536), 256, 0, s>>>(out, gu, hidden,
                                                                              count);
    LAUNCH_CHECK();
}
