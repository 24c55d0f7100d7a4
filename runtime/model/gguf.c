// gguf.c - GGUF reader: maps the file, parses the header, metadata and tensor infos, and
// validates every count, length and offset against the file size before trusting it.
#include "model/gguf.h"
#include "util/printable.h"
#include "model/quant.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// A bounds-checked cursor over the mapping. Any read past the end sets `bad`.
typedef struct {
    const uint8_t *p, *end;
    int bad;
} Cursor;

static int take(Cursor *c, void *dst, size_t n) {
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = 1;
        return 0;
    }
    if (dst) memcpy(dst, c->p, n);
    c->p += n;
    return 1;
}
static uint32_t rd_u32(Cursor *c) {
    uint32_t v = 0;
    take(c, &v, 4);
    return v;
}
static uint64_t rd_u64(Cursor *c) {
    uint64_t v = 0;
    take(c, &v, 8);
    return v;
}
static GGUFString rd_str(Cursor *c) {
    GGUFString s = {0};
    s.len = rd_u64(c);
    if (c->bad || s.len > (uint64_t)(c->end - c->p)) {
        c->bad = 1;
        s.len = 0;
        return s;
    }
    s.ptr = (const char *)c->p;
    c->p += s.len;
    return s;
}

static const int scalar_size[GGUF_N_VALUE_TYPES] = {
    [GGUF_UINT8] = 1,  [GGUF_INT8] = 1,  [GGUF_UINT16] = 2,  [GGUF_INT16] = 2,
    [GGUF_UINT32] = 4, [GGUF_INT32] = 4, [GGUF_FLOAT32] = 4, [GGUF_BOOL] = 1,
    [GGUF_UINT64] = 8, [GGUF_INT64] = 8, [GGUF_FLOAT64] = 8,
};

const char *gguf_value_type_name(uint32_t t) {
    static const char *names[GGUF_N_VALUE_TYPES] = {"u8",  "i8",  "u16",  "i16",    "u32",
                                                    "i32", "f32", "bool", "string", "array",
                                                    "u64", "i64", "f64"};
    return t < GGUF_N_VALUE_TYPES ? names[t] : "unknown";
}

// The integer whose little-endian bytes are the low bytes of u, for integer type t: the signed
// types sign-extended, the unsigned ones and bool as they are (u64 reinterpreted).
static int64_t widen_int(uint32_t t, uint64_t u) {
    switch (t) {
    case GGUF_INT8: return (int8_t)u;
    case GGUF_INT16: return (int16_t)u;
    case GGUF_INT32: return (int32_t)u;
    default: return (int64_t)u;
    }
}

// Reads one scalar of type t into kv->v (kv->type already set).
static void rd_scalar(Cursor *c, uint32_t t, GGUFKV *kv) {
    if (t == GGUF_STRING) {
        kv->v.s = rd_str(c);
        return;
    }
    // GGUF is little-endian, as every host chorus builds for: the value's bytes are the low
    // bytes of u, then sign-extended or reinterpreted by type
    uint64_t u = 0;
    take(c, &u, scalar_size[t]);
    float f32;
    memcpy(&f32, &u, 4);
    switch (t) {
    case GGUF_INT8:
    case GGUF_INT16:
    case GGUF_INT32:
    case GGUF_INT64: kv->v.i = widen_int(t, u); break;
    case GGUF_FLOAT32: kv->v.f = f32; break;
    case GGUF_FLOAT64: memcpy(&kv->v.f, &u, 8); break;
    default: kv->v.u = u; // u8, u16, u32, u64, bool
    }
}

// Parses one metadata pair. Returns 0, or -1 with a message.
static int rd_kv(Cursor *c, GGUFKV *kv, const char *path, char *err, size_t n) {
    kv->key = rd_str(c);
    kv->type = rd_u32(c);
    if (c->bad) return error_at(err, n, path, "truncated in the metadata");
    char key[PRINTABLE_MAX]; // the key as messages may quote it
    printable(key, sizeof key, kv->key.ptr ? kv->key.ptr : "", kv->key.len);
    if (kv->type >= GGUF_N_VALUE_TYPES)
        return error_at(err, n, path, "metadata '%s' has unknown value type %u", key, kv->type);
    if (kv->type != GGUF_ARRAY) {
        rd_scalar(c, kv->type, kv);
        return c->bad ? error_at(err, n, path, "truncated in metadata '%s'", key) : 0;
    }
    kv->arr_type = rd_u32(c);
    kv->arr_len = rd_u64(c);
    if (c->bad) return error_at(err, n, path, "truncated in the metadata");
    if (kv->arr_type >= GGUF_N_VALUE_TYPES || kv->arr_type == GGUF_ARRAY)
        return error_at(err, n, path, "metadata '%s': unsupported array element type %u", key,
                        kv->arr_type);
    kv->arr_data = c->p;
    uint64_t left = (uint64_t)(c->end - c->p);
    if (kv->arr_type != GGUF_STRING) {
        if (kv->arr_len > left / scalar_size[kv->arr_type])
            return error_at(err, n, path, "metadata '%s': array of %llu elements runs past the end",
                            key, (unsigned long long)kv->arr_len);
        c->p += kv->arr_len * scalar_size[kv->arr_type];
        return 0;
    }
    if (kv->arr_len > left / 8) // every string needs at least its 8-byte length
        return error_at(err, n, path, "metadata '%s': array of %llu strings runs past the end", key,
                        (unsigned long long)kv->arr_len);
    kv->arr_strings = malloc((kv->arr_len ? kv->arr_len : 1) * sizeof(GGUFString));
    if (!kv->arr_strings) return error_at(err, n, path, "out of memory");
    for (uint64_t i = 0; i < kv->arr_len; i++) kv->arr_strings[i] = rd_str(c);
    return c->bad ? error_at(err, n, path, "truncated in metadata '%s'", key) : 0;
}

// Parses one tensor info and checks its type and dimensions. Offsets are checked later.
static int rd_tensor(Cursor *c, GGUFTensor *t, const char *path, char *err, size_t n) {
    GGUFString name = rd_str(c);
    t->n_dims = rd_u32(c);
    if (c->bad) return error_at(err, n, path, "truncated in the tensor infos");
    t->name = strndup(name.ptr ? name.ptr : "", name.len);
    if (!t->name) return error_at(err, n, path, "out of memory");
    char nm[PRINTABLE_MAX]; // the name as messages may quote it
    printable_str(nm, sizeof nm, t->name);
    if (t->n_dims < 1 || t->n_dims > 4)
        return error_at(err, n, path, "tensor '%s' has %u dimensions (1 to 4 supported)", nm,
                        t->n_dims);
    t->n_elems = 1;
    for (int d = 0; d < 4; d++) {
        t->ne[d] = d < (int)t->n_dims ? rd_u64(c) : 1;
        if (t->ne[d] == 0 || t->ne[d] > ((uint64_t)1 << 40) ||
            t->n_elems > ((uint64_t)1 << 50) / t->ne[d])
            return error_at(err, n, path, "tensor '%s' has an absurd shape", nm);
        t->n_elems *= t->ne[d];
    }
    t->type = rd_u32(c);
    t->offset = rd_u64(c);
    if (c->bad) return error_at(err, n, path, "truncated in tensor info '%s'", nm);
    if (!ggml_type_supported(t->type))
        return error_at(err, n, path, "tensor '%s' has unsupported type %s", nm,
                        ggml_type_name(t->type));
    t->n_bytes = ggml_row_bytes(t->type, (int64_t)t->ne[0]) * (t->n_elems / t->ne[0]);
    if (t->n_bytes == 0)
        return error_at(
            err, n, path, "tensor '%s': rows of %llu are not a multiple of %d (%s blocks)", nm,
            (unsigned long long)t->ne[0], ggml_type_block_elems(t->type), ggml_type_name(t->type));
    return 0;
}

static int parse(GGUFFile *f, char *err, size_t n) {
    Cursor c = {f->map, f->map + f->size, 0};
    char magic[4];
    if (!take(&c, magic, 4) || memcmp(magic, "GGUF", 4) != 0)
        return error_at(err, n, f->path, "not a GGUF file (bad magic)");
    f->version = rd_u32(&c);
    f->n_tensors = rd_u64(&c);
    f->n_kv = rd_u64(&c);
    if (c.bad) return error_at(err, n, f->path, "truncated header");
    if (f->version < 2 || f->version > 3)
        return error_at(err, n, f->path, "GGUF version %u is not supported (2 or 3)", f->version);
    // Every pair and tensor info takes at least 12 bytes: this bounds absurd counts.
    if (f->n_kv > f->size / 12 || f->n_tensors > f->size / 12)
        return error_at(err, n, f->path,
                        "absurd counts in header (%llu tensors, %llu metadata pairs)",
                        (unsigned long long)f->n_tensors, (unsigned long long)f->n_kv);
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof(GGUFKV));
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof(GGUFTensor));
    if (!f->kv || !f->tensors) return error_at(err, n, f->path, "out of memory");
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (rd_kv(&c, &f->kv[i], f->path, err, n)) return -1;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (rd_tensor(&c, &f->tensors[i], f->path, err, n)) return -1;

    f->alignment = (uint64_t)gguf_get_int(f, "general.alignment", 32);
    if (f->alignment == 0 || (f->alignment & (f->alignment - 1)) || f->alignment > 65536)
        return error_at(err, n, f->path, "general.alignment %llu is not a power of two",
                        (unsigned long long)f->alignment);
    uint64_t pos = (uint64_t)(c.p - f->map);
    f->data_offset = (pos + f->alignment - 1) / f->alignment * f->alignment;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        GGUFTensor *t = &f->tensors[i];
        char nm[PRINTABLE_MAX];
        printable_str(nm, sizeof nm, t->name);
        if (t->offset % f->alignment)
            return error_at(err, n, f->path, "tensor '%s' offset %llu is not aligned", nm,
                            (unsigned long long)t->offset);
        if (f->data_offset > f->size || t->offset > f->size - f->data_offset ||
            t->n_bytes > f->size - f->data_offset - t->offset)
            return error_at(err, n, f->path,
                            "tensor '%s' (offset %llu, %llu bytes) lies past the end of the file "
                            "(%zu bytes): truncated?",
                            nm, (unsigned long long)t->offset, (unsigned long long)t->n_bytes,
                            f->size);
        t->data = f->map + f->data_offset + t->offset;
    }
    return 0;
}

int gguf_open(GGUFFile *f, const char *path, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = strdup(path);
    if (!f->path) return error_at(err, errlen, path, "out of memory");
    f->fd = open(path, O_RDONLY);
    struct stat st;
    if (f->fd < 0 || fstat(f->fd, &st) != 0) {
        int e = errno;
        error_at(err, errlen, path, "cannot open: %s", strerror(e));
        gguf_close(f);
        return -1;
    }
    if (S_ISDIR(st.st_mode) || st.st_size < 24) {
        error_at(err, errlen, path,
                 S_ISDIR(st.st_mode) ? "is a directory" : "too small to be GGUF");
        gguf_close(f);
        return -1;
    }
    f->size = (size_t)st.st_size;
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);
    if (m == MAP_FAILED) {
        error_at(err, errlen, path, "mmap failed: %s", strerror(errno));
        gguf_close(f);
        return -1;
    }
    f->map = m;
    if (parse(f, err, errlen)) {
        gguf_close(f);
        return -1;
    }
    return 0;
}

void gguf_close(GGUFFile *f) {
    if (f->kv)
        for (uint64_t i = 0; i < f->n_kv; i++) free(f->kv[i].arr_strings);
    if (f->tensors)
        for (uint64_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->kv);
    free(f->tensors);
    if (f->map) munmap((void *)f->map, f->size);
    if (f->fd >= 0) close(f->fd);
    free(f->path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

const GGUFKV *gguf_find(const GGUFFile *f, const char *key) {
    size_t n = strlen(key);
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (f->kv[i].key.len == n && memcmp(f->kv[i].key.ptr, key, n) == 0) return &f->kv[i];
    return NULL;
}

const GGUFTensor *gguf_find_tensor(const GGUFFile *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

static int is_signed(uint32_t t) {
    return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 || t == GGUF_INT64;
}
static int is_unsigned(uint32_t t) {
    return t == GGUF_UINT8 || t == GGUF_UINT16 || t == GGUF_UINT32 || t == GGUF_UINT64 ||
           t == GGUF_BOOL;
}

int64_t gguf_get_int(const GGUFFile *f, const char *key, int64_t def) {
    const GGUFKV *kv = gguf_find(f, key);
    if (!kv) return def;
    if (is_signed(kv->type)) return kv->v.i;
    if (is_unsigned(kv->type)) return kv->v.u > INT64_MAX ? def : (int64_t)kv->v.u;
    return def;
}

double gguf_get_float(const GGUFFile *f, const char *key, double def) {
    const GGUFKV *kv = gguf_find(f, key);
    if (!kv) return def;
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) return kv->v.f;
    if (is_signed(kv->type)) return (double)kv->v.i;
    if (is_unsigned(kv->type)) return (double)kv->v.u;
    return def;
}

char *gguf_get_str(const GGUFFile *f, const char *key) {
    const GGUFKV *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_STRING) return NULL;
    return strndup(kv->v.s.ptr ? kv->v.s.ptr : "", kv->v.s.len);
}

float gguf_arr_f32(const GGUFKV *kv, uint64_t i) {
    if (kv->arr_type == GGUF_FLOAT64) {
        double d;
        memcpy(&d, kv->arr_data + 8 * i, 8);
        return (float)d;
    }
    float x;
    memcpy(&x, kv->arr_data + 4 * i, 4);
    return x;
}

int64_t gguf_arr_int(const GGUFKV *kv, uint64_t i) {
    uint32_t t = kv->arr_type;
    if (!is_signed(t) && !is_unsigned(t)) return 0;
    uint64_t u = 0; // little-endian, as in rd_scalar: the element's bytes are u's low bytes
    memcpy(&u, kv->arr_data + (uint64_t)scalar_size[t] * i, scalar_size[t]);
    return widen_int(t, u);
}
