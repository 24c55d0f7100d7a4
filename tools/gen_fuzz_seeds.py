#!/usr/bin/env python3
"""gen_fuzz_seeds.py - write the seed corpora of the libFuzzer targets in tests/fuzz/.

    python tools/gen_fuzz_seeds.py OUTDIR        # OUTDIR/fuzz_gguf/, OUTDIR/fuzz_tokenizer/, ...

Seeds are small valid (and a few nearly valid) inputs, so that mutations start from inputs
that reach deep into each parser; nothing binary is committed. The input format of each
target (the mode byte in front) is described at the top of its tests/fuzz/fuzz_*.c.

fuzz_gguf: tiny llama models (dim 32, one layer) written with the gguf package: byte-level
BPE and SentencePiece tokenizers, tied and untied, every tensor type, a padded vocabulary, a
vocabulary-only file and arrays of every metadata type; the architectures' switches: qwen2 (q/k/v
biases), qwen3 (q/k norms, head size 48 so q is wider than the embedding), Llama 3 rope_freqs with
linear rope scaling; and the K-quants with Q5_0/Q5_1, one model per K-quant type and one mixing
them (dim 256, the K-quants' row length, but one head of 32, an FFN of 32 and 16 embedding rows
without a tokenizer, so each file stays under run.sh's -max_len of 100000 bytes).
"""
import json
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tiny_model  # noqa: E402  (the GPT-2 byte map and merges)

DIM, FFN, HEADS, KV_HEADS = 32, 32, 2, 1


def bpe_vocab():
    tokens, types, merges = make_tiny_model.vocab()
    return tokens, [int(t) for t in types], merges


def spm_vocab():
    """A SentencePiece vocabulary: <unk> <s> </s>, the 256 <0xXX> byte tokens, some pieces."""
    pieces = ["\u2581", "\u2581t", "he", "\u2581the", "in", "\u2581a", "er", "\u2581\u2581", "1", "2"]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces)
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces))]
    return tokens, types, scores


def add(w, name, data, qtype):
    data = np.ascontiguousarray(data, dtype=np.float32)
    q = gguf.quants.quantize(data, qtype)
    if qtype in (T.F32, T.F16):
        w.add_tensor(name, q)
    else:
        w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)


def model(path, spm=False, tied=True, qtype=T.Q8_0, pad_rows=0, tensors=True, extra=None,
          arch="llama", head_dim=None, rope_freqs=False, rope_linear=None):
    """arch qwen2 adds q/k/v biases, qwen3 q/k norms; head_dim (key_length) sets the head size
    apart from DIM / HEADS; rope_freqs: Llama 3's frequency divisors; rope_linear: a factor."""
    rng = np.random.default_rng(len(path))
    hd = head_dim or DIM // HEADS
    w = gguf.GGUFWriter(path, arch)
    if spm:
        tokens, types, scores = spm_vocab()
    else:
        tokens, types, merges = bpe_vocab()
    rows = len(tokens) + pad_rows
    w.add_context_length(64)
    w.add_embedding_length(DIM)
    w.add_block_count(1)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(rows)
    if head_dim:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if rope_linear:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(rope_linear)
    w.add_tokenizer_model("llama" if spm else "gpt2")
    if not spm:
        w.add_tokenizer_pre("smollm")
        w.add_token_merges(merges)
    else:
        w.add_token_scores(scores)
        w.add_add_space_prefix(True)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_chat_template("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + "
                        "m['content'] + '<|im_end|>\n'}}{% endfor %}")
    for key, (kind, value) in (extra or {}).items():
        getattr(w, "add_" + kind)(key, value)
    if tensors:
        m = lambda o, i: rng.standard_normal((o, i)).astype(np.float32) / np.sqrt(i)
        ones = lambda n=DIM: np.ones(n, dtype=np.float32)
        add(w, "token_embd.weight", m(rows, DIM), qtype)
        if rope_freqs:
            add(w, "rope_freqs.weight", np.linspace(1, 8, hd // 2), T.F32)
        add(w, "blk.0.attn_norm.weight", ones(), T.F32)
        add(w, "blk.0.attn_q.weight", m(HEADS * hd, DIM), qtype)
        add(w, "blk.0.attn_k.weight", m(KV_HEADS * hd, DIM), T.F16)
        add(w, "blk.0.attn_v.weight", m(KV_HEADS * hd, DIM), T.Q4_0)
        if arch == "qwen2":
            for name, n in (("q", HEADS * hd), ("k", KV_HEADS * hd), ("v", KV_HEADS * hd)):
                add(w, f"blk.0.attn_{name}.bias", rng.standard_normal(n), T.F32)
        if arch == "qwen3":
            add(w, "blk.0.attn_q_norm.weight", ones(hd), T.F32)
            add(w, "blk.0.attn_k_norm.weight", ones(hd), T.F16)
        add(w, "blk.0.attn_output.weight", m(DIM, HEADS * hd), T.Q4_1)
        add(w, "blk.0.ffn_norm.weight", ones(), T.F32)
        add(w, "blk.0.ffn_gate.weight", m(FFN, DIM), T.BF16)
        add(w, "blk.0.ffn_up.weight", m(FFN, DIM), qtype)
        add(w, "blk.0.ffn_down.weight", m(DIM, FFN), T.F32)
        add(w, "output_norm.weight", ones(), T.F32)
        if not tied:
            add(w, "output.weight", m(rows, DIM), T.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


KQUANTS = (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K)


def kquant_model(path, types):
    """dim 256 (one K-quant super-block a row), one layer with one head of 32 (key_length) and an
    FFN of 32, 16 embedding rows, tied, no tokenizer. The matrices whose rows are 256 long take
    the K-quant `types` in turn (token_embd, q, k, v, gate, up); attn_output and ffn_down, whose
    rows are 32 long, Q5_0 and Q5_1."""
    dim, hd, ffn, rows = 256, 32, 32, 16
    rng = np.random.default_rng(len(path))
    w = gguf.GGUFWriter(path, "llama")
    w.add_context_length(64)
    w.add_embedding_length(dim)
    w.add_block_count(1)
    w.add_feed_forward_length(ffn)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    for k, (name, out) in enumerate((("token_embd.weight", rows), ("blk.0.attn_q.weight", hd),
                                     ("blk.0.attn_k.weight", hd), ("blk.0.attn_v.weight", hd),
                                     ("blk.0.ffn_gate.weight", ffn), ("blk.0.ffn_up.weight", ffn))):
        qtype = types[k % len(types)]
        data = make_tiny_model.kquant_bytes(rng, out, dim, qtype)
        w.add_tensor(name, data, raw_shape=data.shape, raw_dtype=qtype)
    ones = np.ones(dim, dtype=np.float32)
    for name in ("blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "output_norm.weight"):
        add(w, name, ones, T.F32)
    add(w, "blk.0.attn_output.weight", rng.standard_normal((dim, hd)) / 6, T.Q5_0)
    add(w, "blk.0.ffn_down.weight", rng.standard_normal((dim, ffn)) / 6, T.Q5_1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gguf_seeds(d):
    model(f"{d}/bpe_tied_q8.gguf")
    model(f"{d}/bpe_untied_f32.gguf", tied=False, qtype=T.F32)
    model(f"{d}/bpe_padded_q4.gguf", tied=False, qtype=T.Q4_0, pad_rows=16)
    model(f"{d}/spm_tied_f16.gguf", spm=True, qtype=T.F16)
    model(f"{d}/vocab_only.gguf", tensors=False)
    model(f"{d}/spm_vocab_only.gguf", spm=True, tensors=False)
    model(f"{d}/every_type.gguf", tensors=False, extra={
        "x.u8": ("uint8", 7), "x.i8": ("int8", -7), "x.u16": ("uint16", 700),
        "x.i16": ("int16", -700), "x.u32": ("uint32", 70000), "x.i32": ("int32", -70000),
        "x.u64": ("uint64", 1 << 40), "x.i64": ("int64", -(1 << 40)), "x.f32": ("float32", 1.5),
        "x.f64": ("float64", -2.25), "x.bool": ("bool", True), "x.str": ("string", "caf\u00e9"),
        "x.arr": ("array", [1, 2, 3]), "x.strs": ("array", ["a", "", "\u2581b"])})
    model(f"{d}/qwen2_biases.gguf", arch="qwen2", tied=False)
    model(f"{d}/qwen3_norms_hd48.gguf", arch="qwen3", head_dim=48, qtype=T.Q5_1)
    model(f"{d}/llama3_rope_freqs_linear.gguf", rope_freqs=True, rope_linear=4.0, qtype=T.Q5_0)
    for qtype in KQUANTS:
        kquant_model(f"{d}/kquant_{qtype.name}.gguf", [qtype])
    kquant_model(f"{d}/kquant_mix.gguf", KQUANTS)
    with open(f"{d}/bpe_tied_q8.gguf", "rb") as f:
        whole = f.read()
    with open(f"{d}/truncated.gguf", "wb") as f:
        f.write(whole[:len(whole) // 2])


def tokenizer_seeds(d):
    """Byte 0: vocabulary index (0..4: llama-spm, llama-bpe, qwen2, gpt-2, SmolLM2) + 8 * mode."""
    texts = ["Hello world", " leading and  double  spaces\n\nnew lines\ttabs",
             "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
             "<s>[INST] hi [/INST]</s>", "caf\u00e9 na\u00efve \u4e2d\u6587 \U0001F600 \u2581 x",
             "1234567890 3.14159 -42 1,000,000", "def f(x):\n    return x**2  # comment",
             "\u00ff\u00fe", "'s 're 've 'll 'd n't", "<|endoftext|><|eot_id|>"]
    k = 0
    for v in range(5):
        for mode in (0, 1):
            for t in texts:
                k += 1
                with open(f"{d}/text{k:03d}", "wb") as f:
                    f.write(bytes([v + 8 * mode]) + t.encode("utf-8"))
        with open(f"{d}/invalid{v}", "wb") as f:
            f.write(bytes([v]) + b"ok \xff\xfe \xc3( \xe2\x82 \xf0\x9f\x98 \xed\xa0\x80 \xc0\xaf end")
        ids32 = struct.pack("<12i", 0, 1, 2, 100, 1000, 30000, -1, -5, 49151, 49152, 1 << 30, 32)
        with open(f"{d}/ids32_{v}", "wb") as f:
            f.write(bytes([v + 16]) + ids32)
        ids16 = struct.pack("<10H", 0, 1, 29871, 13, 259, 0xFFFF, 4, 300, 8000, 12)
        with open(f"{d}/ids16_{v}", "wb") as f:
            f.write(bytes([v + 24]) + ids16)


def report(qs_from, n_q, shard, ks="1,2", n_max=2):
    cfg = {"model": "m.gguf", "data": "t.jsonl", "ks": ks, "n_max": n_max, "wave": 2,
           "confidence": 0.95, "adaptive": 0, "temp": 0.7, "seed": 1, "answer_cue": None}
    qs = []
    for i in range(qs_from, qs_from + n_q):
        chains = [{"index": c, "answer": str(i + c % 2), "correct": c % 2 == 0, "tokens": 10 + c,
                   "sum_logprob": -1.5 * c, "stop": "eog", "forced": False, "text": f"so {i}"}
                  for c in range(n_max)]
        qs.append({"id": i, "line": i + 1, "level": i % 3 if i % 4 else None, "reference": str(i),
                   "question": f"q{i}?", "prompt_tokens": 5, "decode_tokens": 21,
                   "forced_tokens": 0, "settled_early": False, "budget_capped": False,
                   "seconds": 0.5, "greedy": {"answer": str(i), "tokens": 4, "stop": "eog",
                                              "correct": True, "text": "g"},
                   "chains": chains})
    return json.dumps({"chorus_eval": 1, "config": cfg, "shards": [shard],
                       "totals": {"questions": n_q, "prefill_tokens": 10, "decode_tokens": 42,
                                  "forced_tokens": 0, "greedy_prefill_tokens": 5,
                                  "greedy_decode_tokens": 8, "sample_seconds": 1.0,
                                  "greedy_seconds": 0.2, "wall_seconds": 1.3},
                       "questions": qs}).encode()


def sweep_report(n_q=4, n_max=4, thinks=(8, 16)):
    """A fixed run over two thinking budgets, every chain with its confidence trace."""
    cfg = {"model": "m.gguf", "data": "t.jsonl", "ks": "1,2,4", "n_max": n_max, "wave": 2,
           "confidence": 0.95, "adaptive": 0, "think_tokens": thinks[-1],
           "thinks": ",".join(map(str, thinks)), "policy": None, "deepconf": None, "conf_k": 5}
    qs = []
    for i in range(n_q):
        chains = []
        for t in thinks:
            for c in range(n_max):
                n = 3 + (i + c + t) % 5
                chains.append({"index": c, "think": t, "answer": str((i * c + t) % 3),
                               "correct": (i * c + t) % 3 == 0, "tokens": n,
                               "sum_logprob": -0.5 * n, "stop": "eog", "forced": False,
                               "text": None, "entropy": 1.25,
                               "conf": [round(2 + ((k * 7 + c) % 11) / 3, 3) for k in range(n)]})
        qs.append({"id": i, "line": i + 1, "level": 1 + i % 2, "reference": "0",
                   "question": f"q{i}?", "prompt_tokens": 5, "decode_tokens": 0,
                   "forced_tokens": 0, "settled_early": False, "budget_capped": False,
                   "seconds": 0.1, "stop": "all", "greedy": None, "chains": chains})
    return json.dumps({"chorus_eval": 1, "config": cfg, "shards": ["0/1"],
                       "totals": {"questions": n_q}, "questions": qs}).encode()


def policy_seed(extra_bins=True):
    opts = [[0, 8, 0.5, 12.0], [1, 8, 0.6, 20.0], [2, 16, 0.75, 40.0]]
    bins = [{"lo": 0, "extra": 0, "think": 8, "action": "hopeless", "questions": 2,
             "mean_share": 0.4, "first_wave_accuracy": 0.1, "options": opts},
            {"lo": 0.5, "extra": 2, "think": 16, "action": "more", "questions": 2,
             "mean_share": 0.7, "first_wave_accuracy": 0.6, "options": opts}]
    if extra_bins:
        bins.append({"lo": 0.9, "extra": 0, "think": 8, "action": "settled", "questions": 1,
                     "mean_share": 1, "first_wave_accuracy": 1, "options": opts})
    return json.dumps({"chorus_policy": 1, "wave": 2, "probe_think": 8, "n_max": 4,
                       "score": {"coef": [-1, 2, 0.5, 1]}, "budget_mean": 30,
                       "calibration": {"source": "c.json", "questions": 5, "accuracy": 0.5,
                                       "tokens": 28, "majority_at_n_max": {"accuracy": 0.5,
                                                                            "tokens": 60}},
                       "bins": bins}).encode()


def jsonl_seeds(d):
    """Byte 0 mod 3: 0 = a task file, 1 = reports (two separated by a 0xFF byte), 2 = a policy."""
    tasks = [
        b'{"question": "Natalia sold 48 clips. How many?", "answer": "She sold <<48/2=24>>24.\\n#### 72"}\n'
        b'{"question": "2+2?", "answer": 4, "level": 1}\n\n{"question": "x", "answer": "1,000", "level": "Level 5"}\n',
        b'{"question": "\\u00e9\\ud83d\\ude00 \\"q\\"", "answer": "$1.50", "level": null, "extra": [1, {"a": []}]}\n',
        b'{"question": "bad", "answer": true}\n',
        b'[1, 2, 3]\n{"question": 1}\n',
        b'{"question": "deep", "answer": "1", "x": [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}\r\n',
        b'{"question": "n", "answer": -1.25e+3, "level": 3.0}\n{"question": "t", "answer": 1e999}\n',
    ]
    for k, t in enumerate(tasks):
        with open(f"{d}/tasks{k}", "wb") as f:
            f.write(b"\x00" + t)
    a, b = report(0, 3, "0/2"), report(3, 2, "1/2")
    for k, data in enumerate([a, a + b"\xff" + b, b + b"\xff" + a, a + b"\xff" + a,
                              report(0, 2, "0/1", ks="1,2,4", n_max=4),
                              a.replace(b'"n_max": 2', b'"n_max": 1e300'),
                              a.replace(b'"id": 1,', b'"id": 1e300,'), sweep_report(),
                              sweep_report(3, 6, (4, 8, 12))]):
        with open(f"{d}/report{k}", "wb") as f:
            f.write(b"\x01" + data)
    for k, data in enumerate([policy_seed(), policy_seed(False),
                              policy_seed().replace(b'"more"', b'"settled"')]):
        with open(f"{d}/policy{k}", "wb") as f:
            f.write(b"\x02" + data)


def answer_seeds(d):
    """Byte 0: mode (0 built-in extraction, 1 + 4 * p regex p, 2 chat formats, 3 prompts)."""
    texts = ["She sold 48/2 = 24 clips.\n#### 72", "So \\boxed{\\frac{1}{2}} or \\boxed{3",
             "The answer is 7 + 4 = 11.", "The answer is $1,234.50.", "x-3 and 5-3 give \u22122",
             "answer: 50% of \\$18.00", "\\boxed{\\boxed{5}}}", "#### \n####", "The answer is."]
    k = 0
    for mode in (0, 1, 5, 9, 13, 17):
        for t in texts:
            k += 1
            with open(f"{d}/ans{k:03d}", "wb") as f:
                f.write(bytes([mode]) + t.encode())
    chats = [b"You are helpful.\xffWhat is 2+2?", b"\xffhi", b"sys <|im_end|>\xffuser [INST]"]
    for j, c in enumerate(chats):
        for mode in (2, 6):
            with open(f"{d}/chat{j}_{mode}", "wb") as f:
                f.write(bytes([mode]) + c)
    jinja = ["{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful "
             "AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}"
             "<|im_start|>", "[INST] <<SYS>> [/INST]", "<|start_header_id|><|end_header_id|>",
             "<start_of_turn>", "<|user|><|endoftext|>", "<|assistant|><|end|>", "chatml"]
    for j, t in enumerate(jinja):
        with open(f"{d}/jinja{j}", "wb") as f:
            f.write(b"\x02" + t.encode())
    for j, t in enumerate([b"Q: {question}\nA:\xffWhat?", b"{question}{question}{quest\xff{question}"]):
        with open(f"{d}/prompt{j}", "wb") as f:
            f.write(b"\x03" + t)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out = sys.argv[1]
    for name, fn in (("fuzz_gguf", gguf_seeds), ("fuzz_tokenizer", tokenizer_seeds),
                     ("fuzz_jsonl", jsonl_seeds), ("fuzz_answer", answer_seeds)):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        fn(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
