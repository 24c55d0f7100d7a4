#!/usr/bin/env bash
# gpu_check.sh - the prepared device check of the CUDA backend: on a bare machine with the CUDA
# toolkit and no network it builds chorus's CUDA build, runs every GPU test (again under
# compute-sanitizer memcheck and racecheck when it is there), runs the GPU benchmark beside the
# Hugging Face peer (tools/bench_hf.py, where torch is installed), and writes ONE summary file,
# $OUT/gpu_check.txt (plus the full logs as $OUT/gpu_check_logs.tar.gz), within a time budget
# (GPU_CHECK_BUDGET seconds, default 420: under 8 minutes with the machine's start-up).
#
#   tools/gpu_check.sh --prepare [--model]   here: fill the carry folder (below)
#   tools/gpu_check.sh --stash DIR           device, first of two calls: keep a model part
#   tools/gpu_check.sh                       device: the check
#
# What the device needs beyond the working tree: the carry folder .devcarry/ (git-ignored;
# CHORUS_CARRY names another), made here by `--prepare`:
#   .devcarry/common/stb/stb_ds.h      libstb-dev's header: the tokenizer, linked into
#                                      chorus-cuda, needs it, and the device has no apt
#   .devcarry/common/tiny-gpu-*.gguf   the tiny test models (the device has no `gguf` package)
# The default model (98 MB) does not fit one call's 64 MiB: `--prepare --model` also splits it
# into .devcarry/model-a/ and .devcarry/model-b/ (two parts and the sha256). Carry model-a with
# common in a first call running `tools/gpu_check.sh --stash .devcarry/model-a` (it copies the
# part to /tmp/chorus-model/, which lives as long as the machine stays warm: 30 s), then AT ONCE
# carry model-b with common in the check itself: the parts are joined in /tmp and checked
# against the sha256. Without the model the default-model test reports SKIP and the benchmark
# uses a random model of the same shape (--random-model smollm2-135m) only.
#
# With this workplace's device tool (it sends the session's own checkout, so run it from one
# that holds this code, and sets $OUT): --prepare here, then
#   run(command="bash tools/gpu_check.sh", carry=[".devcarry/common"], timeout_s=480)
# or, with the default model, run(command="bash tools/gpu_check.sh --stash .devcarry/model-a",
# carry=[".devcarry/common", ".devcarry/model-a"]) and straight after it the same check call with
# carry=[".devcarry/common", ".devcarry/model-b"]. The summary comes back as gpu_check.txt.
#
# Exit code: 0 all passed on a GPU; 1 a test failed; 2 the build failed; 3 no GPU.
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
    echo "carry: $CARRY/common (+ $CARRY/model-a, then $CARRY/model-b: see the header)"
    exit 0
}
case "${1:-}" in
--prepare) prepare "${2:-}" ;;
--stash)
    mkdir -p "$STASH" && cp "$2"/* "$STASH/" && ls -la "$STASH" && exit 0
    exit 2
    ;;
esac

# ---- the check ----------------------------------------------------------------------------------
OUT=${OUT:-$ROOT/build/gpu_check}
BUDGET=${GPU_CHECK_BUDGET:-420}
LOGS=$ROOT/build/gpu_check_logs
mkdir -p "$OUT" "$LOGS"
SUMMARY=$OUT/gpu_check.txt
: >"$SUMMARY"
T0=$(date +%s)
FAILED=0
left() { echo $((BUDGET - ($(date +%s) - T0))); }
say() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME MAX_SECONDS CMD...: runs CMD with a timeout of MAX (or what is left of the budget,
# less a reserve for the summary), its output in $LOGS/NAME.log; appends a status line.
step() {
    local name=$1 max=$2 t rc s0
    shift 2
    t=$(($(left) - 15))
    [ "$t" -gt "$max" ] && t=$max
    if [ "$t" -lt 10 ]; then
        say "  $name: SKIPPED (time budget used up)"
        return 99
    fi
    s0=$(date +%s)
    timeout -k 5 "$t" "$@" >"$LOGS/$name.log" 2>&1
    rc=$?
    local st=ok
    [ $rc -ne 0 ] && st="FAILED (exit $rc)"
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && st="TIMED OUT after ${t}s"
    say "  $name: $st, $(($(date +%s) - s0)) s"
    return $rc
}

# A GPU test binary: its summary line, and its FAIL / mismatch lines.
gpu_test() {
    local name=$1 max=$2
    shift 2
    step "$name" "$max" "$@"
    local rc=$?
    grep -E '^test_gpu_[a-z_]+: [0-9]+ passed' "$LOGS/$name.log" | sed 's/^/    /' | tee -a "$SUMMARY"
    grep -E 'FAIL|ERROR SUMMARY|Error|error|RACECHECK SUMMARY' "$LOGS/$name.log" | head -n 25 | sed 's/^/    /' | tee -a "$SUMMARY"
    [ $rc -ne 0 ] && [ $rc -ne 99 ] && FAILED=1
    return $rc
}

say "chorus gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git status --porcelain 2>/dev/null | grep -q . && echo ' (+ local changes)')"

# ---- the machine --------------------------------------------------------------------------------
if ! command -v nvcc >/dev/null 2>&1; then
    for d in /usr/local/cuda/bin /usr/local/cuda-*/bin /opt/cuda/bin; do
        [ -x "$d/nvcc" ] && export PATH="$d:$PATH" && break
    done
fi
HAVE_GPU=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    HAVE_GPU=1
    say "gpu: $(nvidia-smi -L | head -n 1); driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)"
else
    say "gpu: NONE FOUND (nvidia-smi missing or lists no GPU): the build is checked, the tests will SKIP"
fi
say "nvcc: $(command -v nvcc >/dev/null && nvcc --version | tail -n 1 || echo 'NOT FOUND')"
say "cc: $(cc --version 2>/dev/null | head -n 1)"
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
say "compute-sanitizer: ${SAN:-not found}"
PY=$(command -v python3 || true)
HF=0
if [ -n "$PY" ] && "$PY" -c 'import torch, transformers; assert torch.cuda.is_available()' 2>/dev/null; then
    HF=1
    say "peer: torch $("$PY" -c 'import torch; print(torch.__version__)'), transformers $("$PY" -c 'import transformers; print(transformers.__version__)')"
else
    say "peer: torch/transformers with CUDA not available: no Hugging Face rows"
fi

# ---- what the build and the tests need ---------------------------------------------------------
MAKEVARS=(CUDA_ARCHS="${CUDA_ARCHS:-90}")
[ "$HAVE_GPU" = 0 ] && MAKEVARS=(CUDA_ARCHS="${CUDA_ARCHS:-80 90}")
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
        for l in $(dirname "$lib")/libcublasLt.so*; do [ -e "$l" ] && ln -sf "$l" build/gpu_check_lib/libcublasLt.so; done
        MAKEVARS+=(CUDA_LIBS="-L$CUDA_HOME/lib64 -L$CUDA_HOME/lib64/stubs -L$ROOT/build/gpu_check_lib -lcudart -lcublas")
        export LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"
        say "cublas: $lib"
    fi
fi
for m in weights/tiny-gpu-{untied,tied,qwen2,qwen3,llama3}.gguf; do
    [ -f "$m" ] || { [ -f "$CARRY/common/$(basename "$m")" ] && cp "$CARRY/common/$(basename "$m")" "$m"; }
    [ -f "$m" ] || say "tiny model $m: missing (make tiny-gpu here and carry it): test_gpu_model will SKIP"
done
MODEL=${CHORUS_MODEL:-weights/$MODEL_NAME}
if [ ! -f "$MODEL" ]; then # reassemble from the two carried parts
    [ -d "$CARRY/model-b" ] && cp "$CARRY/model-b"/* "$STASH/" 2>/dev/null
    if [ -f "$STASH/part00" ] && [ -f "$STASH/part01" ]; then
        cat "$STASH/part00" "$STASH/part01" >"$STASH/$MODEL_NAME"
        if (cd "$STASH" && sha256sum -c sha256 >/dev/null 2>&1); then
            MODEL=$STASH/$MODEL_NAME
        else
            say "default model: the parts in $STASH do not match the sha256"
        fi
    fi
fi
[ -f "$MODEL" ] && say "default model: $MODEL" || say "default model: not here (test_gpu_default will SKIP; bench uses a random model of its shape)"
export CHORUS_MODEL=$MODEL

# ---- build ---------------------------------------------------------------------------------------
say "steps:"
if ! step build 240 make -j"$(nproc)" cuda "${MAKEVARS[@]}"; then
    tail -n 30 "$LOGS/build.log" | sed 's/^/    /' | tee -a "$SUMMARY"
    tar -czf "$OUT/gpu_check_logs.tar.gz" -C build gpu_check_logs 2>/dev/null
    exit 2
fi

# ---- tests, plain, then under the sanitizers ---------------------------------------------------
T=build/cuda/tests
for t in kernels attention sample model default; do
    gpu_test "test_gpu_$t" 120 "$T/test_gpu_$t"
done
if [ "$HAVE_GPU" = 1 ]; then
    MEM=("$SAN" --tool memcheck --error-exitcode 9 --print-limit 20)
    RACE=("$SAN" --tool racecheck --error-exitcode 9 --print-limit 20)
    [ -n "$SAN" ] && for t in kernels attention sample; do
        gpu_test "memcheck_$t" 90 "${MEM[@]}" "$T/test_gpu_$t"
    done
    # the benchmark: chorus through the Backend (graphs on, then off), then the peer
    B=(./chorus-cuda bench --device cuda --gen 64 --prompt-len 128)
    step bench_smollm2_random 90 "${B[@]}" --random-model smollm2-135m --n 1,16,64
    [ -f "$MODEL" ] && step bench_smollm2_file 90 "${B[@]}" -m "$MODEL" --n 1,16,64
    step bench_smollm2_nographs 60 env CHORUS_CUDA_GRAPHS=0 "${B[@]}" --random-model smollm2-135m --n 1,16
    [ "$HF" = 1 ] && step peer_smollm2 120 "$PY" tools/bench_hf.py --shape smollm2-135m --n 1,16,64 --prompt-len 128 --gen 64
    [ -n "$SAN" ] && for t in attention sample; do
        gpu_test "racecheck_$t" 90 "${RACE[@]}" "$T/test_gpu_$t"
    done
    [ -n "$SAN" ] && gpu_test memcheck_model 120 "${MEM[@]}" "$T/test_gpu_model"
    step bench_llama2_7b 120 ./chorus-cuda bench --device cuda --random-model llama2-7b --n 1,64 --prompt-len 1024 --gen 32
    [ "$HF" = 1 ] && step peer_llama2_7b 120 "$PY" tools/bench_hf.py --shape llama2-7b --n 1,64 --prompt-len 1024 --gen 32
fi

# ---- the summary -------------------------------------------------------------------------------
say ""
say "benchmark (chorus bench; columns: N, prefill t/s, decode t/s aggregate, t/s/chain, ms/step, forward ms, sample ms, KV MB, GB/s, RSS MB):"
for f in "$LOGS"/bench_*.log; do
    [ -f "$f" ] || continue
    say "  $(basename "$f" .log):"
    grep -vE '^ *N ' "$f" | tail -n 8 | sed 's/^/    /' | tee -a "$SUMMARY"
done
for f in "$LOGS"/peer_*.log; do
    [ -f "$f" ] || continue
    say "  $(basename "$f" .log):"
    grep -E '^hf |SKIP|Error' "$f" | tail -n 6 | sed 's/^/    /' | tee -a "$SUMMARY"
done
total() { # column $1 (passed, failed, skipped) summed over the plain test logs
    cat "$LOGS"/test_gpu_*.log 2>/dev/null | grep -E '^test_gpu_[a-z_]+: [0-9]+ passed' |
        sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\1 \2 \3/' |
        awk -v c="$1" '{ s += $c } END { print s + 0 }'
}
passed=$(total 1) failed=$(total 2) skipped=$(total 3)
say ""
say "plain GPU tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped; $(($(date +%s) - T0)) s in all"
tar -czf "$OUT/gpu_check_logs.tar.gz" -C build gpu_check_logs 2>/dev/null
[ "$HAVE_GPU" = 0 ] && { say "RESULT: no GPU: nothing measured"; exit 3; }
[ "$FAILED" = 1 ] && { say "RESULT: FAILURES (see above and gpu_check_logs.tar.gz)"; exit 1; }
say "RESULT: all GPU tests passed"
exit 0
