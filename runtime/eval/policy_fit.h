// policy_fit.h - fitting a compute-optimal policy (policy.h) on the fixed samples of a
// calibration run (chorus eval --fit-policy). How: policy_fit.c.
#pragma once
#include "eval/tables.h"
#include "chains/policy.h"

typedef struct {
    int wave;           // first-wave chains
    int n_bins;         // bins wanted (fewer if calibration scores tie)
    double budget_mean; // target mean sampled tokens per question
    double ridge;       // L2 penalty on the score's non-intercept coefficients
} PolicyFitParams;

// Fits on questions [n] of a fixed run whose every arm (ep->thinks) holds ep->n_max chains.
// 0, or -1 with a message (a budget below every first wave's cost is an error).
int policy_fit(const EvalQuestion *qs, int n, const EvalParams *ep, const PolicyFitParams *fp,
               Policy *out, char *err, size_t errlen);
// The score's logistic regression (exposed for its test): features f[n], targets y[n] in [0, 1].
void policy_logistic_fit(const WaveFeatures *f, const double *y, int n, double ridge,
                         double coef[4]);
