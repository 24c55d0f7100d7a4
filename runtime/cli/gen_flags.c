// cli/gen_flags.c - parsing and checking the shared generation flags (see cli/gen_flags.h).
#include "cli/gen_flags.h"
#include "cli/cli.h"
#include "chains/vote.h"

#include <string.h>

const char *GEN_FLAGS_HELP =
    "  --parallel B           live chains at most; finished slots are refilled\n"
    "  --temp T               temperature, 0 = greedy (default 0.7)\n"
    "  --top-k K              keep the K most likely tokens (default 0 = off)\n"
    "  --top-p P              nucleus sampling (default 0.95; 1 = off)\n"
    "  --min-p P              drop tokens below P x the top probability (default 0.05)\n"
    "  --seed S               random seed (default 1); a chain's samples depend only on\n"
    "                         (seed, question, chain, step)\n"
    "  --max-tokens M         sampled tokens per chain, thinking + answer (default 256)\n"
    "  --think-tokens T       budget forcing: after T tokens append the answer cue\n"
    "                         (default M minus --answer-tokens)\n"
    "  --answer-tokens K      tokens allowed after the cue (default 16, at most half of M)\n"
    "  --answer-cue TEXT      the cue (default \"\\nThe answer is\"; \"\" turns forcing off);\n"
    "                         a thinking model (</think> is one of its tokens: Qwen3, R1\n"
    "                         distills) cut inside its <think> block gets \"</think>\" first\n"
    "  --think-extend TEXT    s1 budget extension: when a chain ends its thinking before\n"
    "                         --think-tokens, drop the </think> and feed TEXT (default\n"
    "                         \"Wait\"); sets --think-extend-max to 1 if it is 0\n"
    "  --think-extend-max K   extend a chain's thinking at most K times (default 0 = off)\n"
    "  --stop TEXT            stop string (repeatable, up to 16)\n"
    "  --budget T             sampled tokens per question at most (default: no limit)\n"
    "  --adaptive             launch chains in waves; stop a question once its vote is settled\n"
    "  --wave W               chains per wave (default 4)\n"
    "  --confidence C         settled when P(leader keeps the majority) >= C (default 0.95)\n"
    "  --deepconf low|high    online DeepConf: a warm-up wave sets a confidence threshold that\n"
    "                         10% (low) or 90% (high) of it reach; later chains end as soon\n"
    "                         as their last --conf-window tokens average below it (their\n"
    "                         tokens count, they do not vote); waves stop at --deepconf-tau\n"
    "  --deepconf-init N      warm-up chains (default 8; with --policy its first wave)\n"
    "  --deepconf-tau T       stop once the confidence-weighted leader holds T (default 0.95;\n"
    "                         0 = never)\n"
    "  --conf-k K             token confidence over the K most likely tokens (default 5; 0 =\n"
    "                         not computed)\n"
    "  --conf-window W        tokens per group confidence window (default 16)\n"
    "  --conf-tail T          tokens of the tail confidence (default 16)\n"
    "  --conf-score S         trace score that weighs --vote conf, --keep-top and the\n"
    "                         consensus: mean, lowest, bottom10, tail (default lowest)\n"
    "  --policy FILE          a fitted compute-optimal policy (chorus eval --fit-policy): a\n"
    "                         first wave, then more chains only where its bin pays\n"
    "  --answer-regex RE      extract answers with this POSIX extended regex (group 1)\n";

void gen_options_init(GenOptions *g) {
    memset(g, 0, sizeof *g);
    g->cc = chains_defaults();
    g->cc.stop = g->stops;
}

static int valued(const char *a) {
    static const char *names[] = {"--parallel",
                                  "--temp",
                                  "--top-k",
                                  "--top-p",
                                  "--min-p",
                                  "--seed",
                                  "--max-tokens",
                                  "--think-tokens",
                                  "--answer-tokens",
                                  "--answer-cue",
                                  "--stop",
                                  "--budget",
                                  "--wave",
                                  "--confidence",
                                  "--answer-regex",
                                  "--policy",
                                  "--deepconf",
                                  "--deepconf-init",
                                  "--deepconf-tau",
                                  "--conf-k",
                                  "--conf-window",
                                  "--conf-tail",
                                  "--conf-score",
                                  "--think-extend",
                                  "--think-extend-max",
                                  NULL};
    for (int k = 0; names[k]; k++)
        if (!strcmp(a, names[k])) return 1;
    return 0;
}

// The DeepConf and confidence flags. 0, or -1 after an error.
static int deepconf_flag(const char *a, const char *v, GenOptions *g) {
    DeepConf *d = &g->cc.deepconf;
    if (!strcmp(a, "--deepconf")) {
        if (strcmp(v, "low") && strcmp(v, "high"))
            return cli_error("--deepconf: '%s' is not low (keep 10%%) or high (keep 90%%)", v), -1;
        d->on = 1, d->keep = !strcmp(v, "low") ? 0.1 : 0.9;
        return 0;
    }
    if (!strcmp(a, "--deepconf-init"))
        return g->deepconf_init_set = 1, cli_int(a, v, 1, 4096, &d->n_init);
    if (!strcmp(a, "--deepconf-tau")) return cli_double(a, v, 0, 1, &d->tau);
    if (!strcmp(a, "--conf-k")) return cli_int(a, v, 0, CONF_MAX_K, &g->cc.conf_k);
    if (!strcmp(a, "--conf-window")) return cli_int(a, v, 1, 1 << 20, &d->tp.window);
    if (!strcmp(a, "--conf-tail")) return cli_int(a, v, 1, 1 << 20, &d->tp.tail);
    int sc = trace_parse_score(v); // --conf-score
    if (sc < 0) return cli_error("--conf-score: '%s' is not mean, lowest, bottom10 or tail", v), -1;
    d->score = (TraceScore)sc;
    return 0;
}

// One flag with its value. 0, or -1 after an error.
static int set_flag(const char *a, const char *v, GenOptions *g) {
    ChainsConfig *c = &g->cc;
    if (!strcmp(a, "--parallel")) return g->parallel_set = 1, cli_int(a, v, 1, 4096, &c->parallel);
    if (!strcmp(a, "--temp")) return cli_float(a, v, 0, 100, &c->sampler.temperature);
    if (!strcmp(a, "--top-k")) return cli_int(a, v, 0, 1 << 30, &c->sampler.top_k);
    if (!strcmp(a, "--top-p")) return cli_float(a, v, 0, 1, &c->sampler.top_p);
    if (!strcmp(a, "--min-p")) return cli_float(a, v, 0, 1, &c->sampler.min_p);
    if (!strcmp(a, "--seed")) return cli_u64(a, v, &c->seed);
    if (!strcmp(a, "--max-tokens")) return cli_int(a, v, 1, 1 << 20, &c->max_tokens);
    if (!strcmp(a, "--think-tokens"))
        return g->think_set = 1, cli_int(a, v, 0, 1 << 20, &c->think_tokens);
    if (!strcmp(a, "--answer-tokens"))
        return g->answer_set = 1, cli_int(a, v, 1, 4096, &c->answer_tokens);
    if (!strcmp(a, "--budget")) return cli_long(a, v, 1, 1L << 40, &c->budget);
    if (!strcmp(a, "--wave")) return g->wave_set = 1, cli_int(a, v, 1, 4096, &c->wave);
    if (!strcmp(a, "--confidence"))
        return g->confidence_set = 1, cli_double(a, v, 0.5, 1, &c->confidence);
    if (!strcmp(a, "--think-extend-max"))
        return g->extend_max_set = 1, cli_int(a, v, 0, 1 << 16, &c->think_extend_max);
    if (!strcmp(a, "--answer-cue"))
        c->answer_cue = v;
    else if (!strcmp(a, "--think-extend")) {
        if (!v[0]) return cli_error("--think-extend: the text is empty"), -1;
        c->think_extend = v;
        if (!g->extend_max_set && c->think_extend_max == 0) c->think_extend_max = 1;
    } else if (!strcmp(a, "--answer-regex"))
        g->answer_regex = v;
    else if (!strcmp(a, "--policy"))
        g->policy_path = v;
    else if (!strcmp(a, "--stop")) {
        if (c->n_stop == GEN_MAX_STOPS)
            return cli_error("--stop: at most %d stop strings", GEN_MAX_STOPS), -1;
        g->stops[c->n_stop++] = v;
    } else
        return deepconf_flag(a, v, g);
    return 0;
}

int gen_flag(int argc, char **argv, int *i, GenOptions *g) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--adaptive")) return g->cc.adaptive = 1;
    if (!valued(a)) return 0;
    if (!(v = cli_value(argc, argv, i))) return -1;
    return set_flag(a, v, g) ? -1 : 1;
}

int gen_options_finish(GenOptions *g) {
    ChainsConfig *c = &g->cc;
    c->stop = g->stops;
    // Without an explicit --answer-tokens, short chains keep half their tokens for the answer.
    if (!g->answer_set && c->answer_tokens * 2 > c->max_tokens)
        c->answer_tokens = c->max_tokens / 2;
    if (c->answer_tokens < 1) c->answer_cue = ""; // a 1-token chain has no room for an answer
    int forcing = c->answer_cue && c->answer_cue[0];
    if (forcing && c->answer_tokens >= c->max_tokens)
        return cli_error("--answer-tokens (%d) must be below --max-tokens (%d)", c->answer_tokens,
                         c->max_tokens);
    if (!g->think_set) c->think_tokens = forcing ? c->max_tokens - c->answer_tokens : c->max_tokens;
    if (c->think_extend_max > 0 && !c->think_extend) c->think_extend = "Wait";
    if (forcing && c->think_tokens + c->answer_tokens > c->max_tokens)
        return cli_error("--think-tokens (%d) + --answer-tokens (%d) exceed --max-tokens (%d)",
                         c->think_tokens, c->answer_tokens, c->max_tokens);
    if (g->policy_path && c->adaptive)
        return cli_error("--policy decides how many chains to draw: not with --adaptive");
    if (c->deepconf.on && c->conf_k == 0) return cli_error("--deepconf needs --conf-k above 0");
    if (c->deepconf.on && !g->policy_path && c->deepconf.n_init > c->n_samples)
        return cli_error("--deepconf-init (%d) is above the chains asked for (%d)",
                         c->deepconf.n_init, c->n_samples);
    if (c->budget && c->budget < c->max_tokens)
        return cli_error("--budget (%ld) is below one chain's --max-tokens (%d)", c->budget,
                         c->max_tokens);
    return 0;
}

int gen_apply_policy(GenOptions *g, const Policy *pol) {
    ChainsConfig *c = &g->cc;
    int need = policy_max_think(pol) + c->answer_tokens;
    if (c->max_tokens < need)
        return cli_error("--policy: its thinking budgets need --max-tokens %d or more", need);
    if (!(c->answer_cue && c->answer_cue[0]))
        return cli_error("--policy: its thinking budgets need budget forcing (an answer cue)");
    c->policy = pol;
    c->deepconf.n_init = pol->wave; // its first wave is DeepConf's warm-up
    c->n_samples = policy_max_chains(pol);
    c->think_tokens = pol->probe_think;
    if (!g->parallel_set && c->parallel < pol->wave) c->parallel = pol->wave;
    return 0;
}
