#!/usr/bin/env python3
"""make_tiny_model.py - write a tiny random llama GGUF for tests (deterministic from a seed).

    python tools/make_tiny_model.py OUT.gguf [--tied] [--types mix|f32] [--seed 1] [--shape cpu|gpu]
                                    [--pad-rows N | --cut-rows N]

Shape (--shape cpu, the default): dim 64, 2 layers, 4 heads / 2 KV heads (head_dim 16), FFN 160
(5 blocks of 32), context 128, rope base 10000, rms eps 1e-6 (deliberately NOT the default
model's values, so a runtime that ignores the metadata fails the parity test).
--shape gpu: a head size the CUDA kernels serve and SmolLM2's GQA ratio: dim 192, 2 layers,
3 heads / 1 KV head (head_dim 64), FFN 320, context 512 (the GPU tests prefill 300 tokens).

Vocabulary size (for the hostile-input tests): --pad-rows N gives the embedding (and output)
N rows past the tokenizer's tokens, a padded vocabulary; their output rows are +-100 times a
unit vector, so their logits dominate every real token's and a sampler that does not mask them
always picks one. --cut-rows N gives N rows fewer than the tokenizer has tokens (a broken file).
build() also takes overrides of a few metadata values (eps, rope_base, tok_model, arch).

Architectures (--arch, for tests/test_quant_models.py; use --shape k --types f16 and quantize
with tools/quantize_gguf.py): llama (with --rope-freqs: a Llama 3.x rope_freqs.weight of
frequency divisors 1..8, and --rope-linear F: linear rope scaling), qwen2 (q/k/v biases; NeoX
rope in the runtime), qwen3 (per-head q/k RMSNorm weights, and --head-dim 128 makes q wider
than the embedding, as in Qwen3-0.6B). --types f16: every matrix F16 (the quantizer's input).

Types (--types mix): the matrices cycle through F32, F16, BF16, Q8_0, Q4_0, Q4_1, so every type
the runtime supports appears both as an attention and an FFN weight; norms are F32.
Untied variant: token_embd F16, output.weight Q8_0. Tied variant (--tied): no output.weight,
token_embd Q4_1 doubles as the output matrix. --types f32 makes everything F32 (pure-math check).

Tokenizer: GPT-2 style byte-level BPE metadata: 3 special tokens (<|endoftext|> 0,
<|im_start|> 1 = BOS, <|im_end|> 2 = EOS), then the 256 byte tokens (ids 3..258, byte b is the
GPT-2 byte-to-unicode character of b), then a few merged tokens with their merges.
"""
import argparse
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

SHAPES = {  # dim, layers, heads, kv heads, ffn, context
    "cpu": (64, 2, 4, 2, 160, 128),
    "gpu": (192, 2, 3, 1, 320, 512),
    "k": (256, 2, 4, 2, 512, 256),  # every row a multiple of 256: the K-quants apply
    "bench": (1024, 8, 16, 4, 2816, 1024),  # ~100 M weights, K-quant rows: speed per type
}
ROPE_BASE, EPS = 10000.0, 1e-6
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = [("Ġ", "t"), ("h", "e"), ("i", "n"), ("Ġt", "he"), ("Ġ", "a"), ("r", "e"), ("o", "n"),
          ("e", "r"), ("a", "n"), ("Ġ", "s"), ("Ġ", "w"), ("o", "u"), ("Ġ", "1")]
MATRIX_TYPES = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1]


def byte_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable unicode characters."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def vocab(think=False):
    """think: the thinking tokens <think> and </think> too, after the merges."""
    b2u = byte_to_unicode()
    tokens = list(SPECIALS) + [b2u[b] for b in range(256)] + [a + b for a, b in MERGES]
    types = [gguf.TokenType.CONTROL] * len(SPECIALS) + [gguf.TokenType.NORMAL] * (len(tokens) - 3)
    if think:
        tokens += ["<think>", "</think>"]
        types += [gguf.TokenType.USER_DEFINED] * 2
    assert len(set(tokens)) == len(tokens)
    return tokens, types, [f"{a} {b}" for a, b in MERGES]


_omit = set()  # tensor names build() leaves out
_replace = {}  # name -> (data, qtype) build() writes instead


# Byte offsets of the fp16 scales in a K-quant super-block: d, and dmin where the type has mins.
KQUANT_SCALES = {T.Q2_K: (80, 82), T.Q3_K: (108, None), T.Q4_K: (0, 2), T.Q5_K: (0, 2),
                 T.Q6_K: (208, None)}


def kquant_bytes(rng, out_dim, in_dim, qtype, d=None):
    """A K-quant matrix [out, in] as raw blocks (uint8 [out, row bytes]): random quants and
    sub-block scales, and every super-block's d (dmin) set to `d` (default: small random values,
    so the weights are finite and moderate). gguf cannot quantize to K-quants itself."""
    bs, bb = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(out_dim, in_dim // bs * bb), dtype=np.uint8)
    blocks = raw.reshape(out_dim, in_dim // bs, bb)
    for off in KQUANT_SCALES[qtype]:
        if off is not None:
            v = rng.uniform(1e-4, 2e-3, blocks.shape[:2]) if d is None else np.full(
                blocks.shape[:2], d)
            blocks[:, :, off:off + 2] = v.astype(np.float16)[..., None].view(np.uint8)
    return raw


def add_weight(w, name, data, qtype):
    """Quantize float32 `data` (HF layout [out, in]) to qtype and add it to the writer; uint8
    `data` of a quantized type is taken as the raw blocks."""
    if name in _omit:
        return
    data, qtype = _replace.get(name, (data, qtype))
    if data.dtype == np.uint8 and qtype not in (T.F32, T.F16):
        w.add_tensor(name, data, raw_shape=data.shape, raw_dtype=qtype)
        return
    data = np.ascontiguousarray(data, dtype=np.float32)
    q = gguf.quants.quantize(data, qtype)
    if qtype in (T.F32, T.F16):
        w.add_tensor(name, q)
    else:
        w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)


def random_matrix(rng, out_dim, in_dim):
    """~N(0, 1/in) with a few outlier columns and an exact-zero row, like real checkpoints."""
    m = rng.standard_normal((out_dim, in_dim)).astype(np.float32) / np.sqrt(in_dim)
    cols = rng.choice(in_dim, size=2, replace=False)
    m[:, cols] *= 6.0
    m[rng.integers(out_dim)] = 0.0
    return m


def f32_all(types):
    return types == "f32"


def pad_matrix(m, n_tokens, pad_rows, cut_rows):
    """m [n_tokens, dim] with rows cut, or padded with +-100 e_j rows (see the docstring)."""
    if cut_rows:
        return m[:n_tokens - cut_rows]
    dim = m.shape[1]
    pad = np.zeros((pad_rows, dim), dtype=np.float32)
    for k in range(pad_rows):
        pad[k, (k // 2) % dim] = 100.0 if k % 2 == 0 else -100.0
    return np.concatenate([m, pad])


def build(path, tied, types, seed, shape="cpu", pad_rows=0, cut_rows=0, eps=EPS,
          rope_base=ROPE_BASE, tok_model="gpt2", arch="llama", head_dim=None, rope_freqs=False,
          rope_linear=None, rope_scaling=None, omit=(), replace=None, extra_tensors=(),
          meta=None, think=False):
    """Writes the model to path. rope_scaling: a rope.scaling.type to write (with factor 4).
    For broken files (the tests): omit: names of tensors to leave out; replace: {name: (data,
    qtype)} written instead of a tensor; extra_tensors: (name, data, qtype) added; meta: {key:
    (kind, value)} written with GGUFWriter.add_<kind> (after the model's own keys, so a key the
    model writes too appears twice: use it for keys build() does not write). think: the vocabulary
    has <think> and </think> (a thinking model's tokens)."""
    DIM, LAYERS, HEADS, KV_HEADS, FFN, CTX = SHAPES[shape]
    _omit.clear()
    _omit.update(omit)
    _replace.clear()
    _replace.update(replace or {})
    rng = np.random.default_rng(seed)
    tokens, tok_types, merges = vocab(think)
    n_vocab = len(tokens)
    n_rows = n_vocab + pad_rows - cut_rows  # rows of token_embd and output
    own_head_dim = head_dim is not None
    head_dim = head_dim or DIM // HEADS

    w = gguf.GGUFWriter(path, arch)
    w.add_name(f"chorus-tiny-{shape}-{'tied' if tied else 'untied'}-{types}-seed{seed}")
    w.add_context_length(CTX)
    w.add_embedding_length(DIM)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(head_dim)
    if own_head_dim:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if rope_linear:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(rope_linear)
    elif rope_scaling:
        w.add_string(f"{arch}.rope.scaling.type", rope_scaling)
        w.add_rope_scaling_factor(4.0)
    w.add_rope_freq_base(rope_base)
    w.add_layer_norm_rms_eps(eps)
    for key, (kind, value) in (meta or {}).items():
        getattr(w, "add_" + kind)(key, value)
    w.add_vocab_size(n_rows)
    w.add_file_type(0 if f32_all(types) else 1)
    w.add_tokenizer_model(tok_model)
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(tok_types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(2)
    w.add_add_bos_token(False)
    w.add_chat_template(
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
        "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

    f32, f16 = types == "f32", types == "f16"
    pick = ((lambda i: T.F32) if f32 else (lambda i: T.F16) if f16
            else (lambda i: MATRIX_TYPES[i % len(MATRIX_TYPES)]))

    emb = (rng.standard_normal((n_vocab, DIM)) * 0.5).astype(np.float32)
    if pad_rows or cut_rows:  # tied: the padding rows double as dominating output rows
        emb = pad_matrix(emb, n_vocab, pad_rows, cut_rows)
    emb_type = T.F32 if f32 else (T.Q4_1 if tied and not f16 else T.F16)
    add_weight(w, "token_embd.weight", emb, emb_type)
    if rope_freqs:  # Llama 3.x: low frequencies slowed down, up to 8x
        f = np.linspace(1.0, 8.0, head_dim // 2).astype(np.float32)
        add_weight(w, "rope_freqs.weight", f, T.F32)
    k = 0  # cycles the matrix types
    for l in range(LAYERS):
        p = f"blk.{l}."
        norm = lambda: (1.0 + 0.2 * rng.standard_normal(DIM)).astype(np.float32)
        add_weight(w, p + "attn_norm.weight", norm(), T.F32)
        for name, o, i in [("attn_q", HEADS * head_dim, DIM), ("attn_k", KV_HEADS * head_dim, DIM),
                           ("attn_v", KV_HEADS * head_dim, DIM),
                           ("attn_output", DIM, HEADS * head_dim)]:
            add_weight(w, p + name + ".weight", random_matrix(rng, o, i), pick(k))
            k += 1
            if arch == "qwen2" and name != "attn_output":  # biases, some large as in Qwen2
                b = (0.3 * rng.standard_normal(o)).astype(np.float32)
                b[rng.integers(o)] = 4.0
                add_weight(w, p + name + ".bias", b, T.F32)
        if arch == "qwen3":  # per-head norms of q and k
            for name in ("attn_q_norm", "attn_k_norm"):
                add_weight(w, p + name + ".weight",
                           (1.0 + 0.3 * rng.standard_normal(head_dim)).astype(np.float32), T.F32)
        add_weight(w, p + "ffn_norm.weight", norm(), T.F32)
        for name, o, i in [("ffn_gate", FFN, DIM), ("ffn_up", FFN, DIM), ("ffn_down", DIM, FFN)]:
            add_weight(w, p + name + ".weight", random_matrix(rng, o, i), pick(k))
            k += 1
        k += 1  # shift the cycle so layer 1 gives each matrix a different type than layer 0
    add_weight(w, "output_norm.weight", (1.0 + 0.2 * rng.standard_normal(DIM)).astype(np.float32),
               T.F32)
    for name, data, qtype in extra_tensors:
        add_weight(w, name, data, qtype)
    if not tied:
        out = random_matrix(rng, n_vocab, DIM) * 4.0
        if pad_rows or cut_rows:
            out = pad_matrix(out, n_vocab, pad_rows, cut_rows)
        add_weight(w, "output.weight", out, T.F32 if f32 else T.F16 if f16 else T.Q8_0)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser(description="write a tiny random llama GGUF")
    ap.add_argument("out")
    ap.add_argument("--tied", action="store_true", help="no output.weight (tied embeddings)")
    ap.add_argument("--types", choices=["mix", "f32", "f16"], default="mix")
    ap.add_argument("--arch", choices=["llama", "qwen2", "qwen3"], default="llama")
    ap.add_argument("--head-dim", type=int, help="head size (default dim / heads)")
    ap.add_argument("--rope-freqs", action="store_true", help="a rope_freqs.weight (Llama 3.x)")
    ap.add_argument("--rope-linear", type=float, help="linear rope scaling factor")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="cpu")
    ap.add_argument("--pad-rows", type=int, default=0, help="embedding rows past the tokens")
    ap.add_argument("--cut-rows", type=int, default=0, help="embedding rows fewer than tokens")
    a = ap.parse_args()
    build(a.out, a.tied, a.types, a.seed, a.shape, a.pad_rows, a.cut_rows, arch=a.arch,
          head_dim=a.head_dim, rope_freqs=a.rope_freqs, rope_linear=a.rope_linear)
    return 0


if __name__ == "__main__":
    sys.exit(main())
