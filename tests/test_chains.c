// test_chains.c - the parallel-sample controller on the default model:
//   - N greedy chains give token-identical text to one greedy run (N = 1, 3, 16);
//   - with sampling, chain i's text is the same whatever N and --parallel are;
//   - the KV cache stores the prompt once: its bytes always equal an independent count of the
//     rows fed to live sequences, and stay far below N copies of the prompt;
//   - token accounting is exact, no chain exceeds its cap, budgets hold, budget forcing always
//     yields an answer, and the adaptive rule stops a unanimous question after one wave;
//   - thinking models: a chain cut inside an open thinking block gets the block's end before the
//     cue, and s1's extension replaces an early end of thinking by its text at most K times
//     (SmolLM2 has no </think> token: the test names " banana" the end of thinking, and the spy
//     backend makes chains sample it).
#include "backend/backend.h"
#include "chains/chains.h"
#include "check.h"
#include "cli/session.h"

#include <string.h>

#define MODEL    "weights/SmolLM2-135M-Instruct.Q4_1.gguf"
#define MAX_SEQS 64

// A backend wrapper that counts the rows fed to every live sequence and checks the cache's
// byte accounting against that count after every call.
typedef struct {
    Backend inner;
    long fed[MAX_SEQS];  // rows stored in each live sequence
    int prefix_rows_max; // most rows any parentless sequence received
    long checks, mismatches;
    size_t peak;
    int force_id, force_every; // when set: a chain's every force_every-th token becomes force_id
} Spy;
static Spy spy;
static int spy_parent[MAX_SEQS];

static int spy_seq_new(void *impl, int parent, int cap, char *err, size_t errlen) {
    int id = spy.inner.seq_new(spy.inner.impl, parent, cap, err, errlen);
    if (id >= 0 && id < MAX_SEQS) spy.fed[id] = 0, spy_parent[id] = parent;
    return id;
}
static void spy_seq_free(void *impl, int id) {
    spy.inner.seq_free(spy.inner.impl, id);
    if (id >= 0 && id < MAX_SEQS) spy.fed[id] = 0;
}
static int spy_step(void *impl, const Step *st, char *err, size_t errlen) {
    int rc = spy.inner.step(spy.inner.impl, st, err, errlen);
    for (int j = 0; spy.force_every && st->sample && j < st->n_out; j++)
        if (st->sample[j].step % spy.force_every == (uint32_t)spy.force_every - 1)
            st->ids[j] = spy.force_id;
    long total = 0;
    for (int i = 0; i < st->n_rows; i++) spy.fed[st->seqs[i]]++;
    for (int s = 0; s < MAX_SEQS; s++) {
        total += spy.fed[s];
        if (spy_parent[s] < 0 && spy.fed[s] > spy.prefix_rows_max) spy.prefix_rows_max = spy.fed[s];
    }
    size_t bytes = spy.inner.kv_bytes_used(spy.inner.impl);
    spy.checks++;
    spy.mismatches += bytes != (size_t)total * spy.inner.kv_token_bytes(spy.inner.impl);
    if (bytes > spy.peak) spy.peak = bytes;
    return rc;
}

static Session S;
static Backend spy_backend;

static void spy_reset(void) {
    memset(spy.fed, 0, sizeof spy.fed);
    spy.prefix_rows_max = 0;
    spy.checks = spy.mismatches = 0;
    spy.peak = 0;
}

static const char *PROMPT = "Tom has 3 apples and buys 5 more. How many apples does he have?";

// Runs one question (its chat prompt, then `tail`); the caller frees q with
// question_free_results and q->prompt.
static int run_tail(ChainsConfig *cfg, Question *q, ChainsStats *st, const char *tail) {
    char err[512];
    memset(q, 0, sizeof *q);
    SessionOptions so = {0};
    char *p = session_prompt(&S, &so, PROMPT, err, sizeof err);
    if (p && tail) {
        char *t = realloc(p, strlen(p) + strlen(tail) + 1);
        if (t) strcat(t, tail);
        p = t;
    }
    q->prompt = p;
    spy_reset();
    int rc = chains_run(&spy_backend, S.tok, cfg, q, 1, NULL, NULL, st, err, sizeof err);
    CHECK(rc == 0, "chains_run: %s", err);
    return rc;
}

static int run(ChainsConfig *cfg, Question *q, ChainsStats *st) {
    return run_tail(cfg, q, st, NULL);
}

static const ChainResult *by_index(const Question *q, int index) {
    for (int i = 0; i < q->n_chains; i++)
        if (q->chains[i].index == index) return &q->chains[i];
    return NULL;
}

static void done(Question *q) {
    question_free_results(q);
    free((char *)q->prompt);
}

static ChainsConfig base_config(int n, int parallel, float temp) {
    ChainsConfig c = chains_defaults();
    c.n_samples = n;
    c.parallel = parallel;
    c.sampler.temperature = temp;
    c.max_tokens = 24;
    c.answer_tokens = 6;
    c.think_tokens = c.max_tokens - c.answer_tokens;
    c.seed = 7;
    return c;
}

static void test_greedy_batch_equals_single(void) {
    ChainsConfig c1 = base_config(1, 1, 0);
    Question ref;
    ChainsStats st;
    if (run(&c1, &ref, &st)) return;
    const int ns[] = {3, 16};
    for (int k = 0; k < 2; k++) {
        ChainsConfig c = base_config(ns[k], ns[k], 0);
        Question q;
        if (run(&c, &q, &st)) continue;
        CHECK(q.n_chains == ns[k], "N=%d: %d chains finished", ns[k], q.n_chains);
        for (int i = 0; i < q.n_chains; i++)
            CHECK(q.chains[i].n_tokens == ref.chains[0].n_tokens &&
                      !strcmp(q.chains[i].text, ref.chains[0].text),
                  "N=%d chain %d differs from the single greedy run:\n%s\n---\n%s", ns[k],
                  q.chains[i].index, q.chains[i].text, ref.chains[0].text);
        CHECK(spy.mismatches == 0, "KV accounting off in %ld of %ld steps", spy.mismatches,
              spy.checks);
        done(&q);
    }
    done(&ref);
}

static void test_sampling_independent_of_batch(void) {
    ChainsConfig c16 = base_config(16, 16, 0.8f);
    Question ref;
    ChainsStats st;
    if (run(&c16, &ref, &st)) return;
    const int shapes[][2] = {{1, 1}, {4, 4}, {16, 5}, {16, 1}, {9, 3}};
    for (int k = 0; k < 5; k++) {
        ChainsConfig c = base_config(shapes[k][0], shapes[k][1], 0.8f);
        Question q;
        if (run(&c, &q, &st)) continue;
        for (int i = 0; i < shapes[k][0]; i++) {
            const ChainResult *a = by_index(&q, i), *b = by_index(&ref, i);
            CHECK(a && b && !strcmp(a->text, b->text) && a->n_tokens == b->n_tokens,
                  "N=%d parallel=%d: chain %d differs from N=16", shapes[k][0], shapes[k][1], i);
        }
        done(&q);
    }
    // and the chains really differ from one another (sampling is on)
    int distinct = 0;
    for (int i = 1; i < ref.n_chains; i++)
        distinct += strcmp(ref.chains[i].text, ref.chains[0].text) != 0;
    CHECK(distinct > 0, "all 16 sampled chains are identical");
    done(&ref);
}

static void test_kv_and_accounting(void) {
    ChainsConfig c = base_config(8, 8, 0.8f);
    Question q;
    ChainsStats st;
    if (run(&c, &q, &st)) return;
    const long P = q.n_prompt, tb = (long)spy.inner.kv_token_bytes(spy.inner.impl);
    CHECK(spy.mismatches == 0 && spy.checks > 0, "KV bytes != rows stored (%ld of %ld)",
          spy.mismatches, spy.checks);
    CHECK(spy.prefix_rows_max == P - 1, "prefix stored %d rows for a %ld-token prompt",
          spy.prefix_rows_max, P);
    // peak: the prefix once + at most every chain's own rows (1 + max_tokens + cue) each
    CHECK((long)spy.peak <= (P - 1 + 8L * (1 + c.max_tokens + 8)) * tb, "peak KV %zu too big",
          spy.peak);
    CHECK((long)spy.peak < 8 * P * tb, "peak KV %zu is not below 8 copies of the prompt", spy.peak);
    long sum = 0, forced = 0;
    for (int i = 0; i < q.n_chains; i++) {
        sum += q.chains[i].n_tokens;
        forced += q.chains[i].n_forced;
        CHECK(q.chains[i].n_tokens <= c.max_tokens, "chain %d: %d tokens > cap %d", i,
              q.chains[i].n_tokens, c.max_tokens);
        CHECK(q.chains[i].has_answer, "chain %d ended without an answer:\n%s", i, q.chains[i].text);
    }
    CHECK(sum == q.decode_tokens && sum == st.decode_tokens,
          "decode tokens: chains %ld, question %ld, stats %ld", sum, q.decode_tokens,
          st.decode_tokens);
    CHECK(forced == q.forced_tokens && forced == st.forced_tokens, "forced tokens %ld vs %ld",
          forced, st.forced_tokens);
    CHECK(st.prefill_tokens == P - 1, "prefill tokens %ld for a prompt of %ld", st.prefill_tokens,
          P);
    // rows fed = each chain's first row (the prompt's last token) + its sampled tokens but the
    // last (and but an end token that triggered forcing) + its cue tokens
    CHECK(st.rows <= sum + forced && st.rows >= sum + forced - q.n_chains, "rows %ld vs %ld fed",
          st.rows, sum + forced);
    done(&q);
}

static void test_budgets_and_forcing(void) {
    // A per-question budget of 3 chains' caps: only 3 chains may run, whatever N asks for.
    ChainsConfig c = base_config(8, 8, 0.8f);
    c.budget = 3L * c.max_tokens;
    Question q;
    ChainsStats st;
    if (run(&c, &q, &st)) return;
    CHECK(q.n_chains == 3 && q.decode_tokens <= c.budget && q.budget_capped,
          "budget %ld: %d chains, %ld tokens", c.budget, q.n_chains, q.decode_tokens);
    done(&q);
    // Forcing at 4 thinking tokens: every chain gets the cue and decodes after it; whatever
    // number it then writes is its answer. (Whether a sampled chain writes a number at all is the
    // model's doing, not the controller's: at temperature 1 this one sometimes answers in words.)
    c = base_config(6, 6, 1.0f);
    c.think_tokens = 4;
    if (run(&c, &q, &st)) return;
    for (int i = 0; i < q.n_chains; i++) {
        const char *cue = strstr(q.chains[i].text, c.answer_cue);
        CHECK(q.chains[i].forced && cue, "chain %d not forced", i);
        CHECK(q.chains[i].n_tokens <= c.think_tokens + c.answer_tokens, "chain %d over its cap", i);
        if (!cue) continue;
        const char *after = cue + strlen(c.answer_cue);
        CHECK(*after, "forced chain %d decoded nothing after the cue", i);
        CHECK(!strpbrk(after, "0123456789") || q.chains[i].has_answer,
              "forced chain %d wrote a number after the cue but has no answer:\n%s", i,
              q.chains[i].text);
    }
    done(&q);
}

static int count_of(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static int n_tokens(const char *text) {
    int *ids = NULL, n = tokenizer_encode(S.tok, text, strlen(text), 1, &ids);
    free(ids);
    return n;
}

static void test_thinking(void) {
    const int banana = 21285; // " banana", one token of SmolLM2's vocabulary
    CHECK(n_tokens(" banana") == 1, "\" banana\" is one token");
    const int n_cue = n_tokens("\nThe answer is"), n_close = n_tokens(" banana\n\n");
    // Cut at 4 thinking tokens inside the block the prompt opened: the block's end, then the cue.
    ChainsConfig c = base_config(2, 2, 0);
    c.think_tokens = 4;
    c.think_end = " banana";
    Question q;
    ChainsStats st;
    if (run_tail(&c, &q, &st, "<think>\n")) return;
    for (int i = 0; i < q.n_chains; i++) {
        CHECK(strstr(q.chains[i].text, " banana\n\n\nThe answer is") != NULL,
              "chain %d cut inside its thinking: no close before the cue:\n%s", i,
              q.chains[i].text);
        CHECK(q.chains[i].n_forced == n_close + n_cue, "chain %d: %d forced tokens, want %d + %d",
              i, q.chains[i].n_forced, n_close, n_cue);
    }
    done(&q);
    // No open block (the prompt does not open one): the cue alone.
    if (run(&c, &q, &st)) return;
    for (int i = 0; i < q.n_chains; i++)
        CHECK(!strstr(q.chains[i].text, " banana") && q.chains[i].n_forced == n_cue,
              "chain %d outside a thinking block got %d forced tokens:\n%s", i,
              q.chains[i].n_forced, q.chains[i].text);
    done(&q);
    // s1 extension: the chains sample the end of thinking at every 3rd token; the first two
    // times it becomes "<<EXT>>", the third goes through (and closes the block: no close at the
    // cap, which comes at 16 tokens).
    c = base_config(3, 3, 0.8f);
    c.max_tokens = 24, c.think_tokens = 16, c.answer_tokens = 6;
    c.think_end = " banana", c.think_extend = "<<EXT>>", c.think_extend_max = 2;
    spy.force_id = banana, spy.force_every = 3;
    int rc = run_tail(&c, &q, &st, "<think>\n");
    spy.force_every = 0;
    if (rc) return;
    const int n_ext = n_tokens("<<EXT>>");
    for (int i = 0; i < q.n_chains; i++) {
        const ChainResult *r = &q.chains[i];
        const char *second = strstr(r->text, "<<EXT>>");
        second = second ? strstr(second + 1, "<<EXT>>") : NULL;
        const char *ended = strstr(r->text, " banana");
        CHECK(r->n_extend == 2 && count_of(r->text, "<<EXT>>") == 2,
              "chain %d: %d extensions, want 2:\n%s", i, r->n_extend, r->text);
        CHECK(second && ended && ended > second,
              "chain %d: the third end of thinking does not follow the two extensions:\n%s", i,
              r->text);
        CHECK(!strstr(r->text, " banana\n\n\nThe answer is") && strstr(r->text, c.answer_cue),
              "chain %d: a closed block got closed again at the cap:\n%s", i, r->text);
        CHECK(r->n_forced == 2 * n_ext + n_cue && r->n_tokens <= c.think_tokens + c.answer_tokens,
              "chain %d: %d forced tokens (want %d), %d sampled", i, r->n_forced, 2 * n_ext + n_cue,
              r->n_tokens);
    }
    CHECK(q.forced_tokens == (long)q.n_chains * (2 * n_ext + n_cue), "question's forced tokens %ld",
          q.forced_tokens);
    done(&q);
    // A model without the end-of-thinking token cannot be extended: a clear error.
    c.think_end = NULL; // "</think>": several tokens in SmolLM2's vocabulary
    char err[256];
    memset(&q, 0, sizeof q);
    q.prompt = PROMPT;
    rc = chains_run(&spy_backend, S.tok, &c, &q, 1, NULL, NULL, &st, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "--think-extend"), "extension without </think>: rc %d, '%s'", rc,
          err);
    question_free_results(&q);
}

static void test_adaptive_unanimous(void) {
    ChainsConfig c = base_config(16, 16, 0);
    c.adaptive = 1;
    c.wave = 4;
    Question q;
    ChainsStats st;
    if (run(&c, &q, &st)) return;
    CHECK(q.n_chains == 4 && q.settled_early, "unanimous greedy: %d chains, settled %d", q.n_chains,
          q.settled_early);
    done(&q);
}

int main(void) {
    char err[512];
    SessionOptions so = {.model_path = MODEL};
    if (session_open(&S, &so, 96, MAX_SEQS - 1, err, sizeof err)) {
        SKIP("%s (run make weights)", err);
        return check_done("test_chains");
    }
    spy.inner = S.b;
    spy_backend = S.b;
    spy_backend.seq_new = spy_seq_new;
    spy_backend.seq_free = spy_seq_free;
    spy_backend.step = spy_step;
    for (int i = 0; i < MAX_SEQS; i++) spy_parent[i] = -2;
    test_greedy_batch_equals_single();
    test_sampling_independent_of_batch();
    test_kv_and_accounting();
    test_budgets_and_forcing();
    test_adaptive_unanimous();
    test_thinking();
    session_close(&S);
    return check_done("test_chains");
}
