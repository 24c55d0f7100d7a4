// schedule.h - when a question gets more chains (docs/design.md, "The controller"): the controller
// launches a question's chains in waves; when a wave has finished, schedule_next_wave decides from
// the chains so far how many more to launch, and at which thinking budget:
//   fixed     one wave of n_samples chains
//   adaptive  waves of `wave`; stop once the leader is settled (vote.h, the Beta rule)
//   policy    a first wave at its probe budget, then its bin's allocation (policy.h)
//   deepconf  a warm-up wave sets the confidence threshold later chains are ended by; waves of
//             `wave`; stop once the confidence-weighted consensus reaches tau (chains/confidence.h)
// Decisions read the chains in index order, so they do not depend on the order chains finish
// in, on --parallel or on batching: a live run equals its replay on fixed samples.
#pragma once
#include "chains/question.h"
#include "chains/vote.h"

typedef struct {
    int more;        // chains to add to the question's current target
    int think;       // their thinking budget
    double conf_thr; // DeepConf's threshold once the warm-up is done (NAN before, or without)
} WaveNext;

// The decision after a wave of q (launched chains so far, all finished; next->think and
// next->conf_thr hold the current values on entry). Records why a question stops, its policy
// bin and score, and DeepConf's threshold in q. 0, or -1 without memory.
int schedule_next_wave(const ChainsConfig *cfg, Question *q, int launched, WaveNext *next);
// The first wave's size and thinking budget.
int schedule_first_wave(const ChainsConfig *cfg, int *think);

// The question's finished chains as vote entries [q->n_chains + 1], in chain index order
// (whatever order q->chains is in). With dc, conf is each chain's trace score dc->score
// (chains/confidence.h); without dc, or for a chain with no per-token confidences, conf is NaN
// (vote_entry). NULL without memory; free it.
VoteEntry *question_vote_entries(const Question *q, const DeepConf *dc);
