// cli/eval_flags.c - `chorus eval` flags: every bad flag or value is one line and exit code 2.
#include "cli/eval_flags.h"
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

const char *EVAL_HELP =
    "usage: chorus eval -m MODEL --data TASKS.jsonl [options]\n"
    "       chorus eval --merge A.json B.json ... --out MERGED.json\n\n"
    "Runs every task through the parallel-sample controller and reports how accuracy grows with\n"
    "compute: greedy, majority@k, weighted@k, best-of-k and pass@k for each k, adaptive\n"
    "(waves + stopping rule), by oracle level and by predicted difficulty (first-wave\n"
    "agreement). Tables go to stdout, a progress line to stderr.\n\n"
    "Tasks (one JSON object a line): GSM8K {\"question\", \"answer\": \"... #### 72\"} (reference "
    "=\n"
    "after the last ####) or {\"question\", \"answer\": \"42\" or 42, \"level\": 3}.\n\n"
    "  --data FILE            task file (required unless --merge)\n"
    "  --limit K              only the first K tasks of the file\n"
    "  --n LIST               the ks to report, e.g. 1,2,4,8,16 (default); N_max = the largest is\n"
    "                         how many chains each question gets\n"
    "  --think-tokens LIST    thinking budgets, e.g. 48,96,144: one sampled pass (an arm of\n"
    "                         N_max chains) per budget, so the report shows accuracy against\n"
    "                         sequential (T) as well as parallel (N) compute; chain i of every\n"
    "                         arm shares its first tokens. The tables describe the largest T\n"
    "  (--adaptive, --wave, --confidence: see below. Without --adaptive the adaptive row is\n"
    "  replayed on the fixed samples, which hold exactly the chains an adaptive run would\n"
    "  draw; the first wave also measures agreement for the difficulty table.)\n"
    "\nCompute-optimal allocation (see README: policy):\n"
    "  --fit-policy FILE      fit a policy on this run's (or --merge's) fixed samples: bins of\n"
    "                         first-wave difficulty, and per bin how many more chains at which\n"
    "                         thinking budget; written as JSON (needs --budget-mean)\n"
    "  --budget-mean B        the fit's target: mean sampled tokens per question\n"
    "  --bins K               difficulty bins (default 4, at most 16)\n"
    "  --policy FILE          with --data, the policy draws the chains (live); with --merge, it\n"
    "                         is replayed on the fixed samples, as a curve at its own and other\n"
    "                         budgets (--policy-budgets LIST)\n"
    "  --confidences LIST     adaptive rule baselines (default 0.7,0.8,0.9,0.95,0.99)\n"
    "  --esc-windows LIST     ESC window-stop baselines (default 2,3,4,6,8)\n"
    "  --bootstrap N          resamples for the 95% intervals (default 2000)\n\n"
    "  --out FILE             write the report (config, totals, tables, every question and chain)\n"
    "  --prompt-template T    the user message; {question} is replaced (default \"{question}\")\n"
    "  --fewshot FILE         task file whose examples go before each question\n"
    "  --shard I/N            only tasks whose index in the file (0-based, after --limit) is\n"
    "                         I mod N; a question samples the same chains in any shard\n"
    "  --merge FILES...       join shard reports (or read one); the result equals one run's.\n"
    "                         With --wave/--confidence, replays adaptive at those settings\n"
    "                         (reports made without --adaptive only)\n"
    "  --no-greedy            skip the greedy pass (temperature 0, one chain per question)\n"
    "  --no-text              leave chain texts out of the report\n"
    "  -q, --quiet            no progress line\n"
    "  -h, --help             this help\n";

static int is_valued(const char *a) {
    static const char *valued[] = {"--data",
                                   "--limit",
                                   "--n",
                                   "--think-tokens",
                                   "--out",
                                   "--fit-policy",
                                   "--budget-mean",
                                   "--bins",
                                   "--confidences",
                                   "--esc-windows",
                                   "--policy-budgets",
                                   "--bootstrap",
                                   "--prompt-template",
                                   "--fewshot",
                                   "--shard",
                                   NULL};
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
    if (!strcmp(a, "--data"))
        o->data = v;
    else if (!strcmp(a, "--out"))
        o->out = v;
    else if (!strcmp(a, "--prompt-template")) {
        if (!strstr(v, "{question}"))
            return cli_error("--prompt-template: no {question} in it"), -1;
        o->tmpl = v;
    } else if (!strcmp(a, "--fewshot"))
        o->fewshot = v;
    else if (!strcmp(a, "--shard"))
        return parse_shard(v, o);
    else if (!strcmp(a, "--limit"))
        return cli_int(a, v, 1, 1 << 30, &o->limit);
    else if (!strcmp(a, "--n"))
        return (o->n_ks = cli_int_list(a, v, 1, 4096, o->ks, EVAL_MAX_KS)) < 0 ? -1 : 0;
    else if (!strcmp(a, "--fit-policy"))
        o->fit_policy = v;
    else if (!strcmp(a, "--budget-mean"))
        return cli_double(a, v, 1, 1e12, &o->budget_mean);
    else if (!strcmp(a, "--bins"))
        return cli_int(a, v, 1, POLICY_MAX_BINS, &o->bins);
    else if (!strcmp(a, "--bootstrap"))
        return cli_int(a, v, 100, 1000000, &o->mo.boot);
    else if (!strcmp(a, "--confidences"))
        return (o->mo.n_confs = cli_double_list(a, v, 0.5, 1, o->mo.confs, METHODS_MAX_LIST)) < 0
                   ? -1
                   : 0;
    else if (!strcmp(a, "--policy-budgets"))
        return (o->mo.n_budgets = cli_double_list(a, v, 1, 1e12, o->mo.budgets, METHODS_MAX_LIST)) <
                       0
                   ? -1
                   : 0;
    else if (!strcmp(a, "--esc-windows"))
        return (o->mo.n_windows = cli_int_list(a, v, 1, 4096, o->mo.windows, METHODS_MAX_LIST)) < 0
                   ? -1
                   : 0;
    else if (!strcmp(a, "--think-tokens"))
        return (o->n_thinks = cli_int_list(a, v, 0, 1 << 20, o->thinks, EVAL_MAX_THINKS)) < 0 ? -1
                                                                                              : 0;
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
    ChainsConfig *c = &o->g.cc;
    if (o->fit_policy && !o->budget_mean) return cli_error("--fit-policy needs --budget-mean B");
    if (o->budget_mean && !o->fit_policy) return cli_error("--budget-mean is for --fit-policy");
    if (o->n_merge) return 0;
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
    if (!o->g.parallel_set) c->parallel = c->n_samples > 16 ? c->n_samples : 16;
    for (int j = 1; j < o->n_thinks; j++)
        if (o->thinks[j] <= o->thinks[j - 1])
            return cli_error("--think-tokens: the budgets must be increasing");
    if (o->n_thinks) o->g.think_set = 1, c->think_tokens = o->thinks[o->n_thinks - 1];
    int rc = gen_options_finish(&o->g);
    if (rc) return rc;
    if (o->n_thinks > 1 && c->adaptive)
        return cli_error("--think-tokens: a list of budgets needs fixed sampling, not --adaptive");
    if (o->g.policy_path && o->n_thinks > 1)
        return cli_error("--policy draws its own chains: not with a --think-tokens list");
    if (o->n_thinks > 1 && !(c->answer_cue && c->answer_cue[0]))
        return cli_error("--think-tokens: a list of budgets needs budget forcing (an answer cue)");
    if (!o->n_thinks) o->thinks[0] = c->think_tokens, o->n_thinks = 1;
    return 0;
}

int eval_parse_options(int argc, char **argv, EvalOptions *o) {
    memset(o, 0, sizeof *o);
    gen_options_init(&o->g);
    o->tmpl = EVAL_DEFAULT_TEMPLATE;
    o->greedy = o->keep_text = 1;
    o->shard_n = 1;
    o->bins = 4;
    methods_defaults(&o->mo);
    int ended = 0;
    for (int i = 1; i < argc; i++) {
        CliArgKind kind = cli_arg_kind(argv[i], &ended);
        if (kind == CLI_END_OF_OPTIONS) continue;
        if (kind == CLI_OPERAND)
            return cli_error("eval: unexpected argument '%s'; see chorus eval --help", argv[i]);
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("%s%s%s%s", EVAL_HELP, GEN_FLAGS_HELP, SESSION_FLAGS_HELP, CLI_END_HELP);
            return 1;
        }
        int r = session_flag(argc, argv, &i, &o->so);
        if (r == 0) r = eval_flag(argc, argv, &i, o);
        if (r == 0) r = gen_flag(argc, argv, &i, &o->g);
        if (r < 0) return CLI_USAGE_ERROR;
        if (r == 0) return cli_error("eval: unknown option '%s'; see chorus eval --help", argv[i]);
    }
    return finish_options(o);
}
