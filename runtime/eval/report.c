// report.c - report.json: config, totals, questions and tables out; config, totals and
// questions back in (tables are always recomputed), and merging shard reports (report.h).
#include "eval/report.h"
#include "util/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- config ----------------------------------------------------------------------------------

static ReportKV *kv_slot(EvalReport *r, const char *key) {
    for (int i = 0; i < r->n_config; i++)
        if (!strcmp(r->config[i].key, key)) {
            free(r->config[i].str);
            r->config[i].str = NULL;
            return &r->config[i];
        }
    ReportKV *g = realloc(r->config, (size_t)(r->n_config + 1) * sizeof *g);
    if (!g) return NULL;
    r->config = g;
    ReportKV *kv = &g[r->n_config];
    memset(kv, 0, sizeof *kv);
    if (!(kv->key = strdup(key))) return NULL;
    r->n_config++;
    return kv;
}

int report_set_str(EvalReport *r, const char *key, const char *value) {
    ReportKV *kv = kv_slot(r, key);
    if (!kv) return -1;
    kv->is_str = 1;
    return value && !(kv->str = strdup(value)) ? -1 : 0;
}

int report_set_num(EvalReport *r, const char *key, double value) {
    ReportKV *kv = kv_slot(r, key);
    if (!kv) return -1;
    kv->is_str = 0;
    kv->num = value;
    return 0;
}

const ReportKV *report_get(const EvalReport *r, const char *key) {
    for (int i = 0; i < r->n_config; i++)
        if (!strcmp(r->config[i].key, key)) return &r->config[i];
    return NULL;
}

double report_num(const EvalReport *r, const char *key, double dflt) {
    const ReportKV *kv = report_get(r, key);
    return kv && !kv->is_str ? kv->num : dflt;
}

// "1,2,4" -> ascending ints in [lo, hi] [cap]; the count, or -1 if malformed.
static int int_list(const char *s, long lo, long hi, int *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < lo || v > hi || (n && v <= out[n - 1])) return -1;
        out[n++] = (int)v;
        if (*end && *end != ',') return -1;
        s = *end == ',' ? end + 1 : end;
    }
    return *s ? -1 : n;
}

// A config number that must be a whole number in [lo, hi] (the command line's ranges), checked
// before it is converted; dflt when absent (NAN: required). 0, or -1 with a message.
static int cfg_whole(const EvalReport *r, const char *key, double dflt, double lo, double hi,
                     int *out, char *err, size_t errlen) {
    double v = report_num(r, key, dflt);
    if (!(v >= lo && v <= hi) || v != floor(v)) {
        snprintf(err, errlen, "config \"%s\" = %g is not a whole number in [%g, %g]", key, v, lo,
                 hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int report_params(const EvalReport *r, EvalParams *p, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    const ReportKV *ks = report_get(r, "ks"), *th = report_get(r, "thinks");
    if (!ks || !ks->is_str || !ks->str) return snprintf(err, errlen, "config has no \"ks\""), -1;
    if ((p->n_ks = int_list(ks->str, 1, 4096, p->ks, EVAL_MAX_KS)) < 1)
        return snprintf(err, errlen, "config \"ks\" is not an increasing list of 1..4096"), -1;
    double conf = report_num(r, "confidence", 0.95);
    // think_tokens: absent from hand-made reports, where every chain is in one arm (0)
    if (cfg_whole(r, "n_max", NAN, 1, 4096, &p->n_max, err, errlen) ||
        cfg_whole(r, "wave", NAN, 1, 4096, &p->wave, err, errlen) ||
        cfg_whole(r, "think_tokens", 0, 0, 1 << 20, &p->think, err, errlen))
        return -1;
    if (!(conf >= 0.5 && conf <= 1))
        return snprintf(err, errlen, "config \"confidence\" = %g is not in [0.5, 1]", conf), -1;
    p->confidence = conf;
    p->adaptive = report_num(r, "adaptive", 0) != 0;
    const ReportKV *pol = report_get(r, "policy"), *dc = report_get(r, "deepconf");
    p->live = p->adaptive || (pol && pol->is_str && pol->str) || (dc && dc->is_str && dc->str);
    // reports made before thinking-budget sweeps hold one arm: the think_tokens one
    if (th && th->is_str && th->str)
        p->n_thinks = int_list(th->str, 0, 1 << 20, p->thinks, EVAL_MAX_THINKS);
    else
        p->thinks[0] = p->think, p->n_thinks = 1;
    int has_primary = 0;
    for (int j = 0; j < p->n_thinks; j++) has_primary |= p->thinks[j] == p->think;
    if (p->n_thinks < 1 || !has_primary)
        return snprintf(err, errlen, "config \"thinks\" is malformed or lacks think_tokens"), -1;
    return 0;
}

// ---- writing ---------------------------------------------------------------------------------

static const char *tf(int b) {
    return b ? "true" : "false";
}

static void write_chain(FILE *f, const EvalChain *c, int with_index) {
    fputc('{', f);
    if (with_index) fprintf(f, "\"index\":%d,\"think\":%d,", c->index, c->think);
    fputs("\"answer\":", f);
    json_str(f, c->answer);
    fprintf(f, ",\"correct\":%s,\"tokens\":%d,\"sum_logprob\":", tf(c->correct), c->tokens);
    json_num_fmt(f, "%.17g", c->sum_logprob); // -inf (null) after a token of probability 0
    fputs(",\"stop\":", f);
    json_str(f, c->stop);
    fprintf(f, ",\"forced\":%s,\"text\":", tf(c->forced));
    json_str(f, c->text);
    if (c->conf) { // 3 decimals: the trace scores average many of them
        fputs(",\"entropy\":", f);
        json_num_fmt(f, "%.4f", c->mean_entropy);
        fputs(",\"conf\":[", f);
        for (int i = 0; i < c->tokens; i++) {
            if (i) fputc(',', f);
            json_num_fmt(f, "%.3f", c->conf[i]);
        }
        fputc(']', f);
    }
    fputc('}', f);
}

static void write_question(FILE *f, const EvalQuestion *q, const EvalDerived *d) {
    fprintf(f, "{\"id\":%d,\"line\":%d,\"level\":", q->id, q->line);
    if (q->level >= 0)
        fprintf(f, "%d", q->level);
    else
        fputs("null", f);
    fputs(",\"reference\":", f);
    json_str(f, q->reference);
    fputs(",\"question\":", f);
    json_str(f, q->question);
    fprintf(f,
            ",\"prompt_tokens\":%d,\"decode_tokens\":%ld,\"forced_tokens\":%ld,"
            "\"settled_early\":%s,\"budget_capped\":%s,\"seconds\":%.3f,\"stop\":",
            q->prompt_tokens, q->decode_tokens, q->forced_tokens, tf(q->settled_early),
            tf(q->budget_capped), q->seconds);
    json_str(f, q->stop);
    if (q->bin >= 0) {
        fprintf(f, ",\"bin\":%d,\"score\":", q->bin);
        json_num_fmt(f, "%.17g", q->score);
    }
    fputc(',', f);
    fputs("\"majority\":", f);
    json_str(f, d->majority);
    fprintf(f,
            ",\"majority_correct\":%s,\"agreement\":%.6f,\"adaptive\":{\"chains\":%d,"
            "\"tokens\":%ld,\"correct\":%s,\"settled\":%s},\"greedy\":",
            tf(d->majority_correct), d->agreement, d->ad_chains, d->ad_tokens, tf(d->ad_correct),
            tf(d->ad_settled));
    if (q->has_greedy)
        write_chain(f, &q->greedy, 0);
    else
        fputs("null", f);
    fputs(",\"chains\":[", f);
    for (int i = 0; i < q->n_chains; i++) {
        if (i) fputc(',', f);
        write_chain(f, &q->chains[i], 1);
    }
    fputs("]}", f);
}

static void write_at(FILE *f, const EstAtK *e) {
    fprintf(f,
            "{\"k\":%d,\"majority\":%.6f,\"weighted\":%.6f,\"best\":%.6f,\"pass\":%.6f,"
            "\"tokens\":%.3f,\"exact\":%s,\"subsets\":%ld}",
            e->k, e->majority, e->weighted, e->best, e->pass, e->tokens, tf(e->exact), e->subsets);
}

static void write_group(FILE *f, const EvalGroup *g, int n_ks) {
    fputs("{\"group\":", f);
    json_str(f, g->name);
    fprintf(f, ",\"questions\":%d,\"greedy\":", g->n);
    if (g->n_greedy)
        fprintf(f, "{\"accuracy\":%.6f,\"tokens\":%.3f}", g->greedy, g->greedy_tokens);
    else
        fputs("null", f);
    fprintf(f,
            ",\"adaptive\":{\"accuracy\":%.6f,\"tokens\":%.3f,\"chains\":%.4f,"
            "\"settled_early\":%d},\"fixed\":[",
            g->ad_acc, g->ad_tokens, g->ad_chains, g->ad_settled);
    for (int j = 0; j < n_ks; j++) {
        if (j) fputc(',', f);
        write_at(f, &g->at[j]);
    }
    fputs("]}", f);
}

static void write_tables(FILE *f, const EvalTables *t) {
    fputs("{\"all\":", f);
    write_group(f, &t->all, t->n_fixed_ks);
    fputs(",\"by_level\":[", f);
    for (int g = 0; g < t->n_levels; g++) {
        if (g) fputc(',', f);
        write_group(f, &t->levels[g], t->n_fixed_ks);
    }
    fputs("],\"by_agreement\":[", f);
    for (int b = 0; b < EVAL_AGREE_BUCKETS; b++) {
        if (b) fputc(',', f);
        write_group(f, &t->agree[b], t->n_fixed_ks);
    }
    fprintf(f, "],\"adaptive_replayed\":%s}", tf(!t->p.adaptive));
}

int report_write(FILE *f, const EvalReport *r, const EvalTables *t, const EvalMethods *m) {
    fprintf(f, "{\"chorus_eval\":%d,\n\"config\":{", REPORT_VERSION);
    for (int i = 0; i < r->n_config; i++) {
        const ReportKV *kv = &r->config[i];
        fprintf(f, "%s", i ? "," : "");
        json_str(f, kv->key);
        fputc(':', f);
        if (kv->is_str)
            json_str(f, kv->str);
        else
            fprintf(f, "%.17g", kv->num);
    }
    fputs("},\n\"shards\":[", f);
    for (int i = 0; i < r->n_shards; i++) {
        if (i) fputc(',', f);
        json_str(f, r->shards[i]);
    }
    const EvalTotals *s = &r->totals;
    fprintf(f,
            "],\n\"totals\":{\"questions\":%d,\"prefill_tokens\":%ld,\"decode_tokens\":%ld,"
            "\"forced_tokens\":%ld,\"greedy_prefill_tokens\":%ld,\"greedy_decode_tokens\":%ld,"
            "\"sample_seconds\":%.3f,\"greedy_seconds\":%.3f,\"wall_seconds\":%.3f},\n",
            r->n_q, s->prefill_tokens, s->decode_tokens, s->forced_tokens, s->greedy_prefill_tokens,
            s->greedy_decode_tokens, s->sample_seconds, s->greedy_seconds, s->wall_seconds);
    fputs("\"tables\":", f);
    write_tables(f, t);
    if (m) fputs(",\n\"methods\":", f), eval_methods_write(f, m);
    fputs(",\n\"questions\":[\n", f);
    for (int i = 0; i < r->n_q; i++) {
        write_question(f, &r->qs[i], &t->d[i]);
        fputs(i + 1 < r->n_q ? ",\n" : "\n", f);
    }
    fputs("]}\n", f);
    return fflush(f) || ferror(f) ? -1 : 0;
}

void report_free(EvalReport *r) {
    for (int i = 0; i < r->n_config; i++) {
        free(r->config[i].key);
        free(r->config[i].str);
    }
    free(r->config);
    for (int i = 0; i < r->n_shards; i++) free(r->shards[i]);
    free(r->shards);
    for (int i = 0; i < r->n_q; i++) eval_question_free(&r->qs[i]);
    free(r->qs);
    memset(r, 0, sizeof *r);
}
