// vexp.h - exp(x) on 8 floats at once (AVX2), for softmax and SiLU on the CPU.
//
// libm's expf is one call per element; attention at 64 chains needs ~10^8 of them per step.
// Method: x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2 (ln2 split in a high and a
// low part, Cody-Waite, so r is exact to ~1e-10), e^r from its degree-6 Taylor polynomial (last
// term dropped: r^7 / 7! < 1.3e-7 relative), then 2^n put straight into the exponent bits.
// Relative error below 2e-7 (about 2 ulp) over the clamped range [-87, 88]; x < -87 gives
// e^-87 ~ 1.6e-38 instead of a smaller number, which no sum of exponentials can tell apart.
// Without AVX2 the scalar `vexp1` (libm) is used everywhere, so each build is self-consistent.
#pragma once
#include <math.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define VEXP_SIMD 1
static inline __m256 vexp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x); // ln2 high part: exact n * hi
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);     // ln2 low part
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
// One element through the same arithmetic (so a tail element equals what a full vector gives).
static inline float vexp1(float x) {
    float v[8] = {x};
    _mm256_storeu_ps(v, vexp8(_mm256_loadu_ps(v)));
    return v[0];
}
#else
#define VEXP_SIMD 0
static inline float vexp1(float x) {
    return expf(x);
}
#endif

// y[i] = exp(x[i]) for i < n (x and y may be the same array).
static inline void vexp_array(float *y, const float *x, int n) {
    int i = 0;
#if VEXP_SIMD
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, vexp8(_mm256_loadu_ps(x + i)));
#endif
    for (; i < n; i++) y[i] = vexp1(x[i]);
}
