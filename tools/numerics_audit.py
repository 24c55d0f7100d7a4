#!/usr/bin/env python3
"""numerics_audit.py - where an int8 scheme loses accuracy: the logit error of each rounding on its
own, chorus's and a model of llama.cpp's, against an exact float64 forward pass.

    .venv/bin/python tools/numerics_audit.py [stages] [--prompts capital,story,...] [--engine]
        [--llama] [--stages SUBSTR,...] [--out audit.json]      the table of stages (below)
    .venv/bin/python tools/numerics_audit.py spread [--prompts ...] [--draws 16]
        the chaos of one scheme: its error over jittered draws (tests/test_numerics_llama.py)
    .venv/bin/python tools/numerics_audit.py greedy [--everyday 38] [--gsm8k 50]
        how often chorus int8 and chorus f32 give llama.cpp's greedy text (llama-cpp-python)

The prompts are the greedy fixture's (tests/data/greedy_smollm2.json): each prompt's ids plus
llama.cpp's 16 greedy tokens, teacher-forced; the rows scored are the 16 that chose those tokens
(the last prompt position and the 15 after it). Every row is compared with the float64 logits
of tools/ref_forward.py (the file's weights dequantized exactly):

    err_rms = RMS(d) / RMS(z - mean z),   d = (z' - z) - mean(z' - z)   (over the vocabulary,
              pooled over rows and prompts; the per-row mean is taken out of both because
              softmax ignores a shift of all logits)
    err_max = max |d|,   argmax = share of rows whose top-1 equals float64's,
    gap     = mean |(z'_a - z'_b) - (z_a - z_b)| over float64's top-2 pair (a, b): how far the
              decision that greedy decoding makes moves

A *scheme* is a set of roundings applied to that float64 pass (Scheme below); the stages are one
rounding at a time, then every rounding of a scheme together:

    act       the inputs of the matmuls with quantized weights, per block of 32:
                chorus  a = max|x|, q = rint(x * (127/a)) in fp32, x -> (a/127) q, fp32 scale
                llama   the same q, but the scale is stored as fp16: x -> fp16(a/127) q (Q8_0 /
                        Q8_1 blocks); K-quant weights take Q8_K (256 inputs, scale 1/(-127/max))
              act_on picks the matmuls: qkv, o (attention output), ffn_in (gate, up), down, head,
              or tensors by part of their name ("attn_v.", "blk.29.": --per-tensor)
    min_sum   the offset term m * sum(x) of weights with an offset (Q4_1, Q5_1): "quant" takes
              the sum from the quantized inputs (chorus: d * S in fp32; llama.cpp: fp16(d * S),
              its Q8_1 s), "float" the sum of the inputs before quantizing
    kv        keys (after RoPE) and values stored as fp16 (chorus's int8 numerics and llama.cpp)
    attn      "llama": llama.cpp's one-row flash attention (ggml-cpu ops.cpp, the path of every
              decode step, and of a prefill shorter than its 64-row tile): q rounded to fp16 for
              the scores, and the value accumulator kept in fp16 (each step's
              fp16(acc * ms + v * vs)); longer prefills take its tiled path, fp32 math as here

chorus's int8 numerics are Scheme(act="chorus", kv="fp16"); the model of llama.cpp's CPU path is
Scheme(act="llama", kv="fp16", attn="llama"). --engine also scores chorus's own logits (int8 and
f32 numerics, build/cpu/libchorus.so via ctypes, the whole sequence in one call) and --llama
llama.cpp's (llama-cpp-python, the prompt prefilled then one token a step, as in greedy
decoding). The fp32 roundings (RMSNorm, RoPE, softmax: chorus's f32 path) are the engine's f32
row.
"""
import argparse
import ctypes
import dataclasses
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import ref_forward as rf  # noqa: E402

FIXTURE = os.path.join(ROOT, "tests", "data", "greedy_smollm2.json")
DEFAULT_MODEL = os.path.join(ROOT, "weights", "SmolLM2-135M-Instruct.Q4_1.gguf")
CLASSES = ("qkv", "o", "ffn_in", "down", "head")
K_QUANTS = ("Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K")
LLAMA_TILE_Q = 64  # ggml-cpu's flash attention takes its tiled (fp32) path from 64 query rows
JITTER = 2.0 ** -24  # Scheme.jitter's relative size: about one fp32 rounding


@dataclasses.dataclass(frozen=True)
class Scheme:
    act: str = "f64"  # "f64", "chorus" or "llama"
    act_on: tuple = CLASSES
    min_sum: str = "quant"  # "quant" or "float"
    kv: str = "f64"  # "f64" or "fp16"
    attn: str = "f64"  # "f64" or "llama"
    jitter: int = 0  # a seed: every matmul input scaled by 1 + N(0, 1) JITTER (see forward)


CHORUS_INT8 = Scheme(act="chorus", kv="fp16")
LLAMA = Scheme(act="llama", kv="fp16", attn="llama")


def f16(x):
    return np.asarray(x).astype(np.float16).astype(np.float64)


class Weights:
    """The model's matrices dequantized once (float32), plus the per-block offsets m [out, nb] of
    Q4_1 / Q5_1 weights (their w = d u + m), which the min-term stages need."""

    def __init__(self, path):
        self.m = rf.load(path)
        self._w, self._mins = {}, {}

    def kind(self, name):
        return self.m.tensors[name].tensor_type.name

    def w(self, name):
        if name not in self._w:
            self._w[name] = self.m.weight(name)
        return self._w[name]

    def mins(self, name):
        """[out, nb] float64 block offsets, or None for a type without them."""
        kind = self.kind(name)
        if kind not in ("Q4_1", "Q5_1"):
            return None
        if name not in self._mins:
            t = self.m.tensors[name]
            size = {"Q4_1": 20, "Q5_1": 24}[kind]
            raw = np.ascontiguousarray(t.data).reshape(t.data.shape[0], -1, size)
            self._mins[name] = raw[:, :, 2:4].copy().view(np.float16)[:, :, 0].astype(np.float64)
        return self._mins[name]


def quant_blocks(x, block=32):
    """x [n, dim] per block of `block` inputs, as float64 arrays: (the inputs rounded to fp32
    [n, nb, block], q = rint(x * (127 / amax)) computed in fp32 (ties to even, as chorus and
    ggml's x86 quantizers round) [n, nb, block], the fp32 scale amax / 127 [n, nb, 1])."""
    n, dim = x.shape
    b = x.astype(np.float32).reshape(n, dim // block, block)
    amax = np.abs(b).max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        inv = np.where(amax > 0, np.float32(127) / amax, np.float32(0)).astype(np.float32)
    q = np.rint(b * inv).astype(np.float64)
    d32 = (amax / np.float32(127)).astype(np.float32)
    return b.astype(np.float64), q, d32.astype(np.float64)


def quant_q8k(x):
    """ggml's Q8_K (the activations of K-quant weights): per 256, max = the input of largest
    magnitude (signed), iscale = -127 / max, q = min(127, rint(iscale x)), d = 1 / iscale."""
    n, dim = x.shape
    b = x.astype(np.float32).reshape(n, dim // 256, 256)
    idx = np.abs(b).argmax(axis=-1)[..., None]
    mx = np.take_along_axis(b, idx, axis=-1)
    with np.errstate(divide="ignore"):
        iscale = np.where(mx != 0, np.float32(-127) / mx, np.float32(0)).astype(np.float32)
        d = np.where(mx != 0, np.float32(1) / iscale, np.float32(0)).astype(np.float32)
    q = np.minimum(127, np.rint(b * iscale))
    return (d.astype(np.float64) * q).reshape(n, dim)


def matmul(W, x, name, cls, s):
    """x [n, in] times weight `name` transposed under scheme s."""
    kind = W.kind(name)
    w = W.w(name)
    # a class, or part of the tensor's name
    on = cls in s.act_on or any(k not in CLASSES and k in name for k in s.act_on)
    if kind not in rf.QUANTIZED or s.act == "f64" or not on:
        if kind == "BF16" and s.act != "f64" and on:
            x = rf.round_bf16(x)
        return x @ w.T.astype(np.float64)
    if s.act == "llama" and kind in K_QUANTS:
        return quant_q8k(x) @ w.T.astype(np.float64)
    xf, q, d32 = quant_blocks(x)
    d = f16(d32) if s.act == "llama" else d32
    xq = (d * q).reshape(x.shape)
    out = xq @ w.T.astype(np.float64)
    mins = W.mins(name)
    if mins is not None:  # the offset term: m times which sum of the block's inputs
        S = q.sum(axis=-1)  # [n, nb]
        if s.min_sum == "float":
            s_used = xf.sum(axis=-1)
        elif s.act == "llama":  # Q8_1's s = fp16(d * S), d the fp32 scale
            s_used = f16(np.float32(d32[..., 0]) * np.float32(S))
        else:  # chorus: s = d * S in fp32
            s_used = (np.float32(d32[..., 0]) * np.float32(S)).astype(np.float64)
        out += (s_used - d[..., 0] * S) @ mins.T
    return out


def attention_llama(q, k, v, n_kv, one_row):
    """llama.cpp's CPU flash attention for rows where one_row [n] (bool) is set, the float64
    softmax elsewhere. q [n, H, hd]; k, v [n, KV, hd] already fp16. Per row and head, keys in
    order: s = fp16(q) . k * scale; on a new max M: acc = fp16(acc * e^(Mold - M)), then
    acc = fp16(acc + v e^(s - M)); S = S ms + vs (fp32); out = acc / S."""
    n, H, hd = q.shape
    out = rf.attention(q, k, v, n_kv).reshape(n, H, hd)
    rows = np.flatnonzero(one_row)
    if len(rows) == 0:
        return out.reshape(n, H * hd)
    group = H // n_kv
    kh = np.repeat(k, group, axis=1)  # [n, H, hd]
    vh = np.repeat(v, group, axis=1).astype(np.float32)
    qh = f16(q[rows]).astype(np.float32)  # [r, H, hd]
    scale = np.float32(1 / np.sqrt(hd))
    # scores of every (row, key), fp32 dot products of the fp16 operands
    sc = (np.einsum("rhd,thd->rht", qh.astype(np.float64), kh).astype(np.float32) * scale)
    M = np.full((len(rows), H), -np.inf, dtype=np.float32)
    S = np.zeros((len(rows), H), dtype=np.float32)
    acc = np.zeros((len(rows), H, hd), dtype=np.float16)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(n):
            live = rows >= t  # causal: row r sees keys 0..r
            if not live.any():
                break
            s = sc[:, :, t]
            new = (s > M) & live[:, None]
            ms = np.where(new, np.exp(M - s, dtype=np.float32), np.float32(1))
            vs = np.where(new, np.float32(1), np.exp(s - M, dtype=np.float32))
            M = np.where(new, s, M)
            a32 = acc.astype(np.float32)
            a32 = np.where(new[..., None], (a32 * ms[..., None]).astype(np.float16), acc)
            upd = (a32.astype(np.float32) + vh[t][None] * vs[..., None]).astype(np.float16)
            acc = np.where(live[:, None, None], upd, acc)
            S = np.where(live[:, None], S * ms + vs, S).astype(np.float32)
    out[rows] = acc.astype(np.float64) / S[..., None].astype(np.float64)
    return out.reshape(n, H * hd)


def forward(W, tokens, s, n_prompt):
    """Logits [n, vocab] float64 of `tokens` from position 0 under scheme s (ref_forward.logits's
    math). n_prompt: the prompt's length, which decides llama.cpp's attention path per row.

    s.jitter (a seed, 0 = none) scales every matmul input by 1 + N(0, 1) 2^-24 first: the size of
    the fp32 rounding differences between two implementations of one scheme (operation order,
    fused or not), which move the int8 rounding of values within ~1e-5 of a tie. int8 numerics
    are chaotic in them (a flipped rounding changes the next layers' inputs, which flips more),
    so each seed gives another, equally valid draw of the scheme's error."""
    m = W.m
    n, H, KV, hd = len(tokens), m.n_heads, m.n_kv, m.head_dim
    pos = np.arange(n)
    f64 = lambda name: W.w(name).astype(np.float64)
    rng = np.random.default_rng(s.jitter) if s.jitter else None

    def jit(x):  # one draw per matmul input (q, k and v share theirs, as in the engines)
        return x if rng is None else x * (1 + rng.standard_normal(x.shape) * JITTER)

    one_row = (pos >= n_prompt) | (n_prompt < LLAMA_TILE_Q)
    x = W.w("token_embd.weight")[np.asarray(tokens)].astype(np.float64)
    for l in range(m.n_layers):
        p = f"blk.{l}."
        h = jit(rf.rmsnorm(x, f64(p + "attn_norm.weight"), m.eps))
        q, k, v = (matmul(W, h, p + f"attn_{w}.weight", "qkv", s) for w in "qkv")
        if p + "attn_q.bias" in m.tensors:
            q, k, v = (t + f64(p + f"attn_{w}.bias") for t, w in ((q, "q"), (k, "k"), (v, "v")))
        q, k, v = q.reshape(n, H, hd), k.reshape(n, KV, hd), v.reshape(n, KV, hd)
        if p + "attn_q_norm.weight" in m.tensors:
            q = rf.rmsnorm(q, f64(p + "attn_q_norm.weight"), m.eps)
            k = rf.rmsnorm(k, f64(p + "attn_k_norm.weight"), m.eps)
        rp = dict(neox=m.neox, linear=m.rope_linear, factors=m.rope_factors)
        q, k = rf.rope(q, pos, m.rope_base, **rp), rf.rope(k, pos, m.rope_base, **rp)
        if s.kv == "fp16":
            k, v = f16(k), f16(v)
        if s.attn == "llama":
            a = attention_llama(q, k, v, KV, one_row)
        else:
            a = rf.attention(q, k, v, KV)
        x = x + matmul(W, jit(a), p + "attn_output.weight", "o", s)
        h = jit(rf.rmsnorm(x, f64(p + "ffn_norm.weight"), m.eps))
        g = matmul(W, h, p + "ffn_gate.weight", "ffn_in", s)
        u = matmul(W, h, p + "ffn_up.weight", "ffn_in", s)
        x = x + matmul(W, jit(rf.silu(g) * u), p + "ffn_down.weight", "down", s)
    h = jit(rf.rmsnorm(x, f64("output_norm.weight"), m.eps))
    return matmul(W, h, "token_embd.weight" if m.tied else "output.weight", "head", s)


def error(z, ref):
    """Per-row stats of logits z against ref (both [rows, vocab]): sums for pooling."""
    d = z.astype(np.float64) - ref
    d -= d.mean(axis=1, keepdims=True)
    c = ref - ref.mean(axis=1, keepdims=True)
    top2 = np.argsort(-ref, axis=1)[:, :2]
    r = np.arange(len(ref))
    gap = np.abs((z[r, top2[:, 0]] - z[r, top2[:, 1]]) - (ref[r, top2[:, 0]] - ref[r, top2[:, 1]]))
    return {"d2": float((d * d).sum()), "c2": float((c * c).sum()), "max": float(np.abs(d).max()),
            "agree": int((z.argmax(axis=1) == ref.argmax(axis=1)).sum()), "rows": len(ref),
            "gap": float(gap.sum())}


def pool(stats):
    d2 = sum(s["d2"] for s in stats)
    c2 = sum(s["c2"] for s in stats)
    rows = sum(s["rows"] for s in stats)
    return {"err_rms": float(np.sqrt(d2 / c2)), "err_max": max(s["max"] for s in stats),
            "argmax": sum(s["agree"] for s in stats) / rows,
            "gap": sum(s["gap"] for s in stats) / rows, "rows": rows}


def stages(per_tensor=0):
    """(name, scheme) in the order of the report: one rounding at a time, then the schemes;
    per_tensor (the model's layer count): also each kind of matrix and each layer alone."""
    out = [("act int8, chorus (all matmuls)", Scheme(act="chorus")),
           ("act int8, llama.cpp fp16 d, s (all)", Scheme(act="llama"))]
    for c in CLASSES:
        out.append((f"act int8, chorus, {c} only", Scheme(act="chorus", act_on=(c,))))
    if per_tensor:
        for t in ("attn_q.", "attn_k.", "attn_v.", "attn_output.", "ffn_gate.", "ffn_up.",
                  "ffn_down."):
            out.append((f"act int8, chorus, {t[:-1]} only", Scheme(act="chorus", act_on=(t,))))
        for l in range(per_tensor):
            out.append((f"act int8, chorus, layer {l} only",
                        Scheme(act="chorus", act_on=(f"blk.{l}.",))))
    out += [("act int8, chorus, min term from float sum",
             Scheme(act="chorus", min_sum="float")),
            ("kv fp16", Scheme(kv="fp16")),
            ("kv fp16 + llama.cpp attention", Scheme(kv="fp16", attn="llama")),
            ("SCHEME chorus int8 (act + kv fp16)", CHORUS_INT8),
            ("SCHEME chorus int8, head f64", dataclasses.replace(CHORUS_INT8,
                                                                 act_on=CLASSES[:-1])),
            ("SCHEME llama.cpp (act + kv + attn)", LLAMA),
            ("SCHEME llama.cpp, chorus attention", dataclasses.replace(LLAMA, attn="f64"))]
    return out


def load_cases(names=None):
    with open(FIXTURE) as f:
        fx = json.load(f)
    cases = fx["cases"]
    if names:
        by = {c["name"]: c for c in cases}
        cases = [by[n] for n in names]
    return cases


def case_rows(case):
    """(tokens, n_prompt, rows): the sequence run and the positions scored."""
    ids = case["prompt_ids"] + case["tokens"][:-1]
    n = len(case["prompt_ids"])
    return ids, n, np.arange(n - 1, len(ids))


def open_lib(path):
    lib = ctypes.CDLL(path)
    c_int, c_char_p, c_void_p = ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p
    lib.chorus_dev_logits.argtypes = [c_char_p, c_void_p, c_int, c_void_p, c_char_p, c_int]
    lib.chorus_dev_greedy.argtypes = [c_char_p, c_void_p, c_int, c_int, c_void_p, c_void_p,
                                      c_char_p, c_int]
    lib.chorus_dev_set_numerics.argtypes = [c_char_p]
    return lib


def engine_logits(lib, model, tokens, vocab):
    toks = np.ascontiguousarray(tokens, dtype=np.int32)
    out = np.zeros((len(toks), vocab), dtype=np.float32)
    err = ctypes.create_string_buffer(512)
    rc = lib.chorus_dev_logits(model.encode(), toks.ctypes.data_as(ctypes.c_void_p), len(toks),
                               out.ctypes.data_as(ctypes.c_void_p), err, len(err))
    if rc:
        raise RuntimeError(err.value.decode(errors="replace"))
    return out


def engine_greedy(lib, model, prompt, n_gen):
    toks = np.ascontiguousarray(prompt, dtype=np.int32)
    out = np.zeros(n_gen, dtype=np.int32)
    err = ctypes.create_string_buffer(512)
    rc = lib.chorus_dev_greedy(model.encode(), toks.ctypes.data_as(ctypes.c_void_p), len(toks),
                               n_gen, out.ctypes.data_as(ctypes.c_void_p), None, err, len(err))
    if rc:
        raise RuntimeError(err.value.decode(errors="replace"))
    return out.tolist()


def llama_logits(peer, case):
    """llama.cpp's logits on the scored rows: the prompt prefilled, then one token a step."""
    ids, n, _ = case_rows(case)
    peer.clear()
    row = peer.prefill(ids[:n])
    out = [peer.logits(row)]
    for i in range(n, len(ids)):
        peer.decode([ids[i]], [i], [0], [True])
        out.append(peer.logits(0))
    return np.stack(out)


def llama_greedy(peer, prompt, n_gen):
    peer.clear()
    row = peer.prefill(prompt)
    toks = []
    for i in range(n_gen):
        toks.append(int(np.argmax(peer.logits(row))))
        if i + 1 < n_gen:
            peer.decode([toks[-1]], [len(prompt) + i], [0], [True])
            row = 0
    return toks


# Everyday questions for `greedy` beside the fixture's prompts (chat-formatted like them).
EVERYDAY = [
    "What is the capital of France?", "What is the capital of Japan?",
    "Who wrote Romeo and Juliet?", "How many days are there in a leap year?",
    "What is the boiling point of water in Celsius?", "Name three primary colors.",
    "What is photosynthesis?", "How do I make a cup of tea?",
    "Give me a synonym for happy.", "What is the largest planet in our solar system?",
    "Translate 'good morning' into Spanish.", "Why do leaves change color in autumn?",
    "What is the difference between weather and climate?", "How many legs does a spider have?",
    "Suggest a name for a pet goldfish.", "What does a thermometer measure?",
    "Write a haiku about the sea.", "What is 12 times 12?",
    "Explain what a noun is.", "What should I pack for a day at the beach?",
    "Who painted the Mona Lisa?", "What is the chemical symbol for gold?",
    "How can I improve my sleep?", "What is the tallest mountain in the world?",
    "Describe a cat in one sentence.", "What language is spoken in Brazil?",
    "How does a rainbow form?", "List three uses of a paperclip.",
    "What is the freezing point of water in Fahrenheit?", "What is a healthy breakfast?",
    "Who was the first person to walk on the Moon?", "What is the main ingredient of guacamole?",
    "Give me a tip for learning a new language.", "What are the four seasons?",
    "What is the opposite of ancient?", "How many continents are there?",
    "Why is exercise important?", "What is the speed of light?",
]


def chat(user):
    sys.path.insert(0, HERE)
    from gen_greedy_fixtures import chat as fixture_chat
    return fixture_chat(user)


def greedy(a):
    """Greedy text of llama.cpp (live), chorus int8 and chorus f32 on the fixture's prompts plus
    EVERYDAY (and --gsm8k questions), 16 tokens each: how often each chorus numerics gives
    llama.cpp's exact text, and per step on llama.cpp's own path (its tokens fed back) how often
    chorus's top-1 is llama.cpp's token."""
    from llama_peer import Peer
    peer = Peer(a.model, n_ctx=1024, threads=a.threads)
    lib = open_lib(a.lib)
    texts = [(c["name"], c["prompt"]) for c in load_cases()]
    texts += [(f"everyday-{i}", chat(q)) for i, q in enumerate(EVERYDAY[:a.everyday])]
    if a.gsm8k:
        with open(a.gsm8k_file) as f:
            qs = [json.loads(line)["question"] for line in f][:a.gsm8k]
        texts += [(f"gsm8k-{i}", chat(q)) for i, q in enumerate(qs)]
    n_gen, same, steps, sets = 16, {}, {}, {}
    for name, text in texts:
        ids = peer.tokenize(text, add_bos=False, special=True)
        want = llama_greedy(peer, ids, n_gen)
        got = {}
        for nm in ("int8", "f32"):
            lib.chorus_dev_set_numerics(nm.encode())
            got[nm] = engine_greedy(lib, a.model, ids, n_gen)
            lg = engine_logits(lib, a.model, ids + want[:-1], peer.n_vocab)[len(ids) - 1:]
            steps.setdefault(nm, []).append(int((lg.argmax(axis=1) == np.array(want)).sum()))
        group = name.split("-")[0] if name.split("-")[0] in ("everyday", "gsm8k") else "fixture"
        for key, ok in (("int8", got["int8"] == want), ("f32", got["f32"] == want),
                        ("int8=f32", got["int8"] == got["f32"])):
            same.setdefault(key, {}).setdefault(group, []).append(ok)
        sets.setdefault(group, 0)
        sets[group] += 1
        print(f"{name:14s} int8 {'=' if got['int8'] == want else 'x'} f32 "
              f"{'=' if got['f32'] == want else 'x'}  llama.cpp {peer_text(peer, want)!r}",
              file=sys.stderr)
    peer.close()
    counts = ", ".join(f"{g} {n}" for g, n in sets.items())
    print(f"identical 16-token greedy text, per prompt set ({counts}):")
    for key, by in same.items():
        total = sum(sum(v) for v in by.values())
        count = sum(len(v) for v in by.values())
        parts = ", ".join(f"{g} {sum(v)}/{len(v)}" for g, v in by.items())
        what = "chorus int8 = chorus f32" if key == "int8=f32" else f"chorus {key} = llama.cpp"
        print(f"  {what:26s} {total}/{count}  ({parts})")
    for nm, st in steps.items():
        print(f"  top-1 = llama.cpp's token on its own path, {nm}: {sum(st)}/{n_gen * len(st)} "
              "steps")
    return 0


def peer_text(peer, toks):
    return "".join(peer.piece(t) for t in toks)


def distinct_rows(cases):
    """Per case (tokens, n_prompt, rows) with every position after the longest prefix it shares
    with another case (the chat prompts' common system turn gives identical rows in each)."""
    seqs = [case_rows(c)[:2] for c in cases]
    out = []
    for i, (ids, n) in enumerate(seqs):
        shared = 0
        for j, (other, _) in enumerate(seqs):
            k = 0
            while j != i and k < min(len(ids), len(other)) and ids[k] == other[k]:
                k += 1
            shared = max(shared, k)
        out.append((ids, n, np.arange(shared, len(ids))))
    return out


def spread(a):
    """The chaos of int8 numerics: the pooled error of --draws jitter draws of chorus's scheme
    and of llama.cpp's (Scheme.jitter) on the prompts, rows as tests/test_numerics_llama.py
    scores them (distinct_rows): mean, standard deviation, and that as a share of the mean."""
    cases = load_cases(a.prompts.split(",") if a.prompts else None)
    W = Weights(a.model)
    runs = distinct_rows(cases)
    refs = [forward(W, ids, Scheme(), n)[rows] for ids, n, rows in runs]
    for name, base in (("chorus int8", CHORUS_INT8), ("llama.cpp", LLAMA)):
        errs = []
        for j in range(a.draws):
            s = dataclasses.replace(base, jitter=j)
            st = [error(forward(W, ids, s, n)[rows], ref) for (ids, n, rows), ref in
                  zip(runs, refs)]
            errs.append(pool(st)["err_rms"])
            print(f"{name} draw {j}: {errs[-1]:.4e}", file=sys.stderr)
        e = np.array(errs)
        print(f"{name:12s} err_rms over {a.draws} draws: mean {e.mean():.4e}, sd "
              f"{e.std(ddof=1):.2e} ({e.std(ddof=1) / e.mean():.2%} of the mean), "
              f"min {e.min():.4e}, max {e.max():.4e}")
    print(f"({len(cases)} prompts, {sum(len(r) for _, _, r in runs)} rows)")
    return 0


def audit(a):
    cases = load_cases(a.prompts.split(",") if a.prompts else None)
    W = Weights(a.model)
    todo = stages(W.m.n_layers if a.per_tensor else 0)
    if a.stages:
        todo = [(n, s) for n, s in todo if any(k in n for k in a.stages.split(","))]
    stats = {name: [] for name, _ in todo}
    lib = peer = None
    if a.engine:
        lib = open_lib(a.lib)
        for nm in ("int8", "f32"):
            stats[f"ENGINE chorus {nm}"] = []
    if a.llama:
        from llama_peer import Peer
        peer = Peer(a.model, n_ctx=1024, threads=a.threads)
        stats["ENGINE llama.cpp"] = []
    for case in cases:
        t0 = time.time()
        ids, n, rows = case_rows(case)
        ref = forward(W, ids, Scheme(), n)[rows]
        for name, s in todo:
            stats[name].append(error(forward(W, ids, s, n)[rows], ref))
        if lib is not None:
            for nm in ("int8", "f32"):
                lib.chorus_dev_set_numerics(nm.encode())
                z = engine_logits(lib, a.model, ids, ref.shape[1])[rows]
                stats[f"ENGINE chorus {nm}"].append(error(z, ref))
        if peer is not None:
            stats["ENGINE llama.cpp"].append(error(llama_logits(peer, case), ref))
        print(f"{case['name']:14s} {len(ids):4d} tokens  {time.time() - t0:.1f}s", file=sys.stderr)
    table = {name: pool(st) for name, st in stats.items()}
    print(f"{'stage':44s} {'err_rms':>9s} {'err_max':>8s} {'gap':>7s} {'argmax':>7s}")
    for name, r in table.items():
        print(f"{name:44s} {r['err_rms']:9.2e} {r['err_max']:8.3f} {r['gap']:7.3f} "
              f"{r['argmax']:7.3f}")
    print(f"({len(cases)} prompts, {next(iter(table.values()))['rows']} rows)")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"model": os.path.basename(a.model), "prompts": [c["name"] for c in cases],
                       "stages": table}, f, indent=1)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", nargs="?", choices=["stages", "greedy", "spread"], default="stages")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--lib", default=os.environ.get(
        "CHORUS_LIB", os.path.join(ROOT, "build", "cpu", "libchorus.so")))
    ap.add_argument("-t", "--threads", type=int, default=2, help="llama.cpp's threads")
    ap.add_argument("--prompts", help="stages: comma-separated fixture case names (default all)")
    ap.add_argument("--engine", action="store_true", help="stages: also chorus's own logits")
    ap.add_argument("--llama", action="store_true", help="stages: also llama.cpp's logits")
    ap.add_argument("--stages", help="stages: comma-separated substrings of the stages to run")
    ap.add_argument("--per-tensor", action="store_true",
                    help="stages: also each kind of matrix and each layer on its own")
    ap.add_argument("--out", help="stages: write the table as JSON")
    ap.add_argument("--draws", type=int, default=8, help="spread: jitter draws per scheme")
    ap.add_argument("--everyday", type=int, default=len(EVERYDAY),
                    help="greedy: how many of the built-in everyday questions")
    ap.add_argument("--gsm8k", type=int, default=0, help="greedy: also this many GSM8K questions")
    ap.add_argument("--gsm8k-file", default=os.path.join(ROOT, "..", "shared", "data", "gsm8k",
                                                         "test.jsonl"))
    a = ap.parse_args()
    return {"greedy": greedy, "spread": spread, "stages": audit}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
