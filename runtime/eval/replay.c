// eval/replay.c - stopping rules replayed on fixed samples (eval/replay.h).
#include "eval/replay.h"
#include "chains/vote.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// Majority vote over chains [n] (already in index order): fills chains, tokens, correct.
static int vote_over(const EvalQuestion *q, const EvalChain *const *c, int n, ReplayOutcome *o) {
    VoteEntry *e = malloc(((size_t)n + 1) * sizeof *e);
    VoteResult r;
    if (!e) return -1;
    o->chains = n, o->tokens = 0;
    for (int i = 0; i < n; i++) {
        e[i] = eval_entry(c[i]);
        o->tokens += c[i]->tokens;
    }
    int rc = vote_aggregate(e, n, VOTE_MAJORITY, &r);
    if (!rc) {
        o->correct = r.winner && q->reference && !strcmp(r.winner, q->reference);
        vote_result_free(&r);
    }
    free(e);
    return rc;
}

// The first n chains of an arm as a pointer list.
static int arm_prefix(const EvalChain *arm, int n, ReplayOutcome *o, const EvalQuestion *q) {
    const EvalChain **c = malloc(((size_t)n + 1) * sizeof *c);
    if (!c) return -1;
    for (int i = 0; i < n; i++) c[i] = &arm[i];
    int rc = vote_over(q, c, n, o);
    free(c);
    return rc;
}

static void outcome_init(ReplayOutcome *o) {
    memset(o, 0, sizeof *o);
    o->bin = -1;
    o->action = POLICY_MORE;
}

int replay_beta(const EvalQuestion *q, int think, int wave, double confidence, ReplayOutcome *o) {
    int n;
    const EvalChain *arm = eval_arm(q, think, &n);
    outcome_init(o);
    VoteEntry *e = malloc(((size_t)n + 1) * sizeof *e);
    if (!e) return -1;
    for (int i = 0; i < n; i++) e[i] = eval_entry(&arm[i]);
    int m = wave < n ? wave : n;
    while (m < n && !(o->stopped = vote_settled(e, m, confidence, NULL)))
        m = m + wave < n ? m + wave : n;
    free(e);
    return arm_prefix(arm, m, o, q);
}

int replay_esc(const EvalQuestion *q, int think, int window, ReplayOutcome *o) {
    int n;
    const EvalChain *arm = eval_arm(q, think, &n);
    outcome_init(o);
    int m = 0;
    while (m < n) {
        int end = m + window < n ? m + window : n, same = end - m == window;
        for (int i = m; same && i < end; i++)
            same = arm[i].answer && !strcmp(arm[i].answer, arm[m].answer);
        m = end;
        if (same && m < n) {
            o->stopped = 1;
            break;
        }
    }
    return arm_prefix(arm, m, o, q);
}

int replay_policy(const EvalQuestion *q, const Policy *p, ReplayOutcome *o, char *err,
                  size_t errlen) {
    int n0, n1;
    const EvalChain *first = eval_arm(q, p->probe_think, &n0);
    outcome_init(o);
    if (n0 < p->wave)
        return snprintf(err, errlen,
                        "question %d: the policy's first wave needs %d chains at "
                        "thinking budget %d; the report has %d",
                        q->id, p->wave, p->probe_think, n0),
               -1;
    VoteEntry *e = malloc((size_t)p->wave * sizeof *e);
    if (!e) return snprintf(err, errlen, "out of memory"), -1;
    for (int i = 0; i < p->wave; i++) e[i] = eval_entry(&first[i]);
    PolicyDecision d = policy_decide(p, e, p->wave);
    free(e);
    o->bin = d.bin, o->action = d.action, o->stopped = d.action != POLICY_MORE;
    const EvalChain *more = eval_arm(q, d.think, &n1);
    if (d.extra > 0 && n1 < p->wave + d.extra)
        return snprintf(err, errlen,
                        "question %d: the policy draws chains %d..%d at thinking "
                        "budget %d; the report has %d there",
                        q->id, p->wave, p->wave + d.extra - 1, d.think, n1),
               -1;
    // first wave (chains 0..wave-1), then the extra chains wave..wave+extra-1: index order
    const EvalChain **c = malloc(((size_t)p->wave + d.extra) * sizeof *c);
    if (!c) return snprintf(err, errlen, "out of memory"), -1;
    for (int i = 0; i < p->wave; i++) c[i] = &first[i];
    for (int i = 0; i < d.extra; i++) c[p->wave + i] = &more[p->wave + i];
    int rc = vote_over(q, c, p->wave + d.extra, o);
    free(c);
    return rc ? (snprintf(err, errlen, "out of memory"), -1) : 0;
}

static int by_index(const void *a, const void *b) {
    const EvalChain *x = *(const EvalChain *const *)a, *y = *(const EvalChain *const *)b;
    return (x->index > y->index) - (x->index < y->index);
}

int replay_all(const EvalQuestion *q, ReplayOutcome *o) {
    outcome_init(o);
    const EvalChain **c = malloc(((size_t)q->n_chains + 1) * sizeof *c);
    if (!c) return -1;
    for (int i = 0; i < q->n_chains; i++) c[i] = &q->chains[i];
    qsort(c, (size_t)q->n_chains, sizeof *c, by_index);
    int rc = vote_over(q, c, q->n_chains, o);
    free(c);
    return rc;
}

double eval_chain_score(const EvalChain *c, const TraceParams *tp, TraceScore s) {
    double sc[TRACE_N_SCORES];
    return c->conf && !trace_scores(c->conf, c->tokens, tp, sc) ? sc[s] : NAN;
}

// The deepconf replay's running state: the chains used so far as vote entries.
typedef struct {
    VoteEntry *e;
    int n;
} Used;

static void use_chain(Used *u, const EvalChain *c, const DeepConf *dc, double thr,
                      ReplayOutcome *o) {
    int t = isnan(thr) || !c->conf ? -1 : trace_first_below(c->conf, c->tokens, dc->tp.window, thr);
    VoteEntry e = eval_entry(c);
    e.conf = eval_chain_score(c, &dc->tp, dc->score);
    if (t >= 0) e.answer = NULL, e.n_tokens = t + 1, o->ended++; // ended there: no vote
    o->tokens += e.n_tokens;
    u->e[u->n++] = e;
}

int replay_deepconf(const EvalQuestion *q, int think, const DeepConf *dc, int wave,
                    ReplayOutcome *o) {
    int n;
    const EvalChain *arm = eval_arm(q, think, &n);
    outcome_init(o);
    Used u = {malloc(((size_t)n + 1) * sizeof *u.e), 0};
    double *lows = malloc(((size_t)n + 1) * sizeof *lows), thr = NAN;
    if (!u.e || !lows) return free(u.e), free(lows), -1;
    int n_init = dc->n_init < n ? dc->n_init : n, m = 0;
    for (int i = 0; i < n_init; i++) { // the warm-up runs in full
        use_chain(&u, &arm[i], dc, NAN, o);
        double low = eval_chain_score(&arm[i], &dc->tp, TRACE_LOWEST);
        if (!isnan(low)) lows[m++] = low;
    }
    thr = deepconf_threshold(lows, m, dc->keep);
    for (int end = n_init;; end += wave) {
        if (dc->tau > 0 && vote_conf_consensus(u.e, u.n) >= dc->tau) {
            o->stopped = u.n < n;
            break;
        }
        if (u.n >= n) break;
        for (int i = u.n; i < end + wave && i < n; i++) use_chain(&u, &arm[i], dc, thr, o);
    }
    VoteResult r;
    int rc = vote_aggregate(u.e, u.n, VOTE_MAJORITY, &r);
    if (!rc) {
        o->chains = u.n;
        o->correct = r.winner && q->reference && !strcmp(r.winner, q->reference);
        vote_result_free(&r);
    }
    free(u.e), free(lows);
    return rc;
}
