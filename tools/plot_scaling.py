#!/usr/bin/env python3
"""plot_scaling.py - test-time scaling curves from a `chorus eval` report.

    .venv/bin/python tools/plot_scaling.py report.json [-o scaling.png] [--title TEXT]

Left panel: accuracy against mean decoded tokens per question, one line per method: greedy
(a point), majority@k, weighted@k, best-of-k (k = the report's ks), adaptive (a point), and
pass@k dashed (an oracle upper bound, not a method). Right panel: majority@k against tokens
for each difficulty group (oracle level when the tasks have one, else first-wave agreement),
with each group's greedy accuracy as a marker, so a level where voting does not help shows
as a flat or falling line. When the report has a methods table (chorus eval's comparison of
ways to spend compute), a third panel draws every method's curve on the same samples: majority@k
at each thinking budget T (the sequential axis), weighted@k, the adaptive rule at several
confidences, ESC windows, a compute-optimal policy at several budgets, a live run's point; the
reference (majority@N_max) and the policy's points carry their 95% bootstrap intervals. The
output format follows the extension (.png, .svg, .pdf).
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import LogLocator, ScalarFormatter  # noqa: E402


def log_tokens_axis(ax, ylabel):
    """Log x axis with plain-number ticks (tokens), accuracy y axis from 0."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("mean decoded tokens per question (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=-0.02)
    ax.grid(True, which="both", alpha=0.3)


def method_panel(ax, all_):
    fixed = all_["fixed"]
    toks = [r["tokens"] for r in fixed]
    styles = [("majority", "majority@k", "C0", "o-"), ("weighted", "weighted@k", "C1", "s-"),
              ("best", "best-of-k", "C2", "^-"), ("pass", "pass@k (oracle)", "0.6", "x--")]
    for key, label, color, fmt in styles:
        ax.plot(toks, [r[key] for r in fixed], fmt, color=color, label=label, ms=5)
    for r in fixed:
        ax.annotate(f"k={r['k']}", (r["tokens"], r["majority"]), textcoords="offset points",
                    xytext=(4, -11), fontsize=7, color="C0")
    if all_.get("greedy"):
        g = all_["greedy"]
        ax.plot([g["tokens"]], [g["accuracy"]], "D", color="k", ms=7, label="greedy")
    ad = all_["adaptive"]
    ax.plot([ad["tokens"]], [ad["accuracy"]], "*", color="C3", ms=14,
            label=f"adaptive ({ad['chains']:.1f} chains/q)")
    log_tokens_axis(ax, "accuracy")
    ax.set_title(f"all {all_['questions']} questions")
    ax.legend(fontsize=8, loc="best")


def difficulty_panel(ax, tables):
    groups, kind = tables["by_level"], "level"
    if not groups:
        groups, kind = [g for g in tables["by_agreement"] if g["questions"]], "agreement"
    cmap = plt.get_cmap("viridis")
    for i, g in enumerate(groups):
        color = cmap(i / max(1, len(groups) - 1))
        fixed = g["fixed"]
        label = f"{kind} {g['group']} (n={g['questions']})"
        ax.plot([r["tokens"] for r in fixed], [r["majority"] for r in fixed], "o-", color=color,
                label=label, ms=4)
        if g.get("greedy"):
            ax.plot([g["greedy"]["tokens"]], [g["greedy"]["accuracy"]], "D", color=color, ms=6,
                    mfc="white")
    log_tokens_axis(ax, "majority@k accuracy")
    ax.set_title(f"by {kind}  (lines: majority@k, k = {', '.join(str(r['k']) for r in tables['all']['fixed'])};"
                 " open diamonds: greedy)", fontsize=10)
    ax.legend(fontsize=8, loc="best")


METHOD_STYLE = {"majority": ("o-", None), "weighted": ("s--", "C1"), "beta": ("v-", "C3"),
                "esc": ("^-", "C4"), "policy": ("*-", "C2"), "live": ("P", "C5"),
                "greedy": ("D", "k"), "conf": ("d--", "C6"), "top10": ("<", "C7"),
                "top90": (">", "C7"), "deepconf-low": ("X", "C8"), "deepconf-high": ("X", "C9")}


def methods_panel(ax, methods):
    pts = methods["points"]
    curves = {}
    for p in pts:
        curves.setdefault((p["method"], p["think"]), []).append(p)
    arms = sorted({t for (m, t) in curves if m == "majority"})
    blues = plt.get_cmap("Blues")
    for (m, t), cs in curves.items():
        cs = sorted(cs, key=lambda p: p["tokens"])
        fmt, color = METHOD_STYLE.get(m, ("x-", "0.5"))
        if m == "majority":
            color = blues(0.45 + 0.55 * arms.index(t) / max(1, len(arms) - 1))
        label = m if t < 0 or m in ("greedy",) else f"{m} T={t}"
        xs, ys = [p["tokens"] for p in cs], [p["accuracy"] for p in cs]
        ax.plot(xs, ys, fmt, color=color, label=label, ms=9 if m == "policy" else 5)
        if m in ("policy", "live", "deepconf-low", "deepconf-high"):
            ax.errorbar(xs, ys, yerr=[[p["accuracy"] - p["ci"][0] for p in cs],
                                      [p["ci"][1] - p["accuracy"] for p in cs]],
                        fmt="none", ecolor=color, alpha=0.6, capsize=3)
    ref = methods["reference"]
    if ref >= 0:
        r = pts[ref]
        ax.errorbar([r["tokens"]], [r["accuracy"]], yerr=[[r["accuracy"] - r["ci"][0]],
                                                          [r["ci"][1] - r["accuracy"]]],
                    fmt="o", color="navy", capsize=4, ms=8, mfc="white",
                    label=f"reference majority@{r['param']:g} (95% CI)")
        ax.axhline(r["accuracy"], color="navy", ls=":", lw=1)
    log_tokens_axis(ax, "accuracy")
    ax.set_title("methods on the same samples", fontsize=10)
    ax.legend(fontsize=7, loc="best", ncol=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("report")
    ap.add_argument("-o", "--out", default="scaling.png")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    try:
        r = json.load(open(a.report))
        tables = r["tables"]
    except (OSError, ValueError, KeyError) as e:
        print(f"plot_scaling: {a.report}: not a chorus eval report ({e})", file=sys.stderr)
        return 1
    methods = r.get("methods")
    if methods and methods.get("points"):
        fig, (left, right, third) = plt.subplots(1, 3, figsize=(19, 5.5))
        methods_panel(third, methods)
    else:
        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    method_panel(left, tables["all"])
    difficulty_panel(right, tables)
    cfg = r["config"]
    title = a.title or (f"{cfg['model'].split('/')[-1]} on {cfg['data'].split('/')[-1]}: "
                        f"temp {cfg['temp']:g}, max {int(cfg['max_tokens'])} tokens, "
                        f"seed {int(cfg['seed'])}")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
