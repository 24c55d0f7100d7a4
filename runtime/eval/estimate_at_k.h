// eval/estimate_at_k.h - what k samples per question would score, estimated from n >= k samples
// already drawn (chorus eval, fixed mode): pass@k, majority@k, weighted@k, best-of-k and tokens.
//
// pass@k is the unbiased estimator of Chen et al. (2021): with c correct among n samples,
//   pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n-c+1}^{n} (1 - k / i),
// evaluated as that product (no huge binomials, no cancellation).
//
// vote@k (majority, weighted, best, conf) is the accuracy of the vote (vote.h, same rules and
// tie-breaks) over a size-k subset of the n samples, averaged over subsets:
//   - exactly, over all C(n, k) subsets, when C(n, k) <= EST_MAX_SUBSETS;
//   - otherwise over EST_MAX_SUBSETS subsets drawn uniformly at random (with replacement)
//     by rng_bits(EST_SEED, k, counter): a fixed seed, and one that depends only on k, so
//     a question's estimate depends only on its own samples (shards merge exactly).
// A subset votes with its samples in their original order (that order breaks final ties), and
// is correct when its winning answer is correct; a subset in which no sample has an answer is
// wrong. Correctness is a property of the answer (every sample with the same answer should
// carry the same flag); the winner's flag is that of its first sample in the subset.
//
// tokens@k is the expected number of decoded tokens of k samples, k * mean(n_tokens): the
// exact average over all subsets.
#pragma once
#include <stdint.h>

#define EST_MAX_SUBSETS 20000
#define EST_SEED        0x5EEDE57111A7Eull

typedef struct {
    const char *answer; // normalised answer, NULL = none
    int correct;        // 1 if answer matches the reference
    double sum_logprob; // sum of the sample's token log-probs
    int n_tokens;       // tokens decoded
    double conf;        // its trace confidence (the weight of the conf vote; NaN weighs 0)
} EstSample;

typedef struct {
    int k;
    double pass;     // pass@k
    double majority; // majority@k accuracy
    double weighted; // weighted@k accuracy
    double best;     // best-of-k accuracy
    double conf;     // confidence-weighted majority@k accuracy (vote.h VOTE_CONF)
    double tokens;   // expected decoded tokens for k samples
    long subsets;    // subsets averaged over
    int exact;       // 1: all C(n, k) subsets; 0: a fixed-seed sample of them
} EstAtK;

// pass@k from n samples with c correct; -1 if not 0 <= c <= n and 1 <= k <= n.
double est_pass_at_k(int n, int c, int k);
// Fills *out for k over samples [n]. Returns 0, or -1 if k is not in 1..n or memory cannot be
// had.
int est_at_k(const EstSample *samples, int n, int k, EstAtK *out);
// The same estimates when the first n_fixed samples are always drawn and k more are drawn
// from the other n - n_fixed (the pool): a first wave that is already known, plus k further
// chains. Subsets vote with the fixed samples first, then the drawn ones in index order;
// out->k = n_fixed + k; tokens = the fixed samples' + k x the pool's mean; pass is 1 if a fixed
// sample is correct, else pass@k of the pool. est_at_k(s, n, k) = est_with_fixed(s, n, 0, k).
// Returns 0, or -1 unless 0 <= n_fixed <= n, 0 <= k <= n - n_fixed and n_fixed + k >= 1.
int est_with_fixed(const EstSample *samples, int n, int n_fixed, int k, EstAtK *out);
