"""Multi-process test: the step watchdog names a hung executor (issue #15
item 3, on the CPU backend), real processes on 127.0.0.1.

XINF_FAULT_HANG (models/xinf_beacon.h) makes an executor hang in a chosen
step, layer and phase, as a stuck device call or collective would.

  a. a plain replica hangs in step 3, layer 1's compute: the request ends
     with EXECUTOR_HUNG naming rank 0, step 3 and layer 1 within about
     stall_timeout_ms (1 s), the replica lists as failed with that text,
     another model on the same worker serves, and terminating the hung
     model unloads it (the held thread is released);
  b. a fault text that is garbage is refused with a warning and the model
     serves;
  c. a tensor-parallel replica whose rank 1 hangs in step 2: the request
     ends with an error naming rank 1 (its collective peer's or its own
     watchdog's report), and the replica fails;
  d. a worker with --executor process: the replica's executor is an
     xinf-executor process and gives the same greedy tokens as one on a
     thread; kill -9 of that process while a request streams ends the
     request with EXECUTOR_LOST naming the pid and signal 9, the replica
     fails, the worker stays alive and serves another model;
  e. a hang injected into an executor process is reported from its beats
     (EXECUTOR_HUNG, step 3, layer 1), and terminating the model ends the
     process.

Waits poll with deadlines."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from test_cluster import poll, start_supervisor, start_worker, workers_by_name
from xinf_testlib import check, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import XinfClient, XinfError  # noqa: E402


def model_of(client, uid):
    return next((m for m in client.list_models() if m["uid"] == uid), None)


def generate_error(client, uid, max_tokens=16):
    """Runs a request that must fail; returns (error, seconds)."""
    started = time.monotonic()
    try:
        reply = client.generate(uid, prompt_tokens=[1, 2, 3, 4], max_tokens=max_tokens, timeout_ms=60000)
        check(False, f"{uid}: the request was served ({reply.get('finish_reason')}) though its executor hangs")
    except XinfError as error:
        return error, time.monotonic() - started


def executor_process(worker, uid):
    """The pid and beats endpoint of the executor process of uid's replica
    on 'worker' (from its log)."""
    match = poll(f"{uid}'s executor process in {worker.name}'s log", 10, lambda: re.findall(
        rf"executor-{uid}-0-0: executor process pid=(\d+) started .* beats to (\S+)", worker.log("err")))
    return int(match[-1][0]), match[-1][1]


def garbage_beats(endpoint, pid):
    """Beats that break EXECUTOR_BEAT's table, sent where the real ones go."""
    import msgpack
    import zmq
    from xinf_client import encode_message
    context = zmq.Context.instance()
    push = context.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 1000)
    push.connect(endpoint)
    good = {"pid": pid, "step": 1, "phase": "compute", "layer": 0, "what": "attention", "phase_age_ms": 5}
    bad_bodies = [{**good, "pid": pid + 1}, {**good, "phase": "graph"}, {**good, "phase": ""},
                  {**good, "layer": -1}, {**good, "what": "x" * 65}, {**good, "step": "seven"},
                  {k: v for k, v in good.items() if k != "phase_age_ms"}]
    frames = [[b"garbage"], [b"XINF\x02" + msgpack.packb({"type": 7})], [b""], [b"\xff" * 300]]
    frames += [encode_message("EXECUTOR_BEAT", body, corr=0, sender="test") for body in bad_bodies]
    frames.append(encode_message("PING", {}, corr=0, sender="test"))
    for message in frames:
        push.send_multipart(message)
    push.close()
    return len(frames)


def stream_until_error(client, uid):
    """Starts a long streaming request; returns its corr after its first token."""
    corr = client.generate_start(uid, prompt_tokens=[1, 2, 3, 4], max_tokens=900, stream=True)
    first = client.next_message(30000)
    check(first is not None and first[0] == "GENERATE_TOKEN", f"{uid}: the first streamed message: {first}")
    return corr


def terminal(client, corr, timeout_s=30):
    """The request's terminal message (type, body), tokens skipped."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = client.next_message(1000)
        if message and message[1] == corr and message[0] != "GENERATE_TOKEN":
            return message[0], message[2]
    check(False, f"no terminal answer to request {corr} within {timeout_s} s")


def main():
    build_dir = sys.argv[1]
    node_bin = tool(build_dir, "xinf-node")
    with tempfile.TemporaryDirectory(prefix="xinf-watchdog-") as workdir:
        path = os.path.join(workdir, "small.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "128", "--layers", "2",
                        "--heads", "4", "--kv-heads", "2", "--ffn", "256", "--vocab", "512", "--context", "1024",
                        "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)
        supervisor = start_supervisor(node_bin)
        w1 = start_worker(node_bin, supervisor.endpoint, "w1", model_dirs=[workdir],
                          env={"XINF_FAULT_HANG": "model=hang,step=3,phase=compute,layer=1"})
        w2 = start_worker(node_bin, supervisor.endpoint, "w2", model_dirs=[workdir],
                          env={"XINF_FAULT_HANG": "model=garbage,step=zero,phase=compute"})
        tp_fault = {"XINF_FAULT_HANG": "model=tp,rank=1,step=2,phase=compute,layer=0"}
        w3 = start_worker(node_bin, supervisor.endpoint, "w3", model_dirs=[workdir], env=tp_fault)
        w4 = start_worker(node_bin, supervisor.endpoint, "w4", model_dirs=[workdir], env=tp_fault)
        w5 = start_worker(node_bin, supervisor.endpoint, "w5", model_dirs=[workdir],
                          env={"XINF_EXECUTOR": "process"})
        w6 = start_worker(node_bin, supervisor.endpoint, "w6", model_dirs=[workdir],
                          env={"XINF_EXECUTOR": "process",
                               "XINF_FAULT_HANG": "model=phang,step=3,phase=compute,layer=1"})
        workers = ("w1", "w2", "w3", "w4", "w5", "w6")
        client = XinfClient(supervisor.endpoint, timeout_ms=5000)
        poll("w1 .. w6 alive", 20, lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive"
                                               for n in workers))

        # a. a plain replica hangs in step 3, layer 1
        client.launch("hang", path, worker="w1", threads=1, stall_timeout_ms=1000)
        client.wait_ready("hang", stall_s=30)
        error, seconds = generate_error(client, "hang")
        text = str(error)
        check(error.code == "EXECUTOR_HUNG", f"the hung request's error: {error.code} {text}")
        for part in ("rank 0", "stuck in step 3, layer 1 attention (compute)", "stall_timeout_ms 1000"):
            check(part in text, f"'{part}' is not in the report: {text}")
        check(seconds < 20, f"the hang was reported after {seconds:.1f} s (stall_timeout_ms 1 s)")
        print(f"a. reported after {seconds:.2f} s: {text}")
        model = poll("hang listed as failed", 10, lambda: (lambda m: m if m and m["state"] == "failed" else None)
                     (model_of(client, "hang")))
        check("stuck in step 3" in model.get("error", "") or any("stuck in step 3" in r.get("error", "")
                                                                for r in model["replicas"]),
              f"the failed model does not say why: {model}")
        client.launch("fine", path, worker="w1", threads=1, stall_timeout_ms=1000)
        client.wait_ready("fine", stall_s=30)
        reply = client.generate("fine", prompt_tokens=[1, 2, 3, 4], max_tokens=8)
        check(len(reply["tokens"]) == 8, f"another model on the same worker: {reply}")
        thread_tokens = reply["tokens"]
        reply = client.terminate("hang")
        check(reply["unloaded"], f"terminating the hung model: {reply}")
        check("injected hang" in w1.log("err"), "w1's log does not show the injected hang")
        print("a. another model serves on w1; the hung model unloaded")

        # b. a garbage fault text is refused, the model serves
        client.launch("garbage", path, worker="w2", threads=1, stall_timeout_ms=1000)
        client.wait_ready("garbage", stall_s=30)
        reply = client.generate("garbage", prompt_tokens=[1, 2, 3, 4], max_tokens=8)
        check(len(reply["tokens"]) == 8, f"the model with a garbage fault text: {reply}")
        check("XINF_FAULT_HANG='model=garbage,step=zero,phase=compute' ignored" in w2.log("err"),
              "w2's log does not refuse the garbage fault text")
        print("b. a garbage XINF_FAULT_HANG is refused with a warning; the model serves")

        # c. rank 1 of a tensor-parallel replica hangs in step 2
        client.launch("tp", path, n_worker=2, workers=["w3", "w4"], threads=1, stall_timeout_ms=1000)
        client.wait_ready("tp", stall_s=60)
        error, seconds = generate_error(client, "tp")
        check("rank 1" in str(error), f"the tensor-parallel hang's error does not name rank 1: {error.code} {error}")
        print(f"c. reported after {seconds:.2f} s: {error.code} {error}")
        poll("tp listed as failed", 15, lambda: (model_of(client, "tp") or {}).get("state") == "failed")
        reply = client.terminate("tp")
        check(reply["unloaded"], f"terminating the hung tensor-parallel model: {reply}")

        # d. an executor in its own process: the same tokens; kill -9 of it is named
        client.launch("proc", path, worker="w5", threads=1, stall_timeout_ms=1000)
        client.wait_ready("proc", stall_s=30)
        pid, beats = executor_process(w5, "proc")
        sent = garbage_beats(beats, pid)
        poll("the garbage beats logged", 10, lambda: w5.log("err").count("bad beat from the executor process") >= sent)
        reply = client.generate("proc", prompt_tokens=[1, 2, 3, 4], max_tokens=8)
        check(reply["tokens"] == thread_tokens, f"process executor {reply['tokens']} != thread {thread_tokens}")
        print(f"d. {sent} garbage beats logged and dropped; the replica serves")
        corr = stream_until_error(client, "proc")
        os.kill(pid, signal.SIGKILL)
        kind, body = terminal(client, corr)
        check(kind == "ERROR" and body.get("code") == "EXECUTOR_LOST", f"after kill -9 of the executor: {kind} {body}")
        check(f"pid {pid} was killed by signal 9" in body.get("message", ""), f"the report: {body}")
        print(f"d. {body['code']}: {body['message']}")
        poll("proc listed as failed", 10, lambda: (model_of(client, "proc") or {}).get("state") == "failed")
        check(workers_by_name(client)["w5"]["state"] == "alive", "w5 is not alive after its executor was killed")
        client.launch("proc2", path, worker="w5", threads=1, stall_timeout_ms=1000)
        client.wait_ready("proc2", stall_s=30)
        reply = client.generate("proc2", prompt_tokens=[1, 2, 3, 4], max_tokens=8)
        check(reply["tokens"] == thread_tokens, f"w5 after the kill: {reply}")
        print("d. the same greedy tokens as a thread's; w5 alive and serving after the kill")

        # e. a hang in an executor process, seen through its beats
        client.launch("phang", path, worker="w6", threads=1, stall_timeout_ms=1000)
        client.wait_ready("phang", stall_s=30)
        pid, _ = executor_process(w6, "phang")
        error, seconds = generate_error(client, "phang")
        check(error.code == "EXECUTOR_HUNG" and "stuck in step 3, layer 1 attention (compute)" in str(error),
              f"the process hang's report: {error.code} {error}")
        print(f"e. reported after {seconds:.2f} s: {error}")
        reply = client.terminate("phang")
        check(reply["unloaded"], f"terminating the hung process model: {reply}")
        poll(f"executor process {pid} gone", 10, lambda: not os.path.exists(f"/proc/{pid}"))
        # f. a launch on GPUs where no worker has one (one replica, or a rank of a
        # tensor-parallel one): refused, each worker's reason named
        try:
            client.launch("ongpu", path, device="gpu")
            check(False, "a launch on GPUs was accepted by workers without GPUs")
        except XinfError as error:
            check(error.code == "NO_WORKER" and "a replica on a GPU needs one of its own" in str(error)
                  and "w1: no GPUs" in str(error), f"the refusal: {error.code} {error}")
            print(f"f. {error.code}: {str(error)[:160]}...")
        try:
            client.launch("ongpu", path, device="gpu", n_worker=2)
            check(False, "a tensor-parallel launch on GPUs was accepted")
        except XinfError as error:
            check(error.code == "NO_WORKER" and "rank 0 of 2: a replica on a GPU needs one of its own" in str(error)
                  and "w1: no GPUs" in str(error), f"the tensor-parallel refusal: {error.code} {error}")
        for proc in (w1, w2, w3, w4, w5, w6, supervisor):
            check(proc.stop() == 0, f"{proc.name} did not exit cleanly")
    print("test_watchdog: OK")


if __name__ == "__main__":
    main()
