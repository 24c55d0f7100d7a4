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
    ]


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
    if rows:
        write_table(rows)
    return done("test_hostile")


if __name__ == "__main__":
    sys.exit(main())
