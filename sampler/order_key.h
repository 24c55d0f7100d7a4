// order_key.h - the token order of sampler.h as one unsigned integer per token, shared by the
// CUDA sampler (kernels/sample.cu) and the tests (compiled by gcc and nvcc, like rng.h).
//
// The order is: logit descending, ties to the lower id; NaN sorts as -inf; -0.0 and +0.0 are
// EQUAL (they compare equal as floats, so the CPU sampler breaks their tie by id). The key
//     K(v, i) = order_bits(v) << 32 | (0xFFFFFFFF - i)
// is larger exactly when token (v, i) comes first, and unique per id, so "the first m tokens of
// the order" is always the set {K >= kappa} for one threshold kappa.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define ORDER_FN static __host__ __device__ __forceinline__
#else
#define ORDER_FN static inline
#endif

// The logit the order sees: NaN -> -inf.
ORDER_FN float order_logit(float v) {
    return v != v ? -INFINITY : v;
}

// A monotone map float -> uint32 (a < b as floats <=> bits(a) < bits(b)), with -0.0 -> the
// key of +0.0 and NaN -> the key of -inf.
ORDER_FN uint32_t order_bits(float v) {
    v = order_logit(v);
    uint32_t u;
    memcpy(&u, &v, 4);
    if (u == 0x80000000u) u = 0; // -0.0 is +0.0: without this, +0 would outrank -0
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u); // negative: reverse; positive: above
}

ORDER_FN uint64_t order_key(float v, int id) {
    return (uint64_t)order_bits(v) << 32 | (uint32_t)(0xFFFFFFFFu - (uint32_t)id);
}

// The token id of a key.
ORDER_FN int order_key_id(uint64_t k) {
    return (int)(0xFFFFFFFFu - (uint32_t)k);
}
