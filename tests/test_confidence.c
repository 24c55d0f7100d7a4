// test_confidence.c - confidence trace scores and DeepConf's stop (chains/confidence.h) against
// brute force:
//   - mean, lowest group, bottom-10% group and tail confidence recomputed naively;
//   - the online stop fires exactly at the first window whose mean is below the threshold;
//   - the warm-up threshold is the ceil(keep * n)-th highest lowest-group confidence;
//   - the AUROC against a pairwise count.
#include "check.h"
#include "eval/methods.h"
#include "rng.h"
#include "chains/confidence.h"

#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void brute_scores(const float *c, int n, int w, int tail, double *out) {
    double g[512], s = 0, t = 0;
    int W = w < n ? w : n, ng = n - W + 1, t0 = n > tail ? n - tail : 0;
    for (int i = 0; i < n; i++) s += c[i], t += i >= t0 ? c[i] : 0;
    for (int j = 0; j < ng; j++) {
        double x = 0;
        for (int i = j; i < j + W; i++) x += c[i];
        g[j] = x / W;
    }
    qsort(g, (size_t)ng, sizeof *g, cmp_d);
    int m = ng / 10 ? ng / 10 : 1;
    double low = 0;
    for (int j = 0; j < m; j++) low += g[j];
    out[TRACE_MEAN] = s / n, out[TRACE_LOWEST] = g[0], out[TRACE_BOTTOM10] = low / m;
    out[TRACE_TAIL] = t / (n - t0);
}

static void test_scores(void) {
    float c[400];
    int bad = 0, cases = 0;
    for (uint32_t k = 0; k < 200; k++) {
        int n = 1 + (int)(rng_bits(21, k, 0) % 300), w = 1 + (int)(rng_bits(21, k, 1) % 40);
        int tail = 1 + (int)(rng_bits(21, k, 2) % 40);
        for (int i = 0; i < n; i++) c[i] = (float)(rng_uniform(22, k, (uint32_t)i) * 12);
        TraceParams p = {w, tail};
        double got[TRACE_N_SCORES], want[TRACE_N_SCORES];
        trace_scores(c, n, &p, got);
        brute_scores(c, n, w, tail, want);
        for (int s = 0; s < TRACE_N_SCORES; s++) {
            if (!(fabs(got[s] - want[s]) < 1e-9) && bad++ < 3)
                fprintf(stderr, "case %u n=%d w=%d: %s %.17g vs %.17g\n", k, n, w,
                        trace_score_name((TraceScore)s), got[s], want[s]);
            cases++;
        }
    }
    CHECK(bad == 0, "trace scores: %d of %d differ from brute force", bad, cases);
    double sc[TRACE_N_SCORES];
    TraceParams p = {16, 16};
    CHECK(trace_scores(c, 0, &p, sc) == 0 && isnan(sc[TRACE_MEAN]) && isnan(sc[TRACE_LOWEST]),
          "an empty trace scores NaN");
    CHECK(trace_parse_score("bottom10") == TRACE_BOTTOM10 && trace_parse_score("x") == -1, "names");
}

static void test_first_below(void) {
    float c[200];
    int bad = 0;
    for (uint32_t k = 0; k < 300; k++) {
        int n = 1 + (int)(rng_bits(23, k, 0) % 200), w = 1 + (int)(rng_bits(23, k, 1) % 20);
        for (int i = 0; i < n; i++) c[i] = (float)(4 + rng_uniform(24, k, (uint32_t)i) * 6);
        double thr = 5 + rng_uniform(25, k, 0) * 3;
        int want = -1; // the first t >= w-1 whose window mean is below thr
        for (int t = w - 1; t < n && want < 0; t++) {
            double s = 0;
            for (int i = t - w + 1; i <= t; i++) s += c[i];
            if (s / w < thr) want = t;
        }
        bad += trace_first_below(c, n, w, thr) != want;
    }
    CHECK(bad == 0, "the online stop fires at the first window below the threshold (%d off)", bad);
    float flat[10] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
    CHECK(trace_first_below(flat, 10, 4, 5.0) == -1 && trace_first_below(flat, 10, 4, 5.01) == 3 &&
              trace_first_below(flat, 3, 4, 9) == -1,
          "a window equal to the threshold does not stop; a chain shorter than W is never cut");
}

static void test_threshold(void) {
    double v[] = {3, 9, 1, 7, 5, 8, 2, 6, 4, 10};
    double a[10];
    memcpy(a, v, sizeof v);
    CHECK(deepconf_threshold(a, 10, 0.1) == 10, "keep 10%% of 10: the highest");
    memcpy(a, v, sizeof v);
    CHECK(deepconf_threshold(a, 10, 0.9) == 2, "keep 90%% of 10: the 9th highest");
    memcpy(a, v, sizeof v);
    CHECK(deepconf_threshold(a, 8, 0.5) == 6, "keep 50%% of the first 8 {3,9,1,7,5,8,2,6}: 6");
    CHECK(isnan(deepconf_threshold(a, 0, 0.5)), "no warm-up: no threshold");
}

static void test_auroc(void) {
    double s[60];
    int y[60], bad = 0;
    for (uint32_t k = 0; k < 50; k++) {
        int n = 2 + (int)(rng_bits(26, k, 0) % 58);
        for (int i = 0; i < n; i++)
            s[i] = (double)(rng_bits(27, k, i) % 7), y[i] = (int)(rng_bits(28, k, i) % 2);
        double num = 0, den = 0; // every (positive, negative) pair
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (y[i] && !y[j]) den++, num += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
        double got = auroc(s, y, n);
        bad += den ? !(fabs(got - num / den) < 1e-12) : !isnan(got);
    }
    CHECK(bad == 0, "AUROC equals the pairwise count (%d off)", bad);
}

int main(void) {
    test_scores();
    test_first_below();
    test_threshold();
    test_auroc();
    return check_done("test_confidence");
}
