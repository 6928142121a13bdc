"""Multi-process test: a supervisor and three workers on 127.0.0.1, watched
through the client protocol (tools/xinf_client.py and the C xinf-cli).

  a. three workers register: alive, addresses, resources, `joined` events;
  b. kill -9 of a worker: `lost` (still listed) within liveness x interval
     + interval (the measured delay is printed);
  c. SIGSTOP of a worker: `lost`; SIGCONT: alive again (recovered/rejoined);
  d. kill -9 of the supervisor, restarted on the same port: every live worker
     registers again within 2 x liveness x interval;
  e. 1000 malformed messages to the supervisor: an ERROR for each, PING still
     answered, the workers stay alive;
  f. the Python and C command lines agree on the workers;
  g. SIGTERM of a worker: BYE, listed as `left`; the nodes exit 0.

Heartbeats are fast (200 ms x 3) so that the whole run takes seconds. Waits
poll with a deadline; no fixed sleeps."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import xinf_testlib
from xinf_testlib import Client, check, encode, fail, model_dir_args, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import XinfClient, XinfError  # noqa: E402

#  A worker is lost after 1 s of silence: 600 ms (liveness 3) was seen
#  passing by on a loaded 2-core machine (a heartbeat 619 ms late under
#  ctest -j2 beside other nodes), which lost a worker no test had stopped.
INTERVAL_MS = 200
LIVENESS = 5
LOST_MS = LIVENESS * INTERVAL_MS
BEAT_ARGS = ["--heartbeat-ms", str(INTERVAL_MS), "--liveness", str(LIVENESS)]
SEED = 20261124
LOGS = tempfile.mkdtemp(prefix="xinf-test-cluster-")


def _die_with_parent():
    """In the child before exec: SIGKILL it when the test process dies, even
    by SIGKILL (a ctest timeout), when atexit cleanup cannot run."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Proc:
    """A child process whose stdout and stderr go to files under log_dir
    (default LOGS; a pipe nobody reads could fill up and block it); killed
    at exit. 'label' names it in failures, 'base' its log files."""

    def __init__(self, name, args, log_dir=None, env=None, label=None, base=None):
        self.name = name
        self.label = label or name
        log_dir = log_dir or LOGS
        self.stdout_path = os.path.join(log_dir, f"{base or name}.out")
        self.stderr_path = os.path.join(log_dir, f"{base or name}.err")
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.process = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                            preexec_fn=_die_with_parent)
        xinf_testlib._children.append(self.process)
        self.pid = self.process.pid

    def log(self, which="out"):
        with open(self.stdout_path if which == "out" else self.stderr_path, errors="replace") as file:
            return file.read()

    def wait_output(self, pattern, timeout=10.0, which="out"):
        """Waits for a regex in stdout (or stderr, the log); returns the match."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log(which))
            if match:
                return match
            check(self.process.poll() is None, f"{self.label} exited with {self.process.returncode} before "
                                               f"printing {pattern!r}; stderr: {self.log('err')[-2000:]}")
            time.sleep(0.02)
        fail(f"{self.label} did not print {pattern!r} within {timeout} s")

    def alive(self):
        return self.process.poll() is None

    def signal(self, number):
        if self.process.poll() is None:
            self.process.send_signal(number)

    def kill(self):
        """SIGKILL (kill -9) and reap; returns the exit status."""
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait()

    def stop(self, timeout=10.0):
        """SIGTERM; returns the exit status (a hang is a failure). A frozen
        process is woken first: it cannot handle SIGTERM."""
        self.signal(signal.SIGCONT)
        return xinf_testlib.stop_process(self.process, self.label, timeout)


def dump_logs():
    for name in sorted(os.listdir(LOGS)):
        with open(os.path.join(LOGS, name), errors="replace") as log:
            lines = log.readlines()[-25:]
        print(f"--- last lines of {name}:\n{''.join(lines)}", end="")


def start_supervisor(binary, port=0, name="supervisor"):
    node = Proc(name, [binary, "-p", str(port), "--bind", "127.0.0.1", "--node-name", "sup",
                       "--log-level", "info", *BEAT_ARGS])
    match = node.wait_output(r"listening on tcp://[^\s:]+:(\d+)")
    node.endpoint = f"tcp://127.0.0.1:{match.group(1)}"
    return node


def start_journaled_supervisor(binary, port, state_dir, label):
    """A supervisor "S" on a fixed port with a journal (--state-dir), so that
    a test can kill it and start it again in the same place."""
    node = Proc(label, [binary, "-p", str(port), "--bind", "127.0.0.1", "--node-name", "S", *BEAT_ARGS,
                        "--state-dir", state_dir])
    node.wait_output(r"listening on tcp://")
    return node


def start_worker(binary, endpoint, name, model_dirs=(), data_ports="29500-29599", env=None):
    """data_ports: a test that kills workers and probes their ports gives
    its own range, so that no other test's node takes a freed port. env:
    variables added to the worker's environment."""
    return Proc(name, [binary, "--role=worker", "-e", endpoint, "--node-name", name, *BEAT_ARGS,
                       "-H", "127.0.0.1", "--data-ports", data_ports, *model_dir_args(*model_dirs)],
                env={**os.environ, **env} if env else None)


def poll(what, timeout, probe):
    """Calls probe() until it returns something true; fails after timeout s.
    XinfError (e.g. a supervisor still starting) counts as not yet."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except XinfError as error:
            result, last = None, error
        if result:
            return result
        time.sleep(0.02)
    fail(f"{what} not within {timeout} s (last error: {last})")


def workers_by_name(client):
    return {worker["node"]: worker for worker in client.cluster_info()["workers"]}


class EventLog:
    """Reads the supervisor's events incrementally (since=next)."""

    def __init__(self, client):
        self.client = client
        self.next = 0
        self.events = []

    def fetch(self):
        body = self.client.events(since=self.next)
        check(all(event["seq"] > self.next for event in body["events"]), f"EVENTS since={self.next}: {body}")
        self.events += body["events"]
        self.next = body["next"]
        return self.events

    def find(self, kinds, node):
        return [event for event in self.fetch() if event["kind"] in kinds and event["node"] == node]


def scenario_register(client, events, names):
    """a. three workers register with their addresses and resources."""
    poll("3 alive workers", 10, lambda: all(workers_by_name(client).get(name, {}).get("state") == "alive"
                                            for name in names))
    info = client.cluster_info()
    check(info["heartbeat_ms"] == INTERVAL_MS and info["liveness"] == LIVENESS, f"settings: {info}")
    workers = {worker["node"]: worker for worker in info["workers"]}
    check(sorted(workers) == sorted(names), f"workers listed: {sorted(workers)}")
    for name, worker in workers.items():
        check(worker["host_ip"] == "127.0.0.1" and worker["host_ip_source"] == "flag", f"{name}: {worker}")
        check(worker["observed_address"] == "127.0.0.1", f"{name}: observed {worker['observed_address']}")
        check(worker["warnings"] == [], f"{name}: unexpected warnings {worker['warnings']}")
        check(worker["cpus"] > 0 and worker["memory_bytes"] > 0, f"{name}: resources {worker}")
        check(any(device.get("kind") == "cpu" for device in worker["devices"]), f"{name}: devices {worker['devices']}")
        check(worker["data_ports"] == [29500, 29599], f"{name}: data_ports {worker['data_ports']}")
        check(worker["pid"] > 0 and worker["version"], f"{name}: pid/version {worker}")
    joined = poll("3 joined events", 5, lambda: len({event["node"] for event in events.fetch()
                                                      if event["kind"] == "joined"}) == 3)
    check(joined, "joined events")
    print(f"a. {len(names)} workers alive, addresses and resources as expected, 3 joined events")


def scenario_kill_worker(client, events, worker):
    """b. kill -9: lost within liveness x interval + interval."""
    events.fetch()
    killed_at_ms = time.time() * 1000
    worker.kill()
    lost = poll(f"lost event for {worker.name}", 5, lambda: events.find(("lost",), worker.name))
    delay_ms = lost[0]["time_ms"] - killed_at_ms
    bound_ms = LOST_MS + INTERVAL_MS + 400
    print(f"b. kill -9 {worker.name} -> lost event after {delay_ms:.0f} ms (bound {bound_ms} ms): {lost[0]['detail']}")
    check(delay_ms <= bound_ms, f"lost event came {delay_ms:.0f} ms after kill -9, bound {bound_ms} ms")
    # The last heartbeat was at most an interval (plus jitter) before the kill:
    # far earlier means something other than silence declared it lost.
    check(delay_ms >= LOST_MS - 2 * INTERVAL_MS, f"lost event came only {delay_ms:.0f} ms after kill -9")
    listed = workers_by_name(client).get(worker.name)
    check(listed is not None and listed["state"] == "lost", f"{worker.name} after kill -9: {listed}")
    return delay_ms


def scenario_stop_worker(client, events, worker):
    """c. SIGSTOP: lost; SIGCONT: alive again."""
    events.fetch()
    worker.signal(signal.SIGSTOP)
    try:
        poll(f"lost event for stopped {worker.name}", 5, lambda: events.find(("lost",), worker.name))
        check(workers_by_name(client)[worker.name]["state"] == "lost", f"{worker.name} not lost while stopped")
    finally:
        worker.signal(signal.SIGCONT)
    continued = time.monotonic()
    poll(f"{worker.name} alive after SIGCONT", 2 * LOST_MS / 1000 + 3,
         lambda: workers_by_name(client)[worker.name]["state"] == "alive")
    back = poll(f"recovered/rejoined event for {worker.name}", 3,
                lambda: events.find(("recovered", "rejoined"), worker.name))
    print(f"c. SIGSTOP {worker.name} -> lost; SIGCONT -> alive after {(time.monotonic() - continued) * 1000:.0f} ms "
          f"({back[0]['kind']}: {back[0]['detail']})")


def scenario_restart_supervisor(node_bin, supervisor, live):
    """d. kill -9 the supervisor, start it again on the same port."""
    port = int(supervisor.endpoint.rsplit(":", 1)[1])
    supervisor.kill()
    restarted = start_supervisor(node_bin, port, name="supervisor2")
    check(restarted.endpoint == supervisor.endpoint, f"restarted on {restarted.endpoint}")
    listening = time.monotonic()
    client = XinfClient(restarted.endpoint, timeout_ms=1000)
    bound_s = (2 * LOST_MS + 1000) / 1000
    poll("live workers registered again", bound_s,
         lambda: all(workers_by_name(client).get(worker.name, {}).get("state") == "alive" for worker in live))
    took_ms = (time.monotonic() - listening) * 1000
    print(f"d. supervisor kill -9 + restart on port {port}: {len(live)} live workers registered again "
          f"after {took_ms:.0f} ms (bound {bound_s * 1000:.0f} ms)")
    return restarted, client


HELLO = {"node": "intruder", "host_ip": "127.0.0.1", "host_ip_source": "flag", "data_ports": [1, 2],
         "pid": 1, "version": "0", "zmq_version": "0", "czmq_version": "0", "cpus": 1,
         "memory_bytes": 1, "memory_available_bytes": 1, "devices": [], "gpu_probe": "",
         "models": [], "heartbeat_ms": INTERVAL_MS, "liveness": LIVENESS}


def malformed_messages(rng, names):
    """Yields (frames, wanted ERROR code or None for any) for 1000 malformed messages."""
    sig = xinf_testlib.SIGNATURE
    bodies = [
        ("HEARTBEAT", {"node": names[0], "seq": "7"}),
        ("HEARTBEAT", {"node": names[0], "seq": -1}),
        ("HEARTBEAT", {"node": 5, "seq": 1}),
        ("HEARTBEAT", {"node": names[0], "seq": 1, "waits": "none"}),
        ("HEARTBEAT", {"node": names[0], "seq": 1, "waits": [{"id": "x"}]}),
        ("HELLO", {"node": names[0]}),
        ("HELLO", {}),
        ("HELLO", dict(HELLO, node="")),
        ("HELLO", dict(HELLO, node=names[0], cpus="many")),
        ("HELLO", dict(HELLO, data_ports=[9, 1])),
        ("HELLO", dict(HELLO, data_ports=[0, 70000])),
        ("HELLO", dict(HELLO, host_ip_source="guessed")),
        ("HELLO", dict(HELLO, heartbeat_ms=1)),
        ("HELLO", dict(HELLO, devices=[{"kind": "tpu"}])),
        ("HELLO", {key: value for key, value in HELLO.items() if key != "pid"}),
        ("BYE", {"node": 17}),
        ("BYE", {}),
        ("EVENTS", {"limit": 0}),
        ("EVENTS", {"since": "yesterday"}),
        ("EVENTS", {"limit": 10001}),
    ]
    valid = encode("PING", {"a": [1, 2, {"b": "c"}]}, corr=9)[0][len(sig):]
    for index in range(1000):
        kind = index % 4
        if kind == 0:
            msg_type, body = bodies[(index // 4) % len(bodies)]
            yield encode(msg_type, body, corr=index + 1), "BAD_REQUEST"
        elif kind == 1:
            frames = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
                      for _ in range(rng.randrange(1, 5))]
            if frames[0].startswith(sig[:4]):
                frames[0] = b"JUNK"
            yield frames, "BAD_ENVELOPE"
        elif kind == 2:
            data = bytearray(valid)
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            yield [sig + bytes(data)], None
        else:
            yield [sig + valid[:rng.randrange(len(valid))]], "BAD_ENVELOPE"


def scenario_malformed(endpoint, client, live, names):
    """e. 1000 malformed messages: an ERROR each; PING answered; workers alive."""
    raw = Client(endpoint)
    rng = random.Random(SEED)
    errors = pongs = 0
    for sent, (frames, code) in enumerate(malformed_messages(rng, names), 1):
        raw.send_raw(frames)
        reply = raw.recv(3000)
        if reply is None:
            fail(f"no reply to malformed message #{sent}: {frames!r:.300}")
        header, _ = reply
        if header["type"] == "PONG" and code is None:
            pongs += 1  # a mutation that happened to stay a valid PING
            continue
        check(header["type"] == "ERROR", f"malformed #{sent} {frames!r:.200} got {header}")
        got = header["body"].get("code")
        check(got in ("BAD_ENVELOPE", "UNKNOWN_TYPE", "BAD_REQUEST"), f"malformed #{sent}: {header['body']}")
        check(code is None or got == code, f"malformed #{sent} {frames!r:.300}: {header['body']} (wanted {code})")
        check(header["body"].get("message"), f"malformed #{sent}: ERROR without a reason")
        errors += 1
        if sent % 100 == 0:
            check(client.ping()["role"] == "supervisor", "PING during the malformed messages")
    # Well-formed but not from the worker itself: a HELLO under a live name
    # from another process, a HEARTBEAT and a BYE from an unregistered peer.
    hello = dict(HELLO, node=names[0], pid=1)
    header, _ = raw.request("HELLO", hello)
    check(header["type"] == "ERROR" and header["body"]["code"] == "DUPLICATE_NODE", f"duplicate HELLO: {header}")
    header, _ = raw.request("HEARTBEAT", {"node": names[0], "seq": 1})
    check(header["type"] == "ERROR" and header["body"]["code"] == "NOT_REGISTERED", f"stray HEARTBEAT: {header}")
    raw.send_raw(encode("BYE", {"node": names[0]}, corr=7))
    header, _ = raw.request("PING")  # answered after the BYE was handled
    check(header["type"] == "PONG", f"PING after a stray BYE: {header}")
    raw.close()
    pong = client.ping()
    workers = workers_by_name(client)
    check("intruder" not in workers, f"a malformed HELLO registered a worker: {workers.get('intruder')}")
    for worker in live:
        listed = workers.get(worker.name)
        check(listed and listed["state"] == "alive", f"{worker.name} after the malformed messages: {listed}")
        check(worker.process.poll() is None, f"{worker.name} exited")
    print(f"e. 1000 malformed messages: {errors} ERROR replies, {pongs} still-valid PINGs answered; "
          f"supervisor counted {pong['bad_envelopes']} bad envelopes; {len(live)} workers still alive")


def run(args, timeout=30):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def scenario_command_lines(build_dir, endpoint, names):
    """f. tools/xinf_client.py and xinf-cli agree."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "xinf_client.py")
    python = [sys.executable, script, "-e", endpoint]
    outputs = {}
    for command in ("workers", "waits", "events"):
        result = run(python + [command, "--json"])
        check(result.returncode == 0, f"xinf_client.py {command} --json exited {result.returncode}: {result.stderr}")
        try:
            outputs[command] = json.loads(result.stdout)
        except ValueError as error:
            fail(f"xinf_client.py {command} --json printed no JSON ({error}): {result.stdout!r:.300}")
        table = run(python + [command])
        check(table.returncode == 0 and table.stdout, f"xinf_client.py {command}: {table.returncode} {table.stderr}")
    py_names = sorted(worker["node"] for worker in outputs["workers"]["workers"])
    check(py_names == sorted(names), f"xinf_client.py workers --json lists {py_names}")
    check(isinstance(outputs["waits"]["waits"], list), f"waits --json: {outputs['waits']}")
    check(isinstance(outputs["events"]["events"], list) and outputs["events"]["events"], "events --json: none")
    table = run(python + ["workers"]).stdout
    check(all(name in table for name in names), f"xinf_client.py workers table lacks a worker:\n{table}")

    cli = tool(build_dir, "xinf-cli")
    result = run([cli, "-e", endpoint, "workers", "--json"])
    check(result.returncode == 0, f"xinf-cli workers --json exited {result.returncode}: {result.stderr}")
    try:
        c_names = sorted(worker["node"] for worker in json.loads(result.stdout)["workers"])
    except (ValueError, KeyError, TypeError) as error:
        fail(f"xinf-cli workers --json: {error}: {result.stdout!r:.300}")
    check(c_names == py_names, f"xinf-cli lists {c_names}, xinf_client.py {py_names}")
    result = run([cli, "-e", endpoint, "workers"])
    check(result.returncode == 0 and all(name in result.stdout for name in names),
          f"xinf-cli workers table:\n{result.stdout}{result.stderr}")
    for command in ("events", "waits"):
        result = run([cli, "-e", endpoint, command])
        check(result.returncode == 0, f"xinf-cli {command} exited {result.returncode}: {result.stderr}")
    print(f"f. xinf_client.py and xinf-cli both list {py_names}; waits/events tables and JSON parse")


def scenario_clean_stop(client, events, worker):
    """g. SIGTERM: BYE, listed as left, exit 0."""
    events.fetch()
    check(worker.stop() == 0, f"{worker.name} exited {worker.process.returncode} after SIGTERM")
    poll(f"{worker.name} left", 3, lambda: workers_by_name(client)[worker.name]["state"] == "left")
    poll(f"left event for {worker.name}", 3, lambda: events.find(("left",), worker.name))
    print(f"g. SIGTERM {worker.name}: exit 0, listed as left")


def main():
    build_dir = sys.argv[1]
    node_bin = tool(build_dir, "xinf-node")
    started = time.monotonic()
    supervisor = start_supervisor(node_bin)
    names = ["w1", "w2", "w3"]
    workers = [start_worker(node_bin, supervisor.endpoint, name) for name in names]
    client = XinfClient(supervisor.endpoint, timeout_ms=2000)
    events = EventLog(client)

    scenario_register(client, events, names)
    delay_ms = scenario_kill_worker(client, events, workers[0])
    scenario_stop_worker(client, events, workers[1])
    client.close()
    live = workers[1:]
    supervisor, client = scenario_restart_supervisor(node_bin, supervisor, live)
    events = EventLog(client)
    live_names = [worker.name for worker in live]
    scenario_malformed(supervisor.endpoint, client, live, live_names)
    scenario_command_lines(build_dir, supervisor.endpoint, live_names)
    scenario_clean_stop(client, events, live[1])
    check(live[0].stop() == 0, f"{live[0].name} did not exit 0 after SIGTERM")
    client.close()
    check(supervisor.stop() == 0, "supervisor did not exit 0 after SIGTERM")
    print(f"PASS: cluster of 3 workers: register, lost after kill -9 in {delay_ms:.0f} ms, SIGSTOP/SIGCONT, "
          f"supervisor restart, 1000 malformed messages, CLIs agree ({time.monotonic() - started:.1f} s)")


def run_logged(function):
    """Runs function; on failure prints the tails of the nodes' logs (kept
    under LOGS), on success removes them."""
    failed = True
    try:
        function()
        failed = False
    except SystemExit as exit_:
        failed = exit_.code not in (0, None, xinf_testlib.SKIP)
        raise
    finally:
        if failed:
            dump_logs()
            print(f"(node logs kept in {LOGS})")
        else:
            shutil.rmtree(LOGS, ignore_errors=True)


if __name__ == "__main__":
    run_logged(main)
