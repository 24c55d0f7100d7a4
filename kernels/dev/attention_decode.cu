// attention_decode.cu - the lab for the shared-prefix decode attention (kernels/attention.cu:
// attention_partial_cuda per source of keys, then attention_merge_cuda) against the CPU's
// attention (runtime/cpu/attention.c) on the same bf16 keys and values: C chains of one
// P-token prefix, each with own_len tokens of its own and one query row. The prefix is read once
// per item of up to ATTN_MAX_QVECS query vectors, not once per chain: the bytes counted for the
// GB/s are those that must move that way. Default: Llama-2-7B's heads (32 of 128, MHA), 64
// chains of a 1024-token prefix.
// Usage: attention_decode [--check] [P C n_heads n_kv_heads head_dim own_len]
#include "dev/attention_lab.h"
#include "kernels.h"

struct Decode {
    int P, C, H, KVH, hd, own;
    int sp, len_pre;                 // prefix key splits and their length
    std::vector<AttnItem> pre, mine; // [items of <= per_item chains], [C]
    AttnPlan plan;                   // prefix splits are parts [0, sp), own part is sp
    AttnPlan *dplan;                 // device copy
    AttnItem *dpre, *dmine;          // device copies of pre, mine
    int *didx, *dlim_pre, *dlim_own; // [C] each: row order, keys seen per source
    float *dq, *part_o, *part_ml;    // [C, H*hd]; [sp+1, C, H, hd]; [sp+1, C, H, 2] f32
    uint16_t *dout;                  // [C, H*hd] bf16
    cudaError_t step() const {       // the three launches of one layer's decode attention
        cudaError_t e =
            attention_partial_cuda(part_o, part_ml, &dplan->src[0], (int)pre.size(), sp, dq, H * hd,
                                   dpre, didx, dlim_pre, C, 0, H, KVH, hd, 0);
        if (e == cudaSuccess)
            e = attention_partial_cuda(part_o, part_ml, &dplan->src[1], C, 1, dq, H * hd, dmine,
                                       didx, dlim_own, C, 0, H, KVH, hd, 0);
        if (e == cudaSuccess)
            e = attention_merge_cuda(dout, part_o, part_ml, dplan, dlim_pre, C, H, hd, 0);
        return e;
    }
};

// The items and the plan over device sequences prefix and chains[C] (kernel_types.h).
static void setup(Decode &d, const LabSeq &prefix, const std::vector<LabSeq> &chains,
                  const std::vector<float> &q) {
    const int per_item = ATTN_MAX_QVECS / (d.H / d.KVH);
    for (int r0 = 0; r0 < d.C; r0 += per_item)
        d.pre.push_back({prefix.k, prefix.v, d.P, d.P, r0, std::min(per_item, d.C - r0)});
    for (int c = 0; c < d.C; c++) d.mine.push_back({chains[c].k, chains[c].v, d.own, d.own, c, 1});
    lab_splits((int)d.pre.size() * d.KVH, d.P, &d.sp, &d.len_pre);
    d.plan = {{{(int)d.pre.size(), d.sp, d.len_pre, 0}, {d.C, 1, (d.own + 31) / 32 * 32, d.sp}}};
    std::vector<int> idx(d.C), lim_pre(d.C, d.P), lim_own(d.C, d.own);
    for (int c = 0; c < d.C; c++) idx[c] = c;
    d.dplan = lab_upload(std::vector<AttnPlan>{d.plan});
    d.dpre = lab_upload(d.pre), d.dmine = lab_upload(d.mine);
    d.didx = lab_upload(idx), d.dlim_pre = lab_upload(lim_pre), d.dlim_own = lab_upload(lim_own);
    d.dq = lab_upload(q);
    const size_t rows = (size_t)(d.sp + 1) * d.C * d.H;
    d.part_o = lab_alloc<float>(rows * d.hd), d.part_ml = lab_alloc<float>(rows * 2);
    d.dout = lab_alloc<uint16_t>(q.size());
}

int main(int argc, char **argv) {
    const LabArgs a = lab_args(argc, argv);
    Decode d = {};
    d.P = lab_int(a, 0, 1024), d.C = lab_int(a, 1, 64), d.H = lab_int(a, 2, 32);
    d.KVH = lab_int(a, 3, d.H), d.hd = lab_int(a, 4, 128), d.own = lab_int(a, 5, 16);
    if (!lab_device()) return 0;
    LabRng rng{7};
    KVCache kv;
    if (kv_init(&kv, 1, d.KVH, d.hd, d.C + 1, 0) || kv_set_half(&kv, 0)) return 2;
    const LabSeq prefix = lab_seq(&kv, -1, d.P, rng);
    std::vector<LabSeq> chains;
    std::vector<int> seqs, pos(d.C, d.P + d.own - 1); // chain c's row: its last own token
    for (int c = 0; c < d.C; c++) chains.push_back(lab_seq(&kv, prefix.id, d.own, rng));
    for (const LabSeq &s : chains) seqs.push_back(s.id);
    std::vector<float> q((size_t)d.C * d.H * d.hd); // [C, H*hd] f32
    lab_fill(q, rng, 2.0f);
    const std::vector<float> ref = lab_attention_ref(q, &kv, seqs, pos, d.H, d.KVH, d.hd);
    setup(d, prefix, chains, q);
    CK(d.step());
    char what[80];
    snprintf(what, sizeof what, "decode P=%d C=%d %d/%d hd%d", d.P, d.C, d.H, d.KVH, d.hd);
    const int bad = lab_attention_check(what, d.dout, ref);
    // prefix K/V once per item, own K/V per chain, q, the partials written and read, out
    const double kvd = d.KVH * d.hd, bytes = d.pre.size() * d.P * kvd * 4 +
                                             (double)d.C * d.own * kvd * 4 + q.size() * 4.0 +
                                             (d.sp + 1.0) * d.C * d.H * (d.hd + 2) * 4 * 2 +
                                             q.size() * 2.0;
    lab_time(a, what, bytes, [&] { return d.step(); });
    kv_free(&kv);
    return bad;
}
