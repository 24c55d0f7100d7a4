#!/usr/bin/env python3
"""bench_hf.py - the peer for `chorus bench --device cuda --random-model SHAPE`.

Hugging Face transformers generate(num_return_sequences=N) on a randomly initialised model of the
same shape (llama2-7b, or smollm2-135m: the default model's) in bf16 on one GPU: the same
prompt length and number of new tokens as chorus's rows, so the tok/s can be put side by side.
Needs torch + transformers and a CUDA device; it downloads nothing (the config is built in code).

    python3 tools/bench_hf.py [--shape llama2-7b] [--n 1,64] [--prompt-len 128,1024] [--gen 32]

(one prompt length applies to every N)

Prints one line per case: "hf decode N=.. P=..: X tok/s aggregate, Y ms/step".
"""
import argparse
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="1,64", help="chains per case (paired with --prompt-len)")
    ap.add_argument("--prompt-len", default="128,1024")
    ap.add_argument("--gen", type=int, default=32)
    ap.add_argument("--shape", choices=["llama2-7b", "smollm2-135m"], default="llama2-7b")
    args = ap.parse_args()
    try:
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM
    except ImportError as e:
        print(f"SKIP: {e} (torch and transformers are needed)")
        return 0
    if not torch.cuda.is_available():
        print("SKIP: no CUDA device")
        return 0
    if args.shape == "llama2-7b":
        cfg = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                          num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                          max_position_embeddings=4096, rope_theta=10000.0, rms_norm_eps=1e-5)
    else:
        cfg = LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                          num_attention_heads=9, num_key_value_heads=3, vocab_size=49152,
                          max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
                          tie_word_embeddings=True)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
    ns = [int(x) for x in args.n.split(",")]
    ps = [int(x) for x in args.prompt_len.split(",")]
    if len(ps) == 1:
        ps = ps * len(ns)
    for n, p in zip(ns, ps):
        ids = torch.randint(0, cfg.vocab_size, (1, p), device="cuda")
        kw = dict(do_sample=True, temperature=0.7, top_p=0.95, num_return_sequences=n,
                  pad_token_id=0)
        with torch.inference_mode():
            model.generate(ids, max_new_tokens=4, min_new_tokens=4, **kw)  # warm-up
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            model.generate(ids, max_new_tokens=1, min_new_tokens=1, **kw)
            torch.cuda.synchronize()
            t_first = time.perf_counter() - t0  # prefill + one step
            t0 = time.perf_counter()
            model.generate(ids, max_new_tokens=args.gen, min_new_tokens=args.gen, **kw)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
        step = max(dt - t_first, 1e-9) / max(args.gen - 1, 1)
        print(f"hf {args.shape} decode N={n} P={p}: {n / step:.1f} tok/s aggregate, {step * 1e3:.2f} ms/step "
              f"(prefill+first {t_first * 1e3:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
