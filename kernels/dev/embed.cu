// embed.cu - the lab for embed_cuda (kernels/embed.cu) against the CPU's embed
// (runtime/cpu/ops.c) on the same bf16 table: x[i] = table[tokens[i]] as f32, exact. Default:
// Llama-2-7B's decode step of 64 chains (vocab 32000, dim 4096).
// Usage: embed [--check] [n dim vocab]
#include "dev/lab.h"
#include "kernels.h"
extern "C" {
#include "cpu/ops.h"
}

int main(int argc, char **argv) {
    const LabArgs a = lab_args(argc, argv);
    const int n = lab_int(a, 0, 64), dim = lab_int(a, 1, 4096), vocab = lab_int(a, 2, 32000);
    if (!lab_device()) return 0;
    LabRng rng{13};
    std::vector<uint16_t> table((size_t)vocab * dim); // [vocab, dim] bf16
    lab_fill_bf16(table, rng, 2.0f);
    std::vector<int> tok(n); // [n]; the last id is always among them (the table's edge)
    for (int i = 0; i < n; i++) tok[i] = i == 0 ? vocab - 1 : rng.below(vocab);
    // the reference reads the table as a bf16 Weight, as the model's token embedding
    Weight w = {table.data(), GGML_TYPE_BF16, dim, vocab, (size_t)dim * 2, "tok_embd", NULL};
    std::vector<float> ref((size_t)n * dim); // [n, dim] f32
    embed(ref.data(), &w, tok.data(), n);
    uint16_t *dt = lab_upload(table);
    int *dtok = lab_upload(tok);
    float *dx = lab_alloc<float>(ref.size()); // [n, dim] f32
    auto step = [&] { return embed_cuda(dx, dt, dtok, n, dim, vocab, 0); };
    CK(step());
    char what[64];
    snprintf(what, sizeof what, "embed %dx%d of %d", n, dim, vocab);
    const int bad = lab_validate(what, lab_download(dx, ref.size()), ref, 0, 0); // bf16 -> f32
    lab_time(a, what, n * (dim * 2.0 + dim * 4.0 + 4), step); // rows read, x written, ids
    cudaFree(dt), cudaFree(dtok), cudaFree(dx);
    return bad;
}
