"""Anthropic's Messages API (POST /v1/messages) through a local node's
gateway.

A Messages request is a chat made of its blocks, so each is checked
against /v1/chat/completions with the messages it should be: the same
greedy text and the same token counts. Checked:

  - system as a string and as text blocks, user and assistant text
    blocks; stop_reason end_turn, max_tokens and stop_sequence (with the
    string); usage;
  - a stream: message_start, each block's content_block_start, deltas and
    content_block_stop, message_delta and message_stop, deltas that add up
    to the answer;
  - tools (name, description, input_schema) with a scripted Qwen2.5 model:
    a text block and a tool_use block (its input an object), streamed as
    input_json_delta; the call and its tool_result sent back render as the
    chat with the call and its result; tool_choice any, tool, none;
  - a reasoning model's thought as a thinking block (thinking_delta);
  - the key as x-api-key or a bearer token; errors in Anthropic's shape
    {"type": "error", "error": {"type", "message"}} for 400, 401, 404, 405;
  - count_tokens: what a generation of the same body reads;
  - the official Anthropic SDK (anthropic_client.mjs): create, its
    MessageStream helper, a tool round trip, thinking blocks, its error
    classes; skipped (the rest still runs) when node or the SDK cannot be
    installed."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xinf_httplib import USER_KEY, Gateway, check, make_model  # noqa: E402
from test_cluster import run_logged  # noqa: E402
from http_reasoning import ANSWER, THINK, THOUGHT  # noqa: E402

SCRIPT = 'Let me check. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [{"name": "get_weather", "description": "The weather", "input_schema": SCHEMA}]
CHAT_TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The weather",
                                                "parameters": SCHEMA}}]
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def post(gateway, body, **headers):
    status, _, answer = gateway.call("POST", "/v1/messages", body, headers=headers or None,
                                     key=None if headers else USER_KEY)
    check(status == 200, f"/v1/messages {json.dumps(body)[:300]}: {status} {answer}")
    check(answer["type"] == "message" and answer["role"] == "assistant" and answer["id"].startswith("msg_"),
          f"a message: {answer}")
    return answer


def chat(gateway, body):
    status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
    check(status == 200, f"chat {json.dumps(body)[:300]}: {status} {answer}")
    return answer


def prompt_of(message):
    """The prompt's tokens: Anthropic's input_tokens are those not read from the cache."""
    return message["usage"]["input_tokens"] + message["usage"]["cache_read_input_tokens"]


def text_of(message):
    return "".join(block["text"] for block in message["content"] if block["type"] == "text")


def events_of(gateway, body):
    connection = gateway.connection(60)
    connection.request("POST", "/v1/messages", body=json.dumps(dict(body, stream=True)),
                       headers={"x-api-key": USER_KEY, "content-type": "application/json",
                                "anthropic-version": "2023-06-01"})
    response = connection.getresponse()
    check(response.status == 200 and response.getheader("Content-Type") == "text/event-stream",
          f"a stream: {response.status}")
    events = []
    for block in response.read().decode().split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        check(len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), f"{block!r}")
        data = json.loads(lines[1][6:])
        check(data["type"] == lines[0][7:], f"event {lines[0]} carries {data['type']}")
        events.append(data)
    connection.close()
    return events


def scenario_text(gateway):
    body = {"model": "m", "max_tokens": 12, "temperature": 0, "system": "Be brief.",
            "messages": [{"role": "user", "content": "Hello"},
                         {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]},
                         {"role": "user", "content": [{"type": "text", "text": "Tell "}, {"type": "text", "text": "more"}]}]}
    message = post(gateway, body)
    completion = chat(gateway, {"model": "m", "max_tokens": 12, "temperature": 0, "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi"}, {"role": "user", "content": "Tell more"}]})
    check(text_of(message) == completion["choices"][0]["message"]["content"]
          and prompt_of(message) == completion["usage"]["prompt_tokens"]
          and message["usage"]["output_tokens"] == completion["usage"]["completion_tokens"]
          and message["stop_reason"] == "max_tokens" and message["stop_sequence"] is None,
          f"the chat its blocks make: {message} vs {completion}")
    blocks = dict(body, system=[{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}])
    again = post(gateway, blocks, **{"x-api-key": USER_KEY})
    check(prompt_of(again) == prompt_of(message) and 0 < again["usage"]["cache_read_input_tokens"] < prompt_of(again),
          f"system as text blocks, the key as x-api-key; the prompt read from the cache: {again['usage']}")
    events = events_of(gateway, body)
    types = [event["type"] for event in events]
    deltas = types.count("content_block_delta")
    check(types == ["message_start", "content_block_start"] + ["content_block_delta"] * deltas
          + ["content_block_stop", "message_delta", "message_stop"] and deltas >= 2, f"the events' order: {types}")
    check("".join(event["delta"]["text"] for event in events if event["type"] == "content_block_delta")
          == text_of(message) and events[-2]["delta"]["stop_reason"] == "max_tokens"
          and events[-2]["usage"]["output_tokens"] == 12
          and prompt_of(events[0]["message"]) == prompt_of(message) == prompt_of(events[-2]),
          f"streamed: {events}")
    answer = post(gateway, {"model": "q", "max_tokens": 100, "messages": ASK})
    check(answer["stop_reason"] == "end_turn" and text_of(answer) == SCRIPT, f"end_turn: {answer}")
    answer = post(gateway, {"model": "q", "max_tokens": 100, "messages": ASK, "stop_sequences": ["xyz", "check"]})
    check(answer["stop_reason"] == "stop_sequence" and answer["stop_sequence"] == "check"
          and text_of(answer) == "Let me ", f"stop_sequence: {answer}")
    print(f"text: the chat its blocks make ({message['usage']}), stream, end_turn, max_tokens, stop_sequence")


def scenario_tools(gateway):
    body = {"model": "q", "max_tokens": 200, "temperature": 0, "messages": ASK, "tools": TOOLS}
    message = post(gateway, body)
    text, use = message["content"]
    check(text == {"type": "text", "text": "Let me check. "} and use["type"] == "tool_use"
          and use["name"] == "get_weather" and use["input"] == {"city": "Paris"} and message["stop_reason"] == "tool_use",
          f"a tool_use: {message}")
    events = events_of(gateway, body)
    start = [event for event in events if event["type"] == "content_block_start"][-1]
    partial = "".join(event["delta"]["partial_json"] for event in events
                      if event["type"] == "content_block_delta" and event["delta"]["type"] == "input_json_delta")
    check(start["index"] == 1 and start["content_block"]["input"] == {} and json.loads(partial) == {"city": "Paris"}
          and events[-2]["delta"]["stop_reason"] == "tool_use", f"a streamed tool_use: {events}")
    history = ASK + [{"role": "assistant", "content": message["content"]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "sunny"},
                                                  {"type": "text", "text": "Thanks"}]}]
    again = post(gateway, dict(body, messages=history))
    completion = chat(gateway, {"model": "q", "temperature": 0, "tools": CHAT_TOOLS, "messages": ASK + [
        {"role": "assistant", "content": "Let me check. ", "tool_calls": [
            {"id": use["id"], "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": use["id"], "name": "get_weather", "content": "sunny"},
        {"role": "user", "content": "Thanks"}]})
    check(prompt_of(again) == completion["usage"]["prompt_tokens"],
          f"the tool_use and its tool_result render as the chat's: {again['usage']} vs {completion['usage']}")
    for choice, chat_choice in (({"type": "any"}, "required"), ({"type": "none"}, "none"),
                                ({"type": "tool", "name": "get_weather"},
                                 {"type": "function", "function": {"name": "get_weather"}})):
        shown = gateway.call("POST", "/apply-template", {"model": "q", "messages": ASK, "tools": CHAT_TOOLS,
                                                         "tool_choice": chat_choice})[2]["prompt"]
        answer = post(gateway, dict(body, tool_choice=choice, max_tokens=1))
        check(prompt_of(answer) == len(gateway.call("POST", "/tokenize", {
            "model": "q", "content": shown, "add_special": False, "parse_special": True})[2]["tokens"]),
            f"tool_choice {choice} renders as the chat's {chat_choice}")
    error = post_error(gateway, dict(body, tool_choice={"type": "none"}, tools=[{"name": "x", "input_schema": 3}]), 400)
    check(error["error"]["type"] == "invalid_request_error" and "tools[0].input_schema" in error["error"]["message"],
          f"a tool's field named as Anthropic's: {error}")
    print("tools: a text block and a tool_use (stream agrees); the tool_result renders as the chat's; tool_choice")


def scenario_thinking(gateway):
    message = post(gateway, {"model": "think", "max_tokens": 200, "messages": [{"role": "user", "content": "2+2?"}]})
    check(message["content"] == [{"type": "thinking", "thinking": THOUGHT, "signature": ""},
                                 {"type": "text", "text": ANSWER}], f"a thinking block: {message}")
    events = events_of(gateway, {"model": "think", "max_tokens": 200, "messages": [{"role": "user", "content": "2+2?"}]})
    thinking = "".join(event["delta"].get("thinking", "") for event in events if event["type"] == "content_block_delta")
    check(thinking == THOUGHT and events[1]["content_block"]["type"] == "thinking", f"thinking_delta: {events[:4]}")
    print("thinking: a thinking block before the text, streamed as thinking_delta")


def post_error(gateway, body, status, key=USER_KEY):
    got, _, answer = gateway.call("POST", "/v1/messages", body, key=key)
    check(got == status and answer.get("type") == "error" and set(answer["error"]) == {"type", "message"},
          f"an error in Anthropic's shape, {status}: {got} {answer}")
    return answer


def scenario_errors(gateway):
    base = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    refusals = [({"model": "m", "messages": base["messages"]}, "max_tokens"),
                (dict(base, messages=[]), "messages"),
                (dict(base, messages=[{"role": "system", "content": "x"}]), "role"),
                (dict(base, messages=[{"role": "user", "content": [{"type": "image", "source": {}}]}]), "image"),
                (dict(base, messages=[{"role": "user", "content": [{"type": "tool_result"}]}]), "tool_use_id"),
                (dict(base, messages=[{"role": "assistant", "content": [{"type": "tool_use", "id": "a"}]},
                                      {"role": "user", "content": "x"}]), "name"),
                (dict(base, tools=[{"type": "web_search_20250305", "name": "web_search"}]), "server tools"),
                (dict(base, tool_choice={"type": "sometimes"}), "tool_choice"),
                (dict(base, thinking={"type": "maybe"}), "thinking"),
                (dict(base, stop_sequences=["a"] * 33), "stop_sequences"),
                (dict(base, mcp_servers=[{}]), "mcp_servers"),
                (dict(base, stop_sequences="abc"), "stop_sequences"),
                (dict(base, messages=[{"role": "user", "content": []}]), "non-empty"),
                (dict(base, messages=[{"role": "user", "content": "x"}, {"role": "assistant", "content": "Sure"}]),
                 "prefill"),
                (dict(base, thinking={"type": "enabled"}, chat_template_kwargs="bad"), "chat_template_kwargs")]
    for body, needle in refusals:
        error = post_error(gateway, body, 400)
        check(error["error"]["type"] == "invalid_request_error" and needle in error["error"]["message"],
              f"{needle}: {error}")
    check(post_error(gateway, dict(base, model="nope"), 404)["error"]["type"] == "not_found_error", "404")
    check(post_error(gateway, base, 401, key="wrong")["error"]["type"] == "authentication_error", "401")
    for method, path, status in (("GET", "/v1/messages", 405), ("POST", "/v1/messages/batches", 404)):
        got, _, answer = gateway.call(method, path, base)
        check(got == status and answer.get("type") == "error", f"{method} {path}: {got} {answer}")
    print(f"errors: {len(refusals)} refusals, 404 and 401 in Anthropic's shape")


def scenario_count(gateway):
    """count_tokens: the tokens a generation of the same body reads."""
    for body in ({"model": "m", "system": "Be brief.", "messages": [{"role": "user", "content": "Hello there"}]},
                 {"model": "q", "tools": TOOLS, "messages": ASK}):
        status, _, counted = gateway.call("POST", "/v1/messages/count_tokens", body,
                                          headers={"x-api-key": USER_KEY}, key=None)
        check(status == 200 and set(counted) == {"input_tokens"}, f"count_tokens: {status} {counted}")
        generated = post(gateway, dict(body, max_tokens=1))
        check(counted["input_tokens"] == prompt_of(generated), f"count_tokens {counted} vs {generated['usage']}")
    got, _, answer = gateway.call("POST", "/v1/messages/count_tokens", {"model": "nope", "messages": ASK})
    check(got == 404 and answer["error"]["type"] == "not_found_error", f"count_tokens of no model: {got} {answer}")
    print("count_tokens: the tokens a generation reads (with tools too)")


def scenario_sdk(gateway):
    install = subprocess.run(["sh", os.path.join(HERE, "install_openai.sh")], capture_output=True, text=True,
                             timeout=240)
    if install.returncode == 77:
        print(f"the Anthropic SDK: skipped ({install.stdout.strip()})")
        return
    check(install.returncode == 0, f"install_openai.sh failed: {install.stdout} {install.stderr}")
    run = subprocess.run(["node", os.path.join(HERE, "anthropic_client.mjs"), f"http://127.0.0.1:{gateway.port}",
                          USER_KEY, "m", "q", "think"], capture_output=True, text=True, timeout=120)
    check(run.returncode == 0, f"anthropic_client.mjs failed: {run.stderr[-3000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    reference = post(gateway, {"model": "m", "max_tokens": 12, "temperature": 0, "system": "Be brief.",
                               "messages": [{"role": "user", "content": "Tell me a story"}]})
    check(result["text"] == text_of(reference) == result["streamed"] == result["final_text"]
          and result["stop_reason"] == result["final_stop"] == "max_tokens"
          and prompt_of(result) == prompt_of(reference) and result["usage"]["output_tokens"] == 12,
          f"create and the stream helper: {result} vs {reference}")
    check(result["tool"] == result["tool_stream"] == ["tool_use", "get_weather", {"city": "Paris"}]
          and result["answered"] > 0, f"tools: {result}")
    check(result["thinking"] == [["thinking", THOUGHT], ["text", ANSWER]], f"thinking: {result['thinking']}")
    check(result["not_found"] == ["NotFoundError", 404, "not_found_error"]
          and result["bad_key"] == ["AuthenticationError", 401], f"errors: {result}")
    print(f"the Anthropic SDK: {json.dumps(result)[:300]}")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-anthropic-") as workdir:
        models = {"m": {}, "q": {"arch": "qwen2", "chat_template": "Qwen-Qwen2.5-7B-Instruct.jinja", "script": SCRIPT},
                  "think": {"arch": "qwen2", "chat_template": "Qwen-Qwen3-0.6B.jinja", "script": THINK}}
        gateway = Gateway(build_dir, workdir)
        for uid, options in models.items():
            path = os.path.join(workdir, f"{uid}.gguf")
            make_model(build_dir, path, **options)
            gateway.launch(uid, path)
        gateway.wait_restart_window()
        scenario_text(gateway)
        scenario_tools(gateway)
        scenario_thinking(gateway)
        scenario_errors(gateway)
        scenario_count(gateway)
        scenario_sdk(gateway)
        check(gateway.stop() == 0, "the node exits 0")
    print("PASS: Anthropic's Messages API")


if __name__ == "__main__":
    run_logged(main)
