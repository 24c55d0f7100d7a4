// chat.c - chat templates: one system turn (optional) and one user turn, rendered the way
// llama.cpp's built-in templates render them, ending with the assistant-generation prefix.
// BOS is not part of the text: the tokenizer adds it when the model wants one.
//
// We do not run Jinja. chat_template_detect recognises a GGUF tokenizer.chat_template by the
// markers it contains (the same markers llama.cpp looks for), and
// chat_template_default_system pulls out a default system prompt that a ChatML template
// inserts when the conversation has none (SmolLM2, Qwen2.5).
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util/printable.h"
#include "tokenizer.h"

#define SMOLLM_SYSTEM "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} Str;

static void put(Str *b, const char *s) {
    size_t l = strlen(s);
    if (b->n + l + 1 > b->cap) {
        size_t cap = (b->n + l + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->n, s, l + 1);
    b->n += l;
}

static void putv(Str *b, int n, ...) { // put n strings
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) put(b, va_arg(ap, const char *));
    va_end(ap);
}

// s without leading and trailing whitespace, in a malloc'd copy (llama.cpp trims some turns)
static char *trim(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    char *r = malloc(n + 1);
    if (r) memcpy(r, s, n), r[n] = 0;
    return r;
}

typedef void (*RenderFn)(Str *b, const char *sys, const char *user); // sys may be NULL

static void r_chatml(Str *b, const char *sys, const char *user) {
    if (sys) putv(b, 3, "<|im_start|>system\n", sys, "<|im_end|>\n");
    putv(b, 4, "<|im_start|>user\n", user, "<|im_end|>\n", "<|im_start|>assistant\n");
}
// An [INST] turn: open, the system prompt between sys_pre and sys_post when there is one, then
// the user turn and close.
static void inst_turn(Str *b, const char *open, const char *sys_pre, const char *sys,
                      const char *sys_post, const char *user, const char *close) {
    put(b, open);
    if (sys) putv(b, 3, sys_pre, sys, sys_post);
    putv(b, 2, user, close);
}
static void r_llama2(Str *b, const char *sys, const char *user) { // no system support
    inst_turn(b, "[INST] ", "", sys, "\n", user, " [/INST]");
}
static void r_llama2_sys(Str *b, const char *sys, const char *user) {
    inst_turn(b, "[INST] ", "<<SYS>>\n", sys, "\n<</SYS>>\n\n", user, " [/INST]");
}
static void r_mistral_v1(Str *b, const char *sys, const char *user) {
    inst_turn(b, " [INST] ", "", sys, "\n\n", user, " [/INST]");
}
static void r_mistral_v3(Str *b, const char *sys, const char *user) {
    inst_turn(b, "[INST] ", "", sys, "\n\n", user, "[/INST]");
}
static void r_mistral_v3_tekken(Str *b, const char *sys, const char *user) {
    inst_turn(b, "[INST]", "", sys, "\n\n", user, "[/INST]");
}
static void r_mistral_v7(Str *b, const char *sys, const char *user) {
    if (sys) putv(b, 3, "[SYSTEM_PROMPT] ", sys, "[/SYSTEM_PROMPT]");
    putv(b, 3, "[INST] ", user, "[/INST]");
}
static void r_llama3(Str *b, const char *sys, const char *user) {
    char *s = sys ? trim(sys) : NULL, *u = trim(user);
    if (s) putv(b, 3, "<|start_header_id|>system<|end_header_id|>\n\n", s, "<|eot_id|>");
    putv(b, 3, "<|start_header_id|>user<|end_header_id|>\n\n", u ? u : "", "<|eot_id|>");
    put(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    free(s), free(u);
}
static void r_zephyr(Str *b, const char *sys, const char *user) {
    if (sys) putv(b, 3, "<|system|>\n", sys, "<|endoftext|>\n");
    putv(b, 4, "<|user|>\n", user, "<|endoftext|>\n", "<|assistant|>\n");
}
static void r_phi3(Str *b, const char *sys, const char *user) {
    if (sys) putv(b, 3, "<|system|>\n", sys, "<|end|>\n");
    putv(b, 4, "<|user|>\n", user, "<|end|>\n", "<|assistant|>\n");
}
static void r_gemma(Str *b, const char *sys, const char *user) { // system joins the user turn
    char *s = sys ? trim(sys) : NULL, *u = trim(user);
    put(b, "<start_of_turn>user\n");
    if (s && *s) putv(b, 2, s, "\n\n");
    putv(b, 3, u ? u : "", "<end_of_turn>\n", "<start_of_turn>model\n");
    free(s), free(u);
}

// DeepSeek V3/R1 (llama.cpp's "deepseek3"): the system text, a blank line, the user turn.
static void r_deepseek3(Str *b, const char *sys, const char *user) {
    if (sys) putv(b, 2, sys, "\n\n");
    putv(b, 3, "<｜User｜>", user, "<｜Assistant｜>");
}
// The R1 distills' own template opens the thinking block at the generation prompt.
static void r_deepseek_r1(Str *b, const char *sys, const char *user) {
    r_deepseek3(b, sys, user);
    put(b, "<think>\n");
}

static const struct {
    const char *name;
    RenderFn render;
    const char *default_system; // used when the caller passes system == NULL
} TEMPLATES[] = {
    {"chatml", r_chatml, NULL},
    {"smollm", r_chatml, SMOLLM_SYSTEM},
    {"llama2", r_llama2, NULL},
    {"llama2-sys", r_llama2_sys, NULL},
    {"mistral-v1", r_mistral_v1, NULL},
    {"mistral-v3", r_mistral_v3, NULL},
    {"mistral-v3-tekken", r_mistral_v3_tekken, NULL},
    {"mistral-v7", r_mistral_v7, NULL},
    {"llama3", r_llama3, NULL},
    {"zephyr", r_zephyr, NULL},
    {"phi3", r_phi3, NULL},
    {"gemma", r_gemma, NULL},
    {"deepseek3", r_deepseek3, NULL},
    {"deepseek-r1", r_deepseek_r1, NULL},
};
#define N_TEMPLATES (int)(sizeof TEMPLATES / sizeof *TEMPLATES)

const char *chat_template_names(void) {
    return "chatml, smollm, llama2, llama2-sys, mistral-v1, mistral-v3, mistral-v3-tekken, "
           "mistral-v7, llama3, zephyr, phi3, gemma, deepseek3, deepseek-r1";
}

char *chat_format(const char *name, const char *system, const char *user, char *err,
                  size_t errlen) {
    for (int i = 0; name && i < N_TEMPLATES; i++) {
        if (strcmp(name, TEMPLATES[i].name) != 0) continue;
        Str b = {0};
        TEMPLATES[i].render(&b, system ? system : TEMPLATES[i].default_system, user ? user : "");
        if (b.oom || !b.s) {
            free(b.s);
            snprintf(err, errlen, "chat template %s: out of memory", name);
            return NULL;
        }
        return b.s;
    }
    char nm[PRINTABLE_MAX];
    snprintf(err, errlen, "unknown chat template '%s' (known: %s)",
             printable_str(nm, sizeof nm, name), chat_template_names());
    return NULL;
}

static int has(const char *s, const char *needle) {
    return strstr(s, needle) != NULL;
}

const char *chat_template_detect(const char *j) {
    if (!j) return NULL;
    for (int i = 0; i < N_TEMPLATES; i++) // a bare template name is accepted too
        if (!strcmp(j, TEMPLATES[i].name)) return TEMPLATES[i].name;
    if (has(j, "<|im_start|>")) return has(j, "named SmolLM") ? "smollm" : "chatml";
    if (!strncmp(j, "mistral", 7) || has(j, "[INST]")) {
        if (has(j, "[SYSTEM_PROMPT]")) return "mistral-v7";
        if (has(j, "' [INST] ' + system_message") || has(j, "[AVAILABLE_TOOLS]")) {
            if (has(j, " [INST]")) return "mistral-v1";
            if (has(j, "\"[INST]\"")) return "mistral-v3-tekken";
            return "mistral-v3";
        }
        return has(j, "<<SYS>>") ? "llama2-sys" : "llama2";
    }
    if (has(j, "<|assistant|>") && has(j, "<|end|>")) return "phi3";
    if (has(j, "<|user|>") && has(j, "<|endoftext|>")) return "zephyr";
    if (has(j, "<start_of_turn>")) return "gemma";
    if (has(j, "<|start_header_id|>") && has(j, "<|end_header_id|>")) return "llama3";
    if (has(j, "<｜Assistant｜>")) // fullwidth bars (U+FF5C)
        return has(j, "<think>") ? "deepseek-r1" : "deepseek3";
    return NULL;
}

char *chat_template_default_system(const char *j) {
    // ChatML templates that add a system turn when there is none spell it as a literal:
    //   {% if ... != 'system' %}{{ '<|im_start|>system\nDEFAULT<|im_end|>\n' }}{% endif %}
    static const char *open = "<|im_start|>system";
    if (!j || !(has(j, "!= 'system'") || has(j, "!= \"system\""))) return NULL;
    const char *p = strstr(j, open);
    if (!p) return NULL;
    p += strlen(open);
    if (*p == '\n')
        p++; // a real newline, or the two characters \n inside a Jinja string
    else if (p[0] == '\\' && p[1] == 'n')
        p += 2;
    else
        return NULL;
    const char *e = strstr(p, "<|im_end|>");
    if (!e || e == p) return NULL;
    for (const char *q = p; q < e; q++) // a computed system turn is not a default we can use
        if (*q == '{' || *q == '}' || *q == '\'' || *q == '"' || *q == '+') return NULL;
    char *r = malloc((size_t)(e - p) + 1);
    if (r) memcpy(r, p, (size_t)(e - p)), r[e - p] = 0;
    return r;
}
