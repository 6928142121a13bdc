"""A request whose client deadline passes gets ERROR DEADLINE_EXCEEDED, and
the supervisor cancels it on the worker (RUN_CANCEL): the replica stops
computing it at its next step, so the next request is served at once
instead of queueing behind thousands of tokens nobody waits for."""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from test_cluster import poll, run_logged, start_supervisor, start_worker, workers_by_name  # noqa: E402
from xinf_testlib import check, tool  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-cancel-") as workdir:
        path = os.path.join(workdir, "medium.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "256", "--layers", "4",
                        "--heads", "4", "--kv-heads", "2", "--ffn", "1024", "--vocab", "2048", "--context", "4096",
                        "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        worker = start_worker(node_bin, supervisor.endpoint, "c1")
        client = XinfClient(supervisor.endpoint, timeout_ms=5000)
        poll("the worker", 10, lambda: workers_by_name(client).get("c1", {}).get("state") == "alive")
        client.launch("m", path, threads=1)
        client.wait_ready("m", stall_s=30)
        started = time.monotonic()
        client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=64)
        per_token = (time.monotonic() - started) / 64
        long_run = per_token * 4000
        try:
            client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=4000, timeout_ms=10000, deadline_ms=300)
            check(False, "a 4000-token generation finished within its 300 ms deadline")
        except XinfError as error:
            check(error.code == "DEADLINE_EXCEEDED", f"wanted DEADLINE_EXCEEDED, got {error}")
        started = time.monotonic()
        reply = client.generate("m", prompt_tokens=[4, 5, 6], max_tokens=4, timeout_ms=60000)
        waited = time.monotonic() - started
        check(len(reply["tokens"]) == 4, f"next request: {reply}")
        print(f"next request served {waited:.2f} s after the cancelled one "
              f"(finishing it would have taken ~{long_run:.1f} s)")
        if long_run > 3.0:
            check(waited < long_run / 2, f"the next request waited {waited:.2f} s: the cancelled one kept running")
        else:
            print("note: this machine decodes fast enough that the cancellation is not timed here")
        client.close()
        check(worker.stop() == 0 and supervisor.stop() == 0, "a node did not exit 0")
    print("PASS: a request past its deadline is answered and cancelled on the worker")


if __name__ == "__main__":
    run_logged(main)
