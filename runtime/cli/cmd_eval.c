// cmd_eval.c - `chorus eval`: task file -> greedy pass + sampled pass through the controller
// -> per-question records -> tables (stdout) and report.json; or --merge of shard reports.
// Flags are in cli/eval_flags.c, tables in eval/tables.c, the report file in report*.c.
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/eval_flags.h"
#include "eval/policy_fit.h"
#include "eval/report.h"
#include "eval/tasks.h"
#include "util/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// ---- progress --------------------------------------------------------------------------------

typedef struct {
    int total, done; // questions over both passes
    long tokens;     // decoded by finished questions
    double t0, last;
    int tty, quiet;
} Progress;

// In place (\r) on a terminal; else a line at most every 10 s (and the last one), for logs.
static void progress_tick(Progress *p, const char *phase, long tokens) {
    p->done++;
    p->tokens += tokens;
    double t = now_s(), el = t - p->t0;
    int last = p->done == p->total;
    if (p->quiet || (!p->tty && !last && t - p->last < 10) ||
        (p->tty && !last && t - p->last < 0.2))
        return;
    p->last = t;
    double eta = p->done ? el / p->done * (p->total - p->done) : 0;
    fprintf(stderr, "%s%s: %d/%d questions  %.1f tok/s  elapsed %.0f s  ETA %.0f s%s",
            p->tty ? "\r" : "", phase, p->done, p->total, el > 0 ? p->tokens / el : 0.0, el, eta,
            p->tty ? "   " : "\n");
    if (p->tty && last) fputc('\n', stderr);
}

// ---- collecting results ----------------------------------------------------------------------

typedef struct {
    EvalQuestion *eq; // [n], in shard order
    const EvalOptions *o;
    Progress *pr;
    int greedy_pass;
    int failed;
} Collector;

static int by_index(const void *a, const void *b) {
    const ChainResult *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

// Moves a controller chain result into an EvalChain (its text changes owner).
static int take_chain(ChainResult *r, const char *reference, int keep_text, EvalChain *c) {
    memset(c, 0, sizeof *c);
    c->index = r->index;
    c->think = r->think;
    c->tokens = r->n_tokens;
    c->forced = r->forced;
    c->sum_logprob = r->sum_logprob;
    c->conf = r->conf, r->conf = NULL; // moved: the trace is kept even without texts
    c->mean_entropy = r->n_tokens > 0 ? r->sum_entropy / r->n_tokens : 0;
    snprintf(c->stop, sizeof c->stop, "%s", stop_reason_name(r->stop));
    if (r->has_answer && !(c->answer = strdup(r->answer))) return -1;
    c->correct = c->answer && reference && !strcmp(c->answer, reference);
    if (keep_text) c->text = r->text, r->text = NULL;
    return 0;
}

static void on_question(Question *q, int index, void *user) {
    Collector *col = user;
    EvalQuestion *e = &col->eq[index];
    // chains arrive in the order they finished; chain i must be chains[i] for the estimators
    qsort(q->chains, (size_t)q->n_chains, sizeof *q->chains, by_index);
    if (col->greedy_pass) {
        e->has_greedy = q->n_chains > 0;
        if (e->has_greedy && take_chain(&q->chains[0], e->reference, col->o->keep_text, &e->greedy))
            col->failed = 1;
    } else { // arms come in ascending budgets; a policy run mixes them: sorted at the end
        e->prompt_tokens = q->n_prompt;
        e->decode_tokens += q->decode_tokens;
        e->forced_tokens += q->forced_tokens;
        e->settled_early |= q->settled_early;
        e->budget_capped |= q->budget_capped;
        snprintf(e->stop, sizeof e->stop, "%s", question_stop_name(q->stop));
        e->bin = q->bin, e->score = q->score;
        e->seconds += q->seconds;
        EvalChain *grown =
            realloc(e->chains, (size_t)(e->n_chains + q->n_chains + 1) * sizeof *grown);
        if (!grown)
            col->failed = 1;
        else
            e->chains = grown;
        for (int i = 0; grown && i < q->n_chains; i++, e->n_chains++)
            if (take_chain(&q->chains[i], e->reference, col->o->keep_text, &e->chains[e->n_chains]))
                col->failed = 1;
    }
    progress_tick(col->pr, col->greedy_pass ? "greedy" : "sampling", q->decode_tokens);
    question_free_results(q); // keep memory flat over long runs
}

// ---- the run ---------------------------------------------------------------------------------

// The shard's questions as EvalQuestions and controller Questions (prompts formatted).
static int build_questions(const EvalOptions *o, const Session *s, const TaskSet *ts,
                           const TaskSet *ex, EvalReport *r, Question **qs_out, int **ids_out,
                           char *err, size_t errlen) {
    char *shots = tasks_fewshot_text(ex);
    int n_all = o->limit && o->limit < ts->n ? o->limit : ts->n, n = 0;
    Question *qs = calloc((size_t)n_all + 1, sizeof *qs);
    int *ids = calloc((size_t)n_all + 1, sizeof *ids);
    r->qs = calloc((size_t)n_all + 1, sizeof *r->qs);
    *qs_out = qs, *ids_out = ids;
    if (!shots || !qs || !ids || !r->qs) {
        free(shots);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    for (int i = 0; i < n_all; i++) {
        if (i % o->shard_n != o->shard_i) continue;
        const Task *t = &ts->v[i];
        EvalQuestion *e = &r->qs[n];
        e->id = ids[n] = i, e->line = t->line, e->level = t->level, e->bin = -1;
        e->question = strdup(t->question), e->reference = strdup(t->reference);
        char *user = tasks_format_prompt(o->tmpl, shots, t->question);
        r->n_q = ++n;
        if (!e->question || !e->reference || !user) {
            free(user);
            free(shots);
            return snprintf(err, errlen, "out of memory"), -1;
        }
        qs[n - 1].prompt = session_prompt(s, &o->so, user, err, errlen);
        qs[n - 1].reference = e->reference;
        free(user);
        if (!qs[n - 1].prompt) {
            free(shots);
            return -1;
        }
    }
    free(shots);
    return 0;
}

// Runs one pass (greedy or sampled) over all questions.
static int run_pass(Session *s, const ChainsConfig *cc, Question *qs, int n, Collector *col,
                    ChainsStats *st, char *err, size_t errlen) {
    int rc = chains_run(&s->b, s->tok, cc, qs, n, on_question, col, st, err, errlen);
    if (!rc && col->failed) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    return rc;
}

static int run_passes(const EvalOptions *o, Session *s, Question *qs, int *ids, EvalReport *r,
                      char *err, size_t errlen) {
    Progress pr = {.total = r->n_q * (o->greedy + o->n_thinks),
                   .t0 = now_s(),
                   .tty = isatty(2),
                   .quiet = o->quiet};
    Collector col = {.eq = r->qs, .o = o, .pr = &pr};
    ChainsStats st;
    ChainsConfig cc = o->g.cc;
    cc.seed_index = ids;
    if (o->greedy) {
        ChainsConfig g = cc;
        g.sampler.temperature = 0;
        g.n_samples = 1, g.adaptive = 0, g.budget = 0, g.policy = NULL;
        col.greedy_pass = 1;
        if (run_pass(s, &g, qs, r->n_q, &col, &st, err, errlen)) return -1;
        r->totals.greedy_prefill_tokens = st.prefill_tokens;
        r->totals.greedy_decode_tokens = st.decode_tokens;
        r->totals.greedy_seconds = st.seconds;
    }
    col.greedy_pass = 0;
    for (int i = 0; i < r->n_q; i++) { // chains_run adds to these: start the pass from zero
        qs[i].decode_tokens = qs[i].forced_tokens = 0;
        qs[i].settled_early = qs[i].budget_capped = 0;
    }
    for (int a = 0; a < o->n_thinks; a++) { // one arm per thinking budget
        cc.think_tokens = o->thinks[a];
        if (run_pass(s, &cc, qs, r->n_q, &col, &st, err, errlen)) return -1;
        r->totals.prefill_tokens += st.prefill_tokens;
        r->totals.decode_tokens += st.decode_tokens;
        r->totals.forced_tokens += st.forced_tokens;
        r->totals.sample_seconds += st.seconds;
    }
    r->totals.wall_seconds = now_s() - pr.t0;
    for (int i = 0; i < r->n_q; i++) eval_sort_chains(&r->qs[i]);
    return 0;
}

// A float flag as the decimal the user typed (0.7, not 0.699999988).
static double fval(float f) {
    char b[32];
    snprintf(b, sizeof b, "%g", f);
    return strtod(b, NULL);
}

// Everything a merge must agree on (and the plot needs) goes into the report's config.
static int fill_config(const EvalOptions *o, int n_data, const Session *s, EvalReport *r) {
    const ChainsConfig *c = &o->g.cc;
    char ks[EVAL_MAX_KS * 6] = "", thinks[EVAL_MAX_THINKS * 12] = "", shard[32];
    for (int j = 0; j < o->n_ks; j++)
        snprintf(ks + strlen(ks), sizeof ks - strlen(ks), "%s%d", j ? "," : "", o->ks[j]);
    for (int j = 0; j < o->n_thinks; j++)
        snprintf(thinks + strlen(thinks), sizeof thinks - strlen(thinks), "%s%d", j ? "," : "",
                 o->thinks[j]);
    snprintf(shard, sizeof shard, "%d/%d", o->shard_i, o->shard_n);
    r->shards = malloc(sizeof *r->shards);
    if (!r->shards || !(r->shards[0] = strdup(shard))) return -1;
    r->n_shards = 1;
    return report_set_str(r, "model", o->so.model_path) | report_set_str(r, "data", o->data) |
           report_set_num(r, "data_questions", n_data) | report_set_num(r, "limit", o->limit) |
           report_set_str(r, "ks", ks) | report_set_num(r, "n_max", c->n_samples) |
           report_set_num(r, "adaptive", c->adaptive) | report_set_num(r, "wave", c->wave) |
           report_set_num(r, "confidence", c->confidence) |
           report_set_num(r, "temp", fval(c->sampler.temperature)) |
           report_set_num(r, "top_k", c->sampler.top_k) |
           report_set_num(r, "top_p", fval(c->sampler.top_p)) |
           report_set_num(r, "min_p", fval(c->sampler.min_p)) |
           report_set_num(r, "seed", (double)c->seed) |
           report_set_num(r, "max_tokens", c->max_tokens) |
           report_set_num(r, "think_tokens", c->think_tokens) |
           report_set_str(r, "thinks", thinks) |
           report_set_num(r, "answer_tokens", c->answer_tokens) |
           report_set_str(r, "answer_cue", c->answer_cue) | report_set_num(r, "budget", c->budget) |
           report_set_str(r, "prompt_template", o->tmpl) |
           report_set_str(r, "fewshot", o->fewshot) |
           report_set_str(r, "chat_template", s->template_name) |
           report_set_str(r, "system", o->so.system) |
           report_set_str(r, "answer_regex", o->g.answer_regex) |
           report_set_num(r, "greedy", o->greedy) |
           report_set_str(r, "policy", c->policy ? o->g.policy_path : NULL) |
           report_set_str(r, "deepconf",
                          !c->deepconf.on          ? NULL
                          : c->deepconf.keep < 0.5 ? "low"
                                                   : "high") |
           report_set_num(r, "conf_k", c->conf_k);
}

// --fit-policy: fitted on the report's samples, written, and summarised on stdout.
static int fit_and_write(const EvalOptions *o, const EvalReport *r, const EvalParams *p) {
    PolicyFitParams fp = {.wave = o->g.wave_set ? o->g.cc.wave : p->wave,
                          .n_bins = o->bins,
                          .budget_mean = o->budget_mean,
                          .ridge = 1e-3 * r->n_q};
    Policy pol;
    char err[512];
    if (policy_fit(r->qs, r->n_q, p, &fp, &pol, err, sizeof err))
        return fprintf(stderr, "chorus: --fit-policy: %s\n", err), 1;
    const ReportKV *data = report_get(r, "data");
    pol.calib_source = strdup(data && data->is_str && data->str ? data->str : "?");
    FILE *f = fopen(o->fit_policy, "w");
    int bad = !f || policy_write(f, &pol);
    if (f && fclose(f)) bad = 1;
    if (!bad) policy_print(stdout, &pol);
    policy_free(&pol);
    if (bad) return fprintf(stderr, "chorus: cannot write %s\n", o->fit_policy), 1;
    return 0;
}

// Tables and methods to stdout, the report to --out, a fitted policy to --fit-policy.
static int publish(const EvalOptions *o, const EvalReport *r, const Policy *pol) {
    EvalParams p;
    EvalTables t;
    EvalMethods m;
    char err[512];
    if (report_params(r, &p, err, sizeof err)) return fprintf(stderr, "chorus: %s\n", err), 1;
    if (eval_tables(r->qs, r->n_q, &p, &t)) {
        eval_tables_free(&t);
        return fprintf(stderr, "chorus: out of memory\n"), 1;
    }
    MethodsOptions mo = o->mo;
    mo.dc = o->g.cc.deepconf;        // --conf-window, --conf-score, --deepconf-init, --deepconf-tau
    mo.policy = p.live ? NULL : pol; // a live run's policy drew the chains: its point is "live"
    if (eval_methods(r->qs, r->n_q, &p, &mo, &m, err, sizeof err)) {
        eval_tables_free(&t);
        eval_methods_free(&m);
        return fprintf(stderr, "chorus: %s\n", err), 1;
    }
    printf("chorus eval: %d questions, N_max %d%s\n", r->n_q, p.n_max,
           p.adaptive ? ", adaptive" : "");
    eval_tables_print(stdout, &t);
    const EvalTotals *s = &r->totals;
    printf("\ntotals: prefill %ld tokens, decode %ld tokens (+%ld cue), greedy pass %ld decoded; "
           "wall %.1f s\n",
           s->prefill_tokens, s->decode_tokens, s->forced_tokens, s->greedy_decode_tokens,
           s->wall_seconds);
    eval_methods_print(stdout, &m, &p, mo.policy);
    int rc = o->fit_policy ? fit_and_write(o, r, &p) : 0;
    if (o->out) { // a report cut short by a full disk is an error, fclose's included
        FILE *f = fopen(o->out, "w");
        int bad = !f || report_write(f, r, &t, &m), e = errno;
        if (f && fclose(f) && !bad) bad = 1, e = errno;
        if (bad) {
            fprintf(stderr, "chorus: cannot write %s: %s\n", o->out, strerror(e));
            rc = 1;
        }
    }
    eval_tables_free(&t);
    eval_methods_free(&m);
    return rc;
}

// --policy with --data: the policy draws the chains, in one pass.
static int apply_policy(EvalOptions *o, const Policy *pol) {
    int rc = gen_apply_policy(&o->g, pol);
    o->thinks[0] = o->g.cc.think_tokens, o->n_thinks = 1;
    return rc;
}

static int run_eval(EvalOptions *o, const Policy *pol) {
    char err[512] = "";
    int bad = pol ? apply_policy(o, pol) : 0;
    if (bad) return bad;
    TaskSet ts, ex = {0}; // tasks and few-shot examples, read before the model loads
    if (tasks_load(o->data, &ts, err, sizeof err)) return fprintf(stderr, "chorus: %s\n", err), 1;
    if (ts.n == 0) {
        tasks_free(&ts);
        return fprintf(stderr, "chorus: %s: no tasks\n", o->data), 1;
    }
    if (o->fewshot && tasks_load(o->fewshot, &ex, err, sizeof err)) {
        tasks_free(&ts);
        return fprintf(stderr, "chorus: %s\n", err), 1;
    }
    regex_t re;
    if (o->g.answer_regex) {
        if (answer_regex_compile(&re, o->g.answer_regex, err, sizeof err)) {
            tasks_free(&ts);
            tasks_free(&ex);
            return cli_error("%s", err);
        }
        o->g.cc.answer_re = &re;
    }
    EvalReport r = {0};
    Question *qs = NULL;
    int *ids = NULL, rc = 1;
    Session s;
    int B = o->g.cc.parallel;
    // prefixes of up to B questions in flight, plus B chains
    if (session_open(&s, &o->so, B + 64, 2 * B + 1, err, sizeof err)) goto out;
    if (session_check_kv(&s, (long)B * (o->g.cc.max_tokens + 64 + 512), err, sizeof err) ||
        (fill_config(o, ts.n, &s, &r) && snprintf(err, sizeof err, "out of memory")) ||
        build_questions(o, &s, &ts, &ex, &r, &qs, &ids, err, sizeof err) ||
        run_passes(o, &s, qs, ids, &r, err, sizeof err))
        goto out_session;
    rc = publish(o, &r, pol);
out_session:
    session_close(&s);
out:
    if (rc && err[0]) fprintf(stderr, "chorus: %s\n", err);
    for (int i = 0; qs && i < r.n_q; i++) {
        question_free_results(&qs[i]);
        free((char *)qs[i].prompt);
    }
    free(qs);
    free(ids);
    report_free(&r);
    tasks_free(&ts);
    tasks_free(&ex);
    if (o->g.answer_regex) regfree(&re);
    return rc;
}

// --merge with --wave/--confidence: the adaptive row replayed at other settings. Only fixed
// runs hold every chain an adaptive run could want.
static int replay_settings(const EvalOptions *o, EvalReport *r) {
    if (!o->g.wave_set && !o->g.confidence_set) return 0;
    if (report_num(r, "adaptive", 0))
        return cli_error("--merge: --wave/--confidence need reports made without --adaptive"), -1;
    if ((o->g.wave_set && report_set_num(r, "wave", o->g.cc.wave)) ||
        (o->g.confidence_set && report_set_num(r, "confidence", o->g.cc.confidence)))
        return fprintf(stderr, "chorus: out of memory\n"), -1;
    return 0;
}

static int run_merge(const EvalOptions *o, const Policy *pol) {
    char err[512];
    EvalReport *in = calloc((size_t)o->n_merge, sizeof *in), out = {0};
    int rc = 1, loaded = 0;
    if (!in) return fprintf(stderr, "chorus: out of memory\n"), 1;
    for (; loaded < o->n_merge; loaded++)
        if (report_load(o->merge[loaded], &in[loaded], err, sizeof err)) break;
    if (loaded == o->n_merge && !report_merge(in, o->n_merge, &out, err, sizeof err))
        rc = replay_settings(o, &out) ? 1 : publish(o, &out, pol);
    else
        fprintf(stderr, "chorus: %s\n", err);
    for (int i = 0; i < loaded; i++) report_free(&in[i]);
    free(in);
    report_free(&out);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    EvalOptions o;
    int rc = eval_parse_options(argc, argv, &o);
    if (rc == 1) return 0; // help
    if (rc) return rc;
    Policy pol;
    char err[512];
    const char *path = o.g.policy_path;
    if (path && policy_load(path, &pol, err, sizeof err))
        return fprintf(stderr, "chorus: --policy: %s\n", err), 1;
    rc = o.n_merge ? run_merge(&o, path ? &pol : NULL) : run_eval(&o, path ? &pol : NULL);
    if (path) policy_free(&pol);
    return rc;
}
