// sampler.c - CPU sampling: temperature, top-k, top-p, min-p and the draw (semantics in
// sampler.h).
//
// Efficiency: the kept set is always a prefix of the token order (logit descending, ties to
// the lower id), so the vocab is never sorted whole when the settings make it unnecessary.
// top-k selects its k tokens with a bounded heap (O(V log k)) and sorts only those. Without
// top-k, tokens above a threshold on d_i = (logit_i - logit_max) / T are collected (one
// O(V) pass, no sort); that set is a prefix of the order, and if it already holds the top-p cut
// (or the min-p set, or the draw point) only it is sorted. The threshold is lowered until it
// does, which for real model distributions is almost always at the first try. Short lists
// sort with a heapsort, long ones (flat rows) with a radix sort.
//
// What remains per draw is a few vocab-wide passes (max, weights, the T = 1 normaliser for
// the log-prob, the threshold pass); the first three are written to vectorise without
// fast-math.
#include "sampler.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

SamplerParams sampler_defaults(void) {
    SamplerParams p = {.temperature = 0.7f, .top_k = 0, .top_p = 0.95f, .min_p = 0.05f};
    return p;
}

int sampler_init(Sampler *s, int vocab) {
    s->vocab = vocab;
    s->probs = NULL;
    s->idx = NULL;
    s->keys = NULL;
    if (vocab <= 0) return -1;
    s->probs = malloc((size_t)vocab * sizeof *s->probs);
    s->idx = malloc((size_t)vocab * sizeof *s->idx);
    s->keys = malloc(2 * (size_t)vocab * sizeof *s->keys);
    if (!s->probs || !s->idx || !s->keys) {
        sampler_free(s);
        return -1;
    }
    return 0;
}

void sampler_free(Sampler *s) {
    free(s->probs);
    free(s->idx);
    free(s->keys);
    s->probs = NULL;
    s->idx = NULL;
    s->keys = NULL;
}

// ---- the token order --------------------------------------------------------------------------

// NaN sorts as -inf so that the order stays total (heap code relies on it). Tested on the
// bits: an integer select keeps the vocab-wide loops vectorisable.
static inline float key(const float *l, int i) {
    uint32_t b;
    memcpy(&b, &l[i], 4);
    b = (b & 0x7FFFFFFFu) > 0x7F800000u ? 0xFF800000u : b;
    float v;
    memcpy(&v, &b, 4);
    return v;
}

// 1 if token a comes before token b: higher logit, ties to the lower id.
static inline int before(const float *l, int a, int b) {
    float ka = key(l, a), kb = key(l, b);
    return ka > kb || (ka == kb && a < b);
}

// Heap whose root is the token LAST in the order among h[0..n): a parent is never before its
// children. That is the shape both top-k selection (evict the worst) and a best-first
// heapsort (move the worst to the end) need.
static void sift_down(int *h, int n, int i, const float *l) {
    for (;;) {
        int worst = i, a = 2 * i + 1, b = a + 1;
        if (a < n && before(l, h[worst], h[a])) worst = a;
        if (b < n && before(l, h[worst], h[b])) worst = b;
        if (worst == i) return;
        int t = h[i];
        h[i] = h[worst];
        h[worst] = t;
        i = worst;
    }
}

static void heapify(int *h, int n, const float *l) {
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(h, n, i, l);
}

// Sorts h[0..n) into the token order (best first), in place.
static void sort_by_order(int *h, int n, const float *l) {
    heapify(h, n, l);
    for (int end = n - 1; end > 0; end--) {
        int t = h[0];
        h[0] = h[end];
        h[end] = t;
        sift_down(h, end, 0, l);
    }
}

// A 32-bit key that sorts ascending in the token order's logit part: descending logit, with
// -0 and +0 equal as before() has them.
static inline uint32_t order_key32(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    if (u == 0x80000000u) u = 0;
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); // float order -> unsigned order
    return ~u;
}

// Long candidate lists (flat rows, pure temperature) sort in O(n) instead of heapsort's
// O(n log n) indirect comparisons: LSD radix sort, 8-bit digits, of key32 << 32 | id. LSD
// passes are stable, so the id digits can be skipped when ids arrive ascending (collect()
// makes them so); a digit that is equal in every key is skipped too.
static void radix_by_order(int *ids, int n, const float *l, uint64_t *a, uint64_t *b) {
    int ascending = 1;
    for (int i = 0; i < n; i++) {
        a[i] = (uint64_t)order_key32(key(l, ids[i])) << 32 | (uint32_t)ids[i];
        ascending &= i == 0 || ids[i] > ids[i - 1];
    }
    for (int shift = ascending ? 32 : 0; shift < 64; shift += 8) {
        int count[257] = {0};
        for (int i = 0; i < n; i++) count[(a[i] >> shift & 0xFF) + 1]++;
        if (count[(a[0] >> shift & 0xFF) + 1] == n) continue; // one digit value: nothing to do
        for (int d = 0; d < 256; d++) count[d + 1] += count[d];
        for (int i = 0; i < n; i++) b[count[a[i] >> shift & 0xFF]++] = a[i];
        uint64_t *t = a;
        a = b, b = t;
    }
    for (int i = 0; i < n; i++) ids[i] = (int)(uint32_t)a[i];
}

// Sorts candidate ids into the token order, best first.
static void sort_candidates(Sampler *s, int *ids, int n, const float *l) {
    if (n > 512)
        radix_by_order(ids, n, l, s->keys, s->keys + s->vocab);
    else
        sort_by_order(ids, n, l);
}

// ---- vocab-wide passes ------------------------------------------------------------------------

// e^x for x <= 0 within 2 ulp, and exactly 0 below -86 (where e^x < 2^-124: nothing a draw or
// a sum in double could see). libm's expf does not vectorise; this does (plain selects on
// integers, no branches), and the vocab-wide passes are most of a draw's time.
static inline float exp_nonpos(float x) {
    const float shift = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in low bits
    const uint32_t lim = 0xC2AC0000u; // -86.0f; for x <= 0 a larger pattern is a smaller x
    uint32_t xb;
    memcpy(&xb, &x, 4);
    uint32_t cb = xb < lim ? xb : lim;
    int32_t keep = -(int32_t)(xb <= lim); // all ones, or 0 below -86 (and for -inf)
    float xc;
    memcpy(&xc, &cb, 4);
    float kf = xc * 1.44269504088896341f + shift; // k = round(x / ln 2)
    int32_t kb;
    memcpy(&kb, &kf, 4);
    kf -= shift;
    float r = xc - kf * 0.693145751953125f - kf * 1.428606765330187045e-06f; // |r| <= ln2 / 2
    float p = 1.0f / 5040; // Taylor to r^7: truncation error < 1e-8 relative
    p = p * r + 1.0f / 720, p = p * r + 1.0f / 120, p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6, p = p * r + 0.5f, p = p * r + 1.0f, p = p * r + 1.0f;
    int32_t pb;
    memcpy(&pb, &p, 4);
    pb = (pb + (kb - 0x4B400000) * (1 << 23)) & keep; // times 2^k, or 0
    float y;
    memcpy(&y, &pb, 4);
    return y;
}

// w[i] = exp((key_i - lmax) / t) for the whole row; returns their sum (in double, 8 lanes so
// that the sum vectorises too without reassociating one accumulator).
static double weigh_row(const float *l, int v, float lmax, float t, float *w) {
    for (int i = 0; i < v; i++) w[i] = exp_nonpos((key(l, i) - lmax) / t);
    double lane[8] = {0};
    int i = 0;
    for (; i + 8 <= v; i += 8)
        for (int j = 0; j < 8; j++) lane[j] += w[i + j];
    for (; i < v; i++) lane[0] += w[i];
    double z = 0;
    for (int j = 0; j < 8; j++) z += lane[j];
    return z;
}

// The first token of the order: the maximum key, lowest id among equals. The maximum is
// taken over integers that order like the floats (sign-magnitude to two's complement), so the
// reduction vectorises without fast-math.
static int argmax(const float *l, int vocab) {
    int32_t m = INT32_MIN;
    for (int i = 0; i < vocab; i++) {
        float k = key(l, i);
        int32_t b;
        memcpy(&b, &k, 4);
        b ^= (b >> 31) & 0x7FFFFFFF; // negative floats: larger magnitude -> smaller int
        m = b > m ? b : m;
    }
    m ^= (m >> 31) & 0x7FFFFFFF; // back to the float's bits
    float mf;
    memcpy(&mf, &m, 4);
    int i = 0;
    while (i < vocab - 1 && key(l, i) != mf) i++;
    return i;
}

// ---- the kept set -----------------------------------------------------------------------------

// What the selection step hands to the cut and the draw: the ids of a prefix of the order,
// sorted best-first in s->idx[0..n), with their weights in s->probs[id].
typedef struct {
    int n;
    double z_u;  // sum of w over the universe U (top-k set, or the vocab): top-p's reference
    double w_mp; // sum of w over U with d >= ln(min_p): the draw's total when top-p is off
} Prefix;

// top-k on: U is the k best tokens; they are the whole prefix.
static Prefix select_topk(Sampler *s, const float *l, int k, float lmax, float t, float ln_mp) {
    int *h = s->idx;
    for (int i = 0; i < k; i++) h[i] = i;
    heapify(h, k, l);
    for (int i = k; i < s->vocab; i++) {
        if (before(l, i, h[0])) {
            h[0] = i;
            sift_down(h, k, 0, l);
        }
    }
    sort_candidates(s, h, k, l);
    Prefix p = {k, 0, 0};
    for (int j = 0; j < k; j++) {
        float d = (key(l, h[j]) - lmax) / t;
        s->probs[h[j]] = exp_nonpos(d);
        p.z_u += s->probs[h[j]];
        if (d >= ln_mp) p.w_mp += s->probs[h[j]];
    }
    return p;
}

// top-k off: weights of the whole vocab (U) and the universe sums; no ids selected yet.
static Prefix weigh_vocab(Sampler *s, const float *l, const SamplerParams *sp, float lmax,
                          float ln_mp) {
    Prefix p = {0, 0, 0};
    float t = sp->temperature;
    p.z_u = p.w_mp = weigh_row(l, s->vocab, lmax, t, s->probs);
    if (ln_mp > -INFINITY && sp->top_p >= 1.0f) { // the draw's total is the min-p set's mass
        p.w_mp = 0;
        for (int i = 0; i < s->vocab; i++)
            if ((key(l, i) - lmax) / t >= ln_mp) p.w_mp += s->probs[i];
    }
    return p;
}

// Collects the tokens with d >= thr into s->idx (unsorted); returns how many and their mass.
static int collect(Sampler *s, const float *l, float lmax, float t, float thr, double *mass) {
    int n = 0;
    double m = 0;
    for (int i = 0; i < s->vocab; i++) {
        if ((key(l, i) - lmax) / t >= thr) {
            s->idx[n++] = i;
            m += s->probs[i];
        }
    }
    *mass = m;
    return n;
}

// top-k off: the shortest threshold prefix that surely contains the kept set (or, with top-p
// off, the draw point u * w_mp), sorted. Thresholds are on d = ln(p_i / p_max).
static void select_prefix(Sampler *s, const float *l, const SamplerParams *sp, float lmax,
                          float ln_mp, float u, Prefix *p) {
    static const float ln_ratio[] = {-4.0f, -9.0f, -18.0f, -INFINITY};
    int top_p_on = sp->top_p < 1.0f;
    for (int j = 0; j < 4; j++) {
        float thr = ln_ratio[j] > ln_mp ? ln_ratio[j] : ln_mp;
        thr = thr < 0.0f ? thr : 0.0f; // min_p > 1: still collect the first token (d = 0)
        double mass;
        p->n = collect(s, l, lmax, sp->temperature, thr, &mass);
        int enough = thr <= ln_mp || thr == -INFINITY ||
                     (top_p_on ? mass >= (double)sp->top_p * p->z_u : mass > (double)u * p->w_mp);
        if (enough) break;
    }
    sort_candidates(s, s->idx, p->n, l);
}

// Applies min-p and top-p to the sorted prefix and draws. Returns the token id.
static int cut_and_draw(const Sampler *s, const float *l, const SamplerParams *sp, float lmax,
                        float ln_mp, float u, const Prefix *p) {
    int n = p->n;
    while (n > 1 && (key(l, s->idx[n - 1]) - lmax) / sp->temperature < ln_mp) n--;
    double total = p->w_mp;
    if (sp->top_p < 1.0f) {
        double target = (double)sp->top_p * p->z_u, c = 0;
        int m = 0;
        while (m < n) {
            c += s->probs[s->idx[m++]];
            if (c >= target) break;
        }
        n = m;
        total = c;
    }
    double target = (double)u * total, c = 0;
    int last = s->idx[0];
    for (int m = 0; m < n; m++) {
        float w = s->probs[s->idx[m]];
        if (w <= 0) continue;
        c += w;
        last = s->idx[m];
        if (target < c) return last;
    }
    return last; // rounding left u * W at or past the last sum
}

// ---- the entry point --------------------------------------------------------------------------

int sample(Sampler *s, const float *logits, const SamplerParams *sp, uint64_t seed, uint32_t chain,
           uint32_t step, float *logprob) {
    int v = s->vocab, tok = argmax(logits, v);
    float lmax = key(logits, tok);
    int degenerate = !isfinite(lmax); // all -inf/NaN, or a +inf: nothing to weigh
    double lnz = NAN;                 // log-normaliser at T = 1, once known
    if (!degenerate && sp->temperature > 0) {
        float ln_mp = sp->min_p > 0 ? logf(sp->min_p) : -INFINITY;
        float u = rng_uniform(seed, chain, step);
        int k_on = sp->top_k > 0 && sp->top_k < v;
        Prefix p;
        if (k_on) {
            p = select_topk(s, logits, sp->top_k, lmax, sp->temperature, ln_mp);
        } else {
            p = weigh_vocab(s, logits, sp, lmax, ln_mp);
            if (sp->temperature == 1.0f) lnz = log(p.z_u);
            select_prefix(s, logits, sp, lmax, ln_mp, u, &p);
        }
        tok = cut_and_draw(s, logits, sp, lmax, ln_mp, u, &p);
    }
    if (logprob) {
        if (degenerate) {
            *logprob = lmax == INFINITY ? 0.0f : -INFINITY;
        } else {
            if (isnan(lnz))
                lnz = log(weigh_row(logits, v, lmax, 1.0f, s->probs)); // scratch is free now
            *logprob = (float)((double)key(logits, tok) - lmax - lnz);
        }
    }
    return tok;
}

// ---- token confidence
// ----------------------------------------------------------------------------

TokenConf token_confidence(Sampler *s, const float *logits, float temperature, int k) {
    int v = s->vocab;
    float lmax = key(logits, argmax(logits, v)), t = temperature > 0 ? temperature : 1.0f;
    TokenConf c = {NAN, NAN};
    if (!isfinite(lmax) || k < 1) return c;
    k = k < CONF_MAX_K ? k : CONF_MAX_K;
    double z = weigh_row(logits, v, lmax, t, s->probs), wd = 0;
    float top[CONF_MAX_K]; // the k largest d_i so far, descending
    int n_top = 0;
    for (int i = 0; i < v; i++) {
        float d = (key(logits, i) - lmax) / t;
        if (d == -INFINITY) continue; // masked: weight 0, and not among the "most likely"
        wd += (double)s->probs[i] * d;
        if (n_top == k && d <= top[k - 1]) continue;
        int j = n_top < k ? n_top++ : k - 1; // insertion into the short sorted list
        while (j > 0 && top[j - 1] < d) top[j] = top[j - 1], j--;
        top[j] = d;
    }
    double lnz = log(z), sum_top = 0; // log p_i = d_i - ln z
    for (int j = 0; j < n_top; j++) sum_top += top[j];
    c.conf = (float)(lnz - sum_top / n_top);
    c.entropy = (float)(lnz - wd / z);
    return c;
}
