// rng.h - the counter-based random generator shared by the CPU sampler and the CUDA kernels.
//
// A draw is a pure function of (seed, chain, step): no state is carried between steps, so a
// chain's random numbers do not depend on batch size, slot, scheduling order or backend.
// The mixer is splitmix64's finalizer applied to a combination of the three counters; it is
// plain C that both gcc and nvcc compile.
#pragma once
#include <stdint.h>

#ifdef __CUDACC__
#define RNG_FN static __host__ __device__ __forceinline__
#else
#define RNG_FN static inline
#endif

RNG_FN uint64_t rng_mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// 64 random bits for (seed, chain, step). chain and step fill disjoint halves of the word the
// second mix sees, so distinct (chain, step) pairs never collide before mixing; the seed is
// mixed first so that nearby seeds give unrelated streams. tests/test_rng.py recomputes this
// in Python, independently of the C compiler.
RNG_FN uint64_t rng_bits(uint64_t seed, uint32_t chain, uint32_t step) {
    uint64_t h = rng_mix64(seed);
    h = rng_mix64(h ^ ((uint64_t)chain << 32 | step));
    return h;
}

// Uniform float in [0, 1) with 24 random bits (exactly representable in fp32).
RNG_FN float rng_uniform(uint64_t seed, uint32_t chain, uint32_t step) {
    return (float)(rng_bits(seed, chain, step) >> 40) * (1.0f / 16777216.0f);
}
