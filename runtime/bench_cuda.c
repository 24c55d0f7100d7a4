// bench_cuda.c - `chorus bench --device cuda`: decode and prefill throughput on the GPU, with
// the bytes each decode step must move, against the device's measured copy bandwidth.
//
// Rows printed (one per measurement):
//   copy bandwidth: a device-to-device cudaMemcpy of 512 MiB (bytes read + written / time)
//   prefill P=...: tokens/s of one P-token prompt as one batch
//   decode N=... P=...: aggregate and per-chain tokens/s, ms/step, and bytes per step =
//     weights (read once per step for all N rows) + prefix KV (read once per attention item,
//     i.e. once per ceil(N / rows_per_item) chains) + each chain's own KV; GB/s and % of copy
// Default model: N = 1, 16, 64 with a 128-token prompt. Random llama2-7b: N = 1 with 128, and
// N = 64 with a 1024-token shared prompt. Each step samples (temperature 0.7, top-p 0.95) on
// the device; only ids cross to the host.
#include "forward_cuda.h"
#include "kernels.h"

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Bytes/s of a device-to-device copy (read + write), median-free: 10 timed copies after one.
static double copy_bandwidth(void) {
    const size_t bytes = (size_t)512 << 20;
    void *a = NULL, *b = NULL;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
        cudaFree(a);
        cudaGetLastError();
        return 0;
    }
    cudaMemset(a, 1, bytes);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    cudaEventRecord(e0, 0);
    for (int i = 0; i < 10; i++) cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0);
    cudaEventRecord(e1, 0);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaFree(a);
    cudaFree(b);
    return ms > 0 ? 2.0 * bytes * 10 / (ms * 1e-3) : 0;
}

// One case: prefill a P-token prompt, fork N chains, decode `gen` steps. Prints its rows.
static int run_case(CudaForward *f, int P, int N, int gen, double copy_bw, int print_prefill,
                    FILE *out, char *err, size_t errlen) {
    const Config *c = cuda_forward_config(f);
    int *tok = malloc(sizeof(int) * (P > N ? P : N)), *seqs = malloc(sizeof(int) * (P > N ? P : N));
    int *rows = malloc(sizeof(int) * N), *ch = malloc(sizeof(int) * N), *ids = malloc(sizeof(int) * N);
    float *lp = malloc(sizeof(float) * N);
    SamplerParams *sp = malloc(sizeof(SamplerParams) * N);
    uint64_t *seed = malloc(sizeof(uint64_t) * N);
    uint32_t *cidx = malloc(sizeof(uint32_t) * N), *step = malloc(sizeof(uint32_t) * N);
    int rc = -1, pre = -1, made = 0;
    if (!tok || !seqs || !rows || !ch || !ids || !lp || !sp || !seed || !cidx || !step) {
        snprintf(err, errlen, "bench: out of host memory");
        goto done;
    }
    pre = cuda_seq_new(f, -1, P, err, errlen);
    if (pre < 0) goto done;
    uint64_t x = 12345;
    for (int i = 0; i < P; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        tok[i] = (int)((x >> 33) % (uint64_t)c->vocab_size);
        seqs[i] = pre;
    }
    int last = P - 1;
    double t0 = now_s();
    if (cuda_forward(f, tok, seqs, P, &last, 1, NULL)) goto fwd_err;
    double t_pre = now_s() - t0;
    if (print_prefill)
        fprintf(out, "cuda prefill P=%-5d %10.1f tok/s  (%.2f ms)\n", P, P / t_pre, t_pre * 1e3);
    for (int j = 0; j < N; j++) {
        ch[j] = cuda_seq_new(f, pre, gen + 1, err, errlen);
        if (ch[j] < 0) goto done;
        made++;
        rows[j] = j;
        tok[j] = (int)((j * 7919u) % (unsigned)c->vocab_size);
        sp[j] = sampler_defaults();
        seed[j] = 1;
        cidx[j] = (uint32_t)j;
    }
    t0 = now_s();
    for (int s = 0; s < gen; s++) {
        for (int j = 0; j < N; j++) step[j] = (uint32_t)s;
        if (cuda_forward(f, tok, ch, N, rows, N, NULL) ||
            cuda_sample(f, N, sp, seed, cidx, step, ids, lp, NULL))
            goto fwd_err;
        for (int j = 0; j < N; j++) tok[j] = ids[j];
    }
    double dt = now_s() - t0, ms = dt * 1e3 / gen;
    // bytes a step must read: weights once, the prefix once per item, each chain's own KV
    const int group = c->n_heads / c->n_kv_heads, per_item = ATTN_MAX_QVECS / group;
    const double tb = (double)cuda_kv_token_bytes(f);
    double bytes = (double)cuda_weight_bytes(f) + (double)((N + per_item - 1) / per_item) * P * tb +
                   (double)N * (gen + 1) / 2.0 * tb;
    double gbs = bytes / (ms * 1e-3) / 1e9;
    fprintf(out,
            "cuda decode  N=%-3d P=%-5d %9.1f tok/s aggregate %8.1f tok/s/chain %7.2f ms/step  "
            "%.2f GB/step  %7.1f GB/s",
            N, P, N * gen / dt, gen / dt, ms, bytes / 1e9, gbs);
    if (copy_bw > 0) fprintf(out, " = %.0f%% of copy bandwidth", 100.0 * gbs * 1e9 / copy_bw);
    fprintf(out, "\n");
    rc = 0;
    goto done;
fwd_err:
    snprintf(err, errlen, "%s", cuda_forward_error(f));
done:
    for (int j = 0; j < made; j++) cuda_seq_free(f, ch[j]);
    if (pre >= 0) cuda_seq_free(f, pre);
    free(tok), free(seqs), free(rows), free(ch), free(ids), free(lp), free(sp), free(seed);
    free(cidx), free(step);
    return rc;
}

int cuda_bench(Model *model, const char *random_model, FILE *out, char *err, size_t errlen) {
    if (!cuda_device_available()) {
        snprintf(err, errlen, "bench --device cuda: no CUDA device found");
        return -1;
    }
    struct cudaDeviceProp prop;
    int dev = 0;
    cudaGetDevice(&dev);
    cudaGetDeviceProperties(&prop, dev);
    double bw = copy_bandwidth();
    fprintf(out, "cuda device: %s, %d SMs; copy bandwidth %.0f GB/s (read + write)\n", prop.name,
            prop.multiProcessorCount, bw / 1e9);
    CudaForward *f;
    int big = random_model != NULL;
    if (big) {
        Config cfg;
        if (cuda_random_config(random_model, &cfg)) {
            snprintf(err, errlen, "--random-model: unknown shape '%s' (known: llama2-7b)",
                     random_model);
            return -1;
        }
        f = cuda_forward_init_random(&cfg, 42, 1024, 66, 0, err, errlen);
    } else {
        f = cuda_forward_init(model, 128, 66, 0, err, errlen);
    }
    if (!f) return -1;
    fprintf(out, "cuda weights: %.2f GB bf16\n", cuda_weight_bytes(f) / 1e9);
    char e2[256];
    FILE *devnull = fopen("/dev/null", "w"); // warm-up (cuBLAS heuristics, module load), unprinted
    if (devnull) {
        run_case(f, 16, 1, 4, 0, 0, devnull, e2, sizeof e2);
        fclose(devnull);
    }
    int rc = 0;
    if (big) {
        rc = run_case(f, 128, 1, 32, bw, 1, out, err, errlen);
        if (!rc) rc = run_case(f, 1024, 64, 32, bw, 1, out, err, errlen);
    } else {
        const int ns[3] = {1, 16, 64};
        for (int i = 0; i < 3 && !rc; i++)
            rc = run_case(f, 128, ns[i], 64, bw, i == 0, out, err, errlen);
    }
    cuda_forward_free(f);
    return rc;
}
