"""test_tokenizer_regex: the hand-written gpt2 pre-tokenizers against the
real regexes (Python's third-party 'regex' module, which knows \\p{L}) on
random text from a pool of characters of every class. Skips (exit 77)
without the module. Usage: test_tokenizer_regex.py PATH/tokenizer_split_dump
"""
import random
import subprocess
import sys

try:
    import regex
except ImportError:
    print("SKIP: the python 'regex' module is missing")
    sys.exit(77)

# refact: llama.cpp runs two regexes, the second within the first's pieces,
# and keeps what a regex leaves unmatched as pieces of their own
REFACT = (r"""\p{N}""", r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)""")

PATTERNS = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "llama3": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "qwen2": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    # llama.cpp's adaptations (src/llama-vocab.cpp) of Mistral's tekken and
    # gpt-4o's regexes: cased letters as letters other than a-z / A-Z
    "tekken": r"""[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "gpt4o": r"""[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "refact": REFACT,
}

# Letters, numbers, marks, punctuation, symbols, whitespace of several kinds
POOL = (list("abcXYZ") + list("HeLLo") + list("0123456789") + list("'''") + list("srtvemldRLVESTMD")
        + [" ", " ", " ", "\t", "\n", "\n", "\r", "\v", "\f", "\u00a0", "\u3000", "\u2028", "\u2003", "\u0085"]
        + list(".,!?-_$()[]{}\"#@/\\") + ["é", "ß", "日", "本", "ク", "한", "Ω", "ж", "ع", "ह"]
        + ["\u0301", "\u093f", "٣", "Ⅻ", "½", "²", "😀", "👍🏽", "€", "©", "\u200b", "\u00ad"])


def split(pieces, pattern):
    out = []
    for piece in pieces:
        at = 0
        for match in regex.finditer(pattern, piece):
            if match.start() > at:
                out.append(piece[at:match.start()])
            out.append(match.group(0))
            at = match.end()
        if at < len(piece):
            out.append(piece[at:])
    return out


def offsets(text, pattern):
    pieces = [text]
    for one in (pattern if isinstance(pattern, tuple) else (pattern,)):
        pieces = split(pieces, one)
    ends, at = [], 0
    for piece in pieces:
        at += len(piece.encode("utf-8"))
        ends.append(at)
    return ends


def main():
    dump = sys.argv[1]
    rng = random.Random(0x5EED2026)
    samples = ["".join(rng.choice(POOL) for _ in range(rng.randrange(0, 30))) for _ in range(3000)]
    failures = 0
    for name, pattern in PATTERNS.items():
        records = b"".join(b"%d\n%s" % (len(s.encode()), s.encode()) for s in samples)
        out = subprocess.run([dump, name], input=records, capture_output=True, check=True).stdout
        lines = out.decode().split("\n")
        if len(lines) < len(samples):
            print(f"{name}: {len(lines)} lines for {len(samples)} samples")
            sys.exit(1)
        for text, line in zip(samples, lines):
            got = [int(x) for x in line.split()]
            expected = offsets(text, pattern)
            if got != expected:
                failures += 1
                if failures <= 10:
                    print(f"{name}: {text!r}\n  got      {got}\n  expected {expected}")
        print(f"{name}: {len(samples)} samples checked")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
