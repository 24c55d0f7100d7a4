#!/usr/bin/env bash
# Runs one libFuzzer target: every seed once, then mutations for SECONDS. Prints
#   "NAME: N passed, N failed" (N passed = seeds run clean + 1 for a clean timed run)
# and, on stderr, libFuzzer's statistics; a crash prints a FAIL line naming the saved input.
#   tests/fuzz/run.sh NAME SECONDS
# The corpus is $FUZZ_CORPUS (kept, it grows run after run: make fuzz) or a fresh temporary
# copy of the seeds (make test). Inputs that crash are saved in build/fuzz/artifacts/NAME/.
set -u
name=$1 seconds=$2
cd "$(dirname "$0")/../.."
bin=build/fuzz/$name seeds=build/fuzz/seeds/$name art=build/fuzz/artifacts/$name
if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    echo "FAIL $name: $bin or $seeds missing (make fuzz-build)" >&2
    echo "$name: 0 passed, 1 failed"; exit 1
fi
mkdir -p "$art"
corpus=${FUZZ_CORPUS:-}
if [ -z "$corpus" ]; then corpus=$(mktemp -d); trap 'rm -rf "$corpus"' EXIT; fi
mkdir -p "$corpus"
# -timeout: an input that takes this long is a hang (answer extraction of 100k unclosed
# \boxed{ took 34 s when it was quadratic); -rss_limit_mb: a bounded-memory parser stays small.
opts=(-timeout=10 -rss_limit_mb=2048 -max_len=100000 -artifact_prefix="$art/"
      -print_final_stats=1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
log=build/fuzz/$name.log
passed=0 failed=0
n_seeds=$(find "$seeds" -type f ! -name '.*' | wc -l)
if "$bin" "${opts[@]}" -runs=0 "$seeds" >"$log" 2>&1; then
    passed=$((passed + n_seeds))
else
    failed=$((failed + 1))
    echo "FAIL $name: a seed crashed; see $log" >&2; tail -n 30 "$log" >&2
fi
if [ "$failed" -eq 0 ]; then
    if "$bin" "${opts[@]}" -max_total_time="$seconds" "$corpus" "$seeds" >"$log" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name: crash or hang; input in $(ls -t "$art" | head -n 1 | sed "s|^|$art/|"); see $log" >&2
        grep -E 'ERROR|SUMMARY|assertion|runtime error|#[0-9]+ 0x' "$log" | head -n 30 >&2
    fi
fi
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" \
    | sed "s/^/$name /" >&2
echo "$name: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
