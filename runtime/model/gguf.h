// gguf.h - a reader for GGUF v2/v3 model files (mmap, no copies of tensor data).
//
// Layout of a GGUF file (all little-endian):
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv   x { string key | u32 value_type | value }
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to general.alignment (default 32) | tensor data (offsets are relative to here)
// A string is u64 length + bytes (no NUL). An array value is u32 elem_type + u64 count + elems.
#pragma once
#include <stddef.h>
#include <stdint.h>

enum {
    GGUF_UINT8 = 0,
    GGUF_INT8 = 1,
    GGUF_UINT16 = 2,
    GGUF_INT16 = 3,
    GGUF_UINT32 = 4,
    GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_UINT64 = 10,
    GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
    GGUF_N_VALUE_TYPES
};

typedef struct {
    const char *ptr; // points into the mapping; NOT NUL-terminated
    uint64_t len;
} GGUFString;

typedef struct {
    GGUFString key;
    uint32_t type; // GGUF_* value type
    union {
        uint64_t u; // unsigned ints and bool
        int64_t i;  // signed ints
        double f;   // floats
        GGUFString s;
    } v;
    // arrays (type == GGUF_ARRAY):
    uint32_t arr_type;       // element type
    uint64_t arr_len;        // element count
    const uint8_t *arr_data; // raw elements in the mapping (may be unaligned: use gguf_arr_*)
    GGUFString *arr_strings; // [arr_len], decoded when arr_type == GGUF_STRING, else NULL
} GGUFKV;

typedef struct {
    char *name;      // NUL-terminated copy
    uint32_t n_dims; // 1..4
    uint64_t ne[4];  // ggml order: ne[0] is the innermost (contiguous) dimension; unused = 1
    uint32_t type;   // ggml tensor type (see quant.h)
    uint64_t offset; // relative to the data section
    uint64_t n_elems;
    uint64_t n_bytes;
    const void *data; // into the mapping
} GGUFTensor;

typedef struct {
    char *path;
    int fd;
    const uint8_t *map; // [size]
    size_t size;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    GGUFKV *kv;          // [n_kv]
    GGUFTensor *tensors; // [n_tensors]
    uint64_t alignment;
    uint64_t data_offset; // start of the tensor data section in the file
} GGUFFile;

// Opens and validates `path`. Returns 0 on success. On failure returns -1, writes a one-line
// message naming the file and the problem into err, and leaves f closed (nothing to free).
int gguf_open(GGUFFile *f, const char *path, char *err, size_t errlen);
void gguf_close(GGUFFile *f);

const GGUFKV *gguf_find(const GGUFFile *f, const char *key);
const GGUFTensor *gguf_find_tensor(const GGUFFile *f, const char *name);

// Typed getters: any integer (or bool) type converts to int64, any float type to double.
// They return `def` when the key is missing or of an incompatible type.
int64_t gguf_get_int(const GGUFFile *f, const char *key, int64_t def);
double gguf_get_float(const GGUFFile *f, const char *key, double def);
// Returns a malloc'd NUL-terminated copy of a string value, or NULL if missing.
char *gguf_get_str(const GGUFFile *f, const char *key);

// Array element readers (bounds are the caller's job: i < kv->arr_len).
float gguf_arr_f32(const GGUFKV *kv, uint64_t i);   // FLOAT32 arrays
int64_t gguf_arr_int(const GGUFKV *kv, uint64_t i); // any integer array

const char *gguf_value_type_name(uint32_t type);
