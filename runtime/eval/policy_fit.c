// policy_fit.c - fitting a compute-optimal policy on a calibration set of fixed samples
// (policy_fit.h; what a policy is: policy.h).
//
// For each candidate probe budget T0 (every arm of the calibration run):
//   1. each question's first wave is chains 0..wave-1 of arm T0; its features give x, and the
//      share of arm T0's n_max chains that are correct gives y (the question's difficulty);
//   2. the score's coefficients are a logistic regression of y on x (Newton's method, with a
//      small ridge so that separable data still converge);
//   3. the bins' edges are quantiles of the calibration scores;
//   4. every option (0 more chains, or m = 1..n_max-wave more at any arm's budget T) gets each
//      question's expected accuracy and tokens: the majority vote of the first wave plus m
//      chains drawn from chains wave..n_max-1 of arm T, averaged over which m are drawn
//      (est_with_fixed: exact over all subsets when there are at most EST_MAX_SUBSETS);
//   5. the allocation is the exact knapsack over bins (policy_knapsack), for the target budget.
// The probe budget with the highest calibration accuracy wins (ties: fewer tokens).
#include "eval/policy_fit.h"
#include "eval/estimate_at_k.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    WaveFeatures f;
    double y; // share of correct chains in the probe arm
    double score;
    int bin;
    EstAtK *est; // [n_opt] per option
} QFit;

// ---- logistic regression -------------------------------------------------------------------

static void row_of(const WaveFeatures *f, double x[4]) {
    x[0] = 1, x[1] = f->share, x[2] = f->answered, x[3] = f->mean_lp;
}

// Solves a[4][4] z = b in place (Gaussian elimination, partial pivoting). 0, or -1 if singular.
static int solve4(double a[4][4], double b[4]) {
    for (int c = 0; c < 4; c++) {
        int p = c;
        for (int r = c + 1; r < 4; r++)
            if (fabs(a[r][c]) > fabs(a[p][c])) p = r;
        if (fabs(a[p][c]) < 1e-300) return -1;
        for (int k = 0; k < 4; k++) {
            double t = a[c][k];
            a[c][k] = a[p][k], a[p][k] = t;
        }
        double t = b[c];
        b[c] = b[p], b[p] = t;
        for (int r = c + 1; r < 4; r++) {
            double m = a[r][c] / a[c][c];
            for (int k = c; k < 4; k++) a[r][k] -= m * a[c][k];
            b[r] -= m * b[c];
        }
    }
    for (int c = 3; c >= 0; c--) {
        for (int k = c + 1; k < 4; k++) b[c] -= a[c][k] * b[k];
        b[c] /= a[c][c];
    }
    return 0;
}

// Maximises sum_q [y log s + (1-y) log(1-s)] - (ridge/2) |coef[1..3]|^2, s = logistic(coef.x).
// y may be fractional (a share of correct chains): the same likelihood, the same Newton step.
void policy_logistic_fit(const WaveFeatures *f, const double *y, int n, double ridge,
                         double coef[4]) {
    memset(coef, 0, 4 * sizeof *coef);
    for (int it = 0; it < 100; it++) {
        double h[4][4] = {{0}}, g[4] = {0}, x[4];
        for (int q = 0; q < n; q++) {
            row_of(&f[q], x);
            double z = coef[0] + coef[1] * x[1] + coef[2] * x[2] + coef[3] * x[3];
            double s = 1 / (1 + exp(-z)), w = s * (1 - s);
            for (int i = 0; i < 4; i++) {
                g[i] += (y[q] - s) * x[i];
                for (int j = 0; j < 4; j++) h[i][j] += w * x[i] * x[j];
            }
        }
        for (int i = 1; i < 4; i++) g[i] -= ridge * coef[i], h[i][i] += ridge;
        h[0][0] += 1e-9; // an intercept-only fit of all-0 or all-1 y still has a finite step
        if (solve4(h, g)) return;
        double step = 0;
        for (int i = 0; i < 4; i++) coef[i] += g[i], step += fabs(g[i]);
        for (int i = 0; i < 4; i++) coef[i] = fmax(-50, fmin(50, coef[i])); // keep exp() finite
        if (step < 1e-10) return;
    }
}

// ---- per question ----------------------------------------------------------------------------

// The options: index 0 is "no more chains"; then for each arm a, m = 1..pool at budget thinks[a].
static int n_options(const EvalParams *ep, int wave) {
    return 1 + ep->n_thinks * (ep->n_max - wave);
}

static void option_at(const EvalParams *ep, int wave, int probe, int o, int *extra, int *think) {
    if (o == 0) {
        *extra = 0, *think = probe;
        return;
    }
    int pool = ep->n_max - wave;
    *extra = 1 + (o - 1) % pool, *think = ep->thinks[(o - 1) / pool];
}

// Features, difficulty and every option's estimates of one question for probe budget `probe`.
static int fit_question(const EvalQuestion *q, const EvalParams *ep, int wave, int probe, QFit *r,
                        char *err, size_t errlen) {
    int n0, n_opt = n_options(ep, wave), pool = ep->n_max - wave;
    const EvalChain *first = eval_arm(q, probe, &n0);
    if (n0 < ep->n_max)
        return snprintf(err, errlen,
                        "question %d has %d chains at thinking budget %d, not %d "
                        "(a fixed run is needed)",
                        q->id, n0, probe, ep->n_max),
               -1;
    VoteEntry *e = malloc((size_t)wave * sizeof *e);
    EstSample *s = malloc((size_t)ep->n_max * sizeof *s); // the first wave, then one arm's pool
    r->est = calloc((size_t)n_opt, sizeof *r->est);
    int rc = e && s && r->est ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    for (int i = 0; !rc && i < wave; i++)
        e[i] = eval_entry(&first[i]), s[i] = eval_sample(&first[i]);
    if (!rc) r->f = policy_features(e, wave);
    int good = 0;
    for (int i = 0; i < ep->n_max; i++) good += first[i].correct;
    r->y = (double)good / ep->n_max;
    for (int a = 0; !rc && a < ep->n_thinks; a++) {
        int na;
        const EvalChain *arm = eval_arm(q, ep->thinks[a], &na);
        if (na < ep->n_max) {
            rc = (snprintf(err, errlen, "question %d has %d chains at thinking budget %d, not %d",
                           q->id, na, ep->thinks[a], ep->n_max),
                  -1);
            break;
        }
        for (int i = 0; i < pool; i++) s[wave + i] = eval_sample(&arm[wave + i]);
        for (int m = a == 0 ? 0 : 1; !rc && m <= pool; m++)
            if (est_with_fixed(s, ep->n_max, wave, m, &r->est[m == 0 ? 0 : 1 + a * pool + m - 1]))
                rc = (snprintf(err, errlen, "out of memory"), -1);
    }
    free(e);
    free(s);
    return rc;
}

// ---- bins
// ----------------------------------------------------------------------------------------

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Edges at the calibration scores' quantiles; equal edges merge (ties in the score).
static void make_bins(QFit *qf, int n, int want, Policy *p) {
    double *s = malloc((size_t)n * sizeof *s);
    p->n_bins = 1;
    p->bins[0].lo = 0;
    for (int q = 0; s && q < n; q++) s[q] = qf[q].score;
    if (s) qsort(s, (size_t)n, sizeof *s, cmp_double);
    for (int k = 1; s && k < want && p->n_bins < POLICY_MAX_BINS; k++) {
        double lo = s[(size_t)k * n / want],
               prev = p->n_bins > 1 ? p->bins[p->n_bins - 1].lo : s[0];
        if (lo > prev) p->bins[p->n_bins++].lo = lo; // no empty bin, no repeated edge
    }
    free(s);
    for (int q = 0; q < n; q++) {
        qf[q].bin = 0;
        while (qf[q].bin + 1 < p->n_bins && qf[q].score >= p->bins[qf[q].bin + 1].lo) qf[q].bin++;
    }
}

// Each bin's options: the mean over its questions of each question's estimates.
static int bin_options(const QFit *qf, int n, const EvalParams *ep, int wave, Policy *p) {
    int n_opt = n_options(ep, wave);
    for (int b = 0; b < p->n_bins; b++) {
        PolicyBin *bin = &p->bins[b];
        if (!(bin->opt = calloc((size_t)n_opt, sizeof *bin->opt))) return -1;
        bin->n_opt = n_opt;
        for (int o = 0; o < n_opt; o++)
            option_at(ep, wave, p->probe_think, o, &bin->opt[o].extra, &bin->opt[o].think);
    }
    for (int q = 0; q < n; q++) {
        PolicyBin *bin = &p->bins[qf[q].bin];
        bin->n++;
        bin->mean_share += qf[q].f.share;
        bin->first_acc += qf[q].est[0].majority;
        for (int o = 0; o < n_opt; o++)
            bin->opt[o].accuracy += qf[q].est[o].majority,
                bin->opt[o].tokens += qf[q].est[o].tokens;
    }
    for (int b = 0; b < p->n_bins; b++) {
        PolicyBin *bin = &p->bins[b];
        double d = bin->n ? bin->n : 1;
        bin->mean_share /= d, bin->first_acc /= d;
        for (int o = 0; o < n_opt; o++) bin->opt[o].accuracy /= d, bin->opt[o].tokens /= d;
    }
    return 0;
}

// ---- the fit
// -------------------------------------------------------------------------------------

// One probe budget: the whole policy, allocated for the budget. 0, 1 if the budget is below
// this probe's first wave, -1 on error.
static int fit_probe(const EvalQuestion *qs, int n, const EvalParams *ep, const PolicyFitParams *fp,
                     int probe, Policy *p, char *err, size_t errlen) {
    QFit *qf = calloc((size_t)n + 1, sizeof *qf);
    WaveFeatures *f = malloc(((size_t)n + 1) * sizeof *f);
    double *y = malloc(((size_t)n + 1) * sizeof *y);
    int rc = -1;
    if (!qf || !f || !y) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memset(p, 0, sizeof *p);
    p->wave = fp->wave, p->probe_think = probe, p->n_max = ep->n_max, p->calib_questions = n;
    for (int q = 0; q < n; q++) {
        if (fit_question(&qs[q], ep, fp->wave, probe, &qf[q], err, errlen)) goto out;
        f[q] = qf[q].f, y[q] = qf[q].y;
    }
    policy_logistic_fit(f, y, n, fp->ridge, p->coef);
    for (int q = 0; q < n; q++) qf[q].score = policy_score(p, &qf[q].f);
    make_bins(qf, n, fp->n_bins, p);
    if (bin_options(qf, n, ep, fp->wave, p)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = policy_allocate(p, fp->budget_mean) ? 1 : 0;
out:
    for (int q = 0; qf && q < n; q++) free(qf[q].est);
    free(qf);
    free(f);
    free(y);
    return rc;
}

int policy_fit(const EvalQuestion *qs, int n, const EvalParams *ep, const PolicyFitParams *fp,
               Policy *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (n < 1) return snprintf(err, errlen, "no calibration questions"), -1;
    if (fp->wave < 1 || fp->wave >= ep->n_max)
        return snprintf(err, errlen, "the first wave (%d) must be smaller than N_max (%d)",
                        fp->wave, ep->n_max),
               -1;
    if (ep->n_max > 4096) return snprintf(err, errlen, "N_max above 4096"), -1;
    int found = 0;
    double cheapest = INFINITY;
    for (int a = 0; a < ep->n_thinks; a++) {
        Policy p;
        int rc = fit_probe(qs, n, ep, fp, ep->thinks[a], &p, err, errlen);
        if (rc < 0) {
            policy_free(&p);
            policy_free(out);
            return -1;
        }
        if (rc == 1) { // record how much the cheapest first wave needs, for the message
            double t = 0;
            for (int b = 0; b < p.n_bins; b++) t += p.bins[b].n * p.bins[b].opt[0].tokens;
            cheapest = fmin(cheapest, t / n);
            policy_free(&p);
            continue;
        }
        int better =
            !found || p.calib_accuracy > out->calib_accuracy + 1e-12 ||
            (p.calib_accuracy > out->calib_accuracy - 1e-12 && p.calib_tokens < out->calib_tokens);
        if (better) {
            policy_free(out);
            *out = p;
            found = 1;
        } else
            policy_free(&p);
    }
    if (!found)
        return snprintf(err, errlen,
                        "--budget-mean %.1f is below the cheapest first wave "
                        "(%.1f tokens per question)",
                        fp->budget_mean, cheapest),
               -1;
    // the reference: majority@n_max on the primary arm
    EstSample *s = malloc((size_t)ep->n_max * sizeof *s);
    for (int q = 0; s && q < n; q++) {
        int na;
        const EvalChain *arm = eval_arm(&qs[q], ep->think, &na);
        EstAtK e;
        na = na < ep->n_max ? na : ep->n_max;
        for (int i = 0; i < na; i++) s[i] = eval_sample(&arm[i]);
        if (na > 0 && !est_at_k(s, na, na, &e))
            out->calib_ref_accuracy += e.majority / n, out->calib_ref_tokens += e.tokens / n;
    }
    free(s);
    return 0;
}
