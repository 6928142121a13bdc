"""llama-server's own endpoints, POST /completion and POST /infill, end to
end through a node's gateway (scenarios of test_http_api.py, which starts
the node): the greedy answer equals /v1/completions' for the same prompt,
in llama-server's shape (content, stop, stop_type, stopping_word,
tokens_predicted, tokens_evaluated, generation_settings, timings), its
tokens with return_tokens, its log-probabilities with n_probs, streamed
as llama-server's events; llama-server's defaults; the model may be left
out while one model generates; samplers xinf lacks are refused by name."""
import re

from xinf_httplib import check, completion, expect_error


def answer(gateway, body, path="/completion"):
    status, _, result = gateway.call("POST", path, body)
    check(status == 200, f"{path} of {body}: {status} {result}")
    return result


def scenario_llama_completion(gateway, prompt, text):
    """Only model m is launched: /completion needs no model."""
    result = answer(gateway, {"prompt": prompt, "n_predict": 24, "temperature": 0})
    check(result["content"] == text, f"the greedy content is /v1/completions' text: {result['content']!r} vs {text!r}")
    check(result["stop"] is True and result["stop_type"] == "limit" and result["stopping_word"] == ""
          and result["tokens_predicted"] == 24 and result["tokens_evaluated"] > 0 and result["model"] == "m"
          and result["tokens"] == [] and result["index"] == 0, f"llama-server's fields: {result}")
    settings, timings = result["generation_settings"], result["timings"]
    check(settings["n_predict"] == 24 and settings["temperature"] == 0 and settings["top_k"] == 40
          and abs(settings["top_p"] - 0.95) < 1e-9 and abs(settings["min_p"] - 0.05) < 1e-9,
          f"generation_settings, with llama-server's defaults where not given: {settings}")
    check(timings["predicted_n"] == 24 and timings["prompt_n"] + timings["cache_n"] == result["tokens_evaluated"]
          and timings["predicted_ms"] >= 0 and timings["prompt_ms"] >= 0, f"timings: {timings}")
    # return_tokens: the ids, which detokenize to the content
    tokens = answer(gateway, {"model": "m", "prompt": prompt, "n_predict": 24, "temperature": 0,
                              "return_tokens": True})["tokens"]
    status, _, shown = gateway.call("POST", "/detokenize", {"model": "m", "tokens": tokens})
    check(len(tokens) == 24 and status == 200 and shown["content"] == text, f"return_tokens: {tokens} {shown}")
    # a stop string: the content before it, stop_type word
    word = re.search(r"[A-Za-z]{3}", text[2:]).group(0)     # plain bytes: the text has U+FFFD in it
    stopped = answer(gateway, {"prompt": prompt, "n_predict": 24, "temperature": 0, "stop": [word]})
    check(stopped["stop_type"] == "word" and stopped["stopping_word"] == word
          and stopped["content"] == text[:text.index(word)], f"a stop string: {stopped}")
    # n_probs: each token's log-probability and its alternatives, with ids
    probs = answer(gateway, {"prompt": prompt, "n_predict": 6, "temperature": 0, "n_probs": 3})
    entries = probs["completion_probabilities"]
    check(len(entries) == 6 and all(isinstance(e["id"], int) and e["logprob"] <= 0 and len(e["top_logprobs"]) == 3
                                     and all(isinstance(t["id"], int) for t in e["top_logprobs"]) for e in entries)
          and entries[0]["top_logprobs"][0]["id"] == entries[0]["id"], f"completion_probabilities: {entries[:2]}")
    # streamed: llama-server's events, the pieces then the whole result
    status, events = gateway.stream("/completion", {"prompt": prompt, "n_predict": 24, "temperature": 0,
                                                    "stream": True})
    pieces = "".join(event["content"] for event in events[:-1])
    check(status == 200 and pieces == text and all(event["stop"] is False for event in events[:-1])
          and events[-1]["stop"] is True and events[-1]["content"] == "" and events[-1]["stop_type"] == "limit"
          and "[DONE]" not in events, f"the stream: {events[:2]} ... {events[-1]}")
    # llama-server's defaults sample (temperature 0.8): a seed repeats
    first = answer(gateway, {"prompt": prompt, "n_predict": 12, "seed": 42})
    check(answer(gateway, {"prompt": prompt, "n_predict": 12, "seed": 42})["content"] == first["content"]
          and first["generation_settings"]["temperature"] == 0.8 and first["generation_settings"]["seed"] == 42,
          f"sampled with the defaults, a seed repeats: {first['content']!r}")
    # the same as /v1/completions with the same sampling
    same, _ = completion(gateway, {"model": "m", "prompt": prompt, "max_tokens": 12, "seed": 42, "temperature": 0.8,
                                   "top_k": 40, "top_p": 0.95, "min_p": 0.05})
    check(same == first["content"], f"llama-server's defaults are its sampling: {same!r} vs {first['content']!r}")
    for body, param in (({"prompt": prompt, "mirostat": 2}, "mirostat"), ({"prompt": prompt, "typical_p": 0.5},
                                                                            "typical_p"),
                        ({"prompt": prompt, "n_cmpl": 2}, "n_cmpl"), ({"prompt": [1, "a"]}, "prompt"),
                        ({"prompt": prompt, "n_predict": -5}, "n_predict"), ({"prompt": prompt, "n_probs": 30},
                                                                            "n_probs"),
                        ({"prompt": prompt, "logit_bias": [["hello", 1]]}, "logit_bias"), ({"n_predict": 2}, "prompt"),
                        ({"prompt": prompt, "temperature": 5}, "temperature")):
        expect_error(gateway.call("POST", "/completion", body), 400, param, param)
    alone = answer(gateway, {"prompt": prompt, "n_predict": 0, "logit_bias": [[5, False]]})
    check(alone["content"] == "" and alone["tokens_predicted"] == 0 and alone["tokens_evaluated"] > 0
          and alone["generation_settings"]["n_predict"] == 0, f"n_predict 0: the prompt alone: {alone}")
    # GET /props: the one model's context, default sampling, slots and file
    status, _, props = gateway.call("GET", "/props")
    check(status == 200 and props["model_alias"] == "m" and props["model_path"].endswith("m.gguf")
          and props["default_generation_settings"]["n_ctx"] > 0 and props["total_slots"] >= 1
          and props["default_generation_settings"]["params"]["temperature"] == 0.8
          and props["default_generation_settings"]["params"]["top_k"] == 40, f"GET /props: {props}")
    check(gateway.call("GET", "/props?model=m")[2] == props, "GET /props?model=m is the same")
    check(gateway.call("POST", "/props", {})[0] == 405, "POST /props is not allowed")
    neutral = answer(gateway, {"prompt": prompt, "n_predict": 24, "temperature": 0, "mirostat": 0, "typical_p": 1,
                               "cache_prompt": True, "id_slot": -1, "samplers": ["top_k", "temperature"]})
    check(neutral["content"] == text, "neutral samplers and llama.cpp's own knobs change nothing")
    print(f"/completion: the greedy content equals /v1/completions' ({len(text)} characters), in llama-server's "
          "shape; return_tokens, a stop word, n_probs with ids, a stream of its events; its default sampling "
          "with a seed; n_predict 0 the prompt alone; GET /props; 9 bad bodies refused by name, neutral samplers "
          "accepted")


def scenario_llama_infill(gateway, coder_path):
    """The coder model (fill-in-the-middle tokens) beside m."""
    gateway.launch("coder", coder_path)
    body = {"model": "coder", "input_prefix": "def add(a, b):\n", "prompt": "    ", "input_suffix": "\n    return c\n",
            "n_predict": 8, "temperature": 0}
    # The coder model has Qwen2.5-Coder's <|repo_name|> and <|file_sep|>: llama-server's repository pattern
    result = answer(gateway, body, "/infill")
    layout = ("<|repo_name|>myproject\n<|file_sep|>filename\n<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>"
              "\n    return c\n<|fim_middle|>")
    check(result["prompt"] == layout, f"/infill's prompt: {result['prompt']!r}")
    same = answer(gateway, {"model": "coder", "prompt": layout, "n_predict": 8, "temperature": 0})
    check(result["content"] == same["content"], f"/infill's middle is that prompt's: {result['content']!r}")
    extra = answer(gateway, dict(body, input_extra=[{"filename": "a.py", "text": "x = 1\n"}, {"text": "y"}]),
                   "/infill")
    check(extra["prompt"].startswith("<|repo_name|>myproject\n<|file_sep|>a.py\nx = 1\n<|file_sep|>tmp\ny"
                                     "<|file_sep|>filename\n<|fim_prefix|>"),
          f"input_extra's files before the prefix: {extra['prompt'][:90]!r}")
    empty = answer(gateway, dict(body, input_suffix=""), "/infill")
    check("<|fim_suffix|><|fim_middle|>" in empty["prompt"], f"an empty suffix still fills in: {empty['prompt']!r}")
    expect_error(gateway.call("POST", "/infill", dict(body, model=None)), 400, "models generate here", "model")
    expect_error(gateway.call("GET", "/props"), 400, "models generate here", "model")
    check(gateway.call("GET", "/props?model=coder")[2].get("model_alias") == "coder", "GET /props?model=coder")
    expect_error(gateway.call("POST", "/infill", dict(body, input_extra=[{"text": 5}])), 400, "item 0", "input_extra")
    expect_error(gateway.call("POST", "/infill", dict(body, model="m")), 400, "fill-in-the-middle", "suffix")
    # What llama.vim sends: n_indent, t_max_predict_ms, response_fields
    newline = gateway.call("POST", "/tokenize", {"model": "coder", "content": "\n"})[2]["tokens"]
    check(len(newline) == 1, f"a newline is one token: {newline}")
    lines = dict(body, n_predict=12, logit_bias=[[newline[0], 100]])
    check(answer(gateway, lines, "/infill")["content"] == "\n" * 12, "forced newlines")
    cut = answer(gateway, dict(lines, n_indent=4), "/infill")
    check(cut["content"] == "\n" and cut["stop_type"] == "limit",
          f"n_indent 4: a line less indented ends the answer before it: {cut['content']!r} {cut['stop_type']}")
    timed = answer(gateway, dict(lines, n_predict=200, t_max_predict_ms=1), "/infill")
    check(set(timed["content"]) == {"\n"} and timed["stop_type"] == "limit", f"t_max_predict_ms: {timed}")
    fields = ["content", "timings/prompt_n", "generation_settings/n_predict", "tokens_cached", "no/such"]
    picked = answer(gateway, dict(body, response_fields=fields, n_indent=0, t_max_predict_ms=250), "/infill")
    check(set(picked) == set(fields[:4]) and picked["generation_settings/n_predict"] == 8,
          f"response_fields: the values at those paths: {picked}")
    stops = answer(gateway, dict(body, stop=["x" * (i + 1) for i in range(6)]), "/infill")
    check(stops["stop"] is True, "six stop strings (SillyTavern sends many)")
    expect_error(gateway.call("POST", "/infill", dict(body, n_indent=-1)), 400, "n_indent", "n_indent")
    expect_error(gateway.call("POST", "/infill", dict(body, response_fields="content")), 400, "response_fields",
                 "response_fields")
    gateway.client.terminate("coder")
    print("/infill: llama-server's repository layout (the coder model has its tokens), the middle that prompt's; "
          "input_extra's files before the prefix; an empty "
          "suffix; the model required among several; llama.vim's n_indent (cuts), t_max_predict_ms (ends at a "
          "newline) and response_fields; six stop strings; 5 bad bodies refused")
