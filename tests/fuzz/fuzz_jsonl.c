// fuzz_jsonl.c - libFuzzer target: the JSON readers, on task files and eval reports.
//
// Input byte 0 picks the mode; the rest is the text.
//   even: a JSONL task file (tasks_parse), then the prompts built from it (few-shot text and
//         the template), as `chorus eval --data` does.
//   odd:  one or two report files separated by a 0xFF byte (report_parse each), then what
//         `chorus eval --merge` does with them: merge, parameters, every table, the terminal
//         print and report_write, whose output must read back (valid JSON: no inf or nan).
// Refusals must be one clean line; accepted values must be in range.
#include "fuzz_util.h"
#include "report.h"
#include "tasks.h"

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
                char *buf = NULL;
                size_t len = 0;
                FILE *mem = open_memstream(&buf, &len);
                if (mem && report_write(mem, &out, &t) == 0 && fclose(mem) == 0) {
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
    if (data[0] % 2 == 0)
        tasks((const char *)data + 1, size - 1);
    else
        reports((const char *)data + 1, size - 1);
    return 0;
}
