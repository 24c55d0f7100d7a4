// chains/confidence.h - a chain's confidence trace and the scores DeepConf ranks chains by (Fu,
// Wang, Tian, Zhao 2025, arXiv:2508.15260). The trace is each sampled token's confidence C_i
// (sampler.h: mean -log p of the k most likely tokens; higher = the model was surer).
//
//   group confidence   G_t = mean of C over the window of the last W tokens ending at t
//                      (t = W-1 .. n-1; a chain shorter than W has one group: all of it)
//   mean               mean of C over the chain
//   lowest             min_t G_t: the chain's weakest stretch of reasoning
//   bottom10           mean of the lowest 10% of the G_t (at least one)
//   tail               mean of C over the last T tokens (all of them if fewer)
//
// The window W and tail T default to 16 tokens: the default model's chains are 50-200 tokens,
// so a window is about a sentence of reasoning (the paper's 2048 is for 10k-token traces).
#pragma once

typedef enum { TRACE_MEAN, TRACE_LOWEST, TRACE_BOTTOM10, TRACE_TAIL, TRACE_N_SCORES } TraceScore;

typedef struct {
    int window; // W
    int tail;   // T
} TraceParams;

#define TRACE_DEFAULT_WINDOW 16
#define TRACE_DEFAULT_TAIL   16

// scores[TRACE_N_SCORES] of conf[n]; NaN for an empty trace. 0, or -1 without memory.
int trace_scores(const float *conf, int n, const TraceParams *p, double *scores);
// The first t (0-based) whose group confidence G_t is below thr, or -1 if none: where an online
// DeepConf chain is ended (it has then sampled t + 1 tokens). Groups start at t = W-1.
int trace_first_below(const float *conf, int n, int window, double thr);
// G_t for t >= window - 1: the window's sum in double, in index order, divided by W. The live
// controller and the replay both call this, so an online stop lands on the same token.
double trace_group_at(const float *conf, int t, int window);
// "mean" | "lowest" | "bottom10" | "tail" -> TraceScore, or -1.
int trace_parse_score(const char *name);
const char *trace_score_name(TraceScore s);

// Online DeepConf (Fu et al. 2025): a warm-up wave of n_init chains runs in full; the threshold
// s is the value that a share `keep` of them reach in lowest group confidence (keep 0.1: the
// paper's DeepConf-low, 0.9: DeepConf-high). Every later chain ends as soon as a window of its
// last W tokens averages below s (trace_group_at); it keeps its tokens and casts no vote.
// After each wave the question stops once the leader holds a share >= tau of the
// confidence-weighted vote (weights: trace score `score` of each voting chain).
typedef struct {
    int on;
    int n_init;       // warm-up chains (a policy's first wave when a policy is set)
    double keep;      // share of warm-up chains at or above the threshold
    double tau;       // consensus that stops a question (0 = never; with a policy: unused)
    TraceParams tp;   // window W (the stop and the scores), tail T
    TraceScore score; // what weighs a vote in the consensus
} DeepConf;
// The threshold from the warm-up chains' lowest group confidences lows[n] (sorted in place):
// the ceil(keep * n)-th highest.
double deepconf_threshold(double *lows, int n, double keep);
