// eval/tables.c - accuracy and tokens per method, k and difficulty group (see eval/tables.h).
#include "eval/tables.h"
#include "eval/replay.h"
#include "chains/vote.h"

#include <stdlib.h>
#include <string.h>

const char *const EVAL_AGREE_NAMES[EVAL_AGREE_BUCKETS] = {"1.00", "0.75-0.99", "0.50-0.74",
                                                          "0.00-0.49"};

static VoteEntry *entries_of(const EvalQuestion *q, int n) {
    VoteEntry *e = malloc((size_t)(n + 1) * sizeof *e);
    for (int i = 0; e && i < n; i++) e[i] = eval_entry(&q->chains[i]);
    return e;
}

static int answer_correct(const EvalQuestion *q, const char *answer) {
    return answer && q->reference && !strcmp(answer, q->reference);
}

// Majority vote over the first n chains: the winner (owned copy in *winner) and its votes.
static int majority_of(const EvalQuestion *q, int n, char **winner, int *votes) {
    *winner = NULL, *votes = 0;
    VoteEntry *e = entries_of(q, n);
    VoteResult r = {0};
    if (!e || vote_aggregate(e, n, VOTE_MAJORITY, &r)) {
        free(e);
        return -1;
    }
    if (r.winner && !(*winner = strdup(r.winner))) {
        vote_result_free(&r);
        free(e);
        return -1;
    }
    *votes = r.votes;
    vote_result_free(&r);
    free(e);
    return 0;
}

static int derive_one(const EvalQuestion *q, const EvalParams *p, EvalDerived *d) {
    int n = q->n_chains, votes;
    char *w;
    if (!(d->at = calloc(EVAL_MAX_KS, sizeof *d->at))) return -1;
    // agreement of the first wave
    int w0 = p->wave < n ? p->wave : n;
    if (majority_of(q, w0, &w, &votes)) return -1;
    free(w);
    d->agreement = w0 ? (double)votes / w0 : 0;
    d->bucket = d->agreement >= 1 ? 0 : d->agreement >= 0.75 ? 1 : d->agreement >= 0.5 ? 2 : 3;
    // adaptive: drawn by the run, or replayed on the fixed samples
    ReplayOutcome ad;
    if (p->adaptive ? replay_all(q, &ad) : replay_beta(q, p->think, p->wave, p->confidence, &ad))
        return -1;
    d->ad_chains = ad.chains, d->ad_tokens = ad.tokens, d->ad_correct = ad.correct;
    d->ad_settled = p->adaptive ? q->settled_early : ad.stopped;
    if (majority_of(q, n, &d->majority, &votes)) return -1;
    d->majority_correct = answer_correct(q, d->majority);
    // fixed-mode estimates
    EstSample *s = malloc((size_t)(n + 1) * sizeof *s);
    if (!s) return -1;
    for (int i = 0; i < n; i++) s[i] = eval_sample(&q->chains[i]);
    for (int j = 0; j < p->n_ks && n > 0; j++)
        if (est_at_k(s, n, p->ks[j] < n ? p->ks[j] : n, &d->at[j])) {
            free(s);
            return -1;
        }
    for (int j = 0; j < p->n_ks; j++) d->at[j].k = p->ks[j]; // a short question counts at k
    free(s);
    return 0;
}

// Adds one question to a group's sums (divided into means by group_finish).
static void group_init(EvalGroup *g, const EvalParams *p) {
    for (int j = 0; j < p->n_ks; j++) g->at[j].k = p->ks[j], g->at[j].exact = 1;
}

static void group_add(EvalGroup *g, const EvalQuestion *q, const EvalDerived *d, int n_ks) {
    g->n++;
    if (q->has_greedy) {
        g->n_greedy++;
        g->greedy += q->greedy.correct;
        g->greedy_tokens += q->greedy.tokens;
    }
    g->ad_acc += d->ad_correct;
    g->ad_tokens += d->ad_tokens;
    g->ad_chains += d->ad_chains;
    g->ad_settled += d->ad_settled;
    for (int j = 0; j < n_ks; j++) {
        EstAtK *a = &g->at[j];
        const EstAtK *b = &d->at[j];
        a->k = b->k;
        a->pass += b->pass, a->majority += b->majority, a->weighted += b->weighted;
        a->best += b->best, a->tokens += b->tokens, a->subsets += b->subsets;
        a->exact = a->exact && (b->exact || b->subsets == 0);
    }
}

static void group_finish(EvalGroup *g, int n_ks) {
    if (g->n_greedy) g->greedy /= g->n_greedy, g->greedy_tokens /= g->n_greedy;
    if (!g->n) return;
    g->ad_acc /= g->n, g->ad_tokens /= g->n, g->ad_chains /= g->n;
    for (int j = 0; j < n_ks; j++) {
        EstAtK *a = &g->at[j];
        a->pass /= g->n, a->majority /= g->n, a->weighted /= g->n, a->best /= g->n;
        a->tokens /= g->n;
    }
}

static int cmp_int(const void *a, const void *b) {
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

// One group per distinct level, ascending.
static int make_levels(const EvalQuestion *qs, int n, EvalTables *t) {
    int *lv = malloc((size_t)(n + 1) * sizeof *lv), m = 0;
    if (!lv) return -1;
    for (int i = 0; i < n; i++)
        if (qs[i].level >= 0) lv[m++] = qs[i].level;
    qsort(lv, (size_t)m, sizeof *lv, cmp_int);
    t->levels = calloc((size_t)m + 1, sizeof *t->levels);
    if (!t->levels) {
        free(lv);
        return -1;
    }
    for (int i = 0; i < m; i++)
        if (i == 0 || lv[i] != lv[i - 1])
            snprintf(t->levels[t->n_levels++].name, sizeof t->levels->name, "%d", lv[i]);
    free(lv);
    return 0;
}

int eval_tables(const EvalQuestion *qs, int n, const EvalParams *p, EvalTables *t) {
    memset(t, 0, sizeof *t);
    t->p = *p;
    t->n_q = n;
    if (!(t->d = calloc((size_t)n + 1, sizeof *t->d)) || make_levels(qs, n, t)) return -1;
    snprintf(t->all.name, sizeof t->all.name, "all");
    for (int b = 0; b < EVAL_AGREE_BUCKETS; b++)
        snprintf(t->agree[b].name, sizeof t->agree[b].name, "%s", EVAL_AGREE_NAMES[b]);
    group_init(&t->all, p);
    for (int b = 0; b < EVAL_AGREE_BUCKETS; b++) group_init(&t->agree[b], p);
    for (int g = 0; g < t->n_levels; g++) group_init(&t->levels[g], p);
    int fewest = p->n_max;
    for (int i = 0; i < n; i++) {
        EvalQuestion arm = qs[i]; // the tables describe the primary arm
        arm.chains = (EvalChain *)eval_arm(&qs[i], p->think, &arm.n_chains);
        if (derive_one(&arm, p, &t->d[i])) return -1;
        if (arm.n_chains < fewest) fewest = arm.n_chains;
        group_add(&t->all, &qs[i], &t->d[i], p->n_ks);
        group_add(&t->agree[t->d[i].bucket], &qs[i], &t->d[i], p->n_ks);
        char name[32];
        snprintf(name, sizeof name, "%d", qs[i].level);
        for (int g = 0; qs[i].level >= 0 && g < t->n_levels; g++)
            if (!strcmp(t->levels[g].name, name))
                group_add(&t->levels[g], &qs[i], &t->d[i], p->n_ks);
    }
    group_finish(&t->all, p->n_ks);
    for (int b = 0; b < EVAL_AGREE_BUCKETS; b++) group_finish(&t->agree[b], p->n_ks);
    for (int g = 0; g < t->n_levels; g++) group_finish(&t->levels[g], p->n_ks);
    // with --adaptive a k above some question's chain count is not a fixed-k measurement
    t->n_fixed_ks = p->n_ks;
    if (p->adaptive)
        while (t->n_fixed_ks > 0 && p->ks[t->n_fixed_ks - 1] > fewest) t->n_fixed_ks--;
    return 0;
}

void eval_tables_free(EvalTables *t) {
    for (int i = 0; t->d && i < t->n_q; i++) {
        free(t->d[i].majority);
        free(t->d[i].at);
    }
    free(t->d);
    free(t->levels);
    memset(t, 0, sizeof *t);
}

// ---- terminal tables -------------------------------------------------------------------------

static void print_group_table(FILE *f, const char *title, const EvalGroup *g, int n_g,
                              const EvalTables *t) {
    int last = t->n_fixed_ks > 0 ? t->n_fixed_ks - 1 : 0; // the largest k reported (N_max)
    int kmax = t->p.ks[last];
    fprintf(f, "\n%-10s %5s %7s %7s %7s %7s %7s %7s %7s %8s\n", title, "n", "greedy", "@1", "maj",
            "wtd", "best", "pass", "adapt", "ad.tok");
    fprintf(f, "%-10s %5s %7s %7s %7s %7s %7s %7s %7s %8s\n", "", "", "", "", "@N", "@N", "@N",
            "@N", "", "");
    for (int i = 0; i < n_g; i++) {
        if (!g[i].n) continue;
        fprintf(f, "%-10s %5d ", g[i].name, g[i].n);
        if (g[i].n_greedy)
            fprintf(f, "%7.3f ", g[i].greedy);
        else
            fprintf(f, "%7s ", "-");
        fprintf(f, "%7.3f %7.3f %7.3f %7.3f %7.3f %7.3f %8.1f\n", g[i].at[0].majority,
                g[i].at[last].majority, g[i].at[last].weighted, g[i].at[last].best,
                g[i].at[last].pass, g[i].ad_acc, g[i].ad_tokens);
    }
    fprintf(f, "(@1 = one sample's accuracy, @N = at k = %d; ad.tok = adaptive's mean tokens)\n",
            kmax);
}

void eval_tables_print(FILE *f, const EvalTables *t) {
    const EvalGroup *a = &t->all;
    fprintf(f, "%-10s %4s %9s %9s %9s %9s %12s\n", "method", "k", "majority", "weighted",
            "best-of-k", "pass@k", "tokens/q");
    if (a->n_greedy)
        fprintf(f, "%-10s %4d %9.3f %9s %9s %9s %12.1f\n", "greedy", 1, a->greedy, "", "", "",
                a->greedy_tokens);
    for (int j = 0; j < t->n_fixed_ks; j++) {
        const EstAtK *e = &a->at[j];
        fprintf(f, "%-10s %4d %9.3f %9.3f %9.3f %9.3f %12.1f%s\n", "fixed", e->k, e->majority,
                e->weighted, e->best, e->pass, e->tokens, e->exact ? "" : "  (subsampled)");
    }
    fprintf(f,
            "%-10s %4s %9.3f %9s %9s %9s %12.1f  (wave %d, confidence %.2f: %d/%d settled "
            "early, %.1f chains/q%s)\n",
            "adaptive", "-", a->ad_acc, "", "", "", a->ad_tokens, t->p.wave, t->p.confidence,
            a->ad_settled, a->n, a->ad_chains, t->p.adaptive ? "" : ", replayed");
    if (t->p.n_ks == 0 || a->n == 0) return;
    if (t->n_levels) print_group_table(f, "level", t->levels, t->n_levels, t);
    print_group_table(f, "agreement", t->agree, EVAL_AGREE_BUCKETS, t);
}
