"""pycheck.py - the Python twin of tests/check.h, plus loading build/cpu/libchorus.so.

Each Python test counts checks with check()/skip() and ends with done(name), which prints
"name: N passed, N failed, N skipped" (the line tests/run.sh adds up) and returns the exit code.
FAIL and SKIP lines go to stderr, like check.h's.
"""
import ctypes
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

DEFAULT_MODEL = os.environ.get(
    "CHORUS_MODEL", os.path.join(ROOT, "weights", "SmolLM2-135M-Instruct.Q4_1.gguf"))
LIB_PATH = os.environ.get("CHORUS_LIB", os.path.join(ROOT, "build", "cpu", "libchorus.so"))

passed = failed = skipped = 0


def check(cond, msg):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {msg}", file=sys.stderr, flush=True)
    return bool(cond)


def skip(msg):
    global skipped
    skipped += 1
    print(f"SKIP {msg}", file=sys.stderr, flush=True)


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
