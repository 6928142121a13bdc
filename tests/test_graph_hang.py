"""Multi-process test: a hang in a CUDA graph's capture or replay is
reported, and the supervisor relaunches the replica once without graphs
(issue #15 item 3), on the CPU backend, real processes on 127.0.0.1.

The CPU backend has no graphs, but its executor marks the points where a
GPU executor would capture a decode step's graph (the second decode step
of a batch bucket) and replay it (every later one); XINF_FAULT_HANG
phase=capture|replay hangs there, as a stuck graph would.

  a. a plain replica (executor on a thread) hangs in step 5, a graph
     replay: the request ends with EXECUTOR_HUNG naming rank 0, the graph
     replay of step 5 and bucket 1, and the hint to relaunch with
     --disable-cuda-graph; the supervisor logs the retry and relaunches
     the replica on its worker without graphs (its note says so, the
     model lists cuda_graphs false); it then serves the same greedy tokens
     as a replica launched with disable_cuda_graph and as one with graphs
     on (no fault);
  b. an executor process hangs in step 3, a graph capture (seen through
     its beats): the same report for the capture, the same relaunch, and
     the relaunched replica serves the same tokens;
  c. xinf-cli launch --disable-cuda-graph of a model whose capture would
     hang: graphs are off (listed so), the hang point is never reached,
     and it serves;
  d. a replica that hangs in a capture, and after its relaunch without
     graphs in a layer's compute (two faults): the second hang fails it
     for good (state failed, the compute report, one retry logged).

Waits poll with deadlines."""
import os
import subprocess
import sys
import tempfile
import time

from test_cluster import poll, start_supervisor, start_worker, workers_by_name
from xinf_testlib import check, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import XinfClient, XinfError  # noqa: E402

PROMPT = [1, 2, 3, 4]


def model_of(client, uid):
    return next((m for m in client.list_models() if m["uid"] == uid), None)


def hung_request(client, uid):
    """Runs a request that must end with the executor hung; returns its text."""
    started = time.monotonic()
    try:
        reply = client.generate(uid, prompt_tokens=PROMPT, max_tokens=16, timeout_ms=60000)
        check(False, f"{uid}: the request was served ({reply.get('finish_reason')}) though its graph hangs")
    except XinfError as error:
        check(error.code == "EXECUTOR_HUNG", f"{uid}: the hung request's error: {error.code} {error}")
        return str(error), time.monotonic() - started


def relaunched_without_graphs(client, uid):
    """Polls until uid's replica is ready again after its retry; returns the model."""
    def ready_again():
        model = model_of(client, uid)
        if model and model["state"] == "ready" and "without CUDA graphs" in model["replicas"][0].get("note", ""):
            return model
        return None
    model = poll(f"{uid} relaunched without CUDA graphs and ready", 60, ready_again)
    check(model.get("cuda_graphs") is False, f"{uid} after the retry still lists CUDA graphs on: {model}")
    return model


def main():
    build_dir = sys.argv[1]
    node_bin = tool(build_dir, "xinf-node")
    with tempfile.TemporaryDirectory(prefix="xinf-graph-hang-") as workdir:
        path = os.path.join(workdir, "small.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "128", "--layers", "2",
                        "--heads", "4", "--kv-heads", "2", "--ffn", "256", "--vocab", "512", "--context", "1024",
                        "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)
        supervisor = start_supervisor(node_bin)
        g1 = start_worker(node_bin, supervisor.endpoint, "g1", model_dirs=[workdir],
                          env={"XINF_FAULT_HANG": "model=replay,step=5,phase=replay"})
        g2 = start_worker(node_bin, supervisor.endpoint, "g2", model_dirs=[workdir],
                          env={"XINF_EXECUTOR": "process", "XINF_FAULT_HANG": "model=capture,step=3,phase=capture"})
        g3 = start_worker(node_bin, supervisor.endpoint, "g3", model_dirs=[workdir],
                          env={"XINF_FAULT_HANG": "model=cli,step=3,phase=capture"})
        g4 = start_worker(node_bin, supervisor.endpoint, "g4", model_dirs=[workdir],
                          env={"XINF_FAULT_HANG": "model=twice,step=3,phase=capture;"
                                                  "model=twice,step=3,phase=compute,layer=0"})
        workers = ("g1", "g2", "g3", "g4")
        client = XinfClient(supervisor.endpoint, timeout_ms=5000)
        poll("g1 .. g4 alive", 20, lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive"
                                               for n in workers))

        # The tokens to expect: graphs off by the launch option, and on without a fault
        client.launch("eager", path, worker="g1", threads=1, stall_timeout_ms=1000, disable_cuda_graph=True)
        client.launch("graphs", path, worker="g3", threads=1, stall_timeout_ms=1000)
        client.wait_ready("eager", stall_s=30)
        client.wait_ready("graphs", stall_s=30)
        check(model_of(client, "eager").get("cuda_graphs") is False, f"eager: {model_of(client, 'eager')}")
        check(model_of(client, "graphs").get("cuda_graphs") is True, f"graphs: {model_of(client, 'graphs')}")
        expected = client.generate("eager", prompt_tokens=PROMPT, max_tokens=16)["tokens"]
        graph_tokens = client.generate("graphs", prompt_tokens=PROMPT, max_tokens=16)["tokens"]
        check(len(expected) == 16 and graph_tokens == expected, f"graphs on {graph_tokens} != off {expected}")

        # a. a replay hangs in step 5
        client.launch("replay", path, worker="g1", threads=1, stall_timeout_ms=1000)
        client.wait_ready("replay", stall_s=30)
        text, seconds = hung_request(client, "replay")
        for part in ("rank 0 of replica 0 of replay", "stuck in graph replay of step 5 (batch bucket 1)",
                     "stall_timeout_ms 1000", "relaunch with --disable-cuda-graph"):
            check(part in text, f"'{part}' is not in the report: {text}")
        check(seconds < 20, f"the hang was reported after {seconds:.1f} s (stall_timeout_ms 1 s)")
        print(f"a. reported after {seconds:.2f} s: {text}")
        model = relaunched_without_graphs(client, "replay")
        check(model["replicas"][0]["worker"] == "g1", f"relaunched elsewhere: {model}")
        poll("the supervisor's log line of the retry", 10, lambda: "replay replica=0: its CUDA graph hung, relaunching "
             "it once on g1 with disable_cuda_graph" in supervisor.log("err"))
        tokens = client.generate("replay", prompt_tokens=PROMPT, max_tokens=16)["tokens"]
        check(tokens == expected, f"after the retry {tokens} != {expected}")
        print(f"a. relaunched without CUDA graphs ({model['replicas'][0]['note']}); the same 16 greedy tokens")

        # b. a capture hangs in step 3 of an executor process
        client.launch("capture", path, worker="g2", threads=1, stall_timeout_ms=1000)
        client.wait_ready("capture", stall_s=30)
        text, seconds = hung_request(client, "capture")
        for part in ("rank 0 of replica 0 of capture", "stuck in graph capture of step 3 (batch bucket 1)",
                     "relaunch with --disable-cuda-graph"):
            check(part in text, f"'{part}' is not in the report: {text}")
        print(f"b. reported after {seconds:.2f} s: {text}")
        relaunched_without_graphs(client, "capture")
        tokens = client.generate("capture", prompt_tokens=PROMPT, max_tokens=16)["tokens"]
        check(tokens == expected, f"the process executor after the retry {tokens} != {expected}")
        print("b. the executor process relaunched without CUDA graphs; the same tokens")

        # c. xinf-cli launch --disable-cuda-graph: the capture point is never reached
        cli = tool(build_dir, "xinf-cli")
        result = subprocess.run([cli, "-e", supervisor.endpoint, "launch", "cli", path, "--worker", "g3",
                                 "--threads", "1", "--stall-timeout-ms", "1000", "--disable-cuda-graph"],
                                capture_output=True, text=True, timeout=60)
        check(result.returncode == 0, f"xinf-cli launch --disable-cuda-graph: {result.returncode} {result.stderr}")
        check(model_of(client, "cli").get("cuda_graphs") is False, f"cli: {model_of(client, 'cli')}")
        tokens = client.generate("cli", prompt_tokens=PROMPT, max_tokens=16)["tokens"]
        check(tokens == expected, f"cli {tokens} != {expected}")
        check("injected hang" not in g3.log("err"), "g3's capture point was reached with graphs off")
        print("c. xinf-cli --disable-cuda-graph: graphs off, no capture, the same tokens")

        # d. the second hang, after the retry without graphs, fails the replica
        client.launch("twice", path, worker="g4", threads=1, stall_timeout_ms=1000)
        client.wait_ready("twice", stall_s=30)
        text, _ = hung_request(client, "twice")
        check("stuck in graph capture of step 3" in text, f"twice's first report: {text}")
        relaunched_without_graphs(client, "twice")
        text, _ = hung_request(client, "twice")
        check("stuck in step 3, layer 0 attention (compute)" in text and "relaunch the model" in text,
              f"twice's second report: {text}")
        model = poll("twice failed for good", 15, lambda: (lambda m: m if m and m["state"] == "failed" else None)
                     (model_of(client, "twice")))
        check("layer 0 attention (compute)" in model.get("error", ""), f"twice's error: {model}")
        retries = supervisor.log("err").count("twice replica=0: its CUDA graph hung, relaunching it once")
        check(retries == 1, f"twice was retried {retries} times")
        print(f"d. the second hang failed it for good: {model['error']}")
        reply = client.terminate("twice")
        check(reply["unloaded"], f"terminating twice: {reply}")

        for proc in (g1, g2, g3, g4, supervisor):
            check(proc.stop() == 0, f"{proc.name} did not exit cleanly")
    print("test_graph_hang: OK")


if __name__ == "__main__":
    main()
