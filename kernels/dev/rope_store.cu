// rope_store.cu - the lab for rope_qkv_store_cuda (kernels/rope.cu) against its CPU twin
// rope_qkv_store (runtime/cpu/fused.c: add_bias, rmsnorm, rope_table, rope_apply, f32_to_bf16):
// the step between the QKV matmul and attention, q rotated in place, k and v stored bf16 into
// each row's cache slot. Default: Llama-2-7B's decode step of 64 chains (32 heads of 128, MHA).
// arch: 0 Llama (adjacent pairs), 1 Qwen2 (biases, NeoX pairs), 2 Qwen3 (per-head q/k norms,
// NeoX), 3 Llama 3.x (frequency factors, linear scaling).
// Usage: rope_store [--check] [n n_heads n_kv_heads head_dim arch]
#include "dev/lab.h"
#include "kernels.h"
extern "C" {
#include "cpu/fused.h"
}

// The architecture's parameters over one set of biases [width], norm weights [hd] each and
// frequency factors [hd / 2], host or device copies alike.
static RopeParams params(int arch, const float *bias, const float *qn, const float *kn,
                         const float *fac) {
    RopeParams rp = {};
    rp.base = 10000.0f, rp.linear = 1.0f, rp.eps = 1e-6f;
    if (arch == 1) rp.bias = bias, rp.neox = 1;
    if (arch == 2) rp.q_norm = qn, rp.k_norm = kn, rp.neox = 1;
    if (arch == 3) rp.factors = fac, rp.linear = 8.0f;
    return rp;
}

int main(int argc, char **argv) {
    const LabArgs a = lab_args(argc, argv);
    const int n = lab_int(a, 0, 64), H = lab_int(a, 1, 32), KVH = lab_int(a, 2, H),
              hd = lab_int(a, 3, 128), arch = lab_int(a, 4, 0);
    if (!lab_device()) return 0;
    const int qd = H * hd, kvd = KVH * hd, width = qd + 2 * kvd, cap = n + 5;
    LabRng rng{14};
    std::vector<float> qkv((size_t)n * width), bias(width), qn(hd), kn(hd), fac(hd / 2);
    lab_fill(qkv, rng, 2.0f); // qkv: [n, q | k | v] f32
    lab_fill(bias, rng, 1.0f);
    for (int e = 0; e < hd; e++) qn[e] = 1 + 0.3f * rng.uniform(), kn[e] = 1 + 0.3f * rng.uniform();
    for (int j = 0; j < hd / 2; j++) fac[j] = 1 + 7.0f * j / (hd / 2);
    // the caches: one layer of cap slots each side        [cap, kv_dim] bf16, 0xff-poisoned
    const size_t cache = (size_t)cap * kvd;
    std::vector<uint16_t> hk(cache, 0xffff), hv(cache, 0xffff);
    uint16_t *dk = lab_alloc<uint16_t>(cache), *dv = lab_alloc<uint16_t>(cache);
    // row i: slot cap-1-i (rows stored in reverse: a kernel that ignores the slot fails), a
    // position up to 8191 (row 0 at 0)
    std::vector<RowKV> hrows(n), rows(n);
    for (int i = 0; i < n; i++) {
        const int pos = i ? rng.below(8192) : 0;
        hrows[i] = {hk.data(), hv.data(), cap, cap - 1 - i, pos};
        rows[i] = {dk, dv, cap, cap - 1 - i, pos};
    }
    float *dqkv = lab_upload(qkv), *dbias = lab_upload(bias), *dqn = lab_upload(qn),
          *dkn = lab_upload(kn), *dfac = lab_upload(fac);
    RowKV *drows = lab_upload(rows);
    const RopeParams hp = params(arch, bias.data(), qn.data(), kn.data(), fac.data());
    const RopeParams dp = params(arch, dbias, dqn, dkn, dfac);
    if (rope_qkv_store(qkv.data(), hrows.data(), n, 0, H, KVH, hd, &hp)) return 2;
    CK(rope_qkv_store_cuda(dqkv, drows, n, 0, H, KVH, hd, &dp, 0));
    const std::vector<float> got = lab_download(dqkv, qkv.size());
    std::vector<float> gq, rq; // [n, q_dim] the rotated q of both
    for (int i = 0; i < n; i++) {
        gq.insert(gq.end(), got.begin() + (size_t)i * width, got.begin() + (size_t)i * width + qd);
        rq.insert(rq.end(), qkv.begin() + (size_t)i * width, qkv.begin() + (size_t)i * width + qd);
    }
    char what[3][64];
    snprintf(what[0], 64, "rope q %d/%d hd%d arch %d", H, KVH, hd, arch);
    snprintf(what[1], 64, "rope k -> cache (bf16)");
    snprintf(what[2], 64, "v -> cache (bf16)");
    // q: the angles in double on both sides, the rotation in f32 (an FMA or not): 1e-5 + 1e-5
    // rel. k: both sides round to bf16 f32 values that far apart: one bf16 step, 2^-7 rel.
    // v: the same f32 bias add, the same rounding: exact. Unwritten slots stay 0xffff (NaN).
    int bad = lab_validate(what[0], gq, rq, 1e-5, 1e-5);
    bad |= lab_validate(what[1], lab_from_bf16(lab_download(dk, cache)), lab_from_bf16(hk), 1e-5,
                        1.0 / 128);
    bad |= lab_validate(what[2], lab_from_bf16(lab_download(dv, cache)), lab_from_bf16(hv), 0, 0);
    // qkv read, q written back, k and v stored bf16 (weights and the RowKVs: small)
    const double bytes = qkv.size() * 4.0 + (double)n * qd * 4 + (double)n * 2 * kvd * 2;
    lab_time(a, what[0], bytes,
             [&] { return rope_qkv_store_cuda(dqkv, drows, n, 0, H, KVH, hd, &dp, 0); });
    cudaFree(dqkv), cudaFree(dbias), cudaFree(dqn), cudaFree(dkn), cudaFree(dfac);
    cudaFree(drows), cudaFree(dk), cudaFree(dv);
    return bad;
}
