"""test_deepconf_eval.py - confidence-guided chains end to end with the default model:

  - a fixed run records every sampled token's confidence (report "conf", one per token);
  - online DeepConf (--deepconf low|high) run live draws exactly what its replay on the fixed
    run draws: chains that run in full equal the fixed chains; a chain ended early keeps its
    tokens up to the stop, its text is a prefix of the uncut chain's and its trace equals the
    uncut trace up there, it casts no vote; accuracy and tokens equal the replay's, for
    --parallel 1 and 4;
  - chorus --vote conf --keep-top P votes; bad values are one-line errors.

Default run vs CHORUS_TEST_FULL=1 (make test-all): by default 3 questions (the first 3 of the
full run's 6), and the live runs are --deepconf low at --parallel 1 and --deepconf high at
--parallel 4 (each mode and each --parallel once, every check above on each); CHORUS_TEST_FULL
runs 6 questions and all four pairs. The model runs are independent of
one another (only the checks compare them), so they run two at a time (pycheck.run_jobs).
"""
import json
import os
import subprocess
import sys
import tempfile

from pycheck import ROOT, DEFAULT_MODEL, FULL, check, skip, done, run_jobs

CHORUS = os.environ.get("CHORUS_BIN", os.path.join(ROOT, "chorus"))
GEN = ["--n", "1,2,4,8", "--max-tokens", "40", "--answer-tokens", "6", "--no-greedy", "-q",
       "--conf-window", "4", "--wave", "2", "--deepconf-init", "2"]
# the first 3 of the 6 questions by default: each has chains that run in full and chains that
# low and high end early (4-6 and 2-5 of 8), so every check still bites
QUESTIONS = 6 if FULL else 3


def run(*args):
    p = subprocess.run([CHORUS, *args], capture_output=True, text=True, timeout=900)
    return p.returncode, p.stdout, p.stderr


def point(report, method):
    pts = [p for p in report["methods"]["points"] if p["method"] == method]
    return pts[0] if pts else None


def check_live(fixed, live, replay_pt, what):
    fixed_q = {q["id"]: {c["index"]: c for c in q["chains"]} for q in fixed["questions"]}
    full_ok = ended_ok = True
    n_ended = 0
    for q in live["questions"]:
        for c in q["chains"]:
            f = fixed_q[q["id"]][c["index"]]
            if c["stop"] == "low_conf":
                n_ended += 1
                ended_ok &= (c["answer"] is None and c["tokens"] <= f["tokens"] and
                             f["text"].startswith(c["text"]) and
                             c["conf"] == f["conf"][:c["tokens"]])
            else:
                full_ok &= all(c[k] == f[k] for k in ("answer", "tokens", "text", "conf"))
    check(full_ok, f"{what}: chains run in full equal the fixed run's")
    check(ended_ok, f"{what}: an ended chain is the uncut chain up to its stop, and has no vote")
    pt = point(live, "live")
    check(pt and abs(pt["accuracy"] - replay_pt["accuracy"]) < 1e-9 and
          abs(pt["tokens"] - replay_pt["tokens"]) < 1e-6,
          f"{what}: live {pt and (pt['accuracy'], pt['tokens'])} = replay "
          f"{(replay_pt['accuracy'], replay_pt['tokens'])}")
    return n_ended


def main():
    if not os.path.exists(CHORUS) or not os.path.exists(DEFAULT_MODEL):
        skip("chorus or the default model missing")
        return done("test_deepconf_eval")
    tmp = tempfile.mkdtemp(prefix="chorus_deepconf_")
    data = os.path.join(tmp, "tasks.jsonl")
    with open(data, "w") as f:
        subprocess.run([CHORUS, "gen", "arith", "--count", str(QUESTIONS), "--levels", "1-2",
                        "--seed", "5"], stdout=f, check=True)
    p = lambda n: os.path.join(tmp, n)  # noqa: E731

    for args, needle in ((["--deepconf", "mid"], "--deepconf"), (["--conf-score", "max"], "--conf-score"),
                         (["--deepconf", "low", "--conf-k", "0"], "--conf-k"),
                         (["--keep-top", "0"], "--keep-top"), (["--vote", "mode"], "--vote")):
        rc, _, err = run("-m", DEFAULT_MODEL, "-p", "1+1?", *args)
        check(rc == 2 and needle in err and len(err.strip().splitlines()) == 1,
              f"{args}: one-line error naming {needle}: {err.strip()}")

    # every model run at once, two at a time: the fixed run, the live ones, --vote conf
    lives = ([(m, par) for m in ("low", "high") for par in ("1", "4")] if FULL else
             [("low", "1"), ("high", "4")])
    jobs = [lambda: run("eval", "-m", DEFAULT_MODEL, "--data", data, *GEN, "--out", p("fixed.json"))]
    jobs += [lambda mode=mode, par=par: run("eval", "-m", DEFAULT_MODEL, "--data", data, *GEN,
                                            "--deepconf", mode, "--parallel", par,
                                            "--out", p(f"live-{mode}-{par}.json"))
             for mode, par in lives]
    jobs.append(lambda: run("-m", DEFAULT_MODEL, "-p", "What is 6 times 7?", "-n", "6", "--vote",
                            "conf", "--keep-top", "50", "--max-tokens", "40", "--json"))
    results = run_jobs(jobs)
    (rc, _, err), live_results, vote_result = results[0], dict(zip(lives, results[1:-1])), results[-1]
    if not check(rc == 0, f"fixed run: {err}"):
        return done("test_deepconf_eval")
    fixed = json.load(open(p("fixed.json")))
    traces = all(len(c["conf"]) == c["tokens"] for q in fixed["questions"] for c in q["chains"])
    check(traces, "every chain's trace has one confidence per sampled token")
    rc, out, err = run("eval", "--merge", p("fixed.json"), *GEN[8:], "--out", p("replay.json"))
    check(rc == 0 and "AUROC" in out, f"replay and AUROC table: {err}")
    replay = json.load(open(p("replay.json")))
    for s in ("mean", "lowest", "bottom10", "tail"):
        check(s in replay["methods"]["auroc"], f"report: AUROC of {s}")
    ended_total = 0
    for mode in ("low", "high"):
        rp = point(replay, f"deepconf-{mode}")
        if not check(rp is not None, f"replay has deepconf-{mode}"):
            continue
        for par in [par for m, par in lives if m == mode]:
            rc, _, err = live_results[(mode, par)]
            if check(rc == 0, f"live --deepconf {mode} --parallel {par}: {err}"):
                ended_total += check_live(fixed, json.load(open(p(f"live-{mode}-{par}.json"))), rp,
                                          f"deepconf {mode}, --parallel {par}")
    check(ended_total > 0, f"some chains were ended early ({ended_total})")

    rc, out, err = vote_result
    if check(rc == 0, f"--vote conf --keep-top 50: {err}"):
        r = json.loads(out)
        check(r["vote"] == "conf" and r["voters"] <= 3, f"at most 3 of 6 chains vote ({r['voters']})")
    return done("test_deepconf_eval")


if __name__ == "__main__":
    sys.exit(main())
