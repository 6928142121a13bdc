"""Byte-for-byte check of xinf's chat templates against Hugging Face's renderer.

Every stock template in data/ (and every built-in fallback) is rendered for a set of conversations (with and
without a system message, multi-turn, add_generation_prompt on and off,
Unicode, Jinja-looking content, empty content, content as a list of parts,
tool definitions, tool calls (arguments as objects and as JSON strings, one
or two in a turn) and results, thinking (on and off, a reasoning_content,
DeepSeek V3.1's prefix turn), extra kwargs, two bos/eos pairs) twice: by jinja2 set up
as transformers does (hf_reference.py) and by render_cases (xinf_chat_template).
The expectations are computed here, live. Where jinja2 renders, xinf must give
the same bytes without falling back; where the template raises
(raise_exception), xinf must return the same message as an error; where
jinja2 fails otherwise, xinf must fail too.

    test_templates_reference.py RENDER_CASES DATA_DIR [--report OTHER_DIR]

--report renders every *.jinja of OTHER_DIR too (e.g. llama.cpp's
models/templates) and prints, per template, identical / different / fallback,
without failing: a survey, not a test."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import hf_reference
except ImportError as error:  # python3-jinja2 missing
    print("SKIP: %s" % error)
    sys.exit(77)

NOW = 1767225600 + 12 * 3600   # 2026-01-01 12:00 UTC: fixed for strftime_now

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a city — «quoted», 天气",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 1.5e1},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["city"],
        },
    },
}, {
    "type": "function",
    "function": {"name": "noop", "description": "Does nothing", "parameters": {"type": "object", "properties": {}}},
}]

CALL = {"id": "call12345", "type": "function",
        "function": {"name": "get_weather",
                     "arguments": {"city": "Paris", "days": 2, "ratio": 0.1, "tiny": 1e-05,
                                   "big": 1e16, "ok": True, "none": None, "list": [1, "é"]}}}


def conversations():
    hello = [{"role": "user", "content": "Hello"}]
    multi = [{"role": "user", "content": "Hello"},
             {"role": "assistant", "content": "Hi there"},
             {"role": "user", "content": "Who are you"},
             {"role": "assistant", "content": "   I am an assistant   "},
             {"role": "user", "content": "Another question"}]
    system = [{"role": "system", "content": "You are a helpful assistant"}] + multi
    unicode = [{"role": "system", "content": "Réponds en français 🇫🇷"},
               {"role": "user", "content": "Héllo 漢字 😀 — ‘quotes’ \u3000spaced\u3000"},
               {"role": "assistant", "content": "Ответ 🚀\u00a0"},
               {"role": "user", "content": "\ttab\\backslash \"dq\" 'sq'"}]
    jinja_like = [{"role": "user", "content": "{{ 1 + 1 }} {% if x %}y{% endif %} {# c #} <|im_end|> [INST]"},
                  {"role": "assistant", "content": "}}{%- raw -%}"},
                  {"role": "user", "content": "{{ raise_exception('no') }}"}]
    empty = [{"role": "user", "content": ""},
             {"role": "assistant", "content": ""},
             {"role": "user", "content": " "}]
    newlines = [{"role": "system", "content": "\n\nsys\n\n"},
                {"role": "user", "content": "\n\nline1\nline2\n\n"}]
    tool_call = [{"role": "user", "content": "What's the weather in Paris?"},
                 {"role": "assistant", "content": None, "tool_calls": [CALL]},
                 {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
                  "content": "{\"temperature\": 21.5, \"sky\": \"clear ☀\"}"},
                 {"role": "assistant", "content": "It is 21.5°C and clear."},
                 {"role": "user", "content": "Thanks!"}]
    thinking = [{"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "<think>\nsimple\n</think>\n\n4"},
                {"role": "user", "content": "and 3+3?"}]
    parts = [{"role": "system", "content": [{"type": "text", "text": "Sys in parts"}]},
             {"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image"},
                                          {"type": "text", "text": " what is it? "}]}]
    string_args = [{"role": "user", "content": "Weather?"},
                   {"role": "assistant", "content": "",
                    "tool_calls": [{"id": "abc123xyz", "type": "function",
                                    "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                   {"role": "tool", "tool_call_id": "abc123xyz", "content": "sunny"}]
    # Two calls in one turn and their two results, arguments as the gateway
    # passes them (objects parsed from OpenAI's JSON strings), ids of 9
    # characters as Mistral's templates require
    parallel = [{"role": "system", "content": "Be terse."},
                {"role": "user", "content": "Weather in Paris and Oslo?"},
                {"role": "assistant", "content": None,
                 "tool_calls": [{"id": "callParis", "type": "function",
                                 "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                                {"id": "callOslo1", "type": "function",
                                 "function": {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}}]},
                {"role": "tool", "tool_call_id": "callParis", "content": "sunny"},
                {"role": "tool", "tool_call_id": "callOslo1", "content": "snow"}]
    # As the gateway passes a turn of calls: null content made "" (Qwen3's
    # template cannot test a null content)
    gateway_calls = [dict(m, content="") if m.get("tool_calls") else m for m in parallel]
    # A thought kept apart (Qwen3's and Kimi-K2-Thinking's reasoning_content), and DeepSeek V3.1's prefix
    # (a last assistant turn the model continues, its thought open with thinking on)
    reasoning = [{"role": "user", "content": "2+2?"},
                 {"role": "assistant", "content": "4", "reasoning_content": "simple sum"},
                 {"role": "user", "content": "and 3+3?"}]
    prefix = [{"role": "user", "content": "Write a poem"}, {"role": "assistant", "content": "Roses", "prefix": True}]
    alternating = [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]
    only_system = [{"role": "system", "content": "Just a system prompt"}]
    ends_assistant = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    return [
        ("hello", hello, None, None), ("multi", multi, None, None), ("system", system, None, None),
        ("unicode", unicode, None, None), ("jinja_like", jinja_like, None, None),
        ("empty", empty, None, None), ("newlines", newlines, None, None),
        ("tools", [{"role": "system", "content": "Use tools."}] + hello, TOOLS, None),
        ("tools_nosys", hello, TOOLS, None),
        ("tool_call", tool_call, TOOLS, None), ("tool_call_notools", tool_call, None, None),
        ("thinking", thinking, None, None),
        ("no_thinking", thinking, None, {"enable_thinking": False}),
        ("thinking_on", thinking, None, {"enable_thinking": True, "thinking": True}),
        ("reasoning", reasoning, None, None), ("prefix", prefix, None, {"thinking": True}),
        ("kwargs", system, TOOLS, {"date_string": "01 Jan 2025", "tools_in_user_message": False}),
        ("builtin_tools", hello, TOOLS, {"builtin_tools": ["brave_search", "code_interpreter"]}),
        ("parts", parts, None, None), ("string_args", string_args, TOOLS, None),
        ("parallel_calls", parallel, TOOLS, None), ("parallel_calls_nosys", parallel[1:], TOOLS[:1], None),
        ("gateway_calls", gateway_calls, TOOLS, None),
        ("alternating", alternating, None, None), ("only_system", only_system, None, None),
        ("ends_assistant", ends_assistant, None, None), ("no_messages", [], None, None),
    ]


TOKENS = [("", ""), ("<s>", "</s>")]


def make_cases(sources):
    cases = []
    for name, source in sources:
        for conv, messages, tools, kwargs in conversations():
            for bos, eos in TOKENS:
                for agp in (True, False):
                    cases.append({"name": name, "conv": conv, "template": source, "messages": messages,
                                  "tools": tools, "bos_token": bos, "eos_token": eos,
                                  "add_generation_prompt": agp, "kwargs": kwargs or {}, "now": NOW})
    return cases


def first_difference(want, got):
    at = next((i for i in range(min(len(want), len(got))) if want[i] != got[i]), min(len(want), len(got)))
    return "at byte %d: want %r, got %r" % (at, want[max(0, at - 30):at + 40], got[max(0, at - 30):at + 40])


def compare(case, result):
    """None when xinf agrees with HF, else what differs."""
    kind, *ref = hf_reference.render(case["template"], case["messages"], case["tools"], case["bos_token"],
                                     case["eos_token"], case["add_generation_prompt"], case["kwargs"],
                                     case["now"])
    if "warning" in result:
        return "fell back: %s" % result["warning"]
    if kind == "text":
        if "text" not in result:
            return "HF renders, xinf fails: %s" % result["error"]
        if result["text"] != ref[0]:
            return first_difference(ref[0], result["text"])
        return None
    if "text" in result:
        return "HF fails (%s), xinf renders %r" % (ref[0], result["text"][:80])
    if ref[1] and result["error"] != ref[0]:
        return "raise_exception message differs: want %r, got %r" % (ref[0], result["error"])
    return None


# The templates whose tool rendering the gateway relies on, and the
# conversations each must render (not refuse) with the tools in the prompt
TOOL_TEMPLATES = {
    "Qwen-Qwen2.5-7B-Instruct.jinja": ("tools", "tool_call", "parallel_calls", "gateway_calls"),
    "Qwen-Qwen3-0.6B.jinja": ("tools", "string_args", "gateway_calls"),
    "meta-llama-Llama-3.1-8B-Instruct.jinja": ("tools", "tool_call", "string_args"),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": ("tools", "tool_call", "string_args"),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("tools", "tool_call", "parallel_calls", "gateway_calls"),
    "Mistral-Small-3.2-24B-Instruct-2506.jinja": ("tools", "tool_call", "parallel_calls", "gateway_calls"),
    "zai-org-GLM-4.6.jinja": ("tools", "tool_call", "parallel_calls", "gateway_calls"),
    "GLM-4.7-Flash.jinja": ("tools", "tool_call", "parallel_calls", "gateway_calls"),
    "moonshotai-Kimi-K2.jinja": ("tools", "tool_call", "parallel_calls", "gateway_calls"),
    "Kimi-K2-Thinking.jinja": ("tools",),
    # DeepSeek's templates render calls but no tools (the gateway describes them in the system message)
    "deepseek-ai-DeepSeek-V3.1.jinja": ("tool_call", "parallel_calls", "gateway_calls"),
}


def tool_coverage(cases, results):
    """What TOOL_TEMPLATES want but did not get: a refusal, or a prompt without the tool's name."""
    missing = []
    for case, result in zip(cases, results):
        if case["conv"] in TOOL_TEMPLATES.get(case["name"], ()) and "get_weather" not in result.get("text", ""):
            missing.append("%s %s: %s" % (case["name"], case["conv"], result.get("error", "no get_weather")[:80]))
    return missing


def run(render_cases, cases):
    with tempfile.TemporaryDirectory() as tmp:
        cases_path = os.path.join(tmp, "cases.json")
        results_path = os.path.join(tmp, "results.json")
        with open(cases_path, "w", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False)
        subprocess.run([render_cases, cases_path, results_path], check=True, timeout=120)
        with open(results_path, encoding="utf-8") as f:
            return json.load(f)


def load(directory):
    sources = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".jinja"):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                sources.append((name, f.read()))
    return sources


def builtins(render_cases):
    """The built-in fallback templates, which must render as jinja2 does too."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "builtins.json")
        subprocess.run([render_cases, "--builtins", path], check=True, timeout=60)
        with open(path, encoding="utf-8") as f:
            return [("builtin:" + name, source) for name, source in sorted(json.load(f).items())]


def survey(render_cases, directory):
    for name, source in load(directory):
        cases = make_cases([(name, source)])
        results = run(render_cases, cases)
        problems = [compare(c, r) for c, r in zip(cases, results)]
        bad = [p for p in problems if p]
        fallback = next((p for p in bad if p.startswith("fell back")), None)
        rendered = sum(1 for r in results if "text" in r)
        status = "identical (%d rendered, %d refused by both)" % (rendered, len(cases) - rendered) if not bad else ("FALLBACK " + fallback[:150]) if fallback else \
            "DIFFERS in %d/%d: %s" % (len(bad), len(cases), bad[0][:150])
        print("%-60s %s" % (name, status))


def main():
    render_cases, data_dir = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 4 and sys.argv[3] == "--report":
        survey(render_cases, sys.argv[4])
        return 0
    sources = load(data_dir) + builtins(render_cases)
    cases = make_cases(sources)
    results = run(render_cases, cases)
    failures = {}
    rendered = raised = 0
    for case, result in zip(cases, results):
        problem = compare(case, result)
        if problem:
            failures.setdefault(case["name"], []).append((case, problem))
        elif "text" in result:
            rendered += 1
        else:
            raised += 1
    for name, _ in sources:
        status = "FAIL (%d cases)" % len(failures[name]) if name in failures else "identical"
        print("%-55s %s" % (name, status))
    for name, items in failures.items():
        case, problem = items[0]
        print("\n%s, conversation %r, add_generation_prompt=%s, bos=%r: %s"
              % (name, case["conv"], case["add_generation_prompt"], case["bos_token"], problem))
    print("\n%d cases: %d rendered identically, %d refused by both, %d differ"
          % (len(cases), rendered, raised, sum(len(v) for v in failures.values())))
    missing = tool_coverage(cases, results)
    for line in missing[:10]:
        print("tools not rendered: " + line)
    return 1 if failures or missing else 0


if __name__ == "__main__":
    sys.exit(main())
