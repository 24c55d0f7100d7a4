// test_rng.c - the counter-based RNG (sampler/rng.h): known values, purity, range, uniformity.
#include "check.h"
#include "rng.h"

#include <stdint.h>

// Values computed by the Python reference in tests/test_rng.py (arbitrary-precision integers
// masked to 64 bits), not by this C code.
static const struct {
    uint64_t seed;
    uint32_t chain, step;
    uint64_t bits;
} known[] = {
    {0, 0, 0, 0xa706dd2f4d197e6full},
    {1, 0, 0, 0x5e41ab087439611eull},
    {1, 0, 1, 0xe9fd6049d65af21eull},
    {1, 1, 0, 0x210aee97dce61845ull},
    {42, 7, 123, 0x404d1caa775165f6ull},
    {0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFFu, 0xFFFFFFFFu, 0x6309143e67a47936ull},
    {123456789, 3, 1000000, 0xa0635a16b598f8ddull},
};

static void test_known(void) {
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        uint64_t b = rng_bits(known[i].seed, known[i].chain, known[i].step);
        CHECK(b == known[i].bits, "rng_bits(%llu, %u, %u) = %016llx, want %016llx",
              (unsigned long long)known[i].seed, known[i].chain, known[i].step,
              (unsigned long long)b, (unsigned long long)known[i].bits);
        float u = rng_uniform(known[i].seed, known[i].chain, known[i].step);
        CHECK(u == (float)(known[i].bits >> 40) / 16777216.0f, "rng_uniform uses the top 24 bits");
    }
}

// Range, and a coarse uniformity check: 16 bins over 2^16 draws of one chain, and the same
// count spread over many chains at one step (the controller's use: chain varies per row).
static void test_uniform(void) {
    enum { N = 1 << 16, BINS = 16 };
    int by_step[BINS] = {0}, by_chain[BINS] = {0}, in_range = 1;
    for (uint32_t i = 0; i < N; i++) {
        float a = rng_uniform(7, 3, i), b = rng_uniform(7, i, 3);
        in_range &= a >= 0.0f && a < 1.0f && b >= 0.0f && b < 1.0f;
        by_step[(int)(a * BINS)]++;
        by_chain[(int)(b * BINS)]++;
    }
    CHECK(in_range, "rng_uniform outside [0, 1)");
    double chi_s = 0, chi_c = 0, e = (double)N / BINS;
    for (int i = 0; i < BINS; i++) {
        chi_s += (by_step[i] - e) * (by_step[i] - e) / e;
        chi_c += (by_chain[i] - e) * (by_chain[i] - e) / e;
    }
    // 15 degrees of freedom: P(chi2 > 40) ~ 5e-4; the draws are fixed, so this is deterministic.
    CHECK(chi_s < 40, "steps not uniform: chi2 = %.1f", chi_s);
    CHECK(chi_c < 40, "chains not uniform: chi2 = %.1f", chi_c);
}

// Neighbouring counters give unrelated words: about half the bits differ on average.
static void test_avalanche(void) {
    double flips = 0;
    int n = 0;
    for (uint32_t i = 0; i < 1000; i++, n += 3) {
        uint64_t b = rng_bits(5, 2, i);
        flips += __builtin_popcountll(b ^ rng_bits(5, 2, i + 1));
        flips += __builtin_popcountll(b ^ rng_bits(5, 3, i));
        flips += __builtin_popcountll(b ^ rng_bits(6, 2, i));
    }
    CHECK(fabs(flips / n - 32) < 1.0, "mean flipped bits %.2f, want ~32", flips / n);
    CHECK(rng_bits(1, 0, 1) != rng_bits(1, 1, 0), "chain and step are not interchangeable");
}

int main(void) {
    test_known();
    test_uniform();
    test_avalanche();
    return check_done("test_rng");
}
