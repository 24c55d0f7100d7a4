// kv_entries.c - the KV half of the backend interface, written once for both backends
// (kv_entries.h).
#include "backend/kv_entries.h"

static int seq_new(void *impl, int parent, int cap, char *err, size_t errlen) {
    return kv_seq_new((KVCache *)impl, parent, cap, err, errlen);
}
static void seq_free(void *impl, int id) {
    kv_seq_free((KVCache *)impl, id);
}
static size_t bytes_used(void *impl) {
    return kv_bytes_used((KVCache *)impl);
}
static size_t token_bytes(void *impl) {
    return kv_token_bytes((KVCache *)impl);
}

void backend_set_kv_entries(Backend *b) {
    b->seq_new = seq_new;
    b->seq_free = seq_free;
    b->kv_bytes_used = bytes_used;
    b->kv_token_bytes = token_bytes;
}
