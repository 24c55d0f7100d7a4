// cpu/gemm.c - the register-blocked micro-kernel behind gemm (see gemm.h).
//
// A kernel call computes R rows x NP panels (16 columns each) with R x NP x 2 ymm accumulators
// held in registers for the whole k loop; per k it loads 2 NP panel vectors and broadcasts R
// x values. Two FMAs retire per cycle and each takes 4 cycles, so at least 8 accumulators must
// be in flight, and 16 registers allow 12 plus the operands:
//   n >= 4 rows: one panel at a time, rows in balanced groups of 4..6 (16 = 6 + 5 + 5); where
//                that makes groups of 4 (n = 7, 8, 9, 13, 14, 19), the last 3 (or 2) rows as
//                for n = 3 (or 2)
//   n  = 2, 3:   two panels at a time (8 or 12 accumulators)
//   n  = 1:      four panels at a time (8 accumulators)
// Without AVX2 a plain C kernel computes the same chains with GEMM_STEP (gemm.h), so every build
// is bit-identical across batch shapes too. gemm_f16's panels hold fp16 (the KV cache's keys and
// values): each vector is converted exactly as it is loaded, and the chains are the same.
#include "cpu/gemm.h"
#include "model/quant.h"

#include <math.h>
#include <string.h>

#define MR 6 // rows per kernel call at most
#define MP 4 // panels per kernel call at most

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

// 8 panel elements from element offset i: fp32, or fp16 converted exactly (HALF).
static inline __attribute__((always_inline)) __m256 panel8(const void *P, size_t i,
                                                           const int HALF) {
    return HALF ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)P + i)))
                : _mm256_loadu_ps((const float *)P + i);
}

// R, NP and HALF are compile-time constants at every call (always inlined): the loops unroll
// fully and the accumulator array lives in registers.
static inline __attribute__((always_inline)) void kernel(float *out, size_t ldo, const void *P,
                                                         size_t ldp, size_t pstride, const float *x,
                                                         size_t ldx, int64_t in, const int R,
                                                         const int NP, const int HALF) {
    __m256 a[MR][MP][2];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int p = 0; p < NP; p++) a[r][p][0] = a[r][p][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < in; k++) {
        __m256 w[MP][2];
#pragma GCC unroll 4
        for (int p = 0; p < NP; p++) {
            w[p][0] = panel8(P, p * pstride + k * ldp, HALF);
            w[p][1] = panel8(P, p * pstride + k * ldp + 8, HALF);
        }
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            const __m256 xv = _mm256_broadcast_ss(x + r * ldx + k);
#pragma GCC unroll 4
            for (int p = 0; p < NP; p++) {
                a[r][p][0] = _mm256_fmadd_ps(w[p][0], xv, a[r][p][0]);
                a[r][p][1] = _mm256_fmadd_ps(w[p][1], xv, a[r][p][1]);
            }
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int p = 0; p < NP; p++) {
            _mm256_storeu_ps(out + r * ldo + p * GEMM_NR, a[r][p][0]);
            _mm256_storeu_ps(out + r * ldo + p * GEMM_NR + 8, a[r][p][1]);
        }
}
#else
// Portable: one row and one panel at a time, 16 accumulators the compiler vectorises (SSE,
// NEON) and keeps in registers; the same chains as the AVX2 kernel, step by step (GEMM_STEP).
static inline __attribute__((always_inline)) void kernel(float *out, size_t ldo, const void *P,
                                                         size_t ldp, size_t pstride, const float *x,
                                                         size_t ldx, int64_t in, const int R,
                                                         const int NP, const int HALF) {
    for (int p = 0; p < NP; p++)
        for (int r = 0; r < R; r++) {
            const float *xr = x + r * ldx;
            float acc[GEMM_NR] = {0};
            for (int64_t k = 0; k < in; k++)
                for (int j = 0; j < GEMM_NR; j++) {
                    const size_t i = p * pstride + k * ldp + j;
                    const float w =
                        HALF ? fp16_to_f32(((const uint16_t *)P)[i]) : ((const float *)P)[i];
                    acc[j] = GEMM_STEP(w, xr[k], acc[j]);
                }
            memcpy(out + r * ldo + p * GEMM_NR, acc, sizeof acc);
        }
}
#endif

typedef void (*Kernel)(float *, size_t, const void *, size_t, size_t, const float *, size_t,
                       int64_t);
#define DEFINE_KERNEL(R, NP)                                                                       \
    static void kernel_##R##x##NP(float *o, size_t ldo, const void *P, size_t ldp, size_t ps,      \
                                  const float *x, size_t ldx, int64_t in) {                        \
        kernel(o, ldo, P, ldp, ps, x, ldx, in, R, NP, 0);                                          \
    }                                                                                              \
    static void kernel_##R##x##NP##_h(float *o, size_t ldo, const void *P, size_t ldp, size_t ps,  \
                                      const float *x, size_t ldx, int64_t in) {                    \
        kernel(o, ldo, P, ldp, ps, x, ldx, in, R, NP, 1);                                          \
    }
DEFINE_KERNEL(1, 1)
DEFINE_KERNEL(2, 1)
DEFINE_KERNEL(3, 1)
DEFINE_KERNEL(4, 1)
DEFINE_KERNEL(5, 1)
DEFINE_KERNEL(6, 1)
DEFINE_KERNEL(1, 4)
DEFINE_KERNEL(2, 2)
DEFINE_KERNEL(3, 2)
// [fp16 panels][rows]
static const Kernel one_panel[2][MR + 1] = {
    {NULL, kernel_1x1, kernel_2x1, kernel_3x1, kernel_4x1, kernel_5x1, kernel_6x1},
    {NULL, kernel_1x1_h, kernel_2x1_h, kernel_3x1_h, kernel_4x1_h, kernel_5x1_h, kernel_6x1_h}};
static const Kernel wide[2][4] = {{NULL, kernel_1x4, kernel_2x2, kernel_3x2}, // n <= 3
                                  {NULL, kernel_1x4_h, kernel_2x2_h, kernel_3x2_h}};
static const int wide_panels[4] = {0, 4, 2, 2};

// Element offset in bytes of a panel pointer.
static const void *at(const void *P, size_t i, int half) {
    return (const char *)P + i * (half ? 2 : 4);
}

// n rows of one panel; a ragged panel (ncols < 16) goes through a tile.
static void panel(float *out, size_t ldo, const void *P, size_t ldp, const float *x, size_t ldx,
                  int64_t in, int n, int ncols, int half) {
    const int groups = (n + MR - 1) / MR;
    float tile[MR * GEMM_NR]; // [6, 16]
    for (int g = 0, r0 = 0; g < groups; g++) {
        const int mr = (n - r0) / (groups - g); // balanced: remaining rows over remaining groups
        const float *xr = x + (size_t)r0 * ldx;
        float *o = out + (size_t)r0 * ldo;
        if (ncols == GEMM_NR) {
            one_panel[half][mr](o, ldo, P, ldp, 0, xr, ldx, in);
        } else {
            one_panel[half][mr](tile, GEMM_NR, P, ldp, 0, xr, ldx, in);
            for (int r = 0; r < mr; r++)
                memcpy(o + (size_t)r * ldo, tile + r * GEMM_NR, sizeof(float) * ncols);
        }
        r0 += mr;
    }
}

// 1-3 rows: several panels per kernel call, for enough independent accumulators.
static void gemm_small(float *out, size_t ldo, const void *P, size_t ldp, size_t pstride,
                       const float *x, size_t ldx, int64_t in, int n, int ncols, int half) {
    const int full = ncols / GEMM_NR, np = (ncols + GEMM_NR - 1) / GEMM_NR;
    int p = 0;
    for (const int w = wide_panels[n]; p + w <= full; p += w)
        wide[half][n](out + p * GEMM_NR, ldo, at(P, p * pstride, half), ldp, pstride, x, ldx, in);
    for (; p < np; p++) {
        const int nc = ncols - p * GEMM_NR < GEMM_NR ? ncols - p * GEMM_NR : GEMM_NR;
        panel(out + p * GEMM_NR, ldo, at(P, p * pstride, half), ldp, x, ldx, in, n, nc, half);
    }
}

// Whether n rows split into groups of 5 or 6, every group then keeping 10-12 accumulators.
static int splits_well(int n) {
    return n >= MR - 1 && n >= (MR - 1) * ((n + MR - 1) / MR);
}

int gemm_tail(int n) {
    return splits_well(n) ? 0 : splits_well(n - 3) ? 3 : splits_well(n - 2) ? 2 : 0;
}

static void gemm_any(float *out, size_t ldo, const void *P, size_t ldp, size_t pstride,
                     const float *x, size_t ldx, int64_t in, int n, int ncols, int half) {
    if (n < 1) return;
    if (n <= 3) {
        gemm_small(out, ldo, P, ldp, pstride, x, ldx, in, n, ncols, half);
        return;
    }
    // A 4-row group has 8 accumulators, too few to cover the FMA latency, which balanced groups
    // give for n = 7, 8, 9, 13, 14, 19: there the last 3 rows (n = 7: 2) go two panels at a time
    // and the rest split into groups of 5 and 6.
    const int tail = gemm_tail(n), main = n - tail;
    const int np = (ncols + GEMM_NR - 1) / GEMM_NR;
    for (int p = 0; p < np; p++) {
        const int nc = ncols - p * GEMM_NR < GEMM_NR ? ncols - p * GEMM_NR : GEMM_NR;
        panel(out + p * GEMM_NR, ldo, at(P, p * pstride, half), ldp, x, ldx, in, main, nc, half);
    }
    if (tail)
        gemm_small(out + (size_t)main * ldo, ldo, P, ldp, pstride, x + (size_t)main * ldx, ldx, in,
                   tail, ncols, half);
}

void gemm(float *out, size_t ldo, const float *P, size_t ldp, size_t pstride, const float *x,
          size_t ldx, int64_t in, int n, int ncols) {
    gemm_any(out, ldo, P, ldp, pstride, x, ldx, in, n, ncols, 0);
}

void gemm_f16(float *out, size_t ldo, const uint16_t *P, size_t ldp, size_t pstride, const float *x,
              size_t ldx, int64_t in, int n, int ncols) {
    gemm_any(out, ldo, P, ldp, pstride, x, ldx, in, n, ncols, 1);
}
