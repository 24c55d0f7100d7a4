#!/usr/bin/env python3
"""test_forward_ref.py - chorus's CPU forward pass against tools/ref_forward.py (numpy, float64).

Models: three tiny random GGUFs written into build/tmp/ by tools/make_tiny_model.py (mixed
F32/F16/BF16/Q8_0/Q4_0/Q4_1 untied; mixed tied; all-F32) and the default model
(SmolLM2-135M-Instruct Q4_1, skipped if weights/ lacks it). Each sequence is run as one
sequence from position 0 through chorus_dev_logits (ctypes), and at EVERY position

    max_v |chorus[pos, v] - ref[pos, v]|  <=  1e-3 * max_v |ref[pos, v]|

(the bound of issue 2; applied per position, which is stricter than over the whole array).
Why 1e-3 is right for chorus: the reference uses the same dequantized weights, exactly, in
float64; chorus keeps fp32 activations and accumulations, whose relative rounding
(~6e-8 per op, growing ~sqrt(dim) per dot product and over 30 layers) stays orders of
magnitude under 1e-3 - while a real bug (wrong RoPE pairing, GQA mapping, eps, a nibble
order, a missed tied-embedding case) shows up as O(1) differences.

Both numerics are checked, each against the reference run the same way: "f32" (fp32
activations and KV cache) and "int8" (chorus's default: the inputs of quantized-weight matmuls
rounded to int8 per block of 32, in float32 as chorus does, and keys and values stored as fp16;
the reference makes both roundings). With int8 the
1e-3 bound holds only while chorus and the reference make the same rounding decisions. Rounding
is discontinuous: chorus's fp32 activations differ from the reference's float64 ones by a few
fp32 ulps of a block's largest value, which moves x * 127 / max by ~1e-5, so an input within
that distance of a tie k + 1/2 may round the other way in chorus, and the one-step change it
makes spreads through every later layer and position (on SmolLM2 a 2^-24 relative perturbation
of the reference's own quantizer inputs moves the logits by 2-6e-2). So the reference records
how close each position came to a tie (quantize_q8's margins); positions before the first one
closer than TIE_MARGIN (1e-4 of a step for int8, ~8x the expected shift) get the 1e-3 bound, and later positions a
loose bound of 0.25 x max|logit|: above that measured spread, far below the O(1) differences of
a wrong weight, type or wiring. The test prints how many positions were checked tightly; the
tiny models (a few hundred roundings per position) give several, SmolLM2 (~10^5 per position)
none, and the int8 kernels themselves are checked bit for bit in tests/test_qgemm.c. (The fp16
rounding of K and V has ties too, but one goes to the neighbouring half, 2^-11 of the value, not
1/127 of a block's largest one: on SmolLM2 they move the logits by at most ~6e-4 over 64
positions, which the tight bound leaves room for.)
"""
import ctypes
import os
import sys

import numpy as np
import pycheck as pc
from pycheck import check, skip

import make_tiny_model
import ref_forward

REL_BOUND = 1e-3
# int8 numerics: a rounding this close to a tie may go the other way in chorus. In int8 steps
# (1/127 of a block's max) 1e-4 is ~8x the shift of an fp32 activation off by 1e-7 of the
# block's max; in bf16 steps (the inputs of BF16 weights) it is 6.5 fp32 ulps of the value.
TIE_MARGIN = {"int8": 1e-4, "bf16": 1e-4}
LOOSE_BOUND = 0.25  # int8, positions at or after such a near-tie (see above)
NUMERICS = ("int8", "f32")  # chorus's two CPU numerics, each against the reference run the same way

# "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face
# <|im_end|>\n<|im_start|>user\nA baker made 3 trays of 12 cookies and sold 20. How many cookies
# are left?<|im_end|>\n<|im_start|>assistant\n" tokenized by llama.cpp (llama-cpp-python 0.3.36,
# special=True, add_bos=False), followed by llama.cpp's first 11 greedy tokens ("A baker made 3
# trays of 12 cookies") - 64 tokens.
DEFAULT_TOKENS = [
    1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407,
    19712, 8182, 2, 198, 1, 4093, 198, 49, 38993, 1135, 216, 35, 33190, 282, 216, 33, 34, 12834,
    284, 3459, 216, 34, 32, 30, 1073, 800, 12834, 359, 2049, 47, 2, 198, 1, 520, 9531, 198,
    49, 38993, 1135, 216, 35, 33190, 282, 216, 33, 34, 12834,
]


def chorus_logits(lib, path, tokens, vocab):
    toks = np.ascontiguousarray(tokens, dtype=np.int32)
    out = np.full((len(toks), vocab), np.nan, dtype=np.float32)
    err = pc.errbuf()
    rc = lib.chorus_dev_logits(path.encode(), toks.ctypes.data_as(ctypes.c_void_p), len(toks),
                               out.ctypes.data_as(ctypes.c_void_p), err, len(err))
    return rc, out, err.value.decode(errors="replace")


def compare(lib, label, path, tokens, numerics, tie_margin=None):
    err = pc.errbuf()
    vocab = lib.chorus_dev_vocab(path.encode(), err, len(err))
    check(lib.chorus_dev_set_numerics(numerics.encode()) == 0, f"numerics {numerics}")
    label = f"{label} {numerics}"
    margins = []
    ref = ref_forward.logits(path, tokens, numerics, margins)
    if not check(vocab == ref.shape[1], f"{label}: chorus_dev_vocab = {vocab} "
                                        f"({err.value.decode(errors='replace')}), "
                                        f"reference vocab {ref.shape[1]}"):
        return
    rc, got, msg = chorus_logits(lib, path, tokens, vocab)
    if not check(rc == 0, f"{label}: chorus_dev_logits returned {rc}: {msg}"):
        return
    if not check(np.all(np.isfinite(got)), f"{label}: non-finite logits"):
        return
    diff = np.abs(got.astype(np.float64) - ref).max(axis=1)  # [n]
    scale = np.abs(ref).max(axis=1)  # [n]
    ratio = diff / scale
    worst = int(np.argmax(ratio))
    agree = float(np.mean(got.argmax(axis=1) == ref.argmax(axis=1)))
    print(f"  {label}: {len(tokens)} positions, worst max|diff|/max|logit| = {ratio[worst]:.2e} "
          f"at pos {worst} (diff {diff[worst]:.3g}, max|logit| {scale[worst]:.3g}), "
          f"argmax agreement {agree:.3f}")
    bound = np.full(len(tokens), REL_BOUND)
    if margins:  # int8: from the first position near a rounding tie on, the loose bound
        tm = tie_margin or TIE_MARGIN
        near = np.flatnonzero(np.any([mg < tm[kind] for kind, mg in margins], axis=0))
        tight = int(near[0]) if len(near) else len(tokens)
        bound[tight:] = LOOSE_BOUND
        print(f"    {tight} of {len(tokens)} positions before the first near-tie rounding: "
              f"bound {REL_BOUND:g}; after: {LOOSE_BOUND:g}")
    bad = np.flatnonzero(ratio > bound)
    check(len(bad) == 0, f"{label}: {len(bad)} of {len(tokens)} positions exceed their bound "
                         f"({REL_BOUND:g} or {LOOSE_BOUND:g}) x max|logit|; first pos "
                         f"{bad[0] if len(bad) else -1}, worst ratio {ratio[worst]:.3e} at pos {worst}")


def main():
    lib, why = pc.load_lib(["chorus_dev_logits", "chorus_dev_vocab", "chorus_dev_set_numerics"])
    if lib is None:
        (check(False, why) if "no symbol" in why else skip(why))
        return pc.done("test_forward_ref")

    tmp = os.path.join(pc.ROOT, "build", "tmp")
    os.makedirs(tmp, exist_ok=True)
    rng = np.random.default_rng(7)
    variants = [("tiny-mix-untied", False, "mix", 1), ("tiny-mix-tied", True, "mix", 2),
                ("tiny-f32", False, "f32", 3)]
    for label, tied, types, seed in variants:
        path = os.path.join(tmp, f"{label}.gguf")
        make_tiny_model.build(path, tied, types, seed)
        vocab = ref_forward.Model(path).vocab
        ref_forward._models.pop(path, None)  # a rebuilt file must not hit a stale cache
        runs = [("n=48", rng.integers(0, vocab, 48).tolist())]
        if types == "mix" and not tied:  # the whole context, and a single token
            runs += [("n=128", rng.integers(0, vocab, 128).tolist()),
                     ("n=1", [int(rng.integers(0, vocab))])]
        for name, toks in runs:
            for numerics in NUMERICS:
                compare(lib, f"{label} {name}", path, toks, numerics)

    # A missing file is an error with a message, not a crash.
    rc, _, msg = chorus_logits(lib, os.path.join(tmp, "no-such-model.gguf"), [1, 2, 3], 8)
    check(rc != 0 and msg, f"missing model: rc {rc}, message {msg!r}")

    if os.path.exists(pc.DEFAULT_MODEL):
        assert len(DEFAULT_TOKENS) >= 32
        for numerics in NUMERICS:
            compare(lib, "SmolLM2-135M Q4_1 n=64", pc.DEFAULT_MODEL, DEFAULT_TOKENS, numerics)
    else:
        skip(f"{pc.DEFAULT_MODEL} not present (make weights)")
    return pc.done("test_forward_ref")


if __name__ == "__main__":
    sys.exit(main())
