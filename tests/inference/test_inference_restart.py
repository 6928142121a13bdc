"""The supervisor is killed (-9) and restarted on the same port while a
worker serves a model: the worker registers again, reports the replica it
runs with its model info, the new supervisor adopts it, and generation
works again without a redeploy."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from test_cluster import INTERVAL_MS, LIVENESS, poll, run_logged, start_supervisor, start_worker, workers_by_name  # noqa: E402
from xinf_testlib import check, tool  # noqa: E402
from xinf_client import XinfClient  # noqa: E402


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-restart-") as workdir:
        path = os.path.join(workdir, "tiny.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "qwen2", "--std", "0.3", "-o", path],
                       check=True, capture_output=True, timeout=60)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        port = supervisor.endpoint.rsplit(":", 1)[1]
        worker = start_worker(node_bin, supervisor.endpoint, "r1")
        client = XinfClient(supervisor.endpoint, timeout_ms=3000)
        poll("the worker", 10, lambda: workers_by_name(client).get("r1", {}).get("state") == "alive")
        client.launch("tiny", path)
        client.wait_ready("tiny", stall_s=20)
        before = client.generate("tiny", prompt_tokens=[1, 2, 3], max_tokens=12)["tokens"]
        supervisor.kill()
        client.close()
        supervisor = start_supervisor(node_bin, port=int(port))
        client = XinfClient(supervisor.endpoint, timeout_ms=3000)
        bound = 2 * LIVENESS * INTERVAL_MS / 1000 + 1
        poll("re-registration", bound, lambda: workers_by_name(client).get("r1", {}).get("state") == "alive")
        models = poll("the adopted model", bound, lambda: [m for m in client.list_models() if m["state"] == "ready"])
        check(models[0]["uid"] == "tiny" and models[0].get("arch") == "qwen2", f"adopted: {models}")
        after = client.generate("tiny", prompt_tokens=[1, 2, 3], max_tokens=12)["tokens"]
        check(after == before, f"greedy tokens changed across the restart: {before} vs {after}")
        client.close()
        check(worker.stop() == 0 and supervisor.stop() == 0, "a node did not exit 0")
    print("PASS: after a supervisor restart the worker's model was adopted and serves the same tokens")


if __name__ == "__main__":
    run_logged(main)
