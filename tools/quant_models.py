#!/usr/bin/env python3
"""quant_models.py - the quantized test models of tests/test_quant_models.py and
tools/gen_quant_fixtures.py, built the same way by both (nothing here is committed: every file
lands in build/).

    python tools/quant_models.py [--default]     builds them and prints each file's tensor types

Tiny random models (tools/make_tiny_model.py, shape "k": dim 256, FFN 512, 2 layers, so that
every row is a multiple of the K-quants' 256), one per architecture, written in F16:
    llama   with a Llama 3.x rope_freqs.weight and linear rope scaling x2
    qwen2   with q/k/v biases
    qwen3   with per-head q/k norms and head size 128 (q is 512 wide, the embedding 256)
each then quantized by llama.cpp (tools/quantize_gguf.py) to every base type alone (--pure:
Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q5_0, Q5_1) and to the Q4_K_M mix (Q4_K with some Q6_K).
The default model (SmolLM2-135M-Instruct Q4_1) re-quantized to Q4_K_M, Q5_K_M, Q6_K and Q8_0:
its width 576 is not a multiple of 256, so llama.cpp falls back to Q5_0/Q5_1/Q8_0 for most
tensors and keeps K-quants where rows are 1536 long (ffn_down), as the hubs' files of such
models do.
"""
import argparse
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import quantize_gguf  # noqa: E402

TINY_DIR = os.path.join(ROOT, "build", "tmp", "quant")
DEFAULT_DIR = os.path.join(ROOT, "build", "quant")
DEFAULT_MODEL = os.path.join(ROOT, "weights", "SmolLM2-135M-Instruct.Q4_1.gguf")

ARCHS = {  # name: make_tiny_model.build keyword arguments
    "llama": dict(arch="llama", rope_freqs=True, rope_linear=2.0, seed=11),
    "qwen2": dict(arch="qwen2", seed=12),
    "qwen3": dict(arch="qwen3", head_dim=128, seed=13),
}
# (llama.cpp file type, pure): each base type alone, then the common mix
TINY_TYPES = [("Q2_K", True), ("Q3_K_M", True), ("Q4_K_M", True), ("Q5_K_M", True),
              ("Q6_K", True), ("Q5_0", True), ("Q5_1", True), ("Q4_K_M", False)]
DEFAULT_TYPES = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"]


def label(arch, ftype, pure):
    return f"{arch}-{ftype}{'-pure' if pure else ''}"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tiny_models():
    """Builds the tiny models; returns [(label, path)], the F16 sources first."""
    import make_tiny_model
    os.makedirs(TINY_DIR, exist_ok=True)
    out = []
    for arch, kw in ARCHS.items():
        src = os.path.join(TINY_DIR, f"{arch}-F16.gguf")
        kw = dict(kw)
        make_tiny_model.build(src, False, "f16", kw.pop("seed"), shape="k", **kw)
        out.append((f"{arch}-F16", src))
        for ftype, pure in TINY_TYPES:
            dst = os.path.join(TINY_DIR, label(arch, ftype, pure) + ".gguf")
            quantize_gguf.quantize(src, dst, ftype, pure)
            out.append((label(arch, ftype, pure), dst))
    return out


def default_models(types=DEFAULT_TYPES):
    """The default model re-quantized to `types` (each made once: kept while newer than the
    source); returns [(label, path)], or [] without the default model."""
    if not os.path.exists(DEFAULT_MODEL):
        return []
    os.makedirs(DEFAULT_DIR, exist_ok=True)
    out = []
    for ftype in types:
        dst = os.path.join(DEFAULT_DIR, f"SmolLM2-135M-Instruct.{ftype}.gguf")
        if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(DEFAULT_MODEL):
            quantize_gguf.quantize(DEFAULT_MODEL, dst, ftype)
        out.append((f"smollm2-{ftype}", dst))
    return out


def main():
    ap = argparse.ArgumentParser(description="build the quantized test models")
    ap.add_argument("--default", action="store_true", help="also re-quantize the default model")
    a = ap.parse_args()
    models = tiny_models() + (default_models() if a.default else [])
    for name, path in models:
        counts = {}
        for t in quantize_gguf.tensor_types(path).values():
            counts[t] = counts.get(t, 0) + 1
        print(f"{name:22s} " + ", ".join(f"{n} {t}" for t, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
