// eval/methods_print.c - the methods table on the terminal and in report.json (eval/methods.h).
#include "eval/methods.h"
#include "util/json.h"

#include <math.h>
#include <string.h>

static void param_str(const MethodPoint *pt, char *b, size_t n) {
    if (!strcmp(pt->method, "majority") || !strcmp(pt->method, "weighted") ||
        !strcmp(pt->method, "conf") || !strncmp(pt->method, "top", 3))
        snprintf(b, n, "k=%g", pt->param);
    else if (!strncmp(pt->method, "deepconf", 8))
        snprintf(b, n, "init=%g", pt->param);
    else if (!strcmp(pt->method, "beta"))
        snprintf(b, n, "c=%g", pt->param);
    else if (!strcmp(pt->method, "esc"))
        snprintf(b, n, "w=%g", pt->param);
    else if (!strcmp(pt->method, "policy"))
        snprintf(b, n, "B=%.0f", pt->param);
    else
        snprintf(b, n, "-");
}

static void think_str(int think, char *b, size_t n) {
    if (think < 0)
        snprintf(b, n, "mix");
    else
        snprintf(b, n, "%d", think);
}

static void print_bins(FILE *f, const EvalMethods *m, const Policy *pol) {
    fprintf(
        f,
        "\npolicy bins (score = predicted share of correct chains; held-out beside calibration)\n");
    fprintf(f, "%4s %13s %6s %6s %-9s %5s %9s %9s %9s %9s\n", "bin", "score", "more", "T", "action",
            "n", "acc", "tok/q", "cal.acc", "cal.tok");
    for (int b = 0; b < m->n_bins; b++) {
        const PolicyBin *pb = &pol->bins[b];
        const MethodBin *mb = &m->bins[b];
        char range[32];
        snprintf(range, sizeof range, "%.3f-%s", pb->lo, b + 1 < pol->n_bins ? "" : "1");
        if (b + 1 < pol->n_bins)
            snprintf(range, sizeof range, "%.3f-%.3f", pb->lo, pol->bins[b + 1].lo);
        fprintf(f, "%4d %13s %6d %6d %-9s %5d %9.3f %9.1f %9.3f %9.1f\n", b, range, pb->extra,
                pb->extra ? pb->think : pol->probe_think, policy_action_name(pb->action), mb->n,
                mb->accuracy, mb->tokens, mb->calib_accuracy, mb->calib_tokens);
    }
}

static void print_auroc(FILE *f, const EvalMethods *m) {
    static const int windows[] = AUROC_WINDOWS;
    fprintf(f,
            "\ntrace confidence vs correctness: AUROC over all chains (within %d questions "
            "with right and wrong chains); 0.5 = no signal\n%-9s",
            m->n_within, "score");
    for (int w = 0; w < 3; w++) fprintf(f, "        W=%-2d       ", windows[w]);
    fputc('\n', f);
    for (int s = 0; s < TRACE_N_SCORES; s++) {
        fprintf(f, "%-9s", trace_score_name((TraceScore)s));
        for (int w = 0; w < 3; w++)
            fprintf(f, "   %.3f (%.3f)    ", m->auroc[s][w], m->auroc_within[s][w]);
        fputc('\n', f);
    }
}

void eval_methods_print(FILE *f, const EvalMethods *m, const EvalParams *p, const Policy *pol) {
    if (m->n_pt == 0) return;
    const MethodPoint *ref = m->ref >= 0 ? &m->pt[m->ref] : NULL;
    fprintf(f,
            "\nmethods: accuracy [95%% bootstrap interval] against mean sampled tokens per "
            "question, %d questions",
            m->n_q);
    if (ref) fprintf(f, "; ref = majority@%g at T=%d", ref->param, ref->think);
    fprintf(f, "\n%-13s %5s %8s %7s %17s %9s %8s %17s\n", "method", "T", "param", "acc", "[95% CI]",
            "tok/q", "vs ref", "[95% CI]");
    for (int i = 0; i < m->n_pt; i++) {
        const MethodPoint *pt = &m->pt[i];
        char par[24], th[16];
        param_str(pt, par, sizeof par);
        think_str(pt->think, th, sizeof th);
        fprintf(f, "%-13s %5s %8s %7.3f   [%5.3f, %5.3f] %9.1f", pt->method, th, par, pt->accuracy,
                pt->lo, pt->hi, pt->tokens);
        if (!isnan(pt->diff))
            fprintf(f, " %+8.3f  [%+6.3f, %+6.3f]", pt->diff, pt->diff_lo, pt->diff_hi);
        if (pt->ended > 0) fprintf(f, "  %.0f%% of chains ended early", 100 * pt->ended);
        if (!isnan(pt->eq_diff))
            fprintf(f, "  vs best majority at equal tokens (T=%d) %+.3f [%+.3f, %+.3f]",
                    pt->eq_think, pt->eq_diff, pt->eq_lo, pt->eq_hi);
        fputc('\n', f);
    }
    if (ref && m->n_target) {
        fprintf(f,
                "\ntokens per question to reach the reference's accuracy (%.3f; its tokens %.1f)\n",
                ref->accuracy, ref->tokens);
        for (int t = 0; t < m->n_target; t++) {
            const MethodTarget *g = &m->target[t];
            char th[16];
            think_str(g->think, th, sizeof th);
            if (isnan(g->tokens))
                fprintf(f, "  %-13s T=%-5s not reached (best %.3f at %.1f tokens)\n", g->method, th,
                        g->best_acc, g->best_tokens);
            else
                fprintf(f, "  %-13s T=%-5s %8.1f tokens  %.2fx the reference's efficiency\n",
                        g->method, th, g->tokens, ref->tokens / g->tokens);
        }
    }
    if (pol && m->n_bins) print_bins(f, m, pol);
    if (m->has_conf) print_auroc(f, m);
    (void)p;
}

static void num(FILE *f, double v) {
    if (isnan(v))
        fputs("null", f);
    else
        fprintf(f, "%.6f", v);
}

void eval_methods_write(FILE *f, const EvalMethods *m) {
    fprintf(f, "{\"reference\":%d,\"points\":[", m->ref);
    for (int i = 0; i < m->n_pt; i++) {
        const MethodPoint *pt = &m->pt[i];
        fprintf(f, "%s{\"method\":", i ? "," : "");
        json_str(f, pt->method);
        fprintf(f,
                ",\"think\":%d,\"param\":%.6g,\"accuracy\":%.6f,\"tokens\":%.3f,\"ci\":[%.6f,%.6f]",
                pt->think, pt->param, pt->accuracy, pt->tokens, pt->lo, pt->hi);
        fputs(",\"vs_ref\":", f), num(f, pt->diff);
        fputs(",\"vs_ref_ci\":[", f), num(f, pt->diff_lo), fputc(',', f), num(f, pt->diff_hi);
        fputs("],\"vs_majority_equal_tokens\":", f), num(f, pt->eq_diff);
        fprintf(f, ",\"vs_majority_equal_tokens_think\":%d", pt->eq_think);
        fprintf(f, ",\"ended_early\":%.6f", pt->ended);
        fputs(",\"vs_majority_equal_tokens_ci\":[", f), num(f, pt->eq_lo), fputc(',', f),
            num(f, pt->eq_hi);
        fputs("]}", f);
    }
    fputs("],\"to_reference_accuracy\":[", f);
    for (int t = 0; t < m->n_target; t++) {
        const MethodTarget *g = &m->target[t];
        fprintf(f, "%s{\"method\":", t ? "," : "");
        json_str(f, g->method);
        fprintf(f, ",\"think\":%d,\"tokens\":", g->think);
        num(f, g->tokens);
        fprintf(f, ",\"best_accuracy\":%.6f,\"best_tokens\":%.3f}", g->best_acc, g->best_tokens);
    }
    fputs("],\"auroc\":{", f);
    static const int windows[] = AUROC_WINDOWS;
    for (int s = 0; m->has_conf && s < TRACE_N_SCORES; s++) {
        fprintf(f, "%s\"%s\":[", s ? "," : "", trace_score_name((TraceScore)s));
        for (int w = 0; w < 3; w++) {
            fprintf(f, "%s{\"window\":%d,\"pooled\":", w ? "," : "", windows[w]);
            num(f, m->auroc[s][w]);
            fputs(",\"within\":", f);
            num(f, m->auroc_within[s][w]);
            fputc('}', f);
        }
        fputc(']', f);
    }
    fputc('}', f);
    fputs(",\"policy_bins\":[", f);
    for (int b = 0; b < m->n_bins; b++) {
        const MethodBin *g = &m->bins[b];
        fprintf(f,
                "%s{\"bin\":%d,\"questions\":%d,\"accuracy\":%.6f,\"tokens\":%.3f,"
                "\"calibration_accuracy\":%.6f,\"calibration_tokens\":%.3f}",
                b ? "," : "", g->bin, g->n, g->accuracy, g->tokens, g->calib_accuracy,
                g->calib_tokens);
    }
    fputs("]}", f);
}
