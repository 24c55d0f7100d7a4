// model_random.h - models with random weights in memory, in the shape of a known model: a model
// source that every backend loads like a GGUF file, for benchmarks at shapes we cannot download
// (a 13 GB Llama-2-7B) or cannot carry (the default model on a lent machine).
#pragma once
#include "model/model.h"
#include <stdint.h>

// The shapes by name, for messages: "smollm2-135m, llama2-7b".
extern const char *MODEL_RANDOM_SHAPES;
// Config of a named shape. 0, or -1 if the name is unknown.
int model_random_config(const char *shape, Config *cfg);
// Fills m with a model of that shape: BF16 matrices with entries uniform in
// (-1/sqrt(in), 1/sqrt(in)) (activations stay O(1) through the layers), unit norm weights; a
// pure function of (shape, seed). model_free releases it. 0, or -1 + a one-line message.
int model_random(Model *m, const char *shape, uint64_t seed, char *err, size_t errlen);
