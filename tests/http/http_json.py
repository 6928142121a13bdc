"""response_format json_object (constrained decoding), end to end through a
node's gateway, supervisor, replica and executor (a scenario of
test_http_api.py, which starts the node): the test model is random, so
its plain answers are no JSON; under json_object every answer that ends
is one JSON object, and one cut by max_tokens is the start of one. The
same through a stream, chat, n, xinf_client.py and xinf-cli; a schema,
another type and bad forms are refused."""
import json
import os
import subprocess

from xinf_httplib import check, completion, expect_error, generate_refused, tool


def object_start(text):
    """Whether a cut answer begins an object (the grammar itself is checked
    against Python's json module byte by byte in unit_json_grammar)."""
    return text.lstrip(" \t\r\n").startswith("{")


def scenario_json_object(gateway):
    form = {"type": "json_object"}

    def complete(seed, stream=False, **fields):
        return completion(gateway, {"model": "m", "prompt": "Hello", "max_tokens": 160, "temperature": 1.0,
                                    "seed": seed, **fields}, stream)

    plain = [complete(seed)[0] for seed in range(3)]
    check(not any(text.strip().startswith("{") for text in plain), f"plain answers are no JSON: {plain}")
    ended = 0
    for seed in range(12):
        text, finish = complete(seed, response_format=form)
        if finish == "stop":
            ended += 1
            check(isinstance(json.loads(text), dict), f"seed {seed}: an answer that ends is one object: {text!r}")
        else:
            check(object_start(text), f"seed {seed}: an answer cut by max_tokens begins an object: {text!r}")
        if seed < 3:
            check(complete(seed, stream=True, response_format=form) == (text, finish), f"seed {seed} streamed")
    check(ended >= 2, f"some answers end within 160 tokens: {ended} of 12")
    status, _, answer = gateway.call("POST", "/v1/chat/completions", {
        "model": "m", "messages": [{"role": "user", "content": "Give JSON"}], "max_tokens": 160, "temperature": 0,
        "response_format": form, "n": 2})
    contents = [choice["message"]["content"] for choice in answer.get("choices", [])]
    finishes = [choice["finish_reason"] for choice in answer.get("choices", [])]
    check(status == 200 and len(contents) == 2 and contents[0] == contents[1],
          f"chat, n = 2, greedy: two equal answers: {status} {answer}")
    check(isinstance(json.loads(contents[0]), dict) if finishes[0] == "stop" else object_start(contents[0]),
          f"chat: the answer is (the start of) an object: {contents[0]!r}")
    python = gateway.client.generate("m", prompt="Hello", max_tokens=160, temperature=1.0, seed=4,
                                     response_format="json_object")
    via_http = complete(4, response_format=form)
    status, _, shown = gateway.call("POST", "/detokenize", {"model": "m", "tokens": python["tokens"]})
    check(status == 200 and shown["content"] == via_http[0],
          f"xinf_client.py: the HTTP answer: {shown} vs {via_http[0]!r}")
    cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "--json", "generate", "m",
                          "--prompt", "Hello", "--max-tokens", "160", "--temperature", "1", "--seed", "4",
                          "--response-format", "json_object"], capture_output=True, text=True, timeout=60)
    check(cli.returncode == 0 and json.loads(cli.stdout)["tokens"] == python["tokens"],
          f"xinf-cli --response-format json_object: {cli.returncode} {cli.stdout[:300]} {cli.stderr}")
    # The object complete, the answer ends: ignore_eos or not
    going = [complete(seed, response_format=form, ignore_eos=True) for seed in range(6)]
    check(any(finish == "stop" for _, finish in going), f"ignore_eos: answers still end with the object: {going}")
    for text, finish in going:
        check(finish == "length" or isinstance(json.loads(text), dict), f"ignore_eos: an ended answer is an object: {text!r}")
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    expect_error(gateway.call("POST", "/v1/chat/completions", {
        "model": "m", "messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": "required",
        "response_format": form}), 400, "requires a call", "response_format")
    for bad, needle in (({"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}, "allows any value"),
                        ({"type": "json_schema", "json_schema": {"name": "x"}}, "needs"),
                        ({"type": "json_object", "schema": {"type": "object", "properties": {
                            "a": {"type": "integer", "minimum": 3}}}}, "'minimum' is not supported"),
                        ({"type": "xml"}, "not text, json_object or json_schema"), ("json_object", "must be an object"),
                        ({}, "must be an object with a type")):
        expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "response_format": bad}),
                     400, needle, "response_format")
    for bad, needle in (({"response_format": "yaml"}, "response_format"),
                        ({"response_format": "json_schema"}, "field 'json_schema' is required"),
                        ({"json_schema": "{}"}, "needs response_format json_schema"),
                        ({"response_format": "json_schema", "json_schema": "{\"type\": \"string\"}"},
                         "root of the schema")):
        generate_refused(gateway, dict({"uid": "m", "prompt": "x", "max_tokens": 1}, **bad), needle)
    print(f"response_format json_object: {ended} of 12 sampled answers end as one object, the others begin one; "
          "streamed, chat with n = 2, xinf_client.py and xinf-cli the same; schemas and bad forms refused")


PERSON = {"type": "object", "properties": {
    "name": {"type": "string"}, "age": {"type": "integer"}, "kind": {"enum": ["a", "b", 3, None]},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    "pet": {"anyOf": [{"$ref": "#/$defs/pet"}, {"type": "null"}]}},
    "required": ["name", "age", "kind"],
    "$defs": {"pet": {"type": "object", "properties": {"legs": {"type": "number"}}, "required": ["legs"]}}}


def keeps_person(value):
    """Whether 'value' (pairs in order) keeps PERSON: its properties in
    order, the required ones there, each of its type."""
    names = list(PERSON["properties"])
    keys = [key for key, _ in value]
    if not set(PERSON["required"]) <= set(keys) or [names.index(key) for key in keys] != sorted(
            names.index(key) for key in set(keys)):
        return False
    checks = {"name": lambda v: isinstance(v, str), "age": lambda v: type(v) is int,
              "kind": lambda v: v in ("a", "b", None) or (type(v) is int and v == 3),
              "tags": lambda v: isinstance(v, list) and len(v) <= 2 and all(isinstance(t, str) for t in v),
              "pet": lambda v: v is None or (isinstance(v, list) and [k for k, _ in v] == ["legs"]
                                              and type(v[0][1]) in (int, float))}
    return all(checks[key](item) for key, item in value)


def scenario_json_schema(gateway):
    """response_format json_schema: every answer that ends keeps the
    schema (properties in its order, the required ones, their types,
    the enum, the array's limit, a $ref or null); OpenAI's form and
    llama-server's; streamed the same."""
    forms = ({"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
             {"type": "json_object", "schema": PERSON})
    ended = 0
    for seed in range(12):
        text, finish = completion(gateway, {"model": "m", "prompt": "Hello", "max_tokens": 200, "temperature": 1.0,
                                            "seed": seed, "response_format": forms[seed % 2]})
        if finish == "stop":
            ended += 1
            value = json.loads(text, object_pairs_hook=list)
            check(keeps_person(value), f"seed {seed}: an answer that ends keeps the schema: {text!r}")
        else:
            check(object_start(text), f"seed {seed}: a cut answer begins an object: {text!r}")
        if seed < 2:
            check(completion(gateway, {"model": "m", "prompt": "Hello", "max_tokens": 200, "temperature": 1.0,
                                       "seed": seed, "response_format": forms[seed % 2]}, stream=True)
                  == (text, finish), f"seed {seed}: streamed the same")
    check(ended >= 2, f"some schema answers end within 200 tokens: {ended} of 12")
    # xinf_client.py and xinf-cli send a schema too: the same answer as over HTTP
    via_http = completion(gateway, {"model": "m", "prompt": "Hello", "max_tokens": 200, "temperature": 1.0,
                                    "seed": 3, "response_format": forms[0]})
    python = gateway.client.generate("m", prompt="Hello", max_tokens=200, temperature=1.0, seed=3, json_schema=PERSON)
    status, _, shown = gateway.call("POST", "/detokenize", {"model": "m", "tokens": python["tokens"]})
    check(status == 200 and shown["content"] == via_http[0], f"xinf_client.py json_schema: {shown} vs {via_http}")
    path = os.path.join(gateway.workdir, "person.json")
    with open(path, "w") as file:
        json.dump(PERSON, file)
    cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "--json", "generate", "m",
                          "--prompt", "Hello", "--max-tokens", "200", "--temperature", "1", "--seed", "3",
                          "--json-schema", path], capture_output=True, text=True, timeout=60)
    check(cli.returncode == 0 and json.loads(cli.stdout)["tokens"] == python["tokens"],
          f"xinf-cli --json-schema: {cli.returncode} {cli.stdout[:300]} {cli.stderr}")
    status, _, answer = gateway.call("POST", "/v1/chat/completions", {
        "model": "m", "messages": [{"role": "user", "content": "A person"}], "max_tokens": 200, "temperature": 0,
        "response_format": forms[0]})
    content = answer["choices"][0]["message"]["content"] if status == 200 else ""
    check(status == 200 and (answer["choices"][0]["finish_reason"] == "length"
                             or keeps_person(json.loads(content, object_pairs_hook=list))),
          f"chat: the answer keeps the schema: {answer}")
    print(f"response_format json_schema: {ended} of 12 sampled answers end and keep the schema (order, required, "
          "types, enum, maxItems, $ref or null); OpenAI's and llama-server's forms, streamed, chat")
