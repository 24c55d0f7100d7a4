// cli/gen_flags.h - the generation flags `chorus` (run) and `chorus eval` share: sampling, token
// caps, budget forcing, stop strings, budgets, adaptive waves and answer extraction. One parser
// and one set of checks, so the two commands cannot drift apart.
#pragma once
#include "chains/chains.h"

#define GEN_MAX_STOPS 16

typedef struct {
    ChainsConfig cc;
    const char *answer_regex; // --answer-regex (compiled by the command)
    const char *policy_path;  // --policy (loaded by the command, then gen_apply_policy)
    const char *stops[GEN_MAX_STOPS];
    int parallel_set, think_set, answer_set, wave_set, confidence_set, deepconf_init_set;
    int extend_max_set; // --think-extend-max was given
} GenOptions;

void gen_options_init(GenOptions *g);
// Parses one generation flag at argv[*i] (advancing *i past its value): 1 = consumed,
// 0 = not one of them, -1 = error printed.
int gen_flag(int argc, char **argv, int *i, GenOptions *g);
// Derived defaults (thinking cap, answer tokens) and checks of the flags together, once
// cc.n_samples is set. 0, or the exit code after printing the error.
int gen_options_finish(GenOptions *g);
// Lets a loaded policy draw the chains: its first wave's budget becomes the thinking budget,
// n_samples its most chains; every budget it may use must fit --max-tokens. 0, or the exit code
// after printing the error.
int gen_apply_policy(GenOptions *g, const Policy *pol);
// Help lines for these flags (without -n / --n, which the commands spell differently).
extern const char *GEN_FLAGS_HELP;
