"""The gateway's connection limits against clients that hold connections.

Slow headers: a client that sends a header line every second (never idle
for --http-timeout-s) is closed once --http-header-timeout-s has passed
since it connected. Per address: beyond --http-max-connections-per-ip
connections from one address are closed at once, while another address
and, once one closes, the same address are served. Open files: a node
started with a low open-files limit raises it to the hard limit, and 450
idle connections (more than that limit) leave the supervisor answering a
new client's PING at once and /health answering once the slow connections
are closed.

The limits are given as XINF_* environment variables, so that a node
without them starts and the test fails on what it checks."""
import os
import resource
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xinf_httplib import Gateway, XinfClient, check  # noqa: E402
from test_cluster import run_logged  # noqa: E402

FLOOD = 450                 # idle connections, more than the node's open-files limit
NODE_NOFILE = (300, 400)    # the node's soft and hard open-files limits


def node_env(**settings):
    env = dict(os.environ)
    env.update({name: str(value) for name, value in settings.items()})
    return env


def wait_closed(sock, deadline, dribble=None):
    """True when the server closes 'sock' before 'deadline' (monotonic);
    'dribble': a function returning the next bytes to send, once a second."""
    sock.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            if dribble:
                sock.sendall(dribble())
            if sock.recv(4096) == b"":
                return True
        except socket.timeout:
            pass
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def health(port, source="127.0.0.1", timeout=5.0):
    """The status line of GET /health on a new connection from 'source', or
    None when the server closes it or does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.split(b"\r\n")[0].decode() or None
    except OSError:
        return None


def poll(what, timeout, condition):
    deadline = time.monotonic() + timeout
    while not condition():
        check(time.monotonic() < deadline, f"{what} within {timeout} s")
        time.sleep(0.05)


def scenario_slow_headers(build_dir, workdir):
    """Header lines dribbled one a second: closed at --http-header-timeout-s."""
    gateway = Gateway(build_dir, workdir, keys=False, env=node_env(XINF_HTTP_HEADER_TIMEOUT_S=2))
    # A prompt request on a kept-alive connection is served as before
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        check(sock.recv(4096).startswith(b"HTTP/1.1 200"), "a prompt request is served")
    started = time.monotonic()
    lines = iter(range(1000))
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")
        closed = wait_closed(sock, started + 15, lambda: b"X-Slow-%d: y\r\n" % next(lines))
    waited = time.monotonic() - started
    check(closed, f"a client dribbling header lines is closed (still open after {waited:.1f} s)")
    check(waited < 8, f"closed {waited:.1f} s after it connected (--http-header-timeout-s 2)")
    check(health(gateway.port) == "HTTP/1.1 200 OK", "the gateway serves on")
    check(gateway.stop() == 0, "the node exits 0")
    print(f"slow headers: a client sending a header line a second closed after {waited:.1f} s "
          "(--http-header-timeout-s 2)")


def scenario_per_ip(build_dir, workdir):
    """Beyond --http-max-connections-per-ip from one address: closed at once."""
    gateway = Gateway(build_dir, workdir, keys=False, env=node_env(XINF_HTTP_MAX_CONNECTIONS_PER_IP=4))
    held = []
    for _ in range(4):
        sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        check(sock.recv(4096).startswith(b"HTTP/1.1 200"), "the first 4 connections are served (kept alive)")
        held.append(sock)
    check(health(gateway.port) is None, "a fifth connection from the same address is closed unanswered")
    check(health(gateway.port, source="127.0.0.2") == "HTTP/1.1 200 OK", "another address is served")
    held.pop().close()
    poll("a connection from the first address is served again once one of its 4 closed", 10,
         lambda: health(gateway.port) == "HTTP/1.1 200 OK")
    for sock in held:
        sock.close()
    check(gateway.stop() == 0, "the node exits 0")
    print("per address: a fifth connection from 127.0.0.1 closed at once (--http-max-connections-per-ip 4), "
          "127.0.0.2 served, 127.0.0.1 again once one closed")


def node_limits():
    resource.setrlimit(resource.RLIMIT_NOFILE, NODE_NOFILE)


def soft_nofile(pid):
    with open(f"/proc/{pid}/limits") as file:
        for line in file:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return None


def scenario_open_files(build_dir, workdir):
    """More idle connections than the node's open-files limit: the
    supervisor answers a new client, /health answers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < FLOOD + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, FLOOD + 200), hard))
    gateway = Gateway(build_dir, workdir, keys=False, env=node_env(XINF_HTTP_HEADER_TIMEOUT_S=2),
                      preexec_fn=node_limits)
    limit = soft_nofile(gateway.pid())
    check(limit == NODE_NOFILE[1], f"the node raised its open-files limit to the hard limit: {limit}")
    flood = [socket.create_connection(("127.0.0.1", gateway.port), timeout=10) for _ in range(FLOOD)]
    started = time.monotonic()
    client = XinfClient(gateway.node.endpoint, timeout_ms=5000)
    try:
        reply = client.ping(b"fd")
    except Exception as error:     # noqa: BLE001 (the timeout is the failure)
        reply = error
    client.close()
    ping_s = time.monotonic() - started
    check(not isinstance(reply, Exception), f"the supervisor answers a new client under {FLOOD} idle "
          f"connections: {reply!r}")
    poll("/health answers", 20, lambda: health(gateway.port, timeout=2.0) == "HTTP/1.1 200 OK")
    health_s = time.monotonic() - started
    for sock in flood:
        sock.close()
    check(gateway.stop() == 0, "the node exits 0")
    print(f"open files: limit {NODE_NOFILE[0]} raised to {limit}; under {FLOOD} idle connections PING answered in "
          f"{ping_s * 1000:.0f} ms, /health after {health_s:.1f} s")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-limits-") as workdir:
        scenario_slow_headers(build_dir, workdir)
        scenario_per_ip(build_dir, workdir)
        scenario_open_files(build_dir, workdir)
    print("PASS: slow headers closed, a per-address limit, the open-files limit kept")


if __name__ == "__main__":
    run_logged(main)
