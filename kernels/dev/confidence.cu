// confidence.cu - the lab for token_confidence_cuda (kernels/confidence.cu) against the CPU's
// token_confidence (sampler/sampler.c), row by row on the same logits: the confidence over the
// k most likely tokens and the entropy, within 1e-5 + 1e-5 rel (f32 terms, expf against the
// CPU's polynomial, double sums in another order). k and the temperature cycle over the rows
// (k = 0: NaN on both sides). Default: Llama-2-7B's decode step of 64 chains, vocab 32000.
// Usage: confidence [--check] [n vocab]
#include "dev/lab.h"
#include "kernels.h"
extern "C" {
#include "sampler.h"
}

int main(int argc, char **argv) {
    const LabArgs a = lab_args(argc, argv);
    const int n = lab_int(a, 0, 64), vocab = lab_int(a, 1, 32000);
    if (!lab_device()) return 0;
    LabRng rng{16};
    std::vector<float> logits((size_t)n * vocab); // [n, vocab] f32, shaped like a model's
    for (auto &v : logits)
        v = 12.0f - 2.5f * logf(1.0f + (float)rng.below(vocab)) + 0.3f * rng.uniform();
    static const int KS[] = {20, 1, 64, 5, 0};
    static const float TEMPS[] = {0.7f, 0.0f, 1.0f, 1.3f};
    std::vector<SampleRow> args(n); // [n]: only p.temperature and p.conf_k are read
    for (int i = 0; i < n; i++) {
        args[i] = SampleRow{};
        args[i].p.temperature = TEMPS[i % 4], args[i].p.conf_k = KS[i % 5];
    }
    // the reference, one row per call                          ref_c, ref_e: [n] f32
    Sampler s;
    if (sampler_init(&s, vocab)) return 2;
    std::vector<float> ref_c(n), ref_e(n);
    for (int i = 0; i < n; i++) {
        const SamplerParams &p = args[i].p;
        TokenConf c = {NAN, NAN};
        if (p.conf_k > 0)
            c = token_confidence(&s, &logits[(size_t)i * vocab], p.temperature, p.conf_k);
        ref_c[i] = c.conf, ref_e[i] = c.entropy;
    }
    sampler_free(&s);
    float *dl = lab_upload(logits);
    SampleRow *da = lab_upload(args);
    TokenConf *dout = lab_alloc<TokenConf>(n); // [n]
    auto step = [&] { return token_confidence_cuda(dout, dl, da, n, vocab, vocab, 0); };
    CK(step());
    const std::vector<TokenConf> out = lab_download(dout, n);
    std::vector<float> got_c(n), got_e(n);
    for (int i = 0; i < n; i++) got_c[i] = out[i].conf, got_e[i] = out[i].entropy;
    char what[64];
    snprintf(what, sizeof what, "confidence %d rows of %d", n, vocab);
    int bad = lab_validate(what, got_c, ref_c, 1e-5, 1e-5);
    bad |= lab_validate("entropy", got_e, ref_e, 1e-5, 1e-5);
    lab_time(a, what, (double)n * vocab * 4, step); // every logit read (at least once)
    cudaFree(dl), cudaFree(da), cudaFree(dout);
    return bad;
}
