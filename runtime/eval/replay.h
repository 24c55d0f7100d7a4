// eval/replay.h - stopping rules replayed on a fixed run's samples (chorus eval).
//
// Chain i of a question is the same sample whichever rule draws it (its RNG stream depends only
// on the seed, the question, its arm's thinking budget and i), so each rule below gives exactly
// what a live run with that rule would: the chains it would have drawn, their tokens, the
// majority vote over them (vote.h, chains in index order).
//   beta    the adaptive rule (vote.h): waves of `wave` chains; stop once the leader is settled
//           at `confidence` or the arm is used up.
//   esc     Early-Stopping Self-Consistency (Li et al. 2024, arXiv:2401.10480): windows of
//           `window` chains; stop after the first window whose chains all give one answer.
//   policy  the compute-optimal policy (policy.h): its first wave at the probe budget, then its
//           bin's allocation from that budget's arm.
//   deepconf  online DeepConf (chains/confidence.h): a warm-up wave sets the threshold, later
//   waves' chains
//           end at the first window below it (their tokens up to there count, they do not
//           vote), a question stops once the confidence-weighted consensus reaches tau.
//   all     every chain of the question, whatever drew it (a live --adaptive or --policy run).
#pragma once
#include "eval/questions.h"
#include "chains/policy.h"
#include "chains/confidence.h"

typedef struct {
    int chains;  // chains used
    long tokens; // their sampled tokens
    int correct; // the majority vote over them is the reference
    int stopped; // beta/esc/deepconf: stopped before the arm ran out; policy: action != MORE
    int ended;   // deepconf: chains ended for low confidence
    int bin;     // policy: the first wave's bin (else -1)
    PolicyAction action;
} ReplayOutcome;

// Each returns 0, or -1 (out of memory, or for policy: the question lacks the chains the policy
// asks for, with a message).
int replay_beta(const EvalQuestion *q, int think, int wave, double confidence, ReplayOutcome *o);
int replay_esc(const EvalQuestion *q, int think, int window, ReplayOutcome *o);
int replay_policy(const EvalQuestion *q, const Policy *p, ReplayOutcome *o, char *err,
                  size_t errlen);
int replay_all(const EvalQuestion *q, ReplayOutcome *o);
// needs every chain's confidence trace (a run with --conf-k > 0); -1 without memory
int replay_deepconf(const EvalQuestion *q, int think, const DeepConf *dc, int wave,
                    ReplayOutcome *o);
// A chain's trace score (NaN without a trace).
double eval_chain_score(const EvalChain *c, const TraceParams *tp, TraceScore s);
