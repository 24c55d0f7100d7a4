// cpu/forward.c - one step on the CPU (see forward.h): the Llama forward pass over a batch of
// rows, which reads like the model's math (one call per step, each op working on all rows at
// once), then the sampler over the output rows.
#include "cpu/attention.h"
#include "cpu/forward.h"
#include "cpu/ops.h"
#include "util/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const char *numerics_name(Numerics nm) {
    return nm == NUMERICS_F32 ? "f32" : "int8";
}

int numerics_parse(const char *s, Numerics *nm) {
    if (!strcmp(s, "int8")) return *nm = NUMERICS_INT8, 0;
    if (!strcmp(s, "f32")) return *nm = NUMERICS_F32, 0;
    return -1;
}

// The model's matrices in forward order (FWD_MATS per layer, then the output): f->w.
static int copy_weights(Forward *f) {
    const Model *m = f->m;
    const int n = m->cfg.n_layers * FWD_MATS + 1;
    f->w = calloc(n, sizeof(Weight));
    f->packs = calloc(n, sizeof(QPacked));
    if (!f->w || !f->packs) return -1;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const Weight *src[FWD_MATS];
        layer_weights(&m->layers[l], src);
        for (int i = 0; i < FWD_MATS; i++) f->w[l * FWD_MATS + i] = *src[i];
    }
    f->w[n - 1] = m->output;
    return 0;
}

int forward_set_numerics(Forward *f, Numerics nm, char *err, size_t errlen) {
    const int n = f->m->cfg.n_layers * FWD_MATS + 1;
    // int8 keeps K and V in fp16; f32, the reference, in fp32
    if (kv_set_half(f->kv, nm == NUMERICS_INT8)) {
        snprintf(err, errlen, "the KV cache's type cannot change while it holds sequences");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        Weight *w = &f->w[i];
        if (nm == NUMERICS_F32 || !qformat_of(w->type)) {
            w->packed = NULL;
            qpack_free(&f->packs[i]);
        } else if (!w->packed) {
            // the model's pages of this tensor are released once it is packed
            if (qpack(&f->packs[i], w->data, w->type, w->in, w->out, w->row_bytes, 1)) {
                snprintf(err, errlen, "out of memory repacking %s for the int8 matmul", w->name);
                return -1;
            }
            w->packed = &f->packs[i];
        }
    }
    f->numerics = nm;
    f->numerics_ready = 1;
    return 0;
}

int forward_init(Forward *f, Model *m, KVCache *kv, int max_rows, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    const Config *c = &m->cfg;
    f->m = m;
    f->kv = kv;
    f->max_rows = max_rows;
    size_t R = (size_t)max_rows;
    f->pos = malloc(R * sizeof(int));
    f->rope_cs = malloc(R * c->head_dim * sizeof(float));
    f->x = malloc(R * c->dim * sizeof(float));
    const size_t qd = (size_t)config_q_dim(c), xbd = qd > (size_t)c->dim ? qd : (size_t)c->dim;
    f->xb = malloc(R * xbd * sizeof(float));
    f->xb2 = malloc(R * c->dim * sizeof(float));
    f->q = malloc(R * qd * sizeof(float));
    f->k = malloc(R * c->kv_dim * sizeof(float));
    f->v = malloc(R * c->kv_dim * sizeof(float));
    f->hb = malloc(R * c->hidden_dim * sizeof(float));
    f->hb2 = malloc(R * c->hidden_dim * sizeof(float));
    f->logits = malloc(R * c->vocab_size * sizeof(float));
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    int64_t widest = c->hidden_dim > c->dim ? c->hidden_dim : c->dim;
    if (config_q_dim(c) > widest) widest = config_q_dim(c);
    if (!f->pos || !f->rope_cs || !f->x || !f->xb || !f->xb2 || !f->q || !f->k || !f->v || !f->hb ||
        !f->hb2 || !f->logits || ws_init(&f->ws, threads, matmul_scratch(widest)) ||
        copy_weights(f)) {
        forward_free(f);
        snprintf(err, errlen, "out of memory for activations of %d rows", max_rows);
        return -1;
    }
    // The samplers see only the first n_tokens of a row: padding ids past the tokenizer are never
    // drawn (config_sampled_vocab).
    if (!(f->samplers = calloc(threads, sizeof(Sampler)))) {
        forward_free(f);
        return snprintf(err, errlen, "out of memory for the sampler"), -1;
    }
    for (; f->n_samplers < threads; f->n_samplers++)
        if (sampler_init(&f->samplers[f->n_samplers], config_sampled_vocab(c))) {
            forward_free(f);
            return snprintf(err, errlen, "out of memory for the sampler"), -1;
        }
    f->numerics = NUMERICS_INT8; // packed on the first step unless forward_set_numerics runs first
    return 0;
}

void forward_free(Forward *f) {
    free(f->pos);
    free(f->rope_cs);
    free(f->x);
    free(f->xb);
    free(f->xb2);
    free(f->q);
    free(f->k);
    free(f->v);
    free(f->hb);
    free(f->hb2);
    free(f->logits);
    ws_free(&f->ws);
    for (int i = 0; f->packs && i < f->m->cfg.n_layers * FWD_MATS + 1; i++)
        qpack_free(&f->packs[i]);
    free(f->packs);
    free(f->w);
    for (int i = 0; i < f->n_samplers; i++) sampler_free(&f->samplers[i]);
    free(f->samplers);
    memset(f, 0, sizeof *f);
}

// Position of every row: the next free position of its sequence, counting earlier rows of the
// same sequence in this batch. Returns -1 if a row would overflow its sequence's capacity.
static int row_positions(Forward *f, const int *seqs, int n) {
    for (int i = 0; i < n; i++) {
        int earlier = 0;
        for (int j = 0; j < i; j++) earlier += seqs[j] == seqs[i];
        const KVSeq *s = &f->kv->seqs[seqs[i]];
        if (!s->in_use || s->len + earlier >= s->cap) return -1;
        f->pos[i] = kv_seq_pos(f->kv, seqs[i]) + earlier;
    }
    return 0;
}

// Writes the rows' keys and values (k, v: [n, kv_dim]) into their sequences at `layer`.
static void kv_store(Forward *f, const int *seqs, int n, int layer) {
    const int kv_dim = f->m->cfg.kv_dim;
    for (int i = 0; i < n; i++)
        kv_put(f->kv, seqs[i], layer, f->pos[i] - f->kv->seqs[seqs[i]].n_prefix,
               f->k + (size_t)i * kv_dim, f->v + (size_t)i * kv_dim);
}

// The model over the step's rows: the output rows' logits in f->logits [n_out, vocab], and the
// sequences one token longer each row. 0, or -1 + f->err (no length changed).
static int run_model(Forward *f, const Step *st) {
    const Config *c = &f->m->cfg;
    const Model *m = f->m;
    const int n = st->n_rows, n_out = st->n_out, *tokens = st->tokens, *seqs = st->seqs;
    if (n < 1 || n > f->max_rows || row_positions(f, seqs, n)) {
        snprintf(f->err, sizeof f->err,
                 "a batch of %d rows is too large (at most %d) or overflows a sequence", n,
                 f->max_rows);
        return -1;
    }
    if (!f->numerics_ready && forward_set_numerics(f, f->numerics, f->err, sizeof f->err))
        return -1;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size) {
            snprintf(f->err, sizeof f->err,
                     "token id %d (row %d) is outside the vocabulary [0, %d)", tokens[i], i,
                     c->vocab_size);
            return -1;
        }
    const int d = c->dim;
    Workspace *ws = &f->ws;
    int bad = 0; // an op's scratch could not grow: the step is abandoned at the end of the layer

    embed(f->x, &m->tok_embd, tokens, n); // x: [n, dim]
    rope_table(f->rope_cs, f->pos, n, c->head_dim, c->rope_base, c->rope_linear, m->rope_factors);
    for (int l = 0; l < c->n_layers && !bad; l++) {
        const Layer *L = &m->layers[l];
        const Weight *W = f->w + l * FWD_MATS; // wq, wk, wv, wo, w_gate, w_up, w_down
        // attention block: x += Wo attention(rope(Wq xn), rope(Wk xn), Wv xn)
        rmsnorm(f->xb, f->x, L->attn_norm, n, d, c->norm_eps);
        // q: [n, n_heads * head_dim]; k, v: [n, kv_dim]
        bad |= matmul_many((float *[]){f->q, f->k, f->v}, (const Weight *[]){&W[0], &W[1], &W[2]},
                           3, f->xb, n, ws);
        if (L->bq) { // qwen2
            add_bias(f->q, L->bq, n, config_q_dim(c));
            add_bias(f->k, L->bk, n, c->kv_dim);
            add_bias(f->v, L->bv, n, c->kv_dim);
        }
        if (L->q_norm) { // qwen3: every head of q and k RMS-normed on its own, before the rope
            rmsnorm(f->q, f->q, L->q_norm, n * c->n_heads, c->head_dim, c->norm_eps);
            rmsnorm(f->k, f->k, L->k_norm, n * c->n_kv_heads, c->head_dim, c->norm_eps);
        }
        rope_apply(f->q, f->rope_cs, n, c->n_heads, c->head_dim, c->rope_neox);
        rope_apply(f->k, f->rope_cs, n, c->n_kv_heads, c->head_dim, c->rope_neox);
        kv_store(f, seqs, n, l);
        bad |= attention(f->xb, f->q, f->kv, seqs, f->pos, n, l, c->n_heads, c->n_kv_heads,
                         c->head_dim, ws);
        bad |= matmul(f->xb2, f->xb, &W[3], n, ws);
        residual_add(f->x, f->xb2, (int64_t)n * d);
        // feed-forward block: x += W_down (silu(W_gate xn) * W_up xn)
        rmsnorm(f->xb, f->x, L->ffn_norm, n, d, c->norm_eps);
        bad |= matmul_many((float *[]){f->hb, f->hb2}, (const Weight *[]){&W[4], &W[5]}, 2, f->xb,
                           n, ws); // gate, up: [n, hidden]
        swiglu(f->hb, f->hb2, n, c->hidden_dim);
        bad |= matmul(f->xb2, f->hb, &W[6], n, ws); // [n, dim]
        residual_add(f->x, f->xb2, (int64_t)n * d);
    }
    // Only the requested rows go through the final norm and the (large) vocabulary matmul.
    for (int j = 0; j < n_out && !bad; j++)
        memcpy(f->xb + (size_t)j * d, f->x + (size_t)st->out_rows[j] * d, d * sizeof(float));
    rmsnorm(f->xb, f->xb, m->out_norm, n_out, d, c->norm_eps);
    if (bad ||
        matmul(f->logits, f->xb, &f->w[c->n_layers * FWD_MATS], n_out, ws)) { // [n_out, vocab]
        // no length was advanced, so this step's KV rows are simply not counted
        snprintf(f->err, sizeof f->err, "out of memory for the scratch of a %d-row step", n);
        return -1;
    }
    for (int i = 0; i < n; i++) f->kv->seqs[seqs[i]].len++;
    return 0;
}

// Samples every output row from f->logits with the row's own settings and RNG counters, and its
// token confidence when asked (NaN where conf_k = 0).
static void sample_rows(Forward *f, const Step *st) {
    const int vocab = f->m->cfg.vocab_size;
    // Each row's draw depends only on its own (seed, chain, step): rows can go in any order.
#pragma omp parallel for schedule(dynamic, 1) if (st->n_out > 1)
    for (int j = 0; j < st->n_out; j++) {
#ifdef _OPENMP
        Sampler *s = &f->samplers[omp_get_thread_num() % f->n_samplers];
#else
        Sampler *s = &f->samplers[0];
#endif
        const float *row = f->logits + (size_t)j * vocab;
        const SampleRow *r = &st->sample[j];
        st->ids[j] = sample(s, row, &r->p, r->seed, r->chain, r->step, &st->logprobs[j]);
        if (st->conf)
            st->conf[j] = r->p.conf_k > 0 ? token_confidence(s, row, r->p.temperature, r->p.conf_k)
                                          : (TokenConf){NAN, NAN};
    }
}

int forward(Forward *f, const Step *st) {
    const double t0 = now_s();
    const int rc = run_model(f, st);
    const double t1 = now_s();
    f->forward_s += t1 - t0;
    if (rc) return -1;
    if (st->logits)
        memcpy(st->logits, f->logits, sizeof(float) * (size_t)st->n_out * f->m->cfg.vocab_size);
    if (st->sample) sample_rows(f, st);
    f->sample_s += now_s() - t1;
    return 0;
}

void forward_times(const Forward *f, double *forward_s, double *sample_s) {
    *forward_s = f->forward_s;
    *sample_s = f->sample_s;
}
