// cpu/qgemm.c - the matmul of weights with panels (numerics in qgemm.h): the n rows of x are
// quantized once (int8, or bf16 for BF16 weights), then OpenMP threads share out the weights'
// panels, and each unit of panels is multiplied by every group of rows while it sits in L1.
//
//   quantize   x [n, in] fp32 -> int8 quants + per-block scales            (once per call, serial)
//   for each unit of NP panels (threads split the units):
//     for each group of R rows:  tile(R rows x NP panels)                    (qgemm_kernels.c)
//
// R and NP come from the level's kernels: rows are split into balanced groups of at most
// max_rows, and a group of R rows takes panels_for_rows[R] panels a call (fewer rows: more
// panels, so that enough independent accumulators are in flight).
#include "cpu/ops.h"
#include "cpu/qgemm.h"

#include <stdint.h>
#include <string.h>

// x -> bf16 for the bf16 weights (qgemm.h): round to nearest even, then a subnormal result
// becomes a zero of the same sign. Plain C for every level, so every level gets the same bits.
static void round_bf16(uint16_t *dst, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) { // NaN stays a (quiet) NaN
            dst[i] = (uint16_t)(u >> 16 | 0x40);
            continue;
        }
        const uint16_t h = (uint16_t)((u + 0x7fffu + (u >> 16 & 1)) >> 16);
        dst[i] = h & 0x7f80 ? h : h & 0x8000;
    }
}

// Rows per group: balanced groups of at most max_rows (16 = 6 + 5 + 5).
static int group_rows(int n, int g, int groups) {
    return n / groups + (g < n % groups);
}

// Panels [p0, p0 + np) of w for every row group. tile: scratch [max_rows, 16] for a last panel
// whose rows run past out.
static void unit(float *out, const QPacked *w, const QKernels *K, const QActs *x, int64_t p0,
                 int np, float *tile) {
    const int n = x->n, groups = (n + K->max_rows - 1) / K->max_rows;
    for (int g = 0, r0 = 0; g < groups; g++) {
        const int R = group_rows(n, g, groups), NP = K->panels_for_rows[R];
        QTile t = {
            .ldo = (size_t)w->out, .pstride = w->panel_bytes, .f = w->f, .x = x, .r0 = r0, .R = R};
        int64_t p = p0;
        for (; p + NP <= p0 + np && (p + NP) * QP_COLS <= w->out; p += NP) {
            t.out = out + (size_t)r0 * w->out + p * QP_COLS, t.P = w->data + p * w->panel_bytes;
            t.NP = NP;
            K->tile(&t);
        }
        for (; p < p0 + np; p++) { // single panels; a ragged last one through the scratch
            const int cols = w->out - p * QP_COLS < QP_COLS ? (int)(w->out - p * QP_COLS) : QP_COLS;
            float *o = out + (size_t)r0 * w->out + p * QP_COLS;
            t.P = w->data + p * w->panel_bytes, t.NP = 1;
            t.out = cols == QP_COLS ? o : tile, t.ldo = cols == QP_COLS ? (size_t)w->out : QP_COLS;
            K->tile(&t);
            for (int r = 0; cols < QP_COLS && r < R; r++)
                memcpy(o + (size_t)r * w->out, tile + r * QP_COLS, sizeof(float) * cols);
        }
        r0 += R;
    }
}

int qgemm_many(float *const *outs, const QPacked *const *w, int count, const float *x, int n,
               Workspace *ws) {
    const QKernels *K = qgemm_kernels_for(cpu_isa());
    const int64_t in = w[0]->in;
    if (n < 1) return 0;
    for (int i = 1; i < count; i++)
        if (w[i]->in != in) return -1;
    // quantized rows, 64-byte aligned inside the shared buffer
    char *buf = (char *)ws_shared(ws, (qacts_bytes(n, in) + 64) / sizeof(float) + 1);
    if (!buf) return -1;
    QActs xa;
    qacts_carve(&xa, buf + (64 - (uintptr_t)buf % 64) % 64, n, in);
    int need_int8 = 0, need_bf16 = 0;
    for (int i = 0; i < count; i++) *(w[i]->f->bits == 16 ? &need_bf16 : &need_int8) = 1;
    if (need_int8) K->quantize(&xa, x, n, in);
    if (need_bf16) round_bf16(xa.bf, x, (size_t)n * in);

    // work units: NP panels of one weight (NP of the first row group)
    const int groups = (n + K->max_rows - 1) / K->max_rows;
    const int NP = K->panels_for_rows[group_rows(n, 0, groups)];
    int64_t first[MATMUL_MANY + 1] = {0};
    for (int i = 0; i < count; i++) first[i + 1] = first[i] + (w[i]->n_panels + NP - 1) / NP;
    int failed = 0;
#pragma omp parallel num_threads(ws->n) reduction(| : failed)
    {
        float *tile = ws_get(ws, (size_t)K->max_rows * QP_COLS);
        failed = tile == NULL;
#pragma omp for schedule(guided)
        for (int64_t u = 0; u < first[count]; u++) {
            if (failed) continue;
            int i = 0;
            while (u >= first[i + 1]) i++;
            const int64_t p0 = (u - first[i]) * NP;
            const int np = w[i]->n_panels - p0 < NP ? (int)(w[i]->n_panels - p0) : NP;
            unit(outs[i], w[i], K, &xa, p0, np, tile);
        }
    }
    return failed ? -1 : 0;
}
