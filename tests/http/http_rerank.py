"""Reranking (GENERATE embed with pooling rank; POST /v1/rerank), end to
end through a node's gateway, supervisor, replica and executor (a
scenario of test_http_api.py, which starts the node).

The oracle: a document's score is the softmax of the model's
classification head (cls.output.weight, read here from the file by a
small reader written from the GGUF spec) applied to the last position's
final state of its prompt, which GENERATE embed with pooling last and
normalize false gives; the prompt is the file's rerank template with the
query and the document in it. Also the HTTP shapes (order by score,
top_n, return_documents, usage), the Xinference description and every
refusal."""
import math
import struct

from xinf_httplib import check, expect_error, generate_refused


def read_f32_tensor(path, name):
    """Tensor 'name' (F32) of a GGUF file as rows of floats (ggml order:
    ne[0] floats a row)."""
    data = open(path, "rb").read()
    pos = 4

    def take(fmt):
        nonlocal pos
        value = struct.unpack_from("<" + fmt, data, pos)[0]
        pos += struct.calcsize("<" + fmt)
        return value

    def skip_value(kind):
        nonlocal pos
        sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
        if kind == 8:
            length = take("Q")                 # (pos += take(...) would read pos before take moves it)
            pos += length
        elif kind == 9:
            element, count = take("I"), take("Q")
            for _ in range(count):
                skip_value(element)
        else:
            pos += sizes[kind]
    check(data[:4] == b"GGUF" and take("I") == 3, "a GGUF v3 file")
    tensor_count, kv_count = take("Q"), take("Q")
    alignment = 32
    for _ in range(kv_count):
        key = data[pos + 8:pos + 8 + struct.unpack_from("<Q", data, pos)[0]].decode()
        pos += 8 + len(key.encode())
        kind = take("I")
        if key == "general.alignment":
            alignment = take("I")
        else:
            skip_value(kind)
    found = None
    for _ in range(tensor_count):
        length = take("Q")
        tensor = data[pos:pos + length].decode()
        pos += length
        dims = [take("Q") for _ in range(take("I"))]
        kind, offset = take("I"), take("Q")
        if tensor == name:
            found = (dims, kind, offset)
    check(found is not None and found[1] == 0, f"{name} is an F32 tensor of the file")
    start = (pos + alignment - 1) // alignment * alignment + found[2]
    cols, rows = found[0][0], found[0][1] if len(found[0]) > 1 else 1
    values = struct.unpack_from(f"<{cols * rows}f", data, start)
    return [list(values[row * cols:(row + 1) * cols]) for row in range(rows)]


def last_state(gateway, uid, ids):
    reply, _ = gateway.client.request("GENERATE", {"uid": uid, "prompt_tokens": ids, "max_tokens": 0, "embed": True,
                                                   "pooling": "last", "normalize": False}, expect="GENERATE_REPLY")
    return reply["embedding"]


def prompt_ids(gateway, uid, prompt):
    """The prompt's tokens as any generation takes them (no EOS added)."""
    reply, _ = gateway.client.request("GENERATE", {"uid": uid, "prompt": prompt, "max_tokens": 0, "special": True,
                                                   "add_bos": False}, expect="GENERATE_REPLY")
    return reply["prompt_tokens"]


def scenario_rerank(gateway, path, plain_uid):
    """Launches the reranker 'r' (xinf-make-model --rerank --add-eos, F32:
    its prompts get no EOS, which a template ends, as llama.cpp has it)."""
    gateway.launch("r", path)
    status, _, described = gateway.call("GET", "/v1/models/r")
    check(status == 200 and described["model_type"] == "rerank", f"Xinference's description: {described}")
    model = next(item for item in gateway.client.list_models() if item["uid"] == "r")
    template = model.get("rerank_template", "")
    check(model.get("pooling") == "rank" and "{query}" in template and "{document}" in template,
          f"LIST_MODELS: pooling rank, the rerank template: {model.get('pooling')} {template[:80]!r}")
    head = read_f32_tensor(path, "cls.output.weight")
    query = "What is the capital of China?"
    documents = ["The capital of China is Beijing.", "Gravity pulls things down.", "Paris is in France.",
                 "Beijing is a large city in the north of China.", "x"]

    # Each document's score: the head's softmax on its prompt's last state
    expected, tokens = [], 0
    for document in documents:
        prompt = template.replace("{query}", query).replace("{document}", document)
        ids = prompt_ids(gateway, "r", prompt)
        state = last_state(gateway, "r", ids)
        tokens += len(ids)
        logits = [sum(w * h for w, h in zip(row, state)) for row in head]
        top = max(logits)
        weights = [math.exp(value - top) for value in logits]
        expected.append(weights[0] / sum(weights))
        reply, _ = gateway.client.request("GENERATE", {"uid": "r", "prompt": prompt, "max_tokens": 0, "embed": True,
                                                       "pooling": "rank", "special": True, "add_bos": False},
                                          expect="GENERATE_REPLY")
        check(reply["prompt_tokens"] == ids, "a rank prompt's tokens: the template's, no EOS added")
        check(len(reply["embedding"]) == 2 and abs(reply["embedding"][0] - expected[-1]) < 1e-6
              and abs(sum(reply["embedding"]) - 1) < 1e-6,
              f"GENERATE embed pooling rank: softmax of the head: {reply['embedding']} vs {expected[-1]}")

    status, _, body = gateway.call("POST", "/v1/rerank", {"model": "r", "query": query, "documents": documents})
    check(status == 200 and body["model"] == "r" and body["id"].startswith("rerank-"), f"/v1/rerank: {status} {body}")
    results = body["results"]
    order = sorted(range(len(documents)), key=lambda index: (-expected[index], index))
    check([item["index"] for item in results] == order and all("document" not in item for item in results),
          f"every document, by score: {results} vs {order}")
    check(all(abs(item["relevance_score"] - expected[item["index"]]) < 1e-6 for item in results),
          f"the scores: {results} vs {expected}")
    check(body["usage"]["prompt_tokens"] == tokens and body["meta"]["tokens"]["input_tokens"] == tokens,
          f"usage: every prompt's tokens: {body['usage']} vs {tokens}")
    ranked = gateway.client.rerank("r", query, documents, timeout_ms=60000)
    check([index for index, _ in ranked] == order
          and all(abs(score - expected[index]) < 1e-6 for index, score in ranked),
          f"xinf_client.rerank over ZeroMQ: the same: {ranked}")
    status, _, body = gateway.call("POST", "/rerank", {"model": "r", "query": query, "top_n": 2,
                                                      "documents": [{"text": text} for text in documents],
                                                      "return_documents": True})
    check(status == 200 and [item["index"] for item in body["results"]] == order[:2]
          and [item["document"]["text"] for item in body["results"]] == [documents[index] for index in order[:2]],
          f"top_n 2, documents as objects, returned: {body}")
    status, _, body = gateway.call("POST", "/v2/rerank", {"model": "r", "query": query, "documents": documents * 20})
    check(status == 200 and len(body["results"]) == 100
          and sorted(item["index"] for item in body["results"]) == list(range(100)), "100 documents at once")

    # Refusals
    for request, needle, param in (
            ({"model": "r", "documents": documents}, "query", "query"),
            ({"model": "r", "query": "", "documents": documents}, "query", "query"),
            ({"model": "r", "query": query}, "documents", "documents"),
            ({"model": "r", "query": query, "documents": []}, "documents", "documents"),
            ({"model": "r", "query": query, "documents": ["a", 3]}, "string", "documents[1]"),
            ({"model": "r", "query": query, "documents": ["a"] * 2049}, "2048", "documents"),
            ({"model": "r", "query": query, "documents": ["a"], "top_n": 0}, "top_n", "top_n"),
            ({"model": "r", "query": query, "documents": ["a"], "return_documents": "yes"}, "true", "return_documents"),
            ({"query": query, "documents": ["a"]}, "model", "model")):
        expect_error(gateway.call("POST", "/v1/rerank", request), 400, needle, param)
    expect_error(gateway.call("POST", "/v1/rerank", {"model": "no-such-model", "query": "q", "documents": ["a"]}), 404)
    expect_error(gateway.call("POST", "/v1/rerank", {"model": plain_uid, "query": "q", "documents": ["a"]}), 400,
                 "cannot rerank")
    generate_refused(gateway, {"uid": plain_uid, "prompt": "x", "max_tokens": 0, "embed": True, "pooling": "rank"},
                     "cannot rerank")
    # A reranker's file pooling is not an embedding's: asked none, refused
    generate_refused(gateway, {"uid": "r", "prompt": "x", "max_tokens": 0, "embed": True}, "pooling rank")
    expect_error(gateway.call("POST", "/v1/embeddings", {"model": "r", "input": "hello"}), 400, "pooling rank")
    print("rerank: GENERATE pooling rank is the head's softmax on the last state; /v1/rerank by score, top_n, "
          "documents returned, 100 at once, refusals")
