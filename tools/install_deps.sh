#!/usr/bin/env bash
# Installs what chorus needs and is missing: Debian packages (stb_ds.h, a C compiler, make,
# Python venv support, clang with libFuzzer) and the project's virtual environment in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
[ -f /usr/include/stb/stb_ds.h ] || need+=(libstb-dev)
command -v cc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
command -v unzip >/dev/null || need+=(unzip)
command -v python3 >/dev/null || need+=(python3 python3-venv)
# clang and its libFuzzer runtime, for the fuzz targets (tests/fuzz): libclang-rt-dev is
# Debian's package of compiler-rt (libclang_rt.fuzzer*.a) for the default clang.
command -v clang >/dev/null || need+=(clang)
fuzz_ok() {
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
        clang -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1
}
command -v clang >/dev/null && fuzz_ok || need+=(libclang-rt-dev)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
    echo "creating the Python virtual environment in .venv" >&2
    python3 -m venv .venv || { echo "python3 -m venv failed: install python3-venv" >&2; exit 1; }
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
fi
