// test_batch_plan.c - the host-side plan of a CUDA step (runtime/cuda/batch_plan.c), on the CPU.
//
// The GPU kernels trust the plan: every row with a prefix in exactly one prefix item, every row
// in exactly one own item, item sizes within the shared memory the launch has, key splits that
// cover every key a row sees, partial indices inside the buffers. This test checks those
// invariants directly and, end to end, runs the attention the way the kernels do (one "block"
// per item x kv head x split, partial softmax results, log-sum-exp merge) in double precision
// over the plan, and compares it with attention computed straight from the sequences' keys
// and values (no plan). Cases: two prefixes in one batch, rows with and without a prefix,
// prefix lengths that differ per row (a chain forked after its prefix grew), a chain with
// several rows in one step, rows in permuted order, more chains than one item holds, a long
// prefill. Split counts are exercised for small and large SM counts.
#include "cuda/batch_plan.h"
#include "check.h"
#include "model_util.h"
#include "model/kvcache.h"
#include "model/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LAYERS = 2, LAYER = 1 };

static uint64_t rs = 0x2545F4914F6CDD1Dull;
static double urand(void) { // [-1, 1)
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

typedef struct {
    Config c;
    KVCache kv;
    BatchPlanner p;
    BatchMeta m;
    char *meta;
    uint16_t *k[128], *v[128]; // "device" storage per sequence: [LAYERS, cap, kv_dim] bf16
} World;

static void world_init(World *w, int n_heads, int n_kv, int hd, int max_rows, int n_sms) {
    memset(w, 0, sizeof *w);
    Config c = attention_config(LAYERS, n_heads, n_kv, hd, 32, 1000, 4096);
    w->c = c;
    kv_init(&w->kv, LAYERS, n_kv, hd, 128, 0);
    CHECK(batch_planner_init(&w->p, &c, max_rows, 128, n_sms) == 0, "planner init");
    size_t bytes = batch_meta_layout(&w->m, NULL, max_rows, NULL);
    w->meta = malloc(bytes);
    batch_meta_layout(&w->m, w->meta, max_rows, NULL);
}

static void world_free(World *w) {
    for (int i = 0; i < 128; i++) free(w->k[i]), free(w->v[i]);
    kv_free(&w->kv);
    batch_planner_free(&w->p);
    free(w->meta);
}

// A sequence with its "device" storage filled with random bf16 K/V (len tokens stored).
static int seq(World *w, int parent, int cap, int len) {
    char err[128];
    int id = kv_seq_new(&w->kv, parent, cap, err, sizeof err);
    CHECK(id >= 0, "kv_seq_new: %s", err);
    size_t e = (size_t)LAYERS * cap * w->c.kv_dim;
    w->k[id] = malloc(e * 2 + 2), w->v[id] = malloc(e * 2 + 2);
    for (size_t i = 0; i < e; i++)
        w->k[id][i] = f32_to_bf16((float)urand()), w->v[id][i] = f32_to_bf16((float)urand());
    w->kv.seqs[id].len = len;
    return id;
}

static double kval(const uint16_t *base, int cap, int kvd, int t, int e) {
    return bf16_to_f32(base[((size_t)LAYER * cap + t) * kvd + e]);
}

// Attention of every row straight from the sequences: its prefix's first lim_pre keys, then its
// own first lim_own keys (no items, no splits). out: [n, n_heads, hd]
static void direct(const World *w, const double *q, const int *seqs, int n, double *out) {
    const int H = w->c.n_heads, hd = w->c.head_dim, kvd = w->c.kv_dim, g = H / w->c.n_kv_heads;
    for (int i = 0; i < n; i++) {
        const KVSeq *s = &w->kv.seqs[seqs[i]];
        int earlier = 0; // the row sees its sequence's stored tokens, earlier rows, itself
        for (int j = 0; j < i; j++) earlier += seqs[j] == seqs[i];
        const int own = s->len + earlier + 1, pre = s->parent >= 0 ? s->n_prefix : 0;
        for (int h = 0; h < H; h++) {
            const int kh = h / g, T = pre + own;
            double *sc = malloc(sizeof(double) * T), mx = -INFINITY, l = 0;
            for (int t = 0; t < T; t++) {
                const int src = t < pre ? s->parent : seqs[i], tt = t < pre ? t : t - pre;
                const int cap = w->kv.seqs[src].cap;
                double a = 0;
                for (int d = 0; d < hd; d++)
                    a += q[((size_t)i * H + h) * hd + d] *
                         kval(w->k[src], cap, kvd, tt, kh * hd + d);
                sc[t] = a / sqrt((double)hd);
                mx = sc[t] > mx ? sc[t] : mx;
            }
            for (int t = 0; t < T; t++) l += exp(sc[t] - mx);
            for (int d = 0; d < hd; d++) {
                double o = 0;
                for (int t = 0; t < T; t++) {
                    const int src = t < pre ? s->parent : seqs[i], tt = t < pre ? t : t - pre;
                    o += exp(sc[t] - mx) *
                         kval(w->v[src], w->kv.seqs[src].cap, kvd, tt, kh * hd + d);
                }
                out[((size_t)i * H + h) * hd + d] = o / l;
            }
            free(sc);
        }
    }
}

// The kernels' work over the plan, in double. Grid (n items, kv heads, z splits) of each
// launch; blocks past the plan's counts do nothing. Partials start as NaN so a partial the
// merge reads but no block wrote shows up. out: [n, n_heads, hd]
static void by_plan(const World *w, const double *q, int n, double *out) {
    const int H = w->c.n_heads, hd = w->c.head_dim, kvd = w->c.kv_dim, KV = w->c.n_kv_heads;
    const int g = H / KV, z = batch_max_splits(&w->p, n);
    const size_t slots = (size_t)2 * z * n * H;
    double *pm = malloc(sizeof(double) * slots), *pl = malloc(sizeof(double) * slots);
    double *po = malloc(sizeof(double) * slots * hd);
    for (size_t i = 0; i < slots; i++) pm[i] = pl[i] = NAN;
    const AttnPlan *plan = w->m.plan;
    for (int src = 0; src < 2; src++) {
        const AttnSplit sp = plan->src[src];
        const AttnItem *items = src ? w->m.it_own : w->m.it_pre;
        const int *idx = src ? w->m.idx_own : w->m.idx_pre,
                  *lim = src ? w->m.lim_own : w->m.lim_pre;
        CHECK(sp.n_items <= n && sp.n_splits <= z, "grid bounds: %d items of %d, %d splits of %d",
              sp.n_items, n, sp.n_splits, z);
        CHECK(sp.part0 + sp.n_splits <= 2 * z, "parts inside the buffers");
        for (int x = 0; x < sp.n_items; x++)
            for (int kh = 0; kh < KV; kh++)
                for (int zz = 0; zz < sp.n_splits; zz++) {
                    const AttnItem it = items[x];
                    const int k0 = zz * sp.split_len;
                    const int k1 = it.n_keys < k0 + sp.split_len ? it.n_keys : k0 + sp.split_len;
                    for (int r = 0; r < it.n_rows; r++) {
                        const int row = idx[it.row0 + r];
                        for (int hh = 0; hh < g; hh++) {
                            const int h = kh * g + hh;
                            const size_t at = ((size_t)(sp.part0 + zz) * n + row) * H + h;
                            double m = -INFINITY, l = 0, *o = po + at * hd;
                            for (int d = 0; d < hd; d++) o[d] = 0;
                            for (int t = k0; t < k1 && t < lim[row]; t++) {
                                double a = 0;
                                for (int d = 0; d < hd; d++)
                                    a +=
                                        q[((size_t)row * H + h) * hd + d] *
                                        bf16_to_f32(
                                            it.k[((size_t)LAYER * it.cap + t) * kvd + kh * hd + d]);
                                a /= sqrt((double)hd);
                                const double mn = a > m ? a : m, corr = exp(m - mn),
                                             p = exp(a - mn);
                                l = l * corr + p;
                                for (int d = 0; d < hd; d++)
                                    o[d] = o[d] * corr +
                                           p * bf16_to_f32(it.v[((size_t)LAYER * it.cap + t) * kvd +
                                                                kh * hd + d]);
                                m = mn;
                            }
                            pm[at] = m, pl[at] = l;
                        }
                    }
                }
    }
    for (int row = 0; row < n; row++)
        for (int h = 0; h < H; h++) {
            double M = -INFINITY, L = 0, acc[256] = {0};
            for (int pass = 0; pass < 2; pass++)
                for (int src = w->m.lim_pre[row] > 0 ? 0 : 1; src < 2; src++)
                    for (int zz = 0; zz < plan->src[src].n_splits; zz++) {
                        const size_t at = ((size_t)(plan->src[src].part0 + zz) * n + row) * H + h;
                        if (pl[at] == 0) continue;
                        if (pass == 0) {
                            M = pm[at] > M ? pm[at] : M;
                            continue;
                        }
                        const double a = exp(pm[at] - M);
                        L += a * pl[at];
                        for (int d = 0; d < hd; d++) acc[d] += a * po[at * hd + d];
                    }
            for (int d = 0; d < hd; d++) out[((size_t)row * H + h) * hd + d] = acc[d] / L;
        }
    free(pm), free(pl), free(po);
}

// Invariants of the items of one source: every row that should be there is there once.
static void check_items(const World *w, int n, int src, const char *what) {
    const AttnSplit sp = w->m.plan->src[src];
    const AttnItem *items = src ? w->m.it_own : w->m.it_pre;
    const int *idx = src ? w->m.idx_own : w->m.idx_pre, *lim = src ? w->m.lim_own : w->m.lim_pre;
    int *seen = calloc(n, sizeof(int)), bad = 0;
    for (int x = 0; x < sp.n_items; x++) {
        const AttnItem it = items[x];
        bad += it.n_rows < 1 || it.n_rows * w->p.group > ATTN_MAX_QVECS;
        int mx = 0;
        for (int r = 0; r < it.n_rows; r++) {
            const int row = idx[it.row0 + r];
            seen[row]++;
            mx = lim[row] > mx ? lim[row] : mx;
            bad += it.k != w->m.rows[row].k && src == 1; // own items read the row's own storage
        }
        bad += it.n_keys != mx;
        bad += sp.n_splits * sp.split_len < it.n_keys || sp.split_len % 32;
    }
    for (int i = 0; i < n; i++) bad += seen[i] != (lim[i] > 0 ? 1 : 0);
    CHECK(bad == 0, "%s: %s items break %d invariants", what, src ? "own" : "prefix", bad);
    free(seen);
}

static void run_case(World *w, const char *what, const int *seqs, int n) {
    int *tokens = malloc(sizeof(int) * n), *outs = malloc(sizeof(int) * n);
    const int H = w->c.n_heads, hd = w->c.head_dim;
    for (int i = 0; i < n; i++) tokens[i] = (i * 37) % 1000, outs[i] = n - 1 - i;
    char err[160];
    int rc =
        batch_plan(&w->p, &w->m, &w->kv, w->k, w->v, tokens, seqs, n, outs, n, err, sizeof err);
    CHECK(rc == 0, "%s: plan: %s", what, err);
    if (rc) return;
    // positions: the sequence's next position, counting its earlier rows in this batch
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int earlier = 0;
        for (int j = 0; j < i; j++) earlier += seqs[j] == seqs[i];
        const KVSeq *s = &w->kv.seqs[seqs[i]];
        bad += w->m.rows[i].slot != s->len + earlier ||
               w->m.rows[i].pos != kv_seq_pos(&w->kv, seqs[i]) + earlier;
        bad += w->m.tokens[i] != tokens[i] || w->m.out_rows[i] != outs[i];
    }
    CHECK(bad == 0, "%s: %d rows with a wrong slot, position, token or output row", what, bad);
    check_items(w, n, 0, what);
    check_items(w, n, 1, what);
    double *q = malloc(sizeof(double) * n * H * hd), *a = malloc(sizeof(double) * n * H * hd);
    double *b = malloc(sizeof(double) * n * H * hd), worst = 0;
    for (int i = 0; i < n * H * hd; i++) q[i] = 2.0 * urand();
    direct(w, q, seqs, n, a);
    by_plan(w, q, n, b);
    for (int i = 0; i < n * H * hd; i++) {
        double d = fabs(a[i] - b[i]);
        worst = d > worst || d != d ? (d != d ? INFINITY : d) : worst;
    }
    // Both are double sums of the same terms in another order: agreement to ~1e-14.
    CHECK(worst < 1e-9, "%s: attention over the plan differs from direct attention by %g", what,
          worst);
    printf("  %-44s items %d+%d, splits %dx%d + %dx%d, max|diff| %.1e\n", what,
           w->m.plan->src[0].n_items, w->m.plan->src[1].n_items, w->m.plan->src[0].n_splits,
           w->m.plan->src[0].split_len, w->m.plan->src[1].n_splits, w->m.plan->src[1].split_len,
           worst);
    free(q), free(a), free(b), free(tokens), free(outs);
}

// Two prefixes, chains of each, a chain forked after its prefix grew (its own shorter view of
// the prefix), sequences without a prefix, a chain with three rows in the step; rows permuted.
static void test_decode_mixed(int n_sms) {
    World w;
    world_init(&w, 6, 2, 32, 64, n_sms);
    int p1 = seq(&w, -1, 300, 120), p2 = seq(&w, -1, 80, 37);
    int ids[16], m = 0;
    for (int c = 0; c < 5; c++) ids[m++] = seq(&w, p1, 40, 1 + c * 7);
    w.kv.seqs[p1].len = 250; // the prompt grew: chains forked now see 250 prefix keys
    ids[m++] = seq(&w, p1, 40, 3);
    ids[m++] = seq(&w, p1, 40, 0);
    for (int c = 0; c < 3; c++) ids[m++] = seq(&w, p2, 20, 5 + c);
    ids[m++] = seq(&w, -1, 90, 33); // no prefix
    ids[m++] = seq(&w, -1, 90, 0);  // no prefix, first token
    const int order[] = {9, 0, 10, 3, 7, 1, 11, 5, 8, 2, 6, 4, 4, 4, 1};
    int seqs[16], n = 0;
    for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++) seqs[n++] = ids[order[i]];
    char what[80];
    snprintf(what, sizeof what, "decode, 2 prefixes, mixed rows (%d SMs)", n_sms);
    run_case(&w, what, seqs, n);
    batch_commit(&w.p, &w.kv);
    CHECK(w.kv.seqs[ids[4]].len == 1 + 4 * 7 + 3 && w.kv.seqs[ids[0]].len == 2,
          "commit advances each sequence by its rows");
    world_free(&w);
}

// More chains of one prefix than one item holds (GQA 3: 42 rows an item).
static void test_many_chains(void) {
    World w;
    world_init(&w, 9, 3, 64, 128, 132);
    int p = seq(&w, -1, 700, 650), seqs[100];
    for (int c = 0; c < 100; c++) seqs[c] = seq(&w, p, 8, c % 5);
    run_case(&w, "decode, 100 chains of one prefix", seqs, 100);
    CHECK(w.m.plan->src[0].n_items == 3,
          "100 chains: 3 prefix items (42 rows each at most), got %d", w.m.plan->src[0].n_items);
    world_free(&w);
}

// A prompt prefilled in two calls: the second call's rows see the first call's keys too.
static void test_prefill(void) {
    World w;
    world_init(&w, 4, 4, 32, 200, 8);
    int s = seq(&w, -1, 400, 0), seqs[200];
    for (int i = 0; i < 200; i++) seqs[i] = s;
    run_case(&w, "prefill, first call (200 rows)", seqs, 200);
    batch_commit(&w.p, &w.kv);
    CHECK(w.kv.seqs[s].len == 200, "prefill committed 200 tokens");
    run_case(&w, "prefill, second call (200 more)", seqs, 200);
    world_free(&w);
}

static void test_rejects(void) {
    World w;
    world_init(&w, 4, 2, 32, 8, 4);
    char err[160];
    int p = seq(&w, -1, 10, 10), c = seq(&w, p, 2, 0), tok[3] = {1, 2, 3}, out = 0;
    int full[3] = {c, c, c}, dead[1] = {7}, bad_tok[1] = {c};
    int t_bad = 1000;
    CHECK(batch_plan(&w.p, &w.m, &w.kv, w.k, w.v, tok, full, 3, &out, 1, err, sizeof err) < 0 &&
              strstr(err, "full"),
          "a third row for a 2-token chain is refused: %s", err);
    CHECK(batch_plan(&w.p, &w.m, &w.kv, w.k, w.v, tok, dead, 1, &out, 1, err, sizeof err) < 0 &&
              strstr(err, "not live"),
          "a dead sequence is refused: %s", err);
    CHECK(batch_plan(&w.p, &w.m, &w.kv, w.k, w.v, &t_bad, bad_tok, 1, &out, 1, err, sizeof err) <
                  0 &&
              strstr(err, "vocabulary"),
          "a token past the vocabulary is refused: %s", err);
    out = 1;
    CHECK(batch_plan(&w.p, &w.m, &w.kv, w.k, w.v, tok, bad_tok, 1, &out, 1, err, sizeof err) < 0,
          "an output row past the batch is refused");
    CHECK(batch_plan(&w.p, &w.m, &w.kv, w.k, w.v, tok, full, 9, &out, 0, err, sizeof err) < 0,
          "more rows than max_rows are refused");
    kv_seq_free(&w.kv, p); // released: chain c still reads it, but it takes no rows
    int rel[1] = {p};
    CHECK(batch_plan(&w.p, &w.m, &w.kv, w.k, w.v, tok, rel, 1, &out, 0, err, sizeof err) < 0,
          "a released prefix takes no new rows");
    CHECK(w.kv.seqs[c].len == 0, "failed plans advance nothing");
    world_free(&w);
}

int main(void) {
    test_decode_mixed(4);
    test_decode_mixed(132);
    test_many_chains();
    test_prefill();
    test_rejects();
    return check_done("test_batch_plan");
}
