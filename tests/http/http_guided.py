"""vLLM's guided decoding (guided_regex, guided_choice, guided_json,
structured_outputs) end to end through a node's gateway, supervisor,
replica and executor (a scenario of test_http_api.py, which starts the
node): the test model is random, so its plain answers match nothing in
particular; constrained, every answer that ends matches the expression
whole as Python's re judges it, is one of the choices, or keeps the
schema. Streamed the same, chat with n, ignore_eos, multi-byte classes,
xinf_client.py and xinf-cli; grammars, two constraints at once and bad
expressions are refused, naming the field."""
import json
import os
import re
import subprocess

from http_json import PERSON, keeps_person
from xinf_httplib import check, completion, expect_error, generate_refused, tool

PHONE = r"\(\d{3}\) \d{3}-\d{4}( x\d{1,4})?"


def complete(gateway, seed, stream=False, **fields):
    return completion(gateway, {"model": "m", "prompt": "Hello", "max_tokens": 60, "temperature": 1.0,
                                "seed": seed, **fields}, stream)


def scenario_regex(gateway):
    plain = [complete(gateway, seed)[0] for seed in range(3)]
    check(not any(re.fullmatch(PHONE, text) for text in plain), f"plain answers are no phone numbers: {plain}")
    extended = 0
    for seed in range(10):
        text, finish = complete(gateway, seed, guided_regex=PHONE)
        check(finish == "stop" and re.fullmatch(PHONE, text), f"seed {seed}: the answer matches whole: {text!r} {finish}")
        extended += " x" in text
        if seed < 3:
            check(complete(gateway, seed, stream=True, guided_regex=PHONE) == (text, finish), f"seed {seed} streamed")
    # Ends where the expression may end or must: ignore_eos does not carry it past
    for seed in range(3):
        text, finish = complete(gateway, seed, guided_regex=PHONE, ignore_eos=True)
        check(finish == "stop" and re.fullmatch(PHONE, text), f"ignore_eos, seed {seed}: {text!r} {finish}")
    greek = r"[\u03b1-\u03c9]{3}-[^a-z\s]{2}\.?"
    for seed in range(4):
        text, finish = complete(gateway, seed, guided_regex=greek)
        check(finish == "stop" and re.fullmatch(greek, text), f"multi-byte classes, seed {seed}: {text!r}")
    # A cut answer is a prefix of a match: the expression needs more than max_tokens
    text, finish = complete(gateway, 1, guided_regex=r"[a-c]{200}", max_tokens=5)
    check(finish == "length" and re.fullmatch(r"[a-c]+", text) and len(text) <= 200, f"cut: {text!r} {finish}")
    structured = complete(gateway, 5, structured_outputs={"regex": PHONE})
    check(structured == complete(gateway, 5, guided_regex=PHONE), f"structured_outputs regex: {structured}")
    # xinf_client.py and xinf-cli send the expression: the same tokens
    python = gateway.client.generate("m", prompt="Hello", max_tokens=60, temperature=1.0, seed=4, regex=PHONE)
    via_http = complete(gateway, 4, guided_regex=PHONE)
    status, _, shown = gateway.call("POST", "/detokenize", {"model": "m", "tokens": python["tokens"]})
    check(status == 200 and shown["content"] == via_http[0], f"xinf_client.py regex: {shown} vs {via_http}")
    cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "--json", "generate", "m",
                          "--prompt", "Hello", "--max-tokens", "60", "--temperature", "1", "--seed", "4",
                          "--regex", PHONE], capture_output=True, text=True, timeout=60)
    check(cli.returncode == 0 and json.loads(cli.stdout)["tokens"] == python["tokens"],
          f"xinf-cli --regex: {cli.returncode} {cli.stdout[:300]} {cli.stderr}")
    print(f"guided_regex: 10 sampled answers match {PHONE} whole ({extended} with the optional extension), "
          "streamed and with ignore_eos the same; Greek classes; a cut answer a prefix; structured_outputs, "
          "xinf_client.py and xinf-cli the same")


def scenario_choice(gateway):
    choices = ["yes", "no", "maybe so", "(n/a)", "\u00e9t\u00e9"]
    seen = set()
    for seed in range(12):
        text, finish = complete(gateway, seed, guided_choice=choices)
        check(finish == "stop" and text in choices, f"seed {seed}: one of the choices: {text!r} {finish}")
        seen.add(text)
    check(len(seen) >= 2, f"sampling picks among the choices: {seen}")
    status, _, answer = gateway.call("POST", "/v1/chat/completions", {
        "model": "m", "messages": [{"role": "user", "content": "Yes or no?"}], "max_tokens": 20, "temperature": 1.0,
        "seed": 3, "n": 3, "guided_choice": ["yes", "no"]})
    contents = [choice["message"]["content"] for choice in answer.get("choices", [])]
    check(status == 200 and len(contents) == 3 and all(content in ("yes", "no") for content in contents),
          f"chat, n = 3: each answer a choice: {status} {answer}")
    text, _ = complete(gateway, 2, structured_outputs={"choice": ["left", "right"]})
    check(text in ("left", "right"), f"structured_outputs choice: {text!r}")
    for form in ({"guided_json": PERSON}, {"guided_json": json.dumps(PERSON)}, {"structured_outputs": {"json": PERSON}},
                 {"json_schema": PERSON}):
        text, finish = complete(gateway, 1, max_tokens=200, **form)
        check(finish == "length" or keeps_person(json.loads(text, object_pairs_hook=list)),
              f"{list(form)[0]}: the answer keeps the schema: {text!r}")
    text, finish = complete(gateway, 2, max_tokens=200, structured_outputs={"json_object": True})
    check(finish == "length" or isinstance(json.loads(text), dict), f"structured_outputs json_object: {text!r}")
    print(f"guided_choice: 12 sampled answers each one of {len(choices)} choices ({len(seen)} seen), chat with n = 3, "
          "structured_outputs choice; guided_json (object and text), structured_outputs json and json_object, "
          "llama-server's json_schema")


# A GBNF grammar (llama.cpp's format, no recursion) and the expression it is
MOVES = ('root ::= turn (" " turn){0,2}\n'
         'turn ::= [1-9] ". " move " " move  # two moves a turn\n'
         'move ::= (\n  [NBKQR]? [a-h] [1-8] [+#]? |\n  "O-O" "-O"?\n)\n')
MOVES_RE = r"[1-9]\. (?:[NBKQR]?[a-h][1-8][+#]?|O-O(?:-O)?) (?:[NBKQR]?[a-h][1-8][+#]?|O-O(?:-O)?)"
MOVES_RE = MOVES_RE + "(?: " + MOVES_RE + "){0,2}"


def scenario_grammar(gateway):
    """llama-server's grammar, vLLM's guided_grammar and structured_outputs
    grammar: every answer matches the grammar's root rule whole."""
    for seed in range(8):
        text, finish = complete(gateway, seed, grammar=MOVES)
        check(finish == "stop" and re.fullmatch(MOVES_RE, text), f"seed {seed}: the answer is moves: {text!r} {finish}")
    same = complete(gateway, 3, grammar=MOVES)
    check(complete(gateway, 3, guided_grammar=MOVES) == same and complete(
        gateway, 3, structured_outputs={"grammar": MOVES}) == same and complete(gateway, 3, stream=True,
                                                                                 grammar=MOVES) == same,
          f"guided_grammar, structured_outputs grammar and a stream give the same answer: {same}")
    status, _, answer = gateway.call("POST", "/v1/chat/completions", {
        "model": "m", "messages": [{"role": "user", "content": "Play"}], "max_tokens": 60, "temperature": 1.0,
        "seed": 2, "grammar": MOVES})
    content = answer["choices"][0]["message"]["content"] if status == 200 else ""
    check(status == 200 and re.fullmatch(MOVES_RE, content), f"chat: the answer is moves: {answer}")
    python = gateway.client.generate("m", prompt="Hello", max_tokens=60, temperature=1.0, seed=4, grammar=MOVES)
    via_http = complete(gateway, 4, grammar=MOVES)
    status, _, shown = gateway.call("POST", "/detokenize", {"model": "m", "tokens": python["tokens"]})
    check(status == 200 and shown["content"] == via_http[0], f"xinf_client.py grammar: {shown} vs {via_http}")
    path = os.path.join(gateway.workdir, "moves.gbnf")
    with open(path, "w") as file:
        file.write(MOVES)
    cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "--json", "generate", "m",
                          "--prompt", "Hello", "--max-tokens", "60", "--temperature", "1", "--seed", "4",
                          "--grammar", path], capture_output=True, text=True, timeout=60)
    check(cli.returncode == 0 and json.loads(cli.stdout)["tokens"] == python["tokens"],
          f"xinf-cli --grammar: {cli.returncode} {cli.stdout[:300]} {cli.stderr}")
    print("grammar (GBNF without recursion): 8 sampled answers match the root rule whole; guided_grammar, "
          "structured_outputs grammar, a stream, chat, xinf_client.py and xinf-cli the same")


# llama.cpp's grammars/json.gbnf, as llama-server's users send it
JSON_GBNF = r"""root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws
array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws
string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws ::= | " " | "\n" [ \t]{0,20}
"""
# Lists of digits and lists, nested: few tokens fit, so answers end
LISTS = 'root ::= list\nlist ::= "[" (item ("," item)*)? "]"\nitem ::= [0-9] | list\n'


def lists_prefix(text):
    """1 when 'text' is a whole LISTS answer, 2 a prefix of one only, 0 neither."""
    depth, expect = 0, "start"
    for char in text:
        if char == "[" and expect in ("start", "item or ]", "item"):
            depth, expect = depth + 1, "item or ]"
        elif char.isdigit() and expect in ("item or ]", "item"):
            expect = ", or ]"
        elif char == "," and expect == ", or ]":
            expect = "item"
        elif char == "]" and expect in ("item or ]", ", or ]"):
            depth, expect = depth - 1, ", or ]" if depth > 1 else "end"
        else:
            return 0
    return 1 if expect == "end" else 2


def scenario_recursive_grammar(gateway):
    """Grammars whose rules recurse (a pushdown automaton on the worker):
    llama.cpp's JSON grammar and nested lists; every answer that ends
    matches whole, every cut one is a prefix of a match."""
    ended = 0
    for seed in range(8):
        text, finish = complete(gateway, seed, grammar=LISTS, max_tokens=80)
        verdict = lists_prefix(text)
        check(verdict == (1 if finish == "stop" else 2) or (finish == "length" and verdict == 1),
              f"seed {seed}: nested lists: {text!r} {finish}")
        check(finish != "stop" or json.loads(text) is not None, f"seed {seed}: JSON lists: {text!r}")
        ended += finish == "stop"
    check(ended >= 2, f"answers end where the grammar does: {ended} of 8")
    deep = 0
    for seed in range(3):
        text, finish = complete(gateway, seed, stream=seed == 1, grammar=JSON_GBNF, max_tokens=120)
        check(finish == "length" or isinstance(json.loads(text), dict), f"seed {seed}: json.gbnf: {text!r} {finish}")
        check(text.lstrip().startswith("{"), f"seed {seed}: json.gbnf begins an object: {text!r}")
        deep = max(deep, text.count("{") + text.count("["))
    status, _, answer = gateway.call("POST", "/v1/chat/completions", {
        "model": "m", "messages": [{"role": "user", "content": "Lists"}], "max_tokens": 80, "temperature": 1.0,
        "seed": 5, "n": 2, "guided_grammar": LISTS})
    contents = [choice["message"]["content"] for choice in answer.get("choices", [])]
    check(status == 200 and len(contents) == 2 and all(lists_prefix(content) for content in contents),
          f"chat, n = 2, guided_grammar: {status} {answer}")
    print(f"grammar with recursion: {ended} of 8 nested-list answers end, each a whole match, the others prefixes; "
          f"llama.cpp's json.gbnf answers are objects (up to {deep} containers); chat with n = 2")


PATTERNED = {"type": "object", "properties": {
    "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{2}$"},
    "hue": {"type": "string", "pattern": "^(red|green|blue)(-[a-z]{1,3})?$"},
    "day": {"type": "string", "format": "date"}, "nick": {"type": "string", "minLength": 2, "maxLength": 5},
    "id": {"type": "string", "format": "uuid"}},
    "required": ["code", "hue", "day", "nick", "id"]}


def scenario_schema_patterns(gateway):
    """A schema's strings kept to a pattern (searched, as JSON Schema
    has it), a format and a length: every answer that ends keeps them."""
    ended = 0
    for seed in range(6):
        text, finish = complete(gateway, seed, max_tokens=300, guided_json=PATTERNED)
        if finish != "stop":
            continue
        ended += 1
        value = json.loads(text)
        check(re.fullmatch(r"[A-Z]{3}-\d{2}", value["code"])
              and re.fullmatch(r"(red|green|blue)(-[a-z]{1,3})?", value["hue"])
              and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", value["day"])
              and 2 <= len(value["nick"]) <= 5 and re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}",
                                                                 value["id"]),
              f"seed {seed}: the strings keep their pattern, format and length: {text!r}")
    check(ended >= 3, f"patterned answers end within 300 tokens: {ended} of 6; the last: {text!r}")
    expect_error(gateway.call("POST", "/v1/chat/completions", {
        "model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {
            "type": "json_schema", "json_schema": {"name": "x", "schema": {
                "type": "object", "properties": {"a": {"type": "string", "pattern": "(?<=a)b"}}}}}}),
        400, "lookaround", "response_format")
    print(f"JSON Schema pattern, format (date, uuid) and minLength/maxLength: {ended} of 6 sampled answers end, "
          "each string keeping them; a pattern with lookaround refused")


def scenario_guided_refused(gateway):
    def refused(fields, needle, param, path="/v1/completions"):
        body = {"model": "m", "max_tokens": 5, **fields}
        body.update({"messages": [{"role": "user", "content": "x"}]} if "chat" in path else {"prompt": "x"})
        expect_error(gateway.call("POST", path, body), 400, needle, param)

    refused({"guided_regex": "(a"}, "at offset 0: a group ( without its )", "guided_regex")
    refused({"guided_regex": "(a)\\1"}, "backreferences", "guided_regex")
    refused({"guided_regex": "(?=a)b"}, "lookaround", "guided_regex", "/v1/chat/completions")
    refused({"guided_regex": "(a|b)*a(a|b){14}"}, "automaton states", "guided_regex")
    refused({"guided_regex": "a{5000}"}, "more than 1000", "guided_regex")
    refused({"guided_regex": 7}, "must be a regular expression", "guided_regex")
    refused({"guided_regex": "x" * 17000}, "at most 16384 bytes", "guided_regex")
    refused({"guided_choice": []}, "1 to 1024 strings", "guided_choice")
    refused({"guided_choice": ["a", 1]}, "item 1 is not a string", "guided_choice")
    refused({"guided_choice": ["x" * 9000, "y" * 9000]}, "at most 16384 bytes together", "guided_choice")
    refused({"guided_json": "not json"}, "must be a JSON Schema", "guided_json")
    refused({"guided_json": {"type": "string"}}, "root of the schema", "guided_json")
    refused({"guided_regex": "a", "guided_choice": ["a"]}, "only one of", "guided_choice")
    refused({"response_format": {"type": "json_object"}, "guided_regex": "a"}, "only one of", "guided_regex")
    refused({"grammar": "root ::= a\na ::= a \"x\" | \"y\"\n"}, "rule 'a' calls itself before any text", "grammar")
    refused({"grammar": "root ::= a\na ::= \"(\" a \")\"\n"}, "no text whose rules nest", "grammar")
    refused({"guided_grammar": "root ::= item\n"}, "rule 'item' is used but not defined", "guided_grammar")
    refused({"grammar": 5}, "must be a GBNF grammar", "grammar")
    refused({"grammar": "root ::= \"a\"", "guided_regex": "a"}, "only one of", "grammar")
    refused({"structured_outputs": {"structural_tag": {"a": 1}}}, "structural_tag is not supported",
            "structured_outputs")
    refused({"structured_outputs": {}}, "exactly one of", "structured_outputs")
    refused({"structured_outputs": {"regex": "a", "choice": ["b"]}}, "exactly one of", "structured_outputs")
    refused({"structured_outputs": "regex"}, "must be an object", "structured_outputs")
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    refused({"tools": tools, "tool_choice": "required", "guided_choice": ["a"]}, "requires a call", "guided_choice",
            "/v1/chat/completions")
    # response_format text with a guided field is one constraint; an empty grammar is none
    text, finish = complete(gateway, 0, response_format={"type": "text"}, grammar="", guided_choice=["ok"])
    check((text, finish) == ("ok", "stop"), f"response_format text and guided_choice: {text!r} {finish}")
    for bad, needle in (({"response_format": "regex"}, "field 'regex' is required"),
                        ({"regex": "a"}, "needs response_format regex"),
                        ({"response_format": "regex", "regex": "(?i)a"}, "inline flags"),
                        ({"response_format": "regex", "regex": "\\x"}, "hex digits"),
                        ({"response_format": "json_object", "regex": "a"}, "needs response_format regex"),
                        ({"response_format": "grammar"}, "field 'grammar' is required"),
                        ({"grammar": "root ::= \"a\""}, "needs response_format grammar"),
                        ({"response_format": "grammar", "grammar": "root ::= root"}, "calls itself before any text")):
        generate_refused(gateway, dict({"uid": "m", "prompt": "x", "max_tokens": 1}, **bad), needle)
    print("guided decoding refused: 24 bad expressions, choices, schemas, grammars and pairs over HTTP, naming "
          "the field; 8 bad GENERATE bodies")
