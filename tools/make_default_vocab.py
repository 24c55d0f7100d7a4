#!/usr/bin/env python3
"""Make test vocabularies for llama.cpp's "default" BPE pre-tokenizer from GPT-2's vocab.

    .venv/bin/python tools/make_default_vocab.py [SRC] [OUTDIR]

Copies SRC (default weights/ggml-vocab-gpt-2.gguf) twice into OUTDIR (default weights/):
  ggml-vocab-default.gguf  tokenizer.ggml.pre = "default"
  ggml-vocab-nopre.gguf    no tokenizer.ggml.pre key (llama.cpp then uses "default" too)
Every other key, and the (absent) tensors, are kept as they are. Needs the gguf package.
"""
import os
import sys

import gguf

PRE = "tokenizer.ggml.pre"


def copy(reader, dst, pre):
    """Write reader's metadata to dst with tokenizer.ggml.pre set to pre (None: removed)."""
    arch = reader.fields["general.architecture"].contents()
    w = gguf.GGUFWriter(dst + ".tmp", arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture" or key == PRE:
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(key, field.contents(), vtype, sub_type=sub)
    if pre is not None:
        w.add_string(PRE, pre)
    for t in reader.tensors:  # vocab-only files have none; kept for completeness
        w.add_tensor(t.name, t.data, raw_shape=t.shape[::-1], raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(dst + ".tmp", dst)
    print(dst)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "weights/ggml-vocab-gpt-2.gguf"
    outdir = sys.argv[2] if len(sys.argv) > 2 else "weights"
    reader = gguf.GGUFReader(src)
    copy(reader, os.path.join(outdir, "ggml-vocab-default.gguf"), "default")
    copy(reader, os.path.join(outdir, "ggml-vocab-nopre.gguf"), None)


if __name__ == "__main__":
    main()
