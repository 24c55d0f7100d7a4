// eval/tables.h - what chorus eval measures, computed from per-question records: fixed-mode
// accuracy at every k (eval/estimate_at_k.h), greedy, adaptive, and both difficulty tables.
//
// Fixed mode at k: the mean over questions of est_at_k on the question's chains (in chain
// index order): pass@k is unbiased, majority/weighted/best@k average over all C(n, k)
// subsets when there are at most EST_MAX_SUBSETS, else over that many fixed-seed random ones
// (the `exact` flag says which). A question with fewer than k chains (a --budget cut it short)
// counts with all of them.
//
// Adaptive: the stopping rule (vote.h, Beta criterion) applied after each wave of `wave`
// chains, in chain index order. Chain i of a question is the same sample whether it is drawn
// by a fixed run or an adaptive one (its RNG stream depends only on the seed, the question and
// i), so a fixed run's chains REPLAY adaptive exactly: the adaptive row of a fixed run is what
// `--adaptive` would have drawn, at no extra cost. With --adaptive the chains are the ones the
// controller drew, and fixed rows are only given for k up to the fewest chains any question got.
// The adaptive answer is the majority vote of the chains used; tokens are theirs.
//
// Predicted difficulty: agreement = votes for the majority answer among the first wave's
// chains / chains in the wave (a chain without an answer agrees with nothing). It uses the same
// chains that are then voted on, as an adaptive scheduler would. Buckets: 1 (unanimous),
// [0.75, 1), [0.5, 0.75), [0, 0.5).
#pragma once
#include "eval/estimate_at_k.h"
#include "chains/vote.h"

#include <stdio.h>

#define EVAL_MAX_KS        32
#define EVAL_MAX_THINKS    8
#define EVAL_AGREE_BUCKETS 4

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

// Derived per question.
typedef struct {
    double agreement;
    int bucket;    // agreement bucket
    int ad_chains; // chains adaptive uses
    long ad_tokens;
    int ad_correct, ad_settled;
    char *majority; // majority answer of all chains (owned), NULL = none
    int majority_correct;
    EstAtK *at; // [n_ks]
} EvalDerived;

typedef struct {
    char name[32];
    int n;        // questions
    int n_greedy; // of which have a greedy result
    double greedy, greedy_tokens;
    double ad_acc, ad_tokens, ad_chains;
    int ad_settled;
    EstAtK at[EVAL_MAX_KS]; // averaged (exact = all exact, subsets summed)
} EvalGroup;

typedef struct {
    EvalParams p;
    int n_fixed_ks; // ks reported in fixed rows (all, or those <= fewest chains)
    EvalGroup all;
    EvalGroup *levels; // [n_levels], ascending level
    int n_levels;
    EvalGroup agree[EVAL_AGREE_BUCKETS];
    EvalDerived *d; // [n_q]
    int n_q;
} EvalTables;

extern const char *const EVAL_AGREE_NAMES[EVAL_AGREE_BUCKETS];

// Computes every table for questions [n]. 0, or -1 without memory.
int eval_tables(const EvalQuestion *qs, int n, const EvalParams *p, EvalTables *t);
void eval_tables_free(EvalTables *t);
// The terminal tables (stdout).
void eval_tables_print(FILE *f, const EvalTables *t);
void eval_question_free(EvalQuestion *q);
