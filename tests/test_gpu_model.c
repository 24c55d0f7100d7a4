// test_gpu_model.c - the whole model on the GPU (runtime/cuda/forward.c) against the CPU forward
// pass (runtime/cpu/forward.c, its fp32-activation path: the GPU holds bf16 weights, so its
// reference is fp32 math on the GGUF's own values) on tiny generated models (no download):
// weights/tiny-gpu-{untied,tied}.gguf, made by `make test-gpu` with tools/make_tiny_model.py
// --shape gpu (every GGUF tensor type, head size 64, 3 query heads per KV head), and the
// architectures' switches: tiny-gpu-qwen2 (q/k/v biases, NeoX rope), tiny-gpu-qwen3 (per-head
// q/k norms, NeoX rope, head size 128: q twice as wide as the embedding) and tiny-gpu-llama3
// (rope_freqs.weight and linear rope scaling).
//   1. the shapes the kernels cannot serve are refused at load with a message (no device needed);
//   2. prefill logits, every row;
//   3. a 300-token prompt prefilled in three GPU calls against one CPU call;
//   4. chains of two prompts and a sequence without a prefix decoded in one batch per step,
//      teacher-forced with the CPU's greedy tokens so every step is compared: a chain with three
//      rows in one step, a row that grows a prompt while its chains read it, a chain forked
//      after that (a longer prefix than its neighbours), a prompt freed while its chains live;
//   5. a step that fails (a full sequence) stores nothing and the next steps are still right;
//   6. graphs: the same sampled steps with graphs on and off give bit-identical logits, tokens
//      and token confidence, graphs are really replayed, the CPU sampler on the GPU's logits
//      picks the GPU sampler's tokens and computes the confidence the step brought back;
//      CHORUS_CUDA_DEBUG=1 gives the same bits too.
// Logit tolerance: every row within RMS(gpu - cpu) <= TOL_RMS * RMS(cpu) and max|gpu - cpu| <=
// TOL_MAX * max|cpu|, the median row within TOL_RMS_MEDIAN (a systematic error moves the median,
// bf16 noise only a few rows); greedy tokens equal unless the CPU's top-2 gap is under NEAR_TIE.
// bf16 is coarse on these random models: tools/gpu_numerics.py applies the GPU's roundings (bf16
// weights, matmul inputs, KV cache) to a float64 forward pass and finds, over 300 random-token
// rows with seeds 1 to 4: worst row RMS 0.040, median 0.009, worst max 0.047, and the argmax
// changed at reference gaps up to 0.24. The tolerances are 2.5x to 3x those.
// Without a CUDA device (or the models) the tests report SKIP and the binary exits 0.
#include "check.h"
#include "cpu/forward.h"
#include "cuda/forward_cuda.h"
#include "model/kvcache.h"
#include "model/model.h"
#include "model_util.h"
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TINY_UNTIED    "weights/tiny-gpu-untied.gguf"
#define TINY_TIED      "weights/tiny-gpu-tied.gguf"
#define TINY_QWEN2     "weights/tiny-gpu-qwen2.gguf"
#define TINY_QWEN3     "weights/tiny-gpu-qwen3.gguf"
#define TINY_LLAMA3    "weights/tiny-gpu-llama3.gguf"
#define TOL_RMS        0.10
#define TOL_RMS_MEDIAN 0.03
#define TOL_MAX        0.12
#define NEAR_TIE       0.75f
enum { CPU_ROWS = 320, GPU_ROWS = 128, SEQS = 32 };

typedef struct {
    Model m;
    KVCache kc, kg;
    Forward fc;
    CudaForward *g;
    float *gl;                   // [GPU_ROWS, vocab] the GPU's logits of a step
    float *cl;                   // [CPU_ROWS, vocab] the CPU's
    double worst_rms, worst_max; // worst row so far (relative)
    double rms[1024];            // every compared row's RMS(diff)/RMS(cpu), for the median
    int rows, bad_rows, bad_argmax, near_ties;
} Pair;

static int pair_open(Pair *p, const char *path) {
    char err[256];
    memset(p, 0, sizeof *p);
    if (model_load(&p->m, path, err, sizeof err)) {
        SKIP("%s (run `make test-gpu` to generate it)", err);
        return -1;
    }
    const Config *c = &p->m.cfg;
    kv_init(&p->kc, c->n_layers, c->n_kv_heads, c->head_dim, SEQS, 0);
    kv_init(&p->kg, c->n_layers, c->n_kv_heads, c->head_dim, SEQS, 0);
    p->gl = malloc(sizeof(float) * GPU_ROWS * c->vocab_size);
    p->cl = malloc(sizeof(float) * CPU_ROWS * c->vocab_size);
    // the CPU reference is the exact fp32 path (the GPU's weights are bf16, not int8-quantized)
    int ok = forward_init(&p->fc, &p->m, &p->kc, CPU_ROWS, err, sizeof err) == 0 &&
             forward_set_numerics(&p->fc, NUMERICS_F32, err, sizeof err) == 0;
    ok = ok && (p->g = forward_cuda_init(&p->m, &p->kg, GPU_ROWS, err, sizeof err)) != NULL;
    CHECK(ok, "%s: init: %s", path, err);
    return ok ? 0 : -1;
}

static void pair_close(Pair *p) {
    kv_free(&p->kg); // device storage first (kvcache.h: before the forward state goes)
    forward_cuda_free(p->g);
    forward_free(&p->fc);
    kv_free(&p->kc);
    free(p->gl);
    free(p->cl);
    model_free(&p->m);
}

// A sequence on both sides (the same id: both tables hand out the lowest free slot).
static int pair_seq(Pair *p, int parent, int cap) {
    char err[160];
    int a = kv_seq_new(&p->kc, parent, cap, err, sizeof err);
    int b = kv_seq_new(&p->kg, parent, cap, err, sizeof err);
    CHECK(a >= 0 && a == b, "sequence: cpu %d gpu %d (%s)", a, b, err);
    return a;
}
static void pair_free_seq(Pair *p, int id) {
    kv_seq_free(&p->kc, id), kv_seq_free(&p->kg, id);
}

// Compares one row of logits; returns 1 if within tolerance.
static int compare_row(Pair *p, const char *what, const float *gpu, const float *cpu) {
    const int v = p->m.cfg.vocab_size;
    double se = 0, sr = 0, worst = 0, rmax = 0;
    for (int i = 0; i < v; i++) {
        const double d = (double)gpu[i] - cpu[i];
        se += d * d, sr += (double)cpu[i] * cpu[i];
        worst = fabs(d) > worst || d != d ? (d != d ? INFINITY : fabs(d)) : worst;
        rmax = fabs(cpu[i]) > rmax ? fabs(cpu[i]) : rmax;
    }
    const double rel = sqrt(se / sr), mx = worst / rmax;
    if (p->rows < 1024) p->rms[p->rows] = rel;
    p->rows++;
    p->worst_rms = rel > p->worst_rms ? rel : p->worst_rms;
    p->worst_max = mx > p->worst_max ? mx : p->worst_max;
    float gap;
    const int tc = argmax(cpu, v, &gap), tg = argmax(gpu, v, NULL);
    if (tc != tg && gap < NEAR_TIE)
        p->near_ties++;
    else if (tc != tg) {
        p->bad_argmax++;
        fprintf(stderr, "  %s: argmax gpu %d cpu %d (CPU gap %.3f)\n", what, tg, tc, gap);
    }
    const int ok = rel <= TOL_RMS && mx <= TOL_MAX;
    if (!ok) {
        p->bad_rows++;
        fprintf(stderr, "  %s: RMS(diff)/RMS %.4f, max|diff|/max %.4f\n", what, rel, mx);
    }
    return ok;
}

// One step on both sides, comparing the output rows; next[j] = the CPU's greedy token of
// output row j (teacher forcing). 0, or -1 if a side failed.
static int pair_step(Pair *p, const char *what, const int *tok, const int *seqs, int n,
                     const int *out, int n_out, int *next) {
    // the same step on both sides, but for where the logits go
    Step st = {.n_rows = n, .tokens = tok, .seqs = seqs, .n_out = n_out, .out_rows = out};
    st.logits = p->cl;
    const int rc = forward(&p->fc, &st);
    st.logits = p->gl;
    const int rg = forward_cuda(p->g, &st);
    const float *lc = p->cl;
    CHECK(rc == 0 && rg == 0, "%s: cpu %s, gpu %s", what, rc ? p->fc.err : "ok",
          rg ? forward_cuda_error(p->g) : "ok");
    if (rc || rg) return -1;
    const int v = p->m.cfg.vocab_size;
    for (int j = 0; j < n_out; j++) {
        compare_row(p, what, p->gl + (size_t)j * v, lc + (size_t)j * v);
        if (next) next[j] = argmax(lc + (size_t)j * v, v, NULL);
    }
    return 0;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void pair_report(Pair *p, const char *what) {
    const int n = p->rows < 1024 ? p->rows : 1024;
    qsort(p->rms, n, sizeof(double), by_value);
    const double median = n ? p->rms[n / 2] : 0;
    printf("  %-34s %4d rows: RMS(diff)/RMS worst %.4f median %.4f, max|diff|/max worst %.4f, "
           "%d near ties\n",
           what, p->rows, p->worst_rms, median, p->worst_max, p->near_ties);
    CHECK(n < 16 || median <= TOL_RMS_MEDIAN, "%s: median row RMS(diff)/RMS %.4f > %.2f", what,
          median, TOL_RMS_MEDIAN); // (a median of a few rows says little)
    CHECK(p->bad_rows == 0, "%s: %d of %d rows outside the logit tolerance", what, p->bad_rows,
          p->rows);
    CHECK(p->bad_argmax == 0, "%s: %d greedy tokens differ away from a near tie", what,
          p->bad_argmax);
    p->rows = p->bad_rows = p->bad_argmax = p->near_ties = 0;
    p->worst_rms = p->worst_max = 0;
}

static void prompt(int *t, int n, int vocab, unsigned seed) {
    for (int i = 0; i < n; i++) t[i] = 3 + (int)((seed * 2654435761u + i * 40503u) % (vocab - 3));
}

// ---- 1. shapes the kernels cannot serve -------------------------------------------------------
static void test_shapes(void) {
    char err[200];
    Config ok = {.dim = 576,
                 .n_layers = 30,
                 .n_heads = 9,
                 .n_kv_heads = 3,
                 .head_dim = 64,
                 .kv_dim = 192,
                 .hidden_dim = 1536,
                 .vocab_size = 49152};
    CHECK(forward_cuda_check_shape(&ok, err, sizeof err) == 0, "SmolLM2's shape is served: %s",
          err);
    Config c = ok;
    c.head_dim = 16, c.dim = 9 * 16;
    CHECK(forward_cuda_check_shape(&c, err, sizeof err) < 0 && strstr(err, "head size 16"),
          "head size 16 refused: %s", err);
    c = ok;
    c.n_heads = 256, c.n_kv_heads = 1, c.dim = 256 * 64;
    CHECK(forward_cuda_check_shape(&c, err, sizeof err) < 0 && strstr(err, "per KV head"),
          "256 query heads per KV head refused: %s", err);
    c = ok;
    c.head_dim = 128, c.kv_dim = 3 * 128; // q (9 x 128) wider than dim, as in Qwen3-0.6B
    CHECK(forward_cuda_check_shape(&c, err, sizeof err) == 0, "q wider than dim is served: %s",
          err);
    c = ok;
    c.head_dim = 160, c.dim = 9 * 160;
    CHECK(forward_cuda_check_shape(&c, err, sizeof err) < 0, "head size 160 refused");
    // at load, before any device work or weight is touched
    Model m;
    memset(&m, 0, sizeof m);
    m.cfg = ok, m.cfg.head_dim = 16, m.cfg.dim = 9 * 16;
    KVCache kv;
    kv_init(&kv, m.cfg.n_layers, m.cfg.n_kv_heads, m.cfg.head_dim, 2, 0);
    CHECK(forward_cuda_init(&m, &kv, 4, err, sizeof err) == NULL && strstr(err, "head size 16"),
          "a head-size-16 model is refused at load: %s", err);
    kv_free(&kv);
}

// ---- 2, 3. prefill -------------------------------------------------------------------------
static void test_prefill(Pair *p) {
    int tok[40], seqs[40], rows[40];
    prompt(tok, 40, p->m.cfg.vocab_size, 1);
    const int s = pair_seq(p, -1, 40);
    for (int i = 0; i < 40; i++) seqs[i] = s, rows[i] = i;
    pair_step(p, "prefill 40", tok, seqs, 40, rows, 40, NULL);
    pair_free_seq(p, s);
    pair_report(p, "prefill logits, every row");
}

static void test_split_prefill(Pair *p) {
    enum { P = 300 };
    const int v = p->m.cfg.vocab_size;
    int tok[P], seqs[P], out[3] = {127, 255, P - 1}, last = 127;
    prompt(tok, P, v, 2);
    const int s = pair_seq(p, -1, P);
    for (int i = 0; i < P; i++) seqs[i] = s;
    const Step whole = {
        .n_rows = P, .tokens = tok, .seqs = seqs, .n_out = 3, .out_rows = out, .logits = p->cl};
    const int rc = forward(&p->fc, &whole); // the CPU in one call
    const float *lc = p->cl;
    CHECK(rc == 0, "cpu prefill: %s", p->fc.err);
    for (int c = 0, i0 = 0; !rc && c < 3; c++, i0 += GPU_ROWS) { // the GPU in three
        const int n = P - i0 < GPU_ROWS ? P - i0 : GPU_ROWS;
        last = n - 1;
        const Step st = {.n_rows = n,
                         .tokens = tok + i0,
                         .seqs = seqs,
                         .n_out = 1,
                         .out_rows = &last,
                         .logits = p->gl};
        CHECK(forward_cuda(p->g, &st) == 0, "gpu prefill call %d: %s", c, forward_cuda_error(p->g));
        compare_row(p, "split prefill", p->gl, lc + (size_t)c * v);
    }
    CHECK(p->kg.seqs[s].len == P && p->kc.seqs[s].len == P, "both stored %d tokens", P);
    pair_free_seq(p, s);
    pair_report(p, "300 tokens: 3 GPU calls vs 1 CPU");
}

// ---- 4. chains of two prompts and a lone sequence, one batch per step -----------------------
static void test_chains(Pair *p) {
    const int v = p->m.cfg.vocab_size;
    int pa[23], pb[61], pc[9], seqs[64], tok[64], out[64], next[64];
    prompt(pa, 23, v, 3), prompt(pb, 61, v, 4), prompt(pc, 9, v, 5);
    // prefixes hold all but the last prompt token; the chains start from it
    const int A = pair_seq(p, -1, 40), B = pair_seq(p, -1, 60), C = pair_seq(p, -1, 40);
    for (int i = 0; i < 22; i++) seqs[i] = A;
    pair_step(p, "prefill A", pa, seqs, 22, NULL, 0, NULL);
    for (int i = 0; i < 60; i++) seqs[i] = B;
    pair_step(p, "prefill B", pb, seqs, 60, NULL, 0, NULL);
    for (int i = 0; i < 8; i++) seqs[i] = C;
    pair_step(p, "prefill C", pc, seqs, 8, NULL, 0, NULL);
    int ch[12], last[12], n_ch = 0;
    for (int c = 0; c < 4; c++) ch[n_ch] = pair_seq(p, A, 24), last[n_ch++] = pa[22];
    for (int c = 0; c < 3; c++) ch[n_ch] = pair_seq(p, B, 24), last[n_ch++] = pb[60];
    ch[n_ch] = C, last[n_ch++] = pc[8]; // C continues its own sequence: no prefix
    for (int step = 0; step < 12; step++) {
        int n = 0, n_out = 0;
        for (int c = n_ch - 1; c >= 0; c--) { // reversed: rows of a prefix are not adjacent
            if (step == 3 && c == 0) { // three rows in one step (an appended cue); one output
                tok[n] = 5, seqs[n++] = ch[c];
                tok[n] = 6, seqs[n++] = ch[c];
            }
            tok[n] = last[c], seqs[n] = ch[c], out[n_out++] = n, n++;
        }
        if (step == 6) { // prompt A grows (a row of it in this step) and B is let go
            tok[n] = 7, seqs[n++] = A;
            pair_free_seq(p, B); // its 3 chains still read it: freed with the last of them
        }
        char what[48];
        snprintf(what, sizeof what, "chains step %d", step);
        if (pair_step(p, what, tok, seqs, n, out, n_out, next)) break;
        for (int j = 0; j < n_out; j++) last[n_ch - 1 - j] = next[j];
        if (step == 6) ch[n_ch] = pair_seq(p, A, 12), last[n_ch++] = 9; // sees 23 prefix tokens
    }
    CHECK(p->kg.seqs[ch[n_ch - 1]].n_prefix == 23 && p->kg.seqs[ch[0]].n_prefix == 22,
          "the late chain sees the grown prompt, the first ones do not");
    CHECK(kv_bytes_used(&p->kg) / kv_token_bytes(&p->kg) ==
              kv_bytes_used(&p->kc) / kv_token_bytes(&p->kc),
          "both caches hold the same tokens");
    for (int c = 0; c < n_ch; c++) pair_free_seq(p, ch[c]);
    pair_free_seq(p, A);
    CHECK(!p->kg.seqs[B].in_use && p->kg.bytes_reserved == 0, "B went with its last chain");
    pair_report(p, "chains of 2 prompts + a lone sequence");
}

// ---- 5. a failed step stores nothing --------------------------------------------------------
static void test_failed_step(Pair *p) {
    int tok[4] = {10, 11, 12, 13}, seqs[4], out = 0, next;
    const int s = pair_seq(p, -1, 3), t = pair_seq(p, -1, 8);
    for (int i = 0; i < 4; i++) seqs[i] = s; // 4 rows for a 3-token sequence
    const Step st = {
        .n_rows = 4, .tokens = tok, .seqs = seqs, .n_out = 1, .out_rows = &out, .logits = p->gl};
    CHECK(forward_cuda(p->g, &st) < 0 && strstr(forward_cuda_error(p->g), "full"),
          "an overfull step is refused: %s", forward_cuda_error(p->g));
    CHECK(p->kg.seqs[s].len == 0, "and stores nothing");
    int seq2[2] = {t, s}, out2[2] = {0, 1};
    pair_step(p, "after a failed step", tok, seq2, 2, out2, 2, &next);
    pair_free_seq(p, s), pair_free_seq(p, t);
    pair_report(p, "steps after a failed one");
}

// ---- 6. graphs -------------------------------------------------------------------------------
// A prompt, 4 chains, `steps` sampled steps. Records every step's logits, ids and token
// confidence (asked of chains 0 and 2, with k = 5 and 64; not of 1 and 3). Returns the graph
// stats.
static const int CONF_K[4] = {5, 0, 64, 0};
static CudaGraphStats sampled_run(const Model *m, int graphs, int steps, float *logits, int *ids,
                                  TokenConf *conf) {
    enum { PROMPT = 20 }; // the prefill's rows: the step state must take them (it took 16)
    KVCache kv;
    char err[256];
    const Config *c = &m->cfg;
    kv_init(&kv, c->n_layers, c->n_kv_heads, c->head_dim, 8, 0);
    CudaForward *g = forward_cuda_init(m, &kv, PROMPT, err, sizeof err);
    CudaGraphStats none = {0, 0, 0, 0};
    CHECK(g != NULL, "init: %s", err);
    if (!g) return none;
    forward_cuda_set_graphs(g, graphs);
    int tok[PROMPT], seqs[PROMPT], rows[4] = {0, 1, 2, 3}, ch[4], lid[4];
    float lp[4];
    prompt(tok, PROMPT, c->vocab_size, 6);
    const int pre = kv_seq_new(&kv, -1, PROMPT, err, sizeof err);
    for (int i = 0; i < PROMPT; i++) seqs[i] = pre;
    const Step st = {.n_rows = PROMPT, .tokens = tok, .seqs = seqs};
    CHECK(forward_cuda(g, &st) == 0, "prefill: %s", forward_cuda_error(g));
    SampleRow sr[4];
    for (int j = 0; j < 4; j++) {
        ch[j] = kv_seq_new(&kv, pre, steps + 1, err, sizeof err);
        lid[j] = tok[PROMPT - 1];
        SampleRow r = {{0.8f, 0, 0.95f, 0.02f, CONF_K[j]}, 42, (uint32_t)j, 0};
        sr[j] = r;
    }
    for (int t = 0; t < steps; t++) {
        for (int j = 0; j < 4; j++) sr[j].step = (uint32_t)t;
        const Step d = {.n_rows = 4,
                        .tokens = lid,
                        .seqs = ch,
                        .n_out = 4,
                        .out_rows = rows,
                        .sample = sr,
                        .ids = ids + t * 4,
                        .logprobs = lp,
                        .conf = conf + t * 4,
                        .logits = logits + (size_t)t * 4 * c->vocab_size};
        if (forward_cuda(g, &d)) {
            CHECK(0, "step %d: %s", t, forward_cuda_error(g));
            break;
        }
        memcpy(lid, ids + t * 4, sizeof lid);
    }
    CudaGraphStats stats = forward_cuda_graph_stats(g);
    kv_free(&kv);
    forward_cuda_free(g);
    return stats;
}

static void test_graphs(const Model *m) {
    enum { STEPS = 10 };
    const int v = m->cfg.vocab_size;
    float *la = malloc(sizeof(float) * STEPS * 4 * v), *lb = malloc(sizeof(float) * STEPS * 4 * v);
    float *lc = malloc(sizeof(float) * STEPS * 4 * v);
    int ia[STEPS * 4], ib[STEPS * 4], ic[STEPS * 4];
    TokenConf ca[STEPS * 4], cb[STEPS * 4], cc[STEPS * 4];
    CudaGraphStats on = sampled_run(m, 1, STEPS, la, ia, ca);
    CudaGraphStats off = sampled_run(m, 0, STEPS, lb, ib, cb);
    printf("  graphs on: %ld replayed, %ld eager, %ld captured, %ld failed; off: %ld eager\n",
           on.graph_steps, on.eager_steps, on.captures, on.capture_failures, off.eager_steps);
    CHECK(on.captures >= 1 && on.capture_failures == 0 && on.graph_steps >= STEPS - 1,
          "decode steps replay a captured graph");
    CHECK(off.graph_steps == 0, "graphs off runs eagerly");
    double dmax = 0; // the same kernels on the same data: any difference is a fault
    for (size_t i = 0; i < (size_t)STEPS * 4 * v; i++)
        dmax = fabs((double)la[i] - lb[i]) > dmax || la[i] != la[i] ? fabs((double)la[i] - lb[i])
                                                                    : dmax;
    CHECK(memcmp(la, lb, sizeof(float) * STEPS * 4 * v) == 0,
          "graph and eager logits are bit-identical (max |diff| %g)", dmax);
    CHECK(memcmp(ia, ib, sizeof ia) == 0, "graph and eager sample the same tokens");
    CHECK(memcmp(ca, cb, sizeof ca) == 0, "graph and eager give the same token confidence");
    // the sampling glue: the CPU sampler on the GPU's logits draws the GPU sampler's tokens, and
    // the confidence that came back with them (Step.conf) is the CPU's on those logits
    // (within 1e-5 abs + 1e-5 rel, as tests/test_gpu_sample.c; NaN where it was not asked for)
    Sampler s;
    sampler_init(&s, v);
    int same = 0, conf_ok = 0;
    for (int t = 0; t < STEPS; t++)
        for (int j = 0; j < 4; j++) {
            const SamplerParams sp = {0.8f, 0, 0.95f, 0.02f, CONF_K[j]};
            const float *row = la + ((size_t)t * 4 + j) * v;
            same += sample(&s, row, &sp, 42, j, t, NULL) == ia[t * 4 + j];
            const TokenConf g = ca[t * 4 + j];
            if (!CONF_K[j]) {
                conf_ok += isnan(g.conf) && isnan(g.entropy);
                continue;
            }
            const TokenConf w = token_confidence(&s, row, sp.temperature, CONF_K[j]);
            conf_ok += fabsf(g.conf - w.conf) <= 1e-5f + 1e-5f * fabsf(w.conf) &&
                       fabsf(g.entropy - w.entropy) <= 1e-5f + 1e-5f * fabsf(w.entropy);
        }
    sampler_free(&s);
    CHECK(same == STEPS * 4, "CPU sampler on GPU logits: %d of %d tokens equal", same, STEPS * 4);
    CHECK(conf_ok == STEPS * 4, "token confidence brought back with the step: %d of %d right",
          conf_ok, STEPS * 4);
    setenv("CHORUS_CUDA_DEBUG", "1", 1); // synchronise and check after every launch
    CudaGraphStats dbg = sampled_run(m, 1, STEPS, lc, ic, cc);
    unsetenv("CHORUS_CUDA_DEBUG");
    CHECK(dbg.graph_steps == 0, "debug mode runs eagerly");
    CHECK(memcmp(lc, lb, sizeof(float) * STEPS * 4 * v) == 0 && memcmp(ic, ib, sizeof ic) == 0 &&
              memcmp(cc, cb, sizeof cc) == 0,
          "debug mode gives the same bits");
    free(la), free(lb), free(lc);
}

static void test_model(const char *path) {
    Pair p;
    if (pair_open(&p, path)) return;
    printf(" %s\n", path);
    test_prefill(&p);
    test_split_prefill(&p);
    test_chains(&p);
    test_failed_step(&p);
    test_graphs(&p.m);
    pair_close(&p);
}

int main(void) {
    test_shapes();
    if (!forward_cuda_available()) {
        SKIP("no CUDA device: whole-model GPU tests not run");
        return check_done("test_gpu_model");
    }
    test_model(TINY_UNTIED);
    test_model(TINY_TIED);
    test_model(TINY_QWEN2);
    test_model(TINY_QWEN3);
    test_model(TINY_LLAMA3);
    return check_done("test_gpu_model");
}
