// policy_io.c - the policy file: small, human-readable JSON (policy.h). It holds the score's
// coefficients, the bins with their allocation, every option the fitter weighed (so the policy
// can be re-allocated for another budget), and the calibration figures that justified it.
#include "util/json.h"
#include "util/json_parse.h"
#include "chains/policy.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void write_bin(FILE *f, const PolicyBin *b) {
    fprintf(f, "    {\"lo\": %.17g, \"extra\": %d, \"think\": %d, \"action\": \"%s\",\n", b->lo,
            b->extra, b->think, policy_action_name(b->action));
    fprintf(f, "     \"questions\": %d, \"mean_share\": %.6f, \"first_wave_accuracy\": %.6f,\n",
            b->n, b->mean_share, b->first_acc);
    fputs("     \"options\": [", f);
    for (int o = 0; o < b->n_opt; o++) {
        const PolicyOption *x = &b->opt[o];
        fprintf(f, "%s[%d, %d, %.17g, %.17g]", o ? (o % 4 ? ", " : ",\n                 ") : "",
                x->extra, x->think, x->accuracy, x->tokens);
    }
    fputs("]}", f);
}

int policy_write(FILE *f, const Policy *p) {
    fprintf(f, "{\"chorus_policy\": %d,\n \"wave\": %d, \"probe_think\": %d, \"n_max\": %d,\n",
            POLICY_VERSION, p->wave, p->probe_think, p->n_max);
    fprintf(f,
            " \"score\": {\"is\": \"logistic(c0 + c1*share + c2*answered + c3*mean_logprob)\","
            " \"coef\": [%.17g, %.17g, %.17g, %.17g]},\n",
            p->coef[0], p->coef[1], p->coef[2], p->coef[3]);
    fprintf(f, " \"budget_mean\": %.17g,\n \"calibration\": {\"source\": ", p->budget_mean);
    json_str(f, p->calib_source);
    fprintf(f,
            ", \"questions\": %d, \"accuracy\": %.6f, \"tokens\": %.3f,\n"
            "   \"majority_at_n_max\": {\"accuracy\": %.6f, \"tokens\": %.3f}},\n",
            p->calib_questions, p->calib_accuracy, p->calib_tokens, p->calib_ref_accuracy,
            p->calib_ref_tokens);
    fputs(" \"options_are\": [\"extra\", \"think\", \"accuracy\", \"tokens\"],\n \"bins\": [\n", f);
    for (int b = 0; b < p->n_bins; b++) {
        write_bin(f, &p->bins[b]);
        fputs(b + 1 < p->n_bins ? ",\n" : "\n", f);
    }
    fputs(" ]}\n", f);
    return fflush(f) || ferror(f) ? -1 : 0;
}

// ---- reading
// -------------------------------------------------------------------------------------

static int num_in(const JsonValue *v, const char *key, double lo, double hi, double *out) {
    const JsonValue *m = json_get(v, key);
    if (!m || m->type != JSON_NUMBER || !(m->number >= lo && m->number <= hi)) return -1;
    *out = m->number;
    return 0;
}

static int int_in(const JsonValue *v, const char *key, int lo, int hi, int *out) {
    double d;
    if (num_in(v, key, lo, hi, &d) || d != floor(d)) return -1;
    *out = (int)d;
    return 0;
}

static int read_option(const JsonValue *v, const Policy *p, PolicyOption *o) {
    if (v->type != JSON_ARRAY || v->n != 4) return -1;
    for (int i = 0; i < 4; i++)
        if (v->items[i].type != JSON_NUMBER) return -1;
    double e = v->items[0].number, t = v->items[1].number;
    o->accuracy = v->items[2].number, o->tokens = v->items[3].number;
    if (e != floor(e) || e < 0 || e > p->n_max - p->wave || t != floor(t) || t < 0 || t > 1 << 20 ||
        !(o->accuracy >= 0 && o->accuracy <= 1) || !(o->tokens >= 0 && o->tokens < 1e12))
        return -1;
    o->extra = (int)e, o->think = (int)t;
    return 0;
}

static int read_bin(const JsonValue *v, const Policy *p, PolicyBin *b) {
    const JsonValue *opts = json_get(v, "options");
    const char *action = json_string(v, "action");
    if (v->type != JSON_OBJECT || num_in(v, "lo", 0, 1, &b->lo) ||
        int_in(v, "extra", 0, p->n_max - p->wave, &b->extra) ||
        int_in(v, "think", 0, 1 << 20, &b->think) || int_in(v, "questions", 0, 1 << 30, &b->n) ||
        num_in(v, "mean_share", 0, 1, &b->mean_share) ||
        num_in(v, "first_wave_accuracy", 0, 1, &b->first_acc) || !action || !opts ||
        opts->type != JSON_ARRAY)
        return -1;
    if (!strcmp(action, "more"))
        b->action = POLICY_MORE;
    else if (!strcmp(action, "settled"))
        b->action = POLICY_SETTLED;
    else if (!strcmp(action, "hopeless"))
        b->action = POLICY_HOPELESS;
    else
        return -1;
    if ((b->action == POLICY_MORE) != (b->extra > 0)) return -1;
    if (!(b->opt = calloc((size_t)opts->n + 1, sizeof *b->opt))) return -1;
    for (int o = 0; o < opts->n; o++, b->n_opt++)
        if (read_option(&opts->items[o], p, &b->opt[o])) return -1;
    return 0;
}

static int read_policy(const JsonValue *root, Policy *p, char *why, size_t whylen) {
    const JsonValue *score = json_get(root, "score"), *cal = json_get(root, "calibration");
    const JsonValue *bins = json_get(root, "bins"), *coef = score ? json_get(score, "coef") : NULL;
    double version;
    if (root->type != JSON_OBJECT || num_in(root, "chorus_policy", 0, 1e9, &version) ||
        version != POLICY_VERSION)
        return snprintf(why, whylen, "not a chorus policy (version %d)", POLICY_VERSION), -1;
    if (int_in(root, "wave", 1, 4096, &p->wave) ||
        int_in(root, "n_max", p->wave, 4096, &p->n_max) ||
        int_in(root, "probe_think", 0, 1 << 20, &p->probe_think) ||
        num_in(root, "budget_mean", 0, 1e12, &p->budget_mean))
        return snprintf(why, whylen,
                        "wave, n_max, probe_think or budget_mean missing or out of range"),
               -1;
    if (!coef || coef->type != JSON_ARRAY || coef->n != 4)
        return snprintf(why, whylen, "score.coef is not 4 numbers"), -1;
    for (int i = 0; i < 4; i++) {
        if (coef->items[i].type != JSON_NUMBER || !isfinite(coef->items[i].number))
            return snprintf(why, whylen, "score.coef is not 4 numbers"), -1;
        p->coef[i] = coef->items[i].number;
    }
    if (!cal || int_in(cal, "questions", 0, 1 << 30, &p->calib_questions) ||
        num_in(cal, "accuracy", 0, 1, &p->calib_accuracy) ||
        num_in(cal, "tokens", 0, 1e12, &p->calib_tokens))
        return snprintf(why, whylen, "calibration figures missing or out of range"), -1;
    const JsonValue *ref = json_get(cal, "majority_at_n_max");
    if (ref) {
        num_in(ref, "accuracy", 0, 1, &p->calib_ref_accuracy);
        num_in(ref, "tokens", 0, 1e12, &p->calib_ref_tokens);
    }
    const char *src = json_string(cal, "source");
    if (src && !(p->calib_source = strdup(src))) return snprintf(why, whylen, "out of memory"), -1;
    if (!bins || bins->type != JSON_ARRAY || bins->n < 1 || bins->n > POLICY_MAX_BINS)
        return snprintf(why, whylen, "bins: 1 to %d expected", POLICY_MAX_BINS), -1;
    // counted before it is read: a bin that fails half-way is freed with the rest
    for (int b = 0; b < bins->n; b++)
        if (p->n_bins++, read_bin(&bins->items[b], p, &p->bins[b]) ||
                             (b > 0 && !(p->bins[b].lo > p->bins[b - 1].lo)))
            return snprintf(why, whylen, "bin %d is malformed", b), -1;
    return 0;
}

int policy_parse(const char *text, size_t n, const char *name, Policy *p, char *err,
                 size_t errlen) {
    memset(p, 0, sizeof *p);
    JsonValue root;
    char why[256];
    int rc = json_parse(text, n, &root, why, sizeof why);
    if (!rc) {
        rc = read_policy(&root, p, why, sizeof why);
        json_free(&root);
    }
    if (rc) {
        snprintf(err, errlen, "%s: %s", name, why);
        policy_free(p);
    }
    return rc;
}

int policy_load(const char *path, Policy *p, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1;
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) { // a policy is small; read it whole (64 MB at most)
        if (n + 4096 > cap) {
            char *t = cap > (64u << 20) ? NULL : realloc(text, cap = 2 * cap + 8192);
            if (!t) {
                free(text);
                fclose(f);
                return snprintf(err, errlen, "%s: too large or out of memory", path), -1;
            }
            text = t;
        }
        size_t got = fread(text + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    int rc = bad ? (snprintf(err, errlen, "%s: read error", path), -1)
                 : policy_parse(text, n, path, p, err, errlen);
    free(text);
    return rc;
}

void policy_print(FILE *f, const Policy *p) {
    fprintf(f, "\npolicy: first wave %d chains at T=%d, then by bin; target %.1f tokens/question\n",
            p->wave, p->probe_think, p->budget_mean);
    fprintf(f, "score = logistic(%.3f %+.3f*share %+.3f*answered %+.3f*mean_logprob)\n", p->coef[0],
            p->coef[1], p->coef[2], p->coef[3]);
    fprintf(f, "%4s %8s %5s %10s %9s %6s %6s %-9s %9s %9s\n", "bin", "score>=", "n", "share",
            "1st-acc", "more", "T", "action", "acc", "tok/q");
    for (int b = 0; b < p->n_bins; b++) {
        const PolicyBin *x = &p->bins[b];
        const PolicyOption *o = NULL; // the chosen option's calibration figures
        for (int j = 0; j < x->n_opt && !o; j++)
            if (x->opt[j].extra == x->extra && (x->extra == 0 || x->opt[j].think == x->think))
                o = &x->opt[j];
        fprintf(f, "%4d %8.3f %5d %10.3f %9.3f %6d %6d %-9s %9.3f %9.1f\n", b, x->lo, x->n,
                x->mean_share, x->first_acc, x->extra, x->extra ? x->think : p->probe_think,
                policy_action_name(x->action), o ? o->accuracy : 0, o ? o->tokens : 0);
    }
    fprintf(f,
            "calibration (%d questions): %.3f at %.1f tokens/question; majority@%d %.3f at "
            "%.1f\n",
            p->calib_questions, p->calib_accuracy, p->calib_tokens, p->n_max, p->calib_ref_accuracy,
            p->calib_ref_tokens);
}
