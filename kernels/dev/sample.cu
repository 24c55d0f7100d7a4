// sample.cu - the lab for sample_cuda (kernels/sample.cu) against the CPU's sample
// (sampler/sampler.c), row by row on the same logits and RNG counters: the same token exactly,
// its log-prob within 1e-5 + 1e-6 rel (double sums in another order, rounded to f32). The rows
// cycle through greedy, the defaults, top-k 40 and hot untruncated sampling (the kernel's
// threshold-search path) over logits shaped like a model's (a few dozen plausible tokens).
// Default: Llama-2-7B's decode step of 64 chains over its 32000-token vocabulary.
// Usage: sample [--check] [n vocab]
#include "dev/lab.h"
#include "kernels.h"
extern "C" {
#include "sampler.h"
}

static const SamplerParams PRESETS[] = {
    {0.0f, 0, 1.0f, 0.0f, 0},   // greedy
    {0.7f, 0, 0.95f, 0.05f, 0}, // the defaults
    {1.0f, 40, 1.0f, 0.0f, 0},  // top-k only
    {1.5f, 0, 1.0f, 0.0f, 0},   // hot, no truncation: every token a candidate
};

// Rows of logits: a Zipf-like fall over a random ranking, plus noise.  logits: [n, vocab] f32
static std::vector<float> model_like(int n, int vocab, LabRng &rng) {
    std::vector<float> l((size_t)n * vocab);
    for (auto &v : l)
        v = 12.0f - 2.5f * logf(1.0f + (float)rng.below(vocab)) + 0.3f * rng.uniform();
    return l;
}

int main(int argc, char **argv) {
    const LabArgs a = lab_args(argc, argv);
    const int n = lab_int(a, 0, 64), vocab = lab_int(a, 1, 32000);
    if (!lab_device()) return 0;
    LabRng rng{15};
    const std::vector<float> logits = model_like(n, vocab, rng);
    std::vector<SampleRow> args(n); // [n]
    for (int i = 0; i < n; i++)
        args[i] = {PRESETS[i % 4], 1000u + (uint64_t)i, 7u * i, (uint32_t)i};
    // the reference, one row per call: token ids (as floats, exact) and log-probs     [n] each
    Sampler s;
    if (sampler_init(&s, vocab)) return 2;
    std::vector<float> ref_id(n), ref_lp(n);
    for (int i = 0; i < n; i++) {
        const SampleRow &r = args[i];
        ref_id[i] = (float)sample(&s, &logits[(size_t)i * vocab], &r.p, r.seed, r.chain, r.step,
                                  &ref_lp[i]);
    }
    sampler_free(&s);
    float *dl = lab_upload(logits), *dlp = lab_alloc<float>(n);
    SampleRow *da = lab_upload(args);
    int *dids = lab_alloc<int>(n);
    auto step = [&] { return sample_cuda(dids, dlp, dl, da, n, vocab, vocab, 0); };
    CK(step());
    const std::vector<int> ids = lab_download(dids, n);
    const std::vector<float> got_id(ids.begin(), ids.end());
    char what[64];
    snprintf(what, sizeof what, "sample %d rows of %d", n, vocab);
    int bad = lab_validate(what, got_id, ref_id, 0, 0);
    bad |= lab_validate("sample log-probs", lab_download(dlp, n), ref_lp, 1e-5, 1e-6);
    lab_time(a, what, (double)n * vocab * 4, step); // every logit read (at least once)
    cudaFree(dl), cudaFree(dlp), cudaFree(da), cudaFree(dids);
    return bad;
}
