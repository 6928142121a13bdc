"""OpenAI function calling through a local node's gateway.

The test models are tiny and answer with arbitrary tokens, so the models
that must call a tool are scripted ones (xinf-make-model --script): a real
GGUF whose forward pass gives a fixed answer to any prompt. Each answer is
what the template's model family writes: Qwen2.5 (Hermes <tool_call> blocks,
text before, two calls), Llama 3.1 (a JSON object with "parameters"),
Mistral Nemo (a JSON array of calls, its [TOOL_CALLS] control token
rendered as nothing), GLM-4.6 (<arg_key>/<arg_value> pairs, the value typed
by the tool's schema), DeepSeek V3.1 (<｜tool▁calls▁begin｜>, NAME<｜tool▁sep｜>
{ARGS}; its template renders no tools, so they are described in its system
message in DeepSeek's format), DeepSeek R1 (function<｜tool▁sep｜>NAME and a
```json fence; with its own template, the thought its prompt opened comes
first), Kimi K2 (functions.NAME:IDX, also the call's id), a model without
a template (ChatML: the tools go in a Hermes-style system message), one
whose template the interpreter cannot run
(the same fallback) and a broken call (returned as content); a random model
with tools answers text without calls.

Checked over HTTP: /apply-template with tools (the format, the fallback,
tool_choice none and a forced function), the answer's tool_calls,
content and finish_reason without and with stream (the same calls, no part
of a tag streamed as content), parallel_tool_calls false, a history with
calls and results rendered by each template, 400s naming the field. Then
the official openai npm client against the scripted models (not DeepSeek
V3.1's: see scenario_openai_client) (tools_client.mjs): create, a stream put together by hand and by the SDK's
helper, runTools (which runs our function with the parsed arguments and
sends the result back), and its BadRequestError; skipped (the rest still
runs) when node or the pinned client cannot be installed."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xinf_httplib import USER_KEY, Gateway, check, expect_error, generate_refused, make_model, stream_text, tool  # noqa: E402,E501
from test_cluster import run_logged  # noqa: E402

PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The weather", "parameters": PARAMETERS}},
         {"type": "function", "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}}}]
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]

# uid: (template, script, tool format, fallback, expected content, expected calls)
MODELS = {
    "qwen": ("Qwen-Qwen2.5-7B-Instruct.jinja",
             'Let me check. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
             '<tool_call>\n{"name": "noop", "arguments": {}}\n</tool_call>',
             "hermes", False, "Let me check. ", [("get_weather", '{"city": "Paris"}'), ("noop", "{}")]),
    "llama": ("meta-llama-Llama-3.1-8B-Instruct.jinja", '{"name": "get_weather", "parameters": {"city": "Oslo"}}',
              "llama3", False, None, [("get_weather", '{"city": "Oslo"}')]),
    "mistral": ("mistralai-Mistral-Nemo-Instruct-2407.jinja",
                '[{"name": "get_weather", "arguments": {"city": "Rome"}}]',
                "mistral", False, None, [("get_weather", '{"city": "Rome"}')]),
    "plain": (None, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Lima"}}\n</tool_call>',
              "hermes", True, None, [("get_weather", '{"city": "Lima"}')]),
    # GLM-4.5's form: "15" stays a string where the schema says so (city), "2" becomes a number (days)
    "glm": ("zai-org-GLM-4.6.jinja", 'Checking.<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>15</arg_value>\n'
                   '<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call>',
            "glm45", False, "Checking.", [("get_weather", '{"city":"15","days":2}')]),
    # A template the interpreter cannot run (include): the built-in ChatML stands in, and the tools go in
    # the system message as for a template without tools
    "unusable": ("UNUSABLE", '<tool_call>{"name": "get_weather", "arguments": {"city": "Kyiv"}}</tool_call>',
                 "hermes", True, None, [("get_weather", '{"city": "Kyiv"}')]),
}
# DeepSeek's markers (U+FF5C, U+2581) and Kimi K2's
CALLS, CALLS_END = "<\uff5ctool\u2581calls\u2581begin\uff5c>", "<\uff5ctool\u2581calls\u2581end\uff5c>"
CALL, CALL_END = "<\uff5ctool\u2581call\u2581begin\uff5c>", "<\uff5ctool\u2581call\u2581end\uff5c>"
SEP = "<\uff5ctool\u2581sep\uff5c>"
MODELS.update({
    # DeepSeek V3.1: its template renders calls and results but no tools: they are described in the
    # system message in DeepSeek's format; calls as NAME<sep>{ARGS}
    "deepseek": ("deepseek-ai-DeepSeek-V3.1.jinja",
                 "Checking." + CALLS + CALL + "get_weather" + SEP + '{"city": "Paris"}' + CALL_END + CALL + "noop" + SEP
                 + "{}" + CALL_END + CALLS_END, "deepseek_v3_1", False, "Checking.",
                 [("get_weather", '{"city": "Paris"}'), ("noop", "{}")]),
    # DeepSeek R1 (the template of its Qwen distill): function<sep>NAME and the arguments in a ```json fence
    "r1": ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
           CALLS + CALL + "function" + SEP + 'get_weather\n```json\n{"city": "Rome"}\n```' + CALL_END + CALLS_END,
           "deepseek_r1", False, None, [("get_weather", '{"city": "Rome"}')]),
    # Kimi K2: functions.NAME:IDX, which is the call's id too
    "kimi": ("moonshotai-Kimi-K2.jinja",
             "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
             '{"city": "Oslo"}<|tool_call_end|><|tool_calls_section_end|>', "kimi_k2", False, None,
             [("get_weather", '{"city": "Oslo"}')]),
})
# DeepSeek R1's own template (its Llama distill's): the prompt leaves the model in its thought; it
# renders a turn's calls only where its content is null, and joins their arguments to strings (so they
# reach it as JSON text)
R1_THINKING = ("deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja",
               "The user wants the weather.</think>\n\n" + CALLS + CALL + "function" + SEP
               + 'get_weather\n```json\n{"city": "Rome"}\n```' + CALL_END + CALLS_END)
UNUSABLE = "{% include 'tools.jinja' %}{% for message in messages %}<|im_start|>{{ message.content }}{% endfor %}"
BROKEN = '<tool_call>\n{"name": "get_weather", "arguments": {"city": \n</tool_call>'


def expect_400(gateway, body, param):
    status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
    check(status == 400 and answer["error"]["param"] == param and answer["error"]["type"] == "invalid_request_error",
          f"want a 400 naming {param}: {status} {answer}")


def calls_of(message):
    return [(call["function"]["name"], call["function"]["arguments"]) for call in message.get("tool_calls") or []]


def stream_calls(events):
    """Content, calls and finish of a chat stream, deltas put together as OpenAI documents them."""
    content, calls, finish, leaks = "", {}, None, 0
    for event in events:
        if event == "[DONE]" or not event.get("choices"):
            continue
        delta = event["choices"][0]["delta"]
        piece = delta.get("content") or ""
        content += piece
        leaks += any(tag in piece for tag in ("<tool", "[TOOL", "<\uff5ctool", "<|tool"))
        for call in delta.get("tool_calls") or []:
            entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            entry["id"] = call.get("id") or entry["id"]
            entry["name"] += call.get("function", {}).get("name") or ""
            entry["arguments"] += call.get("function", {}).get("arguments") or ""
        finish = event["choices"][0]["finish_reason"] or finish
    return content, [(calls[i]["name"], calls[i]["arguments"]) for i in sorted(calls)], finish, leaks


def scenario_scripted(gateway, uid, spec):
    template, script, tool_format, fallback, content, calls = spec
    body = {"model": uid, "messages": ASK, "tools": TOOLS, "temperature": 0}
    status, _, shown = gateway.call("POST", "/apply-template", body)
    check(status == 200 and shown["tool_format"] == tool_format and shown["tools_fallback"] is fallback
          and "get_weather" in shown["prompt"], f"{uid}: /apply-template with tools: {status} {shown}")
    status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
    check(status == 200, f"{uid}: {status} {answer}")
    choice = answer["choices"][0]
    check(choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == content
          and calls_of(choice["message"]) == calls, f"{uid}: {choice}")
    ids = [call["id"] for call in choice["message"]["tool_calls"]]
    kimi_ids = [f"functions.{name}:{index}" for index, (name, _) in enumerate(calls)]
    check(all(call["type"] == "function" for call in choice["message"]["tool_calls"]) and len(set(ids)) == len(ids)
          and (ids == kimi_ids if tool_format == "kimi_k2" else all(len(i) == (9 if tool_format == "mistral" else 29)
                                                                    for i in ids)), f"{uid}: ids {ids}")
    for call in choice["message"]["tool_calls"]:
        json.loads(call["function"]["arguments"])
    status, events = gateway.stream("/v1/chat/completions", dict(body, stream=True))
    streamed, streamed_calls, finish, leaks = stream_calls(events)
    check(status == 200 and streamed == (content or "") and streamed_calls == calls and finish == "tool_calls"
          and leaks == 0 and events[-1] == "[DONE]", f"{uid} stream: {streamed!r} {streamed_calls} {finish} {leaks}")
    # tool_choice none: no tools in the prompt, the text is content
    status, _, shown = gateway.call("POST", "/apply-template", dict(body, tool_choice="none"))
    check(status == 200 and "get_weather" not in shown["prompt"], f"{uid}: tool_choice none renders no tools")
    status, _, answer = gateway.call("POST", "/v1/chat/completions", dict(body, tool_choice="none"))
    choice = answer["choices"][0]
    check(status == 200 and choice["message"]["content"] == script and "tool_calls" not in choice["message"]
          and choice["finish_reason"] == "stop", f"{uid}: tool_choice none: {choice}")
    # A forced function: the template sees it alone; the answer is parsed as ever
    forced = dict(body, tool_choice={"type": "function", "function": {"name": "noop"}})
    status, _, shown = gateway.call("POST", "/apply-template", forced)
    check(status == 200 and "noop" in shown["prompt"] and "get_weather" not in shown["prompt"],
          f"{uid}: a forced function is the only tool in the prompt")
    status, _, answer = gateway.call("POST", "/v1/chat/completions", forced)
    check(status == 200 and calls_of(answer["choices"][0]["message"]) == calls,
          f"{uid}: a forced function still returns what the model said: {answer}")
    print(f"{uid}: {tool_format}{' (fallback)' if fallback else ''}: {len(calls)} call(s), content {content!r}, "
          f"stream agrees, tool_choice none and a forced function")


def scenario_r1_thinking(gateway):
    """DeepSeek R1: the thought the prompt opened, then a call, apart, streamed alike."""
    body = {"model": "r1llama", "messages": ASK, "tools": TOOLS, "temperature": 0}
    status, _, shown = gateway.call("POST", "/apply-template", body)
    check(status == 200 and shown["tool_format"] == "deepseek_r1" and not shown["tools_fallback"]
          and "You can call any of the following function tools" in shown["prompt"]
          and shown["prompt"].endswith("<\uff5cAssistant\uff5c><think>\n"), f"r1: {shown}")
    status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
    message = answer["choices"][0]["message"]
    check(status == 200 and message.get("reasoning_content") == "The user wants the weather."
          and message["content"] is None and calls_of(message) == [("get_weather", '{"city": "Rome"}')]
          and answer["choices"][0]["finish_reason"] == "tool_calls", f"r1 thinking: {answer}")
    status, events = gateway.stream("/v1/chat/completions", dict(body, stream=True))
    thought = "".join(e["choices"][0]["delta"].get("reasoning_content") or "" for e in events
                      if e != "[DONE]" and e.get("choices"))
    check(status == 200 and thought == "The user wants the weather."
          and stream_calls(events)[:4] == ("", [("get_weather", '{"city": "Rome"}')], "tool_calls", 0),
          f"r1 thinking streamed: {events}")
    print("DeepSeek R1: the thought its prompt opened is reasoning_content, then its call (streamed alike)")


def scenario_choices(gateway):
    """n = 2: each choice's calls are parsed alike, GLM's values typed by the tools in both."""
    body = {"model": "glm", "messages": ASK, "tools": TOOLS, "temperature": 0, "n": 2}
    status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
    check(status == 200 and len(answer["choices"]) == 2, f"n = 2 with tools: {status} {answer}")
    for choice in answer["choices"]:
        check(choice["finish_reason"] == "tool_calls" and calls_of(choice["message"]) == MODELS["glm"][5],
              f"choice {choice['index']} of 2: {choice}")
    print("n = 2: both choices' calls parsed, their values typed by the tools")


def scenario_history(gateway):
    """A chat with a turn of calls and the results: each template renders them."""
    history = ASK + [
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "abcdefghi", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "abcdefghi", "content": "sunny, 21 C"}]
    marks = {"qwen": "<tool_response>\nsunny, 21 C\n</tool_response>", "llama": "ipython<|end_header_id|>",
             "glm": "<|observation|>\n<tool_response>\nsunny, 21 C\n</tool_response>",
             "mistral": '[TOOL_RESULTS]{"content": sunny, 21 C, "call_id": "abcdefghi"}', "plain": "<tool_response>\nsunny, 21 C",
             # DeepSeek's and Kimi's templates render the call and the result themselves
             "deepseek": ["get_weather" + SEP + '{"city": "Paris"}' + CALL_END + CALLS_END,
                          "<\uff5ctool\u2581output\u2581begin\uff5c>sunny, 21 C"],
             "r1": ["function" + SEP + 'get_weather\n```json\n{"city": "Paris"}\n```' + CALL_END + CALLS_END,
                    "<\uff5ctool\u2581outputs\u2581begin\uff5c><\uff5ctool\u2581output\u2581begin\uff5c>sunny, 21 C"],
             "r1llama": ["<\uff5cAssistant\uff5c>" + CALLS + CALL + "function" + SEP
                         + 'get_weather\n```json\n{"city": "Paris"}\n```' + CALL_END,
                         "<\uff5ctool\u2581outputs\u2581begin\uff5c><\uff5ctool\u2581output\u2581begin\uff5c>"
                         "sunny, 21 C"],
             "kimi": ['<|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"city": "Paris"}'
                      "<|tool_call_end|><|tool_calls_section_end|>", "## Return of abcdefghi"]}
    for uid, mark in marks.items():
        body = {"model": uid, "messages": history, "tools": TOOLS, "temperature": 0}
        status, _, shown = gateway.call("POST", "/apply-template", body)
        check(status == 200 and all(piece in shown["prompt"] for piece in ([mark] if isinstance(mark, str) else mark))
              and "Paris" in shown["prompt"],
              f"{uid}: the history renders: {status} {shown}")
        status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
        check(status == 200, f"{uid}: a chat with a tool result: {status} {answer}")
    print("a history of calls and results renders with each template (ids of 9 characters for Mistral)")


def scenario_parallel_and_plain(gateway):
    body = {"model": "qwen", "messages": ASK, "tools": TOOLS, "temperature": 0, "parallel_tool_calls": False}
    status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
    check(status == 200 and calls_of(answer["choices"][0]["message"]) == [("get_weather", '{"city": "Paris"}')],
          f"parallel_tool_calls false: one call: {answer}")
    body = {"model": "broken", "messages": ASK, "tools": TOOLS, "temperature": 0}
    status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
    choice = answer["choices"][0]
    check(status == 200 and choice["message"]["content"] == BROKEN and "tool_calls" not in choice["message"]
          and choice["finish_reason"] == "stop", f"a broken call is content: {choice}")
    status, events = gateway.stream("/v1/chat/completions", dict(body, stream=True))
    check(stream_calls(events)[:3] == (BROKEN, [], "stop"), f"a broken call streams as content: {events}")
    body = {"model": "m", "messages": ASK, "tools": TOOLS, "temperature": 0, "max_tokens": 16}
    status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
    choice = answer["choices"][0]
    check(status == 200 and isinstance(choice["message"]["content"], str) and "tool_calls" not in choice["message"]
          and choice["finish_reason"] in ("stop", "length"), f"a random model's text: {choice}")
    print("parallel_tool_calls false keeps one call; a broken call and a random model's text are content")


def scenario_refused(gateway):
    ok = {"model": "qwen", "messages": ASK, "tools": TOOLS}
    expect_400(gateway, dict(ok, tools=[{"type": "function", "function": {"name": "no spaces"}}]),
               "tools[0].function.name")
    expect_400(gateway, dict(ok, tools="get_weather"), "tools")
    expect_400(gateway, dict(ok, tools=TOOLS * 65), "tools")
    expect_400(gateway, dict(ok, tool_choice="sometimes"), "tool_choice")
    expect_400(gateway, dict(ok, tool_choice={"type": "function", "function": {"name": "other"}}),
               "tool_choice.function.name")
    expect_400(gateway, dict(ok, parallel_tool_calls=1), "parallel_tool_calls")
    expect_400(gateway, dict(ok, messages=ASK + [{"role": "assistant", "tool_calls": [{"function": {"name": 5}}]}]),
               "messages[1].tool_calls[0]")
    status, _, answer = gateway.call("POST", "/v1/chat/completions", dict(ok, functions=[1], temperature=0))
    check(status == 200, f"unknown fields are ignored: {status} {answer}")
    print("bad tools, tool_choice, parallel_tool_calls and tool calls are 400s naming the field")


def scenario_openai_client(gateway):
    install = subprocess.run(["sh", os.path.join(HERE, "install_openai.sh")], capture_output=True, text=True,
                             timeout=240)
    if install.returncode == 77:
        print("openai npm client: " + install.stdout.strip())
        return False
    check(install.returncode == 0, f"install_openai.sh failed: {install.stdout} {install.stderr}")
    # (Not DeepSeek V3.1: its template puts no assistant turn after tool results, and a scripted model's
    # answer follows the prompt's last token, which there is a piece of its own script)
    for uid in ("qwen", "llama", "mistral", "kimi"):
        content, calls = MODELS[uid][4], MODELS[uid][5]
        run = subprocess.run(["node", os.path.join(HERE, "tools_client.mjs"), f"http://127.0.0.1:{gateway.port}/v1",
                              USER_KEY, uid], capture_output=True, text=True, timeout=120)
        check(run.returncode == 0, f"{uid}: the openai client failed: {run.stderr[-2000:]}")
        result = json.loads(run.stdout.strip().splitlines()[-1])
        for key in ("chat", "helper"):
            check(result[key]["finish"] == "tool_calls" and result[key]["message"]["content"] == content
                  and calls_of(result[key]["message"]) == calls, f"{uid} {key}: {result[key]}")
        stream = result["stream"]
        check((stream["content"], [(c["name"], c["arguments"]) for c in stream["calls"]], stream["finish"],
               stream["tagLeaks"]) == (content or "", calls, "tool_calls", 0), f"{uid} stream: {stream}")
        for key in ("run_tools", "run_tools_stream"):
            run_tools = result[key]
            want = json.loads(calls[0][1])
            # Two completions, each answered by the model's calls, each call run by the SDK
            check(run_tools["seen"] == [want, want] and run_tools["roles"].count("tool") == 2 * len(calls),
                  f"{uid} {key}: {run_tools}")
        check(result["bad"] == {"status": 400, "name": "BadRequestError", "param": "tools[0].function.name"},
              f"{uid}: {result['bad']}")
    print("the openai npm client: create, stream by hand and by its helper, runTools (twice each), 400")
    return True


def scenario_ignore_eos(gateway):
    """ignore_eos (vLLM's): a scripted answer that ends with its end token
    (finish_reason stop) goes on to max_tokens (length) and begins with the
    same text; streamed the same; xinf-cli and xinf_client.py send it too."""
    body = {"model": "llama", "prompt": "Hi", "max_tokens": 64, "temperature": 0}
    status, _, plain = gateway.call("POST", "/v1/completions", body)
    check(status == 200 and plain["choices"][0]["finish_reason"] == "stop", f"the scripted answer stops: {plain}")
    stopped = plain["usage"]["completion_tokens"]
    body["max_tokens"] = stopped + 12
    status, _, going = gateway.call("POST", "/v1/completions", dict(body, ignore_eos=True))
    text = plain["choices"][0]["text"]
    check(status == 200 and going["choices"][0]["finish_reason"] == "length"
          and going["usage"]["completion_tokens"] == stopped + 12 and going["choices"][0]["text"].startswith(text),
          f"ignore_eos: past the end token to max_tokens: {going}")
    status, events = gateway.stream("/v1/completions", dict(body, ignore_eos=True, stream=True))
    check(status == 200 and stream_text(events)[0] == going["choices"][0]["text"], "ignore_eos streamed: the same text")
    expect_error(gateway.call("POST", "/v1/completions", dict(body, ignore_eos="yes")), 400, "true or false",
                 "ignore_eos")
    reply = gateway.client.generate("llama", prompt="Hi", max_tokens=stopped + 12, ignore_eos=True)
    check(reply["finish_reason"] == "length" and len(reply["tokens"]) == stopped + 12, f"xinf_client.py: {reply}")
    cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "--json", "generate",
                          "llama", "--prompt", "Hi", "--max-tokens", str(stopped + 12), "--ignore-eos"],
                         capture_output=True, text=True, timeout=60)
    check(cli.returncode == 0 and json.loads(cli.stdout)["finish_reason"] == "length",
          f"xinf-cli --ignore-eos: {cli.stdout} {cli.stderr}")
    print(f"ignore_eos: a scripted answer that stops after {stopped} tokens goes on to {stopped + 12} "
          "(completions, streamed, xinf_client.py, xinf-cli)")


def scenario_stop_tokens(gateway):
    """vLLM's stop_token_ids and min_tokens on the scripted answer (its
    tokens from GENERATE): a stop id ends it at that token, its text kept;
    min_tokens past the end token keeps the end token and the stop ids out
    until then, and stop strings unlooked for; xinf_client.py and xinf-cli
    send both; bad values are refused."""
    plain = gateway.client.generate("llama", prompt="Hi", max_tokens=64)
    tokens, stopped = plain["tokens"], len(plain["tokens"])
    check(plain["finish_reason"] == "stop" and stopped > 8, f"the scripted answer stops: {plain}")
    stop_id = tokens[4]
    first = tokens.index(stop_id)
    body = {"model": "llama", "prompt": "Hi", "max_tokens": 64, "temperature": 0, "stop_token_ids": [stop_id]}
    status, _, answer = gateway.call("POST", "/v1/completions", body)
    text = answer["choices"][0]["text"] if status == 200 else ""
    status2, _, whole = gateway.call("POST", "/v1/completions", {"model": "llama", "prompt": "Hi", "max_tokens": 64,
                                                                 "temperature": 0})
    check(status == 200 and answer["choices"][0]["finish_reason"] == "stop"
          and answer["usage"]["completion_tokens"] == first + 1 and whole["choices"][0]["text"].startswith(text)
          and len(text) < len(whole["choices"][0]["text"]),
          f"stop_token_ids [{stop_id}]: ends at token {first}, its text kept: {answer}")
    status, events = gateway.stream("/v1/completions", dict(body, stream=True))
    check(status == 200 and stream_text(events) == (text, "stop"), "stop_token_ids streamed: the same")
    # min_tokens past the end: the end token is kept out until then
    longer = gateway.client.generate("llama", prompt="Hi", max_tokens=stopped + 20, min_tokens=stopped + 10)
    check(len(longer["tokens"]) >= stopped + 10 and longer["tokens"][:stopped - 1] == tokens[:stopped - 1]
          and all(token != tokens[-1] for token in longer["tokens"][:stopped + 9]),
          f"min_tokens {stopped + 10}: no end token before it: {longer}")
    status, _, answer = gateway.call("POST", "/v1/completions", {"model": "llama", "prompt": "Hi", "temperature": 0,
                                                                 "max_tokens": stopped + 20, "min_tokens": stopped + 10})
    check(status == 200 and answer["usage"]["completion_tokens"] >= stopped + 10,
          f"min_tokens over HTTP: {status} {answer}")
    guarded = gateway.client.generate("llama", prompt="Hi", max_tokens=64, stop_token_ids=[stop_id],
                                      min_tokens=first + 2)
    check(guarded["tokens"][first] != stop_id and len(guarded["tokens"]) >= first + 2,
          f"min_tokens keeps stop_token_ids out too: {guarded['tokens']}")
    # A stop string in the first tokens is not looked for before min_tokens
    word = whole["choices"][0]["text"][2:5]
    status, _, cut = gateway.call("POST", "/v1/completions", {"model": "llama", "prompt": "Hi", "temperature": 0,
                                                              "max_tokens": 64, "stop": [word]})
    status2, _, kept = gateway.call("POST", "/v1/completions", {"model": "llama", "prompt": "Hi", "temperature": 0,
                                                                "max_tokens": 64, "stop": [word], "min_tokens": 6})
    check(status == 200 and status2 == 200 and len(cut["choices"][0]["text"]) <= 2
          and kept["choices"][0]["text"].startswith(whole["choices"][0]["text"][:8]),
          f"stop {word!r}: cut at once, kept past it with min_tokens 6: {cut} {kept}")
    cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "--json", "generate",
                          "llama", "--prompt", "Hi", "--max-tokens", "64", "--stop-token-ids", str(stop_id)],
                         capture_output=True, text=True, timeout=60)
    check(cli.returncode == 0 and json.loads(cli.stdout)["tokens"] == tokens[:first + 1],
          f"xinf-cli --stop-token-ids: {cli.stdout} {cli.stderr}")
    status, _, first_served = gateway.call("POST", "/v1/completions", {"model": "llama", "prompt": "Hi", "temperature": 0,
                                                                       "max_tokens": 64, "priority": -5})
    check(status == 200 and first_served["choices"][0]["text"] == whole["choices"][0]["text"],
          f"priority -5: the same answer: {first_served}")
    for bad, needle, param in (({"stop_token_ids": [1] * 65}, "up to 64", "stop_token_ids"),
                               ({"stop_token_ids": ["1"]}, "not a token id", "stop_token_ids"),
                               ({"stop_token_ids": [10 ** 9]}, "not below the vocabulary", "stop_token_ids"),
                               ({"min_tokens": 9, "max_tokens": 8}, "at most max_tokens", "min_tokens"),
                               ({"min_tokens": -1}, "between", "min_tokens"),
                               ({"priority": 10 ** 7}, "between", "priority"),
                               ({"priority": "high"}, "integer", "priority")):
        expect_error(gateway.call("POST", "/v1/completions", dict({"model": "llama", "prompt": "Hi"}, **bad)), 400,
                     needle, param)
    for bad, needle in (({"min_tokens": 9}, "field 'min_tokens' (9) must be at most max_tokens"),
                        ({"stop_token_ids": [1, 10 ** 9]}, "field 'stop_token_ids[1]'"),
                        ({"stop_token_ids": list(range(65))}, "stop_token_ids")):
        generate_refused(gateway, dict({"uid": "llama", "prompt": "x", "max_tokens": 8}, **bad), needle)
    print(f"stop_token_ids: token {stop_id} ends the scripted answer at token {first} (text kept, streamed, "
          f"xinf-cli); min_tokens keeps the end and stop tokens and stop strings out until then")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-tools-") as workdir:
        unusable = os.path.join(workdir, "unusable.jinja")
        with open(unusable, "w") as file:
            file.write(UNUSABLE)
        for uid, spec in MODELS.items():
            template = unusable if spec[0] == "UNUSABLE" else spec[0]
            # DeepSeek's and Kimi's markers are many tokens: a script needs a dimension of its tokens and 2
            make_model(build_dir, os.path.join(workdir, uid + ".gguf"), chat_template=template, script=spec[1],
                       dim=192 if uid in ("deepseek", "r1", "kimi") else 64)
        make_model(build_dir, os.path.join(workdir, "r1llama.gguf"), chat_template=R1_THINKING[0],
                   script=R1_THINKING[1], dim=192)
        make_model(build_dir, os.path.join(workdir, "broken.gguf"), chat_template=MODELS["qwen"][0], script=BROKEN)
        make_model(build_dir, os.path.join(workdir, "m.gguf"), chat_template=MODELS["qwen"][0])
        gateway = Gateway(build_dir, workdir)
        for uid in list(MODELS) + ["r1llama", "broken", "m"]:
            gateway.launch(uid, os.path.join(workdir, uid + ".gguf"))
        gateway.wait_restart_window()
        for uid, spec in MODELS.items():
            scenario_scripted(gateway, uid, spec)
        scenario_r1_thinking(gateway)
        scenario_choices(gateway)
        scenario_history(gateway)
        scenario_parallel_and_plain(gateway)
        scenario_refused(gateway)
        scenario_ignore_eos(gateway)
        scenario_stop_tokens(gateway)
        client = scenario_openai_client(gateway)
        check(gateway.stop() == 0, "the node exits 0")
    print("PASS: function calling" + ("" if client else " (the openai npm client skipped)"))


if __name__ == "__main__":
    run_logged(main)
