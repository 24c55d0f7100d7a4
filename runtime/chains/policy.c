// policy.c - applying a compute-optimal policy: features, score, bin, allocation (the
// knapsack), and the policy file (policy.h). Fitting it is policy_fit.c.
#include "chains/policy.h"
#include "util/json.h"
#include "util/json_parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

WaveFeatures policy_features(const VoteEntry *e, int n) {
    WaveFeatures f = {0, 0, 0};
    VoteResult r;
    if (n <= 0 || vote_aggregate(e, n, VOTE_MAJORITY, &r)) return f;
    f.share = (double)r.votes / n;
    f.answered = (double)r.n_voters / n;
    vote_result_free(&r);
    int m = 0;
    for (int i = 0; i < n; i++) {
        double lp = vote_chain_mean(&e[i]);
        if (isfinite(lp)) f.mean_lp += lp, m++;
    }
    f.mean_lp = m ? f.mean_lp / m : 0;
    return f;
}

double policy_score(const Policy *p, const WaveFeatures *f) {
    const double *c = p->coef;
    double z = c[0] + c[1] * f->share + c[2] * f->answered + c[3] * f->mean_lp;
    return 1 / (1 + exp(-z));
}

PolicyDecision policy_decide(const Policy *p, const VoteEntry *wave, int n) {
    WaveFeatures f = policy_features(wave, n);
    PolicyDecision d = {policy_score(p, &f), 0, 0, p->probe_think, POLICY_SETTLED};
    while (d.bin + 1 < p->n_bins && d.score >= p->bins[d.bin + 1].lo) d.bin++;
    if (p->n_bins > 0) {
        const PolicyBin *b = &p->bins[d.bin];
        d.extra = b->extra, d.think = b->think, d.action = b->action;
    }
    return d;
}

const char *policy_action_name(PolicyAction a) {
    return a == POLICY_MORE ? "more" : a == POLICY_SETTLED ? "settled" : "hopeless";
}

// ---- allocation --------------------------------------------------------------------------------

#define KNAP_UNITS (1 << 16)

int policy_knapsack(const double *const *value, const double *const *cost, const int *n_opt,
                    int n_bins, double budget, int *choice) {
    // integer costs (to 1e-6) are used as they are; else units of budget / KNAP_UNITS
    int integral = budget <= KNAP_UNITS;
    for (int b = 0; integral && b < n_bins; b++)
        for (int o = 0; o < n_opt[b]; o++) integral &= fabs(cost[b][o] - round(cost[b][o])) < 1e-6;
    double unit = integral ? 1 : budget / KNAP_UNITS;
    int cap = budget < 0 ? -1 : (int)floor(budget / unit + 1e-6);
    if (cap < 0) return -1;
    // best[c]: the most value of the bins so far within cost c units (-inf: none fits);
    // pick[b][c]: the option of bin b on that best path
    double *best = malloc(((size_t)cap + 1) * sizeof *best);
    double *next = malloc(((size_t)cap + 1) * sizeof *next);
    int *pick = malloc((size_t)n_bins * ((size_t)cap + 1) * sizeof *pick);
    int rc = -1;
    if (!best || !next || !pick) goto out;
    for (int c = 0; c <= cap; c++) best[c] = 0;
    for (int b = 0; b < n_bins; b++) {
        int *pb = pick + (size_t)b * ((size_t)cap + 1);
        for (int c = 0; c <= cap; c++) next[c] = -INFINITY, pb[c] = -1;
        for (int o = 0; o < n_opt[b]; o++) {
            double u = round(cost[b][o] / unit);
            if (u > cap) continue;
            for (int c = (int)u; c <= cap; c++) {
                double v = best[c - (int)u] + value[b][o];
                if (v > next[c]) next[c] = v, pb[c] = o;
            }
        }
        double *t = best;
        best = next, next = t;
    }
    if (!isfinite(best[cap])) goto out;
    int c = 0; // the cheapest budget that reaches the best value (best[] grows with c)
    while (best[c] < best[cap] - 1e-12) c++;
    for (int b = n_bins - 1; b >= 0; b--) {
        int o = pick[(size_t)b * ((size_t)cap + 1) + c];
        choice[b] = o;
        c -= (int)round(cost[b][o] / unit);
    }
    rc = 0;
out:
    free(best);
    free(next);
    free(pick);
    return rc;
}

int policy_allocate(Policy *p, double budget_mean) {
    const double *value[POLICY_MAX_BINS], *cost[POLICY_MAX_BINS];
    int n_opt[POLICY_MAX_BINS], choice[POLICY_MAX_BINS], total = 0, rc = -1;
    double *buf = NULL;
    for (int b = 0; b < p->n_bins; b++) total += p->bins[b].n_opt;
    if (!(buf = malloc(2 * ((size_t)total + 1) * sizeof *buf))) return -1;
    // a bin's options weigh by its questions: the sums are over calibration questions
    double *v = buf, *c = buf + total;
    for (int b = 0; b < p->n_bins; b++) {
        const PolicyBin *bin = &p->bins[b];
        value[b] = v, cost[b] = c, n_opt[b] = bin->n_opt;
        for (int o = 0; o < bin->n_opt; o++)
            *v++ = bin->n * bin->opt[o].accuracy, *c++ = bin->n * bin->opt[o].tokens;
    }
    double mean_first = 0; // the calibration set's first-wave accuracy: settled vs hopeless
    for (int b = 0; b < p->n_bins; b++)
        mean_first +=
            p->calib_questions ? p->bins[b].n * p->bins[b].first_acc / p->calib_questions : 0;
    if (!policy_knapsack(value, cost, n_opt, p->n_bins, budget_mean * p->calib_questions, choice)) {
        double acc = 0, tok = 0;
        for (int b = 0; b < p->n_bins; b++) {
            PolicyBin *bin = &p->bins[b];
            const PolicyOption *o = &bin->opt[choice[b]];
            bin->extra = o->extra, bin->think = o->think;
            bin->action = o->extra > 0                           ? POLICY_MORE
                          : bin->first_acc >= mean_first - 1e-12 ? POLICY_SETTLED
                                                                 : POLICY_HOPELESS;
            acc += bin->n * o->accuracy, tok += bin->n * o->tokens;
        }
        p->budget_mean = budget_mean;
        p->calib_accuracy = p->calib_questions ? acc / p->calib_questions : 0;
        p->calib_tokens = p->calib_questions ? tok / p->calib_questions : 0;
        rc = 0;
    }
    free(buf);
    return rc;
}

int policy_max_think(const Policy *p) {
    int t = p->probe_think;
    for (int b = 0; b < p->n_bins; b++)
        if (p->bins[b].extra > 0 && p->bins[b].think > t) t = p->bins[b].think;
    return t;
}

int policy_max_chains(const Policy *p) {
    int m = 0;
    for (int b = 0; b < p->n_bins; b++) m = p->bins[b].extra > m ? p->bins[b].extra : m;
    return p->wave + m;
}

void policy_free(Policy *p) {
    for (int b = 0; b < p->n_bins; b++) free(p->bins[b].opt);
    free(p->calib_source);
    memset(p, 0, sizeof *p);
}
