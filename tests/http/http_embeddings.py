"""Embeddings (GENERATE embed; POST /v1/embeddings), end to end through a
node's gateway, supervisor, replica and executor (a scenario of
test_http_api.py, which starts the node).

The oracles: a causal model's state at position k depends only on the
tokens up to k, so the mean-pooled embedding of a prompt (as pooled,
not normed) is the mean of the last-pooled embeddings of its prefixes;
an input's embedding is the same alone or among many inputs of one
request (batching never changes a result); the prefix cache changes
nothing. Also the model's file deciding pooling and the EOS, the HTTP
forms (float, base64, dimensions, normalize) and every refusal."""
import base64
import json
import math
import struct
import subprocess
import threading

from xinf_httplib import check, expect_error, generate_refused
from xinf_testlib import tool
from xinf_client import XinfClient


def f32(values):
    """Floats as the float32 they were sent as."""
    return [struct.unpack("<f", struct.pack("<f", value))[0] for value in values]


def norm(values):
    return math.sqrt(sum(value * value for value in values))


def embed(gateway, uid, **fields):
    return gateway.client.embed(uid, timeout_ms=60000, **fields)


def scenario_zmq(gateway, uid):
    """GENERATE embed over ZeroMQ against the prefix oracle."""
    models = {model["uid"]: model for model in gateway.client.list_models()}
    check(models[uid].get("pooling") == "last" and models[uid].get("dim") == 64, f"LIST_MODELS: {models[uid]}")
    answer = embed(gateway, uid, prompt="The quick brown fox")
    ids, vector = answer["prompt_tokens"], answer["embedding"]
    check(len(vector) == 64 and abs(norm(vector) - 1) < 1e-6, f"64 floats of length 1: {norm(vector)}")
    check(answer["tokens"] == [] and answer["finish_reason"] == "length", f"nothing generated: {answer}")
    status, _, tokenized = gateway.call("POST", "/tokenize", {"model": uid, "content": "The quick brown fox"})
    check(status == 200 and ids[:-1] == tokenized["tokens"] and ids[-1] not in tokenized["tokens"],
          f"the text's tokens, then the EOS the file asks (add_eos_token): {ids} vs {tokenized}")
    again = embed(gateway, uid, prompt_tokens=ids)
    check(again["embedding"] == vector and again["prompt_tokens"] == ids,
          "by its ids (which end with the EOS the file asks): the same")
    cli = subprocess.run([tool(gateway.build_dir, "xinf-cli"), "-e", gateway.node.endpoint, "-t", "60000", "generate",
                          uid, "--prompt", "The quick brown fox", "--embed"], capture_output=True, text=True, timeout=90)
    check(cli.returncode == 0 and f32(json.loads(cli.stdout)) == f32(vector) and "64 floats" in cli.stderr,
          f"xinf-cli generate --embed prints the same vector: {cli.returncode} {cli.stderr}")
    shorter = embed(gateway, uid, prompt_tokens=ids[:-1])
    check(shorter["embedding"] != vector, "without the EOS: another vector (the last position's)")

    # Mean pooling is the mean of the prefixes' last states (not normed)
    prompt = [(index * 37 + 11) % 500 for index in range(45)]
    mean = embed(gateway, uid, prompt_tokens=prompt, pooling="mean", normalize=False)["embedding"]
    prefixes = [embed(gateway, uid, prompt_tokens=prompt[:end], pooling="last", normalize=False)["embedding"]
                for end in range(1, len(prompt) + 1)]
    expected = [sum(row[i] for row in prefixes) / len(prefixes) for i in range(64)]
    worst = max(abs(a - b) for a, b in zip(mean, expected))
    check(worst < 1e-5 * max(1.0, max(abs(value) for value in expected)),
          f"mean pooling is the mean of every position's state: worst gap {worst}")
    last = embed(gateway, uid, prompt_tokens=prompt, pooling="last", normalize=False)["embedding"]
    check(last == prefixes[-1], "the whole prompt's last state: the longest prefix's")
    normed = embed(gateway, uid, prompt_tokens=prompt, pooling="last")["embedding"]
    scale = norm(last)
    check(max(abs(a - b / scale) for a, b in zip(normed, last)) < 1e-6, "normalize: the same vector, length 1")
    # Twice: the second takes the prompt's whole blocks from the prefix cache
    check(embed(gateway, uid, prompt_tokens=prompt, pooling="last", normalize=False)["embedding"] == last,
          "again, from the prefix cache: the same")

    # Refusals, each naming its field
    generate_refused(gateway, {"uid": uid, "prompt": "x", "max_tokens": 3, "embed": True}, "max_tokens")
    generate_refused(gateway, {"uid": uid, "prompt": "x", "max_tokens": 0, "embed": True, "stream": True}, "stream")
    generate_refused(gateway, {"uid": uid, "prompt": "x", "max_tokens": 0, "embed": True, "logprobs": True},
                     "logprobs")
    generate_refused(gateway, {"uid": uid, "prompt": "x", "max_tokens": 0, "embed": True, "prompt_logprobs": 1},
                     "prompt_logprobs")
    generate_refused(gateway, {"uid": uid, "prompt": "x", "max_tokens": 0, "embed": True, "pooling": "cls"},
                     "pooling")
    print("embeddings over ZeroMQ: the file's pooling and EOS, mean = the prefixes' states, prefix cache, refusals")
    return vector


def scenario_no_pooling(gateway, plain_uid):
    """A model whose file names no pooling: refused without GENERATE
    pooling, served with it."""
    generate_refused(gateway, {"uid": plain_uid, "prompt": "x", "max_tokens": 0, "embed": True}, "pooling")
    vector = embed(gateway, plain_uid, prompt="hello", pooling="mean")["embedding"]
    check(len(vector) == 64 and abs(norm(vector) - 1) < 1e-6, "pooling asked: served")
    expect_error(gateway.call("POST", "/v1/embeddings", {"model": plain_uid, "input": "hello"}), 400, "pooling")
    status, _, body = gateway.call("POST", "/v1/embeddings", {"model": plain_uid, "input": "hello", "pooling": "mean"})
    check(status == 200 and f32(body["data"][0]["embedding"]) == f32(vector), f"HTTP pooling mean: {status} {body}")


def scenario_http(gateway, uid, vector):
    """POST /v1/embeddings: OpenAI's shape, many inputs at once, the forms."""
    status, _, body = gateway.call("POST", "/v1/embeddings", {"model": uid, "input": "The quick brown fox"})
    check(status == 200 and body["object"] == "list" and body["model"] == uid, f"the list: {status} {body}")
    item = body["data"][0]
    check(item["object"] == "embedding" and item["index"] == 0 and f32(item["embedding"]) == f32(vector),
          "the same vector as over ZeroMQ (floats of 9 digits: a float32 exactly)")
    check(body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0, f"usage: {body['usage']}")

    # Many inputs (texts and ids), more than are in flight at once: each
    # the same as alone, in order
    inputs = [f"input number {index} " * (1 + index % 7) for index in range(70)] + [[5, 6, 7], [9] * 40]
    status, _, many = gateway.call("POST", "/v1/embeddings", {"model": uid, "input": inputs})
    check(status == 200 and [item["index"] for item in many["data"]] == list(range(len(inputs))),
          f"an embedding per input, in order: {status}")
    tokens = 0
    for index in (0, 1, 33, 69, 70, 71):
        field = {"prompt": inputs[index]} if isinstance(inputs[index], str) else {"prompt_tokens": inputs[index]}
        alone = embed(gateway, uid, **field)
        tokens += len(alone["prompt_tokens"])
        check(f32(many["data"][index]["embedding"]) == f32(alone["embedding"]), f"input {index}: the same as alone")
    check(many["usage"]["prompt_tokens"] >= tokens, f"usage counts every input's tokens: {many['usage']}")

    # Beside a generation: both answered, the generation as alone
    reference = gateway.client.generate("m", prompt="Once upon a time", max_tokens=24, timeout_ms=60000)
    results = {}

    def generate_beside():
        client = XinfClient(gateway.node.endpoint, timeout_ms=60000)     # a socket per thread
        try:
            results["answer"] = client.generate("m", prompt="Once upon a time", max_tokens=24, timeout_ms=60000)
        finally:
            client.close()
    thread = threading.Thread(target=generate_beside)
    thread.start()
    status, _, beside = gateway.call("POST", "/v1/embeddings", {"model": uid, "input": inputs[:20]})
    thread.join(60)
    check(status == 200 and beside["data"] == many["data"][:20], "embeddings beside a generation: the same")
    check(results.get("answer", {}).get("tokens") == reference["tokens"], "the generation beside them: as alone")

    # base64: float32 little-endian; dimensions: the first d, length 1 again
    status, _, coded = gateway.call("POST", "/v1/embeddings", {"model": uid, "input": "The quick brown fox",
                                                                "encoding_format": "base64"})
    raw = base64.b64decode(coded["data"][0]["embedding"])
    check(status == 200 and list(struct.unpack(f"<{len(raw) // 4}f", raw)) == f32(vector), "base64: the floats")
    status, _, cut = gateway.call("POST", "/v1/embeddings", {"model": uid, "input": "The quick brown fox",
                                                              "dimensions": 16})
    first = vector[:16]
    check(status == 200 and len(cut["data"][0]["embedding"]) == 16
          and max(abs(a - b / norm(first)) for a, b in zip(cut["data"][0]["embedding"], first)) < 1e-6,
          "dimensions 16: the first 16, normed again")
    status, _, raw_body = gateway.call("POST", "/v1/embeddings", {"model": uid, "input": "The quick brown fox",
                                                                   "normalize": False})
    plain = embed(gateway, uid, prompt="The quick brown fox", normalize=False)["embedding"]
    check(status == 200 and f32(raw_body["data"][0]["embedding"]) == f32(plain), "normalize false: as pooled")

    # Refusals
    for body, needle, param in (
            ({"model": uid}, "required", "input"),
            ({"model": uid, "input": ""}, "empty", "input"),
            ({"model": uid, "input": []}, "array", "input"),
            ({"model": uid, "input": ["a", ""]}, "empty", "input[1]"),
            ({"model": uid, "input": ["a", [1, "b"]]}, "token id", "input[1]"),
            ({"model": uid, "input": [[]]}, "non-empty", "input[0]"),
            ({"model": uid, "input": [-1]}, "token id", "input"),
            ({"model": uid, "input": ["a"] * 2049}, "2048", "input"),
            ({"model": uid, "input": "a", "encoding_format": "hex"}, "base64", "encoding_format"),
            ({"model": uid, "input": "a", "dimensions": 0}, "integer", "dimensions"),
            ({"model": uid, "input": "a", "dimensions": 65}, "64", "dimensions"),
            ({"model": uid, "input": "a", "pooling": "cls"}, "mean", "pooling"),
            ({"model": uid, "input": "a", "normalize": "yes"}, "true or false", "normalize"),
            ({"input": "a"}, "required", "model")):
        expect_error(gateway.call("POST", "/v1/embeddings", body), 400, needle, param)
    expect_error(gateway.call("POST", "/v1/embeddings", {"model": "no-such-model", "input": "a"}), 404)
    expect_error(gateway.call("POST", "/v1/embeddings", {"model": uid, "input": [100000]}), 400, "below")
    status, _, body = gateway.call("POST", "/v1/embeddings", "{not json")
    check(status == 400, f"a body that is no JSON: {status}")
    print("POST /v1/embeddings: OpenAI's shape, 72 inputs each as alone, beside a generation, base64, dimensions, "
          "normalize, refusals")
    return many


def scenario_small_queue(gateway, embed_path, many):
    """A model whose queue holds 4 requests: the 72 inputs of one request
    still all answered (each refused input goes again as the request's
    own finish), the same as on a roomy model; the metrics count each
    request once."""
    gateway.launch("small", embed_path, max_queued=4, max_seqs=2)
    inputs = [f"input number {index} " * (1 + index % 7) for index in range(70)] + [[5, 6, 7], [9] * 40]
    status, _, body = gateway.call("POST", "/v1/embeddings", {"model": "small", "input": inputs})
    check(status == 200 and [f32(item["embedding"]) for item in body["data"]]
          == [f32(item["embedding"]) for item in many["data"]], f"a queue of 4, 72 inputs: answered as ever: {status}")
    status, _, metrics = gateway.call("GET", "/metrics")
    text = metrics.decode() if isinstance(metrics, bytes) else str(metrics)
    check('xinf_requests_total{model="small",outcome="embedded"} 1' in text,
          "the request counted once, outcome embedded")
    print("embeddings on a model with a queue of 4: 72 inputs answered, counted once")


def scenario_describe(gateway, uid, plain_uid):
    """GET /v1/models/{id} describes each model as Xinference does (its
    Python client and Dify's Xinference provider choose the calls by it)."""
    status, _, body = gateway.call("GET", f"/v1/models/{uid}")
    check(status == 200 and body["model_type"] == "embedding" and body["dimensions"] == 64
          and body["max_tokens"] == body["context_length"] > 0 and body["model_format"] == "ggufv2"
          and body["model_name"] == uid,
          f"an embedding model: {body}")
    status, _, body = gateway.call("GET", f"/v1/models/{plain_uid}")
    check(status == 200 and body["model_type"] == "LLM" and body["model_ability"] == ["generate", "chat"],
          f"a model without pooling or a tools template: {body}")


def scenario_embeddings(gateway, embed_path, plain_uid):
    """Launches the embedding model 'e' (its file: pooling last, EOS added)."""
    gateway.launch("e", embed_path)
    vector = scenario_zmq(gateway, "e")
    scenario_no_pooling(gateway, plain_uid)
    scenario_describe(gateway, "e", plain_uid)
    many = scenario_http(gateway, "e", vector)
    scenario_small_queue(gateway, embed_path, many)
