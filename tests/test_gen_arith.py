"""test_gen_arith.py - `chorus gen arith`: determinism, levels, flags, and every answer
recomputed independently from its "expr" (a small AST evaluator, not Python's eval).

Runs the binary at $CHORUS_BIN (default ./chorus), and the sanitizer build at $CHORUS_ASAN_BIN
(default ./chorus-asan) when there is one.
"""
import ast
import collections
import json
import os
import re
import subprocess
import sys

from pycheck import ROOT, check, done, skip

OPS_PER_LEVEL = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4}


def works(cmd):
    try:
        r = subprocess.run(cmd + ["gen", "arith", "--count", "1"], capture_output=True, text=True,
                           timeout=60)
        return r.returncode == 0 and r.stdout.startswith("{")
    except OSError:
        return False




def evaluate(node, ops):
    """Value of an int expression with + - * // and parentheses; counts operators and checks
    that every intermediate value is a non-negative integer and every division exact."""
    if isinstance(node, ast.Expression):
        return evaluate(node.body, ops)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp):
        a, b = evaluate(node.left, ops), evaluate(node.right, ops)
        ops.append(type(node.op).__name__)
        if isinstance(node.op, ast.Add):
            v = a + b
        elif isinstance(node.op, ast.Sub):
            v = a - b
        elif isinstance(node.op, ast.Mult):
            v = a * b
        elif isinstance(node.op, ast.FloorDiv):
            if b == 0 or a % b:
                raise ValueError(f"inexact division {a} // {b}")
            v = a // b
        else:
            raise ValueError("operator " + type(node.op).__name__)
        if v < 0:
            raise ValueError(f"negative intermediate {v}")
        return v
    raise ValueError("unexpected " + ast.dump(node))


def run(cmd, *args):
    return subprocess.run(cmd + ["gen", "arith", *args], capture_output=True, timeout=120)


def check_problems(out, lo, hi, count):
    lines = out.decode().splitlines()
    check(len(lines) == count, f"{len(lines)} lines for --count {count}")
    levels = collections.Counter()
    for i, line in enumerate(lines):
        try:
            p = json.loads(line)
        except json.JSONDecodeError as e:
            check(False, f"line {i} is not JSON: {e}")
            continue
        ok = check(set(p) == {"question", "answer", "level", "expr"}, f"line {i} keys {sorted(p)}")
        ok = ok and check(isinstance(p["answer"], str) and p["answer"].isdigit(), f"line {i} answer {p.get('answer')!r}")
        ok = ok and check(type(p["level"]) is int and lo <= p["level"] <= hi, f"line {i} level {p.get('level')}")
        if not ok:
            continue
        levels[p["level"]] += 1
        ops = []
        try:
            value = evaluate(ast.parse(p["expr"], mode="eval"), ops)
        except (ValueError, SyntaxError) as e:
            check(False, f"line {i} expr {p['expr']!r}: {e}")
            continue
        check(value == int(p["answer"]), f"line {i}: {p['expr']} = {value}, answer {p['answer']}")
        check(len(ops) == OPS_PER_LEVEL[p["level"]], f"line {i}: level {p['level']} with {len(ops)} operations")
        q_nums = sorted(int(x) for x in re.findall(r"\d+", p["question"]))
        e_nums = sorted(int(x) for x in re.findall(r"\d+", p["expr"]))
        check(q_nums == e_nums, f"line {i}: numbers {q_nums} in the question, {e_nums} in expr")
        check(p["question"].endswith("?"), f"line {i}: not a question")
    n_levels = hi - lo + 1
    check(all(abs(levels[l] - count / n_levels) <= 1 for l in range(lo, hi + 1)),
          f"levels not balanced: {dict(levels)}")
    return lines


def check_flags(cmd):
    bad = [["--count", "0"], ["--count", "abc"], ["--count", "5x"], ["--count"],
           ["--count", "3", "--levels", "0-2"], ["--count", "3", "--levels", "4-2"],
           ["--count", "3", "--levels", "1-6"], ["--count", "3", "--levels", "x"],
           ["--count", "3", "--seed", "-1"], ["--count", "3", "--bogus", "1"], []]
    for args in bad:
        r = run(cmd, *args)
        err = r.stderr.decode().strip()
        check(r.returncode == 2 and r.stdout == b"" and err.count("\n") == 0 and err,
              f"gen arith {' '.join(args)}: exit {r.returncode}, stderr {err!r}")
    r = subprocess.run(cmd + ["gen", "nosuch", "--count", "3"], capture_output=True, timeout=60)
    check(r.returncode == 2, "unknown generator exits 2")


def main():
    cmd = [os.environ.get("CHORUS_BIN", "./chorus")]
    if not works(cmd):
        check(False, f"{cmd[0]} gen arith does not run (build it with make)")
        return done("test_gen_arith")
    a = run(cmd, "--count", "500", "--levels", "1-5", "--seed", "7")
    check(a.returncode == 0 and a.stderr == b"", f"exit {a.returncode}: {a.stderr[:200]!r}")
    check_problems(a.stdout, 1, 5, 500)
    b = run(cmd, "--count", "500", "--levels", "1-5", "--seed", "7")
    check(a.stdout == b.stdout, "same seed, different bytes")
    c = run(cmd, "--count", "500", "--levels", "1-5", "--seed", "8")
    check(a.stdout != c.stdout, "different seeds, same bytes")
    head = run(cmd, "--count", "20", "--seed", "7")
    check(a.stdout.startswith(head.stdout), "question i depends on --count")
    only3 = run(cmd, "--count", "60", "--levels", "3", "--seed", "1")
    check_problems(only3.stdout, 3, 3, 60)
    mid = run(cmd, "--count", "90", "--levels", "2-4", "--seed", "123456789")
    check_problems(mid.stdout, 2, 4, 90)
    check_flags(cmd)
    asan = [os.environ.get("CHORUS_ASAN_BIN", "./chorus-asan")]
    if works(asan):  # the sanitizer build must print the same bytes, and nothing on stderr
        s = run(asan, "--count", "500", "--levels", "1-5", "--seed", "7")
        check(s.returncode == 0 and s.stdout == a.stdout and s.stderr == b"",
              f"ASan build: exit {s.returncode}, stderr {s.stderr[-300:]!r}")
        check(run(asan, "--count", "0").returncode == 2, "ASan build: bad flag exits 2")
    else:
        skip("no sanitizer build of chorus to run gen under")
    return done("test_gen_arith")


if __name__ == "__main__":
    sys.exit(main())
