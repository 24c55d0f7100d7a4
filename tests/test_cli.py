"""test_cli.py - bad input gets a clear one-line error, never a crash, in the normal and the
ASan/UBSan builds: missing, non-GGUF, truncated and hostile model files; unknown flags and
out-of-range values (exit code 2); a prompt longer than the context; a bad regex. Also checks
that the happy paths of the CLI (inspect, a greedy run, --json) work and print what they claim.

Default run vs CHORUS_TEST_FULL=1 (make test-all): every check runs in the normal build, and
in the ASan/UBSan build every error case, inspect, the greedy and --json runs, '--' in every
subcommand and the vote output; CHORUS_TEST_FULL adds test_dash_prompts in the ASan build (a
dozen model runs with prompts, --stop and --answer-cue values that start with '-', ~13 s of CPU
there; the same option parsing is run under ASan by the error cases). The groups of checks (one
function and build each) are independent, so they run two at a time (pycheck.run_jobs), the
longest first.
"""
import json
import os
import re
import struct
import subprocess
import sys

from pycheck import DEFAULT_MODEL, FULL, ROOT, check, done, run_jobs, skip

TMP = os.path.join(ROOT, "build", "tmp")
BINS = [b for b in (os.environ.get("CHORUS_BIN", "./chorus"),
                    os.environ.get("CHORUS_ASAN_BIN", "./chorus-asan")) if b]


def run(binary, args, timeout=300, extra_env=None):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1", OMP_NUM_THREADS="2",
               **(extra_env or {}))
    p = subprocess.run([binary] + args, cwd=ROOT, capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def expect_error(binary, args, code, needle, name, extra_env=None):
    rc, out, err = run(binary, args, extra_env=extra_env)
    lines = [l for l in err.splitlines() if l.strip()]
    sanitizer = "Sanitizer" in err or "runtime error" in err
    check(rc == code, f"{binary} {name}: exit {rc}, want {code}; stderr: {err[-400:]}")
    check(len(lines) == 1 and not sanitizer,
          f"{binary} {name}: want one stderr line, got {len(lines)}: {err[-600:]}")
    check(needle in err, f"{binary} {name}: stderr lacks {needle!r}: {err[-300:]}")


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def bad_model_files():
    """(name, path, expected fragment) for broken model files made from the real one."""
    with open(DEFAULT_MODEL, "rb") as f:
        head = f.read(4 << 20)  # header, metadata, tensor infos and a little data
    cases = [("not-gguf", write("not.gguf", b"hello, this is not a model at all" * 10), "bad magic"),
             ("truncated", write("trunc.gguf", head), "past the end of the file"),
             ("tiny", write("tiny.gguf", b"GGUF"), "too small"),
             ("absurd-count", write("count.gguf", head[:8] + struct.pack("<Q", 1 << 62) + head[16:]),
              "absurd counts")]
    with open(DEFAULT_MODEL, "rb") as f:
        whole = f.read()
    arch = whole.replace(b"llama", b"gemma", 1)  # general.architecture's value comes first
    cases.append(("architecture", write("arch.gguf", arch), "not supported"))
    # a tensor type we do not support: token_embd.weight's type field (Q8_0 = 8) -> IQ4_NL (20)
    at = whole.index(b"token_embd.weight") + len(b"token_embd.weight") + 4 + 16
    assert struct.unpack("<I", whole[at:at + 4])[0] == 8
    qtype = whole[:at] + struct.pack("<I", 20) + whole[at + 4:]
    cases.append(("tensor-type", write("qtype.gguf", qtype), "unsupported type IQ4_NL"))
    return cases


def test_errors(binary):
    m = ["-m", DEFAULT_MODEL]
    expect_error(binary, ["-m", "build/tmp/nope.gguf", "-p", "hi"], 1, "cannot open", "missing file")
    for name, path, needle in bad_model_files():
        expect_error(binary, ["-m", path, "-p", "hi"], 1, needle, name)
        expect_error(binary, ["inspect", path], 1, needle, "inspect " + name)
    usage = [(["--frobnicate"], "unknown option"), (["-p", "x", "-n", "0"], "out of range"),
             (["-p", "x", "-n", "100000"], "out of range"), (["-p", "x", "--temp", "-1"], "out of range"),
             (["-p", "x", "--top-p", "2"], "out of range"), (["-p", "x", "--budget", "-5"], "out of range"),
             (["-p", "x", "-n"], "needs a value"), (["-p", "x", "--seed", "abc"], "not a whole number"),
             (["-p", "x", "--vote", "loudest"], "not majority"), (["-p", "x", "--answer-regex", "(["], "regex"),
             (["-p", "x", "--parallel", "0"], "out of range"), (["-p", "x", "--device", "tpu"], "not cpu or cuda"),
             (["-p", "x", "--max-tokens", "10", "--answer-tokens", "12"], "must be below"),
             (["-p", "x", "--numerics", "int4"], "not int8 or f32"),
             ([], "no prompt")]
    for args, needle in usage:
        expect_error(binary, m + args, 2, needle, " ".join(args) or "no prompt")
    expect_error(binary, ["-p", "x"], 2, "no model", "no model")
    expect_error(binary, m + ["-p", "x", "--chat-template", "foo"], 2,
                 "--chat-template: unknown chat template 'foo' (known: chatml", "bad template")
    expect_error(binary, m + ["-p", "x"], 2, "CHORUS_ISA=sse9: unknown level", "CHORUS_ISA",
                 {"CHORUS_ISA": "sse9"})
    expect_error(binary, m + ["-p", "word " * 9000, "--max-tokens", "8"], 1,
                 "exceeds the model's context", "long prompt")
    expect_error(binary, m + ["-p", "x", "--max-tokens", "9000"], 1,
                 "exceeds the model's context", "long generation")
    expect_error(binary, m + ["-p", "x", "-n", "4096", "--max-tokens", "1000000"], 1,
                 "would need", "KV memory")
    expect_error(binary, ["bench", "-m", DEFAULT_MODEL, "--n", "0"], 2, "out of range", "bench --n 0")
    expect_error(binary, ["inspect"], 2, "no model", "inspect without a model")


def test_happy_paths(binary):
    rc, out, err = run(binary, ["inspect", DEFAULT_MODEL])
    check(rc == 0 and "dim 576, layers 30, heads 9, kv heads 3" in out and "token_embd.weight" in out
          and "Q4_1" in out, f"inspect: rc {rc} {out[:300]} {err[-300:]}")
    rc, out, err = run(binary, ["-m", DEFAULT_MODEL, "-p", "What is 2 + 3?", "--temp", "0",
                                "--max-tokens", "12", "-n", "2", "--json"])
    try:
        obj = json.loads(out)
    except ValueError:
        obj = None
    check(rc == 0 and obj is not None, f"--json: rc {rc}, stdout {out[:300]!r} stderr {err[-300:]}")
    if obj:
        check(len(obj["chains"]) == 2 and obj["chains"][0]["text"] == obj["chains"][1]["text"],
              "two greedy chains differ")
        check(sum(c["tokens"] for c in obj["chains"]) == obj["decode_tokens"], "token totals")
        check(all(c["tokens"] <= 12 for c in obj["chains"]), "a chain exceeded --max-tokens")
    rc, out, err = run(binary, ["--help"])
    check(rc == 0 and "--max-tokens" in out and "--adaptive" in out and "--numerics" in out,
          "--help")
    for cmd in (["--help"], ["eval", "--help"]):  # help texts go out through %s: no "%%"
        rc, out, err = run(binary, cmd)
        check(rc == 0 and "%%" not in out, f"{' '.join(cmd)}: a doubled % in the help text")
    # the reference numerics run; every instruction-set level gives the same greedy text
    greedy = ["-m", DEFAULT_MODEL, "-p", "What is 2 + 3?", "--temp", "0", "--max-tokens", "8",
              "--json"]
    rc, out, err = run(binary, greedy + ["--numerics", "f32"])
    check(rc == 0 and '"chains"' in out, f"--numerics f32: rc {rc}, {err[-300:]}")
    if "asan" in binary:
        return  # the levels are compared in the normal build (the portable one is slow here)
    texts = {}
    for isa in ("portable", "avx2", "avxvnni", "avx512vnni"):
        rc, out, err = run(binary, greedy, extra_env={"CHORUS_ISA": isa})
        if rc == 2 and "does not support" in err:
            continue  # this CPU lacks the level
        check(rc == 0, f"CHORUS_ISA={isa}: rc {rc}, {err[-300:]}")
        if rc == 0:
            texts[isa] = json.loads(out)["chains"][0]["text"]
    check(len(texts) >= 1 and "portable" in texts, f"levels that ran: {sorted(texts)}")
    check(len(set(texts.values())) == 1, f"the levels' greedy texts differ: {texts}")


def json_run(binary, args, name):
    """A run with --json: the parsed object, or None after a failed check."""
    rc, out, err = run(binary, ["-m", DEFAULT_MODEL, "--json", "--temp", "0"] + args)
    try:
        obj = json.loads(out) if rc == 0 else None
    except ValueError:
        obj = None
    check(obj is not None, f"{binary} {name}: rc {rc}, stdout {out[:200]!r}, stderr {err[-300:]}")
    return obj


def test_end_of_options(binary):
    """'--' ends the options in every subcommand (tokenize, inspect, gen, bench, eval); negative
    numbers and a flag at the end stay errors."""
    m = ["-m", DEFAULT_MODEL]
    # tokenize: a text that starts with '-' after "--"; its pieces put together give the text
    for text in ("-42 is negative", "--", "-"):
        rc, out, err = run(binary, ["tokenize"] + m + ["--", text])
        pieces = [re.fullmatch(r"\s*\d+  '(.*)'", l).group(1) for l in out.splitlines()]
        check(rc == 0 and "".join(pieces) == text, f"{binary} tokenize -- {text!r}: {out!r} {err[-200:]}")
    rc, out, err = run(binary, ["tokenize", "--", *m, "x"])  # after "--", -m is text
    check(rc == 2 and "more than one text" in err, f"{binary} tokenize -- -m: rc {rc} {err[-200:]}")
    # inspect: the model after "--", or as -m's value written after "--"
    for args in (["--", DEFAULT_MODEL], ["-m", "--", DEFAULT_MODEL]):
        rc, out, err = run(binary, ["inspect"] + args)
        check(rc == 0 and "dim 576" in out, f"{binary} inspect {args[:2]}: rc {rc} {err[-200:]}")
    # gen: options before "--", nothing after it
    rc, out, err = run(binary, ["gen", "arith", "--count", "2", "--seed", "3", "--"])
    rc2, ref, _ = run(binary, ["gen", "arith", "--count", "2", "--seed", "3"])
    check(rc == rc2 == 0 and out == ref and out.count("\n") == 2, f"{binary} gen --: {err[-200:]}")
    expect_error(binary, ["gen", "arith", "--count", "2", "--", "--seed"], 2, "unexpected argument",
                 "gen -- --seed")
    # bench and eval accept a trailing "--" (eval's own check after parsing proves it got there)
    rc, out, err = run(binary, ["bench"] + m + ["--n", "1", "--prompt-len", "4", "--gen", "2", "--"])
    check(rc == 0 and len(out.splitlines()) == 2, f"{binary} bench --: rc {rc} {err[-300:]}")
    expect_error(binary, ["bench"] + m + ["--", "--n", "1"], 2, "unexpected argument '--n'",
                 "bench -- --n")
    expect_error(binary, ["eval"] + m + ["--data", "x.jsonl", "--n", "4,2", "--"], 2,
                 "increasing", "eval --")
    expect_error(binary, ["eval"] + m + ["--data", "x.jsonl", "--", "--n"], 2,
                 "unexpected argument '--n'", "eval -- --n")
    # errors stay errors: negative numbers are range errors, a flag at the end lacks its value
    usage = [(["-p", "x", "-n", "-3"], "out of range"), (["-p", "x", "-n", "--", "-3"], "out of range"),
             (["-p", "x", "--max-tokens", "-5"], "out of range"), (["-p", "x", "--top-k", "-1"], "out of range"),
             (["-p", "x", "--seed", "-1"], "must not be negative"), (["-p", "x", "-t", "-2"], "out of range"),
             (["-p", "x", "--wave", "-4"], "out of range"), (["-p", "--"], "needs a value"),
             (["-p", "x", "--stop"], "needs a value"), (["-p", "x", "y"], "second prompt"),
             (["-p", "x", "--", "y"], "second prompt"), (["--", "x", "--temp", "1"], "second prompt"),
             (["-p", "x", "--", "-p", "y"], "second prompt"), (["--"], "no prompt")]
    for args, needle in usage:
        expect_error(binary, m + args, 2, needle, " ".join(args))
    expect_error(binary, ["bench"] + m + ["--n", "-1"], 2, "out of range", "bench --n -1")
    expect_error(binary, ["eval"] + m + ["--data", "x.jsonl", "--limit", "-1"], 2, "out of range",
                 "eval --limit -1")
    expect_error(binary, ["tokenize", "-m"], 2, "needs a value", "tokenize -m")
    expect_error(binary, ["inspect", "-m", "--"], 2, "needs a value", "inspect -m --")


def test_dash_prompts(binary):
    """'--' and values that start with '-' in a run: the prompt, --stop, --answer-cue (a dozen
    model runs: the ASan build runs them with CHORUS_TEST_FULL only)."""
    # run: a prompt that starts with '-' as -p's value, after "-p --", and as the operand
    q = "-5 + 3?"
    base = ["--max-tokens", "3", "--answer-cue", "", "-n", "1"]
    for args in (["-p", q], ["-p", "--", q], ["--", q], ["--prompt", q]):
        obj = json_run(binary, base + args, "prompt " + " ".join(args))
        check(obj is not None and obj["prompt"] == q, f"{binary} {args}: prompt {obj and obj['prompt']!r}")
    # after "--" a flag is prompt text: "-n" here is the prompt, and the 1 from base still holds
    obj = json_run(binary, base + ["--", "-n"], "-- -n")
    check(obj is not None and obj["prompt"] == "-n" and obj["chains_asked"] == 1, f"{binary} -- -n")
    # values that start with '-' for text flags, checked against a run without them
    p = ["-p", "Write the numbers -3, -2 and -1.", "--max-tokens", "24", "--answer-cue", ""]
    free = json_run(binary, p, "no stop")
    text = free["chains"][0]["text"] if free else ""
    check("-2" in text, f"{binary}: the stop strings below never occur in {text!r}")
    for stop in ("-", "-2"):
        for flag in (["--stop", stop], ["--stop", "--", stop]):
            obj = json_run(binary, p + flag, " ".join(flag))
            want = text[:text.index(stop)] if stop in text else text
            check(obj is not None and obj["chains"][0]["text"] == want,
                  f"{binary} {flag}: {obj and obj['chains'][0]['text']!r}, want {want!r}")
    obj = json_run(binary, ["-p", "What is 2 + 3?", "--max-tokens", "6", "--answer-tokens", "3",
                            "--answer-cue", "-CUE-", "--system", "-"], "--answer-cue -CUE-")
    check(obj is not None and obj["chains"][0]["forced"] and "-CUE-" in obj["chains"][0]["text"],
          f"{binary} --answer-cue -CUE-: {obj and obj['chains'][0]!r}")


def test_vote_output(binary):
    """The human output of N chains: chain lines in order, the tally, the winner with its share,
    the tokens spent (adding up, and equal to --json's) and the adaptive verdict."""
    args = ["-m", DEFAULT_MODEL, "-p", "What is 2 + 3?", "--temp", "0", "--max-tokens", "12",
            "-n", "8", "--adaptive"]
    rc, out, err = run(binary, args)
    obj = json_run(binary, args[2:], "vote --json")
    check(rc == 0 and obj is not None, f"{binary} vote output: rc {rc} {err[-300:]}")
    if rc or obj is None:
        return
    lines = out.splitlines()
    chains = [l for l in lines if l.startswith("chain ")]
    # greedy chains agree, so the first wave of 4 settles the vote
    check([int(l.split()[1].rstrip(":")) for l in chains] == [0, 1, 2, 3], f"chain lines: {chains}")
    win = obj["answer"]
    check(win is not None and f"tally (majority vote of 4 chains, 4 with an answer):" in lines
          and any(l.split()[:4] == [win, "4", "votes", "100%"] for l in lines),
          f"{binary} tally lines: {out[-600:]}")
    check(f"winner: {win} with 4 of 4 votes (share 1.00)" in lines, f"{binary} winner line: {out[-400:]}")
    tok = [l for l in lines if l.startswith("tokens: ")]
    want = (f"tokens: {obj['prompt_tokens'] + obj['decode_tokens'] + obj['forced_tokens']} = "
            f"{obj['prompt_tokens']} prompt (prefilled once for all 4 chains) + "
            f"{obj['decode_tokens']} sampled + {obj['forced_tokens']} answer cue")
    check(tok == [want], f"{binary} tokens line {tok} want {want!r}")
    check(any(l.startswith("time: ") and l.endswith(" s") for l in lines), f"{binary} time line")
    check(any(l.startswith("adaptive: settled after 4 of 8 chains") for l in lines),
          f"{binary} adaptive line: {out[-300:]}")


def main():
    os.makedirs(TMP, exist_ok=True)
    if not os.path.exists(DEFAULT_MODEL):
        skip("default model missing (make weights)")
        return done("test_cli")
    bins = [b for b in BINS if os.path.exists(os.path.join(ROOT, b))]
    for b in BINS:
        if b not in bins:
            skip(f"{b} not built")
    groups = (test_dash_prompts, test_happy_paths, test_errors, test_vote_output,
              test_end_of_options)  # the longest first
    jobs = [(b, fn) for b in sorted(bins, key=lambda b: "asan" not in b) for fn in groups
            if FULL or not ("asan" in b and fn is test_dash_prompts)]
    run_jobs(lambda b=b, fn=fn: fn(b) for b, fn in jobs)
    return done("test_cli")


if __name__ == "__main__":
    sys.exit(main())
