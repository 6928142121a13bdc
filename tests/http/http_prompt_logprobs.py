"""A prompt's log-probabilities (GENERATE prompt_logprobs; completions' echo
with logprobs, as lm-evaluation-harness asks), end to end through a node's
gateway, supervisor, replica and executor (scenarios of test_http_api.py,
which starts the node).

The oracle: a greedy generation's own log-probabilities. Scoring the
prompt + its generated tokens must give, at the generated positions, the
very values (bit for bit: batching never changes a result) and the same
most likely tokens, whether the prompt is scored in one step or in chunks
beside other requests, streamed or not, twice (no prefix cache), over
ZeroMQ or HTTP. Also max_tokens 0 (the prompt alone) and every refusal."""
import threading

from xinf_httplib import check, expect_error, generate_refused
from xinf_client import XinfClient, XinfError


def generate(gateway, **fields):
    return gateway.client.generate("m", timeout_ms=60000, **fields)


def reference(gateway, prompt, count=8, top=3):
    """A greedy generation of up to 'count' tokens with their
    log-probabilities: (prompt ids, generated ids, their logprob entries),
    without an end token that stopped it (HTTP answers leave it out)."""
    answer = generate(gateway, prompt=prompt, max_tokens=count, logprobs=top)
    tokens, logprobs = answer["tokens"], answer["logprobs"]
    if answer["finish_reason"] == "stop":
        tokens, logprobs = tokens[:-1], logprobs[:-1]
    check(len(tokens) >= 3, f"a few tokens generated before any end: {answer}")
    return answer["prompt_tokens"], tokens, logprobs


def check_scored(entries, ids, generated, logprobs, top):
    """Entries of prompt ids + generated: one per id, the first without a
    logprob, the generated ones the generation's values exactly."""
    whole = ids + generated
    check(len(entries) == len(whole), f"an entry per prompt token: {len(entries)} for {len(whole)}")
    check([entry["token"] for entry in entries] == whole, "the entries' tokens are the prompt's")
    check("logprob" not in entries[0] and entries[0]["top_logprobs"] == [], f"the first has none: {entries[0]}")
    for index, entry in enumerate(entries[1:], start=1):
        check(-9999 <= entry["logprob"] <= 0 and len(entry["top_logprobs"]) == top, f"entry {index}: {entry}")
        tops = [alternative["logprob"] for alternative in entry["top_logprobs"]]
        check(tops == sorted(tops, reverse=True), f"most likely first: {entry}")
    for index, expected in enumerate(logprobs[:len(generated) - 1]):
        got = entries[len(ids) + index]
        check(got["logprob"] == expected["logprob"], f"generated token {index}: scored {got['logprob']!r}, "
              f"generated with {expected['logprob']!r}")
        check([(item["token"], item["logprob"]) for item in got["top_logprobs"]]
              == [(item["token"], item["logprob"]) for item in expected["top_logprobs"]],
              f"generated token {index}'s most likely tokens: {got} vs {expected}")
        check(got["top_logprobs"][0]["token"] == generated[index], "greedy: each generated token is the most likely")


def scenario_prompt_logprobs(gateway, prompt):
    """GENERATE prompt_logprobs over ZeroMQ against the generation's own."""
    ids, generated, logprobs = reference(gateway, prompt)
    whole = ids + generated
    scored = generate(gateway, prompt_tokens=whole, max_tokens=1, prompt_logprobs=3)
    check_scored(scored["prompt_logprobs"], ids, generated, logprobs, 3)
    again = generate(gateway, prompt_tokens=whole, max_tokens=1, prompt_logprobs=3)
    check(again["prompt_logprobs"] == scored["prompt_logprobs"], "scored twice: the same (no prefix cache)")
    streamed = generate(gateway, prompt_tokens=whole, max_tokens=2, prompt_logprobs=3, stream=True)
    check(streamed["prompt_logprobs"] == scored["prompt_logprobs"], "streamed: the first token carries the same")
    alone = generate(gateway, prompt_tokens=whole, max_tokens=0, prompt_logprobs=3)
    check(alone["tokens"] == [] and alone["finish_reason"] == "length" and alone["text"] == ""
          and alone["prompt_logprobs"] == scored["prompt_logprobs"], f"max_tokens 0: the prompt alone: {alone}")
    alone = generate(gateway, prompt_tokens=whole, max_tokens=0, prompt_logprobs=3, stream=True)
    check(alone["tokens"] == [] and alone["prompt_logprobs"] == scored["prompt_logprobs"],
          "max_tokens 0 streamed: in the answer")
    bare = generate(gateway, prompt_tokens=whole, max_tokens=1, prompt_logprobs=0)
    check([(entry.get("logprob"), entry["top_logprobs"]) for entry in bare["prompt_logprobs"]]
          == [(entry.get("logprob"), []) for entry in scored["prompt_logprobs"]], "prompt_logprobs 0: no tops")

    # A long prompt, scored in chunks of 64 rows beside other requests, each
    # the same as alone
    long_ids = (whole * 12)[:300]
    solo = generate(gateway, prompt_tokens=long_ids, max_tokens=4, prompt_logprobs=1)["prompt_logprobs"]
    results, errors = {}, []

    def worker(index):
        client = XinfClient(gateway.node.endpoint, timeout_ms=60000)     # a socket per thread
        try:
            if index % 2:
                results[index] = client.generate("m", prompt_tokens=long_ids, max_tokens=4,
                                                 prompt_logprobs=1)["prompt_logprobs"]
            else:
                results[index] = client.generate("m", prompt=prompt, max_tokens=12, temperature=0.8,
                                                 seed=index)["text"]
        except Exception as error:   # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            client.close()
    threads = [threading.Thread(target=worker, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    check(not errors and len(results) == 6, f"six requests together: {errors}")
    check(all(results[index] == solo for index in (1, 3, 5)), "a scored prompt beside others: as alone")

    # Refusals: out of range; too large at once
    prefilled = generate(gateway, prompt_tokens=whole, max_tokens=0)
    check(prefilled["tokens"] == [] and prefilled["finish_reason"] == "length" and "prompt_logprobs" not in prefilled,
          f"max_tokens 0 alone: the prompt prefilled, nothing generated: {prefilled}")
    generate_refused(gateway, {"uid": "m", "prompt": "x", "max_tokens": 1, "prompt_logprobs": 21}, "prompt_logprobs")
    try:
        generate(gateway, prompt_tokens=(whole * 100)[:2000], max_tokens=1, prompt_logprobs=20)
        check(False, "a prompt whose log-probabilities cannot fit one answer is refused")
    except XinfError as error:
        check(error.code == "TOO_LARGE" and "prompt_logprobs" in str(error), f"TOO_LARGE at once: {error}")
    print(f"prompt_logprobs: the generation's own values at its {len(generated)} tokens, bit for bit; streamed, "
          "twice, max_tokens 0, beside others, refusals")
    return ids, generated, logprobs


def scenario_echo_logprobs(gateway, prompt, ids, generated, logprobs):
    """Completions' echo with logprobs (OpenAI's legacy shape, lm-eval's
    loglikelihood request), of a text prompt and of token ids."""
    def post(**fields):
        status, _, answer = gateway.call("POST", "/v1/completions", {"model": "m", **fields})
        check(status == 200, f"completion {fields}: {status} {answer}")
        return answer

    whole = ids + generated
    # lm-evaluation-harness's local-completions: ids, max_tokens 1, echo, logprobs 1
    answer = post(prompt=whole, max_tokens=1, echo=True, logprobs=1, temperature=0)
    choice = answer["choices"][0]
    lp = choice["logprobs"]
    check(len(lp["tokens"]) == len(whole) + 1 and lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None,
          f"an entry per prompt token and the generated one, the first null: {lp}")
    continuation = lp["token_logprobs"][len(ids):-1]
    check(continuation == [entry["logprob"] for entry in logprobs[:len(generated)]],
          f"the continuation's logprobs are the generation's: {continuation}")
    check(all(value == max(top.values()) for value, top in zip(continuation, lp["top_logprobs"][len(ids):-1])),
          "is_greedy: each continuation token is its position's most likely")
    check(answer["usage"]["prompt_tokens"] == len(whole) and answer["usage"]["completion_tokens"] == 1,
          f"usage: {answer['usage']}")
    echoed = "".join(lp["tokens"][:len(whole)])
    check(choice["text"].startswith(echoed), f"the echoed text is the prompt tokens' text: {choice['text']!r}")
    # A text prompt: its own text first; offsets grow from 0
    answer = post(prompt=prompt, max_tokens=len(generated), echo=True, logprobs=3, temperature=0)
    choice = answer["choices"][0]
    lp = choice["logprobs"]
    check(choice["text"].startswith(prompt) and len(lp["tokens"]) == len(whole), f"echo of a text prompt: {choice}")
    check(lp["text_offset"] == sorted(lp["text_offset"]) and lp["text_offset"][0] == 0, f"offsets: {lp}")
    check(lp["token_logprobs"][len(ids):] == [entry["logprob"] for entry in logprobs],
          "the generated tokens' logprobs follow the prompt's")
    # Streamed: the first chunk is the prompt with its entries; the same values
    status, events = gateway.stream("/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": len(generated),
                                                        "echo": True, "logprobs": 3, "temperature": 0,
                                                        "stream": True})
    chunks = [event["choices"][0] for event in events if event != "[DONE]" and event["choices"]]
    check(status == 200 and chunks[0]["text"] == prompt and len(chunks[0]["logprobs"]["tokens"]) == len(ids),
          f"the first chunk is the prompt with its log-probabilities: {chunks[0]}")
    streamed = [value for chunk in chunks if chunk["logprobs"] for value in chunk["logprobs"]["token_logprobs"]]
    check(streamed == lp["token_logprobs"], "streamed: the same log-probabilities")
    # max_tokens 0: the prompt alone, with and without logprobs, streamed too
    answer = post(prompt=prompt, max_tokens=0, echo=True, logprobs=2)
    choice = answer["choices"][0]
    check(choice["text"] == prompt and len(choice["logprobs"]["tokens"]) == len(ids)
          and choice["finish_reason"] == "length" and answer["usage"]["completion_tokens"] == 0,
          f"max_tokens 0: the prompt alone: {answer}")
    check(post(prompt=prompt, max_tokens=0, echo=True)["choices"][0]["text"] == prompt, "max_tokens 0, no logprobs")
    status, events = gateway.stream("/v1/completions", {"model": "m", "prompt": whole, "max_tokens": 0, "echo": True,
                                                        "stream": True})
    texts = "".join(event["choices"][0]["text"] for event in events if event != "[DONE]" and event["choices"])
    check(status == 200 and texts == echoed, f"max_tokens 0 streamed, token ids: their text: {texts!r}")
    # A continuation the model would end: lm-eval's request still gets an
    # entry for the generated (end) token last, with no text, so that
    # dropping the last entry leaves the continuation whole
    for index in range(200):
        ended = generate(gateway, prompt=f"The quick brown fox jumps over the lazy dog{index or ''}", max_tokens=8)
        if ended["finish_reason"] == "stop" and len(ended["tokens"]) >= 2:
            break
    else:
        check(False, "a prompt whose greedy answer ends with an end token")
    context = ended["prompt_tokens"] + ended["tokens"][:-1]
    answer = post(prompt=context, max_tokens=1, echo=True, logprobs=1, temperature=0)
    lp = answer["choices"][0]["logprobs"]
    check(len(lp["tokens"]) == len(context) + 1 and lp["tokens"][-1] == ""
          and answer["choices"][0]["finish_reason"] == "stop", f"the end token's entry comes last: {answer}")
    # Refused
    expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "max_tokens": 0}), 400,
                 "0 only with echo", "max_tokens")
    expect_error(gateway.call("POST", "/v1/chat/completions", {"model": "m", "max_tokens": 0,
                                                               "messages": [{"role": "user", "content": "x"}]}),
                 400, "at least 1", "max_tokens")
    print("echo with logprobs: lm-eval's request reads the generation's values; text and token prompts, streamed, "
          "max_tokens 0")
