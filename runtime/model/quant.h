// quant.h - ggml tensor types: block layouts, sizes, dequantization, half-float conversion.
//
// The legacy quantized types store weights in blocks of 32 along the innermost dimension:
//   Q8_0  { f16 d; int8 q[32]; }          w = d * q
//   Q4_0  { f16 d; u8 qs[16]; }           w = d * (q - 8), q = low nibble for j < 16, high for j >=
//   16 Q4_1  { f16 d; f16 m; u8 qs[16]; }    w = d * q + m,   same nibble order as Q4_0 Q5_0  { f16
//   d; u8 qh[4]; u8 qs[16]; } w = d * (q - 16), q = nibble as Q4_0 | bit j of qh << 4 Q5_1  { f16
//   d; f16 m; u8 qh[4]; u8 qs[16]; }   w = d * q + m, q as Q5_0
// The K-quants, super-blocks of 256 (quant_blocks.c has their layouts):
//   Q2_K, Q3_K, Q6_K  16 sub-blocks of 16 with integer scales (and Q2_K integer mins)
//   Q4_K, Q5_K        8 sub-blocks of 32 with 6-bit integer scales and mins
// F32, F16 and BF16 are "blocks" of one element.
//
// Every quantized type decodes, 32 weights at a time, into one canonical form (QBlock32): both
// the fp32 reference path (dequantize_row) and the int8 panels (qpack.c) start from it, so a
// block layout is written down once.
#pragma once
#include <stddef.h>
#include <stdint.h>

enum {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_BF16 = 30,
};

#define QK   32  // weights per legacy quantized block, and per canonical block (QBlock32)
#define QK_K 256 // weights per K-quant super-block

typedef struct {
    uint16_t d;
    int8_t q[QK];
} BlockQ8_0; // 34 bytes
typedef struct {
    uint16_t d;
    uint8_t qs[QK / 2];
} BlockQ4_0; // 18 bytes
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[QK / 2];
} BlockQ4_1; // 20 bytes

// 32 weights of any quantized type in one form:
//   w[k] = (d * sc[h]) * (u[k] - z) + m * mn[h],   h = k / 16 (which half of the block)
// evaluated in fp32 in that order, d and m being fp16 values (the products d * sc[h] and
// m * mn[h] are exact). The legacy types have sc = {1, 1}, mn = {1, 1} (m = 0 without an
// offset); the K-quants carry their sub-block scales in sc and their mins in mn with m = -dmin.
// This is how gguf's dequantizers evaluate every type, so the result is theirs bit for bit.
typedef struct {
    uint8_t u[QK]; // unsigned quants, u < 2^QTypeInfo.ubits
    uint16_t d, m; // fp16
    int8_t sc[2];  // integer scale of inputs 0..15 and of 16..31
    uint8_t mn[2]; // integer multiplier of m for each half
} QBlock32;

// What a quantized type's canonical blocks look like (constants per type).
typedef struct {
    int ubits;   // bits of u: 2 .. 8
    int zero;    // z
    int has_min; // whether m can be nonzero
    int sub;     // whether sc/mn can differ from {1, 1} (the K-quants)
} QTypeInfo;

// The type's QTypeInfo, or NULL for float and unsupported types.
const QTypeInfo *qtype_info(uint32_t type);
// Canonical block b (inputs 32 b .. 32 b + 31) of a row of a quantized type.
void qblock_decode(uint32_t type, const void *row, int64_t b, QBlock32 *q);

int ggml_type_supported(uint32_t type);
const char *ggml_type_name(uint32_t type); // "Q4_1", or "type 12" style for unknown ones
int ggml_type_block_elems(uint32_t type);  // 1, 32 or 256; 0 if unsupported
int ggml_type_block_bytes(uint32_t type);  // bytes per block; 0 if unsupported
// Bytes of a row of n elements (n must be a multiple of the block size); 0 if not representable.
size_t ggml_row_bytes(uint32_t type, int64_t n);

// dst[0..n) = dequantized src row of n elements (n a multiple of the block size).
void dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

float fp16_to_f32(uint16_t h);
uint16_t f32_to_fp16(float f); // round to nearest even
// The same over arrays (F16C where the build has it; identical results but for NaN payloads).
void f32_to_fp16_n(uint16_t *dst, const float *src, size_t n);
void fp16_to_f32_n(float *dst, const uint16_t *src, size_t n);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f); // round to nearest even
