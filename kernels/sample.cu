// sample.cu - fused sampling: one block per row turns a logits row into (token id, log-prob)
// with exactly the semantics of sampler/sampler.h: temperature -> top-k -> top-p -> min-p ->
// inverse-CDF draw with u = rng_uniform(seed, chain, step); the log-prob is under the
// unmodified log_softmax(logits). Only ids and log-probs leave the device.
//
// How, without sorting the vocab. The token order (logit descending, ties to the lower id) is
// the order of the 64-bit key  K(i) = ord(logit_i) << 32 | (0xFFFFFFFF - i)  where ord maps a
// float to an unsigned int of the same order. Keys are unique, so every "first m tokens of
// the order" is exactly the set {i : K(i) >= kappa} for kappa = the m-th largest key. Each
// rule of the sampler picks such a prefix, so each becomes a search for a threshold kappa:
//   top-k:  the largest kappa with count(K >= kappa) >= k                       -> kappa_U
//   top-p:  the largest kappa with mass_C(K >= kappa) >= top_p * mass(U)       -> kappa_K
//   draw:   the largest kappa with mass_C(K >= kappa) >  u * mass_C(K >= kappa_K) -> the token
// where mass is the sum of w_i = expf((logit_i - max) / T) and C is U with min-p applied
// (d_i >= ln(min_p); the first token always kept). A search is a binary search over the key
// space, 32 steps over the logit half and ceil(log2(vocab)) over the id half; each step is one
// pass over the row (count and mass reduced over the block, mass in double like the CPU).
// Sums reduce in a different order than the CPU's sequential double sum, so a result can
// differ only when a cumulative sum lies within rounding of a threshold (see sampler.h).
//
// Cost: ~150 passes over the row for top-k + top-p (fewer with them off), from L2 (a row is
// vocab*4 bytes). Fine against a decode step; a shared-memory copy of the weights (H100 fits
// 49152 floats) or a candidate pre-filter as the CPU does are the next steps if it shows.
//
// Layout: logits [n, ld] f32, of which only the first vocab ids of a row are candidates (a
// padded vocabulary: rows of the embedding past the tokenizer's tokens are never drawn, and the
// log-prob is over the candidates, as on the CPU); args [n] SampleRow; ids, logprobs [n].
// Launch: n blocks of SAMPLE_THREADS threads.
#include "common.cuh"
#include "kernels.h"
#include "rng.h"

#define SAMPLE_THREADS 512

__device__ __forceinline__ float sort_key(float v) { return v != v ? -INFINITY : v; } // NaN last

__device__ __forceinline__ uint64_t order_key(float v, int i) {
    uint32_t u = __float_as_uint(sort_key(v));
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); // monotone float -> uint
    return (uint64_t)u << 32 | (uint32_t)(0xFFFFFFFFu - (uint32_t)i);
}

struct RowState {
    const float *l;
    int vocab;
    float lmax, t, ln_mp;
    uint64_t k_u;   // top-k threshold (0: whole vocab)
    uint64_t k_top; // key of the first token of the order
};

// Block-wide (count, mass) of tokens with key >= kappa, inside U, and (if minp) passing min-p.
// Every thread gets the totals. sh: 2*32 doubles of shared memory.
__device__ void count_mass(const RowState &s, uint64_t kappa, bool minp, double *sh,
                           double *count, double *mass) {
    double c = 0.0, m = 0.0;
    for (int i = threadIdx.x; i < s.vocab; i += blockDim.x) {
        float v = s.l[i];
        uint64_t k = order_key(v, i);
        if (k < kappa || k < s.k_u) continue;
        float d = (sort_key(v) - s.lmax) / s.t; // the CPU's exact float expression
        if (minp && !(d >= s.ln_mp) && k != s.k_top) continue;
        c += 1.0;
        m += (double)expf(d);
    }
    for (int o = 16; o > 0; o >>= 1) {
        c += __shfl_xor_sync(0xffffffffu, c, o);
        m += __shfl_xor_sync(0xffffffffu, m, o);
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) {
        sh[warp] = c;
        sh[32 + warp] = m;
    }
    __syncthreads();
    c = lane < nw ? sh[lane] : 0.0;
    m = lane < nw ? sh[32 + lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) {
        c += __shfl_xor_sync(0xffffffffu, c, o);
        m += __shfl_xor_sync(0xffffffffu, m, o);
    }
    __syncthreads(); // sh reusable
    *count = c;
    *mass = m;
}

enum { BY_COUNT_GE, BY_MASS_GE, BY_MASS_GT };

__device__ bool holds(const RowState &s, uint64_t kappa, int what, double target, double *sh) {
    double c, m;
    count_mass(s, kappa, what != BY_COUNT_GE, sh, &c, &m);
    return what == BY_COUNT_GE ? c >= target : what == BY_MASS_GE ? m >= target : m > target;
}

// Largest kappa in [lo, hi] for which the (monotone: true for small kappa) predicate holds,
// given that it holds at lo. Binary search on the logit half, then on the id half.
__device__ uint64_t search(const RowState &s, uint64_t lo, uint64_t hi, int what, double target,
                           double *sh) {
    uint64_t a = lo >> 32, b = hi >> 32; // high halves
    while (a < b) {
        uint64_t mid = a + (b - a + 1) / 2;
        if (holds(s, mid << 32, what, target, sh)) a = mid;
        else b = mid - 1;
    }
    // Inside the high half `a`, ids give low halves in [2^32 - vocab, 2^32).
    uint64_t lo2 = a << 32 | (uint32_t)(0x100000000ull - (uint64_t)s.vocab);
    uint64_t hi2 = a << 32 | 0xFFFFFFFFull;
    if (lo2 < lo) lo2 = lo;
    if (hi2 > hi) hi2 = hi;
    while (lo2 < hi2) {
        uint64_t mid = lo2 + (hi2 - lo2 + 1) / 2;
        if (holds(s, mid, what, target, sh)) lo2 = mid;
        else hi2 = mid - 1;
    }
    return lo2;
}

__global__ void __launch_bounds__(SAMPLE_THREADS)
sample_kernel(int *ids, float *logprobs, const float *logits, const SampleRow *args, int vocab,
              int ld) {
    __shared__ double sh[64];
    const int row = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float *l = logits + (size_t)row * ld;
    const SampleRow a = args[row];

    // 1. argmax by the order (max key; a unique max since keys are unique).
    uint64_t best = 0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        uint64_t k = order_key(l[i], i);
        if (k > best) best = k;
    }
    for (int o = 16; o > 0; o >>= 1) {
        uint64_t other = __shfl_xor_sync(0xffffffffu, best, o);
        if (other > best) best = other;
    }
    if (lane == 0) sh[warp] = __longlong_as_double((long long)best);
    __syncthreads();
    best = 0;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++) {
        uint64_t k = (uint64_t)__double_as_longlong(sh[w]);
        if (k > best) best = k;
    }
    __syncthreads();
    const int top = (int)(0xFFFFFFFFu - (uint32_t)best);
    const float lmax = sort_key(l[top]);

    // 2. the draw (unless greedy or degenerate)
    int tok = top;
    const bool degenerate = !isfinite(lmax);
    if (!degenerate && a.p.temperature > 0.0f) {
        RowState s;
        s.l = l;
        s.vocab = vocab;
        s.lmax = lmax;
        s.t = a.p.temperature;
        s.ln_mp = a.p.min_p > 0.0f ? logf(a.p.min_p) : -INFINITY;
        s.k_u = 0;
        s.k_top = best;
        const float u = rng_uniform(a.seed, a.chain, a.step);
        if (a.p.top_k > 0 && a.p.top_k < vocab) // U = the top_k first keys
            s.k_u = search(s, 0, best, BY_COUNT_GE, (double)a.p.top_k, sh);
        double c, z_u, w_kept;
        count_mass(s, 0, false, sh, &c, &z_u); // mass of U (top-p's reference)
        uint64_t k_kept = s.k_u;               // K = C unless top-p cuts it
        if (a.p.top_p < 1.0f) {
            double target = (double)a.p.top_p * z_u;
            if (holds(s, s.k_u, BY_MASS_GE, target, sh))
                k_kept = search(s, s.k_u, best, BY_MASS_GE, target, sh);
        }
        count_mass(s, k_kept, true, sh, &c, &w_kept);
        const double r = (double)u * w_kept;
        uint64_t k_tok;
        if (holds(s, k_kept, BY_MASS_GT, r, sh))
            k_tok = search(s, k_kept, best, BY_MASS_GT, r, sh);
        else // rounding left u*W at or past the last sum: the last positive-weight token of K
            k_tok = search(s, k_kept, best, BY_MASS_GE, w_kept, sh);
        tok = (int)(0xFFFFFFFFu - (uint32_t)k_tok);
    }

    // 3. log-prob under log_softmax(logits), normaliser summed in double (as the CPU).
    double z = 0.0;
    if (!degenerate)
        for (int i = threadIdx.x; i < vocab; i += blockDim.x) z += (double)expf(sort_key(l[i]) - lmax);
    for (int o = 16; o > 0; o >>= 1) z += __shfl_xor_sync(0xffffffffu, z, o);
    if (lane == 0) sh[warp] = z;
    __syncthreads();
    if (threadIdx.x == 0) {
        z = 0.0;
        for (int w = 0; w < (int)(blockDim.x >> 5); w++) z += sh[w];
        float lp;
        if (degenerate) lp = lmax == INFINITY ? 0.0f : -INFINITY;
        else lp = (float)((double)sort_key(l[tok]) - lmax - log(z));
        ids[row] = tok;
        logprobs[row] = lp;
    }
}

extern "C" cudaError_t sample_cuda(int *ids, float *logprobs, const float *logits,
                                   const SampleRow *args, int n, int vocab, int ld,
                                   cudaStream_t s) {
    if (n < 0 || vocab <= 0 || ld < vocab) return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    sample_kernel<<<n, SAMPLE_THREADS, 0, s>>>(ids, logprobs, logits, args, vocab, ld);
    LAUNCH_CHECK();
}
