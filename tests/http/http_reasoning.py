"""A reasoning model's thought parted from its answer (run by
test_http_responses.py, on its node): scripted models whose templates
write thoughts (Qwen3's; DeepSeek-R1's, which opens the thought in the
prompt when enable_thinking is true) answer with <think>...</think> and
then text or a tool call. Checked: the chat's reasoning_content and
content, without and with stream (the same parts, no tag in either),
reasoning_format none (the thought left in the content), a call after a
thought, a JSON answer (no parting), and the Responses API's reasoning
item before its message, streamed with reasoning_text events. GPT-OSS's
harmony messages (its own template, a gpt-oss file with its vocabulary):
the analysis channel is the reasoning_content, the final one the content,
headers dropped, streamed alike; reasoning_format none keeps them all."""
import json
import os

from xinf_httplib import USER_KEY, check, make_model

THINK = "<think>\nI should add 2 and 2.\n</think>\n\nThe answer is 4."
THOUGHT, ANSWER = "\nI should add 2 and 2.\n", "The answer is 4."
OPENED = "I should add 2 and 2.\n</think>\n\nThe answer is 4."
CALL = ('<think>\nThe user wants the weather.\n</think>\n\n<tool_call>\n{"name": "get_weather", '
        '"arguments": {"city": "Paris"}}\n</tool_call>')
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
ASK = [{"role": "user", "content": "What is 2 + 2?"}]
# GPT-OSS's answer as its tokens render (<|end|> and the heads of messages
# as text); the template ends the prompt with <|start|>assistant
HARMONY = ("<|channel|>analysis<|message|>I should add 2 and 2.<|end|><|start|>assistant<|channel|>final"
           "<|message|>The answer is 4.")
HARMONY_CALL = ('<|channel|>analysis<|message|>The user wants the weather.<|start|>assistant<|channel|>commentary '
                'to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}')


def parts_of_stream(gateway, body):
    status, events = gateway.stream("/v1/chat/completions", dict(body, stream=True))
    check(status == 200, f"a stream of {body}: {status} {events}")
    thought, content, finish = "", "", None
    for event in events:
        if event == "[DONE]" or not event.get("choices"):
            continue
        delta = event["choices"][0]["delta"]
        thought += delta.get("reasoning_content") or ""
        content += delta.get("content") or ""
        finish = event["choices"][0]["finish_reason"] or finish
    return thought, content, finish


def message_of(gateway, body):
    status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
    check(status == 200, f"chat {body}: {status} {answer}")
    return answer["choices"][0]["message"], answer["choices"][0]["finish_reason"]


def check_call(gateway, body, thought):
    """'body' answers with 'thought', then a call of get_weather for Paris, also streamed."""
    message, finish = message_of(gateway, body)
    calls = message.get("tool_calls") or [{}]
    check(message.get("reasoning_content") == thought and finish == "tool_calls"
          and calls[0].get("function", {}).get("name") == "get_weather"
          and json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"} and not message["content"],
          f"a thought, then a call: {message}")
    streamed, content, finish = parts_of_stream(gateway, body)
    check(streamed == thought and content == "" and finish == "tool_calls",
          f"streamed: {streamed!r} {content!r} {finish}")


def scenario_chat(gateway):
    body = {"model": "think", "messages": ASK, "temperature": 0}
    message, finish = message_of(gateway, body)
    check(message.get("reasoning_content") == THOUGHT and message["content"] == ANSWER and finish == "stop",
          f"a thought and an answer: {message}")
    usage = gateway.call("POST", "/v1/chat/completions", body)[2]["usage"]
    thought_tokens = usage["completion_tokens_details"]["reasoning_tokens"]
    check(0 < thought_tokens < usage["completion_tokens"], f"reasoning_tokens: {usage}")
    check(parts_of_stream(gateway, body) == (THOUGHT, ANSWER, "stop"), "streamed, the same parts")
    message, _ = message_of(gateway, dict(body, reasoning_format="none"))
    check(message["content"] == THINK and "reasoning_content" not in message, f"reasoning_format none: {message}")
    message, _ = message_of(gateway, dict(body, n=2))
    status, _, answer = gateway.call("POST", "/v1/chat/completions", dict(body, n=2))
    check(all(choice["message"].get("reasoning_content") == THOUGHT and choice["message"]["content"] == ANSWER
              for choice in answer["choices"]), f"n = 2: each choice parted: {answer['choices']}")
    # A thought the prompt opened (DeepSeek-R1's template with enable_thinking)
    opened = {"model": "opened", "messages": ASK, "temperature": 0,
              "chat_template_kwargs": {"enable_thinking": True}}
    message, _ = message_of(gateway, opened)
    check(message.get("reasoning_content") == OPENED.split("</think>")[0] and message["content"] == ANSWER,
          f"a thought opened by the prompt: {message}")
    check(parts_of_stream(gateway, opened) == (OPENED.split("</think>")[0], ANSWER, "stop"), "streamed, opened")
    # ... and with thinking off its template closes it: all is content
    message, _ = message_of(gateway, dict(opened, chat_template_kwargs={"enable_thinking": False}))
    check(message["content"] == OPENED and "reasoning_content" not in message, f"thinking off: {message}")
    # A call after a thought
    check_call(gateway, {"model": "thinkcall", "messages": ASK, "tools": TOOLS, "temperature": 0},
               "\nThe user wants the weather.\n")
    print("reasoning: reasoning_content apart from content (also streamed, with n = 2, opened by the prompt, "
          "before a call); reasoning_format none keeps it")


def scenario_responses(gateway):
    body = {"model": "think", "input": "What is 2 + 2?", "temperature": 0}
    status, _, answer = gateway.call("POST", "/v1/responses", body)
    check(status == 200, f"{status} {answer}")
    reasoning, message = answer["output"]
    details = answer["usage"]["output_tokens_details"]
    check(0 < details["reasoning_tokens"] < answer["usage"]["output_tokens"], f"reasoning_tokens: {answer['usage']}")
    check(reasoning["type"] == "reasoning" and reasoning["content"] == [{"type": "reasoning_text", "text": THOUGHT}]
          and reasoning["summary"] == [] and message["type"] == "message"
          and message["content"][0]["text"] == ANSWER, f"a reasoning item, then the message: {answer['output']}")
    connection = gateway.connection(60)
    connection.request("POST", "/v1/responses", body=json.dumps(dict(body, stream=True)),
                       headers={"Authorization": f"Bearer {USER_KEY}", "Content-Type": "application/json"})
    response = connection.getresponse()
    check(response.status == 200, f"stream: {response.status}")
    events = [json.loads(block.split("\n")[1][6:]) for block in response.read().decode().split("\n\n") if block]
    connection.close()
    names = [event["type"] for event in events]
    added = events[2]
    check(names[2:4] == ["response.output_item.added", "response.content_part.added"]
          and added["item"]["type"] == "reasoning" and added["output_index"] == 0, f"a reasoning item first: {names}")
    deltas = [event for event in events if event["type"] == "response.reasoning_text.delta"]
    check("".join(event["delta"] for event in deltas) == THOUGHT
          and all(event["item_id"] == added["item"]["id"] and event["output_index"] == 0 for event in deltas),
          "the thought's deltas name its item")
    check(names.index("response.reasoning_text.done") < names.index("response.output_text.delta")
          and names[-1] == "response.completed"
          and events[-1]["response"]["output"][0]["content"][0]["text"] == THOUGHT
          and events[-1]["response"]["output"][1]["content"][0]["text"] == ANSWER,
          f"the thought's item is done before the message begins: {names}")
    print("reasoning: a Responses reasoning item before the message, streamed with reasoning_text events")


def scenario_harmony(gateway):
    body = {"model": "harmony", "messages": ASK, "temperature": 0}
    message, finish = message_of(gateway, body)
    check(message.get("reasoning_content") == THOUGHT.strip() and message["content"] == ANSWER and finish == "stop",
          f"harmony: the analysis channel, then the final one: {message}")
    check(parts_of_stream(gateway, body) == (THOUGHT.strip(), ANSWER, "stop"), "harmony streamed, the same parts")
    message, _ = message_of(gateway, dict(body, reasoning_format="none"))
    check(message["content"] == HARMONY and "reasoning_content" not in message, f"harmony, format none: {message}")
    # A call: the message to functions.get_weather is a tool call, its body the arguments (GPT-OSS's
    # template writes each tool's description: without one, jinja2 fails it too)
    described = [dict(TOOLS[0], function=dict(TOOLS[0]["function"], description="The weather in a city"))]
    check_call(gateway, {"model": "harmonycall", "messages": ASK, "tools": described, "temperature": 0},
               "The user wants the weather.")
    # reasoning_effort is the template's variable (GPT-OSS's writes it in its system message); a value
    # chat_template_kwargs gives itself wins; the Responses API's reasoning.effort is the same
    def rendered(**fields):
        status, _, body = gateway.call("POST", "/apply-template", dict({"model": "harmony", "messages": ASK}, **fields))
        check(status == 200, f"/apply-template {fields}: {status} {body}")
        return body["prompt"]
    check("Reasoning: medium" in rendered(), "the template's default effort")
    check("Reasoning: high" in rendered(reasoning_effort="high"), "reasoning_effort high")
    check("Reasoning: low" in rendered(reasoning_effort="high", chat_template_kwargs={"reasoning_effort": "low"}),
          "chat_template_kwargs' effort wins")
    status, _, answer = gateway.call("POST", "/v1/chat/completions", dict(body, reasoning_effort="max"))
    check(status == 400 and answer["error"]["param"] == "reasoning_effort", f"a bad effort: {status} {answer}")
    tokens = {}
    for effort in ("low", "high"):
        status, _, answer = gateway.call("POST", "/v1/responses", {"model": "harmony", "input": "What is 2 + 2?",
                                                                   "reasoning": {"effort": effort}})
        check(status == 200 and answer["output"][-1]["content"][0]["text"] == ANSWER, f"responses: {answer}")
        tokens[effort] = answer["usage"]["input_tokens"]
    check(tokens["low"] != tokens["high"], f"reasoning.effort reaches the template: {tokens}")
    status, _, answer = gateway.call("POST", "/v1/responses", {"model": "harmony", "input": "Hi",
                                                               "reasoning": {"effort": "max"}})
    check(status == 400 and answer["error"]["param"] == "reasoning", f"a bad reasoning.effort: {status} {answer}")
    check("Reasoning: xhigh" in rendered(reasoning_effort="xhigh"), "OpenAI's newer efforts pass too")
    print("reasoning: GPT-OSS's harmony channels parted (analysis: reasoning_content; final: content; a message to "
          "a function: a tool call), streamed too")


def launch_models(gateway, build_dir, workdir):
    specs = {"think": ("Qwen-Qwen3-0.6B.jinja", THINK, "qwen2"),
             "opened": ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", OPENED, "qwen2"),
             "thinkcall": ("Qwen-Qwen3-0.6B.jinja", CALL, "qwen2"),
             "harmony": ("openai-gpt-oss-120b.jinja", HARMONY, "gpt-oss"),
             "harmonycall": ("openai-gpt-oss-120b.jinja", HARMONY_CALL, "gpt-oss")}
    for uid, (template, script, arch) in specs.items():
        path = os.path.join(workdir, f"{uid}.gguf")
        make_model(build_dir, path, arch=arch, chat_template=template, script=script)
        gateway.launch(uid, path)


def scenario_reasoning(gateway, build_dir, workdir):
    launch_models(gateway, build_dir, workdir)
    scenario_chat(gateway)
    scenario_responses(gateway)
    scenario_harmony(gateway)
