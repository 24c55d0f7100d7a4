// cublas.cpp - the cuBLAS calls chorus makes, on the CPU (include/cublas_v2.h).
//
// cublasGemmEx computes C = alpha op(A) op(B) + beta C in column-major storage with fp32
// accumulation, for A and B both bf16, fp16 or fp32 and C fp32 or of A's type. The checks are
// cuBLAS's (leading dimensions, types, compute type) plus the emulation's own: every operand
// must lie inside one device allocation, so a wrong shape is caught where a device would read
// past a buffer. The sum runs over k in blocks of 16 partial sums (an order of our own: cuBLAS's
// order is its kernel's choice, so CPU-vs-GPU tolerances must allow for any order anyway).
// With beta == 0, C is not read (NaN in C does not propagate), as in cuBLAS.
// The call runs on the handle's stream: during a capture it is recorded, with alpha and beta
// read now (host pointer mode), and replayed with the graph.
#include "emu.h"

#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

namespace emu {
cudaError_t enqueue_op(cudaStream_t s, std::function<cudaError_t()> op);
bool device_range(const void *p, size_t n);
} // namespace emu

struct cublasContext {
    cudaStream_t stream;
    void *workspace;
    size_t workspace_bytes;
};

namespace {

size_t type_bytes(cudaDataType t) {
    switch (t) {
    case CUDA_R_32F: return 4;
    case CUDA_R_16F:
    case CUDA_R_16BF: return 2;
    default: return 0;
    }
}

float half_to_f32(uint16_t h) {
    const uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023;
    uint32_t u;
    if (e == 31)
        u = s | 0x7f800000u | m << 13;
    else if (e)
        u = s | (e + 112) << 23 | m << 13;
    else if (!m)
        u = s;
    else { // subnormal: normalise
        int sh = 0;
        uint32_t mm = m;
        while (!(mm & 1024)) mm <<= 1, sh++;
        u = s | (uint32_t)(113 - sh) << 23 | (mm & 1023) << 13;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float load(const void *p, cudaDataType t, size_t i) {
    if (t == CUDA_R_32F) return ((const float *)p)[i];
    const uint16_t h = ((const uint16_t *)p)[i];
    if (t == CUDA_R_16F) return half_to_f32(h);
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void store(void *p, cudaDataType t, size_t i, float v) {
    if (t == CUDA_R_32F) {
        ((float *)p)[i] = v;
        return;
    }
    uint32_t u;
    memcpy(&u, &v, 4);
    if (t == CUDA_R_16BF) {
        u = (u & 0x7fffffffu) > 0x7f800000u ? 0x7fff0000u : u + 0x7fffu + ((u >> 16) & 1u);
        ((uint16_t *)p)[i] = (uint16_t)(u >> 16);
        return;
    }
    // fp16 output: round to nearest even through the float path of a double (rare here)
    const float a = fabsf(v);
    uint16_t h;
    if (v != v)
        h = 0x7e00;
    else if (a >= 65520.0f)
        h = 0x7c00;
    else if (a < 6.103515625e-05f)
        h = (uint16_t)lrintf(a * 16777216.0f); // subnormal steps
    else {
        int e;
        const float m = frexpf(a, &e); // a = m 2^e, m in [0.5, 1)
        long q = lrintf(m * 2048.0f);  // 11 significant bits
        if (q == 2048) q = 1024, e++;
        h = (uint16_t)((uint16_t)(e + 14) << 10 | (q - 1024));
    }
    ((uint16_t *)p)[i] = (uint16_t)(h | (u >> 31) << 15);
}

// Bytes spanned by an ld-strided column-major matrix of `rows` x `cols` elements.
size_t span(int rows, int cols, int ld, size_t elem) {
    return rows && cols ? ((size_t)(cols - 1) * ld + rows) * elem : 0;
}

struct Gemm {
    cublasOperation_t ta, tb;
    int m, n, k;
    float alpha, beta;
    const void *A, *B;
    void *C;
    cudaDataType at, bt, ct;
    int lda, ldb, ldc;
};

// op(X)(r, c) of a column-major X.
float op_at(const void *X, cudaDataType t, int ld, cublasOperation_t op, int r, int c) {
    return op == CUBLAS_OP_N ? load(X, t, (size_t)c * ld + r) : load(X, t, (size_t)r * ld + c);
}

void run(const Gemm &g) {
    std::vector<float> bt((size_t)g.n * g.k); // op(B) column j at bt[j * k]: read once
    for (int j = 0; j < g.n; j++)
        for (int p = 0; p < g.k; p++) bt[(size_t)j * g.k + p] = op_at(g.B, g.bt, g.ldb, g.tb, p, j);
#pragma omp parallel
    {
        std::vector<float> a(g.k); // row i of op(A)
#pragma omp for schedule(static)
        for (int i = 0; i < g.m; i++) {
            for (int p = 0; p < g.k; p++) a[p] = op_at(g.A, g.at, g.lda, g.ta, i, p);
            for (int j = 0; j < g.n; j++) {
                const float *b = &bt[(size_t)j * g.k];
                float part[16] = {0};
                int p = 0;
                for (; p + 16 <= g.k; p += 16)
                    for (int l = 0; l < 16; l++) part[l] += a[p + l] * b[p + l];
                for (int l = 0; p < g.k; p++, l++) part[l] += a[p] * b[p];
                for (int w = 8; w > 0; w >>= 1)
                    for (int l = 0; l < w; l++) part[l] += part[l + w];
                const size_t ci = (size_t)j * g.ldc + i;
                float v = g.alpha * part[0];
                if (g.beta != 0.0f) v += g.beta * load(g.C, g.ct, ci);
                store(g.C, g.ct, ci, v);
            }
        }
    }
}

} // namespace

extern "C" {

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        cudaGetLastError();
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    *handle = new cublasContext{NULL, NULL, 0};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}
// As in cuBLAS, setting the stream drops a workspace set before it.
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t s) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = s;
    handle->workspace = NULL, handle->workspace_bytes = 0;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void *workspace, size_t bytes) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (bytes && !emu::device_range(workspace, bytes)) return CUBLAS_STATUS_INVALID_VALUE;
    handle->workspace = workspace, handle->workspace_bytes = bytes;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void *alpha,
                            const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    const int a_rows = transa == CUBLAS_OP_N ? m : k, a_cols = transa == CUBLAS_OP_N ? k : m;
    const int b_rows = transb == CUBLAS_OP_N ? k : n, b_cols = transb == CUBLAS_OP_N ? n : k;
    if (m < 0 || n < 0 || k < 0 || transa > CUBLAS_OP_C || transb > CUBLAS_OP_C ||
        lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) ||
        ldc < (m > 1 ? m : 1) || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    const bool compute_ok = computeType == CUBLAS_COMPUTE_32F ||
                            computeType == CUBLAS_COMPUTE_32F_FAST_16BF ||
                            computeType == CUBLAS_COMPUTE_32F_FAST_16F;
    if (!compute_ok || Atype != Btype || !type_bytes(Atype) ||
        (Ctype != CUDA_R_32F && Ctype != Atype))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    const size_t ea = type_bytes(Atype), ec = type_bytes(Ctype);
    if ((k && (!emu::device_range(A, span(a_rows, a_cols, lda, ea)) ||
               !emu::device_range(B, span(b_rows, b_cols, ldb, ea)))) ||
        !emu::device_range(C, span(m, n, ldc, ec))) {
        fprintf(stderr,
                "chorus-emu: cublasGemmEx (m %d, n %d, k %d; lda %d, ldb %d, ldc %d): an "
                "operand is not inside one device allocation\n",
                m, n, k, lda, ldb, ldc);
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    const Gemm g = {
        transa, transb, m,   n,   k,  *(const float *)alpha, *(const float *)beta, A, B, C, Atype,
        Btype,  Ctype,  lda, ldb, ldc};
    const cudaError_t e = emu::enqueue_op(handle->stream, [g]() {
        run(g);
        return cudaSuccess;
    });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

} // extern "C"
