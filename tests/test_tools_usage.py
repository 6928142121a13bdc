"""Multi-process test: what xinf-node and xinf-cli do with bad flags, bad
environment values and unreachable nodes: a clear message and exit status 2
for usage errors, 1 for a node that does not answer (within the timeout),
0 for --help; and one good ping round trip through the C client."""
import os
import socket
import subprocess
import sys

from xinf_testlib import Node, check, tool


def run(args, env=None, timeout=30):
    merged = dict(os.environ, **(env or {}))
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=merged)


def expect(args, code, needle, env=None):
    result = run(args, env)
    output = result.stdout + result.stderr
    check(result.returncode == code, f"{args} exited {result.returncode}, wanted {code}: {output}")
    check(needle in output, f"{args}: {needle!r} not in {output!r}")


def main():
    node_bin = tool(sys.argv[1], "xinf-node")
    cli_bin = tool(sys.argv[1], "xinf-cli")
    expect([node_bin, "--bogus"], 2, "unknown option '--bogus'")
    expect([node_bin, "-p", "70000"], 2, "out of range")
    expect([node_bin, "--port=abc"], 2, "not an integer")
    expect([node_bin, "--role=emperor"], 2, "not one of")
    expect([node_bin, "--log-level", "loud"], 2, "not one of")
    expect([node_bin, "extra"], 2, "unexpected argument")
    expect([node_bin], 2, "XINF_PORT", env={"XINF_PORT": "x"})
    expect([node_bin, "--help"], 0, "--port PORT")
    # -e is one supervisor or a standby pair A,B: three are refused, not a crash
    expect([node_bin, "--role=worker", "-e", "tcp://127.0.0.1:9997,tcp://127.0.0.1:9998,tcp://127.0.0.1:9999"], 2,
           "several endpoints")
    expect([node_bin, "--role=worker", "-e", "tcp://127.0.0.1:9997,nonsense"], 2, "must be tcp://HOST:PORT")
    expect([node_bin, "--standby-peer", "tcp://x:0"], 2, "port must be a number")
    expect([node_bin, "--standby", "third"], 2, "not one of")
    expect([node_bin, "--role=worker", "--model-dir", "/nonexistent/models"], 2,
           "model directory '/nonexistent/models' is not an existing directory")
    expect([node_bin, "--model-dir", os.path.abspath(__file__)], 2, "is not an existing directory")
    expect([node_bin, "--role=worker", "-e", "tcp://127.0.0.1:99999"], 2, "port must be a number")
    expect([node_bin, "--role=worker", "-e", "tcp://a b:9997"], 2, "the host must be")
    expect([cli_bin], 2, "missing command")
    expect([cli_bin, "fly"], 2, "unknown command")
    expect([cli_bin, "ping", "-n", "0"], 2, "out of range")
    expect([cli_bin, "-e", "nonsense", "ping"], 2, "invalid endpoint")
    expect([cli_bin, "--help"], 0, "ping")

    # A port nobody listens on (held bound, never listening, so no other
    # test can take it meanwhile): the client gives up at its deadline, exit 1
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        free_endpoint = f"tcp://127.0.0.1:{holder.getsockname()[1]}"
        expect([cli_bin, "-e", free_endpoint, "ping", "-t", "300"], 1, "no reply")

    # The same port taken twice: the second node says why and exits 1
    first = Node(node_bin, "-p", "0", "--bind", "127.0.0.1")
    port = first.endpoint.rsplit(":", 1)[1]
    expect([node_bin, "-p", port, "--bind", "127.0.0.1"], 1, "cannot bind")
    result = run([cli_bin, "-e", first.endpoint, "ping", "--json"])
    check(result.returncode == 0 and '"role":"supervisor"' in result.stdout, f"ping --json: {result.stdout}")
    check(first.stop() == 0, "node did not stop cleanly")
    print("PASS: usage errors, unreachable node and ping behave")


if __name__ == "__main__":
    main()
