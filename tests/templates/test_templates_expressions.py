"""Differential test of xinf's Jinja expressions against jinja2.

Random expressions, loops and whitespace layouts (seeded, so every run checks the same ones) over
literals, variables, operators, filters, tests, methods, slices and
conditionals are rendered by jinja2 set up as Hugging Face does
(hf_reference.py) and by render_cases. Where jinja2 renders, xinf must give the
same bytes; where jinja2 raises, xinf must fail too. Cases where xinf falls back
(a feature it lacks, e.g. % string formatting) are counted, not compared.

    test_templates_expressions.py RENDER_CASES [SEED [COUNT]]

Known gaps kept out of the generator: case changes of non-ASCII letters
(xinf's upper/lower/title are ASCII only)."""
import copy
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import hf_reference
except ImportError as error:
    print("SKIP: %s" % error)
    sys.exit(77)

ATOMS = ["1", "0", "-3", "2.5", "1e3", "0.1", "'a'", "'Ab c'", "''", "'漢字'", "none", "true", "false",
         "x", "l", "d", "s", "n", "u", "[1,2,3]", "['b','a']", "{'k':1,'j':'v'}", "(1,2)", "range(4)",
         "l[1]", "d.k", "d['j']", "s[1:]", "l[::-1]", "s.upper()", "s.split()", "s.strip('h')",
         "messages[0].content", "messages|length", "loop_l", "d.get('k')", "s.replace('l', 'L')"]
BINARY = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", ">", "<=", ">=", "in", "not in",
          "and", "or", "**"]
FILTERS = ["trim", "length", "upper", "lower", "capitalize", "title", "first", "last", "join(',')", "string",
           "int", "float", "list", "tojson", "default('z')", "reverse|list", "sort|list", "unique|list", "abs",
           "items|list", "replace('a','X')", "indent(2)", "min", "max", "dictsort", "count", "tojson(indent=1)",
           "select('odd')|list", "map('upper')|list", "join", "d", "reject('none')|list"]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable",
         "sequence", "boolean", "true", "false", "odd", "even", "lower", "upper", "eq 1", "in [1,2]",
         "divisibleby 2"]
CONTEXT = {"x": 7, "l": [3, 1, 2], "d": {"k": "v", "j": 2}, "s": "hello World", "n": None, "loop_l": ["a", "b"]}
MESSAGES = [{"role": "user", "content": "hi"}]


def expression(rng, depth=0):
    r = rng.random()
    if depth > 3 or r < 0.3:
        return rng.choice(ATOMS)
    if r < 0.55:
        return "(%s %s %s)" % (expression(rng, depth + 1), rng.choice(BINARY), expression(rng, depth + 1))
    if r < 0.7:
        return "(%s|%s)" % (expression(rng, depth + 1), rng.choice(FILTERS))
    if r < 0.8:
        return "(%s is %s%s)" % (expression(rng, depth + 1), rng.choice(["", "not "]), rng.choice(TESTS))
    if r < 0.88:
        return "(%s if %s else %s)" % tuple(expression(rng, depth + 1) for _ in range(3))
    if r < 0.94:
        return "(not %s)" % expression(rng, depth + 1)
    return "[%s, %s]" % (expression(rng, depth + 1), expression(rng, depth + 1))


WHITESPACE = ["", " ", "  ", "\n", "\n  ", "\t", " \n", "\n\n", "x", "x ", " y\n", "\r\n", "\n \t "]
OPEN = ["{%", "{%-", "{%+"]
CLOSE = ["%}", "-%}", "+%}"]


def layout(rng):
    """Text and tags in random whitespace: the lexer's trim_blocks,
    lstrip_blocks, - and + against jinja2's."""
    parts = []
    for _ in range(rng.randrange(1, 8)):
        parts.append(rng.choice(WHITESPACE))
        kind = rng.random()
        if kind < 0.3:
            parts.append("%s if %s %s%s%s endif %s" % (rng.choice(OPEN), rng.choice(["true", "false"]),
                                                      rng.choice(CLOSE), rng.choice(WHITESPACE) + "b",
                                                      rng.choice(OPEN), rng.choice(CLOSE)))
        elif kind < 0.5:
            parts.append("%s for i in [1, 2] %s%s{{ i }}%s endfor %s" % (
                rng.choice(OPEN), rng.choice(CLOSE), rng.choice(WHITESPACE), rng.choice(OPEN), rng.choice(CLOSE)))
        elif kind < 0.7:
            parts.append(rng.choice(["{{ 'v' }}", "{{- 'v' }}", "{{ 'v' -}}", "{{- 'v' -}}"]))
        elif kind < 0.85:
            parts.append(rng.choice(["{# c #}", "{#- c #}", "{# c -#}", "{#- c -#}", "{#\nc\n#}"]))
        else:
            parts.append("%s set z = 1 %s" % (rng.choice(OPEN), rng.choice(CLOSE)))
    parts.append(rng.choice(WHITESPACE))
    return "".join(parts)


def main():
    render_cases = sys.argv[1]
    seed = int(sys.argv[2], 0) if len(sys.argv) > 2 else 2026
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        r = rng.random()
        if r < 0.25:
            template = layout(rng)
        elif r < 0.45:
            template = ("{%% for v in %s %%}[{{ v }}{{ loop.index }}{{ loop.last }}]{%% else %%}E{%% endfor %%}"
                        % expression(rng))
        else:
            template = "{{ %s }}" % expression(rng)
        cases.append({"template": template, "messages": MESSAGES, "tools": None, "bos_token": "",
                      "eos_token": "", "add_generation_prompt": False, "kwargs": CONTEXT, "now": 0})
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "cases.json"), "w", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False)
        subprocess.run([render_cases, os.path.join(tmp, "cases.json"), os.path.join(tmp, "results.json")],
                       check=True, timeout=120)
        with open(os.path.join(tmp, "results.json"), encoding="utf-8") as f:
            results = json.load(f)
    same = errors = fallback = 0
    bad = []
    for case, result in zip(cases, results):
        kind, *ref = hf_reference.render(case["template"], copy.deepcopy(MESSAGES), None, "", "", False,
                                         copy.deepcopy(CONTEXT), 0)
        if "warning" in result:
            fallback += 1
        elif kind == "text" and result.get("text") == ref[0]:
            same += 1
        elif kind == "error" and "error" in result:
            errors += 1
        else:
            bad.append((case["template"], kind, ref[0], result))
    for template, kind, ref, result in bad[:20]:
        print("%s\n  jinja2 %s: %r\n  xinf: %r" % (template, kind, ref[:200], result))
    print("seed %#x: %d expressions: %d identical, %d refused by both, %d unsupported (fell back), %d differ"
          % (seed, count, same, errors, fallback, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
