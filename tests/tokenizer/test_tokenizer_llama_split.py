"""test_tokenizer_llama_split: xinf's pre-tokenizer splits against
llama.cpp's own (unicode_regex_split with the regexes of llama-vocab.cpp),
for every pre-tokenizer: gpt2, llama3, qwen2, tekken, gpt4o, refact,
DeepSeek's llm, coder and v3, and default (llama.cpp's list for "default"
and for a file without tokenizer.ggml.pre). Skips (exit 77) where llama.cpp is not built
or there is no C++ compiler.

    test_tokenizer_llama_split.py SPLIT_DUMP LLAMA_DIR WORK_DIR

It compiles tokenizer_split_llama.cpp against LLAMA_DIR/src/src/unicode.h
and LLAMA_DIR/build/src/libllama.a into WORK_DIR, after checking that its
regexes are still, line for line, those of LLAMA_DIR's llama-vocab.cpp.
The texts: random ones from a pool of characters of every class, with
invalid UTF-8 (stray continuation bytes, 0xF8-0xFF, cut sequences: each
one character to both); random code points of all planes that Unicode 14
assigns (xinf's classes are Unicode 14's, llama.cpp's newer: 5,109 code
points assigned since split differently); long runs. Every text must be
cut at the same bytes. Overlong forms and surrogates are left out: llama.cpp
decodes them (C0 AF is '/'), xinf takes each byte for an invalid one.
"""
import os
import random
import shutil
import subprocess
import sys
import unicodedata

NAMES = ["gpt2", "llama3", "qwen2", "tekken", "gpt4o", "refact", "deepseek-llm", "deepseek-coder", "deepseek-v3",
         "default"]
HERE = os.path.dirname(os.path.abspath(__file__))

POOL = (list("abcXYZHeLLo0123456789'srtvemldRLVESTMD") + list(".,!?-_$()[]{}\"#@/\\~`^|+<=>;:%&*")
        + [" ", " ", " ", "\t", "\n", "\n", "\r", "\v", "\f", "\x1c", "\x1f", "\x00", "\x7f", "\u00a0", "\u3000"]
        + ["\u2028", "\u2003", "\u0085", "\u180e", "\u200b", "\ufeff", "\u00ad"]
        + ["é", "ß", "日", "本", "ク", "한", "Ω", "ж", "ع", "ह", "ª", "ƻ", "ʔ", "ǅ", "Ⴀ", "Ꭰ", "א", "ℌ", "\u2126"]
        + ["\u212a", "\u1fbe", "µ", "𐐀", "𝒜", "\u0301", "\u093f", "٣", "Ⅻ", "½", "²", "😀", "👍🏽", "€", "©"]
        + ["、", "。", "，", "！", "Ａ", "ｚ", "‘", "”", "ぁ", "゠", "・", "ー", "゛", "\u3099", "ヿ", "龥", "龦"]
        + ["\u0800", "가", "\ud7ff", "ㄱ", "\u0e01", "\u0e31"])
BAD = [b"\x80", b"\xbf", b"\xff", b"\xfe", b"\xf8", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc3"]


def pool_text(rng):
    parts = []
    for _ in range(rng.randrange(0, 40)):
        one = rng.choice(BAD) if rng.random() < 0.05 else rng.choice(POOL).encode()
        parts.append(one * (rng.randrange(2, 8) if rng.random() < 0.1 else 1))
    return b"".join(parts)


def code_point_text(rng):
    out = []
    while len(out) < rng.randrange(1, 50):
        r = rng.random()
        cpt = (rng.randrange(0, 0x80) if r < 0.4 else rng.randrange(0x80, 0x3100) if r < 0.7
               else rng.randrange(0x3100, 0x10000) if r < 0.9 else rng.randrange(0x10000, 0x110000))
        if not 0xD800 <= cpt < 0xE000 and unicodedata.category(chr(cpt)) != "Cn":
            out.append(chr(cpt))
    return "".join(out).encode()


LONG = [b"", b" " * 500 + b"a", b" " * 300, b"1" * 1000, "日本".encode() * 300, "한".encode() * 200,
        b"!" * 400 + b"\n", b"\t \n" * 100, b"\xff" * 50, b"\n" * 300 + b"x", "e\u0301".encode() * 200,
        b"a" * 1000, "\u3000".encode() * 100 + b"x", b"x" + b" " * 200 + b"\r\n" + b" " * 200,
        b"Hello, world! 1234567 it's $x+y", b"$+<=>^~|`" * 60, ("12345" + "\u0663\u0664" + "678").encode() * 40,
        b"'s's 're'" * 50, b" 1234" * 100 + b"  ", b"xs" * 30]


def regexes_current(harness, vocab_cpp):
    """Whether each regex line of the harness is a line of llama-vocab.cpp."""
    ours = open(harness, encoding="utf-8").read()
    ours = ours[ours.index("BEGIN REGEXES"):ours.index("END REGEXES")]
    theirs = set(line.strip() for line in open(vocab_cpp, encoding="utf-8"))
    stale = [line.strip() for line in ours.split("\n") if line.strip().startswith('"') and line.strip() not in theirs]
    for line in stale:
        print("not in llama-vocab.cpp: %s" % line)
    return not stale


def cut(text, line):
    pieces, start = [], 0
    for end in (int(x) for x in line.split()):
        pieces.append(text[start:end])
        start = end
    return pieces


def main():
    dump, llama_dir, work = sys.argv[1:4]
    source = os.path.join(llama_dir, "src", "src")
    library = os.path.join(llama_dir, "build", "src", "libllama.a")
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not os.path.isfile(os.path.join(source, "unicode.h")) or not os.path.isfile(library):
        print("SKIP: llama.cpp is not built (%s): run tools/llamacpp/build-native.sh" % library)
        return 77
    if not compiler:
        print("SKIP: no C++ compiler")
        return 77
    harness = os.path.join(HERE, "tokenizer_split_llama.cpp")
    if not regexes_current(harness, os.path.join(source, "llama-vocab.cpp")):
        print("llama.cpp's regexes changed: update tokenizer_split_llama.cpp (and xinf's splitters)")
        return 1
    os.makedirs(work, exist_ok=True)
    reference = os.path.join(work, "tokenizer_split_llama")
    subprocess.run([compiler, "-std=c++17", "-O1", "-I", source, "-I", os.path.join(llama_dir, "src", "include"),
                    harness, library, "-o", reference], check=True, timeout=300)

    rng = random.Random(0x11A3A)
    texts = [pool_text(rng) for _ in range(1500)] + [code_point_text(rng) for _ in range(1500)] + LONG
    records = b"".join(b"%d\n%s" % (len(text), text) for text in texts)
    failures = 0
    for name in NAMES:
        ours = subprocess.run([dump, name], input=records, capture_output=True, check=True, timeout=120)
        theirs = subprocess.run([reference, name], input=records, capture_output=True, check=True, timeout=120)
        ours, theirs = ours.stdout.decode().split("\n"), theirs.stdout.decode().split("\n")
        differ = 0
        for text, mine, llama in zip(texts, ours, theirs):
            if mine != llama:
                differ += 1
                if differ <= 3:
                    print("%s: %r\n  xinf      %r\n  llama.cpp %r" % (name, text, cut(text, mine), cut(text, llama)))
        if len(ours) != len(theirs) or len(ours) < len(texts):
            print("%s: %d lines from xinf, %d from llama.cpp for %d texts" % (name, len(ours), len(theirs), len(texts)))
            differ += 1
        print("%s: %d texts, %d split otherwise than llama.cpp splits them" % (name, len(texts), differ))
        failures += differ
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
