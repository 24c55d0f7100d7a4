"""test_emu_cli.py - the CUDA build run end to end on the CPU emulation of the kernels:
  1. chorus itself (build/emu/chorus) answers through --device cuda: 4 sampled chains of the
     default model, with graphs (captured and replayed) and without them (CHORUS_CUDA_GRAPHS=0):
     the same texts, tokens and answers; every chain runs to its token cap or an end token;
  2. the kernel lab's attention program (build/emu/dev/attention_decode) checks the kernel at
     its default shape, Llama-2-7B's (32 heads of 128, 64 chains of one 1024-token prefix).
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
LAB = os.path.join(ROOT, "build", "emu", "dev", "attention_decode")


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
    if not os.path.exists(LAB):
        pc.skip("build/emu/dev/attention_decode missing (make test-gpu-emu)")
        return
    r = subprocess.run([LAB], capture_output=True, text=True, timeout=900, cwd=ROOT)
    out = r.stdout.strip()
    pc.check(r.returncode == 0 and "-> ok" in out, "attention_decode at the 7B shape: exit %d, %s %s"
             % (r.returncode, out, r.stderr[-400:]))
    print("  " + out.replace("\n", "\n  "))


if __name__ == "__main__":
    test_chorus()
    test_lab()
    sys.exit(pc.done("test_emu_cli"))
