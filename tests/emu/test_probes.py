"""test_probes.py - each bug class of tests/emu/probe.cu must be caught by the emulation build
meant for it, and the correct kernel must be clean in every build.

Runs build/{emu,emu-asan,emu-tsan}/tests/probe NAME and reads its exit status and stderr. The
table below is the claim (README, "Run the kernels without a GPU"); the matrix printed at the end
shows what every build did with every probe, caught or not, asserted or not.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pycheck as pc  # noqa: E402

ROOT = pc.ROOT
BUILDS = ["emu", "emu-asan", "emu-tsan"]
TSAN_RACE = r"ThreadSanitizer: data race"
# probe -> {build: what its stderr must say}; "order" means: the plain build's result changes
# with CHORUS_EMU_ORDER (forward vs reverse), the symptom of a race without a sanitizer
CAUGHT = {
    "missing_barrier": {"emu": "order", "emu-tsan": TSAN_RACE},
    "shared_oob": {"emu": r"shared memory written out of bounds.*past the end of s ",
                   # UBSan's bounds check sees the array type first; ASan's red zones
                   # catch what comes through a pointer
                   "emu-asan": r"AddressSanitizer|runtime error: index 32 out of bounds"},
    "global_oob": {"emu-asan": r"AddressSanitizer: heap-buffer-overflow"},
    "divergent_barrier": {"emu": r"__syncthreads at .*probe\.cu:\d+ while thread .* waits at "
                                 r"__syncthreads at .*probe\.cu:\d+"},
    "half_warp_shuffle": {"emu": r"__shfl_xor_sync .*(has exited|deadlock)|exited while lane"},
    "warp_sync_race": {"emu-tsan": TSAN_RACE},
    "block_race": {"emu-tsan": TSAN_RACE},
    "host_pointer": {"emu": r"argument 1 \(0x[0-9a-f]+\) is not device memory"},
}
DIAG = re.compile(r"chorus-emu:|Sanitizer|runtime error")


def run(build, probe, order="forward"):
    exe = os.path.join(ROOT, "build", build, "tests", "probe")
    env = dict(os.environ, CHORUS_EMU_ORDER=order,
               TSAN_OPTIONS="halt_on_error=1 report_signal_unsafe=0",
               ASAN_OPTIONS="detect_leaks=0")
    r = subprocess.run([exe, probe], capture_output=True, text=True, env=env, timeout=300)
    return r.returncode, r.stdout, r.stderr


def main():
    missing = [b for b in BUILDS if not os.path.exists(os.path.join(ROOT, "build", b, "tests",
                                                                   "probe"))]
    if missing:
        pc.skip("probe not built in %s (make test-gpu-emu)" % ", ".join(missing))
        return pc.done("test_probes")
    matrix = {}
    for b in BUILDS:
        rc, out, err = run(b, "clean")
        pc.check(rc == 0 and not DIAG.search(err) and out.startswith("clean: "),
                 "the correct kernel is clean in %s (exit %d): %s" % (b, rc, err[-400:]))
        matrix[("clean", b)] = "clean" if rc == 0 else "FLAGGED"
    for probe, want in CAUGHT.items():
        for b in BUILDS:
            rc, out, err = run(b, probe)
            seen = "caught" if rc != 0 and DIAG.search(err) else "ran"
            if want.get(b) == "order":
                rc2, out2, _ = run(b, probe, "reverse")
                ok = rc == 0 and rc2 == 0 and out != out2
                pc.check(ok, "%s in %s: forward and reverse order give different results "
                             "(%r vs %r)" % (probe, b, out.strip(), out2.strip()))
                seen = "order-dependent" if ok else seen
            elif b in want:
                pc.check(rc != 0 and re.search(want[b], err, re.S) is not None,
                         "%s is caught by %s (exit %d): %s" % (probe, b, rc, err[-600:]))
            matrix[(probe, b)] = seen
    print("  %-20s %s" % ("probe", " ".join("%-16s" % b for b in BUILDS)))
    for probe in ["clean"] + list(CAUGHT):
        print("  %-20s %s" % (probe, " ".join("%-16s" % matrix[(probe, b)] for b in BUILDS)))
    return pc.done("test_probes")


if __name__ == "__main__":
    sys.exit(main())
