"""test_policy_eval.py - the compute-optimal policy end to end with the default model:

  - a fixed run sweeping two thinking budgets holds both arms (chain i shares its RNG stream);
  - --fit-policy fits on those samples and writes a policy whose calibration tokens meet the
    budget;
  - a policy applied live draws exactly the chains the same policy replayed on the fixed run
    would (same chains, answers, tokens and texts; same accuracy and tokens), for --parallel
    1, 3 and 8; a settled stop, a hopeless stop and a bin that draws more are all exercised;
  - chorus run --policy on one question draws the same chains as the eval run did for it;
  - bad policy files and flag combinations are one-line errors.

Small settings (6 questions, 4 chains, budgets of 8 and 16 tokens) keep it to seconds of model
time per run.

Default run vs CHORUS_TEST_FULL=1 (make test-all): by default each handmade policy runs live at
one --parallel (draws-more at 1, hopeless at 3, settled at 8: every policy and every --parallel
once, each with every check above); CHORUS_TEST_FULL runs each policy at 1, 3 and 8. The model
runs are independent of one another (only the checks compare them), so they run two at a time
(pycheck.run_jobs) before the checks.
"""
import json
import os
import subprocess
import sys
import tempfile

from pycheck import ROOT, DEFAULT_MODEL, FULL, check, skip, done, run_jobs

CHORUS = os.environ.get("CHORUS_BIN", os.path.join(ROOT, "chorus"))
GEN = ["--max-tokens", "24", "--answer-tokens", "6", "--no-greedy", "-q"]


def run(*args):
    p = subprocess.run([CHORUS, *args], capture_output=True, text=True, timeout=900)
    return p.returncode, p.stdout, p.stderr


def hand_policy(path, settled_bin_extra, low_bin_extra, low_action):
    """wave 2 at T=8; score = logistic(-2 + 4 share): a unanimous wave (0.88) lands in bin 1,
    anything else (<= 0.5) in bin 0."""
    def b(lo, extra, action, first_acc):
        return {"lo": lo, "extra": extra, "think": 16, "action": action, "questions": 1,
                "mean_share": 0.5, "first_wave_accuracy": first_acc, "options": []}
    pol = {"chorus_policy": 1, "wave": 2, "probe_think": 8, "n_max": 4,
           "score": {"coef": [-2, 4, 0, 0]}, "budget_mean": 30,
           "calibration": {"questions": 1, "accuracy": 0.5, "tokens": 30},
           "bins": [b(0, low_bin_extra, low_action, 0.0),
                    b(0.7, settled_bin_extra, "more" if settled_bin_extra else "settled", 1.0)]}
    with open(path, "w") as f:
        json.dump(pol, f)


def chain_key(c):
    return (c["think"], c["index"])


def check_live_equals_replay(fixed, live, replay_pt, policy, what):
    fixed_q = {q["id"]: q for q in fixed["questions"]}
    ok_chains = ok_set = ok_stop = True
    for q in live["questions"]:
        ref = {chain_key(c): c for c in fixed_q[q["id"]]["chains"]}
        for c in q["chains"]:
            r = ref.get(chain_key(c))
            same = r is not None and all(c[k] == r[k] for k in ("answer", "tokens", "text", "stop"))
            ok_chains &= same
        keys = sorted(chain_key(c) for c in q["chains"])
        bin_ = policy["bins"][q["bin"]]
        want = [(8, 0), (8, 1)] + [(16, 2 + i) for i in range(bin_["extra"])]
        ok_set &= keys == sorted(want)
        want_stop = "all" if bin_["extra"] else bin_["action"]
        ok_stop &= q["stop"] == want_stop
    check(ok_chains, f"{what}: every live chain equals the fixed run's chain (think, index)")
    check(ok_set, f"{what}: the first wave at T=8, then the bin's extra chains at T=16")
    check(ok_stop, f"{what}: stop reason matches the bin (settled / hopeless / all)")
    pt = [p for p in live["methods"]["points"] if p["method"] == "live"][0]
    check(abs(pt["accuracy"] - replay_pt["accuracy"]) < 1e-9 and
          abs(pt["tokens"] - replay_pt["tokens"]) < 1e-6,
          f"{what}: live accuracy/tokens {pt['accuracy']}/{pt['tokens']} = replay "
          f"{replay_pt['accuracy']}/{replay_pt['tokens']}")


def equal_tokens_reference(points, pol):
    """(arm, policy accuracy minus majority@k's) for the arm whose majority curve, interpolated
    linearly in mean tokens between its two ks around the policy's tokens (the end outside),
    is most accurate there."""
    best = None
    for t in sorted({p["think"] for p in points if p["method"] == "majority"}):
        curve = sorted((p["tokens"], p["accuracy"]) for p in points
                       if p["method"] == "majority" and p["think"] == t)
        x = pol["tokens"]
        lo = max((c for c in curve if c[0] <= x), default=curve[0])
        hi = min((c for c in curve if c[0] >= x), default=curve[-1])
        w = (x - lo[0]) / (hi[0] - lo[0]) if hi[0] > lo[0] else 0
        acc = (1 - w) * lo[1] + w * hi[1]
        if best is None or acc > best[1]:
            best = (t, acc)
    return best[0], pol["accuracy"] - best[1]


def main():
    if not os.path.exists(CHORUS) or not os.path.exists(DEFAULT_MODEL):
        skip("chorus or the default model missing")
        return done("test_policy_eval")
    tmp = tempfile.mkdtemp(prefix="chorus_policy_")
    data = os.path.join(tmp, "tasks.jsonl")
    with open(data, "w") as f:
        subprocess.run([CHORUS, "gen", "arith", "--count", "6", "--levels", "1-2", "--seed", "3"],
                       stdout=f, check=True)
    p = lambda n: os.path.join(tmp, n)  # noqa: E731

    # errors first
    rc, _, err = run("eval", "--merge", p("x.json"), "--fit-policy", p("f.json"))
    check(rc == 2 and "--budget-mean" in err, f"--fit-policy without --budget-mean: {err}")
    with open(p("bad.json"), "w") as f:
        f.write('{"chorus_policy": 1, "wave": 2}')
    rc, _, err = run("eval", "-m", DEFAULT_MODEL, "--data", data, "--policy", p("bad.json"), *GEN)
    check(rc == 1 and "bad.json" in err and len(err.strip().splitlines()) == 1,
          f"a malformed policy file: one line naming it: {err}")
    rc, _, err = run("-m", DEFAULT_MODEL, "-p", "1+1?", "--policy", p("bad.json"), "--adaptive")
    check(rc == 2 and "--adaptive" in err, f"--policy with --adaptive: {err}")

    # every model run, two at a time: the fixed sweep, each policy live, the budget, chorus run
    policies = (("draws-more", (0, 2, "more")), ("hopeless", (2, 0, "hopeless")),
                ("settled", (0, 0, "hopeless")))
    pars = {name: ("1", "3", "8") if FULL else (par,)
            for (name, _), par in zip(policies, ("1", "3", "8"))}  # draws-more at 1: run --policy
    for name, args in policies:
        hand_policy(p(f"{name}.json"), *args)
    task = json.loads(open(data).readline())
    jobs = {"fixed": lambda: run("eval", "-m", DEFAULT_MODEL, "--data", data, "--n", "1,2,4",
                                 "--think-tokens", "8,16", *GEN, "--out", p("fixed.json"))}
    for name, _ in policies:
        for par in pars[name]:
            jobs[name, par] = (lambda name=name, par=par: run(
                "eval", "-m", DEFAULT_MODEL, "--data", data, "--policy", p(f"{name}.json"),
                "--parallel", par, *GEN, "--out", p(f"live-{name}-{par}.json")))
    jobs["budget"] = lambda: run("eval", "-m", DEFAULT_MODEL, "--data", data, "--policy",
                                 p("draws-more.json"), "--budget", "60", *GEN,
                                 "--out", p("budget.json"))
    jobs["run"] = lambda: run("-m", DEFAULT_MODEL, "-p", task["question"], "--policy",
                              p("draws-more.json"), "--max-tokens", "24", "--answer-tokens", "6",
                              "--json")
    results = dict(zip(jobs, run_jobs(jobs.values())))

    # the fixed run: two arms
    rc, out, err = results["fixed"]
    if not check(rc == 0, f"fixed sweep: exit {rc}: {err}"):
        return done("test_policy_eval")
    fixed = json.load(open(p("fixed.json")))
    arms_ok = all(sorted(chain_key(c) for c in q["chains"]) ==
                  [(8, i) for i in range(4)] + [(16, i) for i in range(4)]
                  for q in fixed["questions"])
    check(arms_ok and fixed["config"]["thinks"] == "8,16", "both arms, chains 0..3 each")
    shared = all(a["text"][:1] == b["text"][:1] for q in fixed["questions"]
                 for a in q["chains"] for b in q["chains"]
                 if a["index"] == b["index"] and a["think"] == 8 and b["think"] == 16 and
                 a["tokens"] >= 8 and b["tokens"] >= 8)
    check(shared, "chain i starts alike in both arms (same RNG stream)")
    check("methods:" in out and "tokens per question to reach" in out, "methods table printed")

    # fit
    rc, out, err = run("eval", "--merge", p("fixed.json"), "--wave", "2", "--fit-policy",
                       p("fit.json"), "--budget-mean", "40", "--bins", "2")
    check(rc == 0 and "policy: first wave 2 chains" in out, f"fit: exit {rc}: {err}")
    if rc == 0:
        fit = json.load(open(p("fit.json")))
        check(fit["calibration"]["tokens"] <= 40 * (1 + 1e-4) and 1 <= len(fit["bins"]) <= 2 and
              all(len(b["options"]) == 1 + 2 * 2 for b in fit["bins"]),
              "fitted policy: within budget, 1-2 bins, 1 + 2 arms x 2 extra options each")

    # live vs replay, three handmade policies
    for name, _ in policies:
        pol_path = p(f"{name}.json")
        policy = json.load(open(pol_path))
        rc, _, err = run("eval", "--merge", p("fixed.json"), "--policy", pol_path,
                         "--out", p(f"replay-{name}.json"))
        if not check(rc == 0, f"{name}: replay: {err}"):
            continue
        rep = json.load(open(p(f"replay-{name}.json")))
        own = [x for x in rep["methods"]["points"] if x["method"] == "policy" and x["param"] == 30]
        check(len(own) == 1, f"{name}: the replayed policy point at its own budget")
        if own:
            want_t, want_d = equal_tokens_reference(rep["methods"]["points"], own[0])
            got = own[0]
            check(got["vs_majority_equal_tokens_think"] == want_t and
                  abs(got["vs_majority_equal_tokens"] - want_d) < 3e-6,  # printed as %.6f
                  f"{name}: vs the best arm's majority at equal tokens: T={want_t} {want_d:+.4f}, "
                  f"got T={got['vs_majority_equal_tokens_think']} "
                  f"{got['vs_majority_equal_tokens']:+.4f}")
        lives = []
        for par in pars[name]:
            rc, _, err = results[name, par]
            if not check(rc == 0, f"{name}: live --parallel {par}: {err}"):
                continue
            live = json.load(open(p(f"live-{name}-{par}.json")))
            lives.append(live)
            if own:
                check_live_equals_replay(fixed, live, own[0], policy, f"{name}, --parallel {par}")
        stops = {q["stop"] for live in lives for q in live["questions"]}
        check(lives and ((name == "draws-more" and "all" in stops) or
                         (name == "hopeless" and "hopeless" in stops) or
                         (name == "settled" and stops <= {"settled", "hopeless"})),
              f"{name}: exercised (stops {sorted(stops)})")

    # a per-question budget below what a bin asks for: never exceeded, the stop says so
    rc, _, err = results["budget"]
    if check(rc == 0, f"policy with --budget: {err}"):
        b = json.load(open(p("budget.json")))
        check(all(q["decode_tokens"] <= 60 for q in b["questions"]), "--budget 60 never exceeded")
        check(all(q["stop"] == "budget" for q in b["questions"] if q["bin"] == 0),
              "questions whose bin wanted 2 more stop on the budget (2 x 14 + 2 x 22 > 60)")

    # chorus run --policy: the same chains as the eval run for that question
    rc, out, err = results["run"]
    if check(rc == 0, f"run --policy: {err}") and results["draws-more", "1"][0] == 0:
        q0 = json.load(open(p("live-draws-more-1.json")))["questions"][0]
        r = json.loads(out)
        check(r["policy"]["bin"] == q0["bin"] and r["chains_run"] == len(q0["chains"]),
              "run --policy: same bin and chain count as eval's question 0")
    return done("test_policy_eval")


if __name__ == "__main__":
    sys.exit(main())
