"""The official openai npm client (pinned 4.104.0, which runs on Node 20;
maxRetries 0) against a local node's gateway: completions and chat, with
and without stream, models, embeddings (asked in base64 and decoded by the
client), and a 404 it raises as NotFoundError. Skipped
(exit 77, with the reason) when node/npm are missing or the registry
cannot be reached to install it."""
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xinf_httplib import USER_KEY, Gateway, check, make_model  # noqa: E402
from test_cluster import run_logged  # noqa: E402


def main():
    build_dir = sys.argv[1]
    install = subprocess.run(["sh", os.path.join(HERE, "install_openai.sh")], capture_output=True, text=True,
                             timeout=240)
    if install.returncode == 77:
        print(install.stdout.strip())
        sys.exit(77)
    check(install.returncode == 0, f"install_openai.sh failed: {install.stdout} {install.stderr}")
    with tempfile.TemporaryDirectory(prefix="xinf-openai-") as workdir:
        path = os.path.join(workdir, "m.gguf")
        make_model(build_dir, path)
        gateway = Gateway(build_dir, workdir)
        gateway.launch("m", path)
        gateway.wait_restart_window()
        run = subprocess.run(["node", os.path.join(HERE, "openai_client.mjs"), f"http://127.0.0.1:{gateway.port}/v1",
                              USER_KEY, "m"], capture_output=True, text=True, timeout=120)
        check(run.returncode == 0, f"the openai client failed: {run.stderr[-2000:]}")
        result = json.loads(run.stdout.strip().splitlines()[-1])
        reference = gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "The quick brown fox",
                                                             "max_tokens": 12, "temperature": 0})[2]
        text = reference["choices"][0]["text"]
        check(result["completion"]["text"] == text and result["completion"]["finish"] == reference["choices"][0]["finish_reason"],
              f"completion: {result['completion']} vs {reference}")
        check(result["completion"]["usage"] == reference["usage"], f"usage: {result['completion']} vs {reference}")
        check(result["completion_stream"]["text"] == text, f"stream: {result['completion_stream']}")
        check(result["completion_stream"]["usage"] == reference["usage"], "stream usage")
        check("chat_error" not in result, f"chat: {result.get('chat_error')}")
        check(result["chat"]["role"] == "assistant" and result["chat"]["text"] == result["chat_stream"]["text"],
              f"chat: {result['chat']} vs {result['chat_stream']}")
        alone = [gateway.call("POST", "/v1/completions", {"model": "m", "prompt": "The quick brown fox", "max_tokens": 8,
                                                          "temperature": 1.2, "seed": 11 + index})[2]["choices"][0]["text"]
                 for index in range(3)]
        check(result["choices"] == [{"index": index, "text": alone[index]} for index in range(3)],
              f"n = 3: choice i is seed 11 + i alone: {result['choices']} vs {alone}")
        check(result["chat_choices_stream"] == [result["chat"]["text"]] * 3,
              f"chat n = 3 streamed: {result['chat_choices_stream']} vs {result['chat']}")
        check(result["not_found"] and result["not_found"]["status"] == 404
              and result["not_found"]["name"] == "NotFoundError", f"404: {result['not_found']}")
        check(result["models"] == ["m"] and result["model"] == "m", f"models: {result}")
        floats = gateway.call("POST", "/v1/embeddings", {"model": "m", "input": ["The quick brown fox", "Hello"],
                                                         "pooling": "mean", "encoding_format": "float"})[2]
        as_f32 = lambda values: [struct.unpack("<f", struct.pack("<f", value))[0] for value in values]  # noqa: E731
        check(result["embeddings"]["indexes"] == [0, 1] and result["embeddings"]["usage"] == floats["usage"]
              and [as_f32(vector) for vector in result["embeddings"]["vectors"]]
              == [as_f32(item["embedding"]) for item in floats["data"]],
              f"embeddings (base64, decoded by the client): {str(result['embeddings'])[:300]}")
        check(gateway.stop() == 0, "the node exits 0")
    print(f"PASS: the openai npm client: {json.dumps(result)[:300]}")


if __name__ == "__main__":
    run_logged(main)
