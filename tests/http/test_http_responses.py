"""OpenAI's Responses API (POST /v1/responses, GET and DELETE
/v1/responses/{id}) through a local node's gateway.

A response is a chat made of its input items, so each is checked against
/v1/chat/completions with the messages it should be: the same greedy text
and the same token counts (input_tokens is the rendered prompt's length,
so an item rendered otherwise shows). Checked:

  - input as a string and as items (instructions, developer, assistant
    turns, text parts), the status (completed; incomplete with
    max_output_tokens), usage, the object's fields;
  - a stream: the typed events in OpenAI's order, consecutive
    sequence_numbers, deltas that add up to the answer, response.completed
    equal to the answer without stream;
  - function calling with a scripted Qwen2.5 model: a message item and a
    function_call item, streamed as output_item/arguments events; the
    call's output sent back as items, or with previous_response_id alone,
    renders as the chat with the call and its result;
  - the store: GET gives the same object, another key gets 404, DELETE,
    store false keeps nothing; text.format json_schema; logprobs;
  - a stream whose model is terminated mid-way ends with response.failed
    and an error event;
  - refusals naming the Responses field (hosted tools, images, background,
    truncation auto, ...);
  - a reasoning model's thought (http_reasoning.py): the chat's
    reasoning_content, a Responses reasoning item;
  - the official openai npm client (responses_client.mjs): create, a
    stream through its ResponseStream helper (which checks every event
    against its snapshot), output_text, retrieve, del, a tool round trip
    with previous_response_id, NotFoundError; skipped (the rest still
    runs) when node or the client cannot be installed."""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xinf_httplib import ADMIN_KEY, USER_KEY, Gateway, check, expect_error, make_model  # noqa: E402
from test_cluster import run_logged  # noqa: E402
from http_reasoning import scenario_reasoning  # noqa: E402

SCRIPT = 'Let me check. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [{"type": "function", "name": "get_weather", "description": "The weather", "parameters": PARAMETERS}]
CHAT_TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The weather",
                                                "parameters": PARAMETERS}}]


def read_typed_events(response, buffer=b""):
    """A Responses stream: (event name, parsed data) pairs, each checked to
    name the type its data says; 'buffer': its first bytes, read already."""
    events = []
    while True:
        chunk = response.read1(65536)
        if not chunk:
            break
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            lines = block.decode().split("\n")
            check(len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "),
                  f"an event is 'event:' then 'data:': {block[:120]!r}")
            name, data = lines[0][7:], json.loads(lines[1][6:])
            check(data["type"] == name, f"event {name} carries type {data['type']}")
            events.append((name, data))
    check(buffer == b"", f"the stream ended inside an event: {buffer[:80]!r}")
    return events


def stream(gateway, body, key=USER_KEY, on_first=None):
    connection = gateway.connection(120)
    connection.request("POST", "/v1/responses", body=json.dumps(dict(body, stream=True)),
                       headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        check(False, f"a stream of {body}: {response.status} {response.read()[:300]!r}")
    check(response.getheader("Content-Type") == "text/event-stream", "a stream is text/event-stream")
    events = read_typed_events(response, on_first(response) if on_first else b"")
    connection.close()
    return events


def post(gateway, body, key=USER_KEY):
    status, _, answer = gateway.call("POST", "/v1/responses", body, key=key)
    check(status == 200, f"/v1/responses {json.dumps(body)[:300]}: {status} {answer}")
    check(answer["object"] == "response" and answer["id"].startswith("resp_") and len(answer["id"]) == 45,
          f"a response object: {answer}")
    return answer


def chat(gateway, body):
    status, _, answer = gateway.call("POST", "/v1/chat/completions", body)
    check(status == 200, f"chat {json.dumps(body)[:300]}: {status} {answer}")
    return answer


def output_text(answer):
    return "".join(part["text"] for item in answer["output"] if item["type"] == "message"
                   for part in item["content"] if part["type"] == "output_text")


def check_same_as_chat(response, completion, what):
    usage, choice = response["usage"], completion["choices"][0]
    check(output_text(response) == (choice["message"]["content"] or ""), f"{what}: text {response} vs {completion}")
    check(usage["input_tokens"] == completion["usage"]["prompt_tokens"]
          and usage["output_tokens"] == completion["usage"]["completion_tokens"]
          and usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"],
          f"{what}: usage {usage} vs {completion['usage']}")
    want = "incomplete" if choice["finish_reason"] == "length" else "completed"
    check(response["status"] == want, f"{what}: status {response['status']} for finish {choice['finish_reason']}")
    if want == "incomplete":
        check(response["incomplete_details"] == {"reason": "max_output_tokens"}, f"{what}: {response}")


def scenario_inputs(gateway):
    """Strings and items make the chat they say."""
    answer = post(gateway, {"model": "m", "input": "Tell me a story", "max_output_tokens": 12, "temperature": 0})
    check_same_as_chat(answer, chat(gateway, {"model": "m", "messages": [{"role": "user", "content": "Tell me a story"}],
                                              "max_tokens": 12, "temperature": 0}), "a string input")
    check(answer["status"] == "incomplete" and answer["max_output_tokens"] == 12 and answer["model"] == "m"
          and answer["store"] is True and answer["tools"] == [] and answer["error"] is None
          and answer["output"][0]["role"] == "assistant" and answer["output"][0]["status"] == "completed",
          f"the object's fields: {answer}")
    items = [{"role": "developer", "content": "Answer in French."},
             {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"},
                                                             {"type": "input_text", "text": " there"}]},
             {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Bonjour"}]},
             {"role": "user", "content": "And then?"}]
    answer = post(gateway, {"model": "m", "instructions": "Be brief.", "input": items, "max_output_tokens": 9,
                            "temperature": 0, "metadata": {"k": "v"}})
    messages = [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Answer in French."},
                {"role": "user", "content": "Hello there"}, {"role": "assistant", "content": "Bonjour"},
                {"role": "user", "content": "And then?"}]
    check_same_as_chat(answer, chat(gateway, {"model": "m", "messages": messages, "max_tokens": 9, "temperature": 0}),
                       "items")
    check(answer["instructions"] == "Be brief." and answer["metadata"] == {"k": "v"}, f"echoed fields: {answer}")
    # A model that ends its answer: completed
    answer = post(gateway, {"model": "q", "input": "Hi", "temperature": 0})
    check(answer["status"] == "completed" and output_text(answer) == SCRIPT and answer["incomplete_details"] is None,
          f"a whole answer: {answer}")
    print(f"inputs: a string and items render as their chat (same text and tokens: {answer['usage']})")


def scenario_stream(gateway):
    body = {"model": "m", "input": "Tell me a story", "max_output_tokens": 16, "temperature": 0}
    whole = post(gateway, body)
    events = stream(gateway, body)
    names = [name for name, _ in events]
    deltas = [name for name in names if name == "response.output_text.delta"]
    check(names == ["response.created", "response.in_progress", "response.output_item.added",
                    "response.content_part.added"] + deltas + ["response.output_text.done",
                    "response.content_part.done", "response.output_item.done", "response.incomplete"]
          and len(deltas) >= 2, f"the events' order: {names}")
    check([data["sequence_number"] for _, data in events] == list(range(len(events))), "consecutive sequence numbers")
    created = events[0][1]["response"]
    check(created["status"] == "in_progress" and created["output"] == [] and created["usage"] is None,
          f"response.created: {created}")
    text = "".join(data["delta"] for name, data in events if name == "response.output_text.delta")
    item_id = events[2][1]["item"]["id"]
    check(all(data.get("item_id", item_id) == item_id and data.get("output_index", 0) == 0 for _, data in events[2:-1]),
          "every event of the message names its item and index")
    last = events[-1][1]["response"]
    check(text == output_text(whole) == events[-4][1]["text"] == output_text(last), f"stream: {text!r} vs {whole}")
    for key in ("status", "incomplete_details", "model", "instructions", "tools", "store"):
        check(last[key] == whole[key], f"response.incomplete's {key}: {last[key]} vs {whole[key]}")
    counts = ("input_tokens", "output_tokens", "total_tokens")
    check([last["usage"][key] for key in counts] == [whole["usage"][key] for key in counts],
          f"usage: {last['usage']} vs {whole['usage']}")
    print(f"stream: {len(events)} events in order, {len(deltas)} deltas, same answer as without stream")


def scenario_tools(gateway):
    body = {"model": "q", "input": "What is the weather in Paris?", "tools": TOOLS, "temperature": 0}
    answer = post(gateway, body)
    message, call = answer["output"]
    check(message["type"] == "message" and output_text(answer) == "Let me check. "
          and call["type"] == "function_call" and call["name"] == "get_weather"
          and json.loads(call["arguments"]) == {"city": "Paris"} and call["call_id"].startswith("call_")
          and call["status"] == "completed" and answer["status"] == "completed", f"a call: {answer}")
    events = stream(gateway, body)
    names = [name for name, _ in events]
    check(names[-5:] == ["response.output_item.added", "response.function_call_arguments.delta",
                         "response.function_call_arguments.done", "response.output_item.done", "response.completed"],
          f"a call's events: {names}")
    streamed = events[-1][1]["response"]["output"]
    check([item["type"] for item in streamed] == ["message", "function_call"]
          and streamed[0]["content"][0]["text"] == "Let me check. " and streamed[1]["name"] == "get_weather"
          and streamed[1]["arguments"] == call["arguments"] and events[-5][1]["item"]["arguments"] == ""
          and events[-4][1]["delta"] == call["arguments"], f"streamed call: {streamed}")
    # The result sent back: the answer's items verbatim, then the output
    result = {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny, 21 C"}
    again = post(gateway, {"model": "q", "input": [{"role": "user", "content": "What is the weather in Paris?"},
                                                   message, call, result], "tools": TOOLS, "temperature": 0})
    chat_body = {"model": "q", "tools": CHAT_TOOLS, "temperature": 0, "messages": [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": "Let me check. ", "tool_calls": [
            {"id": call["call_id"], "type": "function", "function": {"name": "get_weather", "arguments": call["arguments"]}}]},
        {"role": "tool", "tool_call_id": call["call_id"], "name": "get_weather", "content": "sunny, 21 C"}]}
    completion = chat(gateway, chat_body)
    check(again["usage"]["input_tokens"] == completion["usage"]["prompt_tokens"],
          f"a call's result renders as the chat's: {again['usage']} vs {completion['usage']}")
    # ... or with previous_response_id and the result alone
    chained = post(gateway, {"model": "q", "previous_response_id": answer["id"], "input": [result], "tools": TOOLS,
                             "temperature": 0})
    check(chained["usage"]["input_tokens"] == completion["usage"]["prompt_tokens"]
          and chained["previous_response_id"] == answer["id"],
          f"previous_response_id continues the conversation: {chained['usage']} vs {completion['usage']}")
    # The calls' markup tokens' log-probabilities are not the text's
    with_logprobs = dict(body, include=["message.output_text.logprobs"])
    events = stream(gateway, with_logprobs)
    streamed = [entry for name, data in events if name == "response.output_text.delta" for entry in data["logprobs"]]
    done = [data for name, data in events if name == "response.output_text.done"][0]
    spelled = "".join(entry["token"] for entry in streamed)
    check(done["logprobs"] == streamed and spelled.startswith("Let me check. ") and "get_weather" not in spelled,
          f"a message before a call: its logprobs are its text's: {done['logprobs']}")
    forced = post(gateway, dict(body, tool_choice={"type": "function", "name": "get_weather"}))
    check(forced["output"][-1]["name"] == "get_weather" and forced["tool_choice"]["name"] == "get_weather",
          f"a forced function: {forced}")
    print(f"tools: a message and a call (stream agrees); the result as items or after previous_response_id renders "
          f"as the chat ({chained['usage']['input_tokens']} tokens)")


def scenario_usage(gateway):
    """cached_tokens: the prompt's tokens the prefix cache gave (none for a
    new prompt, whole blocks of a repeated one); the chat says the same."""
    story = " ".join(f"word{index}" for index in range(60))
    body = {"model": "m", "input": story, "max_output_tokens": 2, "temperature": 0}
    first, second = post(gateway, body), post(gateway, body)
    cached = second["usage"]["input_tokens_details"]["cached_tokens"]
    check(first["usage"]["input_tokens_details"]["cached_tokens"] == 0 and 0 < cached < second["usage"]["input_tokens"]
          and first["usage"]["output_tokens_details"]["reasoning_tokens"] == 0,
          f"cached_tokens of a new prompt, then of the same again: {first['usage']} {second['usage']}")
    completion = chat(gateway, {"model": "m", "messages": [{"role": "user", "content": story}], "max_tokens": 2,
                                "temperature": 0})
    check(completion["usage"]["prompt_tokens_details"]["cached_tokens"] == cached
          and "completion_tokens_details" not in completion["usage"],
          f"the chat's prompt_tokens_details: {completion['usage']}")
    events = stream(gateway, body)
    check(events[-1][1]["response"]["usage"]["input_tokens_details"]["cached_tokens"] == cached, "streamed, the same")
    print(f"usage: cached_tokens 0 for a new prompt, {cached} of {second['usage']['input_tokens']} for it again")


def scenario_store(gateway):
    answer = post(gateway, {"model": "m", "input": "Keep this", "max_output_tokens": 4, "temperature": 0})
    status, _, kept = gateway.call("GET", f"/v1/responses/{answer['id']}")
    check(status == 200 and kept == answer, f"GET gives the answer: {status} {kept}")
    expect_error(gateway.call("GET", f"/v1/responses/{answer['id']}", key=ADMIN_KEY), 404, "not found", "response_id")
    expect_error(gateway.call("POST", "/v1/responses", {"model": "m", "input": "x", "previous_response_id": answer["id"]},
                              key=ADMIN_KEY), 404, "not found", "previous_response_id")
    status, _, again = gateway.call("GET", f"/responses/{answer['id']}",
                                    headers={"Authorization": f"bearer  {USER_KEY}"}, key=None)
    check(status == 200 and again == answer, f"GET /responses/ID, the key as the key check reads it: {status} {again}")
    status, _, deleted = gateway.call("DELETE", f"/v1/responses/{answer['id']}")
    check(status == 200 and deleted == {"id": answer["id"], "object": "response", "deleted": True}, f"{deleted}")
    expect_error(gateway.call("GET", f"/v1/responses/{answer['id']}"), 404, "not found")
    expect_error(gateway.call("DELETE", f"/v1/responses/{answer['id']}"), 404, "not found")
    unstored = post(gateway, {"model": "m", "input": "Forget this", "max_output_tokens": 2, "store": False})
    check(unstored["store"] is False, f"store false: {unstored}")
    expect_error(gateway.call("GET", f"/v1/responses/{unstored['id']}"), 404, "not found")
    expect_error(gateway.call("POST", "/v1/responses", {"model": "m", "input": "x",
                                                        "previous_response_id": unstored["id"]}),
                 404, "not found", "previous_response_id")
    expect_error(gateway.call("PUT", f"/v1/responses/{answer['id']}"), 405, "GET or DELETE")
    expect_error(gateway.call("GET", "/v1/responses/bad%20id"), 404, "not found")
    expect_error(gateway.call("GET", "/v1/responses/" + "a" * 80), 404, "not found")
    print("store: GET, another key's 404, DELETE, store false")


def scenario_format(gateway):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"]}
    answer = post(gateway, {"model": "m", "input": "A person as JSON", "temperature": 0, "max_output_tokens": 200,
                            "text": {"format": {"type": "json_schema", "name": "person", "schema": schema,
                                                "strict": True}}})
    completion = chat(gateway, {"model": "m", "messages": [{"role": "user", "content": "A person as JSON"}],
                                "temperature": 0, "max_tokens": 200,
                                "response_format": {"type": "json_schema",
                                                    "json_schema": {"name": "person", "schema": schema}}})
    check_same_as_chat(answer, completion, "json_schema")
    if answer["status"] == "completed":
        value = json.loads(output_text(answer))
        check(set(value) >= {"name", "age"} and isinstance(value["age"], int), f"the schema's object: {value}")
    check(answer["text"]["format"]["type"] == "json_schema", f"text echoed: {answer['text']}")
    body = {"model": "m", "input": "Tell me", "temperature": 0, "max_output_tokens": 6, "top_logprobs": 2,
            "include": ["message.output_text.logprobs"]}
    answer = post(gateway, body)
    completion = chat(gateway, {"model": "m", "messages": [{"role": "user", "content": "Tell me"}], "temperature": 0,
                                "max_tokens": 6, "logprobs": True, "top_logprobs": 2})
    part = answer["output"][0]["content"][0]
    check(part["logprobs"] == completion["choices"][0]["logprobs"]["content"] and len(part["logprobs"]) == 6
          and all(len(entry["top_logprobs"]) == 2 for entry in part["logprobs"]),
          f"logprobs as chat's: {part['logprobs']} vs {completion['choices'][0]['logprobs']}")
    events = stream(gateway, body)
    streamed = [entry for name, data in events if name == "response.output_text.delta" for entry in data["logprobs"]]
    check(streamed == part["logprobs"], "streamed logprobs add up to the answer's")
    print("text.format json_schema and logprobs as the chat's")


def scenario_failed_stream(gateway, path):
    """The model is terminated while it streams: response.failed, then error."""
    gateway.launch("victim", path)

    def terminate(response):
        first = response.read1(1)         # the stream has begun
        status, _, _ = gateway.call("DELETE", "/v1/models/victim", key=ADMIN_KEY)
        check(status == 200, f"terminate victim: {status}")
        return first

    events = stream(gateway, {"model": "victim", "input": "Go on", "max_output_tokens": 100000,
                              "ignore_eos": True}, on_first=terminate)
    names = [name for name, _ in events]
    check(names[-2:] == ["response.failed", "error"] and names[0] == "response.created",
          f"a failed stream's last events: {names[:3]} ... {names[-3:]}")
    failed, error = events[-2][1]["response"], events[-1][1]
    check(failed["status"] == "failed" and failed["error"]["message"] and error["message"]
          and error["error"]["message"] == error["message"], f"the failure: {failed['error']} {error}")
    print(f"a stream cut by a terminate: response.failed ({failed['error']['code']}) and an error event")


def scenario_refusals(gateway):
    refusals = [
        ({"model": "m"}, "input", "is required"),
        ({"model": "m", "input": []}, "input", "is required"),
        ({"model": "m", "input": [1]}, "input[0]", "item object"),
        ({"model": "m", "input": [{"type": "web_search_call"}]}, "input[0]", "not supported"),
        ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
         "input[0].content[0]", "input_image"),
        ({"model": "m", "input": [{"role": "tool", "content": "x"}]}, "input[0]", "role"),
        ({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0]", "call_id"),
        ({"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]}, "input[0].output", "string"),
        ({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}, "input[0]", "references"),
        ({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}, "tools[0]", "hosted tool"),
        ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name", "'tools[0].name'"),
        ({"model": "m", "input": "x", "tool_choice": {"type": "file_search"}}, "tool_choice", ""),
        ({"model": "m", "input": "x", "background": True}, "background", "not supported"),
        ({"model": "m", "input": "x", "truncation": "auto"}, "truncation", "disabled"),
        ({"model": "m", "input": "x", "conversation": "conv_1"}, "conversation", "not supported"),
        ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens", "'max_output_tokens'"),
        ({"model": "m", "input": "x", "reasoning": [{}] * 100}, "reasoning", "effort"),
        ({"model": "m", "input": "x", "reasoning": {"effort": "x" * 100}}, "reasoning", "effort"),
        ({"model": "m", "input": "x", "user": "u" * 300}, "user", "256"),
        ({"model": "m", "input": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "c", "content": "y"}]},
         "input[1]", "role"),
        ({"model": "m", "input": "x", "text": {"format": {"type": "xml"}}}, "text.format", "json_schema"),
        ({"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}}, "text.format", "schema"),
        ({"model": "m", "input": "x", "include": "all"}, "include", "array"),
        ({"model": "m", "input": "x", "top_logprobs": 21}, "top_logprobs", "0 to 20"),
        ({"model": "m", "input": "x", "metadata": {str(i): "v" for i in range(17)}}, "metadata", "16"),
        ({"model": "m", "input": "x", "instructions": 3}, "instructions", "string"),
        ({"model": "m", "input": "x", "store": "yes"}, "store", "true or false"),
        ({"model": "m", "input": "x", "previous_response_id": "resp_nope"}, "previous_response_id", "not found"),
    ]
    for body, param, needle in refusals:
        status = 404 if param == "previous_response_id" else 400
        _, error = expect_error(gateway.call("POST", "/v1/responses", body), status, needle, param)
    expect_error(gateway.call("POST", "/v1/responses", {"model": "nope", "input": "x"}), 404, "does not exist", "model")
    print(f"refusals: {len(refusals) + 1}, each naming its field")


def scenario_openai_client(gateway, build_dir):
    install = subprocess.run(["sh", os.path.join(HERE, "install_openai.sh")], capture_output=True, text=True,
                             timeout=240)
    if install.returncode == 77:
        print(f"the openai npm client: skipped ({install.stdout.strip()})")
        return
    check(install.returncode == 0, f"install_openai.sh failed: {install.stdout} {install.stderr}")
    run = subprocess.run(["node", os.path.join(HERE, "responses_client.mjs"), f"http://127.0.0.1:{gateway.port}/v1",
                          USER_KEY, "m", "q"], capture_output=True, text=True, timeout=120)
    check(run.returncode == 0, f"responses_client.mjs failed: {run.stderr[-3000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    whole = post(gateway, {"model": "m", "input": "Tell me a story", "max_output_tokens": 12, "temperature": 0})
    check(result["text"] == output_text(whole) and result["status"] == "incomplete"
          and result["usage"]["input_tokens"] == whole["usage"]["input_tokens"]
          and result["usage"]["output_tokens"] == whole["usage"]["output_tokens"], f"create: {result} vs {whole}")
    check(result["streamed"] == output_text(whole) and result["final_text"] == output_text(whole)
          and result["events"][0] == "response.created" and result["events"][-1] == "response.incomplete",
          f"the SDK's stream helper: {result}")
    check(result["retrieved"] and result["deleted"] and result["gone"] == 404, f"retrieve, del: {result}")
    check(result["call"] == ["get_weather", {"city": "Paris"}] and result["after_call"] == SCRIPT.split("<")[0]
          and result["not_found"] == "NotFoundError", f"the tool round trip: {result}")
    print(f"the openai npm client: {json.dumps(result)[:300]}")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-responses-") as workdir:
        path = os.path.join(workdir, "m.gguf")
        make_model(build_dir, path)
        scripted = os.path.join(workdir, "q.gguf")
        make_model(build_dir, scripted, arch="qwen2", chat_template="Qwen-Qwen2.5-7B-Instruct.jinja", script=SCRIPT)
        gateway = Gateway(build_dir, workdir)
        gateway.launch("m", path)
        gateway.launch("q", scripted)
        gateway.wait_restart_window()
        begun = time.monotonic()
        scenario_inputs(gateway)
        scenario_stream(gateway)
        scenario_tools(gateway)
        scenario_usage(gateway)
        scenario_store(gateway)
        scenario_format(gateway)
        scenario_refusals(gateway)
        scenario_failed_stream(gateway, path)
        scenario_reasoning(gateway, build_dir, workdir)
        scenario_openai_client(gateway, build_dir)
        check(gateway.stop() == 0, "the node exits 0")
    print(f"PASS: the Responses API ({time.monotonic() - begun:.1f} s)")


if __name__ == "__main__":
    run_logged(main)
