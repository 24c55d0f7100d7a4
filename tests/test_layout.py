"""test_layout.py - the source tree keeps its layout (tools/check_layout.py).

Runs the checker on the tree: no include from a lower folder to a higher one, no include or
call loops, every source file named in README.md's Layout block and every name there existing,
no file or function over the size limits outside the checker's allow-list. Then, to show the
check can fail, runs it on scratch copies of the tree broken one way each (an upward include, an
include loop, a call loop, a file missing from the README, a function over the limit) and checks
each break is reported. Fast: no build needed.
"""
import os
import shutil
import subprocess
import sys
import tempfile

from pycheck import ROOT, check, done

CHECKER = os.path.join(ROOT, "tools", "check_layout.py")


def run(root):
    p = subprocess.run([sys.executable, CHECKER, "--root", root], capture_output=True, text=True)
    return p.returncode, p.stdout


def scratch_copy(dst):
    for d in ("runtime", "kernels", "tokenizer", "sampler"):
        shutil.copytree(os.path.join(ROOT, d), os.path.join(dst, d),
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "README.md"), dst)


def append(root, path, text):
    with open(os.path.join(root, path), "a") as f:
        f.write(text)


LONG_FN = "\nint too_long(void) {\n" + "    int x = 0;\n" * 90 + "    return 0;\n}\n"

BREAKS = [  # (what, edit, a phrase the report must contain)
    ("upward include", lambda r: append(r, "runtime/model/quant.c", '#include "cli/cli.h"\n'),
     "layers: runtime/model/quant.c includes runtime/cli/cli.h"),
    ("cpu includes cuda", lambda r: append(r, "runtime/cpu/ops.c", '#include "cuda/batch_plan.h"\n'),
     "runtime/cpu may not include from runtime/cuda"),
    ("include loop", lambda r: append(r, "runtime/util/json.c", '#include "util/json_parse.h"\n') or
     append(r, "runtime/util/json_parse.c", '#include "util/json.h"\n'),
     "cycles: #include loop among runtime/util/json, runtime/util/json_parse"),
    ("call loop", lambda r: append(r, "runtime/model/quant.c",
                                   "\nvoid loop_back(void) { qblock_decode(0, 0, 0, 0); }\n") or
     append(r, "runtime/model/quant_blocks.c", "\nvoid loop_there(void) { f32_to_fp16(0); }\n"),
     "cycles: call loop among runtime/model/quant, runtime/model/quant_blocks"),
    ("unlisted file", lambda r: append(r, "runtime/util/new_thing.c", "int x;\n"),
     "readme: runtime/util/new_thing.c is not named"),
    ("long function", lambda r: append(r, "runtime/util/json.c", LONG_FN),
     "size: runtime/util/json.c:"),
]


def main():
    rc, out = run(ROOT)
    check(rc == 0, "the tree breaks its layout rules:\n" + out)
    check(out.strip().endswith("check_layout: 0 violations"), "no summary line: " + out[-200:])
    for what, edit, phrase in BREAKS:
        with tempfile.TemporaryDirectory() as tmp:
            scratch_copy(tmp)
            edit(tmp)
            rc, out = run(tmp)
            check(rc == 1 and phrase in out, f"{what}: not reported ({phrase!r}); got:\n{out}")
    return done("test_layout")


if __name__ == "__main__":
    sys.exit(main())
