// fuzz_answer.c - libFuzzer target: what reads model output and user text as strings.
//
// Input byte 0 picks the mode; the rest is the text (split in two at the first 0xFF byte where
// two strings are needed).
//   0: answer_extract with the built-in rules, and answer_normalize; an extracted answer is
//      already canonical (normalising it again changes nothing).
//   1: answer_extract with one of a few --answer-regex patterns.
//   2: chat_format of (system, user) in every template; chat_template_detect and
//      chat_template_default_system on the text as a Jinja template.
//   3: tasks_format_prompt with the text as the template, the question and the few-shot text.
// Model output is untrusted: every mode must also stay linear in the input (libFuzzer's
// -timeout catches a slow input; tests/fuzz/run.sh sets it).
#include "chains/answer.h"
#include "fuzz_util.h"
#include "eval/tasks.h"
#include "tokenizer.h"

static const char *PATTERNS[] = {"([0-9]+)", "answer: *(.*)", "x*", "^(a|b)+$", "[[:digit:]]*\\.?"};
#define N_PATTERNS (int)(sizeof PATTERNS / sizeof *PATTERNS)
static regex_t res[N_PATTERNS];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    for (int i = 0; i < N_PATTERNS; i++) {
        char err[256];
        if (answer_regex_compile(&res[i], PATTERNS[i], err, sizeof err)) {
            fprintf(stderr, "fuzz_answer: %s\n", err);
            exit(1);
        }
    }
    return 0;
}

static void extract(const char *s, const regex_t *re) {
    char out[ANSWER_MAX], again[ANSWER_MAX];
    int r = answer_extract(s, re, out, sizeof out);
    FUZZ_ASSERT(strlen(out) < sizeof out && (r == 1) == (out[0] != '\0'), "result %d '%s'", r, out);
    if (r && !re) {
        FUZZ_ASSERT(answer_normalize(out, again, sizeof again) && !strcmp(out, again),
                    "'%s' normalises to '%s'", out, again);
    }
    answer_normalize(s, again, sizeof again);
    FUZZ_ASSERT(strlen(again) < sizeof again, "normalize overflow");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *s = malloc(size); // NUL-terminated copy of the text (a NUL inside ends it early)
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    char *second = memchr(s, 0xFF, size - 1);
    if (second)
        *second++ = '\0';
    else
        second = s + size - 1; // ""
    switch (data[0] % 4) {
    case 0: extract(s, NULL); break;
    case 1: extract(s, &res[(data[0] / 4) % N_PATTERNS]); break;
    case 2: {
        static const char *names[] = {"chatml",
                                      "smollm",
                                      "llama2",
                                      "llama2-sys",
                                      "mistral-v1",
                                      "mistral-v3",
                                      "mistral-v3-tekken",
                                      "mistral-v7",
                                      "llama3",
                                      "zephyr",
                                      "phi3",
                                      "gemma"};
        char err[256];
        // the user text, as the templates that trim it (llama3) keep it
        const char *u = second;
        size_t un = strlen(u);
        while (un && strchr(" \t\n\r", u[0])) u++, un--;
        while (un && strchr(" \t\n\r", u[un - 1])) un--;
        char *core = strndup(u, un);
        for (size_t i = 0; core && i < sizeof names / sizeof *names; i++) {
            char *p = chat_format(names[i], data[0] & 4 ? NULL : s, second, err, sizeof err);
            FUZZ_ASSERT(p && strstr(p, core), "template %s lost the user text", names[i]);
            free(p);
        }
        free(core);
        char *named = chat_format(s, NULL, second, err, sizeof err);
        FUZZ_ASSERT(named ? chat_template_detect(s) != NULL : !strpbrk(err, "\n\r\x1b"),
                    "unknown name accepted, or its message is not one clean line: %s", err);
        free(named);
        chat_template_detect(s);
        free(chat_template_default_system(s));
        break;
    }
    case 3: free(tasks_format_prompt(s, second, second)); break;
    }
    free(s);
    return 0;
}
