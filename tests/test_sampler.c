// test_sampler.c - the CPU sampler against the contract in sampler/sampler.h.
//
// The reference here is deliberately naive and independent of sampler.c: it sorts the whole
// vocab with qsort, works in double, and applies each rule literally. Cases where a cumulative
// sum or a min-p test lies within rounding of its threshold are skipped (the contract leaves
// them to the backend's rounding); everything else must match token for token.
#include "check.h"
#include "rng.h"
#include "sampler.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

enum { MAXV = 49152 };

#ifdef __SANITIZE_ADDRESS__ // the sanitizer build is ~10x slower: fewer draws at full vocab
enum { FULL_VOCAB_STEPS = 12 };
#else
enum { FULL_VOCAB_STEPS = 40 };
#endif

// ---- the reference ----------------------------------------------------------------------------

static const float *g_logits; // for by_order (qsort has no context argument in C11)

static int by_order(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    if (g_logits[a] != g_logits[b]) return g_logits[a] > g_logits[b] ? -1 : 1;
    return (a > b) - (a < b);
}

typedef struct {
    int n; // kept tokens, in the order
    int id[MAXV];
    double w[MAXV]; // their weights exp((l - lmax) / T)
    int near;       // 1 if a threshold was within rounding (skip exact comparisons)
} Kept;

static int desc_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}
static void g_desc_sort(double *d, int n) {
    qsort(d, (size_t)n, sizeof *d, desc_double);
}

static void ref_kept(const float *l, int v, const SamplerParams *p, Kept *k) {
    static int order[MAXV];
    for (int i = 0; i < v; i++) order[i] = i;
    g_logits = l;
    qsort(order, (size_t)v, sizeof *order, by_order);
    // d_i = (logit_i - logit_max) / T is defined in fp32 (what every backend computes); the
    // rest is in double.
    float lmax = l[order[0]], t = p->temperature;
    int u = p->top_k > 0 && p->top_k < v ? p->top_k : v;
    double zu = 0;
    for (int j = 0; j < u; j++) zu += exp((double)((l[order[j]] - lmax) / t));
    k->n = 0, k->near = 0;
    double cum = 0;
    for (int j = 0; j < u; j++) {
        double d = (l[order[j]] - lmax) / t;
        if (p->min_p > 0 && fabs(d - log(p->min_p)) < 1e-6) k->near = 1;
        if (j > 0 && p->min_p > 0 && d < log(p->min_p)) break;
        k->id[k->n] = order[j], k->w[k->n++] = exp(d);
        cum += exp(d);
        if (p->top_p < 1 && fabs(cum - p->top_p * zu) < 3e-7 * zu) k->near = 1;
        if (p->top_p < 1 && cum >= p->top_p * zu) break;
    }
}

// The inverse-CDF draw; *near = 1 when u * W is within rounding of a cumulative sum.
static int ref_draw(const Kept *k, double u, int *near) {
    double total = 0, c = 0;
    for (int j = 0; j < k->n; j++) total += k->w[j];
    for (int j = 0; j < k->n; j++) {
        c += k->w[j];
        if (fabs(u * total - c) < 3e-7 * total) *near = 1;
        if (u * total < c) return k->id[j];
    }
    return k->id[k->n - 1];
}

static double log_softmax(const float *l, int v, int tok) {
    double m = -INFINITY, z = 0;
    for (int i = 0; i < v; i++) m = l[i] > m ? l[i] : m;
    for (int i = 0; i < v; i++) z += exp((double)l[i] - m);
    return (double)l[tok] - m - log(z);
}

// ---- helpers ----------------------------------------------------------------------------------

static SamplerParams params(float t, int k, float p, float m) {
    SamplerParams s = {.temperature = t, .top_k = k, .top_p = p, .min_p = m};
    return s;
}

// Deterministic pseudo-random logits: a Gaussian-ish spread times scale (sum of 4 uniforms).
static void fill_logits(float *l, int v, uint64_t seed, float scale) {
    for (int i = 0; i < v; i++) {
        float s = 0;
        for (uint32_t r = 0; r < 4; r++) s += rng_uniform(seed, (uint32_t)i, r) - 0.5f;
        l[i] = scale * s;
    }
}

static int in_set(const int *ids, int n, int tok) {
    for (int j = 0; j < n; j++)
        if (ids[j] == tok) return 1;
    return 0;
}

// ---- tests ------------------------------------------------------------------------------------

static void test_greedy(Sampler *s) {
    float l[8] = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f, -INFINITY, 0.0f, 1.0f};
    float lp;
    SamplerParams g = params(0, 0, 1, 0), neg = params(-1, 5, 0.5f, 0.1f);
    CHECK(sample(s, l, &g, 1, 0, 0, &lp) == 1, "greedy picks the argmax, lowest id on ties");
    CHECK(fabs(lp - log_softmax(l, 8, 1)) < 1e-6, "greedy log-prob %g", lp);
    CHECK(sample(s, l, &neg, 1, 0, 0, NULL) == 1, "temperature < 0 is greedy too");
    for (uint32_t step = 0; step < 50; step++)
        CHECK(sample(s, l, &g, step, step, step, NULL) == 1, "greedy ignores the RNG");
}

// Kept sets on constructed logits: collect every token drawn over many steps; with these
// probabilities (each kept token >= 3%) all of them appear, and nothing else may.
static void check_set(Sampler *s, const float *l, SamplerParams p, const int *want, int n_want,
                      const char *what) {
    int seen[8] = {0}, extra = 0;
    for (uint32_t step = 0; step < 4000; step++) {
        int t = sample(s, l, &p, 11, 2, step, NULL);
        if (in_set(want, n_want, t))
            seen[t] = 1;
        else
            extra++;
    }
    int all = 1;
    for (int j = 0; j < n_want; j++) all &= seen[want[j]];
    CHECK(all && !extra, "%s: kept set wrong (%d draws outside)", what, extra);
}

static void test_truncation_sets(Sampler *s) {
    // probabilities at T = 1 proportional to 8, 4, 4, 2, 1, 0.5, 0.25, 0.125 (ids 3,0,5,... order)
    float l[8] = {logf(4), logf(0.5f), logf(0.125f), logf(8),
                  logf(2), logf(4),    logf(1),      logf(0.25f)};
    // order: 3 (8), 0 (4), 5 (4; tie, higher id), 4 (2), 6 (1), 1 (0.5), 7 (0.25), 2 (0.125)
    int k3[] = {3, 0, 5}, k2[] = {3, 0}, all[] = {0, 1, 2, 3, 4, 5, 6, 7};
    check_set(s, l, params(1, 3, 1, 0), k3, 3, "top-k 3");
    check_set(s, l, params(1, 2, 1, 0), k2, 2, "top-k 2 splits the tie by id");
    check_set(s, l, params(1, 0, 1, 0), all, 8, "no truncation");
    // Z = 19.875; top-p 0.6 needs 11.925: 8 + 4 = 12 >= 11.925 -> {3, 0}
    check_set(s, l, params(1, 0, 0.6f, 0), k2, 2, "top-p 0.6");
    // top-p 0.62 needs 12.32 -> {3, 0, 5}
    check_set(s, l, params(1, 0, 0.62f, 0), k3, 3, "top-p 0.62");
    // top-p after top-k renormalises: over {3,0,5} (Z = 16), 0.7 needs 11.2 -> {3, 0}
    check_set(s, l, params(1, 3, 0.7f, 0), k2, 2, "top-p renormalised over top-k");
    // min-p 0.3: keep p >= 0.3 * p_max = 2.4/19.875 -> weights >= 2.4 -> {3, 0, 5}
    check_set(s, l, params(1, 0, 1, 0.3f), k3, 3, "min-p 0.3");
    // top-p 0.95 alone keeps 5 tokens (needs 18.88: 8,12,16,18,19); min-p 0.2 (>= 1.6) keeps 4
    int k4[] = {3, 0, 5, 4};
    check_set(s, l, params(1, 0, 0.95f, 0.2f), k4, 4, "min-p after top-p");
    // temperature 0.5 squares the ratios: weights 64,16,16,4,1,...; min-p 0.05 keeps >= 3.2
    check_set(s, l, params(0.5f, 0, 1, 0.05f), k4, 4, "min-p at temperature 0.5");
    int k1[] = {3};
    check_set(s, l, params(1, 1, 1, 0), k1, 1, "top-k 1 is greedy");
    check_set(s, l, params(1, 0, 0.0f, 0), k1, 1, "top-p 0 keeps the first token");
    check_set(s, l, params(1, 0, 1, 1.0f), k1, 1, "min-p 1 keeps the max");
    check_set(s, l, params(1, 0, 0.9f, 2.0f), k1, 1, "min-p > 1 keeps the first token");
    check_set(s, l, params(1, 4, 1, 2.0f), k1, 1, "min-p > 1 after top-k");
    float tie[8] = {1, 3, 3, 0, -1, 3, 2, 0};
    int t3[] = {1, 2, 5};
    check_set(s, tie, params(1, 0, 1, 1.0f), t3, 3, "min-p 1 keeps every tie of the max");
    int first_tie[] = {1};
    check_set(s, tie, params(1, 0, 1, 1.5f), first_tie, 1, "min-p > 1 keeps only the first tie");
}

// Token-for-token agreement with the reference over random rows, settings and steps. With
// vocab 49152 this also walks the sampler's threshold fallbacks (flat rows, top-p near 1,
// min-p off, pure temperature).
static void test_against_reference(Sampler *s, int v, int rows, int steps) {
    static float l[MAXV];
    static Kept k;
    const SamplerParams ps[] = {
        params(0.7f, 0, 0.95f, 0.05f), params(1, 0, 1, 0),           params(1.3f, 40, 0.9f, 0),
        params(0.8f, 0, 0.999f, 0),    params(1, 0, 0.5f, 0),        params(0.6f, 200, 1, 0.01f),
        params(2.0f, 0, 1, 1e-6f),     params(1, v - 1, 0.8f, 0.1f),
    };
    int n_ps = sizeof ps / sizeof *ps, compared = 0, skipped = 0, bad = 0;
    for (int r = 0; r < rows; r++) {
        fill_logits(l, v, 100 + r, r % 3 == 0 ? 2.0f : r % 3 == 1 ? 8.0f : 20.0f);
        if (r % 4 == 3) // coarse logits: long runs of ties (and -0 beside +0) for the order
            for (int i = 0; i < v; i++) l[i] = roundf(l[i] * 2) / 2;
        for (int pi = 0; pi < n_ps; pi++) {
            ref_kept(l, v, &ps[pi], &k);
            for (int st = 0; st < steps; st++) {
                int near = k.near;
                uint32_t step = (uint32_t)(st * 7919 + pi);
                int want = ref_draw(&k, rng_uniform(9, (uint32_t)r, step), &near);
                int got = sample(s, l, &ps[pi], 9, (uint32_t)r, step, NULL);
                if (near)
                    skipped++;
                else
                    compared++, bad += got != want;
                if (!near && got != want && bad <= 3)
                    fprintf(stderr, "v=%d row %d params %d step %u: got %d want %d\n", v, r, pi,
                            step, got, want);
            }
        }
    }
    CHECK(bad == 0, "vocab %d: %d of %d draws differ from the reference", v, bad, compared);
    // Flat rows over 49152 tokens put thousands of tiny weights near a top-p cut, so whole rows
    // can be ambiguous; most draws must still be compared.
    CHECK(compared > 2 * skipped, "vocab %d: too many boundary cases skipped (%d of %d)", v,
          skipped, compared + skipped);
}

// Empirical frequencies over many (seed, step) against the truncated, renormalised
// probabilities. Chi-square with a fixed seed, so the outcome is deterministic; the bound is
// about 5 standard deviations above the mean (df) of the statistic.
static void test_frequencies(Sampler *s) {
    float l[10] = {1.0f, 0.2f, -0.5f, 2.0f, 1.5f, 0.0f, -2.0f, 0.9f, 1.2f, -1.0f};
    const SamplerParams ps[] = {params(1, 0, 1, 0), params(0.8f, 5, 1, 0), params(1, 0, 0.8f, 0),
                                params(1.5f, 0, 1, 0.2f), params(0.9f, 7, 0.9f, 0.1f)};
    static Kept k;
    for (int pi = 0; pi < 5; pi++) {
        ref_kept(l, 10, &ps[pi], &k);
        enum { N = 100000 };
        int count[10] = {0}, outside = 0;
        for (uint32_t step = 0; step < N; step++) count[sample(s, l, &ps[pi], 77, 0, step, NULL)]++;
        double total = 0, chi2 = 0;
        for (int j = 0; j < k.n; j++) total += k.w[j];
        for (int j = 0; j < k.n; j++) {
            double e = N * k.w[j] / total;
            chi2 += (count[k.id[j]] - e) * (count[k.id[j]] - e) / e;
        }
        for (int t = 0; t < 10; t++) outside += in_set(k.id, k.n, t) ? 0 : count[t];
        double df = k.n - 1;
        CHECK(outside == 0, "params %d: %d draws outside the kept set", pi, outside);
        CHECK(chi2 <= df + 5 * sqrt(2 * df) + 1, "params %d: chi2 %.1f with %g dof", pi, chi2, df);
    }
}

// The draw is a pure function of (logits, params, seed, chain, step): call order, other
// chains, and the Sampler's scratch history do not matter; chain and seed do.
static void test_determinism(Sampler *s) {
    static float l[1000];
    fill_logits(l, 1000, 5, 4.0f);
    Sampler other;
    CHECK(sampler_init(&other, 1000) == 0, "sampler_init");
    SamplerParams p = sampler_defaults();
    int fwd[64], same = 1, diff_chain = 0, diff_seed = 0;
    for (int i = 0; i < 64; i++) fwd[i] = sample(s, l, &p, 3, 1, (uint32_t)i, NULL);
    for (int i = 63; i >= 0; i--) {
        sample(&other, l, &p, 99, 5, 1234, NULL); // disturb the scratch in between
        same &= sample(&other, l, &p, 3, 1, (uint32_t)i, NULL) == fwd[i];
        diff_chain += sample(s, l, &p, 3, 2, (uint32_t)i, NULL) != fwd[i];
        diff_seed += sample(s, l, &p, 4, 1, (uint32_t)i, NULL) != fwd[i];
    }
    CHECK(same, "draws depend on call order or scratch state");
    CHECK(diff_chain > 16 && diff_seed > 16, "chain/seed do not change the stream (%d, %d)",
          diff_chain, diff_seed);
    sampler_free(&other);
}

// log-prob = log softmax(logits)[token] at T = 1, whatever the settings.
static void test_logprob(Sampler *s, int v) {
    static float l[MAXV];
    fill_logits(l, v, 42, 6.0f);
    const SamplerParams ps[] = {params(0.7f, 0, 0.95f, 0.05f), params(1, 0, 1, 0),
                                params(1.5f, 20, 0.9f, 0), params(0, 0, 1, 0)};
    double worst = 0;
    for (int pi = 0; pi < 4; pi++) {
        for (uint32_t step = 0; step < 20; step++) {
            float lp;
            int t = sample(s, l, &ps[pi], 1, 0, step, &lp);
            double e = fabs(lp - log_softmax(l, v, t));
            worst = e > worst ? e : worst;
        }
    }
    CHECK(worst < 1e-5, "vocab %d: log-prob off by %g", v, worst);
}

// Masked, non-finite and tiny rows: valid ids, no crash.
static void test_edges(void) {
    Sampler s1, s4;
    CHECK(sampler_init(&s1, 1) == 0 && sampler_init(&s4, 4) == 0, "sampler_init small");
    Sampler bad;
    CHECK(sampler_init(&bad, 0) == -1, "vocab 0 is refused");
    sampler_free(&bad);
    SamplerParams p = sampler_defaults(), flat = params(1, 0, 1, 0);
    float one[1] = {3.0f}, lp;
    CHECK(sample(&s1, one, &p, 1, 0, 0, &lp) == 0 && fabsf(lp) < 1e-7f, "vocab 1");
    float masked[4] = {-INFINITY, 1.0f, -INFINITY, 1.0f};
    int ok = 1;
    for (uint32_t st = 0; st < 200; st++) {
        int t = sample(&s4, masked, &flat, 1, 0, st, &lp);
        ok &= (t == 1 || t == 3) && fabsf(lp - logf(0.5f)) < 1e-6f;
    }
    CHECK(ok, "-inf tokens are never drawn; log-prob of the rest is log 1/2");
    float all_masked[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    CHECK(sample(&s4, all_masked, &flat, 1, 0, 0, &lp) == 0 && lp == -INFINITY,
          "all masked: token 0, log-prob -inf");
    float with_inf[4] = {0.0f, INFINITY, 1.0f, INFINITY};
    CHECK(sample(&s4, with_inf, &flat, 1, 0, 0, &lp) == 1 && lp == 0.0f, "+inf wins");
    float with_nan[4] = {NAN, 1.0f, NAN, 0.5f};
    ok = 1;
    for (uint32_t st = 0; st < 200; st++) {
        int t = sample(&s4, with_nan, &flat, 1, 0, st, NULL);
        ok &= t == 1 || t == 3;
    }
    CHECK(ok, "NaN logits count as -inf");
    float tiny_t[4] = {1.0f, 1.0f + 1e-6f, 0.0f, 1.0f};
    SamplerParams cold = params(1e-30f, 0, 0.95f, 0.05f);
    CHECK(sample(&s4, tiny_t, &cold, 1, 0, 0, NULL) == 1, "a tiny temperature is argmax");
    sampler_free(&s1);
    sampler_free(&s4);
}

// Not a test: how long one draw takes at the default model's vocab (the controller calls this
// once per chain per step).
static void report_speed(Sampler *s) {
    static float l[MAXV];
    fill_logits(l, MAXV, 3, 8.0f);
    SamplerParams p = sampler_defaults();
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int sink = 0;
    for (uint32_t st = 0; st < 200; st++) sink += sample(s, l, &p, 1, 0, st, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / 200;
    printf("sampler: %.0f us per draw at vocab %d with default settings (%d)\n", us, MAXV,
           sink & 1);
}

// ---- token confidence ---------------------------------------------------------------------------

// float64 reference: log-softmax of the fp32 terms d_i = (l_i - max) / T, sorted with qsort.
static void ref_conf(const float *l, int v, float temp, int k, double *conf, double *ent) {
    static double d[MAXV];
    float lmax = -INFINITY, t = temp > 0 ? temp : 1.0f;
    for (int i = 0; i < v; i++) lmax = l[i] > lmax ? l[i] : lmax;
    double z = 0, pd = 0;
    int n = 0;
    for (int i = 0; i < v; i++)
        if (l[i] > -INFINITY) d[n++] = (double)((l[i] - lmax) / t);
    for (int i = 0; i < n; i++) z += exp(d[i]);
    for (int i = 0; i < n; i++) pd += exp(d[i]) / z * d[i];
    g_desc_sort(d, n);
    int kk = k < n ? k : n;
    double top = 0;
    for (int j = 0; j < kk; j++) top += d[j];
    *conf = log(z) - top / kk;
    *ent = log(z) - pd;
}

static void test_confidence(Sampler *s, int v) {
    static float l[MAXV];
    double worst = 0;
    int bad = 0, cases = 0;
    const float temps[] = {0, 0.5f, 0.7f, 1, 1.5f};
    const int ks[] = {1, 5, 20, 64};
    for (uint32_t c = 0; c < 40; c++) {
        for (int i = 0; i < v; i++) // normal-ish logits, some ties, some masked
            l[i] = (float)(rng_uniform(11, c, i) * 20 - 10);
        for (int i = 0; i < v / 10; i++) l[rng_bits(12, c, i) % v] = 3.0f; // ties
        if (c % 3 == 0)
            for (int i = 0; i < v / 4; i++) l[rng_bits(13, c, i) % v] = -INFINITY;
        for (int a = 0; a < 5; a++)
            for (int b = 0; b < 4; b++) {
                double rc, re;
                ref_conf(l, v, temps[a], ks[b], &rc, &re);
                TokenConf got = token_confidence(s, l, temps[a], ks[b]);
                double e = fmax(fabs(got.conf - rc) / fmax(1, fabs(rc)),
                                fabs(got.entropy - re) / fmax(1, fabs(re)));
                worst = fmax(worst, e);
                if (!(e < 2e-6) && bad++ < 3)
                    fprintf(stderr, "case %u T=%g k=%d: conf %g vs %g, entropy %g vs %g\n", c,
                            temps[a], ks[b], got.conf, rc, got.entropy, re);
                cases++;
            }
    }
    // fp32 terms, exp to 2 ulp, double sums: agreement to a few parts in 1e7 of the value
    CHECK(bad == 0, "confidence/entropy vs float64: %d of %d off (worst rel %g)", bad, cases,
          worst);
    // a one-hot row: the top token has p = 1 - tiny, conf = mean of -log p over k tokens
    for (int i = 0; i < v; i++) l[i] = -INFINITY;
    l[7] = 0;
    TokenConf one = token_confidence(s, l, 0.7f, 5);
    CHECK(one.conf == 0 && one.entropy == 0, "a single finite logit: conf 0 (k' = 1), entropy 0");
    l[8] = 0;
    TokenConf two = token_confidence(s, l, 1, 5);
    CHECK(fabs(two.conf - log(2)) < 1e-6 && fabs(two.entropy - log(2)) < 1e-6,
          "two equal logits: conf = entropy = ln 2 (%g, %g)", two.conf, two.entropy);
    for (int i = 0; i < v; i++) l[i] = -INFINITY;
    TokenConf none = token_confidence(s, l, 1, 5);
    CHECK(isnan(none.conf) && isnan(none.entropy), "no finite logit: NaN");
    // a flat row: every -log p = ln v
    for (int i = 0; i < v; i++) l[i] = 1.5f;
    TokenConf flat = token_confidence(s, l, 0.3f, 5);
    CHECK(fabs(flat.conf - log(v)) < 1e-5 && fabs(flat.entropy - log(v)) < 1e-5,
          "flat: conf = entropy = ln vocab");
}

int main(void) {
    Sampler s;
    if (sampler_init(&s, MAXV) != 0) {
        fprintf(stderr, "FAIL sampler_init\n");
        return 1;
    }
    Sampler small;
    sampler_init(&small, 8);
    test_greedy(&small);
    test_truncation_sets(&small);
    sampler_free(&small);
    Sampler s10;
    sampler_init(&s10, 10);
    test_frequencies(&s10);
    sampler_free(&s10);
    Sampler s1000;
    sampler_init(&s1000, 1000);
    test_determinism(&s1000);
    test_against_reference(&s1000, 1000, 6, 200);
    test_logprob(&s1000, 1000);
    test_confidence(&s1000, 1000);
    sampler_free(&s1000);
    test_against_reference(&s, MAXV, 4, FULL_VOCAB_STEPS);
    test_logprob(&s, MAXV);
    test_edges();
    report_speed(&s);
    sampler_free(&s);
    return check_done("test_sampler");
}
