"""Multi-process test: the supervisor's journal (--state-dir,
actors/xinf_journal.h) on 127.0.0.1.

  a. supervisor S with --state-dir, worker w1, model m launched; kill -9
     of S and a restart on the same port and directory: the events of the
     first run are back (w1's `joined`, with its time), m is adopted from w1
     and generates the same tokens;
  b. kill -9 of S and of w1, S restarted, a new worker w2: m comes back
     from the journal and, once the restart window passes with no worker
     reporting it, is relaunched on w2 (event `relaunching`) and generates;
  c. terminate m, restart S: m stays gone;
  d. a journal with a garbage line and a garbage models file: S starts,
     logs what it skipped, and keeps the good lines.

Waits poll with deadlines; heartbeats are 200 ms x 3."""
import os
import subprocess
import sys
import tempfile
import time

from test_cluster import poll, run_logged, start_journaled_supervisor, start_worker, workers_by_name
from xinf_testlib import check, free_port, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import XinfClient, XinfError  # noqa: E402



def models(client):
    return {model["uid"]: model for model in client.list_models()}


def ready(client, uid):
    try:
        return models(client).get(uid, {}).get("state") == "ready"
    except XinfError:
        return False


def main():
    build_dir = sys.argv[1]
    node_bin = tool(build_dir, "xinf-node")
    with tempfile.TemporaryDirectory(prefix="xinf-journal-") as workdir:
        path = os.path.join(workdir, "small.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "128", "--layers", "2",
                        "--heads", "4", "--kv-heads", "2", "--ffn", "256", "--vocab", "512", "--context", "1024",
                        "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)
        state_dir = os.path.join(workdir, "state")
        port = free_port()
        endpoint = f"tcp://127.0.0.1:{port}"

        def supervisor(label):
            return start_journaled_supervisor(node_bin, port, state_dir, label)

        # a. a restart keeps the events and adopts the model
        first = supervisor("S1")
        w1 = start_worker(node_bin, endpoint, "w1", model_dirs=[workdir])
        client = XinfClient(endpoint, timeout_ms=5000)
        poll("w1 alive", 10, lambda: workers_by_name(client).get("w1", {}).get("state") == "alive")
        client.launch("m", path, threads=1, max_seqs=2)
        client.wait_ready("m", stall_s=30)
        expected = client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=8)["tokens"]
        joined = [event for event in client.events()["events"] if event["kind"] == "joined"]
        first.kill()
        second = supervisor("S2")
        poll("m ready after the restart", 20, lambda: ready(client, "m"))
        history = client.events()["events"]
        check(any(event["kind"] == "joined" and event["node"] == "w1" and event["time_ms"] == joined[0]["time_ms"]
                  for event in history), f"the first run's events are not back: {history}")
        reply = client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=8)
        check(reply["tokens"] == expected, f"m after the restart: {reply}")
        print(f"a. restart: {len(history)} events incl. the first run's, m adopted from w1 and the same tokens")

        # b. supervisor and worker both gone: the journal brings m back on a new worker
        second.kill()
        w1.kill()
        third = supervisor("S3")
        restarted = time.monotonic()
        w2 = start_worker(node_bin, endpoint, "w2", model_dirs=[workdir])
        listed = models(client).get("m")
        check(listed is not None and listed["state"] == "relaunching" and "journal" in listed["error"],
              f"m right after the restart: {listed}")
        poll("m ready on w2", 30, lambda: [m for m in [models(client).get("m")] if m and m["state"] == "ready"
                                           and m["replicas"][0]["worker"] == "w2"])
        took = time.monotonic() - restarted
        reply = client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=8)
        check(reply["tokens"] == expected and reply["worker"] == "w2", f"m relaunched from the journal: {reply}")
        check(any(event["kind"] == "relaunching" and event["node"] == "w2" for event in client.events()["events"]),
              "no relaunching event")
        print(f"b. supervisor and w1 killed: m restored from the journal and relaunched on w2, ready "
              f"{took:.1f} s after the restart (the restart window first)")

        # c. terminated stays terminated
        client.terminate("m")
        third.stop()
        fourth = supervisor("S4")
        poll("S4 answering", 10, lambda: client.ping()["role"] == "supervisor")
        check("m" not in models(client), f"a terminated model came back: {models(client)}")
        print("c. terminate, restart: m stays gone")
        fourth.stop()

        # d. garbage in the journal is skipped, not fatal
        with open(os.path.join(state_dir, "events.jsonl"), "a") as events:
            events.write("{not json\n")
        with open(os.path.join(state_dir, "models.json"), "w") as saved:
            saved.write("[{\"uid\": 5}, 7")
        fifth = supervisor("S5")
        poll("S5 answering", 10, lambda: client.ping()["role"] == "supervisor")
        log = fifth.log("err")
        check("skipped" in log and "models.json" in log, f"S5 did not say what it skipped: {log[-2000:]}")
        check(len(client.events()["events"]) > 3, "the good events were lost with the bad line")
        print("d. a garbage line and models file: skipped with a log line, the rest kept")
        client.close()
        check(w2.stop() == 0 and fifth.stop() == 0, "w2 or S5 did not exit 0")
    print("PASS: the journal keeps events and launched models across supervisor restarts")


if __name__ == "__main__":
    run_logged(main)
