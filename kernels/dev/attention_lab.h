// attention_lab.h - what the two attention labs (attention_decode.cu, attention_prefill.cu)
// share: sequences of random bf16 keys and values held twice, in a CPU KVCache for the reference
// (runtime/cpu/attention.c's attention, which the tests compare attention_partial_cuda +
// attention_merge_cuda against) and as the device storage the kernels read; and the key splits.
#pragma once
#include "dev/lab.h"
extern "C" {
#include "cpu/attention.h"
#include "model/kvcache.h"
}

// One sequence on both sides: CPU slots 0..cap of layer 0, and the device's copy.
struct LabSeq {
    int id;          // in the KVCache
    uint16_t *k, *v; // device [1 layer, cap, kv_dim] bf16
};

// A new sequence (a child of parent if >= 0, seeing its current tokens) of cap tokens, every
// one filled with bf16 values of magnitude <= 1 and counted stored. The CPU cache keeps fp32
// (kv_set_half(kv, 0) before the first sequence), so both sides read the same values.
static inline LabSeq lab_seq(KVCache *kv, int parent, int cap, LabRng &rng) {
    char err[160];
    const int id = kv_seq_new(kv, parent, cap, err, sizeof err), kvd = kv->kv_dim;
    if (id < 0) {
        fprintf(stderr, "kv_seq_new: %s\n", err);
        exit(2);
    }
    std::vector<uint16_t> k((size_t)cap * kvd), v(k.size()); // [cap, kv_dim] bf16
    lab_fill_bf16(k, rng, 1.0f);
    lab_fill_bf16(v, rng, 1.0f);
    const std::vector<float> kf = lab_from_bf16(k), vf = lab_from_bf16(v);
    for (int t = 0; t < cap; t++) kv_put(kv, id, 0, t, &kf[(size_t)t * kvd], &vf[(size_t)t * kvd]);
    kv->seqs[id].len = cap;
    return {id, lab_upload(k), lab_upload(v)};
}

// The reference: CPU attention of rows (seqs[i], pos[i]) at layer 0.
//   q: [n, n_heads * hd] f32 (rotated);  returns out: [n, n_heads * hd] f32
static inline std::vector<float> lab_attention_ref(const std::vector<float> &q, const KVCache *kv,
                                                   const std::vector<int> &seqs,
                                                   const std::vector<int> &pos, int n_heads,
                                                   int n_kv_heads, int hd) {
    Workspace ws;
    std::vector<float> out(q.size());
    if (ws_init(&ws, 2, 0) || attention(out.data(), q.data(), kv, seqs.data(), pos.data(),
                                        (int)seqs.size(), 0, n_heads, n_kv_heads, hd, &ws)) {
        fprintf(stderr, "CPU attention: out of memory\n");
        exit(2);
    }
    ws_free(&ws);
    return out;
}

// Splits of `keys` keys for `blocks` blocks per split: enough that the grid fills the device
// about twice, each at least 64 keys, split_len a multiple of 32 (attention.cu's tile).
static inline void lab_splits(int blocks, int keys, int *n_splits, int *split_len) {
    int sms = 132;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    int sp = std::max(1, std::min((2 * sms + blocks - 1) / blocks, keys / 64));
    *split_len = ((keys + sp - 1) / sp + 31) / 32 * 32;
    *n_splits = (keys + *split_len - 1) / *split_len;
}

// Attention's output is bf16: rel 2^-8 (rounding <= 2^-9); abs 1e-3 for fp32 sums over up to
// thousands of keys in another order (test_gpu_attention.c's tolerance).
static inline int lab_attention_check(const char *what, const uint16_t *dout,
                                      const std::vector<float> &ref) {
    return lab_validate(what, lab_from_bf16(lab_download(dout, ref.size())), ref, 1e-3, 1.0 / 256);
}
