// policy.h - compute-optimal test-time scaling: after a first wave of chains, predict how hard
// the question is from the model's own signals and spend more chains (and thinking tokens) only
// where calibration showed that they pay (Snell et al. 2024, arXiv:2408.03314).
//
// The policy, applied to one question:
//   1. Draw a first wave of `wave` chains with thinking budget `probe_think`.
//   2. Compute its features: the leader's vote share, the share of chains that produced an
//      answer, and the chains' mean token log-prob (policy_features).
//   3. Score = logistic(coef · [1, share, answered, mean_lp]): the predicted share of correct
//      chains, fitted on a calibration set. The score falls in one of a handful of bins (the
//      bins' edges are quantiles of the calibration scores).
//   4. The bin's allocation says how many more chains to draw (0 .. n_max - wave) and with which
//      thinking budget. Zero more is a stop: "settled" when the bin's first-wave answer was
//      right at least as often as the calibration set's average first wave, "hopeless" when
//      less often and more chains did not raise it enough to pay (a vote helps only where one
//      sample is right more often than any single wrong answer: Chen et al. 2024,
//      arXiv:2403.02419). The split is relative because a small model is rarely "mostly right".
//   5. The answer is the majority vote of all its chains (vote.h), first wave first.
// Chain i of a question is the same sample in any mode (its RNG stream depends only on the
// seed, the question, its thinking budget's arm and i), so a policy replayed on a fixed run's
// samples gives exactly what a live run gives (replay_policy in eval/replay.c;
// tests/test_policy.c).
//
// The allocation is fitted (eval/policy_fit.c) to maximise calibration accuracy for a target mean
// of sampled tokens per question: each bin keeps every option's calibration accuracy and tokens, so
// the file alone can be re-allocated for another budget (policy_allocate) without seeing any answer
// again.
#pragma once
#include "chains/vote.h"

#include <stdio.h>

#define POLICY_VERSION  1
#define POLICY_MAX_BINS 16

typedef struct {
    double share;    // votes for the leader / chains (a chain without an answer agrees with none)
    double answered; // chains with an answer / chains
    double mean_lp;  // mean over chains of their mean token log-prob (0 when no chain has tokens)
} WaveFeatures;

typedef struct {
    int extra, think; // chains after the first wave, and their thinking budget
    double accuracy;  // calibration: expected accuracy of the bin's questions
    double tokens;    // calibration: mean sampled tokens per question, first wave included
} PolicyOption;

typedef enum { POLICY_MORE, POLICY_SETTLED, POLICY_HOPELESS } PolicyAction;

typedef struct {
    double lo;           // scores >= lo fall here (the first bin also takes every lower score)
    int extra, think;    // the allocation
    PolicyAction action; // MORE if extra > 0, else why it stops
    int n;               // calibration questions in the bin
    double mean_share;   // their mean first-wave leader share
    double first_acc;    // accuracy of their first wave's majority vote
    PolicyOption *opt;   // [n_opt] every option the fitter weighed
    int n_opt;
} PolicyBin;

typedef struct {
    int wave, probe_think, n_max;
    double coef[4]; // intercept, share, answered, mean_lp
    PolicyBin bins[POLICY_MAX_BINS];
    int n_bins;
    double budget_mean; // the target it was allocated for (sampled tokens per question)
    // calibration figures at this allocation, and majority@n_max for comparison
    int calib_questions;
    double calib_accuracy, calib_tokens, calib_ref_accuracy, calib_ref_tokens;
    char *calib_source; // the calibration report(s), for the reader
} Policy;

typedef struct {
    double score;
    int bin, extra, think;
    PolicyAction action;
} PolicyDecision;

// Features of a wave's entries [n] (in chain index order).
WaveFeatures policy_features(const VoteEntry *e, int n);
double policy_score(const Policy *p, const WaveFeatures *f);
// What to do after the first wave [n] (entries in chain index order).
PolicyDecision policy_decide(const Policy *p, const VoteEntry *wave, int n);
const char *policy_action_name(PolicyAction a);

// Multiple-choice knapsack: one option per bin, maximising sum(value) with sum(cost) <= budget;
// among equal values, the cheapest. Exact when costs are integers and the budget at most 2^16
// (the test case); else costs are rounded to the nearest unit of budget / 2^16, so the total
// may pass the budget by half a unit per bin (under 0.01% with 16 bins).
// value[b][o], cost[b][o] for o < n_opt[b]. Writes choice[n_bins]; -1 if nothing fits.
int policy_knapsack(const double *const *value, const double *const *cost, const int *n_opt,
                    int n_bins, double budget, int *choice);
// Re-allocates every bin for a mean budget from its calibration options (sets extra, think,
// action, budget_mean, calib_accuracy/tokens). 0, or -1 if even no extra chains cost more.
int policy_allocate(Policy *p, double budget_mean);

int policy_write(FILE *f, const Policy *p);
// A summary for the terminal: the score, each bin's allocation and calibration figures.
void policy_print(FILE *f, const Policy *p);
int policy_load(const char *path, Policy *p, char *err, size_t errlen);
// The same from text[0..n) in memory; messages name `name`.
int policy_parse(const char *text, size_t n, const char *name, Policy *p, char *err, size_t errlen);
void policy_free(Policy *p);
// The largest thinking budget any bin may use (for the KV cache and token caps).
int policy_max_think(const Policy *p);
int policy_max_chains(const Policy *p); // wave + the largest allocation
