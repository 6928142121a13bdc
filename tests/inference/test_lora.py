"""LoRA adapters on a real node (LAUNCH lora_modules, GENERATE lora):

  a. a model launched with two adapters (xinf-make-lora: F16 on every
     weight, F32 on three) lists them (LIST_MODELS, GET /v1/models as
     models of their own with the model as parent);
  b. greedy tokens with each adapter, and without, equal the numpy
     reference's with the adapter merged into the weights (W + scale B A),
     up to a near tie; the three answers differ;
  c. six requests at once (two of each) in the same steps give the same
     tokens as alone, also after the prefix cache holds their prompt;
  d. over HTTP an adapter's name is a model (/v1/completions, /v1/chat/
     completions), the same tokens as GENERATE lora; xinf-cli generate
     --lora and launch --lora; the HTTP admin launch in vLLM's object form;
  e. a tensor-parallel replica (n_worker 2 on two workers) serves the
     adapters too, each rank its part: its tokens equal the reference's;
  f. refusals: an adapter the model lacks (GENERATE and HTTP name it),
     NAME=PATH malformed or twice, a name another model holds, device gpu,
     a file outside the model directories, an adapter of another model
     (the replica fails naming the tensor)."""
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from test_cluster import BEAT_ARGS, Proc, poll, run_logged, start_worker, workers_by_name  # noqa: E402
from xinf_testlib import check, free_port, tool  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402
from reference_forward import Model  # noqa: E402
from test_inference_reference import PROMPT, STEPS, compare_tokens  # noqa: E402

LIMIT = 1e-3                          # the F16 KV cache's near ties
ADAPTERS = {"sql": ["--rank", "8", "--type", "f16", "--std", "0.2", "--seed", "11"],
            "chat": ["--rank", "4", "--type", "f32", "--alpha", "0", "--std", "0.2", "--seed", "12",
                     "--targets", "attn_q,attn_v,ffn_down"]}


def make_files(build_dir, workdir):
    path = os.path.join(workdir, "m.gguf")
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "qwen2", "--type", "f32", "--dim", "128",
                    "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "192", "--vocab", "512",
                    "--context", "1024", "--tokenizer", "gpt2", "--seed", "5", "--std", "0.3", "-o", path],
                   check=True, capture_output=True, timeout=120)
    adapters = {}
    for name, options in ADAPTERS.items():
        adapters[name] = os.path.join(workdir, name + ".gguf")
        subprocess.run([tool(build_dir, "xinf-make-lora"), path, "-o", adapters[name], *options],
                       check=True, capture_output=True, timeout=120)
    return path, adapters


def http(port, method, route, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{route}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def check_listed(client, port):
    entry = next(model for model in client.list_models() if model["uid"] == "m")
    check(entry.get("lora_modules") == ["sql", "chat"], f"LIST_MODELS lora_modules: {entry}")
    status, listing = http(port, "GET", "/v1/models")
    ids = {item["id"]: item for item in listing["data"]}
    check(status == 200 and "m" in ids and ids.get("sql", {}).get("parent") == "m"
          and ids.get("chat", {}).get("parent") == "m", f"GET /v1/models: {listing}")
    status, one = http(port, "GET", "/v1/models/sql")
    check(status == 200 and one["id"] == "sql" and one["parent"] == "m", f"GET /v1/models/sql: {one}")
    print("  listed: LIST_MODELS lora_modules, GET /v1/models with sql and chat as models of parent m")


def check_reference(client, path, adapters):
    answers = {}
    for name in (None, "sql", "chat"):
        reference = Model(path, kv_dtype="f16", lora=adapters[name] if name else None).greedy(PROMPT, STEPS)
        reply = client.generate("m", prompt_tokens=PROMPT, max_tokens=STEPS, temperature=0.0, lora=name)
        compare_tokens(f"m+{name}", reply, reference, LIMIT)
        answers[name] = reply["tokens"]
    check(len({tuple(tokens) for tokens in answers.values()}) == 3, f"the adapters change the answer: {answers}")
    print("  greedy tokens with sql, chat and none equal the reference's with the adapter merged")
    return answers


def check_together(endpoint):
    prompt = [(i * 29 + 3) % 500 + 5 for i in range(70)]       # whole blocks for the prefix cache
    alone, together = {}, {}
    with XinfClient(endpoint, timeout_ms=60000) as client:
        for name in (None, "sql", "chat"):
            alone[name] = client.generate("m", prompt_tokens=prompt, max_tokens=24, temperature=0.0,
                                          lora=name)["tokens"]

    def run(key, name):
        with XinfClient(endpoint, timeout_ms=60000) as own:
            together[key] = own.generate("m", prompt_tokens=prompt, max_tokens=24, temperature=0.0, lora=name,
                                         stream=True)["tokens"]
    threads = [threading.Thread(target=run, args=((name, k), name)) for name in (None, "sql", "chat") for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for (name, k), tokens in together.items():
        check(tokens == alone[name], f"lora {name} #{k} in a batch of six: {tokens} != {alone[name]}")
    check(len(together) == 6 and len({tuple(t) for t in alone.values()}) == 3, f"six answers: {together}")
    print("  six requests at once (two per adapter and none) equal their answers alone, after the prefix cache")


def check_http(build_dir, port, endpoint, answers):
    status, body = http(port, "POST", "/v1/completions", {"model": "sql", "prompt": PROMPT, "max_tokens": STEPS,
                                                           "temperature": 0})
    check(status == 200 and body["model"] == "sql", f"/v1/completions with model sql: {status} {body}")
    with XinfClient(endpoint, timeout_ms=60000) as client:
        text = client.generate("m", prompt_tokens=PROMPT, max_tokens=STEPS, temperature=0.0, lora="sql")["text"]
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")     # as JSON carries it
    check(body["choices"][0]["text"] == text, f"model sql over HTTP answers as GENERATE lora sql: {body} {text!r}")
    status, chat = http(port, "POST", "/v1/chat/completions", {"model": "chat", "max_tokens": 8,
                                                                "messages": [{"role": "user", "content": "hi"}]})
    check(status == 200 and chat["model"] == "chat", f"/v1/chat/completions with model chat: {status} {chat}")
    # (503 model_not_ready while a just-started supervisor waits for workers' models, then 404)
    poll("404 for a name no model or adapter has", 10,
         lambda: http(port, "POST", "/v1/completions", {"model": "nope", "prompt": "x", "max_tokens": 2})[0] == 404)
    cli = subprocess.run([tool(build_dir, "xinf-cli"), "-e", endpoint, "generate", "m", "--prompt-tokens",
                          ",".join(map(str, PROMPT)), "--max-tokens", str(STEPS), "--lora", "chat", "--json"],
                         capture_output=True, text=True, timeout=60)
    check(cli.returncode == 0 and json.loads(cli.stdout)["tokens"] == answers["chat"],
          f"xinf-cli generate --lora chat: {cli.stdout} {cli.stderr}")
    # llama-server's: GET /lora-adapters, /completion's lora [{"id", "scale"}]
    status, listed = http(port, "GET", "/lora-adapters?model=m")
    check(status == 200 and [(a["id"], a["name"], a["scale"]) for a in listed] == [(0, "sql", 0.0), (1, "chat", 0.0)],
          f"GET /lora-adapters: {status} {listed}")
    request = {"model": "m", "prompt": PROMPT, "n_predict": STEPS, "temperature": 0, "return_tokens": True,
               "lora": [{"id": 0, "scale": 0.0}, {"id": 1, "scale": 1.0}]}
    status, body = http(port, "POST", "/completion", request)
    check(status == 200 and body["tokens"] == answers["chat"], f"/completion with lora id 1: {status} {body}")
    # llama-server's rules: a missing scale is 0, the last entry of an id wins
    status, body = http(port, "POST", "/completion", {**request, "lora": [{"id": 1, "scale": 1}, {"id": 1}]})
    check(status == 200 and body["tokens"] == answers[None], f"/completion with lora id 1 then unscaled: {body}")
    status, body = http(port, "POST", "/completion", {**request, "lora": [{"id": 0, "scale": 1}, {"id": 0, "scale": 1}]})
    check(status == 200 and body["tokens"] == answers["sql"], f"/completion with lora id 0 twice: {body}")
    for lora, needle in (([{"id": 0, "scale": 0.5}], "scales other than 0 and 1"), ([{"id": 5, "scale": 1}], "has 2"),
                         ([{"id": 0, "scale": 1}, {"id": 1, "scale": 1}], "one adapter a request"),
                         ("sql", "must be an array")):
        status, error = http(port, "POST", "/completion", {**request, "lora": lora})
        check(status == 400 and needle in error["error"]["message"], f"/completion lora {lora}: {status} {error}")
    status, error = http(port, "POST", "/lora-adapters", [{"id": 0, "scale": 1}])
    check(status == 400 and "global adapter scales" in error["error"]["message"], f"POST /lora-adapters: {error}")
    print("  HTTP: an adapter's name is a model (completions, chat), 404 for none; llama-server's /lora-adapters and "
          "/completion lora; xinf-cli generate --lora")


def check_tensor_parallel(client, path, adapters):
    client.launch("tp", path, threads=1, n_worker=2, lora_modules={"tsql": adapters["sql"], "tchat": adapters["chat"]})
    client.wait_ready("tp", stall_s=60)
    for name, adapter in ((None, None), ("tsql", adapters["sql"]), ("tchat", adapters["chat"])):
        reference = Model(path, kv_dtype="f16", lora=adapter).greedy(PROMPT, STEPS)
        reply = client.generate("tp", prompt_tokens=PROMPT, max_tokens=STEPS, temperature=0.0, lora=name)
        compare_tokens(f"tp+{name}", reply, reference, LIMIT)
    print("  a replica over two ranks: its tokens with each adapter and none equal the reference's")


def check_refusals(build_dir, client, endpoint, port, workdir, path, adapters):
    try:
        client.generate("m", prompt_tokens=PROMPT, max_tokens=2, lora="nope")
        check(False, "an adapter the model lacks was taken")
    except XinfError as error:
        check("no LoRA adapter 'nope'" in str(error), f"GENERATE lora nope: {error}")
    bad = [(["sql"], "NAME=PATH"), ([f"a={path}", f"a={path}"], "given twice"),
           ([f"m={adapters['sql']}"], "taken by"), ([f"sql={adapters['sql']}"], "taken by")]
    for specs, needle in bad:
        try:
            client.launch("m2", path, lora_modules=specs)
            check(False, f"lora_modules {specs} was taken")
        except XinfError as error:
            check(needle in str(error), f"lora_modules {specs}: {error}")
    try:
        client.launch("m3", path, lora_modules={"y": adapters["sql"]}, device="gpu")
        check(False, "LoRA on a GPU was taken")
    except XinfError as error:
        check("lora_modules" in str(error), f"device gpu: {error}")
    client.launch("outside", path, threads=1, lora_modules={"x": "/etc/passwd"})
    try:
        client.wait_ready("outside", stall_s=30)
        check(False, "an adapter outside the model directories loaded")
    except XinfError as error:
        check("LoRA adapter 'x'" in str(error) and "model directories" in str(error), f"/etc/passwd: {error}")
    other = os.path.join(workdir, "other.gguf")
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "qwen2", "--dim", "64", "--layers", "2",
                    "--heads", "4", "--kv-heads", "2", "--ffn", "96", "-o", other], check=True, capture_output=True)
    wrong = os.path.join(workdir, "wrong.gguf")
    subprocess.run([tool(build_dir, "xinf-make-lora"), other, "-o", wrong], check=True, capture_output=True)
    client.launch("mismatch", path, threads=1, lora_modules={"w": wrong})
    try:
        client.wait_ready("mismatch", stall_s=30)
        check(False, "another model's adapter loaded")
    except XinfError as error:
        check("an adapter of another model?" in str(error) and "wrong.gguf" in str(error), f"wrong adapter: {error}")
    # vLLM's object form over the admin launch, then xinf-cli launch --lora
    status, body = http(port, "POST", "/v1/models", {"uid": "m4", "path": path, "threads": 1,
                                                      "lora_modules": [{"name": "v", "path": adapters["chat"]}]})
    check(status == 201, f"HTTP launch with vLLM's lora_modules objects: {status} {body}")
    cli = subprocess.run([tool(build_dir, "xinf-cli"), "-e", endpoint, "launch", "m5", path, "--threads", "1",
                          "--lora", f"c5={adapters['chat']}"], capture_output=True, text=True, timeout=120)
    check(cli.returncode == 0, f"xinf-cli launch --lora: {cli.stdout} {cli.stderr}")
    client.wait_ready("m4", stall_s=30)
    a = client.generate("m4", prompt_tokens=PROMPT, max_tokens=16, lora="v")["tokens"]
    b = client.generate("c5", prompt_tokens=PROMPT, max_tokens=16)["tokens"]
    c = client.generate("m", prompt_tokens=PROMPT, max_tokens=16, lora="chat")["tokens"]
    check(a == b == c, f"one adapter under three names and launches: {a} {b} {c}")
    print("  refused: an unknown adapter, NAME=PATH malformed or twice, taken names, a GPU, /etc/passwd, "
          "another model's adapter; launched by HTTP objects and xinf-cli --lora")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-lora-") as workdir:
        path, adapters = make_files(build_dir, workdir)
        node_bin = tool(build_dir, "xinf-node")
        port = free_port()
        supervisor = Proc("supervisor", [node_bin, "-p", "0", "--bind", "127.0.0.1", "--node-name", "sup",
                                         "--http-port", str(port), "--log-level", "info", *BEAT_ARGS])
        match = supervisor.wait_output(r"listening on tcp://[^\s:]+:(\d+)")
        endpoint = f"tcp://127.0.0.1:{match.group(1)}"
        worker = start_worker(node_bin, endpoint, "l1", model_dirs=(workdir,), data_ports="29700-29749")
        other = start_worker(node_bin, endpoint, "l2", model_dirs=(workdir,), data_ports="29750-29799")
        client = XinfClient(endpoint, timeout_ms=30000)
        poll("the workers", 10, lambda: all(workers_by_name(client).get(name, {}).get("state") == "alive"
                                             for name in ("l1", "l2")))
        client.launch("m", path, worker="l1", threads=1, lora_modules={"sql": adapters["sql"], "chat": adapters["chat"]})
        client.wait_ready("m", stall_s=30)
        check_listed(client, port)
        answers = check_reference(client, path, adapters)
        check_together(endpoint)
        check_http(build_dir, port, endpoint, answers)
        check_tensor_parallel(client, path, adapters)
        check_refusals(build_dir, client, endpoint, port, workdir, path, adapters)
        client.close()
        check(worker.stop() == 0 and other.stop() == 0 and supervisor.stop() == 0, "a node did not exit 0")
    print("PASS: LoRA adapters serve as launched, alone and batched, over ZeroMQ and HTTP")


if __name__ == "__main__":
    run_logged(main)
