#!/usr/bin/env python3
"""Encode throughput: chorus's tokenizer vs llama.cpp's on the same text, in the same run.

    .venv/bin/python tools/bench_tokenizer.py [--chorus ./chorus] [--mb 4] [MODEL ...]

Generates a large mixed text (English prose, code, numbers, whitespace runs, CJK, Cyrillic,
emoji; deterministic), then for each model encodes it with `chorus tokenize --bench FILE` (best
of 3) and with llama-cpp-python's Llama.tokenize (vocab only, best of 3), both with special-token
parsing on and without BOS, and prints MB/s and the ratio. Needs `make deps-peer`.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time

DEFAULT_MODELS = ["weights/SmolLM2-135M-Instruct.Q4_1.gguf", "weights/ggml-vocab-llama-spm.gguf",
                  "weights/ggml-vocab-llama-bpe.gguf"]


def make_text(mb, seed=7):
    rng = random.Random(seed)
    words = ("the of and to in is was for on that with as by at from his her an they which "
             "answer question number total cookies baker tokenizer inference parallel chains").split()
    code = ["for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}\n",
            "def f(x):\n    return [y ** 2 for y in range(x) if y % 3 == 0]\n",
            "    if (err != NULL) { fprintf(stderr, \"%s\\n\", err); return -1; }\n"]
    other = ["日本語のテキストを含む文章です。", "中文文本，包含标点符号！", "Привет, как дела? ",
             "😀🦙🚀 ", "Cửa Việt café naïve ", "\n\n\t  \n", "    "]
    out, size = [], 0
    while size < mb * 1_000_000:
        r = rng.random()
        if r < 0.6:
            s = " ".join(rng.choice(words) for _ in range(rng.randint(5, 25)))
            s = s.capitalize() + rng.choice([". ", "? ", "! ", ", ", ".\n"])
        elif r < 0.75:
            s = rng.choice(code)
        elif r < 0.87:
            s = f"{rng.randint(0, 10**rng.randint(1, 12))} {rng.random() * 1000:.3f} "
        else:
            s = rng.choice(other)
        out.append(s)
        size += len(s.encode())
    return "".join(out).encode()


def best_of(fn, reps=3):
    best, res = 1e30, None
    for _ in range(reps):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
    return best, res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chorus", default="./chorus")
    ap.add_argument("--mb", type=float, default=4)
    ap.add_argument("models", nargs="*", default=DEFAULT_MODELS)
    a = ap.parse_args()
    import llama_cpp
    text = make_text(a.mb)
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        print(f"text: {len(text) / 1e6:.2f} MB mixed (prose, code, numbers, CJK, emoji, whitespace)")
        print(f"{'model':40s} {'chorus MB/s':>12s} {'llama.cpp MB/s':>15s} {'ratio':>6s}  tokens")
        for m in a.models:
            if not os.path.exists(m):
                print(f"{m:40s} missing (make weights / bash tools/fetch_test_vocabs.sh)")
                continue
            out = subprocess.run([a.chorus, "tokenize", "-m", m, "--bench", path],
                                 capture_output=True, text=True)
            g = re.search(r"(\d+) tokens, ([\d.]+) s, ([\d.]+) MB/s", out.stdout)
            if not g:
                sys.exit(f"chorus tokenize --bench failed: {out.stderr.strip()}")
            ours, n_ours = float(g.group(3)), int(g.group(1))
            llm = llama_cpp.Llama(model_path=m, vocab_only=True, verbose=False)
            dt, ids = best_of(lambda: llm.tokenize(text, add_bos=False, special=True))
            theirs = len(text) / 1e6 / dt
            same = "same count" if len(ids) == n_ours else f"COUNT DIFFERS ({n_ours} vs {len(ids)})"
            print(f"{os.path.basename(m):40s} {ours:12.2f} {theirs:15.2f} {ours / theirs:5.2f}x  "
                  f"{n_ours} ({same})")
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
