// test_tasks.c - the JSON reader and the task-file parser of chorus eval (runtime/eval/tasks.h,
// runtime/util/json_parse.h): both task forms, escapes and unicode, levels, blank lines, errors
// with line numbers, prompt templates and few-shot text.
#include "check.h"
#include "util/json_parse.h"
#include "eval/tasks.h"

#include <string.h>

static void test_json(void) {
    JsonValue v;
    char err[128];
    const char *s =
        " {\"a\": [1, -2.5e1, true, false, null], \"b\": {\"c\": \"x\\ty\"}, \"a\": 3} ";
    CHECK(json_parse(s, strlen(s), &v, err, sizeof err) == 0, "parse: %s", err);
    CHECK(v.type == JSON_OBJECT && v.n == 3, "object with 3 members");
    CHECK(json_num(&v, "a", 0) == 3, "the last repeated key wins");
    const JsonValue *b = json_get(&v, "b");
    CHECK(b && !strcmp(json_string(b, "c"), "x\ty"), "nested string with \\t");
    CHECK(v.items[0].type == JSON_ARRAY && v.items[0].n == 5 && v.items[0].items[1].number == -25,
          "array of 5, -2.5e1 = -25");
    json_free(&v);

    // \u escapes: BMP, surrogate pair, lone surrogate -> U+FFFD, embedded NUL kept with len
    s = "\"\\u00e9\\ud83d\\ude00\\ud800x\\u0000!\"";
    CHECK(json_parse(s, strlen(s), &v, err, sizeof err) == 0, "unicode parse: %s", err);
    CHECK(v.len == 2 + 4 + 3 + 1 + 1 + 1 &&
              !memcmp(v.str, "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx\0!", v.len),
          "unicode decoded (len %zu)", v.len);
    json_free(&v);

    const char *bad[] = {
        "{\"a\":1,}", "[1 2]", "\"abc",     "{\"a\" 1}",   "01",
        "tru",        "[1]x",  "\"a\\qb\"", "\"\\u12G4\"", "{\"a\":\"line\nbreak\"}",
        "",           "-",     "1."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        CHECK(json_parse(bad[i], strlen(bad[i]), &v, err, sizeof err) == -1 &&
                  strstr(err, "column"),
              "bad JSON rejected with a column: %s -> %s", bad[i], err);
    }
    char deep[200];
    memset(deep, '[', sizeof deep);
    CHECK(json_parse(deep, sizeof deep, &v, err, sizeof err) == -1 && strstr(err, "deeper"),
          "deep nesting refused: %s", err);
}

static void test_lines(void) {
    Task t;
    char err[256];
    const char *gsm = "{\"question\": \"Janet\\u2019s ducks?\", \"answer\": \"16 - 3 = "
                      "<<16-3=13>>13\\n#### 1,300\"}";
    CHECK(task_parse_line(gsm, strlen(gsm), &t, err, sizeof err) == 1, "gsm8k line: %s", err);
    CHECK(!strcmp(t.reference, "1300"), "reference after ####, commas dropped: %s", t.reference);
    CHECK(!strcmp(t.question, "Janet\xe2\x80\x99s ducks?"), "question unescaped");
    CHECK(t.level == -1, "no level");
    task_free(&t);

    const char *plain =
        "{\"question\": \"2+2?\", \"answer\": 4, \"level\": 3, \"expr\": \"2 + 2\"}";
    CHECK(task_parse_line(plain, strlen(plain), &t, err, sizeof err) == 1, "plain line: %s", err);
    CHECK(!strcmp(t.reference, "4") && t.level == 3, "numeric answer 4, level 3");
    task_free(&t);

    const char *math = "{\"question\": \"q\", \"answer\": \"$18.00\", \"level\": \"Level 5\"}";
    CHECK(task_parse_line(math, strlen(math), &t, err, sizeof err) == 1 &&
              !strcmp(t.reference, "18") && t.level == 5,
          "string level and $18.00 -> 18");
    task_free(&t);

    CHECK(task_parse_line("  \r", 3, &t, err, sizeof err) == 0, "blank line skipped");
    const char *bad[][2] = {{"{\"answer\": \"4\"}", "question"},
                            {"{\"question\": \"q\"}", "answer"},
                            {"{\"question\": \"q\", \"answer\": \"   \"}", "empty"},
                            {"{\"question\": \"q\", \"answer\": \"4\", \"level\": -2}", "level"},
                            {"[1, 2]", "object"},
                            {"{\"question\": \"q\", \"answer\": 4", "column"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        CHECK(task_parse_line(bad[i][0], strlen(bad[i][0]), &t, err, sizeof err) == -1 &&
                  strstr(err, bad[i][1]),
              "bad line %zu: %s", i, err);
    }
}

static void test_file(void) {
    TaskSet ts;
    char err[256];
    const char *text =
        "{\"question\": \"a\", \"answer\": \"1\"}\n\n{\"question\": \"b\", \"answer\": \"2\"}\r\n"
        "{\"question\": \"c\", \"answer\": \"#### 3\"}";
    CHECK(tasks_parse(text, strlen(text), "t.jsonl", &ts, err, sizeof err) == 0, "parse: %s", err);
    CHECK(ts.n == 3 && ts.v[1].line == 3 && ts.v[2].line == 4 && !strcmp(ts.v[2].reference, "3"),
          "3 tasks, lines 1 3 4 (blank skipped, CRLF, no final newline)");
    tasks_free(&ts);

    const char *broken =
        "{\"question\": \"a\", \"answer\": \"1\"}\n{\"question\": \"b\", \"answer\": }\n";
    CHECK(tasks_parse(broken, strlen(broken), "t.jsonl", &ts, err, sizeof err) == -1 &&
              !strncmp(err, "t.jsonl:2: column", 17),
          "error names file and line: %s", err);
    CHECK(ts.n == 0 && ts.v == NULL, "nothing left allocated");
    CHECK(tasks_load("/nonexistent/x.jsonl", &ts, err, sizeof err) == -1 &&
              strstr(err, "/nonexistent/x.jsonl"),
          "missing file: %s", err);
}

static void test_prompts(void) {
    char *p = tasks_format_prompt("Q: {question}\nAgain: {question}", NULL, "2+2?");
    CHECK(p && !strcmp(p, "Q: 2+2?\nAgain: 2+2?"), "template: %s", p);
    free(p);
    TaskSet ex;
    char err[256];
    const char *text = "{\"question\": \"1+1?\", \"answer\": \"1+1=<<1+1=2>>2\\n#### 2\"}\n"
                       "{\"question\": \"3+3?\", \"answer\": 6}\n";
    CHECK(tasks_parse(text, strlen(text), "ex", &ex, err, sizeof err) == 0, "examples: %s", err);
    char *shots = tasks_fewshot_text(&ex);
    const char *want =
        "Question: 1+1?\nAnswer: 1+1=2\n#### 2\n\nQuestion: 3+3?\nAnswer: The answer is 6.\n\n";
    CHECK(shots && !strcmp(shots, want), "few-shot text: [%s]", shots);
    p = tasks_format_prompt("{question}", shots, "5+5?");
    CHECK(p && !strncmp(p, want, strlen(want)) && !strcmp(p + strlen(want), "5+5?"),
          "few-shot then question");
    free(p);
    free(shots);
    tasks_free(&ex);
    shots = tasks_fewshot_text(NULL);
    CHECK(shots && !strcmp(shots, ""), "no examples: empty preamble");
    free(shots);
}

int main(void) {
    test_json();
    test_lines();
    test_file();
    test_prompts();
    return check_done("test_tasks");
}
