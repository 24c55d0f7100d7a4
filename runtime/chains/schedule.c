// schedule.c - how many more chains a question gets after each wave (schedule.h).
#include "chains/schedule.h"
#include "chains/vote.h"

#include <math.h>
#include <stdlib.h>

int schedule_first_wave(const ChainsConfig *cfg, int *think) {
    *think = cfg->policy ? cfg->policy->probe_think : cfg->think_tokens;
    return cfg->policy        ? cfg->policy->wave
           : cfg->deepconf.on ? cfg->deepconf.n_init
           : cfg->adaptive    ? cfg->wave
                              : cfg->n_samples;
}

static int by_chain_index(const void *a, const void *b) {
    const ChainResult *x = *(const ChainResult *const *)a, *y = *(const ChainResult *const *)b;
    return (x->index > y->index) - (x->index < y->index);
}

VoteEntry *question_vote_entries(const Question *q, const DeepConf *dc) {
    VoteEntry *e = malloc((q->n_chains + 1) * sizeof(VoteEntry));
    const ChainResult **order = malloc((q->n_chains + 1) * sizeof *order);
    if (e && order) {
        for (int i = 0; i < q->n_chains; i++) order[i] = &q->chains[i];
        qsort(order, (size_t)q->n_chains, sizeof *order, by_chain_index);
        for (int i = 0; i < q->n_chains; i++) {
            const ChainResult *r = order[i];
            double sc[TRACE_N_SCORES];
            e[i] = vote_entry(r->has_answer ? r->answer : NULL, r->sum_logprob, r->n_tokens);
            if (dc && r->conf && !trace_scores(r->conf, r->n_tokens, &dc->tp, sc))
                e[i].conf = sc[dc->score];
        }
    } else {
        free(e);
        e = NULL;
    }
    free(order);
    return e;
}

// DeepConf after its warm-up: the threshold from the chains' lowest group confidence.
static int conf_threshold(const DeepConf *dc, const Question *q, double *thr) {
    double *lows = malloc((q->n_chains + 1) * sizeof *lows), sc[TRACE_N_SCORES];
    int n = 0;
    if (!lows) return -1;
    for (int i = 0; i < q->n_chains; i++)
        if (q->chains[i].conf &&
            !trace_scores(q->chains[i].conf, q->chains[i].n_tokens, &dc->tp, sc))
            lows[n++] = sc[TRACE_LOWEST];
    *thr = deepconf_threshold(lows, n, dc->keep);
    free(lows);
    return 0;
}

int schedule_next_wave(const ChainsConfig *cfg, Question *q, int launched, WaveNext *next) {
    const DeepConf *dc = &cfg->deepconf;
    next->more = 0;
    if (dc->on && isnan(next->conf_thr)) {
        if (conf_threshold(dc, q, &next->conf_thr)) return -1;
        q->conf_thr = next->conf_thr;
    }
    // the trace scores only weigh DeepConf's consensus
    VoteEntry *e = question_vote_entries(q, dc->on ? dc : NULL);
    if (!e) return -1;
    if (cfg->policy && launched == cfg->policy->wave) {
        PolicyDecision d = policy_decide(cfg->policy, e, q->n_chains);
        q->bin = d.bin, q->score = d.score;
        next->more = d.extra, next->think = d.think;
        if (d.action != POLICY_MORE)
            q->stop = d.action == POLICY_SETTLED ? QSTOP_SETTLED : QSTOP_HOPELESS;
    } else if ((cfg->adaptive || dc->on) && !cfg->policy && launched < cfg->n_samples) {
        if (cfg->adaptive && vote_settled(e, q->n_chains, cfg->confidence, NULL))
            q->settled_early = 1, q->stop = QSTOP_SETTLED;
        else if (dc->on && dc->tau > 0 && vote_conf_consensus(e, q->n_chains) >= dc->tau)
            q->settled_early = 1, q->stop = QSTOP_CONSENSUS;
        else
            next->more = cfg->wave;
    }
    free(e);
    return 0;
}
