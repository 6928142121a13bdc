"""Several choices of one request (n), end to end through a node's gateway,
supervisor, replica and executor (scenarios of test_http_api.py, which
starts the node): each choice is the generation a request of n = 1 with
the seed plus its index gives, streamed and not, completions and chat,
with stop strings, log-probabilities and usage summed; a choice that
fails fails the request once; bad values of n and best_of are 400s.
And echo, which puts the prompt's text before each choice's."""
from xinf_httplib import check, completion, expect_error


def by_choice(events, chat=False):
    """A stream's text and finish_reason per choice index, the indexes in
    the order their first chunks came, the chunks with a role per index,
    and the usage chunk (or None)."""
    texts, finishes, roles, usage = {}, {}, {}, None
    for event in events:
        if event == "[DONE]":
            continue
        if not event["choices"]:
            usage = event.get("usage")
            continue
        check(len(event["choices"]) == 1, f"a chunk carries one choice: {event}")
        choice = event["choices"][0]
        index = choice["index"]
        piece = (choice["delta"].get("content") or "") if chat else choice["text"]
        texts[index] = texts.get(index, "") + piece
        if chat and choice["delta"].get("role"):
            roles[index] = roles.get(index, 0) + 1
        if choice["finish_reason"]:
            check(index not in finishes, f"choice {index} finishes once: {event}")
            finishes[index] = choice["finish_reason"]
    return texts, finishes, roles, usage


def scenario_choices(gateway, prompt, text):
    def complete(**fields):
        body = {"model": "m", "prompt": prompt, "max_tokens": 16, **fields}
        status, _, answer = gateway.call("POST", "/v1/completions", body)
        check(status == 200, f"a completion with {fields}: {status} {answer}")
        return answer

    # Greedy: n copies of the greedy text, the completion tokens summed
    single = complete(temperature=0)
    greedy = complete(temperature=0, n=3)
    check([choice["index"] for choice in greedy["choices"]] == [0, 1, 2], f"indexes 0-2: {greedy['choices']}")
    check(all(choice["text"] == single["choices"][0]["text"] for choice in greedy["choices"]),
          f"n = 3 greedy: each choice is the greedy text: {greedy['choices']}")
    check(greedy["usage"] == {"prompt_tokens": single["usage"]["prompt_tokens"],
                              "completion_tokens": 3 * single["usage"]["completion_tokens"],
                              "total_tokens": single["usage"]["prompt_tokens"]
                              + 3 * single["usage"]["completion_tokens"]}, f"usage summed: {greedy['usage']}")
    # Sampled with a seed: choice i is the request of seed + i
    seeded = complete(temperature=1.5, seed=40, n=4)
    alone = [complete(temperature=1.5, seed=40 + index)["choices"][0]["text"] for index in range(4)]
    got = [choice["text"] for choice in seeded["choices"]]
    check(got == alone, f"n = 4, seed 40: choice i is seed 40 + i alone: {got} vs {alone}")
    check(len(set(alone)) > 1, f"the seeds give different texts: {alone}")
    # Streamed: the same texts, each choice finished once, usage summed, one [DONE]
    status, events = gateway.stream("/v1/completions", {"model": "m", "prompt": prompt, "max_tokens": 16,
                                                        "temperature": 1.5, "seed": 40, "n": 4, "stream": True,
                                                        "stream_options": {"include_usage": True}})
    texts, finishes, _, usage = by_choice(events)
    check(status == 200 and [texts.get(index) for index in range(4)] == alone,
          f"streamed n = 4: the same texts: {texts}")
    check(sorted(finishes) == [0, 1, 2, 3] and events[-1] == "[DONE]" and events.count("[DONE]") == 1,
          f"streamed: each choice finishes, then one [DONE]: {finishes} {events[-2:]}")
    check(usage and usage["completion_tokens"] == seeded["usage"]["completion_tokens"],
          f"streamed usage: the sum: {usage} vs {seeded['usage']}")
    # Stop strings and log-probabilities: each choice its own
    stop = text[4:7]
    stopped = complete(temperature=0, n=2, stop=[stop], logprobs=2)
    for choice in stopped["choices"]:
        check(choice["finish_reason"] == "stop" and stop not in choice["text"]
              and text.startswith(choice["text"]), f"each choice stops before {stop!r}: {choice}")
        check(len(choice["logprobs"]["tokens"]) >= 1
              and all(len(top) == 2 for top in choice["logprobs"]["top_logprobs"]),
              f"each choice has its logprobs: {choice['logprobs']}")
    # Chat, streamed and not: each choice's first chunk names the role
    chat = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "temperature": 1.5,
            "seed": 9}
    status, _, answer = gateway.call("POST", "/v1/chat/completions", dict(chat, n=3))
    contents = [choice["message"]["content"] for choice in answer.get("choices", [])]
    lone = [gateway.call("POST", "/v1/chat/completions", dict(chat, seed=9 + index))[2]["choices"][0]["message"]
            ["content"] for index in range(3)]
    check(status == 200 and contents == lone, f"chat n = 3: choice i is seed 9 + i alone: {contents} vs {lone}")
    status, events = gateway.stream("/v1/chat/completions", dict(chat, n=3, stream=True))
    texts, finishes, roles, _ = by_choice(events, chat=True)
    check(status == 200 and [texts.get(index) for index in range(3)] == lone and roles == {0: 1, 1: 1, 2: 1},
          f"chat streamed n = 3: the same contents, one role chunk each: {texts} {roles}")
    # One failure fails the request once; bad values
    expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "n": 3,
                                                          "logit_bias": {"512": 1}}),
                 400, "not below the vocabulary of 512", "logit_bias")
    for bad in (0, 129, "2", 1.5):
        expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "n": bad}), 400, "", "n")
    expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "best_of": 2}), 400,
                 "best_of = n", "best_of")
    # A refused request's choices count under the refused label, not the name a client made up
    expect_error(gateway.call("POST", "/v1/completions", {"model": "made-up-name", "prompt": "x", "n": 3}), 404,
                 "", "model")
    status, _, metrics = gateway.call("GET", "/metrics")
    check(status == 200 and b"made-up-name" not in metrics, "no series for a model a client made up")
    # n copies of a large request: at most two GENERATEs' worth in all
    wide = "word " * 4000
    expect_error(gateway.call("POST", "/v1/completions", {"model": "m", "prompt": wide, "n": 128, "max_tokens": 1}),
                 413, "fewer choices", "n")
    status, _, answer = gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "x", "n": 128,
                                                                 "max_tokens": 1})
    check(status == 200 and len(answer["choices"]) == 128, f"128 choices of a short prompt: {status}")
    same = complete(temperature=0, n=2, best_of=2)
    check(len(same["choices"]) == 2, f"best_of = n is n choices: {same}")
    print("n: each choice is its own seeded generation (seed + index), in index order, streamed and not, "
          "completions and chat; usage summed; stops and logprobs per choice; one failure, one error; bad n refused")


def scenario_echo(gateway, prompt, text):
    """Completions' echo: the prompt's text, then the completion's, in the
    answer and in the stream, for each choice; usage unchanged."""
    body = {"model": "m", "prompt": prompt, "max_tokens": 24, "temperature": 0}
    echoed, finish = completion(gateway, dict(body, echo=True))
    check(echoed == prompt + text and finish == "length", f"echo: the prompt, then the text: {echoed!r}")
    check(completion(gateway, dict(body, echo=True), stream=True) == (prompt + text, "length"), "echo streamed")
    check(completion(gateway, dict(body, echo=False)) == (text, "length"), "echo false: the text alone")
    status, _, answer = gateway.call("POST", "/v1/completions", dict(body, echo=True, n=2))
    check(status == 200 and [choice["text"] for choice in answer["choices"]] == [prompt + text] * 2
          and answer["usage"]["completion_tokens"] == 48, f"echo with n = 2: {answer}")
    print("echo: the prompt's text before the completion's, streamed too, each choice; usage unchanged")
