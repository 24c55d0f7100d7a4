// test_emu.cu - the CUDA emulation's own semantics (kernels/emu/), on correct kernels: what
// the kernels rely on must behave as on a device. Built like kernels/*.cu (cu2cpp.py, then
// g++) in every emulation build; under ASan and TSan it must also be clean.
//   1. indices: every (block, thread) of a 3-D grid of 3-D blocks runs once, with its indices;
//   2. shuffles against the CUDA Programming Guide's description of each (an implementation
//      independent of block.cpp's shfl.sync arithmetic): every width, lane offsets inside and
//      past the segment, negative source lanes; ballot, any, all on partial masks; two half-warp
//      groups making __syncwarp with their own masks at once;
//   3. shared memory: fresh per block and 0xff-filled, dynamic shared memory past 48 KiB only
//      after cudaFuncSetAttribute; atomics in shared and global memory across blocks;
//   4. launch limits (1024 threads, block z 64, grid y/z 65535) refused with the device's codes;
//   5. memory: cudaMalloc'd bytes are 0xff, copies checked against their direction and bounds;
//   6. graphs: a capture records launches (arguments as they were), pinned copies and cuBLAS
//      calls, and replays them; a synchronising call inside a capture fails and invalidates it;
//      a captured copy from pageable memory is refused;
//   7. cublasGemmEx in all four transpose combinations, bf16 and fp32, beta 0 (C not read) and
//      1, against a double-precision product; bad shapes and types refused.
#include "check.h"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <vector>

// ---- 1. indices -------------------------------------------------------------------------------

__global__ void ids_kernel(int *out) {
    const int b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const int per = blockDim.x * blockDim.y * blockDim.z;
    atomicAdd(&out[b * per + t], b * 1000 + t + 1);
}

static void test_indices(void) {
    const dim3 g(3, 2, 2), b(4, 3, 5);
    const int n = 12 * 60;
    int *d = NULL;
    cudaMalloc((void **)&d, n * sizeof(int));
    cudaMemset(d, 0, n * sizeof(int));
    ids_kernel<<<g, b>>>(d);
    CHECK(cudaGetLastError() == cudaSuccess, "3-D launch");
    std::vector<int> h(n);
    cudaMemcpy(h.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost);
    int bad = 0;
    for (int i = 0; i < n; i++) bad += h[i] != (i / 60) * 1000 + i % 60 + 1;
    CHECK(bad == 0, "every thread of every block ran once with its indices (%d wrong)", bad);
    cudaFree(d);
}

// ---- 2. warp operations ------------------------------------------------------------------------

enum { IDX, UP, DOWN, XOR };

// The Programming Guide's words, lane by lane: idx reads lane srcLane % width of the caller's
// segment; up reads lane - delta unless that leaves the segment (then its own); down reads
// lane + delta unless that leaves the segment; xor reads lane ^ mask unless that is in a later
// segment.
static int guide_src(int kind, int lane, int arg, int width) {
    const int seg = lane / width * width;
    switch (kind) {
    case IDX: return seg + ((arg % width) + width) % width;
    case UP: return lane - seg >= arg ? lane - arg : lane;
    case DOWN: return lane - seg + arg < width ? lane + arg : lane;
    default: {
        const int j = lane ^ arg;
        return j / width > lane / width ? lane : j;
    }
    }
}

__global__ void shfl_kernel(int *out, int kind, int arg, int width) {
    const int lane = threadIdx.x & 31, v = 100 + (int)threadIdx.x;
    int r;
    switch (kind) {
    case IDX: r = __shfl_sync(0xffffffffu, v, arg, width); break;
    case UP: r = __shfl_up_sync(0xffffffffu, v, (unsigned)arg, width); break;
    case DOWN: r = __shfl_down_sync(0xffffffffu, v, (unsigned)arg, width); break;
    default: r = __shfl_xor_sync(0xffffffffu, v, arg, width); break;
    }
    out[threadIdx.x] = r - 100 - (int)(threadIdx.x - lane); // the source lane
}

// 64-bit values and doubles go through shuffles whole.
__global__ void shfl64_kernel(double *out) {
    double v = 1.0 + threadIdx.x * 0.25;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    unsigned long long k = 0x100000000ull * threadIdx.x + 7;
    k = __shfl_sync(0xffffffffu, k, 31 - (int)threadIdx.x);
    out[threadIdx.x] = v + (double)(k >> 32) * 1e-3;
}

__global__ void vote_kernel(unsigned *out) {
    const int lane = threadIdx.x;
    if (lane < 16) { // the low half votes among itself, with its own mask
        out[lane] = __ballot_sync(0x0000ffffu, lane % 3 == 0);
        __syncwarp(0x0000ffffu);
    } else { // the high half at the same time, with another
        out[lane] = __any_sync(0xffff0000u, lane == 20) * 2 + __all_sync(0xffff0000u, lane > 15);
        __syncwarp(0xffff0000u);
    }
}

static void test_warp(void) {
    int *d = NULL, h[64];
    cudaMalloc((void **)&d, sizeof h);
    int bad = 0, cases = 0;
    const int args[] = {-33, -1, 0, 1, 2, 3, 5, 7, 8, 15, 16, 17, 31};
    for (int kind = IDX; kind <= XOR; kind++)
        for (int width = 1; width <= 32; width *= 2)
            for (int arg : args) {
                if (kind != IDX && (arg < 0 || arg > 31)) continue;
                shfl_kernel<<<1, 64>>>(d, kind, arg, width); // two warps
                cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
                for (int t = 0; t < 64; t++)
                    if (h[t] != guide_src(kind, t & 31, arg, width)) {
                        if (bad++ < 5)
                            fprintf(stderr,
                                    "  shfl kind %d width %d arg %d lane %d: lane %d, "
                                    "guide %d\n",
                                    kind, width, arg, t & 31, h[t],
                                    guide_src(kind, t & 31, arg, width));
                    }
                cases++;
            }
    CHECK(bad == 0, "shuffles follow the Programming Guide in %d cases (%d lanes wrong)", cases,
          bad);
    double *dd = NULL, hd[32];
    cudaMalloc((void **)&dd, sizeof hd);
    shfl64_kernel<<<1, 32>>>(dd);
    cudaMemcpy(hd, dd, sizeof hd, cudaMemcpyDeviceToHost);
    bad = 0;
    for (int t = 0; t < 32; t++) bad += hd[t] != 32.0 + 0.25 * 496 + (31 - t) * 1e-3;
    CHECK(bad == 0, "64-bit shuffles: butterfly sums of doubles and an index shuffle of u64");
    unsigned *dv = NULL, hv[32];
    cudaMalloc((void **)&dv, sizeof hv);
    vote_kernel<<<1, 32>>>(dv);
    CHECK(cudaGetLastError() == cudaSuccess, "votes launch");
    cudaMemcpy(hv, dv, sizeof hv, cudaMemcpyDeviceToHost);
    bad = 0;
    for (int t = 0; t < 32; t++) bad += hv[t] != (t < 16 ? 0x9249u : 3u);
    CHECK(bad == 0, "ballot, any and all over two half-warp masks at once");
    cudaFree(d), cudaFree(dd), cudaFree(dv);
}

// ---- 3. shared memory and atomics ---------------------------------------------------------------

__global__ void shared_kernel(int *fresh, int *sums, int *total) {
    __shared__ int s[64];
    __shared__ int count;
    extern __shared__ unsigned char dyn[];
    // before anything writes them, shared variables hold 0xff bytes (every block)
    if (threadIdx.x == 0) {
        fresh[blockIdx.x] = s[7] == -1 && dyn[0] == 0xff && dyn[60000 - 1] == 0xff;
        count = 0;
    }
    __syncthreads();
    if (threadIdx.x < 64) s[threadIdx.x] = 0; // one writer each (four would race: TSan says so)
    __syncthreads();
    atomicAdd(&s[threadIdx.x % 64], (int)threadIdx.x);
    atomicAdd(&count, 1);
    dyn[threadIdx.x * 100] = 1;
    __syncthreads();
    if (threadIdx.x == 0) {
        int sum = 0;
        for (int i = 0; i < 64; i++) sum += s[i];
        sums[blockIdx.x] = sum * 1000 + count;
        s[7] = 5; // the next block must not see this
    }
    atomicAdd(total, 1);
    atomicMax(total + 1, (int)(blockIdx.x * blockDim.x + threadIdx.x));
}

static void test_shared(void) {
    int *fresh = NULL, *sums = NULL, *total = NULL, h[8];
    cudaMalloc((void **)&fresh, 4 * sizeof(int));
    cudaMalloc((void **)&sums, 4 * sizeof(int));
    cudaMalloc((void **)&total, 2 * sizeof(int));
    cudaMemset(total, 0, 2 * sizeof(int));
    shared_kernel<<<4, 256, 60000>>>(fresh, sums, total);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue,
          "60000 bytes of dynamic shared memory are refused before cudaFuncSetAttribute");
    CHECK(cudaGetLastError() == cudaSuccess, "cudaGetLastError clears the error");
    CHECK(cudaFuncSetAttribute((const void *)shared_kernel,
                               cudaFuncAttributeMaxDynamicSharedMemorySize, 60000) == cudaSuccess,
          "open the kernel to 60000 bytes");
    CHECK(cudaFuncSetAttribute((const void *)shared_kernel,
                               cudaFuncAttributeMaxDynamicSharedMemorySize,
                               228 * 1024) == cudaErrorInvalidValue,
          "past the device's 227 KiB is refused");
    cudaGetLastError();
    shared_kernel<<<4, 256, 60000>>>(fresh, sums, total);
    CHECK(cudaGetLastError() == cudaSuccess, "launch with 60000 bytes");
    cudaMemcpy(h, fresh, 4 * sizeof(int), cudaMemcpyDeviceToHost);
    CHECK(h[0] && h[1] && h[2] && h[3], "every block's shared memory starts 0xff-filled");
    cudaMemcpy(h, sums, 4 * sizeof(int), cudaMemcpyDeviceToHost);
    CHECK(h[0] == 255 * 128 * 1000 + 256 && h[3] == h[0], "atomics in shared memory: %d", h[0]);
    cudaMemcpy(h, total, 2 * sizeof(int), cudaMemcpyDeviceToHost);
    CHECK(h[0] == 1024 && h[1] == 1023, "atomics in global memory across blocks: %d %d", h[0],
          h[1]);
    cudaFree(fresh), cudaFree(sums), cudaFree(total);
}

// ---- 4. launch limits ---------------------------------------------------------------------------

__global__ void nothing_kernel(int *p) {
    if (p) p[0] = 1;
}

static void test_limits(void) {
    nothing_kernel<<<1, 1025>>>(NULL);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "1025 threads refused");
    nothing_kernel<<<1, dim3(1, 1, 65)>>>(NULL);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "block z 65 refused");
    nothing_kernel<<<dim3(1, 65536), 32>>>(NULL);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "grid y 65536 refused");
    nothing_kernel<<<0, 32>>>(NULL);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "an empty grid refused");
    nothing_kernel<<<dim3(1, 65535), 1>>>(NULL);
    CHECK(cudaGetLastError() == cudaSuccess, "grid y 65535 runs");
    nothing_kernel<<<1, dim3(32, 32)>>>(NULL);
    CHECK(cudaGetLastError() == cudaSuccess, "1024 threads a block run");
    int attr = 0;
    cudaDeviceGetAttribute(&attr, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0);
    CHECK(attr == 227 * 1024, "opt-in shared memory of an H100: %d", attr);
}

// ---- 5. memory ----------------------------------------------------------------------------------

static void test_memory(void) {
    unsigned char *d = NULL, h[64];
    CHECK(cudaMalloc((void **)&d, 64) == cudaSuccess, "cudaMalloc");
    cudaMemcpy(h, d, 64, cudaMemcpyDeviceToHost);
    int ff = 0;
    for (int i = 0; i < 64; i++) ff += h[i] == 0xff;
    CHECK(ff == 64, "fresh device memory reads as 0xff bytes");
    CHECK(cudaMemcpy(d, h, 64, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
          "a copy whose pointers contradict its kind is refused");
    CHECK(cudaMemcpy(h, d, 65, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
          "a copy past the allocation's end is refused");
    CHECK(cudaGetLastError() == cudaErrorInvalidValue && cudaGetLastError() == cudaSuccess,
          "the last error is kept once");
    CHECK(cudaMemcpy(d + 8, d, 32, cudaMemcpyDeviceToDevice) == cudaSuccess,
          "a device-to-device copy inside one allocation");
    CHECK(cudaFree(h) == cudaErrorInvalidValue, "cudaFree of host memory is refused");
    cudaGetLastError();
    CHECK(cudaFree(d) == cudaSuccess, "cudaFree");
}

// ---- 6. graphs
// ------------------------------------------------------------------------------------

__global__ void axpy_kernel(float *y, const float *x, float a, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        y[i] += a * x[i];
}

static void test_graphs(void) {
    enum { N = 1000 };
    cudaStream_t s;
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    float *x = NULL, *y = NULL, *pin = NULL, *pageable = (float *)malloc(N * sizeof(float));
    cudaMalloc((void **)&x, N * sizeof(float));
    cudaMalloc((void **)&y, N * sizeof(float));
    cudaMallocHost((void **)&pin, N * sizeof(float));
    for (int i = 0; i < N; i++) pin[i] = (float)i, pageable[i] = 0.0f;
    cudaMemset(y, 0, N * sizeof(float));
    float a = 2.0f;
    cudaGraph_t g = NULL;
    cudaGraphExec_t ge = NULL;
    CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) == cudaSuccess, "capture");
    cudaMemcpyAsync(x, pin, N * sizeof(float), cudaMemcpyHostToDevice, s);
    axpy_kernel<<<3, 128, 0, s>>>(y, x, a, N); // a = 2 is recorded, as a device records it
    a = 100.0f;
    CHECK(cudaStreamEndCapture(s, &g) == cudaSuccess && g, "end capture");
    cudaMemcpy(pageable, y, N * sizeof(float), cudaMemcpyDeviceToHost);
    CHECK(pageable[10] == 0.0f, "nothing ran during the capture");
    CHECK(cudaGraphInstantiate(&ge, g, 0) == cudaSuccess, "instantiate");
    pin[10] = 7.0f; // a replay reads pinned memory as it is when it runs
    cudaGraphLaunch(ge, s);
    cudaGraphLaunch(ge, s);
    cudaStreamSynchronize(s);
    cudaMemcpy(pageable, y, N * sizeof(float), cudaMemcpyDeviceToHost);
    CHECK(pageable[10] == 28.0f && pageable[999] == 4.0f * 999,
          "two replays: %g %g (the captured a = 2, the pinned input of the replay)", pageable[10],
          pageable[999]);
    // a synchronising call inside a capture fails and invalidates the capture
    cudaGraph_t g2 = NULL;
    cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
    axpy_kernel<<<1, 32, 0, s>>>(y, x, a, N);
    CHECK(cudaMemcpy(pageable, y, 4, cudaMemcpyDeviceToHost) == cudaErrorStreamCaptureUnsupported,
          "cudaMemcpy during a capture is refused");
    CHECK(cudaStreamEndCapture(s, &g2) == cudaErrorStreamCaptureInvalidated && !g2,
          "and the capture is invalidated");
    cudaGetLastError();
    cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
    CHECK(cudaMemcpyAsync(x, pageable, 4, cudaMemcpyHostToDevice, s) ==
              cudaErrorStreamCaptureUnsupported,
          "a captured copy from pageable memory is refused");
    CHECK(cudaStreamEndCapture(s, &g2) == cudaErrorStreamCaptureInvalidated, "invalidated");
    cudaGetLastError();
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    cudaFree(x), cudaFree(y), cudaFreeHost(pin), free(pageable);
    cudaStreamDestroy(s);
}

// ---- 7. cuBLAS ----------------------------------------------------------------------------------

static uint16_t bf16(float f) {
    return __float2bfloat16_rn(f).__x;
}
static float from_bf16(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_gemm(void) {
    const int m = 37, n = 5, k = 70;
    uint64_t st = 9;
    auto rnd = [&st]() {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        return (float)((st >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
    };
    cublasHandle_t h;
    CHECK(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
    for (int bf = 0; bf < 2; bf++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                // A is m x k as op(A); stored k x m (lda k) when transposed, else m x k (lda m)
                const int lda = ta ? k : m, ldb = tb ? n : k, ldc = m + 3;
                std::vector<float> A((size_t)m * k), B((size_t)k * n), C((size_t)ldc * n);
                std::vector<uint16_t> Ab(A.size()), Bb(B.size());
                for (size_t i = 0; i < A.size(); i++) Ab[i] = bf16(rnd()), A[i] = from_bf16(Ab[i]);
                for (size_t i = 0; i < B.size(); i++) Bb[i] = bf16(rnd()), B[i] = from_bf16(Bb[i]);
                for (size_t i = 0; i < C.size(); i++) C[i] = bf ? NAN : rnd();
                const size_t es = bf ? 2 : 4;
                void *dA, *dB, *dC;
                cudaMalloc(&dA, A.size() * es), cudaMalloc(&dB, B.size() * es);
                cudaMalloc(&dC, C.size() * 4);
                cudaMemcpy(dA, bf ? (void *)Ab.data() : (void *)A.data(), A.size() * es,
                           cudaMemcpyHostToDevice);
                cudaMemcpy(dB, bf ? (void *)Bb.data() : (void *)B.data(), B.size() * es,
                           cudaMemcpyHostToDevice);
                cudaMemcpy(dC, C.data(), C.size() * 4, cudaMemcpyHostToDevice);
                const float alpha = 0.5f, beta = bf ? 0.0f : 1.0f; // bf16: C is NaN, not read
                const cudaDataType t = bf ? CUDA_R_16BF : CUDA_R_32F;
                CHECK(cublasGemmEx(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, dA, t, lda, dB,
                                   t, ldb, &beta, dC, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS,
                      "gemm bf %d ta %d tb %d", bf, ta, tb);
                std::vector<float> got(C.size());
                cudaMemcpy(got.data(), dC, C.size() * 4, cudaMemcpyDeviceToHost);
                int bad = 0;
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double ref = 0;
                        for (int p = 0; p < k; p++) {
                            const double a = ta ? A[(size_t)i * lda + p] : A[(size_t)p * lda + i];
                            const double b = tb ? B[(size_t)p * ldb + j] : B[(size_t)j * ldb + p];
                            ref += a * b;
                        }
                        ref = alpha * ref + beta * (beta != 0 ? C[(size_t)j * ldc + i] : 0);
                        bad += !(fabs(got[(size_t)j * ldc + i] - ref) <= 1e-5 * (1 + fabs(ref)));
                    }
                int pad = 0; // rows m..ldc of C are not written
                for (int j = 0; j < n; j++)
                    for (int i = m; i < ldc; i++)
                        pad += memcmp(&got[(size_t)j * ldc + i], &C[(size_t)j * ldc + i], 4) != 0;
                CHECK(bad == 0 && pad == 0, "gemm bf %d ta %d tb %d: %d wrong, %d padding written",
                      bf, ta, tb, bad, pad);
                cudaFree(dA), cudaFree(dB), cudaFree(dC);
            }
    const float one = 1.0f;
    void *d = NULL;
    cudaMalloc(&d, 4096);
    CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d, CUDA_R_32F, 3, d, CUDA_R_32F,
                       4, &one, d, CUDA_R_32F, 4, CUBLAS_COMPUTE_32F,
                       CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_INVALID_VALUE,
          "lda below the rows is refused");
    CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d, CUDA_R_16BF, 4, d, CUDA_R_32F,
                       4, &one, d, CUDA_R_32F, 4, CUBLAS_COMPUTE_32F,
                       CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_NOT_SUPPORTED,
          "mixed input types are refused");
    CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 40, 40, 40, &one, d, CUDA_R_32F, 40, d,
                       CUDA_R_32F, 40, &one, d, CUDA_R_32F, 40, CUBLAS_COMPUTE_32F,
                       CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_EXECUTION_FAILED,
          "operands past their allocation are refused");
    cudaFree(d);
    cublasDestroy(h);
}

int main(void) {
    int n = 0;
    CHECK(cudaGetDeviceCount(&n) == cudaSuccess && n == 1, "one emulated device");
    test_indices();
    test_warp();
    test_shared();
    test_limits();
    test_memory();
    test_graphs();
    test_gemm();
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "no error left");
    return check_done("test_emu");
}
