// probe.cu - one deliberate bug per class that breaks real kernels, and one correct kernel,
// for the CUDA emulation's builds to catch (tests/emu/test_probes.py runs each probe in each
// build and says which build caught what):
//   clean              shared memory, barriers, shuffles, votes, __syncwarp, atomics: correct
//   missing_barrier    a thread reads what another wrote to shared memory, with no barrier
//   shared_oob         a write one element past a __shared__ array
//   global_oob         a read one element past a cudaMalloc'd array
//   divergent_barrier  two halves of a block wait at two different __syncthreads
//   half_warp_shuffle  a full-mask shuffle that only half of the warp reaches
//   warp_sync_race     a warp-synchronous reduction in shared memory without __syncwarp
//   block_race         every block writes the same global element
//   host_pointer       a kernel handed a host pointer
// Usage: probe NAME. Prints "NAME: <checksum>" when the probe runs to its end.
#include <cuda_runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__global__ void clean_kernel(int *out) {
    __shared__ int s[64];
    const int t = threadIdx.x, lane = t & 31;
    s[t] = t;
    __syncthreads();
    int v = s[(t + 1) % 64];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const unsigned odd = __ballot_sync(0xffffffffu, t & 1);
    __syncthreads();
    s[t] = v; // each warp's sum, in every lane
    __syncwarp();
    if (lane == 0) atomicAdd(out, s[t + 31] + (int)__popc(odd));
}

__global__ void missing_barrier_kernel(int *out) {
    __shared__ int s[64];
    s[threadIdx.x] = (int)threadIdx.x;
    // missing: __syncthreads();
    out[threadIdx.x] = s[(threadIdx.x + 1) % 64];
}

__global__ void shared_oob_kernel(int *out) {
    __shared__ int s[32];
    s[threadIdx.x] = 1; // 33 threads: thread 32 writes s[32]
    __syncthreads();
    if (threadIdx.x == 0) out[0] = s[0];
}

__global__ void global_oob_kernel(int *out, const int *in) {
    out[threadIdx.x] = in[threadIdx.x + 1]; // in has blockDim.x elements
}

__global__ void divergent_barrier_kernel(int *out) {
    if (threadIdx.x < 16) {
        out[threadIdx.x] = 1;
        __syncthreads();
    } else {
        out[threadIdx.x] = 2;
        __syncthreads();
    }
}

__global__ void half_warp_shuffle_kernel(int *out) {
    int v = (int)threadIdx.x;
    if (threadIdx.x < 16) v += __shfl_xor_sync(0xffffffffu, v, 1); // lanes 16..31 never come
    out[threadIdx.x] = v;
}

__global__ void warp_sync_race_kernel(int *out) {
    __shared__ volatile int s[32];
    const int lane = threadIdx.x;
    s[lane] = lane;
    // missing: __syncwarp() between the steps (the pre-Volta idiom)
    if (lane < 16) s[lane] += s[lane + 16];
    if (lane < 8) s[lane] += s[lane + 8];
    if (lane < 4) s[lane] += s[lane + 4];
    if (lane < 2) s[lane] += s[lane + 2];
    if (lane < 1) out[0] = s[0] + s[1];
}

__global__ void block_race_kernel(int *out) {
    if (threadIdx.x == 0) out[0] = (int)blockIdx.x; // every block, one address
}

__global__ void host_pointer_kernel(int *out) {
    out[threadIdx.x] = 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: probe NAME\n");
        return 2;
    }
    const char *p = argv[1];
    int *d = NULL, *in = NULL, h[64];
    cudaMalloc((void **)&d, sizeof h);
    cudaMalloc((void **)&in, 32 * sizeof(int));
    cudaMemset(d, 0, sizeof h);
    cudaMemset(in, 0, 32 * sizeof(int));
    if (!strcmp(p, "clean"))
        clean_kernel<<<2, 64>>>(d);
    else if (!strcmp(p, "missing_barrier"))
        missing_barrier_kernel<<<1, 64>>>(d);
    else if (!strcmp(p, "shared_oob"))
        shared_oob_kernel<<<1, 33>>>(d);
    else if (!strcmp(p, "global_oob"))
        global_oob_kernel<<<1, 32>>>(d, in);
    else if (!strcmp(p, "divergent_barrier"))
        divergent_barrier_kernel<<<1, 32>>>(d);
    else if (!strcmp(p, "half_warp_shuffle"))
        half_warp_shuffle_kernel<<<1, 32>>>(d);
    else if (!strcmp(p, "warp_sync_race"))
        warp_sync_race_kernel<<<1, 32>>>(d);
    else if (!strcmp(p, "block_race"))
        block_race_kernel<<<4, 32>>>(d);
    else if (!strcmp(p, "host_pointer"))
        host_pointer_kernel<<<1, 32>>>(h);
    else {
        fprintf(stderr, "probe: unknown probe %s\n", p);
        return 2;
    }
    if (cudaDeviceSynchronize() != cudaSuccess || cudaGetLastError() != cudaSuccess) return 1;
    cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    unsigned long sum = 0;
    for (int i = 0; i < 64; i++) sum = sum * 31 + h[i];
    printf("%s: %lu\n", p, sum);
    cudaFree(d), cudaFree(in);
    return 0;
}
