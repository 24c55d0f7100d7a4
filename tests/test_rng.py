"""test_rng.py - an independent Python reference for sampler/rng.h.

Recomputes rng_bits and rng_uniform with Python integers (masked to 64 bits) for a spread of
(seed, chain, step), compiles a tiny C program that prints the same values through rng.h, and
compares them exactly (the float as its bit pattern). Needs a C compiler ($CC or cc); without
one the comparison is skipped.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from pycheck import check, done, skip

M64 = (1 << 64) - 1


def mix64(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def rng_bits(seed, chain, step):
    h = mix64(seed & M64)
    return mix64(h ^ ((chain << 32) | step))


def rng_uniform_bits(seed, chain, step):
    """The fp32 bit pattern of rng_uniform: (bits >> 40) * 2^-24 is exact in fp32."""
    return struct.unpack("<I", struct.pack("<f", (rng_bits(seed, chain, step) >> 40) / 16777216.0))[0]


def cases():
    out = [(0, 0, 0), (1, 0, 0), (M64, 0xFFFFFFFF, 0xFFFFFFFF), (2**63, 2**31, 1)]
    x = 12345
    for _ in range(200):  # a fixed pseudo-random spread (an LCG, so the list is reproducible)
        vals = []
        for bits in (64, 32, 32):
            x = (x * 6364136223846793005 + 1442695040888963407) & M64
            vals.append(x >> (64 - bits))
        out.append(tuple(vals))
    out += [(1, c, s) for c in range(4) for s in range(4)]
    return out


C_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "rng.h"
int main(void) {
    unsigned long long seed; unsigned chain, step;
    while (scanf("%llu %u %u", &seed, &chain, &step) == 3) {
        float u = rng_uniform(seed, chain, step); unsigned ub; memcpy(&ub, &u, 4);
        printf("%llu %u\n", (unsigned long long)rng_bits(seed, chain, step), ub);
    }
    return 0;
}
"""


def run_c(cs):
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        return None
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "rng_main.c"), os.path.join(d, "rng_main")
        with open(src, "w") as f:
            f.write(C_MAIN)
        subprocess.run([cc, "-std=c11", "-O2", "-I", os.path.join(root, "sampler"), "-o", exe, src],
                       check=True)
        stdin = "".join(f"{s} {c} {t}\n" for s, c, t in cs)
        out = subprocess.run([exe], input=stdin, capture_output=True, text=True, check=True).stdout
    return [tuple(int(v) for v in line.split()) for line in out.splitlines()]


def main():
    cs = cases()
    got = run_c(cs)
    if got is None:
        skip("no C compiler to build the rng.h probe")
    else:
        check(len(got) == len(cs), f"C printed {len(got)} rows for {len(cs)} cases")
        for (s, c, t), (bits, ubits) in zip(cs, got):
            check(bits == rng_bits(s, c, t), f"rng_bits({s}, {c}, {t}): C {bits:#x}, Python {rng_bits(s, c, t):#x}")
            check(ubits == rng_uniform_bits(s, c, t), f"rng_uniform({s}, {c}, {t}) differs")
    # Properties of the reference itself (so a wrong reference cannot agree with a wrong C).
    check(rng_bits(1, 0, 1) != rng_bits(1, 1, 0), "chain and step collide")
    check(rng_bits(42, 7, 123) == 0x404D1CAA775165F6, "known value (also in tests/test_rng.c)")
    us = [(rng_bits(9, 0, i) >> 40) / 16777216.0 for i in range(20000)]
    check(all(0.0 <= u < 1.0 for u in us), "uniform outside [0, 1)")
    check(abs(sum(us) / len(us) - 0.5) < 0.01, "uniform mean far from 1/2")
    return done("test_rng_py")


if __name__ == "__main__":
    sys.exit(main())
