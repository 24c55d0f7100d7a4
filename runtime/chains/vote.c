// vote.c - aggregation of the chains' answers and the adaptive stopping rule (vote.h).
//
// The tally is built by sorting the voters by answer (O(n log n), so a large N never turns
// quadratic) and grouping equal answers; then the groups are sorted by the method's score.
#include "chains/vote.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double vote_chain_mean(const VoteEntry *e) {
    if (e->n_tokens <= 0 || isnan(e->sum_logprob)) return -INFINITY;
    return e->sum_logprob / e->n_tokens;
}

double vote_chain_weight(const VoteEntry *e) {
    return exp(vote_chain_mean(e));
}

static double clean_sum(const VoteEntry *e) {
    return isnan(e->sum_logprob) ? -INFINITY : e->sum_logprob;
}

typedef struct {
    const char *answer;
    int chain;
} Voter;

static int by_answer(const void *pa, const void *pb) {
    const Voter *a = pa, *b = pb;
    int c = strcmp(a->answer, b->answer);
    return c ? c : (a->chain > b->chain) - (a->chain < b->chain);
}

static int desc(double a, double b) {
    return (a < b) - (a > b);
}

// Winner first: score, votes, total log-prob (all descending), then the lowest first chain.
static int by_rank(const void *pa, const void *pb) {
    const VoteTally *a = pa, *b = pb;
    int c = desc(a->score, b->score);
    if (!c) c = desc(a->votes, b->votes);
    if (!c) c = desc(a->sum_logprob, b->sum_logprob);
    return c ? c : (a->first > b->first) - (a->first < b->first);
}

static double score_of(const VoteTally *t, VoteMethod m) {
    return m == VOTE_WEIGHTED ? t->weight
           : m == VOTE_BEST   ? t->best_mean
           : m == VOTE_CONF   ? t->conf
                              : (double)t->votes;
}

// Groups sorted voters [nv] into r->tally (already allocated to nv entries).
static int group(const Voter *v, int nv, const VoteEntry *entries, VoteResult *r) {
    for (int i = 0; i < nv; i++) {
        if (i == 0 || strcmp(v[i].answer, v[i - 1].answer)) {
            VoteTally *t = &r->tally[r->n_tally++];
            memset(t, 0, sizeof *t);
            t->answer = strdup(v[i].answer);
            if (!t->answer) return -1;
            t->best_mean = -INFINITY;
            t->first = v[i].chain; // voters are sorted by chain within an answer
        }
        VoteTally *t = &r->tally[r->n_tally - 1];
        const VoteEntry *e = &entries[v[i].chain];
        double m = vote_chain_mean(e);
        t->votes++;
        t->weight += vote_chain_weight(e);
        t->sum_logprob += clean_sum(e);
        t->conf += isnan(e->conf) ? 0 : e->conf;
        if (m > t->best_mean) t->best_mean = m;
    }
    return 0;
}

int vote_aggregate(const VoteEntry *entries, int n, VoteMethod method, VoteResult *r) {
    memset(r, 0, sizeof *r);
    r->n_entries = n;
    Voter *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    r->tally = malloc((size_t)(n > 0 ? n : 1) * sizeof *r->tally);
    if (!v || !r->tally) goto oom;
    for (int i = 0; i < n; i++)
        if (entries[i].answer) v[r->n_voters++] = (Voter){entries[i].answer, i};
    qsort(v, (size_t)r->n_voters, sizeof *v, by_answer);
    if (group(v, r->n_voters, entries, r)) goto oom;
    for (int i = 0; i < r->n_tally; i++) r->tally[i].score = score_of(&r->tally[i], method);
    qsort(r->tally, (size_t)r->n_tally, sizeof *r->tally, by_rank);
    free(v);
    if (r->n_tally) {
        r->winner = r->tally[0].answer;
        r->votes = r->tally[0].votes;
        r->score = r->tally[0].score;
        r->share = (double)r->votes / r->n_voters;
    }
    return 0;
oom:
    free(v);
    vote_result_free(r);
    return -1;
}

void vote_result_free(VoteResult *r) {
    for (int i = 0; i < r->n_tally; i++) free(r->tally[i].answer);
    free(r->tally);
    memset(r, 0, sizeof *r);
}

// ---- DeepConf's filter -------------------------------------------------------------------------

static const VoteEntry *g_keep; // qsort has no context argument
static int by_conf_desc(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    double x = g_keep[a].conf, y = g_keep[b].conf;
    if (isnan(x) != isnan(y)) return isnan(x) ? 1 : -1;
    if (x != y && !isnan(x)) return x > y ? -1 : 1;
    return (a > b) - (a < b);
}

int vote_keep_top(VoteEntry *e, int n, double pct) {
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!order) return -1;
    for (int i = 0; i < n; i++) order[i] = i;
    g_keep = e;
    qsort(order, (size_t)n, sizeof *order, by_conf_desc);
    int keep = (int)ceil(pct / 100 * n - 1e-9);
    for (int j = 0; j < n; j++)
        if (j >= keep || isnan(e[order[j]].conf)) e[order[j]].answer = NULL;
    free(order);
    return 0;
}

// The leader's share of the confidence-weighted vote over entries [n] (0 with no weight).
double vote_conf_consensus(const VoteEntry *e, int n) {
    VoteResult r;
    double total = 0, lead = 0;
    if (vote_aggregate(e, n, VOTE_CONF, &r)) return 0;
    for (int i = 0; i < r.n_tally; i++) total += r.tally[i].conf;
    if (r.n_tally) lead = r.tally[0].conf;
    vote_result_free(&r);
    return total > 0 ? lead / total : 0;
}

// ---- adaptive stopping ------------------------------------------------------------------------

// P(Binomial(n, 1/2) <= k), summing C(n, i) 2^-n in log space (2^-n underflows past n = 1074).
static double binom_half_cdf(int n, int k) {
    if (k < 0) return 0;
    if (k >= n) return 1;
    if (2 * k >= n) return 1 - binom_half_cdf(n, n - k - 1); // sum the short tail: symmetry
    double lt = -n * log(2.0), acc = -INFINITY;              // log C(n, 0) 2^-n
    for (int i = 0; i <= k; i++) {
        double hi = acc > lt ? acc : lt, lo = acc > lt ? lt : acc;
        acc = hi + log1p(exp(lo - hi));
        lt += log((double)(n - i) / (i + 1));
    }
    return exp(acc);
}

double vote_settle_prob(int a, int b) {
    if (a < 0) a = 0;
    if (b < 0) b = 0;
    return binom_half_cdf(a + b + 1, a);
}

int vote_settled(const VoteEntry *entries, int n, double confidence, double *p_out) {
    VoteResult r;
    int a = 0, b = 0;
    if (vote_aggregate(entries, n, VOTE_MAJORITY, &r) == 0) {
        a = r.n_tally > 0 ? r.tally[0].votes : 0;
        b = r.n_tally > 1 ? r.tally[1].votes : 0;
        vote_result_free(&r);
    }
    double p = vote_settle_prob(a, b);
    if (p_out) *p_out = p;
    return a > 0 && p >= confidence;
}

int vote_parse_method(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "majority")) return VOTE_MAJORITY;
    if (!strcmp(name, "weighted")) return VOTE_WEIGHTED;
    if (!strcmp(name, "best")) return VOTE_BEST;
    if (!strcmp(name, "conf")) return VOTE_CONF;
    return -1;
}

const char *vote_method_name(VoteMethod m) {
    return m == VOTE_WEIGHTED ? "weighted"
           : m == VOTE_BEST   ? "best"
           : m == VOTE_CONF   ? "conf"
                              : "majority";
}
