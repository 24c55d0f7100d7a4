// eval/estimate_at_k.c - pass@k and vote@k estimators (definitions in eval/estimate_at_k.h).
//
// vote@k visits up to EST_MAX_SUBSETS subsets per (question, k), so a subset is scored with
// small integer-indexed arrays (answers mapped to ids once), not with vote_aggregate's string
// tally; the rules and tie-breaks are vote.c's, and the tests check the two agree.
#include "eval/estimate_at_k.h"
#include "rng.h"
#include "chains/vote.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double est_pass_at_k(int n, int c, int k) {
    if (n < 1 || c < 0 || c > n || k < 1 || k > n) return -1;
    if (n - c < k) return 1; // every k-subset holds a correct sample
    double all_wrong = 1;    // C(n - c, k) / C(n, k)
    for (int i = n - c + 1; i <= n; i++) all_wrong *= 1.0 - (double)k / i;
    return 1 - all_wrong;
}

// ---- per-question context ---------------------------------------------------------------------

typedef struct {
    int n, n_ans;
    int *id;                          // [n] answer id, -1 = no answer
    int *correct;                     // [n]
    double *weight, *mean, *sum, *cf; // [n] per sample, as vote.c computes them
    int *votes, *first, *ok;          // [n_ans] the current subset's tally
    double *w, *lp, *best, *cw;       // [n_ans]
    int *touched;                     // [n_ans] ids seen in the current subset
} Ctx;

typedef struct {
    const char *answer;
    int i;
} Keyed;

static int by_answer(const void *pa, const void *pb) {
    const Keyed *a = pa, *b = pb;
    return strcmp(a->answer, b->answer);
}

// Equal answers get one id: sort the answered samples by answer and number the runs.
static int assign_ids(Ctx *c, const EstSample *s) {
    Keyed *order = malloc((size_t)c->n * sizeof *order);
    if (!order) return -1;
    int m = 0;
    for (int i = 0; i < c->n; i++) {
        c->id[i] = -1;
        if (s[i].answer) order[m++] = (Keyed){s[i].answer, i};
    }
    qsort(order, (size_t)m, sizeof *order, by_answer);
    for (int j = 0; j < m; j++) {
        if (j == 0 || strcmp(order[j].answer, order[j - 1].answer)) c->n_ans++;
        c->id[order[j].i] = c->n_ans - 1;
    }
    free(order);
    return 0;
}

static void ctx_free(Ctx *c) {
    void *p[] = {c->id, c->correct, c->weight, c->mean, c->sum, c->votes, c->first,
                 c->ok, c->w,       c->lp,     c->best, c->cf,  c->cw,    c->touched};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
}

static int ctx_init(Ctx *c, const EstSample *s, int n) {
    memset(c, 0, sizeof *c);
    c->n = n;
    size_t un = (size_t)n;
    c->id = malloc(un * sizeof(int)), c->correct = malloc(un * sizeof(int));
    c->weight = malloc(un * sizeof(double)), c->mean = malloc(un * sizeof(double));
    c->sum = malloc(un * sizeof(double));
    c->votes = calloc(un, sizeof(int)), c->first = malloc(un * sizeof(int));
    c->ok = malloc(un * sizeof(int)), c->touched = malloc(un * sizeof(int));
    c->w = malloc(un * sizeof(double)), c->lp = malloc(un * sizeof(double));
    c->best = malloc(un * sizeof(double));
    c->cf = malloc(un * sizeof(double)), c->cw = malloc(un * sizeof(double));
    if (!c->id || !c->correct || !c->weight || !c->mean || !c->sum || !c->votes || !c->first ||
        !c->ok || !c->touched || !c->w || !c->lp || !c->best || !c->cf || !c->cw ||
        assign_ids(c, s))
        return -1;
    for (int i = 0; i < n; i++) {
        VoteEntry e = {s[i].answer, s[i].sum_logprob, s[i].n_tokens, s[i].conf};
        c->mean[i] = vote_chain_mean(&e);
        c->weight[i] = vote_chain_weight(&e);
        c->sum[i] = isnan(s[i].sum_logprob) ? -INFINITY : s[i].sum_logprob; // as vote.c
        c->correct[i] = s[i].correct != 0;
        c->cf[i] = isnan(s[i].conf) ? 0 : s[i].conf; // as vote.c
    }
    return 0;
}

// ---- one subset -------------------------------------------------------------------------------

static int desc(double a, double b) {
    return (a < b) - (a > b);
}

// 1 if answer a outranks answer b under method m (vote.c's by_rank).
static int outranks(const Ctx *c, int a, int b, VoteMethod m) {
    double sa = m == VOTE_WEIGHTED ? c->w[a]
                : m == VOTE_BEST   ? c->best[a]
                : m == VOTE_CONF   ? c->cw[a]
                                   : c->votes[a];
    double sb = m == VOTE_WEIGHTED ? c->w[b]
                : m == VOTE_BEST   ? c->best[b]
                : m == VOTE_CONF   ? c->cw[b]
                                   : c->votes[b];
    int r = desc(sa, sb);
    if (!r) r = desc(c->votes[a], c->votes[b]);
    if (!r) r = desc(c->lp[a], c->lp[b]);
    return r ? r < 0 : c->first[a] < c->first[b];
}

#define N_METHODS 4 // majority, weighted, best, conf: the VoteMethod values

// Tallies the subset idx[k] (ascending sample indices) and adds each method's 0/1 to acc[].
static void score_subset(Ctx *c, const int *idx, int k, double acc[N_METHODS]) {
    int nt = 0;
    for (int j = 0; j < k; j++) {
        int i = idx[j], a = c->id[i];
        if (a < 0) continue;
        if (c->votes[a] == 0) {
            c->touched[nt++] = a;
            c->first[a] = j, c->ok[a] = c->correct[i];
            c->w[a] = 0, c->lp[a] = 0, c->best[a] = -INFINITY, c->cw[a] = 0;
        }
        c->votes[a]++;
        c->w[a] += c->weight[i];
        c->lp[a] += c->sum[i];
        c->cw[a] += c->cf[i];
        if (c->mean[i] > c->best[a]) c->best[a] = c->mean[i];
    }
    for (int m = 0; m < N_METHODS && nt > 0; m++) {
        int win = c->touched[0];
        for (int t = 1; t < nt; t++)
            if (outranks(c, c->touched[t], win, (VoteMethod)m)) win = c->touched[t];
        acc[m] += c->ok[win];
    }
    for (int t = 0; t < nt; t++) c->votes[c->touched[t]] = 0;
}

// ---- subsets: all of them, or a fixed-seed sample ---------------------------------------------

// C(n, k), or cap + 1 once it exceeds cap. Each partial product C(n-k+i, i) is an integer.
static long long choose_capped(int n, int k, long long cap) {
    long long c = 1;
    for (int i = 1; i <= k; i++) {
        c = c * (n - k + i) / i;
        if (c > cap) return cap + 1;
    }
    return c;
}

// Subsets are idx[0..f) = the fixed samples 0..f-1, then k pool samples from [f, n) ascending.
static long all_subsets(Ctx *c, int *idx, int f, int k, double acc[N_METHODS]) {
    long count = 0;
    for (int j = 0; j < f + k; j++) idx[j] = j;
    for (;;) {
        score_subset(c, idx, f + k, acc);
        count++;
        int j = f + k - 1;
        while (j >= f && idx[j] == c->n - (f + k) + j) j--;
        if (j < f) return count;
        idx[j]++;
        for (int t = j + 1; t < f + k; t++) idx[t] = idx[t - 1] + 1;
    }
}

static int ascending(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

// Partial Fisher-Yates over a persistent permutation of the pool: each draw is a uniform
// k-subset of it.
static long sampled_subsets(Ctx *c, int *idx, int *perm, int f, int k, double acc[N_METHODS]) {
    uint32_t counter = 0;
    int pool = c->n - f;
    for (int i = 0; i < pool; i++) perm[i] = f + i;
    for (int j = 0; j < f; j++) idx[j] = j;
    for (long s = 0; s < EST_MAX_SUBSETS; s++) {
        for (int j = 0; j < k; j++) {
            int r = j + (int)(rng_bits(EST_SEED, (uint32_t)k, counter++) % (uint64_t)(pool - j));
            int t = perm[j];
            perm[j] = perm[r], perm[r] = t;
            idx[f + j] = perm[j];
        }
        qsort(idx + f, (size_t)k, sizeof *idx, ascending);
        score_subset(c, idx, f + k, acc);
    }
    return EST_MAX_SUBSETS;
}

int est_with_fixed(const EstSample *samples, int n, int n_fixed, int k, EstAtK *out) {
    memset(out, 0, sizeof *out);
    out->k = n_fixed + k;
    if (n_fixed < 0 || n_fixed > n || k < 0 || k > n - n_fixed || n_fixed + k < 1) return -1;
    Ctx c;
    int *idx = malloc((size_t)n * sizeof *idx), *perm = malloc((size_t)n * sizeof *perm);
    int rc = -1, pool = n - n_fixed;
    if (idx && perm && ctx_init(&c, samples, n) == 0) {
        double acc[N_METHODS] = {0}, fixed_tokens = 0, pool_tokens = 0;
        int fixed_correct = 0, pool_correct = 0;
        out->exact = choose_capped(pool, k, EST_MAX_SUBSETS) <= EST_MAX_SUBSETS;
        out->subsets = out->exact ? all_subsets(&c, idx, n_fixed, k, acc)
                                  : sampled_subsets(&c, idx, perm, n_fixed, k, acc);
        for (int i = 0; i < n; i++) {
            double t = samples[i].n_tokens > 0 ? samples[i].n_tokens : 0;
            if (i < n_fixed)
                fixed_correct += c.correct[i], fixed_tokens += t;
            else
                pool_correct += c.correct[i], pool_tokens += t;
        }
        out->majority = acc[VOTE_MAJORITY] / out->subsets;
        out->weighted = acc[VOTE_WEIGHTED] / out->subsets;
        out->best = acc[VOTE_BEST] / out->subsets;
        out->conf = acc[VOTE_CONF] / out->subsets;
        out->pass = fixed_correct ? 1 : k ? est_pass_at_k(pool, pool_correct, k) : 0;
        out->tokens = fixed_tokens + (k ? k * pool_tokens / pool : 0);
        rc = 0;
    }
    if (idx && perm) ctx_free(&c);
    free(idx);
    free(perm);
    return rc;
}

int est_at_k(const EstSample *samples, int n, int k, EstAtK *out) {
    return k < 1 ? (memset(out, 0, sizeof *out), out->k = k, -1)
                 : est_with_fixed(samples, n, 0, k, out);
}
