// attention_cpu.c - causal grouped-query attention over a shared prefix plus a row's own tokens.
//
// A row of sequence s at position p sees the prefix (the parent's first n_prefix tokens, if s
// has a parent) and its own tokens 0..p-n_prefix. The two segments are attended separately and
// merged with the log-sum-exp identity, exactly as the GPU kernel does (there the prefix part is
// shared by all chains of the prefix):
//   segment -> (m = max score, l = sum exp(score - m), acc = sum exp(score - m) v)
//   merge   -> m = max(m1, m2), l = l1 e^(m1-m) + l2 e^(m2-m), acc likewise; out = acc / l
#include "attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// One query head over T keys of one segment. k, v: [T, kv_stride] at this head's offset.
// scores: [T] scratch. Writes acc [head_dim], returns m and l.
static void attend_segment(const float *q, const float *k, const float *v, int T, int kv_stride,
                           int head_dim, float scale, float *scores, float *acc, float *m,
                           float *l) {
    float mx = -INFINITY;
    for (int t = 0; t < T; t++) {
        const float *kt = k + (size_t)t * kv_stride;
        float lane[8] = {0}; // 8 independent partial sums: vectorizes without -ffast-math
        int d = 0;
        for (; d + 8 <= head_dim; d += 8)
            for (int l = 0; l < 8; l++) lane[l] += q[d + l] * kt[d + l];
        float s = 0;
        for (; d < head_dim; d++) s += q[d] * kt[d];
        for (int l = 0; l < 8; l++) s += lane[l];
        scores[t] = s * scale;
        if (scores[t] > mx) mx = scores[t];
    }
    float sum = 0;
    memset(acc, 0, head_dim * sizeof(float));
    for (int t = 0; t < T; t++) {
        float e = expf(scores[t] - mx);
        sum += e;
        const float *vt = v + (size_t)t * kv_stride;
        for (int d = 0; d < head_dim; d++) acc[d] += e * vt[d];
    }
    *m = mx;
    *l = sum;
}

void attention(float *out, const float *q, const KVCache *kv, const int *seqs, const int *pos,
               int n, int layer, int n_heads, int n_kv_heads, int head_dim) {
    const int group = n_heads / n_kv_heads, kv_stride = kv->kv_dim;
    const float scale = 1.0f / sqrtf((float)head_dim);
    int max_t = 1;
    for (int i = 0; i < n; i++) if (pos[i] + 1 > max_t) max_t = pos[i] + 1;
#pragma omp parallel
    {
        float *scores = malloc(sizeof(float) * (size_t)max_t);
        float *acc2 = malloc(sizeof(float) * (size_t)head_dim);
#pragma omp for collapse(2) schedule(dynamic, 4)
        for (int i = 0; i < n; i++) {
            for (int h = 0; h < n_heads; h++) {
                const KVSeq *s = &kv->seqs[seqs[i]];
                const int kvh = h / group, own = pos[i] - s->n_prefix + 1;
                const float *qi = q + ((size_t)i * n_heads + h) * head_dim;
                float *oi = out + ((size_t)i * n_heads + h) * head_dim;
                float m1, l1, m2 = -INFINITY, l2 = 0;
                attend_segment(qi, kv_k(kv, seqs[i], layer) + kvh * head_dim,
                               kv_v(kv, seqs[i], layer) + kvh * head_dim, own, kv_stride,
                               head_dim, scale, scores, oi, &m1, &l1);
                if (s->parent >= 0 && s->n_prefix > 0)
                    attend_segment(qi, kv_k(kv, s->parent, layer) + kvh * head_dim,
                                   kv_v(kv, s->parent, layer) + kvh * head_dim, s->n_prefix,
                                   kv_stride, head_dim, scale, scores, acc2, &m2, &l2);
                float m = m1 > m2 ? m1 : m2, a1 = expf(m1 - m), a2 = l2 > 0 ? expf(m2 - m) : 0;
                float inv = 1.0f / (l1 * a1 + l2 * a2);
                for (int d = 0; d < head_dim; d++)
                    oi[d] = (oi[d] * a1 + (l2 > 0 ? acc2[d] * a2 : 0)) * inv;
            }
        }
        free(scores);
        free(acc2);
    }
}
