// quant_blocks.c - every quantized GGUF block layout, decoded 32 weights at a time into the one
// canonical form of quant.h (QBlock32; dequantize_row, at the end, evaluates it):
//   w[k] = (d * sc[h]) * (u[k] - z) + m * mn[h],   h = k / 16
// The fp32 path (dequantize_row) and the int8 panels (qpack.c) both read blocks only through
// qblock_decode, so these layouts are written down here and nowhere else.
//
// Byte layouts (checked against the gguf Python package's dequantizers, tests/test_dequant.py).
// "Element e" counts the weights of one block (32) or super-block (256).
//   Q4_0  d, qs[16]                    u = nibble (e < 16: low nibble of qs[e], else high of e-16)
//   Q4_1  d, m, qs[16]                 as Q4_0, plus m
//   Q5_0  d, qh[4], qs[16]             u = nibble as Q4_0 | bit e of qh (little-endian u32) << 4
//   Q5_1  d, m, qh[4], qs[16]          as Q5_0, plus m
//   Q8_0  d, q[32] (int8)              u = q + 128
//   Q2_K  scales[16], qs[64], d, dmin  u = qs[32 (e / 128) + e % 32] >> 2 ((e / 32) % 4) & 3;
//                                      sub-block e / 16: sc = scales & 15, mn = scales >> 4
//   Q3_K  hmask[32], qs[64], scales[12], d
//                                      u = (2 bits as Q2_K) | (hmask[e % 32] >> (e / 32) & 1) << 2,
//                                      z = 4; 16 signed 6-bit scales (sc - 32) packed as below
//   Q4_K  d, dmin, scales[12], qs[128] u = qs[32 (e / 64) + e % 32] >> 4 ((e / 32) % 2) & 15;
//                                      sub-block e / 32: 6-bit sc and mn packed as below
//   Q5_K  d, dmin, scales[12], qh[32], qs[128]
//                                      u = (nibble as Q4_K) | (qh[e % 32] >> (e / 32) & 1) << 4
//   Q6_K  ql[128], qh[64], scales[16] (int8), d
//                                      u = ql[64 (e / 128) + e % 64] >> 4 ((e / 64) % 2) & 15
//                                        | (qh[32 (e / 128) + e % 32] >> 2 ((e / 32) % 4) & 3) <<
//                                        4,
//                                      z = 32; sub-block e / 16: sc = scales
// The K-quants with mins store w = d sc q - dmin mn: in the canonical form m = -dmin (the fp16
// sign bit flipped, exact).
#include "model/quant.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

// The 4-bit nibbles of a legacy block: element i low nibble of qs[i], element 16 + i high.
static void nibbles(const uint8_t *qs, uint8_t u[QK]) {
    for (int i = 0; i < QK / 2; i++) u[i] = qs[i] & 15, u[i + 16] = qs[i] >> 4;
}

// Q5: the fifth bit of element i is bit i of the little-endian 32-bit qh.
static void fifth_bits(const uint8_t *qh, uint8_t u[QK]) {
    for (int i = 0; i < QK; i++) u[i] |= (qh[i / 8] >> (i % 8) & 1) << 4;
}

// Q4_K / Q5_K: 8 six-bit scales and mins in 12 bytes. j < 4: sc = s[j] & 63, mn = s[j + 4] & 63;
// j >= 4: the low four bits in s[j + 4], the top two in the spare bits of s[j - 4] (sc) and s[j]
// (mn).
static void scale_min_k4(const uint8_t *s, int j, int8_t *sc, uint8_t *mn) {
    if (j < 4) {
        *sc = (int8_t)(s[j] & 63), *mn = s[j + 4] & 63;
    } else {
        *sc = (int8_t)((s[j + 4] & 15) | (s[j - 4] >> 6) << 4);
        *mn = (uint8_t)((s[j + 4] >> 4) | (s[j] >> 6) << 4);
    }
}

// Q3_K: scale i of 16 is 4 low bits (nibble i / 8 of s[i % 8]) and 2 high bits (bits 2 (i / 4)
// of s[8 + i % 4]), minus 32.
static int8_t scale_q3_k(const uint8_t *s, int i) {
    const int lo = s[i % 8] >> (4 * (i / 8)) & 15, hi = s[8 + i % 4] >> (2 * (i / 4)) & 3;
    return (int8_t)((lo | hi << 4) - 32);
}

// The 2 low bits of Q2_K / Q3_K: element e of the super-block.
static uint8_t two_bits(const uint8_t *qs, int e) {
    return qs[32 * (e / 128) + e % 32] >> (2 * (e / 32 % 4)) & 3;
}

static void decode_k(uint32_t type, const uint8_t *blk, int j, QBlock32 *q) {
    // j: which 32 of the super-block's 256; e = 32 j + i
    switch (type) {
    case GGML_TYPE_Q2_K: {
        const uint8_t *sc = blk, *qs = blk + 16;
        for (int i = 0; i < QK; i++) q->u[i] = two_bits(qs, 32 * j + i);
        for (int h = 0; h < 2; h++)
            q->sc[h] = (int8_t)(sc[2 * j + h] & 15), q->mn[h] = sc[2 * j + h] >> 4;
        q->d = rd16(blk + 80), q->m = rd16(blk + 82) ^ 0x8000;
        return;
    }
    case GGML_TYPE_Q3_K: {
        const uint8_t *hm = blk, *qs = blk + 32, *sc = blk + 96;
        for (int i = 0; i < QK; i++)
            q->u[i] = (uint8_t)(two_bits(qs, 32 * j + i) | (hm[i] >> j & 1) << 2);
        for (int h = 0; h < 2; h++) q->sc[h] = scale_q3_k(sc, 2 * j + h), q->mn[h] = 0;
        q->d = rd16(blk + 108), q->m = 0;
        return;
    }
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K: {
        const int q5 = type == GGML_TYPE_Q5_K;
        const uint8_t *sc = blk + 4, *qh = blk + 16, *qs = blk + (q5 ? 48 : 16);
        for (int i = 0; i < QK; i++) {
            q->u[i] = qs[32 * (j / 2) + i] >> (4 * (j % 2)) & 15;
            if (q5) q->u[i] |= (qh[i] >> j & 1) << 4;
        }
        scale_min_k4(sc, j, &q->sc[0], &q->mn[0]);
        q->sc[1] = q->sc[0], q->mn[1] = q->mn[0];
        q->d = rd16(blk), q->m = rd16(blk + 2) ^ 0x8000;
        return;
    }
    case GGML_TYPE_Q6_K: {
        const uint8_t *ql = blk, *qh = blk + 128;
        for (int i = 0; i < QK; i++) {
            const int e = 32 * j + i;
            q->u[i] = (uint8_t)((ql[64 * (e / 128) + e % 64] >> (4 * (e / 64 % 2)) & 15) |
                                (qh[32 * (e / 128) + e % 32] >> (2 * (e / 32 % 4)) & 3) << 4);
        }
        for (int h = 0; h < 2; h++) q->sc[h] = (int8_t)blk[192 + 2 * j + h], q->mn[h] = 0;
        q->d = rd16(blk + 208), q->m = 0;
        return;
    }
    }
}

void qblock_decode(uint32_t type, const void *row, int64_t b, QBlock32 *q) {
    const uint8_t *r = row;
    q->sc[0] = q->sc[1] = 1, q->mn[0] = q->mn[1] = 1, q->m = 0;
    const int64_t bytes = ggml_type_block_bytes(type);
    switch (type) {
    case GGML_TYPE_Q4_0: nibbles(r + b * bytes + 2, q->u), q->d = rd16(r + b * bytes); return;
    case GGML_TYPE_Q4_1:
        nibbles(r + b * bytes + 4, q->u), q->d = rd16(r + b * bytes),
                                          q->m = rd16(r + b * bytes + 2);
        return;
    case GGML_TYPE_Q5_0:
        nibbles(r + b * bytes + 6, q->u), fifth_bits(r + b * bytes + 2, q->u);
        q->d = rd16(r + b * bytes);
        return;
    case GGML_TYPE_Q5_1:
        nibbles(r + b * bytes + 8, q->u), fifth_bits(r + b * bytes + 4, q->u);
        q->d = rd16(r + b * bytes), q->m = rd16(r + b * bytes + 2);
        return;
    case GGML_TYPE_Q8_0:
        for (int i = 0; i < QK; i++) q->u[i] = (uint8_t)((int8_t)r[b * bytes + 2 + i] + 128);
        q->d = rd16(r + b * bytes);
        return;
    default: // a K-quant: the 32 weights j = b % 8 of super-block b / 8
        decode_k(type, r + b / 8 * bytes, (int)(b % 8), q);
        return;
    }
}

const QTypeInfo *qtype_info(uint32_t type) {
    //                                 ubits zero min sub
    static const QTypeInfo q4_0 = {4, 8, 0, 0}, q4_1 = {4, 0, 1, 0}, q5_0 = {5, 16, 0, 0},
                           q5_1 = {5, 0, 1, 0}, q8_0 = {8, 128, 0, 0}, q2_k = {2, 0, 1, 1},
                           q3_k = {3, 4, 0, 1}, q4_k = {4, 0, 1, 1}, q5_k = {5, 0, 1, 1},
                           q6_k = {6, 32, 0, 1};
    switch (type) {
    case GGML_TYPE_Q4_0: return &q4_0;
    case GGML_TYPE_Q4_1: return &q4_1;
    case GGML_TYPE_Q5_0: return &q5_0;
    case GGML_TYPE_Q5_1: return &q5_1;
    case GGML_TYPE_Q8_0: return &q8_0;
    case GGML_TYPE_Q2_K: return &q2_k;
    case GGML_TYPE_Q3_K: return &q3_k;
    case GGML_TYPE_Q4_K: return &q4_k;
    case GGML_TYPE_Q5_K: return &q5_k;
    case GGML_TYPE_Q6_K: return &q6_k;
    }
    return NULL;
}

// A row through its canonical blocks (the float types directly).
void dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    switch (type) {
    case GGML_TYPE_F32: memcpy(dst, src, (size_t)n * 4); return;
    case GGML_TYPE_F16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = fp16_to_f32(s[i]);
        return;
    }
    case GGML_TYPE_BF16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(s[i]);
        return;
    }
    default: { // the quantized types, through their canonical blocks (quant.h)
        const QTypeInfo *t = qtype_info(type);
        for (int64_t b = 0; b < n / QK; b++, dst += QK) {
            QBlock32 q;
            qblock_decode(type, src, b, &q);
            const float d = fp16_to_f32(q.d), m = fp16_to_f32(q.m);
            for (int h = 0; h < 2; h++) {
                // every product is exact (d * sc: at most 11 + 7 bits; times u - z: at most 24),
                // so the one rounding is the addition's: gguf's arithmetic, bit for bit
                const float D = d * q.sc[h], M = m * q.mn[h];
                for (int k = 16 * h; k < 16 * h + 16; k++)
                    dst[k] = D * (float)(q.u[k] - t->zero) + M;
            }
        }
        return;
    }
    }
}
