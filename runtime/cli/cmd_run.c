// cmd_run.c - `chorus -m MODEL -p "question" [-n N] ...`: N chains of one prompt, their answers
// and the vote. With N = 1 (and no --json) the answer streams to stdout as it is generated.
#include "chains/chains.h"
#include "cli/cli.h"
#include "cli/gen_flags.h"
#include "util/json.h"
#include "cli/session.h"
#include "chains/schedule.h"
#include "chains/vote.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    SessionOptions so;
    GenOptions g; // sampling, caps, forcing, budgets, waves (shared with eval)
    const char *prompt;
    VoteMethod vote;
    int json, verbose;
    double keep_top; // --keep-top P: only the P% most confident chains vote (0 = all)
} RunOptions;

static const char *RUN_HELP =
    "usage: chorus -m MODEL -p PROMPT [options]\n"
    "       chorus -m MODEL [options] [--] PROMPT\n"
    "       chorus eval|bench|gen|tokenize|inspect ... (chorus COMMAND --help)\n\n"
    "Runs N sampled reasoning chains of one prompt as one batch, extracts each chain's answer\n"
    "and votes.\n\n"
    "  -p, --prompt TEXT      the question (required; or give it as an argument of its own)\n"
    "  -n, --samples N        chains to run (default 1; 1..4096); --parallel defaults to N\n"
    "  --vote M               majority | weighted | best | conf (confidence-weighted: each\n"
    "                         chain weighs its --conf-score trace confidence) (default majority)\n"
    "  --keep-top P           only the P% most confident chains (--conf-score) vote\n"
    "  --json                 one JSON object with every chain, the tally and the stats\n"
    "  -v, --verbose          print each chain's text\n"
    "  -h, --help             this help\n";

// The prompt is given once: -p TEXT, or TEXT as an operand (after "--" when it starts with '-').
static int set_prompt(RunOptions *o, const char *text) {
    if (o->prompt) {
        cli_error("a second prompt '%s': give one, quoted (-p \"TEXT\", or \"TEXT\")", text);
        return -1;
    }
    o->prompt = text;
    return 0;
}

// Parses one run-specific flag. 1 = consumed, 0 = not ours, -1 = error printed.
static int run_flag(int argc, char **argv, int *i, RunOptions *o) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--json")) return o->json = 1;
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) return o->verbose = 1;
    int prompt = !strcmp(a, "-p") || !strcmp(a, "--prompt");
    int samples = !strcmp(a, "-n") || !strcmp(a, "--samples");
    if (!strcmp(a, "--keep-top")) {
        if (!(v = cli_value(argc, argv, i))) return -1;
        return cli_double(a, v, 1e-9, 100, &o->keep_top) ? -1 : 1;
    }
    if (!prompt && !samples && strcmp(a, "--vote")) return 0;
    if (!(v = cli_value(argc, argv, i))) return -1;
    if (prompt) return set_prompt(o, v) ? -1 : 1;
    if (samples) return cli_int(a, v, 1, 4096, &o->g.cc.n_samples) ? -1 : 1;
    int m = vote_parse_method(v);
    if (m < 0) return cli_error("--vote: '%s' is not majority, weighted, best or conf", v), -1;
    o->vote = (VoteMethod)m;
    return 1;
}

// Fills in derived defaults and checks the options together. 0, or an exit code.
static int run_finish_options(RunOptions *o) {
    ChainsConfig *c = &o->g.cc;
    if (!o->so.model_path) return cli_error("no model given (-m MODEL); see --help");
    if (!o->prompt) return cli_error("no prompt given (-p TEXT); see --help");
    if (!o->g.parallel_set || c->parallel > c->n_samples) c->parallel = c->n_samples;
    return gen_options_finish(&o->g);
}

static void stream_text(int q, int chain, const char *text, size_t n, void *user) {
    (void)q, (void)chain, (void)user;
    fwrite(text, 1, n, stdout);
    cli_flush_stdout();
}

typedef struct {
    const RunOptions *o;
    const ChainsStats *stats;
} Printer;

// Chains not run because the vote settled, priced at the mean tokens of the chains that ran.
static double tokens_saved(const RunOptions *o, const Question *q) {
    if (!q->settled_early || q->n_chains == 0) return 0;
    return (double)(o->g.cc.n_samples - q->n_chains) * q->decode_tokens / q->n_chains;
}

static int by_index(const void *a, const void *b) {
    const ChainResult *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

// One line per chain, in chain order (they finish in any order).
static void print_chains(const RunOptions *o, const Question *q) {
    for (int i = 0; i < q->n_chains; i++) { // in index order (on_question sorted them)
        const ChainResult *r = &q->chains[i];
        printf("chain %3d: %-12s tokens %4d  mean logprob %7.3f  stop %s%s\n", r->index,
               r->has_answer ? r->answer : "(none)", r->n_tokens,
               r->n_tokens ? r->sum_logprob / r->n_tokens : 0.0, stop_reason_name(r->stop),
               r->forced ? " (forced)" : "");
        if (o->verbose) printf("%s\n---\n", r->text);
    }
}

#define TALLY_LINES 10 // answers listed; the rest are summed up in one line

// The tally, one answer a line with its votes and share of the chains that answered.
static void print_tally(const RunOptions *o, const VoteResult *vr) {
    printf("tally (%s vote of %d chains, %d with an answer):\n", vote_method_name(o->vote),
           vr->n_entries, vr->n_voters);
    for (int i = 0; i < vr->n_tally && i < TALLY_LINES; i++) {
        const VoteTally *t = &vr->tally[i];
        printf("  %-12s %4d vote%s %4.0f%%", t->answer, t->votes, t->votes == 1 ? " " : "s",
               100.0 * t->votes / vr->n_voters);
        if (o->vote == VOTE_WEIGHTED) printf("  weight %.3f", t->weight);
        if (o->vote == VOTE_BEST) printf("  best mean logprob %.3f", t->best_mean);
        printf("\n");
    }
    if (vr->n_tally > TALLY_LINES) {
        int rest = 0;
        for (int i = TALLY_LINES; i < vr->n_tally; i++) rest += vr->tally[i].votes;
        printf("  (%d more answers, %d votes)\n", vr->n_tally - TALLY_LINES, rest);
    }
}

// The DeepConf threshold, the chains it ended and why the question stopped.
static void print_deepconf(const ChainsConfig *c, const Question *q) {
    int ended = 0;
    long ended_tokens = 0;
    for (int i = 0; i < q->n_chains; i++)
        if (q->chains[i].stop == STOP_LOW_CONF) ended++, ended_tokens += q->chains[i].n_tokens;
    printf("deepconf: threshold %.3f (lowest group confidence that %.0f%% of the %d warm-up chains "
           "reach); %d chains ended early (%ld tokens); stop: %s\n",
           q->conf_thr, c->deepconf.keep * 100, c->deepconf.n_init, ended, ended_tokens,
           question_stop_name(q->stop));
}

// What the policy made of the first wave, and how many chains that cost.
static void print_policy(const Policy *p, const Question *q) {
    if (q->bin < 0) return; // the first wave never completed (a budget)
    const PolicyBin *b = &p->bins[q->bin];
    printf("policy: first wave %d chains at T=%d, score %.3f -> bin %d: ", p->wave, p->probe_think,
           q->score, q->bin);
    if (b->extra > 0)
        printf("%d more at T=%d (%d chains in all)\n", b->extra, b->think, q->n_chains);
    else
        printf("stop, %s (calibration: first-wave accuracy %.2f in this bin)\n",
               policy_action_name(b->action), b->first_acc);
}

static void print_human(const RunOptions *o, const Question *q, const VoteResult *vr) {
    const ChainsConfig *c = &o->g.cc;
    print_chains(o, q);
    print_tally(o, vr);
    if (!vr->winner) {
        printf("winner: none (no chain gave an answer)\n");
    } else {
        printf("winner: %s with %d of %d votes (share %.2f)", vr->winner, vr->votes, vr->n_voters,
               vr->share);
        if (o->vote == VOTE_MAJORITY && vr->n_tally > 1 && vr->tally[1].votes == vr->votes)
            printf("; tied with %s on votes, won on total log-prob", vr->tally[1].answer);
        printf("\n");
    }
    // The prompt's KV is computed once and shared; every chain pays only for its own tokens.
    printf("tokens: %ld = %d prompt (prefilled once for all %d chains) + %ld sampled + %ld answer "
           "cue\n",
           q->n_prompt + q->decode_tokens + q->forced_tokens, q->n_prompt, q->n_chains,
           q->decode_tokens, q->forced_tokens);
    printf("time: %.2f s\n", q->seconds);
    if (c->adaptive && q->settled_early)
        printf("adaptive: settled after %d of %d chains (P(leader keeps the majority) >= %.2f); "
               "about %.0f tokens saved\n",
               q->n_chains, c->n_samples, c->confidence, tokens_saved(o, q));
    else if (c->adaptive)
        printf("adaptive: not settled, all %d chains ran (waves of %d, confidence %.2f)\n",
               q->n_chains, c->wave, c->confidence);
    if (c->policy) print_policy(c->policy, q);
    if (c->deepconf.on) print_deepconf(c, q);
    if (q->budget_capped)
        printf("budget: %d of %d chains launched within --budget %ld\n", q->n_chains, c->n_samples,
               c->budget);
}

static void print_json(const RunOptions *o, const Question *q, const VoteResult *vr) {
    printf("{\"prompt\":");
    json_str(stdout, o->prompt);
    printf(",\"answer\":");
    json_str(stdout, vr->winner);
    printf(",\"vote\":\"%s\",\"votes\":%d,\"voters\":%d,\"share\":", vote_method_name(o->vote),
           vr->votes, vr->n_voters);
    json_num_fmt(stdout, "%.4f", vr->share);
    printf(",\"settled_early\":%s,\"prompt_tokens\":%d,\"decode_tokens\":%ld,\"forced_tokens\":%ld,"
           "\"seconds\":%.3f,\"chains_run\":%d,\"chains_asked\":%d,\"tokens_saved\":%.0f",
           q->settled_early ? "true" : "false", q->n_prompt, q->decode_tokens, q->forced_tokens,
           q->seconds, q->n_chains, o->g.cc.n_samples, tokens_saved(o, q));
    printf(",\"stop\":\"%s\"", question_stop_name(q->stop));
    if (!isnan(q->conf_thr)) {
        printf(",\"deepconf_threshold\":");
        json_num_fmt(stdout, "%.6f", q->conf_thr);
    }
    if (q->bin >= 0) {
        printf(",\"policy\":{\"bin\":%d,\"score\":", q->bin);
        json_num_fmt(stdout, "%.6f", q->score);
        printf("}");
    }
    printf(",\"tally\":[");
    for (int i = 0; i < vr->n_tally; i++) {
        printf("%s{\"answer\":", i ? "," : "");
        json_str(stdout, vr->tally[i].answer);
        printf(",\"votes\":%d,\"weight\":", vr->tally[i].votes);
        json_num_fmt(stdout, "%.6f", vr->tally[i].weight);
        printf("}");
    }
    printf("],\"chains\":[");
    for (int i = 0; i < q->n_chains; i++) {
        const ChainResult *r = &q->chains[i];
        printf("%s{\"index\":%d,\"answer\":", i ? "," : "", r->index);
        json_str(stdout, r->has_answer ? r->answer : NULL);
        printf(",\"tokens\":%d,\"forced\":%s,\"sum_logprob\":", r->n_tokens,
               r->forced ? "true" : "false");
        json_num_fmt(stdout, "%.6f", r->sum_logprob); // null where -inf (a token of probability 0)
        printf(",\"stop\":\"%s\",\"text\":", stop_reason_name(r->stop));
        json_str_n(stdout, r->text, r->len);
        printf("}");
    }
    printf("]}\n");
}

static void on_question(Question *q, int index, void *user) {
    const RunOptions *o = user;
    (void)index;
    // chains finish in any order; the vote's last tie-break (the lowest chain) needs index order
    qsort(q->chains, (size_t)q->n_chains, sizeof *q->chains, by_index);
    // --vote conf and --keep-top weigh each chain by its trace score (NaN without one)
    VoteEntry *e = question_vote_entries(q, &o->g.cc.deepconf);
    VoteResult vr = {0};
    if (!e || (o->keep_top > 0 && vote_keep_top(e, q->n_chains, o->keep_top)) ||
        vote_aggregate(e, q->n_chains, o->vote, &vr)) {
        fprintf(stderr, "chorus: out of memory while voting\n");
        free(e);
        return;
    }
    int streamed = o->g.cc.on_text != NULL;
    if (o->json)
        print_json(o, q, &vr);
    else if (streamed) {
        printf("\n");
        cli_flush_stdout();
        fprintf(stderr, "answer: %s\n", vr.winner ? vr.winner : "(none)");
    } else
        print_human(o, q, &vr);
    vote_result_free(&vr);
    free(e);
}

static void print_stats(const ChainsStats *st, const Question *q) {
    double dec_s = st->seconds - st->prefill_seconds;
    fprintf(stderr,
            "prefill: %ld tokens in %.2f s (%.1f tok/s) | decode: %ld tokens (+%ld cue) in %.2f s "
            "(%.1f tok/s, %ld steps) | chains %d | peak KV %.1f MB\n",
            st->prefill_tokens, st->prefill_seconds,
            st->prefill_seconds > 0 ? st->prefill_tokens / st->prefill_seconds : 0.0,
            st->decode_tokens, st->forced_tokens, dec_s,
            dec_s > 0 ? st->decode_tokens / dec_s : 0.0, st->steps, q->n_chains,
            st->peak_kv_bytes / 1e6);
}

int cmd_run(int argc, char **argv) {
    RunOptions o = {0};
    gen_options_init(&o.g);
    int ended = 0;
    for (int i = 1; i < argc; i++) {
        CliArgKind kind = cli_arg_kind(argv[i], &ended);
        if (kind == CLI_END_OF_OPTIONS) continue;
        if (kind == CLI_OPERAND) {
            if (set_prompt(&o, argv[i])) return CLI_USAGE_ERROR;
            continue;
        }
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("%s%s%s%s", RUN_HELP, GEN_FLAGS_HELP, SESSION_FLAGS_HELP, CLI_END_HELP);
            return 0;
        }
        int r = session_flag(argc, argv, &i, &o.so);
        if (r == 0) r = run_flag(argc, argv, &i, &o);
        if (r == 0) r = gen_flag(argc, argv, &i, &o.g);
        if (r < 0) return CLI_USAGE_ERROR;
        if (r == 0) return cli_error("unknown option '%s'; see --help", argv[i]);
    }
    int rc = run_finish_options(&o);
    if (rc) return rc;
    regex_t re;
    char err[512];
    Policy pol;
    if (o.g.policy_path) {
        if (policy_load(o.g.policy_path, &pol, err, sizeof err))
            return fprintf(stderr, "chorus: --policy: %s\n", err), 1;
        if ((rc = gen_apply_policy(&o.g, &pol))) return policy_free(&pol), rc;
        if (!o.g.parallel_set) o.g.cc.parallel = o.g.cc.n_samples;
    }
    if (o.g.answer_regex) {
        if (answer_regex_compile(&re, o.g.answer_regex, err, sizeof err))
            return cli_error("%s", err);
        o.g.cc.answer_re = &re;
    }
    Session s;
    rc = 1;
    // rows per call: every chain's pending rows (cue tokens included) plus prefill chunks
    if (session_open(&s, &o.so, o.g.cc.parallel + 64, o.g.cc.parallel + 1, err, sizeof err)) {
        fprintf(stderr, "chorus: %s\n", err);
        goto out;
    }
    if (session_check_kv(&s, (long)o.g.cc.parallel * (o.g.cc.max_tokens + 64), err, sizeof err)) {
        fprintf(stderr, "chorus: %s\n", err);
        goto out_session;
    }
    Question q = {0};
    q.prompt = session_prompt(&s, &o.so, o.prompt, err, sizeof err);
    if (!q.prompt) {
        fprintf(stderr, "chorus: %s\n", err);
        goto out_session;
    }
    if (o.g.cc.n_samples == 1 && !o.json) {
        o.g.cc.on_text = stream_text;
        o.g.cc.text_user = &o;
    }
    ChainsStats st;
    if (chains_run(&s.b, s.tok, &o.g.cc, &q, 1, on_question, &o, &st, err, sizeof err)) {
        fprintf(stderr, "chorus: %s\n", err);
    } else {
        print_stats(&st, &q);
        rc = 0;
    }
    question_free_results(&q);
    free((char *)q.prompt);
out_session:
    session_close(&s);
out:
    if (o.g.answer_regex) regfree(&re);
    if (o.g.policy_path) policy_free(&pol);
    return rc;
}
