// quant.h - ggml tensor types: block layouts, sizes, dequantization, half-float conversion.
//
// Every quantized type stores weights in blocks of 32 along the innermost dimension:
//   Q8_0  { f16 d; int8 q[32]; }          w = d * q
//   Q4_0  { f16 d; u8 qs[16]; }           w = d * (q - 8), q = low nibble for j < 16, high for j >= 16
//   Q4_1  { f16 d; f16 m; u8 qs[16]; }    w = d * q + m,   same nibble order as Q4_0
// F32, F16 and BF16 are "blocks" of one element.
#pragma once
#include <stddef.h>
#include <stdint.h>

enum {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_BF16 = 30,
};

#define QK 32 // weights per quantized block

typedef struct { uint16_t d; int8_t q[QK]; } BlockQ8_0;                 // 34 bytes
typedef struct { uint16_t d; uint8_t qs[QK / 2]; } BlockQ4_0;           // 18 bytes
typedef struct { uint16_t d; uint16_t m; uint8_t qs[QK / 2]; } BlockQ4_1; // 20 bytes

int ggml_type_supported(uint32_t type);
const char *ggml_type_name(uint32_t type); // "Q4_1", or "type 12" style for unknown ones
int ggml_type_block_elems(uint32_t type);  // 1 or 32; 0 if unsupported
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
