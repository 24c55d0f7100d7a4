"""pycheck.py - the Python twin of tests/check.h, plus loading build/cpu/libchorus.so.

Each Python test counts checks with check()/skip() and ends with done(name), which prints
"name: N passed, N failed, N skipped" (the line tests/run.sh adds up) and returns the exit code.
FAIL and SKIP lines go to stderr, like check.h's. check() and skip() may be called from the
threads of run_jobs().

FULL: CHORUS_TEST_FULL is set (and not 0), as `make test-all` sets it. The slow tests then run
their exhaustive matrix; without it each runs a representative subset that still asserts real
behaviour, and says in its docstring what the default covers and what FULL adds.
"""
import concurrent.futures
import ctypes
import os
import sys
import threading

# numpy's OpenBLAS would run each small matmul of the references on every core, spinning: on a
# busy 2-core machine a [24, 256] x [256, 512] product took 23 ms instead of 0.3 ms. One thread,
# unless the caller chose; this works only where pycheck is imported before numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

DEFAULT_MODEL = os.environ.get(
    "CHORUS_MODEL", os.path.join(ROOT, "weights", "SmolLM2-135M-Instruct.Q4_1.gguf"))
LIB_PATH = os.environ.get("CHORUS_LIB", os.path.join(ROOT, "build", "cpu", "libchorus.so"))

FULL = os.environ.get("CHORUS_TEST_FULL", "") not in ("", "0")
# independent jobs (mostly subprocesses, which on 2 cores leave a core partly idle) run this many
# at a time
JOBS = max(1, int(os.environ.get("CHORUS_TEST_JOBS", "2")))

passed = failed = skipped = 0
_lock = threading.Lock()


def check(cond, msg):
    global passed, failed
    with _lock:
        if cond:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {msg}", file=sys.stderr, flush=True)
    return bool(cond)


def skip(msg):
    global skipped
    with _lock:
        skipped += 1
        print(f"SKIP {msg}", file=sys.stderr, flush=True)


def run_jobs(fns, jobs=None):
    """Calls each of `fns` (no arguments) JOBS at a time in threads; returns their results in
    order. An exception in one is raised here once all have finished."""
    fns = list(fns)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs or JOBS) as ex:
        futures = [ex.submit(fn) for fn in fns]
    return [f.result() for f in futures]


def done(name):
    print(f"{name}: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 1 if failed else 0


def load_lib(symbols):
    """The chorus shared library with argtypes set for `symbols`, or (None, reason).

    A missing library is a skip (make test builds it first); a library that lacks a symbol
    is returned as None with the reason, and the caller counts it as a failure.
    """
    if not os.path.exists(LIB_PATH):
        return None, f"{LIB_PATH} not built (make {os.path.relpath(LIB_PATH, ROOT)})"
    lib = ctypes.CDLL(LIB_PATH)
    c_int, c_char_p, c_void_p = ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p
    sigs = {
        "chorus_dev_logits": (c_int, [c_char_p, c_void_p, c_int, c_void_p, c_char_p, c_int]),
        "chorus_dev_greedy": (c_int, [c_char_p, c_void_p, c_int, c_int, c_void_p, c_void_p,
                                      c_char_p, c_int]),
        "chorus_dev_vocab": (c_int, [c_char_p, c_char_p, c_int]),
        "chorus_dev_set_numerics": (c_int, [c_char_p]),
        "dequantize_row": (None, [ctypes.c_uint32, c_void_p, c_void_p, ctypes.c_int64]),
    }
    for s in symbols:
        if not hasattr(lib, s):
            return None, f"{LIB_PATH} has no symbol {s}"
        fn = getattr(lib, s)
        fn.restype, fn.argtypes = sigs[s]
    return lib, None


def errbuf():
    return ctypes.create_string_buffer(512)
