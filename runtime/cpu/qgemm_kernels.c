// qgemm_kernels.c - the int8 kernels of qgemm.h, written once and compiled once per instruction-set
// level (the Makefile builds this file four times, with -DQGEMM_LEVEL=<CpuIsa> and that level's
// -m flags; cpu/isa.c picks one at run time):
//
//   portable     plain C loops: the numerics of qgemm.h written out, one output at a time
//   avx2         8 lanes; vpmaddubsw (u8 x s8 -> pairs of s16) + vpmaddwd (-> s32) per 4 inputs
//   avxvnni      8 lanes; vpdpbusd (u8 x s8, 4 products summed into s32) per 4 inputs
//   avx512vnni   16 lanes (one panel a vector); vpdpbusd
//
// The SIMD tile (tile_simd) keeps, for R rows x NP panels, an int32 accumulator of the current
// block and an fp32 accumulator per vector of 8 or 16 output columns in registers. Lanes hold
// output columns, so no horizontal sums are needed. Per block and per group of 4 inputs it loads
// one panel vector (4-bit: one load gives two groups, low and high nibbles) and broadcasts 4 quant
// bytes of each row, and every dot product uses both; at the end of the block each accumulator
// becomes (float) I, scaled and added in fp32. All of that is exact or the same fp32 operations
// in the same order as the portable loop, so every level gives bit-identical results.
//
// Exactness of the integer dot products: vpdpbusd sums u8 x s8 products into int32 without
// saturation. vpmaddubsw saturates its s16 pair sums: a pair of quants u <= 2^ubits - 1 (|q| <=
// 127) is at most 3810 for 4-bit quants, 7874 for 5-bit (Q5_0, Q5_1, Q5_K), 16002 for 6-bit
// (Q6_K), so these are multiplied as stored, and several groups' pair sums add up in int16 before
// they are widened (S16_SPAN); full 8-bit quants (Q8_0) are turned into signed ones (u - 128) and
// multiplied as |w| x (q with w's sign), a pair at most 2 * 128 * 127 = 32512 < 32767.
#include "cpu/qgemm.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

// QGEMM_LEVEL is a CpuIsa value as a number (the preprocessor cannot compare enum constants):
// 0 portable, 1 avx2, 2 avxvnni, 3 avx512vnni.
#ifndef QGEMM_LEVEL
#define QGEMM_LEVEL 0
#endif

#if QGEMM_LEVEL == 3 && defined(__AVX512VNNI__) && defined(__AVX512BW__) &&                        \
    defined(__AVX512VL__) && defined(__FMA__) && defined(__F16C__)
#define VL   16
#define VNNI 1
#elif QGEMM_LEVEL == 2 && defined(__AVXVNNI__) && defined(__FMA__) && defined(__F16C__)
#define VL   8
#define VNNI 1
#elif QGEMM_LEVEL == 1 && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define VL   8
#define VNNI 0
#elif QGEMM_LEVEL == 0
#define VL 0
#else
#define QGEMM_NONE // the compiler lacked this level's flags: the build has no kernels for it
#endif

// A block holding a NaN or an infinity (a broken model, or one that overflowed): q = 0 and
// d = s = NaN, so every output that reads it is NaN, as the fp32 path's would be non-finite.
// (Converting NaN or inf to int would give INT_MIN on x86 and be undefined in C.)
static inline void nonfinite_block(QActs *a, int r, int64_t b, int64_t nb, int64_t in) {
    memset(a->q + r * in + b * QP_BLOCK, 0, QP_BLOCK);
    a->d[r * nb + b] = a->s[r * nb + b] = NAN, a->sum[r * nb + b] = 0;
    a->hsum[(r * nb + b) * 2] = a->hsum[(r * nb + b) * 2 + 1] = 0;
}

#if !defined(QGEMM_NONE) && VL > 0
#include <immintrin.h>
#define PV (QP_COLS / VL)     // vectors per panel
#define MR (VL == 16 ? 6 : 3) // rows per call at most: int + fp accumulators fill the registers
#define MP 4                  // panels per call at most
// With few rows a call is bound by reading the panels from memory: each block, the panels' block
// PF_AHEAD further on is prefetched (one streaming read at one chain went from ~19 to ~27 GB/s on
// one core of the 2-core EPYC; 4 to 8 blocks ahead all help).
#define PF_AHEAD 6
#define PF_ROWS  4

static inline int32_t load32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

#if VL == 16
typedef __m512i VI;
typedef __m512 VF;
#define vi_load(p)  _mm512_loadu_si512((const void *)(p))
#define vi_set1     _mm512_set1_epi32
#define vi_and      _mm512_and_si512
#define vi_xor      _mm512_xor_si512
#define vi_srl4(a)  _mm512_srli_epi16(a, 4)
#define vf_zero     _mm512_setzero_ps
#define vf_set1     _mm512_set1_ps
#define vf_cvt      _mm512_cvtepi32_ps
#define vf_mul      _mm512_mul_ps
#define vf_fma      _mm512_fmadd_ps
#define vf_store    _mm512_storeu_ps
#define vf_half(p)  _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define vi_sll16(a) _mm512_slli_epi32(a, 16)
#define vf_cast     _mm512_castsi512_ps
#define vi_mul      _mm512_mullo_epi32
#define vi_add      _mm512_add_epi32
#define vi_s8(p)    _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p)))
#define vi_u8(p)    _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p)))
static inline VI dot_u(VI acc, VI w, VI x) {
    return _mm512_dpbusd_epi32(acc, w, x);
}
#else
typedef __m256i VI;
typedef __m256 VF;
#define vi_load(p)  _mm256_loadu_si256((const __m256i *)(p))
#define vi_set1     _mm256_set1_epi32
#define vi_and      _mm256_and_si256
#define vi_xor      _mm256_xor_si256
#define vi_srl4(a)  _mm256_srli_epi16(a, 4)
#define vf_zero     _mm256_setzero_ps
#define vf_set1     _mm256_set1_ps
#define vf_cvt      _mm256_cvtepi32_ps
#define vf_mul      _mm256_mul_ps
#define vf_fma      _mm256_fmadd_ps
#define vf_store    _mm256_storeu_ps
#define vf_half(p)  _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define vi_sll16(a) _mm256_slli_epi32(a, 16)
#define vf_cast     _mm256_castsi256_ps
#define vi_mul      _mm256_mullo_epi32
#define vi_add      _mm256_add_epi32
#define vi_s8(p)    _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p)))
#define vi_u8(p)    _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p)))
#if VNNI
static inline VI dot_u(VI acc, VI w, VI x) {
    return _mm256_dpbusd_avx_epi32(acc, w, x);
}
#else
// acc += sum of 4 products u8 w x s8 x per lane (pairs in s16 first: no saturation, see the top)
static inline VI dot_u(VI acc, VI w, VI x) {
    const VI pairs = _mm256_maddubs_epi16(w, x);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}
// The same for signed w: |w| times x with w's sign.
static inline VI dot_s(VI acc, VI w, VI x) {
    const VI pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}
// Quants of at most 6 bits: the tiles keep int16 sums of vpmaddubsw's pair sums over S16_SPAN
// groups of 4 inputs (s16_pairs, s16_add) and widen them into the int32 accumulator once per span
// (s16_widen), one vpmaddwd + vpaddd where dot_u spends one per group. Integer sums: exact, in
// any order.
#define S16_SUMS 1
static inline VI s16_pairs(VI w, VI x) {
    return _mm256_maddubs_epi16(w, x);
}
static inline VI s16_add(VI s, VI w, VI x) {
    return _mm256_add_epi16(s, _mm256_maddubs_epi16(w, x));
}
static inline VI s16_widen(VI acc, VI s) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s, _mm256_set1_epi16(1)));
}
#endif
#endif
#ifndef S16_SUMS
#define S16_SUMS 0 // vpdpbusd sums into int32 directly
#endif
// Groups of 4 inputs whose pair sums a lane adds up in int16 for quants u < 2^UB: a pair is at
// most 2 (2^UB - 1) 127, so 32767 / that: 4-bit quants 8 (a whole block), 5-bit 4 (31496), 6-bit
// 2 (32004), 8-bit 0 (they take dot8, into int32 each group). 0 at the vpdpbusd levels.
#define S16_SPAN(UB) (S16_SUMS ? 32767 / (2 * ((1 << (UB)) - 1) * 127) : 0)

// The dot product of an 8-bit operand: with VNNI the unsigned quants as stored; without, the
// signed quants u - 128 (so the zero point the bias corrects for is z - 128).
static inline __attribute__((always_inline)) VI dot8(VI acc, VI w, VI x) {
#if VNNI
    return dot_u(acc, w, x);
#else
    return dot_s(acc, vi_xor(w, vi_set1((int32_t)0x80808080u)), x);
#endif
}

// One tile (see qgemm.h). R, NP, BITS (the panel layout), UB (the quants are below 2^UB) and MIN
// are constants at every call (always inlined), so the loops unroll and the accumulators live in
// registers.
static inline __attribute__((always_inline)) void
tile_simd(const QTile *t, const int R, const int NP, const int BITS, const int UB, const int MIN) {
    const QActs *x = t->x;
    const int64_t nb = x->nb, in = x->in;
    const int qbytes = QP_COLS * QP_BLOCK * BITS / 8, bb = qbytes + 2 * QP_COLS * (1 + MIN);
    const int span = S16_SPAN(UB); // 8-bit panels: groups summed in int16, or 0: dot8
    // the zero point's correction -z S (dot8 without VNNI: the dot already subtracted 128)
    const int32_t z = BITS == 8 && !VNNI && !span ? t->f->zero - 128 : t->f->zero;
    VF acc[MR][MP * PV];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < NP * PV; v++) acc[r][v] = vf_zero();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = t->P + b * bb; // panel i's block: blk + i * pstride
        if (R <= PF_ROWS) // few rows: memory-bound, so fetch PF_AHEAD blocks ahead of the loads
#pragma GCC unroll 4
            for (int p = 0; p < NP; p++)
                for (int o = 0; o < bb; o += 64)
                    _mm_prefetch((const char *)blk + p * t->pstride + PF_AHEAD * bb + o,
                                 _MM_HINT_T0);
        const int8_t *xq[MR];
        VI ia[MR][MP * PV];
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            const int64_t rb = (int64_t)(t->r0 + r) * nb + b;
            xq[r] = x->q + (t->r0 + r) * in + b * QP_BLOCK;
            const VI bias = vi_set1(-z * x->sum[rb]);
#pragma GCC unroll 8
            for (int v = 0; v < NP * PV; v++) ia[r][v] = bias;
        }
        if (BITS == 4) {
#if S16_SUMS
            VI s16[MR][MP * PV]; // the block's int16 pair sums (see s16_add)
#pragma GCC unroll 6
            for (int r = 0; r < R; r++)
#pragma GCC unroll 8
                for (int v = 0; v < NP * PV; v++) s16[r][v] = _mm256_setzero_si256();
#endif
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) { // inputs 4g.. (low nibbles) and 16 + 4g.. (high)
                VI lo[MP * PV], hi[MP * PV];
#pragma GCC unroll 8
                for (int v = 0; v < NP * PV; v++) {
                    const VI w = vi_load(blk + (v / PV) * t->pstride + 64 * g + (v % PV) * 4 * VL);
                    lo[v] = vi_and(w, vi_set1(0x0f0f0f0f));
                    hi[v] = vi_and(vi_srl4(w), vi_set1(0x0f0f0f0f));
                }
#pragma GCC unroll 6
                for (int r = 0; r < R; r++) {
                    const VI x0 = vi_set1(load32(xq[r] + 4 * g));
                    const VI x1 = vi_set1(load32(xq[r] + 16 + 4 * g));
#pragma GCC unroll 8
                    for (int v = 0; v < NP * PV; v++) {
#if S16_SUMS
                        s16[r][v] = s16_add(s16_add(s16[r][v], lo[v], x0), hi[v], x1);
#else
                        ia[r][v] = dot_u(ia[r][v], lo[v], x0);
                        ia[r][v] = dot_u(ia[r][v], hi[v], x1);
#endif
                    }
                }
            }
#if S16_SUMS
#pragma GCC unroll 6
            for (int r = 0; r < R; r++)
#pragma GCC unroll 8
                for (int v = 0; v < NP * PV; v++) ia[r][v] = s16_widen(ia[r][v], s16[r][v]);
#endif
        } else {
#if S16_SUMS
            VI s16[MR][MP * PV]; // the span's int16 pair sums (5-bit quants; see S16_SPAN)
#endif
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) { // inputs 4g .. 4g + 3
                VI w[MP * PV];
#pragma GCC unroll 8
                for (int v = 0; v < NP * PV; v++)
                    w[v] = vi_load(blk + (v / PV) * t->pstride + 64 * g + (v % PV) * 4 * VL);
#pragma GCC unroll 6
                for (int r = 0; r < R; r++) {
                    const VI xv = vi_set1(load32(xq[r] + 4 * g));
#pragma GCC unroll 8
                    for (int v = 0; v < NP * PV; v++) {
#if S16_SUMS
                        if (span) {
                            s16[r][v] =
                                g % span ? s16_add(s16[r][v], w[v], xv) : s16_pairs(w[v], xv);
                            continue;
                        }
#endif
                        ia[r][v] = dot8(ia[r][v], w[v], xv);
                    }
                }
#if S16_SUMS
                if (span && (g % span == span - 1 || g == 7))
#pragma GCC unroll 6
                    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
                        for (int v = 0; v < NP * PV; v++) ia[r][v] = s16_widen(ia[r][v], s16[r][v]);
#endif
            }
        }
        VF dw[MP * PV], mw[MP * PV];
#pragma GCC unroll 8
        for (int v = 0; v < NP * PV; v++) {
            const uint8_t *sc = blk + (v / PV) * t->pstride + qbytes + (v % PV) * 2 * VL;
            dw[v] = vf_half(sc);
            if (MIN) mw[v] = vf_half(sc + 2 * QP_COLS);
        }
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            const int64_t rb = (int64_t)(t->r0 + r) * nb + b;
            const VF dx = vf_set1(x->d[rb]), sx = vf_set1(x->s[rb]);
#pragma GCC unroll 8
            for (int v = 0; v < NP * PV; v++) {
                acc[r][v] = vf_fma(vf_cvt(ia[r][v]), vf_mul(dw[v], dx), acc[r][v]);
                if (MIN) acc[r][v] = vf_fma(mw[v], sx, acc[r][v]);
            }
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < NP * PV; v++) vf_store(t->out + r * t->ldo + v * VL, acc[r][v]);
}

// The K-quants' tile (qgemm.h): per block, each half's integer sum is scaled by its integer
// sub-scale and added in fp32 on its own, then the integer mins. The same loads as tile_simd, half
// by half (the 4-bit layout's low nibbles are half 0, the high ones half 1; the 8-bit layout's
// vectors 0-3 and 4-7), so one int32 accumulator per output suffices.
static inline __attribute__((always_inline)) void tile_sub_simd(const QTile *t, const int R,
                                                                const int NP, const int BITS,
                                                                const int UB, const int MIN) {
    const QActs *x = t->x;
    const int64_t nb = x->nb, in = x->in;
    const int qbytes = QP_COLS * QP_BLOCK * BITS / 8, sbytes = qbytes + 2 * QP_COLS * (1 + MIN);
    const int bb = sbytes + 2 * QP_COLS * (1 + MIN);
    const int span = S16_SPAN(UB); // groups summed in int16, or 0: dot_u / dot8
    const int32_t z = BITS == 8 && !VNNI && !span ? t->f->zero - 128 : t->f->zero;
    VF acc[MR][MP * PV];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < NP * PV; v++) acc[r][v] = vf_zero();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = t->P + b * bb; // panel i's block: blk + i * pstride
        if (R <= PF_ROWS)
#pragma GCC unroll 4
            for (int p = 0; p < NP; p++)
                for (int o = 0; o < bb; o += 64)
                    _mm_prefetch((const char *)blk + p * t->pstride + PF_AHEAD * bb + o,
                                 _MM_HINT_T0);
        const int8_t *xq[MR];
        VF dx[MR];
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            xq[r] = x->q + (t->r0 + r) * in + b * QP_BLOCK;
            dx[r] = vf_set1(x->d[(int64_t)(t->r0 + r) * nb + b]);
        }
        VF dw[MP * PV];
#pragma GCC unroll 8
        for (int v = 0; v < NP * PV; v++)
            dw[v] = vf_half(blk + (v / PV) * t->pstride + qbytes + (v % PV) * 2 * VL);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            VI ia[MR][MP * PV];
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) {
                const VI bias = vi_set1(-z * x->hsum[((int64_t)(t->r0 + r) * nb + b) * 2 + h]);
#pragma GCC unroll 8
                for (int v = 0; v < NP * PV; v++) ia[r][v] = bias;
            }
#if S16_SUMS
            VI s16[MR][MP * PV]; // the span's int16 pair sums (see S16_SPAN)
#endif
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) { // inputs 16 h + 4 g .. 16 h + 4 g + 3
                VI w[MP * PV];
#pragma GCC unroll 8
                for (int v = 0; v < NP * PV; v++) {
                    const int vec = BITS == 4 ? g : 4 * h + g;
                    w[v] = vi_load(blk + (v / PV) * t->pstride + 64 * vec + (v % PV) * 4 * VL);
                    if (BITS == 4) w[v] = vi_and(h ? vi_srl4(w[v]) : w[v], vi_set1(0x0f0f0f0f));
                }
#pragma GCC unroll 6
                for (int r = 0; r < R; r++) {
                    const VI xv = vi_set1(load32(xq[r] + 16 * h + 4 * g));
#pragma GCC unroll 8
                    for (int v = 0; v < NP * PV; v++) {
#if S16_SUMS
                        if (span) {
                            s16[r][v] =
                                g % span ? s16_add(s16[r][v], w[v], xv) : s16_pairs(w[v], xv);
                            continue;
                        }
#endif
                        ia[r][v] = BITS == 4 ? dot_u(ia[r][v], w[v], xv) : dot8(ia[r][v], w[v], xv);
                    }
                }
#if S16_SUMS
                if (span && (g % span == span - 1 || g == 3))
#pragma GCC unroll 6
                    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
                        for (int v = 0; v < NP * PV; v++) ia[r][v] = s16_widen(ia[r][v], s16[r][v]);
#endif
            }
            VI sc[MP * PV];
#pragma GCC unroll 8
            for (int v = 0; v < NP * PV; v++)
                sc[v] = vi_s8(blk + (v / PV) * t->pstride + sbytes + QP_COLS * h + (v % PV) * VL);
#pragma GCC unroll 6
            for (int r = 0; r < R; r++)
#pragma GCC unroll 8
                for (int v = 0; v < NP * PV; v++)
                    acc[r][v] =
                        vf_fma(vf_cvt(vi_mul(ia[r][v], sc[v])), vf_mul(dw[v], dx[r]), acc[r][v]);
        }
        if (MIN) {
            VI mn0[MP * PV], mn1[MP * PV];
            VF mw[MP * PV];
#pragma GCC unroll 8
            for (int v = 0; v < NP * PV; v++) {
                const uint8_t *p = blk + (v / PV) * t->pstride;
                mw[v] = vf_half(p + qbytes + 2 * QP_COLS + (v % PV) * 2 * VL);
                mn0[v] = vi_u8(p + sbytes + 2 * QP_COLS + (v % PV) * VL);
                mn1[v] = vi_u8(p + sbytes + 3 * QP_COLS + (v % PV) * VL);
            }
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) {
                const int32_t *S = x->hsum + ((int64_t)(t->r0 + r) * nb + b) * 2;
                const VI s0 = vi_set1(S[0]), s1 = vi_set1(S[1]);
#pragma GCC unroll 8
                for (int v = 0; v < NP * PV; v++) {
                    const VI M = vi_add(vi_mul(mn0[v], s0), vi_mul(mn1[v], s1));
                    acc[r][v] = vf_fma(vf_cvt(M), vf_mul(mw[v], dx[r]), acc[r][v]);
                }
            }
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < NP * PV; v++) vf_store(t->out + r * t->ldo + v * VL, acc[r][v]);
}

// ---- bf16 weights (qgemm.h) --------------------------------------------------------------------
// A 32-bit lane of a weight vector holds inputs 2g (low half) and 2g + 1 (high half) of one
// column, and the row's pair is broadcast: vdpbf16ps takes them as they are (HW); the emulation
// splits both into fp32 (a bf16 is the top half of an fp32) and does the instruction's two fmas,
// odd input first.
#if VL == 16 && defined(__AVX512BF16__)
#define BF16_HW 1
#else
#define BF16_HW 0
#endif

static inline __attribute__((always_inline)) void tile16_simd(const QTile *t, const int R,
                                                              const int NP, const int HW) {
    const QActs *x = t->x;
    const int64_t in = x->in;
    const VI hi = vi_set1((int32_t)0xffff0000u);
    VF acc[MR][MP * PV];
    const uint16_t *xr[MR];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        xr[r] = x->bf + (t->r0 + r) * in;
#pragma GCC unroll 8
        for (int v = 0; v < NP * PV; v++) acc[r][v] = vf_zero();
    }
    for (int64_t g = 0; g < in / 2; g++) {
        const uint8_t *vec = t->P + g / 16 * 1024 + g % 16 * 64; // block g / 16, vector g % 16
        VI w[MP * PV];
        VF wo[MP * PV], we[MP * PV];
#pragma GCC unroll 8
        for (int v = 0; v < NP * PV; v++) {
            w[v] = vi_load(vec + (v / PV) * t->pstride + (v % PV) * 4 * VL);
            if (!HW) wo[v] = vf_cast(vi_and(w[v], hi)), we[v] = vf_cast(vi_sll16(w[v]));
        }
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            const VI xp = vi_set1(load32(xr[r] + 2 * g));
#if BF16_HW
            if (HW) {
#pragma GCC unroll 8
                for (int v = 0; v < NP * PV; v++)
                    acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)w[v], (__m512bh)xp);
                continue;
            }
#endif
            const VF xo = vf_cast(vi_and(xp, hi)), xe = vf_cast(vi_sll16(xp));
#pragma GCC unroll 8
            for (int v = 0; v < NP * PV; v++)
                acc[r][v] = vf_fma(we[v], xe, vf_fma(wo[v], xo, acc[r][v]));
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < NP * PV; v++) vf_store(t->out + r * t->ldo + v * VL, acc[r][v]);
}

// Whether this CPU runs vdpbf16ps (decided once).
static int bf16_hw(void) {
#if BF16_HW
    static int hw = -1;
    if (hw < 0) hw = cpu_has_avx512bf16();
    return hw;
#else
    return 0;
#endif
}

// The instantiations: per format class (BITS, offset), rows R with NP = 1 or the kernels'
// panels_for_rows[R] (below).

typedef void (*TileFn)(const QTile *);
// The class's BITS: 16 the bf16 tiles (MIN 0 the emulation, MIN 1 the instruction); else the
// bound UB of the quants' bits (u < 2^UB), plus 20 for the K-quants' tiles (sub-scales), with
// UB <= 4 the 4-bit layout and above it the 8-bit one. 4, 8, 24 and 28 take any quants of their
// layout; 5, 25 and 26 (Q5_0 and Q5_1, Q5_K, Q6_K) are the vpmaddubsw level's small quants in
// the 8-bit layout (see S16_SPAN).
#define DEFINE_TILE(R, NP, BITS, MIN)                                                              \
    static void tile_##R##_##NP##_##BITS##_##MIN(const QTile *t) {                                 \
        if (BITS == 16)                                                                            \
            tile16_simd(t, R, NP, MIN &&BF16_HW);                                                  \
        else if (BITS > 16)                                                                        \
            tile_sub_simd(t, R, NP, BITS - 20 <= 4 ? 4 : 8, BITS - 20, MIN);                       \
        else                                                                                       \
            tile_simd(t, R, NP, BITS <= 4 ? 4 : 8, BITS, MIN);                                     \
    }
#define DEFINE_CLASS(BITS, MIN)                                                                    \
    DEFINE_TILE(1, 1, BITS, MIN)                                                                   \
    DEFINE_TILE(2, 1, BITS, MIN)                                                                   \
    DEFINE_TILE(3, 1, BITS, MIN)                                                                   \
    DEFINE_WIDE(BITS, MIN)
#if VL == 16
#define DEFINE_WIDE(BITS, MIN)                                                                     \
    DEFINE_TILE(4, 1, BITS, MIN)                                                                   \
    DEFINE_TILE(5, 1, BITS, MIN)                                                                   \
    DEFINE_TILE(6, 1, BITS, MIN)                                                                   \
    DEFINE_TILE(1, 4, BITS, MIN)                                                                   \
    DEFINE_TILE(2, 4, BITS, MIN)                                                                   \
    DEFINE_TILE(3, 2, BITS, MIN)                                                                   \
    DEFINE_TILE(4, 2, BITS, MIN)                                                                   \
    DEFINE_TILE(5, 2, BITS, MIN)                                                                   \
    DEFINE_TILE(6, 2, BITS, MIN)
#define CLASS_TABLE(BITS, MIN)                                                                     \
    {                                                                                              \
        {NULL, NULL}, {tile_1_1_##BITS##_##MIN, tile_1_4_##BITS##_##MIN},                          \
            {tile_2_1_##BITS##_##MIN, tile_2_4_##BITS##_##MIN},                                    \
            {tile_3_1_##BITS##_##MIN, tile_3_2_##BITS##_##MIN},                                    \
            {tile_4_1_##BITS##_##MIN, tile_4_2_##BITS##_##MIN},                                    \
            {tile_5_1_##BITS##_##MIN, tile_5_2_##BITS##_##MIN}, {                                  \
            tile_6_1_##BITS##_##MIN, tile_6_2_##BITS##_##MIN                                       \
        }                                                                                          \
    }
#else
#define DEFINE_WIDE(BITS, MIN) DEFINE_TILE(1, 2, BITS, MIN)
#define CLASS_TABLE(BITS, MIN)                                                                     \
    {                                                                                              \
        {NULL, NULL}, {tile_1_1_##BITS##_##MIN, tile_1_2_##BITS##_##MIN},                          \
            {tile_2_1_##BITS##_##MIN, tile_2_1_##BITS##_##MIN}, {                                  \
            tile_3_1_##BITS##_##MIN, tile_3_1_##BITS##_##MIN                                       \
        }                                                                                          \
    }
#endif
DEFINE_CLASS(4, 0)
DEFINE_CLASS(4, 1)
DEFINE_CLASS(8, 0)
DEFINE_CLASS(8, 1)
DEFINE_CLASS(16, 0)
DEFINE_CLASS(16, 1)
DEFINE_CLASS(24, 0)
DEFINE_CLASS(24, 1)
DEFINE_CLASS(28, 0)
DEFINE_CLASS(28, 1)
#if S16_SUMS
DEFINE_CLASS(5, 0)
DEFINE_CLASS(5, 1)
DEFINE_CLASS(25, 0)
DEFINE_CLASS(25, 1)
DEFINE_CLASS(26, 0)
DEFINE_CLASS(26, 1)
#endif

// The index of a format's class in tile's table.
static int tile_class(const QFormat *f) {
    const int bits = f->bits == 4 ? 0 : f->bits == 8 ? 1 : 2;
    if (S16_SUMS && f->bits == 8 && f->ubits <= 5) return f->sub ? 6 : 5;
    if (S16_SUMS && f->bits == 8 && f->ubits == 6 && f->sub) return 7;
    return f->sub ? 3 + bits : bits;
}

static void tile(const QTile *t) {
    // [class][offset, or for bf16 the instruction][R][NP == 1 ? 0 : 1]; the classes: bits 4, 8,
    // 16, K-quants 4, 8, and at the vpmaddubsw level the small quants 5, K-quants 5, 6
    static const TileFn fns[][2][MR + 1][2] = {
        {CLASS_TABLE(4, 0), CLASS_TABLE(4, 1)},
        {CLASS_TABLE(8, 0), CLASS_TABLE(8, 1)},
        {CLASS_TABLE(16, 0), CLASS_TABLE(16, 1)},
        {CLASS_TABLE(24, 0), CLASS_TABLE(24, 1)},
        {CLASS_TABLE(28, 0), CLASS_TABLE(28, 1)},
#if S16_SUMS
        {CLASS_TABLE(5, 0), CLASS_TABLE(5, 1)},
        {CLASS_TABLE(25, 0), CLASS_TABLE(25, 1)},
        {CLASS_TABLE(26, 0), CLASS_TABLE(26, 1)}
#endif
    };
    const int cls = tile_class(t->f);
    fns[cls][cls == 2 ? bf16_hw() : t->f->has_min != 0][t->R][t->NP != 1](t);
}

// ---- activation quantization -------------------------------------------------------------------

#if VL == 16
static void quantize(QActs *a, const float *x, int n, int64_t in) {
    const int64_t nb = in / QP_BLOCK;
    for (int r = 0; r < n; r++)
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = x + r * in + b * QP_BLOCK;
            const __m512 x0 = _mm512_loadu_ps(xb), x1 = _mm512_loadu_ps(xb + 16);
            const __m512 a0 = _mm512_abs_ps(x0), a1 = _mm512_abs_ps(x1);
            const __m512 big = _mm512_set1_ps(FLT_MAX); // NaN or infinite: not <= FLT_MAX
            if (_mm512_cmp_ps_mask(a0, big, _CMP_NLE_UQ) |
                _mm512_cmp_ps_mask(a1, big, _CMP_NLE_UQ)) {
                nonfinite_block(a, r, b, nb, in);
                continue;
            }
            const float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
            const float id = amax >= QP_TINY ? 127.0f / amax : 0.0f;
            const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, _mm512_set1_ps(id)));
            const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, _mm512_set1_ps(id)));
            _mm_storeu_si128((__m128i *)(a->q + r * in + b * QP_BLOCK), _mm512_cvtepi32_epi8(q0));
            _mm_storeu_si128((__m128i *)(a->q + r * in + b * QP_BLOCK + 16),
                             _mm512_cvtepi32_epi8(q1));
            const int32_t S0 = _mm512_reduce_add_epi32(q0), S1 = _mm512_reduce_add_epi32(q1);
            const int32_t S = S0 + S1;
            a->hsum[(r * nb + b) * 2] = S0, a->hsum[(r * nb + b) * 2 + 1] = S1;
            const float d = amax / 127.0f;
            a->d[r * nb + b] = d, a->sum[r * nb + b] = S, a->s[r * nb + b] = d * (float)S;
        }
}
#else
static float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

static int32_t hsum8(__m256i s8) {
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    return _mm_cvtsi128_si32(s4);
}

static void quantize(QActs *a, const float *x, int n, int64_t in) {
    const int64_t nb = in / QP_BLOCK;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int r = 0; r < n; r++)
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = x + r * in + b * QP_BLOCK;
            __m256 v[4], m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
            for (int i = 0; i < 4; i++) {
                v[i] = _mm256_loadu_ps(xb + 8 * i);
                const __m256 av = _mm256_andnot_ps(sign, v[i]);
                m = _mm256_max_ps(m, av); // (max_ps may drop a NaN: checked apart)
                bad = _mm256_or_ps(bad, _mm256_cmp_ps(av, _mm256_set1_ps(FLT_MAX), _CMP_NLE_UQ));
            }
            if (_mm256_movemask_ps(bad)) {
                nonfinite_block(a, r, b, nb, in);
                continue;
            }
            const float amax = hmax8(m), id = amax >= QP_TINY ? 127.0f / amax : 0.0f;
            __m256i q[4];
            for (int i = 0; i < 4; i++)
                q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], _mm256_set1_ps(id)));
            // int32 -> int8: the packs interleave 128-bit halves, the permute restores the order
            const __m256i p =
                _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            _mm256_storeu_si256(
                (__m256i *)(a->q + r * in + b * QP_BLOCK),
                _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
            const int32_t S0 = hsum8(_mm256_add_epi32(q[0], q[1]));
            const int32_t S1 = hsum8(_mm256_add_epi32(q[2], q[3])), S = S0 + S1;
            a->hsum[(r * nb + b) * 2] = S0, a->hsum[(r * nb + b) * 2 + 1] = S1;
            const float d = amax / 127.0f;
            a->d[r * nb + b] = d, a->sum[r * nb + b] = S, a->s[r * nb + b] = d * (float)S;
        }
}
#endif

// ---- peak
// ----------------------------------------------------------------------------------------

static double peak(long iters) {
    VI acc[12], w = vi_set1(0x01020304), xv = vi_set1(0x05060708);
    for (int j = 0; j < 12; j++) acc[j] = vi_set1(j);
    for (long i = 0; i < iters; i++) {
        __asm__ volatile("" : "+v"(w)); // opaque: the loop cannot be folded
#pragma GCC unroll 12
        for (int j = 0; j < 12; j++) acc[j] = dot_u(acc[j], w, xv);
    }
    int32_t lanes[VL], sum = 0;
    for (int j = 0; j < 12; j++) {
        memcpy(lanes, &acc[j], sizeof lanes);
        sum += lanes[0];
    }
    return (double)iters * 12 * 4 * VL + (sum == 42 ? 1e-9 : 0);
}

static const QKernels kernels = {
    .name = VL == 16 ? "avx512vnni"
            : VNNI   ? "avxvnni"
                     : "avx2",
    .max_rows = MR,
    .max_panels = MP,
#if VL == 16
    .panels_for_rows = {0, 4, 4, 2, 2, 2, 2},
#else
    .panels_for_rows = {0, 2, 1, 1},
#endif
    .tile = tile,
    .quantize = quantize,
    .peak = peak,
};
#endif // SIMD levels

#if !defined(QGEMM_NONE) && VL == 0
// ---- portable C: the numerics of qgemm.h written out -------------------------------------------
// Per block, the panel's 16 x 32 quants are unpacked once into int16 (so the dot products are
// loops the compiler vectorises) and used for every row of the call.

#define PR 4 // rows per call at most

static float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    // exact fp16 -> fp32 (quant.c's fp16_to_f32, inlined here to keep this file self-contained)
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = h >> 10 & 0x1f, m = h & 0x3ff;
    float f;
    if (e == 0) {
        f = ldexpf((float)m, -24);
        return sign ? -f : f;
    }
    const uint32_t bits = sign | (e == 31 ? 0x7f800000u | m << 13 : (e + 112) << 23 | m << 13);
    memcpy(&f, &bits, 4);
    return f;
}

// A panel block -> u[j][k] (row j, input k), d[j], m[j], and the K-quants' sc[j][h], mn[j][h]
// (layouts in qgemm.h).
static void unpack(const uint8_t *blk, const QFormat *f, int16_t u[QP_COLS][QP_BLOCK],
                   float d[QP_COLS], float m[QP_COLS], int32_t sc[QP_COLS][2],
                   int32_t mn[QP_COLS][2]) {
    const int qbytes = QP_COLS * QP_BLOCK * f->bits / 8;
    if (f->bits == 8) // vector g, byte 4j + i: input 4g + i of row j
        for (int g = 0; g < 8; g++)
            for (int j = 0; j < QP_COLS; j++)
                for (int i = 0; i < 4; i++) u[j][4 * g + i] = blk[64 * g + 4 * j + i];
    else // vector p, byte 4j + i: inputs 4p + i (low nibble) and 16 + 4p + i (high) of row j
        for (int p = 0; p < 4; p++)
            for (int j = 0; j < QP_COLS; j++)
                for (int i = 0; i < 4; i++) {
                    const uint8_t byte = blk[64 * p + 4 * j + i];
                    u[j][4 * p + i] = byte & 15, u[j][16 + 4 * p + i] = byte >> 4;
                }
    for (int j = 0; j < QP_COLS; j++) {
        d[j] = half_at(blk + qbytes + 2 * j);
        m[j] = f->has_min ? half_at(blk + qbytes + 2 * QP_COLS + 2 * j) : 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *sub = blk + qformat_sub_offset(f);
            sc[j][h] = f->sub ? (int8_t)sub[QP_COLS * h + j] : 1;
            mn[j][h] = f->sub && f->has_min ? sub[2 * QP_COLS + QP_COLS * h + j] : 0;
        }
    }
}

static float bf16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// bf16 weights: vdpbf16ps's two fmas per input pair, odd input first (qgemm.h).
static void tile16(const QTile *t) {
    const QActs *x = t->x;
    for (int p = 0; p < t->NP; p++)
        for (int r = 0; r < t->R; r++) {
            const uint8_t *xr = (const uint8_t *)(x->bf + (t->r0 + r) * x->in);
            for (int j = 0; j < QP_COLS; j++) {
                float acc = 0;
                for (int64_t g = 0; g < x->in / 2; g++) {
                    const uint8_t *w = t->P + p * t->pstride + g / 16 * 1024 + g % 16 * 64 + 4 * j;
                    acc = fmaf(bf16_at(w + 2), bf16_at(xr + 4 * g + 2), acc);
                    acc = fmaf(bf16_at(w), bf16_at(xr + 4 * g), acc);
                }
                t->out[r * t->ldo + p * QP_COLS + j] = acc;
            }
        }
}

static void tile(const QTile *t) {
    const QFormat *f = t->f;
    const QActs *x = t->x;
    const int bb = qformat_block_bytes(f);
    if (f->bits == 16) {
        tile16(t);
        return;
    }
    for (int p = 0; p < t->NP; p++) {
        float acc[PR][QP_COLS] = {{0}};
        for (int64_t b = 0; b < x->nb; b++) {
            int16_t u[QP_COLS][QP_BLOCK];
            float dw[QP_COLS], mw[QP_COLS];
            int32_t sc[QP_COLS][2], mn[QP_COLS][2];
            unpack(t->P + p * t->pstride + b * bb, f, u, dw, mw, sc, mn);
            for (int r = 0; r < t->R; r++) {
                const int64_t rb = (int64_t)(t->r0 + r) * x->nb + b;
                const int8_t *xq = x->q + (t->r0 + r) * x->in + b * QP_BLOCK;
                int16_t q[QP_BLOCK];
                for (int k = 0; k < QP_BLOCK; k++) q[k] = xq[k];
                for (int j = 0; f->sub && j < QP_COLS; j++) { // the K-quants
                    for (int h = 0; h < 2; h++) {
                        int32_t I = -f->zero * x->hsum[2 * rb + h];
                        for (int k = 16 * h; k < 16 * h + 16; k++) I += u[j][k] * q[k];
                        acc[r][j] = fmaf((float)(sc[j][h] * I), dw[j] * x->d[rb], acc[r][j]);
                    }
                    const int32_t M = mn[j][0] * x->hsum[2 * rb] + mn[j][1] * x->hsum[2 * rb + 1];
                    if (f->has_min) acc[r][j] = fmaf((float)M, mw[j] * x->d[rb], acc[r][j]);
                }
                for (int j = 0; !f->sub && j < QP_COLS; j++) {
                    int32_t I = -f->zero * x->sum[rb];
                    for (int k = 0; k < QP_BLOCK; k++) I += u[j][k] * q[k];
                    acc[r][j] = fmaf((float)I, dw[j] * x->d[rb], acc[r][j]);
                    if (f->has_min) acc[r][j] = fmaf(mw[j], x->s[rb], acc[r][j]);
                }
            }
        }
        for (int r = 0; r < t->R; r++)
            memcpy(t->out + r * t->ldo + p * QP_COLS, acc[r], sizeof acc[r]);
    }
}

static void quantize(QActs *a, const float *x, int n, int64_t in) {
    const int64_t nb = in / QP_BLOCK;
    for (int r = 0; r < n; r++)
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = x + r * in + b * QP_BLOCK;
            float amax = 0;
            int finite = 1;
            for (int k = 0; k < QP_BLOCK; k++) {
                finite &= fabsf(xb[k]) <= FLT_MAX;
                amax = fabsf(xb[k]) > amax ? fabsf(xb[k]) : amax;
            }
            if (!finite) {
                nonfinite_block(a, r, b, nb, in);
                continue;
            }
            const float id = amax >= QP_TINY ? 127.0f / amax : 0.0f;
            int32_t S = 0, H[2] = {0, 0};
            for (int k = 0; k < QP_BLOCK; k++) {
                const int q = (int)nearbyintf(xb[k] * id); // to nearest, ties to even
                a->q[r * in + b * QP_BLOCK + k] = (int8_t)q;
                S += q, H[k / 16] += q;
            }
            a->hsum[(r * nb + b) * 2] = H[0], a->hsum[(r * nb + b) * 2 + 1] = H[1];
            const float d = amax / 127.0f;
            a->d[r * nb + b] = d, a->sum[r * nb + b] = S, a->s[r * nb + b] = d * (float)S;
        }
}

static double peak(long iters) { // a plain C multiply-add loop, 4 independent chains
    volatile int32_t sink;
    int32_t acc[4] = {0, 1, 2, 3}, w = 3, xv = -5;
    for (long i = 0; i < iters; i++) {
        __asm__ volatile("" : "+r"(w));
        for (int j = 0; j < 4; j++) acc[j] += w * xv;
    }
    sink = acc[0] + acc[1] + acc[2] + acc[3];
    (void)sink;
    return (double)iters * 4;
}

static const QKernels kernels = {
    .name = "portable",
    .max_rows = PR,
    .max_panels = 1,
    .panels_for_rows = {0, 1, 1, 1, 1},
    .tile = tile,
    .quantize = quantize,
    .peak = peak,
};
#endif

#define TABLE_NAME_(l) qgemm_table_##l
#define TABLE_NAME(l)  TABLE_NAME_(l)
#ifdef QGEMM_NONE
const QKernels *const TABLE_NAME(QGEMM_LEVEL) = NULL;
#else
const QKernels *const TABLE_NAME(QGEMM_LEVEL) = &kernels;
#endif
