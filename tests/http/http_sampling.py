"""The sampling fields of the HTTP API, end to end through a node's
gateway, supervisor, replica and executor (scenarios of test_http_api.py,
which starts the node): presence, frequency and repetition penalties, logit_bias and
log-probabilities, each against what GENERATE over ZeroMQ gives for the
same prompt, streamed and not, with the bad values each gets."""
import json
import math
import subprocess

from xinf_httplib import check, completion, expect_error, generate_refused, stream_text, tool


def scenario_penalties(gateway, prompt, text):
    """presence_penalty and frequency_penalty reach the executor: a greedy
    text that repeats tokens changes under them, the same way each time;
    penalties of 0 leave it as it was."""
    def complete(**penalties):
        body = {"model": "m", "prompt": prompt, "max_tokens": 24, "temperature": 0, **penalties}
        status, _, answer = gateway.call("POST", "/v1/completions", body)
        check(status == 200, f"a completion with {penalties}: {status} {answer}")
        return answer["choices"][0]["text"]
    check(complete(presence_penalty=0, frequency_penalty=0.0) == text, "penalties of 0 change nothing")
    penalized = complete(presence_penalty=2, frequency_penalty=2)
    check(penalized != text, f"the penalties change a greedy text that repeats: {penalized!r} vs {text!r}")
    check(complete(presence_penalty=2, frequency_penalty=2) == penalized, "the same penalties, the same text")
    encouraged = complete(frequency_penalty=-2)
    check(encouraged != penalized, f"a negative penalty is another text: {encouraged!r}")
    status, events = gateway.stream("/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": 24,
                                                        "temperature": 0, "stream": True, "presence_penalty": 2,
                                                        "frequency_penalty": 2})
    check(status == 200 and stream_text(events)[0] == penalized, "streamed, the same penalized text")
    at = next(i for i in range(len(text)) if i >= len(penalized) or penalized[i] != text[i])
    print(f"penalties: the greedy text changes from character {at} ({text[at:at + 12]!r} becomes "
          f"{penalized[at:at + 12]!r}), repeatably, streamed too; 0 changes nothing")


def scenario_repetition(gateway, prompt, text):
    """vLLM's repetition_penalty and llama-server's repeat_penalty with
    repeat_last_n: a greedy text that repeats changes, the same way each
    time and streamed; 1, or a window of 0, leaves it as it was; a window
    past the whole text is the whole; the two names are one penalty;
    out of range or both at once is a 400 naming the field."""
    def complete(**fields):
        body = {"model": "m", "prompt": prompt, "max_tokens": 24, "temperature": 0, **fields}
        status, _, answer = gateway.call("POST", "/v1/completions", body)
        check(status == 200, f"a completion with {fields}: {status} {answer}")
        return answer["choices"][0]["text"]
    check(complete(repetition_penalty=1) == text and complete(repeat_penalty=1.0) == text,
          "a repetition penalty of 1 changes nothing")
    check(complete(repeat_penalty=1.8, repeat_last_n=0) == text, "a window of 0 tokens changes nothing")
    penalized = complete(repetition_penalty=1.8)
    check(penalized != text, f"the penalty changes a greedy text that repeats: {penalized!r} vs {text!r}")
    check(complete(repetition_penalty=1.8) == penalized, "the same penalty, the same text")
    check(complete(repetition_penalty=1.8, repeat_penalty=1.8) == penalized, "both names, the same value: vLLM's")
    check(complete(repeat_penalty=1.8, repeat_last_n=-1) == penalized
          and complete(repeat_penalty=1.8, repeat_last_n=100000) == penalized,
          "repeat_penalty over the whole context (or a window past it) is repetition_penalty")
    check(complete(repeat_penalty=1.8) == complete(repeat_penalty=1.8, repeat_last_n=64),
          "repeat_penalty alone looks at the last 64 tokens, as llama-server's")
    windowed = complete(repeat_penalty=1.8, repeat_last_n=2)
    check(complete(repeat_penalty=1.8, repeat_last_n=2) == windowed, f"a window of 2, repeatably: {windowed!r}")
    chat = gateway.call("POST", "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": prompt}],
                                                         "max_tokens": 12, "temperature": 0,
                                                         "repetition_penalty": 1.8})
    check(chat[0] == 200, f"chat takes repetition_penalty: {chat}")
    status, events = gateway.stream("/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": 24,
                                                        "temperature": 0, "stream": True, "repetition_penalty": 1.8})
    check(status == 200 and stream_text(events)[0] == penalized, "streamed, the same penalized text")
    for fields, param in (({"repetition_penalty": 0}, "repetition_penalty"),
                          ({"repetition_penalty": 11}, "repetition_penalty"),
                          ({"repeat_penalty": "x"}, "repeat_penalty"),
                          ({"repeat_penalty": 1.1, "repetition_penalty": 1.2}, "repeat_penalty"),
                          ({"repeat_penalty": 1.1, "repeat_last_n": -2}, "repeat_last_n")):
        expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": 2,
                                                              **fields}), 400, param, param)
    at = next(i for i in range(len(text)) if i >= len(penalized) or penalized[i] != text[i])
    print(f"repetition penalty: the greedy text changes from character {at} ({text[at:at + 12]!r} becomes "
          f"{penalized[at:at + 12]!r}), repeatably, streamed too; repeat_penalty over the whole context the same, "
          "alone over 64 tokens; 1 and a window of 0 change nothing, a window past the text is the whole; 5 bad "
          "values refused by name")


def scenario_logit_bias(gateway, prompt, text):
    """logit_bias reaches the executor before sampling: -100 on the greedy
    text's first token makes another first token, +100 on a token makes it
    every token, bias 0 changes nothing; the ids come from GENERATE over
    ZeroMQ with the same prompt, so the HTTP text is checked against them."""
    def generate(biases, max_tokens=24):
        body = {"uid": "m", "prompt": prompt, "special": True, "max_tokens": max_tokens, "temperature": 0}
        if biases:
            body["logit_bias"] = [{"token": token, "bias": bias} for token, bias in biases.items()]
        return gateway.client.request("GENERATE", body, expect="GENERATE_REPLY", timeout_ms=30000)[0]

    def complete(logit_bias, max_tokens=24, stream=False):
        return completion(gateway, {"model": "m", "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                                    "logit_bias": logit_bias}, stream)[0]

    def text_of(reply):          # as the gateway shows bytes that are no UTF-8
        status, _, body = gateway.call("POST", "/detokenize", {"model": "m", "tokens": reply["tokens"]})
        check(status == 200, f"/detokenize: {status} {body}")
        return body["content"]

    plain = generate({})
    check(text_of(plain) == text, f"GENERATE's greedy text is the HTTP one: {plain}")
    first = plain["tokens"][0]
    check(complete({str(first): 0}) == text, "a bias of 0 changes nothing")
    banned = generate({first: -100})
    check(banned["tokens"][0] != first, f"-100 bans the first token {first}: {banned['tokens']}")
    banned_text = complete({str(first): -100})
    check(banned_text == text_of(banned), f"the HTTP text is GENERATE's: {banned_text!r} vs {text_of(banned)!r}")
    check(complete([[first, -100]], stream=True) == banned_text,
          "llama-server's [[id, bias]] form, streamed: the same text")
    forced_id = next(t for t in range(40, 512) if t not in plain["tokens"])
    forced = generate({forced_id: 100, first: -5.5}, max_tokens=6)
    check(forced["tokens"] == [forced_id] * 6, f"+100 on token {forced_id} makes every token it: {forced['tokens']}")
    chat = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "temperature": 0,
            "logit_bias": {str(forced_id): 100}}
    status, _, answer = gateway.call("POST", "/v1/chat/completions", chat)
    check(status == 200 and answer["choices"][0]["message"]["content"] == text_of(forced),
          f"chat: +100 forces token {forced_id}: {status} {answer}")
    # xinf_client.py and xinf-cli (C) send it too
    python = gateway.client.generate("m", prompt=prompt, max_tokens=3, logit_bias={forced_id: 100})
    check(python["tokens"] == [forced_id] * 3, f"xinf_client.py logit_bias: {python['tokens']}")
    cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "--json", "generate", "m",
                          "--prompt", prompt, "--max-tokens", "3", "--logit-bias", f"{forced_id}:100,{first}:-1.5"],
                         capture_output=True, text=True, timeout=60)
    check(cli.returncode == 0 and json.loads(cli.stdout)["tokens"] == [forced_id] * 3,
          f"xinf-cli --logit-bias: {cli.returncode} {cli.stdout} {cli.stderr}")
    for bad in ("5", "5:101", "x:1", "5:1,", "5:nan", "5:0x64", "5: 1"):
        cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "generate", "m",
                              "--prompt", "x", "--logit-bias", bad], capture_output=True, text=True, timeout=60)
        check(cli.returncode != 0 and "--logit-bias" in cli.stderr, f"xinf-cli --logit-bias {bad}: {cli.stderr}")
    cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "--json", "generate", "m",
                          "--prompt", prompt, "--max-tokens", "2", "--logprobs", "3"],
                         capture_output=True, text=True, timeout=60)
    entries = json.loads(cli.stdout)["logprobs"] if cli.returncode == 0 else []
    check(len(entries) == 2 and all(len(entry["top_logprobs"]) == 3 for entry in entries),
          f"xinf-cli --logprobs 3: {cli.returncode} {cli.stdout} {cli.stderr}")
    python = gateway.client.generate("m", prompt=prompt, max_tokens=2, logprobs=1)
    check(len(python["logprobs"]) == 2 and len(python["logprobs"][0]["top_logprobs"]) == 1,
          f"xinf_client.py logprobs=1: {python}")
    # What only the worker can know: the vocabulary (512) and duplicates
    expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "logit_bias": {"512": 1}}),
                 400, "not below the vocabulary of 512", "logit_bias")
    expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x",
                                                          "logit_bias": [[7, 1], [7, 2]]}), 400, "token 7 is biased twice",
                 "logit_bias")
    for bad, needle in (([{"token": 3, "bias": 100.5}], "logit_bias[0]: field 'bias'"),
                        ([{"token": 3}], "logit_bias[0]: field 'bias'"),
                        ([{"token": -1, "bias": 1}], "logit_bias[0]: field 'token'"), ("x", "'logit_bias'")):
        generate_refused(gateway, {"uid": "m", "prompt": "x", "max_tokens": 1, "logit_bias": bad}, needle)
    print(f"logit_bias: -100 on token {first} gives another first token, +100 on token {forced_id} makes all 6 tokens "
          "it (completions, chat, streamed, both JSON forms); 0 changes nothing; bad biases refused")


def scenario_logprobs(gateway, prompt, text):
    """logprobs: a greedy token's log-probability is the largest of its
    position's; the values are GENERATE's over ZeroMQ; streamed chunks carry
    the same entries as the answer; completions' and chat's shapes."""
    def close(a, b):
        return abs(a - b) <= 1e-6 * max(1.0, abs(b))

    body = {"model": "m", "prompt": prompt, "max_tokens": 8, "temperature": 0, "logprobs": 3}
    status, _, answer = gateway.call("POST", "/v1/completions", body)
    check(status == 200, f"completions with logprobs: {status} {answer}")
    choice = answer["choices"][0]
    logprobs = choice["logprobs"]
    check(choice["text"] == text[:len(choice["text"])], f"logprobs change nothing in the text: {choice['text']!r}")
    count = len(logprobs["tokens"])
    check(count == 8 and all(len(logprobs[key]) == count for key in ("token_logprobs", "top_logprobs", "text_offset")),
          f"8 tokens, each with its logprob, top and offset: {logprobs}")
    for index in range(count):
        top = logprobs["top_logprobs"][index]
        check(1 <= len(top) <= 3 and close(max(top.values()), logprobs["token_logprobs"][index]),
              f"greedy: token {index}'s logprob is the largest of its top 3: {logprobs}")
        check(sum(math.exp(value) for value in top.values()) <= 1 + 1e-6, f"probabilities at most 1: {top}")
    check(logprobs["text_offset"] == sorted(logprobs["text_offset"]) and logprobs["text_offset"][0] == 0,
          f"text_offset grows from 0: {logprobs['text_offset']}")
    reference = gateway.client.request("GENERATE", {"uid": "m", "prompt": prompt, "special": True, "max_tokens": 8,
                                                    "temperature": 0, "logprobs": True, "top_logprobs": 3},
                                       expect="GENERATE_REPLY", timeout_ms=30000)[0]
    check(len(reference["logprobs"]) == 8 and all(
        close(entry["logprob"], logprobs["token_logprobs"][index]) and len(entry["top_logprobs"]) == 3
        and entry["top_logprobs"][0]["token"] == reference["tokens"][index]
        for index, entry in enumerate(reference["logprobs"])), f"GENERATE's logprobs are the HTTP ones: {reference}")
    status, events = gateway.stream("/v1/completions", dict(body, stream=True))
    events = [event for event in events if isinstance(event, dict) and event.get("choices")]
    streamed = [token for event in events for token in (event["choices"][0].get("logprobs") or {}).get("tokens", [])]
    values = [value for event in events
              for value in (event["choices"][0].get("logprobs") or {}).get("token_logprobs", [])]
    check(status == 200 and streamed == logprobs["tokens"] and values == logprobs["token_logprobs"],
          f"streamed: the same tokens and logprobs: {streamed} {values}")
    chat = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "temperature": 0,
            "logprobs": True, "top_logprobs": 2}
    status, _, answer = gateway.call("POST", "/v1/chat/completions", chat)
    check(status == 200, f"chat with logprobs: {status} {answer}")
    content = answer["choices"][0]["logprobs"]["content"]
    check(len(content) == answer["usage"]["completion_tokens"] - (answer["choices"][0]["finish_reason"] == "stop")
          and all(len(entry["top_logprobs"]) == 2 and close(entry["logprob"], entry["top_logprobs"][0]["logprob"])
                  and entry["top_logprobs"][0]["bytes"] == entry["bytes"] for entry in content),
          f"chat: each token's entry, greedy the top one: {content}")
    status, events = gateway.stream("/v1/chat/completions", dict(chat, stream=True))
    streamed = [entry for event in events if isinstance(event, dict) and event.get("choices")
                for entry in (event["choices"][0].get("logprobs") or {}).get("content", [])]
    check(status == 200 and streamed == content, f"chat streamed: the same entries: {streamed} vs {content}")
    sampled = dict(chat, temperature=1.0, seed=5, logprobs=True, top_logprobs=0)
    status, _, answer = gateway.call("POST", "/v1/chat/completions", sampled)
    entries = answer["choices"][0]["logprobs"]["content"]
    check(status == 200 and entries and all(entry["logprob"] <= 0 and entry["top_logprobs"] == [] for entry in entries),
          f"sampled, top_logprobs 0: each token's logprob alone: {answer}")
    for off in (False, 0, None):
        status, _, answer = gateway.call("POST", "/v1/chat/completions", dict(chat, logprobs=off, top_logprobs=0))
        check(status == 200 and answer["choices"][0]["logprobs"] is None, f"chat logprobs {off}: null: {answer}")
    for off in (False, None):
        status, _, answer = gateway.call("POST", "/v1/completions", dict(body, logprobs=off))
        check(status == 200 and answer["choices"][0]["logprobs"] is None, f"logprobs {off}: null: {answer}")
    print(f"logprobs: greedy tokens are their positions' most likely, equal to GENERATE's "
          f"({logprobs['token_logprobs'][0]:.4f} first), streamed the same; chat and completions shapes")


def scenario_min_p(gateway, prompt, text):
    """min_p reaches the executor: at 1 only the most likely token is left,
    so a hot sampled text is the greedy one, whatever the seed; without it
    the same seeds give other texts. xinf_client.py and xinf-cli send it
    too; bad values are refused, by the gateway and by the worker."""
    def complete(stream=False, **fields):
        return completion(gateway, {"model": "m", "prompt": prompt, "max_tokens": 24, **fields}, stream)[0]
    seeds = (1, 2, 3, 4)
    hot = [complete(temperature=1.5, seed=seed) for seed in seeds]
    check(any(sampled != text for sampled in hot), f"hot sampling without min_p is not the greedy text: {hot}")
    for seed in seeds:
        check(complete(temperature=1.5, seed=seed, min_p=1) == text, f"min_p 1 at seed {seed} is the greedy text")
    check(complete(stream=True, temperature=1.5, seed=9, min_p=1.0) == text, "streamed, min_p 1 is the greedy text")
    check(complete(temperature=1.5, seed=2, min_p=0) == hot[1], "min_p 0 changes nothing")
    some = complete(temperature=1.0, seed=5, min_p=0.5)
    check(complete(stream=True, temperature=1.0, seed=5, min_p=0.5) == some, "min_p 0.5: the same text streamed")
    chat = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}
    status, _, greedy = gateway.call("POST", "/v1/chat/completions", dict(chat, temperature=0))
    status2, _, trimmed = gateway.call("POST", "/v1/chat/completions", dict(chat, temperature=1.5, seed=3, min_p=1))
    check(status == 200 and status2 == 200 and greedy["choices"][0]["message"] == trimmed["choices"][0]["message"],
          f"chat: min_p 1 is the greedy answer: {greedy} {trimmed}")
    plain = gateway.client.generate("m", prompt="Hello", max_tokens=8)
    python = gateway.client.generate("m", prompt="Hello", max_tokens=8, temperature=1.5, seed=6, min_p=1)
    check(python["tokens"] == plain["tokens"], f"xinf_client.py min_p=1: {python['tokens']} vs {plain['tokens']}")
    cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "--json", "generate", "m",
                          "--prompt", "Hello", "--max-tokens", "8", "--temperature", "1.5", "--seed", "6",
                          "--min-p", "1"], capture_output=True, text=True, timeout=60)
    check(cli.returncode == 0 and json.loads(cli.stdout)["tokens"] == plain["tokens"],
          f"xinf-cli --min-p 1: {cli.returncode} {cli.stdout} {cli.stderr}")
    for bad in ("-0.1", "1.5", "x", "nan"):
        cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "generate", "m",
                              "--prompt", "x", "--min-p", bad], capture_output=True, text=True, timeout=60)
        check(cli.returncode != 0 and "--min-p" in cli.stderr, f"xinf-cli --min-p {bad}: {cli.stderr}")
    for bad in (-0.1, 1.5, "0.5", True):
        expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "min_p": bad}), 400,
                     "min_p", "min_p")
    for bad in (2, -1, "x"):
        generate_refused(gateway, {"uid": "m", "prompt": "x", "max_tokens": 1, "min_p": bad}, "min_p")
    print(f"min_p: 1 makes hot sampling at {len(seeds)} seeds the greedy text (completions, streamed, chat, "
          "xinf_client.py, xinf-cli); without it they differ; 0.5 repeats streamed; bad values refused")


def scenario_vllm_extras(gateway, prompt, text):
    """vLLM's truncate_prompt_tokens keeps the prompt's last N tokens (the
    answer is that of the shorter prompt itself; -1 keeps what the context
    holds); include_stop_str_in_output ends the text with the stop string
    that ended it, streamed too; bad values are 400s naming the field."""
    def complete(body):
        status, _, answer = gateway.call("POST", "/v1/completions", {"model": "m", "temperature": 0, **body})
        check(status == 200, f"a completion with {body}: {status} {answer}")
        return answer
    whole = complete({"prompt": list(range(5, 45)), "max_tokens": 12})
    kept = complete({"prompt": list(range(35, 45)), "max_tokens": 12})
    cut = complete({"prompt": list(range(5, 45)), "max_tokens": 12, "truncate_prompt_tokens": 10})
    check(cut["choices"][0]["text"] == kept["choices"][0]["text"] and cut["usage"]["prompt_tokens"] == 10,
          f"the last 10 of 40 prompt tokens answer as those 10: {cut} vs {kept}")
    check(whole["usage"]["prompt_tokens"] == 40, f"without it the whole prompt: {whole['usage']}")
    same = complete({"prompt": list(range(5, 45)), "max_tokens": 12, "truncate_prompt_tokens": -1})
    check(same["choices"][0]["text"] == whole["choices"][0]["text"] and same["usage"]["prompt_tokens"] == 40,
          f"-1 keeps what the context holds: {same}")
    for value in (0, -2, "10"):
        expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": 2,
                                                              "truncate_prompt_tokens": value}),
                     400, "truncate_prompt_tokens")
    # The stop string: three printable ASCII characters of the greedy text,
    # where they first occur (the text before them has only whole characters)
    at = next(i for i in range(2, len(text) - 3) if all(" " <= c <= "~" for c in text[i:i + 3])
              and text.find(text[i:i + 3]) == i and "\ufffd" not in text[:i])
    stop = text[at:at + 3]
    plain = complete({"prompt": prompt, "max_tokens": 24, "stop": [stop]})["choices"][0]
    shown = complete({"prompt": prompt, "max_tokens": 24, "stop": [stop], "include_stop_str_in_output": True})
    check(plain["text"] == text[:at] and shown["choices"][0]["text"] == text[:at + 3]
          and shown["choices"][0]["finish_reason"] == "stop", f"the stop string shown: {shown} (without: {plain})")
    status, events = gateway.stream("/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": 24,
                                                        "temperature": 0, "stream": True, "stop": [stop],
                                                        "include_stop_str_in_output": True})
    streamed, finish = stream_text(events)
    check(status == 200 and streamed == text[:at + 3] and finish == "stop", f"streamed with the stop string: {streamed!r}")
    expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": 2,
                                                          "include_stop_str_in_output": "yes"}),
                 400, "include_stop_str_in_output")
    # allowed_token_ids: only those; one alone repeats; over HTTP as over ZeroMQ
    tokens = [int(t) for t in gateway.client.generate("m", prompt=prompt, max_tokens=24)["tokens"]]
    allowed = sorted(set(tokens[:3]) | {7, 9})
    got = gateway.client.generate("m", prompt=prompt, max_tokens=24, allowed_token_ids=allowed)["tokens"]
    check(got and set(got) <= set(allowed), f"allowed_token_ids {allowed}: {got}")
    alone = gateway.client.generate("m", prompt=prompt, max_tokens=8, allowed_token_ids=[9], ignore_eos=True)
    check(alone["tokens"] == [9] * 8, f"one allowed token, eight times: {alone['tokens']}")
    over_http = complete({"prompt": prompt, "max_tokens": 24, "allowed_token_ids": allowed})
    check(over_http["choices"][0]["text"] == gateway.client.generate("m", prompt=prompt, max_tokens=24,
                                                                     allowed_token_ids=allowed)["text"]
          .encode("utf-8", "surrogateescape").decode("utf-8", "replace"), f"over HTTP as over ZeroMQ: {over_http}")
    for value, needle in (([], "allowed_token_ids"), ([-1], "allowed_token_ids"), ("7", "allowed_token_ids"),
                          ([1 << 30], "not below the vocabulary")):
        expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": 2,
                                                              "allowed_token_ids": value}), 400, needle)
    expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": 2,
                                                          "allowed_token_ids": [7], "response_format":
                                                          {"type": "json_object"}}), 400, "constrained answer")
    # bad_words: the answer never completes a banned word's tokens
    def contains(haystack, needle):
        return any(haystack[i:i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))
    checked = 0
    for first in range(0, 12, 2):
        status, _, text_of = gateway.call("POST", "/detokenize", {"model": "m", "tokens": tokens[first:first + 2]})
        word = text_of.get("content", "") if status == 200 else ""
        if not word.strip() or "\ufffd" in word:
            continue
        ids = gateway.call("POST", "/tokenize", {"model": "m", "content": word.lstrip(" ")})[2]["tokens"]
        spaced = gateway.call("POST", "/tokenize", {"model": "m", "content": " " + word.lstrip(" ")})[2]["tokens"]
        # vLLM's rule: the spaced form too where it begins otherwise and is as long
        sequences = [ids] + ([spaced] if spaced[0] != ids[0] and len(spaced) == len(ids) else [])
        banned = [int(t) for t in gateway.client.generate("m", prompt=prompt, max_tokens=24, bad_words=[word])["tokens"]]
        check(not any(contains(banned, seq) for seq in sequences),
              f"bad_words [{word!r}] ({sequences}): the answer {banned} completes one")
        check(not any(contains(tokens, seq) for seq in sequences) or banned != tokens,
              f"bad_words [{word!r}] changes an answer that had it")
        # (the same text; invalid bytes compared without their replacement characters)
        over_http = complete({"prompt": prompt, "max_tokens": 24, "bad_words": [word]})["choices"][0]["text"]
        direct = gateway.client.generate("m", prompt=prompt, max_tokens=24, bad_words=[word])["text"]
        check(over_http.replace("\ufffd", "") == direct.encode("utf-8", "surrogateescape").decode("utf-8", "ignore"),
              f"bad_words over HTTP: {over_http!r} vs {direct!r}")
        checked += 1
    check(checked >= 2, f"bad words checked: {checked}")
    for value in ("x", [""], ["x" * 257], [1], [" \t"]):
        expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": 2,
                                                              "bad_words": value}), 400, "bad_words")
    print("vLLM's truncate_prompt_tokens (last N, -1), include_stop_str_in_output (streamed too), "
          f"allowed_token_ids (over ZeroMQ and HTTP) and bad_words ({checked} words), with refusals")
