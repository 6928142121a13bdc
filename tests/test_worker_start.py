"""Multi-process test: a worker never waits in silence for its supervisor
(issue: "No silent start"), on 127.0.0.1.

  a. nothing listens on the supervisor's port: within seconds the worker
     prints that the connection is refused, naming the endpoint, and keeps
     trying;
  b. a program that is not xinf holds the port: the worker says that no
     xinf node answers there;
  c. the supervisor of (a) starts late: the worker registers once (one
     `registered` log line and one `joined` event, no `re-registered`);
  d. a second worker with the same node name is refused once, with the fix
     (--node-name), on its stdout and in the supervisor's log, while it
     retries quietly;
  e. xinf-cli against a closed port names the cause after its timeout.

The delays until the messages appear are printed; nothing sleeps a fixed
time: every wait polls with a deadline."""
import os
import re
import socket
import subprocess
import sys
import threading
import time

from test_cluster import BEAT_ARGS, Proc, dump_logs, poll, start_worker, workers_by_name
from xinf_testlib import check, free_port, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import XinfClient  # noqa: E402



class NotXinf:
    """A TCP listener that accepts connections and answers garbage."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                conn.close()
            except OSError:
                return

    def stop(self):
        self.stopped = True
        self.sock.close()


def timed_output(process, pattern, timeout, which="out"):
    started = time.monotonic()
    match = process.wait_output(pattern, timeout=timeout, which=which)
    return match, time.monotonic() - started


def main():
    build_dir = sys.argv[1]
    node_bin = tool(build_dir, "xinf-node")
    cli_bin = tool(build_dir, "xinf-cli")

    # a. refused
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    early = start_worker(node_bin, endpoint, "early")
    match, delay = timed_output(early, r"no registration with the supervisor after \d+ s: (.*)", 20)
    said = match.group(1)
    check("connection refused" in said and endpoint in said and "still trying" in said,
          f"refused supervisor port: worker said {said!r}")
    print(f"a. refused: said after {delay:.1f} s: {said}")

    # b. not an xinf node
    impostor = NotXinf()
    confused = start_worker(node_bin, f"tcp://127.0.0.1:{impostor.port}", "confused")
    match, delay = timed_output(confused, r"no registration with the supervisor after \d+ s: (.*)", 20)
    said = match.group(1)
    check("does not speak ZeroMQ" in said and str(impostor.port) in said,
          f"a non-xinf program on the port: worker said {said!r}")
    print(f"b. not xinf: said after {delay:.1f} s: {said}")
    confused.stop()
    impostor.stop()

    # c. the supervisor starts late, on the port the worker dials
    supervisor = Proc("supervisor", [node_bin, "-p", str(port), "--bind", "127.0.0.1", "--node-name", "sup",
                                     "--log-level", "info", *BEAT_ARGS])
    supervisor.wait_output(r"listening on tcp://")
    client = XinfClient(endpoint, timeout_ms=2000)
    poll("the early worker alive", 20, lambda: workers_by_name(client).get("early", {}).get("state") == "alive")
    early.wait_output(r"registered with", timeout=10)
    # One registration: wait for the next heartbeat-driven state, then count
    poll("a second heartbeat of early", 10,
         lambda: workers_by_name(client)["early"]["registered_ms"] > 400)
    log = supervisor.log("err")
    registered = len(re.findall(r"worker registered node=early", log))
    again = len(re.findall(r"worker re-registered node=early", log))
    joined = [event for event in client.events()["events"] if event["node"] == "early"]
    check(registered == 1 and again == 0, f"late supervisor: {registered} registrations and {again} "
          f"re-registrations of 'early' in its log, wanted 1 and 0")
    check([event["kind"] for event in joined] == ["joined"], f"late supervisor: events of early: {joined}")
    print(f"c. late supervisor: one registration, events {[event['kind'] for event in joined]}")

    # d. a duplicate name: refused once, with the fix, retried quietly
    twin = Proc("twin", [node_bin, "--role=worker", "-e", endpoint, "--node-name", "early", *BEAT_ARGS,
                         "-H", "127.0.0.1", "--log-level", "debug"], base="twin")
    match = twin.wait_output(r"refused the registration \(DUPLICATE_NODE\): (.*)", timeout=20)
    check("--node-name" in match.group(1), f"duplicate name: the refusal names no fix: {match.group(0)!r}")
    # at least two more refusals after the first, seen in the twin's debug log
    poll("two quiet retries of the twin", 20,
         lambda: len(re.findall(r"registration refused again", twin.log("err"))) >= 2)
    said = len(re.findall(r"refused the registration", twin.log("out")))
    logged = len(re.findall(r"registration refused node=early", supervisor.log("err")))
    check(said == 1 and logged == 1, f"duplicate name: said {said} times by the twin, logged {logged} times by "
          f"the supervisor, wanted once each")
    print(f"d. duplicate name: refused once: {match.group(1)}")
    twin.stop()

    # e. xinf-cli at a closed port says why after its timeout
    closed = f"tcp://127.0.0.1:{free_port()}"
    result = subprocess.run([cli_bin, "-e", closed, "--timeout", "500", "workers"], capture_output=True, text=True,
                            timeout=30)
    check(result.returncode != 0 and "connection refused" in result.stderr and closed in result.stderr,
          f"xinf-cli at a closed port: rc {result.returncode}, stderr {result.stderr!r}")
    print(f"e. xinf-cli: {result.stderr.strip().splitlines()[-1]}")
    early.stop()
    supervisor.stop()
    forget_lost(node_bin)
    print("PASS")


def forget_lost(node_bin):
    """f. --forget-lost-ms: a worker lost for that long leaves the table,
    with a `forgotten` event; the others stay."""
    supervisor = Proc("forgetful", [node_bin, "-p", "0", "--bind", "127.0.0.1", "--node-name", "sup",
                                    "--forget-lost-ms", "1000", *BEAT_ARGS])
    endpoint = "tcp://127.0.0.1:" + supervisor.wait_output(r"listening on tcp://[^\s:]+:(\d+)").group(1)
    client = XinfClient(endpoint, timeout_ms=2000)
    workers = {name: start_worker(node_bin, endpoint, name) for name in ("stays", "goes")}
    poll("2 alive workers", 15, lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive"
                                            for n in workers))
    workers["goes"].kill()
    poll("goes lost", 10, lambda: workers_by_name(client)["goes"]["state"] == "lost")
    lost_at = time.monotonic()
    poll("goes forgotten", 10, lambda: "goes" not in workers_by_name(client))
    events = [event for event in client.events()["events"] if event["kind"] == "forgotten"]
    check(len(events) == 1 and events[0]["node"] == "goes" and "--forget-lost-ms 1000" in events[0]["detail"],
          f"forgotten events: {events}")
    check(workers_by_name(client)["stays"]["state"] == "alive", "the other worker was dropped too")
    print(f"f. forgotten {time.monotonic() - lost_at:.1f} s after lost: {events[0]['detail']}")
    client.close()
    check(workers["stays"].stop() == 0 and supervisor.stop() == 0, "stays or the supervisor did not exit 0")


if __name__ == "__main__":
    try:
        main()
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            dump_logs()
        raise
