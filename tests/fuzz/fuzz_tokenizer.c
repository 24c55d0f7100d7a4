// fuzz_tokenizer.c - libFuzzer target: encode and decode with real vocabularies.
//
// The vocabularies are loaded once: the llama.cpp vocab files under weights/ (SentencePiece and
// byte-level BPE with several pre-tokenizers) and the default model's (make test fetches them;
// CHORUS_FUZZ_VOCABS="a.gguf b.gguf" overrides the list). Input byte 0 picks the vocabulary
// and the mode; the rest is the text or the ids.
//   mode 0, 1: encode the text (mode 1 parses special tokens). Every id is in range; streaming
//              detokenization equals the whole decode; byte-level BPE gives the text back
//              (decode(encode(s)) == s) for valid UTF-8 whose every byte the vocabulary can
//              spell (a byte without a token is dropped, as llama.cpp does: SmolLM2 has none
//              for 0x04, for one).
//   mode 2, 3: decode arbitrary 32-bit ids, out-of-range and negative ones included (3: 16-bit
//              ids, mostly in range): whole decode == streaming decode, pushed with buffers
//              of every size from "too small" up.
#include "fuzz_util.h"
#include "tok_internal.h" // byte_tok: which bytes the vocabulary can spell

#define MAX_VOCABS 8
static Tokenizer *vocabs[MAX_VOCABS];
static int is_bpe[MAX_VOCABS], n_vocabs;

static void load(const char *path) {
    GGUFFile f;
    char err[512];
    if (n_vocabs == MAX_VOCABS || gguf_open(&f, path, err, sizeof err)) return;
    Tokenizer *t = tokenizer_load(&f, err, sizeof err);
    char *model = gguf_get_str(&f, "tokenizer.ggml.model");
    gguf_close(&f);
    if (!t) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err);
        free(model);
        return;
    }
    is_bpe[n_vocabs] = model && !strcmp(model, "gpt2");
    vocabs[n_vocabs++] = t;
    free(model);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *list = getenv("CHORUS_FUZZ_VOCABS");
    static const char *def = "weights/ggml-vocab-llama-spm.gguf weights/ggml-vocab-llama-bpe.gguf "
                             "weights/ggml-vocab-qwen2.gguf weights/ggml-vocab-gpt-2.gguf "
                             "weights/SmolLM2-135M-Instruct.Q4_1.gguf";
    char *copy = strdup(list ? list : def), *save = NULL;
    for (char *p = strtok_r(copy, " ", &save); p; p = strtok_r(NULL, " ", &save)) load(p);
    free(copy);
    if (n_vocabs == 0) {
        fprintf(stderr, "fuzz_tokenizer: no vocabulary loaded (run from the repository root "
                        "after `make test`'s downloads, or set CHORUS_FUZZ_VOCABS)\n");
        exit(1);
    }
    return 0;
}

// Streams ids through a Detok with a buffer of `cap` bytes (growing it when told to) and
// checks the result equals the whole decode.
static void check_stream(const Tokenizer *t, const int *ids, int n, int cap) {
    size_t len;
    char *whole = tokenizer_decode(t, ids, n, &len);
    if (!whole) return;
    char *cat = malloc(len + 1), *buf = malloc(16 + (size_t)tokenizer_max_token_bytes(t));
    size_t got = 0;
    Detok d;
    detok_init(&d, t);
    for (int i = 0; i < n && cat && buf; i++) {
        int k = detok_push(&d, ids[i], buf, cap);
        if (k < 0) { // too small: nothing consumed; the promised size always suffices
            FUZZ_ASSERT(-k <= 16 + tokenizer_max_token_bytes(t), "asks for %d bytes", -k);
            k = detok_push(&d, ids[i], buf, -k);
        }
        FUZZ_ASSERT(k >= 0 && got + (size_t)k <= len, "push %d: %d bytes after %zu of %zu", i, k,
                    got, len);
        memcpy(cat + got, buf, (size_t)k);
        got += (size_t)k;
    }
    if (cat && buf) {
        int k = detok_flush(&d, buf, 16);
        FUZZ_ASSERT(k >= 0 && got + (size_t)k == len, "stream gives %zu + %d, decode %zu", got, k,
                    len);
        memcpy(cat + got, buf, (size_t)k);
        FUZZ_ASSERT(!memcmp(cat, whole, len), "streamed text differs from the whole decode");
    }
    free(cat), free(buf), free(whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const Tokenizer *t = vocabs[data[0] % n_vocabs];
    int mode = (data[0] / MAX_VOCABS) % 4, bpe = is_bpe[data[0] % n_vocabs];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int nv = tokenizer_vocab_size(t);
    if (mode <= 1) {
        int *ids = NULL, n = tokenizer_encode(t, text, len, mode, &ids);
        FUZZ_ASSERT(n >= 0, "encode failed");
        for (int i = 0; i < n; i++)
            FUZZ_ASSERT(ids[i] >= 0 && ids[i] < nv, "id %d of %d", ids[i], nv);
        check_stream(t, ids, n, 16 + tokenizer_max_token_bytes(t));
        int spelled = 1;
        for (size_t i = 0; i < len; i++) spelled &= t->byte_tok[(uint8_t)text[i]] >= 0;
        if (bpe && spelled && fuzz_utf8_valid((const uint8_t *)text, len)) {
            size_t dl;
            char *back = tokenizer_decode(t, ids, n, &dl);
            FUZZ_ASSERT(back && dl == len && !memcmp(back, text, len),
                        "byte-level BPE round trip: %zu bytes in, %zu out", len, dl);
            free(back);
        }
        free(ids);
        return 0;
    }
    int wide = mode == 2, step = wide ? 4 : 2, n = (int)(len / step);
    int *ids = malloc(sizeof(int) * (n ? n : 1));
    if (!ids) return 0;
    for (int i = 0; i < n; i++) {
        if (wide) {
            uint32_t v;
            memcpy(&v, text + 4 * i, 4);
            ids[i] = (int)v;
        } else {
            ids[i] = ((uint8_t)text[2 * i] | (uint8_t)text[2 * i + 1] << 8) % (nv + 8) - 4;
        }
    }
    check_stream(t, ids, n, 1 + (int)(len % 23)); // a small buffer: the grow path
    free(ids);
    return 0;
}
