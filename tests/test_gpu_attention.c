// test_gpu_attention.c - kernels/attention.cu against the CPU attention (runtime/cpu/attention.c)
// over steps planned exactly as the forward pass plans them (runtime/cuda/batch_plan.c):
//   * two prefixes in one launch, rows with and without a prefix, chains that see different
//     prefix lengths (forked before and after their prompt grew), a chain with three rows in
//     one step, rows interleaved so the row indices of every item are a permutation;
//   * q read from the fused qkv rows (q_stride = dim + 2 kv_dim, k and v beside it);
//   * more chains than one item holds; long prefixes split across blocks; MHA and GQA; head
//     sizes 32, 64, 96, 128; prefill, and a prefill split across two calls;
//   * the graph's fixed grids (n items, batch_max_splits splits) give bit-identical output to
//     grids of the exact counts (the blocks past the counts do nothing);
//   * NaN: a NaN key reaches the output of the rows that see it (and only them), and the merge
//     passes a NaN partial on instead of skipping it as empty.
// Tolerance |gpu - cpu| <= 1e-3 + 2^-8 |cpu|: both read the same bf16 keys and values and work
// in fp32; the GPU output is rounded to bf16 (<= 2^-9 relative, the rel term), and the sums run
// in another order over up to 2048 keys of values up to ~90 (fp32 error ~1e-4: the abs term).
// Without a CUDA device the tests report SKIP and the binary exits 0.
#include "cpu/attention.h"
#include "cuda/batch_plan.h"
#include "cuda/forward_cuda.h"
#include "gpu_util.h"
#include "kernels.h"
#include "model/kvcache.h"
#include "model_util.h"

#include <string.h>

enum { LAYERS = 2, LAYER = 1, MAXS = 128, MAXR = 320 };

typedef struct {
    Config c;
    KVCache kv;                    // CPU storage for the reference; the bookkeeping the plan reads
    uint16_t *dk[MAXS], *dv[MAXS]; // device copies of each sequence: [LAYERS, cap, kv_dim] bf16
    BatchPlanner p;
    BatchMeta host_meta, dev_meta; // the plan in the pinned host block and in the device block
    char *host;
    void *dev;
    size_t upload;
} Scene;

static void scene_init(Scene *s, int n_heads, int n_kv, int hd) {
    memset(s, 0, sizeof *s);
    Config c = attention_config(LAYERS, n_heads, n_kv, hd, 64, 100, 8192);
    s->c = c;
    int n_sms = 1;
    cudaDeviceGetAttribute(&n_sms, cudaDevAttrMultiProcessorCount, 0);
    kv_init(&s->kv, LAYERS, n_kv, hd, MAXS, 0);
    batch_planner_init(&s->p, &c, MAXR, MAXS, n_sms);
    size_t bytes = batch_meta_layout(&s->host_meta, NULL, MAXR, &s->upload);
    s->host = malloc(bytes);
    s->dev = dmalloc(bytes);
    batch_meta_layout(&s->host_meta, s->host, MAXR, NULL);
    batch_meta_layout(&s->dev_meta, s->dev, MAXR, NULL);
}

static void scene_free(Scene *s) {
    for (int i = 0; i < MAXS; i++) cudaFree(s->dk[i]), cudaFree(s->dv[i]);
    kv_free(&s->kv);
    batch_planner_free(&s->p);
    free(s->host);
    cudaFree(s->dev);
}

// A sequence with every slot of every layer filled with random bf16 keys and values, the same
// on the CPU (fp32 holding the bf16 values) and on the device; len of them count as stored.
static int scene_seq(Scene *s, int parent, int cap, int len) {
    char err[160];
    const int id = kv_seq_new(&s->kv, parent, cap, err, sizeof err), kvd = s->c.kv_dim;
    CHECK(id >= 0, "kv_seq_new: %s", err);
    if (id < 0) exit(1);
    const size_t e = (size_t)LAYERS * cap * kvd;
    uint16_t *hk = malloc(e * 2 + 2), *hv = malloc(e * 2 + 2);
    float *kr = malloc(sizeof(float) * kvd), *vr = malloc(sizeof(float) * kvd);
    for (int l = 0; l < LAYERS; l++)
        for (int t = 0; t < cap; t++) {
            const size_t e0 = ((size_t)l * cap + t) * kvd;
            for (int j = 0; j < kvd; j++) {
                hk[e0 + j] = f32_to_bf16(value()), hv[e0 + j] = f32_to_bf16(value());
                kr[j] = bf16_to_f32(hk[e0 + j]), vr[j] = bf16_to_f32(hv[e0 + j]);
            }
            kv_put(&s->kv, id, l, t, kr, vr);
        }
    s->dk[id] = upload(hk, e * 2 + 2), s->dv[id] = upload(hv, e * 2 + 2);
    s->kv.seqs[id].len = len;
    free(hk), free(hv), free(kr), free(vr);
    return id;
}

// The two partial launches and the merge with the grids the forward pass uses (exact = 0) or
// grids of exactly the planned counts (exact = 1).
static int launch(const Scene *s, float *po, float *pml, const float *dqkv, int q_stride,
                  uint16_t *dout, int n, int exact) {
    const int H = s->c.n_heads, KV = s->c.n_kv_heads, hd = s->c.head_dim;
    const AttnPlan *hp = s->host_meta.plan;
    const int z = batch_max_splits(&s->p, n);
    const BatchMeta *d = &s->dev_meta;
    cudaError_t e = attention_partial_cuda(
        po, pml, &d->plan->src[0], exact ? hp->src[0].n_items : n, exact ? hp->src[0].n_splits : z,
        dqkv, q_stride, d->it_pre, d->idx_pre, d->lim_pre, n, LAYER, H, KV, hd, 0);
    if (e == cudaSuccess)
        e = attention_partial_cuda(po, pml, &d->plan->src[1], exact ? hp->src[1].n_items : n,
                                   exact ? hp->src[1].n_splits : z, dqkv, q_stride, d->it_own,
                                   d->idx_own, d->lim_own, n, LAYER, H, KV, hd, 0);
    if (e == cudaSuccess) e = attention_merge_cuda(dout, po, pml, d->plan, d->lim_pre, n, H, hd, 0);
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) fprintf(stderr, "  attention launch: %s\n", cudaGetErrorString(e));
    return e == cudaSuccess ? 0 : -1;
}

// Plans rows seqs[0..n) as one step, runs the kernels on random queries (embedded in qkv rows)
// and compares with the CPU attention. Commits the step if `commit`.
static void run(Scene *s, const char *what, const int *seqs, int n, int commit) {
    const int H = s->c.n_heads, hd = s->c.head_dim, dim = H * hd;
    const int stride = dim + 2 * s->c.kv_dim, z = batch_max_splits(&s->p, n);
    int *tokens = calloc(n, sizeof(int)), *pos = malloc(sizeof(int) * n);
    char err[160];
    if (batch_plan(&s->p, &s->host_meta, &s->kv, s->dk, s->dv, tokens, seqs, n, NULL, 0, err,
                   sizeof err)) {
        CHECK(0, "%s: plan: %s", what, err);
        free(tokens), free(pos);
        return;
    }
    for (int i = 0; i < n; i++) { // positions, independently of the plan
        int earlier = 0;
        for (int j = 0; j < i; j++) earlier += seqs[j] == seqs[i];
        pos[i] = kv_seq_pos(&s->kv, seqs[i]) + earlier;
    }
    cudaMemcpy(s->dev, s->host, s->upload, cudaMemcpyHostToDevice);
    float *qkv = malloc(sizeof(float) * n * stride), *q = malloc(sizeof(float) * n * dim);
    for (int i = 0; i < n * stride; i++) qkv[i] = value();
    for (int i = 0; i < n; i++)
        memcpy(q + (size_t)i * dim, qkv + (size_t)i * stride, sizeof(float) * dim);
    float *ref = malloc(sizeof(float) * n * dim), *got = malloc(sizeof(float) * n * dim);
    float *again = malloc(sizeof(float) * n * dim);
    Workspace ws;
    ws_init(&ws, 1, 0);
    CHECK(attention(ref, q, &s->kv, seqs, pos, n, LAYER, H, s->c.n_kv_heads, hd, &ws) == 0,
          "CPU attention");
    ws_free(&ws);
    const size_t parts = (size_t)2 * z * n * H;
    float *dqkv = upload(qkv, sizeof(float) * n * stride);
    float *po = dmalloc(sizeof(float) * parts * hd), *pml = dmalloc(sizeof(float) * parts * 2);
    uint16_t *dout = dmalloc(sizeof(uint16_t) * n * dim), *gb = malloc(sizeof(uint16_t) * n * dim);
    CHECK(launch(s, po, pml, dqkv, stride, dout, n, 0) == 0, "%s: launch", what);
    download(gb, dout, sizeof(uint16_t) * n * dim);
    bf16_to_f32_array(got, gb, (size_t)n * dim);
    CHECK(compare(what, got, ref, (size_t)n * dim, 1e-3f, BF16_EPS) == 0, "%s", what);
    // the same step with grids of exactly the planned counts: bit-identical
    cudaMemset(po, 0xff, sizeof(float) * parts * hd),
        cudaMemset(pml, 0xff, sizeof(float) * parts * 2);
    cudaMemset(dout, 0xff, sizeof(uint16_t) * n * dim);
    CHECK(launch(s, po, pml, dqkv, stride, dout, n, 1) == 0, "%s: exact-grid launch", what);
    download(gb, dout, sizeof(uint16_t) * n * dim);
    bf16_to_f32_array(again, gb, (size_t)n * dim);
    CHECK(memcmp(got, again, sizeof(float) * n * dim) == 0,
          "%s: fixed (graph) grids and exact grids differ", what);
    if (commit) batch_commit(&s->p, &s->kv);
    cudaFree(dqkv), cudaFree(po), cudaFree(pml), cudaFree(dout);
    free(tokens), free(pos), free(qkv), free(q), free(ref), free(got), free(again), free(gb);
}

// Two prefixes; chains of each; one forked after its prompt grew; sequences without a prefix;
// a chain with three rows; all interleaved.
static void test_mixed(int n_heads, int n_kv, int hd) {
    Scene s;
    scene_init(&s, n_heads, n_kv, hd);
    int p1 = scene_seq(&s, -1, 1100, 1000), p2 = scene_seq(&s, -1, 80, 77), id[16], m = 0;
    for (int c = 0; c < 5; c++) id[m++] = scene_seq(&s, p1, 48, 1 + c * 9);
    s.kv.seqs[p1].len = 1060; // the prompt grew: the next chains see 1060 prefix keys
    id[m++] = scene_seq(&s, p1, 48, 3);
    for (int c = 0; c < 3; c++) id[m++] = scene_seq(&s, p2, 16, 4 + c);
    id[m++] = scene_seq(&s, -1, 64, 40); // no prefix
    id[m++] = scene_seq(&s, -1, 64, 0);  // no prefix, its first token
    const int order[] = {8, 0, 9, 3, 7, 1, 5, 2, 6, 4, 4, 4, 10};
    int seqs[16], n = 0;
    for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++) seqs[n++] = id[order[i]];
    char what[96];
    snprintf(what, sizeof what, "mixed decode %d/%d hd%d", n_heads, n_kv, hd);
    run(&s, what, seqs, n, 0);
    scene_free(&s);
}

// C chains of one P-token prefix, one row each, own lengths 1..40.
static void test_chains(int P, int C, int n_heads, int n_kv, int hd) {
    Scene s;
    scene_init(&s, n_heads, n_kv, hd);
    int pre = scene_seq(&s, -1, P, P), seqs[MAXS];
    for (int c = 0; c < C; c++) seqs[c] = scene_seq(&s, pre, 48, irand(40));
    char what[96];
    snprintf(what, sizeof what, "decode P=%d C=%d %d/%d hd%d", P, C, n_heads, n_kv, hd);
    run(&s, what, seqs, C, 0);
    scene_free(&s);
}

// A prompt of P tokens prefilled in calls of `chunk` rows (causal: later calls see earlier).
static void test_prefill(int P, int chunk, int n_heads, int n_kv, int hd) {
    Scene s;
    scene_init(&s, n_heads, n_kv, hd);
    int id = scene_seq(&s, -1, P, 0), seqs[MAXR];
    for (int i = 0; i < chunk; i++) seqs[i] = id;
    for (int i0 = 0; i0 < P; i0 += chunk) {
        char what[96];
        const int n = P - i0 < chunk ? P - i0 : chunk;
        snprintf(what, sizeof what, "prefill %d..%d of %d %d/%d hd%d", i0, i0 + n, P, n_heads, n_kv,
                 hd);
        run(&s, what, seqs, n, 1);
    }
    scene_free(&s);
}

// The merge on hand-made partials: a NaN l or m is not an empty partial.
static void test_merge_nan(void) {
    enum { N = 5, HD = 32 };
    const AttnPlan plan = {{{N, 1, 32, 0}, {N, 1, 32, 1}}};
    const int lim_pre[N] = {5, 5, 0, 5, 5};
    // (m, l) of [part][row]; o = 1 + row + part everywhere
    const float ml[2][N][2] = {{{0, NAN}, {NAN, 1}, {NAN, NAN}, {1, 2}, {-INFINITY, 0}},
                               {{0, 1}, {0, 1}, {0.5f, 3}, {2, 1}, {-INFINITY, 0}}};
    float po[2 * N * HD];
    for (int p = 0; p < 2; p++)
        for (int r = 0; r < N; r++)
            for (int d = 0; d < HD; d++) po[(p * N + r) * HD + d] = 1.0f + r + p;
    AttnPlan *dplan = upload(&plan, sizeof plan);
    int *dlim = upload(lim_pre, sizeof lim_pre);
    float *dml = upload(ml, sizeof ml), *dpo = upload(po, sizeof po);
    uint16_t *dout = dmalloc(sizeof(uint16_t) * N * HD), out[N * HD];
    CHECK(attention_merge_cuda(dout, dpo, dml, dplan, dlim, N, 1, HD, 0) == cudaSuccess &&
              cudaDeviceSynchronize() == cudaSuccess,
          "merge launch");
    download(out, dout, sizeof out);
    float o[N];
    for (int r = 0; r < N; r++) o[r] = bf16_to_f32(out[r * HD + 7]);
    CHECK(isnan(o[0]), "a NaN l reaches the output (got %g)", o[0]);
    CHECK(isnan(o[1]), "a NaN m reaches the output (got %g)", o[1]);
    CHECK(fabsf(o[2] - 4.0f / 3.0f) < 1e-2f, // own part only: o / l = 4 / 3
          "a row without a prefix ignores the prefix parts: got %g, want 4/3", o[2]);
    const double a0 = exp(1.0 - 2.0), want = (a0 * 4.0 + 1.0 * 5.0) / (a0 * 2.0 + 1.0);
    CHECK(fabs(o[3] - want) < 2e-2, "two partials merge: got %g, want %g", o[3], want);
    CHECK(o[4] == 0.0f, "a row with no key gets zeros: %g", o[4]);
    cudaFree(dplan), cudaFree(dlim), cudaFree(dml), cudaFree(dpo), cudaFree(dout);
}

// A NaN key in one chain's own tokens: that chain's output is NaN, its neighbour's is not.
static void test_partial_nan(void) {
    Scene s;
    scene_init(&s, 9, 3, 64);
    int pre = scene_seq(&s, -1, 100, 100), a = scene_seq(&s, pre, 8, 3),
        b = scene_seq(&s, pre, 8, 3);
    uint16_t nan_row[192];
    for (int j = 0; j < 192; j++) nan_row[j] = 0x7fc0; // bf16 NaN
    cudaMemcpy(s.dk[a] + ((size_t)LAYER * 8 + 1) * 192, nan_row, sizeof nan_row,
               cudaMemcpyHostToDevice);
    int seqs[2] = {a, b}, tokens[2] = {0, 0};
    char err[160];
    CHECK(batch_plan(&s.p, &s.host_meta, &s.kv, s.dk, s.dv, tokens, seqs, 2, NULL, 0, err,
                     sizeof err) == 0,
          "plan: %s", err);
    cudaMemcpy(s.dev, s.host, s.upload, cudaMemcpyHostToDevice);
    const int stride = 576 + 384, z = batch_max_splits(&s.p, 2);
    float *qkv = malloc(sizeof(float) * 2 * stride);
    for (int i = 0; i < 2 * stride; i++) qkv[i] = value();
    float *dqkv = upload(qkv, sizeof(float) * 2 * stride);
    float *po = dmalloc(sizeof(float) * 2 * z * 2 * 9 * 64),
          *pml = dmalloc(sizeof(float) * 2 * z * 2 * 9 * 2);
    uint16_t *dout = dmalloc(sizeof(uint16_t) * 2 * 576), out[2 * 576];
    CHECK(launch(&s, po, pml, dqkv, stride, dout, 2, 0) == 0, "launch");
    download(out, dout, sizeof out);
    int nan_a = 0, nan_b = 0;
    for (int j = 0; j < 576; j++)
        nan_a += isnan(bf16_to_f32(out[j])), nan_b += isnan(bf16_to_f32(out[576 + j]));
    CHECK(nan_a == 576, "every head of the chain that sees a NaN key is NaN (%d of 576)", nan_a);
    CHECK(nan_b == 0, "the other chain is untouched (%d NaN)", nan_b);
    cudaFree(dqkv), cudaFree(po), cudaFree(pml), cudaFree(dout);
    free(qkv);
    scene_free(&s);
}

int main(void) {
    if (!forward_cuda_available()) {
        SKIP("no CUDA device: attention parity tests not run");
        return check_done("test_gpu_attention");
    }
    test_mixed(9, 3, 64);   // SmolLM2's shape
    test_mixed(32, 8, 128); // Llama-3-8B-like GQA
    test_mixed(8, 2, 32);
    test_mixed(6, 2, 96);
    test_chains(333, 100, 9, 3, 64); // 100 chains: 3 prefix items of <= 42 rows
    test_chains(77, 3, 4, 4, 128);   // MHA
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // Under the sanitizers of the CPU emulation (make test-gpu-emu) the long prefixes take many
    // minutes; the same structures with shorter prefixes are still split across blocks, and the
    // plain build runs the full lengths.
    test_chains(256, 64, 8, 2, 128);
    test_chains(256, 64, 32, 32, 128);
#else
    test_chains(2048, 64, 8, 2, 128);   // a long prefix split across blocks
    test_chains(1024, 64, 32, 32, 128); // Llama-2-7B's heads: 64 chains of one 1024-token prefix
#endif
    test_prefill(77, 77, 9, 3, 64);
    test_prefill(300, 150, 16, 2, 128); // split across two calls
    test_prefill(1, 1, 9, 3, 64);
    test_merge_nan();
    test_partial_nan();
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "no asynchronous error");
    return check_done("test_gpu_attention");
}
