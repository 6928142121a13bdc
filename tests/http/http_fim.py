"""Completions with a suffix (fill-in-the-middle), end to end through a
node's gateway, supervisor, replica and executor (a scenario of
test_http_api.py): a code model's answer to prompt + suffix is its greedy
generation after <|fim_prefix|> prompt <|fim_suffix|> suffix <|fim_middle|>,
those three its own control tokens; a model without them, echo, token ids
and a suffix that is no string are 400s."""
from xinf_httplib import check, completion, expect_error


def scenario_fim(gateway, coder_path):
    body = {"model": "m", "prompt": "def add(a, b):\n    ", "suffix": "\n    return c\n", "max_tokens": 8,
            "temperature": 0}
    expect_error(gateway.call("POST", "/v1/completions", body), 400, "no fill-in-the-middle control tokens", "suffix")
    gateway.launch("coder", coder_path)
    coder = dict(body, model="coder")
    expect_error(gateway.call("POST", "/v1/completions", dict(coder, echo=True)), 400, "echo", "suffix")
    expect_error(gateway.call("POST", "/v1/completions", dict(coder, prompt=[1, 2, 3])), 400, "text prompt", "suffix")
    expect_error(gateway.call("POST", "/v1/completions", dict(coder, suffix=7)), 400, "must be a string", "suffix")
    entry = next(model for model in gateway.client.list_models() if model["uid"] == "coder")
    check((entry.get("fim_prefix_token"), entry.get("fim_suffix_token"), entry.get("fim_middle_token"))
          == ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"), f"the model's FIM tokens are listed: {entry}")
    check((entry.get("fim_repo_token"), entry.get("fim_file_sep_token")) == ("<|repo_name|>", "<|file_sep|>"),
          f"the repository pattern's tokens are listed: {entry}")

    text, finish = completion(gateway, coder)
    check(completion(gateway, coder, stream=True) == (text, finish), "streamed: the same middle")
    # The reference: the prompt the gateway must have sent, over ZeroMQ
    rendered = "<|fim_prefix|>" + body["prompt"] + "<|fim_suffix|>" + body["suffix"] + "<|fim_middle|>"
    reference = gateway.client.request("GENERATE", {"uid": "coder", "prompt": rendered, "special": True,
                                                    "max_tokens": 8, "temperature": 0},
                                       expect="GENERATE_REPLY", timeout_ms=30000)[0]
    shown = reference["text"].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    check(shown.startswith(text) and finish in ("length", "stop"), f"the middle is the FIM prompt's answer: "
          f"{text!r} vs {shown!r}")
    ids = reference["prompt_tokens"]
    marks = []
    for marker in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"):
        tokens = gateway.call("POST", "/tokenize", {"model": "coder", "content": marker,
                                                    "parse_special": True})[2]["tokens"]
        check(len(tokens) == 1, f"{marker} is one token: {tokens}")
        marks.append(tokens[0])
    check(ids[0] == marks[0] and ids[-1] == marks[2] and ids.count(marks[1]) == 1 and ids.count(marks[0]) == 1,
          f"<|fim_prefix|> first, <|fim_suffix|> once between, <|fim_middle|> last: {ids} ({marks})")
    gateway.client.terminate("coder")
    print(f"suffix: fill-in-the-middle by the model's own tokens ({len(ids)} prompt tokens); refusals")
