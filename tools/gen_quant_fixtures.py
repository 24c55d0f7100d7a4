#!/usr/bin/env python3
"""gen_quant_fixtures.py - llama.cpp's greedy tokens on the quantized test models, for
tests/test_quant_models.py (tests/data/greedy_quant.json).

    .venv/bin/python tools/gen_quant_fixtures.py [--out tests/data/greedy_quant.json]

Builds the models of tools/quant_models.py (tiny random llama/qwen2/qwen3 in F16 and quantized
by llama.cpp to every type; the default model re-quantized to Q4_K_M, Q5_K_M, Q6_K, Q8_0), then
for each file and prompt runs llama.cpp (llama-cpp-python, 2 threads, CPU) for N_GEN greedy
steps as tools/gen_greedy_fixtures.py does, recording the tokens, the top-1 minus top-2 gaps and
the top-5 ids/logits per step. Each entry keeps the file's sha256: the test compares against a
fixture only when its own build of the file is the same bytes (the quantizer is deterministic
for one llama.cpp version), and says so when it is not.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import quant_models  # noqa: E402
from gen_greedy_fixtures import PROMPTS  # noqa: E402
from llama_peer import Peer, top2_gap  # noqa: E402

N_GEN = 16
TINY_VOCAB = 272  # make_tiny_model's tokens: 3 specials, 256 bytes, 13 merges


def tiny_prompts():
    rng = np.random.default_rng(2026)
    return [("ids-12", rng.integers(3, TINY_VOCAB, 12).tolist()),
            ("ids-40", rng.integers(3, TINY_VOCAB, 40).tolist())]


def default_prompts(peer):
    return [(name, peer.tokenize(text, add_bos=False, special=True))
            for name, text in PROMPTS[:3]]


def generate(peer, ids):
    peer.clear()
    row = peer.prefill(ids)
    toks, gaps, tops = [], [], []
    for step in range(N_GEN):
        z = peer.logits(row)
        t, gap = top2_gap(z)
        toks.append(t)
        gaps.append(round(gap, 5))
        tops.append([[int(i), round(float(z[i]), 5)] for i in np.argsort(-z)[:5]])
        if step + 1 < N_GEN:
            peer.decode([t], [len(ids) + step], [0], [True])
            row = 0
    return toks, gaps, tops


def main():
    ap = argparse.ArgumentParser(description="greedy fixtures of the quantized test models")
    ap.add_argument("--out", default=os.path.join(quant_models.ROOT, "tests", "data",
                                                  "greedy_quant.json"))
    a = ap.parse_args()
    import llama_cpp
    models = quant_models.tiny_models() + quant_models.default_models()
    entries = []
    for name, path in models:
        peer = Peer(path, n_ctx=512, threads=2)
        prompts = default_prompts(peer) if name.startswith("smollm2") else tiny_prompts()
        cases = []
        for pname, ids in prompts:
            toks, gaps, tops = generate(peer, ids)
            cases.append({"name": pname, "prompt_ids": ids, "tokens": toks, "gaps": gaps,
                          "top5": tops})
        peer.close()
        entries.append({"model": name, "file": os.path.relpath(path, quant_models.ROOT),
                        "sha256": quant_models.sha256(path), "cases": cases})
        print(f"{name:22s} min gap {min(min(c['gaps']) for c in cases):.4f}", file=sys.stderr)
    fixture = {"generator": f"tools/gen_quant_fixtures.py, llama-cpp-python "
                            f"{llama_cpp.__version__}, 2 threads, CPU, greedy argmax",
               "n_gen": N_GEN, "models": entries}
    with open(a.out, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {a.out} ({len(entries)} models)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
