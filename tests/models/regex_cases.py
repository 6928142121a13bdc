"""Cases for unit_regex, judged by Python's re (re.fullmatch with
re.ASCII, the syntax models/xinf_regex.h takes): random expressions over
a small alphabet with ASCII and multi-byte characters, each with texts
made to match it and random edits of those, one a line:
"PATTERN_HEX VERDICT TEXT_HEX" (VERDICT 1: the whole text matches).

With --check FILE: reads "PATTERN_HEX TEXT_HEX" lines (texts that
unit_regex's automaton walked to a whole match) and fails unless re
matches each whole.

Usage: regex_cases.py OUT [COUNT] | regex_cases.py --check FILE"""
import random
import re
import signal
import sys


class Slow(Exception):
    """re took too long: its backtracking explodes on some random
    expressions (the automaton does not), so such a case is left out."""


def _alarm(signum, frame):
    raise Slow()


def judge(pattern, text):
    """re.fullmatch's verdict, or None when it takes more than 0.2 s."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        return re.fullmatch(pattern, text, re.ASCII) is not None
    except Slow:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)

LETTERS = ["a", "b", "c", "0", "7", "_", " ", "-", "\u00e9", "\u4e2d", "\U0001f600", "\n", "\t"]
CLASSES = ["[a-c]", "[^a]", "[^\\n]", "[\u03b1-\u03c9]", "[0-9a-f]", "[^0-9]", "\\d", "\\w", "\\s", "\\D", "\\W",
           "\\S", ".", "[\u00e0-\u00ff\u4e00-\u9fff]", "[^\u00e9b]", "[-a]", "[a\\-z]", "[]a]", "\\x41", "\\u00e9"]
FIXED = [
    "", "a", "abc", "a|b", "(a|b)*c", "a{2,3}", "a{0}", "a{,2}b", "a{2,}", "x{1}?", "(?:ab)+", "(?P<n>a)b",
    "(?<n>\\d+)-(\\d+)", "^\\d{3}-\\d{4}$", "\\Ayes|no\\Z", "[A-Z][a-z]+ [A-Z][a-z]+", "(true|false)",
    "-?\\d+(\\.\\d+)?", "\\w+@\\w+\\.com", ".*", ".+?", "[^\"]*", "\u00e9+", "\U0001f600|\u4e2d{2}", "a{", "a{x}",
    "a{1,x}", "(a*)*b", "(|a)+", "a||b", "\\.\\*\\?", "[\\d\\s]+", "[^\\W_]+", "\\u4e2d\\U0001F600",
    "a^b", "a$b", "b(?:a|^)", "(?:(?:^|,)\\d)+", "a$\\n", "a$", "a\\Z", "(^a|b)+", "^$", "(?:a|$)+", "\\012", "\\07",
    "[\\012\\101]+", "\\101\\0", "x\\0123", "(?#note)ab", "[\\1-\\7]",
    "(?:a$|\\n)*", "(?:a$|\\n)*?", "(?:a$|b|\\n)*", "(?:[a-z]+$|\\n)+", "(?:|(?:^b|\\n$))*?", "a(?#c)*",
    "a(?#x){2}", "a(?#x)(?#y)+b",
]


def atom(rng, depth):
    roll = rng.random()
    if roll < 0.04:
        return rng.choice(["^", "$", "\\A", "\\Z"])
    if roll < 0.45 or depth > 3:
        letter = rng.choice(LETTERS)
        return re.escape(letter) if letter not in "\n\t" else ("\\n" if letter == "\n" else "\\t")
    if roll < 0.75:
        return rng.choice(CLASSES)
    return "(" + ("?:" if rng.random() < 0.3 else "") + expression(rng, depth + 1) + ")"


def quantified(rng, depth):
    text = atom(rng, depth)
    roll = rng.random()
    if roll < 0.6:
        return text
    quantifier = rng.choice(["*", "+", "?", "{2}", "{1,3}", "{0,2}", "{2,}", "{,2}"])
    return text + quantifier + ("?" if rng.random() < 0.15 else "")


def expression(rng, depth=0):
    branches = []
    for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
        branches.append("".join(quantified(rng, depth) for _ in range(rng.randint(0, 4))))
    return "|".join(branches)


def sample(rng, pattern):
    """Texts likely to match: random strings kept when re matches them
    whole, grown from shorter ones."""
    found = []
    alphabet = LETTERS + ["d", "z", "A", "\u03b2", "\u00f0", "\u4e8c", "."]
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        verdict = judge(pattern, text)
        if verdict is None:
            return None
        if verdict:
            found.append(text)
            if len(found) >= 3:
                break
    return found


def edits(rng, text):
    alphabet = LETTERS + ["z", "\u03b2"]
    out = []
    for _ in range(3):
        chars = list(text)
        kind = rng.randint(0, 2)
        at = rng.randint(0, len(chars))
        if kind == 0:
            chars.insert(at, rng.choice(alphabet))
        elif chars and kind == 1:
            del chars[min(at, len(chars) - 1)]
        elif chars:
            chars[min(at, len(chars) - 1)] = rng.choice(alphabet)
        out.append("".join(chars))
    return out


def write(path, count):
    rng = random.Random(20261205)
    patterns = FIXED + [expression(rng) for _ in range(count)]
    lines = 0
    with open(path, "w") as out:
        for pattern in patterns:
            try:
                re.compile(pattern, re.ASCII)
            except re.error:
                continue
            texts = sample(rng, pattern)
            if texts is None:
                continue
            texts += [edit for text in texts for edit in edits(rng, text)]
            texts += ["", "a", "ab", "\n", "\u00e9"]
            verdicts = [judge(pattern, text) for text in texts]
            if None in verdicts:
                continue
            for text, verdict in zip(texts, verdicts):
                out.write("%s %d %s\n" % (pattern.encode().hex() or "-", verdict, text.encode().hex() or "-"))
                lines += 1
    print("regex_cases: %d patterns, %d texts" % (len(patterns), lines))


def check(path):
    bad = total = unjudged = 0
    with open(path) as lines:
        for line in lines:
            pattern_hex, text_hex = line.split()
            pattern = bytes.fromhex("" if pattern_hex == "-" else pattern_hex).decode()
            text = bytes.fromhex("" if text_hex == "-" else text_hex).decode()
            total += 1
            verdict = judge(pattern, text)
            unjudged += verdict is None
            if verdict is False:
                bad += 1
                if bad <= 10:
                    print("re does not match %r whole with %r" % (text, pattern))
    print("regex_cases --check: %d walked texts, %d that re refuses, %d re took too long to judge"
          % (total, bad, unjudged))
    return 1 if bad or total == 0 or unjudged * 50 > total else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    write(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 400)
