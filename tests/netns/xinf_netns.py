"""xinf_netns: real network hosts for fault-injection tests, built from Linux
network namespaces (root only; `ip` from iproute2, `nft` from nftables).

Topology (one set per run; names carry the test's pid, so runs side by side
never meet):

    netns xnt<pid>-br:  bridge br0 + one veth end per host (v-sup, v-w1, ...)
    netns xnt<pid>-sup: lo + eth0 10.232.0.1/24  --+
    netns xnt<pid>-w1:  lo + eth0 10.232.0.2/24  --+-- veth pairs on br0
    netns xnt<pid>-w2:  lo + eth0 10.232.0.3/24  --+

Every interface is created inside the bridge namespace and its peer moved
straight into its host, so the machine's own (root) namespace never sees an
interface, an address, a route or a firewall rule of the test. Teardown
(finally, atexit, and on SIGTERM/SIGINT/SIGHUP) kills what still runs in the
namespaces and deletes them, which deletes the veths and the bridge too. A
run killed with SIGKILL leaves its namespaces behind: the next setup()
removes every `xnt<pid>-*` namespace whose pid is gone (killing by pid what
still runs inside it first). Nodes are started with PR_SET_PDEATHSIG, so
they die with the test process even then.

API (this module puts tests/ and tools/ on sys.path and imports
tests/test_cluster.py, tests/xinf_testlib.py and tools/xinf_client.py, so it
exits 77 with a SKIP line when pyzmq or msgpack is missing; a test beside it
needs only its own folder on sys.path, which ctest's PYTHONPATH gives):

    skip(reason)                      print "SKIP: reason", exit 77
    hosts = Hosts(build_dir, names=("sup", "w1", "w2"), subnet="10.232.0",
                  need_nft=True)
    with hosts:                       setup() ... teardown(), even on failure
    hosts.setup() / hosts.teardown()  setup() skips (teardown first) with the
                                      failing command and its stderr when not
                                      root, ip/nft missing, or a namespace,
                                      veth, bridge or nft table cannot be made
    hosts.addr("w2")                  "10.232.0.3" (hosts numbered from .1)
    hosts.ns("w2")                    the namespace's name, for your own tools
    hosts.prefix("w2")                ["ip", "netns", "exec", NS]: argv prefix
    hosts.run(host, argv, timeout=60, check=False, input=None)
                                      CompletedProcess (text, captured) of argv
                                      run in host; XINF_* env vars are removed
    hosts.start_supervisor(host="sup", port=9997, name=None, args=())
                                      Node; binds the host's address (the
                                      namespace is private: fixed ports are
                                      safe), waits for "listening on";
                                      hosts.endpoint = tcp://ADDR:PORT
    hosts.start_worker(host, name=None, host_ip=<host's address>|None|"IP",
                       data_ports=(29500, 29509), endpoint=hosts.endpoint,
                       args=())       Node: xinf-node --role=worker -e ENDPOINT
                                      -H host_ip --data-ports LOW-HIGH
                                      --node-name name (default: the host's
                                      name); host_ip=None: no -H (detected)
                                      Both nodes beat fast: test_cluster's
                                      BEAT_ARGS (200 ms x liveness 3; lost
                                      after ~0.6 s); add more with args=
    hosts.start(host, name, argv)     Node: any program run in host, logged
    Node: .name .host .pid .process .stdout_path .stderr_path .endpoint
          .wait_output(regex, timeout) .log() .alive() .stop() (SIGCONT +
          SIGTERM, returns the exit status; a hang fails) .kill() (SIGKILL, the kill -9 of a fault test)
          .freeze() / .thaw() (SIGSTOP / SIGCONT) .signal(n)
          The pid is the xinf-node's own (ip netns exec execs it).
    hosts.drop(to_host, from_host=None, ports=None, proto="tcp",
               action="drop")         nftables rule in to_host's input hook:
                                      packets from from_host's address (None:
                                      any) to ports (int, (low, high) or None:
                                      all) are dropped (action="reject": TCP
                                      reset / ICMP, so connects are refused).
                                      Returns a Rule; hosts.undrop(rule)
                                      removes it; hosts.undrop_all(host=None)
    hosts.rules(host)                 `nft -a list ruleset` text in host
    hosts.link_down(host) / link_up(host)
                                      the host's cable: eth0 down / up
    hosts.tcp_check(from_host, to_host)
                                      None if a TCP connect between the two
                                      hosts works, else the error (setup()
                                      checks the first host to every other)
    in_netns(ns)                      context manager: this thread in netns ns
    hosts.cli(host, *args, timeout=60)
                                      CompletedProcess of xinf-cli -e ENDPOINT
                                      ARGS run in host (stdout, stderr, rc)
    hosts.py_client(host, *args, timeout=60)
                                      the same with tools/xinf_client.py
    hosts.client(host="sup", timeout_ms=3000)
                                      an XinfClient (tools/xinf_client.py) in
                                      this process whose ZeroMQ context lives
                                      in host's namespace (its I/O thread is
                                      started there, then this thread goes
                                      back); closed at teardown
    hosts.wait_alive(client, names, timeout=15)
                                      polls CLUSTER_INFO until all are alive
    hosts.logs                        the folder of the nodes' logs
                                      (test_cluster.LOGS: run main under
                                      run_logged, which prints their tails on
                                      failure and removes them on success)
    poll(what, timeout, probe), check(cond, text), fail(text), run_logged(fn)
                                      re-exported from tests/test_cluster.py
                                      and tests/xinf_testlib.py
"""
import atexit
import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
TOOLS = os.path.join(os.path.dirname(TESTS), "tools")
SKIP = 77
NS_PREFIX = "xnt"
NFT_TABLE = "xinf_netns"
CLONE_NEWNET = 0x40000000


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


for _path in (TESTS, TOOLS):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import test_cluster  # noqa: E402  (exits 77 with SKIP when pyzmq/msgpack are missing)
import xinf_testlib  # noqa: E402
from test_cluster import poll, run_logged, workers_by_name  # noqa: E402,F401
from xinf_testlib import check, fail  # noqa: E402,F401
import zmq  # noqa: E402
from xinf_client import XinfClient  # noqa: E402

_libc = ctypes.CDLL(None, use_errno=True)


def _clean_env():
    """The environment for programs in a host: no XINF_* settings of the
    caller's shell (an XINF_HOST_IP there would change what a node does)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("XINF_")}


def _run(argv, timeout=30, input=None):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL, env=_clean_env())
    except subprocess.TimeoutExpired as error:
        return subprocess.CompletedProcess(argv, 124, error.stdout or "", f"timed out after {timeout} s")
    except OSError as error:
        return subprocess.CompletedProcess(argv, 127, "", str(error))


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _netns_path(ns):
    for folder in ("/run/netns", "/var/run/netns"):
        path = os.path.join(folder, ns)
        if os.path.exists(path):
            return path
    return os.path.join("/run/netns", ns)


@contextlib.contextmanager
def in_netns(ns):
    """Moves the calling thread into network namespace ns for the block, then
    back. Threads and sockets created inside stay in ns."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(_netns_path(ns), os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                number = ctypes.get_errno()
                raise OSError(number, f"setns({ns}): {os.strerror(number)}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:
                print(f"FAIL: cannot return from netns {ns}: {os.strerror(ctypes.get_errno())}", flush=True)
                os._exit(1)
    finally:
        os.close(own)


class Node(test_cluster.Proc):
    """A program running in a host (test_cluster.Proc run through `ip netns
    exec`, without XINF_* variables, logged under the hosts' folder)."""

    def __init__(self, hosts, host, name, argv):
        self.hosts = hosts
        self.host = host
        self.endpoint = None
        base = f"{host}-{name}"
        count = 1
        while os.path.exists(os.path.join(hosts.logs, f"{base}.out")):
            count += 1
            base = f"{host}-{name}.{count}"
        super().__init__(name, hosts.prefix(host) + list(argv), log_dir=hosts.logs, env=_clean_env(),
                         label=f"{name} in {host}", base=base)
        hosts.nodes.append(self)

    def freeze(self):
        self.signal(signal.SIGSTOP)

    def thaw(self):
        self.signal(signal.SIGCONT)


class Rule:
    def __init__(self, host, handle, text):
        self.host, self.handle, self.text = host, handle, text

    def __repr__(self):
        return f"Rule({self.host}: {self.text} #{self.handle})"


class Hosts:
    def __init__(self, build_dir=None, names=("sup", "w1", "w2"), subnet="10.232.0", need_nft=True):
        check(len(names) <= 250 and len(set(names)) == len(names), f"bad host names {names}")
        self.build_dir = build_dir
        self.names = list(names)
        self.subnet = subnet
        self.need_nft = need_nft
        self.tag = f"{NS_PREFIX}{os.getpid()}"
        self.bridge_ns = f"{self.tag}-br"
        self.created = []
        self.nodes = []
        self.rules_added = []
        self.clients = []
        self.endpoint = None
        self.logs = test_cluster.LOGS
        self._up = False
        self._old_handlers = {}

    # ------------------------------------------------------------ naming

    def ns(self, host):
        check(host in self.names, f"unknown host {host!r} (hosts: {self.names})")
        return f"{self.tag}-{host}"

    def addr(self, host):
        check(host in self.names, f"unknown host {host!r} (hosts: {self.names})")
        return f"{self.subnet}.{self.names.index(host) + 1}"

    def prefix(self, host):
        return ["ip", "netns", "exec", self.ns(host)]

    # ------------------------------------------------------------ setup

    def __enter__(self):
        self.setup()
        return self

    def __exit__(self, *exc):
        self.teardown()

    def _step(self, what, argv):
        """Runs one setup command; on failure tears down and skips with its stderr."""
        result = _run(argv)
        if result.returncode != 0:
            self.teardown()
            detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
            skip(f"cannot {what}: `{' '.join(argv)}`: {detail}")
        return result

    def _on_signal(self, number, frame):
        # SystemExit runs finally blocks and atexit: the namespaces go away
        raise SystemExit(128 + number)

    def setup(self):
        if os.geteuid() != 0:
            skip("needs root to create network namespaces (ip netns add)")
        if not shutil.which("ip"):
            skip("'ip' not found (install iproute2)")
        if self.need_nft and not shutil.which("nft"):
            skip("'nft' not found (install nftables; scripts/setup.sh does)")
        remove_stale()
        atexit.register(self.teardown)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            if signal.getsignal(number) in (signal.SIG_DFL, signal.default_int_handler):
                self._old_handlers[number] = signal.signal(number, self._on_signal)
        self._up = True
        br = self.bridge_ns
        self._step("create a network namespace (ip netns)", ["ip", "netns", "add", br])
        self.created.append(br)
        self._step("create a bridge in a namespace", ["ip", "-n", br, "link", "add", "br0", "type", "bridge"])
        self._step("bring the bridge up", ["ip", "-n", br, "link", "set", "br0", "up"])
        for host in self.names:
            ns = self.ns(host)
            self._step(f"create the namespace of host {host}", ["ip", "netns", "add", ns])
            self.created.append(ns)
            self._step(f"bring lo up in {host}", ["ip", "-n", ns, "link", "set", "lo", "up"])
            self._step(f"create a veth pair for {host}", ["ip", "-n", br, "link", "add", f"v-{host}"[:15], "type",
                                                          "veth", "peer", "name", "eth0", "netns", ns])
            self._step(f"attach {host}'s veth to the bridge",
                       ["ip", "-n", br, "link", "set", f"v-{host}"[:15], "master", "br0", "up"])
            self._step(f"give {host} its address",
                       ["ip", "-n", ns, "addr", "add", f"{self.addr(host)}/24", "dev", "eth0"])
            self._step(f"bring {host}'s eth0 up", ["ip", "-n", ns, "link", "set", "eth0", "up"])
            if self.need_nft:
                self._step(f"use nftables in {host}", self.prefix(host) + ["nft", "list", "ruleset"])
        # the hosts must reach each other before any test relies on it: a
        # TCP connect from the first host to every other one
        first = self.names[0]
        for host in self.names[1:]:
            error = self.tcp_check(first, host)
            if error:
                self.teardown()
                skip(f"{first} cannot reach {host} ({self.addr(host)}) over the bridge: {error}")
        print("netns hosts up: " + ", ".join(f"{h}={self.addr(h)} ({self.ns(h)})" for h in self.names)
              + f"; bridge in {br}", flush=True)

    def teardown(self):
        if not self._up:
            return
        self._up = False
        for client, context in self.clients:
            client.close()
            context.term()
        self.clients = []
        for node in self.nodes:
            if node.process.poll() is None:
                node.process.kill()
                node.process.wait()
        for ns in reversed(self.created):
            _kill_inside(ns)
            _run(["ip", "netns", "del", ns])
        self.created = []
        for number, handler in self._old_handlers.items():
            signal.signal(number, handler)
        self._old_handlers = {}

    def tcp_check(self, from_host, to_host, timeout=5.0):
        """Connects from from_host to a listener of this process in to_host;
        returns None when it works, else the error text."""
        try:
            with in_netns(self.ns(to_host)):
                server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            with server:
                server.bind((self.addr(to_host), 0))
                server.listen(1)
                with in_netns(self.ns(from_host)):
                    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                with client:
                    client.settimeout(timeout)
                    client.connect(server.getsockname())
            return None
        except OSError as error:
            return str(error)

    # ------------------------------------------------------------ running things

    def run(self, host, argv, timeout=60, check=False, input=None):
        result = _run(self.prefix(host) + list(argv), timeout=timeout, input=input)
        if check and result.returncode != 0:
            fail(f"in {host}: `{' '.join(argv)}` exited {result.returncode}: {result.stderr.strip()}")
        return result

    def tool(self, name):
        check(self.build_dir, "Hosts(build_dir=...) is needed to run xinf tools")
        return xinf_testlib.tool(self.build_dir, name)

    def start(self, host, name, argv):
        return Node(self, host, name, argv)

    def start_supervisor(self, host="sup", port=9997, name=None, args=()):
        name = name or host
        node = self.start(host, name, [self.tool("xinf-node"), "--role=supervisor", "--bind", self.addr(host),
                                       "-p", str(port), "--node-name", name, *test_cluster.BEAT_ARGS, *args])
        match = node.wait_output(r"listening on tcp://([^\s:]+):(\d+)")
        node.endpoint = f"tcp://{self.addr(host)}:{match.group(2)}"
        self.endpoint = node.endpoint
        return node

    def start_worker(self, host, name=None, host_ip="", data_ports=(29500, 29509), endpoint=None, args=()):
        name = name or host
        endpoint = endpoint or self.endpoint
        check(endpoint, "start the supervisor first or pass endpoint=")
        argv = [self.tool("xinf-node"), "--role=worker", "-e", endpoint, "--node-name", name,
                "--data-ports", f"{data_ports[0]}-{data_ports[1]}", *test_cluster.BEAT_ARGS,
                *xinf_testlib.model_dir_args()]
        if host_ip == "":
            host_ip = self.addr(host)
        if host_ip is not None:
            argv += ["-H", host_ip]
        node = self.start(host, name, argv + list(args))
        node.wait_output(r"connecting to")
        return node

    def cli(self, host, *args, timeout=60):
        check(self.endpoint, "no supervisor endpoint")
        return self.run(host, [self.tool("xinf-cli"), "-e", self.endpoint, *args], timeout=timeout)

    def py_client(self, host, *args, timeout=60):
        check(self.endpoint, "no supervisor endpoint")
        return self.run(host, [sys.executable, os.path.join(TOOLS, "xinf_client.py"), "-e", self.endpoint,
                               *args], timeout=timeout)

    def client(self, host="sup", timeout_ms=3000, endpoint=None):
        endpoint = endpoint or self.endpoint
        check(endpoint, "no supervisor endpoint")
        context = zmq.Context()
        with in_netns(self.ns(host)):
            # libzmq starts its I/O threads with the first socket: here, in host
            client = XinfClient(endpoint, timeout_ms=timeout_ms, context=context)
        self.clients.append((client, context))
        return client

    def wait_alive(self, client, names, timeout=15):
        return poll(f"workers {', '.join(names)} alive", timeout,
                    lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive" for n in names))

    # ------------------------------------------------------------ faults

    def _nft(self, host, *args):
        return self.run(host, ["nft", *args], timeout=30)

    def drop(self, to_host, from_host=None, ports=None, proto="tcp", action="drop"):
        check(action in ("drop", "reject"), f"action {action!r}")
        check(proto in ("tcp", "udp"), f"proto {proto!r}")
        if not any(rule.host == to_host for rule in self.rules_added):
            for args in (("add", "table", "inet", NFT_TABLE),
                         ("add", "chain", "inet", NFT_TABLE, "input",
                          "{ type filter hook input priority 0; policy accept; }")):
                result = self._nft(to_host, *args)
                check(result.returncode == 0, f"in {to_host}: nft {' '.join(args)}: {result.stderr.strip()}")
        match = []
        if from_host is not None:
            match += ["ip", "saddr", self.addr(from_host)]
        if ports is None:
            match += ["meta", "l4proto", proto]
        elif isinstance(ports, int):
            match += [proto, "dport", str(ports)]
        else:
            match += [proto, "dport", f"{ports[0]}-{ports[1]}"]
        verdict = [action] if action == "drop" else (["reject", "with", "tcp", "reset"] if proto == "tcp"
                                                      else ["reject"])
        rule = match + verdict
        result = self._nft(to_host, "--echo", "--handle", "add", "rule", "inet", NFT_TABLE, "input", *rule)
        found = re.search(r"# handle (\d+)", result.stdout)
        check(result.returncode == 0 and found,
              f"in {to_host}: nft add rule {' '.join(rule)}: {result.stderr.strip() or result.stdout.strip()}")
        added = Rule(to_host, int(found.group(1)), " ".join(rule))
        self.rules_added.append(added)
        return added

    def undrop(self, rule):
        result = self._nft(rule.host, "delete", "rule", "inet", NFT_TABLE, "input", "handle", str(rule.handle))
        check(result.returncode == 0, f"in {rule.host}: cannot delete {rule}: {result.stderr.strip()}")
        self.rules_added.remove(rule)

    def undrop_all(self, host=None):
        for rule in [r for r in self.rules_added if host is None or r.host == host]:
            self.undrop(rule)

    def rules(self, host):
        return self._nft(host, "-a", "list", "ruleset").stdout

    def link_down(self, host):
        self.run(host, ["ip", "link", "set", "eth0", "down"], check=True)

    def link_up(self, host):
        self.run(host, ["ip", "link", "set", "eth0", "up"], check=True)


def _kill_inside(ns):
    """SIGKILLs, by pid, what still runs in one of our namespaces."""
    result = _run(["ip", "netns", "pids", ns])
    for word in result.stdout.split():
        if word.isdigit():
            try:
                os.kill(int(word), signal.SIGKILL)
            except ProcessLookupError:
                pass


def remove_stale():
    """Deletes the namespaces of earlier runs whose test process is gone
    (killed by SIGKILL, e.g. a ctest timeout), what runs in them first."""
    result = _run(["ip", "netns", "list"])
    removed = []
    for line in result.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = re.fullmatch(rf"{NS_PREFIX}(\d+)-[\w.-]+", name)
        if match and not _pid_alive(int(match.group(1))):
            _kill_inside(name)
            deleted = _run(["ip", "netns", "del", name])
            removed.append(name if deleted.returncode == 0 else f"{name} (failed: {deleted.stderr.strip()})")
    if removed:
        print(f"removed namespaces left by earlier runs: {', '.join(removed)}", flush=True)
