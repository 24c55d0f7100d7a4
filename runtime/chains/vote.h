// vote.h - turning N chains' answers into one: majority, weighted and best-of-N aggregation,
// and the adaptive stopping rule that says when more chains would not change the winner.
// (Extraction and normalisation of each chain's answer live in answer.h.)
//
// Every chain is a VoteEntry. Chains without an answer (answer == NULL) do not vote: they are
// counted in n_entries but not in n_voters, and carry no weight.
//
// Methods (each chain's mean token log-prob is m = sum_logprob / n_tokens; a chain with
// n_tokens <= 0 or a NaN sum has m = -inf):
//   majority  score = votes. Ties: higher total log-prob (the sum of sum_logprob over the
//             answer's chains, i.e. the joint log-prob of those chains), then the answer
//             first given by the lowest chain index.
//   weighted  score = sum over the answer's chains of exp(m), the geometric-mean token
//             probability of each chain, in (0, 1]: confident chains count for more, and a
//             chain's weight does not depend on its length. Ties: votes, then as majority.
//   best      best-of-N: the answer of the chain with the highest m. Score = that m. Ties:
//             votes, then as majority.
//   conf      confidence-weighted majority (DeepConf): score = sum of the answer's chains'
//             trace confidence (VoteEntry.conf, chains/confidence.h; a NaN weighs 0). Ties: votes,
//             then as majority.
// The tally lists every distinct answer, sorted by the method's score and ties as above, so
// tally[0] is the winner.
//
// Adaptive stopping (Adaptive-Consistency's Beta criterion, docs/design.md, "The controller"): with
// a = votes for the leader and b = votes for the runner-up (0 if none), model the leader's share
// among the two as p with a uniform prior Beta(1, 1); after a and b votes the posterior is Beta(a +
// 1, b + 1). The question is settled when P(p > 1/2) >= confidence. That posterior probability
// equals P(Binomial(a + b + 1, 1/2) <= a), which is what is computed. With a unanimous leader (b =
// 0) it is 1 - 2^-(a+1): at confidence 0.95, 4 agreeing votes settle a question (0.969) and 3 do
// not (0.9375).
#pragma once
#include "chains/answer.h"

#include <math.h>

typedef struct {
    const char *answer; // normalised answer (answer_extract), NULL = no answer
    double sum_logprob; // sum of the chain's sampled tokens' log-probs
    int n_tokens;       // tokens the chain decoded
    double conf;        // its trace confidence score (only --vote conf uses it)
} VoteEntry;

// An entry without a confidence score: conf = NaN, which weighs 0 in the conf vote and the
// consensus and is never kept by vote_keep_top. A chain that has no score must not look like a
// scored one (a score of 0 would be kept by vote_keep_top over scores below it); every
// conversion to VoteEntry starts here (chains: question_vote_entries, eval: eval_entry).
static inline VoteEntry vote_entry(const char *answer, double sum_logprob, int n_tokens) {
    VoteEntry e = {answer, sum_logprob, n_tokens, NAN};
    return e;
}

typedef enum { VOTE_MAJORITY, VOTE_WEIGHTED, VOTE_BEST, VOTE_CONF } VoteMethod;

typedef struct {
    char *answer;       // owned copy
    int votes;          // chains that gave this answer
    double weight;      // sum of exp(mean log-prob) over them
    double sum_logprob; // sum of their sum_logprob
    double best_mean;   // highest mean log-prob among them
    double conf;        // sum of their trace confidence
    double score;       // votes, weight or best_mean, by the method
    int first;          // lowest chain index that gave it (the last tie-break)
} VoteTally;

typedef struct {
    char *winner;     // = tally[0].answer (not a separate copy); NULL when no chain has one
    int votes;        // votes for the winner
    int n_voters;     // chains with an answer
    int n_entries;    // all chains
    double share;     // votes / n_voters (agreement, whatever the method); 0 with no voters
    double score;     // the winner's score under the method
    VoteTally *tally; // [n_tally] distinct answers, winner first
    int n_tally;
} VoteResult;

// Aggregates entries [n]. Returns 0, or -1 if memory cannot be had (r is then empty).
// Free r with vote_result_free.
int vote_aggregate(const VoteEntry *entries, int n, VoteMethod method, VoteResult *r);
void vote_result_free(VoteResult *r);

// DeepConf's filter: only the ceil(pct/100 x n) entries with the highest conf keep their
// answer (ties: the lower index); the others' answers become NULL (they no longer vote). An
// entry with a NaN conf is never kept. 0, or -1 without memory.
int vote_keep_top(VoteEntry *e, int n, double pct);

// The leader's share of the confidence-weighted vote (VOTE_CONF) over entries [n]: its summed
// conf over every answer's (0 when nothing weighs). DeepConf's consensus.
double vote_conf_consensus(const VoteEntry *e, int n);

// P(Binomial(a + b + 1, 1/2) <= a) = P(p > 1/2) under Beta(a + 1, b + 1) (see above).
double vote_settle_prob(int a, int b);
// 1 if the majority leader among entries [n] is settled at `confidence`, else 0 (also with no
// voters). Writes the posterior probability to *p_out if not NULL. A ties-for-first tally
// (a == b) is never settled at confidence > 0.5.
int vote_settled(const VoteEntry *entries, int n, double confidence, double *p_out);

// A chain's mean token log-prob m (-inf when it has none) and its weighted-vote weight exp(m).
double vote_chain_mean(const VoteEntry *e);
double vote_chain_weight(const VoteEntry *e);

// "majority" | "weighted" | "best" | "conf" -> VoteMethod, or -1 if unknown.
int vote_parse_method(const char *name);
const char *vote_method_name(VoteMethod m);
