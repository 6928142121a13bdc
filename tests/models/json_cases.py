"""Cases for unit_json_grammar: random JSON texts, and mutations of them,
each with the verdict of Python's json module on whether it is exactly one
JSON object (no constants such as NaN, no text after it), written one a
line as "VERDICT HEX". The texts keep whitespace runs short and nesting
shallow, so that the grammar's own limits (tested in C) never decide.

Usage: json_cases.py OUT [COUNT]"""
import json
import random
import sys


def value(rng, depth):
    kind = rng.randrange(9 if depth < 5 else 6)
    if kind == 0:
        return rng.choice([True, False, None])
    if kind == 1:
        return rng.randrange(-10**6, 10**6)
    if kind == 2:
        return rng.choice([0.5, -1e-7, 3.25e10, 1e300, -0.0, 12.0, 6.02e23])
    if kind in (3, 4, 5):
        alphabet = "ab \"\\/\b\f\n\r\t\x01\x1f\u00e9\u4e2d\U0001f600\ud7ff\ue000\uffff"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(8)))
    if kind in (6, 7):
        return {f"k{rng.randrange(9)}": value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [value(rng, depth + 1) for _ in range(rng.randrange(4))]


def text(rng):
    obj = {f"key{index}": value(rng, 1) for index in range(rng.randrange(5))}
    indent = rng.choice([None, None, 0, 1, 2, "\t"])
    separators = rng.choice([(",", ":"), (", ", ": "), (" ,", " : ")])
    out = json.dumps(obj, ensure_ascii=rng.random() < 0.5, indent=indent, separators=separators)
    lead = "".join(rng.choice(" \t\r\n") for _ in range(rng.randrange(3)))
    return (lead + out).encode("utf-8")


def verdict(data):
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return 0
    if decoded != decoded.rstrip(" \t\r\n"):
        return 0                       # nothing after the object
    def constant(name):
        raise ValueError(name)
    try:
        return 1 if isinstance(json.loads(decoded, parse_constant=constant), dict) else 0
    except (ValueError, RecursionError):
        return 0


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randrange(1, 3)):
        at = rng.randrange(len(data) + 1)
        choice = rng.randrange(4)
        byte = rng.choice(b'{}[]",:\\ 0123456789-+.eEtrufalsn\x00\x1f\x7f\x80\xbf\xc0\xc2\xe0\xed\xf0\xf4\xf5\xff')
        if choice == 0 or not data:
            data.insert(at, byte)
        elif choice == 1 and at < len(data):
            del data[at]
        elif at < len(data):
            data[at] = byte
        else:
            data = data[:rng.randrange(len(data) + 1)]        # cut short
    return bytes(data)


def main():
    out, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    rng = random.Random(20261205)
    cases = []
    for _ in range(count):
        data = text(rng)
        cases.append(data)
        cases.append(mutate(rng, data))
    cases += [b"{}", b" {}", b"{} ", b"[]", b"1", b'"x"', b'{"a":NaN}', b'{"a":01}', b'{"a":1.}', b'{"a":.5}',
              b'{"a":-}', b'{"a":1e}', b'{"a":"\\u12"}', b'{"a":"\\x"}', b'{"a":tru}', b'{"a" 1}', b'{,}',
              b'{"a":1,}', b'{"a":[1,]}', b'{"a":"\xed\xa0\x80"}', b'{"a":"\xc0\xaf"}', b'{"a":"\xf4\x90\x80\x80"}']
    with open(out, "w") as file:
        for data in cases:
            file.write(f"{verdict(data)} {data.hex()}\n")
    print(f"{len(cases)} cases, {sum(verdict(data) for data in cases)} objects")


if __name__ == "__main__":
    main()
