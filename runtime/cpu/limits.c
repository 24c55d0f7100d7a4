// cpu/limits.c - the two limits of this machine that a CPU decode step runs into, measured, so
// that `chorus bench` (and tools/bench.py) can say how close the engine comes to them:
//   streaming-read bandwidth   one chain's step reads every weight once and does little else
//   int8 multiply-add peak     a batch of chains multiplies every weight by every row
#include "cpu/limits.h"
#include "cpu/qgemm.h"
#include "util/clock.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

// Sum of n words with 8 independent chains (the compiler vectorises it): a pure read stream.
static uint64_t sum_words(const uint64_t *p, size_t n) {
    uint64_t s[8] = {0};
    for (size_t i = 0; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += p[i + j];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

double cpu_stream_read_gbps(int threads) {
    // 512 MB: far past any last-level cache, so every pass streams from memory
    const size_t bytes = (size_t)512 << 20, words = bytes / 8;
    uint64_t *buf = aligned_alloc(64, bytes);
    if (!buf) return 0;
    memset(buf, 1, bytes); // the pages exist before the clock starts
    double best = 1e30;
    volatile uint64_t sink = 0;
    for (int pass = 0; pass < 5; pass++) {
        const double t0 = now_s();
        uint64_t total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
        {
            int t = 0, nt = 1;
#ifdef _OPENMP
            t = omp_get_thread_num(), nt = omp_get_num_threads();
#endif
            const size_t chunk = words / nt / 8 * 8;
            total += sum_words(buf + t * chunk, chunk);
        }
        const double dt = now_s() - t0;
        sink += total;
        if (dt < best) best = dt;
    }
    (void)sink;
    free(buf);
    return bytes / best / 1e9;
}

double cpu_int8_peak_gmacs(CpuIsa isa, int threads) {
    const QKernels *K = qgemm_kernels_for(isa);
    if (!K) return 0;
    long iters = 1000;
    double dt = 0, macs = 0;
    while (dt < 0.2) { // grow the run until it is long enough to time
        iters *= 4;
        const double t0 = now_s();
        macs = 0;
#pragma omp parallel num_threads(threads) reduction(+ : macs)
        macs += K->peak(iters);
        dt = now_s() - t0;
    }
    return macs / dt / 1e9;
}
