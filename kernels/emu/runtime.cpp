// runtime.cpp - the CUDA runtime's host API on the CPU (include/cuda_runtime_api.h).
//
// One emulated device with an H100's limits (emu.h). Device memory is host memory (malloc, so
// ASan sees every access out of an allocation) filled with 0xff bytes when allocated, and every
// allocation is recorded, so a copy can be checked against the direction it claims and the
// bounds of what it touches, and a kernel argument must point into one. Everything runs at once,
// in order, on the calling thread: streams and events exist and are checked but order nothing
// (an emulated step cannot show what asynchrony breaks; README: what only a device can).
//
// Graph capture is record and replay: between cudaStreamBeginCapture and cudaStreamEndCapture,
// the work enqueued on the stream (launches with their arguments as they are at capture, copies,
// memsets, event records, cuBLAS calls) is recorded instead of run, and cudaGraphLaunch replays
// it. As on a device, a call that would synchronise with the capturing stream (cudaMemcpy,
// cudaMalloc, cudaStreamSynchronize, ...) fails during a capture and invalidates it, and a
// captured copy must use pinned host memory (a replay reads the host buffer when it runs).
//
// Errors: a call's error is returned and kept for cudaGetLastError (which clears it), as the
// runtime does. Faults inside kernels do not become error codes here: block.cpp stops the run.
#include "emu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace emu {
namespace {

struct Alloc {
    size_t size;
    bool pinned; // host memory from cudaMallocHost: copies and kernels may use it
};
std::mutex mu;
std::map<uintptr_t, Alloc> allocs; // by start address
size_t device_bytes;
thread_local cudaError_t last_error = cudaSuccess;

struct Node { // one recorded operation of a capture
    std::function<cudaError_t()> run;
};
} // namespace
} // namespace emu

struct CUstream_st {
    unsigned flags;
    bool capturing, invalidated;
    std::vector<emu::Node> nodes;
};
struct CUevent_st {
    double t; // seconds, when recorded
    bool recorded;
};
struct CUgraph_st {
    std::vector<emu::Node> nodes;
};
struct CUgraphExec_st {
    std::vector<emu::Node> nodes;
};

namespace emu {
namespace {

cudaError_t ret(cudaError_t e) {
    if (e != cudaSuccess) last_error = e;
    return e;
}

double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// The allocation holding [p, p + n) (n = 0: p itself, or one past the end), or NULL.
const Alloc *find(const void *p, size_t n, uintptr_t *base) {
    std::lock_guard<std::mutex> g(mu);
    const uintptr_t a = (uintptr_t)p;
    auto it = allocs.upper_bound(a);
    if (it == allocs.begin()) return NULL;
    --it;
    if (a + n > it->first + it->second.size) return NULL;
    if (base) *base = it->first;
    return &it->second;
}
bool is_device(const void *p, size_t n) {
    const Alloc *a = find(p, n, NULL);
    return a && !a->pinned;
}
bool is_pinned(const void *p, size_t n) {
    const Alloc *a = find(p, n, NULL);
    return a && a->pinned;
}

// The capture in progress on this thread's streams, if any (chorus captures one at a time).
CUstream_st *capturing;

// A call that would wait for the device during a capture: it fails, and so does the capture.
bool refused_in_capture(const char *what) {
    if (!capturing) return false;
    fprintf(stderr,
            "chorus-emu: %s during a stream capture: not allowed (the capture is "
            "invalidated)\n",
            what);
    capturing->invalidated = true;
    return true;
}

// Runs op now, or records it when s is capturing.
cudaError_t enqueue(cudaStream_t s, std::function<cudaError_t()> op) {
    if (s == cudaStreamLegacy || s == cudaStreamPerThread) s = NULL;
    if (capturing && s != capturing) {
        if (s == NULL) { // the legacy stream would synchronise with the capturing one
            capturing->invalidated = true;
            return ret(cudaErrorStreamCaptureImplicit);
        }
    }
    if (s && s->capturing) {
        s->nodes.push_back(Node{std::move(op)});
        return cudaSuccess;
    }
    return ret(op());
}

const char *kind_name(cudaMemcpyKind k) {
    static const char *n[] = {"HostToHost", "HostToDevice", "DeviceToHost", "DeviceToDevice",
                              "Default"};
    return (unsigned)k <= 4 ? n[k] : "?";
}

// Checks a copy's pointers against its kind. 0, or an error with a message.
cudaError_t check_copy(void *dst, const void *src, size_t n, cudaMemcpyKind kind, bool async) {
    if (n == 0) return cudaSuccess;
    if (!dst || !src) return cudaErrorInvalidValue;
    const bool dd = is_device(dst, n), sd = is_device(src, n);
    const bool dpin = is_pinned(dst, n), spin = is_pinned(src, n);
    bool ok;
    switch (kind) {
    case cudaMemcpyHostToHost: ok = !dd && !sd; break;
    // (a host buffer may begin exactly where a device allocation ends: look at its first byte)
    case cudaMemcpyHostToDevice: ok = dd && !is_device(src, 1); break;
    case cudaMemcpyDeviceToHost: ok = sd && !is_device(dst, 1); break;
    case cudaMemcpyDeviceToDevice: ok = dd && sd; break;
    case cudaMemcpyDefault: ok = true; break;
    default: return cudaErrorInvalidMemcpyDirection;
    }
    if (!ok) {
        fprintf(stderr,
                "chorus-emu: cudaMemcpy%s of %zu bytes %p -> %p: the pointers do not "
                "match cudaMemcpy%s (or run past their allocation)\n",
                async ? "Async" : "", n, src, dst, kind_name(kind));
        return cudaErrorInvalidValue;
    }
    if (async && capturing) {
        const bool host_ok = (dd || dpin) && (sd || spin);
        if (!host_ok) {
            fprintf(stderr,
                    "chorus-emu: a captured copy of %zu bytes uses pageable host memory; "
                    "a graph replays it later: use cudaMallocHost\n",
                    n);
            return cudaErrorStreamCaptureUnsupported;
        }
    }
    return cudaSuccess;
}

std::map<const void *, size_t> smem_optin; // kernel -> dynamic shared memory allowed
const Kernel *running;

} // namespace

const Options &options(void) {
    static Options o = [] {
        Options r = {ORDER_FORWARD, 1};
        const char *v = getenv("CHORUS_EMU_ORDER");
        if (v && !strcmp(v, "reverse"))
            r.order = ORDER_REVERSE;
        else if (v && !strcmp(v, "random"))
            r.order = ORDER_RANDOM;
        else if (v && *v && strcmp(v, "forward")) {
            fprintf(stderr, "chorus-emu: CHORUS_EMU_ORDER=%s: forward, reverse or random\n", v);
            exit(2);
        }
        const char *s = getenv("CHORUS_EMU_SEED");
        if (s && *s) r.seed = strtoull(s, NULL, 10);
        return r;
    }();
    return o;
}

size_t dyn_smem_allowed(const void *fn) {
    std::lock_guard<std::mutex> g(mu);
    auto it = smem_optin.find(fn);
    return it == smem_optin.end() ? 0 : it->second;
}

const Kernel *running_kernel(void) {
    return running;
}

int kernel_pointer_ok(const void *p) {
    return p == NULL || find(p, 0, NULL) != NULL;
}

// A launch: the configuration checks of a device, then the grid runs (or is recorded).
void submit(Kernel k) {
    const dim3 g = k.cfg.grid, b = k.cfg.block;
    const unsigned long long threads = (unsigned long long)b.x * b.y * b.z;
    cudaError_t e = cudaSuccess;
    if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z || threads > MAX_THREADS ||
        b.z > MAX_BLOCK_Z || g.y > MAX_GRID_YZ || g.z > MAX_GRID_YZ || g.x > 0x7fffffffu)
        e = cudaErrorInvalidConfiguration;
    else if (k.cfg.smem > SMEM_DEFAULT && k.cfg.smem > dyn_smem_allowed(k.fn))
        e = cudaErrorInvalidValue; // past 48 KiB without cudaFuncSetAttribute
    if (e != cudaSuccess) {
        fprintf(stderr,
                "chorus-emu: launch of %s at %s:%d refused: grid (%u,%u,%u), block "
                "(%u,%u,%u), %zu bytes of dynamic shared memory\n",
                k.name, k.site.file, k.site.line, g.x, g.y, g.z, b.x, b.y, b.z, k.cfg.smem);
        ret(e);
        return;
    }
    auto kp = std::make_shared<Kernel>(std::move(k));
    enqueue(kp->cfg.stream, [kp]() {
        const Kernel *outer = running;
        running = kp.get();
        run_grid(*kp);
        running = outer;
        return cudaSuccess;
    });
}

} // namespace emu

using namespace emu;

extern "C" {

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
#define N(x)                                                                                       \
    case x: return #x;
        N(cudaSuccess)
        N(cudaErrorInvalidValue)
        N(cudaErrorMemoryAllocation)
        N(cudaErrorInitializationError)
        N(cudaErrorInvalidConfiguration)
        N(cudaErrorInvalidMemcpyDirection)
        N(cudaErrorInvalidDeviceFunction)
        N(cudaErrorNoDevice)
        N(cudaErrorInvalidDevice)
        N(cudaErrorInvalidResourceHandle)
        N(cudaErrorIllegalState)
        N(cudaErrorNotReady)
        N(cudaErrorIllegalAddress)
        N(cudaErrorLaunchOutOfResources)
        N(cudaErrorLaunchFailure)
        N(cudaErrorNotSupported)
        N(cudaErrorStreamCaptureUnsupported)
        N(cudaErrorStreamCaptureInvalidated)
        N(cudaErrorStreamCaptureUnmatched)
        N(cudaErrorStreamCaptureImplicit)
        N(cudaErrorUnknown)
#undef N
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorStreamCaptureUnsupported:
        return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
        return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit:
        return "operation would make the legacy stream depend on a capturing blocking stream";
    default: return cudaGetErrorName(e);
    }
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) {
    return last_error;
}

// CHORUS_EMU_DEVICES=0 hides the device, so the code paths without one can be run too.
cudaError_t cudaGetDeviceCount(int *count) {
    const char *v = getenv("CHORUS_EMU_DEVICES");
    *count = v && !strcmp(v, "0") ? 0 : 1;
    return *count ? cudaSuccess : ret(cudaErrorNoDevice);
}
cudaError_t cudaGetDevice(int *dev) {
    *dev = 0;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int dev) {
    return dev == 0 ? cudaSuccess : ret(cudaErrorInvalidDevice);
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int dev) {
    if (dev != 0) return ret(cudaErrorInvalidDevice);
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock:
    case cudaDevAttrMaxBlockDimX: *value = MAX_THREADS; break;
    case cudaDevAttrMaxGridDimX: *value = 0x7fffffff; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = SMEM_DEFAULT; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMultiProcessorCount: *value = N_SMS; break;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = SMEM_OPTIN; break;
    default: return ret(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int dev) {
    if (dev != 0) return ret(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "chorus CPU emulation (H100 limits)");
    p->totalGlobalMem = (size_t)80 << 30;
    p->sharedMemPerBlock = SMEM_DEFAULT;
    p->sharedMemPerBlockOptin = SMEM_OPTIN;
    p->warpSize = 32;
    p->maxThreadsPerBlock = MAX_THREADS;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = MAX_THREADS, p->maxThreadsDim[2] = MAX_BLOCK_Z;
    p->maxGridSize[0] = 0x7fffffff, p->maxGridSize[1] = p->maxGridSize[2] = MAX_GRID_YZ;
    p->multiProcessorCount = N_SMS;
    p->major = 9, p->minor = 0;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
    if (refused_in_capture("cudaDeviceSynchronize")) return ret(cudaErrorStreamCaptureUnsupported);
    return cudaSuccess;
}
cudaError_t cudaDeviceReset(void) {
    return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void *func, cudaFuncAttribute attr, int value) {
    if (!func) return ret(cudaErrorInvalidDeviceFunction);
    if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > SMEM_OPTIN)
        return ret(cudaErrorInvalidValue);
    std::lock_guard<std::mutex> g(mu);
    smem_optin[func] = (size_t)value;
    return cudaSuccess;
}

// ---- memory --------------------------------------------------------------------------------

static cudaError_t alloc(void **p, size_t bytes, bool pinned, const char *what) {
    if (!p) return ret(cudaErrorInvalidValue);
    *p = NULL;
    if (refused_in_capture(what)) return ret(cudaErrorStreamCaptureUnsupported);
    const size_t n = bytes ? bytes : 1;
    const char *cap = getenv("CHORUS_EMU_MEMORY"); // bytes the device has (tests of OOM paths)
    if (!pinned && cap && *cap && device_bytes + n > strtoull(cap, NULL, 10))
        return ret(cudaErrorMemoryAllocation);
    void *m = malloc(n);
    if (!m) return ret(cudaErrorMemoryAllocation);
    memset(m, 0xff, n); // a device's fresh memory is garbage: make reads of it show
    std::lock_guard<std::mutex> g(mu);
    allocs[(uintptr_t)m] = Alloc{n, pinned};
    if (!pinned) device_bytes += n;
    *p = m;
    return cudaSuccess;
}

static cudaError_t release(void *p, bool pinned, const char *what) {
    if (!p) return cudaSuccess;
    if (refused_in_capture(what)) return ret(cudaErrorStreamCaptureUnsupported);
    {
        std::lock_guard<std::mutex> g(mu);
        auto it = allocs.find((uintptr_t)p);
        if (it == allocs.end() || it->second.pinned != pinned) {
            fprintf(stderr, "chorus-emu: %s(%p): not a pointer from %s\n", what, p,
                    pinned ? "cudaMallocHost" : "cudaMalloc");
            return ret(cudaErrorInvalidValue);
        }
        if (!pinned) device_bytes -= it->second.size;
        allocs.erase(it);
    }
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
    return alloc(p, bytes, false, "cudaMalloc");
}
cudaError_t cudaFree(void *p) {
    return release(p, false, "cudaFree");
}
cudaError_t cudaMallocHost(void **p, size_t bytes) {
    return alloc(p, bytes, true, "cudaMallocHost");
}
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned flags) {
    return alloc(p, bytes, true, "cudaHostAlloc");
}
cudaError_t cudaFreeHost(void *p) {
    return release(p, true, "cudaFreeHost");
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    cudaDeviceProp p;
    cudaGetDeviceProperties(&p, 0);
    *total_bytes = p.totalGlobalMem;
    *free_bytes = device_bytes < p.totalGlobalMem ? p.totalGlobalMem - device_bytes : 0;
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    if (refused_in_capture("cudaMemcpy")) return ret(cudaErrorStreamCaptureUnsupported);
    cudaError_t e = check_copy(dst, src, bytes, kind, false);
    if (e != cudaSuccess) return ret(e);
    if (bytes) memmove(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t s) {
    cudaError_t e = check_copy(dst, src, bytes, kind, true);
    if (e != cudaSuccess) {
        if (capturing) capturing->invalidated = true;
        return ret(e);
    }
    return enqueue(s, [=]() {
        if (bytes) memmove(dst, src, bytes);
        return cudaSuccess;
    });
}

static cudaError_t check_set(void *p, size_t bytes) {
    if (bytes && !is_device(p, bytes)) {
        fprintf(stderr,
                "chorus-emu: cudaMemset of %zu bytes at %p: not inside one device "
                "allocation\n",
                bytes, p);
        return cudaErrorInvalidValue;
    }
    return cudaSuccess;
}
cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    if (refused_in_capture("cudaMemset")) return ret(cudaErrorStreamCaptureUnsupported);
    cudaError_t e = check_set(p, bytes);
    if (e != cudaSuccess) return ret(e);
    if (bytes) memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s) {
    cudaError_t e = check_set(p, bytes);
    if (e != cudaSuccess) return ret(e);
    return enqueue(s, [=]() {
        if (bytes) memset(p, value, bytes);
        return cudaSuccess;
    });
}

// ---- streams, events, graphs -----------------------------------------------------------------

cudaError_t cudaStreamCreate(cudaStream_t *s) {
    return cudaStreamCreateWithFlags(s, cudaStreamDefault);
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
    *s = new CUstream_st{flags, false, false, {}};
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    if (!s || s == cudaStreamLegacy || s == cudaStreamPerThread)
        return ret(cudaErrorInvalidResourceHandle);
    if (s == capturing) capturing = NULL;
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    if (refused_in_capture("cudaStreamSynchronize")) return ret(cudaErrorStreamCaptureUnsupported);
    return cudaSuccess;
}
cudaError_t cudaStreamQuery(cudaStream_t s) {
    if (refused_in_capture("cudaStreamQuery")) return ret(cudaErrorStreamCaptureUnsupported);
    return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
    if (!s || s == cudaStreamLegacy || s == cudaStreamPerThread)
        return ret(cudaErrorStreamCaptureUnsupported); // the legacy stream cannot be captured
    if (s->capturing || capturing) return ret(cudaErrorIllegalState);
    s->capturing = true;
    s->invalidated = false;
    s->nodes.clear();
    capturing = s;
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph) {
    *graph = NULL;
    if (!s || !s->capturing) return ret(cudaErrorIllegalState);
    s->capturing = false;
    capturing = NULL;
    if (s->invalidated) {
        s->nodes.clear();
        return ret(cudaErrorStreamCaptureInvalidated);
    }
    *graph = new CUgraph_st{std::move(s->nodes)};
    s->nodes.clear();
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus *status) {
    *status =
        s && s != cudaStreamLegacy && s != cudaStreamPerThread && s->capturing
            ? (s->invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive)
            : cudaStreamCaptureStatusNone;
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = new CUevent_st{0, false};
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    if (!e) return ret(cudaErrorInvalidResourceHandle);
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    if (!e) return ret(cudaErrorInvalidResourceHandle);
    return enqueue(s, [e]() {
        e->t = now();
        e->recorded = true;
        return cudaSuccess;
    });
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    if (refused_in_capture("cudaEventSynchronize")) return ret(cudaErrorStreamCaptureUnsupported);
    return e ? cudaSuccess : ret(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventQuery(cudaEvent_t e) {
    return e ? cudaSuccess : ret(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    if (!a || !b) return ret(cudaErrorInvalidResourceHandle);
    if (!a->recorded || !b->recorded) return ret(cudaErrorInvalidResourceHandle);
    *ms = (float)((b->t - a->t) * 1e3);
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph,
                                 unsigned long long flags) {
    if (!graph) return ret(cudaErrorInvalidValue);
    *exec = new CUgraphExec_st{graph->nodes};
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
    if (!exec) return ret(cudaErrorInvalidValue);
    if (s && s != cudaStreamLegacy && s != cudaStreamPerThread && s->capturing)
        return ret(cudaErrorNotSupported); // chorus never nests graphs
    for (const Node &n : exec->nodes) {
        cudaError_t e = n.run();
        if (e != cudaSuccess) return ret(e);
    }
    return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    delete graph;
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    delete exec;
    return cudaSuccess;
}

} // extern "C"

// For cublas.cpp: its calls go through the same queue (a capture records them too).
namespace emu {
cudaError_t enqueue_op(cudaStream_t s, std::function<cudaError_t()> op) {
    return enqueue(s, std::move(op));
}
bool device_range(const void *p, size_t n) {
    return is_device(p, n);
}
} // namespace emu
