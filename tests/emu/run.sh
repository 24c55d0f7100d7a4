#!/usr/bin/env bash
# tests/emu/run.sh - `make test-gpu-emu`: chorus's CUDA code run on the CPU (kernels/emu/), in
# three builds, ending with one total line like tests/run.sh:
#   build/emu/tests       every GPU test (kernels, attention, sampler, the whole model on the
#                         tiny models of every tensor type and architecture and on the default
#                         model, graphs against eager steps) and the emulation's own test
#   build/emu-asan/tests  the kernel, attention and sampler tests and test_emu, ASan + UBSan
#   build/emu-tsan/tests  the same under TSan (each CUDA thread a TSan fiber)
#   tests/emu/test_probes.py   one deliberate bug per class, caught by the build meant for it
#   tests/emu/test_emu_cli.py  chorus --device cuda end to end; the kernel lab at the 7B shape
set -u
cd "$(dirname "$0")/../.."
export TSAN_OPTIONS="halt_on_error=1 report_signal_unsafe=0 ${TSAN_OPTIONS:-}"
bash tests/run.sh dir:build/emu/tests dir:build/emu-asan/tests dir:build/emu-tsan/tests \
    py:tests/emu/test_probes.py py:tests/emu/test_emu_cli.py
