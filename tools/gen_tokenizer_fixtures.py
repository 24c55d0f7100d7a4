#!/usr/bin/env python3
"""Generate tokenizer parity fixtures with llama.cpp (through llama-cpp-python).

Usage (from the repository root; `make deps-peer` installs llama-cpp-python into .venv and
`bash tools/fetch_test_vocabs.sh` puts llama.cpp's vocab-only GGUF files into weights/, and
derived ones from tools/make_default_vocab.py):

    .venv/bin/python tools/gen_tokenizer_fixtures.py

For every vocabulary below that is present it writes tests/data/tok_<name>.txt, one case a line:

    <parse_special 0|1> TAB <input bytes as hex, '-' when empty> TAB <ids separated by spaces>

The ids are llama.cpp's `llama_tokenize(text, add_special=False, parse_special)` output, i.e. no
BOS; tests/test_tokenizer.c compares chorus's tokenizer_encode against every line.
"""
import os
import random
import sys

VOCABS = [  # (fixture name, model path)
    ("smollm", "weights/SmolLM2-135M-Instruct.Q4_1.gguf"),
    ("llama_spm", "weights/ggml-vocab-llama-spm.gguf"),
    ("llama_bpe", "weights/ggml-vocab-llama-bpe.gguf"),
    ("qwen2", "weights/ggml-vocab-qwen2.gguf"),
    ("gpt2", "weights/ggml-vocab-gpt-2.gguf"),
    # GPT-2's vocab with tokenizer.ggml.pre = "default" (tools/make_default_vocab.py); the test
    # also checks this fixture against ggml-vocab-nopre.gguf, which lacks the key.
    ("default", "weights/ggml-vocab-default.gguf"),
]


def corpus():
    """>= 200 byte strings covering the categories the issue lists. Deterministic."""
    s = [
        "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\t\n", " \n", "\n ", "\r\n", " \r\n \r\n",
        "Hello world", " Hello world", "Hello World", " Hello World", " Hello World!",
        "Hello, world!", " Hello, world!", " this is 🦙.cpp", "w048 7tuijk dsdfhu",
        "нещо на Български", "កាន់តែពិសេសអាចខលចេញ", "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ (only emoji that has its own token)",
        "Hello", " Hello", "  Hello", "   Hello", "    Hello", "    Hello\n    Hello", " (", "\n =", "' era",
        "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～",
        "!!!!!!", "3", "33", "333", "3333", "33333", "333333", "3333333", "33333333", "333333333",
        "Cửa Việt", " discards",
        "I'm", "you're", "they've", "we'll", "she'd", "it's", "don't", "I'M", "YOU'RE", "THEY'VE", "It'S",
        "'s", "'t", "'re", "''", "'", "x'", "rock'n'roll", "O'Neil's",
        "The quick brown fox jumps over the lazy dog.",
        "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG!",
        "A baker made 3 trays of 12 cookies and sold 20. How many cookies are left?",
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
        "The answer is 42.", "#### 1,234,567", "\\boxed{3.14159}", "$1,000.00", "-12.5e-3", "0x1F", "1/2 + 3/4 = 5/4",
        "12345678901234567890", "3.141592653589793238462643383279502884197169399375105820974944",
        "2024-01-01T12:34:56Z", "phone: +1 (555) 123-4567", "v1.2.3-rc4", "x²+y³=z¹", "½ ¼ ¾", "Ⅻ ⅻ", "١٢٣٤٥", "१२३",
        "int main(void) {\n    return 0;\n}\n",
        "def f(x):\n\treturn x ** 2  # square\n",
        "for (int i = 0; i < n; ++i) { a[i] += b[i] * c; }",
        "if x==1:\n    print('one')\nelif x == 2:\n        pass\n",
        "<div class=\"main\">&nbsp;</div>", "SELECT * FROM users WHERE id = 1;",
        "console.log(`${a}+${b}`);", "#include <stdio.h>", "    \n\n    \n", "a\n\n\nb", "a \n b",
        "x    y", "x\t\ty", "   leading", "trailing   ", "mixed \t \n \r\n whitespace", "\u00a0nbsp\u00a0", "\u3000ideographic\u3000space",
        "\u2028line sep\u2029para sep", "\u000bvt\u000cff", "\u0085nel", "a\u2003b\u2009c",
        "...", "?!?!", "---", "***", "(((", ")))", "[[]]", "{}", "<<>>", "@#$%^&*", "~`|\\", "::", ";;", "\"\"\"", "'''",
        "Hello!!! How??? Fine...", "e.g. i.e. etc.", "@user #hashtag", "https://example.com/a?b=c&d=e#f", "user@example.com",
        "日本語のテキストです。", "中文文本，包含标点符号！", "한국어 텍스트입니다.", "漢字かなカナ", "ひらがな", "カタカナ",
        "Ελληνικά κείμενα", "Привет, мир!", "مرحبا بالعالم", "שלום עולם", "สวัสดีชาวโลก", "नमस्ते दुनिया", "Tiếng Việt có dấu",
        "😀", "😀😀😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇩🇪", "❤️", "☃", "🦙🦙 llama", "emoji😀inside", "🙂 smile 🙃",
        "e\u0301", "cafe\u0301", "n\u0303", "a\u0300\u0301\u0302\u0303", "\u0301alone", "Zalgo: Z\u0351\u0352\u0353a\u0354\u0355l\u0356g\u0357o",
        "ﬁ ligature", "Ａｂｃ fullwidth", "ℌ𝔢𝔩𝔩𝔬", "𝒜𝒷𝒸", "\U0001F600\U0001F601", "\U00010000", "\U0010FFFD", "\U000E0001",
        "\u200b zero width", "\u200d\u200c", "\ufeffBOM", "\ufffd replacement",
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
        "text<|endoftext|>more", "<|im_start|><|im_end|>", "<|im_start", "im_start|>", "<s>", "</s>", "<unk>", "<s> hello </s>",
        "[INST] hi [/INST]", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", "<|eot_id|>",
        "<|im_end|>\n", " <|im_start|> ", "<<|im_start|>>", "<repo_name>x<file_sep>", "<|endoftext|><|endoftext|>",
        "a<s>b</s>c", "<0x0A>", "▁", "▁▁hello", "Ġhello", "Ċ",
    ]
    out = [x.encode("utf-8") for x in s]
    # invalid UTF-8: lone continuation, truncated sequences, overlong, surrogates, bad leads
    out += [b"\x80", b"\xff", b"\xfe\xff", b"abc\x80def", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xe2\x82(",
            b"\xf0\x9f\x98", b"\xf0\x9f\x98 x", b"\xc0\x80", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
            b"hello\xc3", b"\xe4ab", b"\x80\x80\x80", b"caf\xe9", b"\xc3\xa9\xc3", b"\xa0\xa1", b"1\x802\x803"]
    # long runs
    out += [b"1" * 50, b"9876543210" * 5, b" " * 40, b"\n" * 30, b"\t" * 10, b" \n" * 15, b"a" * 100,
            b"ab" * 60, "日本".encode() * 30, "😀".encode() * 20, b"!" * 64, (" " * 17 + "x").encode(),
            b"x" + b" " * 17 + b"1", b"    " * 8 + b"return"]
    rng = random.Random(1234)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789     \n\t.,;:!?'\"()[]{}-_+=*/\\<>@#$%^&|~`") + \
        list("éüñçøåßœ日本語中文한국어Привет😀🦙½²\u0301\u00a0\u3000")
    specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<|eot_id|>"]
    for i in range(120):  # random mixtures, some with special-token text inside
        n = rng.randint(1, 80)
        t = "".join(rng.choice(alphabet) for _ in range(n))
        if i % 5 == 0:
            k = rng.randint(0, len(t))
            t = t[:k] + rng.choice(specials) + t[k:]
        out.append(t.encode("utf-8"))
    for i in range(20):  # random bytes, mostly invalid UTF-8
        out.append(bytes(rng.randint(1, 255) for _ in range(rng.randint(1, 24))))
    return out


CHAT_NAMES = ["chatml", "llama2", "llama2-sys", "mistral-v1", "mistral-v3", "mistral-v3-tekken",
              "mistral-v7", "llama3", "zephyr", "phi3", "gemma"]
CHAT_CASES = [(None, "Hi"), ("You are terse.", "What is 2+2?"), (None, "  padded\n"),
              ("Sys", "line1\nline2 <|im_end|> ünï 😀")]


def chat_fixture(llama_cpp):
    """tests/data/tok_chat.txt: name TAB hex(system, '-' = none) TAB hex(user) TAB hex(prompt).
    Built-in templates are rendered by llama.cpp (llama_chat_apply_template); "smollm" is the
    default model's own Jinja template rendered with jinja2, as transformers would."""
    import ctypes
    rows = []
    for name in CHAT_NAMES:
        for system, user in CHAT_CASES:
            msgs = ([("system", system)] if system is not None else []) + [("user", user)]
            arr = (llama_cpp.llama_chat_message * len(msgs))()
            keep = []
            for i, (role, content) in enumerate(msgs):
                r, c = role.encode(), content.encode()
                keep += [r, c]
                arr[i].role, arr[i].content = r, c
            buf = ctypes.create_string_buffer(4096)
            n = llama_cpp.llama_chat_apply_template(name.encode(), arr, len(msgs), True, buf, 4096)
            assert n > 0, name
            rows.append((name, system, user, buf.raw[:n]))
    import gguf
    import jinja2
    r = gguf.GGUFReader(VOCABS[0][1])
    fld = r.fields["tokenizer.chat_template"]
    tmpl = jinja2.Environment().from_string(bytes(fld.parts[fld.data[0]]).decode())
    for system, user in CHAT_CASES:
        msgs = ([{"role": "system", "content": system}] if system is not None else []) + \
            [{"role": "user", "content": user}]
        rows.append(("smollm", system, user, tmpl.render(messages=msgs, add_generation_prompt=True).encode()))
    hx = lambda s: (s.encode() if isinstance(s, str) else s).hex() if s is not None else "-"
    with open("tests/data/tok_chat.txt", "w") as f:
        f.write("# generated by tools/gen_tokenizer_fixtures.py: name TAB system TAB user TAB prompt (hex)\n")
        for name, system, user, out in rows:
            f.write(f"{name}\t{hx(system)}\t{hx(user)}\t{out.hex()}\n")
    print(f"tests/data/tok_chat.txt: {len(rows)} cases")


def main():
    try:
        import llama_cpp
    except ImportError:
        sys.exit("gen_tokenizer_fixtures: llama_cpp not importable (run `make deps-peer`)")
    chat_fixture(llama_cpp)
    cases = corpus()
    os.makedirs("tests/data", exist_ok=True)
    for name, path in VOCABS:
        if not os.path.exists(path):
            print(f"skip {name}: {path} missing (bash tools/fetch_test_vocabs.sh)", file=sys.stderr)
            continue
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        lines = []
        for text in cases:
            for special in (1, 0):
                ids = llm.tokenize(text, add_bos=False, special=bool(special))
                hexs = text.hex() if text else "-"
                lines.append(f"{special}\t{hexs}\t{' '.join(map(str, ids))}")
        out = f"tests/data/tok_{name}.txt"
        with open(out, "w") as f:
            f.write("# generated by tools/gen_tokenizer_fixtures.py with llama-cpp-python "
                    f"{llama_cpp.__version__}: special TAB hex(input) TAB ids\n")
            f.write("\n".join(lines) + "\n")
        print(f"{out}: {len(lines)} cases ({len(cases)} strings x special on/off)")


if __name__ == "__main__":
    main()
