// tasks.h - evaluation tasks from JSONL files (chorus eval): one JSON object a line.
//
// Accepted forms (other members are ignored):
//   GSM8K   {"question": "...", "answer": "...reasoning...\n#### 72"}: the reference is the text
//           after the LAST "####", normalised (answer_normalize: "1,234" -> "1234").
//   plain   {"question": "...", "answer": "42" or 42, "level": 3}: the whole answer normalised.
// "level" (optional) is an integer, or a string ending in one ("Level 3", MATH style); it
// is the oracle difficulty used for the by-level table. Blank lines are skipped. Anything else
// is an error naming the file and line.
//
// Prompts: the template's every "{question}" is replaced by the question; few-shot examples
// (another task file, same forms) go before it, each as "Question: Q\nAnswer: A\n\n" where A
// is the example's answer text with GSM8K's "<<...>>" calculator notes removed, and for a
// plain answer "The answer is A.".
#pragma once
#include <stddef.h>

typedef struct {
    char *question;
    char *solution;  // the "answer" member as given (text, or a number's digits)
    char *reference; // normalised reference answer
    int level;       // -1 when absent
    int line;        // 1-based line in the file
} Task;

typedef struct {
    Task *v;
    int n;
} TaskSet;

// Parses one line (not NUL-terminated; n bytes). Returns 1 with *t filled, 0 for a blank line,
// -1 with a reason in err (without the file and line, which the caller adds).
int task_parse_line(const char *line, size_t n, Task *t, char *err, size_t errlen);
// Parses a whole JSONL text; `name` prefixes errors ("name:LINE: reason"). 0 or -1.
int tasks_parse(const char *text, size_t n, const char *name, TaskSet *ts, char *err,
                size_t errlen);
// Reads and parses a file. 0, or -1 with a message naming the file (and line).
int tasks_load(const char *path, TaskSet *ts, char *err, size_t errlen);
void task_free(Task *t);
void tasks_free(TaskSet *ts);

// The few-shot preamble for examples [n] (malloc'd; "" for none), or NULL without memory.
char *tasks_fewshot_text(const TaskSet *examples);
// fewshot + template with {question} replaced (malloc'd), or NULL without memory.
char *tasks_format_prompt(const char *tmpl, const char *fewshot, const char *question);
