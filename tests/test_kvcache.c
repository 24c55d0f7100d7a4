// test_kvcache.c - the sequence table of runtime/model/kvcache.c: prefixes, children, deferred
// frees and byte accounting, with the CPU storage and with a backend's storage (KVStore) in its
// place.
//
// The regression this guards: a prefix freed while chains still read it must keep its storage
// (and its slot) until the last chain is freed; the CUDA backend once freed it at once and its
// children read freed device memory.
#include "check.h"
#include "model/kvcache.h"

#include <string.h>

// A backend storage that records what kvcache.c asks of it.
typedef struct {
    int live[16]; // 1 while sequence id holds storage
    int allocs, releases, fail_next;
    int order[16], n_order; // ids in the order they were released
} Fake;

static size_t fake_bytes(void *ctx, int cap) {
    return (size_t)cap * 100 + 8;
}
static int fake_alloc(void *ctx, int id, int cap, char *err, size_t errlen) {
    Fake *f = ctx;
    if (f->fail_next) {
        f->fail_next = 0;
        snprintf(err, errlen, "fake: no memory for %d tokens", cap);
        return -1;
    }
    f->live[id] = 1;
    f->allocs++;
    return 0;
}
static void fake_release(void *ctx, int id) {
    Fake *f = ctx;
    if (!f->live[id]) f->releases += 1000; // a double free shows as a huge count
    f->live[id] = 0;
    f->releases++;
    f->order[f->n_order++] = id;
}

static void test_prefix_outlives_children(int with_store) {
    KVCache kv;
    Fake fake = {0};
    char err[200];
    CHECK(kv_init(&kv, 2, 2, 16, 8, 0) == 0, "kv_init");
    if (with_store) {
        KVStore st = {&fake, 100, fake_bytes, fake_alloc, fake_release};
        kv_set_store(&kv, &st);
    }
    const char *what = with_store ? "store" : "cpu";
    int pre = kv_seq_new(&kv, -1, 10, err, sizeof err);
    kv.seqs[pre].len = 7; // as if 7 prompt tokens were stored
    int a = kv_seq_new(&kv, pre, 4, err, sizeof err), b = kv_seq_new(&kv, pre, 4, err, sizeof err);
    CHECK(pre >= 0 && a >= 0 && b >= 0, "%s: sequences: %s", what, err);
    CHECK(kv.seqs[a].n_prefix == 7 && kv_seq_pos(&kv, a) == 7,
          "%s: a chain starts after the prefix", what);
    CHECK(kv.seqs[pre].n_children == 2, "%s: two children counted", what);
    const size_t reserved = kv.bytes_reserved;
    kv_seq_free(&kv, pre); // the owner lets go while both chains still read it
    CHECK(kv.seqs[pre].in_use && kv.seqs[pre].released, "%s: prefix kept while read", what);
    CHECK(kv.bytes_reserved == reserved, "%s: its bytes stay reserved", what);
    CHECK(kv_seq_new(&kv, pre, 4, err, sizeof err) < 0 && strstr(err, "not a live prefix"),
          "%s: a released prefix takes no new chains", what);
    int c = kv_seq_new(&kv, -1, 3, err, sizeof err);
    CHECK(c >= 0 && c != pre, "%s: its slot is not handed out again", what);
    kv_seq_free(&kv, pre); // a second free changes nothing
    kv_seq_free(&kv, a);
    CHECK(kv.seqs[pre].in_use, "%s: prefix still there for the last chain", what);
    kv_seq_free(&kv, b);
    CHECK(!kv.seqs[pre].in_use, "%s: prefix freed with its last chain", what);
    kv_seq_free(&kv, c);
    CHECK(kv.bytes_reserved == 0, "%s: all bytes returned (%zu left)", what, kv.bytes_reserved);
    if (with_store) {
        CHECK(fake.allocs == 4 && fake.releases == 4, "store: 4 allocations, 4 releases (%d, %d)",
              fake.allocs, fake.releases);
        CHECK(fake.order[0] == a && fake.order[1] == b && fake.order[2] == pre,
              "store: the prefix's storage went after both chains'");
    }
    kv_free(&kv);
}

static void test_store_accounting(void) {
    KVCache kv;
    Fake fake = {0};
    char err[200];
    kv_init(&kv, 2, 2, 16, 4, 1000);
    KVStore st = {&fake, 100, fake_bytes, fake_alloc, fake_release};
    kv_set_store(&kv, &st);
    CHECK(kv_token_bytes(&kv) == 100, "token bytes come from the store");
    int p = kv_seq_new(&kv, -1, 5, err, sizeof err); // 508 bytes
    CHECK(p >= 0 && kv.bytes_reserved == 508, "store bytes reserved: %zu", kv.bytes_reserved);
    CHECK(kv_seq_new(&kv, p, 5, err, sizeof err) < 0 && strstr(err, "limit"),
          "the limit counts the store's bytes: %s", err);
    fake.fail_next = 1;
    CHECK(kv_seq_new(&kv, p, 1, err, sizeof err) < 0 && strstr(err, "fake: no memory"),
          "a storage failure is reported: %s", err);
    CHECK(kv.bytes_reserved == 508 && kv.seqs[p].n_children == 0, "a failed new changes nothing");
    CHECK(kv_seq_new(&kv, -1, -1, err, sizeof err) < 0, "negative capacity refused");
    int ch = kv_seq_new(&kv, p, 2, err, sizeof err);
    kv.seqs[p].len = 5, kv.seqs[ch].len = 1;
    CHECK(kv_bytes_used(&kv) == 600, "bytes used = stored tokens x token bytes: %zu",
          kv_bytes_used(&kv));
    kv_seq_free(&kv, p); // released, kept for ch
    kv_free(&kv);        // frees ch, then the released prefix, each once
    CHECK(fake.allocs == 2 && fake.releases == 2, "kv_free releases each once (%d of %d)",
          fake.releases, fake.allocs);
}

int main(void) {
    test_prefix_outlives_children(0);
    test_prefix_outlives_children(1);
    test_store_accounting();
    return check_done("test_kvcache");
}
