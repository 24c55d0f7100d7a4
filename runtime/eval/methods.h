// eval/methods.h - accuracy against tokens for every way of spending test-time compute, on the
// same samples, with bootstrap intervals (chorus eval's "methods" table and the scaling plot).
//
// Each method is a curve of points; each point has a per-question accuracy and token count
// (so that intervals and paired differences can be bootstrapped over questions):
//   greedy        one greedy chain
//   majority@k    fixed k chains per question, at every arm's thinking budget T (the
//                 sequential axis), expected over which k of the N_max chains are drawn
//   weighted@k    the log-prob-weighted vote, primary arm
//   beta          the adaptive rule replayed at several confidences (eval/replay.h)
//   esc           Early-Stopping Self-Consistency at several window sizes
//   policy        a compute-optimal policy (policy.h) replayed at its own budget and at others
//                 (re-allocated from its calibration options alone: no held-out answer is used)
//   conf@k        DeepConf's confidence-weighted majority (trace score --conf-score), primary arm
//   top10, top90  DeepConf's filter at N_max: the 10% / 90% most confident chains vote, weighted
//   deepconf-low, deepconf-high   online DeepConf replayed (eval/replay.h): warm-up, then
//                 chains ended at the first window below the threshold, consensus stop
//   live          what a live --adaptive, --policy or --deepconf run drew (its only point)
// The reference is majority@N_max on the primary arm. Bootstrap: questions resampled with
// replacement (a fixed seed), 95% percentile intervals; differences are paired (same resample).
// "Tokens to reach the reference's accuracy" interpolates each curve linearly between the two
// points around the target; a policy point is also compared with majority@k interpolated to
// the same mean tokens (a mix of two fixed ks, which is itself a valid strategy).
#pragma once
#include "eval/tables.h"
#include "chains/policy.h"
#include "chains/confidence.h"

#include <stdio.h>

#define METHODS_MAX_LIST 16

typedef struct {
    double confs[METHODS_MAX_LIST];
    int n_confs;
    int windows[METHODS_MAX_LIST];
    int n_windows;
    const Policy *policy;             // replay it (fixed runs), or NULL
    double budgets[METHODS_MAX_LIST]; // re-allocate it at these mean budgets (0: automatic)
    int n_budgets;
    int boot;    // bootstrap resamples
    DeepConf dc; // trace window/tail, score, warm-up, tau (--conf-*)
} MethodsOptions;

typedef struct {
    char method[16];
    int think;    // the arm; -1 = several (a policy, a live run)
    double param; // k, confidence, window or budget
    double accuracy, tokens;
    double lo, hi;                 // 95% interval of accuracy
    double diff, diff_lo, diff_hi; // accuracy - reference's (NAN without a reference)
    double eq_diff, eq_lo, eq_hi;  // policy: minus majority@k at equal tokens (else NAN), on
    int eq_think;                  // the arm whose majority is best at those tokens (else -1)
    double ended;                  // deepconf: share of its chains ended early for low confidence
    double *acc, *tok;             // [n_q] per question
} MethodPoint;

typedef struct {
    char method[16];
    int think;
    double tokens; // mean tokens at the reference's accuracy (NAN: not reached)
    double best_acc, best_tokens;
} MethodTarget;

typedef struct {
    int bin, n; // held-out questions in the bin
    double accuracy, tokens, calib_accuracy, calib_tokens;
} MethodBin;

typedef struct {
    MethodPoint *pt;
    int n_pt, n_q;
    int ref; // index of the reference point, -1 if none
    MethodTarget *target;
    int n_target;
    MethodBin bins[POLICY_MAX_BINS]; // the policy at its own budget, per bin
    int n_bins;
    // Does a chain's trace confidence separate its right answers from wrong ones? AUROC of each
    // score at windows AUROC_WINDOWS over all chains of the primary arm (pooled), and the mean
    // over questions with both right and wrong chains (within: difficulty does not help).
    int has_conf;
    double auroc[TRACE_N_SCORES][3], auroc_within[TRACE_N_SCORES][3];
    int n_within;
} EvalMethods;

#define AUROC_WINDOWS                                                                              \
    { 8, 16, 32 }
// AUROC of scores[n] against labels[n] (1 = positive); ties count half; NaN scores are left
// out. NaN without both classes.
double auroc(const double *scores, const int *labels, int n);
// Fills m->auroc* from the primary arm's chains (eval/confidence_auroc.c). 0, or -1 without memory.
int eval_auroc_table(const EvalQuestion *qs, const EvalParams *p, const MethodsOptions *o,
                     EvalMethods *m);

void methods_defaults(MethodsOptions *o);
// All methods over questions [n] (fixed run: every arm of p; live run: the live point).
// 0, or -1 with a message.
int eval_methods(const EvalQuestion *qs, int n, const EvalParams *p, const MethodsOptions *o,
                 EvalMethods *m, char *err, size_t errlen);
void eval_methods_free(EvalMethods *m);
void eval_methods_print(FILE *f, const EvalMethods *m, const EvalParams *p, const Policy *policy);
void eval_methods_write(FILE *f, const EvalMethods *m); // the report's "methods" member
