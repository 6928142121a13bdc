"""test_tokenizer_regex: the hand-written gpt2 pre-tokenizers against the
real regexes (Python's third-party 'regex' module, which knows \\p{L}) on
random text from a pool of characters of every class; DeepSeek's lists of
regexes and llama.cpp's default as llama.cpp runs them, on a wider pool.
Skips (exit 77) without the module. Usage: test_tokenizer_regex.py
PATH/tokenizer_split_dump
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

# DeepSeek's lists of regexes, run as llama.cpp runs them (src/unicode.cpp):
# \s is White_Space (WS below; Python's takes U+001C..U+001F too) and no
# White_Space is in a class of code points, which llama.cpp's std::wregex
# sees as \v (U+3000 is no punctuation, U+2000 not in [ࠀ-一]); $ is \Z
WS = "[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
NOT_WS = "[^" + WS[1:]
# llama-vocab.cpp's class of Latin, Greek, Cyrillic, ... letters (as code
# points: some of them are not in NFC, which an editor may change)
LATIN = "".join("%c-%c" % (int(one, 16), int(two or one, 16)) for one, _, two in (r.partition("-") for r in """
    41-5A 61-7A B5 C0-D6 D8-F6 F8-1BA 1BC-1BF 1C4-293 295-2AF 370-373 376-377 37B-37D 37F 386 388-38A 38C
    38E-3A1 3A3-3F5 3F7-481 48A-52F 531-556 10A0-10C5 13A0-13F5 13F8-13FD 1C90-1CBA 1CBD-1CBF 1D00-1D2B
    1D6B-1D77 1D79-1D9A 1E00-1F15 1F18-1F1D 1F20-1F45 1F48-1F4D 1F50-1F57 1F59 1F5B 1F5D 1F5F-1F7D 1F80-1FB4
    1FB6-1FBC 1FBE 1FC2-1FC4 1FC6-1FCC 1FD0-1FD3 1FD6-1FDB 1FE0-1FEC 1FF2-1FF4 1FF6-1FFC 2102 2107 210A-2113
    2115 2119-211D 2124 2126 2128 212A-212D 212F-2134 2139 213C-213F 2145-2149 214E 2183-2184 2C00-2C7B
    2C7E-2CE4 2CEB-2CEE 2CF2-2CF3 A640-A66D A680-A69B A722-A76F A771-A787 A78B-A78E AB70-ABBF FB00-FB06
    FB13-FB17 FF21-FF3A FF41-FF5A 10400-1044F 104B0-104D3 104D8-104FB 10C80-10CB2 10CC0-10CF2 118A0-118DF
    1E900-1E943""".split()))
CJK = "(?:(?!" + WS + ")[一-龥ࠀ-一가-\ud7ff])+"
DEEPSEEK = {
    "deepseek-llm": ("[\r\n]", WS + "?[" + LATIN + "]+", WS + "?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3001\u3002]+",
                     WS + "+\\Z", CJK, r"\p{N}+"),
    "deepseek-coder": ("[\r\n]", WS + r"?\p{L}+", WS + r"?\p{P}+", CJK, r"\p{N}"),
    "deepseek-v3": (r"\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
                    r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|"""
                    + WS + "*[\r\n]+|" + WS + "+(?!" + NOT_WS + ")|" + WS + "+"),
}
# llama.cpp's default (tokenizer.ggml.pre "default", or none): punctuation
# and $+<=>^~| first, GPT-2's regex within the pieces (llama.cpp's code for
# it leaves a lone whitespace character before a non-space a piece, as \s+
# does), runs of digits, ASCII digits by three
LISTS = dict(DEEPSEEK)
LISTS["default"] = (r"[\p{P}\$\+<=>\^~\|]+",
                    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^" + WS[1:-1] + r"\p{L}\p{N}]+|"
                    + WS + "+(?!" + NOT_WS + ")|" + WS + "+",
                    r"\p{N}+", "[0-9][0-9][0-9]")

# Letters, numbers, marks, punctuation, symbols, whitespace of several kinds
POOL = (list("abcXYZ") + list("HeLLo") + list("0123456789") + list("'''") + list("srtvemldRLVESTMD")
        + [" ", " ", " ", "\t", "\n", "\n", "\r", "\v", "\f", "\u00a0", "\u3000", "\u2028", "\u2003", "\u0085"]
        + list(".,!?-_$()[]{}\"#@/\\") + ["é", "ß", "日", "本", "ク", "한", "Ω", "ж", "ع", "ह"]
        + ["\u0301", "\u093f", "٣", "Ⅻ", "½", "²", "😀", "👍🏽", "€", "©", "\u200b", "\u00ad"])
# and for DeepSeek's: their classes' edges, kana, CJK and Hangul, full-width
# forms, controls that are not White_Space
DEEPSEEK_POOL = POOL + (list("~`^|+<=>;:%&*") + ["\x1c", "\x1f", "\x00", "\x7f", "\u180e", "\ufeff"]
                        + ["ª", "ƻ", "ʔ", "ǅ", "Ⴀ", "Ꭰ", "א", "ℌ", "\u2126", "\u212a", "\u1fbe", "\u1fd3", "µ", "𐐀", "𝒜"]
                        + ["、", "。", "，", "！", "Ａ", "ｚ", "‘", "”", "ぁ", "゠", "・", "ー", "゛", "\u3099", "ヿ", "龥", "龦"]
                        + ["\u0800", "가", "\ud7ff", "ㄱ", "\u0e01", "\u0e31", "١", "\U0001d7ce"])
# and texts for the lists' edges: digits by three, contractions after
# punctuation, runs of symbols, whitespace before punctuation
LIST_TEXTS = ["Hello, world! 1234567 it's $x+y", "1" * 100, "12345\u0661\u0662\u0663678", "'s's're'",
              "x''''s ''ll", "a  !!  b", " $$ 12 345 6789", "\u3000!\u3000", "``$`~^", "\t\n'\n",
              "9" * 7 + "\n" + "9" * 8]


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
    # runs of one character now and then
    deepseek_samples = ["".join(rng.choice(DEEPSEEK_POOL) * (1 if rng.random() < 0.9 else rng.randrange(2, 9))
                                for _ in range(rng.randrange(0, 30))) for _ in range(3000)]
    failures = 0
    for name, pattern in list(PATTERNS.items()) + list(LISTS.items()):
        texts = deepseek_samples + LIST_TEXTS if name in LISTS else samples
        records = b"".join(b"%d\n%s" % (len(s.encode()), s.encode()) for s in texts)
        out = subprocess.run([dump, name], input=records, capture_output=True, check=True).stdout
        lines = out.decode().split("\n")
        if len(lines) < len(texts):
            print(f"{name}: {len(lines)} lines for {len(texts)} samples")
            sys.exit(1)
        for text, line in zip(texts, lines):
            got = [int(x) for x in line.split()]
            expected = offsets(text, pattern)
            if got != expected:
                failures += 1
                if failures <= 10:
                    print(f"{name}: {text!r}\n  got      {got}\n  expected {expected}")
        print(f"{name}: {len(texts)} samples checked")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
