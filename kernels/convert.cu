// convert.cu - element-wise conversion: f32_to_bf16_cuda rounds fp32 to bf16 (round to nearest
// even, as quant.c's f32_to_bf16).
// Launch: a grid-stride loop, 256 threads a block; memory bound.
#include "common.cuh"
#include "kernels.h"

static unsigned grid_for(int64_t count) {
    int64_t b = (count + 255) / 256;
    return (unsigned)(b < 65536 ? b : 65536);
}

__global__ void f32_to_bf16_kernel(uint16_t *dst, const float *src, int64_t count) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = f32_to_bf16_bits(src[i]);
}

extern "C" cudaError_t f32_to_bf16_cuda(uint16_t *dst, const float *src, int64_t count,
                                        cudaStream_t s) {
    if (count < 0) return cudaErrorInvalidValue;
    if (count == 0) return cudaSuccess;
    f32_to_bf16_kernel<<<grid_for(count), 256, 0, s>>>(dst, src, count);
    LAUNCH_CHECK();
}
