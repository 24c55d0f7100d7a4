// rmsnorm.cu - the lab for rmsnorm_cuda (kernels/rmsnorm.cu) against the CPU's rmsnorm
// (runtime/cpu/ops.c): n rows of dim normed by their RMS and scaled by w, bf16 out. Default:
// Llama-2-7B's decode step of 64 chains (64 rows of 4096).
// Usage: rmsnorm [--check] [n dim]
#include "dev/lab.h"
#include "kernels.h"
extern "C" {
#include "cpu/ops.h"
}

int main(int argc, char **argv) {
    const LabArgs a = lab_args(argc, argv);
    const int n = lab_int(a, 0, 64), dim = lab_int(a, 1, 4096);
    const float eps = 1e-5f;
    if (!lab_device()) return 0;
    LabRng rng{11};
    std::vector<float> x((size_t)n * dim), w(dim); // x: [n, dim] f32; w: [dim] f32
    lab_fill(x, rng, 3.0f);
    for (auto &v : w) v = 1.0f + 0.5f * rng.uniform();
    // the reference: f32 out                                          ref: [n, dim] f32
    std::vector<float> ref(x.size());
    rmsnorm(ref.data(), x.data(), w.data(), n, dim, eps);
    float *dx = lab_upload(x), *dw = lab_upload(w);
    uint16_t *dout = lab_alloc<uint16_t>(x.size()); // [n, dim] bf16
    auto step = [&] { return rmsnorm_cuda(dout, dx, dw, nullptr, n, dim, eps, 0); };
    CK(step());
    // bf16 out: rel 2^-8 (rounding <= 2^-9, plus the GPU's fp32 sum of squares against the
    // CPU's); abs 1e-6 for values that round near zero
    char what[64];
    snprintf(what, sizeof what, "rmsnorm %dx%d", n, dim);
    const int bad =
        lab_validate(what, lab_from_bf16(lab_download(dout, x.size())), ref, 1e-6, 1.0 / 256);
    // x read, w read (once per block, from cache: counted once), out written
    lab_time(a, what, x.size() * 4.0 + dim * 4.0 + x.size() * 2.0, step);
    cudaFree(dx), cudaFree(dw), cudaFree(dout);
    return bad;
}
