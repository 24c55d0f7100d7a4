#!/usr/bin/env python3
"""bench.py - `make bench`: chorus beside llama.cpp on the same GGUF and thread count, same run.

    .venv/bin/python tools/bench.py --chorus ./chorus --model MODEL [-t 2] [--n 1,4,16,64]
                                    [--prompt-len 128] [--gen 64] [--json-out results.json]

chorus side: `chorus bench -m MODEL --n N --prompt-len P --gen G -t T --json` (a JSON object
with n, prefill_tok_s, decode_tok_s (aggregate), decode_tok_s_per_chain, ms_per_step, kv_bytes,
peak_rss_mb). llama.cpp side: tools/bench_llamacpp.py, through llama-cpp-python with flash
attention on and the shared prompt's KV copied to every sequence (llama.cpp's best settings for
this job). Each engine runs in a fresh process per N (so each N's peak RSS is its own), best of
--reps runs, and the two alternate N by N, so that a machine whose speed drifts during the run
(shared VMs do) treats both alike.

Prints (a) single chain (N = 1): prefill tok/s, decode tok/s, peak RSS, ratio chorus/llama.cpp;
(b) batched: N, aggregate decode tok/s of each, ratio, chorus per-chain tok/s, ms/step, KV bytes
and the weight stream in GB/s (weight bytes of the file / ms per step: each decode step must
read every weight once). Either side failing is reported and the other side's rows still print.
Beside the ratios, how close chorus comes to this machine's limits, both measured in the same
run by `chorus bench --limits` (runtime/cpu/limits.c) on the same threads: "BW%" is the weight
stream over the streaming-read bandwidth (what bounds one chain), "MAC%" is the step's
multiply-adds per second (N x the model's multiply-adds per token) over the int8 peak of the
kernel level in use (what bounds a large batch). The level is named (CHORUS_ISA changes it).
Benchmarks are figures, not tests: nothing here fails on a slow number.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def find_peer_python(explicit):
    """An interpreter that can import llama_cpp: --peer-python, this one, or /tmp/venv's."""
    cands = [explicit] if explicit else [sys.executable, "/tmp/venv/bin/python"]
    for py in cands:
        if py and os.path.exists(py) and subprocess.run(
                [py, "-c", "import llama_cpp"], capture_output=True).returncode == 0:
            return py
    return None


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def run_rows(cmd, timeout):
    """Runs cmd; returns (its JSON rows with an "n", error or None)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], f"timed out after {timeout}s"
    rows = [r for r in json_lines(p.stdout) if "n" in r]
    if p.returncode != 0 or not rows:
        tail = (p.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return rows, f"exit {p.returncode}: {tail}"
    return rows, None


def best(rows):
    return max(rows, key=lambda r: r.get("decode_tok_s") or 0) if rows else None


def run_limits(a):
    """The machine's limits from `chorus bench --limits` (best of 2), or (None, why)."""
    if a.skip_chorus or not (os.path.exists(a.chorus) or shutil.which(a.chorus)):
        return None, "not measured"
    cmd = [a.chorus, "bench", "--limits", "-t", str(a.threads), "--json"]
    print(f"# limits: {' '.join(cmd)}", file=sys.stderr, flush=True)
    rows = []
    for _ in range(2):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
        except subprocess.TimeoutExpired:
            return None, "timed out"
        rows += [r for r in json_lines(p.stdout) if "stream_gb_s" in r]
    if not rows:
        return None, "chorus bench --limits printed nothing"
    return {"stream_gb_s": max(r["stream_gb_s"] for r in rows),
            "int8_peak_gmac_s": max(r["int8_peak_gmac_s"] for r in rows),
            "kernel": rows[0]["kernel"], "threads": rows[0]["threads"]}, None


def run_chorus(a, n):
    """chorus at N = n: the best of a.reps runs, or (None, why)."""
    if not (os.path.exists(a.chorus) or shutil.which(a.chorus)):
        return None, f"{a.chorus} not found (make chorus)"
    cmd = [a.chorus, "bench", "-m", a.model, "--n", str(n), "--prompt-len", str(a.prompt_len),
           "--gen", str(a.gen), "-t", str(a.threads), "--json", "--numerics", a.numerics]
    print(f"# chorus: {' '.join(cmd)} (best of {a.reps})", file=sys.stderr, flush=True)
    rows = []
    for _ in range(a.reps):
        got, err = run_rows(cmd, a.timeout)
        if err:
            return best(rows + got), f"N={n}: {err}"
        rows += got
    return best(rows), None


def run_llamacpp(a, n):
    """llama.cpp at N = n: the best of a.reps runs (inside one process), or (None, why)."""
    py = find_peer_python(a.peer_python)
    if py is None:
        return None, "llama-cpp-python is not installed (make deps-peer)"
    cmd = [py, os.path.join(HERE, "bench_llamacpp.py"), "-m", a.model, "-t", str(a.threads),
           "--n", str(n), "--prompt-len", str(a.prompt_len), "--gen", str(a.gen),
           "--reps", str(a.reps)]
    print(f"# llama.cpp: N={n} (best of {a.reps})", file=sys.stderr, flush=True)
    rows, err = run_rows(cmd, a.timeout)
    return best(rows), (f"N={n}: {err}" if err else None)


def weight_bytes(model):
    try:
        import gguf
        r = gguf.GGUFReader(model)
        return sum(int(t.n_bytes) for t in r.tensors)
    except Exception:
        return os.path.getsize(model)


def fmt(x, spec=".1f"):
    return "-" if x is None else format(x, spec)


def ratio(a, b):
    return None if a is None or not b else a / b


def main():
    ap = argparse.ArgumentParser(description="chorus vs llama.cpp benchmark")
    ap.add_argument("--chorus", default="./chorus")
    ap.add_argument("--model", "-m", required=True)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--n", default="1,4,16,64")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--reps", type=int, default=2, help="each engine: best of this many runs")
    ap.add_argument("--numerics", default="int8", choices=["int8", "f32"],
                    help="chorus's CPU numerics (int8: the default; f32: the reference)")
    ap.add_argument("--peer-python", help="interpreter with llama-cpp-python")
    ap.add_argument("--skip-chorus", action="store_true")
    ap.add_argument("--skip-llamacpp", action="store_true")
    ap.add_argument("--timeout", type=int, default=1200)
    ap.add_argument("--json-out", help="write all rows and errors here")
    a = ap.parse_args()
    if "1" not in a.n.split(","):
        a.n = "1," + a.n  # the single-chain rows need N = 1

    t0 = time.time()
    load0 = os.getloadavg()[0]
    limits, lim_err = run_limits(a)
    ch_by, ll_by, ch_errs, ll_errs = {}, {}, [], []
    for n in [int(x) for x in a.n.split(",")]:  # alternating, N by N
        for skip, run, by, errs in [(a.skip_chorus, run_chorus, ch_by, ch_errs),
                                    (a.skip_llamacpp, run_llamacpp, ll_by, ll_errs)]:
            if skip:
                continue
            row, err = run(a, n)
            if row:
                by[n] = row
            if err:
                errs.append(err)
    ch_err = "skipped" if a.skip_chorus else "; ".join(ch_errs) or None
    ll_err = "skipped" if a.skip_llamacpp else "; ".join(ll_errs) or None
    ch, ll = list(ch_by.values()) or None, list(ll_by.values()) or None
    wb = weight_bytes(a.model)

    print(f"\nmodel {os.path.basename(a.model)}, {a.threads} threads, prompt {a.prompt_len} "
          f"tokens, {a.gen} new tokens per chain; ratio = chorus / llama.cpp")
    if ch_err:
        print(f"chorus: FAILED or incomplete ({ch_err})")
    if ll_err:
        print(f"llama.cpp: FAILED or incomplete ({ll_err})")
    c1, l1 = ch_by.get(1, {}), ll_by.get(1, {})
    print("\n(a) single chain (N = 1)")
    print(f"{'metric':<20}{'chorus':>12}{'llama.cpp':>12}{'ratio':>9}")
    for key, label in [("prefill_tok_s", "prefill tok/s"), ("decode_tok_s", "decode tok/s"),
                       ("peak_rss_mb", "peak RSS MB")]:
        cv, lv = c1.get(key), l1.get(key)
        print(f"{label:<20}{fmt(cv):>12}{fmt(lv):>12}{fmt(ratio(cv, lv), '.2f'):>9}")
    if l1.get("baseline_rss_mb"):
        print(f"(llama.cpp's RSS includes {l1['baseline_rss_mb']:.0f} MB of Python + numpy "
              f"before the model loads)")

    print("\n(b) batched: N chains over one shared prompt, aggregate decode tok/s")
    print(f"{'N':>4}{'chorus':>10}{'llama.cpp':>11}{'ratio':>8}{'chorus/chain':>14}"
          f"{'ms/step':>9}{'llama ms/step':>15}{'KV MB':>8}{'weights GB/s':>14}{'BW%':>6}"
          f"{'MAC%':>6}")
    stream = limits and limits["stream_gb_s"]
    peak = limits and limits["int8_peak_gmac_s"]
    for n in [int(x) for x in a.n.split(",")]:
        c, l = ch_by.get(n, {}), ll_by.get(n, {})
        ms = c.get("ms_per_step")
        gbs = wb / (ms / 1000) / 1e9 if ms else None
        macs = n * c["macs_per_token"] / (ms / 1000) / 1e9 if ms and "macs_per_token" in c else None
        kv = c.get("kv_bytes")
        print(f"{n:>4}{fmt(c.get('decode_tok_s')):>10}{fmt(l.get('decode_tok_s')):>11}"
              f"{fmt(ratio(c.get('decode_tok_s'), l.get('decode_tok_s')), '.2f'):>8}"
              f"{fmt(c.get('decode_tok_s_per_chain')):>14}{fmt(ms, '.2f'):>9}"
              f"{fmt(l.get('ms_per_step'), '.2f'):>15}{fmt(kv / 2**20 if kv else None):>8}"
              f"{fmt(gbs, '.2f'):>14}{fmt(ratio(gbs, stream) and 100 * ratio(gbs, stream), '.0f'):>6}"
              f"{fmt(ratio(macs, peak) and 100 * ratio(macs, peak), '.0f'):>6}")
    if limits:
        kern = c1.get("kernel", limits["kernel"])
        print(f"machine limits ({limits['threads']} threads, measured in this run): streaming read "
              f"{stream:.1f} GB/s; int8 peak of the {limits['kernel']} kernels {peak:.1f} G "
              f"multiply-adds/s. chorus ran the {kern} kernels, numerics "
              f"{c1.get('numerics', a.numerics)}")
    else:
        print(f"machine limits: {lim_err}")
    if c1.get("decode_tok_s") and ch_by.get(16, {}).get("decode_tok_s"):
        print(f"chorus N=16 aggregate / chorus N=1: "
              f"{ch_by[16]['decode_tok_s'] / c1['decode_tok_s']:.2f}x")
    print(f"\n(weights {wb / 2**20:.1f} MiB per decode step; total bench time "
          f"{time.time() - t0:.0f}s)")
    load1, cores = os.getloadavg()[0], os.cpu_count() or 1
    print(f"load average {load0:.2f} before, {load1:.2f} after, {cores} cores")
    if load0 > cores - a.threads + 0.75 or load1 > cores + 0.75:  # ours adds ~threads
        print("WARNING: other processes were competing for the CPU during this run; both "
              "engines' figures (llama.cpp's spin-waiting threads especially) are unreliable")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"chorus": ch, "llama_cpp": ll, "chorus_error": ch_err,
                       "llama_cpp_error": ll_err, "threads": a.threads,
                       "prompt_len": a.prompt_len, "gen": a.gen, "weight_bytes": wb,
                       "limits": limits}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
