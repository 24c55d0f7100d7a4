// cpu/fused.c - the CUDA kernels' fusions as compositions of the CPU operations (fused.h).
#include "cpu/fused.h"
#include "cpu/ops.h"
#include "model/quant.h"

#include <stdlib.h>
#include <string.h>

int rope_qkv_store(float *qkv, const RowKV *rows, int n, int layer, int n_heads, int n_kv_heads,
                   int head_dim, const RopeParams *rp) {
    const int qd = n_heads * head_dim, kvd = n_kv_heads * head_dim, w = qd + 2 * kvd;
    // one row at a time: its k and v in scratch, since qkv's are left alone (as the GPU does)
    float *kv = malloc(sizeof(float) * 2 * kvd);  // [k (kv_dim) | v (kv_dim)]
    float *cs = malloc(sizeof(float) * head_dim); // [head_dim / 2, 2] the row's cos and sin
    if (!kv || !cs) {
        free(kv), free(cs);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        float *q = qkv + (size_t)i * w, *k = kv, *v = kv + kvd;
        memcpy(kv, q + qd, sizeof(float) * 2 * kvd);
        if (rp->bias) { // qwen2: q, k and v biases, before anything else
            add_bias(q, rp->bias, 1, qd);
            add_bias(kv, rp->bias + qd, 1, 2 * kvd);
        }
        if (rp->q_norm) { // qwen3: every head normed on its own, before the rotation
            rmsnorm(q, q, rp->q_norm, n_heads, head_dim, rp->eps);
            rmsnorm(k, k, rp->k_norm, n_kv_heads, head_dim, rp->eps);
        }
        rope_table(cs, &rows[i].pos, 1, head_dim, rp->base, rp->linear, rp->factors);
        rope_apply(q, cs, 1, n_heads, head_dim, rp->neox);
        rope_apply(k, cs, 1, n_kv_heads, head_dim, rp->neox);
        const size_t at = ((size_t)layer * rows[i].cap + rows[i].slot) * kvd;
        for (int e = 0; e < kvd; e++) {
            rows[i].k[at + e] = f32_to_bf16(k[e]);
            rows[i].v[at + e] = f32_to_bf16(v[e]);
        }
    }
    free(kv), free(cs);
    return 0;
}
