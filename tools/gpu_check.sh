#!/usr/bin/env bash
# gpu_check.sh - the prepared device check of the CUDA backend, cut into phases for a short device
# lease. On a bare machine with the CUDA toolkit and no network it builds chorus's CUDA build,
# runs the GPU tests and the kernel lab's checks (kernels/dev/), benchmarks the Llama-2-7B shape,
# each kernel at that shape (the kernel lab's times) and the default model beside the Hugging
# Face peer (tools/bench_hf.py, where torch is installed), and
# runs the tests under compute-sanitizer memcheck and racecheck. Each phase is one device call
# within GPU_CHECK_BUDGET seconds (default 300; 540 for --phase all) and writes its OWN complete
# summary, $OUT/gpu_check_TAG.txt, with its logs as $OUT/gpu_check_TAG_logs.tar.gz (TAG: build,
# build-test, bench, sanitize, all: the device tool returns only names of letters, digits, '.',
# '_' and '-', and only the latest call's files). The summary is also the script's stdout.
#
#   tools/gpu_check.sh --prepare [--model]            here: fill the carry folder (below)
#   tools/gpu_check.sh --phase build                  device: the build alone
#   tools/gpu_check.sh --phase build+test             device: build (or reuse it), GPU tests,
#                                                     build/cuda/dev/* --check (the kernel lab)
#   tools/gpu_check.sh --phase bench                  device: llama2-7b-shape bench, the kernel
#                                                     lab timed, then the default model / random
#                                                     smollm2 (graphs on, off), then the HF peer
#   tools/gpu_check.sh --phase sanitize               device: probe compute-sanitizer once, then
#                                                     memcheck and racecheck on kernels/attention/
#                                                     sample (then memcheck on model if time is left)
#   tools/gpu_check.sh [--phase all]                  device: all of it in one call
#   tools/gpu_check.sh --stash DIR [--phase P]        device: keep a model part in /tmp, then P
# Every phase builds first: a build made by an earlier call on the same warm machine (same
# sources, same flags: build/gpu_check.stamp) is reused, else `make -j cuda` runs (incremental).
# The build runs without -Werror (WARN, NVCC_WARN): a newer compiler's new warning must not stop
# a lease; the summary counts the warnings and shows the first ones.
#
# What the device needs beyond the working tree: the carry folder .devcarry/ (git-ignored;
# CHORUS_CARRY names another), made here by `--prepare`:
#   .devcarry/common/stb/stb_ds.h      libstb-dev's header: the tokenizer, linked into
#                                      chorus-cuda, needs it, and the device has no apt
#   .devcarry/common/tiny-gpu-*.gguf   the tiny test models (the device has no `gguf` package)
# The default model (98 MB) does not fit one call's 64 MiB: `--prepare --model` also splits it
# into .devcarry/model-a/ and .devcarry/model-b/ (two parts and the sha256). model-a goes with the
# first call (`--stash .devcarry/model-a` copies it to /tmp/chorus-model/, kept while the machine
# stays warm), model-b with the second: the parts are joined in /tmp and checked against the
# sha256, and later calls on the same machine find the joined file there. Without the model,
# test_gpu_default reports SKIP and the bench uses a random model of its shape only.
#
# THE PLAN with this workplace's device tool: about 15 minutes of device time in all, all tries
# together, the machine's start (1 to 3 minutes, in the first call) counted; one command at most
# 10 minutes. The machine stays warm only 30 s after a call (keeping build/ and /tmp), so make
# each call AT ONCE after the last one's reply. The tool sends the session's own checkout (run it
# from one that holds this code) and sets and empties $OUT for each call.
#   here, once:  bash tools/gpu_check.sh --prepare --model
#   1. run(command="bash tools/gpu_check.sh --stash .devcarry/model-a --phase build",
#          carry=[".devcarry/common", ".devcarry/model-a"], timeout_s=330)
#   2. run(command="bash tools/gpu_check.sh --phase build+test",
#          carry=[".devcarry/common", ".devcarry/model-b"], timeout_s=330)
#   3. run(command="bash tools/gpu_check.sh --phase bench",
#          carry=[".devcarry/common"], timeout_s=330)
#   4. run(command="GPU_CHECK_BUDGET=B bash tools/gpu_check.sh --phase sanitize",
#          carry=[".devcarry/common"], timeout_s=B+30)
#   5. give_back()
# B, and the budget of calls 2 and 3 too, is min(300, budget_left_s - 60) with budget_left_s from
# the last reply's lease (prefix the command with GPU_CHECK_BUDGET=B where that is under 300, and
# make timeout_s B+30); where B < 90, skip the rest and give_back. Typical: start 2 min, build 2-3
# min (16 cores, sm_90 only), tests 1 min, bench 2-4 min, sanitizers what is left: under 15 min.
# Stop (give_back) after exit 2 (the build failed: fix it here; the build log's tail is in the
# summary) or 3 (no GPU), except where call 1's build line says TIMED OUT: call 2 then goes on
# with the build (make keeps what it made while the machine is warm). After exit 1 (something
# failed) go on: the later phases still tell more. Each reply brings that phase's summary
# (gpu_check_TAG.txt) and logs; output_tail ends with the same summary and its RESULT line.
# A reply whose `warm` is false got a fresh machine: its phase rebuilt by itself, and the model
# parts in /tmp were lost (the default-model rows then SKIP).
# Without the default model: `--prepare` alone, leave out call 1, carry only ".devcarry/common".
# In one call instead (no default model, no sanitizer time to speak of):
#   run(command="bash tools/gpu_check.sh --phase all", carry=[".devcarry/common"], timeout_s=580)
#
# Exit code, per phase: 0 all passed on a GPU; 1 a test, a dev program, a bench or a sanitizer
# check failed; 2 the build failed; 3 no GPU (the build is still checked). A sanitizer step that
# times out, a sanitizer the device refuses, a bench that times out and a step skipped for lack of
# time are reported (INCONCLUSIVE / SKIPPED) but are not failures.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
CARRY=${CHORUS_CARRY:-.devcarry}
MODEL_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
STASH=/tmp/chorus-model

prepare() { # here: the carry folder
    mkdir -p "$CARRY/common/stb"
    git check-ignore -q "$CARRY/common" || echo "/$CARRY/" >>"$(git rev-parse --git-path info/exclude)"
    cp /usr/include/stb/stb_ds.h "$CARRY/common/stb/" || { echo "no /usr/include/stb/stb_ds.h (apt-get install libstb-dev)"; exit 2; }
    make -s tiny-gpu && cp weights/tiny-gpu-*.gguf "$CARRY/common/" || exit 2
    if [ "${1:-}" = --model ]; then
        [ -f "weights/$MODEL_NAME" ] || { echo "weights/$MODEL_NAME missing (make weights)"; exit 2; }
        rm -rf "$CARRY/model-a" "$CARRY/model-b"
        mkdir -p "$CARRY/model-a" "$CARRY/model-b"
        split -n 2 -d "weights/$MODEL_NAME" "$CARRY/model-a/part"
        mv "$CARRY/model-a/part01" "$CARRY/model-b/"
        (cd weights && sha256sum "$MODEL_NAME") | tee "$CARRY/model-a/sha256" >"$CARRY/model-b/sha256"
    fi
    du -sh "$CARRY"/*
    echo "carry: $CARRY/common (+ $CARRY/model-a in call 1, $CARRY/model-b in call 2: see the header)"
    exit 0
}
usage() {
    sed -n '13,24p' "$0" | sed 's/^# \{0,1\}//'
    exit "$1"
}

PHASE=all PHASE_SET=0 STASHED=0
while [ $# -gt 0 ]; do
    case $1 in
    --prepare) prepare "${2:-}" ;;
    --stash)
        if [ -z "${2:-}" ] || [ ! -d "$2" ]; then
            echo "--stash DIR: no folder '${2:-}'"
            exit 2
        fi
        STASHED=1 # a failed copy is reported, and the phase goes on without the default model
        mkdir -p "$STASH" && cp "$2"/* "$STASH/" && ls -la "$STASH" || STASHED=failed
        shift 2
        ;;
    --phase)
        PHASE=${2:-}
        PHASE_SET=1
        shift 2 || shift
        ;;
    -h | --help) usage 0 ;;
    *)
        echo "unknown argument '$1'"
        usage 2
        ;;
    esac
done
if [ "$STASHED" != 0 ] && [ "$PHASE_SET" = 0 ]; then # --stash alone: only the stash
    [ "$STASHED" = 1 ] && exit 0
    exit 2
fi
DO_TEST=0 DO_BENCH=0 DO_SAN=0
case $PHASE in
build) ;;
build+test) DO_TEST=1 ;;
bench) DO_BENCH=1 ;;
sanitize) DO_SAN=1 ;;
all) DO_TEST=1 DO_BENCH=1 DO_SAN=1 ;;
*)
    echo "unknown phase '$PHASE' (build, build+test, bench, sanitize, all)"
    exit 2
    ;;
esac
TAG=${PHASE//+/-}

# ---- the check ----------------------------------------------------------------------------------
OUT=${OUT:-$ROOT/build/gpu_check}
DEFAULT_BUDGET=300
[ "$PHASE" = all ] && DEFAULT_BUDGET=540
BUDGET=${GPU_CHECK_BUDGET:-$DEFAULT_BUDGET}
RESERVE=15 # seconds kept for the summary and the logs' tarball
LOGS=$ROOT/build/gpu_check_logs/$TAG
rm -rf "$LOGS"
mkdir -p "$OUT" "$LOGS"
SUMMARY=$OUT/gpu_check_$TAG.txt
: >"$SUMMARY"
T0=$(date +%s)
FAILED=0 INCONCLUSIVE=0 SKIPPED=0
left() { echo $((BUDGET - ($(date +%s) - T0))); }
say() { echo "$*" | tee -a "$SUMMARY"; }
indent() { sed 's/^/    /' | tee -a "$SUMMARY"; }

# step NAME MAX KIND CMD...: runs CMD with a timeout of MAX seconds (or what is left of the budget
# less the reserve), its output in $LOGS/NAME.log, and appends a status line. KIND says what a
# bad end means: must (an error or a time-out is a failure), soft (an error is a failure, a
# time-out is INCONCLUSIVE), info (neither counts: the peer). Sets STEP_STATUS (ok, failed,
# timeout, skipped) and returns CMD's exit code (99 when skipped).
STEP_STATUS=
step() {
    local name=$1 max=$2 kind=$3 t rc s0 st
    shift 3
    t=$(($(left) - RESERVE))
    [ "$t" -gt "$max" ] && t=$max
    if [ "$t" -lt 10 ]; then
        say "  $name: SKIPPED (time budget used up)"
        SKIPPED=$((SKIPPED + 1))
        STEP_STATUS=skipped
        return 99
    fi
    s0=$(date +%s)
    timeout -k 5 "$t" "$@" >"$LOGS/$name.log" 2>&1 </dev/null
    rc=$?
    if [ $rc -eq 0 ]; then
        STEP_STATUS=ok st=ok
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        STEP_STATUS=timeout
        case $kind in
        must) st="FAILED: TIMED OUT after ${t}s" FAILED=1 ;;
        soft) st="INCONCLUSIVE (timed out after ${t}s)" INCONCLUSIVE=$((INCONCLUSIVE + 1)) ;;
        *) st="timed out after ${t}s (not counted)" ;;
        esac
    else
        STEP_STATUS=failed
        case $kind in
        info) st="exit $rc (not counted)" ;;
        *) st="FAILED (exit $rc)" FAILED=1 ;;
        esac
    fi
    say "  $name: $st, $(($(date +%s) - s0)) s"
    return $rc
}

# A test binary (plain or under a sanitizer): its summary line, its FAIL / SKIP lines and the
# sanitizer's report. A plain test that ends without its summary line counts as failed.
gpu_test() { # NAME MAX KIND CMD...
    local name=$1 log=$LOGS/$1.log
    step "$@"
    [ "$STEP_STATUS" = skipped ] && return 0
    grep -E '^test_gpu_[a-z_]+: [0-9]+ passed' "$log" | indent
    if [ "$STEP_STATUS" = ok ] && [ "$3" = must ] && ! grep -qE '^test_gpu_[a-z_]+: [0-9]+ passed' "$log"; then
        say "    (ended without its summary line: counted as failed)"
        FAILED=1
    fi
    grep -E '^(FAIL|SKIP) ' "$log" | head -n 12 | indent
    grep -E '^========= ' "$log" | grep -vE 'COMPUTE-SANITIZER|^========= *$' | head -n 14 | indent
    [ "$STEP_STATUS" = failed ] && ! grep -qE '^(FAIL |========= )' "$log" && tail -n 8 "$log" | indent
    return 0
}

say "chorus gpu_check, phase $PHASE: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git status --porcelain 2>/dev/null | grep -q . && echo ' (+ local changes)'), budget ${BUDGET}s"
[ "$STASHED" = failed ] && say "stash: copying the model part to $STASH failed"

# ---- the machine --------------------------------------------------------------------------------
if ! command -v nvcc >/dev/null 2>&1; then
    for d in /usr/local/cuda/bin /usr/local/cuda-*/bin /opt/cuda/bin; do
        [ -x "$d/nvcc" ] && export PATH="$d:$PATH" && break
    done
fi
HAVE_GPU=0 GPU_ARCH=
if command -v nvidia-smi >/dev/null 2>&1 && timeout 30 nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    HAVE_GPU=1
    GPU_ARCH=$(timeout 30 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' .')
    say "gpu: $(timeout 30 nvidia-smi -L | head -n 1); driver $(timeout 30 nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1); sm_${GPU_ARCH:-?}"
else
    say "gpu: NONE FOUND (nvidia-smi missing or lists no GPU): only the build is checked"
fi
say "nvcc: $(command -v nvcc >/dev/null && nvcc --version | tail -n 1 || echo 'NOT FOUND')"
say "cc: $(cc --version 2>/dev/null | head -n 1)"
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
[ "$DO_SAN" = 1 ] && say "compute-sanitizer: ${SAN:-not found}"

# ---- what the build and the tests need ---------------------------------------------------------
# CUDA_ARCHS: the device's own (nvidia-smi's compute capability), else 90 with a GPU, 80 90 without
case $GPU_ARCH in [0-9][0-9] | [0-9][0-9][0-9]) ;; *) GPU_ARCH= ;; esac
ARCHS=${CUDA_ARCHS:-${GPU_ARCH:-90}}
[ "$HAVE_GPU" = 0 ] && ARCHS=${CUDA_ARCHS:-80 90}
MAKEVARS=(CUDA_ARCHS="$ARCHS" WARN="-Wall -Wextra -Wno-unused-parameter"
    NVCC_WARN="-Xcompiler -Wall,-Wextra,-Wno-unused-parameter")
if [ ! -f /usr/include/stb/stb_ds.h ]; then
    if [ -f "$CARRY/common/stb/stb_ds.h" ]; then
        MAKEVARS+=(STB_INC="$ROOT/$CARRY/common/stb")
    else
        say "stb_ds.h: not in /usr/include/stb nor $CARRY/common/stb (tools/gpu_check.sh --prepare)"
    fi
fi
if ! echo 'int main(void){return 0;}' | cc -fopenmp -x c - -o /dev/null 2>/dev/null; then
    MAKEVARS+=(OMP=0)
    say "openmp: not available, building with OMP=0"
fi
# cuBLAS outside the toolkit's lib64 (a pip wheel): link it through a folder of our own
CUDA_HOME=$(dirname "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")")
if [ ! -e "$CUDA_HOME/lib64/libcublas.so" ]; then
    lib=$(find /usr /opt "$CUDA_HOME" -name 'libcublas.so*' 2>/dev/null | grep -v stubs | head -n 1)
    if [ -n "$lib" ]; then
        mkdir -p build/gpu_check_lib
        ln -sf "$lib" build/gpu_check_lib/libcublas.so
        for l in "$(dirname "$lib")"/libcublasLt.so*; do [ -e "$l" ] && ln -sf "$l" build/gpu_check_lib/libcublasLt.so; done
        MAKEVARS+=(CUDA_LIBS="-L$CUDA_HOME/lib64 -L$CUDA_HOME/lib64/stubs -L$ROOT/build/gpu_check_lib -lcudart -lcublas")
        LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"
        export LD_LIBRARY_PATH
        say "cublas: $lib"
    fi
fi
missing=
for m in weights/tiny-gpu-{untied,tied,qwen2,qwen3,llama3}.gguf; do
    [ -f "$m" ] || { [ -f "$CARRY/common/$(basename "$m")" ] && cp "$CARRY/common/$(basename "$m")" "$m"; }
    [ -f "$m" ] || missing+=" $(basename "$m")"
done
if [ -n "$missing" ] && { [ "$DO_TEST" = 1 ] || [ "$DO_SAN" = 1 ]; }; then
    say "tiny models missing:$missing (tools/gpu_check.sh --prepare, carry $CARRY/common): test_gpu_model will SKIP"
fi
MODEL=${CHORUS_MODEL:-weights/$MODEL_NAME}
if [ ! -f "$MODEL" ]; then # the joined file of an earlier call, or join the two carried parts
    mkdir -p "$STASH"
    [ -d "$CARRY/model-b" ] && cp "$CARRY/model-b"/* "$STASH/" 2>/dev/null
    if [ ! -f "$STASH/$MODEL_NAME" ] && [ -f "$STASH/part00" ] && [ -f "$STASH/part01" ]; then
        cat "$STASH/part00" "$STASH/part01" >"$STASH/$MODEL_NAME"
        if (cd "$STASH" && sha256sum -c sha256 >/dev/null 2>&1); then
            rm -f "$STASH/part00" "$STASH/part01"
        else
            say "default model: the parts in $STASH do not match the sha256"
            rm -f "$STASH/$MODEL_NAME"
        fi
    fi
    [ -f "$STASH/$MODEL_NAME" ] && MODEL=$STASH/$MODEL_NAME
fi
if [ -f "$MODEL" ]; then
    say "default model: $MODEL"
elif [ "$DO_TEST" = 1 ] || [ "$DO_BENCH" = 1 ]; then
    say "default model: not here (test_gpu_default will SKIP; the bench uses a random model of its shape)"
fi
export CHORUS_MODEL=$MODEL

# ---- the summary, the logs and the exit code ---------------------------------------------------
finish() { # CODE: 2 (build failed) or 0 (decide from what ran)
    local code=$1 f passed failed skipped
    if ls "$LOGS"/bench_*.log >/dev/null 2>&1; then
        say ""
        say "benchmark (chorus bench; columns: N, prefill t/s, decode t/s aggregate, t/s/chain, ms/step, forward ms, sample ms, KV MB, GB/s, RSS MB):"
        for f in "$LOGS"/bench_{llama2_7b,smollm2_file,smollm2_random,smollm2_nographs}.log; do
            [ -f "$f" ] || continue
            say "  $(basename "$f" .log):"
            if grep -qE '^ *[0-9]+ +[0-9.]+ ' "$f"; then
                grep -E '^ *[0-9]+ +[0-9.]+ ' "$f" | tail -n 8 | indent
            else
                tail -n 6 "$f" | indent
            fi
        done
        for f in "$LOGS"/peer_{llama2_7b,smollm2}.log; do
            [ -f "$f" ] || continue
            say "  $(basename "$f" .log):"
            grep -E '^hf |SKIP|Error' "$f" | tail -n 6 | indent
        done
    fi
    if ls "$LOGS"/test_gpu_*.log >/dev/null 2>&1; then
        read -r passed failed skipped < <(cat "$LOGS"/test_gpu_*.log | grep -E '^test_gpu_[a-z_]+: [0-9]+ passed' |
            sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/' |
            awk '{ p += $1; f += $2; s += $3 } END { print p + 0, f + 0, s + 0 }')
        say ""
        say "plain GPU tests: $passed passed, $failed failed, $skipped skipped"
    fi
    tar -czf "$OUT/gpu_check_${TAG}_logs.tar.gz" -C "$ROOT/build/gpu_check_logs" "$TAG" 2>/dev/null
    say "phase $PHASE: $(($(date +%s) - T0)) s of a ${BUDGET}s budget; summary $SUMMARY, logs gpu_check_${TAG}_logs.tar.gz"
    local extra=""
    [ "$INCONCLUSIVE" -gt 0 ] && extra+="; $INCONCLUSIVE INCONCLUSIVE"
    [ "$SKIPPED" -gt 0 ] && extra+="; $SKIPPED step(s) SKIPPED for time"
    if [ "$code" = 2 ]; then
        say "RESULT: BUILD FAILED (phase $PHASE; the build log's tail is above)"
        exit 2
    fi
    if [ "$HAVE_GPU" = 0 ]; then
        say "RESULT: no GPU: the build is checked, nothing measured (phase $PHASE)"
        exit 3
    fi
    if [ "$FAILED" = 1 ]; then
        say "RESULT: FAILURES (phase $PHASE; see above and gpu_check_${TAG}_logs.tar.gz)$extra"
        exit 1
    fi
    if [ -n "$extra" ]; then
        say "RESULT: no failures, but not all checked (phase $PHASE$extra)"
    else
        say "RESULT: all passed (phase $PHASE)"
    fi
    exit 0
}

# ---- build (or reuse this machine's build of the same sources) ---------------------------------
T=build/cuda/tests
fingerprint() { # the sources, the flags and the compiler
    {
        printf '%s\n' "${MAKEVARS[@]}"
        nvcc --version 2>/dev/null | tail -n 1
        find Makefile kernels runtime sampler tokenizer tests -type f \( -name '*.c' -o -name '*.h' \
            -o -name '*.cu' -o -name '*.cuh' -o -name '*.mk' -o -name Makefile \) -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -c1-16
}
built() { # every binary of `make cuda` is there
    local s
    [ -x chorus-cuda ] || return 1
    for s in tests/test_gpu_*.c; do [ -x "$T/$(basename "$s" .c)" ] || return 1; done
    for s in kernels/dev/*.cu; do [ -e "$s" ] || continue; [ -x "build/cuda/dev/$(basename "$s" .cu)" ] || return 1; done
    return 0
}
say "steps:"
FP=$(fingerprint)
if [ -f build/gpu_check.stamp ] && [ "$(cat build/gpu_check.stamp)" = "$FP" ] && built; then
    say "  build: reused (built by an earlier call on this machine from the same sources and flags)"
else
    rm -f build/gpu_check.stamp
    if ! step build "${GPU_CHECK_BUILD_MAX:-240}" must make -j"$(nproc)" cuda "${MAKEVARS[@]}"; then
        grep -E 'error|Error' "$LOGS/build.log" | head -n 15 | indent
        say "    (last lines of the build log:)"
        tail -n 25 "$LOGS/build.log" | indent
        [ "$STEP_STATUS" = timeout ] && say "    (a re-run continues the build: the objects made so far stay while the machine is warm)"
        finish 2
    fi
    echo "$FP" >build/gpu_check.stamp
    nwarn=$(grep -cE 'warning[: #]' "$LOGS/build.log")
    say "    CUDA_ARCHS=$ARCHS, -Werror off: $nwarn compiler warning line(s)"
    grep -E 'warning[: #]' "$LOGS/build.log" | sort -u | head -n 6 | indent
fi

# ---- the plain tests and the dev programs ------------------------------------------------------
# The kernel lab (kernels/dev/*.cu, at Llama-2-7B's shapes by default): each program checks its
# kernel against the CPU twin (a failed check fails the phase) and, without --check, times it
# (us/call, GB/s, % of the copy bandwidth). A few seconds each, most of it the CPU reference.
lab() { # TAG [ARGS...]
    local tag=$1 b
    shift
    for b in build/cuda/dev/*; do
        [ -x "$b" ] || continue
        step "${tag}_$(basename "$b")" 30 must "$b" "$@"
        [ "$STEP_STATUS" = skipped ] && continue
        grep -E '^(check|time|SKIP)' "$LOGS/${tag}_$(basename "$b").log" | indent
        [ "$STEP_STATUS" = failed ] && tail -n 5 "$LOGS/${tag}_$(basename "$b").log" | indent
    done
}
if [ "$DO_TEST" = 1 ]; then
    for t in kernels attention sample model default; do
        gpu_test "test_gpu_$t" 90 must "$T/test_gpu_$t"
    done
    lab check --check # the kernel lab's checks here; its times in the bench phase
fi

if [ "$HAVE_GPU" = 0 ]; then
    [ "$DO_BENCH" = 1 ] && say "  bench: not run (no GPU)"
    [ "$DO_SAN" = 1 ] && say "  sanitizers: not run (no GPU)"
    finish 0
fi

# ---- the benchmark: the 7B shape first, then the default model's, then the peer ---------------
if [ "$DO_BENCH" = 1 ]; then
    B=(./chorus-cuda bench --device cuda)
    S=(--n "1,16,64" --prompt-len 128 --gen 64)
    step bench_llama2_7b 150 soft "${B[@]}" --random-model llama2-7b --n 1,64 --prompt-len 1024 --gen 32
    lab lab # each kernel at the 7B shape: ~20 s for all
    [ -f "$MODEL" ] && step bench_smollm2_file 60 soft "${B[@]}" -m "$MODEL" "${S[@]}"
    step bench_smollm2_random 60 soft "${B[@]}" --random-model smollm2-135m "${S[@]}"
    step bench_smollm2_nographs 45 soft env CHORUS_CUDA_GRAPHS=0 "${B[@]}" --random-model smollm2-135m --n 1,16 --prompt-len 128 --gen 64
    PY=$(command -v python3 || true)
    if [ -n "$PY" ] && timeout 60 "$PY" -c 'import torch, transformers; assert torch.cuda.is_available()' 2>/dev/null; then
        say "  peer: torch $("$PY" -c 'import torch; print(torch.__version__)'), transformers $("$PY" -c 'import transformers; print(transformers.__version__)')"
        step peer_llama2_7b 90 info env PYTHONUNBUFFERED=1 "$PY" tools/bench_hf.py --shape llama2-7b --n 1,64 --prompt-len 1024 --gen 32
        step peer_smollm2 60 info env PYTHONUNBUFFERED=1 "$PY" tools/bench_hf.py --shape smollm2-135m --n 1,16,64 --prompt-len 128 --gen 64
    else
        say "  peer: torch/transformers with CUDA not available: no Hugging Face rows"
    fi
fi

# ---- compute-sanitizer: probe once, then memcheck and racecheck ------------------------------
if [ "$DO_SAN" = 1 ]; then
    SAN_OK=0
    if [ -z "$SAN" ]; then
        say "  sanitizers: compute-sanitizer not found: skipped (INCONCLUSIVE)"
        INCONCLUSIVE=$((INCONCLUSIVE + 1))
    else
        # a tiny run tells whether the device lets the sanitizer in (some refuse: "Device not
        # supported", then error 999 at the first allocation) before time goes on the real ones
        PROBE=("$T/test_gpu_kernels")
        [ -x build/cuda/dev/attention_decode ] && PROBE=(build/cuda/dev/attention_decode --check 64 2 8 2 128 4)
        step sanitizer_probe 60 info "$SAN" --tool memcheck --error-exitcode 9 --print-limit 10 "${PROBE[@]}"
        plog=$LOGS/sanitizer_probe.log
        nerr=$(grep -oE 'ERROR SUMMARY: [0-9]+' "$plog" 2>/dev/null | grep -oE '[0-9]+$' | tail -n 1)
        if [ "$STEP_STATUS" = skipped ]; then
            :
        elif [ "$STEP_STATUS" = timeout ]; then
            say "    compute-sanitizer: the probe timed out: sanitizer steps skipped (INCONCLUSIVE)"
            INCONCLUSIVE=$((INCONCLUSIVE + 1))
        elif grep -qiE 'Device not supported|not supported on this|Failed to initialize|initialization failed|Unable to (find|load|inject)|Target application terminated before' "$plog" ||
            [ -z "$nerr" ]; then
            say "    compute-sanitizer: does not run on this device (probe: ${PROBE[*]##*/}, see below): sanitizer steps skipped (INCONCLUSIVE)"
            grep -vE '^ *$' "$plog" | head -n 6 | indent
            INCONCLUSIVE=$((INCONCLUSIVE + 1))
        elif [ "$STEP_STATUS" = failed ] && [ "$nerr" = 0 ]; then
            say "    compute-sanitizer: the probe (${PROBE[*]##*/}) failed under it with no sanitizer error: the device may refuse the sanitizer, or the program fails by itself (see build+test): sanitizer steps skipped (INCONCLUSIVE)"
            grep -vE '^ *$' "$plog" | grep -v COMPUTE-SANITIZER | head -n 6 | indent
            INCONCLUSIVE=$((INCONCLUSIVE + 1))
        else
            SAN_OK=1
            say "    compute-sanitizer: runs here (memcheck probe on ${PROBE[*]}: $nerr error(s))"
            if [ "$nerr" != 0 ]; then
                FAILED=1
                grep -E '^========= ' "$plog" | grep -v COMPUTE-SANITIZER | head -n 14 | indent
            fi
        fi
    fi
    if [ "$SAN_OK" = 1 ]; then
        RUNS=(memcheck:kernels memcheck:attention memcheck:sample racecheck:kernels racecheck:attention racecheck:sample)
        n=${#RUNS[@]}
        for r in "${RUNS[@]}"; do # a fair share of what is left for each, so every one starts
            share=$((($(left) - RESERVE) / n))
            [ "$share" -lt 30 ] && share=30
            [ "$share" -gt 150 ] && share=150
            gpu_test "${r%%:*}_${r#*:}" "$share" soft "$SAN" --tool "${r%%:*}" --error-exitcode 9 --print-limit 20 "$T/test_gpu_${r#*:}"
            n=$((n - 1))
        done
        if [ $(($(left) - RESERVE)) -ge 40 ]; then
            gpu_test memcheck_model 90 soft "$SAN" --tool memcheck --error-exitcode 9 --print-limit 20 "$T/test_gpu_model"
        else
            say "  memcheck_model: not run (under 40 s left; it runs only when time is left)"
        fi
    fi
fi

finish 0
