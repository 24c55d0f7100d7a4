// quant.c - ggml tensor types: sizes, names and half-float conversion (the block layouts and
// row dequantization: quant_blocks.c).
#include "model/quant.h"

#include <stdio.h>
#include <string.h>
#ifdef __F16C__
#include <immintrin.h>
#endif

int ggml_type_supported(uint32_t type) {
    return ggml_type_block_elems(type) != 0;
}

const char *ggml_type_name(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32: return "F32";
    case GGML_TYPE_F16: return "F16";
    case GGML_TYPE_BF16: return "BF16";
    case GGML_TYPE_Q8_0: return "Q8_0";
    case GGML_TYPE_Q4_0: return "Q4_0";
    case GGML_TYPE_Q4_1: return "Q4_1";
    case GGML_TYPE_Q5_0: return "Q5_0";
    case GGML_TYPE_Q5_1: return "Q5_1";
    case GGML_TYPE_Q2_K: return "Q2_K";
    case GGML_TYPE_Q3_K: return "Q3_K";
    case GGML_TYPE_Q4_K: return "Q4_K";
    case GGML_TYPE_Q5_K: return "Q5_K";
    case GGML_TYPE_Q6_K: return "Q6_K";
    }
    // Names of the types we know about but do not support, so the error is readable.
    static const char *other[] = {
        [6] = "Q5_0",    [7] = "Q5_1",     [9] = "Q8_1",   [10] = "Q2_K",   [11] = "Q3_K",
        [12] = "Q4_K",   [13] = "Q5_K",    [14] = "Q6_K",  [15] = "Q8_K",   [16] = "IQ2_XXS",
        [17] = "IQ2_XS", [18] = "IQ3_XXS", [19] = "IQ1_S", [20] = "IQ4_NL", [21] = "IQ3_S",
        [22] = "IQ2_S",  [23] = "IQ4_XS",  [24] = "I8",    [25] = "I16",    [26] = "I32",
        [27] = "I64",    [28] = "F64",     [29] = "IQ1_M"};
    if (type < sizeof other / sizeof other[0] && other[type]) return other[type];
    static _Thread_local char buf[32];
    snprintf(buf, sizeof buf, "type %u", type);
    return buf;
}

int ggml_type_block_elems(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16: return 1;
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q4_1:
    case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q5_1: return QK;
    case GGML_TYPE_Q2_K:
    case GGML_TYPE_Q3_K:
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K:
    case GGML_TYPE_Q6_K: return QK_K;
    }
    return 0;
}

int ggml_type_block_bytes(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32: return 4;
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16: return 2;
    case GGML_TYPE_Q8_0: return sizeof(BlockQ8_0);
    case GGML_TYPE_Q4_0: return sizeof(BlockQ4_0);
    case GGML_TYPE_Q4_1: return sizeof(BlockQ4_1);
    case GGML_TYPE_Q5_0: return 22;  // d, qh[4], qs[16]
    case GGML_TYPE_Q5_1: return 24;  // d, m, qh[4], qs[16]
    case GGML_TYPE_Q2_K: return 84;  // scales[16], qs[64], d, dmin
    case GGML_TYPE_Q3_K: return 110; // hmask[32], qs[64], scales[12], d
    case GGML_TYPE_Q4_K: return 144; // d, dmin, scales[12], qs[128]
    case GGML_TYPE_Q5_K: return 176; // d, dmin, scales[12], qh[32], qs[128]
    case GGML_TYPE_Q6_K: return 210; // ql[128], qh[64], scales[16], d
    }
    return 0;
}

size_t ggml_row_bytes(uint32_t type, int64_t n) {
    int be = ggml_type_block_elems(type);
    if (be == 0 || n <= 0 || n % be) return 0;
    return (size_t)(n / be) * ggml_type_block_bytes(type);
}

// A float's bits and back (memcpy: the defined way to reinterpret; compiles to a register move).
static inline uint32_t f32_bits(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    return x;
}
static inline float f32_from_bits(uint32_t x) {
    float f;
    memcpy(&f, &x, 4);
    return f;
}

// IEEE half -> float, exact, including subnormals, infinities and NaN.
float fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { // subnormal: normalise
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    return f32_from_bits(bits);
}

uint16_t f32_to_fp16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0); // inf/nan
    if (ax >= 0x477ff000u) return sign | 0x7c00; // rounds to >= 65520: overflow to inf
    if (ax < 0x38800000u) {                      // result is subnormal (or zero)
        if (ax < 0x33000000u) return sign;       // below half the smallest subnormal
        uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; // 14..24 so the value lands in units of 2^-24
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return sign | (uint16_t)q;
    }
    uint32_t r = ax + 0xfff + ((ax >> 13) & 1); // round to nearest even at bit 13
    return sign | (uint16_t)((r - 0x38000000u) >> 13);
}

void f32_to_fp16_n(uint16_t *dst, const float *src, size_t n) {
    size_t i = 0;
#ifdef __F16C__
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; i < n; i++) dst[i] = f32_to_fp16(src[i]);
}

void fp16_to_f32_n(float *dst, const uint16_t *src, size_t n) {
    size_t i = 0;
#ifdef __F16C__
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
#endif
    for (; i < n; i++) dst[i] = fp16_to_f32(src[i]);
}

float bf16_to_f32(uint16_t h) {
    return f32_from_bits((uint32_t)h << 16);
}

uint16_t f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); // quiet NaN
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}
