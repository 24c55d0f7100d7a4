// sample.cu - fused sampling: one block per row turns a logits row into (token id, log-prob)
// with exactly the semantics of sampler/sampler.h: temperature -> top-k -> top-p -> min-p ->
// inverse-CDF draw with u = rng_uniform(seed, chain, step); the log-prob is under the
// unmodified log_softmax(logits). Only ids and log-probs leave the device.
//
// The token order (logit descending, ties to the lower id, -0.0 == +0.0, NaN as -inf) is the
// order of the 64-bit keys of sampler/order_key.h; every rule keeps a prefix of that order.
//
// How: filter, then sort a few candidates in shared memory (as sampler.c does on the CPU).
//   pass 1  the first token (max key) -> lmax.
//   pass 2  per token d = (logit - lmax) / T and w = expf(d): the row's mass, the min-p mass,
//           the T = 1 normaliser of the log-prob, and the count and mass of the tokens above
//           each rung of a ladder of thresholds on d (one pass for all rungs).
//   choose  the highest rung whose tokens surely hold the kept set and the draw point (top-k:
//           at least k tokens; else the min-p set, the top-p mass or the draw's mass) and that
//           fits SAMPLE_CAND candidates. Real distributions need a few dozen. Where a rung is
//           enough but holds too many, up to two more passes split the step above it into 8.
//   pass 3  collect those tokens' keys into shared memory; bitonic sort; weights per candidate.
//   walk    one warp scans the sorted candidates (prefix sums in double): top-k's universe,
//           min-p's cut, top-p's cut, the draw.
// That is three to five passes over the vocab instead of the ~150 the threshold searches below
// need. Rows where no threshold fits (flat rows drawn at high temperature without truncation,
// top-k past SAMPLE_CAND) fall back to those searches: a binary search over the key space for
// each cut, one pass per step, exact but slow.
// Sums reduce in a different order than the CPU's sequential double sums, so a result can
// differ from the CPU's only when a cumulative sum lies within rounding of a threshold (as
// sampler.h allows).
//
// Layout: logits [n, ld] f32, of which only the first vocab ids of a row are candidates (a
// padded vocabulary: rows of the embedding past the tokenizer's tokens are never drawn, and the
// log-prob is over the candidates, as on the CPU); args [n] SampleRow; ids, logprobs [n].
// Launch: n blocks of SAMPLE_THREADS threads; ~37 KB of static shared memory a block.
#include "common.cuh"
#include "kernels.h"
#include "order_key.h"
#include "rng.h"

#define SAMPLE_THREADS 512
#define SAMPLE_CAND    2048 // candidates sorted in shared memory (a power of two)
#define N_RUNGS        8
#define N_SUMS         (2 * N_RUNGS + 3) // per rung count and mass; row mass, min-p mass, T=1 mass

// The ladder: thresholds on d = ln(p_i / p_max), highest first. The last takes every token.
__constant__ float RUNG[N_RUNGS] = {-1.0f, -2.0f, -4.0f, -8.0f, -16.0f, -32.0f, -64.0f, -INFINITY};

struct RowState {
    const float *l;
    int vocab;
    float lmax, t, ln_mp;
    uint64_t k_u;   // top-k threshold (0: whole vocab)
    uint64_t k_top; // key of the first token of the order
};

// ---- block reductions ---------------------------------------------------------------------

// Sums v[0..N_SUMS) over the block; every thread gets the totals in v. sh: N_SUMS * 32 doubles.
__device__ void block_sums(double *v, double *sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int k = 0; k < N_SUMS; k++) {
        double x = v[k];
        for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
        if (lane == 0) sh[k * 32 + warp] = x;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < N_SUMS; k++) {
        double x = 0.0;
        for (int w = 0; w < nw; w++) x += sh[k * 32 + w]; // same order in every thread
        v[k] = x;
    }
    __syncthreads(); // sh reusable
}

// ---- the fallback: threshold searches over the key space ----------------------------------

// Block-wide (count, mass) of tokens with key >= kappa, inside U, and (if minp) passing min-p.
// Every thread gets the totals. sh: 2*32 doubles of shared memory.
__device__ void count_mass(const RowState &s, uint64_t kappa, bool minp, double *sh, double *count,
                           double *mass) {
    double c = 0.0, m = 0.0;
    for (int i = threadIdx.x; i < s.vocab; i += blockDim.x) {
        float v = s.l[i];
        uint64_t k = order_key(v, i);
        if (k < kappa || k < s.k_u) continue;
        float d = (order_logit(v) - s.lmax) / s.t; // the CPU's exact float expression
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
        if (holds(s, mid << 32, what, target, sh))
            a = mid;
        else
            b = mid - 1;
    }
    // Inside the high half `a`, ids give low halves in [2^32 - vocab, 2^32).
    uint64_t lo2 = a << 32 | (uint32_t)(0x100000000ull - (uint64_t)s.vocab);
    uint64_t hi2 = a << 32 | 0xFFFFFFFFull;
    if (lo2 < lo) lo2 = lo;
    if (hi2 > hi) hi2 = hi;
    while (lo2 < hi2) {
        uint64_t mid = lo2 + (hi2 - lo2 + 1) / 2;
        if (holds(s, mid, what, target, sh))
            lo2 = mid;
        else
            hi2 = mid - 1;
    }
    return lo2;
}

// The draw by threshold searches (any row). Returns the token id.
__device__ int draw_by_search(RowState &s, const SamplerParams &p, float u, double *sh) {
    if (p.top_k > 0 && p.top_k < s.vocab) // U = the top_k first keys
        s.k_u = search(s, 0, s.k_top, BY_COUNT_GE, (double)p.top_k, sh);
    double c, z_u, w_kept;
    count_mass(s, 0, false, sh, &c, &z_u); // mass of U (top-p's reference)
    uint64_t k_kept = s.k_u;               // K = C unless top-p cuts it
    if (p.top_p < 1.0f) {
        double target = (double)p.top_p * z_u;
        if (holds(s, s.k_u, BY_MASS_GE, target, sh))
            k_kept = search(s, s.k_u, s.k_top, BY_MASS_GE, target, sh);
    }
    count_mass(s, k_kept, true, sh, &c, &w_kept);
    const double r = (double)u * w_kept;
    uint64_t k_tok;
    if (holds(s, k_kept, BY_MASS_GT, r, sh))
        k_tok = search(s, k_kept, s.k_top, BY_MASS_GT, r, sh);
    else // rounding left u*W at or past the last sum: the last positive-weight token of K
        k_tok = search(s, k_kept, s.k_top, BY_MASS_GE, w_kept, sh);
    return order_key_id(k_tok);
}

// ---- the fast path: sorted candidates -----------------------------------------------------

// Sorts keys[0..n) descending in place (n a power of two, <= SAMPLE_CAND).
__device__ void bitonic_desc(uint64_t *keys, int n) {
    for (int k = 2; k <= n; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = threadIdx.x; i < n; i += blockDim.x) {
                const int x = i ^ j;
                if (x > i) {
                    const uint64_t a = keys[i], b = keys[x];
                    const bool desc = (i & k) == 0; // this run sorts descending
                    if (desc ? a < b : a > b) keys[i] = b, keys[x] = a;
                }
            }
            __syncthreads();
        }
}

// Warp-wide scan of w[0..n) in double: the first m whose prefix sum c_m = w_0 + .. + w_m passes
// `target` (c_m >= target, or c_m > target if strict), or -1 if none (*total = sum of all n).
// *at gets c_m. Lane-parallel sums within 32-element chunks, chunks in order.
__device__ int warp_first_passing(const float *w, int n, double target, bool strict, double *at,
                                  double *total) {
    const int lane = threadIdx.x & 31;
    double carry = 0.0;
    for (int base = 0; base < n; base += 32) {
        const int i = base + lane;
        double x = i < n ? (double)w[i] : 0.0;
        for (int o = 1; o < 32; o <<= 1) {
            const double y = __shfl_up_sync(0xffffffffu, x, o);
            if (lane >= o) x += y;
        }
        const double c = carry + x;
        const unsigned hit =
            __ballot_sync(0xffffffffu, i < n && (strict ? c > target : c >= target));
        if (hit) {
            const int first = __ffs(hit) - 1;
            *at = __shfl_sync(0xffffffffu, c, first);
            *total = *at;
            return base + first;
        }
        carry = __shfl_sync(0xffffffffu, c, 31);
    }
    *at = *total = carry;
    return -1;
}

// The last index m < n with w[m] > 0, or 0 (warp-wide).
__device__ int warp_last_positive(const float *w, int n) {
    const int lane = threadIdx.x & 31;
    for (int base = (n - 1) / 32 * 32; base >= 0; base -= 32) {
        const int i = base + lane;
        const unsigned pos = __ballot_sync(0xffffffffu, i < n && w[i] > 0.0f);
        if (pos) return base + 31 - __clz(pos);
    }
    return 0;
}

// The rules and the draw over the sorted candidates (warp 0). k_n: candidates that form U
// (top-k) or all of them; z_u, w_mp: U's mass and its min-p mass when top-k is off (top-k on:
// computed here over the first k). d, w: per candidate. Returns the index of the token.
__device__ int walk(const float *d, const float *w, int k_n, bool k_on, double z_u, double w_mp,
                    const SamplerParams &p, float ln_mp, float u) {
    const int lane = threadIdx.x & 31;
    int n = k_n;
    if (k_on) { // U = the first k: its mass and its min-p mass, summed here
        double zu = 0.0, zm = 0.0;
        for (int i = lane; i < n; i += 32) {
            zu += (double)w[i];
            if (d[i] >= ln_mp) zm += (double)w[i];
        }
        for (int o = 16; o > 0; o >>= 1) {
            zu += __shfl_xor_sync(0xffffffffu, zu, o);
            zm += __shfl_xor_sync(0xffffffffu, zm, o);
        }
        z_u = zu, w_mp = zm;
    }
    // min-p: d is non-increasing along the order, so the min-p set is a prefix (first always).
    int keep = 0;
    for (int i = lane; i < n; i += 32) keep += d[i] >= ln_mp;
    for (int o = 16; o > 0; o >>= 1) keep += __shfl_xor_sync(0xffffffffu, keep, o);
    n = keep > 1 ? keep : 1;
    double total = w_mp, at, sum;
    if (p.top_p < 1.0f) { // the shortest prefix reaching top_p of U's mass
        const int m = warp_first_passing(w, n, (double)p.top_p * z_u, false, &at, &sum);
        if (m >= 0) n = m + 1;
        total = sum;
    }
    const int m = warp_first_passing(w, n, (double)u * total, true, &at, &sum);
    return m >= 0 ? m : warp_last_positive(w, n); // rounding left u * W at or past the last sum
}

struct Shared {
    uint64_t keys[SAMPLE_CAND]; // candidate keys, sorted descending
    float d[SAMPLE_CAND];       // their (logit - lmax) / T
    float w[SAMPLE_CAND];       // their expf(d)
    double sums[N_SUMS * 32];
    int n_cand, tok;
};

struct Row {
    const float *l;
    int vocab;
    float lmax, t, ln_mp;
};

// One pass over the row: for each threshold thr[r], the count and the mass of the tokens with
// d >= thr[r] (v[r], v[N_RUNGS + r]); with `first`, also the row's mass, its min-p mass and the
// T = 1 normaliser of the log-prob (v[2 N_RUNGS .. + 2]; only the last when greedy).
__device__ void weigh(const Row &s, const float *thr, bool first, bool greedy, double *v,
                      double *sh) {
#pragma unroll
    for (int k = 0; k < N_SUMS; k++) v[k] = 0.0;
    for (int i = threadIdx.x; i < s.vocab; i += blockDim.x) {
        const float x = order_logit(s.l[i]);
        if (first) v[2 * N_RUNGS + 2] += (double)expf(x - s.lmax);
        if (greedy) continue;
        const float d = (x - s.lmax) / s.t, w = expf(d); // the CPU's exact float expression
        if (first) {
            v[2 * N_RUNGS] += (double)w;
            if (d >= s.ln_mp) v[2 * N_RUNGS + 1] += (double)w;
        }
#pragma unroll
        for (int r = 0; r < N_RUNGS; r++)
            if (d >= thr[r]) v[r] += 1.0, v[N_RUNGS + r] += (double)w;
    }
    block_sums(v, sh);
}

// What the rules and the draw need of a candidate set {d >= thr}, which is a prefix of the order.
struct Need {
    bool k_on;
    int top_k;
    float top_p, ln_mp;
    double z_all, draw; // the row's mass; the draw point u * (min-p mass)
};

// 1 if the set surely holds what is needed: top-k's k tokens; else all of min-p's set, or the
// top-p cut, or the draw point. The mass tests carry a margin: their sums and the walk's run in
// different orders.
__device__ bool enough(const Need &q, float thr, double cnt, double mass) {
    mass *= 1.0 - 1e-9;
    if (q.k_on) return cnt >= (double)q.top_k;
    if (thr <= q.ln_mp || thr == -INFINITY) return true;
    if (q.top_p < 1.0f) return mass >= (double)q.top_p * q.z_all;
    return mass > q.draw;
}

// The highest threshold that is enough (r = N_RUNGS if none), its count, itself (lo) and the
// one above it (hi; `upper` above the first: the ladder's own upper end).
struct Pick {
    int r;
    double cnt;
    float lo, hi;
};

__device__ Pick pick(const Need &q, const float *thr, const double *v, float upper) {
    Pick p = {N_RUNGS, 0.0, 0.0f, 0.0f};
#pragma unroll
    for (int k = N_RUNGS - 1; k >= 0; k--) // compile-time indices: thr and v stay in registers
        if (enough(q, thr[k], v[k], v[N_RUNGS + k]))
            p.r = k, p.cnt = v[k], p.lo = thr[k], p.hi = k > 0 ? thr[k > 0 ? k - 1 : 0] : upper;
    return p;
}

// New thresholds between hi (not enough) and lo (enough, too many tokens): N_RUNGS steps, the
// last one lo itself. Towards -inf, steps down to 4 hi, then -inf.
__device__ void refine(float *thr, float hi, float lo) {
    if (lo == -INFINITY) {
        const float lo2 = hi < 0.0f ? 4.0f * hi : -4.0f;
#pragma unroll
        for (int j = 0; j < N_RUNGS - 1; j++)
            thr[j] = hi + (lo2 - hi) * (float)(j + 1) / (float)(N_RUNGS - 1);
    } else {
#pragma unroll
        for (int j = 0; j < N_RUNGS - 1; j++)
            thr[j] = hi + (lo - hi) * (float)(j + 1) / (float)N_RUNGS;
    }
    thr[N_RUNGS - 1] = lo;
}

// The draw over the candidates {d >= cut} (every thread calls it; every thread gets the token).
__device__ int draw_candidates(Shared &sh, const Row &s, float cut, const SamplerParams &p,
                               bool k_on, double z_all, double w_mp, float u) {
    if (threadIdx.x == 0) sh.n_cand = 0;
    for (int i = threadIdx.x; i < SAMPLE_CAND; i += blockDim.x) sh.keys[i] = 0; // 0 sorts last
    __syncthreads();
    for (int i = threadIdx.x; i < s.vocab; i += blockDim.x) {
        const float x = order_logit(s.l[i]);
        if ((x - s.lmax) / s.t >= cut) { // the same float test as the counting pass
            const int at = atomicAdd(&sh.n_cand, 1);
            if (at < SAMPLE_CAND) sh.keys[at] = order_key(x, i);
        }
    }
    __syncthreads();
    const int n_cand = min(sh.n_cand, SAMPLE_CAND); // >= 1: the first token has d = 0
    int size = 1;
    while (size < n_cand) size <<= 1;
    bitonic_desc(sh.keys, size);
    for (int i = threadIdx.x; i < n_cand; i += blockDim.x) {
        const float d = (order_logit(s.l[order_key_id(sh.keys[i])]) - s.lmax) / s.t;
        sh.d[i] = d;
        sh.w[i] = expf(d);
    }
    __syncthreads();
    if ((threadIdx.x >> 5) == 0) { // the rules and the draw: one warp over the sorted list
        const int k_n = k_on ? min(p.top_k, n_cand) : n_cand;
        const int m = walk(sh.d, sh.w, k_n, k_on, z_all, w_mp, p, s.ln_mp, u);
        if (threadIdx.x == 0) sh.tok = order_key_id(sh.keys[m]);
    }
    __syncthreads();
    return sh.tok;
}

__global__ void __launch_bounds__(SAMPLE_THREADS)
    sample_kernel(int *ids, float *logprobs, const float *logits, const SampleRow *args, int vocab,
                  int ld) {
    __shared__ Shared sh;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float *l = logits + (size_t)blockIdx.x * ld; // only ids [0, vocab) are candidates
    const SampleRow a = args[blockIdx.x];

    // 1. the first token: the max key (keys are unique, so the max is one token)
    uint64_t best = 0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        uint64_t k = order_key(l[i], i);
        if (k > best) best = k;
    }
    for (int o = 16; o > 0; o >>= 1) {
        uint64_t other = __shfl_xor_sync(0xffffffffu, best, o);
        if (other > best) best = other;
    }
    if (lane == 0) sh.keys[warp] = best;
    __syncthreads();
    best = 0;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++)
        if (sh.keys[w] > best) best = sh.keys[w];
    __syncthreads();
    const int top = order_key_id(best);
    const float lmax = order_logit(l[top]);
    const bool degenerate = !isfinite(lmax); // all -inf/NaN, or a +inf: nothing to weigh
    const bool greedy = degenerate || !(a.p.temperature > 0.0f);
    const Row s = {l, degenerate ? 0 : vocab, lmax, a.p.temperature,
                   a.p.min_p > 0.0f ? logf(a.p.min_p) : -INFINITY};
    const bool k_on = a.p.top_k > 0 && a.p.top_k < vocab;

    // 2. one pass: the log-prob's normaliser, the rules' sums, the ladder's counts and masses
    float thr[N_RUNGS];
#pragma unroll
    for (int r = 0; r < N_RUNGS; r++) thr[r] = RUNG[r];
    double v[N_SUMS];
    weigh(s, thr, true, greedy, v, sh.sums);
    const double z1 = v[2 * N_RUNGS + 2], z_all = v[2 * N_RUNGS], w_mp = v[2 * N_RUNGS + 1];

    int tok = top;
    if (!greedy) {
        const float u = rng_uniform(a.seed, a.chain, a.step);
        // 3. the highest threshold that holds what is needed in few enough candidates; where a
        // rung holds enough but too many, up to two passes subdivide the step above it
        const Need q = {k_on, a.p.top_k, a.p.top_p, s.ln_mp, z_all, (double)u * w_mp};
        Pick pk = pick(q, thr, v, 0.0f); // d <= 0 for every token
        for (int round = 0; round < 2 && pk.r < N_RUNGS && pk.cnt > SAMPLE_CAND; round++) {
            const float upper = pk.hi; // not enough: the new ladder lies below it
            refine(thr, pk.hi, pk.lo);
            weigh(s, thr, false, false, v, sh.sums);
            pk = pick(q, thr, v, upper);
        }
        if (pk.r < N_RUNGS && pk.cnt <= SAMPLE_CAND) { // 4. sort the candidates, walk, draw
            tok = draw_candidates(sh, s, pk.lo, a.p, k_on, z_all, w_mp, u);
        } else { // flat rows and long top-k lists: threshold searches
            RowState rs = {l, vocab, lmax, s.t, s.ln_mp, 0, best};
            tok = draw_by_search(rs, a.p, u, sh.sums);
        }
    }

    // 5. the log-prob under log_softmax(logits), normaliser summed in double (as the CPU)
    if (threadIdx.x == 0) {
        float lp;
        if (degenerate)
            lp = lmax == INFINITY ? 0.0f : -INFINITY;
        else
            lp = (float)((double)order_logit(l[tok]) - lmax - log(z1));
        ids[blockIdx.x] = tok;
        logprobs[blockIdx.x] = lp;
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
