// workspace.c - per-thread scratch buffers (see workspace.h).
#include "cpu/workspace.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int ws_init(Workspace *ws, int n_threads, size_t floats) {
    memset(ws, 0, sizeof *ws);
    ws->buf = calloc(n_threads + 1, sizeof *ws->buf);
    ws->floats = calloc(n_threads + 1, sizeof *ws->floats);
    if (!ws->buf || !ws->floats) {
        ws_free(ws);
        return -1;
    }
    ws->n = n_threads;
    for (int t = 0; t <= n_threads; t++) {
        if (!(ws->buf[t] = malloc(sizeof(float) * (floats ? floats : 1)))) {
            ws_free(ws);
            return -1;
        }
        ws->floats[t] = floats;
    }
    return 0;
}

void ws_free(Workspace *ws) {
    for (int t = 0; ws->buf && t <= ws->n; t++) free(ws->buf[t]);
    free(ws->buf);
    free(ws->floats);
    memset(ws, 0, sizeof *ws);
}

// Buffer t grown to at least `floats` floats.
static float *grow(Workspace *ws, int t, size_t floats) {
    if (floats > ws->floats[t]) {
        float *b = realloc(ws->buf[t], sizeof(float) * floats);
        if (!b) return NULL;
        ws->buf[t] = b;
        ws->floats[t] = floats;
    }
    return ws->buf[t];
}

float *ws_get(Workspace *ws, size_t floats) {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    return t < ws->n ? grow(ws, t, floats) : NULL;
}

float *ws_shared(Workspace *ws, size_t floats) {
    return grow(ws, ws->n, floats);
}
