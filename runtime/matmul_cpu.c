// matmul_cpu.c - out[n, :] = W x[n, :] for n rows at once, with W in its GGUF type.
//
// Why this shape: in a decode step every chain multiplies its row by the same weights, and on
// the CPU the cost is streaming the weights from memory, not the arithmetic. So each weight
// block is dequantized once into 32 floats in registers/L1 and then used for ALL n rows before
// the next block is touched: the weight stream is read once per step whatever n is.
//
// Threads split the output rows (OpenMP); each output row's dot products accumulate in 8 fp32
// lanes per batch row (vectorizable without -ffast-math: lanes are independent), reduced at the
// end.
#include "ops.h"
#include "quant.h"

#include <stdlib.h>
#include <string.h>

#define LANES 8
#define ROW_TILE 4  // output rows per inner iteration: each x chunk loaded is reused 4 times

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define SIMD 1
static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

// 16 packed nibbles -> w[0..16) = low nibbles, w[16..32) = high nibbles, as d * q + m.
static inline void nibbles_to_f32(const uint8_t *qs, float d, float m, float *w) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)qs);
    const __m128i mask = _mm_set1_epi8(15);
    const __m128i lo = _mm_and_si128(bytes, mask), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) {
        __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[k]));
        _mm256_storeu_ps(w + 8 * k, _mm256_fmadd_ps(vd, q, vm));
    }
}
#else
#define SIMD 0
static inline float h2f(uint16_t h) { return fp16_to_f32(h); }
static inline void nibbles_to_f32(const uint8_t *qs, float d, float m, float *w) {
    for (int j = 0; j < QK / 2; j++) {
        w[j] = d * (qs[j] & 15) + m;
        w[j + 16] = d * (qs[j] >> 4) + m;
    }
}
#endif

// Dequantizes block `b` of a row into w[32] (types with 32-element blocks).
static inline void block_dequant(uint32_t type, const char *row, int64_t b, float *w) {
    switch (type) {
    case GGML_TYPE_Q8_0: {
        const BlockQ8_0 *q = (const BlockQ8_0 *)row + b;
        float d = h2f(q->d);
        for (int j = 0; j < QK; j++) w[j] = d * q->q[j];
        return;
    }
    case GGML_TYPE_Q4_0: {
        const BlockQ4_0 *q = (const BlockQ4_0 *)row + b;
        float d = h2f(q->d);
        nibbles_to_f32(q->qs, d, -8.0f * d, w); // d * (q - 8) = d * q - 8d
        return;
    }
    case GGML_TYPE_Q4_1: {
        const BlockQ4_1 *q = (const BlockQ4_1 *)row + b;
        nibbles_to_f32(q->qs, h2f(q->d), h2f(q->m), w);
        return;
    }
    default: // F32 / F16 / BF16: 32 consecutive elements
        dequantize_row(type, row + (size_t)b * QK * ggml_type_block_bytes(type), w, QK);
    }
}

// Dequantizes a whole row of `in` weights into w (fp32).
static void row_dequant(const Weight *w, int64_t r, float *out) {
    const char *row = (const char *)w->data + r * w->row_bytes;
    for (int64_t b = 0; b < w->in / QK; b++) block_dequant(w->type, row, b, out + b * QK);
}

static inline float hsum8(const float *a) {
    float s = 0;
    for (int l = 0; l < LANES; l++) s += a[l];
    return s;
}

#if SIMD
static inline float hsum256(__m256 v) {
    float s[LANES];
    _mm256_storeu_ps(s, v);
    return hsum8(s);
}

// The micro-kernel: NB batch rows (1..3) against the ROW_TILE weight rows, 4 x NB accumulators
// in registers, so every loaded x chunk feeds 4 FMAs and every weight chunk NB.
#define MICRO(NB)                                                                                  \
    static void micro_##NB(float *out, size_t ld, const float *wt, int64_t in, const float *x) { \
        __m256 a[ROW_TILE][NB];                                                                    \
        for (int t = 0; t < ROW_TILE; t++)                                                         \
            for (int j = 0; j < NB; j++) a[t][j] = _mm256_setzero_ps();                            \
        for (int64_t k = 0; k < in; k += LANES) {                                                  \
            __m256 v[NB];                                                                          \
            for (int j = 0; j < NB; j++) v[j] = _mm256_loadu_ps(x + j * in + k);                   \
            for (int t = 0; t < ROW_TILE; t++) {                                                   \
                __m256 w = _mm256_loadu_ps(wt + t * in + k);                                       \
                for (int j = 0; j < NB; j++) a[t][j] = _mm256_fmadd_ps(w, v[j], a[t][j]);          \
            }                                                                                      \
        }                                                                                          \
        for (int t = 0; t < ROW_TILE; t++)                                                         \
            for (int j = 0; j < NB; j++) out[(size_t)j * ld + t] = hsum256(a[t][j]);               \
    }
MICRO(1)
MICRO(2)
MICRO(3)
#endif

// out[i*ld + t] = dot(wt[t], x[i]) for t < ROW_TILE, i < n: the dequantized weight rows stay in
// L1 while every batch row passes over them, three batch rows at a time.
static void tile_dots(float *out, size_t ld, const float *wt, int64_t in, const float *x, int n) {
#if SIMD
    int i = 0;
    for (; i + 3 <= n; i += 3) micro_3(out + (size_t)i * ld, ld, wt, in, x + (size_t)i * in);
    if (n - i == 2) micro_2(out + (size_t)i * ld, ld, wt, in, x + (size_t)i * in);
    if (n - i == 1) micro_1(out + (size_t)i * ld, ld, wt, in, x + (size_t)i * in);
#else
    for (int i = 0; i < n; i++)
        for (int t = 0; t < ROW_TILE; t++) {
            float a[LANES] = {0};
            for (int64_t k = 0; k < in; k += LANES)
                for (int l = 0; l < LANES; l++) a[l] += wt[t * in + k + l] * x[(size_t)i * in + k + l];
            out[(size_t)i * ld + t] = hsum8(a);
        }
#endif
}

#if SIMD
// acc += w * x over one block whose weights are the 32 nibbles of qs (low nibbles = elements
// 0..15, high = 16..31) dequantized as d * q + m in registers.
static inline __m256 nibble_fma(const uint8_t *qs, float d, float m, const float *x, __m256 acc) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)qs), mask = _mm_set1_epi8(15);
    const __m128i lo = _mm_and_si128(bytes, mask), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    for (int k = 0; k < 4; k++) {
        __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[k]));
        acc = _mm256_fmadd_ps(_mm256_fmadd_ps(vd, q, vm), _mm256_loadu_ps(x + 8 * k), acc);
    }
    return acc;
}

// One batch row (a single chain's decode step): nothing to amortize a dequantized copy over,
// so each block is dequantized in registers and used at once. The arithmetic is exactly the
// tiled path's (same dequantization, same lanes, same order), so a chain's logits are
// bit-identical whether it runs alone or in a batch. Returns 0 if the type has no fused path.
static int matmul_row1(float *out, const float *x, const Weight *w) {
    if (w->type != GGML_TYPE_Q4_1 && w->type != GGML_TYPE_Q4_0 && w->type != GGML_TYPE_Q8_0)
        return 0;
    const int64_t nb = w->in / QK;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < w->out; r++) {
        const char *row = (const char *)w->data + r * w->row_bytes;
        __m256 acc = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = x + b * QK;
            if (w->type == GGML_TYPE_Q4_1) {
                const BlockQ4_1 *q = (const BlockQ4_1 *)row + b;
                acc = nibble_fma(q->qs, h2f(q->d), h2f(q->m), xb, acc);
            } else if (w->type == GGML_TYPE_Q4_0) {
                const BlockQ4_0 *q = (const BlockQ4_0 *)row + b;
                float d = h2f(q->d);
                acc = nibble_fma(q->qs, d, -8.0f * d, xb, acc);
            } else {
                const BlockQ8_0 *q = (const BlockQ8_0 *)row + b;
                const __m256 vd = _mm256_set1_ps(h2f(q->d));
                for (int k = 0; k < QK; k += 8) {
                    __m256 qf = _mm256_cvtepi32_ps(
                        _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q->q + k))));
                    acc = _mm256_fmadd_ps(_mm256_mul_ps(vd, qf), _mm256_loadu_ps(xb + k), acc);
                }
            }
        }
        out[r] = hsum256(acc);
    }
    return 1;
}
#endif

void matmul(float *out, const float *x, const Weight *w, int n) {
#if SIMD
    if (n == 1 && matmul_row1(out, x, w)) return;
#endif
    // Rows are whole 32-element blocks (checked at load). Output rows are split into tiles of
    // ROW_TILE; a tile's weights are dequantized once and used for all n batch rows.
    const int64_t n_tiles = (w->out + ROW_TILE - 1) / ROW_TILE;
#pragma omp parallel
    {
        float *wt = malloc(sizeof(float) * ROW_TILE * w->in); // [ROW_TILE, in]
        float *tmp = malloc(sizeof(float) * ROW_TILE * (size_t)n); // ragged last tile
#pragma omp for schedule(static)
        for (int64_t tile = 0; tile < n_tiles; tile++) {
            int64_t r0 = tile * ROW_TILE;
            int nr = w->out - r0 < ROW_TILE ? (int)(w->out - r0) : ROW_TILE;
            for (int t = 0; t < ROW_TILE; t++) {
                if (t < nr) row_dequant(w, r0 + t, wt + t * w->in);
                else memset(wt + t * w->in, 0, sizeof(float) * w->in);
            }
            if (nr == ROW_TILE) {
                tile_dots(out + r0, w->out, wt, w->in, x, n);
            } else {
                tile_dots(tmp, ROW_TILE, wt, w->in, x, n);
                for (int i = 0; i < n; i++)
                    for (int t = 0; t < nr; t++) out[(size_t)i * w->out + r0 + t] = tmp[i * ROW_TILE + t];
            }
        }
        free(wt);
        free(tmp);
    }
}
