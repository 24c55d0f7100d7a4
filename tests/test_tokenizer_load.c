// test_tokenizer_load.c - tokenizer_load on hand-built metadata: bad or missing keys are clear
// one-line errors (never a crash); a tiny SentencePiece vocabulary encodes by score with byte
// fallback; a tiny byte-level BPE vocabulary merges by rank.
#include <string.h>

#include "check.h"
#include "model/gguf.h"
#include "tokenizer.h"

#define S(lit) ((GGUFString){lit, sizeof(lit) - 1})

static GGUFKV kv_str(GGUFString key, GGUFString v) {
    GGUFKV kv = {.key = key, .type = GGUF_STRING};
    kv.v.s = v;
    return kv;
}

static GGUFKV kv_strs(GGUFString key, GGUFString *v, uint64_t n) {
    return (GGUFKV){
        .key = key, .type = GGUF_ARRAY, .arr_type = GGUF_STRING, .arr_len = n, .arr_strings = v};
}

static GGUFKV kv_f32s(GGUFString key, const float *v, uint64_t n) {
    return (GGUFKV){.key = key,
                    .type = GGUF_ARRAY,
                    .arr_type = GGUF_FLOAT32,
                    .arr_len = n,
                    .arr_data = (const uint8_t *)v};
}

static GGUFKV kv_i32s(GGUFString key, const int32_t *v, uint64_t n) {
    return (GGUFKV){.key = key,
                    .type = GGUF_ARRAY,
                    .arr_type = GGUF_INT32,
                    .arr_len = n,
                    .arr_data = (const uint8_t *)v};
}

static GGUFFile file_of(GGUFKV *kv, uint64_t n) {
    return (GGUFFile){.path = "synthetic.gguf", .kv = kv, .n_kv = n};
}

static void check_error(GGUFKV *kv, uint64_t n, const char *needle) {
    char err[256] = "";
    GGUFFile f = file_of(kv, n);
    Tokenizer *t = tokenizer_load(&f, err, sizeof err);
    CHECK(t == NULL && strstr(err, needle) && !strchr(err, '\n'), "want error with '%s', got '%s'",
          needle, err);
    tokenizer_free(t);
}

static void expect_ids(const Tokenizer *t, const char *text, const int *want, int nwant) {
    int *ids, n = tokenizer_encode(t, text, strlen(text), 1, &ids);
    int same = n == nwant && (n == 0 || !memcmp(ids, want, (size_t)n * sizeof(int)));
    CHECK(same, "encode(\"%s\"): %d ids, first %d", text, n, n > 0 ? ids[0] : -1);
    free(ids);
}

int main(void) {
    GGUFString toks[300];
    char bytes_txt[256][8];
    // SentencePiece: <unk> <s> </s>, 256 byte tokens, then ▁ a b ▁a ab ▁ab
    toks[0] = S("<unk>"), toks[1] = S("<s>"), toks[2] = S("</s>");
    for (int b = 0; b < 256; b++) {
        snprintf(bytes_txt[b], sizeof bytes_txt[b], "<0x%02X>", b);
        toks[3 + b] = (GGUFString){bytes_txt[b], 6};
    }
    const char *extra[] = {"\xE2\x96\x81",
                           "a",
                           "b",
                           "\xE2\x96\x81"
                           "a",
                           "ab",
                           "\xE2\x96\x81"
                           "ab"};
    for (int i = 0; i < 6; i++) toks[259 + i] = (GGUFString){extra[i], strlen(extra[i])};
    float scores[265] = {0};
    for (int i = 259; i < 265; i++) scores[i] = (float)(i - 300); // later tokens score higher
    int32_t types[265]; // GGUF token types: 2 unknown, 3 control, 6 byte, 1 normal
    for (int i = 0; i < 265; i++) types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
    GGUFKV kv[4] = {kv_str(S("tokenizer.ggml.model"), S("llama")),
                    kv_strs(S("tokenizer.ggml.tokens"), toks, 265),
                    kv_f32s(S("tokenizer.ggml.scores"), scores, 265),
                    kv_i32s(S("tokenizer.ggml.token_type"), types, 265)};

    check_error(kv, 0, "unsupported tokenizer.ggml.model '(none)'");
    check_error(kv, 1, "tokenizer.ggml.tokens missing");
    GGUFKV bad_model[2] = {kv_str(S("tokenizer.ggml.model"), S("bert")), kv[1]};
    check_error(bad_model, 2, "unsupported tokenizer.ggml.model 'bert'");
    GGUFKV bad_pre[3] = {kv_str(S("tokenizer.ggml.model"), S("gpt2")), kv[1],
                         kv_str(S("tokenizer.ggml.pre"), S("nonesuch"))};
    check_error(bad_pre, 3, "unsupported tokenizer.ggml.pre 'nonesuch'");
    GGUFKV no_merges[3] = {bad_pre[0], kv[1], kv_str(S("tokenizer.ggml.pre"), S("gpt-2"))};
    check_error(no_merges, 3, "tokenizer.ggml.merges missing");
    GGUFKV not_array[2] = {kv[0], kv_str(S("tokenizer.ggml.tokens"), S("x"))};
    check_error(not_array, 2, "not a string array");

    char err[256];
    GGUFFile f = file_of(kv, 4);
    Tokenizer *t = tokenizer_load(&f, err, sizeof err);
    CHECK(t != NULL, "spm load: %s", err);
    if (t) {
        CHECK(tokenizer_add_bos(t) && tokenizer_bos(t) == 1 && tokenizer_eos(t) == 2,
              "spm defaults");
        expect_ids(t, "ab", (int[]){264}, 1);                  // "▁ab" (space prefix)
        expect_ids(t, "a b", (int[]){262, 259, 261}, 3);       // ▁a ▁ b
        expect_ids(t, "ac", (int[]){262, 3 + 'c'}, 2);         // c is not a token: <0x63>
        expect_ids(t, "a</s>b", (int[]){262, 2, 259, 261}, 4); // space prefix after special
        expect_ids(t, "\xC3\xA9", (int[]){259, 3 + 0xC3, 3 + 0xA9}, 3); // é as bytes
        int *ids, n = tokenizer_encode(t, "ac \xC3\xA9", 6, 0, &ids);
        size_t len;
        char *s = tokenizer_decode(t, ids, n, &len);
        CHECK(len == 6 && !memcmp(s, "ac \xC3\xA9", 6), "spm decode with byte fallback: %s", s);
        free(s), free(ids);
        tokenizer_free(t);
    }
    return check_done("test_tokenizer_load");
}
