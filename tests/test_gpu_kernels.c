// test_gpu_kernels.c - the element-wise CUDA kernels against their CPU counterparts
// (runtime/cpu/ops.c, fused.c, quant.c) on fresh random inputs, awkward sizes and outliers
// (attention: test_gpu_attention.c; sampling: test_gpu_sample.c). Outputs are poisoned before each
// launch so an unwritten element fails. Tolerances are |gpu - cpu| <= abs + rel * |cpu| with the
// reason next to each. Without a CUDA device every test reports SKIP and the binary exits 0.
#include "cuda/forward_cuda.h"
#include "gpu_util.h"
#include "kernels.h"
#include "cpu/fused.h"
#include "cpu/ops.h"
#include "model/quant.h"

#include <string.h>

// ---- embed: exact (bf16 -> f32 is exact; the CPU dequantizes the same bf16 table) ----
static void test_embed(int vocab, int dim, int n) {
    uint16_t *table = malloc(sizeof(uint16_t) * vocab * dim);
    int *tok = malloc(sizeof(int) * n);
    float *ref = malloc(sizeof(float) * n * dim), *got = malloc(sizeof(float) * n * dim);
    for (int i = 0; i < vocab * dim; i++) table[i] = f32_to_bf16(value());
    for (int i = 0; i < n; i++) tok[i] = i == 0 ? vocab - 1 : irand(vocab);
    Weight w = {table, GGML_TYPE_BF16, dim, vocab, (size_t)dim * 2, "embd", NULL};
    embed(ref, &w, tok, n);
    uint16_t *dt = upload(table, sizeof(uint16_t) * vocab * dim);
    int *dtok = upload(tok, sizeof(int) * n);
    float *dx = dmalloc(sizeof(float) * n * dim);
    CHECK(embed_cuda(dx, dt, dtok, n, dim, vocab, 0) == cudaSuccess, "embed launch");
    download(got, dx, sizeof(float) * n * dim);
    CHECK(compare("embed", got, ref, (size_t)n * dim, 0, 0) == 0, "embed %dx%d", n, dim);
    cudaFree(dt), cudaFree(dtok), cudaFree(dx);
    free(table), free(tok), free(ref), free(got);
}

// ---- rmsnorm: bf16 output, so rel 2^-8 (<= 2^-9 rounding + fp32 vs double sum of squares,
//      ~1e-6 relative); abs 1e-6 for values rounding near zero ----
static void test_rmsnorm(int n, int dim) {
    float *x = malloc(sizeof(float) * n * dim), *w = malloc(sizeof(float) * dim);
    float *ref = malloc(sizeof(float) * n * dim), *got = malloc(sizeof(float) * n * dim);
    uint16_t *gb = malloc(sizeof(uint16_t) * n * dim);
    for (int i = 0; i < n * dim; i++) x[i] = value();
    for (int j = 0; j < dim; j++) w[j] = 1.0f + 0.5f * frand();
    rmsnorm(ref, x, w, n, dim, 1e-5f);
    float *dx = upload(x, sizeof(float) * n * dim), *dw = upload(w, sizeof(float) * dim);
    uint16_t *dout = dmalloc(sizeof(uint16_t) * n * dim);
    CHECK(rmsnorm_cuda(dout, dx, dw, NULL, n, dim, 1e-5f, 0) == cudaSuccess, "rmsnorm launch");
    download(gb, dout, sizeof(uint16_t) * n * dim);
    bf16_to_f32_array(got, gb, (size_t)n * dim);
    CHECK(compare("rmsnorm", got, ref, (size_t)n * dim, 1e-6f, BF16_EPS) == 0, "rmsnorm %dx%d", n,
          dim);
    // gathered rows (the final norm over out_rows): row i of the output is x[rows[i]]
    int rows[2] = {n - 1, 0};
    int *drows = upload(rows, sizeof rows);
    CHECK(rmsnorm_cuda(dout, dx, dw, drows, 2, dim, 1e-5f, 0) == cudaSuccess, "rmsnorm rows");
    download(gb, dout, sizeof(uint16_t) * 2 * dim);
    bf16_to_f32_array(got, gb, (size_t)2 * dim);
    CHECK(compare("rmsnorm gathered row", got, ref + (size_t)(n - 1) * dim, dim, 1e-6f, BF16_EPS) ==
              0,
          "rmsnorm gathered");
    cudaFree(dx), cudaFree(dw), cudaFree(dout), cudaFree(drows);
    free(x), free(w), free(ref), free(got), free(gb);
}

// ---- swiglu: bf16 output: rel 2^-8; abs 1e-6 (silu near 0). expf on both sides ----
static void test_swiglu(int n, int hidden) {
    size_t c = (size_t)n * hidden;
    float *gu = malloc(sizeof(float) * 2 * c), *gate = malloc(sizeof(float) * c);
    float *up = malloc(sizeof(float) * c), *got = malloc(sizeof(float) * c);
    uint16_t *gb = malloc(sizeof(uint16_t) * c);
    for (size_t i = 0; i < 2 * c; i++) gu[i] = 4.0f * value();
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hidden; j++) {
            gate[(size_t)i * hidden + j] = gu[(size_t)i * 2 * hidden + j];
            up[(size_t)i * hidden + j] = gu[(size_t)i * 2 * hidden + hidden + j];
        }
    swiglu(gate, up, n, hidden);
    float *dgu = upload(gu, sizeof(float) * 2 * c);
    uint16_t *dout = dmalloc(sizeof(uint16_t) * c);
    CHECK(swiglu_cuda(dout, dgu, n, hidden, 0) == cudaSuccess, "swiglu launch");
    download(gb, dout, sizeof(uint16_t) * c);
    bf16_to_f32_array(got, gb, c);
    CHECK(compare("swiglu", got, gate, c, 1e-6f, BF16_EPS) == 0, "swiglu %dx%d", n, hidden);
    cudaFree(dgu), cudaFree(dout);
    free(gu), free(gate), free(up), free(got), free(gb);
}

// ---- rope + KV store against the CPU twin rope_qkv_store (cpu/fused.h: add_bias, rmsnorm,
//      rope_table, rope_apply, f32_to_bf16). q stays f32: the angle is computed in double on both
//      sides, the rotation in f32 (nvcc may fuse a*c - b*s into an FMA): abs 1e-5 + rel 1e-5
//      against values of magnitude ~|a|+|b|. k is stored bf16: against the CPU pieces' f32 k
//      (rope_k_f32 below) rel 2^-8 plus the q tolerance, and the twin's bf16 k must be that f32 k
//      rounded, exactly (comparing two roundings would need a whole bf16 step).
//      v is only biased (the same f32 add) and rounded: exact. The architectures' variants
//      (arch below): qwen2's biases, qwen3's per-head q/k RMSNorm (float sums of hd <= 128
//      squares on the GPU, double on the CPU: ~1e-7 relative, inside the tolerance), NeoX pairs,
//      Llama 3.x frequency factors and linear scaling ----
enum { ROPE_LLAMA, ROPE_QWEN2, ROPE_QWEN3, ROPE_LLAMA3 };
// The architecture's parameters, pointing into host (h) or device (d) copies of one set of
// biases [w], norm weights [hd] each and frequency factors [hd / 2].
static RopeParams rope_params(int arch, const float *bias, const float *qn, const float *kn,
                              const float *fac) {
    RopeParams rp = {.base = 10000.0f, .linear = 1.0f, .eps = 1e-6f};
    if (arch == ROPE_QWEN2) rp.bias = bias, rp.neox = 1;
    if (arch == ROPE_QWEN3) rp.q_norm = qn, rp.k_norm = kn, rp.neox = 1;
    if (arch == ROPE_LLAMA3) rp.factors = fac, rp.linear = 2.0f;
    return rp;
}

// The f32 k of row i before the cache's bf16 rounding, from the CPU pieces in rope_qkv_store's
// order (bias, per-head norm, rotation): the reference the GPU's bf16 k is held to.
// k: [kvd] out; qkv_row: [w] the row as uploaded (unbiased; the twin leaves its k and v alone).
static void rope_k_f32(float *k, const float *qkv_row, int dim, int n_kv, int hd, int pos,
                       const RopeParams *hp) {
    const int kvd = n_kv * hd;
    float *cs = malloc(sizeof(float) * hd); // [hd / 2, 2] cos, sin
    memcpy(k, qkv_row + dim, sizeof(float) * kvd);
    if (hp->bias) add_bias(k, hp->bias + dim, 1, kvd);
    if (hp->k_norm) rmsnorm(k, k, hp->k_norm, n_kv, hd, hp->eps);
    rope_table(cs, &pos, 1, hd, hp->base, hp->linear, hp->factors);
    rope_apply(k, cs, 1, n_kv, hd, hp->neox);
    free(cs);
}

static void test_rope(int n, int n_heads, int n_kv, int hd, int n_layers, int layer, int arch) {
    const int dim = n_heads * hd, kvd = n_kv * hd, w = dim + 2 * kvd, cap = n + 3;
    float *qkv = malloc(sizeof(float) * n * w), *got = malloc(sizeof(float) * n * w);
    RowKV *rows = malloc(sizeof(RowKV) * n), *hrows = malloc(sizeof(RowKV) * n);
    for (int i = 0; i < n * w; i++) qkv[i] = value();
    size_t cache_elems = (size_t)n_layers * cap * kvd;
    uint16_t *dk = dmalloc(cache_elems * 2), *dv = dmalloc(cache_elems * 2);
    uint16_t *hk = calloc(cache_elems, 2), *hv = calloc(cache_elems, 2); // the CPU's cache
    // Each row its own slot, shuffled over the cache's cap slots: a kernel that stores a row
    // anywhere but where it is told fails. ((i * 7) % n was no permutation for n = 7: every row
    // went to slot 0, and blocks raced on one KV row.)
    int *slot = malloc(sizeof(int) * cap);
    for (int i = 0; i < cap; i++) slot[i] = i;
    for (int i = cap - 1; i > 0; i--) {
        int j = irand(i + 1), t = slot[i];
        slot[i] = slot[j], slot[j] = t;
    }
    for (int i = 0; i < n; i++) {
        const int pos = i == 0 ? 0 : irand(8192);
        rows[i] = (RowKV){dk, dv, cap, slot[i], pos};
        hrows[i] = (RowKV){hk, hv, cap, slot[i], pos};
    }
    float *bias = malloc(sizeof(float) * w), *qn = malloc(sizeof(float) * hd);
    float *kn = malloc(sizeof(float) * hd), *fac = malloc(sizeof(float) * hd / 2);
    for (int e = 0; e < w; e++) bias[e] = value();
    for (int e = 0; e < hd; e++) qn[e] = 1 + 0.3f * value(), kn[e] = 1 + 0.3f * value();
    for (int j = 0; j < hd / 2; j++) fac[j] = 1 + 7.0f * j / (hd / 2);
    float *dbias = upload(bias, sizeof(float) * w), *dqn = upload(qn, sizeof(float) * hd);
    float *dkn = upload(kn, sizeof(float) * hd), *dfac = upload(fac, sizeof(float) * hd / 2);
    const RopeParams hp = rope_params(arch, bias, qn, kn, fac);
    const RopeParams rp = rope_params(arch, dbias, dqn, dkn, dfac);
    float *dqkv = upload(qkv, sizeof(float) * n * w); // unbiased: the kernel adds the biases
    RowKV *drows = upload(rows, sizeof(RowKV) * n);
    CHECK(rope_qkv_store_cuda(dqkv, drows, n, layer, n_heads, n_kv, hd, &rp, 0) == cudaSuccess,
          "rope launch");
    CHECK(rope_qkv_store(qkv, hrows, n, layer, n_heads, n_kv, hd, &hp) == 0, "CPU rope");
    download(got, dqkv, sizeof(float) * n * w);
    float *gq = malloc(sizeof(float) * n * dim), *rq = malloc(sizeof(float) * n * dim);
    float *gk = malloc(sizeof(float) * n * kvd), *rk = malloc(sizeof(float) * n * kvd);
    float *fk = malloc(sizeof(float) * n * kvd); // [n, kvd] the f32 k before rounding
    int twin_bad = 0;
    float *gv = malloc(sizeof(float) * n * kvd), *rv = malloc(sizeof(float) * n * kvd);
    uint16_t *ck = malloc(cache_elems * 2), *cv = malloc(cache_elems * 2);
    download(ck, dk, cache_elems * 2);
    download(cv, dv, cache_elems * 2);
    for (int i = 0; i < n; i++) {
        memcpy(gq + (size_t)i * dim, got + (size_t)i * w, sizeof(float) * dim);
        memcpy(rq + (size_t)i * dim, qkv + (size_t)i * w, sizeof(float) * dim);
        size_t off = ((size_t)layer * cap + rows[i].slot) * kvd;
        bf16_to_f32_array(gk + (size_t)i * kvd, ck + off, kvd);
        bf16_to_f32_array(gv + (size_t)i * kvd, cv + off, kvd);
        bf16_to_f32_array(rk + (size_t)i * kvd, hk + off, kvd);
        rope_k_f32(fk + (size_t)i * kvd, qkv + (size_t)i * w, dim, n_kv, hd, rows[i].pos, &hp);
        for (int e = 0; e < kvd; e++) // the twin: the f32 k rounded, bit for bit
            twin_bad += hk[off + e] != f32_to_bf16(fk[(size_t)i * kvd + e]);
        bf16_to_f32_array(rv + (size_t)i * kvd, hv + off, kvd);
    }
    CHECK(compare("rope q", gq, rq, (size_t)n * dim, 1e-5f, 1e-5f) == 0, "rope q hd %d arch %d", hd,
          arch);
    CHECK(compare("rope k -> cache (bf16)", gk, fk, (size_t)n * kvd, 1e-5f, BF16_EPS) == 0,
          "rope k arch %d", arch);
    CHECK(twin_bad == 0, "CPU twin rope_qkv_store: %d k values not the f32 k rounded (arch %d)",
          twin_bad, arch);
    CHECK(compare("v -> cache (bf16)", gv, rv, (size_t)n * kvd, 0, 0) == 0, "v store arch %d",
          arch);
    cudaFree(dk), cudaFree(dv), cudaFree(dqkv), cudaFree(drows);
    cudaFree(dbias), cudaFree(dqn), cudaFree(dkn), cudaFree(dfac);
    free(bias), free(qn), free(kn), free(fac), free(hk), free(hv), free(hrows);
    free(qkv), free(got), free(rows), free(slot);
    free(gq), free(rq), free(gk), free(rk), free(fk), free(gv), free(rv), free(ck), free(cv);
}

// ---- convert: f32 -> bf16 is bit-exact against quant.c's round-to-nearest-even ----
static void test_convert(int64_t count) {
    float *x = malloc(sizeof(float) * count);
    uint16_t *got = malloc(sizeof(uint16_t) * count);
    for (int64_t i = 0; i < count; i++) x[i] = value() * (i % 7 == 0 ? 1e-3f : 1.0f);
    float *dx = upload(x, sizeof(float) * count);
    uint16_t *dy = dmalloc(sizeof(uint16_t) * count);
    CHECK(f32_to_bf16_cuda(dy, dx, count, 0) == cudaSuccess, "convert launch");
    download(got, dy, sizeof(uint16_t) * count);
    int bad = 0;
    for (int64_t i = 0; i < count; i++) bad += got[i] != f32_to_bf16(x[i]);
    CHECK(bad == 0, "f32_to_bf16: %d of %lld differ", bad, (long long)count);
    cudaFree(dx), cudaFree(dy);
    free(x), free(got);
}

int main(void) {
    if (!forward_cuda_available()) {
        SKIP("no CUDA device: kernel parity tests not run");
        return check_done("test_gpu_kernels");
    }
    test_convert(100003);
    test_embed(1001, 577, 13);
    test_rmsnorm(7, 576);
    test_rmsnorm(3, 4099);
    test_swiglu(5, 1537);
    test_rope(9, 9, 3, 64, 2, 1, ROPE_LLAMA);   // SmolLM2 shape, GQA 3
    test_rope(5, 32, 8, 128, 1, 0, ROPE_LLAMA); // hd 128, GQA 4
    test_rope(7, 12, 2, 128, 2, 1, ROPE_QWEN2); // Qwen2.5-1.5B's heads
    test_rope(6, 16, 8, 128, 2, 0, ROPE_QWEN3); // Qwen3-0.6B's heads (q wider than dim)
    test_rope(5, 32, 8, 64, 1, 0, ROPE_LLAMA3); // Llama-3.2-1B's heads, rope_freqs + linear
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "no asynchronous error");
    return check_done("test_gpu_kernels");
}
