// step.h - one step of the model: what the controller hands a backend (backend.h) and what both
// forward passes take (cpu/forward.h, cuda/forward_cuda.h), so the CPU and the GPU run the same
// operation under the same contract: run these rows, then sample a token for these rows.
//
// Row i appends tokens[i] to KV sequence seqs[i] at that sequence's next position. The positions
// are not passed: the KV cache owns them (kvcache.h), and a second copy could only disagree.
// Rows of one sequence appear in order and each attends causally to everything its sequence
// sees (its prefix, then its own tokens up to and including itself).
//
// The rows listed in out_rows want an output: a sampled token (sample set) and, on request, a
// copy of their logits (the tests and the ctypes API). Prefill is a step that lists no row (or
// only its last); a decode step lists one row per chain, usually every row. Logits stay inside
// the backend unless asked for (docs/design.md, "One step").
#pragma once
#include "sampler.h"

typedef struct {
    // the rows
    int n_rows;        // 1 .. the backend's max_rows
    const int *tokens; // [n_rows] the token each row appends
    const int *seqs;   // [n_rows] the KV sequence it appends to
    // the rows that want an output
    int n_out;               // 0 .. n_rows
    const int *out_rows;     // [n_out] their row indices (NULL when n_out = 0)
    const SampleRow *sample; // [n_out] each one's sampling settings and RNG counters (seed,
                             // chain, step), or NULL: nothing is sampled
    // results, in out_rows order
    int *ids;        // [n_out] sampled tokens (with sample)
    float *logprobs; // [n_out] their log-probs, log softmax(logits)[id] (with sample)
    TokenConf *conf; // [n_out] token confidence and entropy (with sample; NaN where the row's
                     // conf_k = 0), or NULL: not wanted, and not computed
    float *logits;   // [n_out, vocab] a copy of the rows' logits, or NULL: not wanted
} Step;
