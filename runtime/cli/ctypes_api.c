// cli/ctypes_api.c - the flat ctypes API of cli/ctypes_api.h, for the Python reference tests.
#include "cli/ctypes_api.h"
#include "cpu/forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Model + cache + forward state for one sequence of up to `cap` tokens.
typedef struct {
    Model m;
    KVCache kv;
    Forward f;
    int seq;
} Session;

static Numerics numerics = NUMERICS_INT8; // chorus_dev_set_numerics

int chorus_dev_set_numerics(const char *name) {
    return numerics_parse(name, &numerics);
}

static int session_open(Session *s, const char *path, int cap, int max_rows, char *err, int n) {
    memset(s, 0, sizeof *s);
    if (model_load(&s->m, path, err, n)) return -1;
    if (kv_init(&s->kv, s->m.cfg.n_layers, s->m.cfg.n_kv_heads, s->m.cfg.head_dim, 1, 0) ||
        forward_init(&s->f, &s->m, &s->kv, max_rows, err, n) ||
        forward_set_numerics(&s->f, numerics, err, n) || // before any sequence: it sets the KV type
        (s->seq = kv_seq_new(&s->kv, -1, cap, err, n)) < 0) {
        forward_free(&s->f); // a no-op where forward_init failed (it cleans up after itself)
        kv_free(&s->kv);
        model_free(&s->m);
        return -1;
    }
    return 0;
}

static void session_close(Session *s) {
    forward_free(&s->f);
    kv_free(&s->kv);
    model_free(&s->m);
}

int chorus_dev_vocab(const char *path, char *err, int errlen) {
    Model m;
    if (model_load(&m, path, err, errlen)) return -1;
    int v = m.cfg.vocab_size;
    model_free(&m);
    return v;
}

int chorus_dev_logits(const char *path, const int *tokens, int n, float *out, char *err,
                      int errlen) {
    Session s;
    if (n < 1 || session_open(&s, path, n, n, err, errlen)) return -1;
    int *rows = malloc(n * sizeof(int)), *seqs = malloc(n * sizeof(int));
    for (int i = 0; i < n; i++) rows[i] = i, seqs[i] = s.seq;
    const Step st = {
        .n_rows = n, .tokens = tokens, .seqs = seqs, .n_out = n, .out_rows = rows, .logits = out};
    const int rc = forward(&s.f, &st);
    if (rc) snprintf(err, errlen, "forward failed");
    free(rows);
    free(seqs);
    session_close(&s);
    return rc;
}

static int argmax2(const float *x, int n, float *gap) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    float second = -1e30f;
    for (int i = 0; i < n; i++)
        if (i != best && x[i] > second) second = x[i];
    if (gap) *gap = x[best] - second;
    return best;
}

int chorus_dev_greedy(const char *path, const int *prompt, int n_prompt, int n_gen, int *out_tokens,
                      float *out_gap, char *err, int errlen) {
    Session s;
    if (n_prompt < 1 || n_gen < 1 ||
        session_open(&s, path, n_prompt + n_gen, n_prompt, err, errlen))
        return -1;
    int *seqs = malloc(n_prompt * sizeof(int)), last = n_prompt - 1, zero = 0;
    float *lg = malloc(sizeof(float) * s.m.cfg.vocab_size); // [vocab] the last row's logits
    for (int i = 0; i < n_prompt; i++) seqs[i] = s.seq;
    // the prompt, its last row's logits wanted; then one row a token
    Step st = {.n_rows = n_prompt,
               .tokens = prompt,
               .seqs = seqs,
               .n_out = 1,
               .out_rows = &last,
               .logits = lg};
    int rc = lg ? forward(&s.f, &st) : -1;
    for (int t = 0; t < n_gen && !rc; t++) {
        out_tokens[t] = argmax2(lg, s.m.cfg.vocab_size, out_gap ? &out_gap[t] : NULL);
        st.n_rows = 1, st.tokens = &out_tokens[t], st.out_rows = &zero;
        if (t + 1 < n_gen) rc = forward(&s.f, &st);
    }
    if (rc) snprintf(err, errlen, "forward failed");
    free(lg);
    free(seqs);
    session_close(&s);
    return rc;
}
