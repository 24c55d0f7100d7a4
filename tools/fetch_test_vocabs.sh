#!/usr/bin/env bash
# Puts llama.cpp's vocab-only GGUF files (tokenizer test vocabularies, MIT licensed) into weights/.
# They ship inside the llama-cpp-python source distribution (vendor/llama.cpp/models/), which pip
# downloads without building anything. Files that are already present are kept.
# ggml-vocab-default.gguf and ggml-vocab-nopre.gguf (llama.cpp's "default" pre-tokenizer) are made
# from ggml-vocab-gpt-2.gguf by tools/make_default_vocab.py (needs the gguf package).
#   bash tools/fetch_test_vocabs.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-${PYTHON:-.venv/bin/python}}
[ -x "$py" ] || py=python3
names="llama-spm llama-bpe qwen2 gpt-2"
missing=""
for n in $names; do [ -f "weights/ggml-vocab-$n.gguf" ] || missing="$missing $n"; done
derived() {
    if [ ! -f weights/ggml-vocab-default.gguf ] || [ ! -f weights/ggml-vocab-nopre.gguf ]; then
        "$py" tools/make_default_vocab.py weights/ggml-vocab-gpt-2.gguf weights
    fi
}
if [ -z "$missing" ]; then
    derived
    touch weights/ggml-vocab-*.gguf # present: up to date for make
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sdist=${LLAMA_CPP_SDIST:-}
if [ -z "$sdist" ]; then
    "$py" -m pip download -q --no-deps --no-binary :all: -d "$tmp" "llama-cpp-python==0.3.36" >&2
    sdist=$(ls "$tmp"/llama_cpp_python-*.tar.gz)
fi
mkdir -p weights
for n in $missing; do
    f="ggml-vocab-$n.gguf"
    tar -xzf "$sdist" -C "$tmp" --wildcards "*/vendor/llama.cpp/models/$f"
    mv "$tmp"/llama_cpp_python-*/vendor/llama.cpp/models/"$f" weights/"$f"
    touch weights/"$f" # tar kept the 2022 date: make would rerun this script every time
    echo "weights/$f"
done
derived
