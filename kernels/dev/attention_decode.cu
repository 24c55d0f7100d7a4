// attention_decode.cu - check-and-time for the shared-prefix decode attention
// (kernels/attention.cu): C chains of one P-token prefix, one new token each, Llama-2-7B head
// shape by default (32 query / 32 KV heads, hd 128).
//   1. check: GPU output vs a double-precision CPU reference on the same bf16 K/V
//      (tolerance 2^-8 relative + 1e-3 absolute: bf16 output rounding);
//   2. time: median of 50 launches (partials + merge) with events; report the bytes that must
//      move (prefix K/V once per item, own K/V per chain, q, partials) as GB/s and as a share of
//      a device-to-device copy's bandwidth.
// Usage: attention_decode [P C n_heads n_kv_heads hd own_len]
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <vector>

#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));     \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static float frand(uint64_t &s) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((s >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}
static uint16_t to_bf16(float f) {
    __nv_bfloat16 h = __float2bfloat16_rn(f);
    return *reinterpret_cast<uint16_t *>(&h);
}
static float from_bf16(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int main(int argc, char **argv) {
    int P = 1024, C = 64, H = 32, KVH = 32, hd = 128, own = 16;
    if (argc == 7) P = atoi(argv[1]), C = atoi(argv[2]), H = atoi(argv[3]), KVH = atoi(argv[4]),
                   hd = atoi(argv[5]), own = atoi(argv[6]);
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("SKIP: no CUDA device\n");
        return 0;
    }
    const int kvd = KVH * hd, group = H / KVH, per_item = ATTN_MAX_QVECS / group;
    uint64_t seed = 7;
    // prefix [1 layer, P, kvd]; chains [C][own, kvd]; q [C, H, hd]
    std::vector<uint16_t> pk((size_t)P * kvd), pv(pk.size()), ck((size_t)C * own * kvd), cv(ck.size());
    for (auto &x : pk) x = to_bf16(frand(seed));
    for (auto &x : pv) x = to_bf16(frand(seed));
    for (auto &x : ck) x = to_bf16(frand(seed));
    for (auto &x : cv) x = to_bf16(frand(seed));
    std::vector<float> q((size_t)C * H * hd);
    for (auto &x : q) x = 2.0f * frand(seed);
    // reference in double
    std::vector<double> ref(q.size());
    for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++) {
            const int kh = h / group;
            std::vector<double> s(P + own);
            double mx = -1e300;
            for (int t = 0; t < P + own; t++) {
                const uint16_t *kr = t < P ? &pk[(size_t)t * kvd] : &ck[((size_t)c * own + t - P) * kvd];
                double a = 0;
                for (int d = 0; d < hd; d++) a += (double)q[((size_t)c * H + h) * hd + d] * from_bf16(kr[kh * hd + d]);
                s[t] = a / sqrt((double)hd);
                mx = std::max(mx, s[t]);
            }
            double l = 0;
            for (int t = 0; t < P + own; t++) l += exp(s[t] - mx);
            for (int d = 0; d < hd; d++) {
                double o = 0;
                for (int t = 0; t < P + own; t++) {
                    const uint16_t *vr = t < P ? &pv[(size_t)t * kvd] : &cv[((size_t)c * own + t - P) * kvd];
                    o += exp(s[t] - mx) * from_bf16(vr[kh * hd + d]);
                }
                ref[((size_t)c * H + h) * hd + d] = o / l;
            }
        }
    // device buffers
    uint16_t *dpk, *dpv, *dck, *dcv, *dout;
    float *dq, *po, *pml;
    CK(cudaMalloc(&dpk, pk.size() * 2));
    CK(cudaMalloc(&dpv, pv.size() * 2));
    CK(cudaMalloc(&dck, ck.size() * 2));
    CK(cudaMalloc(&dcv, cv.size() * 2));
    CK(cudaMemcpy(dpk, pk.data(), pk.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dpv, pv.data(), pv.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dck, ck.data(), ck.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dcv, cv.data(), cv.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMalloc(&dq, q.size() * 4));
    CK(cudaMemcpy(dq, q.data(), q.size() * 4, cudaMemcpyHostToDevice));
    std::vector<AttnItem> pre, mine;
    for (int r0 = 0; r0 < C; r0 += per_item) pre.push_back({dpk, dpv, P, P, r0, std::min(per_item, C - r0)});
    for (int c = 0; c < C; c++) mine.push_back({dck + (size_t)c * own * kvd, dcv + (size_t)c * own * kvd, own, own, c, 1});
    std::vector<int> idx(C), lim_pre(C, P), lim_own(C, own);
    for (int c = 0; c < C; c++) idx[c] = c;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    int blocks = (int)pre.size() * KVH, sp = std::max(1, std::min((2 * prop.multiProcessorCount + blocks - 1) / blocks, P / 64));
    int len_pre = ((P + sp - 1) / sp + 31) / 32 * 32;
    sp = (P + len_pre - 1) / len_pre;
    const int parts = sp + 1;
    // The launches read their counts from device memory (kernel_types.h): prefix splits are
    // parts [0, sp), the own part is part sp.
    AttnPlan plan = {{{(int)pre.size(), sp, len_pre, 0}, {C, 1, ((own + 31) / 32) * 32, sp}}};
    AttnPlan *dplan;
    CK(cudaMalloc(&dplan, sizeof plan));
    CK(cudaMemcpy(dplan, &plan, sizeof plan, cudaMemcpyHostToDevice));
    AttnItem *dpre, *dmine;
    int *didx, *dlp, *dlo;
    CK(cudaMalloc(&dpre, pre.size() * sizeof(AttnItem)));
    CK(cudaMalloc(&dmine, mine.size() * sizeof(AttnItem)));
    CK(cudaMemcpy(dpre, pre.data(), pre.size() * sizeof(AttnItem), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dmine, mine.data(), mine.size() * sizeof(AttnItem), cudaMemcpyHostToDevice));
    CK(cudaMalloc(&didx, C * 4));
    CK(cudaMalloc(&dlp, C * 4));
    CK(cudaMalloc(&dlo, C * 4));
    CK(cudaMemcpy(didx, idx.data(), C * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dlp, lim_pre.data(), C * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dlo, lim_own.data(), C * 4, cudaMemcpyHostToDevice));
    CK(cudaMalloc(&po, (size_t)parts * C * H * hd * 4));
    CK(cudaMalloc(&pml, (size_t)parts * C * H * 2 * 4));
    CK(cudaMalloc(&dout, q.size() * 2));
    CK(cudaMemset(dout, 0xff, q.size() * 2)); // poison
    auto step = [&]() -> cudaError_t {
        cudaError_t e = attention_partial_cuda(po, pml, &dplan->src[0], (int)pre.size(), sp, dq, H * hd, dpre, didx, dlp, C, 0, H, KVH, hd, 0);
        if (e == cudaSuccess) e = attention_partial_cuda(po, pml, &dplan->src[1], C, 1, dq, H * hd, dmine, didx, dlo, C, 0, H, KVH, hd, 0);
        if (e == cudaSuccess) e = attention_merge_cuda(dout, po, pml, dplan, dlp, C, H, hd, 0);
        return e;
    };
    CK(step());
    CK(cudaDeviceSynchronize());
    std::vector<uint16_t> out(q.size());
    CK(cudaMemcpy(out.data(), dout, out.size() * 2, cudaMemcpyDeviceToHost));
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < out.size(); i++) {
        double g = from_bf16(out[i]), d = fabs(g - ref[i]);
        worst = std::max(worst, d);
        if (!(d <= 1e-3 + fabs(ref[i]) / 256)) bad++;
    }
    printf("check: P=%d C=%d heads %d/%d hd %d: max|diff| %.2e, %d bad of %zu -> %s\n", P, C, H, KVH,
           hd, worst, bad, out.size(), bad ? "FAIL" : "ok");
    if (bad) return 1;
#ifdef CHORUS_CUDA_EMU
    printf("time: not measured (the CPU emulation of the kernels: its times mean nothing)\n");
    return 0;
#endif
    // time
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    std::vector<float> ms;
    for (int i = 0; i < 50; i++) {
        cudaEventRecord(e0);
        CK(step());
        cudaEventRecord(e1);
        cudaEventSynchronize(e1);
        float t;
        cudaEventElapsedTime(&t, e0, e1);
        ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    double t = ms[ms.size() / 2] * 1e-3;
    double bytes = (double)pre.size() * P * kvd * 2 * 2 + (double)C * own * kvd * 2 * 2 + q.size() * 4.0 +
                   (double)parts * C * H * (hd + 2) * 4 * 2 + out.size() * 2.0;
    // copy bandwidth
    void *a, *b;
    size_t cb = (size_t)256 << 20;
    CK(cudaMalloc(&a, cb));
    CK(cudaMalloc(&b, cb));
    CK(cudaMemcpy(b, a, cb, cudaMemcpyDeviceToDevice));
    cudaEventRecord(e0);
    for (int i = 0; i < 10; i++) cudaMemcpyAsync(b, a, cb, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float cms;
    cudaEventElapsedTime(&cms, e0, e1);
    double copy_bw = 2.0 * cb * 10 / (cms * 1e-3);
    printf("time: %.1f us median, %.1f MB moved, %.0f GB/s = %.0f%% of copy bandwidth (%.0f GB/s); "
           "prefix read by %zu item(s) instead of %d chains\n",
           t * 1e6, bytes / 1e6, bytes / t / 1e9, 100 * bytes / t / copy_bw, copy_bw / 1e9,
           pre.size(), C);
    return 0;
}
