// test_forward_batch.c - a row's logits do not depend on the batch it runs in: the same chain
// step computed alone (n = 1: the few-rows matmul kernel) and inside batches of 2..13 rows (the
// few-rows kernel for 2 and 3, then packed panels with the gemm micro-kernel in every grouping of
// 4..6 rows, one and several groups; attention over a shared prefix and own tokens) must be
// bit-identical. This is what makes a chain's samples independent of N and --parallel.
#include "check.h"
#include "forward.h"

#include <string.h>

#define MODEL "weights/SmolLM2-135M-Instruct.Q4_1.gguf"

int main(void) {
    Model m;
    char err[512];
    if (model_load(&m, MODEL, err, sizeof err)) {
        SKIP("%s (run make weights)", err);
        return check_done("test_forward_batch");
    }
    const int V = m.cfg.vocab_size, P = 12, MAXB = 13;
    KVCache kv;
    Forward f;
    kv_init(&kv, m.cfg.n_layers, m.cfg.n_kv_heads, m.cfg.head_dim, 1 + 2 * MAXB, 0);
    forward_init(&f, &m, &kv, 16, err, sizeof err);
    int prompt[12], seqs[16], rows[16], toks[16];
    for (int i = 0; i < P; i++) prompt[i] = 100 + 37 * i, seqs[i] = 0, rows[i] = i;
    int prefix = kv_seq_new(&kv, -1, P, err, sizeof err);
    forward(&f, prompt, seqs, P, rows, 0);
    // reference: chain with token 555 at the first step, alone
    int alone = kv_seq_new(&kv, prefix, 4, err, sizeof err), one = 555, zero = 0;
    float *ref = malloc(sizeof(float) * V);
    memcpy(ref, forward(&f, &one, &alone, 1, &zero, 1), sizeof(float) * V);
    kv_seq_free(&kv, alone);
    for (int b = 2; b <= MAXB; b++) {
        for (int r = 0; r < b; r++) {
            seqs[r] = kv_seq_new(&kv, prefix, 4, err, sizeof err);
            toks[r] = r == b / 2 ? 555 : 1000 + 91 * r; // our chain sits in the middle
            rows[r] = r;
        }
        const float *lg = forward(&f, toks, seqs, b, rows, b);
        CHECK(lg && !memcmp(lg + (size_t)(b / 2) * V, ref, sizeof(float) * V),
              "batch of %d: the chain's logits differ from its single-row run", b);
        for (int r = 0; r < b; r++) kv_seq_free(&kv, seqs[r]);
    }
    free(ref);
    forward_free(&f);
    kv_free(&kv);
    model_free(&m);
    return check_done("test_forward_batch");
}
