// test_gpu_kernels.c - every CUDA kernel against its CPU counterpart (runtime/ops_cpu.c,
// attention_cpu.c, sampler.c) on fresh random inputs, awkward sizes, GQA ratios > 1, long
// prefixes and outliers. Outputs are poisoned before each launch so an unwritten element fails.
// Tolerances are |gpu - cpu| <= abs + rel * |cpu| with the reason next to each.
// Without a CUDA device every test reports SKIP and the binary exits 0.
#include "attention.h"
#include "check.h"
#include "forward_cuda.h"
#include "kernels.h"
#include "kvcache.h"
#include "ops.h"
#include "quant.h"
#include "sampler.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BF16_EPS (1.0f / 256.0f) // 2^-8: spacing of bf16 at 1 (relative rounding <= 2^-9)

static uint64_t rng_state = 0x1234abcdULL;
static float frand(void) { // uniform [-1, 1)
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}
static int irand(int n) { return (int)((frand() + 1.0f) * 0.5f * n) % n; }
// Mostly N(0,1)-like values with ~1% outliers 30x larger.
static float value(void) {
    float v = frand() + frand() + frand();
    return irand(100) == 0 ? 30.0f * v : v;
}
static float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

static void *dmalloc(size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        fprintf(stderr, "cudaMalloc(%zu) failed\n", bytes);
        exit(1);
    }
    cudaMemset(p, 0xff, bytes); // poison: NaN as f32, NaN as bf16
    return p;
}
static void *upload(const void *h, size_t bytes) {
    void *d = dmalloc(bytes);
    cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    return d;
}
static void download(void *h, const void *d, size_t bytes) {
    cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost);
}

// Compares n values; returns the count outside abs + rel*|ref| (NaN always fails).
static int compare(const char *what, const float *got, const float *ref, size_t n, float abs_tol,
                   float rel_tol) {
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), tol = abs_tol + rel_tol * fabs(ref[i]);
        if (!(d <= tol)) {
            if (bad < 3)
                fprintf(stderr, "  %s[%zu]: gpu %g cpu %g (tol %g)\n", what, i, got[i], ref[i], tol);
            bad++;
        }
        if (d > worst) worst = d;
    }
    printf("  %-28s n=%-8zu max|diff| %.3g%s\n", what, n, worst, bad ? "  FAIL" : "");
    return bad;
}

static void bf16_to_f32_array(float *dst, const uint16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}

// ---- embed: exact (bf16 -> f32 is exact; the CPU dequantizes the same bf16 table) ----
static void test_embed(int vocab, int dim, int n) {
    uint16_t *table = malloc(sizeof(uint16_t) * vocab * dim);
    int *tok = malloc(sizeof(int) * n);
    float *ref = malloc(sizeof(float) * n * dim), *got = malloc(sizeof(float) * n * dim);
    for (int i = 0; i < vocab * dim; i++) table[i] = f32_to_bf16(value());
    for (int i = 0; i < n; i++) tok[i] = i == 0 ? vocab - 1 : irand(vocab);
    Weight w = {table, GGML_TYPE_BF16, dim, vocab, (size_t)dim * 2, "embd"};
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
    CHECK(compare("rmsnorm gathered row", got, ref + (size_t)(n - 1) * dim, dim, 1e-6f, BF16_EPS) == 0,
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

// ---- rope + KV store. q stays f32: the angle is computed in double on both sides, the
//      rotation in f32 (nvcc may fuse a*c - b*s into an FMA): abs 1e-5 + rel 1e-5 against
//      values of magnitude ~|a|+|b|. k, v are stored bf16: rel 2^-8 plus the q tolerance ----
static void test_rope(int n, int n_heads, int n_kv, int hd, int n_layers, int layer) {
    const int dim = n_heads * hd, kvd = n_kv * hd, w = dim + 2 * kvd, cap = n + 3;
    float *qkv = malloc(sizeof(float) * n * w), *q = malloc(sizeof(float) * n * dim);
    float *k = malloc(sizeof(float) * n * kvd), *v = malloc(sizeof(float) * n * kvd);
    float *got = malloc(sizeof(float) * n * w);
    int *pos = malloc(sizeof(int) * n);
    RowKV *rows = malloc(sizeof(RowKV) * n);
    for (int i = 0; i < n * w; i++) qkv[i] = value();
    size_t cache_elems = (size_t)n_layers * cap * kvd;
    uint16_t *dk = dmalloc(cache_elems * 2), *dv = dmalloc(cache_elems * 2);
    for (int i = 0; i < n; i++) {
        pos[i] = i == 0 ? 0 : irand(8192);
        memcpy(q + (size_t)i * dim, qkv + (size_t)i * w, sizeof(float) * dim);
        memcpy(k + (size_t)i * kvd, qkv + (size_t)i * w + dim, sizeof(float) * kvd);
        memcpy(v + (size_t)i * kvd, qkv + (size_t)i * w + dim + kvd, sizeof(float) * kvd);
        RowKV r = {dk, dv, cap, (i * 7) % n, pos[i]}; // slots permuted: rows go where told
        rows[i] = r;
    }
    rope(q, pos, n, n_heads, hd, 10000.0f);
    rope(k, pos, n, n_kv, hd, 10000.0f);
    float *dqkv = upload(qkv, sizeof(float) * n * w);
    RowKV *drows = upload(rows, sizeof(RowKV) * n);
    CHECK(rope_qkv_store_cuda(dqkv, drows, n, layer, n_heads, n_kv, hd, 10000.0f, 0) == cudaSuccess,
          "rope launch");
    download(got, dqkv, sizeof(float) * n * w);
    float *gq = malloc(sizeof(float) * n * dim), *gk = malloc(sizeof(float) * n * kvd);
    float *gv = malloc(sizeof(float) * n * kvd), *rv = malloc(sizeof(float) * n * kvd);
    uint16_t *ck = malloc(cache_elems * 2), *cv = malloc(cache_elems * 2);
    download(ck, dk, cache_elems * 2);
    download(cv, dv, cache_elems * 2);
    for (int i = 0; i < n; i++) {
        memcpy(gq + (size_t)i * dim, got + (size_t)i * w, sizeof(float) * dim);
        size_t off = ((size_t)layer * cap + rows[i].slot) * kvd;
        bf16_to_f32_array(gk + (size_t)i * kvd, ck + off, kvd);
        bf16_to_f32_array(gv + (size_t)i * kvd, cv + off, kvd);
        for (int e = 0; e < kvd; e++) rv[(size_t)i * kvd + e] = round_bf16(v[(size_t)i * kvd + e]);
    }
    CHECK(compare("rope q", gq, q, (size_t)n * dim, 1e-5f, 1e-5f) == 0, "rope q hd %d", hd);
    CHECK(compare("rope k -> cache (bf16)", gk, k, (size_t)n * kvd, 1e-5f, BF16_EPS) == 0, "rope k");
    CHECK(compare("v -> cache (bf16)", gv, rv, (size_t)n * kvd, 0, 0) == 0, "v store");
    cudaFree(dk), cudaFree(dv), cudaFree(dqkv), cudaFree(drows);
    free(qkv), free(q), free(k), free(v), free(got), free(pos), free(rows);
    free(gq), free(gk), free(gv), free(rv), free(ck), free(cv);
}

// ---- attention ----------------------------------------------------------------------------
// A prefix of P tokens and C chains with own suffixes (decode: one row per chain), or, with
// C = 0, a prefill of P rows of one sequence. The CPU reference (attention_cpu.c) reads fp32
// K/V holding the same bf16-rounded values the GPU cache holds, so the only differences are
// fp32 summation order and the bf16 rounding of the output: rel 2^-8 of the output plus abs
// 1e-4 x max|v| for cancellation in sums over up to thousands of keys.
static void fill_kv(KVCache *kv, int id, int len, uint16_t *hk, uint16_t *hv, int n_layers,
                    int kvd) {
    KVSeq *s = &kv->seqs[id];
    float *kr = malloc(sizeof(float) * kvd), *vr = malloc(sizeof(float) * kvd); // one token
    for (int l = 0; l < n_layers; l++)
        for (int t = 0; t < s->cap; t++) {
            const size_t e0 = ((size_t)l * s->cap + t) * kvd; // the GPU layout: [layer, cap, kvd]
            for (int e = 0; e < kvd; e++) {
                float kk = value(), vv = value();
                kr[e] = round_bf16(kk);
                vr[e] = round_bf16(vv);
                hk[e0 + e] = f32_to_bf16(kk);
                hv[e0 + e] = f32_to_bf16(vv);
            }
            kv_put(kv, id, l, t, kr, vr); // the CPU layout (key tiles) is the cache's business
        }
    free(kr), free(vr);
    s->len = len;
}

static void test_attention(int P, int C, int n_heads, int n_kv, int hd, int n_splits_pre,
                           int n_splits_own) {
    const int n_layers = 2, layer = 1, kvd = n_kv * hd, group = n_heads / n_kv;
    const int per_item = ATTN_MAX_QVECS / group, prefill = C == 0, n = prefill ? P : C;
    KVCache kv;
    char err[200];
    kv_init(&kv, n_layers, n_kv, hd, C + 1, 0);
    int pre = kv_seq_new(&kv, -1, P, err, sizeof err);
    int *seq_ids = malloc(sizeof(int) * (C + 1));
    seq_ids[0] = pre;
    uint16_t **hk = malloc(sizeof(void *) * (C + 1)), **hv = malloc(sizeof(void *) * (C + 1));
    uint16_t **dkk = malloc(sizeof(void *) * (C + 1)), **dvv = malloc(sizeof(void *) * (C + 1));
    int *own_len = malloc(sizeof(int) * (C + 1));
    own_len[0] = P;
    for (int c = 1; c <= C; c++) {
        own_len[c] = 1 + irand(40);
        seq_ids[c] = kv_seq_new(&kv, pre, own_len[c] + 2, err, sizeof err);
    }
    for (int c = 0; c <= C; c++) {
        size_t e = (size_t)n_layers * kv.seqs[seq_ids[c]].cap * kvd;
        hk[c] = malloc(e * 2), hv[c] = malloc(e * 2);
        if (c == 0) kv.seqs[pre].len = P; // chains were forked from the full prefix
        fill_kv(&kv, seq_ids[c], own_len[c], hk[c], hv[c], n_layers, kvd);
        dkk[c] = upload(hk[c], e * 2), dvv[c] = upload(hv[c], e * 2);
    }
    for (int c = 1; c <= C; c++) kv.seqs[seq_ids[c]].n_prefix = P;
    // rows, their queries and limits
    int *rseq = malloc(sizeof(int) * n), *pos = malloc(sizeof(int) * n);
    int *lim_own = malloc(sizeof(int) * n), *lim_pre = malloc(sizeof(int) * n);
    int *idx = malloc(sizeof(int) * n);
    float *q = malloc(sizeof(float) * n * n_heads * hd);
    for (size_t e = 0; e < (size_t)n * n_heads * hd; e++) q[e] = value();
    for (int i = 0; i < n; i++) {
        int c = prefill ? 0 : i + 1;
        rseq[i] = seq_ids[c];
        int slot = prefill ? i : own_len[c] - 1; // a decode row is its chain's newest token
        pos[i] = (prefill ? 0 : P) + slot;
        lim_own[i] = slot + 1;
        lim_pre[i] = prefill ? 0 : P;
        idx[i] = i;
    }
    float *ref = malloc(sizeof(float) * n * n_heads * hd);
    Workspace ws;
    CHECK(ws_init(&ws, 1, 0) == 0, "workspace");
    CHECK(attention(ref, q, &kv, rseq, pos, n, layer, n_heads, n_kv, hd, &ws) == 0, "CPU attention");
    ws_free(&ws);
    // items: own = one per chain (decode) or chunks of the prefill rows; prefix = chunks of
    // the chains, so the prefix is read once per chunk of per_item chains
    AttnItem *own = malloc(sizeof(AttnItem) * n), *pit = malloc(sizeof(AttnItem) * n);
    int n_own = 0, n_pre = 0;
    for (int r0 = 0; r0 < n; r0 += prefill ? per_item : 1) {
        int c = prefill ? 0 : r0 + 1, nr = prefill ? (n - r0 < per_item ? n - r0 : per_item) : 1;
        AttnItem it = {dkk[c], dvv[c], kv.seqs[seq_ids[c]].cap, lim_own[r0 + nr - 1], r0, nr};
        own[n_own++] = it;
    }
    for (int r0 = 0; !prefill && r0 < n; r0 += per_item) {
        int nr = n - r0 < per_item ? n - r0 : per_item;
        AttnItem it = {dkk[0], dvv[0], P, P, r0, nr};
        pit[n_pre++] = it;
    }
    int max_own = 0;
    for (int i = 0; i < n; i++) max_own = lim_own[i] > max_own ? lim_own[i] : max_own;
    const int sp = prefill ? 0 : n_splits_pre, len_pre = ((P + sp - 1) / (sp ? sp : 1) + 31) / 32 * 32;
    const int len_own = ((max_own + n_splits_own - 1) / n_splits_own + 31) / 32 * 32;
    const int so = (max_own + len_own - 1) / len_own, parts = sp + so;
    const size_t ph = (size_t)parts * n * n_heads;
    float *dq = upload(q, sizeof(float) * n * n_heads * hd);
    float *po = dmalloc(sizeof(float) * ph * hd), *pml = dmalloc(sizeof(float) * ph * 2);
    AttnItem *down = upload(own, sizeof(AttnItem) * n_own);
    AttnItem *dpre = upload(pit, sizeof(AttnItem) * (n_pre ? n_pre : 1));
    int *didx = upload(idx, sizeof(int) * n), *dlo = upload(lim_own, sizeof(int) * n);
    int *dlp = upload(lim_pre, sizeof(int) * n);
    uint16_t *dout = dmalloc(sizeof(uint16_t) * n * n_heads * hd);
    if (sp)
        CHECK(attention_partial_cuda(po, pml, 0, sp, len_pre, dq, n_heads * hd, dpre, n_pre, didx,
                                     dlp, n, layer, n_heads, n_kv, hd, 0) == cudaSuccess,
              "attention prefix launch");
    CHECK(attention_partial_cuda(po, pml, sp, so, len_own, dq, n_heads * hd, down, n_own, didx, dlo,
                                 n, layer, n_heads, n_kv, hd, 0) == cudaSuccess,
          "attention own launch");
    CHECK(attention_merge_cuda(dout, po, pml, parts, n, n_heads, hd, 0) == cudaSuccess, "merge launch");
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "attention ran");
    uint16_t *gb = malloc(sizeof(uint16_t) * n * n_heads * hd);
    float *got = malloc(sizeof(float) * n * n_heads * hd);
    download(gb, dout, sizeof(uint16_t) * n * n_heads * hd);
    bf16_to_f32_array(got, gb, (size_t)n * n_heads * hd);
    char what[96];
    snprintf(what, sizeof what, "attention %s P=%d C=%d %d/%d hd%d", prefill ? "prefill" : "decode",
             P, C, n_heads, n_kv, hd);
    // max|v| is ~30x3 with outliers; 1e-4 of it bounds fp32 cancellation
    CHECK(compare(what, got, ref, (size_t)n * n_heads * hd, 1e-2f, BF16_EPS) == 0, "%s", what);
    for (int c = 0; c <= C; c++) cudaFree(dkk[c]), cudaFree(dvv[c]), free(hk[c]), free(hv[c]);
    cudaFree(dq), cudaFree(po), cudaFree(pml), cudaFree(down), cudaFree(dpre), cudaFree(didx);
    cudaFree(dlo), cudaFree(dlp), cudaFree(dout);
    free(hk), free(hv), free(dkk), free(dvv), free(own_len), free(seq_ids), free(rseq), free(pos);
    free(lim_own), free(lim_pre), free(idx), free(q), free(ref), free(own), free(pit), free(gb);
    free(got);
    kv_free(&kv);
}

// ---- fused sampler: the same token as sampler.c on identical logits and RNG counters (exact;
//      sampler.h allows a difference only when a cumulative sum lies within rounding of a
//      threshold, which random inputs essentially never hit), log-prob within 1e-5 abs +
//      1e-6 rel (double sums in a different order, then rounded to f32). With ld > vocab the
//      row is a padded vocabulary: columns [vocab, ld) hold logits far above the rest and must
//      never be drawn nor enter the log-prob (the CPU sampler sees only the first vocab) ----
static void test_sample(int vocab, int ld, int n) {
    float *logits = malloc(sizeof(float) * n * ld);
    SampleRow *args = malloc(sizeof(SampleRow) * n);
    const SamplerParams presets[] = {
        {0.0f, 0, 1.0f, 0.0f},     // greedy
        {0.7f, 0, 0.95f, 0.05f},   // the defaults
        {1.0f, 40, 1.0f, 0.0f},    // top-k only
        {0.8f, 40, 0.9f, 0.0f},    // top-k then top-p (renormalised over U)
        {1.5f, 0, 1.0f, 0.0f},     // hot, no truncation: the whole vocab is the kept set
        {0.6f, 0, 0.5f, 0.0f},     // top-p only
        {1.0f, 0, 1.0f, 0.2f},     // min-p only
        {1.0f, 1, 1.0f, 0.0f},     // top-k 1 = greedy
        {0.9f, 0, 0.0f, 0.0f},     // top-p 0 keeps the first token
        {1.0f, 100000, 0.99f, 0.01f}, // top-k >= vocab is off
    };
    const int np = (int)(sizeof presets / sizeof presets[0]);
    for (int i = 0; i < n; i++) {
        float *l = logits + (size_t)i * ld;
        for (int j = vocab; j < ld; j++) l[j] = 1e4f; // padding: would win every draw
        int kind = i % 4; // 0 peaked, 1 flat, 2 ties (coarse values), 3 masked + NaN entries
        for (int j = 0; j < vocab; j++) {
            float v = kind == 1 ? 0.3f * frand() : 3.0f * value();
            if (kind == 2) v = floorf(v * 2.0f) * 0.5f;
            if (kind == 3 && irand(50) == 0) v = -INFINITY;
            l[j] = v;
        }
        if (kind == 3) l[irand(vocab)] = NAN;
        if (kind == 0) l[irand(vocab)] += 12.0f;
        SampleRow a = {presets[i % np], 1000u + (uint64_t)i, (uint32_t)i * 7u, (uint32_t)i};
        args[i] = a;
    }
    float *dl = upload(logits, sizeof(float) * n * ld);
    SampleRow *da = upload(args, sizeof(SampleRow) * n);
    int *dids = dmalloc(sizeof(int) * n);
    float *dlp = dmalloc(sizeof(float) * n);
    CHECK(sample_cuda(dids, dlp, dl, da, n, vocab, ld, 0) == cudaSuccess, "sample launch");
    int *ids = malloc(sizeof(int) * n);
    float *lps = malloc(sizeof(float) * n);
    download(ids, dids, sizeof(int) * n);
    download(lps, dlp, sizeof(float) * n);
    Sampler s;
    sampler_init(&s, vocab);
    int same = 0, lp_ok = 0, padded = 0;
    for (int i = 0; i < n; i++) {
        float lp;
        padded += ids[i] < 0 || ids[i] >= vocab;
        int t = sample(&s, logits + (size_t)i * ld, &args[i].p, args[i].seed, args[i].chain,
                       args[i].step, &lp);
        if (t == ids[i]) same++;
        else
            fprintf(stderr, "  sample row %d (preset %d): gpu %d cpu %d\n", i, i % np, ids[i], t);
        if (fabsf(lps[i] - lp) <= 1e-5f + 1e-6f * fabsf(lp) || (isinf(lp) && lp == lps[i])) lp_ok++;
        else fprintf(stderr, "  logprob row %d: gpu %g cpu %g\n", i, lps[i], lp);
    }
    printf("  sample vocab=%-6d ld=%-6d rows=%d: %d same tokens, %d log-probs within tol\n", vocab,
           ld, n, same, lp_ok);
    CHECK(padded == 0, "sampler: %d of %d ids outside [0, %d)", padded, n, vocab);
    CHECK(same == n, "sampler: %d of %d tokens differ (vocab %d)", n - same, n, vocab);
    CHECK(lp_ok == n, "sampler: %d of %d log-probs differ", n - lp_ok, n);
    sampler_free(&s);
    cudaFree(dl), cudaFree(da), cudaFree(dids), cudaFree(dlp);
    free(logits), free(args), free(ids), free(lps);
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
    if (!cuda_device_available()) {
        SKIP("no CUDA device: kernel parity tests not run");
        return check_done("test_gpu_kernels");
    }
    test_convert(100003);
    test_embed(1001, 577, 13);
    test_rmsnorm(7, 576);
    test_rmsnorm(3, 4099);
    test_swiglu(5, 1537);
    test_rope(9, 9, 3, 64, 2, 1);   // SmolLM2 shape, GQA 3
    test_rope(5, 32, 8, 128, 1, 0); // hd 128, GQA 4
    // decode: long prefixes split across blocks, more chains than one item holds (GQA 3 -> 42
    // rows an item), MHA and hd 128
    test_attention(1000, 5, 9, 3, 64, 7, 1);
    test_attention(333, 50, 9, 3, 64, 3, 2);
    test_attention(2048, 64, 8, 2, 128, 16, 1);
    test_attention(77, 3, 4, 4, 128, 1, 1);
    // prefill (causal over the sequence's own rows), odd lengths, split keys
    test_attention(77, 0, 9, 3, 64, 1, 3);
    test_attention(300, 0, 16, 2, 128, 1, 2);
    test_attention(1, 0, 9, 3, 64, 1, 1);
    test_sample(1001, 1001, 80);
    test_sample(49152, 49152, 60);
    test_sample(32000, 32000, 40);
    test_sample(1001, 1088, 80); // padded vocabularies
    test_sample(49150, 49152, 40);
    return check_done("test_gpu_kernels");
}
