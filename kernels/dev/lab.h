// lab.h - what the kernel-lab programs (kernels/dev/*.cu) share. Each program checks one kernel
// of kernels.h against its CPU twin (the runtime's own function, linked in: kernels.h says which)
// on random inputs, then times it and prints the bytes it must move as GB/s and as a share of
// the device's measured copy bandwidth: the roofline of a memory-bound kernel.
//
//   prog [--check] [shape...]    --check: the check only (what `make test-gpu-emu` runs)
//
// Output: one "check ..." line per compared tensor ending in PASS or FAIL (the exit status is
// nonzero when any fails), then a "time ..." line. Under the CPU emulation (kernels/emu, where
// CHORUS_CUDA_EMU is defined) times mean nothing, so only the check runs.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

// C headers, C linkage: first here, so that kernels.h's own include of kernel_types.h (and so
// of sampler.h) finds them included already
extern "C" {
#include "kernel_types.h"
#include "model/quant.h" // f32_to_bf16, bf16_to_f32: the runtime's conversions
}

// A failed CUDA call ends the program: exit status 2 (1 is a failed check).
#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));     \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

// ---- the command line -----------------------------------------------------------------------
struct LabArgs {
    bool check_only = false;
    std::vector<const char *> shape; // the arguments after the options
};
static inline LabArgs lab_args(int argc, char **argv) {
    LabArgs a;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check"))
            a.check_only = true;
        else
            a.shape.push_back(argv[i]);
    }
    return a;
}
// The i-th shape argument, or def when there are fewer.
static inline int lab_int(const LabArgs &a, size_t i, int def) {
    return i < a.shape.size() ? atoi(a.shape[i]) : def;
}

// False (and a SKIP line) when there is no device: make kernel-bench passes on a machine
// without one.
static inline bool lab_device() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("SKIP: no CUDA device\n");
        return false;
    }
    return true;
}

// ---- random inputs (a fixed seed per program: a failure reproduces) ------------------------
struct LabRng {
    uint64_t s;
    float uniform() { // [-1, 1)
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return (float)((s >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
    }
    int below(int n) { return (int)((uniform() + 1.0f) * 0.5f * n) % n; }
};
static inline void lab_fill(std::vector<float> &x, LabRng &r, float scale) {
    for (auto &v : x) v = scale * r.uniform();
}
static inline void lab_fill_bf16(std::vector<uint16_t> &x, LabRng &r, float scale) {
    for (auto &v : x) v = f32_to_bf16(scale * r.uniform());
}
static inline std::vector<float> lab_from_bf16(const std::vector<uint16_t> &x) {
    std::vector<float> f(x.size());
    for (size_t i = 0; i < x.size(); i++) f[i] = bf16_to_f32(x[i]);
    return f;
}

// ---- device buffers -------------------------------------------------------------------------
// count elements, filled with 0xff bytes (NaN as f32 and bf16, -1 as int): an element the
// kernel should write but does not fails the check.
template <class T> static inline T *lab_alloc(size_t count) {
    void *p = nullptr;
    CK(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T)));
    CK(cudaMemset(p, 0xff, count * sizeof(T)));
    return (T *)p;
}
template <class T> static inline T *lab_upload(const std::vector<T> &h) {
    T *d = lab_alloc<T>(h.size());
    CK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}
template <class T> static inline std::vector<T> lab_download(const T *d, size_t count) {
    std::vector<T> h(count);
    CK(cudaDeviceSynchronize()); // a launch's asynchronous error shows here, by name
    CK(cudaMemcpy(h.data(), d, count * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}

// ---- the check ------------------------------------------------------------------------------
// Prints one line: the worst |got - ref|, where, and PASS when every element is within
// abs + rel * |ref| (NaN matches NaN only, an infinity itself only). Returns 1 on FAIL, else 0.
static inline int lab_validate(const char *what, const float *got, const float *ref, size_t n,
                               double abs_tol, double rel_tol) {
    size_t bad = 0, at = 0;
    double worst = -1; // none compared yet (every pair NaN)
    for (size_t i = 0; i < n; i++) {
        const bool nan_g = std::isnan(got[i]), nan_r = std::isnan(ref[i]);
        if (nan_g && nan_r) continue;
        const double d = got[i] == ref[i] ? 0 // infinities of one sign included
                         : nan_g || nan_r ? INFINITY
                                          : fabs((double)got[i] - ref[i]);
        if (!(d <= abs_tol + rel_tol * fabs(ref[i]))) bad++;
        if (d > worst) worst = d, at = i;
    }
    printf("check %-24s n=%-9zu max|diff| %.2e at %zu (gpu %.6g, cpu %.6g), tol %.3g + %.3g|cpu|: "
           "%zu bad -> %s\n",
           what, n, std::max(worst, 0.0), at, n ? got[at] : 0.0f, n ? ref[at] : 0.0f, abs_tol,
           rel_tol, bad, bad ? "FAIL" : "PASS");
    return bad ? 1 : 0;
}
static inline int lab_validate(const char *what, const std::vector<float> &got,
                               const std::vector<float> &ref, double abs_tol, double rel_tol) {
    return lab_validate(what, got.data(), ref.data(), std::min(got.size(), ref.size()), abs_tol,
                        rel_tol);
}

// ---- the time -------------------------------------------------------------------------------
// Device-to-device copy bandwidth (bytes read + written per second), measured once: the best a
// kernel that streams memory can do.
static inline double lab_copy_bandwidth() {
    static double bw = 0;
    if (bw > 0) return bw;
    const size_t bytes = (size_t)256 << 20; // far past the L2 cache (50 MB on an H100)
    void *a, *b;
    CK(cudaMalloc(&a, bytes));
    CK(cudaMalloc(&b, bytes));
    CK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice)); // warm-up
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    CK(cudaEventRecord(e0));
    for (int i = 0; i < 10; i++) CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    cudaFree(a), cudaFree(b);
    return bw = 2.0 * bytes * 10 / (ms * 1e-3);
}

// Times step() (launches only, returning their error) and prints µs per call, GB/s for the
// `bytes` it must move, and the share of the copy bandwidth. The median of `reps` calls, each
// between two events, after a warm-up call. Under the emulation, or with --check, prints why it
// does not.
template <class F>
static inline void lab_time(const LabArgs &a, const char *what, double bytes, F step,
                            int reps = 50) {
#ifdef CHORUS_CUDA_EMU
    const bool emulated = true;
#else
    const bool emulated = false;
#endif
    if (emulated || a.check_only) {
        printf("time  %-24s not measured (%s)\n", what,
               emulated ? "the CPU emulation: its times mean nothing" : "--check");
        return;
    }
    const double copy_bw = lab_copy_bandwidth();
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    CK(step());
    std::vector<float> ms;
    for (int i = 0; i < reps; i++) {
        CK(cudaEventRecord(e0));
        CK(step());
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float t = 0;
        CK(cudaEventElapsedTime(&t, e0, e1));
        ms.push_back(t);
    }
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    std::sort(ms.begin(), ms.end());
    const double s = ms[ms.size() / 2] * 1e-3;
    printf("time  %-24s %9.2f us/call, %8.2f MB moved, %6.0f GB/s = %3.0f%% of copy bandwidth "
           "(%.0f GB/s)\n",
           what, s * 1e6, bytes / 1e6, bytes / s / 1e9, 100 * bytes / s / copy_bw, copy_bw / 1e9);
}
