#!/usr/bin/env bash
# Runs every test: the C test binaries in build/tests (or $TEST_BIN_DIR), the Python tests in
# tests/*.py (with the project's virtual environment) and short runs of the libFuzzer targets in
# build/fuzz, then prints the total as the last line.
# Each test prints a line "name: N passed, N failed, N skipped"; a test that crashes counts as
# one failure.
set -u
# Tests check correctness, not speed: threads that sleep at barriers keep a busy machine usable.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$(dirname "$0")/.."
bin_dirs=${TEST_BIN_DIR:-build/cpu/tests build/asan/tests}
py=${PYTHON:-.venv/bin/python}
pass=0 fail=0 skip=0
run_one() { # name, command...
    local name=$1; shift
    local out rc line log
    log="build/test-logs/${name//\//_}.err"
    out=$("$@" 2>"$log"); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
    printf '%s\n' "$out" | grep -v -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed' | sed 's/^/  /'
    if [ -z "$line" ]; then
        echo "$name: crashed or printed no summary (exit $rc); stderr:"; tail -n 20 "$log" | sed 's/^/  /'
        fail=$((fail + 1)); return
    fi
    echo "$name: ${line#*: }"
    grep -E '^(FAIL|SKIP)' "$log" | head -n 40 | sed 's/^/  /'
    local p f s
    p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$name: exited $rc with no failed check"; fail=$((fail + 1))
    fi
}
mkdir -p build/test-logs
for d in $bin_dirs; do
    for t in "$d"/test_*; do
        [ -x "$t" ] || continue
        case $d in */asan/*) name="asan/$(basename "$t")" ;; *) name=$(basename "$t") ;; esac
        run_one "$name" "$t"
    done
done
# The int8 kernels are built for four instruction sets and the run above used the best this CPU
# has; the C tests run again with each other available level forced (CHORUS_ISA), so every level
# passes the whole C suite here (a level is available when `chorus --help` accepts it).
if [ -z "${TEST_BIN_DIR:-}" ] && [ -z "${CHORUS_ISA:-}" ] && [ -z "${SKIP_ISA_LEVELS:-}" ]; then
    levels=""
    for isa in portable avx2 avxvnni avx512vnni; do
        CHORUS_ISA=$isa ./chorus --help >/dev/null 2>&1 && levels="$levels $isa"
    done
    for isa in $levels; do
        [ "$isa" = "${levels##* }" ] && continue # the default, run above
        for t in build/cpu/tests/test_*; do
            [ -x "$t" ] && run_one "$isa/$(basename "$t")" env CHORUS_ISA="$isa" "$t"
        done
    done
fi
if [ -z "${TEST_BIN_DIR:-}" ]; then # the Python tests run once, with the normal build
    for t in tests/test_*.py; do
        [ -f "$t" ] || continue
        run_one "$(basename "$t" .py)" "$py" "$t"
    done
    # libFuzzer targets (make fuzz-build): each over its seeds, then FUZZ_TEST_SECONDS of
    # mutations, so that they keep building and running (tests/fuzz/run.sh)
    for t in build/fuzz/fuzz_*; do
        [ -x "$t" ] || continue
        run_one "$(basename "$t")" bash tests/fuzz/run.sh "$(basename "$t")" "${FUZZ_TEST_SECONDS:-5}"
    done
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
