// device.h - what a CUDA kernel sees, on the CPU (kernels/emu/README.md).
//
// kernels/*.cu compile unchanged as C++ once kernels/emu/cu2cpp.py has rewritten the two
// things no macro can express: a launch `k<<<grid, block, smem, stream>>>(args)` becomes
// `::emu::launcher(site, "k", k, {grid, block, smem, stream})(args)`, and a `__shared__`
// declaration becomes a reference to the block's shared memory (::emu::shared). Everything else
// is here: the qualifiers, threadIdx and friends, barriers, warp operations, atomics and the
// math intrinsics the kernels use.
//
// Every CUDA thread of a block runs as a fiber on one CPU thread (block.cpp). A thread runs
// uninterrupted from one synchronisation point to the next (__syncthreads, a warp operation,
// the kernel's end), so the emulator decides the order of everything in between: a kernel
// that depends on it is racy, and CHORUS_EMU_ORDER=forward|reverse|random changes the order
// to show it; the TSan build reports it (block.cpp: which operations synchronise).
#pragma once
#include "cuda_runtime_api.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__    __attribute__((noinline))
#define __constant__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

static constexpr int warpSize = 32;

namespace emu {

// A source position: where a barrier, warp operation, shared variable or launch is written.
struct Site {
    const char *file;
    int line;
};
#define EMU_SITE (::emu::Site{__FILE__, __LINE__})

// The running CUDA thread's indices (block.cpp points this at the thread before each switch).
struct Ids {
    uint3 thread, block;
    dim3 block_dim, grid_dim;
};
extern thread_local const Ids *ids;

// Warp operations (block.cpp): the calling lane waits until every lane of `mask` has made the
// same operation with the same mask; then each gets its result.
enum WarpKind { W_SHFL_IDX, W_SHFL_UP, W_SHFL_DOWN, W_SHFL_XOR, W_BALLOT, W_ANY, W_ALL, W_SYNC };
uint64_t warp_op(Site s, int kind, unsigned mask, uint64_t value, int arg, int width);
void syncthreads(Site s);
void *shared_var(Site s, const char *name, size_t size, size_t align); // per block, 0xff-filled
void *dyn_shared(void);                                                // extern __shared__
[[noreturn]] void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

template <class T> inline T &shared(Site s, const char *name) {
    return *static_cast<T *>(shared_var(s, name, sizeof(T), alignof(T)));
}
template <class T> inline T *dyn_shared_as() {
    return static_cast<T *>(dyn_shared());
}

template <class T> inline T shfl(Site s, int kind, unsigned mask, T v, int arg, int width = 32) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "shuffles move 32- or 64-bit values");
    uint64_t b = 0;
    memcpy(&b, &v, sizeof v);
    b = warp_op(s, kind, mask, b, arg, width);
    T r;
    memcpy(&r, &b, sizeof r);
    return r;
}

// ---- launches ----------------------------------------------------------------------------
struct LaunchCfg {
    dim3 grid, block;
    size_t smem;
    cudaStream_t stream;
    LaunchCfg(dim3 g, dim3 b, size_t sm = 0, cudaStream_t st = 0)
        : grid(g), block(b), smem(sm), stream(st) {}
};

// One launch: where, what, its shape, and the call every thread makes (the arguments were
// copied at launch, as CUDA copies them into the kernel's parameter space).
struct Kernel {
    Site site;
    const char *name;
    const void *fn;
    LaunchCfg cfg;
    std::function<void()> body;
};
// runtime.cpp: checks the configuration, then runs the grid or records it in a capture.
void submit(Kernel k);
// 1 if p may be handed to a kernel: NULL, inside (or one past) a device allocation, or pinned
// host memory.
int kernel_pointer_ok(const void *p);

template <class T> inline void check_arg(const T &v, int i, const char *name, Site s) {
    if constexpr (std::is_pointer_v<T> && std::is_object_v<std::remove_pointer_t<T>>) {
        if (!kernel_pointer_ok((const void *)v))
            fail("%s:%d: kernel %s: argument %d (%p) is not device memory", s.file, s.line, name,
                 i + 1, (const void *)v);
    }
}

// `k<<<cfg>>>(args)` is rewritten to `launcher(site, "k", k, cfg)(args)`: the call converts
// the arguments to the kernel's parameter types exactly as a call of k would (NULL to a
// pointer, int64_t to int, ...), then every thread of the grid calls k with copies of them.
template <class... P> struct Launcher {
    Site s;
    const char *name;
    void (*fn)(P...);
    LaunchCfg cfg;
    void operator()(P... args) const {
        auto params = std::make_shared<std::tuple<P...>>(args...);
        int i = 0;
        (check_arg(args, i++, name, s), ...);
        void (*f)(P...) = fn;
        submit(Kernel{s, name, (const void *)fn, cfg, [f, params]() { std::apply(f, *params); }});
    }
};
template <class... P>
Launcher<P...> launcher(Site s, const char *name, void (*fn)(P...), LaunchCfg cfg) {
    return Launcher<P...>{s, name, fn, cfg};
}

} // namespace emu

#define threadIdx (::emu::ids->thread)
#define blockIdx  (::emu::ids->block)
#define blockDim  (::emu::ids->block_dim)
#define gridDim   (::emu::ids->grid_dim)

// ---- barriers and warp operations ----------------------------------------------------------
#define __syncthreads()       ::emu::syncthreads(EMU_SITE)
#define __syncwarp(...)       ::emu::syncwarp_(EMU_SITE __VA_OPT__(, ) __VA_ARGS__)
#define __shfl_sync(...)      ::emu::shfl(EMU_SITE, ::emu::W_SHFL_IDX, __VA_ARGS__)
#define __shfl_up_sync(...)   ::emu::shfl(EMU_SITE, ::emu::W_SHFL_UP, __VA_ARGS__)
#define __shfl_down_sync(...) ::emu::shfl(EMU_SITE, ::emu::W_SHFL_DOWN, __VA_ARGS__)
#define __shfl_xor_sync(...)  ::emu::shfl(EMU_SITE, ::emu::W_SHFL_XOR, __VA_ARGS__)
#define __ballot_sync(mask, pred)                                                                  \
    ((unsigned)::emu::warp_op(EMU_SITE, ::emu::W_BALLOT, (mask), (pred) != 0, 0, 32))
#define __any_sync(mask, pred)                                                                     \
    ((int)::emu::warp_op(EMU_SITE, ::emu::W_ANY, (mask), (pred) != 0, 0, 32))
#define __all_sync(mask, pred)                                                                     \
    ((int)::emu::warp_op(EMU_SITE, ::emu::W_ALL, (mask), (pred) != 0, 0, 32))

namespace emu {
inline void syncwarp_(Site s, unsigned mask = 0xffffffffu) {
    warp_op(s, W_SYNC, mask, 0, 0, 32);
}
} // namespace emu

// ---- atomics (relaxed, as CUDA's): any thread of any block may run between two of them ----
template <class T> inline T atomicAdd(T *p, T v) {
    if constexpr (std::is_floating_point_v<T>) {
        T old = __atomic_load_n(p, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(p, &old, old + v, false, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED)) {
        }
        return old;
    } else {
        return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
    }
}
template <class T> inline T atomicSub(T *p, T v) {
    return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED);
}
template <class T> inline T atomicExch(T *p, T v) {
    return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);
}
template <class T> inline T atomicCAS(T *p, T expected, T desired) {
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return expected; // the old value either way
}
template <class T> inline T atomicMax(T *p, T v) {
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (old < v &&
           !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
template <class T> inline T atomicMin(T *p, T v) {
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (old > v &&
           !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
inline void __threadfence(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
inline void __threadfence_block(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

// ---- intrinsics ----------------------------------------------------------------------------
// The fast-math intrinsics (__expf, rsqrtf, ...) are approximations on a device (a few ulp);
// here they are the libm functions. Numerics that depend on that difference are beyond what
// the emulation can show (README: what only a device can).
inline float rsqrtf(float x) {
    return 1.0f / sqrtf(x);
}
inline double rsqrt(double x) {
    return 1.0 / sqrt(x);
}
inline float __expf(float x) {
    return expf(x);
}
inline float __logf(float x) {
    return logf(x);
}
inline float __fdividef(float a, float b) {
    return a / b;
}
inline float __saturatef(float x) {
    return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x;
}
inline unsigned __float_as_uint(float f) {
    unsigned u;
    memcpy(&u, &f, 4);
    return u;
}
inline float __uint_as_float(unsigned u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
inline int __float_as_int(float f) {
    int i;
    memcpy(&i, &f, 4);
    return i;
}
inline float __int_as_float(int i) {
    float f;
    memcpy(&f, &i, 4);
    return f;
}
inline long long __double_as_longlong(double d) {
    long long v;
    memcpy(&v, &d, 8);
    return v;
}
inline double __longlong_as_double(long long v) {
    double d;
    memcpy(&d, &v, 8);
    return d;
}
inline int __ffs(int x) {
    return __builtin_ffs(x);
}
inline int __ffsll(long long x) {
    return __builtin_ffsll(x);
}
inline int __clz(int x) {
    return x ? __builtin_clz((unsigned)x) : 32;
}
inline int __clzll(long long x) {
    return x ? __builtin_clzll((unsigned long long)x) : 64;
}
inline int __popc(unsigned x) {
    return __builtin_popcount(x);
}
inline int __popcll(unsigned long long x) {
    return __builtin_popcountll(x);
}
inline unsigned __brev(unsigned x) {
    x = (x >> 16) | (x << 16);
    x = ((x & 0xff00ff00u) >> 8) | ((x & 0x00ff00ffu) << 8);
    x = ((x & 0xf0f0f0f0u) >> 4) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x & 0xccccccccu) >> 2) | ((x & 0x33333333u) << 2);
    return ((x & 0xaaaaaaaau) >> 1) | ((x & 0x55555555u) << 1);
}
template <class T> inline T __ldg(const T *p) {
    return *p;
}

// CUDA's overloads of min and max in the global namespace.
#define EMU_MINMAX(T)                                                                              \
    inline T min(T a, T b) {                                                                       \
        return b < a ? b : a;                                                                      \
    }                                                                                              \
    inline T max(T a, T b) {                                                                       \
        return a < b ? b : a;                                                                      \
    }
EMU_MINMAX(int)
EMU_MINMAX(unsigned)
EMU_MINMAX(long)
EMU_MINMAX(unsigned long)
EMU_MINMAX(long long)
EMU_MINMAX(unsigned long long)
#undef EMU_MINMAX
inline float min(float a, float b) {
    return fminf(a, b);
}
inline float max(float a, float b) {
    return fmaxf(a, b);
}
inline double min(double a, double b) {
    return fmin(a, b);
}
inline double max(double a, double b) {
    return fmax(a, b);
}
