// test_gemm.c - the CPU micro-kernel and the matmul built on it.
//   gemm:   every output equals the documented chain acc = GEMM_STEP(P[k][c], x[r][k], acc), k in
//           order, bit for bit, for every shape (rows 1..14 and 19, ragged panels, strided panels),
//           with fp32 panels and with fp16 ones (gemm_f16, the KV cache's);
//   matmul: every tensor type against a float64 dot product over quant.c's dequantization,
//           and a row's outputs are bit-identical whether it is alone or in a batch of 2..13
//           (the few-rows kernel, packed panels, every row grouping), for out sizes that leave
//           ragged panels and groups.
#include "check.h"
#include "cpu/gemm.h"
#include "cpu/ops.h"
#include "model/quant.h"

#include <stdint.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float urand(void) { // uniform in [-1, 1)
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / (1 << 23)) - 1.0);
}

static void test_gemm_shape(int n, int ncols, int in, int ldp_extra) {
    const int np = (ncols + GEMM_NR - 1) / GEMM_NR, ldp = GEMM_NR + ldp_extra;
    const size_t pstride = (size_t)in * ldp + 3; // panels need not be adjacent
    float *P = malloc(sizeof(float) * (pstride * np + GEMM_NR));
    float *x = malloc(sizeof(float) * n * (in + 1)), *out = malloc(sizeof(float) * n * (ncols + 2));
    for (size_t i = 0; i < pstride * np + GEMM_NR; i++) P[i] = urand();
    for (int i = 0; i < n * (in + 1); i++) x[i] = urand();
    for (int i = 0; i < n * (ncols + 2); i++) out[i] = -999.0f;
    const size_t ldx = in + 1, ldo = ncols + 2; // strides wider than the data
    gemm(out, ldo, P, ldp, pstride, x, ldx, in, n, ncols);
    int exact = 1, untouched = 1;
    for (int r = 0; r < n; r++) {
        for (int c = 0; c < ncols; c++) {
            const float *pc = P + (c / GEMM_NR) * pstride + c % GEMM_NR;
            float acc = 0;
            for (int k = 0; k < in; k++) acc = GEMM_STEP(pc[(size_t)k * ldp], x[r * ldx + k], acc);
            exact &= memcmp(&acc, &out[r * ldo + c], sizeof acc) == 0;
        }
        untouched &= out[r * ldo + ncols] == -999.0f && out[r * ldo + ncols + 1] == -999.0f;
    }
    CHECK(exact, "gemm n=%d ncols=%d in=%d ldp=%d: not the in-order chain", n, ncols, in, ldp);
    CHECK(untouched, "gemm n=%d ncols=%d in=%d: wrote past ncols", n, ncols, in);
    // gemm_f16: the same chains over the fp16 panels' exact values
    const size_t np16 = pstride * np + GEMM_NR;
    uint16_t *H = malloc(sizeof(uint16_t) * np16);
    for (size_t i = 0; i < np16; i++) H[i] = f32_to_fp16(P[i]);
    gemm_f16(out, ldo, H, ldp, pstride, x, ldx, in, n, ncols);
    exact = 1;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < ncols; c++) {
            const uint16_t *hc = H + (c / GEMM_NR) * pstride + c % GEMM_NR;
            float acc = 0;
            for (int k = 0; k < in; k++)
                acc = GEMM_STEP(fp16_to_f32(hc[(size_t)k * ldp]), x[r * ldx + k], acc);
            exact &= memcmp(&acc, &out[r * ldo + c], sizeof acc) == 0;
        }
    CHECK(exact, "gemm_f16 n=%d ncols=%d in=%d ldp=%d: not the in-order chain", n, ncols, in, ldp);
    free(P), free(x), free(out), free(H);
}

// A random weight of `type`, out x in, with blocks whose scales span a few octaves.
static void *make_weight(Weight *w, uint32_t type, int64_t out, int64_t in) {
    const size_t rb = ggml_row_bytes(type, in);
    uint8_t *data = malloc(rb * out);
    for (int64_t r = 0; r < out; r++) {
        uint8_t *row = data + r * rb;
        for (int64_t b = 0; b < (type <= GGML_TYPE_F16 || type == GGML_TYPE_BF16 ? in : in / QK);
             b++) {
            const float scale = 0.01f * (1 + (int)(4 * (urand() + 1)));
            switch (type) {
            case GGML_TYPE_F32: ((float *)row)[b] = urand(); break;
            case GGML_TYPE_F16: ((uint16_t *)row)[b] = f32_to_fp16(urand()); break;
            case GGML_TYPE_BF16: ((uint16_t *)row)[b] = f32_to_bf16(urand()); break;
            case GGML_TYPE_Q8_0: {
                BlockQ8_0 *q = (BlockQ8_0 *)row + b;
                q->d = f32_to_fp16(scale);
                for (int j = 0; j < QK; j++) q->q[j] = (int8_t)(127 * urand());
                break;
            }
            case GGML_TYPE_Q4_0: {
                BlockQ4_0 *q = (BlockQ4_0 *)row + b;
                q->d = f32_to_fp16(scale);
                for (int j = 0; j < QK / 2; j++) urand(), q->qs[j] = (uint8_t)(rng >> 16);
                break;
            }
            case GGML_TYPE_Q4_1: {
                BlockQ4_1 *q = (BlockQ4_1 *)row + b;
                q->d = f32_to_fp16(scale), q->m = f32_to_fp16(-8 * scale * (1 + 0.1f * urand()));
                for (int j = 0; j < QK / 2; j++) urand(), q->qs[j] = (uint8_t)(rng >> 16);
                break;
            }
            }
        }
    }
    *w = (Weight){.data = data, .type = type, .in = in, .out = out, .row_bytes = rb, .name = "w"};
    return data;
}

static void test_matmul_type(uint32_t type, int64_t out, int64_t in, Workspace *ws) {
    Weight w;
    void *data = make_weight(&w, type, out, in);
    const int N = 13;
    float *x = malloc(sizeof(float) * N * in), *got = malloc(sizeof(float) * N * out);
    float *alone = malloc(sizeof(float) * out), *wrow = malloc(sizeof(float) * in);
    for (int i = 0; i < N * in; i++) x[i] = urand();
    // float64 reference for the full batch
    CHECK(matmul(got, x, &w, N, ws) == 0, "matmul %s", ggml_type_name(type));
    double worst = 0;
    for (int64_t c = 0; c < out; c++) {
        dequantize_row(type, (const char *)w.data + c * w.row_bytes, wrow, in);
        for (int r = 0; r < N; r++) {
            double ref = 0, mag = 0;
            for (int64_t k = 0; k < in; k++)
                ref += (double)wrow[k] * x[r * in + k],
                    mag += fabs((double)wrow[k] * x[r * in + k]);
            const double e = fabs(got[r * out + c] - ref) / (mag + 1e-30);
            if (e > worst) worst = e;
        }
    }
    // fp32 chains over `in` terms: |error| <= in * 2^-24 * sum |terms| (plus the dequantized
    // weight's own rounding when the SIMD path uses one fma for d * q + m)
    CHECK(worst < in * 6e-8 + 1e-7, "matmul %s %lldx%lld: worst error %.3g of sum |w x|",
          ggml_type_name(type), (long long)out, (long long)in, worst);
    // batch independence: row r alone, and inside batches of every size that holds it
    int same = 1;
    for (int n = 1; n <= N; n++)
        for (int r = 0; r<n; r += n> 6 ? 5 : 1) {
            CHECK(matmul(got, x, &w, n, ws) == 0, "matmul n=%d", n);
            CHECK(matmul(alone, x + r * in, &w, 1, ws) == 0, "matmul alone");
            same &= memcmp(alone, got + r * out, sizeof(float) * out) == 0;
        }
    CHECK(same, "matmul %s %lldx%lld: a row's outputs depend on its batch", ggml_type_name(type),
          (long long)out, (long long)in);
    free(data), free(x), free(got), free(alone), free(wrow);
}

int main(void) {
    const int ns[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 19};
    const int ncols[] = {1, 7, 16, 17, 32, 40, 64, 70};
    for (unsigned i = 0; i < sizeof ns / sizeof *ns; i++)
        for (unsigned j = 0; j < sizeof ncols / sizeof *ncols; j++) {
            test_gemm_shape(ns[i], ncols[j], 1 + (int)(i * 7 + j * 13) % 70, (int)(j % 3) * 5);
            test_gemm_shape(ns[i], ncols[j], 64, 0);
        }
    Workspace ws;
    if (ws_init(&ws, 4, 0)) return fprintf(stderr, "out of memory\n"), 1;
    const uint32_t types[] = {GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16,
                              GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1};
    const int64_t shapes[][2] = {{40, 64}, {72, 96}, {5, 32}, {200, 160}};
    for (unsigned t = 0; t < sizeof types / sizeof *types; t++)
        for (unsigned s = 0; s < sizeof shapes / sizeof *shapes; s++)
            test_matmul_type(types[t], shapes[s][0], shapes[s][1], &ws);
    ws_free(&ws);
    return check_done("test_gemm");
}
