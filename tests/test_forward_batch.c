// test_forward_batch.c - a row's logits do not depend on the batch it runs in: the same chain
// step computed alone (n = 1) and inside batches of 2..13 rows (every row grouping and panel
// count of the matmul kernels; attention over a shared prefix and own tokens) must be
// bit-identical. This is what makes a chain's samples independent of N and --parallel.
// It holds for both numerics (int8 activations, the default, and f32), and under int8 on every
// instruction-set level this CPU and build have, which must also agree with one another bit for
// bit (tests/test_qgemm.c checks the kernels; this checks the whole model).
//
//     test_forward_batch [--one-level] [MODEL]
//
// --one-level: int8 on the level in use only (cpu_isa(): the best, or CHORUS_ISA), for callers
// that run this on many files (tests/test_quant_models.py without CHORUS_TEST_FULL).
#include "check.h"
#include "cpu/forward.h"

#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define MODEL "weights/SmolLM2-135M-Instruct.Q4_1.gguf" // or the file named on the command line

// One step keeping the logits of `rows` ([n_out, V] into lg; n_out = 0: a prefill). 0, or -1.
static int step(Forward *f, const int *toks, const int *seqs, int n, const int *rows, int n_out,
                float *lg) {
    const Step st = {.n_rows = n,
                     .tokens = toks,
                     .seqs = seqs,
                     .n_out = n_out,
                     .out_rows = n_out ? rows : NULL,
                     .logits = n_out ? lg : NULL};
    return forward(f, &st);
}

// The chain's logits alone (ref, [V]), then its logits inside batches of 2..13 (all: every
// batch size; else 2, 7 and 13), compared with it.
static void run(Forward *f, KVCache *kv, int prefix, int V, float *ref, const char *label,
                int all) {
    char err[256];
    int seqs[16], rows[16], toks[16];
    int alone = kv_seq_new(kv, prefix, 4, err, sizeof err), one = 555 % V, zero = 0;
    float *lg = malloc(sizeof(float) * 13 * V); // [13, V] a batch's logits
    CHECK(step(f, &one, &alone, 1, &zero, 1, ref) == 0, "%s: forward alone: %s", label, f->err);
    kv_seq_free(kv, alone);
    for (int b = 2; b <= 13; b += all ? 1 : b == 2 ? 5 : 6) {
        for (int r = 0; r < b; r++) {
            seqs[r] = kv_seq_new(kv, prefix, 4, err, sizeof err);
            toks[r] = r == b / 2 ? 555 % V : (1000 + 91 * r) % V; // our chain sits in the middle
            rows[r] = r;
        }
        const int rc = step(f, toks, seqs, b, rows, b, lg);
        CHECK(rc == 0 && !memcmp(lg + (size_t)(b / 2) * V, ref, sizeof(float) * V),
              "%s, batch of %d: the chain's logits differ from its single-row run", label, b);
        for (int r = 0; r < b; r++) kv_seq_free(kv, seqs[r]);
    }
    free(lg);
}

int main(int argc, char **argv) {
    Model m;
    char err[512];
    const char *path = MODEL;
    int one_level = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--one-level"))
            one_level = 1;
        else
            path = argv[i];
    }
    if (model_load(&m, path, err, sizeof err)) {
        SKIP("%s (run make weights)", err);
        return check_done("test_forward_batch");
    }
    const int V = m.cfg.vocab_size, P = 12;
    KVCache kv;
    Forward f;
    kv_init(&kv, m.cfg.n_layers, m.cfg.n_kv_heads, m.cfg.head_dim, 1 + 2 * 13, 0);
    CHECK(forward_init(&f, &m, &kv, 16, err, sizeof err) == 0, "forward_init: %s", err);
    int prompt[12], seqs[12], rows[12];
    int prefix = kv_seq_new(&kv, -1, P, err, sizeof err);
    for (int i = 0; i < P; i++) prompt[i] = (100 + 37 * i) % V, seqs[i] = prefix, rows[i] = i;
    step(&f, prompt, seqs, P, rows, 0, NULL);
    float *ref = malloc(sizeof(float) * V), *first = malloc(sizeof(float) * V);
    // every batch size on the level in use; three sizes on the others (their kernels' batch
    // invariance is checked exhaustively in test_qgemm, and the portable one is slow); with
    // --one-level the level in use alone
    const CpuIsa best = cpu_isa();
    int first_isa = -1;
    for (int isa = ISA_COUNT - 1; isa >= 0; isa--) {
        if ((one_level && isa != (int)best) || cpu_isa_force(isa)) continue;
        char label[64];
        snprintf(label, sizeof label, "int8 on %s", cpu_isa_name(isa));
        const double t0 = now_s();
        run(&f, &kv, prefix, V, ref, label, isa == (int)best);
        printf("  %s: %.1f s\n", label, now_s() - t0);
        if (first_isa < 0) first_isa = isa, memcpy(first, ref, sizeof(float) * V);
        CHECK(!memcmp(first, ref, sizeof(float) * V), "%s: logits differ from those on %s", label,
              cpu_isa_name(first_isa));
    }
    cpu_isa_force(best);
    kv_seq_free(&kv, prefix); // f32 keeps K and V in fp32: a new cache type, a new prefix
    CHECK(forward_set_numerics(&f, NUMERICS_F32, err, sizeof err) == 0, "f32: %s", err);
    prefix = kv_seq_new(&kv, -1, P, err, sizeof err);
    for (int i = 0; i < P; i++) seqs[i] = prefix;
    step(&f, prompt, seqs, P, rows, 0, NULL);
    run(&f, &kv, prefix, V, ref, "f32", 1);
    free(ref), free(first);
    forward_free(&f);
    kv_free(&kv);
    model_free(&m);
    return check_done("test_forward_batch");
}
