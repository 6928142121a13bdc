"""test_tokenizer_nfc: xinf's NFC normalization (models/xinf_tokenizer_nfc.c,
used by Qwen2's tokenizer) against Python's unicodedata.normalize("NFC"):
every code point alone (when Python's Unicode is 14.0, the version of
xinf's tables), and random sequences of starters, precomposed letters,
combining marks of several classes, Hangul jamo and syllables, singletons
and composition exclusions, every canonical pair decomposed, Hangul jamo
triples, and long runs of marks (canonical ordering of
runs longer than 32 marks takes another path). Usage: test_tokenizer_nfc.py PATH/tokenizer_split_dump
"""
import random
import subprocess
import sys
import unicodedata

POOL = (list("aeiouyAEIOUcnszCNSZ ") + list("éêǖÅȩốṩǭ") + [chr(c) for c in range(0x300, 0x346)]
        + ["\u0327", "\u0328", "\u031b", "\u0323", "\u0345", "\u0340", "\u0344", "\u05b0", "\u0591"]
        + list("αωιΩΑὠᾳ") + list("가각힣한") + [chr(c) for c in (0x1100, 0x1112, 0x1161, 0x1175, 0x11a8, 0x11c2)]
        + list("क\u093cक़ড\u09bcয়\u0f71\u0f72\u0f73") + ["\u2126", "\u212b", "\uf900", "\u1e0a", "\u0958"]
        + list("日本😀") + ["\u00c0", "\u0041\u030a", "\u1fbf", "\u2000", "\u0e33"])


def run(dump, samples):
    records = b"".join(b"%d\n%s" % (len(s.encode()), s.encode()) for s in samples)
    out = subprocess.run([dump, "nfc"], input=records, capture_output=True, check=True).stdout
    return out.decode().split("\n")


def check(dump, name, samples):
    lines = run(dump, samples)
    failures = 0
    for text, line in zip(samples, lines):
        expected = unicodedata.normalize("NFC", text).encode().hex()
        if line != expected:
            failures += 1
            if failures <= 10:
                print(f"{name}: {text!r} ({[hex(ord(c)) for c in text]})\n  got      {line}\n  expected {expected}")
    print(f"{name}: {len(samples)} samples, {failures} differ")
    return failures


def main():
    dump = sys.argv[1]
    rng = random.Random(0x4EFC2026)
    failures = check(dump, "sequences",
                     ["".join(rng.choice(POOL) for _ in range(rng.randrange(0, 12))) for _ in range(20000)])
    # Every canonical pair (composing or not) as two characters, after a
    # letter and before one: composition with any second character
    pairs = []
    for cp in range(0x110000):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            pairs.append("a" + "".join(chr(int(p, 16)) for p in parts) + "b")
    pairs += [chr(l) + chr(v) + chr(t) for l in range(0x1100, 0x1113, 3)
              for v in range(0x1161, 0x1176, 4) for t in range(0x11a7, 0x11c3, 5)]
    failures += check(dump, "canonical pairs", pairs)
    marks = [c for c in POOL if len(c) == 1 and unicodedata.combining(c)]
    failures += check(dump, "long runs of marks",
                      ["".join(rng.choice(POOL[:20]) + "".join(rng.choice(marks) for _ in range(rng.randrange(20, 300)))
                               for _ in range(rng.randrange(1, 4))) for _ in range(500)])
    if unicodedata.unidata_version == "14.0.0":
        singles = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
        failures += check(dump, "code points", singles)
    else:
        print(f"code points: skipped (Python's Unicode is {unicodedata.unidata_version}, xinf's tables 14.0.0)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
