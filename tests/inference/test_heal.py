"""Self-healing (issue #16): the replicas of a lost worker come back.

  a. unpinned: kill -9 of the worker running the only replicas of two
     models (launched while it was the only worker): both replicas are
     relaunched on the other worker (events `lost`, `relaunching`), the
     models are ready again and generate there;
  b. pinned (launched with --worker): SIGSTOP of its worker: the model is
     `relaunching` with the reason (it waits for its worker, event
     `relaunch_waiting`); SIGCONT: the worker registers again with the
     replica still loaded, and the model is ready on it;
  c. a worker that comes back running a replica that moved meanwhile is
     told to unload it.

Times from the loss to ready again are printed; every wait polls with a
deadline."""
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from test_cluster import poll, run_logged, start_supervisor, start_worker, workers_by_name  # noqa: E402
from xinf_testlib import check, tool  # noqa: E402
from xinf_client import XinfClient  # noqa: E402


def model_of(client, uid):
    return [model for model in client.list_models() if model["uid"] == uid][0]


def ready_on(client, uid):
    """The worker of a ready model's replica 0, else None: one listing, so
    that the state and the worker are of the same moment."""
    model = model_of(client, uid)
    return model["replicas"][0]["worker"] if model["state"] == "ready" else None


def events_of(client, kinds):
    return [event for event in client.events()["events"] if event["kind"] in kinds]


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-heal-") as workdir:
        path = os.path.join(workdir, "small.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "128", "--layers", "2",
                        "--heads", "4", "--kv-heads", "2", "--ffn", "256", "--vocab", "512", "--context", "1024",
                        "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        client = XinfClient(supervisor.endpoint, timeout_ms=5000)
        workers = {"h1": start_worker(node_bin, supervisor.endpoint, "h1", model_dirs=[workdir])}
        poll("h1 alive", 10, lambda: workers_by_name(client).get("h1", {}).get("state") == "alive")

        # a. unpinned: both models' replicas move (a loop over the models
        # once stopped after the first one that it relaunched)
        client.launch("u", path, threads=1, max_seqs=2)
        client.launch("v", path, threads=1, max_seqs=2)
        client.wait_ready("u", stall_s=30)
        client.wait_ready("v", stall_s=30)
        victim, other = "h1", "h2"
        check(ready_on(client, "v") == victim, f"v is not on {victim}: {model_of(client, 'v')}")
        workers[other] = start_worker(node_bin, supervisor.endpoint, other, model_dirs=[workdir])
        poll(f"{other} alive", 10, lambda: workers_by_name(client).get(other, {}).get("state") == "alive")
        expected = client.generate("u", prompt_tokens=[1, 2, 3], max_tokens=8)["tokens"]
        workers[victim].kill()
        killed = time.monotonic()
        poll(f"u and v ready again on {other}", 30,
             lambda: ready_on(client, "u") == other and ready_on(client, "v") == other)
        took = time.monotonic() - killed
        reply = client.generate("v", prompt_tokens=[1, 2, 3], max_tokens=8)
        check(reply["worker"] == other and reply["tokens"] == expected, f"v generates on {other}: {reply}")
        moved = model_of(client, "u")["replicas"][0]
        check(moved["worker"] == other, f"u after {victim} was killed: {moved}")
        reply = client.generate("u", prompt_tokens=[1, 2, 3], max_tokens=8)
        check(reply["worker"] == other and reply["tokens"] == expected, f"u generates on {other}: {reply}")
        relaunched = events_of(client, ("relaunching",))
        check(any(event["node"] == other and "u" in event["detail"] and victim in event["detail"]
                  for event in relaunched), f"relaunching events: {relaunched}")
        print(f"a. kill -9 {victim}: u and v ready on {other} {took:.2f} s later, same greedy tokens; "
              f"event: {relaunched[-1]['detail']}")

        # b. pinned: it waits for its worker
        workers["h3"] = start_worker(node_bin, supervisor.endpoint, "h3", model_dirs=[workdir])
        poll("h3 alive", 10, lambda: workers_by_name(client).get("h3", {}).get("state") == "alive")
        client.launch("p", path, worker="h3", threads=1, max_seqs=2)
        client.wait_ready("p", stall_s=30)
        workers["h3"].process.send_signal(signal.SIGSTOP)
        poll("p relaunching", 10, lambda: model_of(client, "p")["state"] == "relaunching")
        waiting = model_of(client, "p")
        check("pinned" in waiting["error"] and "h3" in waiting["error"], f"p while h3 is stopped: {waiting}")
        check(events_of(client, ("relaunch_waiting",)), "no relaunch_waiting event")
        workers["h3"].process.send_signal(signal.SIGCONT)
        back = time.monotonic()
        poll("p ready again on h3", 30, lambda: model_of(client, "p")["state"] == "ready"
             and workers_by_name(client)["h3"]["state"] == "alive")
        reply = client.generate("p", prompt_tokens=[1, 2, 3], max_tokens=8)
        check(reply["worker"] == "h3", f"p generates on h3: {reply}")
        print(f"b. SIGSTOP h3: p {waiting['state']}: {waiting['error']}; SIGCONT: ready on h3 "
              f"{time.monotonic() - back:.2f} s later")

        # c. u moves away from a stopped worker, which is told to unload it on return
        holder = model_of(client, "u")["replicas"][0]["worker"]
        workers[holder].process.send_signal(signal.SIGSTOP)
        poll("u ready on h3", 30, lambda: ready_on(client, "u") == "h3")
        workers[holder].process.send_signal(signal.SIGCONT)
        workers[holder].wait_output(r"unloading replica=u/0 reason=unloaded: relaunched elsewhere", timeout=20,
                                    which="err")
        poll(f"{holder} alive again", 10, lambda: workers_by_name(client)[holder]["state"] == "alive")
        check(model_of(client, "u")["replicas"][0]["worker"] == "h3", "u moved back to its old worker")
        print(f"c. SIGSTOP {holder}: u moved to h3; on SIGCONT {holder} unloaded its stale replica")
        # d. the C and Python clients print the same progress lines
        lines = []
        for uid, argv in (("cli-c", [tool(build_dir, "xinf-cli")]),
                          ("cli-py", [sys.executable, os.path.join(HERE, "..", "..", "tools", "xinf_client.py")])):
            result = subprocess.run(argv + ["-e", supervisor.endpoint, "launch", uid, path, "--worker", "h3",
                                            "--threads", "1"], capture_output=True, text=True, timeout=120)
            check(result.returncode == 0, f"{uid}: exit {result.returncode}: {result.stderr}")
            lines.append([line.replace(uid, "UID") for line in result.stderr.splitlines() if line.startswith(uid)])
        check(lines[0][-1] == lines[1][-1] and "| replica 0 on h3 ready" in lines[0][-1] and " MB" in lines[0][-1],
              f"progress lines differ: C {lines[0]} Python {lines[1]}")
        print(f"d. both clients end with: {lines[0][-1]}")
        # ... and the same tables: events exactly, workers' header and names
        outputs = {}
        for name, argv in (("c", [tool(build_dir, "xinf-cli")]),
                           ("py", [sys.executable, os.path.join(HERE, "..", "..", "tools", "xinf_client.py")])):
            for command in ("events", "workers"):
                result = subprocess.run(argv + ["-e", supervisor.endpoint, command], capture_output=True, text=True,
                                        timeout=60)
                check(result.returncode == 0, f"{name} {command}: {result.stderr}")
                outputs[name, command] = result.stdout.splitlines()
        check(outputs["c", "events"] == outputs["py", "events"],
              "events tables differ:\n" + "\n".join(outputs["c", "events"]) + "\n---\n" + "\n".join(outputs["py", "events"]))
        heads = [[line.split()[0] for line in outputs[name, "workers"][1:]] for name in ("c", "py")]
        # (the columns' widths follow the ages, which move between the two calls)
        check(outputs["c", "workers"][1].split() == outputs["py", "workers"][1].split() and heads[0] == heads[1],
              f"workers tables differ: {outputs['c', 'workers']} {outputs['py', 'workers']}")
        print(f"   events ({len(outputs['c', 'events'])} lines) and workers tables agree between C and Python")
        client.close()
        for name, worker in workers.items():
            if name != victim:
                check(worker.stop() == 0, f"{name} did not exit 0")
        check(supervisor.stop() == 0, "supervisor did not exit 0")
    print("PASS: lost workers' replicas are relaunched elsewhere, pinned ones wait for their worker")


if __name__ == "__main__":
    run_logged(main)
