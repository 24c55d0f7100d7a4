// eval/confidence_auroc.c - does trace confidence tell right chains from wrong ones? AUROC of every
// trace score (chains/confidence.h) at several windows, pooled over all chains and within questions
// (eval/methods.h).
#include "eval/methods.h"
#include "eval/replay.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    double s;
    int y;
} Scored;

static int by_score(const void *a, const void *b) {
    double x = ((const Scored *)a)->s, y = ((const Scored *)b)->s;
    return (x > y) - (x < y);
}

// Mann-Whitney: the probability that a random positive scores above a random negative.
double auroc(const double *scores, const int *labels, int n) {
    Scored *v = malloc(((size_t)n + 1) * sizeof *v);
    int m = 0;
    long pos = 0;
    if (!v) return NAN;
    for (int i = 0; i < n; i++)
        if (!isnan(scores[i])) v[m++] = (Scored){scores[i], labels[i] != 0}, pos += labels[i] != 0;
    long neg = m - pos;
    double rank_sum = 0;
    qsort(v, (size_t)m, sizeof *v, by_score);
    for (int i = 0; i < m;) { // ranks 1..m, ties get their average rank
        int j = i;
        while (j < m && v[j].s == v[i].s) j++;
        double r = (i + 1 + j) / 2.0;
        for (int t = i; t < j; t++) rank_sum += v[t].y ? r : 0;
        i = j;
    }
    free(v);
    if (pos == 0 || neg == 0) return NAN;
    return (rank_sum - pos * (pos + 1) / 2.0) / ((double)pos * neg);
}

int eval_auroc_table(const EvalQuestion *qs, const EvalParams *p, const MethodsOptions *o,
                     EvalMethods *m) {
    static const int windows[] = AUROC_WINDOWS;
    long total = 0;
    for (int q = 0; q < m->n_q; q++) {
        int n;
        eval_arm(&qs[q], p->think, &n);
        total += n;
    }
    double *s = malloc(((size_t)total + 1) * sizeof *s);
    int *y = malloc(((size_t)total + 1) * sizeof *y);
    if (!s || !y) return free(s), free(y), -1;
    for (int w = 0; w < 3; w++)
        for (int sc = 0; sc < TRACE_N_SCORES; sc++) {
            TraceParams tp = {windows[w], o->dc.tp.tail};
            long k = 0;
            double within = 0;
            int n_within = 0;
            for (int q = 0; q < m->n_q; q++) {
                int n;
                const EvalChain *arm = eval_arm(&qs[q], p->think, &n);
                for (int i = 0; i < n; i++)
                    s[k + i] = eval_chain_score(&arm[i], &tp, (TraceScore)sc),
                          y[k + i] = arm[i].correct;
                double a = auroc(s + k, y + k, n);
                if (!isnan(a)) within += a, n_within++;
                k += n;
            }
            m->auroc[sc][w] = auroc(s, y, (int)k);
            m->auroc_within[sc][w] = n_within ? within / n_within : NAN;
            m->n_within = n_within;
        }
    free(s), free(y);
    return 0;
}
