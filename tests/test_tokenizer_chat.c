// test_tokenizer_chat.c - chat templates: prompts equal llama.cpp's built-in templates and the
// default model's own Jinja template (tests/data/tok_chat.txt, tools/gen_tokenizer_fixtures.py);
// template detection; errors.
#include <string.h>

#include "check.h"
#include "model/gguf.h"
#include "tokenizer.h"

static int hexval(int c) {
    return c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
}

// Decodes hex field [p, end) into a malloc'd string; NULL for "-".
static char *unhex(const char *p, const char *end) {
    if (*p == '-') return NULL;
    char *s = malloc((size_t)(end - p) / 2 + 1), *o = s;
    for (; p + 1 < end; p += 2) *o++ = (char)(hexval(p[0]) * 16 + hexval(p[1]));
    *o = 0;
    return s;
}

static void run_fixture(void) {
    FILE *fp = fopen("tests/data/tok_chat.txt", "r");
    if (!fp) {
        SKIP("tests/data/tok_chat.txt missing");
        return;
    }
    static char line[1 << 14];
    char err[512];
    int n = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#') continue;
        char *f[4] = {line}, *end = line + strcspn(line, "\n");
        for (int k = 1; k < 4; k++) f[k] = strchr(f[k - 1], '\t') + 1;
        f[1][-1] = 0;
        char *sys = unhex(f[1], f[2] - 1), *user = unhex(f[2], f[3] - 1), *want = unhex(f[3], end);
        char *got = chat_format(line, sys, user, err, sizeof err);
        CHECK(got && !strcmp(got, want), "template %s (system %s): got \"%s\" want \"%s\"", line,
              sys ? sys : "none", got ? got : err, want);
        free(sys), free(user), free(want), free(got);
        n++;
    }
    fclose(fp);
    CHECK(n >= 40, "only %d chat cases", n);
}

static void run_detect(void) {
    CHECK(chat_template_detect(NULL) == NULL, "NULL");
    CHECK(chat_template_detect("{{ bos_token }}{{ messages }}") == NULL, "unknown jinja");
    CHECK(!strcmp(chat_template_detect("{{'<|im_start|>' + m['role']}}"), "chatml"), "chatml");
    CHECK(!strcmp(chat_template_detect("llama3"), "llama3"), "bare name");
    CHECK(!strcmp(chat_template_detect("{{ '[INST] ' + content + ' [/INST]' }}"), "llama2"),
          "llama2");
    CHECK(!strcmp(chat_template_detect("<<SYS>>\n[INST]"), "llama2-sys"), "llama2-sys");
    CHECK(!strcmp(chat_template_detect("<|start_header_id|>x<|end_header_id|>"), "llama3"),
          "llama3");
    CHECK(!strcmp(chat_template_detect("<|user|>\n{{c}}<|endoftext|>"), "zephyr"), "zephyr");
    CHECK(!strcmp(chat_template_detect("<start_of_turn>user"), "gemma"), "gemma");
    CHECK(!strcmp(chat_template_detect("[SYSTEM_PROMPT][INST]"), "mistral-v7"), "mistral-v7");
    // DeepSeek: llama.cpp's deepseek3 (its output, llama-cpp-python 0.3.36, written here), and
    // the R1 distills, whose template opens the thinking block
    const char *r1 =
        "{{'<｜Assistant｜>'}}{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}";
    CHECK(!strcmp(chat_template_detect(r1), "deepseek-r1"), "deepseek-r1");
    CHECK(!strcmp(chat_template_detect("{{'<｜User｜>' + c + '<｜Assistant｜>'}}"), "deepseek3"),
          "deepseek3");
    char e[128], *ds = chat_format("deepseek3", "SYS", "What is 2+2?", e, sizeof e);
    CHECK(ds && !strcmp(ds, "SYS\n\n<｜User｜>What is 2+2?<｜Assistant｜>"), "deepseek3: %s", ds);
    free(ds);
    ds = chat_format("deepseek-r1", NULL, "What is 2+2?", e, sizeof e);
    CHECK(ds && !strcmp(ds, "<｜User｜>What is 2+2?<｜Assistant｜><think>\n"), "deepseek-r1: %s",
          ds);
    free(ds);

    // the default model's own template: SmolLM's ChatML with its default system prompt
    char err[256];
    GGUFFile f;
    if (gguf_open(&f, "weights/SmolLM2-135M-Instruct.Q4_1.gguf", err, sizeof err)) {
        SKIP("%s", err);
        return;
    }
    char *jinja = gguf_get_str(&f, "tokenizer.chat_template");
    const char *name = chat_template_detect(jinja);
    CHECK(name && !strcmp(name, "smollm"), "smollm detected (%s)", name ? name : "NULL");
    char *sys = chat_template_default_system(jinja);
    CHECK(sys &&
              !strcmp(sys, "You are a helpful AI assistant named SmolLM, trained by Hugging Face"),
          "default system prompt: %s", sys ? sys : "NULL");
    char *p = chat_format("smollm", NULL, "Hi", err, sizeof err);
    CHECK(p &&
              !strcmp(p, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained "
                         "by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                         "<|im_start|>assistant\n"),
          "smollm prompt: %s", p ? p : err);
    free(p), free(sys), free(jinja);
    sys = chat_template_default_system(
        "{{ '<|im_start|>system\\nYou are Qwen.<|im_end|>' }} != 'system'");
    CHECK(sys && !strcmp(sys, "You are Qwen."), "escaped newline in a jinja string");
    free(sys);
    gguf_close(&f);
}

static void run_errors(void) {
    char err[512];
    char *p = chat_format("nonsense", NULL, "x", err, sizeof err);
    CHECK(p == NULL && strstr(err, "unknown chat template 'nonsense'") && strstr(err, "chatml"),
          "unknown name lists the known ones: %s", err);
    p = chat_format("chatml", NULL, "", err, sizeof err);
    CHECK(p && !strcmp(p, "<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n"), "empty user");
    free(p);
}

int main(void) {
    run_fixture();
    run_detect();
    run_errors();
    return check_done("test_tokenizer_chat");
}
