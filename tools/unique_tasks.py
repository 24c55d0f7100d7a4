#!/usr/bin/env python3
"""unique_tasks.py - the first N tasks of a JSONL task file whose question text has not been seen
before, so that --shard 0/2 (calibration) and --shard 1/2 (held-out) of the result share no
question. The README's compute-optimal figures use

    ./chorus gen arith --count 660 --levels 1-5 --seed 1 | \
        .venv/bin/python tools/unique_tasks.py 600 > arith600.jsonl

(660 generated questions hold 600 distinct ones; generated arithmetic repeats a few easy ones).
"""
import json
import sys


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: unique_tasks.py N < tasks.jsonl > unique.jsonl", file=sys.stderr)
        return 2
    want, seen, kept = int(sys.argv[1]), set(), 0
    for line in sys.stdin:
        if not line.strip() or kept == want:
            continue
        q = json.loads(line)["question"]
        if q in seen:
            continue
        seen.add(q)
        sys.stdout.write(line)
        kept += 1
    if kept < want:
        print(f"unique_tasks.py: only {kept} distinct questions, {want} wanted", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
