// confidence.cu - token confidence and entropy of each sampled row (sampler.h,
// token_confidence): on softmax(logits / T), T = 1 for greedy rows,
//   conf = -(1/k') sum of log p over the k' = min(k, finite) most likely tokens,
//   entropy = -sum p log p.
// One block per row. Pass 1: the row maximum. Pass 2: z = sum w_i and sum w_i d_i with
// w_i = expf(d_i), d_i = (logit_i - max) / T, in double like the CPU. Then k block-wide argmax
// passes pick the k most likely tokens in the sampler's order (logit descending, ties to the
// lower id, -0.0 equal to +0.0: sampler/order_key.h's keys, as sample.cu), k <= CONF_MAX_K.
// Rows with conf_k <= 0 get NaN. Only the two floats per row leave the device. CPU reference:
// sampler/sampler.c.
//
// Layout: logits [n, ld] f32, ids [0, vocab) of a row count (as sample.cu); args [n] SampleRow;
// out [n] TokenConf. Launch: n blocks of CONF_THREADS threads.
#include "common.cuh"
#include "kernels.h"
#include "order_key.h"

#include <math.h>

#define CONF_THREADS 256

__device__ double block_sum_d(double v, double *red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    return v;
}

__device__ unsigned long long block_max_u64(unsigned long long v, unsigned long long *red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) {
        unsigned long long w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : 0ull;
    for (int o = 16; o > 0; o >>= 1) {
        unsigned long long w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    __syncthreads();
    return v;
}

__global__ void token_confidence_kernel(TokenConf *out, const float *logits, const SampleRow *args,
                                        int vocab, int ld) {
    __shared__ double red_d[32];
    __shared__ unsigned long long red_k[32];
    const float *l = logits + (size_t)blockIdx.x * ld; // ids [0, vocab): a padded vocabulary
    const SamplerParams p = args[blockIdx.x].p;
    int k = p.conf_k < CONF_MAX_K ? p.conf_k : CONF_MAX_K;
    if (k <= 0) {
        if (threadIdx.x == 0) out[blockIdx.x] = TokenConf{NAN, NAN};
        return;
    }
    float t = p.temperature > 0 ? p.temperature : 1.0f;
    // the first token of the order carries the maximum
    unsigned long long best = 0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        unsigned long long o = order_key(l[i], i);
        best = o > best ? o : best;
    }
    best = block_max_u64(best, red_k);
    float lmax = order_logit(l[order_key_id(best)]);
    if (!isfinite(lmax)) {
        if (threadIdx.x == 0) out[blockIdx.x] = TokenConf{NAN, NAN};
        return;
    }
    double z = 0.0, wd = 0.0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        float d = (order_logit(l[i]) - lmax) / t; // the CPU's exact float expression
        if (d == -INFINITY) continue;
        float w = expf(d);
        z += w, wd += (double)w * d;
    }
    z = block_sum_d(z, red_d);
    wd = block_sum_d(wd, red_d);
    // the k most likely: k argmax passes, each below the previous one's key
    double top = 0.0;
    int n_top = 0;
    unsigned long long below = ~0ull;
    for (int j = 0; j < k; j++) {
        unsigned long long m = 0;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
            unsigned long long o = order_key(l[i], i);
            if (o < below && o > m) m = o;
        }
        m = block_max_u64(m, red_k);
        if (m == 0) break;
        float d = (order_logit(l[order_key_id(m)]) - lmax) / t;
        if (d == -INFINITY) break; // masked tokens are not among the most likely
        top += d, n_top++;
        below = m;
    }
    if (threadIdx.x == 0) {
        double lnz = log(z);
        out[blockIdx.x] = TokenConf{(float)(lnz - top / n_top), (float)(lnz - wd / z)};
    }
}

extern "C" cudaError_t token_confidence_cuda(TokenConf *out, const float *logits,
                                             const SampleRow *args, int n, int vocab, int ld,
                                             cudaStream_t s) {
    if (n < 0 || vocab <= 0 || ld < vocab) return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    token_confidence_kernel<<<n, CONF_THREADS, 0, s>>>(out, logits, args, vocab, ld);
    LAUNCH_CHECK();
}
