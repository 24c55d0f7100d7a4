// qpack.c - the quantized weight formats of the int8 path and their repacking into panels (see
// qgemm.h for the layout and the numerics).
//
// Every quantized type is read through its canonical blocks (quant.h's qblock_decode: unsigned
// quants u, scale d, offset m, and for the K-quants integer scales and mins per half block), so
// a new block type is a decoder in quant_blocks.c and a line in `formats`. Quants of 5 and 6 bits
// take the 8-bit layout, of 2 and 3 bits the 4-bit one: the panels hold the weights exactly.
//
// Why repack at all: in GGUF each output row's blocks are contiguous, so the kernel would read
// 16 rows as 16 strided streams and transpose every block on every step. A panel holds the 16
// rows' blocks interleaved: one sequential stream, and each 64-byte load is already "4 inputs of
// 16 rows". The panels take the bytes of the tensors they replace (same quants, same fp16
// scales), and the tensor's pages of the mapped file are released afterwards, so the resident
// size stays about one copy of the weights.
#include "cpu/qgemm.h"
#include "model/quant.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// ---- formats
// -------------------------------------------------------------------------------------

// BF16: the weights themselves; subnormals become zeros of the same sign, as vdpbf16ps reads them.
static void decode_bf16(const void *row, int64_t b, uint16_t w[QP_BLOCK]) {
    const uint16_t *h = (const uint16_t *)row + b * QP_BLOCK;
    for (int i = 0; i < QP_BLOCK; i++) w[i] = (h[i] & 0x7f80) ? h[i] : h[i] & 0x8000;
}

static const QFormat formats[] = {
    // type          bits ubits zero min sub
    {GGML_TYPE_Q4_0, 4, 4, 8, 0, 0, NULL},         {GGML_TYPE_Q4_1, 4, 4, 0, 1, 0, NULL},
    {GGML_TYPE_Q5_0, 8, 5, 16, 0, 0, NULL},        {GGML_TYPE_Q5_1, 8, 5, 0, 1, 0, NULL},
    {GGML_TYPE_Q8_0, 8, 8, 128, 0, 0, NULL},       {GGML_TYPE_Q2_K, 4, 2, 0, 1, 1, NULL},
    {GGML_TYPE_Q3_K, 4, 3, 4, 0, 1, NULL},         {GGML_TYPE_Q4_K, 4, 4, 0, 1, 1, NULL},
    {GGML_TYPE_Q5_K, 8, 5, 0, 1, 1, NULL},         {GGML_TYPE_Q6_K, 8, 6, 32, 0, 1, NULL},
    {GGML_TYPE_BF16, 16, 0, 0, 0, 0, decode_bf16},
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
    uint16_t *d = (uint16_t *)(dst + qformat_scale_offset(f)), *m = d + QP_COLS;
    int8_t *sc = (int8_t *)(dst + qformat_sub_offset(f)); // [2][16]
    uint8_t *mn = (uint8_t *)sc + 2 * QP_COLS;            // [2][16]
    memset(dst, 0, qformat_block_bytes(f));
    for (int j = 0; f->bits == 16 && j < QP_COLS && row0 + j < out; j++) {
        uint16_t w[QP_BLOCK];
        f->decode16(data + (row0 + j) * row_bytes, b, w);
        for (int g = 0; g < QP_BLOCK / 2; g++) // vector g: inputs 2g, 2g + 1
            memcpy(dst + 64 * g + 4 * j, &w[2 * g], 4);
    }
    for (int j = 0; f->bits != 16 && j < QP_COLS && row0 + j < out; j++) {
        QBlock32 q;
        qblock_decode(f->type, data + (row0 + j) * row_bytes, b, &q);
        const uint8_t *u = q.u;
        memcpy(&d[j], &q.d, 2);
        if (f->has_min) memcpy(&m[j], &q.m, 2);
        for (int h = 0; f->sub && h < 2; h++) {
            sc[QP_COLS * h + j] = q.sc[h];
            if (f->has_min) mn[QP_COLS * h + j] = q.mn[h];
        }
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
    return align64((size_t)n * in * 2) + align64((size_t)n * in) + 5 * align64((size_t)n * nb * 4);
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
    a->hsum = (int32_t *)(c + 3 * part); // two parts: [n, nb, 2]
}
