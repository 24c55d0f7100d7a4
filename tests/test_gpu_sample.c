// test_gpu_sample.c - the fused sampler (kernels/sample.cu) against the CPU sampler
// (sampler/sampler.c) on identical logits and RNG counters: the same token, exactly (sampler.h
// allows a difference only when a cumulative sum lies within rounding of a threshold, which
// random inputs essentially never hit), and the log-prob within 1e-5 abs + 1e-6 rel (double
// sums in another order, then rounded to fp32).
//
// The rows cover both of the kernel's paths: peaked and real-model-like rows (a few dozen
// candidates pass the filter), flat rows at high temperature without truncation and top-k past
// the candidate buffer (the threshold-search fallback), a small vocabulary (every token a
// candidate), exact ties, masked (-inf) and NaN logits, and signed zeros: -0.0 and +0.0 are the
// same logit, so a tie between them goes to the lower id (the CPU's rule; the kernel once
// ordered +0.0 first).
// Without a CUDA device the tests report SKIP and the binary exits 0.
#include "cuda/forward_cuda.h"
#include "gpu_util.h"
#include "kernels.h"
#include "sampler.h"

#include <string.h>

static const SamplerParams PRESETS[] = {
    // last: token confidence over the k most likely
    {0.0f, 0, 1.0f, 0.0f, 5},        // greedy
    {0.7f, 0, 0.95f, 0.05f, 5},      // the defaults
    {1.0f, 40, 1.0f, 0.0f, 0},       // top-k only
    {0.8f, 40, 0.9f, 0.0f, 20},      // top-k then top-p (renormalised over U)
    {1.5f, 0, 1.0f, 0.0f, 1},        // hot, no truncation: the whole vocab is the kept set
    {0.6f, 0, 0.5f, 0.0f, 64},       // top-p only
    {1.0f, 0, 1.0f, 0.2f, 5},        // min-p only
    {1.0f, 1, 1.0f, 0.0f, 3},        // top-k 1 = greedy
    {0.9f, 0, 0.0f, 0.0f, 0},        // top-p 0 keeps the first token
    {1.0f, 100000, 0.99f, 0.01f, 7}, // top-k >= vocab is off
    {1.0f, 1500, 1.0f, 0.0f, 5},     // a large top-k that still fits the candidate buffer
    {0.9f, 3000, 0.95f, 0.0f, 5},    // a top-k past it (fallback)
    {1.2f, 0, 0.99f, 0.0f, 5},       // a wide top-p
};
#define N_PRESETS ((int)(sizeof PRESETS / sizeof PRESETS[0]))

enum { PEAKED, FLAT, TIES, MASKED, REALISTIC, ZEROS, N_KINDS };

// One row of the given kind.
static void make_row(float *l, int vocab, int kind) {
    for (int j = 0; j < vocab; j++) {
        float v = kind == FLAT ? 0.3f * frand() : 3.0f * value();
        if (kind == TIES) v = floorf(v * 2.0f) * 0.5f;
        if (kind == MASKED && irand(50) == 0) v = -INFINITY;
        if (kind == REALISTIC) v = 12.0f - 2.5f * logf(1.0f + (float)irand(vocab)) + 0.3f * frand();
        if (kind == ZEROS) v = -1.0f - 10.0f * (frand() + 1.0f);
        l[j] = v;
    }
    if (kind == MASKED) l[irand(vocab)] = NAN;
    if (kind == PEAKED) l[irand(vocab)] += 12.0f;
    if (kind == ZEROS) { // the maximum is a tie between -0.0 and +0.0 at two ids
        int a = irand(vocab), b = irand(vocab);
        l[a] = irand(2) ? -0.0f : 0.0f;
        l[b] = signbit(l[a]) ? 0.0f : -0.0f;
    }
}

// n rows of kinds cycling through `kinds` with presets cycling through PRESETS.
// Token confidence and entropy of the same rows (confidence.cu vs sampler.c token_confidence):
// fp32 terms on both sides, expf vs the CPU's polynomial (2 ulp), double sums in another order
// -> within 1e-5 abs + 1e-5 rel; NaN where conf_k = 0 or no logit is finite.
static int conf_close(float got, float want) {
    return isnan(want) ? isnan(got) : fabsf(got - want) <= 1e-5f + 1e-5f * fabsf(want);
}

static void check_confidence(Sampler *s, const float *logits, const SampleRow *da,
                             const SampleRow *args, int n, int vocab, int ld, const char *what) {
    float *dl = upload(logits, sizeof(float) * n * ld);
    TokenConf *dconf = dmalloc(sizeof(TokenConf) * n), *conf = malloc(sizeof(TokenConf) * n);
    CHECK(token_confidence_cuda(dconf, dl, da, n, vocab, ld, 0) == cudaSuccess &&
              cudaDeviceSynchronize() == cudaSuccess,
          "confidence launch");
    download(conf, dconf, sizeof(TokenConf) * n);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * ld; // a padded row's tail is not a token
        TokenConf want = args[i].p.conf_k > 0
                             ? token_confidence(s, row, args[i].p.temperature, args[i].p.conf_k)
                             : (TokenConf){NAN, NAN};
        int good = conf_close(conf[i].conf, want.conf) && conf_close(conf[i].entropy, want.entropy);
        ok += good;
        if (!good)
            fprintf(stderr, "  %s confidence row %d: gpu %g/%g cpu %g/%g\n", what, i, conf[i].conf,
                    conf[i].entropy, want.conf, want.entropy);
    }
    CHECK(ok == n, "%s: token confidence of %d of %d rows differs", what, n - ok, n);
    cudaFree(dl), cudaFree(dconf);
    free(conf);
}

// With ld > vocab a row is a padded vocabulary: columns [vocab, ld) hold logits far above the
// rest and must never be drawn nor enter the log-prob (the CPU sampler sees the first vocab).
static void test_sample(int vocab, int ld, int n, const int *kinds, int n_kinds, const char *what) {
    float *logits = malloc(sizeof(float) * n * ld);
    SampleRow *args = malloc(sizeof(SampleRow) * n);
    for (int i = 0; i < n; i++) {
        make_row(logits + (size_t)i * ld, vocab, kinds[i % n_kinds]);
        for (int j = vocab; j < ld; j++) logits[(size_t)i * ld + j] = 1e4f; // would win every draw
        SampleRow a = {PRESETS[i % N_PRESETS], 1000u + (uint64_t)i, (uint32_t)i * 7u, (uint32_t)i};
        args[i] = a;
    }
    float *dl = upload(logits, sizeof(float) * n * ld);
    SampleRow *da = upload(args, sizeof(SampleRow) * n);
    int *dids = dmalloc(sizeof(int) * n);
    float *dlp = dmalloc(sizeof(float) * n);
    CHECK(sample_cuda(dids, dlp, dl, da, n, vocab, ld, 0) == cudaSuccess &&
              cudaDeviceSynchronize() == cudaSuccess,
          "sample launch");
    int *ids = malloc(sizeof(int) * n);
    float *lps = malloc(sizeof(float) * n);
    download(ids, dids, sizeof(int) * n);
    download(lps, dlp, sizeof(float) * n);
    Sampler s;
    sampler_init(&s, vocab);
    int same = 0, lp_ok = 0, padded = 0;
    for (int i = 0; i < n; i++) {
        float lp;
        padded += ids[i] < 0 || ids[i] >= vocab;
        int t = sample(&s, logits + (size_t)i * ld, &args[i].p, args[i].seed, args[i].chain,
                       args[i].step, &lp);
        if (t == ids[i])
            same++;
        else
            fprintf(stderr, "  %s row %d (kind %d, preset %d): gpu %d cpu %d\n", what, i,
                    kinds[i % n_kinds], i % N_PRESETS, ids[i], t);
        if (fabsf(lps[i] - lp) <= 1e-5f + 1e-6f * fabsf(lp) || (isinf(lp) && lp == lps[i]))
            lp_ok++;
        else
            fprintf(stderr, "  %s log-prob row %d: gpu %g cpu %g\n", what, i, lps[i], lp);
    }
    printf("  sample %-22s vocab=%-6d rows=%-4d %d same tokens, %d log-probs within tol\n", what,
           vocab, n, same, lp_ok);
    CHECK(padded == 0, "%s: %d of %d ids outside [0, %d)", what, padded, n, vocab);
    CHECK(same == n, "%s: %d of %d tokens differ (vocab %d)", what, n - same, n, vocab);
    CHECK(lp_ok == n, "%s: %d of %d log-probs differ", what, n - lp_ok, n);
    check_confidence(&s, logits, da, args, n, vocab, ld, what);
    sampler_free(&s);
    cudaFree(dl), cudaFree(da), cudaFree(dids), cudaFree(dlp);
    free(logits), free(args), free(ids), free(lps);
}

// Greedy over signed-zero ties: the lower id wins whichever zero it holds.
static void test_signed_zero_greedy(void) {
    enum { V = 4096, N = 8 };
    float *l = malloc(sizeof(float) * N * V);
    SampleRow args[N];
    int want[N];
    for (int i = 0; i < N; i++) {
        float *r = l + (size_t)i * V;
        for (int j = 0; j < V; j++) r[j] = -1.0f - (float)(j % 97);
        const int lo = 100 + 37 * i, hi = lo + 1 + 401 * i;
        r[lo] = i % 2 ? -0.0f : 0.0f; // the lower id holds -0.0 in odd rows
        r[hi] = i % 2 ? 0.0f : -0.0f;
        want[i] = lo;
        SampleRow a = {{0.0f, 0, 1.0f, 0.0f, 0}, 1, 0, 0};
        args[i] = a;
    }
    float *dl = upload(l, sizeof(float) * N * V);
    SampleRow *da = upload(args, sizeof args);
    int *dids = dmalloc(sizeof(int) * N), ids[N];
    float *dlp = dmalloc(sizeof(float) * N);
    CHECK(sample_cuda(dids, dlp, dl, da, N, V, V, 0) == cudaSuccess, "sample launch");
    download(ids, dids, sizeof ids);
    int bad = 0;
    for (int i = 0; i < N; i++) bad += ids[i] != want[i];
    CHECK(bad == 0, "greedy on a -0.0/+0.0 tie picks the lower id: %d of %d rows differ", bad, N);
    cudaFree(dl), cudaFree(da), cudaFree(dids), cudaFree(dlp);
    free(l);
}

int main(void) {
    if (!forward_cuda_available()) {
        SKIP("no CUDA device: sampler parity tests not run");
        return check_done("test_gpu_sample");
    }
    const int all[] = {PEAKED, FLAT, TIES, MASKED, REALISTIC, ZEROS};
    const int real[] = {REALISTIC, PEAKED}, flat[] = {FLAT}, zeros[] = {ZEROS};
    test_sample(1001, 1001, 120, all, N_KINDS, "all kinds");
    test_sample(49152, 49152, 156, all, N_KINDS, "all kinds");
    test_sample(32000, 32000, 78, all, N_KINDS, "all kinds");
    test_sample(49152, 49152, 130, real, 2, "real-model-like");
    test_sample(49152, 49152, 26, flat, 1, "flat (fallback)");
    test_sample(49152, 49152, 52, zeros, 1, "signed zeros");
    test_sample(1001, 1088, 120, all, N_KINDS, "padded vocabulary");
    test_sample(49150, 49152, 60, real, 2, "padded vocabulary");
    test_signed_zero_greedy();
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "no asynchronous error");
    return check_done("test_gpu_sample");
}
