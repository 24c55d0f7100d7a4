// test_attention.c - CPU attention (cpu/attention.c) against a plain float64 softmax(q K^T) V.
//   - decode: C chains with their own tokens over one shared prefix, and a chain whose prefix
//     is shorter (forked earlier), with GQA ratios 1, 3 and 4 and head sizes that are and are
//     not multiples of 16 (the padded value panel);
//   - prefill: P rows of one sequence, each seeing only its first pos + 1 keys;
//   - a row attended alone equals the same row inside the batch, bit for bit.
// Both cache types: fp32, and fp16 where the reference uses the values the test wrote rounded to
// fp16 (nearest even), so a cache that rounds any other way fails the 2e-5 bound.
#include "cpu/attention.h"
#include "check.h"

#include <stdint.h>
#include <string.h>

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float urand(void) { // uniform in [-2, 2)
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) * (4.0 / (1 << 24)) - 2.0);
}

// keys/values as the test wrote them: [seq][layer][token][kv_dim]
typedef struct {
    float *k, *v;
    int cap;
} Shadow;

static void fill(KVCache *kv, Shadow *sh, int id, int len, int n_layers) {
    const int kvd = kv->kv_dim, cap = kv->seqs[id].cap;
    sh->k = malloc(sizeof(float) * n_layers * cap * kvd);
    sh->v = malloc(sizeof(float) * n_layers * cap * kvd);
    sh->cap = cap;
    for (int l = 0; l < n_layers; l++)
        for (int t = 0; t < len; t++) {
            float *k = sh->k + ((size_t)l * cap + t) * kvd,
                  *v = sh->v + ((size_t)l * cap + t) * kvd;
            float kw[1024], vw[1024]; // what is written; the shadow keeps it rounded to fp16
            for (int e = 0; e < kvd; e++) {
                kw[e] = urand(), vw[e] = urand();
                k[e] = kv->half ? fp16_to_f32(f32_to_fp16(kw[e])) : kw[e];
                v[e] = kv->half ? fp16_to_f32(f32_to_fp16(vw[e])) : vw[e];
            }
            kv_put(kv, id, l, t, kw, vw);
        }
    kv->seqs[id].len = len;
}

// out[d] = softmax over the keys (prefix keys then own keys) of q.k / sqrt(hd), times V.
static void reference(double *out, const float *q, const Shadow *pre, int n_pre, const Shadow *own,
                      int n_own, int layer, int kvh, int hd, int kvd) {
    const int T = n_pre + n_own;
    double *s = malloc(sizeof(double) * T), mx = -1e300, sum = 0;
    for (int t = 0; t < T; t++) {
        const Shadow *sh = t < n_pre ? pre : own;
        const int tt = t < n_pre ? t : t - n_pre;
        const float *k = sh->k + ((size_t)layer * sh->cap + tt) * kvd + kvh * hd;
        double d = 0;
        for (int i = 0; i < hd; i++) d += (double)q[i] * k[i];
        s[t] = d / sqrt((double)hd);
        if (s[t] > mx) mx = s[t];
    }
    for (int i = 0; i < hd; i++) out[i] = 0;
    for (int t = 0; t < T; t++) {
        const Shadow *sh = t < n_pre ? pre : own;
        const int tt = t < n_pre ? t : t - n_pre;
        const float *v = sh->v + ((size_t)layer * sh->cap + tt) * kvd + kvh * hd;
        const double e = exp(s[t] - mx);
        sum += e;
        for (int i = 0; i < hd; i++) out[i] += e * v[i];
    }
    for (int i = 0; i < hd; i++) out[i] /= sum;
    free(s);
}

// Worst |got - ref| over all rows, heads and dims (values are O(1)).
static double compare(const float *got, const double *ref, size_t count) {
    double worst = 0;
    for (size_t i = 0; i < count; i++)
        if (fabs(got[i] - ref[i]) > worst) worst = fabs(got[i] - ref[i]);
    return worst;
}

static void test_case(int P, int C, int n_heads, int n_kv, int hd, int half, Workspace *ws) {
    const int n_layers = 2, layer = 1, group = n_heads / n_kv, kvd = n_kv * hd;
    KVCache kv;
    char err[200];
    CHECK(kv_init(&kv, n_layers, n_kv, hd, C + 2, 0) == 0 && kv_set_half(&kv, half) == 0,
          "kv_init");
    const int pre = kv_seq_new(&kv, -1, P + 4, err, sizeof err);
    Shadow *sh = calloc(C + 2, sizeof(Shadow));
    fill(&kv, &sh[0], pre, P, n_layers);
    int *seqs = malloc(sizeof(int) * (C + P)), *pos = malloc(sizeof(int) * (C + P));
    int *npre = malloc(sizeof(int) * (C + P)), *nown = malloc(sizeof(int) * (C + P));
    for (int c = 0; c < C; c++) { // chain c's prefix: all of it, except chain 0 forked at P/2
        kv.seqs[pre].len = c == 0 ? P / 2 : P;
        const int own = 1 + (c * 7) % 37, id = kv_seq_new(&kv, pre, own + 1, err, sizeof err);
        CHECK(id >= 0, "kv_seq_new: %s", err);
        fill(&kv, &sh[c + 1], id, own, n_layers);
        seqs[c] = id, pos[c] = kv.seqs[id].n_prefix + own - 1; // its newest token
        npre[c] = kv.seqs[id].n_prefix, nown[c] = own;
    }
    kv.seqs[pre].len = P;
    const size_t per_row = (size_t)n_heads * hd;
    float *q = malloc(sizeof(float) * (C + P) * per_row),
          *out = malloc(sizeof(float) * (C + P) * per_row);
    double *ref = malloc(sizeof(double) * (C + P) * per_row);
    for (size_t i = 0; i < (C + P) * per_row; i++) q[i] = urand();
    // decode: one row per chain
    CHECK(attention(out, q, &kv, seqs, pos, C, layer, n_heads, n_kv, hd, ws) == 0, "attention");
    for (int c = 0; c < C; c++)
        for (int h = 0; h < n_heads; h++)
            reference(ref + c * per_row + h * hd, q + c * per_row + h * hd, &sh[0], npre[c],
                      &sh[c + 1], nown[c], layer, h / group, hd, kvd);
    double e = compare(out, ref, C * per_row);
    CHECK(e < 2e-5, "decode P=%d C=%d heads %d/%d hd %d: worst |diff| %.3g", P, C, n_heads, n_kv,
          hd, e);
    // a row alone equals the row in the batch
    float *one = malloc(sizeof(float) * per_row);
    int same = 1;
    for (int c = 0; c < C; c += 3) {
        CHECK(attention(one, q + c * per_row, &kv, seqs + c, pos + c, 1, layer, n_heads, n_kv, hd,
                        ws) == 0,
              "alone");
        same &= memcmp(one, out + c * per_row, sizeof(float) * per_row) == 0;
    }
    CHECK(same, "decode P=%d C=%d: a row's attention depends on its batch", P, C);
    // prefill: every row of the prefix, causal
    for (int i = 0; i < P; i++) seqs[i] = pre, pos[i] = i;
    CHECK(attention(out, q, &kv, seqs, pos, P, layer, n_heads, n_kv, hd, ws) == 0, "prefill");
    for (int i = 0; i < P; i++)
        for (int h = 0; h < n_heads; h++)
            reference(ref + i * per_row + h * hd, q + i * per_row + h * hd, &sh[0], 0, &sh[0],
                      i + 1, layer, h / group, hd, kvd);
    e = compare(out, ref, P * per_row);
    CHECK(e < 2e-5, "prefill P=%d heads %d/%d hd %d: worst |diff| %.3g", P, n_heads, n_kv, hd, e);
    for (int c = 0; c < C + 2; c++) free(sh[c].k), free(sh[c].v);
    free(sh), free(seqs), free(pos), free(npre), free(nown), free(q), free(out), free(ref),
        free(one);
    kv_free(&kv);
}

int main(void) {
    Workspace ws;
    if (ws_init(&ws, 2, 0)) return fprintf(stderr, "out of memory\n"), 1;
    for (int half = 0; half <= 1; half++) {      // fp32 and fp16 caches
        test_case(130, 20, 9, 3, 64, half, &ws); // the default model's shape, a prefix of 9 tiles
        test_case(17, 5, 4, 4, 32, half, &ws);   // no GQA, tiles of 16 + 1
        test_case(40, 9, 8, 2, 24, half, &ws);   // head_dim not a multiple of 16
        test_case(1, 3, 4, 1, 16, half, &ws);    // one-token prompt, one KV head
        test_case(300, 64, 9, 3, 64, half, &ws); // many chains, several chunks per prefix
    }
    ws_free(&ws);
    return check_done("test_attention");
}
