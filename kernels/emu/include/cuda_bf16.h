// cuda_bf16.h - chorus's stand-in (kernels/emu/README.md): the bf16 type and the conversions
// the kernels use, with CUDA's rounding (to nearest even; any NaN becomes the canonical 0x7fff).
#pragma once
#include <stdint.h>
#include <string.h>

struct __nv_bfloat16 {
    uint16_t __x;
};

static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    __nv_bfloat16 h;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        h.__x = 0x7fff;
        return h;
    }
    u += 0x7fffu + ((u >> 16) & 1u); // round half to even on the dropped 16 bits
    h.__x = (uint16_t)(u >> 16);
    return h;
}
static inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.__x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
