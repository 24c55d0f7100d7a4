// session.c - model + tokenizer + chat template + backend set-up shared by run, eval and bench.
#include "cli/session.h"
#include "cli/cli.h"
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *SESSION_FLAGS_HELP =
    "  -m, --model PATH       GGUF model file (required)\n"
    "  --device cpu|cuda      backend (default: cuda when built with it and a GPU exists)\n"
    "  -t, --threads N        CPU threads (default: all cores)\n"
    "  --raw                  send the prompt as is, without the chat template\n"
    "  --system TEXT          system prompt for the chat template\n"
    "  --chat-template NAME   override the template detected from the model\n"
    "  --numerics int8|f32    CPU matmuls: int8 activations and integer dot products for\n"
    "                         quantized weights, bf16 for BF16 weights, KV cache in fp16\n"
    "                         (default); or fp32 activations and KV cache (the reference)\n";

int session_flag(int argc, char **argv, int *i, SessionOptions *o) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--raw")) {
        o->raw = 1;
        return 1;
    }
    int takes = !strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--device") ||
                !strcmp(a, "-t") || !strcmp(a, "--threads") || !strcmp(a, "--system") ||
                !strcmp(a, "--chat-template") || !strcmp(a, "--numerics");
    if (!takes) return 0;
    if (!(v = cli_value(argc, argv, i))) return -1;
    if (!strcmp(a, "-m") || !strcmp(a, "--model"))
        o->model_path = v;
    else if (!strcmp(a, "--system"))
        o->system = v;
    else if (!strcmp(a, "--chat-template")) {
        char err[512], *probe = chat_format(v, NULL, "", err, sizeof err); // a known name?
        if (!probe) return cli_error("--chat-template: %s", err), -1;
        free(probe);
        o->chat_template = v;
    } else if (!strcmp(a, "--numerics")) {
        char err[160];
        const BackendOptions probe = {.numerics = v}; // the name only: the device comes later
        if (backend_check_options(&probe, err, sizeof err)) return cli_error("%s", err), -1;
        o->numerics = v;
    } else if (!strcmp(a, "--device")) {
        if (strcmp(v, "cpu") && strcmp(v, "cuda"))
            return cli_error("--device: '%s' is not cpu or cuda", v), -1;
        o->device = v;
    } else if (cli_int(a, v, 1, 1024, &o->threads))
        return -1;
    return 1;
}

static int open_backend(Session *s, const SessionOptions *o, int max_rows, int max_seqs, char *err,
                        size_t errlen) {
    const BackendOptions bo = {
        .device = o->device, .numerics = o->numerics, .max_rows = max_rows, .max_seqs = max_seqs};
    return backend_open(&s->b, &s->m, &bo, err, errlen);
}

int session_open(Session *s, const SessionOptions *o, int max_rows, int max_seqs, char *err,
                 size_t errlen) {
    memset(s, 0, sizeof *s);
    if (!o->model_path) return snprintf(err, errlen, "no model given (-m MODEL)"), -1;
    cli_set_threads(o->threads);
    if (model_load(&s->m, o->model_path, err, errlen)) return -1;
    s->tok = tokenizer_load(&s->m.file, err, errlen);
    if (!s->tok) {
        model_free(&s->m);
        return -1;
    }
    if (!o->raw) {
        char *jinja = gguf_get_str(&s->m.file, "tokenizer.chat_template");
        s->template_name =
            o->chat_template ? o->chat_template : chat_template_detect(jinja ? jinja : "");
        free(jinja);
        if (!s->template_name) {
            snprintf(err, errlen,
                     "%s: no known chat template matches the model's; pick one with "
                     "--chat-template (%s) or use --raw",
                     o->model_path, chat_template_names());
            session_close(s);
            return -1;
        }
    }
    if (open_backend(s, o, max_rows, max_seqs, err, errlen)) {
        session_close(s);
        return -1;
    }
    return 0;
}

char *session_prompt(const Session *s, const SessionOptions *o, const char *user, char *err,
                     size_t errlen) {
    if (!s->template_name) {
        char *p = strdup(user);
        if (!p) snprintf(err, errlen, "out of memory");
        return p;
    }
    return chat_format(s->template_name, o->system, user, err, errlen);
}

void session_close(Session *s) {
    if (s->b.free) s->b.free(&s->b);
    if (s->tok) tokenizer_free(s->tok);
    if (s->m.layers || s->m.file.map) model_free(&s->m);
    memset(s, 0, sizeof *s);
}

int session_check_kv(const Session *s, long tokens, char *err, size_t errlen) {
    double need = (double)tokens * s->b.kv_token_bytes(s->b.impl);
    double have = (double)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    if (need > 0.8 * have) {
        snprintf(err, errlen,
                 "the KV cache would need %.2f GB for %ld tokens, more than 80%% of "
                 "this machine's %.2f GB: lower --parallel or --max-tokens",
                 need / 1e9, tokens, have / 1e9);
        return -1;
    }
    return 0;
}
