// eval/questions.h - the per-question records chorus eval reads (a run's report, eval/report.h):
// each question's chains by thinking budget, and the run's parameters. Below both the tables
// (eval/tables.h) and the stopping rules replayed on them (eval/replay.h).
#pragma once
#include "eval/estimate_at_k.h"
#include "chains/vote.h"

#define EVAL_MAX_KS     32
#define EVAL_MAX_THINKS 8

typedef struct {
    int index;           // chain number within its question and thinking budget (its RNG stream)
    int think;           // its thinking budget (budget forcing after this many tokens)
    char *answer;        // normalised; NULL = no answer
    char *text;          // generated text (NULL if not kept)
    float *conf;         // [tokens] each sampled token's confidence (NULL if not recorded)
    double mean_entropy; // over its sampled tokens (0 if not recorded)
    int tokens;
    int forced;
    double sum_logprob;
    char stop[16];
    int correct;
} EvalChain;

typedef struct {
    int id;    // index in the data file (0-based over its non-blank lines): also its RNG stream
    int line;  // line in the data file
    int level; // -1 = none
    char *question, *reference;
    int prompt_tokens;
    long decode_tokens, forced_tokens;
    int settled_early, budget_capped;
    char stop[12]; // why it got no more chains (question_stop_name)
    int bin;       // a live --policy run: the first wave's bin (else -1)
    double score;  // and its score
    double seconds;
    // [n_chains] sorted by (think, index). A fixed run holds one arm per thinking budget, each
    // with chains 0..N_max-1; eval_arm() gives one arm as a slice.
    EvalChain *chains;
    int n_chains;
    int has_greedy;
    EvalChain greedy;
} EvalQuestion;

typedef struct {
    int ks[EVAL_MAX_KS], n_ks;
    int n_max;
    int wave;
    double confidence;
    int adaptive; // 1: chains were drawn by --adaptive; 0: replay on fixed samples
    int live;     // chains were drawn by a rule (--adaptive or --policy), not fixed
    int think;    // thinking budget of the primary arm, the one the tables describe
    int thinks[EVAL_MAX_THINKS], n_thinks; // every arm's thinking budget, ascending
} EvalParams;

// The chains of q with thinking budget `think` (a slice of q->chains, in index order); *n = 0
// and NULL when there are none.
const EvalChain *eval_arm(const EvalQuestion *q, int think, int *n);
// A chain as a vote entry (conf NaN, no score: vote_entry; the caller sets it for --vote conf).
static inline VoteEntry eval_entry(const EvalChain *c) {
    return vote_entry(c->answer, c->sum_logprob, c->tokens);
}
// A chain as an estimator sample (conf NaN as in eval_entry; the caller sets it).
static inline EstSample eval_sample(const EvalChain *c) {
    EstSample s = {c->answer, c->correct, c->sum_logprob, c->tokens, NAN};
    return s;
}
// Sorts q->chains by (think, index), the order eval_arm needs.
void eval_sort_chains(EvalQuestion *q);
void eval_question_free(EvalQuestion *q);
