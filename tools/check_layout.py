#!/usr/bin/env python3
"""check_layout.py - the source tree's layout rules (docs/design.md, "Parts and arrows").

  layers   an #include goes downward only, by folder (FOLDER_DEPS below: the folders each one may
           include from); runtime/cpu and runtime/cuda never include each other
  cycles   no cycle among modules (a module = a .c and its .h, by path without the ending): by
           #include, and by calls from one module's .c to functions another module's .c defines
  readme   every file in runtime/, kernels/, tokenizer/ and sampler/ is named in README.md's
           "Layout" block, and every name there exists
  size     no file over MAX_FILE_LINES lines and no C function over MAX_FUNC_LINES lines, but
           those in ALLOW (documented hot kernels: splitting them would cost speed or clarity)

Usage: tools/check_layout.py [--root DIR]. Prints each violation on its own line, then
"check_layout: N violations"; exits 1 if there are any.
"""
import argparse
import os
import re
import sys

MAX_FILE_LINES = 700
MAX_FUNC_LINES = 80

# Folder -> the folders it may include from (besides itself). The order of the parts, bottom up:
# sampler, util < model < tokenizer (it reads its vocabulary from a GGUFFile) and {cpu, cuda}
# (never each other) < backend < chains < eval < cli. kernels/ (the CUDA kernels) sit beside
# sampler: runtime/cpu includes kernels/kernel_types.h, the plain C types of a step's rows that
# the CPU twins of fused kernels take too (cpu/fused.h). kernels/dev (the kernel lab: programs
# that check a kernel against its CPU twin) sits on top like tests/; kernels/emu (the emulation)
# beside kernels. tests/ and tools/ are not checked.
_BELOW = {
    "sampler": [],
    "runtime/util": [],
    "kernels": ["sampler"],
    "runtime/model": ["runtime/util"],
    "tokenizer": ["runtime/model"],
    "runtime/cpu": ["runtime/model", "kernels"],
    "runtime/cuda": ["runtime/model", "kernels"],
    "runtime/backend": ["runtime/cpu", "runtime/cuda"],
    "runtime/chains": ["runtime/backend", "tokenizer"],
    "runtime/eval": ["runtime/chains"],
    "runtime/cli": ["runtime/eval"],
    "kernels/emu": ["kernels"],
    "kernels/dev": ["runtime/cpu", "runtime/cuda"],
}


def _closure():
    deps = {}

    def below(f):
        if f not in deps:
            s = set()
            for g in _BELOW[f]:
                s |= {g} | below(g)
            deps[f] = s | ({"sampler", "runtime/util"} - {f} if f not in ("sampler", "runtime/util", "kernels") else set())
        return deps[f]

    for f in _BELOW:
        below(f)
    deps["kernels"] = {"sampler"}
    return deps


FOLDER_DEPS = _closure()

# Files allowed past the size limits, each with its reason.
ALLOW = {
    "runtime/cpu/qgemm_kernels.c": "the int8 micro-kernels of every ISA level, compiled once per "
    "level: each tile function is one unrolled register-blocked loop nest",
    "kernels/emu/cu2cpp.py": "the CUDA-to-C++ translator of the emulation (not C)",
}

SRC_DIRS = ["runtime", "kernels", "tokenizer", "sampler"]
C_EXT = (".c", ".h", ".cu", ".cuh", ".cpp")
# where a quoted include is looked for, as the Makefile's -I flags (the including file's own
# folder first)
INCLUDE_DIRS = ["runtime", "tokenizer", "sampler", "kernels", "."]


def source_files(root):
    out = []
    for d in SRC_DIRS:
        for dp, dns, fns in os.walk(os.path.join(root, d)):
            dns[:] = sorted(x for x in dns if not x.startswith(".") and x != "__pycache__")
            for fn in sorted(fns):
                if not fn.startswith(".") and not fn.endswith((".pyc", ".o")):
                    out.append(os.path.relpath(os.path.join(dp, fn), root))
    return out


def folder_of(path):
    parts = path.split("/")
    if parts[0] == "runtime" and len(parts) > 2:
        return "runtime/" + parts[1]
    if parts[0] == "kernels" and len(parts) > 2 and parts[1] in ("dev", "emu"):
        return "kernels/" + parts[1]
    return parts[0]


def read(root, path):
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        return f.read()


def resolve(root, src, name):
    for d in [os.path.dirname(src)] + INCLUDE_DIRS:
        p = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(os.path.join(root, p)):
            return p
    return None  # a system or third-party header (stb_ds.h, the emulation's stand-ins)


def includes(root, files):
    inc = {}
    for f in files:
        if f.endswith(C_EXT):
            names = re.findall(r'^\s*#\s*include\s+"([^"]+)"', read(root, f), re.M)
            inc[f] = [p for p in (resolve(root, f, n) for n in names) if p]
    return inc


def check_layers(inc):
    bad = []
    for f, deps in inc.items():
        a = folder_of(f)
        if a not in FOLDER_DEPS:
            continue
        for d in deps:
            b = folder_of(d)
            if b != a and b in FOLDER_DEPS and b not in FOLDER_DEPS[a]:
                bad.append(f"layers: {f} includes {d} ({a} may not include from {b})")
    return bad


def strip_c(text):
    """The text with comments, string and character literals blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


FUNC_RE = re.compile(r"([A-Za-z_]\w*)\s*\(([^;{}()]|\([^;{}()]*\))*\)\s*(const\s*)?\{")
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else"}


def functions(code):
    """(name, first line, lines, is_static, body) of each top-level function definition."""
    out, depth, i = [], 0, 0
    while i < len(code):
        c = code[i]
        if c == "{" and depth == 0:
            # the text since the previous top-level ';' or '}' is the definition's head
            start = max(code.rfind(";", 0, i), code.rfind("}", 0, i), code.rfind("#", 0, i)) + 1
            head = code[start : i + 1]
            m = FUNC_RE.search(head)
            j, d = i, 0
            while j < len(code):  # the matching brace
                d += {"{": 1, "}": -1}.get(code[j], 0)
                if d == 0:
                    break
                j += 1
            if m and m.group(1) not in KEYWORDS and "=" not in head[: m.start()]:
                line = code.count("\n", 0, i) + 1
                lines = code.count("\n", i, j) + 1
                static = re.search(r"\bstatic\b", head[: m.start()]) is not None
                out.append((m.group(1), line, lines, static, code[i : j + 1]))
            i = j + 1
            continue
        i += 1
    return out


# Private headers: the inner half of a module's interface, included by its .c (and its helpers).
PRIVATE_HEADERS = {
    "tokenizer/tok_internal.h": "tokenizer/tokenizer",
    "runtime/cuda/forward_impl.h": "runtime/cuda/forward",
}


def module(path):
    return PRIVATE_HEADERS.get(path, os.path.splitext(path)[0])


def find_cycles(edges):
    """Each cycle of the graph once (as a list of nodes), by Tarjan's strongly connected parts."""
    index, low, stack, on, comps, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return comps


def check_cycles(root, files, inc):
    bad = []
    edges = {}
    for f, deps in inc.items():
        for d in deps:
            if module(d) != module(f):
                edges.setdefault(module(f), set()).add(module(d))
    for comp in find_cycles(edges):
        bad.append("cycles: #include loop among " + ", ".join(comp))
    # calls: module A -> B when A's .c calls a non-static function B's .c defines
    defined, bodies = {}, {}
    for f in files:
        if f.endswith((".c", ".cu", ".cpp")):
            fns = functions(strip_c(read(root, f)))
            bodies[f] = "\n".join(b for _, _, _, _, b in fns)
            for name, _, _, static, _ in fns:
                if not static:
                    defined.setdefault(name, module(f))
    calls = {}
    for f, body in bodies.items():
        for name in set(re.findall(r"\b([A-Za-z_]\w*)\s*\(", body)):
            m = defined.get(name)
            if m and m != module(f):
                calls.setdefault(module(f), set()).add(m)
    for comp in find_cycles(calls):
        bad.append("cycles: call loop among " + ", ".join(comp))
    return bad


def layout_block(readme):
    m = re.search(r"^## Layout\n(.*?)^## ", readme, re.M | re.S)
    if not m:
        return None
    b = re.search(r"```\n(.*?)```", m.group(1), re.S)
    return b.group(1) if b else None


NAME_RE = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.(?:c|h|cu|cuh|cpp|py|mk|md))(/h)?(?![\w/])")


def check_readme(root, files):
    block = layout_block(read(root, "README.md"))
    if block is None:
        return ["readme: README.md has no ## Layout section with a ``` block"]
    named, bad, folder = set(), [], None
    for line in block.split("\n"):
        head = re.match(r"^([\w-]+(?:/[\w-]+)*/)\s", line + " ")
        if head:
            folder = head.group(1)
            continue
        # an entry: "  NAME[ · NAME...]  words"; names in the words are not entries
        entry = line.strip().split("  ")[0]
        for m in NAME_RE.finditer(entry):
            if folder is None:
                continue
            names = [m.group(1)] + ([m.group(1)[:-1] + "h"] if m.group(2) else [])
            for n in names:
                p = os.path.normpath(os.path.join(folder, n))
                named.add(p)
                if not os.path.isfile(os.path.join(root, p)):
                    bad.append(f"readme: the Layout block names {p}, which does not exist")
    for f in files:
        if f not in named:
            bad.append(f"readme: {f} is not named in README.md's Layout block")
    return bad


def check_sizes(root, files):
    bad = []
    for f in files:
        if f in ALLOW:
            continue
        text = read(root, f)
        n = text.count("\n")
        if f.endswith((".c", ".h", ".cu", ".cuh", ".cpp", ".py")) and n > MAX_FILE_LINES:
            bad.append(f"size: {f} has {n} lines (over {MAX_FILE_LINES})")
        if f.endswith(C_EXT):
            for name, line, lines, _, _ in functions(strip_c(text)):
                if lines > MAX_FUNC_LINES:
                    bad.append(f"size: {f}:{line} {name}() has {lines} lines (over {MAX_FUNC_LINES})")
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    a = ap.parse_args(argv)
    files = source_files(a.root)
    inc = includes(a.root, files)
    bad = check_layers(inc) + check_cycles(a.root, files, inc)
    bad += check_readme(a.root, files) + check_sizes(a.root, files)
    for b in bad:
        print(b)
    print(f"check_layout: {len(bad)} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
