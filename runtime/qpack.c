// qpack.c - the quantized weight formats of the int8 path and their repacking into panels (see
// qgemm.h for the layout and the numerics).
//
// Every type is one decoder: a GGUF block of 32 inputs -> unsigned quants u, scale d and offset m
// such that the weight is d (u - z) + m for the type's zero point z. The packer does the rest,
// so a new block type is a new decoder and a line in `formats`.
//
// Why repack at all: in GGUF each output row's blocks are contiguous, so the kernel would read
// 16 rows as 16 strided streams and transpose every block on every step. A panel holds the 16
// rows' blocks interleaved: one sequential stream, and each 64-byte load is already "4 inputs of
// 16 rows". The panels take the bytes of the tensors they replace (same quants, same fp16
// scales), and the tensor's pages of the mapped file are released afterwards, so the resident
// size stays about one copy of the weights.
#include "qgemm.h"
#include "quant.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// ---- decoders
// -------------------------------------------------------------------------------------

// Q4_0 { f16 d; u8 qs[16] }: element i is the low nibble of qs[i], element 16 + i the high one;
// w = d (q - 8).
static void decode_q4_0(const void *row, int64_t b, uint8_t u[QP_BLOCK], uint16_t *d, uint16_t *m) {
    const BlockQ4_0 *q = (const BlockQ4_0 *)row + b;
    for (int i = 0; i < QP_BLOCK / 2; i++) u[i] = q->qs[i] & 15, u[i + 16] = q->qs[i] >> 4;
    *d = q->d, *m = 0;
}

// Q4_1 { f16 d; f16 m; u8 qs[16] }: w = d q + m.
static void decode_q4_1(const void *row, int64_t b, uint8_t u[QP_BLOCK], uint16_t *d, uint16_t *m) {
    const BlockQ4_1 *q = (const BlockQ4_1 *)row + b;
    for (int i = 0; i < QP_BLOCK / 2; i++) u[i] = q->qs[i] & 15, u[i + 16] = q->qs[i] >> 4;
    *d = q->d, *m = q->m;
}

// Q8_0 { f16 d; int8 q[32] }: w = d q = d (u - 128) with u = q + 128.
static void decode_q8_0(const void *row, int64_t b, uint8_t u[QP_BLOCK], uint16_t *d, uint16_t *m) {
    const BlockQ8_0 *q = (const BlockQ8_0 *)row + b;
    for (int i = 0; i < QP_BLOCK; i++) u[i] = (uint8_t)(q->q[i] + 128);
    *d = q->d, *m = 0;
}

// BF16: the weights themselves; subnormals become zeros of the same sign, as vdpbf16ps reads them.
static void decode_bf16(const void *row, int64_t b, uint16_t w[QP_BLOCK]) {
    const uint16_t *h = (const uint16_t *)row + b * QP_BLOCK;
    for (int i = 0; i < QP_BLOCK; i++) w[i] = (h[i] & 0x7f80) ? h[i] : h[i] & 0x8000;
}

static const QFormat formats[] = {
    {GGML_TYPE_Q4_0, 4, 8, 0, decode_q4_0, NULL},
    {GGML_TYPE_Q4_1, 4, 0, 1, decode_q4_1, NULL},
    {GGML_TYPE_Q8_0, 8, 128, 0, decode_q8_0, NULL},
    {GGML_TYPE_BF16, 16, 0, 0, NULL, decode_bf16},
};

const QFormat *qformat_of(uint32_t type) {
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (formats[i].type == type) return &formats[i];
    return NULL;
}

// ---- packing
// ----------------------------------------------------------------------------------------

// Block b of the 16 rows row0 .. row0 + 15 (rows past `out` are zeros) into dst (block_bytes).
static void pack_block(uint8_t *dst, const QFormat *f, const char *data, size_t row_bytes,
                       int64_t row0, int64_t out, int64_t b) {
    const int qbytes = QP_COLS * QP_BLOCK * f->bits / 8;
    uint16_t *d = (uint16_t *)(dst + qbytes), *m = d + QP_COLS;
    memset(dst, 0, qformat_block_bytes(f));
    for (int j = 0; f->bits == 16 && j < QP_COLS && row0 + j < out; j++) {
        uint16_t w[QP_BLOCK];
        f->decode16(data + (row0 + j) * row_bytes, b, w);
        for (int g = 0; g < QP_BLOCK / 2; g++) // vector g: inputs 2g, 2g + 1
            memcpy(dst + 64 * g + 4 * j, &w[2 * g], 4);
    }
    for (int j = 0; f->bits != 16 && j < QP_COLS && row0 + j < out; j++) {
        uint8_t u[QP_BLOCK];
        uint16_t dj, mj;
        f->decode(data + (row0 + j) * row_bytes, b, u, &dj, &mj);
        memcpy(&d[j], &dj, 2);
        if (f->has_min) memcpy(&m[j], &mj, 2);
        for (int i = 0; i < 4; i++) {
            if (f->bits == 4) // vector p: inputs 4p + i (low nibble), 16 + 4p + i (high)
                for (int p = 0; p < 4; p++)
                    dst[64 * p + 4 * j + i] = u[4 * p + i] | u[16 + 4 * p + i] << 4;
            else // vector g: input 4g + i
                for (int g = 0; g < 8; g++) dst[64 * g + 4 * j + i] = u[4 * g + i];
        }
    }
}

// Gives the weight's pages of the mapped file back to the kernel (they are re-read from the
// file if the fp32 path or the embedding lookup touches them again).
static void release_pages(const void *data, size_t bytes) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)data + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)data + bytes) & ~(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

int qpack(QPacked *p, const void *data, uint32_t type, int64_t in, int64_t out, size_t row_bytes,
          int release) {
    memset(p, 0, sizeof *p);
    const QFormat *f = qformat_of(type);
    if (!f || in % QP_BLOCK || out < 1) return -1;
    p->f = f, p->in = in, p->out = out, p->nb = in / QP_BLOCK;
    p->n_panels = (out + QP_COLS - 1) / QP_COLS;
    p->block_bytes = qformat_block_bytes(f);
    p->panel_bytes = p->block_bytes * p->nb;
    const size_t bytes = (p->panel_bytes * p->n_panels + 63) & ~(size_t)63;
    if (!(p->data = aligned_alloc(64, bytes))) return -1;
#pragma omp parallel for schedule(static)
    for (int64_t pn = 0; pn < p->n_panels; pn++)
        for (int64_t b = 0; b < p->nb; b++)
            pack_block(p->data + pn * p->panel_bytes + b * p->block_bytes, f, data, row_bytes,
                       pn * QP_COLS, out, b);
    if (release) release_pages(data, row_bytes * out);
    return 0;
}

void qpack_free(QPacked *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

// ---- activations
// ------------------------------------------------------------------------------------

static size_t align64(size_t x) {
    return (x + 63) & ~(size_t)63;
}

size_t qacts_bytes(int n, int64_t in) {
    const size_t nb = (size_t)(in / QP_BLOCK);
    return align64((size_t)n * in * 2) + align64((size_t)n * in) + 3 * align64((size_t)n * nb * 4);
}

void qacts_carve(QActs *a, void *buf, int n, int64_t in) {
    const size_t nb = (size_t)(in / QP_BLOCK), part = align64((size_t)n * nb * 4);
    char *c = buf;
    a->n = n, a->in = in, a->nb = (int64_t)nb;
    a->bf = (uint16_t *)c;
    c += align64((size_t)n * in * 2);
    a->q = (int8_t *)c;
    c += align64((size_t)n * in);
    a->d = (float *)c, a->s = (float *)(c + part), a->sum = (int32_t *)(c + 2 * part);
}
