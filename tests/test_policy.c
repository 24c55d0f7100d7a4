// test_policy.c - the compute-optimal policy (policy.h, policy_fit.h, eval/replay.h):
//   - the knapsack equals brute force over every allocation, on random option tables;
//   - the logistic fit recovers known coefficients;
//   - the fitter, on a constructed calibration set with a known optimum, gives the questions
//     that more chains fix their chains and stops the settled and the hopeless ones;
//   - the policy file round-trips and hostile ones are refused with a message;
//   - the replays (adaptive rule, ESC window, policy) on constructed samples.
#include "check.h"
#include "eval/replay.h"
#include "eval/policy_fit.h"
#include "rng.h"

#include <string.h>

// ---- knapsack
// -------------------------------------------------------------------------------------

static double brute_best(double v[][6], double c[][6], const int *n_opt, int n_bins, double budget,
                         double *best_cost) {
    double best = -1;
    int pick[5] = {0};
    for (;;) {
        double val = 0, cost = 0;
        for (int b = 0; b < n_bins; b++) val += v[b][pick[b]], cost += c[b][pick[b]];
        if (cost <= budget + 1e-9 &&
            (val > best + 1e-12 || (val > best - 1e-12 && cost < *best_cost)))
            best = val, *best_cost = cost;
        int b = 0;
        while (b < n_bins && ++pick[b] == n_opt[b]) pick[b++] = 0;
        if (b == n_bins) return best;
    }
}

static void test_knapsack(void) {
    int bad = 0, cases = 0;
    for (uint32_t t = 0; t < 300; t++) {
        double v[5][6], c[5][6];
        const double *vp[5], *cp[5];
        int n_opt[5], n_bins = 1 + (int)(rng_bits(3, t, 0) % 5), choice[5];
        for (int b = 0; b < n_bins; b++) {
            n_opt[b] = 1 + (int)(rng_bits(3, t, 1 + b) % 6);
            for (int o = 0; o < n_opt[b]; o++) {
                v[b][o] = (double)(rng_bits(4, t, 10 * b + o) % 50) / 7; // ties happen
                c[b][o] = (double)(rng_bits(5, t, 10 * b + o) % 40);
            }
            vp[b] = v[b], cp[b] = c[b];
        }
        double budget = (double)(rng_bits(6, t, 0) % 120), want_cost = 1e300;
        double want = brute_best(v, c, n_opt, n_bins, budget, &want_cost);
        int rc = policy_knapsack(vp, cp, n_opt, n_bins, budget, choice);
        double got = 0, cost = 0;
        for (int b = 0; rc == 0 && b < n_bins; b++) got += v[b][choice[b]], cost += c[b][choice[b]];
        int ok = want < 0 ? rc == -1
                          : rc == 0 && fabs(got - want) < 1e-9 && cost <= budget &&
                                fabs(cost - want_cost) < 1e-9;
        if (!ok && bad++ < 3)
            fprintf(stderr, "case %u: knapsack rc %d value %g cost %g, brute %g cost %g\n", t, rc,
                    got, cost, want, want_cost);
        cases++;
    }
    CHECK(bad == 0, "%d of %d knapsack cases differ from brute force", bad, cases);
    // fractional costs: units of budget / 2^16
    double v0[] = {0, 1}, c0[] = {0.3, 1.7}, v1[] = {0, 2}, c1[] = {0.1, 1.3};
    const double *vp[] = {v0, v1}, *cp[] = {c0, c1};
    int n_opt[] = {2, 2}, choice[2];
    CHECK(policy_knapsack(vp, cp, n_opt, 2, 3.0, choice) == 0 && choice[0] == 1 && choice[1] == 1,
          "fractional: both fit in 3.0 (1.7 + 1.3)");
    CHECK(policy_knapsack(vp, cp, n_opt, 2, 2.9, choice) == 0 && choice[0] == 0 && choice[1] == 1,
          "fractional: 2.9 takes the better one (0.3 + 1.3)");
    CHECK(policy_knapsack(vp, cp, n_opt, 2, 0.3, choice) == -1, "nothing fits below 0.4");
}

// ---- logistic
// -------------------------------------------------------------------------------------

static void test_logistic(void) {
    enum { N = 400 };
    WaveFeatures f[N];
    double y[N], want[4] = {-1.0, 2.0, 0.5, 1.5}, got[4];
    for (int i = 0; i < N; i++) {
        f[i] =
            (WaveFeatures){(double)(rng_bits(9, i, 0) % 5) / 4, (double)(rng_bits(9, i, 1) % 3) / 2,
                           -(double)(rng_bits(9, i, 2) % 100) / 50};
        double z =
            want[0] + want[1] * f[i].share + want[2] * f[i].answered + want[3] * f[i].mean_lp;
        y[i] = 1 / (1 + exp(-z)); // fractional targets exactly on the model: the MLE is `want`
    }
    policy_logistic_fit(f, y, N, 0, got);
    double err = 0;
    for (int j = 0; j < 4; j++) err = fmax(err, fabs(got[j] - want[j]));
    CHECK(err < 1e-6, "logistic fit recovers its coefficients (max error %g)", err);
}

// ---- a constructed calibration set
// -----------------------------------------------------------------

// Each question: n_max = 4 chains in arm T=10 (10 tokens each) and arm T=20 (20 tokens each).
//   easy:     every chain answers "1" (right), confident (mean log-prob -0.1)
//   medium:   chain 0 of both arms answers "2" (wrong, -1.0); arm 20's chains 1-3 answer "1"
//             (right, -0.5), arm 10's answer "2", "3", "4"
//   hopeless: every chain answers "9" (wrong, -2.0)
enum { EASY, MEDIUM, HOPELESS };
static EvalChain chain_of(int think, int index, const char *answer, double mean_lp) {
    EvalChain c = {0};
    c.think = think, c.index = index, c.tokens = think;
    c.answer = (char *)answer, c.correct = !strcmp(answer, "1");
    c.sum_logprob = mean_lp * c.tokens;
    return c;
}

static void make_question(EvalQuestion *q, EvalChain *buf, int kind, int id) {
    static const char *med10[] = {"2", "2", "3", "4"}, *med20[] = {"2", "1", "1", "1"};
    memset(q, 0, sizeof *q);
    q->id = id, q->reference = "1", q->chains = buf, q->n_chains = 8, q->level = -1;
    for (int a = 0; a < 2; a++)
        for (int i = 0; i < 4; i++) {
            int t = a ? 20 : 10;
            const char *ans = kind == EASY ? "1" : kind == HOPELESS ? "9" : a ? med20[i] : med10[i];
            double lp = kind == EASY ? -0.1 : kind == HOPELESS ? -2.0 : i == 0 ? -1.0 : -0.5;
            buf[a * 4 + i] = chain_of(t, i, ans, lp);
        }
}

static EvalParams params(void) {
    EvalParams p = {0};
    p.ks[0] = 1, p.ks[1] = 2, p.ks[2] = 4, p.n_ks = 3;
    p.n_max = 4, p.wave = 1, p.confidence = 0.95, p.think = 20;
    p.thinks[0] = 10, p.thinks[1] = 20, p.n_thinks = 2;
    return p;
}

static void test_fit(void) {
    EvalQuestion qs[9];
    EvalChain buf[9][8];
    for (int i = 0; i < 9; i++) make_question(&qs[i], buf[i], i % 3, i);
    EvalParams ep = params();
    // budget: 10 tokens per question, plus 2 more chains at T=20 for the medium third
    PolicyFitParams fp = {.wave = 1, .n_bins = 3, .budget_mean = 10 + 3 * 40 / 9.0, .ridge = 1e-3};
    Policy p;
    char err[256] = "";
    int rc = policy_fit(qs, 9, &ep, &fp, &p, err, sizeof err);
    CHECK(rc == 0, "fit: %s", err);
    if (rc) return;
    if (getenv("SHOW")) policy_print(stderr, &p);
    CHECK(p.probe_think == 10 && p.n_bins == 3,
          "probe T=10 (T=20 cannot afford the extras), 3 bins:"
          " %d, %d",
          p.probe_think, p.n_bins);
    CHECK(fabs(p.calib_accuracy - 6 / 9.0) < 1e-9 && fabs(p.calib_tokens - fp.budget_mean) < 1e-9,
          "calibration: easy and medium right (%g at %g tokens)", p.calib_accuracy, p.calib_tokens);
    int kinds_ok = 1;
    for (int i = 0; i < 9; i++) {
        ReplayOutcome r;
        if (replay_policy(&qs[i], &p, &r, err, sizeof err)) {
            kinds_ok = 0;
            break;
        }
        int kind = i % 3;
        PolicyAction want = kind == EASY       ? POLICY_SETTLED
                            : kind == HOPELESS ? POLICY_HOPELESS
                                               : POLICY_MORE;
        kinds_ok &= r.action == want && r.correct == (kind != HOPELESS) &&
                    r.tokens == (kind == MEDIUM ? 50 : 10) && r.chains == (kind == MEDIUM ? 3 : 1);
    }
    CHECK(kinds_ok, "replay: easy settled, medium 2 more chains at T=20 (right), hopeless stopped");
    // the medium bin's options hold the hand-computed figures
    int mb = -1;
    for (int b = 0; b < p.n_bins; b++)
        if (p.bins[b].extra > 0) mb = b;
    int found = 0;
    for (int o = 0; mb >= 0 && o < p.bins[mb].n_opt; o++) {
        const PolicyOption *x = &p.bins[mb].opt[o];
        if (x->extra == 3 && x->think == 20)
            found = fabs(x->accuracy - 1) < 1e-12 && x->tokens == 70;
    }
    CHECK(found, "medium bin: 3 more at T=20 is accuracy 1 at 70 tokens");
    // a budget below every first wave
    Policy q;
    fp.budget_mean = 5;
    CHECK(policy_fit(qs, 9, &ep, &fp, &q, err, sizeof err) == -1 && strstr(err, "below"),
          "a budget below the first wave is an error: %s", err);
    // re-allocation at a budget with no room for extras: the medium bin stops too
    Policy r2 = p;
    CHECK(policy_allocate(&r2, 10) == 0 && r2.bins[mb].extra == 0 &&
              r2.bins[mb].action == POLICY_HOPELESS,
          "at 10 tokens per question nothing is drawn after the first wave");
    policy_free(&p);
}

// ---- the file
// ---------------------------------------------------------------------------------------

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static void test_file(void) {
    EvalQuestion qs[9];
    EvalChain buf[9][8];
    for (int i = 0; i < 9; i++) make_question(&qs[i], buf[i], i % 3, i);
    EvalParams ep = params();
    PolicyFitParams fp = {.wave = 1, .n_bins = 3, .budget_mean = 24, .ridge = 1e-3};
    Policy p, back;
    char err[256], path[] = "build/test_policy.json";
    if (policy_fit(qs, 9, &ep, &fp, &p, err, sizeof err)) {
        CHECK(0, "fit: %s", err);
        return;
    }
    p.calib_source = strdup("calibration.json");
    FILE *f = fopen(path, "w");
    CHECK(f && policy_write(f, &p) == 0 && fclose(f) == 0, "policy written");
    int rc = policy_load(path, &back, err, sizeof err);
    CHECK(rc == 0, "policy read back: %s", err);
    if (rc == 0) {
        int same = back.wave == p.wave && back.probe_think == p.probe_think &&
                   back.n_bins == p.n_bins && !memcmp(back.coef, p.coef, sizeof p.coef) &&
                   back.budget_mean == p.budget_mean &&
                   !strcmp(back.calib_source, "calibration.json");
        for (int b = 0; same && b < p.n_bins; b++) {
            const PolicyBin *x = &p.bins[b], *y = &back.bins[b];
            same = x->lo == y->lo && x->extra == y->extra && x->think == y->think &&
                   x->action == y->action && x->n == y->n && x->n_opt == y->n_opt &&
                   !memcmp(x->opt, y->opt, (size_t)x->n_opt * sizeof *x->opt);
        }
        CHECK(same, "round trip: every member equal (doubles written with 17 digits)");
        policy_free(&back);
    }
    // the last four entries share POLICY_HEAD; ONE_BIN adds a valid score, calibration and one bin
#define POLICY_HEAD                                                                                \
    "{\"chorus_policy\": 1, \"wave\": 4, \"n_max\": 16, \"probe_think\": 48,"                      \
    " \"budget_mean\": 100, \"score\": {\"coef\": "
#define ONE_BIN(extra, action, options)                                                            \
    POLICY_HEAD "[1, 2, 3, 4]}, \"calibration\": {\"questions\": 1, \"accuracy\": 0.5,"            \
                " \"tokens\": 10}, \"bins\": [{\"lo\": 0, \"extra\": " extra                       \
                ", \"think\": 48, \"action\": \"" action                                           \
                "\", \"questions\": 1, \"mean_share\": 1,"                                         \
                " \"first_wave_accuracy\": 1, \"options\": " options "}]}"
    static const char *hostile[] = {
        "", "[]", "{\"chorus_policy\": 2}", "{\"chorus_policy\": 1, \"wave\": 0}",
        POLICY_HEAD "[1, 2, 3]}}", ONE_BIN("99", "more", "[]"), ONE_BIN("0", "more", "[]"),
        // a bin whose options fail half-way (accuracy 2): nothing it allocated may leak
        ONE_BIN("0", "settled", "[[0, 48, 0.5, 10], [1, 48, 2, 20]]"), NULL};
#undef ONE_BIN
#undef POLICY_HEAD
    for (int i = 0; hostile[i]; i++) {
        write_text(path, hostile[i]);
        rc = policy_load(path, &back, err, sizeof err);
        CHECK(rc == -1 && strstr(err, path), "hostile policy %d refused, naming the file: %s", i,
              err);
    }
    CHECK(policy_load("build/no-such-policy.json", &back, err, sizeof err) == -1, "missing file");
    policy_free(&p);
}

// ---- replays
// -----------------------------------------------------------------------------------------

static void test_replays(void) {
    // arm T=10 of 8 chains: answers 5 5 5 5 | 7 5 7 7
    static const char *ans[] = {"5", "5", "5", "5", "7", "5", "7", "7"};
    EvalChain c[8];
    for (int i = 0; i < 8; i++)
        c[i] = chain_of(10, i, ans[i], -0.5), c[i].correct = !strcmp(ans[i], "5");
    EvalQuestion q = {0};
    q.reference = "5", q.chains = c, q.n_chains = 8;
    ReplayOutcome r;
    CHECK(replay_beta(&q, 10, 4, 0.95, &r) == 0 && r.chains == 4 && r.stopped && r.correct &&
              r.tokens == 40,
          "beta 0.95: 4 unanimous votes settle");
    CHECK(replay_beta(&q, 10, 2, 0.95, &r) == 0 && r.chains == 4 && r.stopped,
          "beta, waves of 2: settled after the second wave");
    CHECK(replay_beta(&q, 10, 4, 0.99, &r) == 0 && r.chains == 8 && !r.stopped && r.correct,
          "beta 0.99: never settled; 5 wins 5-3");
    CHECK(replay_esc(&q, 10, 4, &r) == 0 && r.chains == 4 && r.stopped,
          "esc w=4: first window agrees");
    CHECK(replay_esc(&q, 10, 3, &r) == 0 && r.chains == 3 && r.stopped, "esc w=3: 5 5 5 agree");
    CHECK(replay_esc(&q, 10, 5, &r) == 0 && r.chains == 8 && !r.stopped && r.correct,
          "esc w=5: 5 5 5 5 7 disagree, the rest is short of a window; 5 wins 5-3");
    CHECK(replay_esc(&q, 20, 3, &r) == 0 && r.chains == 0 && !r.correct, "an arm that is missing");
    CHECK(replay_all(&q, &r) == 0 && r.chains == 8 && r.correct, "all chains");
}

int main(void) {
    test_knapsack();
    test_logistic();
    test_fit();
    test_file();
    test_replays();
    return check_done("test_policy");
}
