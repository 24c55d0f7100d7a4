// cmd_bench.c - `chorus bench`: prefill and batched decode speed of a backend, CPU or CUDA, through
// the same Backend interface the controller uses.
//
// For each N it prefills a P-token prompt once into a prefix sequence, forks N chains from it and
// decodes G tokens in every chain as one batch per step (sampling with the default settings, no
// stopping, so every step has exactly N rows). Two untimed steps come first (on CUDA the first
// step of a shape runs eagerly and the second captures its graph). It reports tok/s, ms/step
// (and its forward and sampling parts), KV bytes, and the bytes a step must stream from memory
// as GB/s: every weight once (as the backend stores it) + the shared prefix's K/V once + each
// chain's own K/V (on average (G + 1) / 2 tokens). That is the floor the shared-prefix design
// aims at; a backend that reads the prefix more than once per step moves more.
//
// The model is a GGUF file (-m) or, with --random-model SHAPE, random weights in that shape
// (model_random.h): a Llama-2-7B-sized run, or the default model's shape where the file is absent.
#include "backend/backend.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "model/model_random.h"
#include "cli/session.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_NS 16

typedef struct {
    SessionOptions so;
    int ns[MAX_NS], n_ns;
    int prompt_len, gen;
    int json;
    const char *random_model; // --random-model SHAPE: random weights, no file
    int limits;               // --limits: measure the machine, not the engine
    double macs_per_token;    // multiply-adds of one token through every matrix (the model's)
} BenchOptions;

// Multiply-adds of one token through every matrix (the logits included).
static double macs_per_token(const Model *m) {
    double macs = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const Weight *ws[LAYER_N_WEIGHTS];
        layer_weights(&m->layers[l], ws);
        for (int i = 0; i < LAYER_N_WEIGHTS; i++) macs += (double)ws[i]->in * ws[i]->out;
    }
    return macs + (double)m->output.in * m->output.out;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

typedef struct {
    int *rows, *seqs, *toks, *chain_seq, *ids;
    float *lps;
    SampleRow *draws; // [N] each chain's settings and RNG counters
} Buffers;

static void buffers_free(Buffers *x) {
    free(x->rows), free(x->seqs), free(x->toks), free(x->chain_seq), free(x->ids), free(x->lps);
    free(x->draws);
}

static int buffers_init(Buffers *x, int P, int N) {
    const size_t m = (size_t)(P > N ? P : N);
    x->rows = malloc(sizeof(int) * m), x->seqs = malloc(sizeof(int) * m);
    x->toks = malloc(sizeof(int) * m), x->chain_seq = malloc(sizeof(int) * N);
    x->ids = malloc(sizeof(int) * N), x->lps = malloc(sizeof(float) * N);
    x->draws = malloc(sizeof(SampleRow) * N);
    return x->rows && x->seqs && x->toks && x->chain_seq && x->ids && x->lps && x->draws ? 0 : -1;
}

// One decode step of all N chains at step g.
static int step(Backend *b, Buffers *x, int N, int g, char *err, size_t errlen) {
    for (int c = 0; c < N; c++) x->draws[c].step = (uint32_t)g;
    const Step st = {.n_rows = N,
                     .tokens = x->toks,
                     .seqs = x->seqs,
                     .n_out = N,
                     .out_rows = x->rows,
                     .sample = x->draws,
                     .ids = x->ids,
                     .logprobs = x->lps};
    if (b->step(b->impl, &st, err, errlen)) return -1;
    memcpy(x->toks, x->ids, sizeof(int) * N);
    return 0;
}

// One N: prints its row when `print`; returns 0, or -1 + err.
static int bench_one(Backend *b, const BenchOptions *o, int P, int N, int G, int print, char *err,
                     size_t errlen) {
    Buffers x = {0};
    int rc = -1, made = 0, prefix = -1;
    if (buffers_init(&x, P, N)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if ((prefix = b->seq_new(b->impl, -1, P, err, errlen)) < 0) goto out;
    // A fixed, ordinary-looking prompt: token ids spread over the vocabulary.
    for (int i = 0; i < P; i++)
        x.toks[i] = (int)((1000 + 7919L * i) % b->vocab), x.seqs[i] = prefix;
    double t0 = now_s();
    for (int i0 = 0; i0 < P; i0 += b->max_rows) {
        int n = P - i0 < b->max_rows ? P - i0 : b->max_rows;
        const Step prefill = {.n_rows = n, .tokens = x.toks + i0, .seqs = x.seqs};
        if (b->step(b->impl, &prefill, err, errlen)) goto out;
    }
    const double prefill_s = now_s() - t0;
    const int warm = 2; // untimed steps: first use of a shape (and, on CUDA, its graph capture)
    for (int c = 0; c < N; c++) {
        if ((x.chain_seq[c] = b->seq_new(b->impl, prefix, G + warm + 1, err, errlen)) < 0) goto out;
        made++;
        x.toks[c] = x.toks[P - 1];
        x.rows[c] = c, x.seqs[c] = x.chain_seq[c];
        x.draws[c] = (SampleRow){sampler_defaults(), 1, (uint32_t)c, 0};
    }
    for (int g = 0; g < warm; g++)
        if (step(b, &x, N, g, err, errlen)) goto out;
    double f0, s0, f1, s1;
    b->times(b->impl, &f0, &s0);
    t0 = now_s();
    for (int g = warm; g < warm + G; g++)
        if (step(b, &x, N, g, err, errlen)) goto out;
    const double dec_s = now_s() - t0, step_ms = dec_s / G * 1e3;
    b->times(b->impl, &f1, &s1);
    const double fwd_ms = (f1 - f0) / G * 1e3, smp_ms = (s1 - s0) / G * 1e3;
    const double tb = (double)b->kv_token_bytes(b->impl);
    const double bytes = (double)b->weight_bytes + P * tb + N * (warm + (G + 1) / 2.0) * tb;
    const double gbps = bytes / (dec_s / G) / 1e9;
    const size_t kv = b->kv_bytes_used(b->impl);
    if (print && o->json)
        printf("{\"n\":%d,\"prompt_len\":%d,\"gen\":%d,\"device\":\"%s\",\"prefill_tok_s\":%.1f,"
               "\"decode_tok_s\":%.1f,\"decode_tok_s_per_chain\":%.2f,\"ms_per_step\":%.3f,"
               "\"forward_ms_per_step\":%.3f,\"sample_ms_per_step\":%.3f,\"kv_bytes\":%zu,"
               "\"weight_bytes\":%zu,\"bytes_per_step\":%.0f,\"gb_per_s\":%.2f,"
               "\"peak_rss_mb\":%.1f,\"kernel\":\"%s\",\"numerics\":\"%s\","
               "\"macs_per_token\":%.0f}\n",
               N, P, G, b->name, P / prefill_s, N * G / dec_s, G / dec_s, step_ms, fwd_ms, smp_ms,
               kv, b->weight_bytes, bytes, gbps, peak_rss_mb(), b->kernel, b->numerics,
               o->macs_per_token);
    else if (print)
        printf("%5d %12.1f %14.1f %12.2f %10.3f %9.3f %9.3f %10.2f %9.2f %9.1f\n", N, P / prefill_s,
               N * G / dec_s, G / dec_s, step_ms, fwd_ms, smp_ms, kv / 1e6, gbps, peak_rss_mb());
    cli_flush_stdout();
    rc = 0;
out:
    for (int c = 0; c < made; c++) b->seq_free(b->impl, x.chain_seq[c]);
    if (prefix >= 0) b->seq_free(b->impl, prefix);
    buffers_free(&x);
    return rc;
}

static const char *BENCH_HELP =
    "usage: chorus bench (-m MODEL | --random-model SHAPE) [--n 1,4,16,64] [--prompt-len 128]\n"
    "                    [--gen 64] [--device cpu|cuda] [--json]\n"
    "       chorus bench --limits [-t THREADS] [--json]\n"
    "  prefill a prompt once, fork N chains and decode --gen tokens in each as one batch;\n"
    "  prints prefill tok/s, aggregate and per-chain decode tok/s, ms/step (forward and\n"
    "  sampling parts), KV MB, and GB/s (weights once + prefix once + each chain's tokens)\n"
    "  --random-model SHAPE   random BF16 weights in a known shape instead of a file\n"
    "                         (smollm2-135m, llama2-7b)\n"
    "  --limits               measure this machine instead: streaming-read GB/s and the int8\n"
    "                         multiply-add peak of the CPU kernels' level (CHORUS_ISA picks one)\n";

// `--limits`: the machine's streaming-read bandwidth and int8 peak on the benchmark's threads.
static int bench_limits(const BenchOptions *o) {
    cli_set_threads(o->so.threads);
    const MachineLimits l = backend_machine_limits();
    if (o->json)
        printf(
            "{\"threads\":%d,\"stream_gb_s\":%.2f,\"kernel\":\"%s\",\"int8_peak_gmac_s\":%.1f}\n",
            l.threads, l.stream_gb_s, l.kernel, l.int8_peak_gmacs);
    else
        printf("%d threads: streaming read %.2f GB/s; int8 peak (%s) %.1f G multiply-adds/s\n",
               l.threads, l.stream_gb_s, l.kernel, l.int8_peak_gmacs);
    return 0;
}

static int bench_run(const BenchOptions *o, Backend *b) {
    char err[512];
    if (b->describe) {
        char dev[256];
        b->describe(dev, sizeof dev);
        fprintf(o->json ? stderr : stdout, "# %s\n", dev);
    }
    // warm-up, unprinted: first launches, allocator and library initialisation
    if (bench_one(b, o, 8, 1, 2, 0, err, sizeof err)) {
        fprintf(stderr, "chorus: bench: %s\n", err);
        return 1;
    }
    if (!o->json)
        printf("%5s %12s %14s %12s %10s %9s %9s %10s %9s %9s\n", "N", "prefill t/s",
               "decode t/s(agg)", "t/s/chain", "ms/step", "fwd ms", "sample ms", "KV MB", "GB/s",
               "RSS MB");
    for (int k = 0; k < o->n_ns; k++)
        if (bench_one(b, o, o->prompt_len, o->ns[k], o->gen, 1, err, sizeof err)) {
            fprintf(stderr, "chorus: bench: %s\n", err);
            return 1;
        }
    return 0;
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
        if (!strcmp(a, "--json")) {
            o.json = 1;
            continue;
        }
        if (!strcmp(a, "--limits")) {
            o.limits = 1;
            continue;
        }
        if (!strcmp(a, "--random-model")) {
            Config unused;
            if (!(o.random_model = cli_value(argc, argv, &i))) return CLI_USAGE_ERROR;
            if (model_random_config(o.random_model, &unused))
                return cli_error("--random-model: unknown shape '%s' (known: %s)", o.random_model,
                                 MODEL_RANDOM_SHAPES);
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
    if (o.limits) return bench_limits(&o);
    if (!o.so.model_path && !o.random_model)
        return cli_error("bench: no model given (-m MODEL or --random-model SHAPE)");
    if (o.so.model_path && o.random_model)
        return cli_error("bench: -m and --random-model are exclusive");
    // Before a model is loaded or generated (a random 7B model is 13 GB of host memory).
    int max_n = 1;
    for (int k = 0; k < o.n_ns; k++)
        if (o.ns[k] > max_n) max_n = o.ns[k];
    const BackendOptions bo = {.device = o.so.device,
                               .numerics = o.so.numerics,
                               .max_rows = max_n > 128 ? max_n : 128,
                               .max_seqs = max_n + 1};
    char err[512];
    if (backend_check_options(&bo, err, sizeof err)) return fprintf(stderr, "chorus: %s\n", err), 1;
    Model m;
    Backend b;
    cli_set_threads(o.so.threads);
    if (o.random_model ? model_random(&m, o.random_model, 42, err, sizeof err)
                       : model_load(&m, o.so.model_path, err, sizeof err)) {
        fprintf(stderr, "chorus: %s\n", err);
        return 1;
    }
    if (o.prompt_len + o.gen + 3 > m.cfg.context_length) {
        model_free(&m);
        return cli_error("bench: --prompt-len + --gen exceed the model's context (%d)",
                         m.cfg.context_length);
    }
    o.macs_per_token = macs_per_token(&m);
    if (backend_open(&b, &m, &bo, err, sizeof err)) {
        fprintf(stderr, "chorus: %s\n", err);
        model_free(&m);
        return 1;
    }
    int rc = bench_run(&o, &b);
    b.free(&b);
    model_free(&m);
    return rc;
}
