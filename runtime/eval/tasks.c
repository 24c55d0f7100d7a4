// tasks.c - loading task JSONL files and building prompts (see tasks.h).
#include "eval/tasks.h"
#include "chains/answer.h"
#include "util/json_parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The text after the last "####" (GSM8K's final-answer marker), else the whole text.
static const char *final_part(const char *s) {
    const char *hit = NULL;
    for (const char *p = strstr(s, "####"); p; p = strstr(p + 1, "####")) hit = p;
    return hit ? hit + 4 : s;
}

// An integer number, or a string ending in digits ("Level 3"); -1 otherwise.
static int parse_level(const JsonValue *v) {
    if (v->type == JSON_NUMBER && v->number >= 0 && v->number <= 1e6 &&
        v->number == floor(v->number))
        return (int)v->number;
    if (v->type != JSON_STRING || v->len == 0) return -1;
    const char *end = v->str + v->len, *p = end;
    while (p > v->str && p[-1] >= '0' && p[-1] <= '9') p--;
    if (p == end || end - p > 6) return -1;
    return atoi(p);
}

// The answer member as text: a string as is, a number printed exactly enough to normalise.
static char *answer_text(const JsonValue *a) {
    if (a->type == JSON_STRING) return strdup(a->str);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.17g", a->number);
    // "%.17g" of 0.1 is 0.10000000000000001: prefer the shortest form that reads back equal
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, a->number);
        if (strtod(tmp, NULL) == a->number) break;
    }
    return strdup(tmp);
}

static int fill_task(const JsonValue *obj, Task *t, char *err, size_t errlen) {
    const char *q = json_string(obj, "question");
    const JsonValue *a = json_get(obj, "answer");
    if (!q) return snprintf(err, errlen, "no \"question\" string"), -1;
    if (!a || (a->type != JSON_STRING && a->type != JSON_NUMBER))
        return snprintf(err, errlen, "no \"answer\" string or number"), -1;
    const JsonValue *lv = json_get(obj, "level");
    t->level = -1;
    if (lv && lv->type != JSON_NULL && (t->level = parse_level(lv)) < 0)
        return snprintf(err, errlen, "\"level\" is not a non-negative integer"), -1;
    t->question = strdup(q);
    t->solution = answer_text(a);
    char ref[ANSWER_MAX];
    if (!t->question || !t->solution) return snprintf(err, errlen, "out of memory"), -1;
    if (!answer_normalize(final_part(t->solution), ref, sizeof ref))
        return snprintf(err, errlen, "the answer is empty or longer than %d bytes", ANSWER_MAX - 1),
               -1;
    if (!(t->reference = strdup(ref))) return snprintf(err, errlen, "out of memory"), -1;
    return 0;
}

int task_parse_line(const char *line, size_t n, Task *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    size_t i = 0;
    while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    if (i == n) return 0;
    JsonValue v;
    if (json_parse(line, n, &v, err, errlen)) return -1;
    int rc = 1;
    if (v.type != JSON_OBJECT)
        rc = -1, snprintf(err, errlen, "not a JSON object");
    else if (fill_task(&v, t, err, errlen))
        rc = -1;
    json_free(&v);
    if (rc < 0) task_free(t);
    return rc;
}

int tasks_parse(const char *text, size_t n, const char *name, TaskSet *ts, char *err,
                size_t errlen) {
    memset(ts, 0, sizeof *ts);
    int cap = 0, line = 0;
    for (size_t at = 0; at < n;) {
        const char *nl = memchr(text + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (text + at)) : n - at;
        line++;
        Task t;
        char why[256];
        int r = task_parse_line(text + at, len, &t, why, sizeof why);
        at += len + (nl != NULL);
        if (r == 0) continue;
        if (r < 0) {
            snprintf(err, errlen, "%s:%d: %s", name, line, why);
            tasks_free(ts);
            return -1;
        }
        t.line = line;
        if (ts->n == cap) {
            cap = cap ? cap * 2 : 64;
            Task *g = realloc(ts->v, (size_t)cap * sizeof *g);
            if (!g) {
                task_free(&t);
                tasks_free(ts);
                return snprintf(err, errlen, "out of memory"), -1;
            }
            ts->v = g;
        }
        ts->v[ts->n++] = t;
    }
    return 0;
}

int tasks_load(const char *path, TaskSet *ts, char *err, size_t errlen) {
    memset(ts, 0, sizeof *ts);
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *g = realloc(buf, cap * 2);
            if (!g) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = g, cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return snprintf(err, errlen, "%s: out of memory", path), -1;
    if (bad) {
        free(buf);
        return snprintf(err, errlen, "%s: read error", path), -1;
    }
    int rc = tasks_parse(buf, n, path, ts, err, errlen);
    free(buf);
    return rc;
}

void task_free(Task *t) {
    free(t->question);
    free(t->solution);
    free(t->reference);
    memset(t, 0, sizeof *t);
}

void tasks_free(TaskSet *ts) {
    for (int i = 0; i < ts->n; i++) task_free(&ts->v[i]);
    free(ts->v);
    memset(ts, 0, sizeof *ts);
}

// ---- prompts ---------------------------------------------------------------------------------

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} Str;

static void put(Str *b, const char *p, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *g = realloc(b->s, cap);
        if (!g) {
            b->oom = 1;
            return;
        }
        b->s = g, b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void puts_(Str *b, const char *p) {
    put(b, p, strlen(p));
}

static char *finish(Str *b) {
    if (!b->oom && !b->s) put(b, "", 0);
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

// A GSM8K solution without its "<<48/2=24>>" calculator notes, which no model should imitate.
static void put_solution(Str *b, const char *s) {
    if (!strstr(s, "####")) { // a bare answer: say it the way the answer cue does
        puts_(b, "The answer is ");
        puts_(b, s);
        puts_(b, ".");
        return;
    }
    while (*s) {
        const char *open = strstr(s, "<<"), *close = open ? strstr(open, ">>") : NULL;
        if (!close) {
            puts_(b, s);
            return;
        }
        put(b, s, (size_t)(open - s));
        s = close + 2;
    }
}

char *tasks_fewshot_text(const TaskSet *ex) {
    Str b = {0};
    for (int i = 0; ex && i < ex->n; i++) {
        puts_(&b, "Question: ");
        puts_(&b, ex->v[i].question);
        puts_(&b, "\nAnswer: ");
        put_solution(&b, ex->v[i].solution);
        puts_(&b, "\n\n");
    }
    return finish(&b);
}

char *tasks_format_prompt(const char *tmpl, const char *fewshot, const char *question) {
    static const char key[] = "{question}";
    Str b = {0};
    if (fewshot) puts_(&b, fewshot);
    for (const char *p = tmpl;;) {
        const char *hit = strstr(p, key);
        if (!hit) {
            puts_(&b, p);
            break;
        }
        put(&b, p, (size_t)(hit - p));
        puts_(&b, question);
        p = hit + sizeof key - 1;
    }
    return finish(&b);
}
