// chains.c - the parallel-sample controller: slots, prefill, the decode loop, stopping, budget
// forcing, budgets and refill (see chains.h).
#include "chains/chains.h"
#include "rng.h"
#include "chains/schedule.h"
#include "chains/vote.h"
#include "util/clock.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { PHASE_THINK, PHASE_ANSWER } Phase;

typedef struct {
    int live;
    int q;        // question index
    int seq;      // backend KV sequence
    int *pending; // [cap_pending] tokens to feed next step (sampled token, or cue tokens)
    int n_pending, cap_pending;
    Detok detok;
    ChainResult r;
    size_t text_cap;
    int conf_cap; // capacity of r.conf
    Phase phase;
    int think;       // thinking budget of this chain
    double conf_thr; // DeepConf: end the chain when its group confidence falls below (NAN: never)
    int answer_left;
    size_t cue_end; // text offset just past the appended cue
} Slot;

typedef struct {
    int *prompt; // [n_prompt] token ids
    int prefix_seq;
    int started, done;
    int launched, live;
    int wave_end;    // chains launched when the current wave is complete
    int think;       // thinking budget of the current wave's chains
    double conf_thr; // DeepConf threshold, NAN until the warm-up wave has finished
    long reserved;   // sampled tokens reserved for its live chains + used by finished ones
    int think_open;  // the prompt ends inside an open thinking block
    double t0;
} QuestionState;

typedef struct {
    Backend *b;
    const Tokenizer *tok;
    const ChainsConfig *cfg;
    Question *qs;
    QuestionState *st;
    int n_q, next_q;
    Slot *slots; // [parallel]
    int *cue, n_cue;
    const char *think_begin, *think_end;
    int think_id;        // think_end as one token, or -1: not a thinking model
    int *close, n_close; // think_end and a blank line: closes a block at the thinking cap
    int *ext, n_ext;     // think_extend's tokens
    int chain_cap;       // KV capacity of one chain
    long run_reserved;
    ChainsStats *stats;
    QuestionDone done;
    void *user;
    char *err;
    size_t errlen;
    // one decode call's rows: [max_rows] inputs, [parallel] outputs
    int *tok_in, *seq_in, *out_rows, *out_slot, *ids;
    float *lps;
    TokenConf *confs; // [parallel] (NULL when conf_k = 0)
    SampleRow *draws; // [parallel] each output row's settings and RNG counters
} Controller;

ChainsConfig chains_defaults(void) {
    ChainsConfig c = {0};
    c.sampler = sampler_defaults();
    c.seed = 1;
    c.n_samples = 1;
    c.parallel = 1;
    c.max_tokens = 256;
    c.answer_tokens = 16;
    c.think_tokens = c.max_tokens - c.answer_tokens;
    c.answer_cue = "\nThe answer is";
    c.wave = 4;
    c.confidence = 0.95;
    c.conf_k = 5; // DeepConf's k
    c.deepconf =
        (DeepConf){0, 8, 0.1, 0.95, {TRACE_DEFAULT_WINDOW, TRACE_DEFAULT_TAIL}, TRACE_LOWEST};
    return c;
}

const char *stop_reason_name(StopReason r) {
    static const char *names[] = {"none",       "eog",        "stop_string",
                                  "max_tokens", "answer_cap", "low_conf"};
    return r <= STOP_LOW_CONF ? names[r] : "?";
}

const char *question_stop_name(QuestionStop s) {
    static const char *names[] = {"none", "all", "settled", "hopeless", "budget", "consensus"};
    return s <= QSTOP_CONSENSUS ? names[s] : "?";
}

static int fail(Controller *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

// ---- text of a chain ---------------------------------------------------------------------

static int text_append(Slot *s, const char *p, size_t n) {
    if (n == 0 && s->r.text) return 0;
    if (s->r.len + n + 1 > s->text_cap) {
        size_t cap = (s->r.len + n + 1) * 2;
        char *t = realloc(s->r.text, cap);
        if (!t) return -1;
        s->r.text = t;
        s->text_cap = cap;
    }
    memcpy(s->r.text + s->r.len, p, n);
    s->r.len += n;
    s->r.text[s->r.len] = 0;
    return 0;
}

// If a stop string now occurs in the text (it can only involve the last `added` bytes),
// cuts the text where it starts and returns 1.
static int cut_stop_string(const ChainsConfig *cfg, Slot *s, size_t added) {
    for (int i = 0; i < cfg->n_stop; i++) {
        size_t sl = strlen(cfg->stop[i]);
        if (sl == 0) continue;
        size_t from = s->r.len > added + sl ? s->r.len - added - sl : 0;
        char *hit = memmem(s->r.text + from, s->r.len - from, cfg->stop[i], sl);
        if (hit) {
            s->r.len = (size_t)(hit - s->r.text);
            s->r.text[s->r.len] = 0;
            return 1;
        }
    }
    return 0;
}

static int pending_push(Slot *s, const int *toks, int n) {
    if (s->n_pending + n > s->cap_pending) {
        int cap = (s->n_pending + n) * 2;
        int *p = realloc(s->pending, cap * sizeof(int));
        if (!p) return -1;
        s->pending = p;
        s->cap_pending = cap;
    }
    memcpy(s->pending + s->n_pending, toks, n * sizeof(int));
    s->n_pending += n;
    return 0;
}

// Offset of the last occurrence of needle in text, or -1.
static long last_at(const char *text, const char *needle) {
    long at = -1;
    for (const char *p = text; (p = strstr(p, needle)); p++) at = p - text;
    return at;
}

// Whether `text` (a continuation of a prompt whose block is `open`) ends inside a thinking block.
static int think_open_after(const Controller *c, const char *text, int open) {
    long b = last_at(text, c->think_begin), e = last_at(text, c->think_end);
    return b < 0 && e < 0 ? open : b > e;
}

// ---- questions -------------------------------------------------------------------------------

static int forcing_on(const ChainsConfig *cfg) {
    return cfg->answer_cue && cfg->answer_cue[0];
}

// The most tokens a chain with thinking budget `think` may sample (what budgets reserve).
static int chain_tokens(const ChainsConfig *cfg, int think) {
    int t = think + cfg->answer_tokens;
    return forcing_on(cfg) && t < cfg->max_tokens ? t : cfg->max_tokens;
}

// Tokenizes and prefills question qi: every prompt token but the last goes into its prefix.
static int question_start(Controller *c, int qi) {
    Question *q = &c->qs[qi];
    QuestionState *st = &c->st[qi];
    int *ids = NULL;
    // a Question may be run again (eval runs a greedy pass, then a sampled one): start counts anew
    q->decode_tokens = q->forced_tokens = 0;
    q->settled_early = q->budget_capped = 0;
    q->stop = QSTOP_NONE, q->bin = -1, q->score = 0, q->conf_thr = NAN;
    // A prompt too long in bytes cannot fit in tokens either (see tokenizer_max_text_bytes):
    // refused before tokenizing it, which would take ~10 bytes of memory per byte of text.
    long fits = (long)c->b->context - (c->chain_cap - 1); // prompt tokens that fit
    size_t len = strlen(q->prompt), room = tokenizer_max_text_bytes(c->tok, fits);
    if (len > room)
        return fail(c,
                    "question %d: a prompt of %zu bytes plus up to %d generated tokens "
                    "exceeds the model's context of %d tokens (%zu bytes at most here)",
                    qi, len, c->chain_cap - 1, c->b->context, room);
    int n = tokenizer_encode(c->tok, q->prompt, len, 1, &ids);
    if (n < 0) return fail(c, "question %d: the prompt could not be tokenized", qi);
    int bos = tokenizer_add_bos(c->tok) ? tokenizer_bos(c->tok) : -1;
    st->prompt = malloc((n + 1) * sizeof(int));
    if (!st->prompt) {
        free(ids);
        return fail(c, "out of memory");
    }
    if (bos >= 0) st->prompt[0] = bos;
    memcpy(st->prompt + (bos >= 0), ids, n * sizeof(int));
    free(ids);
    q->n_prompt = n + (bos >= 0);
    if (q->n_prompt == 0) return fail(c, "question %d: the prompt is empty", qi);
    if (q->n_prompt + c->chain_cap - 1 > c->b->context)
        return fail(c,
                    "question %d: a prompt of %d tokens plus up to %d generated exceeds the "
                    "model's context of %d tokens",
                    qi, q->n_prompt, c->chain_cap - 1, c->b->context);
    st->started = 1;
    st->think_open = c->think_id >= 0 && think_open_after(c, q->prompt, 0);
    st->t0 = now_s();
    st->wave_end = schedule_first_wave(c->cfg, &st->think);
    st->conf_thr = NAN;
    int P = q->n_prompt - 1; // prefix tokens
    st->prefix_seq = c->b->seq_new(c->b->impl, -1, P, c->err, c->errlen);
    if (st->prefix_seq < 0) return -1;
    double t = now_s();
    for (int i0 = 0; i0 < P; i0 += c->b->max_rows) {
        int n_rows = P - i0 < c->b->max_rows ? P - i0 : c->b->max_rows;
        for (int i = 0; i < n_rows; i++) c->seq_in[i] = st->prefix_seq;
        // The prompt's last token is the chains' first row, so no prefix row wants a token.
        const Step prefill = {.n_rows = n_rows, .tokens = st->prompt + i0, .seqs = c->seq_in};
        if (c->b->step(c->b->impl, &prefill, c->err, c->errlen)) return -1;
    }
    c->stats->prefill_tokens += P;
    c->stats->prefill_seconds += now_s() - t;
    return 0;
}

static int can_launch(const Controller *c, int qi) {
    const ChainsConfig *cfg = c->cfg;
    const QuestionState *st = &c->st[qi];
    if (st->done || st->launched >= cfg->n_samples || st->launched >= st->wave_end) return 0;
    long need = chain_tokens(cfg, st->think);
    if (cfg->budget && st->reserved + need > cfg->budget) return 0;
    if (cfg->run_budget && c->run_reserved + need > cfg->run_budget) return 0;
    return 1;
}

static void question_finish(Controller *c, int qi) {
    QuestionState *st = &c->st[qi];
    Question *q = &c->qs[qi];
    st->done = 1;
    int wanted = st->wave_end < c->cfg->n_samples ? st->wave_end : c->cfg->n_samples;
    q->budget_capped = st->launched < wanted;
    if (q->budget_capped)
        q->stop = QSTOP_BUDGET;
    else if (q->stop == QSTOP_NONE)
        q->stop = QSTOP_ALL;
    q->seconds = now_s() - st->t0;
    if (st->prefix_seq >= 0) c->b->seq_free(c->b->impl, st->prefix_seq);
    st->prefix_seq = -1;
    free(st->prompt);
    st->prompt = NULL;
    if (c->done) c->done(q, qi, c->user);
}

// A wave is complete: the schedule (schedule.c) decides how many more chains to launch.
static int next_wave(Controller *c, int qi) {
    QuestionState *st = &c->st[qi];
    WaveNext next = {0, st->think, st->conf_thr};
    if (schedule_next_wave(c->cfg, &c->qs[qi], st->launched, &next))
        return fail(c, "out of memory");
    st->wave_end += next.more, st->think = next.think, st->conf_thr = next.conf_thr;
    return 0;
}

// Called when a question has no live chain: decides whether it is finished.
static int question_check(Controller *c, int qi) {
    QuestionState *st = &c->st[qi];
    if (st->done || st->live > 0) return 0;
    if (st->launched == st->wave_end && next_wave(c, qi)) return -1;
    if (!can_launch(c, qi)) question_finish(c, qi);
    return 0;
}

// ---- chains ----------------------------------------------------------------------------------

static int launch(Controller *c, Slot *s, int qi) {
    QuestionState *st = &c->st[qi];
    Question *q = &c->qs[qi];
    int seq = c->b->seq_new(c->b->impl, st->prefix_seq, c->chain_cap, c->err, c->errlen);
    if (seq < 0) return -1;
    free(s->r.text);
    free(s->r.conf);
    int *pend = s->pending, cap = s->cap_pending;
    memset(s, 0, sizeof *s);
    s->pending = pend;
    s->cap_pending = cap;
    s->live = 1;
    s->q = qi;
    s->seq = seq;
    s->r.index = st->launched++;
    s->r.think = s->think = st->think;
    s->conf_thr = st->conf_thr;
    st->live++;
    st->reserved += chain_tokens(c->cfg, s->think);
    c->run_reserved += chain_tokens(c->cfg, s->think);
    detok_init(&s->detok, c->tok);
    s->detok.strip_space = 0; // a continuation: keep its leading space (SentencePiece)
    int last = st->prompt[q->n_prompt - 1];
    if (pending_push(s, &last, 1) || text_append(s, "", 0)) return fail(c, "out of memory");
    return 0;
}

static int finish(Controller *c, Slot *s, StopReason why) {
    Question *q = &c->qs[s->q];
    QuestionState *st = &c->st[s->q];
    s->r.stop = why;
    s->r.has_answer = why != STOP_LOW_CONF && // a chain ended for low confidence does not vote
                      answer_extract(s->r.text, c->cfg->answer_re, s->r.answer, ANSWER_MAX);
    ChainResult *grown = realloc(q->chains, (q->n_chains + 1) * sizeof(ChainResult));
    if (!grown) return fail(c, "out of memory");
    q->chains = grown;
    q->chains[q->n_chains++] = s->r;
    s->r.text = NULL; // now owned by the question
    s->r.conf = NULL;
    long unused = chain_tokens(c->cfg, s->think) - s->r.n_tokens;
    st->reserved -= unused;
    c->run_reserved -= unused;
    c->b->seq_free(c->b->impl, s->seq);
    s->live = 0;
    st->live--;
    return question_check(c, s->q);
}

// Counts n forced (not sampled) tokens of slot s.
static void count_forced(Controller *c, Slot *s, int n) {
    s->r.n_forced += n;
    c->qs[s->q].forced_tokens += n;
    c->stats->forced_tokens += n;
}

// Appends the answer cue: the chain feeds (optionally) its last token, then (inside an open
// thinking block) the block's close, then the cue's tokens, and may sample answer_tokens more.
static int force_answer(Controller *c, Slot *s, const int *feed_first) {
    char tail[64];
    size_t before = s->r.len;
    int n = detok_flush(&s->detok, tail, sizeof tail);
    if (n > 0 && text_append(s, tail, n)) return fail(c, "out of memory");
    const int close = c->think_id >= 0 && think_open_after(c, s->r.text, c->st[s->q].think_open);
    if ((close &&
         (text_append(s, c->think_end, strlen(c->think_end)) || text_append(s, "\n\n", 2))) ||
        text_append(s, c->cfg->answer_cue, strlen(c->cfg->answer_cue)))
        return fail(c, "out of memory");
    if (c->cfg->on_text)
        c->cfg->on_text(s->q, s->r.index, s->r.text + before, s->r.len - before, c->cfg->text_user);
    s->n_pending = 0;
    if ((feed_first && pending_push(s, feed_first, 1)) ||
        (close && pending_push(s, c->close, c->n_close)) || pending_push(s, c->cue, c->n_cue))
        return fail(c, "out of memory");
    s->cue_end = s->r.len;
    s->phase = PHASE_ANSWER;
    s->answer_left = c->cfg->answer_tokens;
    s->r.forced = 1;
    count_forced(c, s, c->n_cue + (close ? c->n_close : 0));
    return 0;
}

// s1's budget extension: the chain sampled the end of thinking early; instead of that token it
// is fed think_extend ("Wait"), and thinks on.
static int extend_thinking(Controller *c, Slot *s) {
    char tail[64];
    size_t before = s->r.len;
    int n = detok_flush(&s->detok, tail, sizeof tail);
    if ((n > 0 && text_append(s, tail, n)) ||
        text_append(s, c->cfg->think_extend, strlen(c->cfg->think_extend)))
        return fail(c, "out of memory");
    if (c->cfg->on_text)
        c->cfg->on_text(s->q, s->r.index, s->r.text + before, s->r.len - before, c->cfg->text_user);
    s->n_pending = 0;
    if (pending_push(s, c->ext, c->n_ext)) return fail(c, "out of memory");
    s->r.n_extend++;
    count_forced(c, s, c->n_ext);
    return 0;
}

// The chain stopped by itself (EOG or a stop string): force an answer if it has none yet.
static int on_stop(Controller *c, Slot *s, StopReason why) {
    char tmp[ANSWER_MAX];
    if (s->phase == PHASE_THINK && forcing_on(c->cfg) &&
        !answer_extract(s->r.text, c->cfg->answer_re, tmp, sizeof tmp))
        return force_answer(c, s, NULL);
    return finish(c, s, why);
}

// The answer is the rest of the line after the cue: done at a newline that follows some text.
static int answer_line_done(const char *after_cue) {
    const char *nl = strchr(after_cue, '\n');
    if (!nl) return 0;
    for (const char *p = after_cue; p < nl; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r') return 1;
    return 0;
}

// Keeps a sampled token's confidence (the chain's trace, for DeepConf scores and stops).
static int conf_push(Slot *s, const TokenConf *tc) {
    if (s->r.n_tokens >= s->conf_cap) {
        int cap = 2 * s->r.n_tokens + 16;
        float *g = realloc(s->r.conf, (size_t)cap * sizeof *g);
        if (!g) return -1;
        s->r.conf = g, s->conf_cap = cap;
    }
    s->r.conf[s->r.n_tokens] = tc->conf;
    s->r.sum_entropy += tc->entropy;
    return 0;
}

// One sampled token for slot s (tc: its confidence, or NULL when not computed).
static int on_token(Controller *c, Slot *s, int id, float logprob, const TokenConf *tc) {
    const ChainsConfig *cfg = c->cfg;
    if (tc && conf_push(s, tc)) return fail(c, "out of memory");
    s->r.n_tokens++;
    s->r.sum_logprob += logprob;
    c->qs[s->q].decode_tokens++;
    c->stats->decode_tokens++;
    int w = cfg->deepconf.tp.window, n_tok = s->r.n_tokens;
    if (!isnan(s->conf_thr) && s->r.conf && n_tok >= w &&
        trace_group_at(s->r.conf, n_tok - 1, w) < s->conf_thr)
        return finish(c, s, STOP_LOW_CONF); // checked first, on every sampled token (as replayed)
    if (id == c->think_id && c->n_ext && s->phase == PHASE_THINK &&
        s->r.n_extend < cfg->think_extend_max &&
        s->r.n_tokens < (forcing_on(cfg) ? s->think : cfg->max_tokens))
        return extend_thinking(c, s);
    if (tokenizer_is_eog(c->tok, id)) return on_stop(c, s, STOP_EOG);
    char buf[512];
    int n = detok_push(&s->detok, id, buf, sizeof buf);
    if (n < 0) n = 0; // a token longer than 500 bytes: nothing sane to show
    size_t before = s->r.len;
    if (text_append(s, buf, n)) return fail(c, "out of memory");
    int stopped = n > 0 && cut_stop_string(cfg, s, n);
    if (cfg->on_text && s->r.len > before)
        cfg->on_text(s->q, s->r.index, s->r.text + before, s->r.len - before, cfg->text_user);
    if (stopped) return on_stop(c, s, STOP_STRING);
    if (s->phase == PHASE_ANSWER) {
        if (--s->answer_left <= 0) return finish(c, s, STOP_ANSWER_CAP);
        if (answer_line_done(s->r.text + s->cue_end)) return finish(c, s, STOP_ANSWER_CAP);
    } else if (s->r.n_tokens >= (forcing_on(cfg) ? s->think : cfg->max_tokens)) {
        if (forcing_on(cfg)) return force_answer(c, s, &id);
        return finish(c, s, STOP_MAX_TOKENS);
    }
    s->n_pending = 0;
    return pending_push(s, &id, 1) ? fail(c, "out of memory") : 0;
}

// ---- the loop --------------------------------------------------------------------------------

// Gives every free slot a chain: an undecided question already started first (compute goes
// where the vote is still open), then the next question. Returns 0, or -1 on error.
static int fill_slots(Controller *c) {
    for (int si = 0; si < c->cfg->parallel; si++) {
        Slot *s = &c->slots[si];
        if (s->live) continue;
        int qi = -1;
        for (int i = 0; i < c->next_q && qi < 0; i++)
            if (c->st[i].started && can_launch(c, i)) qi = i;
        while (qi < 0 && c->next_q < c->n_q) {
            int n = c->next_q++;
            if (question_start(c, n)) return -1;
            if (can_launch(c, n))
                qi = n;
            else if (question_check(c, n))
                return -1; // e.g. a budget below one chain
        }
        if (qi < 0) return 0; // nothing left to launch
        if (launch(c, s, qi)) return -1;
    }
    return 0;
}

// Runs live slots [from, to) whose pending rows fit max_rows, then handles their tokens.
static int decode_group(Controller *c, int from, int to) {
    int n = 0, n_out = 0;
    for (int si = from; si < to; si++) {
        Slot *s = &c->slots[si];
        if (!s->live) continue;
        for (int j = 0; j < s->n_pending; j++) {
            c->tok_in[n] = s->pending[j];
            c->seq_in[n++] = s->seq;
        }
        c->out_rows[n_out] = n - 1;
        c->out_slot[n_out] = si;
        SampleRow *d = &c->draws[n_out++];
        d->p = c->cfg->sampler;
        d->p.conf_k = c->cfg->conf_k;
        uint64_t stream = c->cfg->seed_index ? (uint64_t)c->cfg->seed_index[s->q] : (uint64_t)s->q;
        d->seed = rng_mix64(c->cfg->seed ^ rng_mix64(stream + 1));
        d->chain = (uint32_t)s->r.index;
        d->step = (uint32_t)s->r.n_tokens;
    }
    if (n_out == 0) return 0;
    const Step st = {.n_rows = n,
                     .tokens = c->tok_in,
                     .seqs = c->seq_in,
                     .n_out = n_out,
                     .out_rows = c->out_rows,
                     .sample = c->draws,
                     .ids = c->ids,
                     .logprobs = c->lps,
                     .conf = c->confs};
    if (c->b->step(c->b->impl, &st, c->err, c->errlen)) return -1;
    c->stats->steps++;
    c->stats->rows += n;
    size_t kvb = c->b->kv_bytes_used(c->b->impl);
    if (kvb > c->stats->peak_kv_bytes) c->stats->peak_kv_bytes = kvb;
    for (int j = 0; j < n_out; j++)
        if (on_token(c, &c->slots[c->out_slot[j]], c->ids[j], c->lps[j],
                     c->confs ? &c->confs[j] : NULL))
            return -1;
    return 0;
}

// One decode step over all live chains, split into groups of at most max_rows rows.
static int step(Controller *c) {
    int from = 0, rows = 0;
    for (int si = 0; si < c->cfg->parallel; si++) {
        int need = c->slots[si].live ? c->slots[si].n_pending : 0;
        if (rows + need > c->b->max_rows && si > from) {
            if (decode_group(c, from, si)) return -1;
            from = si;
            rows = 0;
        }
        rows += need;
    }
    return decode_group(c, from, c->cfg->parallel);
}

static int ctl_alloc(Controller *c) {
    int R = c->b->max_rows, B = c->cfg->parallel;
    c->slots = calloc(B, sizeof(Slot));
    c->tok_in = malloc(R * sizeof(int));
    c->seq_in = malloc(R * sizeof(int));
    c->out_rows = malloc(B * sizeof(int));
    c->out_slot = malloc(B * sizeof(int));
    c->ids = malloc(B * sizeof(int));
    c->lps = malloc(B * sizeof(float));
    c->confs = c->cfg->conf_k > 0 ? malloc(B * sizeof(TokenConf)) : NULL;
    c->draws = malloc(B * sizeof(SampleRow));
    c->st = calloc(c->n_q, sizeof(QuestionState));
    return c->slots && c->tok_in && c->seq_in && c->out_rows && c->out_slot && c->ids && c->lps &&
                   c->draws && c->st && (c->confs || c->cfg->conf_k <= 0)
               ? 0
               : fail(c, "out of memory");
}

static void ctl_free(Controller *c) {
    for (int si = 0; c->slots && si < c->cfg->parallel; si++) {
        if (c->slots[si].live) c->b->seq_free(c->b->impl, c->slots[si].seq);
        free(c->slots[si].r.text);
        free(c->slots[si].r.conf);
        free(c->slots[si].pending);
    }
    for (int i = 0; c->st && i < c->n_q; i++) {
        if (c->st[i].started && !c->st[i].done && c->st[i].prefix_seq >= 0)
            c->b->seq_free(c->b->impl, c->st[i].prefix_seq);
        free(c->st[i].prompt);
    }
    free(c->slots);
    free(c->tok_in);
    free(c->seq_in);
    free(c->out_rows);
    free(c->out_slot);
    free(c->ids);
    free(c->lps);
    free(c->confs);
    free(c->draws);
    free(c->st);
    free(c->cue);
    free(c->close);
    free(c->ext);
}

// Whether the model thinks (think_end is one of its tokens), and the tokens of the block's close
// and of the extension. 0, or -1 (a flag the model cannot honour, out of memory).
static int think_init(Controller *c) {
    const ChainsConfig *cfg = c->cfg;
    int *ids = NULL, n;
    c->think_begin = cfg->think_begin ? cfg->think_begin : "<think>";
    c->think_end = cfg->think_end ? cfg->think_end : ANSWER_THINK_END;
    n = tokenizer_encode(c->tok, c->think_end, strlen(c->think_end), 1, &ids);
    c->think_id = n == 1 ? ids[0] : -1;
    free(ids);
    const int extend = cfg->think_extend && cfg->think_extend[0] && cfg->think_extend_max > 0;
    if (extend && c->think_id < 0)
        return fail(c,
                    "--think-extend: the model has no end-of-thinking token '%s' (not a "
                    "thinking model)",
                    c->think_end);
    if (c->think_id < 0) return 0;
    char close[96];
    snprintf(close, sizeof close, "%s\n\n", c->think_end);
    c->n_close = tokenizer_encode(c->tok, close, strlen(close), 1, &c->close);
    if (extend)
        c->n_ext =
            tokenizer_encode(c->tok, cfg->think_extend, strlen(cfg->think_extend), 0, &c->ext);
    if (c->n_close <= 0 || (extend && c->n_ext <= 0))
        return fail(c, "the end of thinking or --think-extend could not be tokenized");
    return 0;
}

int chains_run(Backend *b, const Tokenizer *tok, const ChainsConfig *cfg, Question *qs, int n_q,
               QuestionDone done, void *user, ChainsStats *stats, char *err, size_t errlen) {
    Controller c = {.b = b,
                    .tok = tok,
                    .cfg = cfg,
                    .qs = qs,
                    .n_q = n_q,
                    .stats = stats,
                    .think_id = -1,
                    .done = done,
                    .user = user,
                    .err = err,
                    .errlen = errlen};
    memset(stats, 0, sizeof *stats);
    double t0 = now_s();
    int rc = ctl_alloc(&c);
    if (!rc && forcing_on(cfg)) {
        c.n_cue = tokenizer_encode(tok, cfg->answer_cue, strlen(cfg->answer_cue), 0, &c.cue);
        if (c.n_cue <= 0) rc = fail(&c, "the answer cue could not be tokenized");
    }
    if (!rc) rc = think_init(&c);
    // own rows of a chain: the prompt's last token, its sampled tokens (some replaced by
    // extensions), the thinking block's close, the cue
    // (in 64 bits: --think-extend-max times a long --think-extend overflows an int). A chain that
    // cannot fit beside a prompt of one token fits no question: refused once, here.
    const int64_t cap = 1 + (int64_t)cfg->max_tokens + (int64_t)cfg->think_extend_max * c.n_ext +
                        c.n_close + c.n_cue;
    if (!rc && cap > b->context)
        rc = fail(&c,
                  "a chain of up to %lld generated tokens (--max-tokens %d, %d extensions of "
                  "%d tokens, %d forced) exceeds the model's context of %d tokens",
                  (long long)cap - 1, cfg->max_tokens, cfg->think_extend_max, c.n_ext,
                  c.n_close + c.n_cue, b->context);
    c.chain_cap = rc ? 0 : (int)cap;
    while (!rc) {
        if ((rc = fill_slots(&c))) break;
        int live = 0;
        for (int si = 0; si < cfg->parallel; si++) live += c.slots[si].live;
        if (!live) break;
        rc = step(&c);
    }
    stats->seconds = now_s() - t0;
    ctl_free(&c);
    return rc;
}

void question_free_results(Question *q) {
    for (int i = 0; i < q->n_chains; i++) free(q->chains[i].text), free(q->chains[i].conf);
    free(q->chains);
    q->chains = NULL;
    q->n_chains = 0;
}
