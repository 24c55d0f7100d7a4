// fuzz_jsonl.c - libFuzzer target: the JSON readers, on task files and eval reports.
//
// Input byte 0 picks the mode (mod 3); the rest is the text.
//   0: a JSONL task file (tasks_parse), then the prompts built from it (few-shot text and
//      the template), as `chorus eval --data` does.
//   1: one or two report files separated by a 0xFF byte (report_parse each), then what
//      `chorus eval --merge` does with them: merge, parameters, every table, the methods
//      (replays, bootstrap, AUROC), a policy fit, the terminal print and report_write, whose
//      output must read back (valid JSON: no inf or nan).
//   2: a policy file (policy_parse); an accepted one is decided on, re-allocated, written and
//      read back.
// Refusals must be one clean line; accepted values must be in range.
#include "fuzz_util.h"
#include "eval/policy_fit.h"
#include "eval/report.h"
#include "eval/tasks.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    devnull = fopen("/dev/null", "w");
    return devnull ? 0 : 1;
}

static void one_line(const char *err) {
    FUZZ_ASSERT(err[0] != '\0', "a refusal without a message");
    FUZZ_ASSERT(!strpbrk(err, "\n\r\x1b"), "message not one clean line: %s", err);
}

static void tasks(const char *text, size_t n) {
    TaskSet ts;
    char err[512] = "";
    if (tasks_parse(text, n, "tasks.jsonl", &ts, err, sizeof err)) {
        one_line(err);
        return;
    }
    for (int i = 0; i < ts.n; i++) {
        const Task *t = &ts.v[i];
        FUZZ_ASSERT(t->question && t->solution && t->reference && t->level >= -1 && t->line >= 1,
                    "task %d", i);
    }
    char *few = tasks_fewshot_text(&ts);
    for (int i = 0; few && i < ts.n && i < 8; i++)
        free(tasks_format_prompt("Q: {question}\nA:{question}", few, ts.v[i].question));
    free(few);
    tasks_free(&ts);
}

// A policy written and read back is the same policy (its write is valid JSON).
static void policy_round_trip(const Policy *p) {
    char *buf = NULL, err[512] = "";
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (mem && policy_write(mem, p) == 0 && fclose(mem) == 0) {
        Policy back;
        FUZZ_ASSERT(policy_parse(buf, len, "written.json", &back, err, sizeof err) == 0,
                    "the written policy does not read back: %s", err);
        FUZZ_ASSERT(back.n_bins == p->n_bins && back.wave == p->wave, "policy round trip");
        policy_free(&back);
    } else if (mem) {
        fclose(mem);
    }
    free(buf);
}

static void policy(const char *text, size_t n) {
    Policy p;
    char err[512] = "";
    if (policy_parse(text, n, "policy.json", &p, err, sizeof err)) {
        one_line(err);
        return;
    }
    VoteEntry e[4] = {{"1", -1, 3, 0}, {NULL, -2, 4, 0}, {"1", -1, 5, 0}, {"2", -9, 1, 0}};
    PolicyDecision d = policy_decide(&p, e, 4);
    FUZZ_ASSERT(d.bin >= 0 && d.bin < p.n_bins && d.extra >= 0 && d.extra <= p.n_max - p.wave,
                "decision in range: bin %d, extra %d", d.bin, d.extra);
    policy_round_trip(&p);
    Policy q = p; // bins re-allocated in a copy; the options stay shared
    if (policy_allocate(&q, p.budget_mean * 0.5 + 1) == 0)
        for (int b = 0; b < q.n_bins; b++)
            FUZZ_ASSERT(q.bins[b].extra >= 0 && q.bins[b].extra <= q.n_max - q.wave, "allocation");
    policy_free(&p);
}

// What --merge adds past the tables: the methods table, and a policy fit on the samples.
static void methods_and_fit(const EvalReport *r, const EvalParams *p) {
    MethodsOptions mo;
    EvalMethods m;
    char err[512] = "";
    methods_defaults(&mo);
    mo.boot = 100;
    if (eval_methods(r->qs, r->n_q, p, &mo, &m, err, sizeof err) == 0)
        eval_methods_print(devnull, &m, p, NULL);
    else
        one_line(err);
    eval_methods_free(&m);
    if (p->live || p->n_max < 2) return;
    PolicyFitParams fp = {.wave = 1, .n_bins = 3, .budget_mean = 1e6, .ridge = 1e-3};
    Policy pol;
    if (policy_fit(r->qs, r->n_q, p, &fp, &pol, err, sizeof err) == 0) {
        policy_round_trip(&pol);
        policy_free(&pol);
    } else {
        one_line(err);
    }
}

static void reports(const char *text, size_t n) {
    const char *sep = memchr(text, 0xFF, n);
    size_t n0 = sep ? (size_t)(sep - text) : n;
    EvalReport in[2], out;
    char err[512] = "";
    int k = 0;
    if (report_parse(text, n0, "a.json", &in[0], err, sizeof err)) {
        one_line(err);
        return;
    }
    k = 1;
    if (sep) {
        if (report_parse(sep + 1, n - n0 - 1, "b.json", &in[1], err, sizeof err))
            one_line(err);
        else
            k = 2;
    }
    if (report_merge(in, k, &out, err, sizeof err) == 0) {
        EvalParams p;
        EvalTables t;
        if (report_params(&out, &p, err, sizeof err) == 0) {
            FUZZ_ASSERT(p.n_ks >= 1 && p.n_max >= 1 && p.wave >= 1, "params");
            if (eval_tables(out.qs, out.n_q, &p, &t) == 0) {
                eval_tables_print(devnull, &t);
                methods_and_fit(&out, &p);
                char *buf = NULL;
                size_t len = 0;
                FILE *mem = open_memstream(&buf, &len);
                if (mem && report_write(mem, &out, &t, NULL) == 0 && fclose(mem) == 0) {
                    EvalReport back;
                    FUZZ_ASSERT(report_parse(buf, len, "written.json", &back, err, sizeof err) == 0,
                                "the written report does not read back: %s", err);
                    FUZZ_ASSERT(back.n_q == out.n_q, "%d questions written, %d read", out.n_q,
                                back.n_q);
                    report_free(&back);
                } else if (mem) {
                    fclose(mem);
                }
                free(buf);
            }
            eval_tables_free(&t);
        } else {
            one_line(err);
        }
    } else {
        one_line(err);
    }
    for (int i = 0; i < k; i++) report_free(&in[i]);
    report_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] % 3 == 0)
        tasks((const char *)data + 1, size - 1);
    else if (data[0] % 3 == 1)
        reports((const char *)data + 1, size - 1);
    else
        policy((const char *)data + 1, size - 1);
    return 0;
}
