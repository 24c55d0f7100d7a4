// cmd_bench.c - `chorus bench`: prefill and batched decode speed of the backend itself.
//
// For each N it prefills a P-token prompt once into a prefix sequence, forks N chains from it and
// decodes G tokens in every chain as one batch per step (sampling with the default settings, no
// stopping, so every step has exactly N rows). It reports tok/s, ms/step, KV bytes, and the
// bytes the step must stream from memory (all weights once + every chain's view of the KV cache)
// as GB/s.
#include "backend.h"
#include "cli.h"
#include "commands.h"
#include "quant.h"
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#ifdef CHORUS_CUDA
#include "forward_cuda.h"
#endif

#define MAX_NS 16

typedef struct {
    SessionOptions so;
    int ns[MAX_NS], n_ns;
    int prompt_len, gen;
    int json;
    const char *random_model; // --random-model NAME (CUDA only): random weights, no file
} BenchOptions;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Bytes of every weight a step reads once (the embedding table only by rows: not counted).
static double weight_bytes(const Model *m) {
    double b = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const Layer *L = &m->layers[l];
        const Weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 7; i++) b += (double)ws[i]->row_bytes * ws[i]->out;
    }
    return b + (double)m->output.row_bytes * m->output.out;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

// One N: returns 0, or -1 + err.
static int bench_one(Session *s, const BenchOptions *o, int N, char *err, size_t errlen) {
    Backend *b = &s->b;
    const int P = o->prompt_len, G = o->gen;
    int *rows = malloc(sizeof(int) * (P > N ? P : N)), *seqs = malloc(sizeof(int) * (P > N ? P : N));
    int *toks = malloc(sizeof(int) * (P > N ? P : N)), *chain_seq = malloc(sizeof(int) * N);
    int *ids = malloc(sizeof(int) * N);
    float *lps = malloc(sizeof(float) * N);
    SamplerParams *sp = malloc(sizeof(SamplerParams) * N);
    uint64_t *seeds = malloc(sizeof(uint64_t) * N);
    uint32_t *chains = malloc(sizeof(uint32_t) * N), *steps = malloc(sizeof(uint32_t) * N);
    int rc = -1, prefix = b->seq_new(b->impl, -1, P, err, errlen);
    if (prefix < 0) goto out;
    // A fixed, ordinary-looking prompt: token ids spread over the vocabulary.
    for (int i = 0; i < P; i++) toks[i] = (int)((1000 + 7919L * i) % b->vocab), seqs[i] = prefix;
    double t0 = now_s();
    for (int i0 = 0; i0 < P; i0 += b->max_rows) {
        int n = P - i0 < b->max_rows ? P - i0 : b->max_rows;
        if (b->decode(b->impl, toks + i0, seqs, n, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, err, errlen)) goto out;
    }
    double prefill_s = now_s() - t0;
    for (int c = 0; c < N; c++) {
        if ((chain_seq[c] = b->seq_new(b->impl, prefix, G + 1, err, errlen)) < 0) goto out;
        toks[c] = toks[P - 1];
        rows[c] = c, seqs[c] = chain_seq[c], sp[c] = sampler_defaults(), seeds[c] = 1, chains[c] = c;
    }
    t0 = now_s();
    for (int g = 0; g < G; g++) {
        for (int c = 0; c < N; c++) steps[c] = g;
        if (b->decode(b->impl, toks, seqs, N, rows, N, sp, seeds, chains, steps, ids, lps, NULL, err, errlen)) goto out;
        memcpy(toks, ids, sizeof(int) * N);
    }
    double dec_s = now_s() - t0, step_ms = dec_s / G * 1e3;
    // Per step: all weights once + each chain reads the prefix and its own suffix (average G/2).
    double kv_read = (double)N * (P + G / 2.0) * b->kv_token_bytes(b->impl);
    double gbps = (weight_bytes(&s->m) + kv_read) / (dec_s / G) / 1e9;
    size_t kv = b->kv_bytes_used(b->impl);
    if (o->json)
        printf("{\"n\":%d,\"prompt_len\":%d,\"gen\":%d,\"device\":\"%s\",\"prefill_tok_s\":%.1f,"
               "\"decode_tok_s\":%.1f,\"decode_tok_s_per_chain\":%.2f,\"ms_per_step\":%.2f,"
               "\"kv_bytes\":%zu,\"gb_per_s\":%.2f,\"peak_rss_mb\":%.1f}\n",
               N, P, G, b->name, P / prefill_s, N * G / dec_s, G / dec_s, step_ms, kv, gbps,
               peak_rss_mb());
    else
        printf("%5d %12.1f %14.1f %12.2f %10.2f %12.2f %9.2f %9.1f\n", N, P / prefill_s,
               N * G / dec_s, G / dec_s, step_ms, kv / 1e6, gbps, peak_rss_mb());
    fflush(stdout);
    rc = 0;
out:
    for (int c = 0; rc == 0 && c < N; c++) b->seq_free(b->impl, chain_seq[c]);
    if (prefix >= 0) b->seq_free(b->impl, prefix);
    free(rows); free(seqs); free(toks); free(chain_seq); free(ids); free(lps); free(sp);
    free(seeds); free(chains); free(steps);
    return rc;
}

static const char *BENCH_HELP =
    "usage: chorus bench -m MODEL [--n 1,4,16,64] [--prompt-len 128] [--gen 64] [--json]\n"
    "  prefill a prompt once, fork N chains and decode --gen tokens in each as one batch;\n"
    "  prints prefill tok/s, aggregate and per-chain decode tok/s, ms/step, KV MB, GB/s\n"
    "  --device cuda runs the GPU benchmark instead (default model at N = 1, 16, 64 and, with\n"
    "  --random-model llama2-7b, a Llama-2-7B-shaped model with random bf16 weights)\n";

// The GPU benchmark (runtime/bench_cuda.c) has its own fixed rows.
static int bench_cuda(const BenchOptions *o) {
#ifdef CHORUS_CUDA
    char err[512];
    Model m;
    int have_model = !o->random_model;
    if (have_model && model_load(&m, o->so.model_path, err, sizeof err)) {
        fprintf(stderr, "chorus: %s\n", err);
        return 1;
    }
    int rc = cuda_bench(have_model ? &m : NULL, o->random_model, stdout, err, sizeof err);
    if (rc) fprintf(stderr, "chorus: bench: %s\n", err);
    if (have_model) model_free(&m);
    return rc ? 1 : 0;
#else
    (void)o;
    return cli_error("bench: --device cuda and --random-model need a CUDA build (make cuda)");
#endif
}

int cmd_bench(int argc, char **argv) {
    BenchOptions o = {.ns = {1, 4, 16, 64}, .n_ns = 4, .prompt_len = 128, .gen = 64};
    int ended = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        CliArgKind kind = cli_arg_kind(a, &ended);
        if (kind == CLI_END_OF_OPTIONS) continue;
        if (kind == CLI_OPERAND) return cli_error("bench: unexpected argument '%s'; see --help", a);
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("%s%s%s", BENCH_HELP, SESSION_FLAGS_HELP, CLI_END_HELP);
            return 0;
        }
        int r = session_flag(argc, argv, &i, &o.so);
        if (r < 0) return CLI_USAGE_ERROR;
        if (r) continue;
        if (!strcmp(a, "--json")) { o.json = 1; continue; }
        if (!strcmp(a, "--random-model")) {
            if (!(o.random_model = cli_value(argc, argv, &i))) return CLI_USAGE_ERROR;
            continue;
        }
        if (strcmp(a, "--n") && strcmp(a, "--prompt-len") && strcmp(a, "--gen"))
            return cli_error("bench: unknown option '%s'; see --help", a);
        if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE_ERROR;
        if (!strcmp(a, "--n")) {
            if ((o.n_ns = cli_int_list(a, v, 1, 1024, o.ns, MAX_NS)) < 0) return CLI_USAGE_ERROR;
        } else if (cli_int(a, v, 1, 1 << 16, !strcmp(a, "--gen") ? &o.gen : &o.prompt_len))
            return CLI_USAGE_ERROR;
    }
    if (o.random_model || (o.so.device && !strcmp(o.so.device, "cuda"))) return bench_cuda(&o);
    if (!o.so.model_path) return cli_error("bench: no model given (-m MODEL)");
    o.so.raw = 1; // the bench feeds token ids: no chat template needed
    int max_n = 1;
    for (int k = 0; k < o.n_ns; k++) if (o.ns[k] > max_n) max_n = o.ns[k];
    Session s;
    char err[512];
    if (session_open(&s, &o.so, max_n > 128 ? max_n : 128, max_n + 1, err, sizeof err)) {
        fprintf(stderr, "chorus: %s\n", err);
        return 1;
    }
    if (o.prompt_len + o.gen > s.b.context) {
        session_close(&s);
        return cli_error("bench: --prompt-len + --gen exceed the model's context (%d)", s.b.context);
    }
    if (!o.json)
        printf("%5s %12s %14s %12s %10s %12s %9s %9s\n", "N", "prefill t/s", "decode t/s(agg)",
               "t/s/chain", "ms/step", "KV MB", "GB/s", "RSS MB");
    int rc = 0;
    for (int k = 0; k < o.n_ns && !rc; k++)
        if (bench_one(&s, &o, o.ns[k], err, sizeof err)) {
            fprintf(stderr, "chorus: bench: %s\n", err);
            rc = 1;
        }
    session_close(&s);
    return rc;
}
