// eval/methods.c - every method's points, the bootstrap and the tokens-to-target table
// (eval/methods.h). Printing and JSON: eval/methods_print.c.
#include "eval/methods.h"
#include "eval/estimate_at_k.h"
#include "eval/replay.h"
#include "chains/chains.h"
#include "eval/replay.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BOOT_SEED 0xB007u

void methods_defaults(MethodsOptions *o) {
    memset(o, 0, sizeof *o);
    o->dc = chains_defaults().deepconf;
    static const double confs[] = {0.7, 0.8, 0.9, 0.95, 0.99};
    static const int windows[] = {2, 3, 4, 6, 8};
    memcpy(o->confs, confs, sizeof confs), o->n_confs = 5;
    memcpy(o->windows, windows, sizeof windows), o->n_windows = 5;
    o->boot = 2000;
}

// A new point with per-question arrays; NULL without memory.
static MethodPoint *add_point(EvalMethods *m, const char *method, int think, double param) {
    MethodPoint *g = realloc(m->pt, (size_t)(m->n_pt + 1) * sizeof *g);
    if (!g) return NULL;
    m->pt = g;
    MethodPoint *pt = &g[m->n_pt];
    memset(pt, 0, sizeof *pt);
    snprintf(pt->method, sizeof pt->method, "%s", method);
    pt->think = think, pt->param = param;
    pt->diff = pt->diff_lo = pt->diff_hi = NAN;
    pt->eq_diff = pt->eq_lo = pt->eq_hi = NAN, pt->eq_think = -1;
    pt->acc = calloc((size_t)m->n_q + 1, sizeof *pt->acc);
    pt->tok = calloc((size_t)m->n_q + 1, sizeof *pt->tok);
    if (!pt->acc || !pt->tok) {
        free(pt->acc);
        free(pt->tok);
        return NULL;
    }
    m->n_pt++;
    return pt;
}

static void finish_point(MethodPoint *pt, int n) {
    for (int q = 0; q < n; q++) pt->accuracy += pt->acc[q] / n, pt->tokens += pt->tok[q] / n;
}

// ---- the methods -------------------------------------------------------------------------------

// majority@k on one arm for every k of the run; on the primary arm (`all`) also weighted@k and,
// with confidence traces, conf@k.
static int fixed_curves(const EvalQuestion *qs, const EvalParams *p, const MethodsOptions *o,
                        int think, int all, EvalMethods *m) {
    static const char *names[] = {"majority", "weighted", "conf"};
    int n_m = all ? (m->has_conf ? 3 : 2) : 1;
    for (int j = 0; j < p->n_ks; j++) {
        int first = m->n_pt;
        for (int t = 0; t < n_m; t++)
            if (!add_point(m, names[t], think, p->ks[j])) return -1;
        MethodPoint *pt = &m->pt[first]; // [n_m], added together
        for (int q = 0; q < m->n_q; q++) {
            int n;
            const EvalChain *arm = eval_arm(&qs[q], think, &n);
            EstSample *s = malloc(((size_t)n + 1) * sizeof *s);
            EstAtK e;
            if (!s) return -1;
            for (int i = 0; i < n; i++) {
                s[i] = eval_sample(&arm[i]);
                if (n_m == 3) s[i].conf = eval_chain_score(&arm[i], &o->dc.tp, o->dc.score);
            }
            int rc = n > 0 ? est_at_k(s, n, p->ks[j] < n ? p->ks[j] : n, &e) : 0;
            free(s);
            if (rc) return -1;
            double acc[3] = {e.majority, e.weighted, e.conf};
            for (int t = 0; t < n_m; t++)
                pt[t].acc[q] = n ? acc[t] : 0, pt[t].tok[q] = n ? e.tokens : 0;
        }
        for (int t = 0; t < n_m; t++) finish_point(&pt[t], m->n_q);
    }
    return 0;
}

static void take_outcome(MethodPoint *pt, int q, const ReplayOutcome *o) {
    pt->acc[q] = o->correct, pt->tok[q] = (double)o->tokens;
}

static int stopping_rules(const EvalQuestion *qs, const EvalParams *p, const MethodsOptions *o,
                          EvalMethods *m) {
    for (int c = 0; c < o->n_confs; c++) {
        MethodPoint *pt = add_point(m, "beta", p->think, o->confs[c]);
        ReplayOutcome r;
        for (int q = 0; pt && q < m->n_q; q++) {
            if (replay_beta(&qs[q], p->think, p->wave, o->confs[c], &r)) return -1;
            take_outcome(pt, q, &r);
        }
        if (!pt) return -1;
        finish_point(pt, m->n_q);
    }
    for (int w = 0; w < o->n_windows; w++) {
        MethodPoint *pt = add_point(m, "esc", p->think, o->windows[w]);
        ReplayOutcome r;
        for (int q = 0; pt && q < m->n_q; q++) {
            if (replay_esc(&qs[q], p->think, o->windows[w], &r)) return -1;
            take_outcome(pt, q, &r);
        }
        if (!pt) return -1;
        finish_point(pt, m->n_q);
    }
    return 0;
}

// Budgets for the policy's curve: the given ones, else its own and 8 from its cheapest
// allocation to its dearest, geometric.
static int policy_budgets(const MethodsOptions *o, double *b) {
    const Policy *p = o->policy;
    if (o->n_budgets) return memcpy(b, o->budgets, (size_t)o->n_budgets * sizeof *b), o->n_budgets;
    double lo = 0, hi = 0;
    for (int k = 0; k < p->n_bins; k++) {
        const PolicyBin *bin = &p->bins[k];
        double top = 0;
        for (int j = 0; j < bin->n_opt; j++) top = fmax(top, bin->opt[j].tokens);
        lo += bin->n * (bin->n_opt ? bin->opt[0].tokens : 0), hi += bin->n * top;
    }
    int n = 0;
    lo /= p->calib_questions ? p->calib_questions : 1,
        hi /= p->calib_questions ? p->calib_questions : 1;
    for (int i = 0; i < 8 && lo > 0; i++) b[n++] = lo * pow(hi / lo, i / 7.0);
    b[n++] = p->budget_mean;
    return n;
}

static int policy_points(const EvalQuestion *qs, const MethodsOptions *o, EvalMethods *m, char *err,
                         size_t errlen) {
    double budgets[METHODS_MAX_LIST + 9];
    int nb = policy_budgets(o, budgets);
    for (int i = 0; i < nb; i++) {
        Policy p = *o->policy; // bins re-allocated in a copy; their options are shared, unchanged
        int own = i == nb - 1 && !o->n_budgets;
        if (!own && policy_allocate(&p, budgets[i])) continue; // below its first wave: no point
        MethodPoint *pt = add_point(m, "policy", -1, own ? o->policy->budget_mean : budgets[i]);
        if (!pt) return snprintf(err, errlen, "out of memory"), -1;
        for (int q = 0; q < m->n_q; q++) {
            ReplayOutcome r;
            if (replay_policy(&qs[q], &p, &r, err, errlen)) return -1;
            take_outcome(pt, q, &r);
            if (!own) continue;
            MethodBin *b = &m->bins[r.bin];
            b->n++, b->accuracy += r.correct, b->tokens += (double)r.tokens;
        }
        finish_point(pt, m->n_q);
        if (!own) continue;
        m->n_bins = p.n_bins;
        for (int b = 0; b < p.n_bins; b++) {
            MethodBin *mb = &m->bins[b];
            const PolicyBin *pb = &p.bins[b];
            mb->bin = b;
            if (mb->n) mb->accuracy /= mb->n, mb->tokens /= mb->n;
            for (int j = 0; j < pb->n_opt; j++)
                if (pb->opt[j].extra == pb->extra &&
                    (pb->extra == 0 || pb->opt[j].think == pb->think))
                    mb->calib_accuracy = pb->opt[j].accuracy, mb->calib_tokens = pb->opt[j].tokens;
        }
    }
    return 0;
}

// DeepConf offline (top10, top90 at N_max) and online (low, high) on the primary arm.
static int confidence_methods(const EvalQuestion *qs, const EvalParams *p, const MethodsOptions *o,
                              EvalMethods *m) {
    for (int f = 0; f < 2; f++) { // keep the 10% / 90% most confident, then the weighted vote
        MethodPoint *pt = add_point(m, f ? "top90" : "top10", p->think, p->n_max);
        for (int q = 0; pt && q < m->n_q; q++) {
            int n;
            const EvalChain *arm = eval_arm(&qs[q], p->think, &n);
            VoteEntry *e = malloc(((size_t)n + 1) * sizeof *e);
            VoteResult r;
            if (!e) return -1;
            for (int i = 0; i < n; i++) {
                e[i] = eval_entry(&arm[i]);
                e[i].conf = eval_chain_score(&arm[i], &o->dc.tp, o->dc.score);
                pt->tok[q] += arm[i].tokens;
            }
            int rc = vote_keep_top(e, n, f ? 90 : 10) || vote_aggregate(e, n, VOTE_CONF, &r);
            free(e);
            if (rc) return -1;
            pt->acc[q] = r.winner && qs[q].reference && !strcmp(r.winner, qs[q].reference);
            vote_result_free(&r);
        }
        if (!pt) return -1;
        finish_point(pt, m->n_q);
    }
    for (int f = 0; f < 2; f++) { // online: the paper's low (keep 10%) and high (keep 90%)
        DeepConf dc = o->dc;
        dc.keep = f ? 0.9 : 0.1;
        MethodPoint *pt = add_point(m, f ? "deepconf-high" : "deepconf-low", p->think, dc.n_init);
        long chains = 0, ended = 0;
        for (int q = 0; pt && q < m->n_q; q++) {
            ReplayOutcome r;
            if (replay_deepconf(&qs[q], p->think, &dc, p->wave, &r)) return -1;
            take_outcome(pt, q, &r);
            chains += r.chains, ended += r.ended;
        }
        if (!pt) return -1;
        finish_point(pt, m->n_q);
        pt->ended = chains ? (double)ended / chains : 0;
    }
    return eval_auroc_table(qs, p, o, m);
}

static int greedy_point(const EvalQuestion *qs, const EvalParams *p, EvalMethods *m) {
    for (int q = 0; q < m->n_q; q++)
        if (!qs[q].has_greedy) return 0; // only with every question's greedy chain
    MethodPoint *pt = add_point(m, "greedy", p->think, 1);
    if (!pt) return -1;
    for (int q = 0; q < m->n_q; q++)
        pt->acc[q] = qs[q].greedy.correct, pt->tok[q] = qs[q].greedy.tokens;
    finish_point(pt, m->n_q);
    return 0;
}

static int live_point(const EvalQuestion *qs, EvalMethods *m) {
    MethodPoint *pt = add_point(m, "live", -1, 0);
    ReplayOutcome r;
    for (int q = 0; pt && q < m->n_q; q++) {
        if (replay_all(&qs[q], &r)) return -1;
        take_outcome(pt, q, &r);
    }
    if (!pt) return -1;
    finish_point(pt, m->n_q);
    return 0;
}

// ---- comparison
// ----------------------------------------------------------------------------------

// Per-question majority@k on arm `think` interpolated to mean tokens `tokens`: a mix of the two
// fixed ks around it (the ends when outside). acc[n_q] out; 0, or -1 if there is no curve.
static int majority_at_tokens(const EvalMethods *m, int think, double tokens, double *acc) {
    const MethodPoint *lo = NULL, *hi = NULL;
    for (int i = 0; i < m->n_pt; i++) {
        const MethodPoint *pt = &m->pt[i];
        if (strcmp(pt->method, "majority") || pt->think != think) continue;
        if (pt->tokens <= tokens && (!lo || pt->tokens > lo->tokens)) lo = pt;
        if (pt->tokens >= tokens && (!hi || pt->tokens < hi->tokens)) hi = pt;
    }
    if (!lo && !hi) return -1;
    if (!lo) lo = hi;
    if (!hi) hi = lo;
    double w = hi->tokens > lo->tokens ? (tokens - lo->tokens) / (hi->tokens - lo->tokens) : 0;
    for (int q = 0; q < m->n_q; q++) acc[q] = (1 - w) * lo->acc[q] + w * hi->acc[q];
    return 0;
}

// The same at the arm whose majority curve is most accurate at `tokens` on these questions (a
// policy mixes arms, so it is held against the best fixed one, chosen with hindsight: the baseline
// gets the benefit). acc[n_q] out, *think the arm; 0, or -1 if there is no curve.
static int best_majority_at_tokens(const EvalMethods *m, double tokens, double *acc, double *tmp,
                                   int *think) {
    double best = -1;
    for (int i = 0; i < m->n_pt; i++) {
        const MethodPoint *pt = &m->pt[i];
        int seen = 0; // each arm once: its first majority point
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(m->pt[j].method, "majority") && m->pt[j].think == pt->think;
        if (strcmp(pt->method, "majority") || seen || majority_at_tokens(m, pt->think, tokens, tmp))
            continue;
        double mean = 0;
        for (int q = 0; q < m->n_q; q++) mean += tmp[q] / m->n_q;
        if (mean > best)
            best = mean, *think = pt->think, memcpy(acc, tmp, (size_t)m->n_q * sizeof *acc);
    }
    return best < 0 ? -1 : 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// 2.5% and 97.5% percentiles of v[n] (sorted in place).
static void interval(double *v, int n, double *lo, double *hi) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *lo = v[(int)floor(0.025 * (n - 1))], *hi = v[(int)ceil(0.975 * (n - 1))];
}

// Resamples questions o->boot times; the same resamples for every point (paired differences).
static int bootstrap(EvalMethods *m, const MethodsOptions *o) {
    int B = o->boot, n = m->n_q, np = m->n_pt, rc = -1;
    double *mean = malloc((size_t)np * B * sizeof *mean),
           *diff = malloc((size_t)np * B * sizeof *diff);
    double *eq = malloc((size_t)np * B * sizeof *eq),
           *eq_acc = malloc((size_t)np * n * sizeof *eq_acc);
    double *tmp = malloc((size_t)n * sizeof *tmp);
    int *idx = malloc((size_t)n * sizeof *idx), *has_eq = calloc((size_t)np + 1, sizeof *has_eq);
    if (!mean || !diff || !eq || !eq_acc || !tmp || !idx || !has_eq) goto out;
    for (int i = 0; i < np; i++) // a policy also against the best majority@k at its mean tokens
        has_eq[i] = !strcmp(m->pt[i].method, "policy") &&
                    !best_majority_at_tokens(m, m->pt[i].tokens, eq_acc + (size_t)i * n, tmp,
                                             &m->pt[i].eq_think);
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < n; j++)
            idx[j] = (int)(rng_bits(BOOT_SEED, (uint32_t)b, (uint32_t)j) % (uint64_t)n);
        for (int i = 0; i < np; i++) {
            double s = 0, d = 0, e = 0;
            const double *ref = m->ref >= 0 ? m->pt[m->ref].acc : NULL, *a = m->pt[i].acc;
            for (int j = 0; j < n; j++) {
                s += a[idx[j]];
                if (ref) d += a[idx[j]] - ref[idx[j]];
                if (has_eq[i]) e += a[idx[j]] - eq_acc[(size_t)i * n + idx[j]];
            }
            mean[(size_t)i * B + b] = s / n, diff[(size_t)i * B + b] = d / n,
                                 eq[(size_t)i * B + b] = e / n;
        }
    }
    for (int i = 0; i < np; i++) {
        MethodPoint *pt = &m->pt[i];
        interval(mean + (size_t)i * B, B, &pt->lo, &pt->hi);
        if (m->ref >= 0) {
            pt->diff = pt->accuracy - m->pt[m->ref].accuracy;
            interval(diff + (size_t)i * B, B, &pt->diff_lo, &pt->diff_hi);
        }
        if (has_eq[i]) {
            pt->eq_diff = 0;
            for (int j = 0; j < n; j++) pt->eq_diff += (pt->acc[j] - eq_acc[(size_t)i * n + j]) / n;
            interval(eq + (size_t)i * B, B, &pt->eq_lo, &pt->eq_hi);
        }
    }
    rc = 0;
out:
    free(mean), free(diff), free(eq), free(eq_acc), free(tmp), free(idx), free(has_eq);
    return rc;
}

static const EvalMethods *sort_m; // qsort has no context argument
static int by_tokens(const void *a, const void *b) {
    double x = sort_m->pt[*(const int *)a].tokens, y = sort_m->pt[*(const int *)b].tokens;
    return (x > y) - (x < y);
}

// Where the curve [n] (point indices, by increasing tokens) first reaches `goal`.
static void reach(const EvalMethods *m, const int *c, int n, double goal, MethodTarget *t) {
    t->tokens = NAN, t->best_acc = -1;
    for (int j = 0; j < n; j++) {
        const MethodPoint *pt = &m->pt[c[j]], *prev = j ? &m->pt[c[j - 1]] : NULL;
        if (pt->accuracy > t->best_acc) t->best_acc = pt->accuracy, t->best_tokens = pt->tokens;
        if (pt->accuracy < goal - 1e-12) continue;
        double w = prev && pt->accuracy > prev->accuracy
                       ? (goal - prev->accuracy) / (pt->accuracy - prev->accuracy)
                       : 1;
        t->tokens = prev ? prev->tokens + fmax(0, w) * (pt->tokens - prev->tokens) : pt->tokens;
        return;
    }
}

// One row per curve (method, arm): mean tokens where it first reaches the reference accuracy.
static int targets(EvalMethods *m) {
    if (m->ref < 0) return 0;
    int *c = malloc((size_t)m->n_pt * sizeof *c);
    if (!c) return -1;
    for (int i = 0; i < m->n_pt; i++) {
        const MethodPoint *pt = &m->pt[i];
        int n = 0, first = 1;
        for (int j = 0; j < m->n_pt; j++)
            if (!strcmp(m->pt[j].method, pt->method) && m->pt[j].think == pt->think)
                first &= j >= i, c[n++] = j;
        if (!first) continue; // the curve's row is made at its first point
        MethodTarget *g = realloc(m->target, (size_t)(m->n_target + 1) * sizeof *g);
        if (!g) {
            free(c);
            return -1;
        }
        m->target = g;
        MethodTarget *t = &g[m->n_target++];
        snprintf(t->method, sizeof t->method, "%s", pt->method);
        t->think = pt->think;
        sort_m = m;
        qsort(c, (size_t)n, sizeof *c, by_tokens);
        reach(m, c, n, m->pt[m->ref].accuracy, t);
    }
    free(c);
    return 0;
}

int eval_methods(const EvalQuestion *qs, int n, const EvalParams *p, const MethodsOptions *o,
                 EvalMethods *m, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->n_q = n, m->ref = -1;
    if (n < 1) return 0;
    int rc = greedy_point(qs, p, m);
    if (p->live) {
        if (!rc) rc = live_point(qs, m);
    } else {
        m->has_conf = qs[0].n_chains > 0 && qs[0].chains[0].conf != NULL;
        for (int a = 0; !rc && a < p->n_thinks; a++)
            rc = fixed_curves(qs, p, o, p->thinks[a], p->thinks[a] == p->think, m);
        if (!rc && m->has_conf) rc = confidence_methods(qs, p, o, m);
        for (int i = 0; !rc && i < m->n_pt; i++)
            if (!strcmp(m->pt[i].method, "majority") && m->pt[i].think == p->think &&
                m->pt[i].param == p->ks[p->n_ks - 1])
                m->ref = i;
        if (!rc) rc = stopping_rules(qs, p, o, m);
        if (rc) return snprintf(err, errlen, "out of memory"), -1;
        if (o->policy && policy_points(qs, o, m, err, errlen)) return -1;
    }
    if (rc || bootstrap(m, o) || targets(m)) return snprintf(err, errlen, "out of memory"), -1;
    return 0;
}

void eval_methods_free(EvalMethods *m) {
    for (int i = 0; i < m->n_pt; i++) free(m->pt[i].acc), free(m->pt[i].tok);
    free(m->pt);
    free(m->target);
    memset(m, 0, sizeof *m);
}
