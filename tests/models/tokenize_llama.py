"""tokenize_llama: xinf's tokenizer against llama.cpp's on the same model
files, for every pre-tokenizer xinf knows. Skips (exit 77) when llama.cpp
is not built.

    tokenize_llama.py MAKE_MODEL LLAMA_DIR WORK_DIR TOKENIZE_IDS

Small models (xinf-make-model: a gpt2 vocabulary with each
tokenizer.ggml.pre, and a SentencePiece one) tokenize texts of mixed case,
contractions, digits, slashes, newlines and tabs, accents and other scripts;
llama-completion (-n 1, -nr) saves the prompt's ids in its session file
(--prompt-cache-all: magic, version, count, then the int32 ids), the last
being the generated one; tokenize_ids prints xinf's. Every text must give
the same ids. These small vocabularies rarely merge across the points
where the pre-tokenizers split differently (all six give these texts the
same ids), so the splits themselves are checked against the regexes by
unit_tokenizer_regex; this test checks the rest end to end against
llama.cpp: each name accepted, the merges, the byte mapping, BOS.

"default" is llama.cpp's list of regexes (punctuation apart first, digits
by three), not GPT-2's, and so is a file whose tokenizer.ggml.pre is empty
(make-model's --pre '') or missing (make-model always writes the key:
drop_key rewrites the file without it), as llama.cpp reads both. Their ids
equal the gpt-2 file's on these texts too (make-model's vocabulary has no
merge across an apostrophe, a digit or a space before punctuation), so
this checks that llama.cpp and xinf take all three; where the splits
differ from GPT-2's, unit_tokenizer_llama_split checks them.
"""
import os
import struct
import subprocess
import sys

# (name, xinf-make-model flags): the pre-tokenizer each gpt2 file names
MODELS = [
    ("gpt-2", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", "gpt-2"]),
    ("default", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", "default"]),
    ("empty-pre", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", ""]),
    ("no-pre", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", "default"]),    # the key dropped below
    ("llama-bpe", ["--arch", "llama", "--tokenizer", "gpt2"]),
    ("qwen2", ["--arch", "qwen2", "--tokenizer", "gpt2"]),
    ("dbrx", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", "dbrx"]),
    ("tekken", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", "tekken"]),
    ("gpt-4o", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", "gpt-4o"]),
    ("refact", ["--arch", "granite"]),
    ("deepseek-llm", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", "deepseek-llm"]),
    ("deepseek-coder", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", "deepseek-coder"]),
    ("deepseek-v3", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", "deepseek-v3"]),
    ("spm", ["--arch", "llama", "--tokenizer", "llama"]),
]
SHAPE = ["--type", "f16", "--dim", "64", "--heads", "2", "--kv-heads", "1", "--ffn", "64", "--layers", "1",
         "--vocab", "2048", "--seed", "3"]
TEXTS = [
    "Hello World, this IS a Test of the HTTPServer's 12345 tokens/paths",
    "DON'T stop: camelCaseWords and \u00c9COLE \u00e9cole \u03a9mega \u03a9\u03a9 na\u00efve \u65e5\u672c\u8a9e x/y\n z",
    "  multiple   spaces\n\n\tand TABS I'm YOU'RE they'll we've",
    "def f(x):\n    return x**2  # 3.14159 <tag/> a//b\r\n",
    "McDonald's iPhone XMLHttpRequest ABCdef abcDEF 1234567890",
    "caf\u00e9 \u00c0 la Carte \u2014 \u00fcber \u00df \u0436\u0438\u0437\u043d\u044c \u0416\u0418\u0417\u041d\u042c \ud55c\uad6d\uc5b4",
    "Hello, world! 1234567 it's $x+y <|tag|> a`b ~~^ 3.14159 \u0661\u0662\u06634567 we'll' ''s 'S!?\u3000\u3001x",
]


def drop_key(path, key):
    """Rewrites the GGUF file at 'path' without the key 'key' (the tensor
    data moved to the new aligned start; offsets are relative to it)."""
    data = open(path, "rb").read()
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    at = 24

    def skip_value(kind):
        nonlocal at
        if kind == 8:
            at += 8 + struct.unpack_from("<Q", data, at)[0]
        elif kind == 9:
            element, count = struct.unpack_from("<IQ", data, at)
            at += 12
            for _ in range(count):
                skip_value(element)
        else:
            at += sizes[kind]

    def take_string():
        nonlocal at
        length = struct.unpack_from("<Q", data, at)[0]
        at += 8 + length
        return data[at - length:at].decode()

    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    assert magic == b"GGUF" and version == 3
    kept, alignment = [], 32
    for _ in range(n_kv):
        start = at
        name = take_string()
        kind = struct.unpack_from("<I", data, at)[0]
        at += 4
        if name == "general.alignment":
            alignment = struct.unpack_from("<I", data, at)[0]
        skip_value(kind)
        if name != key:
            kept.append(data[start:at])
    infos = at
    for _ in range(n_tensors):
        take_string()
        at += 4 + 8 * struct.unpack_from("<I", data, at)[0] + 4 + 8
    tensors = data[infos:at]
    assert len(kept) == n_kv - 1, "no key %s in %s" % (key, path)
    head = struct.pack("<4sIQQ", magic, version, n_tensors, n_kv - 1) + b"".join(kept) + tensors
    with open(path, "wb") as out:
        out.write(head + b"\0" * (-len(head) % alignment) + data[at + (-at % alignment):])


def llama_ids(completion, model, text, session):
    if os.path.exists(session):
        os.remove(session)
    subprocess.run([completion, "-m", model, "-p", text, "-n", "1", "--temp", "0", "--top-k", "1", "-no-cnv",
                    "-t", "2", "--no-warmup", "-nr", "--prompt-cache", session, "--prompt-cache-all"],
                   check=True, capture_output=True, timeout=120)
    data = open(session, "rb").read()
    _, _, count = struct.unpack_from("<III", data, 0)
    return list(struct.unpack_from("<%di" % count, data, 12))[:-1]


def main():
    make_model, llama_dir, work, tokenize = sys.argv[1:5]
    completion = os.path.join(llama_dir, "build", "bin", "llama-completion")
    if not os.access(completion, os.X_OK):
        print("SKIP: llama.cpp is not built (%s): run tools/llamacpp/build-native.sh" % completion)
        return 77
    os.makedirs(work, exist_ok=True)
    failures = checked = 0
    for name, flags in MODELS:
        model = os.path.join(work, "tokenize-%s.gguf" % name)
        subprocess.run([make_model] + flags + SHAPE + ["-o", model], check=True, capture_output=True, timeout=120)
        if name == "no-pre":
            drop_key(model, "tokenizer.ggml.pre")
        records = b"".join(b"%d\n%s" % (len(t.encode()), t.encode()) for t in TEXTS)
        out = subprocess.run([tokenize, model], input=records, capture_output=True, check=True, timeout=120)
        ours = [[int(x) for x in line.split()] for line in out.stdout.decode().split("\n")[:len(TEXTS)]]
        for text, mine in zip(TEXTS, ours):
            theirs = llama_ids(completion, model, text, os.path.join(work, "tokenize.session"))
            checked += 1
            if mine != theirs:
                failures += 1
                print("%s: %r\n  xinf      %s\n  llama.cpp %s" % (name, text, mine, theirs))
        print("%s: %d texts tokenized as llama.cpp does" % (name, len(TEXTS)) if not failures else "")
    print("%d of %d texts differ" % (failures, checked))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
