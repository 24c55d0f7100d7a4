// cuda_runtime.h - chorus's stand-in (kernels/emu/README.md): the host API, and in C++ what a
// kernel sees (kernels/emu/device.h: thread and block indices, barriers, warp operations,
// shared memory, atomics, launches), and the runtime's C++ conveniences (typed cudaMalloc).
#pragma once
#include "cuda_runtime_api.h"
#ifdef __cplusplus
#include "../device.h"

template <class T> inline cudaError_t cudaMalloc(T **p, size_t bytes) {
    return ::cudaMalloc((void **)p, bytes);
}
template <class T> inline cudaError_t cudaMallocHost(T **p, size_t bytes) {
    return ::cudaMallocHost((void **)p, bytes);
}
template <class T> inline cudaError_t cudaFuncSetAttribute(T *f, cudaFuncAttribute a, int v) {
    return ::cudaFuncSetAttribute((const void *)f, a, v);
}
#endif
