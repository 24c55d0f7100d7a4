"""test_emu_cli.py - the CUDA build run end to end on the CPU emulation of the kernels:
  1. chorus itself (build/emu/chorus) answers through --device cuda: 4 sampled chains of the
     default model, with graphs (captured and replayed) and without them (CHORUS_CUDA_GRAPHS=0):
     the same texts, tokens and answers; every chain runs to its token cap or an end token;
  2. the kernel lab (kernels/dev/*.cu, built as build/emu/dev/*): every program checks its
     kernel against its CPU twin (--check: no timing) at Llama-2-7B's shape where that takes
     seconds here, and at small awkward shapes (GQA, odd sizes, the architectures' rope variants);
     a lab program missing from LAB_RUNS fails, so a new one gets run.
Skips where the build or the model is missing (make test-gpu-emu builds and fetches them).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pycheck as pc  # noqa: E402

ROOT = pc.ROOT
CHORUS = os.path.join(ROOT, "build", "emu", "chorus")
LAB_DIR = os.path.join(ROOT, "build", "emu", "dev")
# program -> argument lists ([] = its default shape, Llama-2-7B's); the shapes each program takes
# are in its header comment
LAB_RUNS = {
    "rmsnorm": [[], ["3", "4099"]],
    "swiglu": [[], ["5", "1537"]],
    "embed": [[], ["13", "577", "1001"]],
    "rope_store": [[], ["9", "9", "3", "64", "0"], ["7", "12", "2", "128", "1"],
                   ["6", "16", "8", "128", "2"], ["5", "32", "8", "64", "3"]],
    "sample": [[], ["37", "500"]],
    "confidence": [[], ["37", "500"]],
    "attention_decode": [[], ["100", "5", "8", "2", "64", "3"],
                         ["300", "130", "32", "8", "128", "40"]],
    "attention_prefill": [["256"], ["100", "8", "2", "64"], ["77", "9", "3", "32"]],
}


def chorus_json(graphs):
    env = dict(os.environ, CHORUS_CUDA_GRAPHS="1" if graphs else "0")
    cmd = [CHORUS, "-m", pc.DEFAULT_MODEL, "--device", "cuda", "-n", "4", "--max-tokens", "12",
           "--seed", "3", "--json", "-p", "What is 7 times 6?"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, cwd=ROOT)
    if not pc.check(r.returncode == 0, "chorus --device cuda (graphs %d) exit %d: %s"
                    % (graphs, r.returncode, r.stderr[-800:])):
        return None
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        pc.check(False, "chorus --json output parses: %s: %r" % (e, r.stdout[:300]))
        return None


def chains(doc):
    return [(c.get("text"), c.get("tokens"), c.get("answer")) for c in doc.get("chains", [])]


def test_chorus():
    if not os.path.exists(CHORUS) or not os.path.exists(pc.DEFAULT_MODEL):
        pc.skip("build/emu/chorus or the default model missing (make test-gpu-emu)")
        return
    a, b = chorus_json(True), chorus_json(False)
    if a is None or b is None:
        return
    ca, cb = chains(a), chains(b)
    pc.check(len(ca) == 4, "4 chains in the report (%d)" % len(ca))
    pc.check(all(t and n for t, n, _ in ca), "every chain produced text and tokens: %r" % ca)
    pc.check(ca == cb, "graphs on and off: the same chains\n  %r\n  %r" % (ca, cb))
    print("  chorus --device cuda on the emulation: %s" % [t for t, _, _ in ca])


def test_lab():
    dev = os.path.join(ROOT, "kernels", "dev")
    srcs = sorted(f[:-3] for f in os.listdir(dev) if f.endswith(".cu"))
    pc.check(srcs == sorted(LAB_RUNS), "every kernels/dev program has runs here: %s vs %s"
             % (srcs, sorted(LAB_RUNS)))
    for prog in srcs:
        exe = os.path.join(LAB_DIR, prog)
        if not os.path.exists(exe):
            pc.skip("build/emu/dev/%s missing (make test-gpu-emu)" % prog)
            continue
        for args in LAB_RUNS.get(prog, []):
            r = subprocess.run([exe, "--check"] + args, capture_output=True, text=True,
                               timeout=900, cwd=ROOT)
            out = r.stdout.strip()
            checks = [l for l in out.splitlines() if l.startswith("check")]
            pc.check(r.returncode == 0 and checks and all(l.endswith("PASS") for l in checks),
                     "%s %s: exit %d, %s %s" % (prog, " ".join(args), r.returncode, out,
                                                r.stderr[-400:]))
            print("  " + "\n  ".join(checks))


if __name__ == "__main__":
    test_chorus()
    test_lab()
    sys.exit(pc.done("test_emu_cli"))
