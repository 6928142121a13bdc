"""Tensor-parallel launch (LAUNCH n_worker > 1) on real nodes over 127.0.0.1:

- a model split over 2 and 3 workers generates the same 64 greedy tokens as
  the same model on one worker (F32, llama GQA and qwen2 with QKV biases);
  LAUNCH_PROGRESS lists the ranks, the preflight matrix, and WAITS showed
  the launch's steps;
- bad launches get clear errors: more ranks than workers (NO_WORKER), a
  worker named twice, heads that do not split over the ranks (the load
  fails naming it); the address check needs hosts other than loopback
  (tests/netns/test_netns_launch.py);
- kill -9 of a rank's worker mid-stream: the client gets WORKER_LOST naming
  that worker and its rank within the liveness window, the surviving rank
  unloads and the replica is relaunched on the workers left (self-healing,
  more in test_heal_tp.py);
- a frozen rank (SIGSTOP, with a liveness window longer than the stall
  timeout): rank 0's collective wait names the frozen peer in WAITS, and the
  request ends with an error naming it at the stall deadline.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from test_cluster import (INTERVAL_MS, LIVENESS, Proc, poll, run_logged, start_supervisor,  # noqa: E402
                          start_worker, workers_by_name)
from xinf_testlib import check, model_dir_args, tool  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402

PROMPT = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]


def make_model(build_dir, workdir, name, arch, heads, kv_heads, context=1024, type_="f32", extra=()):
    path = os.path.join(workdir, f"{name}.gguf")
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", arch, "--type", type_, "--dim", "192",
                    "--layers", "3", "--heads", str(heads), "--kv-heads", str(kv_heads), "--ffn", "384",
                    "--vocab", "512", "--context", str(context), "--tokenizer", "gpt2", "--seed", "7", "-o", path,
                    *extra],
                   check=True, capture_output=True, timeout=120)
    return path


def launch_ready(client, uid, path, **options):
    client.launch(uid, path, threads=1, **options)
    return client.wait_ready(uid, stall_s=30)


def greedy(client, uid, count=64):
    return client.generate(uid, prompt_tokens=PROMPT, max_tokens=count, temperature=0.0)["tokens"]


def scenario_same_tokens(client, paths, waits_seen):
    for name, path in paths.items():
        launch_ready(client, "one", path, worker="t1")
        expected = greedy(client, "one")
        client.terminate("one")
        check(len(expected) == 64, f"{name}: one worker made {len(expected)} tokens")
        for n_worker in (2, 3):
            uid = f"{name}-tp{n_worker}"
            progress = launch_ready(client, uid, path, n_worker=n_worker)
            ranks = progress["replicas"][0].get("ranks", [])
            check(len(ranks) == n_worker and all(r["state"] == "ready" and r["data_port"] for r in ranks),
                  f"{uid}: ranks {ranks}")
            check(len({r["worker"] for r in ranks}) == n_worker, f"{uid}: ranks share a worker: {ranks}")
            pairs = progress.get("preflight", [])
            check(len(pairs) == n_worker * (n_worker - 1) and all(p["status"] == "ok" for p in pairs),
                  f"{uid}: preflight {pairs}")
            tokens = greedy(client, uid)
            check(tokens == expected, f"{uid}: tokens differ from one worker's:\n {tokens}\n {expected}")
            listed = [m for m in client.list_models() if m["uid"] == uid][0]
            check(listed["state"] == "ready" and listed.get("arch"), f"{uid}: listed as {listed}")
            client.terminate(uid)
            print(f"{uid}: {n_worker} ranks on {[r['worker'] for r in ranks]}, 64 greedy tokens equal "
                  f"to one worker's; preflight {[(p['from'], p['to'], p['ms']) for p in pairs]}")
    check(waits_seen, "WAITS never showed a launch step (preflight / rendezvous / load)")


def watch_waits(client, uid, path, n_worker):
    """Launches and polls WAITS until ready: the steps are registered waits."""
    seen = set()
    reply = client.launch(uid, path, n_worker=n_worker, threads=1)
    # All ranks on this one machine: the launch says they share its cores
    check(any("one machine" in warning and "cores" in warning for warning in reply["warnings"]),
          f"no shared-machine warning for {n_worker} ranks on 127.0.0.1: {reply['warnings']}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for wait in client.waits():
            if any(key in wait["what"] for key in ("preflight", "rendezvous", "load weights")):
                seen.add(wait["what"])
        if client.launch_progress(uid)["state"] in ("ready", "failed"):
            break
        time.sleep(0.005)
    client.terminate(uid)
    print(f"waits seen during a launch: {sorted(seen)}")
    return seen


def expect_error(what, call, code, *words):
    try:
        result = call()
    except XinfError as error:
        text = str(error)
        check(error.code == code and all(word in text for word in words),
              f"{what}: wanted {code} naming {words}, got {error.code}: {text}")
        print(f"{what}: {error.code}: {text[:300]}")
        return text
    check(False, f"{what}: no error ({result})")


def scenario_bad_launches(client, paths, build_dir, workdir):
    path = paths["llama"]
    expect_error("n_worker 5 on 4 workers", lambda: client.launch("x5", path, n_worker=5), "NO_WORKER", "5")
    expect_error("a worker named twice", lambda: client.launch("x2", path, n_worker=2, workers=["t1", "t1"]),
                 "BAD_REQUEST", "t1")
    expect_error("workers for another n_worker", lambda: client.launch("x3", path, n_worker=3, workers=["t1", "t2"]),
                 "BAD_REQUEST", "n_worker")
    # 6 KV heads do not split over 4 ranks: every rank's load says so
    expect_error("6 KV heads over 4 ranks", lambda: launch_ready(client, "x4", path, n_worker=4), "LOAD_FAILED",
                 "6 KV heads", "4 ranks")
    client.terminate("x4")


def scenario_kill_rank(client, workers, path):
    client.launch("k", path, n_worker=2, replicas=2, threads=1)
    progress = client.wait_ready("k", stall_s=30)
    groups = {r["replica"]: [k["worker"] for k in r["ranks"]] for r in progress["replicas"]}
    victim = groups[0][1]                 # rank 1 of replica 0, which takes the first request
    killed_at = []

    def on_token(index, token, text):
        if not killed_at:
            workers[victim].process.send_signal(signal.SIGKILL)
            killed_at.append(time.monotonic())

    bound = LIVENESS * INTERVAL_MS / 1000 + INTERVAL_MS / 1000
    try:
        client.generate("k", prompt_tokens=PROMPT, max_tokens=900, stream=True, on_token=on_token, timeout_ms=20000)
        check(False, "the generation finished although a rank's worker was killed")
    except XinfError as error:
        took = time.monotonic() - killed_at[0]
        check(error.code == "WORKER_LOST" and victim in str(error) and "rank 1" in str(error),
              f"wanted WORKER_LOST naming {victim} and rank 1: {error}")
        check(took <= bound + 1.0, f"the error came {took:.2f} s after the kill (bound {bound:.2f} s + 1 s)")
        print(f"killed {victim} (rank 1) mid-stream: {error.code} after {took:.2f} s (bound {bound:.2f} s): {error}")
    survivor = groups[0][0]
    workers[survivor].wait_output(r"unloading replica=k/0 reason=unloaded: the replica relaunches", which="err")
    # The group is relaunched on the workers left (xinf_heal.h; more in test_heal_tp.py)
    def relaunched():
        replica = client.launch_progress("k")["replicas"][0]
        check(replica["state"] != "failed", f"replica 0 after the kill: {replica}")
        ranks = [rank["worker"] for rank in replica["ranks"]]
        return replica["state"] == "ready" and victim not in ranks and ranks
    ranks = poll("replica 0 relaunched without the killed worker", 60, relaunched)
    reply = client.generate("k", prompt_tokens=PROMPT, max_tokens=8)
    check(len(reply["tokens"]) == 8, f"after the relaunch: {reply}")
    print(f"replica 0 relaunched on {ranks} {time.monotonic() - killed_at[0]:.2f} s after the kill mid-stream")
    client.terminate("k")
    workers[victim].process.wait()
    del workers[victim]


def scenario_frozen_rank(build_dir, node_bin, path):
    """Liveness 10 s, stall 2 s: the collective's stall deadline ends it."""
    beat = ["--heartbeat-ms", "200", "--liveness", "50"]
    supervisor = Proc("sup-frozen", [node_bin, "-p", "0", "--bind", "127.0.0.1", "--node-name", "sup2",
                                     "--log-level", "info", *beat])
    match = supervisor.wait_output(r"listening on tcp://[^\s:]+:(\d+)")
    endpoint = f"tcp://127.0.0.1:{match.group(1)}"
    nodes = {name: Proc(name, [node_bin, "--role=worker", "-e", endpoint, "--node-name", name, *beat,
                               "-H", "127.0.0.1", "--data-ports", "29500-29599", "--log-level", "info",
                               *model_dir_args()])
             for name in ("z1", "z2")}
    client = XinfClient(endpoint, timeout_ms=5000)
    poll("z1, z2 alive", 10, lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive" for n in nodes))
    client.launch("f", path, n_worker=2, workers=["z1", "z2"], threads=1, stall_timeout_ms=2000)
    client.wait_ready("f", stall_s=30)
    stopped_at = []

    def on_token(index, token, text):
        if not stopped_at:
            nodes["z2"].signal(signal.SIGSTOP)
            stopped_at.append(time.monotonic())

    named = []
    try:
        import threading
        result = {}

        def run():
            try:
                result["reply"] = client2.generate("f", prompt_tokens=PROMPT, max_tokens=900, stream=True,
                                                   on_token=on_token, timeout_ms=20000)
            except XinfError as error:
                result["error"] = error
        client2 = XinfClient(endpoint, timeout_ms=5000)
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 15
        while thread.is_alive() and time.monotonic() < deadline:
            for wait in client.waits():
                if wait.get("node") == "z1" and "rank 1" in wait.get("peer", "") and "z2" in wait.get("peer", ""):
                    named.append(wait)
            time.sleep(0.05)
        thread.join(20)
        client2.close()
        check("error" in result, f"the request did not fail with the rank frozen: {result}")
        error = result["error"]
        took = time.monotonic() - stopped_at[0]
        check(error.code in ("COLLECTIVE_FAILED", "REPLICA_FAILED") and "rank 1" in str(error),
              f"wanted an error naming rank 1: {error.code}: {error}")
        check(named, "WAITS never showed rank 0's collective wait naming rank 1 (z2)")
        print(f"z2 frozen: WAITS showed {named[0]['what']!r} on {named[0]['peer']!r}; the request ended "
              f"{took:.2f} s after the freeze (stall 2 s): {error.code}: {error}")
    finally:
        nodes["z2"].signal(signal.SIGCONT)
    client.terminate("f")
    client.close()
    for node in nodes.values():
        check(node.stop() == 0, f"{node.name} did not exit 0")
    check(supervisor.stop() == 0, "the frozen-test supervisor did not exit 0")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-tp-") as workdir:
        paths = {"llama": make_model(build_dir, workdir, "llama", "llama", 12, 6),
                 "qwen2": make_model(build_dir, workdir, "qwen2", "qwen2", 6, 6),
                 # heads x head_dim = 288, not dim 192: attn_q/attn_output split by heads
                 "qwen3": make_model(build_dir, workdir, "qwen3", "qwen3", 6, 6, extra=("--head-dim", "48")),
                 "llama3": make_model(build_dir, workdir, "llama3", "llama", 12, 6,
                                      extra=("--rope-scaling", "llama3", "--rope-original-context", "64")),
                 # a mixture of experts: every rank holds its part of each expert's width
                 "qwen3moe": make_model(build_dir, workdir, "qwen3moe", "qwen3moe", 6, 6,
                                        extra=("--experts", "8", "--experts-used", "2", "--expert-ffn", "96"))}
        long_path = make_model(build_dir, workdir, "long", "llama", 12, 6, context=2048)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        workers = {name: start_worker(node_bin, supervisor.endpoint, name, model_dirs=(workdir,))
                   for name in ("t1", "t2", "t3", "t4")}
        client = XinfClient(supervisor.endpoint, timeout_ms=5000)
        poll("4 alive workers", 10, lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive"
                                                for n in workers))
        waits_seen = watch_waits(client, "w", paths["llama"], 2)
        scenario_same_tokens(client, paths, waits_seen)
        scenario_bad_launches(client, paths, build_dir, workdir)
        scenario_kill_rank(client, workers, long_path)
        client.close()
        for worker in workers.values():
            check(worker.stop() == 0, f"{worker.name} did not exit 0")
        check(supervisor.stop() == 0, "supervisor did not exit 0")
        scenario_frozen_rank(build_dir, node_bin, long_path)
    print("PASS: tensor-parallel launch: same tokens on 1, 2, 3 workers; bad launches named; a killed or "
          "frozen rank ends its requests in time with the cause")


if __name__ == "__main__":
    run_logged(main)
