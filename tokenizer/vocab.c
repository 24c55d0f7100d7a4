// vocab.c - tokenizer_load: the vocabulary, special tokens and model options from GGUF metadata
// (tokenizer.ggml.*), with llama.cpp's defaults where a key is absent.
#include <stdio.h>
#include <string.h>

#include "util/printable.h"
#include "tok_stb.h"
#include "tok_internal.h"
#include "unicode.h"

// tokenizer.ggml.pre values and the split rule each uses (llama.cpp groups them the same way).
// A BPE model without the key gets "default", as in llama.cpp.
static const struct {
    const char *name;
    PreType pre;
} PRE_NAMES[] = {
    {"smollm", PRE_SMOLLM},    {"starcoder", PRE_SMOLLM}, {"refact", PRE_SMOLLM},
    {"codeshell", PRE_SMOLLM}, {"exaone", PRE_SMOLLM},    {"minerva-7b", PRE_SMOLLM},
    {"gpt-2", PRE_GPT2},       {"phi-2", PRE_GPT2},       {"roberta-bpe", PRE_GPT2},
    {"llama-bpe", PRE_LLAMA3}, {"llama3", PRE_LLAMA3},    {"llama-v3", PRE_LLAMA3},
    {"falcon3", PRE_LLAMA3},   {"pixtral", PRE_LLAMA3},   {"dbrx", PRE_LLAMA3},
    {"smaug-bpe", PRE_LLAMA3}, {"qwen2", PRE_QWEN2},      {"deepseek-r1-qwen", PRE_QWEN2},
    {"stablelm2", PRE_QWEN2},  {"megrez", PRE_QWEN2},     {"default", PRE_DEFAULT},
};

// Tokens that end generation, found by their text as llama.cpp does (it also makes them
// control tokens, which decides how text containing them is split).
static const char *EOG_TEXTS[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
};

static int load_texts(Tokenizer *t, const GGUFFile *f, char *err, size_t errlen) {
    const GGUFKV *kv = gguf_find(f, "tokenizer.ggml.tokens");
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || !kv->arr_strings ||
        kv->arr_len == 0 || kv->arr_len > (1u << 24)) {
        snprintf(err, errlen, "%s: tokenizer.ggml.tokens missing or not a string array", f->path);
        return -1;
    }
    t->n_vocab = (int)kv->arr_len;
    size_t total = 0;
    for (int i = 0; i < t->n_vocab; i++) total += kv->arr_strings[i].len + 1;
    // arena: texts, then decoded bytes (never longer than the text + 1)
    t->arena = malloc(2 * total);
    t->text = malloc((size_t)t->n_vocab * sizeof *t->text);
    t->text_len = malloc((size_t)t->n_vocab * sizeof(int));
    t->bytes = malloc((size_t)t->n_vocab * sizeof *t->bytes);
    t->bytes_len = malloc((size_t)t->n_vocab * sizeof(int));
    t->attr = calloc((size_t)t->n_vocab, 1);
    t->eog = calloc((size_t)t->n_vocab, 1);
    t->score = calloc((size_t)t->n_vocab, sizeof(float));
    if (!t->arena || !t->text || !t->text_len || !t->bytes || !t->bytes_len || !t->attr ||
        !t->eog || !t->score) {
        snprintf(err, errlen, "%s: out of memory loading the vocabulary", f->path);
        return -1;
    }
    char *p = t->arena;
    for (int i = 0; i < t->n_vocab; i++) {
        const GGUFString *s = &kv->arr_strings[i];
        memcpy(p, s->ptr, s->len);
        p[s->len] = 0;
        t->text[i] = p;
        t->text_len[i] = (int)s->len;
        if ((int)s->len > t->max_text_len) t->max_text_len = (int)s->len;
        p += s->len + 1;
        shput(t->vocab, t->text[i], i); // a duplicated text maps to its last id, as in llama.cpp
    }
    return 0;
}

static void load_types_scores(Tokenizer *t, const GGUFFile *f) {
    const GGUFKV *ty = gguf_find(f, "tokenizer.ggml.token_type");
    const GGUFKV *sc = gguf_find(f, "tokenizer.ggml.scores");
    for (int i = 0; i < t->n_vocab; i++) {
        int64_t v = 1; // NORMAL when the key is absent
        if (ty && ty->type == GGUF_ARRAY && ty->arr_type != GGUF_STRING &&
            (uint64_t)i < ty->arr_len)
            v = gguf_arr_int(ty, (uint64_t)i);
        static const uint8_t map[7] = {
            0, TA_NORMAL, TA_UNKNOWN, TA_CONTROL, TA_USER_DEFINED, TA_UNUSED, TA_BYTE};
        t->attr[i] = (v >= 0 && v <= 6) ? map[v] : 0;
        if (sc && sc->type == GGUF_ARRAY && sc->arr_type == GGUF_FLOAT32 &&
            (uint64_t)i < sc->arr_len)
            t->score[i] = gguf_arr_f32(sc, (uint64_t)i);
    }
}

static int get_id(const Tokenizer *t, const GGUFFile *f, const char *key, int def) {
    int64_t v = gguf_get_int(f, key, def);
    return (v >= 0 && v < t->n_vocab) ? (int)v : (def >= 0 && def < t->n_vocab ? def : -1);
}

static void load_specials(Tokenizer *t, const GGUFFile *f) {
    int spm = t->model == TOK_MODEL_SPM;
    t->bos = get_id(t, f, "tokenizer.ggml.bos_token_id", spm ? 1 : 11);
    t->eos = get_id(t, f, "tokenizer.ggml.eos_token_id", spm ? 2 : 11);
    t->unk = get_id(t, f, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1);
    t->eot = get_id(t, f, "tokenizer.ggml.eot_token_id", -1);
    int eom = get_id(t, f, "tokenizer.ggml.eom_token_id", -1);
    for (size_t k = 0; k < sizeof EOG_TEXTS / sizeof *EOG_TEXTS; k++) {
        int id = tok_lookup(t, EOG_TEXTS[k], strlen(EOG_TEXTS[k]));
        if (id < 0) continue;
        t->eog[id] = 1;
        t->attr[id] |= TA_CONTROL;
        if (t->eot < 0 && strcmp(EOG_TEXTS[k], "<|endoftext|>") != 0) t->eot = id;
    }
    // Gemma 4 and PLaMo have an ordinary "</s>": their own end markers give it away.
    int s_id = tok_lookup(t, "</s>", 4);
    if (s_id >= 0 &&
        (tok_lookup(t, "<|tool_response>", 16) >= 0 || tok_lookup(t, "<|plamo:eos|>", 13) >= 0)) {
        t->eog[s_id] = 0;
        t->attr[s_id] = TA_NORMAL;
    }
    if (t->eos >= 0) t->eog[t->eos] = 1;
    if (t->eot >= 0) t->eog[t->eot] = 1;
    if (eom >= 0) t->eog[eom] = 1;
}

// Ids of the tokens matched in raw text before encoding, longest text first (ties by id).
static const Tokenizer *sort_tok;
static int by_len_desc(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    int d = sort_tok->text_len[y] - sort_tok->text_len[x];
    return d ? d : x - y;
}

static int build_special_list(Tokenizer *t) {
    t->special = malloc((size_t)t->n_vocab * sizeof(int));
    if (!t->special) return -1;
    for (int i = 0; i < t->n_vocab; i++)
        if ((t->attr[i] & (TA_CONTROL | TA_USER_DEFINED | TA_UNKNOWN)) && t->text_len[i] > 0)
            t->special[t->n_special++] = i;
    sort_tok = t; // qsort has no context argument; loads are not concurrent
    qsort(t->special, (size_t)t->n_special, sizeof(int), by_len_desc);
    return 0;
}

// What each token decodes to, written after the texts in the arena.
static void build_bytes(Tokenizer *t) {
    int inv[512]; // GPT-2 stand-in codepoint -> byte
    for (int c = 0; c < 512; c++) inv[c] = -1;
    for (int b = 0; b < 256; b++) inv[bpe_byte_to_cp((uint8_t)b)] = b;
    char *p = t->text[t->n_vocab - 1] + t->text_len[t->n_vocab - 1] + 1;
    for (int i = 0; i < t->n_vocab; i++) {
        const uint8_t *s = (const uint8_t *)t->text[i];
        size_t n = (size_t)t->text_len[i], len = 0;
        int a = t->attr[i];
        t->bytes[i] = p;
        if (t->model == TOK_MODEL_BPE && (a & TA_NORMAL || !a)) {
            for (size_t pos = 0; pos < n;) {
                size_t at = pos;
                uint32_t cp = uni_decode(s, n, &pos);
                if (cp < 512 && inv[cp] >= 0)
                    p[len++] = (char)inv[cp];
                else
                    memcpy(p + len, s + at, pos - at), len += pos - at; // not a stand-in: as is
            }
        } else if (t->model == TOK_MODEL_SPM && (a & TA_BYTE) && n == 6 && !memcmp(s, "<0x", 3)) {
            p[len++] = (char)strtol((const char *)s + 3, NULL, 16);
        } else if (t->model == TOK_MODEL_SPM && (a & TA_NORMAL || !a)) {
            for (size_t k = 0; k < n;) { // U+2581 '▁' (E2 96 81) is a space
                if (k + 3 <= n && s[k] == 0xE2 && s[k + 1] == 0x96 && s[k + 2] == 0x81)
                    p[len++] = ' ', k += 3;
                else
                    p[len++] = (char)s[k++];
            }
        } else {
            memcpy(p, s, n), len = n;
        }
        p[len] = 0;
        t->bytes_len[i] = (int)len;
        if ((int)len > t->max_bytes_len) t->max_bytes_len = (int)len;
        p += len + 1;
    }
}

static int load_byte_tokens(Tokenizer *t, const GGUFFile *f, char *err, size_t errlen) {
    for (int b = 0; b < 256; b++) {
        char buf[8];
        int n;
        if (t->model == TOK_MODEL_BPE) {
            n = uni_encode(bpe_byte_to_cp((uint8_t)b), (uint8_t *)buf);
            t->byte_tok[b] = tok_lookup(t, buf, (size_t)n); // -1: the byte will be dropped
        } else {
            n = snprintf(buf, sizeof buf, "<0x%02X>", b);
            t->byte_tok[b] = tok_lookup(t, buf, (size_t)n);
            if (t->byte_tok[b] < 0) t->byte_tok[b] = tok_lookup(t, (char *)&(char){(char)b}, 1);
        }
    }
    return 0;
}

static int load_model_kind(Tokenizer *t, const GGUFFile *f, char *err, size_t errlen) {
    char *model = gguf_get_str(f, "tokenizer.ggml.model");
    char *pre = gguf_get_str(f, "tokenizer.ggml.pre");
    int rc = 0;
    if (model && !strcmp(model, "gpt2")) {
        t->model = TOK_MODEL_BPE;
        size_t k = 0, n = sizeof PRE_NAMES / sizeof *PRE_NAMES;
        const char *name = pre ? pre : "default";
        while (k < n && strcmp(name, PRE_NAMES[k].name)) k++;
        if (k == n) {
            char pn[PRINTABLE_MAX];
            snprintf(err, errlen,
                     "%s: unsupported tokenizer.ggml.pre '%s' (chorus knows default, "
                     "smollm, gpt-2, llama-bpe, qwen2 and their aliases)",
                     f->path, printable_str(pn, sizeof pn, name));
            rc = -1;
        } else {
            t->pre = PRE_NAMES[k].pre;
            t->ignore_merges = t->add_bos = t->pre == PRE_LLAMA3;
        }
    } else if (model && !strcmp(model, "llama")) {
        t->model = TOK_MODEL_SPM;
        t->add_space_prefix = t->add_bos = 1;
    } else {
        char mn[PRINTABLE_MAX];
        snprintf(err, errlen,
                 "%s: unsupported tokenizer.ggml.model '%s' (chorus supports gpt2 and "
                 "llama)",
                 f->path, model ? printable_str(mn, sizeof mn, model) : "(none)");
        rc = -1;
    }
    free(model);
    free(pre);
    return rc;
}

Tokenizer *tokenizer_load(const GGUFFile *f, char *err, size_t errlen) {
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "%s: out of memory", f->path);
        return NULL;
    }
    t->n_special = 0;
    if (load_model_kind(t, f, err, errlen) || load_texts(t, f, err, errlen)) goto fail;
    load_types_scores(t, f);
    t->add_bos = (int)gguf_get_int(f, "tokenizer.ggml.add_bos_token", t->add_bos);
    t->add_space_prefix =
        (int)gguf_get_int(f, "tokenizer.ggml.add_space_prefix", t->add_space_prefix);
    load_specials(t, f);
    if (load_byte_tokens(t, f, err, errlen)) goto fail;
    if (t->model == TOK_MODEL_BPE && bpe_load_merges(t, f, err, errlen)) goto fail;
    if (build_special_list(t)) {
        snprintf(err, errlen, "%s: out of memory", f->path);
        goto fail;
    }
    build_bytes(t);
    return t;
fail:
    tokenizer_free(t);
    return NULL;
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    shfree(t->vocab);
    hmfree(t->merges);
    free(t->arena);
    free(t->text);
    free(t->text_len);
    free(t->bytes);
    free(t->bytes_len);
    free(t->score);
    free(t->attr);
    free(t->eog);
    free(t->special);
    free(t);
}
