// chains/confidence.c - confidence trace scores (chains/confidence.h).
#include "chains/confidence.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[TRACE_N_SCORES] = {"mean", "lowest", "bottom10", "tail"};

int trace_parse_score(const char *name) {
    for (int s = 0; s < TRACE_N_SCORES; s++)
        if (!strcmp(name, NAMES[s])) return s;
    return -1;
}

const char *trace_score_name(TraceScore s) {
    return s < TRACE_N_SCORES ? NAMES[s] : "?";
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Group confidences G[n_g] (window sums slide in double: one add and one subtract a token).
static double *groups(const float *conf, int n, int w, int *n_g) {
    if (w > n) w = n;
    *n_g = n - w + 1;
    double *g = malloc((size_t)*n_g * sizeof *g), s = 0;
    if (!g) return NULL;
    for (int i = 0; i < w; i++) s += conf[i];
    g[0] = s / w;
    for (int t = w; t < n; t++) {
        s += (double)conf[t] - conf[t - w]; // in double: a float difference would round
        g[t - w + 1] = s / w;
    }
    return g;
}

int trace_scores(const float *conf, int n, const TraceParams *p, double *scores) {
    for (int s = 0; s < TRACE_N_SCORES; s++) scores[s] = NAN;
    if (n <= 0) return 0;
    double sum = 0, tail = 0;
    int t0 = n > p->tail ? n - p->tail : 0;
    for (int i = 0; i < n; i++) sum += conf[i], tail += i >= t0 ? conf[i] : 0;
    scores[TRACE_MEAN] = sum / n;
    scores[TRACE_TAIL] = tail / (n - t0);
    int n_g;
    double *g = groups(conf, n, p->window > 0 ? p->window : 1, &n_g);
    if (!g) return -1;
    qsort(g, (size_t)n_g, sizeof *g, cmp_double);
    int m = n_g / 10 > 0 ? n_g / 10 : 1;
    double low = 0;
    for (int i = 0; i < m; i++) low += g[i];
    scores[TRACE_LOWEST] = g[0];
    scores[TRACE_BOTTOM10] = low / m;
    free(g);
    return 0;
}

double trace_group_at(const float *conf, int t, int window) {
    double s = 0;
    for (int i = t - window + 1; i <= t; i++) s += conf[i];
    return s / window;
}

int trace_first_below(const float *conf, int n, int window, double thr) {
    for (int t = window - 1; window >= 1 && t < n; t++)
        if (trace_group_at(conf, t, window) < thr) return t;
    return -1;
}

static int desc_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

double deepconf_threshold(double *lows, int n, double keep) {
    if (n <= 0) return NAN;
    qsort(lows, (size_t)n, sizeof *lows, desc_double);
    int m = (int)ceil(keep * n - 1e-9);
    return lows[m < 1 ? 0 : m > n ? n - 1 : m - 1];
}
