#!/usr/bin/python3
"""xinf_bench_faults: a load-plus-faults run against a local cluster.

Starts a supervisor and workers on 127.0.0.1 (fast heartbeats), launches a
small generated model with one replica per worker, and sends REQUESTS
GENERATEs from CLIENTS clients (each keeping WINDOW in flight, half of them
streaming) while it injects faults at fixed points of the run:

    15%  kill -9 of a worker (started again at once: it comes back empty)
    35%  SIGSTOP of another worker for 1.5 s (it is lost, then rejoins)
    55%  kill -9 of the supervisor, started again on the same port
    all  about 2% of streaming requests: the client disconnects after the
         first token (its requests are then "abandoned": nobody to answer)

Clients set a routing id and, when their socket reconnects (the supervisor
restart), wait for the workers to re-register (2 x liveness x heartbeat)
and send their still unanswered requests again with the same corr
(client.md, "Supervisor restarts"). Every request must end with exactly
one terminal answer (GENERATE_REPLY or ERROR) within its deadline, or have
been abandoned by its client. Prints the counts; exit status 1 when a
request hung (no answer by its deadline + 10 s) or got two answers.

    python3 tools/xinf_bench_faults.py --build build --requests 3000
"""
import argparse
import collections
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xinf_client import XinfClient, XinfError, decode_reply, encode_message  # noqa: E402

INTERVAL_MS = 200
LIVENESS = 3


class Node:
    """An xinf-node child process logging to files in log_dir."""

    def __init__(self, binary, log_dir, name, args):
        self.name = name
        self.out = os.path.join(log_dir, f"{name}.out")
        with open(self.out, "ab") as out, open(os.path.join(log_dir, f"{name}.err"), "ab") as err:
            self.process = subprocess.Popen([binary, *args], stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def wait_for(self, pattern, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.out, errors="replace") as out:
                match = re.search(pattern, out.read())
            if match:
                return match
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not print {pattern!r} within {timeout} s")

    def signal(self, number):
        if self.process.poll() is None:
            self.process.send_signal(number)

    def kill(self):
        self.signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            return -1


class Cluster:
    def __init__(self, build, log_dir, workers):
        self.binary = os.path.join(build, "tools", "xinf-node")
        self.log_dir = log_dir
        self.beats = ["--heartbeat-ms", str(INTERVAL_MS), "--liveness", str(LIVENESS)]
        self.supervisor = self.start_supervisor(0)
        self.workers = {f"w{index}": self.start_worker(f"w{index}") for index in range(1, workers + 1)}

    def start_supervisor(self, port):
        node = Node(self.binary, self.log_dir, "supervisor", ["-p", str(port), "--bind", "127.0.0.1",
                                                              "--node-name", "sup", "--log-level", "info",
                                                              *self.beats])
        self.port = int(node.wait_for(r"listening on tcp://[^\s:]+:(\d+)").group(1))
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        return node

    def start_worker(self, name):
        return Node(self.binary, self.log_dir, name, ["--role=worker", "-e", self.endpoint, "--node-name", name,
                                                      *self.beats, "-H", "127.0.0.1", "--data-ports", "29600-29699",
                                                      "--model-dir", self.log_dir])

    def restart_supervisor(self):
        self.supervisor.kill()
        self.supervisor = self.start_supervisor(self.port)

    def stop(self):
        codes = [worker.stop() for worker in self.workers.values()]
        return codes + [self.supervisor.stop()]


class Tally:
    """Outcomes of every request, shared by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.sent = 0

    def add(self, key, count=1):
        with self.lock:
            self.counts[key] += count


class LoadClient(threading.Thread):
    """One client: a DEALER with a routing id, WINDOW requests in flight."""

    def __init__(self, endpoint, tally, quota, window, seed, stop):
        super().__init__(daemon=True)
        self.endpoint, self.tally, self.quota, self.window = endpoint, tally, quota, window
        self.rng = random.Random(seed)
        self.stop_event = stop
        self.corr = itertools.count(1)

    def open(self):
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.ROUTING_ID, b"xb" + os.urandom(8))
        self.monitor = self.socket.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        self.socket.connect(self.endpoint)
        self.inflight = {}          # corr -> request
        self.was_down = False
        self.resend_at = None       # when to resend after a reconnect

    def close(self, abandoned):
        if abandoned:
            self.tally.add("abandoned (client disconnected)", len(self.inflight))
        self.socket.disable_monitor()
        self.monitor.close(0)
        self.socket.close(0)

    def take_quota(self):
        with self.tally.lock:
            if self.tally.sent >= self.quota:
                return False
            self.tally.sent += 1
            return True

    def send(self, request):
        self.socket.send_multipart(encode_message("GENERATE", request["body"], request["corr"], "bench",
                                                  request["deadline_ms"]))

    def new_request(self):
        stream = self.rng.random() < 0.5
        request = {"corr": next(self.corr), "stream": stream, "deadline_ms": 30000,
                   "leave": stream and self.rng.random() < 0.02, "sent": time.monotonic(),
                   "body": {"uid": "m", "prompt_tokens": [1 + self.rng.randrange(200) for _ in range(4)],
                            "max_tokens": self.rng.randrange(16, 200), "stream": stream}}
        self.inflight[request["corr"]] = request
        self.send(request)

    def on_monitor(self):
        event = recv_monitor_message(self.monitor)["event"]
        if event == zmq.EVENT_DISCONNECTED:
            self.was_down = True
        elif event == zmq.EVENT_CONNECTED and self.was_down:
            # Workers report their runs to the new supervisor within about
            # 2 x liveness x heartbeat; what is still unanswered then was lost
            self.was_down = False
            self.resend_at = time.monotonic() + 2 * LIVENESS * INTERVAL_MS / 1000 + 0.3

    def resend(self):
        self.resend_at = None
        for request in self.inflight.values():         # the same corr: safe to resend
            self.send(request)
        self.tally.add("resent after a reconnect", len(self.inflight))

    def on_message(self, answered):
        frames = self.socket.recv_multipart()
        header, _ = decode_reply(frames)
        corr, kind = header["corr"], header["type"]
        request = self.inflight.get(corr)
        if request is None:
            if corr in answered and kind != "GENERATE_TOKEN":
                self.tally.add("DUPLICATE answer")
            return False
        if kind == "GENERATE_TOKEN":
            return request["leave"]                      # this client walks away mid-stream
        del self.inflight[corr]
        answered.add(corr)
        self.tally.add("ok" if kind == "GENERATE_REPLY" else f"error {header['body'].get('code')}")
        return False

    def expire(self):
        now = time.monotonic()
        for corr, request in list(self.inflight.items()):
            if now > request["sent"] + request["deadline_ms"] / 1000 + 10:
                del self.inflight[corr]
                self.tally.add("HUNG (no answer by the deadline + 10 s)")

    def run(self):
        self.open()
        answered = set()
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        poller.register(self.monitor, zmq.POLLIN)
        while not self.stop_event.is_set():
            while len(self.inflight) < self.window and self.take_quota():
                self.new_request()
            if not self.inflight and self.tally.sent >= self.quota:
                break
            events = dict(poller.poll(100))
            if self.monitor in events:
                self.on_monitor()
            if self.socket in events and self.on_message(answered):
                self.close(abandoned=True)
                self.open()
                poller = zmq.Poller()
                poller.register(self.socket, zmq.POLLIN)
                poller.register(self.monitor, zmq.POLLIN)
            if self.resend_at and time.monotonic() >= self.resend_at:
                self.resend()
            self.expire()
        self.close(abandoned=False)


def make_model(build, path):
    subprocess.run([os.path.join(build, "tools", "xinf-make-model"), "--arch", "qwen2", "--std", "0.3", "-o", path],
                   check=True, capture_output=True, timeout=120)


def wait(what, timeout, probe):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except XinfError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} not within {timeout} s")


def inject_faults(cluster, tally, quota, log):
    """Faults at fixed fractions of the requests sent."""
    def at(fraction):
        while tally.sent < quota * fraction:
            time.sleep(0.01)
    at(0.15)
    log("fault: kill -9 of w1 (started again)")
    cluster.workers["w1"].kill()
    cluster.workers["w1"] = cluster.start_worker("w1")
    at(0.35)
    log("fault: SIGSTOP of w2 for 1.5 s")
    cluster.workers["w2"].signal(signal.SIGSTOP)
    time.sleep(1.5)   # the fault's length, not a wait for something
    cluster.workers["w2"].signal(signal.SIGCONT)
    at(0.55)
    log("fault: kill -9 of the supervisor (started again on its port)")
    cluster.restart_supervisor()


def rss_mb(pid):
    """A process's resident memory in MB (Linux), 0 when unknown."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0


def run(build, requests, clients, window, workers=3, seed=1, log=print, log_dir=None, faults=True, max_queued=None):
    """The whole run; returns (counts, seconds, supervisor counters)."""
    log_dir = log_dir or tempfile.mkdtemp(prefix="xinf-bench-faults-")
    model = os.path.join(log_dir, "tiny.gguf")
    make_model(build, model)
    cluster = Cluster(build, log_dir, workers)
    try:
        admin = XinfClient(cluster.endpoint, timeout_ms=5000)
        wait("the workers", 15, lambda: sum(w["state"] == "alive" for w in admin.cluster_info()["workers"]) == workers)
        admin.launch("m", model, replicas=workers, threads=1, max_queued=max_queued or 4 * clients * window)
        admin.wait_ready("m", stall_s=30)
        admin.close()
        tally, stop = Tally(), threading.Event()
        started = time.monotonic()
        threads = [LoadClient(cluster.endpoint, tally, requests, window, seed * 1000 + index, stop)
                   for index in range(clients)]
        for thread in threads:
            thread.start()
        if faults:
            inject_faults(cluster, tally, requests, log)
        peak = 0
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, rss_mb(cluster.supervisor.process.pid))
            threads[0].join(0.1)
        for thread in threads:
            thread.join()
        log(f"supervisor resident memory: peak {peak:.1f} MB during the run")
        seconds = time.monotonic() - started
        admin = XinfClient(cluster.endpoint, timeout_ms=5000)
        stats = admin.cluster_info()["requests"]
        admin.close()
        tally.counts["sent"] = tally.sent
        accounted = sum(count for key, count in tally.counts.items() if key != "sent" and not key.startswith("resent"))
        if accounted != tally.sent:
            tally.counts["UNACCOUNTED (a client thread failed)"] = tally.sent - accounted
        return tally.counts, seconds, stats
    finally:
        codes = cluster.stop()
        if any(codes):
            log(f"note: node exit codes {codes}")


def report(counts, seconds, stats, out=sys.stdout):
    print(f"{counts['sent']} requests in {seconds:.1f} s", file=out)
    for key in sorted(counts):
        if key != "sent":
            print(f"  {key:45s} {counts[key]}", file=out)
    print(f"supervisor counters (since its last start): {stats}", file=out)


def bad(counts):
    return sum(count for key, count in counts.items() if key.startswith(("HUNG", "DUPLICATE", "UNACCOUNTED")))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build", help="the build directory (tools/xinf-node)")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--window", type=int, default=4, help="requests each client keeps in flight")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-faults", action="store_true", help="load only (e.g. an overload run)")
    parser.add_argument("--max-queued", type=int, help="the model's queue bound (default: 4 x clients x window)")
    args = parser.parse_args()
    counts, seconds, stats = run(args.build, args.requests, args.clients, args.window, args.workers, args.seed,
                                 faults=not args.no_faults, max_queued=args.max_queued)
    report(counts, seconds, stats)
    sys.exit(1 if bad(counts) else 0)


if __name__ == "__main__":
    main()
