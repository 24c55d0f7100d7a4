// swiglu.cu - the lab for swiglu_cuda (kernels/swiglu.cu) against the CPU's swiglu
// (runtime/cpu/ops.c): out = silu(gate) * up, with gate and up side by side in each row of gu
// (the stacked gate/up matmul's output), bf16 out. Default: Llama-2-7B's decode step of 64
// chains (hidden 11008).
// Usage: swiglu [--check] [n hidden]
#include "dev/lab.h"
#include "kernels.h"
extern "C" {
#include "cpu/ops.h"
}

int main(int argc, char **argv) {
    const LabArgs a = lab_args(argc, argv);
    const int n = lab_int(a, 0, 64), hidden = lab_int(a, 1, 11008);
    if (!lab_device()) return 0;
    LabRng rng{12};
    const size_t c = (size_t)n * hidden;
    std::vector<float> gu(2 * c); // [n, 2*hidden] f32: gate | up per row
    lab_fill(gu, rng, 6.0f);
    // the CPU keeps gate and up apart: gate[i] = silu(gate[i]) * up[i]     gate, up: [n, hidden]
    std::vector<float> gate(c), up(c);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hidden; j++) {
            gate[(size_t)i * hidden + j] = gu[(size_t)i * 2 * hidden + j];
            up[(size_t)i * hidden + j] = gu[(size_t)i * 2 * hidden + hidden + j];
        }
    swiglu(gate.data(), up.data(), n, hidden);
    float *dgu = lab_upload(gu);
    uint16_t *dout = lab_alloc<uint16_t>(c); // [n, hidden] bf16
    auto step = [&] { return swiglu_cuda(dout, dgu, n, hidden, 0); };
    CK(step());
    // bf16 out: rel 2^-8; abs 1e-6 (silu near 0); expf on both sides
    char what[64];
    snprintf(what, sizeof what, "swiglu %dx%d", n, hidden);
    const int bad = lab_validate(what, lab_from_bf16(lab_download(dout, c)), gate, 1e-6, 1.0 / 256);
    lab_time(a, what, gu.size() * 4.0 + c * 2.0, step); // gu read, out written
    cudaFree(dgu), cudaFree(dout);
    return bad;
}
