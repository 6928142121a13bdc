"""Requests in flight across supervisor restarts, on real nodes:

  a. SIGTERM of the supervisor: a plain ZeroMQ client (no routing id, the
     envelope.md example's socket) gets ERROR RESTARTING for its request in
     flight before the supervisor exits;
  b. right after the restart, a GENERATE for the model gets a retryable
     error (MODEL_NOT_READY with retry_after_ms) until the workers have
     re-registered it, never UNKNOWN_MODEL;
  c. kill -9 of the supervisor with requests in flight from a client that
     set its routing id: the workers report the runs, the new supervisor
     adopts them and the client gets each answer, once."""
import os
import signal
import subprocess
import sys
import tempfile
import time

import msgpack
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from test_cluster import poll, run_logged, start_supervisor, start_worker, workers_by_name  # noqa: E402
from xinf_testlib import check, tool  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402
from test_serving import collect, make_model  # noqa: E402


def plain_generate(endpoint, corr, max_tokens, deadline_ms):
    """A DEALER as in envelope.md's example: no routing id."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    header = {"type": "GENERATE", "corr": corr, "sender": "plain", "deadline": deadline_ms,
              "body": {"uid": "m", "prompt_tokens": [1, 2, 3], "max_tokens": max_tokens}}
    sock.send_multipart([b"XINF\x02" + msgpack.packb(header)])
    return sock


def ready(client):
    try:
        return [m for m in client.list_models() if m["state"] == "ready"]
    except XinfError:
        return None


def scenario_graceful(node_bin, supervisor, port):
    sock = plain_generate(supervisor.endpoint, 1, 4000, 60000)
    client = XinfClient(supervisor.endpoint, timeout_ms=15000)
    poll("the plain request running", 30, lambda: client.cluster_info()["requests"]["running"] == 1)
    client.close()
    supervisor.signal(signal.SIGTERM)
    check(sock.poll(30000), "the plain client got no answer when the supervisor stopped")
    head = sock.recv_multipart()[0]
    check(head[:5] == b"XINF\x02", f"plain client: frame 0 starts {head[:8]!r}")
    header = msgpack.unpackb(head[5:], raw=False)
    check(header["type"] == "ERROR" and header["corr"] == 1 and header["body"]["code"] == "RESTARTING",
          f"plain client on SIGTERM: {header}")
    sock.close(0)
    check(supervisor.process.wait(timeout=30) == 0, "the supervisor did not exit 0")
    print(f"SIGTERM: the plain client got {header['body']['code']}: {header['body']['message']}")
    return start_supervisor(node_bin, port=port)


def scenario_window(supervisor):
    client = XinfClient(supervisor.endpoint, timeout_ms=15000)
    try:
        client.generate("m", prompt_tokens=[1], max_tokens=1)
        print("after the restart: the model was re-registered before the first GENERATE")
    except XinfError as error:
        check(error.code == "MODEL_NOT_READY", f"a GENERATE right after the restart: {error}")
        print(f"right after the restart: {error}")
    poll("the adopted model", 30, lambda: ready(client))
    client.close()


def scenario_kill(node_bin, supervisor, port):
    client = XinfClient(supervisor.endpoint, timeout_ms=15000)
    corrs = [client.generate_start("m", prompt_tokens=[1, 2, index], max_tokens=400, stream=True, deadline_ms=120000)
             for index in range(2)]
    # Both run on their workers once a token of each came back (a RUN the
    # dying supervisor had only queued would be lost: client.md)
    streaming = set()
    deadline = time.monotonic() + 30
    while streaming != set(corrs):
        check(time.monotonic() < deadline, f"tokens of {set(corrs) - streaming} did not come")
        message = client.next_message(100)
        if message and message[0] == "GENERATE_TOKEN":
            streaming.add(message[1])
    started = time.monotonic()
    supervisor.kill()
    supervisor = start_supervisor(node_bin, port=port)
    answers = collect(client, corrs, 60)
    for corr, (kind, body) in answers.items():
        check(kind == "GENERATE_REPLY" and (len(body["tokens"]) == 400 or body["finish_reason"] == "stop"), f"corr {corr} across kill -9: {kind} {body}")
    print(f"kill -9: both requests in flight answered by the new supervisor within {time.monotonic() - started:.1f} s")
    info = XinfClient(supervisor.endpoint, timeout_ms=15000)
    stats = info.cluster_info()["requests"]
    check(stats["running"] == 0 and stats["by_code"].get("OK", 0) >= 2, f"counters after the restart: {stats}")
    info.close()
    client.close()
    return supervisor


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-serving-restart-") as workdir:
        path = os.path.join(workdir, "medium.gguf")
        make_model(build_dir, path)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        port = int(supervisor.endpoint.rsplit(":", 1)[1])
        workers = [start_worker(node_bin, supervisor.endpoint, name) for name in ("r1", "r2")]
        client = XinfClient(supervisor.endpoint, timeout_ms=15000)
        poll("2 workers", 30, lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive"
                                          for n in ("r1", "r2")))
        client.launch("m", path, replicas=2, threads=1)
        client.wait_ready("m", stall_s=30)
        client.close()
        supervisor = scenario_graceful(node_bin, supervisor, port)
        scenario_window(supervisor)
        supervisor = scenario_kill(node_bin, supervisor, port)
        check(all(worker.stop() == 0 for worker in workers) and supervisor.stop() == 0, "a node did not exit 0")
    print("PASS: requests in flight across supervisor restarts get one answer each")


if __name__ == "__main__":
    run_logged(main)
