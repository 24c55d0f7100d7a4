// test_gguf.c - the GGUF reader on files this test writes: a valid one (every metadata type,
// arrays of strings, alignment), then truncated and hostile variants that must fail with a
// clear message and never crash (this test also runs under ASan/UBSan).
#include "check.h"
#include "model/gguf.h"
#include "model/model.h"
#include "model/quant.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    unsigned char *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const void *x, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, x, n);
    b->n += n;
}
static void u32(Buf *b, uint32_t v) {
    put(b, &v, 4);
}
static void u64(Buf *b, uint64_t v) {
    put(b, &v, 8);
}
static void str(Buf *b, const char *s) {
    u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void kv_u32(Buf *b, const char *k, uint32_t v) {
    str(b, k);
    u32(b, GGUF_UINT32);
    u32(b, v);
}
static void kv_f32(Buf *b, const char *k, float v) {
    str(b, k);
    u32(b, GGUF_FLOAT32);
    put(b, &v, 4);
}
static void kv_str(Buf *b, const char *k, const char *v) {
    str(b, k);
    u32(b, GGUF_STRING);
    str(b, v);
}

// A valid file: 9 metadata pairs of assorted types and 2 tensors (F32 [4], Q8_0 [32, 2]).
static Buf make_valid(uint32_t align) {
    Buf b = {0};
    put(&b, "GGUF", 4);
    u32(&b, 3);
    u64(&b, 2); // tensors
    u64(&b, 9); // metadata pairs
    kv_str(&b, "general.architecture", "llama");
    kv_u32(&b, "general.alignment", align);
    kv_f32(&b, "some.float", 1.5f);
    str(&b, "some.i8");
    u32(&b, GGUF_INT8);
    put(&b, "\xfe", 1);
    str(&b, "some.u64");
    u32(&b, GGUF_UINT64);
    u64(&b, 1ull << 40);
    str(&b, "some.f64");
    u32(&b, GGUF_FLOAT64);
    double d = -2.25;
    put(&b, &d, 8);
    str(&b, "some.bool");
    u32(&b, GGUF_BOOL);
    put(&b, "\x01", 1);
    str(&b, "some.strings");
    u32(&b, GGUF_ARRAY);
    u32(&b, GGUF_STRING);
    u64(&b, 3);
    str(&b, "a");
    str(&b, "");
    str(&b, "c\xc3\xa9");
    str(&b, "some.ints");
    u32(&b, GGUF_ARRAY);
    u32(&b, GGUF_INT32);
    u64(&b, 2);
    int32_t iv[2] = {-7, 9};
    put(&b, iv, 8);
    str(&b, "vec");
    u32(&b, 1);
    u64(&b, 4);
    u32(&b, GGML_TYPE_F32);
    u64(&b, 0);
    str(&b, "mat");
    u32(&b, 2);
    u64(&b, 32);
    u64(&b, 2);
    u32(&b, GGML_TYPE_Q8_0);
    u64(&b, align);
    while (b.n % align) put(&b, "", 1);
    float v[4] = {1, 2, 3, 4};
    put(&b, v, 16);
    while (b.n % align) put(&b, "", 1);
    BlockQ8_0 q[2];
    for (int r = 0; r < 2; r++) {
        q[r].d = f32_to_fp16(0.5f * (r + 1));
        for (int j = 0; j < 32; j++) q[r].q[j] = (int8_t)(j - 16);
    }
    put(&b, q, sizeof q);
    return b;
}

static const char *write_tmp(const Buf *b, const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "build/tmp/%s", name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(b->p, 1, b->n, f);
    fclose(f);
    return path;
}

// Expects gguf_open to fail with a message containing `want`.
static void expect_fail(const Buf *b, const char *name, const char *want) {
    GGUFFile f;
    char err[512] = "";
    const char *path = write_tmp(b, name);
    int rc = gguf_open(&f, path, err, sizeof err);
    CHECK(rc == -1, "%s: opened a bad file", name);
    CHECK(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", name, err, want);
    CHECK(strstr(err, path) != NULL, "%s: message '%s' does not name the file", name, err);
    if (rc == 0) gguf_close(&f);
}

static void test_valid(void) {
    Buf b = make_valid(64);
    GGUFFile f;
    char err[512];
    CHECK(gguf_open(&f, write_tmp(&b, "valid.gguf"), err, sizeof err) == 0, "valid: %s", err);
    CHECK(f.n_kv == 9 && f.n_tensors == 2 && f.alignment == 64, "counts");
    char *arch = gguf_get_str(&f, "general.architecture");
    CHECK(arch && !strcmp(arch, "llama"), "architecture");
    free(arch);
    CHECK(gguf_get_float(&f, "some.float", 0) == 1.5, "f32");
    CHECK(gguf_get_int(&f, "some.i8", 0) == -2, "i8");
    CHECK(gguf_get_int(&f, "some.u64", 0) == (1ll << 40), "u64");
    CHECK(gguf_get_float(&f, "some.f64", 0) == -2.25, "f64");
    CHECK(gguf_get_int(&f, "some.bool", 0) == 1, "bool");
    CHECK(gguf_get_int(&f, "missing", 42) == 42, "default");
    const GGUFKV *s = gguf_find(&f, "some.strings");
    CHECK(s && s->arr_len == 3 && s->arr_strings[1].len == 0 && s->arr_strings[2].len == 3 &&
              !memcmp(s->arr_strings[2].ptr, "c\xc3\xa9", 3),
          "string array");
    const GGUFKV *iv = gguf_find(&f, "some.ints");
    CHECK(iv && gguf_arr_int(iv, 0) == -7 && gguf_arr_int(iv, 1) == 9, "int array");
    const GGUFTensor *t = gguf_find_tensor(&f, "mat");
    CHECK(t && t->type == GGML_TYPE_Q8_0 && t->ne[0] == 32 && t->ne[1] == 2 && t->n_bytes == 68,
          "tensor info");
    float row[32];
    dequantize_row(t->type, (const char *)t->data + 34, row, 32);
    CHECK(row[0] == -16.0f && row[31] == 15.0f, "tensor data at the aligned offset: %g %g", row[0],
          row[31]);
    const GGUFTensor *vec = gguf_find_tensor(&f, "vec");
    CHECK(vec && ((const float *)vec->data)[3] == 4.0f, "f32 tensor data");
    gguf_close(&f);
    free(b.p);
}

static void test_bad_files(void) {
    Buf b = make_valid(32);
    // every truncation point inside the header/metadata/infos must fail cleanly
    for (size_t cut = 0; cut < b.n; cut += (cut < 400 ? 1 : 16)) {
        Buf t = {b.p, cut, cut};
        GGUFFile f;
        char err[512];
        const char *path = write_tmp(&t, "cut.gguf");
        int rc = gguf_open(&f, path, err, sizeof err);
        CHECK(rc == -1, "truncated at %zu opened", cut);
        if (rc == 0) gguf_close(&f);
    }
    Buf t = {b.p, b.n - 1, b.n};
    expect_fail(&t, "short.gguf", "past the end");

    Buf m = make_valid(32);
    memcpy(m.p, "GGUX", 4);
    expect_fail(&m, "magic.gguf", "not a GGUF file");
    m.p[0] = 'G', m.p[3] = 'F';
    uint64_t huge = 1ull << 60;
    memcpy(m.p + 8, &huge, 8); // n_tensors
    expect_fail(&m, "counts.gguf", "absurd counts");
    free(m.p);

    Buf v = make_valid(32);
    uint32_t ver = 7;
    memcpy(v.p + 4, &ver, 4);
    expect_fail(&v, "version.gguf", "version 7");
    free(v.p);

    // a string length far past the end of the file
    Buf s = make_valid(32);
    uint64_t big = 1ull << 50;
    memcpy(s.p + 24, &big, 8); // first key's length
    expect_fail(&s, "strlen.gguf", "truncated");
    free(s.p);
    free(b.p);
}

// Patches the tensor info of "mat" in a valid file: its type and offset fields.
static void test_bad_tensors(void) {
    Buf b = make_valid(32);
    unsigned char *info = memmem(b.p, b.n, "mat", 3);
    CHECK(info != NULL, "found tensor info");
    if (!info) return;
    unsigned char *type = info + 3 + 4 + 16, *off = type + 4;
    uint32_t iq4 = 20; // IQ4_NL: a type chorus does not read
    memcpy(type, &iq4, 4);
    expect_fail(&b, "type.gguf", "unsupported type IQ4_NL");
    uint32_t q8 = GGML_TYPE_Q8_0;
    memcpy(type, &q8, 4);
    uint64_t far = 1ull << 30;
    memcpy(off, &far, 8);
    expect_fail(&b, "offset.gguf", "past the end");
    uint64_t odd = 33;
    memcpy(off, &odd, 8);
    expect_fail(&b, "align.gguf", "not aligned");
    free(b.p);
}

static void test_model_errors(void) {
    char err[512];
    Model m;
    CHECK(model_load(&m, "build/tmp/does-not-exist.gguf", err, sizeof err) == -1 &&
              strstr(err, "cannot open"),
          "missing file: %s", err);
    Buf b = make_valid(32);
    // The valid test file has no llama.* keys: config errors name what is missing.
    CHECK(model_load(&m, write_tmp(&b, "nocfg.gguf"), err, sizeof err) == -1 &&
              strstr(err, "missing metadata 'llama.embedding_length'"),
          "missing config: %s", err);
    unsigned char *arch = memmem(b.p, b.n, "llama", 5);
    memcpy(arch, "qwen9", 5);
    CHECK(model_load(&m, write_tmp(&b, "arch.gguf"), err, sizeof err) == -1 &&
              strstr(err, "architecture 'qwen9' is not supported"),
          "unsupported architecture: %s", err);
    free(b.p);
}

// Every scalar type at the edges of its range (the reader widens each to 64 bits: signed ones
// sign-extended, unsigned ones not), checked against the values written.
static void test_scalars(void) {
    static const struct {
        uint32_t type;
        int size;
        int64_t want; // as gguf_get_int reads it
    } cases[] = {
        {GGUF_UINT8, 1, 0xff},          {GGUF_INT8, 1, -128},
        {GGUF_UINT16, 2, 0xffff},       {GGUF_INT16, 2, -32768},
        {GGUF_UINT32, 4, 0xffffffffll}, {GGUF_INT32, 4, INT32_MIN},
        {GGUF_INT64, 8, INT64_MIN + 1}, {GGUF_BOOL, 1, 1},
    };
    const int n = sizeof cases / sizeof *cases;
    Buf b = {0};
    put(&b, "GGUF", 4);
    u32(&b, 3);
    u64(&b, 0);
    u64(&b, n + 2);
    char key[32];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%d", i);
        str(&b, key);
        u32(&b, cases[i].type);
        put(&b, &cases[i].want, cases[i].size); // the low bytes: little-endian
    }
    kv_f32(&b, "f32", -0.375f);
    str(&b, "f64");
    u32(&b, GGUF_FLOAT64);
    double d = 1e300;
    put(&b, &d, 8);
    GGUFFile f;
    char err[512];
    CHECK(gguf_open(&f, write_tmp(&b, "scalars.gguf"), err, sizeof err) == 0, "scalars: %s", err);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%d", i);
        const int64_t got = gguf_get_int(&f, key, 7);
        CHECK(got == cases[i].want, "%s: %lld, want %lld", gguf_value_type_name(cases[i].type),
              (long long)got, (long long)cases[i].want);
    }
    CHECK(gguf_get_float(&f, "f32", 0) == -0.375, "f32");
    CHECK(gguf_get_float(&f, "f64", 0) == 1e300, "f64");
    gguf_close(&f);
    free(b.p);
}

int main(void) {
    if (system("mkdir -p build/tmp") != 0) return 1;
    test_valid();
    test_scalars();
    test_bad_files();
    test_bad_tensors();
    test_model_errors();
    return check_done("test_gguf");
}
