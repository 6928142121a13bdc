"""The HTTP gateway's API against a local node: every endpoint, the answers
of a generation with and without stream (the same text as the ZeroMQ
client gets), stop strings (ASCII and multi-byte UTF-8, never shown, never
split), usage, and every error status: 400 of each kind, 401, 404, 405,
413 (a body over --http-max-body; a prompt over what a message to the
supervisor carries, at once), 503 before a model is known."""
import json
import os
import re
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_httplib import (ADMIN_KEY, USER_KEY, Gateway, check, expect_error, make_model,  # noqa: E402
                          stream_text)
from test_cluster import run_logged  # noqa: E402
from xinf_client import XinfError  # noqa: E402
from http_choices import scenario_choices, scenario_echo  # noqa: E402
from http_json import scenario_json_object, scenario_json_schema  # noqa: E402
from http_guided import (scenario_choice, scenario_grammar, scenario_guided_refused, scenario_recursive_grammar,  # noqa: E402
                         scenario_regex, scenario_schema_patterns)
from http_prompt_logprobs import scenario_echo_logprobs, scenario_prompt_logprobs  # noqa: E402
from http_fim import scenario_fim  # noqa: E402
from http_llama import scenario_llama_completion, scenario_llama_infill  # noqa: E402
from http_embeddings import scenario_embeddings  # noqa: E402
from http_rerank import scenario_rerank  # noqa: E402
from http_sampling import (scenario_logit_bias, scenario_logprobs, scenario_min_p, scenario_penalties,  # noqa: E402
                           scenario_repetition, scenario_vllm_extras)


def scenario_before_ready(gateway):
    """Right after the node started, a model its workers may still report is 503 with Retry-After."""
    result = gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "hi", "max_tokens": 2})
    headers, body = expect_error(result, 503, "not known yet")
    check(int(headers.get("retry-after", "0")) >= 1, f"Retry-After on 503: {headers}")
    print("503 + Retry-After before the model is known")


def scenario_auth(gateway):
    check(gateway.call("GET", "/health", key=None)[0] == 200, "/health needs no key")
    headers, _ = expect_error(gateway.call("GET", "/v1/models", key=None), 401, "API key")
    check(headers.get("www-authenticate") == "Bearer", f"WWW-Authenticate: {headers}")
    expect_error(gateway.call("GET", "/v1/models", key="sk-wrong-key-000000"), 401, "Incorrect")
    expect_error(gateway.call("GET", "/v1/models", key=USER_KEY[:-1]), 401, "Incorrect")
    expect_error(gateway.call("GET", "/v1/models", key=USER_KEY + "x"), 401, "Incorrect")
    expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x"}, key=None), 401, "API key")
    check(gateway.call("GET", "/v1/models", key=ADMIN_KEY)[0] == 200, "the admin key works")
    check(gateway.call("GET", "/v1/models", key=USER_KEY)[0] == 200, "the user key works")
    print("401 without or with a wrong key; user and admin keys accepted; /health open")


def scenario_paths(gateway):
    expect_error(gateway.call("GET", "/v2/nothing"), 404, "no such endpoint")
    expect_error(gateway.call("GET", "/v1/completions"), 405, "use POST")
    expect_error(gateway.call("DELETE", "/v1/chat/completions"), 405, "use POST")
    expect_error(gateway.call("POST", "/v1/models/m"), 405, "use GET")
    expect_error(gateway.call("GET", "/v1/models/nope"), 404, "nope", param="model")
    expect_error(gateway.call("GET", "/v1/models/bad%20name"), 404, "does not exist")
    status, _, body = gateway.call("GET", "/v1/models")
    check(status == 200 and body["object"] == "list", f"/v1/models: {body}")
    check([item["id"] for item in body["data"]] == ["m"], f"/v1/models lists m: {body}")
    status, _, body = gateway.call("GET", "/v1/models/m")
    check(status == 200 and body["id"] == "m" and body["object"] == "model" and body["status"] == "ready"
          and body["context_length"] == 4096, f"/v1/models/m: {body}")
    status, _, body = gateway.call("GET", "/health")
    check(status == 200 and body["status"] == "ok" and body["models_ready"] == 1, f"/health: {body}")
    print("404 unknown path and model, 405 wrong method, /v1/models and /v1/models/{id}, /health")


BAD_BODIES = [
    (b"{not json", "not valid JSON", None),
    (b"[1, 2]", "must be a JSON object", None),
    (b'{"model": "m", "prompt": "\xff\xfe"}', "not valid JSON", None),
    (b'{"model": "m", "prompt": "a\\u0000b"}', "not valid JSON", None),
    (b"", "not valid JSON", None),
    ({"prompt": "x"}, "'model': is required", "model"),
    ({"model": 7, "prompt": "x"}, "'model'", "model"),
    ({"model": "m"}, "'prompt': is required", "prompt"),
    ({"model": "m", "prompt": 5}, "'prompt'", "prompt"),
    ({"model": "m", "prompt": ["a", "b"]}, "one prompt per request", "prompt"),
    ({"model": "m", "prompt": [1, -2]}, "token id", "prompt"),
    ({"model": "m", "prompt": "x", "max_tokens": "8"}, "must be an integer", "max_tokens"),
    ({"model": "m", "prompt": "x", "max_tokens": 0}, "0 only with echo", "max_tokens"),
    ({"model": "m", "prompt": "x", "max_tokens": -1}, "between 0", "max_tokens"),
    ({"model": "m", "prompt": "x", "max_completion_tokens": 1.5}, "integer", "max_completion_tokens"),
    ({"model": "m", "prompt": "x", "temperature": 2.5}, "between 0 and 2", "temperature"),
    ({"model": "m", "prompt": "x", "temperature": "hot"}, "must be a number", "temperature"),
    ({"model": "m", "prompt": "x", "top_p": 1.5}, "between 0 and 1", "top_p"),
    ({"model": "m", "prompt": "x", "seed": "s"}, "integer", "seed"),
    ({"model": "m", "prompt": "x", "n": 129}, "between 1 and 128", "n"),
    ({"model": "m", "prompt": "x", "best_of": 3}, "only best_of = n (1)", "best_of"),
    ({"model": "m", "prompt": "x", "stream": "yes"}, "true or false", "stream"),
    ({"model": "m", "prompt": "x", "stream_options": {"include_usage": True}}, "only allowed when stream", "stream_options"),
    ({"model": "m", "prompt": "x", "stop": [chr(97 + i % 26) * (1 + i // 26) for i in range(33)]}, "at most 32", "stop"),
    ({"model": "m", "prompt": "x", "stop": [""]}, "1 to 256 bytes", "stop"),
    ({"model": "m", "prompt": "x", "stop": 3}, "string or an array", "stop"),
    # OpenAI features this server lacks: refused, not silently ignored
    ({"model": "m", "prompt": "x", "logprobs": 21}, "between 0 and 20", "logprobs"),
    ({"model": "m", "prompt": "x", "logprobs": True}, "must be an integer", "logprobs"),
    ({"model": "m", "prompt": "x", "logprobs": 1.5}, "must be an integer", "logprobs"),
    ({"model": "m", "prompt": "x", "echo": "yes"}, "true or false", "echo"),
    ({"model": "m", "prompt": "x", "prompt_logprobs": 1}, "echo and logprobs", "prompt_logprobs"),
    ({"model": "m", "prompt": "x", "response_format": {"type": "yaml"}}, "not text, json_object or json_schema", "response_format"),
    ({"model": "m", "prompt": "x", "frequency_penalty": 2.5}, "between -2 and 2", "frequency_penalty"),
    ({"model": "m", "prompt": "x", "presence_penalty": -3}, "between -2 and 2", "presence_penalty"),
    ({"model": "m", "prompt": "x", "presence_penalty": "high"}, "must be a number", "presence_penalty"),
    ({"model": "m", "prompt": "x", "logit_bias": {"5": -101}}, "between -100 and 100", "logit_bias"),
    ({"model": "m", "prompt": "x", "logit_bias": {"5": "ban"}}, "between -100 and 100", "logit_bias"),
    ({"model": "m", "prompt": "x", "logit_bias": {"-5": 1}}, "not a token id", "logit_bias"),
    ({"model": "m", "prompt": "x", "logit_bias": {"hello": 1}}, "not a token id", "logit_bias"),
    ({"model": "m", "prompt": "x", "logit_bias": {"99999999999": 1}}, "not a token id", "logit_bias"),
    ({"model": "m", "prompt": "x", "logit_bias": [[5, 1], [6]]}, "item 1 must be a [token id, bias] pair",
     "logit_bias"),
    ({"model": "m", "prompt": "x", "logit_bias": 7}, "must be an object", "logit_bias"),
    ({"model": "m", "prompt": "x", "logit_bias": {str(t): 1 for t in range(2049)}}, "at most 2048", "logit_bias"),
]

BAD_CHATS = [
    ({"model": "m"}, "'messages': is required", "messages"),
    ({"model": "m", "messages": []}, "non-empty", "messages"),
    ({"model": "m", "messages": "hi"}, "non-empty array", "messages"),
    ({"model": "m", "messages": [{"content": "hi"}]}, "string role", "messages"),
    ({"model": "m", "messages": [{"role": "wizard", "content": "hi"}]}, "role must be", "messages"),
    ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "content must be", "messages"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     "only {\"type\": \"text\"", "messages"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": {}}, "must be an array", "tools"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 0}, "between 1 and 128", "n"),
    ({"model": "m", "messages": [{"role": "user"}]}, "content is required", "messages"),
    ({"model": "m", "messages": [{"role": "system", "content": None}, {"role": "user", "content": "x"}]},
     "content is required", "messages"),
    ({"model": "m", "messages": [{"role": "function", "name": "f", "content": "1"}]}, "send its result as a 'tool'",
     "messages"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "logprobs": 2}, "true or false", "logprobs"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2}, "needs logprobs",
     "top_logprobs"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "logprobs": True, "top_logprobs": 21},
     "between 0 and 20", "top_logprobs"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_schema"}},
     "json_schema needs", "response_format"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "frequency_penalty": -2.5}, "between -2 and 2",
     "frequency_penalty"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"1": 100.5}},
     "between -100 and 100", "logit_bias"),
]


def scenario_bad_input(gateway):
    for body, needle, param in BAD_BODIES:
        expect_error(gateway.call("POST", "/v1/completions", body), 400, needle, param)
    for body, needle, param in BAD_CHATS:
        expect_error(gateway.call("POST", "/v1/chat/completions", body), 400, needle, param)
    expect_error(gateway.call("POST", "/v1/completions", {"model": "nope", "prompt": "x", "max_tokens": 1}),
                 404, "nope")
    expect_error(gateway.call("POST", "/v1/completions", {"model": "a/b", "prompt": "x"}), 404, "does not exist")
    # A refusal of the supervisor's, in OpenAI's words: the field as param, no message type
    _, body = expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": [999999], "max_tokens": 1}),
                           400, "token id below", "prompt")
    check(body["error"]["code"] == "invalid_value" and not body["error"]["message"].startswith("GENERATE"),
          f"the supervisor's refusal: {body}")
    expect_error(gateway.call("POST", "/v1/chat/completions",
                              {"model": "nope", "messages": [{"role": "user", "content": "x"}]}), 404, "nope")
    headers, body = expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": [7] * 5000,
                                                                          "max_tokens": 2}), 400, "context")
    check(body["error"]["code"] == "context_length_exceeded", f"a prompt over the context: {body}")
    status, _, body = gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "max_tokens": 2,
                                                               "unknown_field": {"deep": [1, 2]}, "logprobs": None,
                                                               "user": "u1", "frequency_penalty": 0,
                                                               "presence_penalty": 0.0, "logit_bias": {}})
    check(status == 200, f"unknown fields are ignored: {status} {body}")
    print(f"400 for {len(BAD_BODIES) + len(BAD_CHATS)} kinds of bad body (JSON, UTF-8, types, ranges, n, stop, "
          "messages); 404 for unknown models; unknown fields ignored")


def scenario_too_large(gateway):
    big = {"model": "m", "prompt": "x" * 70000}
    expect_error(gateway.call("POST", "/v1/completions", big), 413, "over the limit")
    # Chunked, without Content-Length: refused once the limit is passed
    connection = gateway.connection()
    connection.putrequest("POST", "/v1/completions")
    connection.putheader("Authorization", f"Bearer {USER_KEY}")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    payload = json.dumps(big).encode()
    try:
        for start in range(0, len(payload), 8192):
            piece = payload[start:start + 8192]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    response = connection.getresponse()
    check(response.status == 413, f"a chunked body over the limit is 413, got {response.status}")
    connection.close()
    print("413 for a body over --http-max-body (with Content-Length and chunked)")


def scenario_prompt_too_large(build_dir, workdir, path):
    """With the default --http-max-body (4 MiB) a body may carry a prompt
    larger than a message to the supervisor may (1 MiB): such a prompt
    (text, token ids, a chat's rendered prompt; /tokenize's content,
    /detokenize's ids) is 413 at once, not a request that waits for its
    deadline, and the gateway serves on."""
    gateway = Gateway(build_dir, workdir, "--http-max-body", str(4 << 20))
    gateway.launch("m", path)
    text = "x" * 1_200_000
    ids = [7] * 300_000
    cases = [("/v1/completions", {"model": "m", "prompt": text, "max_tokens": 2}, "prompt", "1044480"),
             ("/v1/completions", {"model": "m", "prompt": ids, "max_tokens": 2}, "prompt", "300000 token ids"),
             ("/v1/chat/completions", {"model": "m", "max_tokens": 2,
                                       "messages": [{"role": "user", "content": text}]}, "messages", "rendered"),
             ("/tokenize", {"model": "m", "content": text}, None, "too large"),
             ("/detokenize", {"model": "m", "tokens": ids}, "tokens", "300000 ids"),
             ("/v1/completions", {"model": "m", "prompt": ids[:255_000], "max_tokens": 2,
                                  "logit_bias": {str(token): 1 for token in range(2048)}}, "logit_bias",
              "logit biases (5 values each)")]
    for route, body, param, needle in cases:
        started = time.monotonic()
        result = gateway.call("POST", route, body, timeout=30)
        waited = time.monotonic() - started
        _, answer = expect_error(result, 413, needle, param)
        check(answer["error"]["code"] == "request_too_large", f"{route}: {answer}")
        check(waited < 10, f"{route}: 413 at once, not after {waited:.1f} s")
    # Over ZeroMQ, a GENERATE of more values than a message may hold gets
    # an ERROR with its corr at once (it was dropped unanswered)
    started = time.monotonic()
    try:
        gateway.client.request("GENERATE", {"uid": "m", "prompt_tokens": ids[:255_000], "max_tokens": 2,
                                            "logit_bias": [{"token": t, "bias": 1.0} for t in range(2048)]},
                               expect="GENERATE_REPLY", timeout_ms=20000)
        check(False, "a GENERATE of too many values is refused")
    except XinfError as error:
        check(error.code == "BAD_ENVELOPE" and "more objects" in error.message and time.monotonic() - started < 10,
              f"a GENERATE of too many values: {error}")
    status, _, body = gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "max_tokens": 2})
    check(status == 200, f"the gateway serves on: {status} {body}")
    check(gateway.stop() == 0, "the node exits 0")
    print(f"413 at once for {len(cases)} prompts over what a message to the supervisor carries "
          "(text, token ids, chat, /tokenize, /detokenize) with --http-max-body 4 MiB")


def long_prompt(gateway):
    """A prompt whose greedy answer runs 24 tokens with no end token and has
    a space after its 6th character (the model is random: found, not assumed)."""
    for index in range(200):
        prompt = f"The quick brown fox {index}"
        reference = gateway.client.generate("m", prompt=prompt, max_tokens=24)
        text = reference["text"].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if reference["finish_reason"] == "length" and text.find(" ", 6) > 0:
            return prompt, reference
    check(False, "a prompt with a 24-token greedy answer")


def scenario_completions(gateway):
    prompt, reference = long_prompt(gateway)
    status, _, body = gateway.call("POST", "/v1/completions", {"model": "m", "prompt": prompt,
                                                               "max_tokens": 24, "temperature": 0})
    check(status == 200 and body["object"] == "text_completion", f"completion: {status} {body}")
    choice = body["choices"][0]
    check(choice["finish_reason"] == "length", f"finish_reason length: {choice}")
    expected = reference["text"].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    check(choice["text"] == expected, f"the same text as the ZeroMQ client: {choice['text']!r} vs {expected!r}")
    usage = body["usage"]
    check(usage == {"prompt_tokens": len(reference["prompt_tokens"]), "completion_tokens": 24,
                    "total_tokens": len(reference["prompt_tokens"]) + 24}, f"usage: {usage}")
    # max_completion_tokens and token-id prompts
    status, _, body = gateway.call("POST", "/v1/completions", {"model": "m", "prompt": [5, 6, 7],
                                                               "max_completion_tokens": 3, "temperature": 0})
    check(status == 200 and body["usage"]["prompt_tokens"] == 3 and body["usage"]["completion_tokens"] == 3,
          f"token prompt: {body}")
    # Streaming gives the same text, then [DONE]; include_usage adds the usage chunk
    status, events = gateway.stream("/v1/completions", {"model": "m", "prompt": prompt,
                                                        "max_tokens": 24, "temperature": 0, "stream": True,
                                                        "stream_options": {"include_usage": True}})
    check(status == 200 and events[-1] == "[DONE]", f"stream ends with [DONE]: {events[-2:]}")
    text, finish = stream_text(events)
    check(text == expected and finish == "length", f"stream text {text!r} finish {finish}")
    check(events[-2]["choices"] == [] and events[-2]["usage"]["completion_tokens"] == 24,
          f"the usage chunk: {events[-2]}")
    check(all(event["usage"] is None for event in events[:-2]), "other chunks carry usage null")
    status, events = gateway.stream("/v1/completions", {"model": "m", "prompt": "x", "max_tokens": 3,
                                                        "stream": True, "seed": 5})
    check(status == 200 and "usage" not in events[0], f"no usage without include_usage: {events[0]}")
    # The seed makes sampling repeatable
    answers = [gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "max_tokens": 12,
                                                        "temperature": 1.0, "top_p": 0.9, "seed": 42})[2]
               for _ in range(2)]
    check(answers[0]["choices"][0]["text"] == answers[1]["choices"][0]["text"], "same seed, same text")
    print("completions: the ZeroMQ client's text, usage, finish_reason, stream with [DONE] and include_usage, seed")
    return prompt, expected


def find_multibyte(gateway):
    """A seeded sampled completion whose text has a two-byte UTF-8 character
    after some ASCII: (seed, text). The seeds are fixed: the same on every run."""
    for seed in range(1, 80):
        body = gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "Hello", "max_tokens": 64,
                                                        "temperature": 1.0, "seed": seed})[2]
        text = body["choices"][0]["text"]
        for index, char in enumerate(text):
            if index > 0 and 0x80 <= ord(char) < 0x800 and text[index - 1] != "\ufffd" and char != "\ufffd":
                return seed, text, index
    return None, None, None


def scenario_stops(gateway, prompt, text):
    cut = text.find(" ", 6)
    check(cut > 0, f"the greedy text has a space to stop at: {text!r}")
    stop = text[cut:cut + 3]
    for stream in (False, True):
        body = {"model": "m", "prompt": prompt, "max_tokens": 24, "temperature": 0,
                "stop": ["never-there", stop], "stream": stream}
        if stream:
            _, events = gateway.stream("/v1/completions", body)
            got, finish = stream_text(events)
        else:
            choice = gateway.call("POST", "/v1/completions", body)[2]["choices"][0]
            got, finish = choice["text"], choice["finish_reason"]
        check(got == text[:text.find(stop)] and finish == "stop",
              f"stop {stop!r} (stream={stream}): {got!r} {finish} vs {text!r}")
    seed, sampled, index = find_multibyte(gateway)
    check(seed is not None, "a sampled text with a two-byte UTF-8 character")
    stop = sampled[index - 1:index + 1]         # ASCII + the multi-byte character: spans tokens
    for stream in (False, True):
        body = {"model": "m", "prompt": "Hello", "max_tokens": 64, "temperature": 1.0, "seed": seed,
                "stop": stop, "stream": stream}
        if stream:
            _, events = gateway.stream("/v1/completions", body)
            got, finish = stream_text(events)
            check("\ufffd" not in "".join(e["choices"][0]["text"] for e in events if e != "[DONE]" and e["choices"])
                  or "\ufffd" in sampled[:index], "no chunk splits a character")
        else:
            choice = gateway.call("POST", "/v1/completions", body)[2]["choices"][0]
            got, finish = choice["text"], choice["finish_reason"]
        check(got == sampled[:sampled.find(stop)] and finish == "stop",
              f"multi-byte stop {stop!r} (stream={stream}): {got!r} vs {sampled!r}")
    print(f"stop strings: ASCII {text[cut:cut + 3]!r} and multi-byte {stop!r} never shown, finish_reason stop")


def scenario_chat(gateway):
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}]}]
    status, _, body = gateway.call("POST", "/v1/chat/completions", {"model": "m", "messages": messages,
                                                                    "max_tokens": 8, "temperature": 0})
    check(status == 200 and body["object"] == "chat.completion", f"chat: {status} {body}")
    choice = body["choices"][0]
    check(choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str),
          f"chat message: {choice}")
    check(body["usage"]["completion_tokens"] <= 8, f"chat usage: {body['usage']}")
    status, events = gateway.stream("/v1/chat/completions", {"model": "m", "messages": messages, "max_tokens": 8,
                                                             "temperature": 0, "stream": True})
    check(events[0]["object"] == "chat.completion.chunk" and events[0]["choices"][0]["delta"]["role"] == "assistant",
          f"the first chunk names the role: {events[0]}")
    text, finish = stream_text(events, chat=True)
    check(text == choice["message"]["content"] and finish == choice["finish_reason"],
          f"chat stream {text!r} vs {choice['message']['content']!r}")
    status, _, body = gateway.call("POST", "/apply-template", {"model": "m", "messages": messages})
    check(status == 200 and "Hello there" in body["prompt"], f"/apply-template: {body}")
    print("chat: answer, stream with the role first, /apply-template")


def scenario_chat_template(gateway, path):
    """A model with Llama 3.1's template: the prompt is rendered by it, its
    special tokens become token ids (one BOS), a refused chat is 400."""
    gateway.launch("llama3", path)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    status, _, body = gateway.call("POST", "/apply-template", {"model": "llama3", "messages": messages})
    check(status == 200, f"/apply-template: {status} {body}")
    prompt = body["prompt"]
    check(prompt.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n")
          and prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n") and "Hello<|eot_id|>" in prompt,
          f"the Llama 3.1 prompt: {prompt!r}")
    status, _, body = gateway.call("POST", "/v1/chat/completions", {"model": "llama3", "messages": messages,
                                                                    "max_tokens": 4, "temperature": 0})
    check(status == 200, f"chat with a template: {status} {body}")
    status, _, described = gateway.call("GET", "/v1/models/llama3")
    check(status == 200 and described["model_type"] == "LLM"
          and described["model_ability"] == ["generate", "chat", "tools"],
          f"Xinference's description: Llama 3.1's template takes tools: {described}")
    special = gateway.client.generate("llama3", prompt=prompt, max_tokens=1)
    reference, _ = gateway.client.request("GENERATE", {"uid": "llama3", "prompt": prompt, "max_tokens": 1,
                                                       "special": True, "add_bos": False}, expect="GENERATE_REPLY")
    ids = reference["prompt_tokens"]
    check(body["usage"]["prompt_tokens"] == len(ids) < len(special["prompt_tokens"]),
          f"special tokens parsed: {body['usage']} vs {len(ids)} (as text: {len(special['prompt_tokens'])})")
    check(ids.count(ids[0]) == 1, f"one BOS: {ids[:4]}")
    # A completion's prompt formatted by hand: its control tokens too, the
    # BOS added, or not a second time when the text begins with it
    for by_hand in (prompt[len("<|begin_of_text|>"):], prompt):
        status, _, done = gateway.call("POST", "/v1/completions", {"model": "llama3", "prompt": by_hand,
                                                                   "max_tokens": 1})
        check(status == 200 and done["usage"]["prompt_tokens"] == len(ids),
              f"a completion's control tokens parsed, one BOS: {done.get('usage')} vs {len(ids)}")
    # OpenAI's developer message is the template's system message
    developer = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    status, _, body = gateway.call("POST", "/apply-template", {"model": "llama3", "messages": developer})
    check(status == 200 and body["prompt"] == prompt, f"developer as system: {body}")
    # chat_template_kwargs (vLLM's, llama-server's): more variables for the template
    dated = {"model": "llama3", "messages": messages, "chat_template_kwargs": {"date_string": "05 Dec 2026"}}
    status, _, body = gateway.call("POST", "/apply-template", dated)
    check(status == 200 and "Today Date: 05 Dec 2026\n" in body["prompt"] and "Today Date: 26 Jul 2024" in prompt,
          f"chat_template_kwargs reach the template: {body}")
    status, _, body = gateway.call("POST", "/v1/chat/completions", dict(dated, max_tokens=2))
    check(status == 200 and body["usage"]["prompt_tokens"] == len(ids), f"a chat with chat_template_kwargs: {body}")
    for bad, needle in (([1], "must be an object"), ({"messages": []}, "set by the request itself"),
                        ({"add_generation_prompt": False}, "set by the request itself"),
                        ({f"k{index}": index for index in range(65)}, "up to 64")):
        expect_error(gateway.call("POST", "/v1/chat/completions", {"model": "llama3", "messages": messages,
                                                                   "chat_template_kwargs": bad}),
                     400, needle, "chat_template_kwargs")
    print(f"chat template: rendered Llama 3.1 prompt, {len(ids)} prompt tokens with specials parsed "
          f"({len(special['prompt_tokens'])} as text), in a completion too; developer rendered as system")


def scenario_template_refuses(gateway, path):
    """Gemma 2's template refuses a system message: 400 with its reason."""
    gateway.launch("gemma", path)
    chat = {"model": "gemma", "max_tokens": 2, "messages": [{"role": "system", "content": "a"},
                                                             {"role": "user", "content": "b"}]}
    expect_error(gateway.call("POST", "/v1/chat/completions", chat), 400, "System role not supported", "messages")
    expect_error(gateway.call("POST", "/apply-template", chat), 400, "System role not supported")
    chat["messages"] = chat["messages"][1:]
    status, _, body = gateway.call("POST", "/apply-template", chat)
    check(status == 200 and body["prompt"].startswith("<|begin_of_text|><start_of_turn>user\nb<end_of_turn>"),
          f"gemma prompt: {body}")
    print("a chat the template refuses (raise_exception) is 400 with the template's message")


def scenario_tokenize(gateway):
    """/tokenize and /detokenize (llama-server's) through TOKENIZE/DETOKENIZE to a replica."""
    text = "The quick brown fox"
    reference, _ = gateway.client.request("GENERATE", {"uid": "m", "prompt": text, "max_tokens": 1, "add_bos": False},
                                          expect="GENERATE_REPLY")
    status, _, body = gateway.call("POST", "/tokenize", {"model": "m", "content": text})
    check(status == 200 and all(isinstance(t, int) for t in body["tokens"]) and body["tokens"], f"/tokenize: {body}")
    tokens = body["tokens"]
    check(tokens == reference["prompt_tokens"], f"GENERATE's tokens: {tokens} vs {reference['prompt_tokens']}")
    status, _, body = gateway.call("POST", "/tokenize", {"model": "m", "content": text, "add_special": True,
                                                        "with_pieces": True})
    check(status == 200 and len(body["tokens"]) == len(tokens) + 1
          and "".join(item["piece"] for item in body["tokens"][1:]) == text, f"with_pieces + BOS: {body}")
    status, _, body = gateway.call("POST", "/detokenize", {"model": "m", "tokens": tokens})
    check(status == 200 and body["content"] == text, f"/detokenize: {body}")
    status, _, body = gateway.call("POST", "/tokenize", {"content": text})
    check(status == 400 and body["error"]["param"] == "model", f"several models: 'model' required: {body}")
    expect_error(gateway.call("POST", "/tokenize", {"model": "m", "content": 5}), 400, "'content'", "content")
    expect_error(gateway.call("POST", "/tokenize", {"model": "m", "content": "x", "add_special": 1}), 400,
                 "true or false", "add_special")
    expect_error(gateway.call("POST", "/detokenize", {"model": "m", "tokens": [1, -1]}), 400, "token id", "tokens")
    expect_error(gateway.call("POST", "/detokenize", {"model": "m", "tokens": [1, 999999]}), 400, "below 512")
    expect_error(gateway.call("POST", "/detokenize", {"model": "nope", "tokens": [1]}), 404, "nope")
    expect_error(gateway.call("POST", "/tokenize", b"{]"), 400, "not valid JSON")
    print("/tokenize (with_pieces, add_special) and /detokenize round-trip; their 400s and 404")


def scenario_bos(gateway, path):
    """A BOS only as the model's file says (tokenizer.ggml.add_bos_token), as
    llama-server: a Qwen2 model (BOS <|endoftext|>, add_bos_token false)
    gets none in a completion or a chat (its template writes none); m
    (true) gets exactly one in a completion. /tokenize's add_special adds
    the BOS the same way, so usage.prompt_tokens is its count."""
    gateway.launch("qwen", path)
    text = "The quick brown fox"
    for uid, adds in (("qwen", 0), ("m", 1)):
        plain = gateway.call("POST", "/tokenize", {"model": uid, "content": text})[2]["tokens"]
        special = gateway.call("POST", "/tokenize", {"model": uid, "content": text, "add_special": True,
                                                     "with_pieces": True})[2]["tokens"]
        status, _, body = gateway.call("POST", "/v1/completions", {"model": uid, "prompt": text, "max_tokens": 1})
        check(status == 200 and body["usage"]["prompt_tokens"] == len(plain) + adds,
              f"{uid}: {adds} BOS in a completion: {body} vs {len(plain)} tokens")
        check(len(special) == len(plain) + adds and [item["id"] for item in special[adds:]] == plain,
              f"{uid}: /tokenize add_special adds {adds} BOS: {special} vs {plain}")
    bos = gateway.call("POST", "/tokenize", {"model": "m", "content": "<|begin_of_text|>"})[2]["tokens"]
    check(len(bos) == 1 and special[0]["id"] == bos[0], f"m's BOS first: {special[0]} vs {bos}")
    messages = [{"role": "user", "content": "Hello"}]
    status, _, body = gateway.call("POST", "/apply-template", {"model": "qwen", "messages": messages})
    check(status == 200 and body["prompt"].startswith("<|im_start|>"), f"the Qwen prompt: {status} {body}")
    reference, _ = gateway.client.request("GENERATE", {"uid": "qwen", "prompt": body["prompt"], "max_tokens": 1,
                                                       "special": True, "add_bos": False}, expect="GENERATE_REPLY")
    status, _, body = gateway.call("POST", "/v1/chat/completions", {"model": "qwen", "messages": messages,
                                                                    "max_tokens": 1})
    check(status == 200 and body["usage"]["prompt_tokens"] == len(reference["prompt_tokens"]),
          f"no BOS in a Qwen chat: {body} vs {len(reference['prompt_tokens'])} tokens")
    print("BOS as the model's file says: none for a Qwen2 model (completion, chat, /tokenize add_special), "
          "one for a Llama 3 one")


def scenario_metrics(gateway):
    status, headers, body = gateway.call("GET", "/metrics")
    check(status == 200 and headers["content-type"].startswith("text/plain"), f"/metrics: {status} {headers}")
    text = body.decode() if isinstance(body, bytes) else str(body)
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            check(line.startswith("# HELP ") or line.startswith("# TYPE "), f"comment line: {line!r}")
            continue
        match = re.fullmatch(r'([a-z_]+)(\{[^}]*\})? (-?[0-9.e+]+)', line)
        check(match is not None, f"a Prometheus sample: {line!r}")
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    wanted = ['xinf_requests_total{model="m",outcome="length"}', 'xinf_requests_total{model="m",outcome="stop"}',
              'xinf_http_responses_total{status="400"}', 'xinf_http_responses_total{status="404"}',
              'xinf_time_to_first_token_seconds_bucket{model="m",le="+Inf"}',
              'xinf_inter_token_seconds_count{model="m"}', 'xinf_queue_depth', 'xinf_running_requests',
              'xinf_model_replicas_ready{model="m"}', 'xinf_model_kv_blocks{model="m"}',
              'xinf_scheduler_answers_total{code="OK"}', 'xinf_completion_tokens_total{model="m"}']
    for name in wanted:
        check(name in samples, f"/metrics has {name}: {text[:3000]}")
    check(samples['xinf_requests_total{model="m",outcome="length"}'] >= 3, "generations counted")
    # Refusals count under one label, not a series per model name a client made up
    check(samples.get('xinf_requests_total{model="_refused",outcome="not_found"}', 0) >= 2
          and not any('model="nope"' in key for key in samples), "404s under _refused, no 'nope' series")
    check(samples['xinf_model_replicas_ready{model="m"}'] == 1, "one replica ready")
    check(any(key.startswith("xinf_worker_up{") and value == 1 for key, value in samples.items()), "a worker up")
    check(any(key.startswith("xinf_worker_heartbeat_age_seconds{") for key in samples), "heartbeat age")
    kv = {key.split("{")[0]: value for key, value in samples.items() if key.startswith("xinf_replica_kv_blocks_")
          and '{model="m",replica="0",' in key}
    check(len(kv) == 2 and kv["xinf_replica_kv_blocks_used"] + kv["xinf_replica_kv_blocks_free"]
          == samples['xinf_model_kv_blocks{model="m"}'], f"m's replica KV blocks used and free: {kv}")
    print(f"/metrics: {len(samples)} samples in Prometheus text format (requests, tokens, TTFT/ITL histograms, "
          "queue, workers, waits, models, KV blocks)")


def scenario_manage(gateway, path):
    """Management over HTTP (admin key): launch, progress, terminate, workers, waits, events, doctor."""
    launch = {"model_uid": "m2", "path": path, "replicas": 1, "n_worker": 1, "threads": 1, "max_queued": 8,
              "disable_cuda_graph": True, "kv_cache_dtype": "f32",
              "speculative_config": {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 1}}
    expect_error(gateway.call("POST", "/v1/models", launch), 403, "admin role")
    expect_error(gateway.call("GET", "/v1/cluster/workers"), 403, "admin role")
    expect_error(gateway.call("POST", "/v1/models", {"uid": "m3"}, key=ADMIN_KEY), 400, "path")
    expect_error(gateway.call("POST", "/v1/models", {"uid": "m3", "path": path, "replicas": "two"}, key=ADMIN_KEY),
                 400, "replicas")
    expect_error(gateway.call("POST", "/v1/models", {"uid": "m3", "path": path, "replicas": {"a": 1}}, key=ADMIN_KEY),
                 400, "replicas")
    expect_error(gateway.call("POST", "/v1/models", {"uid": "m3", "path": path, "disable_cuda_graph": "yes"},
                              key=ADMIN_KEY), 400, "disable_cuda_graph")
    expect_error(gateway.call("POST", "/v1/models", {"uid": "m3", "path": path, "kv_cache_dtype": "q4"},
                              key=ADMIN_KEY), 400, "kv_cache_dtype")
    for config, needle in (({"method": "eagle", "num_speculative_tokens": 3}, "speculative_config.method"),
                           ({"method": "ngram", "draft_tensor_parallel_size": 1},
                            "speculative_config.draft_tensor_parallel_size"),
                           ({"method": "ngram", "num_speculative_tokens": -1}, "num_speculative_tokens"),
                           ({"method": "ngram", "num_speculative_tokens": 99}, "speculative_config.num_speculative_tokens"),
                           ({"method": "ngram"}, "speculative_config.num_speculative_tokens"),
                           ({"method": "ngram", "num_speculative_tokens": 2, "prompt_lookup_min": 5,
                             "prompt_lookup_max": 2}, "prompt_lookup_min"),
                           ("ngram", "speculative_config")):
        expect_error(gateway.call("POST", "/v1/models", {"uid": "m3", "path": path, "speculative_config": config},
                                  key=ADMIN_KEY), 400, needle)
    status, _, body = gateway.call("POST", "/v1/models", launch, key=ADMIN_KEY)
    check(status == 201 and body["uid"] == "m2" and body["state"] == "loading", f"launch: {status} {body}")
    expect_error(gateway.call("POST", "/v1/models", launch, key=ADMIN_KEY), 409, "m2")
    deadline = time.monotonic() + 60
    while True:
        status, _, body = gateway.call("GET", "/v1/models/m2/progress", key=ADMIN_KEY)
        check(status == 200 and body["state"] in ("loading", "ready"), f"progress: {body}")
        if body["state"] == "ready":
            break
        check(time.monotonic() < deadline, "m2 loads within 60 s")
        time.sleep(0.1)
    check(body["bytes_done"] == body["bytes_total"] > 0, f"progress bytes: {body}")
    check(gateway.call("POST", "/v1/completions", {"model": "m2", "prompt": "x", "max_tokens": 2})[0] == 200,
          "the launched model serves")
    # Launched with speculative_config: its steps carry drafts, counted in /metrics
    # (greedy: a sampled answer of a random model may never repeat itself)
    check(gateway.call("POST", "/v1/completions", {"model": "m2", "prompt": "a b a b a b a b a b", "max_tokens": 64,
                                                   "ignore_eos": True, "temperature": 0})[0] == 200,
          "m2 answers a repetitive prompt")
    deadline = time.monotonic() + 10
    drafts = []
    while not drafts or float(drafts[0].split()[-1]) == 0:
        check(time.monotonic() < deadline, f"m2's drafts in /metrics within 10 s: {drafts}")
        time.sleep(0.05)
        drafts = [line for line in gateway.call("GET", "/metrics")[2].decode().splitlines()
                  if line.startswith('xinf_replica_spec_draft_tokens_total{model="m2"')]
    status, _, body = gateway.call("GET", "/v1/cluster/workers", key=ADMIN_KEY)
    check(status == 200 and body["data"] and body["data"][0]["state"] == "alive", f"workers: {body}")
    status, _, body = gateway.call("GET", "/v1/cluster", key=ADMIN_KEY)
    check(status == 200 and "requests" in body and body["supervisor"]["pid"] == gateway.pid(), f"cluster: {body}")
    status, _, body = gateway.call("GET", "/v1/cluster/waits", key=ADMIN_KEY)
    check(status == 200 and isinstance(body["waits"], list), f"waits: {body}")
    status, _, body = gateway.call("GET", "/v1/cluster/events?since=0&limit=5", key=ADMIN_KEY)
    check(status == 200 and body["events"] and body["events"][0]["kind"] == "joined", f"events: {body}")
    expect_error(gateway.call("GET", "/v1/cluster/events?since=-1", key=ADMIN_KEY), 400, "non-negative")
    status, _, body = gateway.call("POST", "/v1/cluster/doctor", {"timeout_ms": 500}, key=ADMIN_KEY)
    check(status == 200 and body["ok"] is True and len(body["workers"]) == 1, f"doctor: {body}")
    status, _, body = gateway.call("DELETE", "/v1/models/m2", key=ADMIN_KEY)
    check(status == 200 and body["uid"] == "m2" and body["replicas"] == 1, f"terminate: {body}")
    expect_error(gateway.call("GET", "/v1/models/m2"), 404, "m2")     # a stopping model is not listed
    # Its progress says stopping until the worker confirmed the unload; then it is gone
    deadline = time.monotonic() + 30
    while (result := gateway.call("GET", "/v1/models/m2/progress", key=ADMIN_KEY))[0] == 200 \
            and time.monotonic() < deadline:
        check(result[2]["state"] == "stopping", f"a terminated model is stopping: {result[2]}")
        time.sleep(0.01)
    expect_error(result, 404, "m2")
    expect_error(gateway.call("DELETE", "/v1/models/m2", key=ADMIN_KEY), 404, "m2")
    expect_error(gateway.call("PUT", "/v1/models/m2", key=ADMIN_KEY), 405, "GET or DELETE")
    expect_error(gateway.call("GET", "/v1/models/m2/nothing", key=ADMIN_KEY), 404, "does not exist")
    print("management (admin key; 403 for a user key): launch 201 / 400 / 409, progress, terminate, workers, "
          "cluster, waits, events, doctor")


def scenario_slowloris(gateway):
    """A client that sends half its headers and stops is closed after --http-timeout-s."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
        data = sock.recv(4096)
    waited = time.monotonic() - started
    check(data == b"" or data.startswith(b"HTTP/1.1 4"), f"the slow client is closed (got {data[:60]!r})")
    check(waited < 25, f"closed after {waited:.1f} s")
    print(f"slowloris: a half-sent request closed after {waited:.1f} s (--http-timeout-s 2)")
    # A body that trickles (a byte a second: never idle for 2 s) is dropped at --http-body-timeout-s
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + USER_KEY.encode()
                     + b"\r\nContent-Length: 1000\r\n\r\n")
        closed = False
        while not closed and time.monotonic() - started < 25:
            try:
                sock.sendall(b" ")
                sock.settimeout(1.0)
                closed = sock.recv(4096) == b""
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                closed = True
    waited = time.monotonic() - started
    check(closed and waited < 20, f"a trickling body is dropped (closed={closed} after {waited:.1f} s)")
    print(f"slow body: a request trickling a byte a second dropped after {waited:.1f} s (--http-body-timeout-s 4)")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-http-") as workdir:
        path = os.path.join(workdir, "m.gguf")
        make_model(build_dir, path)
        llama3 = os.path.join(workdir, "llama3.gguf")
        make_model(build_dir, llama3, chat_template="meta-llama-Llama-3.1-8B-Instruct.jinja")
        gemma = os.path.join(workdir, "gemma.gguf")
        make_model(build_dir, gemma, chat_template="google-gemma-2-2b-it.jinja")
        qwen = os.path.join(workdir, "qwen.gguf")
        make_model(build_dir, qwen, chat_template="Qwen-Qwen2.5-7B-Instruct.jinja", arch="qwen2")
        coder = os.path.join(workdir, "coder.gguf")
        make_model(build_dir, coder, arch="qwen2", fim=True)
        embedder = os.path.join(workdir, "embedder.gguf")
        make_model(build_dir, embedder, arch="qwen3", pooling="last", add_eos=True, seed=5)
        reranker = os.path.join(workdir, "reranker.gguf")
        make_model(build_dir, reranker, arch="qwen3", rerank=True, add_eos=True, weight_type="f32", seed=6)
        #  XINF_SPEC_EVERY_DRAFT: the speculating model of scenario_manage drafts
        #  whatever its steps cost on a loaded machine
        gateway = Gateway(build_dir, workdir, "--http-max-body", "65536", "--http-timeout-s", "2",
                          "--http-body-timeout-s", "4", env={**os.environ, "XINF_SPEC_EVERY_DRAFT": "1"})
        scenario_before_ready(gateway)
        scenario_auth(gateway)
        gateway.launch("m", path)
        scenario_paths(gateway)
        gateway.wait_restart_window()       # then an unknown model is 404 at once
        scenario_bad_input(gateway)
        scenario_too_large(gateway)
        prompt, text = scenario_completions(gateway)
        scenario_stops(gateway, prompt, text)
        scenario_penalties(gateway, prompt, text)
        scenario_repetition(gateway, prompt, text)
        scenario_llama_completion(gateway, prompt, text)
        scenario_logit_bias(gateway, prompt, text)
        scenario_logprobs(gateway, prompt, text)
        scenario_min_p(gateway, prompt, text)
        scenario_vllm_extras(gateway, prompt, text)
        scenario_choices(gateway, prompt, text)
        scenario_echo(gateway, prompt, text)
        scored = scenario_prompt_logprobs(gateway, prompt)
        scenario_echo_logprobs(gateway, prompt, *scored)
        scenario_json_object(gateway)
        scenario_json_schema(gateway)
        scenario_regex(gateway)
        scenario_choice(gateway)
        scenario_schema_patterns(gateway)
        scenario_grammar(gateway)
        scenario_recursive_grammar(gateway)
        scenario_guided_refused(gateway)
        scenario_chat(gateway)
        scenario_chat_template(gateway, llama3)
        scenario_template_refuses(gateway, gemma)
        scenario_tokenize(gateway)
        scenario_bos(gateway, qwen)
        scenario_fim(gateway, coder)
        scenario_llama_infill(gateway, coder)
        scenario_embeddings(gateway, embedder, "m")
        scenario_rerank(gateway, reranker, "m")
        scenario_metrics(gateway)
        scenario_manage(gateway, path)
        scenario_slowloris(gateway)
        status, _, body = gateway.call("GET", "/health")
        check(status == 200, "the gateway still serves after all of it")
        check(gateway.stop() == 0, "the node exits 0")
        scenario_prompt_too_large(build_dir, workdir, path)
    print("PASS: the HTTP gateway's endpoints and error statuses")


if __name__ == "__main__":
    run_logged(main)
