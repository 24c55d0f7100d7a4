// tokenizer.h - text <-> token ids for the models chorus runs, read from GGUF metadata, with
// ids identical to llama.cpp's; plus streaming detokenization and chat templates.
//
//   tokenizer.ggml.model = "gpt2"  byte-level BPE (SmolLM2, Llama 3, Qwen2, GPT-2): bpe.c,
//                                  pre-tokenizers by tokenizer.ggml.pre in pretok.c
//   tokenizer.ggml.model = "llama" SentencePiece-style BPE (Llama 2, TinyLlama, Mistral): spm.c
#pragma once
#include <stddef.h>

#include "model/gguf.h"

typedef struct Tokenizer Tokenizer;

// Builds the tokenizer from f's tokenizer.ggml.* metadata. The Tokenizer copies what it needs:
// f may be closed afterwards. NULL on failure, with a one-line message in err.
Tokenizer *tokenizer_load(const GGUFFile *f, char *err, size_t errlen);
void tokenizer_free(Tokenizer *t);

// Encodes text[0..len) (any bytes; invalid UTF-8 is handled as llama.cpp does). With
// parse_special, special-token text such as "<|im_end|>" becomes that token's id; without it
// only user-defined tokens do and control-token text is tokenized as plain text. Never adds
// BOS. Returns the count and a malloc'd array in *ids_out (caller frees; NULL when the count
// is 0), or -1 on error (allocation failure).
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int parse_special,
                     int **ids_out);

// The most bytes a text can have and still encode to at most n_tokens tokens (saturating), so
// that a longer prompt is refused on its length alone, before it is tokenized. A token never
// stands for more input bytes than its text holds, times 4 for byte-level BPE: the text is
// decoded to codepoints and re-encoded first, and a 4-byte overlong form of an ASCII character
// becomes 1 byte, spelled as 1 or 2 bytes of GPT-2 stand-ins. (SentencePiece spells ' ' as the
// 3-byte U+2581 and a fallback byte as "<0xXX>": longer, never shorter; a special token is its
// own text.) The one exception: bytes byte-level BPE cannot spell at all are dropped and give
// no token, so a text made mostly of those may be refused although it would fit: harmless.
size_t tokenizer_max_text_bytes(const Tokenizer *t, long n_tokens);

int tokenizer_vocab_size(const Tokenizer *t);
int tokenizer_add_bos(const Tokenizer *t); // tokenizer.ggml.add_bos_token, else llama.cpp's default
int tokenizer_bos(const Tokenizer *t);     // -1 when the model has none
int tokenizer_eos(const Tokenizer *t);
int tokenizer_is_eog(const Tokenizer *t, int id); // eos, eot (<|im_end|>, <|eot_id|>, ...)
int tokenizer_is_control(const Tokenizer *t, int id);
// The bytes token id decodes to (not NUL-terminated; *len set), NULL for an id out of range.
// Control and other special tokens decode to their text; SentencePiece byte tokens <0xXX> to
// their byte; the SentencePiece word marker U+2581 to a space.
const char *tokenizer_token_bytes(const Tokenizer *t, int id, int *len);
// The token's text as stored in the vocabulary (e.g. "Ġthe", "▁the"), for display.
const char *tokenizer_token_text(const Tokenizer *t, int id, int *len);
// Full decode of ids into a malloc'd NUL-terminated string (*len_out gets the byte count, which
// may include NULs). For SentencePiece models that add a space prefix, the leading space of the
// first piece is dropped so that decode(encode(s)) == s.
char *tokenizer_decode(const Tokenizer *t, const int *ids, int n, size_t *len_out);

// ---- streaming detokenizer (detok.c) ---------------------------------------------------------
// Turns ids into text a piece at a time, emitting only complete UTF-8 characters: bytes of an
// unfinished character (a multi-byte character split over tokens, or byte-fallback pieces) are
// held until the rest arrives. Invalid sequences are passed through once they cannot complete.
typedef struct {
    const Tokenizer *tok;
    unsigned char pending[8]; // bytes of an unfinished UTF-8 character
    int n_pending;
    int strip_space; // drop the next leading space (SentencePiece start of text); set by init
} Detok;

void detok_init(Detok *d, const Tokenizer *t); // strip_space as tokenizer_decode does
// Appends the text of token id to out[0..cap). Returns the number of bytes written (0 when all
// of it is held back), or -(bytes needed) when cap is too small (nothing consumed). A cap of 16
// plus the longest token (tokenizer_max_token_bytes) always suffices.
int detok_push(Detok *d, int id, char *out, int cap);
// Emits whatever is still held (an incomplete character at the end of the stream).
int detok_flush(Detok *d, char *out, int cap);
int tokenizer_max_token_bytes(const Tokenizer *t);

// ---- chat templates (chat.c) -----------------------------------------------------------------
// Name of the built-in template that matches a GGUF tokenizer.chat_template (Jinja source), or
// NULL when none does.
const char *chat_template_detect(const char *jinja);
// The prompt for one user turn (and an optional system turn) in template `name`, ending with
// the assistant-generation prefix; malloc'd. system == NULL means the template's default system
// prompt, or none. NULL with a message in err for an unknown name.
char *chat_format(const char *name, const char *system, const char *user, char *err, size_t errlen);
// The default system prompt a ChatML template inserts when the conversation has none (e.g.
// SmolLM2's "You are a helpful AI assistant named SmolLM, ..."), malloc'd; NULL if none.
char *chat_template_default_system(const char *jinja);
// Comma-separated names of the templates chat_format knows (static string).
const char *chat_template_names(void);

// ---- CLI (runtime/cli/cmd_tokenize.c)
// ------------------------------------------------------------ chorus tokenize -m MODEL [--ids]
// [--no-special] [--bench FILE] "text"; argv[0] is "tokenize".
int cmd_tokenize(int argc, char **argv);
