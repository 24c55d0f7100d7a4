// qgemm.h - int8 matrix products for quantized weights: out[r][c] = sum over k of W[c][k] x[r][k]
// with the activations x quantized to int8 per block of 32, as llama.cpp does.
//
// Activations (qgemm_quantize): each row's block of 32 inputs x[0..32) becomes
//   a = max |x|,  d = a / 127,  q = round_to_nearest_even(x * (127 / a))
//   S = sum of q (exact),  s = d * S (fp32)
// except: q = 0 where a < QP_TINY (127 / a would overflow: such a block is zero to fp32 anyway),
// and a block with a NaN or an infinity has q = 0, S = 0, d = s = NaN (its outputs turn NaN).
// so x ~ d q with |q| <= 127. (llama.cpp's x86 quantizer rounds the same way; it then stores d and
// s as fp16, which we do not.)
//
// Weights are repacked once at load (qpack.c) into *panels* of 16 output rows: for each block of
// 32 inputs, the 16 rows' quants interleaved so that one 64-byte vector holds 4 consecutive
// inputs of each of the 16 rows, then their scales. Every type starts from its canonical blocks
// (quant.h: w = (d sc_h)(u - z) + m mn_h, h the half of the block), so a new type is a new block
// decoder in quant_blocks.c and a line in qpack.c's table.
//
// Numerics (the same on every instruction set, so results are bit-identical across them): for
// each output, blocks b = 0, 1, ... in order, starting from acc = 0. The legacy types (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0: sc = 1, and m an fp16 offset):
//   I   = sum over k < 32 of u[c][k] q[r][k]  -  z S[r]          exact, in int32
//   acc = fma((float)I, d_w[c] * d_x[r], acc)                     the product rounded to fp32 first
//   acc = fma(m_w[c], s_x[r], acc)                                only types with an offset m
// The K-quants (integer sub-block scales sc_h and mins mn_h, m = -dmin), with D_h, S_h the sums
// over inputs 16 h .. 16 h + 15:
//   I_h = sc_h[c] (D_h - z S_h[r])                                exact, in int32 (|I_h| < 2^24)
//   acc = fma((float)I_0, d_w[c] * d_x[r], acc);  acc = fma((float)I_1, d_w[c] * d_x[r], acc)
//   M   = mn_0[c] S_0[r] + mn_1[c] S_1[r];  acc = fma((float)M, m_w[c] * d_x[r], acc)   (with mins)
// Nothing depends on the batch, the row's place in it or the grouping of rows and panels into
// kernel calls: a chain's logits are bit-identical alone or in any batch.
//
// BF16 weights take the same road with bf16 instead of int8: the panels hold the weights as
// they are (bits = 16, no scales), the activations are rounded to bf16 (nearest even; subnormals
// to zero), and each output is one fp32 chain over input pairs g = 0, 1, ... in order:
//   acc = fma(w[2g+1], x[2g+1], acc);  acc = fma(w[2g], x[2g], acc)       (products exact)
// which is what AVX-512 BF16's vdpbf16ps computes (checked on this CPU), so that instruction is
// used where the CPU has it and the other levels emulate it bit for bit - except that the
// instruction flushes an accumulator that falls below 2^-126 to zero, which the emulation does
// not: results can differ only for sums that pass through that range. F16 and F32 weights keep
// the fp32 path: rounding them to bf16 would drop weight bits the file has.
#pragma once
#include "cpu/isa.h"
#include "cpu/workspace.h"

#include <stddef.h>
#include <stdint.h>

#define QP_COLS  16        // output rows (columns of the product) per panel
#define QP_BLOCK 32        // inputs per block
#define QP_TINY  0x1p-100f // blocks of activations below this magnitude quantize to zero

// ---- weight formats (qpack.c) -------------------------------------------------------------------

typedef struct {
    uint32_t type; // GGML_TYPE_*
    int bits;      // 4: quants stored two a byte (nibbles), 8: one a byte, 16: bf16 weights
    int ubits;     // u < 2^ubits (2 .. 8; bf16 0): Q5_0's 5-bit quants take 8-bit panels (bits)
    int zero;      // z
    int has_min;   // whether m is stored (else m = 0)
    int sub;       // the K-quants: integer scales sc_h (and mins mn_h) per half block are stored
    // Block b of one GGUF row -> its 32 weights as bf16 (bits 16; the others decode through
    // quant.h's qblock_decode).
    void (*decode16)(const void *row, int64_t b, uint16_t w[QP_BLOCK]);
} QFormat;

// The format of a GGUF type, or NULL if it has none (float types: see cpu/matmul.c).
const QFormat *qformat_of(uint32_t type);

// Panel bytes per block: the quants (4-bit: 4 vectors of 64 bytes; 8-bit: 8), then d[16] fp16,
// then m[16] fp16 if the type has an offset; the K-quants then sc[2][16] int8 (half 0's sixteen
// rows, then half 1's), then mn[2][16] u8 if they have mins. In the 4-bit layout, byte 4j + i of
// vector p holds inputs 4p + i (low nibble) and 16 + 4p + i (high nibble) of row j; in the 8-bit
// layout, byte 4j + i of vector g holds input 4g + i of row j. bf16 (16 vectors, no scales): half
// 2j + i of vector g holds input 2g + i of row j.
static inline int qformat_scale_offset(const QFormat *f) { // where d[16] starts
    return QP_COLS * QP_BLOCK * f->bits / 8;
}
static inline int qformat_sub_offset(const QFormat *f) { // where sc[2][16] starts (K-quants)
    return qformat_scale_offset(f) + 2 * QP_COLS * (1 + f->has_min);
}
static inline int qformat_block_bytes(const QFormat *f) {
    return f->bits == 16 ? qformat_scale_offset(f)
                         : qformat_sub_offset(f) + (f->sub ? 2 * QP_COLS * (1 + f->has_min) : 0);
}

// A weight [out, in] repacked into panels: panel p, block b at data + p * panel_bytes +
// b * block_bytes. Rows past `out` in the last panel are zeros.
typedef struct QPacked {
    const QFormat *f;
    int64_t in, out, nb; // nb = in / 32
    int64_t n_panels;    // ceil(out / 16)
    size_t block_bytes, panel_bytes;
    uint8_t *data; // [n_panels][nb][block_bytes], 64-byte aligned
} QPacked;

// Repacks a GGUF weight [out, in] (rows of row_bytes at data) whose type has a format; with
// `release`, its pages of the mapped file are given back afterwards. 0, or -1 (no format, in not
// a multiple of 32, out of memory).
int qpack(QPacked *p, const void *data, uint32_t type, int64_t in, int64_t out, size_t row_bytes,
          int release);
void qpack_free(QPacked *p);

// ---- activations
// ---------------------------------------------------------------------------------

// n rows of `in` inputs quantized per block (see the top of this file).
typedef struct {
    int n;
    int64_t in, nb;
    uint16_t *bf;  // [n, in] the rows rounded to bf16 (for bf16 weights; else unused)
    int8_t *q;     // [n, in]
    float *d;      // [n, nb]
    float *s;      // [n, nb]  d * S
    int32_t *sum;  // [n, nb]  S
    int32_t *hsum; // [n, nb, 2] S_0, S_1: the sums of inputs 0..15 and 16..31 (the K-quants)
} QActs;

// Bytes qacts_carve needs for n rows of `in` inputs (64-byte aligned parts).
size_t qacts_bytes(int n, int64_t in);
// Lays out a QActs for n rows of `in` inputs in buf (qacts_bytes(n, in) bytes, 64-byte aligned).
void qacts_carve(QActs *a, void *buf, int n, int64_t in);

// ---- kernels, one set per instruction-set level (qgemm_kernels.c) -------------------------------

// One call: rows r0 .. r0 + R - 1 of x times NP consecutive panels (panel i at P + i * pstride),
// every block; out[r][16 i + j] for r < R, i < NP, j < 16 (all 16 columns of each panel).
typedef struct {
    float *out;
    size_t ldo;
    const uint8_t *P;
    size_t pstride;
    const QFormat *f;
    const QActs *x;
    int r0, R, NP;
} QTile;

typedef struct QKernels {
    const char *name;
    int max_rows;                 // R <= max_rows
    int max_panels;               // NP <= max_panels
    int panels_for_rows[8];       // the NP a call with R rows should use (index R <= max_rows)
    void (*tile)(const QTile *t); // computes one tile (the numerics above)
    // x[n, in] -> a (rows 0..n-1)
    void (*quantize)(QActs *a, const float *x, int n, int64_t in);
    // Runs `iters` rounds of the level's int8 dot-product instruction on independent accumulators
    // (registers only) and returns the multiply-adds done: the level's peak, for `chorus bench`.
    double (*peak)(long iters);
} QKernels;

// qgemm_kernels_for(level): the kernels of a level, or NULL (cpu/isa.h, which picks the level).

// outs[i] = W_i x for count (<= MATMUL_MANY) packed weights with the same `in`: x [n, in] is
// quantized once (into the workspace's shared buffer), then one parallel region does all.
// 0, or -1 if the workspace could not grow or the `in`s differ.
int qgemm_many(float *const *outs, const QPacked *const *w, int count, const float *x, int n,
               Workspace *ws);
