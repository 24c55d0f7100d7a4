#!/usr/bin/env python3
"""ref_forward.py - an independent numpy reference of the llama forward pass.

Written from the model's math, not from chorus's C code, so the C forward pass can be checked
against it (tests/test_forward_ref.py). Weights are read with the `gguf` package and dequantized
with gguf.quants.dequantize (so this also checks chorus's GGUF reader and dequantizers).

Numerics: every dequantized weight is exactly representable in float32; all activations,
matmuls, softmax and norms here are computed in float64, so this reference is ~1e-12 accurate
and any difference against chorus (fp32 activations and accumulation) is chorus's rounding -
except the roundings chorus makes on purpose, which this reference makes too: with numerics
"int8" (chorus's default) keys and values are rounded to fp16 (the KV cache's type then) and the
matmul inputs are quantized as below.

Numerics "int8" (chorus's default): the input of every matmul whose weight is quantized (Q4_0,
Q4_1, Q5_0, Q5_1, Q8_0, Q2_K .. Q6_K) is first quantized as chorus and llama.cpp do (runtime/cpu/qgemm.h): per block of 32,
a = max|x|, q = round_half_even(x * (127 / a)) in float32, x -> (a / 127) * q; the input of a
BF16 weight is rounded to bf16. The rounded inputs are then multiplied exactly (float64) like
everything else; "f32" (the default here) skips that step.

The math (GGUF `llama` conventions; qwen2 and qwen3 as noted):
    x = token_embd[tokens]                                    # [n, dim]
    for each layer:
        h = rmsnorm(x) * attn_norm                            # x / sqrt(mean(x^2) + eps) * w
        q, k, v = h Wq^T, h Wk^T, h Wv^T                       # [n, heads*hd], [n, kv*hd] x2
        q, k, v += bq, bk, bv       # qwen2 (any file with attn_q.bias ...)
        q, k = rmsnorm per head     # qwen3 (attn_q_norm / attn_k_norm, over each head's hd values)
        q, k = rope(q), rope(k)     # llama: ADJACENT pairs (x[2i], x[2i+1]); qwen2/qwen3: NeoX pairs
                                    # (x[i], x[i + hd/2]); theta_i = pos/linear * base^(-2i/hd) / f_i
                                    # (linear: rope.scaling.factor of type linear; f: rope_freqs)
        k, v = fp16(k), fp16(v)     # int8 numerics only: the KV cache holds them as IEEE half
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
        if arch not in ("llama", "qwen2", "qwen3"):
            raise ValueError(f"{path}: architecture {arch!r} is not supported by the reference")
        self.arch = arch
        a = lambda key, default=None: _field(r, f"{arch}.{key}", default)
        self.dim = int(a("embedding_length"))
        self.n_layers = int(a("block_count"))
        self.ffn = int(a("feed_forward_length"))
        self.n_heads = int(a("attention.head_count"))
        self.n_kv = int(a("attention.head_count_kv", self.n_heads))
        self.rope_base = float(a("rope.freq_base", 10000.0))
        self.eps = float(a("attention.layer_norm_rms_epsilon", 1e-5))
        self.head_dim = int(a("attention.key_length", self.dim // self.n_heads))
        self.neox = arch in ("qwen2", "qwen3")
        scaling = a("rope.scaling.type", "none")
        if scaling not in ("none", "linear"):
            raise ValueError(f"{path}: rope scaling {scaling!r} is not supported by the reference")
        self.rope_linear = float(a("rope.scaling.factor", 1.0)) if scaling == "linear" else 1.0
        rot = int(a("rope.dimension_count", self.head_dim))
        if rot != self.head_dim:
            raise ValueError(f"{path}: partial rotary ({rot} of {self.head_dim}) not supported")
        self.tensors = {t.name: t for t in r.tensors}
        self.tied = "output.weight" not in self.tensors
        self.vocab = int(self.tensors["token_embd.weight"].shape[-1])  # ggml ne = [dim, vocab]
        self._cache = {}
        self.rope_factors = (self.weight("rope_freqs.weight").astype(np.float64)
                             if "rope_freqs.weight" in self.tensors else None)

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


def rope(x, pos, base, neox=False, linear=1.0, factors=None):
    """Rotary embedding. x: [n, heads, hd], pos: [n] -> same shape. Pairs (x[2i], x[2i+1]), or
    with neox (x[i], x[i + hd/2]); theta_i = pos / linear * base^(-2i/hd) / factors[i]."""
    hd = x.shape[-1]
    i = np.arange(hd // 2, dtype=np.float64)
    theta = (pos[:, None].astype(np.float64) / linear) * base ** (-2.0 * i / hd)  # [n, hd/2]
    if factors is not None:
        theta = theta / factors[None, :]
    c, s = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
    lo, hi = (slice(0, hd // 2), slice(hd // 2, hd)) if neox else (slice(0, None, 2),
                                                                    slice(1, None, 2))
    x0, x1 = x[..., lo], x[..., hi]
    out = np.empty_like(x)
    out[..., lo] = x0 * c - x1 * s
    out[..., hi] = x0 * s + x1 * c
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


# the weight types chorus multiplies by int8 activations
QUANTIZED = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K")


def round_bf16(x, margins=None):
    """x [n, d] rounded to bf16 as chorus does for BF16 weights under int8 numerics: from
    float32, to nearest even; a subnormal result becomes zero. margins: receives ("bf16", each
    row's smallest distance of a value from a rounding tie, in bf16 steps)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    if margins is not None:
        frac = (u & 0xFFFF).astype(np.float64) / 65536.0
        margins.append(("bf16", np.abs(frac - 0.5).min(axis=1)))
    h = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    h = np.where(h & 0x7F80, h, h & 0x8000)
    return (h.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def quantize_q8(x, margins=None):
    """Rows of x [n, d] (d a multiple of 32) through the int8 activation quantizer, as float64.

    The rounding happens in float32, the way chorus computes it (its activations are float32):
    a = max|x|, d = a / 127, q = rint(x * (127 / a)) (ties to even; 0 where a = 0), x -> d * q.
    margins: a list to which ("int8", each row's smallest distance of x * (127 / a) from a
    rounding boundary k + 1/2) is appended: how close a row came to rounding differently.
    """
    n, dim = x.shape
    b = x.astype(np.float32).reshape(n, dim // 32, 32)
    amax = np.abs(b).max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        inv = np.where(amax > 0, np.float32(127) / amax, np.float32(0)).astype(np.float32)
    t = b * inv  # float32 product
    q = np.rint(t)  # round to nearest even
    if margins is not None:
        frac = t.astype(np.float64) - np.floor(t)
        margins.append(("int8", np.abs(frac - 0.5).reshape(n, -1).min(axis=1)))
    d = (amax / np.float32(127)).astype(np.float32)
    return (d.astype(np.float64) * q.astype(np.float64)).reshape(n, dim)


def fp16(x):
    """x rounded to IEEE half (nearest even), as float64: with int8 numerics chorus's KV cache
    stores keys (after RoPE) and values as fp16, as llama.cpp does."""
    return x.astype(np.float16).astype(np.float64)


def silu(x):
    return x / (1.0 + np.exp(-x))


_models = {}


def load(model_path):
    m = _models.get(model_path)
    if m is None:
        m = _models[model_path] = Model(model_path)
    return m


def logits(model_path, tokens, numerics="f32", margins=None):
    """Logits of every position of `tokens` run as one sequence from position 0.

    numerics: "f32" (exact activations) or "int8" (quantized matmul inputs, see the top);
    margins: with int8, a list that receives quantize_q8's per-position rounding margins.
    Returns np.ndarray [n, vocab] float64.
    """
    if numerics not in ("f32", "int8"):
        raise ValueError(f"numerics {numerics!r} is not f32 or int8")
    m = load(model_path)
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim != 1 or len(tokens) == 0:
        raise ValueError("tokens must be a non-empty 1-D list")
    if tokens.min() < 0 or tokens.max() >= m.vocab:
        raise ValueError(f"token id out of range [0, {m.vocab})")
    n, H, KV, hd = len(tokens), m.n_heads, m.n_kv, m.head_dim
    pos = np.arange(n)
    f64 = lambda name: m.weight(name).astype(np.float64)

    def mm(h, name, w=None):
        """h [n, in] times weight `name` transposed; int8 numerics quantize h first."""
        kind = m.tensors[name].tensor_type.name
        if numerics == "int8" and kind in QUANTIZED:
            h = quantize_q8(h, margins)
        elif numerics == "int8" and kind == "BF16":
            h = round_bf16(h, margins)
        return h @ (f64(name) if w is None else w).T

    emb = m.weight("token_embd.weight", cache=True)  # [vocab, dim]
    x = emb[tokens].astype(np.float64)  # [n, dim]
    for l in range(m.n_layers):
        p = f"blk.{l}."
        h = rmsnorm(x, f64(p + "attn_norm.weight"), m.eps)
        q, k, v = mm(h, p + "attn_q.weight"), mm(h, p + "attn_k.weight"), mm(h, p + "attn_v.weight")
        if p + "attn_q.bias" in m.tensors:  # qwen2
            q, k, v = (t + f64(p + f"attn_{w}.bias") for t, w in ((q, "q"), (k, "k"), (v, "v")))
        q, k, v = q.reshape(n, H, hd), k.reshape(n, KV, hd), v.reshape(n, KV, hd)
        if p + "attn_q_norm.weight" in m.tensors:  # qwen3: each head normed on its own
            q = rmsnorm(q, f64(p + "attn_q_norm.weight"), m.eps)
            k = rmsnorm(k, f64(p + "attn_k_norm.weight"), m.eps)
        rp = dict(neox=m.neox, linear=m.rope_linear, factors=m.rope_factors)
        q, k = rope(q, pos, m.rope_base, **rp), rope(k, pos, m.rope_base, **rp)
        if numerics == "int8":  # the KV cache stores them as fp16
            k, v = fp16(k), fp16(v)
        x = x + mm(attention(q, k, v, KV), p + "attn_output.weight")
        h = rmsnorm(x, f64(p + "ffn_norm.weight"), m.eps)
        g = mm(h, p + "ffn_gate.weight")
        u = mm(h, p + "ffn_up.weight")
        x = x + mm(silu(g) * u, p + "ffn_down.weight")
    h = rmsnorm(x, f64("output_norm.weight"), m.eps)
    out_name = "token_embd.weight" if m.tied else "output.weight"
    out_w = emb if m.tied else m.weight("output.weight", cache=True)
    return mm(h, out_name, out_w.astype(np.float64))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--top", type=int, default=5, help="print the top-k ids per position")
    ap.add_argument("--out", help="save the [n, vocab] float64 logits to this .npy file")
    ap.add_argument("--numerics", choices=["f32", "int8"], default="f32",
                    help="int8: quantize the inputs of quantized-weight matmuls (chorus's default)")
    a = ap.parse_args()
    toks = [int(t) for t in a.tokens.split(",") if t.strip()]
    z = logits(a.model, toks, a.numerics)
    if a.out:
        np.save(a.out, z)
    for i, row in enumerate(z):
        top = np.argsort(-row)[: a.top]
        desc = " ".join(f"{t}:{row[t]:.4f}" for t in top)
        print(f"pos {i:3d} tok {toks[i]:6d} -> {desc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
