// cmd_inspect.c - `chorus inspect MODEL`: config, tokenizer summary and the tensor table.
#include "cli/cli.h"
#include "cli/commands.h"
#include "model/model.h"
#include "util/printable.h"
#include "model/quant.h"
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_config(const Model *m) {
    const Config *c = &m->cfg;
    printf("file: %s (GGUF v%u, %llu tensors, %llu metadata keys, %.1f MB)\n", m->file.path,
           m->file.version, (unsigned long long)m->file.n_tensors, (unsigned long long)m->file.n_kv,
           m->file.size / 1e6);
    static const char *arch[] = {"llama", "qwen2", "qwen3"};
    printf("architecture: %s\n", arch[c->arch]);
    printf("  dim %d, layers %d, heads %d, kv heads %d, head_dim %d, ffn %d, vocab %d\n", c->dim,
           c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->hidden_dim, c->vocab_size);
    printf("  context %d, rope base %g, rms eps %g, tied embeddings %s\n", c->context_length,
           c->rope_base, c->norm_eps, m->tied_embeddings ? "yes" : "no");
    const Layer *L = m->layers;
    printf("  rope pairs %s, linear scaling %g, frequency factors %s; q/k/v biases %s, q/k norms "
           "%s\n",
           c->rope_neox ? "neox (x[j], x[j + hd/2])" : "adjacent", c->rope_linear,
           m->rope_factors ? "yes" : "no", L && L->bq ? "yes" : "no",
           L && L->q_norm ? "yes" : "no");
}

static void print_tokenizer(const Model *m) {
    char *model = gguf_get_str(&m->file, "tokenizer.ggml.model");
    char *pre = gguf_get_str(&m->file, "tokenizer.ggml.pre");
    char *jinja = gguf_get_str(&m->file, "tokenizer.chat_template");
    const GGUFKV *merges = gguf_find(&m->file, "tokenizer.ggml.merges");
    char mn[PRINTABLE_MAX], pn[PRINTABLE_MAX]; // names from the file, shown escaped
    printf("tokenizer: model %s, pre %s, %llu merges, bos %lld, eos %lld, chat template %s\n",
           model ? printable_str(mn, sizeof mn, model) : "?",
           pre ? printable_str(pn, sizeof pn, pre) : "-",
           merges ? (unsigned long long)merges->arr_len : 0ULL,
           (long long)gguf_get_int(&m->file, "tokenizer.ggml.bos_token_id", -1),
           (long long)gguf_get_int(&m->file, "tokenizer.ggml.eos_token_id", -1),
           jinja ? (chat_template_detect(jinja) ? chat_template_detect(jinja) : "unknown")
                 : "none");
    free(model);
    free(pre);
    free(jinja);
}

static void print_tensors(const GGUFFile *f) {
    printf("%-32s %-6s %-22s %12s\n", "tensor", "type", "shape (ggml order)", "bytes");
    uint64_t total = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GGUFTensor *t = &f->tensors[i];
        char shape[64];
        int n = snprintf(shape, sizeof shape, "[%llu", (unsigned long long)t->ne[0]);
        for (uint32_t d = 1; d < t->n_dims; d++)
            n += snprintf(shape + n, sizeof shape - n, ", %llu", (unsigned long long)t->ne[d]);
        snprintf(shape + n, sizeof shape - n, "]");
        char nm[PRINTABLE_MAX];
        printf("%-32s %-6s %-22s %12llu\n", printable_str(nm, sizeof nm, t->name),
               ggml_type_name(t->type), shape, (unsigned long long)t->n_bytes);
        total += t->n_bytes;
    }
    printf("total: %llu bytes in %llu tensors\n", (unsigned long long)total,
           (unsigned long long)f->n_tensors);
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    int ended = 0;
    for (int i = 1; i < argc; i++) {
        CliArgKind kind = cli_arg_kind(argv[i], &ended);
        if (kind == CLI_END_OF_OPTIONS) continue;
        if (kind == CLI_OPERAND) {
            path = argv[i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: chorus inspect [-m] MODEL\n  prints the config, a tokenizer summary and "
                   "every tensor (name, type, shape, bytes)\n%s",
                   CLI_END_HELP);
            return 0;
        } else if (!strcmp(argv[i], "-m")) {
            if (!(path = cli_value(argc, argv, &i))) return CLI_USAGE_ERROR;
        } else {
            return cli_error("inspect: unknown option '%s'", argv[i]);
        }
    }
    if (!path) return cli_error("inspect: no model given; usage: chorus inspect MODEL");
    Model m;
    char err[512];
    if (model_load(&m, path, err, sizeof err)) {
        fprintf(stderr, "chorus: %s\n", err);
        return 1;
    }
    print_config(&m);
    print_tokenizer(&m);
    print_tensors(&m.file);
    model_free(&m);
    return 0;
}
