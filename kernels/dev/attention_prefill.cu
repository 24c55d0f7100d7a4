// attention_prefill.cu - the lab for prefill attention (kernels/attention.cu:
// attention_partial_cuda over a sequence's own keys, then attention_merge_cuda) against the
// CPU's attention (runtime/cpu/attention.c) on the same bf16 keys and values: T rows of one
// sequence, row i seeing keys 0..i (causal). Rows go in items of up to ATTN_MAX_QVECS query
// vectors, each item reading the keys its last row sees, split across blocks. Default:
// Llama-2-7B's heads (32 of 128, MHA), a 512-token prompt.
// Usage: attention_prefill [--check] [T n_heads n_kv_heads head_dim]
#include "dev/attention_lab.h"
#include "kernels.h"

struct Prefill {
    int T, H, KVH, hd;
    int sp, len;                  // key splits and their length
    std::vector<AttnItem> items;  // [ceil(T / per_item)]
    AttnPlan *dplan;              // device: no prefix source; own splits are parts [0, sp)
    AttnItem *ditems;             // device copy of items
    int *didx, *dlim;             // [T] each: row order, keys seen (i + 1)
    float *dq, *part_o, *part_ml; // [T, H*hd]; [sp, T, H, hd]; [sp, T, H, 2] f32
    uint16_t *dout;               // [T, H*hd] bf16
    cudaError_t step() const {    // the two launches of one layer's prefill attention
        cudaError_t e =
            attention_partial_cuda(part_o, part_ml, &dplan->src[1], (int)items.size(), sp, dq,
                                   H * hd, ditems, didx, dlim, T, 0, H, KVH, hd, 0);
        if (e == cudaSuccess)
            e = attention_merge_cuda(dout, part_o, part_ml, dplan, nullptr, T, H, hd, 0);
        return e;
    }
};

// The items and the plan over the device sequence s (kernel_types.h).
static void setup(Prefill &p, const LabSeq &s, const std::vector<float> &q) {
    const int per_item = ATTN_MAX_QVECS / (p.H / p.KVH);
    for (int r0 = 0; r0 < p.T; r0 += per_item) {
        const int nr = std::min(per_item, p.T - r0);
        p.items.push_back({s.k, s.v, p.T, r0 + nr, r0, nr}); // its last row sees r0 + nr keys
    }
    lab_splits((int)p.items.size() * p.KVH, p.T, &p.sp, &p.len);
    const AttnPlan plan = {{{0, 0, 32, 0}, {(int)p.items.size(), p.sp, p.len, 0}}};
    std::vector<int> idx(p.T), lim(p.T);
    for (int i = 0; i < p.T; i++) idx[i] = i, lim[i] = i + 1;
    p.dplan = lab_upload(std::vector<AttnPlan>{plan});
    p.ditems = lab_upload(p.items);
    p.didx = lab_upload(idx), p.dlim = lab_upload(lim), p.dq = lab_upload(q);
    const size_t rows = (size_t)p.sp * p.T * p.H;
    p.part_o = lab_alloc<float>(rows * p.hd), p.part_ml = lab_alloc<float>(rows * 2);
    p.dout = lab_alloc<uint16_t>(q.size());
}

int main(int argc, char **argv) {
    const LabArgs a = lab_args(argc, argv);
    Prefill p = {};
    p.T = lab_int(a, 0, 512), p.H = lab_int(a, 1, 32), p.KVH = lab_int(a, 2, p.H);
    p.hd = lab_int(a, 3, 128);
    if (!lab_device()) return 0;
    LabRng rng{8};
    KVCache kv;
    if (kv_init(&kv, 1, p.KVH, p.hd, 1, 0) || kv_set_half(&kv, 0)) return 2;
    const LabSeq s = lab_seq(&kv, -1, p.T, rng);
    std::vector<int> seqs(p.T, s.id), pos(p.T); // row i: the sequence's token i
    for (int i = 0; i < p.T; i++) pos[i] = i;
    std::vector<float> q((size_t)p.T * p.H * p.hd); // [T, H*hd] f32
    lab_fill(q, rng, 2.0f);
    const std::vector<float> ref = lab_attention_ref(q, &kv, seqs, pos, p.H, p.KVH, p.hd);
    setup(p, s, q);
    CK(p.step());
    char what[80];
    snprintf(what, sizeof what, "prefill T=%d %d/%d hd%d", p.T, p.H, p.KVH, p.hd);
    const int bad = lab_attention_check(what, p.dout, ref);
    // each item's K/V once, q, the partials written and read, out
    double bytes = q.size() * 4.0 + (double)p.sp * p.T * p.H * (p.hd + 2) * 4 * 2 + q.size() * 2.0;
    for (const AttnItem &it : p.items) bytes += (double)it.n_keys * p.KVH * p.hd * 2 * 2;
    lab_time(a, what, bytes, [&] { return p.step(); });
    kv_free(&kv);
    return bad;
}
