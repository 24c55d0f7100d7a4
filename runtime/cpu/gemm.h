// gemm.h - the CPU micro-kernel shared by matmul (weights) and attention (keys, values).
//
// The right-hand side comes as *panels* of 16 columns stored k-major: panel p is
// P + p * pstride and holds column 16p + j of row k at [k * ldp + j]. One call computes
//   out[r * ldo + c] = sum over k < in of panel(c / 16)[k * ldp + c % 16] * x[r * ldx + k]
// for r < n, c < ncols. Every output is ONE fp32 FMA chain over k in order, starting from 0:
//   acc = 0; for k = 0 .. in-1: acc = GEMM_STEP(P[k][c], x[r][k], acc)
// so an output depends only on its own row and column, never on n, on the row's place in the
// batch or on how rows and panels are grouped into kernel calls. That is what makes a chain's
// logits bit-identical whatever batch it runs in.
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>

// One step of the chain. A fused multiply-add where the target has one (x86 with FMA, aarch64,
// any target with a fast fmaf); elsewhere fmaf would be a slow software routine, so a multiply
// then an add (two roundings; -std=c11 never contracts them). Either way every path of one build
// takes the same steps, which is all that batch independence needs.
#if (defined(__AVX2__) && defined(__FMA__)) || defined(FP_FAST_FMAF)
#define GEMM_STEP(p, x, acc) fmaf(p, x, acc)
#else
#define GEMM_STEP(p, x, acc) ((p) * (x) + (acc))
#endif

#define GEMM_NR 16 // columns per panel: two 8-float vectors

// Every panel must have 16 readable floats at each k (columns at or past ncols are computed and
// dropped); only columns c < ncols of out are written.
//   out: [n, ldo]; panels: [in, ldp] each; x: [n, ldx]
void gemm(float *out, size_t ldo, const float *P, size_t ldp, size_t pstride, const float *x,
          size_t ldx, int64_t in, int n, int ncols);

// The same with fp16 panels (elements converted exactly to fp32; ldp, pstride in elements): the
// same chains as gemm on the converted panels, bit for bit.
void gemm_f16(float *out, size_t ldo, const uint16_t *P, size_t ldp, size_t pstride, const float *x,
              size_t ldx, int64_t in, int n, int ncols);

// How many of n >= 4 rows gemm computes two panels at a time (0, 2 or 3; see cpu/gemm.c).
int gemm_tail(int n);
