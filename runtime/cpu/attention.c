// cpu/attention.c - causal grouped-query attention over a shared prefix plus a row's own tokens.
//
// A row of sequence s at position p sees two *segments*: the prefix (the parent's first n_prefix
// tokens, if s has a parent) and its own tokens 0 .. p - n_prefix. Each segment is attended on
// its own and the two are merged with the log-sum-exp identity, exactly as the GPU kernel does:
//   segment -> (m = max score, l = sum exp(score - m), acc = sum exp(score - m) v)
//   merge   -> m = max(m1, m2), l = l1 e^(m1-m) + l2 e^(m2-m), acc likewise; out = acc / l
//
// Rows that read the same sequence are attended together, which is where batching pays: every
// chain of a prompt reads the same prefix keys, so for each KV head the prefix is one small
// matrix product Q K^T for all those chains' query heads at once (GQA: the query heads of one
// KV head share it too), then a softmax per query, then one product E V. Both products run on
// gemm, the micro-kernel of the matmul: the cache stores keys as 16-key panels [head_dim][16]
// (kvcache.h), and V's rows already are the k-major panel gemm wants. The prefix is read once
// per step and KV head (per chunk of CHUNK rows), not once per chain. Prefill rows of one sequence
// form one group too: each row sees only its first `len` keys (scores past it are dropped, weights
// set to 0).
//
// Numerics: keys and values an fp16 cache holds (kvcache.h) are converted exactly to fp32 as
// gemm loads them (gemm_f16); all the math is fp32. Each score is one FMA chain
// over head_dim (gemm), times 1/sqrt(head_dim); the exponentials are vexp.h's; each output is one
// FMA chain over keys. Nothing depends on which other rows share the group, so a row's result is
// the same in any batch.
#include "cpu/attention.h"
#include "cpu/gemm.h"
#include "cpu/workspace.h"
#include "cpu/vexp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 8 // rows per task: CHUNK x group query heads share each K panel

// Rows of one batch that read the same sequence, with how many of its keys each row sees.
typedef struct {
    int seq;   // the KV sequence read
    int part;  // 0: the rows' own tokens; 1: their prefix
    int n;     // rows in the group
    int *rows; // [n] batch rows
    int *lens; // [n] keys seen by each row
} Group;

// One unit of work: a chunk of a group's rows for one KV head.
typedef struct {
    int group, kvh, r0, nr;
} Task;

typedef struct {
    int n_heads, n_kv_heads, head_dim, kv_dim, layer;
    float scale;
    const KVCache *kv;
    const float *q; // [n, n_heads, head_dim]
    float *acc[2];  // [n, n_heads, head_dim] unnormalised outputs of part 0 (own) and 1 (prefix)
    float *m[2], *l[2]; // [n, n_heads] running max and sum of exponentials per part
} Ctx;

// Per-thread scratch, sized for CHUNK rows x group heads (nq queries) and up to max_t keys.
typedef struct {
    float *qb;    // [nq, head_dim] gathered queries
    float *s;     // [nq, max_t] scores, then weights exp(score - m)
    float *p;     // [max_t, 16] a padded V panel (head_dim not a multiple of 16)
    float *o;     // [nq, head_dim] E V
    float *m, *l; // [nq] each query's max score and sum of exponentials
} Scratch;

// E V for nq weight rows over T keys: V's rows (v: [T, kv_dim]) are the panels, 16 dims each,
// used in place; a ragged last panel (head_dim not a multiple of 16) is copied into pad so that
// no read runs past a row.
static void weighted_values(float *o, const float *e, int nq, int T, const void *v, int half,
                            int kv_dim, int head_dim, float *pad) {
    const int full = head_dim / GEMM_NR * GEMM_NR, nd = head_dim - full;
    if (full && half) gemm_f16(o, head_dim, v, kv_dim, GEMM_NR, e, T, T, nq, full);
    if (full && !half) gemm(o, head_dim, v, kv_dim, GEMM_NR, e, T, T, nq, full);
    if (!nd) return;
    for (int t = 0; t < T; t++) {
        const size_t at = (size_t)t * kv_dim + full;
        if (half)
            fp16_to_f32_n(pad + t * GEMM_NR, (const uint16_t *)v + at, nd);
        else
            memcpy(pad + t * GEMM_NR, (const float *)v + at, sizeof(float) * nd);
        memset(pad + t * GEMM_NR + nd, 0, sizeof(float) * (GEMM_NR - nd));
    }
    gemm(o + full, head_dim, pad, GEMM_NR, 0, e, T, T, nq, nd);
}

// Softmax numerator of one query over its first `len` of T scores, in place: s[t] becomes
// exp(scale s[t] - m) for t < len and 0 after. Returns l = the sum, sets *m. The max and the sum
// run in 8 lanes (one dependent chain per element would cost its add latency each), combined in
// a fixed order, so a row's result does not depend on its batch.
static float softmax_row(float *s, int len, int T, float scale, float *m) {
    float mx = -INFINITY, l = 0;
    int t = 0;
#if VEXP_SIMD
    __m256 vm = _mm256_set1_ps(-INFINITY), vl = _mm256_setzero_ps();
    const __m256 vs = _mm256_set1_ps(scale);
    for (; t + 8 <= len; t += 8) {
        const __m256 x = _mm256_mul_ps(_mm256_loadu_ps(s + t), vs);
        _mm256_storeu_ps(s + t, x);
        vm = _mm256_max_ps(vm, x);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, vm);
    for (int i = 0; i < 8; i++) mx = lanes[i] > mx ? lanes[i] : mx;
#endif
    for (; t < len; t++) {
        s[t] *= scale;
        mx = s[t] > mx ? s[t] : mx;
    }
    t = 0;
#if VEXP_SIMD
    const __m256 vmx = _mm256_set1_ps(mx);
    for (; t + 8 <= len; t += 8) {
        const __m256 e = vexp8(_mm256_sub_ps(_mm256_loadu_ps(s + t), vmx));
        _mm256_storeu_ps(s + t, e);
        vl = _mm256_add_ps(vl, e);
    }
    _mm256_storeu_ps(lanes, vl);
    for (int i = 0; i < 8; i++) l += lanes[i];
#endif
    for (; t < len; t++) l += s[t] = vexp1(s[t] - mx);
    for (t = len; t < T; t++) s[t] = 0;
    *m = mx;
    return l;
}

// One segment's partial softmax (m, l, acc) for a chunk of a group's rows and one KV head: what
// attention_partial_cuda (kernels/attention.cu) computes per item and key split.
static void attention_partial(const Ctx *c, const Group *g, const Task *tk, Scratch *sc) {
    const int group = c->n_heads / c->n_kv_heads, hd = c->head_dim, nq = tk->nr * group;
    int T = 0;
    for (int r = 0; r < tk->nr; r++)
        if (g->lens[tk->r0 + r] > T) T = g->lens[tk->r0 + r];
    // gather: query j = (row r, head h0 + hh) with j = r * group + hh
    const int h0 = tk->kvh * group;
    for (int r = 0; r < tk->nr; r++)
        memcpy(sc->qb + (size_t)r * group * hd,
               c->q + ((size_t)g->rows[tk->r0 + r] * c->n_heads + h0) * hd,
               sizeof(float) * group * hd);
    // scores S = Q K^T: the key tiles ([hd, 16] each, one after another) are the panels, read in
    // place (an fp16 cache's converted as they are loaded)
    const void *tiles = kv_k_tile(c->kv, g->seq, c->layer, tk->kvh, 0);
    const size_t tstride = (size_t)KV_TILE * hd;
    if (c->kv->half)
        gemm_f16(sc->s, T, tiles, KV_TILE, tstride, sc->qb, hd, hd, nq, T);
    else
        gemm(sc->s, T, tiles, KV_TILE, tstride, sc->qb, hd, hd, nq, T);
    for (int j = 0; j < nq; j++)
        sc->l[j] =
            softmax_row(sc->s + (size_t)j * T, g->lens[tk->r0 + j / group], T, c->scale, &sc->m[j]);
    const void *v =
        (const char *)kv_v(c->kv, g->seq, c->layer) + tk->kvh * hd * kv_elem_bytes(c->kv);
    weighted_values(sc->o, sc->s, nq, T, v, c->kv->half, c->kv_dim, hd, sc->p);
    for (int j = 0; j < nq; j++) {
        const size_t at = (size_t)g->rows[tk->r0 + j / group] * c->n_heads + h0 + j % group;
        memcpy(c->acc[g->part] + at * hd, sc->o + (size_t)j * hd, sizeof(float) * hd);
        c->m[g->part][at] = sc->m[j];
        c->l[g->part][at] = sc->l[j];
    }
}

// Groups rows by the sequence they read, part 0 (own tokens) then part 1 (prefix). rows, lens:
// [2n] storage for the groups' lists. Returns the number of groups.
static int make_groups(Group *gs, int *rows, int *lens, const KVCache *kv, const int *seqs,
                       const int *pos, int n) {
    int ng = 0, used = 0;
    for (int part = 0; part < 2; part++) {
        const int first = ng;
        for (int i = 0; i < n; i++) { // count the rows of each group
            const KVSeq *s = &kv->seqs[seqs[i]];
            const int seq = part ? s->parent : seqs[i];
            if (part && (s->parent < 0 || s->n_prefix == 0)) continue;
            int g = first;
            while (g < ng && gs[g].seq != seq) g++;
            if (g == ng) gs[ng++] = (Group){.seq = seq, .part = part};
            gs[g].n++;
        }
        for (int g = first; g < ng; g++) {
            gs[g].rows = rows + used, gs[g].lens = lens + used;
            used += gs[g].n;
            gs[g].n = 0;
        }
        for (int i = 0; i < n; i++) { // fill them, in batch order
            const KVSeq *s = &kv->seqs[seqs[i]];
            if (part && (s->parent < 0 || s->n_prefix == 0)) continue;
            const int seq = part ? s->parent : seqs[i];
            int g = first;
            while (gs[g].seq != seq) g++;
            gs[g].rows[gs[g].n] = i;
            gs[g].lens[gs[g].n++] = part ? s->n_prefix : pos[i] - s->n_prefix + 1;
        }
    }
    return ng;
}

// Carves this thread's scratch out of its workspace buffer. 0, or -1 if it cannot grow.
static int scratch_get(Scratch *sc, Workspace *ws, int nq, int head_dim, int max_t) {
    const size_t nqd = (size_t)nq * head_dim, ns = (size_t)nq * max_t, np = (size_t)max_t * GEMM_NR;
    float *b = ws_get(ws, 2 * nqd + ns + np + 2 * (size_t)nq);
    if (!b) return -1;
    sc->qb = b, sc->o = b + nqd, sc->s = b + 2 * nqd, sc->p = sc->s + ns;
    sc->m = sc->p + np, sc->l = sc->m + nq;
    return 0;
}

// out = the two parts merged: (acc0 a0 + acc1 a1) / (l0 a0 + l1 a1), a_i = e^(m_i - max m)
// (attention_merge_cuda merges any number of parts the same way).
static void attention_merge(float *out, const Ctx *c, const KVCache *kv, const int *seqs, int n) {
    const int hd = c->head_dim;
    for (int i = 0; i < n; i++) {
        const KVSeq *s = &kv->seqs[seqs[i]];
        const int prefix = s->parent >= 0 && s->n_prefix > 0;
        for (int h = 0; h < c->n_heads; h++) {
            const size_t at = (size_t)i * c->n_heads + h;
            const float *a0 = c->acc[0] + at * hd, *a1 = c->acc[1] + at * hd;
            float *o = out + at * hd;
            if (!prefix) {
                const float inv = 1.0f / c->l[0][at];
                for (int d = 0; d < hd; d++) o[d] = a0[d] * inv;
                continue;
            }
            const float m0 = c->m[0][at], m1 = c->m[1][at], mx = m0 > m1 ? m0 : m1;
            const float w0 = expf(m0 - mx), w1 = expf(m1 - mx);
            const float inv = 1.0f / (c->l[0][at] * w0 + c->l[1][at] * w1);
            for (int d = 0; d < hd; d++) o[d] = (a0[d] * w0 + a1[d] * w1) * inv;
        }
    }
}

int attention(float *out, const float *q, const KVCache *kv, const int *seqs, const int *pos, int n,
              int layer, int n_heads, int n_kv_heads, int head_dim, Workspace *ws) {
    const int group = n_heads / n_kv_heads, nq = CHUNK * group;
    const size_t per_part = (size_t)n * n_heads;
    Group *gs = malloc(sizeof(Group) * 2 * n);
    int *lists = malloc(sizeof(int) * 4 * n);
    // part 1's outputs and both parts' m and l (part 0 accumulates in out)
    float *acc1 = ws_shared(ws, per_part * (head_dim + 4)),
          *ml = acc1 ? acc1 + per_part * head_dim : NULL;
    Task *tasks = NULL;
    int rc = -1;
    if (!gs || !lists || !acc1 || !ml) goto done;
    const int ng = make_groups(gs, lists, lists + 2 * n, kv, seqs, pos, n);
    int n_tasks = 0, max_t = 1;
    for (int g = 0; g < ng; g++) {
        n_tasks += n_kv_heads * ((gs[g].n + CHUNK - 1) / CHUNK);
        for (int r = 0; r < gs[g].n; r++)
            if (gs[g].lens[r] > max_t) max_t = gs[g].lens[r];
    }
    if (!(tasks = malloc(sizeof(Task) * n_tasks))) goto done;
    int t = 0;
    for (int g = 0; g < ng; g++)
        for (int h = 0; h < n_kv_heads; h++)
            for (int r0 = 0; r0 < gs[g].n; r0 += CHUNK)
                tasks[t++] = (Task){g, h, r0, gs[g].n - r0 < CHUNK ? gs[g].n - r0 : CHUNK};
    Ctx c = {n_heads,
             n_kv_heads,
             head_dim,
             kv->kv_dim,
             layer,
             1.0f / sqrtf((float)head_dim),
             kv,
             q,
             {out, acc1},
             {ml, ml + per_part},
             {ml + 2 * per_part, ml + 3 * per_part}};
    int failed = 0;
#pragma omp parallel num_threads(ws->n) reduction(| : failed)
    {
        Scratch sc = {0};
        failed = scratch_get(&sc, ws, nq, head_dim, max_t) != 0;
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < n_tasks; i++)
            if (!failed) attention_partial(&c, &gs[tasks[i].group], &tasks[i], &sc);
    }
    if (!failed) {
        attention_merge(out, &c, kv, seqs, n);
        rc = 0;
    }
done:
    free(gs), free(lists), free(tasks);
    return rc;
}
