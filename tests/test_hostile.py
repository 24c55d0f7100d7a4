"""test_hostile.py - the bad-input matrix: hostile files and a full output device against the
CLI, in the normal and the ASan/UBSan builds, one table row per case:

    (case, command line, exit code, fragment the one stderr line must hold)

Every case must end with exactly that exit code and one stderr line (no sanitizer report, no
raw control bytes: file content is quoted escaped). The models are tiny ones written by
tools/make_tiny_model.py with a vocabulary or a config value broken on purpose; the other files
are written here. A padded vocabulary (more embedding rows than tokens, rows that would win
every draw) must run and never produce an id without text. The table, with what each case
printed, is written to build/hostile_matrix.md.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np
from gguf import GGMLQuantizationType as T

from pycheck import ROOT, check, done, skip

sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_tiny_model  # noqa: E402

TMP = os.path.join(ROOT, "build", "tmp", "hostile")
BINS = [b for b in (os.environ.get("CHORUS_BIN", "./chorus"),
                    os.environ.get("CHORUS_ASAN_BIN", "./chorus-asan")) if b]
ESC = "\x1b"


def path(name):
    return os.path.join(TMP, name)


def write(name, data):
    with open(path(name), "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path(name)


def tiny(name, **kw):
    make_tiny_model.build(path(name), False, "f32", 1, **kw)
    return path(name)


def gguf_bytes(kvs=b"", n_kv=0, tensors=b"", n_tensors=0):
    """A GGUF v3 header with raw metadata pairs and tensor infos (no data)."""
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + kvs + tensors + b"\0" * 64


def gstr(s):
    return struct.pack("<Q", len(s)) + s


def report(qs=None, cfg=None, shards=True, totals=None):
    r = {"chorus_eval": 1,
         "config": cfg or {"ks": "1", "n_max": 1, "wave": 1, "confidence": 0.95, "adaptive": 0},
         "totals": totals or {"decode_tokens": 3},
         "questions": qs if qs is not None else [
             {"id": 0, "reference": "1", "question": "q",
              "chains": [{"answer": "1", "tokens": 3, "correct": True}]}]}
    if shards:
        r["shards"] = ["0/1"]
    return json.dumps(r)


def make_files():
    """The matrix: (case, args, exit code, fragment, stdout target or None)."""
    os.makedirs(TMP, exist_ok=True)
    good = tiny("good.gguf")
    cut = tiny("cut.gguf", cut_rows=20)
    eps_nan = tiny("eps_nan.gguf", eps=float("nan"))
    eps_zero = tiny("eps_zero.gguf", eps=0.0)
    eps_neg = tiny("eps_neg.gguf", eps=-1e-5)
    rope_zero = tiny("rope_zero.gguf", rope_base=0.0)
    rope_neg = tiny("rope_neg.gguf", rope_base=-10000.0)
    rope_nan = tiny("rope_nan.gguf", rope_base=float("nan"))
    arch = tiny("arch.gguf", arch="ll" + ESC + "]0;pwned\x07")
    tokm = tiny("tokm.gguf", tok_model="gp" + ESC + "[0mt2\n")
    evil_key = b"evil\n" + ESC.encode() + b"[31mkey"
    key = write("key.gguf", gguf_bytes(gstr(evil_key) + struct.pack("<I", 99), n_kv=1))
    tname = write("tname.gguf", gguf_bytes(
        tensors=gstr(b"t" + ESC.encode() + b"[2J\nx") + struct.pack("<I", 7), n_tensors=1))
    m = ["-m", good, "--raw", "-p", "hi", "--max-tokens", "4"]
    new_paths = new_path_cases()
    tasks_ctl = write("ctl.jsonl", '{"question": "q", "answer": "1"}\n\x1b[31m{}\n')
    big = write("big.jsonl", json.dumps({"question": "word " * 400_000, "answer": "1"}) + "\n")
    r_ok = write("ok.json", report())
    r_noshards = write("noshards.json", report(shards=False))
    cfg_a = {"ks": "1", "n_max": 1, "wave": 1, "a\nb" + ESC + "[1m": "x"}
    r_key_a = write("key_a.json", report(cfg=cfg_a))
    r_key_b = write("key_b.json", report(cfg=dict(cfg_a, **{"a\nb" + ESC + "[1m": "y"})))
    q = lambda **kw: [dict({"id": 0, "chains": [{"tokens": 1}]}, **kw)]
    r_id = write("id.json", report(qs=q(id=1e300)))
    r_ptok = write("ptok.json", report(qs=q(prompt_tokens=1e300)))
    r_nmax = write("nmax.json", report(cfg={"ks": "1", "n_max": 1e300, "wave": 1}))
    r_tot = write("tot.json", report(totals={"decode_tokens": -1e300}))
    r_inf = write("inf.json", report(qs=q(seconds=1)).replace('"seconds": 1', '"seconds": 1e999'))
    # a malformed question after its strings and a chain were read (the leak of issue 15)
    r_leak = write("leak.json", report(qs=[{"id": 0, "question": "q" * 50, "reference": "r",
                                            "chains": [{"answer": "a", "text": "t", "tokens": 2},
                                                       {"answer": "b", "text": "u"}]}]))
    out = path("out.json")
    full = "/dev/full"
    return [
        # case, args, exit, fragment, stdout
        ("tokenizer larger than the embedding", ["-m", cut, "-p", "x"], 1,
         "the tokenizer has 272 tokens but token_embd.weight has only 252 rows", None),
        ("inspect: the same file", ["inspect", cut], 1, "has only 252 rows", None),
        ("rms eps NaN", ["-m", eps_nan, "-p", "x"], 1,
         "'llama.attention.layer_norm_rms_epsilon' = nan is not a number in (0, 1]", None),
        ("rms eps 0", ["-m", eps_zero, "-p", "x"], 1, "layer_norm_rms_epsilon' = 0 is not", None),
        ("rms eps negative", ["-m", eps_neg, "-p", "x"], 1, "rms_epsilon' = -1e-05 is not", None),
        ("rope base 0", ["-m", rope_zero, "-p", "x"], 1, "'llama.rope.freq_base' = 0 is not", None),
        ("rope base negative", ["-m", rope_neg, "-p", "x"], 1, "freq_base' = -10000 is not", None),
        ("rope base NaN", ["-m", rope_nan, "-p", "x"], 1, "freq_base' = nan is not", None),
        ("key name with a newline and ANSI escapes", ["inspect", key], 1,
         "metadata 'evil\\n\\x1B[31mkey' has unknown value type 99", None),
        ("tensor name with escapes", ["inspect", tname], 1,
         "tensor 't\\x1B[2J\\nx' has 7 dimensions", None),
        ("architecture with an OSC escape", ["-m", arch, "-p", "x"], 1,
         "architecture 'll\\x1B]0;pwned\\x07' is not supported", None),
        ("tokenizer model name with escapes", ["-m", tokm, "-p", "x"], 1,
         "unsupported tokenizer.ggml.model 'gp\\x1B[0mt2\\n'", None),
        ("--chat-template name with escapes", ["-m", good, "-p", "x", "--chat-template",
                                              ESC + "[31mevil"], 2,
         "--chat-template: unknown chat template '\\x1B[31mevil'", None),
        ("task line with an escape byte", ["eval", "-m", good, "--data", tasks_ctl], 1,
         "ctl.jsonl:2: column 1: unexpected character '\\x1B'", None),
        ("task line of 2 MB, context 128", ["eval", "-m", good, "--data", big, "--n", "1",
                                            "--max-tokens", "4"], 1,
         "bytes plus up to 15 generated tokens exceeds the model's context of 128 tokens", None),
        ("report: config key with escapes differs", ["eval", "--merge", r_key_a, r_key_b,
                                                     "--out", out], 1,
         'report 2 differs in config "a\\nb\\x1B[1m"', None),
        ("report: \"id\": 1e300", ["eval", "--merge", r_id, "--out", out], 1,
         'question 0: "id" = 1e+300 is not a whole number in [0, 2147483647]', None),
        ("report: \"prompt_tokens\": 1e300", ["eval", "--merge", r_ptok, "--out", out], 1,
         '"prompt_tokens" = 1e+300 is not a whole number', None),
        ("report: \"n_max\": 1e300", ["eval", "--merge", r_nmax, "--out", out], 1,
         'config "n_max" = 1e+300 is not a whole number in [1, 4096]', None),
        ("report: totals -1e300", ["eval", "--merge", r_tot, "--out", out], 1,
         'totals: "decode_tokens" = -1e+300 is not', None),
        ("report: 1e999 (no double holds it)", ["eval", "--merge", r_inf, "--out", out], 1,
         "number out of range", None),
        ("report: malformed question (no leak)", ["eval", "--merge", r_leak, "--out", out], 1,
         'question 0: "tokens" = -1 is not a whole number', None),
        ("report: a directory", ["eval", "--merge", TMP, "--out", out], 1, "Is a directory", None),
        ("report without \"shards\"", ["eval", "--merge", r_noshards, "--out", out], 0, None,
         None),
        ("results to a full device: run", m, 1,
         "cannot write the output to stdout: No space left on device", full),
        ("results to a full device: eval --merge", ["eval", "--merge", r_ok, "--out", out], 1,
         "cannot write the output to stdout: No space left on device", full),
        ("report to a full device", ["eval", "--merge", r_ok, "--out", full], 1,
         "cannot write /dev/full: No space left on device", None),
        ("tasks to a full device: gen", ["gen", "arith", "--count", "3"], 1,
         "cannot write the output to stdout: No space left on device", full),
        ("inspect to a full device", ["inspect", good], 1, "No space left on device", full),
        ("tokenize to a full device", ["tokenize", "-m", good, "hello"], 1,
         "No space left on device", full),
    ] + new_paths


def tensor_info(name, ne, ggml_type):
    return gstr(name) + struct.pack(f"<I{len(ne)}QIQ", len(ne), *ne, ggml_type, 0)


def new_path_cases():
    """The loader paths of the K-quants, Q5_0/Q5_1, qwen2/qwen3, Llama 3 rope scaling and the
    thinking extension (issue 18): (case, args, exit, fragment, stdout) rows."""
    rng = np.random.default_rng(18)
    ones = lambda n: np.ones(n, dtype=np.float32)
    run = lambda f, *extra: ["-m", f, "--raw", "-p", "hi", "-n", "2", "--max-tokens", "4"] + \
        list(extra)
    rows = []

    def bad(case, fragment, name, **kw):
        rows.append((case, run(tiny(name, **kw)), 1, fragment, None))

    def raw(case, fragment, name, ne, ggml_type, data_bytes):
        """A file of one tensor info (no metadata), then data_bytes zero bytes of data."""
        head = gguf_bytes(tensors=tensor_info(b"blk.0.attn_q.weight", ne, ggml_type),
                          n_tensors=1)[:-64]
        f = write(name, head + b"\0" * (-len(head) % 32 + data_bytes))
        rows.append((case, ["inspect", f], 1, fragment, None))

    raw("Q4_K rows of 64 (not 256)", "tensor 'blk.0.attn_q.weight': rows of 64 are not a multiple "
        "of 256 (Q4_K blocks)", "q4k_row64.gguf", [64, 4], 12, 1024)
    raw("Q5_0 rows of 48", "rows of 48 are not a multiple of 32 (Q5_0 blocks)", "q50_row48.gguf",
        [48, 4], 6, 1024)
    raw("Q5_1 rows of 48", "rows of 48 are not a multiple of 32 (Q5_1 blocks)", "q51_row48.gguf",
        [48, 4], 7, 1024)
    raw("Q6_K tensor cut short", "tensor 'blk.0.attn_q.weight' (offset 0, 840 bytes) lies past the "
        "end of the file", "q6k_cut.gguf", [256, 4], 14, 800)
    bad("qwen2 without a v bias", "missing tensor 'blk.1.attn_v.bias'", "qwen2_nov.gguf",
        arch="qwen2", omit=("blk.1.attn_v.bias",))
    bad("qwen2 k bias of 48", "tensor 'blk.0.attn_k.bias' has shape [48, 1], expected [32, 1]",
        "qwen2_k48.gguf", arch="qwen2", replace={"blk.0.attn_k.bias": (ones(48), T.F32)})
    bad("qwen2 q bias [64, 2]", "tensor 'blk.0.attn_q.bias' has shape [64, 2], expected [64, 1]",
        "qwen2_q2d.gguf", arch="qwen2", replace={"blk.0.attn_q.bias": (np.ones((2, 64),
                                                                             np.float32), T.F32)})
    bad("llama with a q bias only", "layer 0 has only some of attn_q.bias, attn_k.bias and "
        "attn_v.bias (q, no k, no v)", "qbias_only.gguf",
        extra_tensors=[("blk.0.attn_q.bias", ones(64), T.F32)])
    bad("qwen3 q norm of 32 (head_dim 16)", "tensor 'blk.0.attn_q_norm.weight' has shape [32, 1], "
        "expected [16, 1]", "qwen3_qn32.gguf", arch="qwen3",
        replace={"blk.0.attn_q_norm.weight": (ones(32), T.F32)})
    bad("qwen3 without a k norm", "missing tensor 'blk.0.attn_k_norm.weight'", "qwen3_nok.gguf",
        arch="qwen3", omit=("blk.0.attn_k_norm.weight",))
    bad("llama with a q norm only", "layer 0 has only one of attn_q_norm and attn_k_norm",
        "qnorm_only.gguf", extra_tensors=[("blk.0.attn_q_norm.weight", ones(16), T.F32)])
    bad("rope_freqs of 4 (head_dim / 2 is 8)", "tensor 'rope_freqs.weight' has shape [4, 1], "
        "expected [8, 1]", "ropef4.gguf", extra_tensors=[("rope_freqs.weight", ones(4), T.F32)])
    for what, v, shown in (("NaN", np.nan, "nan"), ("0", 0.0, "0"), ("-2", -2.0, "-2"),
                           ("inf", np.inf, "inf")):
        f = ones(8)
        f[3] = v
        bad(f"rope_freqs with {what}", f"rope_freqs.weight[3] = {shown} is not a positive number",
            f"ropef_{shown}.gguf", extra_tensors=[("rope_freqs.weight", f, T.F32)])
    for what, v, fragment in (
            ("NaN", np.nan, "= nan is not a number in (0, 1e+06]"),
            ("0", 0.0, "= 0 is not a number in (0, 1e+06]"),
            ("1e30", 1e30, "= 1e+30 is not a number in (0, 1e+06]"),
            ("0.5 (was ignored)", 0.5, "= 0.5 is below 1 (linear scaling stretches positions)")):
        bad(f"linear rope factor {what}", "'llama.rope.scaling.factor' " + fragment,
            f"linear_{v}.gguf", meta={"llama.rope.scaling.type": ("string", "linear"),
                                      "llama.rope.scaling.factor": ("float32", v)})
    bad("rope scaling yarn", "rope scaling 'yarn' is not supported (supported: none, linear)",
        "yarn.gguf", rope_scaling="yarn")
    bad("rope scaling type a u32 (was ignored)", "'llama.rope.scaling.type' is of type u32, "
        "expected a string", "scaling_u32.gguf", meta={"llama.rope.scaling.type": ("uint32", 2)})
    bad("rope scaling factor a string (was ignored)", "'llama.rope.scaling.factor' is of type "
        "string, expected a number", "factor_str.gguf",
        meta={"llama.rope.scaling.type": ("string", "linear"),
              "llama.rope.scaling.factor": ("string", "4")})
    bad("key_length a float (was ignored)", "'llama.attention.key_length' is of type f32, expected "
        "an integer", "keylen_f32.gguf", meta={"llama.attention.key_length": ("float32", 24.0)})
    bad("key_length 16, value_length 32", "'llama.attention.key_length' = 16 differs from "
        "'llama.attention.value_length' = 32", "kv_len.gguf",
        meta={"llama.attention.key_length": ("uint32", 16),
              "llama.attention.value_length": ("uint32", 32)})
    bad("key_length 4096", "head dimension 4096 ('llama.attention.key_length') is over 1024",
        "keylen_big.gguf", meta={"llama.attention.key_length": ("uint32", 4096)})
    bad("key_length 24, tensors and rope of 16", "'qwen3.rope.dimension_count' = 16 differs from "
        "the head dimension 24", "keylen24.gguf", arch="qwen3",
        meta={"qwen3.attention.key_length": ("uint32", 24)})
    bad("qwen3 head_dim 12: q of 48 (F32 read past its rows)", "tensor 'blk.0.attn_output.weight': "
        "rows of 48 are not a multiple of 32 (the matmuls' block)", "qwen3_hd12.gguf",
        arch="qwen3", head_dim=12)
    bad("architecture gemma", "architecture 'gemma' is not supported (supported: llama, qwen2, "
        "qwen3)", "gemma.gguf", arch="gemma")
    # legitimate files: they run
    for name, kw in (("qwen2", dict(arch="qwen2")), ("qwen3, head_dim 24", dict(arch="qwen3",
                                                                               head_dim=24)),
                     ("rope_freqs and linear scaling", dict(rope_freqs=True, rope_linear=4.0)),
                     ("Q5_0 and Q5_1 matrices", dict(replace={
                         "blk.0.attn_q.weight": (rng.standard_normal((64, 64)), T.Q5_0),
                         "blk.1.ffn_down.weight": (rng.standard_normal((64, 160)), T.Q5_1)}))):
        rows.append((name + " (runs)", run(tiny(name.split(",")[0].replace(" ", "_") + ".gguf",
                                                **kw)), 0, None, None))
    # NaN and infinite fp16 scales of K-quant super-blocks: the weights are NaN or inf, and so are
    # the logits; it runs to the end (the sampler's degenerate case)
    for q in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K):
        for what, d in (("NaN", np.nan), ("inf", np.inf)) if q == T.Q4_K else (("NaN", np.nan),):
            w = make_tiny_model.kquant_bytes(rng, 256, 256, q, d=d)
            f = tiny(f"{q.name}_{what}.gguf", shape="k",
                     replace={"blk.0.attn_q.weight": (w, q),
                              "blk.1.ffn_up.weight": (make_tiny_model.kquant_bytes(
                                  rng, 512, 256, q), q)})
            rows.append((f"{q.name} with {what} scales (runs)", run(f, "--json"), 0, None, None))
    think = path("think.gguf")
    make_tiny_model.build(think, False, "f32", 1, think=True)
    rows.append(("--think-extend-max 65536 times 120000 tokens (int overflow)",
                 run(think, "--think-extend", "x " * 60000, "--think-extend-max", "65536"), 1,
                 "a chain of up to 7864320018 generated tokens (--max-tokens 4, 65536 extensions "
                 "of 120000 tokens, 14 forced) exceeds the model's context of 128 tokens", None))
    return rows


def run(binary, args, stdout_path):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1", OMP_NUM_THREADS="2")
    out = open(stdout_path, "w") if stdout_path else subprocess.PIPE
    try:
        p = subprocess.run([binary] + args, cwd=ROOT, stdout=out, stderr=subprocess.PIPE,
                           timeout=300, env=env)
    finally:
        if stdout_path:
            out.close()
    return p.returncode, p.stderr.decode("utf-8", "replace")


def test_matrix(binary, cases, rows):
    for name, args, code, needle, stdout_path in cases:
        rc, err = run(binary, args, stdout_path)
        # run's progress and answer lines go to stderr too: not errors
        lines = [l for l in err.splitlines()
                 if l.strip() and not l.startswith(("prefill:", "answer:"))]
        sanitizer = "Sanitizer" in err or "runtime error" in err
        ok = check(rc == code, f"{binary} {name}: exit {rc}, want {code}; stderr: {err[-600:]}")
        if needle is None:
            ok &= check(not sanitizer, f"{binary} {name}: {err[-600:]}")
        else:
            ok &= check(len(lines) == 1 and not sanitizer,
                        f"{binary} {name}: want one stderr line, got {len(lines)}: {err[-600:]}")
            ok &= check(needle in err, f"{binary} {name}: stderr lacks {needle!r}: {err[-300:]}")
            ok &= check(ESC not in err and "\x07" not in err,
                        f"{binary} {name}: raw control bytes in {err!r}")
        if binary == BINS[0]:
            rows.append((name, args, stdout_path, rc, lines[0] if lines else ""))


def test_padded(binary):
    """A padded vocabulary runs: its extra rows (whose logits beat every token's) are never
    drawn, greedy or sampled, so every chain's text is made of real tokens."""
    for tied in (False, True):
        m = path(f"padded{int(tied)}.gguf")
        make_tiny_model.build(m, tied, "f32", 1, pad_rows=128)
        for extra in (["--temp", "0"], ["--temp", "1.5", "-n", "4", "--top-p", "1"]):
            env_args = ["-m", m, "--raw", "-p", "the", "--max-tokens", "12", "--answer-cue", "",
                        "--json"] + extra
            p = subprocess.run([binary] + env_args, cwd=ROOT, capture_output=True, timeout=300,
                               env=dict(os.environ, OMP_NUM_THREADS="2"))
            err = p.stderr.decode("utf-8", "replace")
            try:
                chains = json.loads(p.stdout)["chains"]
            except (ValueError, KeyError):
                chains = []
            what = f"{binary} padded (tied {tied}) {' '.join(extra)}"
            check(p.returncode == 0 and chains and "Sanitizer" not in err and
                  "runtime error" not in err, f"{what}: exit {p.returncode}: {err[-500:]}")
            # 12 tokens that all have text (byte tokens or merges) cannot decode to nothing
            check(all(c["tokens"] > 0 and len(c["text"]) > 0 for c in chains),
                  f"{what}: a chain decoded to no text, padding ids were drawn: {chains}")


def strict_json(text):
    """json.loads that refuses NaN and Infinity: Python accepts them, JSON does not."""
    def refuse(const):
        raise ValueError(f"{const} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_nonfinite_json(binary):
    """A model whose weights are NaN (a Q4_K super-block scale of NaN, made by new_path_cases)
    gives NaN logits and chains whose log-probabilities are not finite: `--json` and an eval
    report must still be valid JSON (null where a number is not finite), and the report must
    read back (--merge) with the same chains."""
    m = path("Q4_K_NaN.gguf")
    env = dict(os.environ, OMP_NUM_THREADS="2")
    p = subprocess.run([binary, "-m", m, "-p", "x", "-n", "3", "--max-tokens", "4", "--json"],
                       cwd=ROOT, capture_output=True, timeout=300, env=env)
    what = f"{binary} NaN model"
    try:
        chains = strict_json(p.stdout)["chains"]
    except (ValueError, KeyError) as e:
        chains = None
        check(False, f"{what} --json: {e}: {p.stdout[-300:]!r}")
    if chains is not None:
        check(p.returncode == 0 and len(chains) == 3 and
              any(c["sum_logprob"] is None for c in chains),
              f"{what} --json: exit {p.returncode}, chains {chains}")
    tasks = write("nan_tasks.jsonl", '{"question": "1+1", "answer": "2"}\n')
    rep, merged = path("nan_report.json"), path("nan_merged.json")
    p = subprocess.run([binary, "eval", "-m", m, "--data", tasks, "--n", "1,2", "--max-tokens",
                        "8", "--out", rep, "-q"], cwd=ROOT, capture_output=True, timeout=300,
                       env=env)
    check(p.returncode == 0, f"{what} eval: exit {p.returncode}: {p.stderr[-300:]!r}")
    p = subprocess.run([binary, "eval", "--merge", rep, "--out", merged, "-q"], cwd=ROOT,
                       capture_output=True, timeout=300, env=env)
    check(p.returncode == 0, f"{what} eval --merge: exit {p.returncode}: {p.stderr[-300:]!r}")
    try:
        a, b = (strict_json(open(f).read())["questions"][0] for f in (rep, merged))
        check(a["chains"] == b["chains"] and any(c["sum_logprob"] is None for c in a["chains"]),
              f"{what}: the report's chains do not read back: {a['chains']} vs {b['chains']}")
    except (ValueError, KeyError, OSError) as e:
        check(False, f"{what} report: {e}")


def write_table(rows):
    lines = ["| case | command | exit | message (stderr) |", "|---|---|---|---|"]
    for name, args, stdout_path, rc, msg in rows:
        shown = " ".join(os.path.relpath(a, ROOT) if a.startswith(ROOT) else a for a in args)
        shown = shown.encode("unicode_escape").decode()[:90]
        if stdout_path:
            shown += f" > {stdout_path}"
        msg = msg.replace("|", "\\|")
        lines.append(f"| {name} | `chorus {shown}` | {rc} | `{msg}` |")
    with open(os.path.join(ROOT, "build", "hostile_matrix.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    cases = make_files()
    rows = []
    for b in BINS:
        if not os.path.exists(os.path.join(ROOT, b)):
            skip(f"{b} not built")
            continue
        test_matrix(b, cases, rows)
        test_padded(b)
        test_nonfinite_json(b)
    if rows:
        write_table(rows)
    return done("test_hostile")


if __name__ == "__main__":
    sys.exit(main())
