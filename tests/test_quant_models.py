#!/usr/bin/env python3
"""test_quant_models.py - the GGUF files people use for test-time compute: every tensor type
quantized by llama.cpp's own quantizer, and the qwen2 / qwen3 / Llama 3.x-rope architectures.

Models (tools/quant_models.py, rebuilt into build/ on every run, ~5 s; the re-quantized default
model is made once and kept): tiny random llama (rope_freqs + linear rope scaling), qwen2 (q/k/v
biases) and qwen3 (q/k norms, q wider than the embedding) in F16 and quantized by llama.cpp to
Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q5_0, Q5_1 alone and to the Q4_K_M mix; SmolLM2-135M re-quantized
to Q4_K_M, Q5_K_M, Q6_K and Q8_0.

Checks:
  * coverage: the files hold every one of the 7 new types;
  * logits vs tools/ref_forward.py (numpy, float64, gguf's dequantizers; the bound and the int8
    near-tie rule of tests/test_forward_ref.py: 1e-3 x max|logit| per position) on every tiny
    file, both numerics (f32: fp32 activations; int8: the int8 kernels of the K-quants). The
    int8 near-tie margin is 2e-3 of a step here, not 1e-4: with an offset (Q4_1, Q5_1) or mins
    (Q2_K, Q4_K, Q5_K) a block's sum is two large terms that cancel (w = d u + m with m ~ -16 d),
    so chorus's fp32 result for an activation is off the float64 one by up to ~1e-5 of its
    value rather than ~1e-7, which moves x * 127 / max by ~1e-3 of a step (a position of
    llama-Q5_1 with margins >= 1.6e-4 flipped a rounding and moved by 1.4e-2). The kernels
    themselves are checked bit for bit against their formula in tests/test_qgemm.c;
  * greedy tokens vs llama.cpp on the same files (tests/data/greedy_quant.json, made by
    tools/gen_quant_fixtures.py), both numerics, with tests/test_greedy_llamacpp.py's near-tie
    rule; a fixture whose file hash differs from this build's file is reported and skipped;
  * files that lack what their architecture needs (qwen2's biases, qwen3's q/k norms) or ask
    for what chorus does not do (YaRN rope scaling): refused with a message naming it;
  * batch invariance on the re-quantized default model(s) and on every tiny pure-type file: the
    test_forward_batch binary run on those files (a row's logits alone = in batches of 2..13,
    both numerics; int8 on the level in use, or with CHORUS_TEST_FULL on every instruction-set
    level this CPU has, which must then agree bit for bit), two files at a time, while the
    reference comparisons run.

Default run vs CHORUS_TEST_FULL=1 (make test-all): by default the re-quantized default model is
SmolLM2 in Q4_K_M alone (the hubs' usual file: Q4_K and Q6_K where rows allow, Q5_0 and Q8_0
fallbacks elsewhere), its greedy tokens on all three fixture prompts with int8 and on the first
with f32, and test_forward_batch runs with --one-level; every tiny file, every other check above
and both numerics run in both modes. CHORUS_TEST_FULL adds Q5_K_M, Q6_K and Q8_0 (greedy and
batch invariance), Q4_K_M's other two prompts with f32, and the batch invariance on every other
instruction-set level.
Time: ~30 s by default, ~1.5 min with CHORUS_TEST_FULL on a loaded 2-core machine with
OMP_WAIT_POLICY=passive (tests/run.sh sets it; with spinning OpenMP threads on a busy machine it
takes several times longer). The tensor types come from quantize_gguf.tensor_infos (the header
alone; gguf.GGUFReader took ~8 s a file decoding the 49152-token vocabulary); each reference
model's weights are dequantized once for its four comparisons; pycheck keeps numpy's OpenBLAS
to one thread (its threads made the references' small matmuls ~70x slower on a busy machine).
"""
import concurrent.futures
import json
import os
import subprocess
import sys

import pycheck as pc  # before numpy: it sets OPENBLAS_NUM_THREADS
from pycheck import check, skip

import numpy as np

import quant_models
import ref_forward
import test_forward_ref
import test_greedy_llamacpp

FIXTURE = os.path.join(pc.ROOT, "tests", "data", "greedy_quant.json")
TIE_MARGIN = {"int8": 2e-3, "bf16": 1e-4}  # see the top
NEW_TYPES = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q5_0", "Q5_1"}
BATCH_BIN = os.path.join(pc.ROOT, "build", "cpu", "tests", "test_forward_batch")
# the re-quantized default models of the default run (CHORUS_TEST_FULL: all of DEFAULT_TYPES)
DEFAULT_SUBSET = ["Q4_K_M"]
# ... and their f32 greedy runs on this many prompts of the fixture's (all with CHORUS_TEST_FULL):
# the f32 path dequantizes every K-quant weight at every step, ~6 s a prompt on SmolLM2 here
DEFAULT_F32_PROMPTS = 1


def logits_vs_reference(lib, models):
    rng = np.random.default_rng(5)
    for name, path in models:
        ref_forward._models.pop(path, None)  # rebuilt files: no stale cache
        m = ref_forward.load(path)  # the model compare() then uses
        for t in m.tensors:  # dequantized once here, not in each of the four runs below
            m.weight(t, cache=True)
        for run, n in (("n=24", 24), ("n=4", 4)):
            toks = rng.integers(0, m.vocab, n).tolist()
            for numerics in test_forward_ref.NUMERICS:
                test_forward_ref.compare(lib, f"{name} {run}", path, toks, numerics, TIE_MARGIN)
        ref_forward._models.pop(path, None)


def greedy_vs_llamacpp(lib, models, left_out=()):
    """left_out: fixture models this run leaves out on purpose (not in the default subset)."""
    if not os.path.exists(FIXTURE):
        check(False, f"{FIXTURE} missing (tools/gen_quant_fixtures.py)")
        return
    with open(FIXTURE) as f:
        fx = json.load(f)
    paths = dict(models)
    for entry in fx["models"]:
        if entry["model"] in left_out:
            continue
        path = paths.get(entry["model"])
        if path is None:
            skip(f"{entry['model']}: not built here (default model missing?)")
            continue
        if quant_models.sha256(path) != entry["sha256"]:
            skip(f"{entry['model']}: this llama.cpp quantized the file to other bytes than the "
                 f"fixture's (rerun tools/gen_quant_fixtures.py)")
            continue
        for numerics in ("int8", "f32"):
            check(lib.chorus_dev_set_numerics(numerics.encode()) == 0, f"numerics {numerics}")
            cases = entry["cases"]
            if numerics == "f32" and not pc.FULL and entry["model"].startswith("smollm2-"):
                cases = cases[:DEFAULT_F32_PROMPTS]
            test_greedy_llamacpp.compare(lib, fx, numerics, path, cases, f"{entry['model']} ")


def batch_invariance_start(models, pool):
    """Starts test_forward_batch on each file in `pool`; batch_invariance_check reports them."""
    if not os.path.exists(BATCH_BIN):
        skip(f"{BATCH_BIN} not built")
        return []
    args = [] if pc.FULL else ["--one-level"]
    return [(name, pool.submit(subprocess.run, [BATCH_BIN, *args, path], capture_output=True,
                               text=True)) for name, path in models]


def batch_invariance_check(jobs):
    for name, job in jobs:
        r = job.result()
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        ok = r.returncode == 0 and " 0 failed" in last and " 0 passed" not in last
        print(f"  batch invariance {name}: {last}")
        check(ok, f"batch invariance on {name}: exit {r.returncode}: {last} "
                  f"{r.stderr.strip()[-400:]}")


def refused_files(lib):
    """Architecture switches read from the file: what a file lacks or asks for that chorus cannot
    do is a one-line error naming it, never a silent fallback."""
    import make_tiny_model
    cases = [("qwen2 without biases", dict(arch="qwen2", omit=("blk.0.attn_k.bias",)),
              "attn_k.bias"),
             ("qwen3 without q norm", dict(arch="qwen3", omit=("blk.1.attn_q_norm.weight",)),
              "attn_q_norm"),
             ("yarn rope scaling", dict(arch="llama", rope_scaling="yarn"), "yarn")]
    for name, kw, needle in cases:
        path = os.path.join(quant_models.TINY_DIR, "bad-" + name.replace(" ", "-") + ".gguf")
        make_tiny_model.build(path, False, "f16", 3, shape="k", **kw)
        err = pc.errbuf()
        rc = lib.chorus_dev_vocab(path.encode(), err, len(err))
        msg = err.value.decode(errors="replace")
        check(rc < 0 and needle in msg and path in msg,
              f"{name}: chorus_dev_vocab returned {rc}, message {msg!r} (want one naming "
              f"{needle!r} and the file)")


def main():
    lib, why = pc.load_lib(["chorus_dev_logits", "chorus_dev_vocab", "chorus_dev_set_numerics",
                            "chorus_dev_greedy"])
    if lib is None:
        (check(False, why) if "no symbol" in why else skip(why))
        return pc.done("test_quant_models")
    try:
        import llama_cpp  # noqa: F401  (the quantizer)
    except ImportError:
        skip("llama-cpp-python is not installed (make deps-peer): no quantized test models")
        return pc.done("test_quant_models")
    tiny = quant_models.tiny_models()
    types = quant_models.DEFAULT_TYPES if pc.FULL else DEFAULT_SUBSET
    default = quant_models.default_models(types)
    left_out = {f"smollm2-{t}" for t in quant_models.DEFAULT_TYPES if t not in types}
    if not default:
        skip(f"{quant_models.DEFAULT_MODEL} not present: no re-quantized default model")
    elif left_out:
        print(f"  default run: re-quantized default model {', '.join(types)} only (f32 greedy on "
              f"{DEFAULT_F32_PROMPTS} prompt), test_forward_batch --one-level "
              f"(CHORUS_TEST_FULL=1 for the full matrix)")
    seen = set()
    for _, path in tiny + default:
        seen |= set(quant_models.quantize_gguf.tensor_types(path).values())
    check(NEW_TYPES <= seen, f"the quantized files lack {sorted(NEW_TYPES - seen)}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=pc.JOBS) as pool:
        batch = batch_invariance_start(default + [(n, p) for n, p in tiny if n.endswith("-pure")],
                                       pool)
        logits_vs_reference(lib, tiny)
        greedy_vs_llamacpp(lib, tiny + default, left_out)
        refused_files(lib)
        batch_invariance_check(batch)
    return pc.done("test_quant_models")


if __name__ == "__main__":
    sys.exit(main())
