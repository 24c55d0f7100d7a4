// batch_plan.c - host-side planning of a CUDA step (see batch_plan.h).
#include "cuda/batch_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Hands out the next 16-byte-aligned piece at offset *cur (pointer NULL when sizing only).
static void carve(char *base, size_t *cur, void **out, size_t bytes) {
    *out = base ? base + *cur : NULL;
    *cur += (bytes + 15) & ~(size_t)15;
}

size_t batch_meta_layout(BatchMeta *m, char *base, int max_rows, size_t *upload) {
    const size_t r = (size_t)max_rows;
    size_t cur = 0;
    carve(base, &cur, (void **)&m->tokens, sizeof(int) * r);
    carve(base, &cur, (void **)&m->out_rows, sizeof(int) * r);
    carve(base, &cur, (void **)&m->lim_own, sizeof(int) * r);
    carve(base, &cur, (void **)&m->lim_pre, sizeof(int) * r);
    carve(base, &cur, (void **)&m->idx_own, sizeof(int) * r);
    carve(base, &cur, (void **)&m->idx_pre, sizeof(int) * r);
    carve(base, &cur, (void **)&m->rows, sizeof(RowKV) * r);
    carve(base, &cur, (void **)&m->it_own, sizeof(AttnItem) * r);
    carve(base, &cur, (void **)&m->it_pre, sizeof(AttnItem) * r);
    carve(base, &cur, (void **)&m->plan, sizeof(AttnPlan));
    carve(base, &cur, (void **)&m->sample, sizeof(SampleRow) * r);
    if (upload) *upload = cur;
    carve(base, &cur, (void **)&m->ids, sizeof(int) * r);
    carve(base, &cur, (void **)&m->logprobs, sizeof(float) * r);
    carve(base, &cur, (void **)&m->conf, sizeof(TokenConf) * r);
    return cur;
}

int batch_planner_init(BatchPlanner *p, const Config *c, int max_rows, int max_seqs, int n_sms) {
    memset(p, 0, sizeof *p);
    p->max_rows = max_rows;
    p->max_seqs = max_seqs;
    p->n_kv_heads = c->n_kv_heads;
    p->group = c->n_heads / c->n_kv_heads;
    p->vocab = c->vocab_size;
    p->n_sms = n_sms > 0 ? n_sms : 1;
    // Prefill batches get a prefix and an own split or more a row; decode batches (<= 64
    // rows) up to 17 of each.
    p->part_rows = 2 * max_rows + 32 * (max_rows < 64 ? max_rows : 64);
    p->added = calloc((size_t)max_seqs, sizeof(int));
    p->count = calloc((size_t)max_seqs, sizeof(int));
    p->own_key = malloc(sizeof(int) * (size_t)max_rows);
    p->pre_key = malloc(sizeof(int) * (size_t)max_rows);
    if (!p->added || !p->count || !p->own_key || !p->pre_key) {
        batch_planner_free(p);
        return -1;
    }
    return 0;
}

void batch_planner_free(BatchPlanner *p) {
    free(p->added), free(p->count), free(p->own_key), free(p->pre_key);
    memset(p, 0, sizeof *p);
}

int batch_max_splits(const BatchPlanner *p, int n) {
    const int by_parts = p->part_rows / (n > 0 ? n : 1) / 2; // both sources fit the buffers
    // One item alone reaches 2 blocks per SM with this many splits; more would not help.
    const int by_sms = (2 * p->n_sms + p->n_kv_heads - 1) / p->n_kv_heads;
    const int z = by_parts < by_sms ? by_parts : by_sms;
    return z > 1 ? z : 1;
}

// Groups the rows with key[row] >= 0 by key (a stable counting sort: rows keep their batch
// order inside a group) into idx, and cuts each group into items of at most per_item rows.
// Returns the item count; *max_keys gets the largest item's key count.
static int build_items(BatchPlanner *p, const KVCache *kv, uint16_t *const *seq_k,
                       uint16_t *const *seq_v, const int *key, const int *lim, int n, int per_item,
                       int *idx, AttnItem *items, int *max_keys) {
    int *cnt = p->count;
    memset(cnt, 0, sizeof(int) * (size_t)p->max_seqs);
    for (int i = 0; i < n; i++)
        if (key[i] >= 0) cnt[key[i]]++;
    for (int s = 0, start = 0; s < p->max_seqs; s++) { // cnt[s] := start of group s
        const int c = cnt[s];
        cnt[s] = start;
        start += c;
    }
    for (int i = 0; i < n; i++) // cnt[s] ends as the end of group s
        if (key[i] >= 0) idx[cnt[key[i]]++] = i;
    int n_items = 0;
    *max_keys = 0;
    for (int s = 0, begin = 0; s < p->max_seqs; begin = cnt[s], s++) {
        for (int b = begin; b < cnt[s]; b += per_item) {
            AttnItem *it = &items[n_items++];
            it->k = seq_k[s];
            it->v = seq_v[s];
            it->cap = kv->seqs[s].cap;
            it->row0 = b;
            it->n_rows = cnt[s] - b < per_item ? cnt[s] - b : per_item;
            it->n_keys = 0;
            for (int r = b; r < b + it->n_rows; r++)
                if (lim[idx[r]] > it->n_keys) it->n_keys = lim[idx[r]];
            if (it->n_keys > *max_keys) *max_keys = it->n_keys;
        }
    }
    return n_items;
}

// Splits a key range across blocks so that a launch has about 2 blocks per SM, at most z_max
// splits and at least 64 keys a split (fewer would cost more in partials than they save).
static AttnSplit splits(const BatchPlanner *p, int n_items, int max_keys, int z_max, int part0) {
    AttnSplit sp = {n_items, 0, 32, part0};
    if (n_items == 0 || max_keys == 0) return sp;
    int s = 1;
    const int blocks = n_items * p->n_kv_heads;
    if (blocks < 2 * p->n_sms) s = (2 * p->n_sms + blocks - 1) / blocks;
    const int by_keys = (max_keys + 63) / 64;
    if (s > by_keys) s = by_keys;
    if (s > z_max) s = z_max;
    if (s < 1) s = 1;
    sp.split_len = ((max_keys + s - 1) / s + 31) / 32 * 32;
    sp.n_splits = (max_keys + sp.split_len - 1) / sp.split_len; // <= s
    return sp;
}

#define PLAN_ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int batch_plan(BatchPlanner *p, BatchMeta *m, const KVCache *kv, uint16_t *const *seq_k,
               uint16_t *const *seq_v, const int *tokens, const int *seqs, int n,
               const int *out_rows, int n_out, char *err, size_t errlen) {
    if (n <= 0 || n > p->max_rows || n_out < 0 || n_out > n)
        return PLAN_ERR("CUDA step: %d rows (%d outputs) for at most %d", n, n_out, p->max_rows);
    memset(p->added, 0, sizeof(int) * (size_t)p->max_seqs);
    for (int i = 0; i < n; i++) {
        const int sid = seqs[i];
        if (sid < 0 || sid >= p->max_seqs || !kv->seqs[sid].in_use || kv->seqs[sid].released)
            return PLAN_ERR("CUDA step: row %d: sequence %d is not live", i, sid);
        if (tokens[i] < 0 || tokens[i] >= p->vocab)
            return PLAN_ERR("CUDA step: row %d: token %d is outside the vocabulary (%d)", i,
                            tokens[i], p->vocab);
        const KVSeq *s = &kv->seqs[sid];
        const int slot = s->len + p->added[sid]++;
        if (slot >= s->cap)
            return PLAN_ERR("CUDA step: sequence %d is full (%d tokens)", sid, s->cap);
        const RowKV rk = {seq_k[sid], seq_v[sid], s->cap, slot, s->n_prefix + slot};
        m->rows[i] = rk;
        m->tokens[i] = tokens[i];
        m->lim_own[i] = slot + 1;
        m->lim_pre[i] = s->parent >= 0 ? s->n_prefix : 0;
        p->own_key[i] = sid;
        p->pre_key[i] = s->parent >= 0 && s->n_prefix > 0 ? s->parent : -1;
    }
    for (int j = 0; j < n_out; j++) {
        if (out_rows[j] < 0 || out_rows[j] >= n)
            return PLAN_ERR("CUDA step: output row %d is not one of the %d rows", out_rows[j], n);
        m->out_rows[j] = out_rows[j];
    }
    const int per_item = ATTN_MAX_QVECS / p->group, z = batch_max_splits(p, n);
    int max_own, max_pre;
    const int n_own = build_items(p, kv, seq_k, seq_v, p->own_key, m->lim_own, n, per_item,
                                  m->idx_own, m->it_own, &max_own);
    const int n_pre = build_items(p, kv, seq_k, seq_v, p->pre_key, m->lim_pre, n, per_item,
                                  m->idx_pre, m->it_pre, &max_pre);
    // Parts [0, z) hold prefix splits, [z, 2z) own splits: fixed offsets for a fixed n.
    m->plan->src[0] = splits(p, n_pre, max_pre, z, 0);
    m->plan->src[1] = splits(p, n_own, max_own, z, z);
    return 0;
}

void batch_commit(BatchPlanner *p, KVCache *kv) {
    for (int s = 0; s < p->max_seqs; s++) {
        kv->seqs[s].len += p->added[s];
        p->added[s] = 0;
    }
}
