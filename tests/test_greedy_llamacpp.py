#!/usr/bin/env python3
"""test_greedy_llamacpp.py - chorus's greedy tokens against llama.cpp's (tests/data/greedy_smollm2.json,
made by tools/gen_greedy_fixtures.py with llama-cpp-python; rerun that script to refresh it).

For each fixture prompt, chorus_dev_greedy (ctypes) decodes 16 tokens after the prompt ids (run
exactly as given, no BOS added). A prompt passes if our 16 tokens equal llama.cpp's, or if at the
FIRST divergence (step k, llama.cpp picked L, we picked O) the choice was a near-tie:
    * llama.cpp's logit for L minus its logit for O is <= NEAR_TIE (O is among llama.cpp's
      recorded top-5 at step k), or
    * our own top-1 minus top-2 gap at step k is <= NEAR_TIE.
After a divergence the two continuations condition on different text and are not compared.
Then every step is also checked on llama.cpp's own path, its tokens fed back (teacher_forced).

NEAR_TIE = 0.5 logits, from the model's numerics, not chosen to make the test pass:
llama.cpp's CPU matmuls quantize the activations to 8-bit blocks (Q8_1 for Q4_1 weights) and
keep K/V in f16. Against an exact float64 forward pass its top-2 gap is off by 0.13 on average
and 0.50 at the 99th percentile over the fixture's 192 steps (the fixture's "calibration" field;
max 1.6). chorus is run with both of its CPU numerics: "f32" (exact dequantized weights, fp32
activations: checked to 1e-3 relative by test_forward_ref) and "int8" (the default: activations
quantized as llama.cpp does, with fp32 scales where llama.cpp rounds them to f16, and an f16 KV
cache as llama.cpp's). Int8 rounding is discontinuous and chaotic, so two int8 implementations
that round the same way drift apart by about as much as each differs from the exact pass
(tools/numerics_audit.py: top-2 gaps move by ~0.14 on average against float64, for chorus int8
and llama.cpp alike); either way two correct implementations legitimately disagree whenever the
true gap is below ~0.5, and anything above that is a real difference.
A broken forward pass (wrong RoPE, GQA, norm, weights) diverges at confident steps (gaps of
several logits), which this test fails.
"""
import ctypes
import json
import os
import sys

import numpy as np
import pycheck as pc
from pycheck import check, skip

NEAR_TIE = 0.5
FIXTURE = os.path.join(pc.ROOT, "tests", "data", "greedy_smollm2.json")


def main():
    lib, why = pc.load_lib(["chorus_dev_greedy", "chorus_dev_set_numerics", "chorus_dev_logits",
                            "chorus_dev_vocab"])
    if lib is None:
        (check(False, why) if "no symbol" in why else skip(why))
        return pc.done("test_greedy_llamacpp")
    if not os.path.exists(pc.DEFAULT_MODEL):
        skip(f"{pc.DEFAULT_MODEL} not present (make weights)")
        return pc.done("test_greedy_llamacpp")
    with open(FIXTURE) as f:
        fx = json.load(f)
    check(os.path.basename(pc.DEFAULT_MODEL) == fx["model"],
          f"fixture was made for {fx['model']}, testing {pc.DEFAULT_MODEL}")
    cal = fx.get("calibration")
    if cal:
        print(f"  llama.cpp gap error vs exact (fixture calibration): mean {cal['mean']}, "
              f"p99 {cal['p99']}, max {cal['max']}; near-tie bound {NEAR_TIE}")
    for numerics in ("int8", "f32"):
        check(lib.chorus_dev_set_numerics(numerics.encode()) == 0, f"numerics {numerics}")
        compare(lib, fx, numerics)
        teacher_forced(lib, fx, numerics)
    check(len(fx["cases"]) >= 8, f"fixture has {len(fx['cases'])} prompts, need >= 8")
    return pc.done("test_greedy_llamacpp")


def teacher_forced(lib, fx, numerics):
    """Every step on llama.cpp's own path (its tokens fed back): where our top-1 differs from its
    token, llama.cpp's margin for its token must be within the largest gap error llama.cpp itself
    shows against an exact forward pass on this fixture (calibration max, 1.6 logits): all 192
    steps are checked here, not one first divergence per prompt, so the bound is the error's
    maximum rather than its 99th percentile (NEAR_TIE). A wrong forward pass disagrees at steps
    where llama.cpp is sure by several logits."""
    bound = fx.get("calibration", {}).get("max", 1.63)
    agree = steps = 0
    err = pc.errbuf()
    vocab = lib.chorus_dev_vocab(pc.DEFAULT_MODEL.encode(), err, len(err))
    for case in fx["cases"]:
        ids = case["prompt_ids"] + case["tokens"][:-1]
        toks = np.ascontiguousarray(ids, dtype=np.int32)
        lg = np.zeros((len(ids), vocab), dtype=np.float32)
        rc = lib.chorus_dev_logits(pc.DEFAULT_MODEL.encode(), toks.ctypes.data_as(ctypes.c_void_p),
                                   len(ids), lg.ctypes.data_as(ctypes.c_void_p), err, len(err))
        if not check(rc == 0, f"{numerics} {case['name']}: chorus_dev_logits returned {rc}"):
            continue
        n = len(case["prompt_ids"])
        for k, want in enumerate(case["tokens"]):
            row = lg[n - 1 + k]
            ours = int(np.argmax(row))
            steps += 1
            if ours == want:
                agree += 1
                continue
            top = {t: z for t, z in case["top5"][k]}
            llama_margin = top[want] - top[ours] if ours in top else float("inf")
            our_gap = row[ours] - row[want]
            check(llama_margin <= bound,
                  f"{numerics} {case['name']} step {k} on llama.cpp's path: ours {ours}, its "
                  f"{want}; llama.cpp margin {llama_margin:.4f} (bound {bound}), ours "
                  f"{our_gap:.4f}")
    print(f"  {numerics}: top-1 equal to llama.cpp's token at {agree}/{steps} steps of its own path")


def compare(lib, fx, numerics, model=None, cases=None, what=""):
    """Every fixture prompt with chorus's current numerics (on `model`, default the default
    model; `cases`: fx's by default)."""
    n_gen, model = fx["n_gen"], model or pc.DEFAULT_MODEL
    cases = fx["cases"] if cases is None else cases
    identical = 0
    for case in cases:
        name, ids, want = f"{what}{numerics} {case['name']}", case["prompt_ids"], case["tokens"]
        prompt = np.ascontiguousarray(ids, dtype=np.int32)
        got = np.zeros(n_gen, dtype=np.int32)
        gap = np.zeros(n_gen, dtype=np.float32)
        err = pc.errbuf()
        rc = lib.chorus_dev_greedy(model.encode(),
                                   prompt.ctypes.data_as(ctypes.c_void_p), len(ids), n_gen,
                                   got.ctypes.data_as(ctypes.c_void_p),
                                   gap.ctypes.data_as(ctypes.c_void_p), err, len(err))
        if not check(rc == 0, f"{name}: chorus_dev_greedy returned {rc}: "
                              f"{err.value.decode(errors='replace')}"):
            continue
        got = got.tolist()
        diff = [k for k in range(n_gen) if got[k] != want[k]]
        if not diff:
            identical += 1
            print(f"  {name}: {n_gen}/{n_gen} identical")
            check(True, "")
            continue
        k = diff[0]
        top = {t: z for t, z in case["top5"][k]}
        ours, theirs = got[k], want[k]
        llama_margin = top[theirs] - top[ours] if ours in top else float("inf")
        near = llama_margin <= NEAR_TIE or gap[k] <= NEAR_TIE
        print(f"  {name}: first divergence at step {k}: llama.cpp {theirs} vs ours {ours}; "
              f"llama.cpp margin {llama_margin:.4f} (its top-2 gap {case['gaps'][k]:.4f}), "
              f"our gap {gap[k]:.4f} -> {'near-tie, ok' if near else 'NOT a near-tie'}")
        check(near, f"{name}: diverges from llama.cpp at step {k} (llama.cpp {theirs}, ours "
                    f"{ours}) where neither side is near a tie: llama.cpp margin "
                    f"{llama_margin:.4f}, our gap {gap[k]:.4f} (bound {NEAR_TIE})")
        check(np.isfinite(gap[:k + 1]).all() and (gap[:k + 1] >= 0).all(),
              f"{name}: our top-2 gaps must be finite and >= 0: {gap[:k + 1].tolist()}")
    print(f"  {what}{numerics}: {identical}/{len(cases)} prompts token-identical to llama.cpp "
          f"for {n_gen} tokens")


if __name__ == "__main__":
    sys.exit(main())
