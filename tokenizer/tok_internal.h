// tok_internal.h - the Tokenizer's insides, shared by tokenizer.c, bpe.c, spm.c, pretok.c and
// detok.c. Not part of the public API.
#pragma once
#include <stdint.h>
#include <stdlib.h>

#include "tokenizer.h"

typedef enum { TOK_MODEL_BPE, TOK_MODEL_SPM } TokModel;

// tokenizer.ggml.pre families, each one split rule (see pretok.c).
typedef enum { PRE_GPT2, PRE_SMOLLM, PRE_LLAMA3, PRE_QWEN2, PRE_DEFAULT } PreType;

// Token attributes from tokenizer.ggml.token_type (GGUF values 1..6), as bits.
enum {
    TA_NORMAL = 1,
    TA_UNKNOWN = 2,
    TA_CONTROL = 4,
    TA_USER_DEFINED = 8,
    TA_UNUSED = 16,
    TA_BYTE = 32
};

typedef struct {
    char *key; // NUL-terminated token text (points into Tokenizer.arena)
    int value; // token id
} VocabEntry;

typedef struct {
    uint64_t key;   // (left id << 32) | right id
    uint64_t value; // (rank << 32) | merged id
} MergeEntry;

struct Tokenizer {
    TokModel model;
    PreType pre;
    int ignore_merges;    // Llama 3: a pre-token that is itself a token is not merged
    int add_space_prefix; // SentencePiece: " " before the text and after each special token
    int add_bos;
    int n_vocab;
    int bos, eos, eot, unk; // -1 when absent

    char *arena;      // all token texts and decoded bytes, NUL-terminated
    char **text;      // [n_vocab] token text as stored in GGUF
    int *text_len;    // [n_vocab]
    char **bytes;     // [n_vocab] what the token decodes to
    int *bytes_len;   // [n_vocab]
    float *score;     // [n_vocab] SentencePiece merge priority (higher first); NULL for BPE
    uint8_t *attr;    // [n_vocab] TA_* bits
    uint8_t *eog;     // [n_vocab] 1 for end-of-generation tokens
    int max_text_len; // longest token text in bytes
    int max_bytes_len;

    VocabEntry *vocab;  // stb_ds string hash: text -> id
    MergeEntry *merges; // stb_ds hash: (left, right) -> (rank, merged); BPE only
    int byte_tok[256];  // BPE: token of each byte's GPT-2 character; SPM: <0xXX> token or -1

    int *special; // [n_special] ids matched in text before encoding, longest text first
    int n_special;
};

// Growable int array for token output.
typedef struct {
    int *a;
    size_t n, cap;
} IntVec;

static inline int intvec_push(IntVec *v, int x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        int *a = (int *)realloc(v->a, cap * sizeof(int));
        if (!a) return -1;
        v->a = a;
        v->cap = cap;
    }
    v->a[v->n++] = x;
    return 0;
}

// Looks up the token whose text is s[0..n); -1 if none (lookup.c, as the next).
int tok_lookup(const Tokenizer *t, const char *s, size_t n);
// Looks up the token whose text is a[0..na) followed by b[0..nb); -1 if none.
int tok_lookup_pair(const Tokenizer *t, const char *a, size_t na, const char *b, size_t nb);

// Pre-tokenization (pretok.c): splits cps[0..n) into words; writes each word's end index
// (exclusive) to ends, returns the word count (<= n). ends must have room for n entries.
size_t pretok_split(PreType pre, const uint32_t *cps, size_t n, size_t *ends);

// Byte-level BPE of one raw-text fragment (bpe.c); SentencePiece of one (spm.c). Both append to
// out and return 0, or -1 on allocation failure.
int bpe_encode(const Tokenizer *t, const uint8_t *s, size_t n, IntVec *out);
int spm_encode(const Tokenizer *t, const uint8_t *s, size_t n, IntVec *out);
// Loads merges (BPE) into t->merges; 0 or -1 with err set.
int bpe_load_merges(Tokenizer *t, const GGUFFile *f, char *err, size_t errlen);
// The GPT-2 byte <-> printable-character map (bpe.c): the codepoint standing for byte b, and
// the byte a codepoint stands for (-1 if none).
uint32_t bpe_byte_to_cp(uint8_t b);
int bpe_cp_to_byte(uint32_t cp);
