// gpu_util.h - what the GPU tests share: random inputs, poisoned device buffers, transfers and
// a tolerance comparison that prints the worst difference.
#pragma once
#include "check.h"
#include "model/quant.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BF16_EPS (1.0f / 256.0f) // 2^-8: spacing of bf16 at 1 (relative rounding <= 2^-9)

static uint64_t rng_state = 0x1234abcdULL;
static inline float frand(void) { // uniform [-1, 1)
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}
static inline int irand(int n) {
    return (int)((frand() + 1.0f) * 0.5f * n) % n;
}
// Mostly N(0,1)-like values with ~1% outliers 30x larger.
static inline float value(void) {
    float v = frand() + frand() + frand();
    return irand(100) == 0 ? 30.0f * v : v;
}
static inline float round_bf16(float x) {
    return bf16_to_f32(f32_to_bf16(x));
}

// A device buffer filled with 0xff bytes: NaN as f32 and as bf16, -1 as int, so an element a
// kernel should have written but did not shows up.
static inline void *dmalloc(size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        fprintf(stderr, "cudaMalloc(%zu) failed\n", bytes);
        exit(1);
    }
    cudaMemset(p, 0xff, bytes);
    return p;
}
static inline void *upload(const void *h, size_t bytes) {
    void *d = dmalloc(bytes);
    cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    return d;
}
static inline void download(void *h, const void *d, size_t bytes) {
    cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost);
}
static inline void bf16_to_f32_array(float *dst, const uint16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}

// Compares n values; returns the count outside abs + rel*|ref| (NaN always fails).
static inline int compare(const char *what, const float *got, const float *ref, size_t n,
                          float abs_tol, float rel_tol) {
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), tol = abs_tol + rel_tol * fabs(ref[i]);
        if (!(d <= tol)) {
            if (bad < 3)
                fprintf(stderr, "  %s[%zu]: gpu %g cpu %g (tol %g)\n", what, i, got[i], ref[i],
                        tol);
            bad++;
        }
        if (d > worst || d != d) worst = d != d ? INFINITY : d;
    }
    printf("  %-44s n=%-8zu max|diff| %.3g%s\n", what, n, worst, bad ? "  FAIL" : "");
    return bad;
}
