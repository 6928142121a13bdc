"""Multi-process test: a terminated model is `stopping` until its workers
unloaded it (actors/xinf_stopping.h), real processes on 127.0.0.1.

  a. terminate with the model's worker answering: the client's terminate
     waits until the model is gone (unloaded True), and the event
     "stopped" says every worker unloaded it;
  b. terminate while the worker is frozen (SIGSTOP): the model lists as
     `stopping` with the reason; GENERATE gets MODEL_NOT_READY saying
     so; a LAUNCH of the same uid is refused, saying it is
     stopping; once the frozen worker is declared lost the model leaves
     the table with the event, and the uid can be launched again.

Waits poll with deadlines; heartbeats are 200 ms x 3."""
import os
import signal
import subprocess
import sys
import tempfile

from test_cluster import poll, start_supervisor, start_worker, workers_by_name
from xinf_testlib import check, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import XinfClient, XinfError  # noqa: E402


def stopped_events(client, uid):
    return [e for e in client.events()["events"] if e["kind"] == "stopped" and uid in e["detail"]]


def model_of(client, uid):
    return next((m for m in client.list_models() if m["uid"] == uid), None)


def main():
    build_dir = sys.argv[1]
    node_bin = tool(build_dir, "xinf-node")
    with tempfile.TemporaryDirectory(prefix="xinf-stopping-") as workdir:
        path = os.path.join(workdir, "small.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "128", "--layers", "2",
                        "--heads", "4", "--kv-heads", "2", "--ffn", "256", "--vocab", "512", "--context", "1024",
                        "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)
        supervisor = start_supervisor(node_bin)
        worker = start_worker(node_bin, supervisor.endpoint, "w1", model_dirs=[workdir])
        client = XinfClient(supervisor.endpoint, timeout_ms=5000)
        poll("w1 alive", 10, lambda: workers_by_name(client).get("w1", {}).get("state") == "alive")

        # a. a worker that answers
        client.launch("m", path, threads=1)
        client.wait_ready("m", stall_s=30)
        reply = client.terminate("m")
        check(reply["unloaded"], f"terminate did not see m unloaded: {reply}")
        check(model_of(client, "m") is None, "m is still listed after its worker unloaded it")
        events = stopped_events(client, "m")
        check(events and "every worker unloaded it" in events[-1]["detail"], f"the stopped event: {events}")
        print(f"a. {events[-1]['detail']}")

        # b. a frozen worker
        client.launch("m", path, threads=1)
        client.wait_ready("m", stall_s=30)
        worker.signal(signal.SIGSTOP)
        reply = client.terminate("m", wait_s=0)
        model = model_of(client, "m")
        check(model and model["state"] == "stopping" and "unloading" in model.get("error", ""),
              f"m after terminate with a frozen worker: {model}")
        check(all(r["state"] == "stopping" for r in model["replicas"]), f"replicas: {model['replicas']}")
        try:
            client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=4)
            check(False, "GENERATE for a stopping model was served")
        except XinfError as error:
            check(error.code == "MODEL_NOT_READY" and "stopping" in str(error), f"GENERATE: {error}")
        try:
            client.launch("m", path, threads=1)
            check(False, "a LAUNCH of a stopping uid was accepted")
        except XinfError as error:
            check(error.code == "DUPLICATE_MODEL" and "is stopping" in str(error), f"LAUNCH: {error}")
        print(f"b. stopping: {model['error']}")
        poll("m gone once w1 is lost", 15, lambda: model_of(client, "m") is None)
        check(workers_by_name(client)["w1"]["state"] == "lost", "m left the table before w1 was lost")
        events = stopped_events(client, "m")
        check(len(events) == 2 and "is gone" in events[-1]["detail"], f"the second stopped event: {events}")
        print(f"b. {events[-1]['detail']}")
        worker.kill()
        worker2 = start_worker(node_bin, supervisor.endpoint, "w2", model_dirs=[workdir])
        poll("w2 alive", 10, lambda: workers_by_name(client).get("w2", {}).get("state") == "alive")
        client.launch("m", path, threads=1)
        client.wait_ready("m", stall_s=30)
        print("b. the uid launched again once it was gone")
        client.close()
        worker2.stop()
        supervisor.stop()
    print("stopping: OK")


if __name__ == "__main__":
    main()
