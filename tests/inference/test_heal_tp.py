"""Self-healing of tensor-parallel replicas (issue #16): a group that loses
a rank's worker is placed and launched again.

  a. 3 workers, a model with 2 ranks on two of them, a request served;
     kill -9 of rank 1's worker: the replica is `relaunching` (the reason
     names the worker and rank), the surviving rank unloads, the group is
     launched again (preflight, staging, rendezvous, load) on the survivor
     and the third worker (event `relaunching` naming both), it is ready
     and serves the same greedy tokens as before;
  b. 2 workers only, kill -9 of one: the replica waits (`relaunching`,
     event `relaunch_waiting`, the reason readable in `models`), requests
     are refused as not ready; a new worker registers: the group is
     relaunched on it and the survivor, and serves the same tokens;
  c. pinned (launched on named workers): kill -9 of one, the group waits
     for it; it starts again under its name: the group loads on both;
  d. a relaunch that cannot work (the only other worker lacks the file and
     may not fetch it) ends `failed` with the cause, not stuck;
  e. a supervisor with a journal (--state-dir) is killed -9 and restarted:
     the group comes back from its ranks' reports with the journal's launch
     parameters, so when rank 1's worker is then killed it is relaunched
     (before, a group rebuilt after a restart could only fail);
  f. the same without a journal: the restarted supervisor adopts the group
     from its ranks' HELLOs, which carry the launch options LOAD_MODEL gave
     them, so it relaunches the group with them too.

Times from the kill to serving again are printed; every wait polls with a
deadline."""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from test_cluster import (BEAT_ARGS, Proc, poll, run_logged, start_journaled_supervisor, start_supervisor,  # noqa: E402
                          start_worker, workers_by_name)
from xinf_testlib import check, free_port, model_dir_args, tool  # noqa: E402
from xinf_client import XinfClient  # noqa: E402

PROMPT = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
# A range of its own: killed workers' freed ports must not go to another
# test's node under ctest -j
DATA_PORTS = "30300-30399"


def model_of(client, uid):
    return [model for model in client.list_models() if model["uid"] == uid][0]


def state_of(client, uid):
    """The model's state, None while it is not listed (a restarted
    supervisor without a journal knows it once its workers report it)."""
    return next((model["state"] for model in client.list_models() if model["uid"] == uid), None)


def ranks_of(client, uid):
    return [rank["worker"] for rank in client.launch_progress(uid)["replicas"][0]["ranks"]]


def ready_ranks(client, uid):
    """The sorted workers of a ready model's ranks, else None: one reply, so
    that the state and the ranks are of the same moment."""
    progress = client.launch_progress(uid)
    return sorted(rank["worker"] for rank in progress["replicas"][0]["ranks"]) if progress["state"] == "ready" else None


def events_of(client, kinds):
    return [event for event in client.events()["events"] if event["kind"] in kinds]


def greedy(client, uid):
    return client.generate(uid, prompt_tokens=PROMPT, max_tokens=24, temperature=0.0)


def alive(client, names):
    return all(workers_by_name(client).get(name, {}).get("state") == "alive" for name in names)


def scenario_moves(client, node_bin, endpoint, path, workdir):
    workers = {name: start_worker(node_bin, endpoint, name, model_dirs=[workdir], data_ports=DATA_PORTS)
               for name in ("g1", "g2", "g3")}
    poll("3 alive workers", 10, lambda: alive(client, workers))
    client.launch("m", path, n_worker=2, workers=None, threads=1)
    client.wait_ready("m", stall_s=30)
    before = ranks_of(client, "m")
    expected = greedy(client, "m")["tokens"]
    victim, survivor = before[1], before[0]
    third = [name for name in workers if name not in before][0]
    workers[victim].kill()
    killed = time.monotonic()
    relaunching = poll("m relaunching", 20, lambda: [m for m in [model_of(client, "m")]
                                                     if m["state"] != "ready"])[0]
    # Seen in its first moments it names the lost worker and rank; it may
    # already be in the launch's steps (preflight ... loading) when polled
    check(relaunching["state"] != "failed", f"m after the kill: {relaunching}")
    if relaunching["state"] == "relaunching":
        check(victim in relaunching["error"] and "rank 1" in relaunching["error"], f"m relaunching: {relaunching}")
    poll(f"m ready again on {survivor} and {third}", 60,
         lambda: ready_ranks(client, "m") == sorted([survivor, third]))
    ready_at = time.monotonic()
    reply = greedy(client, "m")
    served = time.monotonic()
    check(reply["tokens"] == expected, f"m after the relaunch: {reply['tokens']} != {expected}")
    after = ranks_of(client, "m")
    event = [e for e in events_of(client, ("relaunching",)) if "of m," in e["detail"]]
    check(event and victim in event[-1]["detail"] and "rank 1" in event[-1]["detail"]
          and survivor in event[-1]["detail"] and third in event[-1]["detail"], f"relaunching events: {event}")
    note = model_of(client, "m")["replicas"][0]["note"]
    check(victim in note and "relaunched" in note, f"the replica's note: {note}")
    workers[survivor].wait_output(r"unloading replica=m/0 reason=unloaded: the replica relaunches", which="err")
    print(f"a. kill -9 {victim} (rank 1 of {before}): {relaunching['state']} ({relaunching['error'][:160]}); "
          f"ready on {after} {ready_at - killed:.2f} s after the kill, served {served - killed:.2f} s after it, "
          f"same {len(expected)} greedy tokens; event: {event[-1]['detail']}")
    client.terminate("m")
    poll("m gone", 20, lambda: not [m for m in client.list_models() if m["uid"] == "m"])
    for name, worker in workers.items():
        if name != victim:
            check(worker.stop() == 0, f"{name} did not exit 0")


def scenario_waits(client, node_bin, endpoint, path, workdir):
    workers = {name: start_worker(node_bin, endpoint, name, model_dirs=[workdir], data_ports=DATA_PORTS)
               for name in ("w1", "w2")}
    poll("w1, w2 alive", 10, lambda: alive(client, workers))
    client.launch("n", path, n_worker=2, threads=1)
    client.wait_ready("n", stall_s=30)
    before = ranks_of(client, "n")
    expected = greedy(client, "n")["tokens"]
    victim, survivor = before[0], before[1]
    workers[victim].kill()
    killed = time.monotonic()
    waiting = poll("n waits for a worker", 30,
                   lambda: [m for m in [model_of(client, "n")] if m["state"] == "relaunching"
                            and "relaunches when one registers" in m["error"]])[0]
    check(victim in waiting["error"] and "rank 0" in waiting["error"], f"n while it waits: {waiting}")
    waited = [e for e in events_of(client, ("relaunch_waiting",)) if "of n" in e["detail"]]
    check(waited and waited[-1]["node"] == victim, f"relaunch_waiting events: {waited}")
    check(greedy_refused(client, "n"), "n served a request while it waits")
    workers["w3"] = start_worker(node_bin, endpoint, "w3", model_dirs=[workdir], data_ports=DATA_PORTS)
    joined = time.monotonic()
    poll("n ready on the survivor and w3", 60,
         lambda: ready_ranks(client, "n") == sorted([survivor, "w3"]))
    ready_at = time.monotonic()
    reply = greedy(client, "n")
    check(reply["tokens"] == expected, f"n after the relaunch: {reply['tokens']} != {expected}")
    print(f"b. kill -9 {victim} with 2 workers: {waiting['state']}: {waiting['error']}; w3 registered "
          f"{joined - killed:.2f} s after the kill, n ready on {ranks_of(client, 'n')} {ready_at - joined:.2f} s "
          f"later, same greedy tokens")
    client.terminate("n")
    poll("n gone", 20, lambda: not [m for m in client.list_models() if m["uid"] == "n"])
    for name, worker in workers.items():
        if name != victim:
            check(worker.stop() == 0, f"{name} did not exit 0")


def scenario_pinned(client, node_bin, endpoint, path, workdir):
    workers = {name: start_worker(node_bin, endpoint, name, model_dirs=[workdir], data_ports=DATA_PORTS)
               for name in ("p1", "p2")}
    poll("p1, p2 alive", 10, lambda: alive(client, workers))
    client.launch("p", path, n_worker=2, workers=["p1", "p2"], threads=1)
    client.wait_ready("p", stall_s=30)
    expected = greedy(client, "p")["tokens"]
    workers["p2"].kill()
    killed = time.monotonic()
    waiting = poll("p waits for p2", 30, lambda: [m for m in [model_of(client, "p")] if m["state"] == "relaunching"
                                                  and "pinned" in m["error"]])[0]
    check("p2" in waiting["error"] and "rank 1" in waiting["error"], f"p while p2 is gone: {waiting}")
    workers["p2"] = start_worker(node_bin, endpoint, "p2", model_dirs=[workdir], data_ports=DATA_PORTS)
    back = time.monotonic()
    poll("p ready on p1 and p2", 60, lambda: model_of(client, "p")["state"] == "ready" and alive(client, ["p2"]))
    check(ranks_of(client, "p") == ["p1", "p2"], f"p's ranks after p2 came back: {ranks_of(client, 'p')}")
    reply = greedy(client, "p")
    check(reply["tokens"] == expected, f"p after the relaunch: {reply['tokens']} != {expected}")
    print(f"c. pinned, kill -9 p2: {waiting['error']}; p2 restarted {back - killed:.2f} s after the kill, p ready "
          f"on p1,p2 {time.monotonic() - back:.2f} s later, same greedy tokens")
    client.terminate("p")
    poll("p gone", 20, lambda: not [m for m in client.list_models() if m["uid"] == "p"])
    for name, worker in workers.items():
        check(worker.stop() == 0, f"{name} did not exit 0")


def scenario_fails(client, node_bin, endpoint, path, workdir, empty_dir):
    workers = {name: start_worker(node_bin, endpoint, name, model_dirs=[workdir], data_ports=DATA_PORTS)
               for name in ("f1", "f2")}
    poll("f1, f2 alive", 10, lambda: alive(client, workers))
    client.launch("f", path, n_worker=2, threads=1)
    client.wait_ready("f", stall_s=30)
    # f3 registers after the launch: it has no copy of the file and may not fetch one
    workers["f3"] = Proc("f3", [node_bin, "--role=worker", "-e", endpoint, "--node-name", "f3", *BEAT_ARGS,
                                "-H", "127.0.0.1", "--data-ports", DATA_PORTS, "--no-fetch-models",
                                *model_dir_args(empty_dir)])
    poll("f3 alive", 10, lambda: alive(client, ["f3"]))
    victim = ranks_of(client, "f")[1]
    workers[victim].kill()
    failed = poll("f failed", 60, lambda: [m for m in [model_of(client, "f")] if m["state"] == "failed"])[0]
    check("f3" in failed["error"], f"f's relaunch on f3: {failed}")
    print(f"d. kill -9 {victim}, the relaunch on f3 (no file, no fetching): failed: {failed['error'][:300]}")
    client.terminate("f")
    poll("f gone", 20, lambda: not [m for m in client.list_models() if m["uid"] == "f"])
    for name, worker in workers.items():
        if name != victim:
            check(worker.stop() == 0, f"{name} did not exit 0")


def scenario_restarted(node_bin, path, workdir, journal):
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    state_dir = os.path.join(workdir, "state")

    def supervisor(label):
        if journal:
            return start_journaled_supervisor(node_bin, port, state_dir, label)
        return start_supervisor(node_bin, port, label)

    first = supervisor("S1")
    client = XinfClient(endpoint, timeout_ms=5000)
    workers = {name: start_worker(node_bin, endpoint, name, model_dirs=[workdir], data_ports=DATA_PORTS)
               for name in ("r1", "r2", "r3")}
    poll("3 alive workers", 10, lambda: alive(client, workers))
    client.launch("j", path, n_worker=2, threads=1, max_seqs=3)
    client.wait_ready("j", stall_s=30)
    before = ranks_of(client, "j")
    expected = greedy(client, "j")["tokens"]
    first.kill()
    second = supervisor("S2")
    restarted = time.monotonic()
    poll("j ready after the restart", 30, lambda: state_of(client, "j") == "ready")
    back = time.monotonic()
    check(ranks_of(client, "j") == before, f"j's ranks after the restart: {ranks_of(client, 'j')} != {before}")
    check(greedy(client, "j")["tokens"] == expected, "j after the restart: other tokens")
    victim, survivor = before[1], before[0]
    third = [name for name in workers if name not in before][0]
    workers[victim].kill()
    killed = time.monotonic()
    poll(f"j ready again on {survivor} and {third}", 60,
         lambda: ready_ranks(client, "j") == sorted([survivor, third]))
    ready_at = time.monotonic()
    reply = greedy(client, "j")
    check(reply["tokens"] == expected, f"j relaunched after the restart: {reply['tokens']} != {expected}")
    # The relaunch kept the launch parameters (the journal's, or those the
    # ranks reported): max_seqs 3, not the replica's default
    check(model_of(client, "j").get("max_seqs") == 3, f"j relaunched with other parameters: {model_of(client, 'j')}")
    how = "e. supervisor restarted with its journal" if journal else "f. supervisor restarted without a journal"
    print(f"{how}: j ({before}) ready again {back - restarted:.2f} s after the restart; kill -9 {victim} (rank 1): "
          f"relaunched on {ranks_of(client, 'j')} {ready_at - killed:.2f} s later, same greedy tokens")
    client.terminate("j")
    poll("j gone", 20, lambda: not [m for m in client.list_models() if m["uid"] == "j"])
    client.close()
    for name, worker in workers.items():
        if name != victim:
            check(worker.stop() == 0, f"{name} did not exit 0")
    check(second.stop() == 0, "S2 did not exit 0")


def greedy_refused(client, uid):
    """A GENERATE while the replica waits is refused as not ready, with a retry."""
    from xinf_client import XinfError
    try:
        greedy(client, uid)
    except XinfError as error:
        return error.code == "MODEL_NOT_READY" and "relaunching" in str(error)
    return False


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-heal-tp-") as workdir:
        path = os.path.join(workdir, "tp.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--type", "f32", "--dim", "192",
                        "--layers", "3", "--heads", "12", "--kv-heads", "6", "--ffn", "384", "--vocab", "512",
                        "--context", "1024", "--tokenizer", "gpt2", "--seed", "7", "-o", path],
                       check=True, capture_output=True, timeout=120)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        client = XinfClient(supervisor.endpoint, timeout_ms=5000)
        scenario_moves(client, node_bin, supervisor.endpoint, path, workdir)
        scenario_waits(client, node_bin, supervisor.endpoint, path, workdir)
        scenario_pinned(client, node_bin, supervisor.endpoint, path, workdir)
        empty_dir = os.path.join(workdir, "empty")
        os.mkdir(empty_dir)
        scenario_fails(client, node_bin, supervisor.endpoint, path, workdir, empty_dir)
        client.close()
        check(supervisor.stop() == 0, "supervisor did not exit 0")
        scenario_restarted(node_bin, path, workdir, journal=True)
        scenario_restarted(node_bin, path, workdir, journal=False)
    print("PASS: a tensor-parallel replica that loses a rank's worker is relaunched as a group, or waits for one")


if __name__ == "__main__":
    run_logged(main)
