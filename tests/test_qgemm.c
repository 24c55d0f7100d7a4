// test_qgemm.c - the int8 matmul (qgemm.h) on every instruction-set level this CPU and build have.
//   quantize: every level's int8 activations equal an independent scalar quantizer bit for bit,
//             and |x - d q| <= d / 2 for every element;
//   matmul:   every output equals the documented formula (integer block sums, then fma in block
//             order) bit for bit; is within the bound of the activation rounding of a float64
//             product with the dequantized weights; and is identical on every level and for a
//             row alone or in batches of 2..13 (every row grouping and panel count of the
//             kernels), for out sizes that leave ragged panels; and again with every quant at
//             its extremes (rows of 0 and of 2^ubits - 1) times activations of +-127 a block, the
//             sums that would saturate or overflow int16 if a kernel's bounds were wrong;
//   pack:     the panels decode back to quant.c's dequantization of the GGUF rows.
// BF16 weights (bf16 activations, vdpbf16ps where the CPU has it) get the same checks against
// their own documented chain: so the instruction and the other levels' emulation agree bit for bit.
#include "check.h"
#include "cpu/ops.h"
#include "cpu/qgemm.h"
#include "model/quant.h"

#include <stdint.h>
#include <string.h>

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float urand(void) { // uniform in [-1, 1)
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / (1 << 23)) - 1.0);
}

// Q5_0, Q5_1 and the K-quants: random bytes (every quant, sub-scale and min pattern), then
// realistic fp16 scales (d; m or dmin a few times smaller) where the layout keeps them.
static void random_block(uint8_t *blk, uint32_t type, float scale) {
    int bytes = ggml_type_block_bytes(type), dpos = 0, mpos = -1;
    for (int i = 0; i < bytes; i++) urand(), blk[i] = (uint8_t)(rng >> 16);
    switch (type) {
    case GGML_TYPE_Q5_1:
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K: mpos = 2; break;
    case GGML_TYPE_Q2_K: dpos = 80, mpos = 82; break;
    case GGML_TYPE_Q3_K: dpos = 108; break;
    case GGML_TYPE_Q6_K: dpos = 208; break;
    }
    const int k = qtype_info(type)->sub; // sub-scales up to 63 (Q6_K: 127) multiply d
    const uint16_t d = f32_to_fp16(k ? scale / 16 : scale), m = f32_to_fp16(scale * (urand() - 2));
    memcpy(blk + dpos, &d, 2);
    if (mpos >= 0) memcpy(blk + mpos, &m, 2);
}

// A random quantized weight, out x in, scales spanning a few octaves; quants use the full range.
static void *make_weight(Weight *w, uint32_t type, int64_t out, int64_t in) {
    const size_t rb = ggml_row_bytes(type, in);
    uint8_t *data = malloc(rb * out);
    for (int64_t r = 0; r < out; r++)
        for (int64_t b = 0; b < in / QK; b++) {
            const float scale = 0.01f * (1 + (int)(4 * (urand() + 1)));
            void *blk = data + r * rb + b * ggml_type_block_bytes(type);
            if (qtype_info(type) && (qtype_info(type)->sub || qtype_info(type)->ubits == 5)) {
                const int per = ggml_type_block_elems(type) / QK; // blocks of 32 a block
                if (b % per == 0)
                    random_block(data + r * rb + b / per * ggml_type_block_bytes(type), type,
                                 scale);
                continue;
            }
            if (type == GGML_TYPE_BF16) {
                uint16_t *h = (uint16_t *)(data + r * rb) + b * QK;
                for (int j = 0; j < QK; j++) h[j] = f32_to_bf16(scale * 40 * urand());
                if (b == 0) h[0] = 0x8001, h[1] = 0x0003; // subnormals: read as zeros
                continue;
            }
            if (type == GGML_TYPE_Q8_0) {
                BlockQ8_0 *q = blk;
                q->d = f32_to_fp16(scale);
                for (int j = 0; j < QK; j++) q->q[j] = (int8_t)floorf(urand() * 128); // -128..127
                if (b == 0) q->q[0] = -128, q->q[1] = 127; // the extremes
            } else if (type == GGML_TYPE_Q4_0) {
                BlockQ4_0 *q = blk;
                q->d = f32_to_fp16(scale);
                for (int j = 0; j < QK / 2; j++) urand(), q->qs[j] = (uint8_t)(rng >> 16);
            } else {
                BlockQ4_1 *q = blk;
                q->d = f32_to_fp16(scale), q->m = f32_to_fp16(-8 * scale * (1 + 0.1f * urand()));
                for (int j = 0; j < QK / 2; j++) urand(), q->qs[j] = (uint8_t)(rng >> 16);
            }
        }
    *w = (Weight){.data = data, .type = type, .in = in, .out = out, .row_bytes = rb, .name = "w"};
    return data;
}

// Where a GGUF block of `type` keeps its quants (bytes [lo, hi): all of them, nothing else), and
// the bytes that make every quant 0 or its largest, 2^ubits - 1 (for Q8_0: -128 and 127).
static void quant_bytes(uint32_t type, int *lo, int *hi, uint8_t *zero, uint8_t *full) {
    static const struct {
        uint32_t type;
        int lo, hi;
    } at[] = {{GGML_TYPE_Q4_0, 2, 18}, {GGML_TYPE_Q4_1, 4, 20},   {GGML_TYPE_Q5_0, 2, 22},
              {GGML_TYPE_Q5_1, 4, 24}, {GGML_TYPE_Q8_0, 2, 34},   {GGML_TYPE_Q2_K, 16, 80},
              {GGML_TYPE_Q3_K, 0, 96}, {GGML_TYPE_Q4_K, 16, 144}, {GGML_TYPE_Q5_K, 16, 176},
              {GGML_TYPE_Q6_K, 0, 192}};
    *lo = *hi = 0;
    for (unsigned i = 0; i < sizeof at / sizeof *at; i++)
        if (at[i].type == type) *lo = at[i].lo, *hi = at[i].hi;
    *zero = type == GGML_TYPE_Q8_0 ? 0x80 : 0x00, *full = type == GGML_TYPE_Q8_0 ? 0x7f : 0xff;
}

// Row c of a weight made by make_weight: every quant 0 (c % 3 == 1) or 2^ubits - 1 (c % 3 == 0),
// scales as they were; rows c % 3 == 2 keep their random quants. Checks that the quants decode so.
static void extreme_weight(Weight *w) {
    int lo, hi, ok = 1;
    uint8_t zero, full;
    quant_bytes(w->type, &lo, &hi, &zero, &full);
    const int bytes = ggml_type_block_bytes(w->type), umax = (1 << qtype_info(w->type)->ubits) - 1;
    for (int64_t c = 0; c < w->out; c++) {
        uint8_t *row = (uint8_t *)w->data + c * w->row_bytes;
        for (int64_t b = 0; c % 3 != 2 && b < w->in / ggml_type_block_elems(w->type); b++)
            memset(row + b * bytes + lo, c % 3 ? zero : full, hi - lo);
        for (int64_t b = 0; c % 3 != 2 && b < w->in / QK; b++) {
            QBlock32 q;
            qblock_decode(w->type, row, b, &q);
            for (int k = 0; k < QK; k++) ok &= q.u[k] == (c % 3 ? 0 : umax);
        }
    }
    CHECK(hi > lo && ok, "%s: the extreme quants are not 0 and 2^ubits - 1",
          ggml_type_name(w->type));
}

// Rows of activations: mostly uniform, with an outlier and an all-zero block, as real ones have.
static void make_x(float *x, int n, int64_t in) {
    for (int64_t i = 0; i < n * in; i++) x[i] = urand();
    for (int r = 0; r < n; r++) {
        x[r * in + (r * 7) % in] = 40.0f * (r % 2 ? -1 : 1);
        if (in >= 64 && r % 3 == 0) memset(x + r * in + 32, 0, 32 * sizeof(float));
    }
}

// Rows whose quantized activations are all +-127: row r % 5 all +1, all -1, the sign flipping
// per block, per half block (the K-quants' sums), or make_x's.
static void make_x_extreme(float *x, int n, int64_t in) {
    make_x(x, n, in);
    for (int r = 0; r < n; r++)
        for (int64_t k = 0; r % 5 < 4 && k < in; k++) {
            const int64_t part = r % 5 == 2 ? k / 32 : r % 5 == 3 ? k / 16 : 0;
            x[r * in + k] = (r % 5 == 1) != (part % 2) ? -1.0f : 1.0f;
        }
}

// Blocks the quantizer must not turn into undefined conversions (found by fuzz_gguf: an infinite
// activation gave INT_MIN quants and an overflowing bias): in row r, block r % nb gets a NaN, an
// infinity, or only values too small to scale (a denormal, 1e-35), by row.
static void make_x_hostile(float *x, int n, int64_t in) {
    make_x(x, n, in);
    const int64_t nb = in / 32;
    for (int r = 0; r < n; r++) {
        float *xb = x + r * in + (r % nb) * 32;
        if (r % 4 == 0) xb[5] = NAN;
        if (r % 4 == 1) xb[31] = -INFINITY;
        if (r % 4 == 2)
            for (int k = 0; k < 32; k++) xb[k] = (k % 3 - 1) * 1e-35f;
        if (r % 4 == 3) xb[0] = 1e-44f, xb[1] = INFINITY, xb[2] = NAN; // NaN after an inf
    }
}

// The activation quantizer written out again, scalar, from qgemm.h's definition.
static void ref_quantize(const float *x, int64_t in, int8_t *q, float *d, int32_t *sum,
                         int32_t *hsum) {
    for (int64_t b = 0; b < in / 32; b++) {
        float amax = 0;
        for (int k = 0; k < 32; k++)
            if (fabsf(x[b * 32 + k]) > amax) amax = fabsf(x[b * 32 + k]);
        int finite = 1;
        for (int k = 0; k < 32; k++) finite &= isfinite(x[b * 32 + k]);
        const float id = amax < 0x1p-100f ? 0 : 127.0f / amax;
        sum[b] = hsum[2 * b] = hsum[2 * b + 1] = 0;
        if (!finite) {
            memset(q + b * 32, 0, 32), d[b] = NAN;
            continue;
        }
        for (int k = 0; k < 32; k++) {
            q[b * 32 + k] = (int8_t)rintf(x[b * 32 + k] * id), sum[b] += q[b * 32 + k];
            hsum[2 * b + k / 16] += q[b * 32 + k];
        }
        d[b] = amax / 127.0f;
    }
}

// x rounded to bf16 as qgemm.h defines it (nearest even, subnormal results to zero), as a float.
static float ref_bf16(float x) {
    uint16_t h = f32_to_bf16(x);
    if (!(h & 0x7f80)) h &= 0x8000;
    return bf16_to_f32(h);
}

// The bf16 weights' documented chain for row x (in inputs) and GGUF weight row c; also the
// float64 product and its bound (activation rounding: half a bf16 ulp, 2^-8 of |x|; fp32 steps).
static float ref_bf16_row(const Weight *w, int64_t c, const float *x, double *ref, double *bound) {
    const uint16_t *wr = (const uint16_t *)((const char *)w->data + c * w->row_bytes);
    float acc = 0;
    *ref = *bound = 0;
    for (int64_t g = 0; g < w->in / 2; g++)
        for (int i = 1; i >= 0; i--) { // odd input first
            const uint16_t h = wr[2 * g + i];
            const float wk = h & 0x7f80 ? bf16_to_f32(h) : 0, xk = x[2 * g + i];
            acc = fmaf(wk, ref_bf16(xk), acc);
            *ref += (double)wk * xk;
            *bound += fabs((double)wk * xk) * (0x1p-8 + (w->in + 2) * 0x1p-24);
        }
    return acc;
}

// Element k of block b of GGUF row `row` in the canonical form (quant.h, whose decoders
// tests/test_dequant.py checks against gguf): w = D (u - z) + M, with the integer weight
// iw = u - z returned and D = d sc_h, M = m mn_h; *sc, *mn the integer sub-scale and min.
static int int_weight(const Weight *w, int64_t row, int64_t b, int k, float *D, float *M, int *sc,
                      int *mn, float *d, float *m) {
    QBlock32 q;
    qblock_decode(w->type, (const char *)w->data + row * w->row_bytes, b, &q);
    *d = fp16_to_f32(q.d), *m = fp16_to_f32(q.m);
    *sc = q.sc[k / 16], *mn = q.mn[k / 16];
    *D = *d * (float)*sc, *M = *m * (float)*mn;
    return q.u[k] - qtype_info(w->type)->zero;
}

static void test_quantize(int64_t in, int hostile) {
    const int n = 5;
    float *x = malloc(sizeof(float) * n * in);
    (hostile ? make_x_hostile : make_x)(x, n, in);
    int8_t *q = malloc(in);
    float *d = malloc(sizeof(float) * in / 32);
    int32_t *sum = malloc(sizeof(int32_t) * in / 32), *hsum = malloc(sizeof(int32_t) * in / 16);
    void *buf = aligned_alloc(64, (qacts_bytes(n, in) + 63) / 64 * 64);
    for (int isa = 0; isa < ISA_COUNT; isa++) {
        if (!cpu_isa_available(isa)) continue;
        QActs a;
        qacts_carve(&a, buf, n, in);
        qgemm_kernels_for(isa)->quantize(&a, x, n, in);
        int same = 1, bounded = 1;
        for (int r = 0; r < n; r++) {
            ref_quantize(x + r * in, in, q, d, sum, hsum);
            same &= !memcmp(q, a.q + r * in, in) && !memcmp(d, a.d + r * in / 32, 4 * (in / 32)) &&
                    !memcmp(sum, a.sum + r * in / 32, 4 * (in / 32)) &&
                    !memcmp(hsum, a.hsum + r * in / 16, 4 * (in / 16));
            for (int64_t b = 0; b < in / 32; b++) {
                const float s = d[b] * (float)sum[b], got = a.s[r * in / 32 + b];
                same &= got == s || (isnan(got) && isnan(s));
                if (isnan(d[b])) continue; // a non-finite block: nothing to bound
                for (int k = 0; k < 32; k++) {
                    const double e = fabs(x[r * in + b * 32 + k] - (double)d[b] * q[b * 32 + k]);
                    const int tiny = d[b] * 127 < 0x1p-100f; // quantized to zero on purpose
                    bounded &= tiny ? e < 0x1p-100 : e <= 0.5 * d[b] * (1 + 1e-6);
                }
            }
        }
        CHECK(same, "quantize %s in=%lld%s: differs from the scalar definition", cpu_isa_name(isa),
              (long long)in, hostile ? " (NaN, inf, tiny blocks)" : "");
        CHECK(bounded, "quantize %s in=%lld%s: |x - d q| > d / 2", cpu_isa_name(isa), (long long)in,
              hostile ? " (NaN, inf, tiny blocks)" : "");
    }
    free(x), free(q), free(d), free(sum), free(hsum), free(buf);
}

// Panels decode back to the GGUF dequantization: w = (d sc_h)(u - z) + m mn_h for every row and
// input (sc = mn = 1 for the legacy types).
static void test_pack(const Weight *w, const QPacked *p) {
    const QFormat *f = p->f;
    const int qbytes = QP_COLS * QP_BLOCK * f->bits / 8;
    float *row = malloc(sizeof(float) * w->in);
    int same = 1;
    for (int64_t c = 0; c < p->n_panels * QP_COLS; c++) {
        if (c < w->out)
            dequantize_row(w->type, (const char *)w->data + c * w->row_bytes, row, w->in);
        const int j = c % QP_COLS;
        if (f->bits == 16) { // vector g, half 2j + i: input 2g + i; subnormals become zeros
            for (int64_t k = 0; k < w->in; k++) {
                uint16_t h;
                memcpy(&h,
                       p->data + c / QP_COLS * p->panel_bytes + k / 32 * p->block_bytes +
                           k % 32 / 2 * 64 + 4 * j + 2 * (k % 2),
                       2);
                const float want = c >= w->out || fabsf(row[k]) < 1.17549435e-38f ? 0 : row[k];
                same &= bf16_to_f32(h) == want;
            }
            continue;
        }
        for (int64_t b = 0; b < p->nb; b++) {
            const uint8_t *blk = p->data + c / QP_COLS * p->panel_bytes + b * p->block_bytes;
            uint16_t dh, mh = 0;
            memcpy(&dh, blk + qbytes + 2 * j, 2);
            if (f->has_min) memcpy(&mh, blk + qbytes + 32 + 2 * j, 2);
            const int8_t *sub = (const int8_t *)(blk + qbytes + 32 * (1 + f->has_min));
            for (int k = 0; k < 32; k++) {
                const int u = f->bits == 8
                                  ? blk[64 * (k / 4) + 4 * j + k % 4]
                                  : blk[64 * (k % 16 / 4) + 4 * j + k % 4] >> (k / 16 * 4) & 15;
                const int sc = f->sub ? sub[16 * (k / 16) + j] : 1;
                const int mn = f->sub ? (f->has_min ? (uint8_t)sub[32 + 16 * (k / 16) + j] : 0) : 1;
                const float v = fp16_to_f32(dh) * (float)sc * (float)(u - f->zero) +
                                fp16_to_f32(mh) * (float)mn;
                same &= c < w->out ? v == row[b * 32 + k] : u == 0 && dh == 0;
            }
        }
    }
    CHECK(same, "qpack %s %lldx%lld: panels do not decode to the GGUF weights",
          ggml_type_name(w->type), (long long)w->out, (long long)w->in);
    free(row);
}

static void test_matmul(uint32_t type, int64_t out, int64_t in, int extreme, Workspace *ws) {
    Weight w;
    void *data = make_weight(&w, type, out, in);
    if (extreme) extreme_weight(&w);
    QPacked p;
    CHECK(qpack(&p, w.data, type, in, out, w.row_bytes, 0) == 0, "qpack %s", ggml_type_name(type));
    test_pack(&w, &p);
    w.packed = &p;
    const int N = 13;
    float *x = malloc(sizeof(float) * N * in), *got = malloc(sizeof(float) * N * out);
    float *first = malloc(sizeof(float) * N * out), *alone = malloc(sizeof(float) * out);
    int8_t *q = malloc(in);
    float *d = malloc(sizeof(float) * in / 32);
    int32_t *sum = malloc(sizeof(int32_t) * in / 32), *hsum = malloc(sizeof(int32_t) * in / 16);
    const int sub = qtype_info(type) && qtype_info(type)->sub;
    const char *ext = extreme ? " (extreme quants)" : "";
    (extreme ? make_x_extreme : make_x)(x, N, in);
    int formula = 1, bounded = 1, levels = 1, batch = 1, first_isa = -1;
    for (int isa = 0; isa < ISA_COUNT; isa++) {
        if (cpu_isa_force(isa)) continue;
        CHECK(matmul(got, x, &w, N, ws) == 0, "matmul %s", cpu_isa_name(isa));
        if (first_isa < 0) {
            first_isa = isa;
            memcpy(first, got, sizeof(float) * N * out);
            for (int r = 0; r < N; r++) {
                ref_quantize(x + r * in, in, q, d, sum, hsum);
                for (int64_t c = 0; type == GGML_TYPE_BF16 && c < out; c++) {
                    double ref, bound;
                    const float acc = ref_bf16_row(&w, c, x + r * in, &ref, &bound);
                    formula &= !memcmp(&acc, &got[r * out + c], sizeof acc);
                    bounded &= fabs(got[r * out + c] - ref) <= bound;
                }
                for (int64_t c = 0; type != GGML_TYPE_BF16 && c < out; c++) {
                    float acc = 0;
                    double ref = 0, bound = 0;
                    for (int64_t b = 0; b < in / 32; b++) {
                        float D, M, dw, mw;
                        int32_t I = 0, Ih[2] = {0, 0}, Mi = 0;
                        for (int k = 0; k < 32; k++) {
                            int sc, mn;
                            const int iw = int_weight(&w, c, b, k, &D, &M, &sc, &mn, &dw, &mw);
                            I += iw * q[b * 32 + k];
                            Ih[k / 16] += sc * iw * q[b * 32 + k], Mi += mn * q[b * 32 + k];
                            const double wk = (double)D * iw + M;
                            ref += wk * x[r * in + b * 32 + k];
                            // each input off by at most d / 2 after rounding, plus fp32
                            // rounding: one rounding per block step of |terms| (2^-23 each)
                            bound +=
                                fabs(wk) * (0.5 * d[b] * (1 + 1e-6) +
                                            fabs(x[r * in + b * 32 + k]) * (in / 32 + 2) * 1.2e-7);
                        }
                        if (sub) { // the K-quants: each half, then the integer mins
                            acc = fmaf((float)Ih[0], dw * d[b], acc);
                            acc = fmaf((float)Ih[1], dw * d[b], acc);
                            if (mw != 0) acc = fmaf((float)Mi, mw * d[b], acc);
                            continue;
                        }
                        acc = fmaf((float)I, dw * d[b], acc);
                        if (qtype_info(type)->has_min) acc = fmaf(mw, d[b] * (float)sum[b], acc);
                    }
                    formula &= !memcmp(&acc, &got[r * out + c], sizeof acc);
                    bounded &= fabs(got[r * out + c] - ref) <= bound;
                }
            }
        }
        levels &= !memcmp(first, got, sizeof(float) * N * out);
        for (int n = 1; n <= N; n++) // row r alone and in every batch size that holds it
            for (int r = 0; r<n; r += n> 6 ? 5 : 1) {
                CHECK(matmul(got, x, &w, n, ws) == 0, "matmul n=%d", n);
                CHECK(matmul(alone, x + r * in, &w, 1, ws) == 0, "matmul alone");
                batch &= !memcmp(alone, got + r * out, sizeof(float) * out) &&
                         !memcmp(alone, first + r * out, sizeof(float) * out);
            }
        CHECK(batch, "qgemm %s %s %lldx%lld%s: a row's outputs depend on its batch",
              cpu_isa_name(isa), ggml_type_name(type), (long long)out, (long long)in, ext);
    }
    cpu_isa_force(first_isa);
    CHECK(formula, "qgemm %s %lldx%lld%s: not the documented block formula", ggml_type_name(type),
          (long long)out, (long long)in, ext);
    CHECK(bounded,
          "qgemm %s %lldx%lld%s: off the float64 product by more than the activation "
          "rounding",
          ggml_type_name(type), (long long)out, (long long)in, ext);
    CHECK(levels, "qgemm %s %lldx%lld%s: the levels disagree", ggml_type_name(type), (long long)out,
          (long long)in, ext);
    qpack_free(&p);
    free(data), free(x), free(got), free(first), free(alone), free(q), free(d), free(sum),
        free(hsum);
}

int main(void) {
    int n_levels = 0;
    for (int isa = 0; isa < ISA_COUNT; isa++)
        if (cpu_isa_available(isa)) {
            printf("  level %s available\n", cpu_isa_name(isa));
            n_levels++;
        }
    CHECK(cpu_isa_available(ISA_PORTABLE), "the portable kernels are always there");
    const int64_t ins[] = {32, 64, 96, 576};
    for (unsigned i = 0; i < sizeof ins / sizeof *ins; i++)
        for (int hostile = 0; hostile < 2; hostile++) test_quantize(ins[i], hostile);
    Workspace ws;
    if (ws_init(&ws, 4, 0)) return fprintf(stderr, "out of memory\n"), 1;
    const uint32_t types[] = {GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1,
                              GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_BF16};
    const int64_t shapes[][2] = {{40, 64}, {72, 96}, {5, 32}, {200, 160}, {16, 576}};
    for (unsigned t = 0; t < sizeof types / sizeof *types; t++)
        for (unsigned s = 0; s < sizeof shapes / sizeof *shapes; s++)
            test_matmul(types[t], shapes[s][0], shapes[s][1], 0, &ws);
    // the K-quants: rows of whole super-blocks
    const uint32_t ktypes[] = {GGML_TYPE_Q2_K, GGML_TYPE_Q3_K, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K,
                               GGML_TYPE_Q6_K};
    const int64_t kshapes[][2] = {{40, 256}, {5, 512}, {200, 256}, {16, 768}};
    for (unsigned t = 0; t < sizeof ktypes / sizeof *ktypes; t++)
        for (unsigned s = 0; s < sizeof kshapes / sizeof *kshapes; s++)
            test_matmul(ktypes[t], kshapes[s][0], kshapes[s][1], 0, &ws);
    // every quantized type with its quants at the extremes (the int16 bounds of the kernels)
    for (unsigned t = 0; t < sizeof types / sizeof *types; t++)
        for (unsigned s = 0; types[t] != GGML_TYPE_BF16 && s < 2; s++)
            test_matmul(types[t], shapes[4 * s][0], shapes[4 * s][1], 1, &ws);
    for (unsigned t = 0; t < sizeof ktypes / sizeof *ktypes; t++)
        for (unsigned s = 0; s < 2; s++)
            test_matmul(ktypes[t], kshapes[3 * s][0], kshapes[3 * s][1], 1, &ws);
    // the formats' bounds the kernels rely on are the decoders' (quant.h)
    const uint32_t all[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1,
                            GGML_TYPE_Q8_0, GGML_TYPE_Q2_K, GGML_TYPE_Q3_K, GGML_TYPE_Q4_K,
                            GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
    for (unsigned t = 0; t < sizeof all / sizeof *all; t++) {
        const QFormat *f = qformat_of(all[t]);
        const QTypeInfo *q = qtype_info(all[t]);
        CHECK(f && f->ubits == q->ubits && f->zero == q->zero && f->has_min == q->has_min &&
                  f->sub == q->sub && f->bits >= f->ubits,
              "qformat %s: differs from the decoder's quants", ggml_type_name(all[t]));
    }
    ws_free(&ws);
    return check_done("test_qgemm");
}
