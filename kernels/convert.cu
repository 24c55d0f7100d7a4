// convert.cu - element-wise conversions and fills used at load time:
//   f32_to_bf16_cuda: weights dequantized to fp32 on the host are rounded to bf16 here.
//   fill_random_bf16_cuda: random weights for the benchmark's in-memory models (a 7B model is
//     13 GB of bf16: generating it on the device avoids a file and a host-to-device copy).
//   fill_f32_cuda: norm vectors of random models (all ones).
// Launch: grid-stride loops, 256 threads a block; memory bound.
#include "common.cuh"
#include "kernels.h"
#include "rng.h"

static unsigned grid_for(int64_t count) {
    int64_t b = (count + 255) / 256;
    return (unsigned)(b < 65536 ? b : 65536);
}

__global__ void f32_to_bf16_kernel(uint16_t *dst, const float *src, int64_t count) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = f32_to_bf16_bits(src[i]);
}

__global__ void fill_random_bf16_kernel(uint16_t *dst, int64_t count, uint64_t seed, float scale) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        // rng.h's counter hash: element i's value depends on (seed, i) only, not on the launch
        float u = rng_uniform(seed, (uint32_t)(i >> 32), (uint32_t)i);
        dst[i] = f32_to_bf16_bits(scale * (2.0f * u - 1.0f));
    }
}

__global__ void fill_f32_kernel(float *dst, int64_t count, float value) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = value;
}

extern "C" cudaError_t f32_to_bf16_cuda(uint16_t *dst, const float *src, int64_t count,
                                        cudaStream_t s) {
    if (count < 0) return cudaErrorInvalidValue;
    if (count == 0) return cudaSuccess;
    f32_to_bf16_kernel<<<grid_for(count), 256, 0, s>>>(dst, src, count);
    LAUNCH_CHECK();
}

extern "C" cudaError_t fill_random_bf16_cuda(uint16_t *dst, int64_t count, uint64_t seed,
                                             float scale, cudaStream_t s) {
    if (count < 0) return cudaErrorInvalidValue;
    if (count == 0) return cudaSuccess;
    fill_random_bf16_kernel<<<grid_for(count), 256, 0, s>>>(dst, count, seed, scale);
    LAUNCH_CHECK();
}

extern "C" cudaError_t fill_f32_cuda(float *dst, int64_t count, float value, cudaStream_t s) {
    if (count < 0) return cudaErrorInvalidValue;
    if (count == 0) return cudaSuccess;
    fill_f32_kernel<<<grid_for(count), 256, 0, s>>>(dst, count, value);
    LAUNCH_CHECK();
}
