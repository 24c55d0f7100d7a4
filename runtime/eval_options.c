// eval_options.c - `chorus eval` flags: every bad flag or value is one line and exit code 2.
#include "eval_options.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

const char *EVAL_HELP =
    "usage: chorus eval -m MODEL --data TASKS.jsonl [options]\n"
    "       chorus eval --merge A.json B.json ... --out MERGED.json\n\n"
    "Runs every task through the parallel-sample controller and reports how accuracy grows with\n"
    "compute: greedy, majority@k, weighted@k, best-of-k and pass@k for each k, adaptive\n"
    "(waves + stopping rule), by oracle level and by predicted difficulty (first-wave\n"
    "agreement). Tables go to stdout, a progress line to stderr.\n\n"
    "Tasks (one JSON object a line): GSM8K {\"question\", \"answer\": \"... #### 72\"} (reference =\n"
    "after the last ####) or {\"question\", \"answer\": \"42\" or 42, \"level\": 3}.\n\n"
    "  --data FILE            task file (required unless --merge)\n"
    "  --limit K              only the first K tasks of the file\n"
    "  --n LIST               the ks to report, e.g. 1,2,4,8,16 (default); N_max = the largest is\n"
    "                         how many chains each question gets\n"
    "  --adaptive             draw chains in waves and stop a question once its vote is settled\n"
    "                         (without it the adaptive row is replayed on the fixed samples,\n"
    "                         which hold exactly the chains an adaptive run would draw)\n"
    "  --wave W               chains per wave; also the first wave that measures agreement\n"
    "                         (default 4)\n"
    "  --confidence C         settled when P(leader keeps the majority) >= C (default 0.95)\n"
    "  --out FILE             write the report (config, totals, tables, every question and chain)\n"
    "  --prompt-template T    the user message; {question} is replaced (default \"{question}\")\n"
    "  --fewshot FILE         task file whose examples go before each question\n"
    "  --shard I/N            only tasks whose index in the file (0-based, after --limit) is\n"
    "                         I mod N; a question samples the same chains in any shard\n"
    "  --merge FILES...       join shard reports (needs --out); the result equals one run's.\n"
    "                         With --wave/--confidence, replays adaptive at those settings\n"
    "                         (reports made without --adaptive only)\n"
    "  --no-greedy            skip the greedy pass (temperature 0, one chain per question)\n"
    "  --no-text              leave chain texts out of the report\n"
    "  -q, --quiet            no progress line\n"
    "  --parallel B           live chains at most, over all questions (default max(16, N_max))\n"
    "  --temp T               temperature of the sampled chains (default 0.7)\n"
    "  --top-k K              keep the K most likely tokens (default 0 = off)\n"
    "  --top-p P              nucleus sampling (default 0.95)\n"
    "  --min-p P              drop tokens below P x the top probability (default 0.05)\n"
    "  --seed S               random seed (default 1); chain i of question j depends only on\n"
    "                         (S, j, i), so results do not depend on --parallel or --shard\n"
    "  --max-tokens M         sampled tokens per chain, thinking + answer (default 256)\n"
    "  --think-tokens T       budget forcing: after T tokens append the answer cue\n"
    "                         (default M minus --answer-tokens)\n"
    "  --answer-tokens K      tokens allowed after the cue (default 16)\n"
    "  --answer-cue TEXT      the cue (default \"\\nThe answer is\"; \"\" turns forcing off)\n"
    "  --stop TEXT            stop string (repeatable, up to 16)\n"
    "  --budget T             sampled tokens per question at most (default: no limit)\n"
    "  --answer-regex RE      extract answers with this POSIX extended regex (group 1)\n"
    "  -h, --help             this help\n";

static int is_valued(const char *a) {
    static const char *valued[] = {
        "--data", "--limit", "--n", "--out", "--prompt-template", "--fewshot", "--shard",
        "--parallel", "--temp", "--top-k", "--top-p", "--min-p", "--seed", "--max-tokens",
        "--think-tokens", "--answer-tokens", "--answer-cue", "--stop", "--budget", "--wave",
        "--confidence", "--answer-regex", NULL};
    for (int k = 0; valued[k]; k++)
        if (!strcmp(a, valued[k])) return 1;
    return 0;
}

static int parse_shard(const char *v, EvalOptions *o) {
    int i, n, used = 0;
    if (sscanf(v, "%d/%d%n", &i, &n, &used) != 2 || v[used] || n < 1 || i < 0 || i >= n)
        return cli_error("--shard: '%s' is not I/N with 0 <= I < N", v), -1;
    o->shard_i = i, o->shard_n = n;
    return 0;
}

// One flag with a value. 0, or -1 after an error.
static int valued_flag(const char *a, const char *v, EvalOptions *o) {
    ChainsConfig *c = &o->cc;
    if (!strcmp(a, "--data")) o->data = v;
    else if (!strcmp(a, "--out")) o->out = v;
    else if (!strcmp(a, "--prompt-template")) {
        if (!strstr(v, "{question}")) return cli_error("--prompt-template: no {question} in it"), -1;
        o->tmpl = v;
    } else if (!strcmp(a, "--fewshot")) o->fewshot = v;
    else if (!strcmp(a, "--shard")) return parse_shard(v, o);
    else if (!strcmp(a, "--limit")) return cli_int(a, v, 1, 1 << 30, &o->limit);
    else if (!strcmp(a, "--n")) return (o->n_ks = cli_int_list(a, v, 1, 4096, o->ks, EVAL_MAX_KS)) < 0 ? -1 : 0;
    else if (!strcmp(a, "--parallel")) return o->parallel_set = 1, cli_int(a, v, 1, 4096, &c->parallel);
    else if (!strcmp(a, "--temp")) return cli_float(a, v, 0, 100, &c->sampler.temperature);
    else if (!strcmp(a, "--top-k")) return cli_int(a, v, 0, 1 << 30, &c->sampler.top_k);
    else if (!strcmp(a, "--top-p")) return cli_float(a, v, 0, 1, &c->sampler.top_p);
    else if (!strcmp(a, "--min-p")) return cli_float(a, v, 0, 1, &c->sampler.min_p);
    else if (!strcmp(a, "--seed")) return cli_u64(a, v, &c->seed);
    else if (!strcmp(a, "--max-tokens")) return cli_int(a, v, 1, 1 << 20, &c->max_tokens);
    else if (!strcmp(a, "--think-tokens")) return o->think_set = 1, cli_int(a, v, 0, 1 << 20, &c->think_tokens);
    else if (!strcmp(a, "--answer-tokens")) return cli_int(a, v, 1, 4096, &c->answer_tokens);
    else if (!strcmp(a, "--answer-cue")) c->answer_cue = v;
    else if (!strcmp(a, "--budget")) return cli_long(a, v, 1, 1L << 40, &c->budget);
    else if (!strcmp(a, "--wave")) return o->wave_set = 1, cli_int(a, v, 1, 4096, &c->wave);
    else if (!strcmp(a, "--confidence")) return o->confidence_set = 1, cli_double(a, v, 0.5, 1, &c->confidence);
    else if (!strcmp(a, "--answer-regex")) o->answer_regex = v;
    else if (!strcmp(a, "--stop")) {
        if (c->n_stop == EVAL_MAX_STOPS)
            return cli_error("--stop: at most %d stop strings", EVAL_MAX_STOPS), -1;
        o->stops[c->n_stop++] = v;
    }
    return 0;
}

// --merge takes every following argument that is not a flag.
static int merge_list(int argc, char **argv, int *i, EvalOptions *o) {
    while (*i + 1 < argc && argv[*i + 1][0] != '-') {
        if (o->n_merge == EVAL_MAX_MERGE)
            return cli_error("--merge: more than %d reports", EVAL_MAX_MERGE), -1;
        o->merge[o->n_merge++] = argv[++*i];
    }
    if (o->n_merge == 0) return cli_error("--merge: no report files after it"), -1;
    return 0;
}

// Parses one flag at argv[*i]. 1 = consumed, 0 = unknown, -1 = error printed.
static int eval_flag(int argc, char **argv, int *i, EvalOptions *o) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--adaptive")) return o->cc.adaptive = 1;
    if (!strcmp(a, "--no-greedy")) return o->greedy = 0, 1;
    if (!strcmp(a, "--no-text")) return o->keep_text = 0, 1;
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) return o->quiet = 1;
    if (!strcmp(a, "--merge")) return merge_list(argc, argv, i, o) ? -1 : 1;
    if (!is_valued(a)) return 0;
    if (!(v = cli_value(argc, argv, i))) return -1;
    return valued_flag(a, v, o) ? -1 : 1;
}

// Derived defaults and checks of the options together. 0, or an exit code.
static int finish_options(EvalOptions *o) {
    ChainsConfig *c = &o->cc;
    c->stop = o->stops;
    if (o->n_merge) return o->out ? 0 : cli_error("--merge needs --out FILE");
    if (!o->so.model_path) return cli_error("no model given (-m MODEL); see --help");
    if (!o->data) return cli_error("no task file given (--data FILE); see --help");
    if (o->n_ks == 0) {
        static const int dflt[] = {1, 2, 4, 8, 16};
        memcpy(o->ks, dflt, sizeof dflt);
        o->n_ks = 5;
    }
    for (int j = 1; j < o->n_ks; j++)
        if (o->ks[j] <= o->ks[j - 1]) return cli_error("--n: the ks must be increasing");
    c->n_samples = o->ks[o->n_ks - 1];
    if (!o->parallel_set) c->parallel = c->n_samples > 16 ? c->n_samples : 16;
    int forcing = c->answer_cue && c->answer_cue[0];
    if (forcing && c->answer_tokens >= c->max_tokens)
        return cli_error("--answer-tokens (%d) must be below --max-tokens (%d)", c->answer_tokens,
                         c->max_tokens);
    if (!o->think_set) c->think_tokens = forcing ? c->max_tokens - c->answer_tokens : c->max_tokens;
    if (forcing && c->think_tokens + c->answer_tokens > c->max_tokens)
        return cli_error("--think-tokens (%d) + --answer-tokens (%d) exceed --max-tokens (%d)",
                         c->think_tokens, c->answer_tokens, c->max_tokens);
    if (c->budget && c->budget < c->max_tokens)
        return cli_error("--budget (%ld) is below one chain's --max-tokens (%d)", c->budget,
                         c->max_tokens);
    return 0;
}

int eval_parse_options(int argc, char **argv, EvalOptions *o) {
    memset(o, 0, sizeof *o);
    o->cc = chains_defaults();
    o->tmpl = EVAL_DEFAULT_TEMPLATE;
    o->greedy = o->keep_text = 1;
    o->shard_n = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("%s%s", EVAL_HELP, SESSION_FLAGS_HELP);
            return 1;
        }
        int r = session_flag(argc, argv, &i, &o->so);
        if (r == 0) r = eval_flag(argc, argv, &i, o);
        if (r < 0) return CLI_USAGE_ERROR;
        if (r == 0) return cli_error("eval: unknown option '%s'; see chorus eval --help", argv[i]);
    }
    return finish_options(o);
}
