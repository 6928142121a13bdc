"""Helpers for the HTTP gateway tests: a local xinf node with its gateway on
a free port, a small generated model launched through the ZeroMQ client,
HTTP calls with http.client and a server-sent events reader."""
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from xinf_testlib import Node, check, fail, tool  # noqa: E402,F401
from xinf_client import XinfClient, XinfError  # noqa: E402

USER_KEY = "sk-user-0123456789abcdef"
ADMIN_KEY = "sk-admin-0123456789abcdef"


def free_port():
    """A TCP port nobody listens on now (the node binds it right after)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_model(build_dir, path, context=4096, seed=1, chat_template=None, dim=64, layers=2, ffn=128, script=None,
               arch="llama", fim=False, pooling=None, add_eos=False, rerank=False, weight_type=None):
    """A tiny llama with a byte-level BPE vocabulary and Llama 3's special
    tokens (BOS added); arch "qwen2": Qwen2's special tokens, BOS
    <|endoftext|> not added (tokenizer.ggml.add_bos_token false);
    'chat_template' names a file under tests/templates/data; 'script': the
    model answers every prompt with this text, then its end token
    (xinf-make-model --script); 'fim' (qwen2): Qwen2.5-Coder's
    fill-in-the-middle tokens too; 'pooling' (mean, last, cls, ...) and
    'add_eos': an embedding model's keys (<arch>.pooling_type,
    tokenizer.ggml.add_eos_token); 'rerank': a Qwen3-Reranker-like file
    (xinf-make-model --rerank); 'weight_type': f32, q8_0, ..."""
    extra = []
    if chat_template:
        extra = ["--chat-template", os.path.join(HERE, "..", "templates", "data", chat_template)]
    if script:
        extra += ["--script", script, "--no-tied"]
    if fim:
        extra += ["--fim"]
    if pooling:
        extra += ["--pooling", pooling]
    if add_eos:
        extra += ["--add-eos"]
    if rerank:
        extra += ["--rerank"]
    if weight_type:
        extra += ["--type", weight_type]
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", arch, "--dim", str(dim), "--layers", str(layers),
                    "--heads", "4", "--kv-heads", "2", "--ffn", str(ffn), "--vocab", "512", "--context", str(context),
                    "--tokenizer", "gpt2", "--seed", str(seed), "-o", path, *extra],
                   check=True, capture_output=True, timeout=120)


#  A worker is lost after 2 s of silence. No HTTP test stops a worker, and
#  600 ms (liveness 3) passed by under ctest -j2 while chromium started
#  beside the ASan nodes: the node's own worker was lost mid-launch.
BEAT_ARGS = ["--heartbeat-ms", "200", "--liveness", "10"]


class Gateway:
    """A --role=local node with its HTTP gateway; 'client' speaks ZeroMQ to it."""

    def __init__(self, build_dir, workdir, *extra, keys=True, tls=None, env=None, preexec_fn=None):
        """tls: (certificate, key) PEM files: the gateway serves HTTPS and
        the calls trust that certificate; env, preexec_fn: as Node's."""
        self.port = free_port()
        self.build_dir = build_dir
        self.workdir = workdir
        args = ["--role=local", "-p", "0", "--bind", "127.0.0.1", "--http-port", str(self.port),
                "--http-host", "127.0.0.1", *BEAT_ARGS, "--model-dir", workdir, *extra]
        self.ssl = None
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
            self.ssl = ssl.create_default_context(cafile=tls[0])
        self.key_file = None
        if keys:
            self.key_file = os.path.join(workdir, "keys")
            with open(self.key_file, "w") as file:
                file.write(f"# test keys\n{USER_KEY} user\n\n{ADMIN_KEY} admin\n")
            args += ["--api-key-file", self.key_file]
        self.node = Node(tool(build_dir, "xinf-node"), *args, env=env, preexec_fn=preexec_fn)
        self.client = XinfClient(self.node.endpoint, timeout_ms=10000)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, _, _ = self.call("GET", "/health")
            if status == 200:
                break
            time.sleep(0.05)
        else:
            fail("the gateway did not answer /health within 20 s")

    def pid(self):
        return self.node.process.pid

    def connection(self, timeout=60):
        if self.ssl:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.ssl)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def call(self, method, path, body=None, key=USER_KEY, headers=None, timeout=60):
        """Returns (status, headers dict (lowercase names), parsed JSON or raw bytes)."""
        connection = self.connection(timeout)
        all_headers = dict(headers or {})
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            all_headers.setdefault("Content-Type", "application/json")
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
        except (ConnectionError, socket.timeout) as error:
            connection.close()
            return 0, {}, str(error).encode()
        data = response.read()
        result_headers = {name.lower(): value for name, value in response.getheaders()}
        connection.close()
        try:
            return response.status, result_headers, json.loads(data)
        except ValueError:
            return response.status, result_headers, data

    def stream(self, path, body, key=USER_KEY, timeout=60):
        """POSTs with stream and returns (status, events: list of parsed data or '[DONE]')."""
        connection = self.connection(timeout)
        connection.request("POST", path, body=json.dumps(body),
                           headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            data = response.read()
            connection.close()
            return response.status, json.loads(data)
        check(response.getheader("Content-Type") == "text/event-stream", "a stream is text/event-stream")
        events = read_events(response)
        connection.close()
        return 200, events

    def launch(self, uid, path, **options):
        deadline = time.monotonic() + 20
        while not any(worker["state"] == "alive" for worker in self.client.cluster_info()["workers"]):
            check(time.monotonic() < deadline, "the local worker registers within 20 s")
            time.sleep(0.05)
        self.client.launch(uid, path, threads=1, **options)
        self.client.wait_ready(uid, stall_s=60)

    def wait_restart_window(self):
        """Polls until an unknown model is 404 (not the 503 of a supervisor
        that just started and may still hear of it from its workers)."""
        deadline = time.monotonic() + 30
        while self.call("POST", "/v1/completions", {"model": "no-such-model", "prompt": "x"})[0] != 404:
            check(time.monotonic() < deadline, "unknown models become 404 after the restart window")
            time.sleep(0.1)

    def stop(self):
        self.client.close()
        return self.node.stop(timeout=20)


def read_events(response):
    """Reads server-sent events until the body ends: each data line parsed."""
    events = []
    buffer = b""
    while True:
        chunk = response.read1(65536) if hasattr(response, "read1") else response.read(1)
        if not chunk:
            break
        buffer += chunk
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            check(event.startswith(b"data: "), f"an SSE event starts with 'data: ': {event[:80]!r}")
            data = event[6:].decode()
            events.append(data if data == "[DONE]" else json.loads(data))
    check(buffer == b"", f"the stream ended inside an event: {buffer[:80]!r}")
    return events


def stream_text(events, chat=False):
    """The text of a stream's chunks, and its finish_reason."""
    text, finish = "", None
    for event in events:
        if event == "[DONE]" or not event.get("choices"):
            continue
        choice = event["choices"][0]
        text += (choice["delta"].get("content") or "") if chat else choice["text"]
        finish = choice["finish_reason"] or finish
    return text, finish


def completion(gateway, body, stream=False):
    """A /v1/completions answer's text and finish_reason (200 checked),
    from the JSON answer or from its stream."""
    if stream:
        status, events = gateway.stream("/v1/completions", dict(body, stream=True))
        check(status == 200, f"a streamed completion of {body}: {status}")
        return stream_text(events)
    status, _, answer = gateway.call("POST", "/v1/completions", body)
    check(status == 200, f"a completion of {body}: {status} {answer}")
    return answer["choices"][0]["text"], answer["choices"][0]["finish_reason"]


def generate_refused(gateway, body, needle):
    """GENERATE of 'body' over ZeroMQ is BAD_REQUEST with 'needle' in its message."""
    try:
        gateway.client.request("GENERATE", body, expect="GENERATE_REPLY")
        check(False, f"GENERATE with {body} is refused")
    except XinfError as error:
        check(error.code == "BAD_REQUEST" and needle in str(error), f"GENERATE {body}: {error}")


def cluster_requests(client):
    return client.cluster_info()["requests"]


def expect_error(result, status, needle="", param=None):
    got_status, headers, body = result
    check(got_status == status, f"wanted {status}, got {got_status}: {body!r}")
    check(isinstance(body, dict) and set(body.get("error", {})) == {"message", "type", "param", "code"},
          f"an error in OpenAI's shape: {body!r}")
    check(needle in body["error"]["message"], f"the message names {needle!r}: {body['error']['message']!r}")
    if param:
        check(body["error"]["param"] == param, f"param {param}: {body['error']!r}")
    return headers, body
