"""Multi-process test: a worker embedded in another program.

examples/embed_worker runs its own zloop and starts a worker through
include/xinf/xinf.h and libxinf.so alone. Against a real supervisor
(xinf-node): the embedded worker registers, serves a generated model
(LAUNCH on it, GENERATE through the supervisor), and on SIGTERM leaves its
loop, says BYE and exits 0. Bad options are refused with a reason by the
library, before anything starts."""
import os
import subprocess
import sys

from test_cluster import Proc, dump_logs, poll, start_supervisor, workers_by_name
from xinf_testlib import check, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import XinfClient  # noqa: E402


def make_model(build_dir, path):
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "64", "--layers", "2",
                    "--heads", "2", "--kv-heads", "1", "--ffn", "128", "--vocab", "2048", "--context", "512",
                    "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)


def refused_options(example):
    """The library checks the options and says why, with exit status 1."""
    cases = [(["-e", "udp://x:1", "-n", "w"], "must be tcp://HOST:PORT"),
             (["-e", "tcp://127.0.0.1:9", "-n", "x" * 65], "node_name must have 1 to 64 bytes"),
             (["-e", "tcp://127.0.0.1:9", "-n", "w", "-H", "not-an-ip"], "host_ip 'not-an-ip' is not an IPv4"),
             (["-e", "tcp://127.0.0.1:9", "-n", "w", "-d", "/nonexistent/models"], "/nonexistent/models"),
             (["-e", "tcp://127.0.0.1:9", "-n", "w", "-p", "900-800"], "data ports 900-800")]
    for args, needle in cases:
        result = subprocess.run([example, *args], capture_output=True, text=True, timeout=30)
        check(result.returncode == 1 and needle in result.stderr,
              f"embed_worker {args}: rc {result.returncode}, stderr {result.stderr!r} (wanted {needle!r})")
    result = subprocess.run([example], capture_output=True, text=True, timeout=30)
    check(result.returncode == 2 and "usage" in result.stderr, f"embed_worker without options: {result}")


def main():
    build_dir = sys.argv[1]
    example = os.path.join(build_dir, "examples", "embed_worker")
    refused_options(example)
    supervisor = start_supervisor(tool(build_dir, "xinf-node"))
    models = os.path.join(os.path.dirname(supervisor.stdout_path), "models")
    os.makedirs(models)
    path = os.path.join(models, "tiny.gguf")
    make_model(build_dir, path)
    worker = Proc("embedded", [example, "-e", supervisor.endpoint, "-n", "embedded", "-d", models,
                               "-H", "127.0.0.1", "-p", "29700-29799"])
    try:
        worker.wait_output(r"embed_worker: xinf \S+ worker embedded started")
        client = XinfClient(supervisor.endpoint, timeout_ms=5000)
        found = poll("the embedded worker registered", 20,
                     lambda: workers_by_name(client).get("embedded", {}).get("state") == "alive"
                     and workers_by_name(client)["embedded"])
        check(found["host_ip"] == "127.0.0.1", f"the embedded worker's address: {found}")
        client.launch("tiny", path, worker="embedded", threads=1)
        client.wait_ready("tiny", stall_s=60)
        reply = client.generate("tiny", prompt_tokens=[1, 2, 3], max_tokens=6, timeout_ms=60000)
        check(len(reply["tokens"]) == 6 and reply["finish_reason"] == "length", f"GENERATE on the embedded worker: {reply}")
        models_now = client.list_models()
        check(any(model["uid"] == "tiny" and model["state"] == "ready" for model in models_now), f"models: {models_now}")
        rc = worker.stop(timeout=20)
        check(rc == 0 and "embed_worker: stopped" in worker.log(), f"embed_worker exited {rc}: {worker.log()[-500:]}")
        poll("the embedded worker gone from the alive ones", 20,
             lambda: workers_by_name(client).get("embedded", {}).get("state") != "alive")
        client.close()
        check(supervisor.stop() == 0, "the supervisor did not exit 0")
    except SystemExit:
        dump_logs()
        raise
    print(f"PASS: an embedded worker registered, served {len(reply['tokens'])} tokens and left on SIGTERM")


if __name__ == "__main__":
    main()
