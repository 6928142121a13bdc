"""Multi-process test: a standby supervisor pair (xinf_bstar.h, the ZeroMQ
Guide's Binary Star) on 127.0.0.1.

  a. primary P and backup B: P becomes active, B passive; a worker with
     -e P,B registers with P; a model launched there generates; B answers
     a client's request with ERROR STANDBY naming P;
  b. kill -9 of P while a client streams through it: the worker turns to B (which holds P's event history,
     replicated while it stood by), B takes over (the peer silent and
     a request here), the worker registers there with its replica (adopted,
     no reload) and the model generates through B; the time from the kill
     to the first answer through B is printed, as are the requests a client
     sent meanwhile and how each ended; the streaming client (its routing
     id set) connects to B and gets its one answer, with every token;
  c. xinf-cli -e P,B finds the active one;
  d. P restarted as primary: it sees B active and stands by (no second
     active supervisor);
  e. B and w1 killed at once, a new worker w2: P takes over with the models
     B replicated to it and relaunches m on w2 after the restart window.

Waits poll with deadlines; heartbeats are 200 ms x 3."""
import os
import subprocess
import sys
import tempfile
import time

from test_cluster import BEAT_ARGS, INTERVAL_MS, LIVENESS, Proc, poll, run_logged, start_worker, workers_by_name
from xinf_testlib import check, free_port, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import XinfClient, XinfError, decode_reply, encode_message  # noqa: E402
import zmq  # noqa: E402



def supervisor(node_bin, name, port, peer_port, role):
    node = Proc(name, [node_bin, "-p", str(port), "--bind", "127.0.0.1", "--node-name", name, *BEAT_ARGS,
                       "--standby", role, "--standby-peer", f"tcp://127.0.0.1:{peer_port}"])
    node.wait_output(r"listening on tcp://")
    return node


def standby_state(endpoint):
    with XinfClient(endpoint, timeout_ms=1000) as client:
        return client.ping().get("standby")


def main():
    build_dir = sys.argv[1]
    node_bin = tool(build_dir, "xinf-node")
    with tempfile.TemporaryDirectory(prefix="xinf-standby-") as workdir:
        path = os.path.join(workdir, "small.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "128", "--layers", "2",
                        "--heads", "4", "--kv-heads", "2", "--ffn", "256", "--vocab", "512", "--context", "1024",
                        "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)
        p_port, b_port = free_port(), free_port()
        p_end, b_end = f"tcp://127.0.0.1:{p_port}", f"tcp://127.0.0.1:{b_port}"
        primary = supervisor(node_bin, "P", p_port, b_port, "primary")
        backup = supervisor(node_bin, "B", b_port, p_port, "backup")
        poll("P active and B passive", 10, lambda: standby_state(p_end) == "active"
             and standby_state(b_end) == "passive")
        worker = start_worker(node_bin, f"{p_end},{b_end}", "w1", model_dirs=[workdir])
        client = XinfClient(p_end, timeout_ms=5000)
        poll("w1 alive at P", 10, lambda: workers_by_name(client).get("w1", {}).get("state") == "alive")
        client.launch("m", path, threads=1, max_seqs=4)
        client.wait_ready("m", stall_s=30)
        expected = client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=8)["tokens"]
        with XinfClient(b_end, timeout_ms=2000) as other:
            try:
                other.cluster_info()
                check(False, "the passive backup served CLUSTER_INFO")
            except XinfError as error:
                check(error.code == "STANDBY" and p_end in str(error), f"B's answer: {error}")
                print(f"a. P active, B passive; B answers: {error}")
        client.close()

        # b. kill -9 of the primary, with a stream in flight through it: a
        # client with a routing id, connected to P, reading tokens
        streamer = zmq.Context.instance().socket(zmq.DEALER)
        streamer.setsockopt(zmq.LINGER, 0)
        streamer.setsockopt(zmq.ROUTING_ID, b"xc-standby-stream")
        streamer.connect(p_end)
        streamer.send_multipart(encode_message("GENERATE", {"uid": "m", "prompt_tokens": [1, 2, 3],
                                                            "max_tokens": 1000, "stream": True},
                                               corr=77, deadline=60000))
        check(streamer.poll(10000), "no token of the stream through P within 10 s")
        first, _ = decode_reply(streamer.recv_multipart())
        check(first["type"] == "GENERATE_TOKEN", f"the stream's first message: {first['type']} {first['body']}")
        primary.kill()
        killed = time.monotonic()
        killed_wall_ms = time.time() * 1000
        outcomes = {}
        first_answer = None
        fallback = XinfClient(b_end, timeout_ms=1000)
        deadline = killed + 30
        while time.monotonic() < deadline:
            try:
                reply = fallback.generate("m", prompt_tokens=[1, 2, 3], max_tokens=8)
                first_answer = time.monotonic() - killed
                check(reply["tokens"] == expected, f"after the fail-over: other tokens {reply['tokens']}")
                break
            except XinfError as error:
                outcomes[error.code] = outcomes.get(error.code, 0) + 1
            time.sleep(0.05)  # the retry interval; the deadline bounds the loop
        check(first_answer is not None, f"no answer through B within 30 s after the kill: {outcomes}")
        check(standby_state(b_end) == "active", "B is not active after the fail-over")
        adopted = "adopted model uid=m" in backup.log("err")
        check(adopted, "B did not adopt the worker's replica")
        intervals = first_answer * 1000 / INTERVAL_MS
        print(f"b. kill -9 P: first answer through B after {first_answer:.2f} s ({intervals:.1f} heartbeat "
              f"intervals of {INTERVAL_MS} ms, liveness {LIVENESS}); requests meanwhile ended: {outcomes}; "
              f"the replica was adopted, not reloaded")
        history = fallback.events()["events"]
        events = [event for event in history if event["kind"] == "standby"]
        check(any("fail-over" in event["detail"] for event in events), f"B's standby events: {events}")
        # P's history was replicated to B while it was passive: w1 joined P
        copied = [event for event in history if event["kind"] == "joined" and event["node"] == "w1"
                  and event["time_ms"] < killed_wall_ms]
        check(copied, f"B's events lack P's 'joined w1' from before the kill: {history}")
        print(f"   B's events hold P's history ({copied[0]['kind']} {copied[0]['node']} before the kill) and "
              f"its own: {events[-1]['detail']}")
        fallback.close()

        # The stream's client turns to B with the same routing id: B adopted
        # the run from the worker's HELLO and delivers its one answer there
        streamer.connect(b_end)
        reply = None
        stream_deadline = killed + 30
        while reply is None and time.monotonic() < stream_deadline:
            if not streamer.poll(200):
                continue
            message, _ = decode_reply(streamer.recv_multipart())
            if message["corr"] == 77 and message["type"] != "GENERATE_TOKEN":
                reply = message
        check(reply is not None, "the stream in flight at the kill got no answer through B within 30 s")
        check(reply["type"] == "GENERATE_REPLY" and len(reply["body"]["tokens"]) == 1000,
              f"the stream's answer through B: {reply['type']} {str(reply['body'])[:300]}")
        print(f"   a stream in flight through P at the kill (client routing id set, then connected to B): its "
              f"answer, all 1000 tokens, came through B {time.monotonic() - killed:.2f} s after the kill")
        streamer.close()

        # c. xinf-cli -e P,B finds the active one (B)
        result = subprocess.run([tool(build_dir, "xinf-cli"), "-e", f"{p_end},{b_end}", "workers"],
                                capture_output=True, text=True, timeout=60)
        check(result.returncode == 0 and "supervisor B" in result.stdout, f"xinf-cli -e P,B: {result.stdout} "
              f"{result.stderr}")
        print("c. xinf-cli -e P,B reached the active B")

        # d. P restarted: B stays active, P stands by
        primary = supervisor(node_bin, "P", p_port, b_port, "primary")
        poll("P passive beside the active B", 10, lambda: standby_state(p_end) == "passive")
        check(standby_state(b_end) == "active", "B stepped down for the restarted primary")
        print("d. P restarted: passive beside the active B")

        # e. the active B and w1 die together: P takes over on w2's HELLO with the
        # models B replicated to it, and relaunches m on w2 after the restart window
        backup.kill()
        worker.kill()
        killed = time.monotonic()
        w2 = start_worker(node_bin, f"{p_end},{b_end}", "w2", model_dirs=[workdir])
        with XinfClient(p_end, timeout_ms=2000) as client:
            def m_on_w2():
                try:
                    listed = {model["uid"]: model for model in client.list_models()}.get("m")
                except XinfError:
                    return False
                return listed and listed["state"] == "ready" and listed["replicas"][0]["worker"] == "w2"
            poll("m ready on w2 through P", 40, m_on_w2)
            reply = client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=8)
            check(reply["tokens"] == expected and reply["worker"] == "w2", f"m after B and w1 died: {reply}")
        print(f"e. B and w1 killed: P took over with B's models and served m from w2 "
              f"{time.monotonic() - killed:.1f} s later")
        check(w2.stop() == 0, "w2 did not exit 0")
        check(primary.stop() == 0, "P did not exit 0")
    print("PASS: the backup takes over from a killed primary, the worker and its replica follow")


if __name__ == "__main__":
    run_logged(main)
