#!/usr/bin/env python3
"""gpu_numerics.py - how far the GPU path's logits may sit from the CPU's, before any GPU runs.

The CUDA forward pass rounds where the CPU's fp32 path does not: weights are bf16 on the device,
every matmul input (the normed activations, the attention output, the SwiGLU output) is bf16,
the KV cache is bf16. This script applies exactly those roundings to ref_forward.py's float64
forward pass (everything else in float64) and compares the logits with the unrounded float64
pass, which the CPU's fp32 path matches to ~1e-6. The per-row figures it prints are what
tests/test_gpu_model.c and tests/test_gpu_default.c allow, with a margin (their TOL_* and
NEAR_TIE): the emulation leaves out the GPU's fp32 accumulation, a second-order effect.

    python tools/gpu_numerics.py MODEL.gguf [--tokens 300] [--seed 1]

Prints, over the rows of one prompt (ids drawn at random from the vocabulary): the worst and
median RMS(diff)/RMS(ref) of a row, the worst and median max|diff|/max|ref|, and the
smallest top-1/top-2 gap of the reference at which the argmax changed.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_forward as rf  # noqa: E402


def bf16(a):
    """Round float64/32 values to bf16 (round to nearest even), returned as float64."""
    f = np.asarray(a, dtype=np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32).astype(np.float64)


def forward(m, tokens, gpu):
    """Logits [n, vocab] in float64; with gpu=True, the GPU path's roundings applied."""
    r = bf16 if gpu else (lambda a: a)
    n, H, KV, hd = len(tokens), m.n_heads, m.n_kv, m.head_dim
    pos = np.arange(n)
    W = lambda name: r(m.weight(name).astype(np.float64))  # noqa: E731
    emb = m.weight("token_embd.weight", cache=True)
    x = r(emb[tokens].astype(np.float64))
    for l in range(m.n_layers):
        p = f"blk.{l}."
        h = r(rf.rmsnorm(x, m.weight(p + "attn_norm.weight").astype(np.float64), m.eps))
        q = (h @ W(p + "attn_q.weight").T).reshape(n, H, hd)
        k = (h @ W(p + "attn_k.weight").T).reshape(n, KV, hd)
        v = (h @ W(p + "attn_v.weight").T).reshape(n, KV, hd)
        q, k = rf.rope(q, pos, m.rope_base), r(rf.rope(k, pos, m.rope_base))
        att = r(rf.attention(q, k, r(v), KV))
        x = x + att @ W(p + "attn_output.weight").T
        h = r(rf.rmsnorm(x, m.weight(p + "ffn_norm.weight").astype(np.float64), m.eps))
        g, u = h @ W(p + "ffn_gate.weight").T, h @ W(p + "ffn_up.weight").T
        x = x + r(rf.silu(g) * u) @ W(p + "ffn_down.weight").T
    h = r(rf.rmsnorm(x, m.weight("output_norm.weight").astype(np.float64), m.eps))
    out_w = emb if m.tied else m.weight("output.weight", cache=True)
    return h @ r(out_w.astype(np.float64)).T


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    m = rf.load(a.model)
    rng = np.random.default_rng(a.seed)
    toks = rng.integers(3, m.vocab, a.tokens)
    ref, gpu = forward(m, toks, False), forward(m, toks, True)
    d = gpu - ref
    rms = np.sqrt((d * d).sum(1) / (ref * ref).sum(1))
    mx = np.abs(d).max(1) / np.abs(ref).max(1)
    top2 = np.sort(ref, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    flips = ref.argmax(1) != gpu.argmax(1)
    print(f"{a.model}: {a.tokens} rows")
    print(f"  RMS(diff)/RMS(ref) per row: worst {rms.max():.5f}, median {np.median(rms):.5f}")
    print(f"  max|diff|/max|ref| per row: worst {mx.max():.5f}, median {np.median(mx):.5f}")
    print(f"  max|diff| (logits): worst {np.abs(d).max():.4f}")
    if flips.any():
        print(f"  argmax changed in {flips.sum()} rows; largest reference gap there {gap[flips].max():.4f}")
    else:
        print(f"  argmax unchanged in every row (smallest reference gap {gap.min():.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
