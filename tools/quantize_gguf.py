#!/usr/bin/env python3
"""quantize_gguf.py - quantize a GGUF file with llama.cpp's own quantizer (llama_model_quantize in
llama-cpp-python), the way model hubs make their Q4_K_M files.

    python tools/quantize_gguf.py IN.gguf OUT.gguf Q4_K_M [--pure] [--threads 2]

TYPE is a llama.cpp file type: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M
Q5_K_S Q5_K_M Q6_K. The mixes (_S/_M/_L) keep some tensors in a larger type, as llama.cpp
decides; --pure quantizes every matrix to the one base type (token_embd and output included),
which the tests use to get each type alone. Rows whose length is not a multiple of a K-quant's
256 fall back to a legacy type (llama.cpp's choice: Q5_0, Q5_1 or Q8_0); SmolLM2's width 576 is
such a case, so its "Q4_K_M" holds mostly those. A source that is already quantized is
re-quantized (allow_requantize).

As a module: quantize(src, dst, ftype, pure=False) -> dst; tensor_types(path) -> {name: type};
tensor_infos(path) -> [(name, ne, type id)] (the header only, without gguf.GGUFReader).
"""
import argparse
import os
import sys

FTYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S",
          "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"]


def quantize(src, dst, ftype, pure=False, threads=2):
    """Writes dst, src quantized to llama.cpp file type `ftype` (a name in FTYPES)."""
    import llama_cpp as L
    if ftype not in FTYPES:
        raise ValueError(f"file type {ftype!r} is not one of {' '.join(FTYPES)}")
    from llama_peer import quiet
    quiet()
    p = L.llama_model_quantize_default_params()
    p.ftype = getattr(L, f"LLAMA_FTYPE_MOSTLY_{ftype}")
    p.nthread = threads
    p.allow_requantize = True
    p.pure = pure
    tmp = dst + ".part"
    rc = L.llama_model_quantize(src.encode(), tmp.encode(), p)
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> {ftype}) returned {rc}")
    os.replace(tmp, dst)
    return dst


# GGUF metadata value types: fixed sizes in bytes (8 = string and 9 = array are variable)
_SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def tensor_infos(path):
    """[(name, ne, ggml type id)] of a GGUF file's tensors, in file order (ne: ggml's dims,
    innermost first). Reads only the header: the metadata is skipped, not decoded, so this
    takes milliseconds where gguf.GGUFReader spends seconds building Python objects for a
    49152-token vocabulary."""
    import mmap
    import struct
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as b:
        u32 = lambda o: struct.unpack_from("<I", b, o)[0]  # noqa: E731
        u64 = lambda o: struct.unpack_from("<Q", b, o)[0]  # noqa: E731
        if b[:4] != b"GGUF" or u32(4) not in (2, 3):
            raise ValueError(f"{path}: not a GGUF v2/v3 file")
        n_tensors, n_kv, o = u64(8), u64(16), 24

        def skip_value(o, vtype, count=1):
            if vtype in _SCALAR_BYTES:
                return o + count * _SCALAR_BYTES[vtype]
            if vtype == 8:  # strings: u64 length + bytes each
                for _ in range(count):
                    o += 8 + u64(o)
                return o
            if vtype == 9:  # arrays: u32 element type, u64 count, elements
                for _ in range(count):
                    o = skip_value(o + 12, u32(o), u64(o + 4))
                return o
            raise ValueError(f"{path}: metadata value type {vtype} at offset {o}")

        for _ in range(n_kv):
            o += 8 + u64(o)  # the key
            o = skip_value(o + 4, u32(o))
        out = []
        for _ in range(n_tensors):
            n = u64(o)
            name = bytes(b[o + 8:o + 8 + n]).decode("utf-8")
            o += 8 + n
            nd = u32(o)
            ne = list(struct.unpack_from(f"<{nd}Q", b, o + 4))
            o += 4 + 8 * nd
            out.append((name, ne, u32(o)))
            o += 4 + 8  # type, data offset
        return out


def tensor_types(path):
    """{tensor name: type name} of a GGUF file (type names as gguf.GGMLQuantizationType's)."""
    from gguf import GGMLQuantizationType
    return {name: GGMLQuantizationType(t).name for name, _, t in tensor_infos(path)}


def main():
    ap = argparse.ArgumentParser(description="quantize a GGUF with llama.cpp's quantizer")
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("type", choices=FTYPES)
    ap.add_argument("--pure", action="store_true", help="every matrix in the one base type")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    quantize(a.src, a.dst, a.type, a.pure, a.threads)
    counts = {}
    for t in tensor_types(a.dst).values():
        counts[t] = counts.get(t, 0) + 1
    print(f"{a.dst}: " + ", ".join(f"{n} {t}" for t, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
