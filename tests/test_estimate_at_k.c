// test_estimate_at_k.c - pass@k and vote@k estimators (eval/estimate_at_k.h) against brute force.
//
// The brute force enumerates subsets as bitmasks and votes each one with vote_aggregate (the
// string tally the controller uses), a different path from eval/estimate_at_k.c's combination walk
// and integer tally; pass@k is counted over the same subsets.
#include "check.h"
#include "eval/estimate_at_k.h"
#include "rng.h"
#include "chains/vote.h"

#include <string.h>

typedef struct {
    double pass, vote[4];
    long subsets;
} Brute;

// Subsets of size f + k that hold samples 0..f-1 (the fixed ones); f = 0 is plain vote@k.
static Brute brute_fixed(const EstSample *s, int n, int f, int k) {
    Brute b = {0, {0, 0, 0, 0}, 0};
    VoteEntry e[16];
    unsigned fixed = (1u << f) - 1;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        if (__builtin_popcount(mask) != f + k || (mask & fixed) != fixed) continue;
        int m = 0, any = 0;
        for (int i = 0; i < n; i++) {
            if (!(mask >> i & 1)) continue;
            e[m++] = (VoteEntry){s[i].answer, s[i].sum_logprob, s[i].n_tokens, s[i].conf};
            any |= s[i].correct;
        }
        b.pass += any;
        for (int meth = 0; meth < 4; meth++) {
            VoteResult r;
            vote_aggregate(e, m, (VoteMethod)meth, &r);
            int ok = 0; // the winner is correct if a sample with that answer is
            for (int i = 0; i < n && r.winner; i++)
                if (s[i].answer && !strcmp(s[i].answer, r.winner)) ok |= s[i].correct;
            b.vote[meth] += ok;
            vote_result_free(&r);
        }
        b.subsets++;
    }
    b.pass /= b.subsets;
    for (int meth = 0; meth < 4; meth++) b.vote[meth] /= b.subsets;
    return b;
}

static Brute brute(const EstSample *s, int n, int k) {
    return brute_fixed(s, n, 0, k);
}

// Random small cases with many ties: answers from a 3-letter alphabet or none, log-probs and
// lengths from small sets so that votes, weights and totals collide.
static void make_case(EstSample *s, int n, uint32_t c) {
    static const char *answers[] = {"A", "B", "C", NULL};
    for (int i = 0; i < n; i++) {
        int a = (int)(rng_bits(7, c, (uint32_t)(4 * i)) % 4);
        s[i].answer = answers[a];
        s[i].correct = a == 0;
        s[i].sum_logprob = -(double)(rng_bits(7, c, (uint32_t)(4 * i + 1)) % 4);
        s[i].n_tokens = 1 + (int)(rng_bits(7, c, (uint32_t)(4 * i + 2)) % 3);
        uint64_t r = rng_bits(7, c, (uint32_t)(4 * i + 3)) % 5; // small set: ties; 4 is a NaN
        s[i].conf = r == 4 ? NAN : (double)r;
    }
}

static void test_against_brute(void) {
    EstSample s[12];
    int checked = 0, bad = 0;
    for (uint32_t c = 0; c < 40; c++) {
        int n = 1 + (int)(c % 12);
        make_case(s, n, c);
        for (int k = 1; k <= n; k++) {
            EstAtK est;
            Brute b = brute(s, n, k);
            int rc = est_at_k(s, n, k, &est);
            double tok = 0;
            for (int i = 0; i < n; i++) tok += s[i].n_tokens;
            int ok = rc == 0 && est.exact && est.subsets == b.subsets &&
                     fabs(est.pass - b.pass) < 1e-12 && fabs(est.majority - b.vote[0]) < 1e-12 &&
                     fabs(est.weighted - b.vote[1]) < 1e-12 && fabs(est.best - b.vote[2]) < 1e-12 &&
                     fabs(est.conf - b.vote[3]) < 1e-12 && fabs(est.tokens - k * tok / n) < 1e-9;
            if (!ok && bad++ < 3)
                fprintf(stderr, "case %u n=%d k=%d: est %g %g %g %g, brute %g %g %g %g\n", c, n, k,
                        est.pass, est.majority, est.weighted, est.best, b.pass, b.vote[0],
                        b.vote[1], b.vote[2]);
            checked++;
        }
    }
    CHECK(bad == 0, "%d of %d (case, k) differ from brute force", bad, checked);
}

// A known first wave of f samples plus k of the rest (the policy fitter's estimate).
static void test_fixed_against_brute(void) {
    EstSample s[12];
    int checked = 0, bad = 0;
    for (uint32_t c = 100; c < 140; c++) {
        int n = 2 + (int)(c % 11);
        make_case(s, n, c);
        for (int f = 1; f < n; f++)
            for (int k = 0; k <= n - f; k++) {
                EstAtK est;
                Brute b = brute_fixed(s, n, f, k);
                double tf = 0, tp = 0;
                for (int i = 0; i < n; i++) *(i < f ? &tf : &tp) += s[i].n_tokens;
                int rc = est_with_fixed(s, n, f, k, &est);
                int ok = rc == 0 && est.exact && est.k == f + k && est.subsets == b.subsets &&
                         fabs(est.pass - b.pass) < 1e-12 &&
                         fabs(est.majority - b.vote[0]) < 1e-12 &&
                         fabs(est.weighted - b.vote[1]) < 1e-12 &&
                         fabs(est.best - b.vote[2]) < 1e-12 && fabs(est.conf - b.vote[3]) < 1e-12 &&
                         fabs(est.tokens - (tf + k * tp / (n - f))) < 1e-9;
                if (!ok && bad++ < 3)
                    fprintf(stderr, "case %u n=%d f=%d k=%d: est %g %g, brute %g %g\n", c, n, f, k,
                            est.pass, est.majority, b.pass, b.vote[0]);
                checked++;
            }
    }
    CHECK(bad == 0, "%d of %d (case, f, k) differ from brute force", bad, checked);
    EstAtK e;
    CHECK(est_with_fixed(s, 4, 0, 0, &e) == -1 && est_with_fixed(s, 4, 2, 3, &e) == -1 &&
              est_with_fixed(s, 4, 5, 0, &e) == -1,
          "bad arguments");
}

static double choose(int n, int k) {
    double c = 1;
    for (int i = 1; i <= k; i++) c = c * (n - k + i) / i;
    return c;
}

static void test_pass_at_k(void) {
    double worst = 0;
    for (int n = 1; n <= 30; n++)
        for (int c = 0; c <= n; c++)
            for (int k = 1; k <= n; k++) {
                double want = 1 - choose(n - c, k) / choose(n, k); // C(m, k) = 0 for m < k
                if (n - c < k) want = 1;
                double e = fabs(est_pass_at_k(n, c, k) - want);
                worst = e > worst ? e : worst;
            }
    CHECK(worst < 1e-12, "pass@k off by %g", worst);
    CHECK(est_pass_at_k(10, 0, 3) == 0 && est_pass_at_k(10, 10, 1) == 1, "ends");
    CHECK(fabs(est_pass_at_k(10, 3, 1) - 0.3) < 1e-15, "pass@1 = c / n");
    CHECK(est_pass_at_k(5, 2, 0) == -1 && est_pass_at_k(5, 2, 6) == -1 &&
              est_pass_at_k(5, 6, 1) == -1,
          "bad arguments");
    EstAtK e;
    EstSample one = {"1", 1, -1, 1, 0};
    CHECK(est_at_k(&one, 1, 2, &e) == -1 && est_at_k(&one, 1, 0, &e) == -1, "k outside 1..n");
}

// Beyond EST_MAX_SUBSETS: a fixed-seed sample. With two answers and odd k there are no ties,
// so majority@k is a hypergeometric tail computed here exactly.
static void test_sampled(void) {
    enum { N = 30, K = 9, GOOD = 17 };
    EstSample s[N];
    for (int i = 0; i < N; i++) {
        int good = (i * 7) % N < GOOD; // interleaved
        s[i] = (EstSample){good ? "12" : "15", good, -5.0, 10, 0};
    }
    double want = 0;
    for (int j = K / 2 + 1; j <= K; j++)
        want += choose(GOOD, j) * choose(N - GOOD, K - j) / choose(N, K);
    EstAtK a, b;
    CHECK(est_at_k(s, N, K, &a) == 0 && !a.exact && a.subsets == EST_MAX_SUBSETS, "sampled");
    double sd = sqrt(want * (1 - want) / EST_MAX_SUBSETS);
    CHECK(fabs(a.majority - want) < 4 * sd, "majority@%d %g, exact %g", K, a.majority, want);
    CHECK(est_at_k(s, N, K, &b) == 0 && memcmp(&a, &b, sizeof a) == 0, "fixed seed: repeatable");
    CHECK(fabs(a.pass - est_pass_at_k(N, GOOD, K)) < 1e-15, "pass@k stays exact");
    EstAtK c;
    CHECK(est_at_k(s, N, 2, &c) == 0 && c.exact && c.subsets == 435, "C(30, 2) is enumerated");
}

int main(void) {
    test_against_brute();
    test_fixed_against_brute();
    test_pass_at_k();
    test_sampled();
    return check_done("test_estimate_at_k");
}
