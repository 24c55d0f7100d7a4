// cli/ctypes_api.h - a flat C API for tests and tools written in Python (ctypes): plain pointers
// and ints only. Built into build/cpu/libchorus.so.
#pragma once
#include <stdint.h>

// Logits of every position of `tokens` run as one sequence from position 0.
// out: [n, vocab] (the caller sizes it with chorus_dev_vocab). 0 on success, -1 + err.
int chorus_dev_logits(const char *model_path, const int *tokens, int n, float *out, char *err,
                      int errlen);
// Greedy continuation: n_gen tokens after `prompt` (run exactly as given, no BOS added).
// out_tokens: [n_gen]; out_gap: [n_gen] top-1 minus top-2 logit at each step (may be NULL).
int chorus_dev_greedy(const char *model_path, const int *prompt, int n_prompt, int n_gen,
                      int *out_tokens, float *out_gap, char *err, int errlen);
// Numerics of the calls that follow: "int8" (the default) or "f32" (forward.h). 0, or -1 if
// the name is neither.
int chorus_dev_set_numerics(const char *name);
// Vocabulary size of the model (or -1 + err).
int chorus_dev_vocab(const char *model_path, char *err, int errlen);
