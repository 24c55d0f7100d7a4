// cpu/matmul.c - out[n, :] = W x[n, :] for n rows at once, with W in its GGUF type.
//
// Weights with panels (w->packed: the quantized types and BF16 under the default numerics) go to
// cpu/qgemm.c, which rounds x to int8 (or bf16). This file is the fp32-activation path: F16 and
// F32 weights, and every type with `--numerics f32` (the reference).
//
// The loop nest (the shape of a BLIS/GotoBLAS micro-kernel, with the weights as the packed side):
//
//   for each panel of 16 output columns (OpenMP threads split the panels):
//     pack    P[k][j] = W[c0 + j][k] dequantized to fp32, every k < in      P: [in, 16] (36-96 KB)
//     gemm    for each group of <= 6 batch rows (cpu/gemm.c):
//               acc[r][j] = sum over k of P[k][j] * x[r][k]          acc: 6 x 2 ymm, in registers
//
// Why this shape: a decode step multiplies every chain's row by the same weights. Each weight is
// dequantized once per step, into the panel, and then used for all n rows; each loaded panel
// vector feeds 6 FMAs and each broadcast x value 2, so the step runs near the core's FMA rate
// (two 8-wide FMAs per cycle) rather than at the rate weights can be dequantized. Lanes hold
// output columns, so no horizontal sums are needed. Packing transposes: a block of 8 weight rows
// is transposed as 32-bit words, so that each k is a shift and a mask away from one vector of 8
// columns (Block8 below). With 1-4 rows there is too little to amortise a panel over, and the
// few-rows kernel uses those vectors at once.
//
// Numerics, and why a chain's logits do not depend on its batch: every output is one fp32 FMA
// chain over k in order,
//   out[r][c] = fma(w[c][in-1], x[r][in-1], ... fma(w[c][1], x[r][1], fma(w[c][0], x[r][0], 0)))
// with w the dequantized weight, computed the same way on every path. Nothing in it depends on
// n or on the row's place in the batch, so one row alone (n = 1) and the same row among 63
// others give bit-identical results (tests/test_gemm.c, tests/test_forward_batch.c).
#include "cpu/gemm.h"
#include "cpu/ops.h"
#include "cpu/qgemm.h"
#include "model/quant.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define NR    GEMM_NR // output columns per panel
#define FEW_G 4       // few-rows kernel: most groups of 8 columns per call (its accumulator array)

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define SIMD 1
#else
#define SIMD 0
#endif

// ---- packing: dequantize 16 weight rows into P[k][16] ------------------------------------------

// Any type, any build: dequantize each row (quant.c) into scratch, then transpose.
// P: [in, 16]; scratch: [16, in]. Rows past `ncols` are packed as zeros.
static void pack_generic(float *P, float *scratch, const Weight *w, int64_t c0, int ncols) {
    const int64_t in = w->in;
    for (int j = 0; j < NR; j++) {
        float *s = scratch + j * in;
        if (j < ncols)
            dequantize_row(w->type, (const char *)w->data + (c0 + j) * w->row_bytes, s, in);
        else
            memset(s, 0, sizeof(float) * in);
    }
    for (int64_t k0 = 0; k0 < in; k0 += QK) // in is a multiple of 32: 32 x 16 tiles stay in L1
        for (int j = 0; j < NR; j++)
            for (int64_t k = k0; k < k0 + QK; k++) P[k * NR + j] = scratch[j * in + k];
}

#if !SIMD
// Q4_0 / Q4_1 without SIMD: straight from the blocks into the panel (no row copy to transpose),
// with quant.c's arithmetic. Returns 0 for other types.
static int pack_q4_portable(float *P, const Weight *w, int64_t c0, int ncols) {
    if (w->type != GGML_TYPE_Q4_0 && w->type != GGML_TYPE_Q4_1) return 0;
    for (int j = 0; j < NR; j++) {
        const char *row = (const char *)w->data + (c0 + j) * w->row_bytes;
        for (int64_t b = 0; b < w->in / QK; b++) {
            float *p = P + b * QK * NR + j;
            if (j >= ncols) {
                for (int i = 0; i < QK; i++) p[i * NR] = 0;
            } else if (w->type == GGML_TYPE_Q4_1) {
                const BlockQ4_1 *q = (const BlockQ4_1 *)row + b;
                const float d = fp16_to_f32(q->d), m = fp16_to_f32(q->m);
                for (int i = 0; i < QK / 2; i++) {
                    p[i * NR] = d * (q->qs[i] & 0x0f) + m;
                    p[(i + QK / 2) * NR] = d * (q->qs[i] >> 4) + m;
                }
            } else {
                const BlockQ4_0 *q = (const BlockQ4_0 *)row + b;
                const float d = fp16_to_f32(q->d);
                for (int i = 0; i < QK / 2; i++) {
                    p[i * NR] = d * ((q->qs[i] & 0x0f) - 8);
                    p[(i + QK / 2) * NR] = d * ((q->qs[i] >> 4) - 8);
                }
            }
        }
    }
    return 1;
}
#endif

#if SIMD
// One block (32 k) of 8 consecutive weight rows, arranged so that each k gives a vector of the 8
// rows' weights: the unit both the packing and the few-rows kernel below work in. The quants are
// transposed as 32-bit words, q[p] lane j = bytes 4p..4p+3 of row j, so element k is one shift
// and one mask away in every lane (no byte shuffles, no per-element zero-extension):
//   Q4_0 / Q4_1: byte i of qs holds element i (low nibble) and i + 16 (high nibble);
//                w = d * q + m (one fma), Q4_0 being d * (q - 8) = d * q + (-8 d).
//   Q8_0:        w = d * q, q a signed byte, loaded one half (16 elements) at a time.
typedef struct {
    __m256i q[4]; // q[p], lane j: bytes 4p .. 4p + 3 of row j's 16 quant bytes (this half)
    __m256 d, m;  // the rows' scales and (Q4) offsets
} Block8;

// 8 rows x 4 words (16 bytes at p, p + rb, ...) -> 4 vectors of 8 words: rows j and j + 4 share
// a register (low and high half), then a 4 x 4 transpose of 32-bit words in each half puts row j
// in lane j.
static inline __attribute__((always_inline)) void transpose_8x4(const char *p, size_t rb,
                                                                __m256i q[4]) {
    __m256i r[4], t[4];
    for (int j = 0; j < 4; j++)
        r[j] = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p + j * rb))),
            _mm_loadu_si128((const __m128i *)(p + (j + 4) * rb)), 1);
    t[0] = _mm256_unpacklo_epi32(r[0], r[1]); // words 0, 1 of rows 0, 1 (and 4, 5)
    t[1] = _mm256_unpackhi_epi32(r[0], r[1]); // words 2, 3
    t[2] = _mm256_unpacklo_epi32(r[2], r[3]);
    t[3] = _mm256_unpackhi_epi32(r[2], r[3]);
    q[0] = _mm256_unpacklo_epi64(t[0], t[2]);
    q[1] = _mm256_unpackhi_epi64(t[0], t[2]);
    q[2] = _mm256_unpacklo_epi64(t[1], t[3]);
    q[3] = _mm256_unpackhi_epi64(t[1], t[3]);
}

// The first two half floats at p, p + rb, ... (Q4_1: d and m; the other types: d and whatever
// follows) -> the 8 rows' d and m as 8 floats each.
static inline __attribute__((always_inline)) void halves8(const char *p, size_t rb, __m256 *d,
                                                          __m256 *m) {
    int32_t dm[8];
    for (int j = 0; j < 8; j++) memcpy(&dm[j], p + j * rb, 4);
    // lane j: d_j | m_j << 16 (built in registers: a store then a wide reload would stall)
    __m256i v = _mm256_setr_epi32(dm[0], dm[1], dm[2], dm[3], dm[4], dm[5], dm[6], dm[7]);
    // in each half: the 4 d's, then the 4 m's; then the halves' d's together, the m's together
    const __m256i sel = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1,
                                         4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    v = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(v, sel), 0xd8); // qwords 0, 2, 1, 3
    *d = _mm256_cvtph_ps(_mm256_castsi256_si128(v));
    *m = _mm256_cvtph_ps(_mm256_extracti128_si256(v, 1));
}

static inline __attribute__((always_inline)) void
block8_load(Block8 *B, const char *row0, size_t row_bytes, uint32_t type, int64_t b, int half) {
    const size_t size = type == GGML_TYPE_Q8_0   ? sizeof(BlockQ8_0)
                        : type == GGML_TYPE_Q4_1 ? sizeof(BlockQ4_1)
                                                 : sizeof(BlockQ4_0);
    const size_t quants = type == GGML_TYPE_Q8_0   ? offsetof(BlockQ8_0, q) + 16 * half
                          : type == GGML_TYPE_Q4_1 ? offsetof(BlockQ4_1, qs)
                                                   : offsetof(BlockQ4_0, qs);
    const char *block = row0 + b * size; // block b of row 0; row j's is row_bytes * j further
    transpose_8x4(block + quants, row_bytes, B->q);
    halves8(block, row_bytes, &B->d, &B->m);
    if (type != GGML_TYPE_Q4_1) B->m = _mm256_mul_ps(_mm256_set1_ps(-8.0f), B->d);
}

// The 8 rows' weights at element k of the block (Q8_0: element k of the loaded half, k < 16).
// k is a constant in every (unrolled) caller, so the shift counts fold.
static inline __attribute__((always_inline)) __m256 block8_weight(const Block8 *B, uint32_t type,
                                                                  int k) {
    if (type == GGML_TYPE_Q8_0) { // byte k % 4 of word k / 4, sign-extended
        const int i = k % 4;
        __m256i v = B->q[k / 4];
        if (i < 3) v = _mm256_slli_epi32(v, 24 - 8 * i);
        return _mm256_mul_ps(B->d, _mm256_cvtepi32_ps(_mm256_srai_epi32(v, 24)));
    }
    const int kk = k % 16, shift = 8 * (kk % 4) + 4 * (k / 16); // nibble of byte kk % 4
    __m256i v = B->q[kk / 4];
    if (shift) v = _mm256_srli_epi32(v, shift);
    if (shift < 28) v = _mm256_and_si256(v, _mm256_set1_epi32(15));
    return _mm256_fmadd_ps(B->d, _mm256_cvtepi32_ps(v), B->m);
}

// Block b of 8 consecutive weight rows into P[k][0..8), k = 0..31, P's rows NR floats apart.
// Inlined per type (a constant), so that every branch on it folds away.
static inline __attribute__((always_inline)) void
pack8_typed(float *P, const char *row0, size_t row_bytes, int64_t b, const uint32_t type) {
    Block8 B;
    const int halves = type == GGML_TYPE_Q8_0 ? 2 : 1, per = QK / halves;
    for (int h = 0; h < halves; h++) {
        block8_load(&B, row0, row_bytes, type, b, h);
#pragma GCC unroll 32
        for (int k = 0; k < per; k++)
            _mm256_storeu_ps(P + (h * per + k) * NR, block8_weight(&B, type, k));
    }
}

static void pack8_block(float *P, const char *row0, size_t row_bytes, uint32_t type, int64_t b) {
    switch (type) {
    case GGML_TYPE_Q4_0: pack8_typed(P, row0, row_bytes, b, GGML_TYPE_Q4_0); return;
    case GGML_TYPE_Q4_1: pack8_typed(P, row0, row_bytes, b, GGML_TYPE_Q4_1); return;
    default: pack8_typed(P, row0, row_bytes, b, GGML_TYPE_Q8_0); return;
    }
}
#endif

#if SIMD
// A region of the matrix (consecutive rows) is one contiguous run of memory that the kernels read
// as 8-16 strided streams, which the hardware prefetcher follows badly. So while block b of a
// region is worked on, slice b (of nb) of the `bytes` bytes from offset `next` is prefetched.
static inline void prefetch_slice(const Weight *w, size_t next, size_t bytes, int64_t b,
                                  int64_t nb) {
    const size_t slice = (bytes / nb + 63) & ~(size_t)63, end = w->out * w->row_bytes;
    for (size_t o = next + b * slice; o < next + (b + 1) * slice && o < end; o += 64)
        _mm_prefetch((const char *)w->data + o, _MM_HINT_T0);
}
#endif

// P[k][j] = dequantized W[c0 + j][k]: [in, 16]. Full panels of the block types take the
// transposing SIMD path; everything else dequantizes row by row and transposes.
static void pack_panel(float *P, float *scratch, const Weight *w, int64_t c0, int ncols) {
#if SIMD
    const uint32_t t = w->type;
    if (ncols == NR && (t == GGML_TYPE_Q4_0 || t == GGML_TYPE_Q4_1 || t == GGML_TYPE_Q8_0)) {
        const char *row0 = (const char *)w->data + c0 * w->row_bytes;
        const int64_t nb = w->in / QK;
        for (int64_t b = 0; b < nb; b++) {
            prefetch_slice(w, (c0 + NR) * w->row_bytes, NR * w->row_bytes, b, nb);
            for (int g = 0; g < NR; g += 8)
                pack8_block(P + b * QK * NR + g, row0 + g * w->row_bytes, w->row_bytes, t, b);
        }
        return;
    }
#else
    if (pack_q4_portable(P, w, c0, ncols)) return;
#endif
    pack_generic(P, scratch, w, c0, ncols);
}

#if SIMD
// ---- few rows (n <= 4) ------------------------------------------------------------------------
// With one to four rows there is too little to amortise a packed panel over: each weight vector
// is dequantized in registers and used at once, which saves its store and reload. The arithmetic
// is the packed path's exactly (same dequantization, one FMA chain per output over k in order),
// so a row's result does not change when the batch shrinks to it. Several groups of 8 columns are
// interleaved element by element (few_groups), giving that many x n independent FMA chains: one
// chain alone would wait 4 cycles (the FMA latency) per element. Each group keeps its Block8, so
// more groups spill; the counts are the fastest measured (one row: 4 groups; 2-4 rows: 2).
#define FEW_R 4 // few-rows kernel: most rows
static const int few_groups[FEW_R + 1] = {0, 4, 2, 2, 2};

static inline __attribute__((always_inline)) void few_typed(float *out, size_t ldo, const Weight *w,
                                                            int64_t c0, const float *x, const int R,
                                                            const int G, const uint32_t type) {
    __m256 acc[FEW_R][FEW_G]; // registers: every loop over r and g below unrolls fully
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) acc[r][g] = _mm256_setzero_ps();
    const size_t rb = w->row_bytes;
    const char *row0 = (const char *)w->data + c0 * rb;
    const int64_t nb = w->in / QK;
    const int halves = type == GGML_TYPE_Q8_0 ? 2 : 1, per = QK / halves;
    for (int64_t b = 0; b < nb; b++) {
        prefetch_slice(w, (c0 + 8 * G) * rb, 8 * G * rb, b, nb);
#pragma GCC unroll 2
        for (int h = 0; h < halves; h++) {
            Block8 B[FEW_G];
#pragma GCC unroll 4
            for (int g = 0; g < G; g++) block8_load(&B[g], row0 + 8 * g * rb, rb, type, b, h);
            const float *xk[FEW_R]; // each row's elements of this block (half)
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) xk[r] = x + r * w->in + b * QK + h * per;
#pragma GCC unroll 32
            for (int k = 0; k < per; k++) {
                __m256 xv[FEW_R];
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) xv[r] = _mm256_broadcast_ss(xk[r] + k);
#pragma GCC unroll 4
                for (int g = 0; g < G; g++) {
                    const __m256 wv = block8_weight(&B[g], type, k);
#pragma GCC unroll 4
                    for (int r = 0; r < R; r++) acc[r][g] = _mm256_fmadd_ps(wv, xv[r], acc[r][g]);
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) _mm256_storeu_ps(out + r * ldo + 8 * g, acc[r][g]);
}

typedef void (*Few)(float *, size_t, const Weight *, int64_t, const float *);
#define DEFINE_FEW(T, R, G, NAME)                                                                  \
    static void few_##T##_##R##_##NAME(float *o, size_t ldo, const Weight *w, int64_t c0,          \
                                       const float *x) {                                           \
        few_typed(o, ldo, w, c0, x, R, G, GGML_TYPE_##T);                                          \
    }
#define DEFINE_FEW_R(T, R) DEFINE_FEW(T, R, 1, 1) DEFINE_FEW(T, R, few_groups[R], G)
#define DEFINE_FEW_TYPE(T)                                                                         \
    DEFINE_FEW_R(T, 1)                                                                             \
    DEFINE_FEW_R(T, 2)                                                                             \
    DEFINE_FEW_R(T, 3)                                                                             \
    DEFINE_FEW_R(T, 4)
DEFINE_FEW_TYPE(Q4_0)
DEFINE_FEW_TYPE(Q4_1)
DEFINE_FEW_TYPE(Q8_0)
#define FEW_PAIR(T, R)                                                                             \
    { few_##T##_##R##_1, few_##T##_##R##_G }
#define FEW_ROW(T)                                                                                 \
    { {NULL, NULL}, FEW_PAIR(T, 1), FEW_PAIR(T, 2), FEW_PAIR(T, 3), FEW_PAIR(T, 4) }

// The kernel for n rows (1..FEW_R) and G column groups (1 or few_groups[n]); NULL if the type has
// none.
static Few few_kernel(uint32_t type, int n, int G) {
    static const Few table[3][FEW_R + 1][2] = {FEW_ROW(Q4_0), FEW_ROW(Q4_1), FEW_ROW(Q8_0)};
    const int t = type == GGML_TYPE_Q4_0   ? 0
                  : type == GGML_TYPE_Q4_1 ? 1
                  : type == GGML_TYPE_Q8_0 ? 2
                                           : -1;
    return t < 0 || n < 1 || n > FEW_R ? NULL : table[t][n][G != 1];
}

// Columns [c0, c0 + ncols) for n <= FEW_R rows: few_groups[n] groups per call while whole, then
// single groups, then a last partial group (out not a multiple of 8) through a packed panel.
static void few_rows(float *out, const float *x, const Weight *w, int n, int64_t c0, int ncols,
                     float *P, float *scratch) {
    int c = 0;
    const int G = few_groups[n];
    for (Few k = few_kernel(w->type, n, G); c + 8 * G <= ncols; c += 8 * G)
        k(out + c0 + c, w->out, w, c0 + c, x);
    for (Few k = few_kernel(w->type, n, 1); c + 8 <= ncols; c += 8)
        k(out + c0 + c, w->out, w, c0 + c, x);
    if (c < ncols) {
        pack_panel(P, scratch, w, c0 + c, ncols - c);
        gemm(out + c0 + c, w->out, P, NR, 0, x, w->in, w->in, n, ncols - c);
    }
}
#endif

// 4 packed panels (few rows, non-block types) plus the [16, in] rows of generic packing.
size_t matmul_scratch(int64_t in) {
    return (size_t)(4 + 1) * NR * in;
}

// Whether the few-rows kernel serves this weight and row count.
static int use_few(const Weight *w, int n) {
#if SIMD
    return n <= FEW_R && few_kernel(w->type, n, 1) != NULL;
#else
    return 0;
#endif
}

// Columns per work unit: with few rows and a block type, FEW_G groups of 8 for the few-rows
// kernel; with 1-3 rows otherwise, 4 panels (gemm then wants several panels per kernel call, for
// enough independent FMA chains); else one panel, reused by all row groups, or two where gemm
// takes its last rows two panels at a time (one is better for balance between threads).
static int64_t unit_cols(const Weight *w, int n) {
    return use_few(w, n) ? 8 * FEW_G : n <= 3 ? 4 * NR : gemm_tail(n) ? 2 * NR : NR;
}

// Columns [c0, c0 + ncols) of out = W x.
static void matmul_unit(float *out, const float *x, const Weight *w, int n, int64_t c0, int ncols,
                        float *P, float *scratch) {
#if SIMD
    if (use_few(w, n)) {
        few_rows(out, x, w, n, c0, ncols, P, scratch);
        return;
    }
#endif
    for (int p = 0; p * NR < ncols; p++)
        pack_panel(P + p * NR * w->in, scratch, w, c0 + p * NR,
                   ncols - p * NR < NR ? ncols - p * NR : NR);
    gemm(out + c0, w->out, P, NR, NR * w->in, x, w->in, w->in, n, ncols);
}

// The fp32-activation path (the reference numerics) for weights that have no int8 panels.
static int matmul_f32_many(float *const *outs, const Weight *const *weights, int count,
                           const float *x, int n, Workspace *ws) {
    int64_t first[MATMUL_MANY + 1] = {0}, in = 0; // first[i]: weight i's first work unit
    for (int i = 0; i < count; i++) {
        const int64_t unit = unit_cols(weights[i], n);
        first[i + 1] = first[i] + (weights[i]->out + unit - 1) / unit;
        if (weights[i]->in > in) in = weights[i]->in;
    }
    int failed = 0;
#pragma omp parallel num_threads(ws->n) reduction(| : failed)
    {
        float *P = ws_get(ws, matmul_scratch(in));           // [4][in, 16] packed panels
        float *scratch = P ? P + (size_t)4 * NR * in : NULL; // [16, in] generic packing
        failed = P == NULL;
        // guided: contiguous runs of units (the next unit's memory is what the kernels
        // prefetch), shrinking towards the end so that threads running at different speeds
        // finish together
#pragma omp for schedule(guided)
        for (int64_t u = 0; u < first[count]; u++) {
            if (failed) continue;
            int i = 0;
            while (u >= first[i + 1]) i++;
            const Weight *w = weights[i];
            const int64_t unit = unit_cols(w, n), c0 = (u - first[i]) * unit;
            const int ncols = w->out - c0 < unit ? (int)(w->out - c0) : (int)unit;
            matmul_unit(outs[i], x, w, n, c0, ncols, P, scratch);
        }
    }
    return failed ? -1 : 0;
}

// Weights with int8 panels (w->packed) go through qgemm (int8 activations), the others through
// the fp32 path above.
int matmul_many(float *const *outs, const Weight *const *weights, int count, const float *x, int n,
                Workspace *ws) {
    if (count < 1 || count > MATMUL_MANY) return -1;
    const QPacked *qw[MATMUL_MANY];
    const Weight *fw[MATMUL_MANY];
    float *qo[MATMUL_MANY], *fo[MATMUL_MANY];
    int nq = 0, nf = 0;
    for (int i = 0; i < count; i++) {
        if (weights[i]->packed)
            qw[nq] = weights[i]->packed, qo[nq++] = outs[i];
        else
            fw[nf] = weights[i], fo[nf++] = outs[i];
    }
    if (nq && qgemm_many(qo, qw, nq, x, n, ws)) return -1;
    return nf ? matmul_f32_many(fo, fw, nf, x, n, ws) : 0;
}

int matmul(float *out, const float *x, const Weight *w, int n, Workspace *ws) {
    return matmul_many(&out, &w, 1, x, n, ws);
}
