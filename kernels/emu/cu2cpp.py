#!/usr/bin/env python3
"""cu2cpp.py - rewrites a .cu file into C++ that g++ compiles against kernels/emu/device.h.

    python3 kernels/emu/cu2cpp.py kernels/attention.cu build/emu/kernels/attention.cpp

Only two constructs of CUDA C++ cannot be expressed by macros, so only they are rewritten
(everything else compiles through the stand-in headers):

  k<<<grid, block, smem, stream>>>(args)
      -> ::emu::launcher(EMU_SITE, "k", k, ::emu::LaunchCfg(grid, block, smem, stream))(args)
  __shared__ T name[N];           -> auto &name = ::emu::shared<T[N]>(EMU_SITE, "name");
  extern __shared__ T name[];     -> T *name = ::emu::dyn_shared_as<T>();

Line numbers are kept (a #line directive names the original file, and a rewrite never adds or
removes a line), so compiler errors, __LINE__ and the emulator's messages point into the .cu.
A __shared__ declaration the rewrite does not understand (several names, an initializer) is an
error rather than a silent miscompile. Standard library only.
"""
import re
import sys

LAUNCH = re.compile(
    r"(?P<k>[A-Za-z_][\w:]*(?:\s*<[^<>;(){}]*>)?)(?P<ws>\s*)<<<(?P<cfg>.*?)>>>(?P<ws2>\s*)\(",
    re.S)
DYN = re.compile(r"extern\s+__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s+)?"
                 r"(?P<t>[\w:<>\s\*]+?)\s*\b(?P<n>\w+)\s*\[\s*\]\s*;")
STATIC = re.compile(r"__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s+)?"
                    r"(?P<t>[\w:<>\s\*]+?)\s*\b(?P<n>\w+)\s*(?P<d>(?:\[[^\]\n]*\]\s*)*);")


def newlines(s):
    return "\n" * s.count("\n")


def rewrite(src, path):
    def launch(m):
        k = m.group("k")
        name = re.sub(r"\s+", "", k)
        return ('::emu::launcher(EMU_SITE, "%s", %s, ::emu::LaunchCfg(%s))('
                % (name, k, m.group("cfg"))
                + newlines(m.group("ws")) + newlines(m.group("ws2")))

    out = LAUNCH.sub(launch, src)
    out = DYN.sub(lambda m: "%s *%s = ::emu::dyn_shared_as<%s>();%s"
                  % (m.group("t").strip(), m.group("n"), m.group("t").strip(),
                     newlines(m.group(0))), out)

    def static(m):
        t, n, d = m.group("t").strip(), m.group("n"), re.sub(r"\s+", "", m.group("d"))
        return ('auto &%s = ::emu::shared<%s%s>(EMU_SITE, "%s");%s'
                % (n, t, d, n, newlines(m.group(0))))

    out = STATIC.sub(static, out)
    for i, line in enumerate(out.split("\n")):
        code = line.split("//")[0]
        if "__shared__" in code or "<<<" in code:
            sys.exit("%s:%d: cu2cpp cannot rewrite this line (one name per __shared__ "
                     "declaration, no initializer): %s" % (path, i + 1, line.strip()))
    return '#line 1 "%s"\n%s' % (path, out)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: cu2cpp.py IN.cu OUT.cpp")
    src_path, out_path = sys.argv[1], sys.argv[2]
    with open(src_path) as f:
        src = f.read()
    out = rewrite(src, src_path)
    with open(out_path, "w") as f:
        f.write(out)


if __name__ == "__main__":
    main()
