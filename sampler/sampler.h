// sampler.h - turning one row of logits into a token (CPU; kernels/sample.cu has the same
// semantics and is tested against this).
//
// Semantics (the contract both backends implement; docs/design.md, "Sampling"):
//
//   Order: logits -> temperature -> top-k -> top-p -> min-p -> draw.
//   temperature <= 0 means greedy (argmax; ties go to the lowest id). top_k <= 0 or >= vocab
//   disables top-k; top_p >= 1 disables top-p (top_p <= 0 keeps only the first token);
//   min_p <= 0 disables min-p.
//
//   1. With d_i = (logit_i - logit_max) / T, the weights are w_i = exp(d_i): p_i = w_i / sum w
//      is softmax(logits / T), computed without overflow.
//   2. The ORDER of tokens is by logit descending, ties by lower id. It does not depend on T
//      and is exact on every backend, so the top-k set is bit-identical everywhere.
//   3. top-k: the universe U is the first k tokens of that order (the whole vocab if off).
//   4. top-p, renormalised over U (as llama.cpp and HF do): keep the shortest prefix of U, in
//      the order, whose cumulative weight reaches top_p * sum_{j in U} w_j. The first token is
//      always kept. A prefix may end inside a run of equal logits (the order breaks the tie).
//   5. min-p: keep only tokens with p_i >= min_p * p_max, tested as d_i >= ln(min_p).
//      It is a ratio, so renormalisation does not change it; the first token is always kept.
//      Because each rule keeps a prefix of the order, the kept set K is a prefix too.
//   6. Draw: u = rng_uniform(seed, chain, step) in [0, 1). Walk K in the order accumulating
//      c_m = w_1 + ... + w_m and return the first token with u * W < c_m, W = sum_{K} w
//      (the last token of K if rounding leaves none). This is inverse-CDF sampling from the
//      distribution renormalised over K.
//
//   d_i is computed in fp32 exactly as written ((logit - max) / T, one subtraction and one
//   division), so min-p and the order agree bit for bit across backends. w_i is an fp32 exp
//   accurate to a few ulp (the CPU uses a vectorised polynomial that is 0 for d_i < -86, where
//   e^d < 2^-124 cannot matter; a kernel may use expf). Sums are in double. A backend summing
//   in another order agrees with the CPU except when a cumulative sum lies within rounding of
//   a threshold (the top-p cut or u * W); parity tests must allow for that.
//
// The returned log-prob is the chosen token's log-probability under the model's unmodified
// distribution, log softmax(logits)[token] (temperature 1, no truncation): this is what the
// vote weights and best-of-N use, and it does not depend on the sampling settings.
//
// Logits are expected finite (-inf is allowed for masked tokens). Rows with NaN or +inf still
// return a valid id in [0, vocab), never crash, but the choice is unspecified.
#pragma once
#include <stdint.h>

typedef struct {
    float temperature; // 0 = greedy
    int top_k;         // 0 = off
    float top_p;       // 1 = off
    float min_p;       // 0 = off
    int conf_k;        // token confidence over the k most likely tokens (0 = not computed)
} SamplerParams;

SamplerParams sampler_defaults(void); // temperature 0.7, top_k 0, top_p 0.95, min_p 0.05

// Scratch for one row; one Sampler per thread (sample() writes into it).
typedef struct {
    int vocab;
    float *probs;   // [vocab] scratch: unnormalised weights w_i
    int *idx;       // [vocab] scratch: candidate token ids
    uint64_t *keys; // [2 * vocab] scratch: radix-sort keys for long candidate lists
} Sampler;

// 0 on success, -1 if vocab <= 0 or memory cannot be had.
int sampler_init(Sampler *s, int vocab);
void sampler_free(Sampler *s);
// Picks a token from logits [vocab]; writes its log-prob (see above) to *logprob if not NULL.
int sample(Sampler *s, const float *logits, const SamplerParams *p, uint64_t seed, uint32_t chain,
           uint32_t step, float *logprob);

// One row's draw as a backend takes it: the settings and the RNG counters sample() is called
// with (the GPU's sampler, kernels/sample.cu, reads the same struct from device memory).
typedef struct {
    SamplerParams p;
    uint64_t seed;
    uint32_t chain, step;
} SampleRow;

// Token confidence (DeepConf, Fu et al. 2025, arXiv:2508.15260), on the distribution the draw
// starts from: p = softmax(logits / T) over the whole vocab, before any truncation (T = 1 when
// the temperature is 0, so that greedy chains get a finite, comparable confidence).
//   conf    = -(1/k') sum_{j < k'} log p_(j) over the k' most likely tokens, k' = min(k, tokens
//             with a finite logit): high when the mass is on few tokens (a confident step).
//   entropy = -sum_i p_i log p_i (nats).
// Computed in double from the same fp32 terms d_i = (logit_i - max) / T as the draw.
#define CONF_MAX_K 64
typedef struct {
    float conf;
    float entropy;
} TokenConf;
// k in 1..CONF_MAX_K; s->probs is used as scratch. A row with no finite logit gives NaNs.
TokenConf token_confidence(Sampler *s, const float *logits, float temperature, int k);
