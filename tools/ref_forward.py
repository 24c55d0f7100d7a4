#!/usr/bin/env python3
"""ref_forward.py - an independent numpy reference of the llama forward pass.

Written from the model's math, not from chorus's C code, so the C forward pass can be checked
against it (tests/test_forward_ref.py). Weights are read with the `gguf` package and dequantized
with gguf.quants.dequantize (so this also checks chorus's GGUF reader and dequantizers).

Numerics: every dequantized weight is exactly representable in float32; all activations,
matmuls, softmax and norms here are computed in float64, so this reference is ~1e-12 accurate
and any difference against chorus (fp32 activations and accumulation) is chorus's rounding.

The math (GGUF `llama` conventions):
    x = token_embd[tokens]                                    # [n, dim]
    for each layer:
        h = rmsnorm(x) * attn_norm                            # x / sqrt(mean(x^2) + eps) * w
        q, k, v = h Wq^T, h Wk^T, h Wv^T                       # [n, heads*hd], [n, kv*hd] x2
        q, k = rope(q), rope(k)     # ADJACENT pairs (x[2i], x[2i+1]), theta_i = pos*base^(-2i/hd)
        attn: q head h uses kv head h // (heads/kv_heads), scale 1/sqrt(hd), causal softmax
        x += concat(heads) Wo^T
        h = rmsnorm(x) * ffn_norm
        x += (silu(h Wgate^T) * (h Wup^T)) Wdown^T
    logits = (rmsnorm(x) * output_norm) Wout^T                # Wout = token_embd when tied

Usage:
    python tools/ref_forward.py MODEL.gguf --tokens 1,2,3,4 [--top 5] [--out logits.npy]
    from ref_forward import logits; logits(path, [1, 2, 3])  -> np.ndarray [n, vocab] float64
"""
import argparse
import sys

import numpy as np
import gguf


def _field(reader, key, default=None):
    """Value of a scalar or string metadata key (works across gguf package versions)."""
    f = reader.fields.get(key)
    if f is None:
        return default
    if hasattr(f, "contents"):
        return f.contents()
    part = f.parts[f.data[0]]  # older gguf: decode by hand
    if f.types and f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(part).decode("utf-8")
    return part.tolist()[0]


class Model:
    """Config plus lazily dequantized weights of a llama GGUF file."""

    def __init__(self, path):
        self.path = path
        self.reader = gguf.GGUFReader(path)
        r = self.reader
        arch = _field(r, "general.architecture")
        if arch != "llama":
            raise ValueError(f"{path}: architecture {arch!r} is not supported by the reference")
        self.dim = int(_field(r, "llama.embedding_length"))
        self.n_layers = int(_field(r, "llama.block_count"))
        self.ffn = int(_field(r, "llama.feed_forward_length"))
        self.n_heads = int(_field(r, "llama.attention.head_count"))
        self.n_kv = int(_field(r, "llama.attention.head_count_kv", self.n_heads))
        self.rope_base = float(_field(r, "llama.rope.freq_base", 10000.0))
        self.eps = float(_field(r, "llama.attention.layer_norm_rms_epsilon", 1e-5))
        self.head_dim = self.dim // self.n_heads
        rot = int(_field(r, "llama.rope.dimension_count", self.head_dim))
        if rot != self.head_dim:
            raise ValueError(f"{path}: partial rotary ({rot} of {self.head_dim}) not supported")
        self.tensors = {t.name: t for t in r.tensors}
        self.tied = "output.weight" not in self.tensors
        self.vocab = int(self.tensors["token_embd.weight"].shape[-1])  # ggml ne = [dim, vocab]
        self._cache = {}

    def weight(self, name, cache=False):
        """Dequantized tensor as float32 numpy, HF layout ([out, in] for matrices)."""
        if name in self._cache:
            return self._cache[name]
        t = self.tensors[name]
        w = gguf.quants.dequantize(t.data, t.tensor_type)
        w = np.asarray(w, dtype=np.float32)
        # the reader's numpy shape is ggml's ne reversed: [out, in] for a matrix
        want = tuple(int(d) for d in reversed(list(t.shape)))
        w = w.reshape(want)
        if cache:
            self._cache[name] = w
        return w


def rmsnorm(x, w, eps):
    """x: [n, d] float64, w: [d] -> [n, d]."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, pos, base):
    """Adjacent-pair rotary embedding. x: [n, heads, hd], pos: [n] -> same shape."""
    hd = x.shape[-1]
    i = np.arange(hd // 2, dtype=np.float64)
    theta = pos[:, None].astype(np.float64) * base ** (-2.0 * i / hd)  # [n, hd/2]
    c, s = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def attention(q, k, v, n_kv):
    """Causal GQA. q: [n, H, hd], k/v: [n, KV, hd] -> [n, H*hd]."""
    n, H, hd = q.shape
    group = H // n_kv
    out = np.empty((n, H, hd))
    mask = np.triu(np.ones((n, n), dtype=bool), k=1)  # True above the diagonal = future
    for h in range(H):
        kh, vh = k[:, h // group, :], v[:, h // group, :]
        s = (q[:, h, :] @ kh.T) / np.sqrt(hd)  # [n, n]
        s[mask] = -np.inf
        s -= s.max(axis=-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=-1, keepdims=True)
        out[:, h, :] = p @ vh
    return out.reshape(n, H * hd)


def silu(x):
    return x / (1.0 + np.exp(-x))


_models = {}


def load(model_path):
    m = _models.get(model_path)
    if m is None:
        m = _models[model_path] = Model(model_path)
    return m


def logits(model_path, tokens):
    """Logits of every position of `tokens` run as one sequence from position 0.

    Returns np.ndarray [n, vocab] float64.
    """
    m = load(model_path)
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim != 1 or len(tokens) == 0:
        raise ValueError("tokens must be a non-empty 1-D list")
    if tokens.min() < 0 or tokens.max() >= m.vocab:
        raise ValueError(f"token id out of range [0, {m.vocab})")
    n, H, KV, hd = len(tokens), m.n_heads, m.n_kv, m.head_dim
    pos = np.arange(n)
    f64 = lambda name: m.weight(name).astype(np.float64)

    emb = m.weight("token_embd.weight", cache=True)  # [vocab, dim]
    x = emb[tokens].astype(np.float64)  # [n, dim]
    for l in range(m.n_layers):
        p = f"blk.{l}."
        h = rmsnorm(x, f64(p + "attn_norm.weight"), m.eps)
        q = (h @ f64(p + "attn_q.weight").T).reshape(n, H, hd)
        k = (h @ f64(p + "attn_k.weight").T).reshape(n, KV, hd)
        v = (h @ f64(p + "attn_v.weight").T).reshape(n, KV, hd)
        q, k = rope(q, pos, m.rope_base), rope(k, pos, m.rope_base)
        x = x + attention(q, k, v, KV) @ f64(p + "attn_output.weight").T
        h = rmsnorm(x, f64(p + "ffn_norm.weight"), m.eps)
        g = h @ f64(p + "ffn_gate.weight").T
        u = h @ f64(p + "ffn_up.weight").T
        x = x + (silu(g) * u) @ f64(p + "ffn_down.weight").T
    h = rmsnorm(x, f64("output_norm.weight"), m.eps)
    out_w = emb if m.tied else m.weight("output.weight", cache=True)
    return h @ out_w.astype(np.float64).T


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--top", type=int, default=5, help="print the top-k ids per position")
    ap.add_argument("--out", help="save the [n, vocab] float64 logits to this .npy file")
    a = ap.parse_args()
    toks = [int(t) for t in a.tokens.split(",") if t.strip()]
    z = logits(a.model, toks)
    if a.out:
        np.save(a.out, z)
    for i, row in enumerate(z):
        top = np.argsort(-row)[: a.top]
        desc = " ".join(f"{t}:{row[t]:.4f}" for t in top)
        print(f"pos {i:3d} tok {toks[i]:6d} -> {desc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
