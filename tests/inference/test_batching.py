"""Continuous batching through the cluster: eight streaming clients at once,
arriving one after another, get exactly the greedy tokens each prompt gets
alone, and their streams overlap in time (they were batched, not queued),
on a plain replica and on a tensor-parallel one split over two workers
(its ranks run the same batched steps in lock step). Text prompts get a
BOS only where the model's file asks for one."""
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from test_cluster import poll, run_logged, start_supervisor, start_worker, workers_by_name  # noqa: E402
from xinf_testlib import check, tool  # noqa: E402
from xinf_client import XinfClient  # noqa: E402

PROMPTS = [[(i * 31 + 7 * k + 3) % 1000 + 4 for i in range(length)]
           for k, length in enumerate([3, 17, 40, 1, 95, 16, 33, 150])]
GENERATE = 24


def make_model(build_dir, workdir, name, arguments):
    path = os.path.join(workdir, name)
    subprocess.run([tool(build_dir, "xinf-make-model")] + arguments + ["-o", path], check=True,
                   capture_output=True, timeout=120)
    return path


def run_concurrently(endpoint, uid):
    """Each client starts once the one before has its first token; returns
    (tokens, first token time, last token time) per prompt."""
    results = [None] * len(PROMPTS)
    started = [threading.Event() for _ in PROMPTS]
    errors = []

    def client_main(index):
        if index:
            started[index - 1].wait(60)
        stamps = []

        def on_token(_index, _token, _text):
            stamps.append(time.monotonic())
            started[index].set()
        try:
            with XinfClient(endpoint, timeout_ms=60000) as client:
                reply = client.generate(uid, prompt_tokens=PROMPTS[index], max_tokens=GENERATE, stream=True,
                                        on_token=on_token)
            results[index] = (reply["tokens"], stamps[0], stamps[-1])
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(f"client {index}: {error}")
            started[index].set()

    threads = [threading.Thread(target=client_main, args=(index,)) for index in range(len(PROMPTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    check(not errors, f"concurrent clients failed: {errors}")
    return results


def check_batched(client, endpoint, uid):
    alone = [client.generate(uid, prompt_tokens=prompt, max_tokens=GENERATE)["tokens"] for prompt in PROMPTS]
    together = run_concurrently(endpoint, uid)
    for index, (tokens, _, _) in enumerate(together):
        check(tokens == alone[index], f"prompt {index} ({len(PROMPTS[index])} tokens): batched {tokens}, "
              f"alone {alone[index]}")
    overlaps = sum(1 for a in range(len(together)) for b in range(a + 1, len(together))
                   if together[a][1] < together[b][2] and together[b][1] < together[a][2])
    print(f"{uid}: {len(PROMPTS)} concurrent streams equal their runs alone; {overlaps} pairs of streams overlapped")
    check(overlaps > 0, "no two streams overlapped: the replica served them one after another")


def check_bos(client, build_dir, workdir):
    qwen = make_model(build_dir, workdir, "qwen.gguf", ["--preset", "tiny", "--arch", "qwen2", "--seed", "4"])
    llama = make_model(build_dir, workdir, "llama.gguf", ["--preset", "tiny", "--arch", "llama",
                                                          "--tokenizer", "llama", "--seed", "4"])
    for uid, path, wants_bos in (("q", qwen, False), ("l", llama, True)):
        client.launch(uid, path, threads=1)
        client.wait_ready(uid, stall_s=30)
        reply = client.generate(uid, prompt="Hello world", max_tokens=2)
        first = reply["prompt_tokens"][0]
        print(f"{uid}: text prompt starts with token {first}")
        check((first == 1) == wants_bos, f"{uid}: prompt tokens {reply['prompt_tokens']} (BOS wanted: {wants_bos})")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-batching-") as workdir:
        path = make_model(build_dir, workdir, "b.gguf", ["--arch", "qwen2", "--dim", "128", "--layers", "2",
                                                         "--heads", "4", "--kv-heads", "2", "--ffn", "256",
                                                         "--vocab", "1024", "--context", "1024", "--seed", "8"])
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        workers = [start_worker(node_bin, supervisor.endpoint, name) for name in ("b1", "b2")]
        client = XinfClient(supervisor.endpoint, timeout_ms=10000)
        poll("the workers", 10, lambda: all(workers_by_name(client).get(name, {}).get("state") == "alive"
                                            for name in ("b1", "b2")))
        client.launch("b", path, threads=2, worker="b1")
        client.wait_ready("b", stall_s=30)
        check_batched(client, supervisor.endpoint, "b")
        client.launch("tp", path, threads=1, n_worker=2)
        client.wait_ready("tp", stall_s=30)
        check_batched(client, supervisor.endpoint, "tp")
        check_bos(client, build_dir, workdir)
        client.close()
        check(all(worker.stop() == 0 for worker in workers) and supervisor.stop() == 0, "a node did not exit 0")
    print("PASS: concurrent requests are batched and get the tokens they get alone")


if __name__ == "__main__":
    run_logged(main)
