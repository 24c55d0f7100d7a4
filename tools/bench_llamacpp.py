#!/usr/bin/env python3
"""bench_llamacpp.py - the llama.cpp side of `make bench` (through llama-cpp-python's low-level API).

    python tools/bench_llamacpp.py --model M [-t 2] [--n 1,4,16,64] [--prompt-len 128] [--gen 64]

For each N: one context with n_seq_max = N, a unified KV cache (so a prompt shared by all
sequences is stored once) and flash attention on - llama.cpp's best CPU settings for this job.
  1. prefill a ~P-token prompt into sequence 0 (one llama_decode, n_batch = n_ubatch >= P), timed;
  2. llama_memory_seq_cp 0 -> 1..N-1 (shares the prompt's KV cells, no recompute);
  3. G decode steps, each one llama_decode of N rows (one new token per sequence), greedy
     argmax on the CPU side; timed. Aggregate decode tok/s = N*G / time.
Prints one JSON object per N: n, prefill_tok_s, decode_tok_s (aggregate), decode_tok_s_per_chain,
ms_per_step, peak_rss_mb (ru_maxrss of this process, i.e. it includes the Python interpreter
and numpy; bench.py runs each N in a fresh process), baseline_rss_mb (before loading the model).
Best of --reps repetitions (the same context, KV cleared in between).
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PROMPT_TEXT = (
    "The Amazon rainforest covers much of the Amazon basin of South America. The basin covers "
    "seven million square kilometres, of which five and a half million square kilometres are "
    "covered by the rainforest. The region includes territory belonging to nine nations. The "
    "majority of the forest is contained within Brazil, with 60% of the rainforest, followed by "
    "Peru with 13% and Colombia with 10%, and with minor amounts in other countries. ")


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def prompt_tokens(peer, n):
    text = PROMPT_TEXT
    toks = peer.tokenize(text, add_bos=False, special=False)
    while len(toks) < n:
        text += PROMPT_TEXT
        toks = peer.tokenize(text, add_bos=False, special=False)
    return toks[:n]


def run_one(model, n, prompt_len, gen, threads, reps):
    import llama_cpp as L
    from llama_peer import Peer
    base = rss_mb()
    n_ctx = (prompt_len + n * gen + 16 + 255) // 256 * 256
    n_batch = max(prompt_len, n, 32)
    peer = Peer(model, n_ctx=n_ctx, n_seq=n, threads=threads, n_batch=n_batch)
    toks = prompt_tokens(peer, prompt_len)
    vocab = peer.n_vocab

    # warm-up: touch every weight page and start the thread pool
    peer.decode(toks[:8], list(range(8)), [0] * 8, [False] * 7 + [True])
    peer.clear()

    best_prefill = best_decode = float("inf")  # best of `reps` runs, each phase on its own
    for _ in range(reps):
        peer.clear()
        t0 = time.perf_counter()
        row = peer.prefill(toks, seq=0)
        best_prefill = min(best_prefill, time.perf_counter() - t0)
        first = int(np.argmax(peer.logits(row)))
        for s in range(1, n):
            peer.seq_cp(0, s)
        cur = [first] * n
        seqs = list(range(n))
        t0 = time.perf_counter()
        for step in range(gen):
            peer.decode(cur, [prompt_len + step] * n, seqs, [True] * n)
            z = np.ctypeslib.as_array(L.llama_get_logits(peer.ctx), shape=(n, vocab))
            cur = [int(t) for t in np.argmax(z, axis=1)]
        best_decode = min(best_decode, time.perf_counter() - t0)
    peer.close()
    return {
        "engine": "llama.cpp", "version": getattr(L, "__version__", "?"),
        "n": n, "threads": threads, "prompt_len": prompt_len, "gen": gen,
        "prefill_tok_s": round(prompt_len / best_prefill, 2),
        "decode_tok_s": round(n * gen / best_decode, 2),
        "decode_tok_s_per_chain": round(gen / best_decode, 2),
        "ms_per_step": round(1000 * best_decode / gen, 3),
        "peak_rss_mb": round(rss_mb(), 1), "baseline_rss_mb": round(base, 1),
        "flash_attn": True, "kv_unified": True,
    }


def main():
    ap = argparse.ArgumentParser(description="llama.cpp single-chain and batched decode benchmark")
    ap.add_argument("--model", "-m", required=True)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--n", default="1", help="comma-separated numbers of parallel sequences")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()
    for n in [int(x) for x in a.n.split(",")]:
        print(json.dumps(run_one(a.model, n, a.prompt_len, a.gen, a.threads, a.reps)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
