// workspace.h - per-thread scratch memory for the CPU ops, allocated outside the decode loop.
//
// matmul packs weight panels and attention keeps scores in scratch. A fresh malloc of a few
// hundred KB per call is an mmap plus page faults, ~200 times a step, so each OpenMP thread
// owns one buffer that only ever grows. Parallel regions that use it run with
// num_threads(ws->n), so omp_get_thread_num() always names a buffer.
#pragma once
#include <stddef.h>

typedef struct {
    int n;          // threads
    float **buf;    // [n + 1] each thread's buffer, then the shared one
    size_t *floats; // [n + 1] their sizes
} Workspace;

// n_threads buffers of `floats` floats each. 0, or -1 if out of memory.
int ws_init(Workspace *ws, int n_threads, size_t floats);
void ws_free(Workspace *ws);
// The calling thread's buffer, grown to at least `floats` floats; NULL if that fails. Call it
// only inside a parallel region started with num_threads(ws->n) (or outside any region).
float *ws_get(Workspace *ws, size_t floats);
// The shared buffer, for an op's results that all its threads fill: call it outside parallel
// regions. Grown to at least `floats` floats; NULL if that fails.
float *ws_shared(Workspace *ws, size_t floats);
