"""A worker dies while it streams a generation: the client gets ERROR
WORKER_LOST naming the node within the liveness window (no request hangs),
the model's other replica, on another worker, keeps serving, and the lost
replica is relaunched on the surviving worker with the reason."""
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from test_cluster import INTERVAL_MS, LIVENESS, poll, run_logged, start_supervisor, start_worker, workers_by_name  # noqa: E402
from xinf_testlib import check, tool  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-faults-") as workdir:
        path = os.path.join(workdir, "medium.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "256", "--layers", "4",
                        "--heads", "4", "--kv-heads", "2", "--ffn", "1024", "--vocab", "2048", "--context", "4096",
                        "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        workers = {name: start_worker(node_bin, supervisor.endpoint, name) for name in ("f1", "f2")}
        client = XinfClient(supervisor.endpoint, timeout_ms=5000)
        poll("2 alive workers", 10, lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive"
                                                for n in workers))
        client.launch("m", path, replicas=2, threads=1)
        client.wait_ready("m", stall_s=30)
        placed = {r["replica"]: r["worker"] for r in client.list_models()[0]["replicas"]}
        check(sorted(placed.values()) == ["f1", "f2"], f"replicas placed on {placed}")
        victim = placed[0]           # the first request goes to replica 0
        killed_at = []

        def on_token(index, token, text):
            if not killed_at:
                workers[victim].process.send_signal(signal.SIGKILL)
                killed_at.append(time.monotonic())

        bound = LIVENESS * INTERVAL_MS / 1000 + INTERVAL_MS / 1000
        try:
            client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=3500, stream=True, on_token=on_token,
                            timeout_ms=10000)
            check(False, "the generation finished although its worker was killed")
        except XinfError as error:
            took = time.monotonic() - killed_at[0]
            check(error.code == "WORKER_LOST" and victim in str(error), f"wanted WORKER_LOST naming {victim}: {error}")
            check(took <= bound + 1.0, f"the error came {took:.2f} s after the kill (bound {bound:.2f} s + 1 s)")
            print(f"killed {victim} mid-stream: {error.code} after {took:.2f} s (bound {bound:.2f} s): {error}")
        reply = client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=16)
        survivor = "f2" if victim == "f1" else "f1"
        check(reply["worker"] == survivor and len(reply["tokens"]) >= 1, f"after the loss: {reply}")
        # The lost replica is relaunched on the survivor (xinf_heal.h), saying why
        moved = client.list_models()[0]["replicas"][0]
        check(moved["worker"] == survivor and "lost" in moved["note"] and victim in moved["note"],
              f"replica 0 after {victim} was lost: {moved}")
        client.close()
        check(workers[survivor].stop() == 0, "the surviving worker did not exit 0")
        check(supervisor.stop() == 0, "supervisor did not exit 0")
    print("PASS: a worker lost mid-stream ends the request with WORKER_LOST in time; the other replica serves")


if __name__ == "__main__":
    run_logged(main)
