// cli/eval_flags.h - the command line of `chorus eval` (parsing and help text; cli/eval_flags.c).
#pragma once
#include "chains/chains.h"
#include "cli/gen_flags.h"
#include "eval/methods.h"
#include "eval/tables.h"
#include "cli/session.h"

#define EVAL_MAX_MERGE 1024

typedef struct {
    SessionOptions so;
    GenOptions g; // sampled pass: g.cc.n_samples = N_max (shared with run)
    const char *data, *out, *tmpl, *fewshot;
    int ks[EVAL_MAX_KS], n_ks;
    int thinks[EVAL_MAX_THINKS], n_thinks; // --think-tokens: one sampled pass per budget
    const char *fit_policy;                // --fit-policy FILE: fit one on this run's samples
    double budget_mean;                    // --budget-mean B: the fit's target tokens per question
    int bins;                              // --bins K
    MethodsOptions mo;    // the methods table: confidences, windows, policy budgets
    int limit;            // 0 = all
    int shard_i, shard_n; // questions with id % shard_n == shard_i
    int greedy;           // run the greedy pass
    int keep_text;        // chain texts in the report
    int quiet;            // no progress line
    const char *merge[EVAL_MAX_MERGE];
    int n_merge;
} EvalOptions;

extern const char *EVAL_HELP;
#define EVAL_DEFAULT_TEMPLATE "{question}"

// Parses argv (argv[0] = "eval"). 0 = run, 1 = help printed, else an exit code (error printed).
int eval_parse_options(int argc, char **argv, EvalOptions *o);
