#!/usr/bin/env bash
# tests/run.sh [STAGE...] - runs test stages, then prints the total as the last line:
# "N passed, N failed, N skipped". Each test prints "name: N passed, N failed[, N skipped]"; a
# test that crashes or prints no such line counts as one failure. Beside each test's line, its
# seconds.
# Stages (default: c asan py replay, what `make test` runs):
#   c          the C tests of the normal build (build/cpu/tests), at the best int8 level this CPU
#              has (runtime/cpu/isa.c picks it)
#   asan       the C tests of the ASan + UBSan build (build/asan/tests), but the slow ones
#   asan-slow  the slow ones ($ASAN_SLOW: make test-all runs them)
#   isa        the C tests again with each other int8 level this CPU has forced (CHORUS_ISA)
#   py         the Python tests, tests/test_*.py (CHORUS_TEST_FULL=1: their exhaustive cases)
#   replay     each libFuzzer target's seeds through the ASan build, without libFuzzer
#   fuzz       each libFuzzer target: its seeds, then FUZZ_TEST_SECONDS (default 5) mutating
#   dir:PATH   the C tests in PATH, named after its build (dir:build/emu/tests -> emu/test_x)
#   py:FILE    one Python test
# TEST_TOTALS=FILE also appends "passed failed skipped" to FILE (make test-all adds them up).
set -u
# Tests check correctness, not speed: threads that sleep at barriers keep a busy machine usable.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# numpy's BLAS threads spin too: one each (a reference's small products ran ~70x slower with
# them on a busy machine)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
ASAN_SLOW=${ASAN_SLOW:-test_chains test_forward_batch}
pass=0 fail=0 skip=0
mkdir -p build/test-logs

run_one() { # name, command...
    local name=$1; shift
    local out rc line log t0 secs
    log="build/test-logs/${name//\//_}.err"
    t0=$(date +%s.%N)
    out=$("$@" 2>"$log"); rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    line=$(printf '%s\n' "$out" | grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
    printf '%s\n' "$out" | grep -v -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed' | sed 's/^/  /'
    if [ -z "$line" ]; then
        echo "$name: crashed or printed no summary (exit $rc, ${secs} s); stderr:"
        tail -n 20 "$log" | sed 's/^/  /'
        fail=$((fail + 1)); return
    fi
    echo "$name: ${line#*: }  [${secs} s]"
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

is_slow() { # test binary name -> 0 if it is in $ASAN_SLOW
    case " $ASAN_SLOW " in *" $1 "*) return 0 ;; esac
    return 1
}

has_source() { # test binary name -> 0 if its source is still in tests/ (a binary left in build/
    # by a renamed or removed test is not run)
    [ -f "tests/$1.c" ] || [ -f "tests/emu/$1.cu" ]
}

c_dir() { # dir, name prefix ("" or "tag/"), which: all | fast | slow
    local t b
    for t in "$1"/test_*; do
        [ -x "$t" ] && [ -f "$t" ] || continue
        b=$(basename "$t")
        case $b in *.*) continue ;; esac # sources and logs beside the binaries
        has_source "$b" || continue
        [ "$3" = fast ] && is_slow "$b" && continue
        [ "$3" = slow ] && ! is_slow "$b" && continue
        run_one "$2$b" "$t"
    done
}

isa_levels() { # the int8 levels but the default, each once (a level exists if chorus takes it)
    local isa levels=""
    for isa in portable avx2 avxvnni avx512vnni; do
        CHORUS_ISA=$isa ./chorus --help >/dev/null 2>&1 && levels="$levels $isa"
    done
    for isa in $levels; do [ "$isa" != "${levels##* }" ] && echo "$isa"; done
}

stage() {
    local t isa d
    case $1 in
    c) c_dir build/cpu/tests "" all ;;
    asan) c_dir build/asan/tests asan/ fast ;;
    asan-slow) c_dir build/asan/tests asan/ slow ;;
    isa)
        for isa in $(isa_levels); do
            for t in build/cpu/tests/test_*; do
                [ -x "$t" ] && has_source "$(basename "$t")" &&
                    run_one "$isa/$(basename "$t")" env CHORUS_ISA="$isa" "$t"
            done
        done
        ;;
    py)
        for t in tests/test_*.py; do
            [ -f "$t" ] && run_one "$(basename "$t" .py)" "$py" "$t"
        done
        ;;
    py:*) run_one "$(basename "${1#py:}" .py)" "$py" "${1#py:}" ;;
    replay)
        for t in build/asan/fuzz/replay_fuzz_*; do
            [ -x "$t" ] || continue
            run_one "${t##*/}" "$t" "build/fuzz/seeds/${t##*/replay_}"
        done
        ;;
    fuzz)
        # libFuzzer targets (make fuzz-build): each over its seeds, then FUZZ_TEST_SECONDS of
        # mutations (tests/fuzz/run.sh)
        for t in build/fuzz/fuzz_*; do
            [ -x "$t" ] || continue
            run_one "$(basename "$t")" bash tests/fuzz/run.sh "$(basename "$t")" "${FUZZ_TEST_SECONDS:-5}"
        done
        ;;
    dir:*)
        d=${1#dir:}
        c_dir "$d" "$(basename "$(dirname "$d")")/" all
        ;;
    *)
        echo "tests/run.sh: unknown stage $1" >&2
        fail=$((fail + 1))
        ;;
    esac
}

[ $# -eq 0 ] && set -- c asan py replay
for s in "$@"; do stage "$s"; done
echo "$pass passed, $fail failed, $skip skipped"
[ -n "${TEST_TOTALS:-}" ] && echo "$pass $fail $skip" >>"$TEST_TOTALS"
[ "$fail" -eq 0 ]
