// report_read.c - reading report.json back (for --merge) and merging shard reports (report.h).
// Only the records are read: config, shards, totals and questions' chains. Tables and other
// derived members are recomputed by the caller, so a merged report cannot disagree with them.
#include "util/json_parse.h"
#include "util/printable.h"
#include "eval/report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// Member `key` of v as a whole number in [lo, hi], or dflt when absent (or not a number, as
// json_num). Checked as a double, before any conversion: (int)1e300 is undefined behaviour.
// 0, or -1 with the reason in why.
static int whole(const JsonValue *v, const char *key, double lo, double hi, double dflt,
                 double *out, char *why, size_t whylen) {
    double x = json_num(v, key, dflt);
    if (!(x >= lo && x <= hi) || x != floor(x)) {
        snprintf(why, whylen, "\"%s\" = %g is not a whole number in [%.0f, %.0f]", key, x, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}
#define WHOLE(v, key, lo, hi, dflt, dst, cast)                                                     \
    do {                                                                                           \
        double x_;                                                                                 \
        if (whole(v, key, lo, hi, dflt, &x_, why, whylen)) return -1;                              \
        dst = (cast)x_;                                                                            \
    } while (0)
#define COUNT_MAX 9007199254740992.0 // 2^53: token counts and the like, exact in a double

static int read_chain(const JsonValue *v, EvalChain *c, char *why, size_t whylen) {
    if (!v || v->type != JSON_OBJECT) return snprintf(why, whylen, "a chain is not an object"), -1;
    const char *a = json_string(v, "answer"), *stop = json_string(v, "stop");
    const char *text = json_string(v, "text");
    const JsonValue *ok = json_get(v, "correct"), *forced = json_get(v, "forced");
    WHOLE(v, "tokens", 0, INT_MAX, -1, c->tokens, int);
    WHOLE(v, "index", -1, INT_MAX, -1, c->index, int); // -1: an older report (its position)
    WHOLE(v, "think", -1, INT_MAX, -1, c->think, int); // -1: an older report (its config's)
    // null: not finite, which for a sum of log-probabilities is -inf
    c->sum_logprob = json_num_or_null(v, "sum_logprob", 0, -INFINITY);
    c->correct = ok && ok->type == JSON_BOOL && ok->boolean;
    const JsonValue *conf = json_get(v, "conf");
    c->mean_entropy = json_num_or_null(v, "entropy", 0, NAN);
    if (conf && conf->type == JSON_ARRAY) { // the confidence trace: one number per token
        if (conf->n != c->tokens)
            return snprintf(why, whylen, "\"conf\" has %d numbers for %d tokens", conf->n,
                            c->tokens),
                   -1;
        if (!(c->conf = malloc(((size_t)conf->n + 1) * sizeof *c->conf)))
            return snprintf(why, whylen, "out of memory"), -1;
        for (int i = 0; i < conf->n; i++) {
            const JsonValue *x = &conf->items[i];
            c->conf[i] = x->type == JSON_NUMBER && fabs(x->number) < 1e30 ? (float)x->number : NAN;
        }
    }
    c->forced = forced && forced->type == JSON_BOOL && forced->boolean;
    snprintf(c->stop, sizeof c->stop, "%s", stop ? stop : "");
    if ((a && !(c->answer = strdup(a))) || (text && !(c->text = strdup(text))))
        return snprintf(why, whylen, "out of memory"), -1;
    return 0;
}

static int flag(const JsonValue *v, const char *key) {
    const JsonValue *m = json_get(v, key);
    return m && m->type == JSON_BOOL && m->boolean;
}

// Fills *q; on failure q may hold part of the record (the caller frees it). think_dflt: the
// run's thinking budget, for chains of reports that predate the "think" field.
static int read_question(const JsonValue *v, int think_dflt, EvalQuestion *q, char *why,
                         size_t whylen) {
    if (v->type != JSON_OBJECT) return snprintf(why, whylen, "not an object"), -1;
    WHOLE(v, "id", 0, INT_MAX, -1, q->id, int);
    WHOLE(v, "line", 0, INT_MAX, 0, q->line, int);
    WHOLE(v, "level", -1, INT_MAX, -1, q->level, int);
    WHOLE(v, "prompt_tokens", 0, INT_MAX, 0, q->prompt_tokens, int);
    WHOLE(v, "decode_tokens", 0, COUNT_MAX, 0, q->decode_tokens, long);
    WHOLE(v, "forced_tokens", 0, COUNT_MAX, 0, q->forced_tokens, long);
    q->seconds = json_num(v, "seconds", 0);
    q->settled_early = flag(v, "settled_early");
    q->budget_capped = flag(v, "budget_capped");
    const char *stop = json_string(v, "stop");
    snprintf(q->stop, sizeof q->stop, "%s", stop ? stop : "");
    WHOLE(v, "bin", -1, POLICY_MAX_BINS - 1, -1, q->bin, int);
    q->score = json_num(v, "score", 0);
    const char *qt = json_string(v, "question"), *ref = json_string(v, "reference");
    if ((qt && !(q->question = strdup(qt))) || (ref && !(q->reference = strdup(ref))))
        return snprintf(why, whylen, "out of memory"), -1;
    const JsonValue *g = json_get(v, "greedy"), *ch = json_get(v, "chains");
    if (g && g->type == JSON_OBJECT) {
        q->has_greedy = 1;
        if (read_chain(g, &q->greedy, why, whylen)) return -1;
    }
    if (!ch || ch->type != JSON_ARRAY) return snprintf(why, whylen, "no \"chains\" array"), -1;
    if (!(q->chains = calloc((size_t)ch->n + 1, sizeof *q->chains)))
        return snprintf(why, whylen, "out of memory"), -1;
    // counted before it is read: a chain that fails half-way is freed with the rest
    for (int i = 0; i < ch->n; i++) {
        EvalChain *c = &q->chains[i];
        if (q->n_chains++, read_chain(&ch->items[i], c, why, whylen)) return -1;
        if (c->index < 0) c->index = i;
        if (c->think < 0) c->think = think_dflt;
    }
    eval_sort_chains(q); // the order eval_arm needs
    return 0;
}

static int read_config(const JsonValue *cfg, EvalReport *r) {
    for (int i = 0; cfg && i < cfg->n; i++) {
        const JsonValue *v = &cfg->items[i];
        int rc = v->type == JSON_STRING   ? report_set_str(r, cfg->keys[i], v->str)
                 : v->type == JSON_NULL   ? report_set_str(r, cfg->keys[i], NULL)
                 : v->type == JSON_NUMBER ? report_set_num(r, cfg->keys[i], v->number)
                 : v->type == JSON_BOOL   ? report_set_num(r, cfg->keys[i], v->boolean)
                                          : -1;
        if (rc) return -1;
    }
    return 0;
}

static int read_totals(const JsonValue *t, EvalTotals *s, char *why, size_t whylen) {
    WHOLE(t, "prefill_tokens", 0, COUNT_MAX, 0, s->prefill_tokens, long);
    WHOLE(t, "decode_tokens", 0, COUNT_MAX, 0, s->decode_tokens, long);
    WHOLE(t, "forced_tokens", 0, COUNT_MAX, 0, s->forced_tokens, long);
    WHOLE(t, "greedy_prefill_tokens", 0, COUNT_MAX, 0, s->greedy_prefill_tokens, long);
    WHOLE(t, "greedy_decode_tokens", 0, COUNT_MAX, 0, s->greedy_decode_tokens, long);
    s->sample_seconds = json_num(t, "sample_seconds", 0);
    s->greedy_seconds = json_num(t, "greedy_seconds", 0);
    s->wall_seconds = json_num(t, "wall_seconds", 0);
    return 0;
}

static int read_report(const JsonValue *root, EvalReport *r, char *why, size_t whylen) {
    const JsonValue *cfg = json_get(root, "config"), *qs = json_get(root, "questions");
    const JsonValue *sh = json_get(root, "shards");
    if (json_num(root, "chorus_eval", 0) != REPORT_VERSION || !cfg || cfg->type != JSON_OBJECT ||
        !qs || qs->type != JSON_ARRAY)
        return snprintf(why, whylen, "not a chorus eval report (version %d)", REPORT_VERSION), -1;
    if (read_config(cfg, r)) return snprintf(why, whylen, "bad config"), -1;
    char w[200];
    if (read_totals(json_get(root, "totals"), &r->totals, w, sizeof w))
        return snprintf(why, whylen, "totals: %s", w), -1;
    for (int i = 0; sh && sh->type == JSON_ARRAY && i < sh->n; i++) {
        char **g = realloc(r->shards, (size_t)(r->n_shards + 1) * sizeof *g);
        if (!g) return snprintf(why, whylen, "out of memory"), -1;
        r->shards = g;
        if (sh->items[i].type != JSON_STRING || !(g[r->n_shards] = strdup(sh->items[i].str)))
            return snprintf(why, whylen, "bad shards list"), -1;
        r->n_shards++;
    }
    if (!(r->qs = calloc((size_t)qs->n + 1, sizeof *r->qs)))
        return snprintf(why, whylen, "out of memory"), -1;
    double td = report_num(r, "think_tokens", 0); // range-checked before the conversion
    int think_dflt = td >= 0 && td <= (1 << 20) ? (int)td : 0;
    // counted before it is read: a question that fails half-way is freed with the rest
    for (int i = 0; i < qs->n; i++)
        if (r->n_q++, read_question(&qs->items[i], think_dflt, &r->qs[i], w, sizeof w))
            return snprintf(why, whylen, "question %d: %s", i, w), -1;
    return 0;
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    struct stat st;
    if (!fstat(fileno(f), &st) && !S_ISREG(st.st_mode)) {
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL; // "Invalid argument": not a plain file
    } else if (!fseek(f, 0, SEEK_END)) {
        long size = ftell(f);
        rewind(f);
        if (size >= 0 && (buf = malloc((size_t)size + 1)) &&
            fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
            errno = EIO;
        }
        *n = size > 0 ? (size_t)size : 0;
    }
    fclose(f);
    return buf;
}

int report_parse(const char *text, size_t n, const char *name, EvalReport *r, char *err,
                 size_t errlen) {
    memset(r, 0, sizeof *r);
    JsonValue root;
    char why[256];
    if (json_parse(text, n, &root, why, sizeof why))
        return snprintf(err, errlen, "%s: not JSON (%s)", name, why), -1;
    int rc = read_report(&root, r, why, sizeof why);
    json_free(&root);
    if (rc) {
        snprintf(err, errlen, "%s: %s", name, why);
        report_free(r);
    }
    return rc;
}

int report_load(const char *path, EvalReport *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    size_t n = 0;
    errno = 0;
    char *text = slurp(path, &n);
    if (!text) return snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO)), -1;
    int rc = report_parse(text, n, path, r, err, errlen);
    free(text);
    return rc;
}

// ---- merging ---------------------------------------------------------------------------------

static int kv_equal(const ReportKV *a, const ReportKV *b) {
    if (!b || a->is_str != b->is_str) return 0;
    if (!a->is_str) return a->num == b->num;
    return (!a->str && !b->str) || (a->str && b->str && !strcmp(a->str, b->str));
}

static int by_id(const void *a, const void *b) {
    const EvalQuestion *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

// Moves every record of `in` into *out (in is left empty).
static int take_all(EvalReport *in, EvalReport *out) {
    EvalQuestion *g = realloc(out->qs, (size_t)(out->n_q + in->n_q + 1) * sizeof *g);
    char **s = realloc(out->shards, (size_t)(out->n_shards + in->n_shards + 1) * sizeof *s);
    if (g) out->qs = g;
    if (s) out->shards = s;
    if (!g || !s) return -1;
    if (in->n_q) memcpy(out->qs + out->n_q, in->qs, (size_t)in->n_q * sizeof *g);
    if (in->n_shards) // a report without "shards" has none (and NULL: memcpy's UB)
        memcpy(out->shards + out->n_shards, in->shards, (size_t)in->n_shards * sizeof *s);
    out->n_q += in->n_q, out->n_shards += in->n_shards;
    in->n_q = in->n_shards = 0;
    EvalTotals *a = &out->totals, *b = &in->totals;
    a->prefill_tokens += b->prefill_tokens, a->decode_tokens += b->decode_tokens;
    a->forced_tokens += b->forced_tokens, a->greedy_prefill_tokens += b->greedy_prefill_tokens;
    a->greedy_decode_tokens += b->greedy_decode_tokens, a->sample_seconds += b->sample_seconds;
    a->greedy_seconds += b->greedy_seconds, a->wall_seconds += b->wall_seconds;
    return 0;
}

int report_merge(EvalReport *in, int n_in, EvalReport *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    for (int i = 1; i < n_in; i++) {
        if (in[i].n_config != in[0].n_config)
            return snprintf(err, errlen, "report %d differs in its settings (config members)",
                            i + 1),
                   -1;
        for (int j = 0; j < in[0].n_config; j++)
            if (!kv_equal(&in[0].config[j], report_get(&in[i], in[0].config[j].key))) {
                char key[PRINTABLE_MAX];
                snprintf(err, errlen, "report %d differs in config \"%s\"", i + 1,
                         printable_str(key, sizeof key, in[0].config[j].key));
                return -1;
            }
    }
    for (int j = 0; n_in > 0 && j < in[0].n_config; j++) {
        const ReportKV *kv = &in[0].config[j];
        if (kv->is_str ? report_set_str(out, kv->key, kv->str)
                       : report_set_num(out, kv->key, kv->num))
            return snprintf(err, errlen, "out of memory"), -1;
    }
    for (int i = 0; i < n_in; i++)
        if (take_all(&in[i], out)) return snprintf(err, errlen, "out of memory"), -1;
    qsort(out->qs, (size_t)out->n_q, sizeof *out->qs, by_id);
    for (int i = 1; i < out->n_q; i++)
        if (out->qs[i].id == out->qs[i - 1].id)
            return snprintf(err, errlen, "question %d is in more than one report", out->qs[i].id),
                   -1;
    return 0;
}
