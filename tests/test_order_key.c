// test_order_key.c - the token-order key of sampler/order_key.h (used by kernels/sample.cu)
// against plain float comparison and against the CPU sampler's own order.
//
// The regression this guards: -0.0 and +0.0 compare equal as floats, so the CPU sampler
// breaks their tie by the lower id; a key built from the raw bits would put +0.0 first and a
// greedy GPU draw would pick a different token than the CPU.
#include "check.h"
#include "order_key.h"
#include "sampler.h"

#include <stdint.h>
#include <string.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;
static uint32_t next32(void) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (uint32_t)(state >> 16);
}
static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
// The order's view of a float: NaN is -inf.
static float as_ordered(float v) {
    return v != v ? -INFINITY : v;
}

// (a < b) <=> bits(a) < bits(b) and (a == b) <=> equal bits, for one pair.
static int agrees(float a, float b) {
    float x = as_ordered(a), y = as_ordered(b);
    uint32_t ka = order_bits(a), kb = order_bits(b);
    return (x < y) == (ka < kb) && (x == y) == (ka == kb) && (x > y) == (ka > kb);
}

static void test_special_values(void) {
    const float v[] = {-INFINITY, -3.4e38f, -1.0f,  -1e-38f, -1e-45f,
                       -0.0f,     0.0f,     1e-45f, 1e-38f,  1.0f,
                       3.4e38f,   INFINITY, NAN,    -NAN,    from_bits(0x7fc00001u)};
    const int n = (int)(sizeof v / sizeof v[0]);
    int bad = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) bad += !agrees(v[i], v[j]);
    CHECK(bad == 0, "%d special-value pairs order differently from float comparison", bad);
    CHECK(order_bits(-0.0f) == order_bits(0.0f), "-0.0 and +0.0 must get the same key bits");
    CHECK(order_key(-0.0f, 7) > order_key(0.0f, 10),
          "a tie at zero goes to the lower id (-0 at 7)");
    CHECK(order_key(0.0f, 7) > order_key(-0.0f, 10),
          "a tie at zero goes to the lower id (+0 at 7)");
    CHECK(order_bits(NAN) == order_bits(-INFINITY), "NaN sorts as -inf");
    CHECK(order_key_id(order_key(1.5f, 49151)) == 49151 && order_key_id(order_key(-2.0f, 0)) == 0,
          "the id comes back out of the key");
}

static void test_random_pairs(void) {
    int bad = 0;
    for (int i = 0; i < 1000000; i++) {
        float a = from_bits(next32()), b = i % 3 ? from_bits(next32()) : -a; // -a: sign flips
        bad += !agrees(a, b);
    }
    CHECK(bad == 0, "%d of 1e6 random pairs order differently from float comparison", bad);
}

// The key's first token is the CPU sampler's greedy choice on rows with signed-zero ties.
static void test_against_cpu_sampler(void) {
    enum { V = 64 };
    float l[V];
    Sampler s;
    CHECK(sampler_init(&s, V) == 0, "sampler_init");
    SamplerParams greedy = {0.0f, 0, 1.0f, 0.0f, 0};
    int bad = 0;
    for (int trial = 0; trial < 200; trial++) {
        for (int i = 0; i < V; i++) l[i] = -1.0f - (float)(next32() % 100);
        int a = next32() % V, b = next32() % V; // the two zeros (maybe the same slot)
        l[a] = -0.0f;
        l[b] = 0.0f;
        if (trial % 5 == 0) l[next32() % V] = NAN;
        uint64_t best = 0;
        for (int i = 0; i < V; i++)
            if (order_key(l[i], i) > best) best = order_key(l[i], i);
        float lp;
        bad += order_key_id(best) != sample(&s, l, &greedy, 1, 0, 0, &lp);
    }
    sampler_free(&s);
    CHECK(bad == 0, "%d of 200 rows: the key's first token is not the CPU's greedy token", bad);
}

int main(void) {
    test_special_values();
    test_random_pairs();
    test_against_cpu_sampler();
    return check_done("test_order_key");
}
