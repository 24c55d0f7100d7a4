// embed.cu - token embedding lookup: x[i] = fp32(table[tokens[i]]).
//
// Layout: table [vocab, dim] bf16 row-major (converted from the GGUF type at load); x [n, dim]
// f32, the residual stream. Launch: one block per row, threads stride over dim. The op is a
// gather of n rows (n*dim*2 bytes read): trivially memory bound and tiny, so it stays simple.
#include "common.cuh"
#include "kernels.h"

__global__ void embed_kernel(float *x, const uint16_t *table, const int *tokens, int dim,
                             int vocab) {
    int i = blockIdx.x, t = tokens[i];
    float *xi = x + (size_t)i * dim;
    if (t < 0 || t >= vocab) { // defensive: the host validated ids; never read out of bounds
        for (int j = threadIdx.x; j < dim; j += blockDim.x) xi[j] = 0.0f;
        return;
    }
    const uint16_t *row = table + (size_t)t * dim;
    for (int j = threadIdx.x; j < dim; j += blockDim.x) xi[j] = bf16_bits_to_f32(row[j]);
}

extern "C" cudaError_t embed_cuda(float *x, const uint16_t *table, const int *tokens, int n,
                                  int dim, int vocab, cudaStream_t s) {
    if (n < 0 || dim <= 0 || vocab <= 0) return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    embed_kernel<<<n, 256, 0, s>>>(x, table, tokens, dim, vocab);
    LAUNCH_CHECK();
}
