// cuda/graph.c - the forward part of a step as a CUDA graph (the CUDA build).
//
// A decode step of a 135M model is ~300 short kernels and cuBLAS calls: launched one by one the
// CPU's launch overhead, not the GPU, sets the pace. Captured once into a graph and replayed,
// the whole step is one launch. What makes a captured step reusable: every grid depends only
// on the shape (n rows, n_out output rows); everything that changes between steps (tokens,
// positions, KV destinations, attention items and splits) is in the metadata buffer, whose
// upload from pinned memory is the graph's first node; all other buffers are fixed.
//
// A shape is captured the second time it is seen (the first run is eager: one-off shapes such
// as a prompt's prefill chunks are never captured, and the first run has loaded every kernel
// and cuBLAS picked its algorithms before any capture). A capture or instantiation that fails
// is reported in the stats and the shape runs eagerly from then on: a graph problem costs speed,
// never a wrong or failed step.
#include "cuda/forward_impl.h"

#include <stdio.h>
#include <string.h>

// The entry of shape (n, n_out), making one (evicting the least recently used) if needed.
static GraphEntry *entry(GraphCache *g, int n, int n_out) {
    GraphEntry *oldest = &g->e[0];
    for (int i = 0; i < GRAPH_CACHE; i++) {
        GraphEntry *e = &g->e[i];
        if (e->n == n && e->n_out == n_out) return e;
        if (e->last < oldest->last) oldest = e;
    }
    if (oldest->exec) cudaGraphExecDestroy(oldest->exec);
    memset(oldest, 0, sizeof *oldest);
    oldest->n = n;
    oldest->n_out = n_out;
    return oldest;
}

// Captures the step into e->exec. 0, or -1 (e->exec stays NULL; the error is cleared).
static int capture(GraphEntry *e, CudaForward *f, cudaStream_t s, EnqueueFn enqueue, int n,
                   int n_out) {
    cudaGraph_t graph = NULL;
    if (cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
        cudaGetLastError();
        return -1;
    }
    const int rc = enqueue(f, n, n_out);
    cudaError_t ec = cudaStreamEndCapture(s, &graph); // always ends the capture
    if (rc == 0 && ec == cudaSuccess && graph) ec = cudaGraphInstantiate(&e->exec, graph, 0);
    if (graph) cudaGraphDestroy(graph);
    if (rc == 0 && ec == cudaSuccess && e->exec) return 0;
    e->exec = NULL;
    cudaGetLastError(); // a failed capture leaves no sticky error: the stream is usable
    return -1;
}

int graph_run_cuda(GraphCache *g, CudaForward *f, cudaStream_t s, int n, int n_out,
                   EnqueueFn enqueue, char *err, size_t errlen) {
    GraphEntry *e = entry(g, n, n_out);
    e->last = ++g->clock;
    if (!e->exec && !e->failed && ++e->seen >= 2) {
        if (capture(e, f, s, enqueue, n, n_out) == 0)
            g->stats.captures++;
        else
            e->failed = 1, g->stats.capture_failures++;
    }
    if (!e->exec) {
        g->stats.eager_steps++;
        return enqueue(f, n, n_out);
    }
    cudaError_t ec = cudaGraphLaunch(e->exec, s);
    if (ec != cudaSuccess) {
        snprintf(err, errlen, "CUDA: launching the step's graph (%d rows) failed: %s", n,
                 cudaGetErrorString(ec));
        return -1;
    }
    g->stats.graph_steps++;
    return 0;
}

void graph_free_cuda(GraphCache *g) {
    for (int i = 0; i < GRAPH_CACHE; i++)
        if (g->e[i].exec) cudaGraphExecDestroy(g->e[i].exec);
    memset(g, 0, sizeof *g);
}
