"""test_eval.py - `chorus eval` end to end on a tiny generated task set with the default model:
the report's schema, that shard 0/2 + shard 1/2 merged equals the unsharded run (per-question
chains and every table), and one-line errors with the right exit codes for bad input.

Small settings (4 questions, 2 chains, 12 tokens) keep it to a few model runs of seconds each.
"""
import json
import os
import subprocess
import sys
import tempfile

from pycheck import ROOT, DEFAULT_MODEL, check, skip, done

CHORUS = os.environ.get("CHORUS_BIN", os.path.join(ROOT, "chorus"))
SMALL = ["--n", "1,2", "--max-tokens", "12", "--answer-tokens", "4", "-q"]


def run(*args):
    p = subprocess.run([CHORUS, *args], capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def one_line_error(rc, err, want_rc, needle, what):
    lines = [l for l in err.splitlines() if l.strip()]
    check(rc == want_rc, f"{what}: exit {rc}, want {want_rc} ({err.strip()})")
    check(len(lines) == 1 and needle in lines[0], f"{what}: one line naming {needle!r}: {err!r}")


def check_schema(r, n_q, n_max):
    for key in ("chorus_eval", "config", "shards", "totals", "tables", "questions"):
        check(key in r, f"report has {key}")
    cfg = r["config"]
    for key in ("model", "data", "ks", "n_max", "temp", "seed", "max_tokens", "wave",
                "confidence", "adaptive", "prompt_template"):
        check(key in cfg, f"config has {key}")
    check(cfg["n_max"] == n_max, "config n_max")
    for key in ("prefill_tokens", "decode_tokens", "greedy_decode_tokens", "wall_seconds"):
        check(isinstance(r["totals"].get(key), (int, float)), f"totals has {key}")
    qs = r["questions"]
    check(len(qs) == n_q and [q["id"] for q in qs] == sorted(q["id"] for q in qs),
          "every question, sorted by id")
    decoded = 0
    for q in qs:
        check(len(q["chains"]) == n_max, f"question {q['id']}: {n_max} chains")
        check([c["index"] for c in q["chains"]] == list(range(n_max)), "chains in index order")
        for c in q["chains"] + [q["greedy"]]:
            check(c["correct"] == (c["answer"] is not None and c["answer"] == q["reference"]),
                  f"question {q['id']}: correct flag matches answer vs reference")
            check(isinstance(c["tokens"], int) and 0 < c["tokens"] <= 12, "chain tokens in 1..12")
        decoded += sum(c["tokens"] for c in q["chains"])
        check(q["decode_tokens"] == sum(c["tokens"] for c in q["chains"]),
              "question decode_tokens = sum of its chains")
    check(decoded == r["totals"]["decode_tokens"], "totals.decode_tokens = sum over questions")
    t = r["tables"]["all"]
    check([row["k"] for row in t["fixed"]] == [1, 2], "fixed rows for k = 1, 2")
    for row in t["fixed"]:
        check(row["exact"] is True, "small n: exact subsets")
        for m in ("majority", "weighted", "best"):
            check(0 <= row[m] <= row["pass"] + 1e-9, f"{m}@{row['k']} <= pass@k")
    one = t["fixed"][0]
    check(abs(one["majority"] - one["pass"]) < 1e-9, "at k = 1 every method is pass@1")
    check(t["greedy"] is not None and t["questions"] == n_q, "greedy row, all questions")
    check(len(r["tables"]["by_level"]) == len({q["level"] for q in qs}), "one row per level")
    check(sum(g["questions"] for g in r["tables"]["by_agreement"]) == n_q,
          "agreement buckets hold every question")


def same(a, b, path="", tol=1e-5):
    """Equal, except floats within a relative `tol`: the CPU forward pass is not bitwise
    invariant to how rows are batched (a log-prob can move in its 7th digit), while tokens,
    texts and answers must match exactly. Returns the first differing path, or None."""
    if isinstance(a, float) or isinstance(b, float):
        ok = isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            abs(a - b) <= tol * max(1.0, abs(a), abs(b))
        return None if ok else path
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return path + " (keys)"
        for k in a:
            d = same(a[k], b[k], f"{path}.{k}", tol)
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return path + " (length)"
        for i, (x, y) in enumerate(zip(a, b)):
            d = same(x, y, f"{path}[{i}]", tol)
            if d:
                return d
        return None
    return None if a == b else path


def strip_timing(r):
    r = json.loads(json.dumps(r))
    for q in r["questions"]:
        q.pop("seconds")
    r.pop("shards")
    r["totals"] = {k: v for k, v in r["totals"].items() if "seconds" not in k}
    return r


def main():
    if not os.path.exists(CHORUS):
        skip(f"{CHORUS} not built")
        return done("test_eval")
    tmp = tempfile.mkdtemp(prefix="chorus_eval_")
    data = os.path.join(tmp, "tasks.jsonl")
    with open(data, "w") as f:
        subprocess.run([CHORUS, "gen", "arith", "--count", "4", "--levels", "1-2", "--seed", "7"],
                       stdout=f, check=True)
    bad = os.path.join(tmp, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"question": "q", "answer": "1"}\n{"question": "q", "answer": 1\n')

    # errors first: they need no model work
    one_line_error(*run("eval", "--data", data)[::2], 2, "-m", "no model")
    one_line_error(*run("eval", "-m", DEFAULT_MODEL, "--data", data, "--bogus")[::2], 2,
                   "--bogus", "unknown flag")
    one_line_error(*run("eval", "-m", DEFAULT_MODEL, "--data", data, "--shard", "2/2")[::2], 2,
                   "--shard", "bad shard")
    one_line_error(*run("eval", "-m", DEFAULT_MODEL, "--data", data, "--n", "4,2")[::2], 2,
                   "--n", "decreasing ks")
    one_line_error(*run("eval", "-m", DEFAULT_MODEL, "--data", data, "--prompt-template",
                        "no slot")[::2], 2, "{question}", "template without {question}")
    one_line_error(*run("eval", "--merge", "no-such-report.json")[::2], 1, "no-such-report.json",
                   "a missing report")
    if not os.path.exists(DEFAULT_MODEL):
        skip(f"{DEFAULT_MODEL} missing: runs skipped")
        return done("test_eval")
    missing = os.path.join(tmp, "missing.jsonl")
    one_line_error(*run("eval", "-m", DEFAULT_MODEL, "--data", missing)[::2], 1, missing,
                   "missing file")
    one_line_error(*run("eval", "-m", DEFAULT_MODEL, "--data", bad)[::2], 1, "bad.jsonl:2:",
                   "malformed line")

    full, s0, s1, merged = (os.path.join(tmp, n) for n in ("full.json", "s0.json", "s1.json",
                                                           "merged.json"))
    rc, out, err = run("eval", "-m", DEFAULT_MODEL, "--data", data, *SMALL, "--parallel", "3",
                       "--out", full)
    if not check(rc == 0, f"full run: exit {rc}: {err}"):
        return done("test_eval")
    check("majority" in out and "greedy" in out and "adaptive" in out, "terminal tables on stdout")
    for shard, path in (("0/2", s0), ("1/2", s1)):
        rc, _, err = run("eval", "-m", DEFAULT_MODEL, "--data", data, *SMALL, "--shard", shard,
                         "--out", path)
        check(rc == 0, f"shard {shard}: exit {rc}: {err}")
    rc, out, err = run("eval", "--merge", s1, s0, "--out", merged)
    check(rc == 0 and "majority" in out, f"merge: exit {rc}: {err}")
    if rc != 0:
        return done("test_eval")
    r_full, r_s0, r_merged = (json.load(open(p)) for p in (full, s0, merged))
    check_schema(r_full, 4, 2)
    check([q["id"] for q in r_s0["questions"]] == [0, 2], "shard 0/2 holds ids 0 and 2")
    check(r_merged["shards"] == ["1/2", "0/2"], "merged report lists its shards")
    a, b = strip_timing(r_full), strip_timing(r_merged)
    d = same(a["questions"], b["questions"], "questions")
    check(d is None, f"merged shards: same questions and chains as one run (differs at {d})")
    d = same(a["tables"], b["tables"], "tables")
    check(d is None, f"merged shards: same tables as one run (differs at {d})")
    check(a["config"] == b["config"] and a["totals"] == b["totals"], "same config and token totals")

    rc, _, err = run("eval", "--merge", full, "--wave", "1", "--confidence", "0.5", "--out", merged)
    r = json.load(open(merged)) if rc == 0 else {}
    check(rc == 0 and r["config"]["confidence"] == 0.5 and r["config"]["wave"] == 1 and
          r["tables"]["all"]["adaptive"]["chains"] <= 2, f"adaptive replayed at other settings {err}")
    check(all(q["adaptive"]["chains"] == 1 for q in r.get("questions", [])
              if q["chains"][0]["answer"] is not None), "confidence 0.5: one answer settles")
    one_line_error(*run("eval", "--merge", s0, s0, "--out", merged)[::2], 1, "more than one",
                   "merging a shard twice")
    other = json.load(open(s1))
    other["config"]["seed"] = 9
    json.dump(other, open(s1, "w"))
    one_line_error(*run("eval", "--merge", s0, s1, "--out", merged)[::2], 1, "differs",
                   "merging different settings")
    return done("test_eval")


if __name__ == "__main__":
    sys.exit(main())
