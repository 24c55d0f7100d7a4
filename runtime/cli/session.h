// session.h - what every command that generates needs: the model, its tokenizer, the chat
// template and a backend, set up from the shared command-line options.
#pragma once
#include "backend/backend.h"
#include "chains/chains.h"
#include "model/model.h"
#include "tokenizer.h"

typedef struct {
    const char *model_path;    // -m
    const char *device;        // --device cpu|cuda (NULL = cuda if built and present, else cpu)
    int threads;               // -t (0 = OpenMP default)
    int raw;                   // --raw: no chat template
    const char *system;        // --system
    const char *chat_template; // --chat-template NAME (overrides detection)
    const char *numerics;      // --numerics int8|f32 (CPU; NULL = int8)
} SessionOptions;

typedef struct {
    Model m;
    Tokenizer *tok;
    Backend b;
    const char *template_name; // NULL with --raw
} Session;

// Parses one shared flag at argv[*i]: returns 1 if it was one (advancing *i past its value),
// 0 if not, -1 after printing an error.
int session_flag(int argc, char **argv, int *i, SessionOptions *o);
// Help text for the shared flags.
extern const char *SESSION_FLAGS_HELP;

// Loads everything; the backend takes up to max_rows rows a call and max_seqs sequences.
int session_open(Session *s, const SessionOptions *o, int max_rows, int max_seqs, char *err,
                 size_t errlen);
// The prompt text for one user message (chat template applied unless --raw); malloc'd.
char *session_prompt(const Session *s, const SessionOptions *o, const char *user, char *err,
                     size_t errlen);
void session_close(Session *s);
// Checks that KV for `tokens` tokens fits in memory; else a message with the bytes needed.
int session_check_kv(const Session *s, long tokens, char *err, size_t errlen);
