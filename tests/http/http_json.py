"""response_format json_object (constrained decoding), end to end through a
node's gateway, supervisor, replica and executor (a scenario of
test_http_api.py, which starts the node): the test model is random, so
its plain answers are no JSON; under json_object every answer that ends
is one JSON object, and one cut by max_tokens is the start of one. The
same through a stream, chat, n, xinf_client.py and xinf-cli; a schema,
another type and bad forms are refused."""
import json
import subprocess

from xinf_httplib import check, completion, expect_error, tool
from xinf_client import XinfError


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
    for bad, needle in (({"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}, "not supported yet"),
                        ({"type": "json_object", "schema": {"type": "object"}}, "not supported yet"),
                        ({"type": "xml"}, "not text or json_object"), ("json_object", "must be an object"),
                        ({}, "must be an object with a type")):
        expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "response_format": bad}),
                     400, needle, "response_format")
    try:
        gateway.client.request("GENERATE", {"uid": "m", "prompt": "x", "max_tokens": 1, "response_format": "yaml"},
                               expect="GENERATE_REPLY")
        check(False, "GENERATE with response_format yaml is refused")
    except XinfError as error:
        check(error.code == "BAD_REQUEST" and "response_format" in str(error), f"response_format yaml: {error}")
    print(f"response_format json_object: {ended} of 12 sampled answers end as one object, the others begin one; "
          "streamed, chat with n = 2, xinf_client.py and xinf-cli the same; schemas and bad forms refused")
