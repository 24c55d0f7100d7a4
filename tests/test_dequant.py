#!/usr/bin/env python3
"""test_dequant.py - chorus's dequantize_row (C, via ctypes) against the gguf Python package.

For F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1: random data (normal, outliers, zeros, all-negative,
constant blocks, tiny and large magnitudes, inf/nan/subnormals for the float types) is
quantized with gguf.quants.quantize, then dequantized by gguf.quants.dequantize and by
dequantize_row. The K-quants (Q2_K .. Q6_K), which gguf cannot quantize, are quantized by
llama.cpp's own quantizer (ggml_quantize_chunk in llama-cpp-python's libggml-base) where it is
installed. A "raw" case also feeds random block bytes (every quant and scale bit pattern, random
finite fp16 scales) that no quantizer would produce, for every quantized type.

Bound: EXACT equality (bit for bit; +0/-0 are treated as equal, NaN equals NaN). Why exact is
the right bound and not merely hoped for:
  * F32/F16/BF16 are widenings to fp32: exact by definition.
  * Q8_0 d*q, Q4_0 d*(q-8): d is an fp16 value (11 significant bits) and q an integer of at
    most 8 bits, so the product has at most 19 significant bits and is exact in fp32 - no
    rounding at all, in any evaluation order.
  * The K-quants (d*sc)*q - dmin*mn (gguf's order of operations): d*sc is at most 11 + 7
    significant bits, times a quant of at most 6 bits stays within fp32's 24: every product is
    exact, so again at most the one rounding of the final subtraction, as in Q4_1 below.
  * Q4_1 and Q5_1 d*q + m: d*q is exact as above, so the only rounding is the final addition; gguf's
    numpy computes (d*q) + m with one fp32 rounding and C computes the same one rounding
    whether or not the compiler contracts it into an FMA (the FMA's product is exact too).
    Hence both give the correctly rounded fp32 value of d*q + m: identical.
Also checks that dequantize_row writes exactly n floats (sentinels after the row survive).
"""
import ctypes
import os
import sys

import numpy as np
import pycheck as pc
from pycheck import check, skip

import gguf
from gguf import GGMLQuantizationType as T

TYPES = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]
KQUANTS = [T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
# Bytes per block, and where the fp16 scales sit in a block (raw_blocks keeps them finite).
BLOCK = {T.Q8_0: (34, [0]), T.Q4_0: (18, [0]), T.Q4_1: (20, [0, 2]), T.Q5_0: (22, [0]),
         T.Q5_1: (24, [0, 2]), T.Q2_K: (84, [80, 82]), T.Q3_K: (110, [108]),
         T.Q4_K: (144, [0, 2]), T.Q5_K: (176, [0, 2]), T.Q6_K: (210, [208])}
SENTINEL = np.float32(-12345.678)


def cases(rng, qtype):
    """(name, float32 data) pairs; lengths are multiples of 32."""
    n = 32 * 64
    normal = rng.standard_normal(n).astype(np.float32)
    out = normal.copy()
    idx = rng.choice(n, size=40, replace=False)
    out[idx] *= rng.choice([-1000.0, 1000.0, 50.0, -50.0], size=40).astype(np.float32)
    zeros = normal.copy()
    zeros[:96] = 0.0  # three whole zero blocks
    zeros[rng.choice(n, size=200, replace=False)] = 0.0
    neg = -np.abs(normal) - 0.25
    const = np.repeat(rng.standard_normal(n // 32).astype(np.float32), 32)
    const[:32] = 3.0
    tiny = normal * np.float32(1e-5)
    large = normal * np.float32(2000.0)
    mixed = normal * np.exp(rng.uniform(-8, 8, n)).astype(np.float32)
    cs = [("normal", normal), ("outliers", out), ("zeros", zeros), ("negative", neg),
          ("constant", const), ("tiny", tiny), ("large", large), ("mixed-scales", mixed),
          ("one-block", normal[:32].copy()), ("long-row", rng.standard_normal(32 * 1537)
                                               .astype(np.float32))]
    if qtype in (T.F32, T.F16, T.BF16):
        sp = normal[:64].copy()
        sp[:12] = [np.inf, -np.inf, np.nan, -0.0, 0.0, 6e-8, -6e-8, 1e-40, 65504.0, 70000.0,
                   3e38, -1e-30]
        cs.append(("specials", sp))
    return [(name, np.ascontiguousarray(x, dtype=np.float32)) for name, x in cs]


def raw_blocks(rng, qtype, n_blocks):
    """Random block bytes with finite fp16 scales (not produced by any quantizer)."""
    size, scales = BLOCK[qtype]
    b = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for s in scales:  # clear the fp16 exponent's top bit: |scale| < 2, finite
        b[:, s + 1] &= 0xBF
    return b.reshape(-1)


def ggml_quantizer():
    """llama.cpp's ggml_quantize_chunk (from llama-cpp-python's libggml-base), or None."""
    try:
        import llama_cpp
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so")
    if not os.path.exists(path):
        return None
    g = ctypes.CDLL(path)
    g.ggml_quantize_chunk.restype = ctypes.c_size_t
    g.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                      ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                      ctypes.c_void_p]
    return g


def ggml_quantize(g, qtype, x):
    """x (a multiple of 256 values) quantized by llama.cpp as one row: the raw bytes."""
    size, _ = BLOCK[qtype]
    elems = 256 if qtype in KQUANTS else 32
    x = np.ascontiguousarray(x, dtype=np.float32)
    dst = np.zeros(x.size // elems * size, dtype=np.uint8)
    got = g.ggml_quantize_chunk(int(qtype), x.ctypes.data_as(ctypes.c_void_p),
                                dst.ctypes.data_as(ctypes.c_void_p), 0, 1, x.size, None)
    check(got == dst.size, f"{qtype.name}: ggml_quantize_chunk wrote {got} bytes, not {dst.size}")
    return dst


def c_dequant(lib, qtype, raw, n):
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    dst = np.full(n + 16, SENTINEL, dtype=np.float32)
    lib.dequantize_row(int(qtype), raw.ctypes.data_as(ctypes.c_void_p),
                       dst.ctypes.data_as(ctypes.c_void_p), n)
    return dst[:n], dst[n:]


def same(c, g):
    """Bitwise equality, except +0 == -0 and NaN == NaN. Returns (ok, first bad index)."""
    cb, gb = c.view(np.uint32), g.view(np.uint32)
    ok = (cb == gb) | ((c == 0) & (g == 0)) | (np.isnan(c) & np.isnan(g))
    bad = np.flatnonzero(~ok)
    return len(bad) == 0, (int(bad[0]) if len(bad) else -1)


def compare(lib, qtype, name, raw, n):
    g = np.asarray(gguf.quants.dequantize(raw, qtype), dtype=np.float32).reshape(-1)
    check(g.size == n, f"{qtype.name} {name}: gguf gave {g.size} values, expected {n}")
    c, tail = c_dequant(lib, qtype, raw, n)
    ok, i = same(c, g)
    check(ok, f"{qtype.name} {name}: element {i}: chorus {c[i] if i >= 0 else 0!r} "
              f"vs gguf {g[i] if i >= 0 else 0!r}")
    check(np.all(tail == SENTINEL), f"{qtype.name} {name}: dequantize_row wrote past n={n}")


def main():
    lib, why = pc.load_lib(["dequantize_row"])
    if lib is None:
        if "no symbol" in why:
            check(False, why)
        else:
            skip(why)
        return pc.done("test_dequant")
    rng = np.random.default_rng(20240611)
    for qtype in TYPES:
        for name, x in cases(rng, qtype):
            with np.errstate(all="ignore"):
                q = gguf.quants.quantize(x, qtype)
            raw = np.frombuffer(np.ascontiguousarray(q).tobytes(), dtype=np.uint8)
            compare(lib, qtype, name, raw, x.size)
        if qtype in BLOCK:
            compare(lib, qtype, "raw-bytes", raw_blocks(rng, qtype, 512), 512 * 32)
    g = ggml_quantizer()
    if g is None:
        skip("llama-cpp-python's libggml-base not found: K-quants checked on raw bytes only")
    for qtype in KQUANTS:
        compare(lib, qtype, "raw-bytes", raw_blocks(rng, qtype, 64), 64 * 256)
        for name, x in cases(rng, qtype) if g else []:
            x = x[:x.size // 256 * 256]  # whole super-blocks (drops the one-block case)
            if x.size:
                compare(lib, qtype, name, ggml_quantize(g, qtype, x), x.size)
    return pc.done("test_dequant")


if __name__ == "__main__":
    sys.exit(main())
