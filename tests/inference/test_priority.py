"""Request priorities (GENERATE priority, vLLM's: a lower value first), on
real nodes: a replica launched with one place (max_seqs 1).

  a. A long answer (priority 0) is streaming. A request of priority 5
     queues behind it; one of priority -1, sent after it, goes to the
     replica at once, which preempts the long answer for it: it ends
     first, then the long answer (recomputed where it stopped), then the
     priority 5 one. The long answer's tokens equal those of the same
     request run alone.
  b. A priority outside -1000000..1000000 is refused naming the field.
"""
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
from xinf_client import XinfClient, XinfError  # noqa: E402

LONG = [(i * 37 + 11) % 900 + 5 for i in range(24)]


def make_model(build_dir, path):
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "256", "--layers", "4",
                    "--heads", "4", "--kv-heads", "2", "--ffn", "512", "--vocab", "1024", "--context", "2048",
                    "--tokenizer", "gpt2", "--seed", "21", "-o", path], check=True, capture_output=True, timeout=120)


def check_order(endpoint, client):
    done, lock = [], threading.Lock()
    started = threading.Event()
    replies = {}

    def ask(name, priority, max_tokens, prompt, stream=False):
        own = XinfClient(endpoint, timeout_ms=60000)
        reply = own.generate("p", prompt_tokens=prompt, max_tokens=max_tokens, ignore_eos=True, priority=priority,
                             stream=stream, on_token=(lambda *_: started.set()) if stream else None)
        own.close()
        with lock:
            done.append(name)
            replies[name] = reply

    threads = [threading.Thread(target=ask, args=("long", 0, 1500, LONG, True))]
    threads[0].start()
    check(started.wait(30), "the long answer's first token within 30 s")
    threads.append(threading.Thread(target=ask, args=("low", 5, 8, [7, 8, 9])))
    threads[1].start()
    poll("the low request queued", 10, lambda: client.cluster_info()["requests"]["queued"] >= 1)
    threads.append(threading.Thread(target=ask, args=("high", -1, 8, [4, 5, 6])))
    threads[2].start()
    for thread in threads:
        thread.join(120)
    check(done == ["high", "long", "low"], f"the order they ended in: {done}")
    alone = client.generate("p", prompt_tokens=LONG, max_tokens=1500, ignore_eos=True)
    check(replies["long"]["tokens"] == alone["tokens"], "the preempted answer's tokens are those of it alone")
    print(f"  ended: {', '.join(done)}; the long answer, preempted and recomputed, equals its run alone")


def check_refused(client):
    for priority in (1000001, -1000001):
        try:
            client.generate("p", prompt_tokens=[1, 2], max_tokens=2, priority=priority)
            check(False, f"priority {priority} was taken")
        except XinfError as error:
            check("priority" in str(error), f"priority {priority} refused naming the field: {error}")
    print("  priorities out of range refused")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-priority-") as workdir:
        path = os.path.join(workdir, "p.gguf")
        make_model(build_dir, path)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        worker = start_worker(node_bin, supervisor.endpoint, "p1", model_dirs=(workdir,))
        client = XinfClient(supervisor.endpoint, timeout_ms=20000)
        poll("the worker", 10, lambda: workers_by_name(client).get("p1", {}).get("state") == "alive")
        client.launch("p", path, threads=1, max_seqs=1)
        client.wait_ready("p", stall_s=30)
        started = time.monotonic()
        check_order(supervisor.endpoint, client)
        check_refused(client)
        client.close()
        check(worker.stop() == 0 and supervisor.stop() == 0, "a node did not exit 0")
        print(f"  ({time.monotonic() - started:.1f} s)")
    print("PASS: priorities order the queue and preempt for a lower value")


if __name__ == "__main__":
    run_logged(main)
