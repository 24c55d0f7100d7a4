// fuzz_gguf.c - libFuzzer target: a hostile GGUF file through everything that reads one.
//
// The input is the whole file. gguf_open must accept or refuse it with a one-line message;
// model_load the same; and a model that loads must run: its embedding rows for in-range and
// out-of-range ids (never read outside the table), one CPU forward step and a sampled token in
// [0, n_tokens). tokenizer_load on the same file, then a round of encode, decode and streaming
// detokenization, and chat-template detection on its template text.
#include "backend/backend.h"
#include "fuzz_util.h"
#include "model/model.h"
#include "cpu/ops.h"
#include "tokenizer.h"

static void one_line(const char *err) {
    FUZZ_ASSERT(err[0] != '\0', "a refusal without a message");
    FUZZ_ASSERT(!strpbrk(err, "\n\r\x1b"), "message not one clean line: %s", err);
}

// The model runs: embedding rows (out-of-range ids give zero rows), then one step.
static void run_model(Model *m) {
    const Config *c = &m->cfg;
    FUZZ_ASSERT(c->n_tokens >= 1 && c->n_tokens <= c->vocab_size, "n_tokens %d of %d", c->n_tokens,
                c->vocab_size);
    int ids[5] = {0, c->vocab_size - 1, -1, c->vocab_size, 0x7FFFFFFF};
    float *x = malloc(sizeof(float) * 5 * (size_t)c->dim); // [5, dim]
    if (!x) return;
    embed(x, &m->tok_embd, ids, 5);
    for (int i = 2; i < 5; i++)
        for (int j = 0; j < c->dim; j++)
            FUZZ_ASSERT(x[(size_t)i * c->dim + j] == 0.0f, "out-of-range id %d: nonzero row",
                        ids[i]);
    free(x);
    if ((int64_t)c->n_layers * c->dim * c->hidden_dim > (1 << 22)) return; // keep execs fast
    Backend b;
    char err[256];
    if (backend_cpu_init(&b, m, 2, 2, 0, err, sizeof err)) return;
    int seq = b.seq_new(b.impl, -1, 4, err, sizeof err);
    if (seq >= 0) {
        int toks[2] = {0, c->n_tokens - 1}, seqs[2] = {seq, seq}, out_row = 1, id = -1;
        SampleRow draw = {sampler_defaults(), 7, 0, 0};
        float lp;
        TokenConf tc;
        draw.p.conf_k = 5; // the confidence pass reads the row too
        const Step st = {.n_rows = 2,
                         .tokens = toks,
                         .seqs = seqs,
                         .n_out = 1,
                         .out_rows = &out_row,
                         .sample = &draw,
                         .ids = &id,
                         .logprobs = &lp,
                         .conf = &tc};
        if (b.step(b.impl, &st, err, sizeof err) == 0)
            FUZZ_ASSERT(id >= 0 && id < c->n_tokens, "sampled id %d of %d tokens", id, c->n_tokens);
        int bad = c->vocab_size; // refused, not read
        const Step refused = {.n_rows = 1, .tokens = &bad, .seqs = seqs};
        FUZZ_ASSERT(b.step(b.impl, &refused, err, sizeof err) != 0, "token %d accepted", bad);
    }
    b.free(&b);
}

// The tokenizer works on a fixed text: ids in range, streaming decode == whole decode.
static void run_tokenizer(const Tokenizer *t, const GGUFFile *f) {
    static const char text[] = "Hello <|im_start|>user\n w\xc3\xb6rld 1234 \xe2\x96\x81 \xff!";
    int *ids = NULL, n = tokenizer_encode(t, text, sizeof text - 1, 1, &ids);
    int nv = tokenizer_vocab_size(t);
    for (int i = 0; i < n; i++) FUZZ_ASSERT(ids[i] >= 0 && ids[i] < nv, "id %d of %d", ids[i], nv);
    if (n > 0) {
        size_t len;
        char *whole = tokenizer_decode(t, ids, n, &len);
        int cap = 16 + tokenizer_max_token_bytes(t), k = 0;
        char *buf = malloc((size_t)cap), *cat = malloc(len + 16);
        Detok d;
        detok_init(&d, t);
        size_t got = 0;
        for (int i = 0; i < n && buf && cat && whole; i++) {
            k = detok_push(&d, ids[i], buf, cap);
            FUZZ_ASSERT(k >= 0 && got + (size_t)k <= len, "detok_push %d", k);
            memcpy(cat + got, buf, (size_t)k), got += (size_t)k;
        }
        if (buf && cat && whole) {
            k = detok_flush(&d, buf, cap);
            FUZZ_ASSERT(k >= 0 && got + (size_t)k == len, "stream %zu+%d != %zu", got, k, len);
            memcpy(cat + got, buf, (size_t)k);
            FUZZ_ASSERT(!memcmp(cat, whole, len), "stream != whole decode");
        }
        free(whole), free(buf), free(cat);
    }
    free(ids);
    char *jinja = gguf_get_str(f, "tokenizer.chat_template");
    if (jinja) {
        chat_template_detect(jinja);
        free(chat_template_default_system(jinja));
        free(jinja);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    if (!path) return 0;
    char err[512] = "";
    GGUFFile f;
    if (gguf_open(&f, path, err, sizeof err)) {
        one_line(err);
        return 0;
    }
    Tokenizer *t = tokenizer_load(&f, err, sizeof err);
    if (t) {
        run_tokenizer(t, &f);
        tokenizer_free(t);
    } else {
        one_line(err);
    }
    gguf_close(&f);
    Model m;
    err[0] = '\0';
    if (model_load(&m, path, err, sizeof err) == 0) {
        run_model(&m);
        model_free(&m);
    } else {
        one_line(err);
    }
    return 0;
}
