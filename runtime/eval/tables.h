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
#include "eval/questions.h"

#include <stdio.h>

#define EVAL_AGREE_BUCKETS 4

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
