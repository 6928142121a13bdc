"""Helpers the Python benchmarks share: start a node with its output to a
log, poll a probe with a deadline (never a fixed sleep), and a local node
ready to serve, stopped at the end."""
import argparse
import contextlib
import os
import socket
import subprocess
import time

from xinf_client import XinfClient, XinfError


def start(args, log):
    """A child process (an xinf-node) with stdout and stderr into 'log'."""
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_for(program, what, timeout, probe, interval=0.01):
    """Calls probe() until it returns something true, which it returns;
    exits naming 'what' after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"{program}: {what} not within {timeout} s")


def make_model(build_dir, path, preset, weight_type, *extra):
    """A random-weight GGUF of a preset shape (xinf-make-model --preset)."""
    subprocess.run([os.path.join(build_dir, "tools", "xinf-make-model"), "-o", path, "--preset", preset,
                    "--type", weight_type, *extra], check=True, capture_output=True, timeout=900)


def model_parser(doc, preset):
    """The arguments every model benchmark takes: BUILD_DIR [MODEL.gguf]
    --preset --type --rounds --threads; add the rest."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("build_dir")
    parser.add_argument("model", nargs="?")
    parser.add_argument("--preset", default=preset)
    parser.add_argument("--type", default="q8_0")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    return parser


def model_path(args, workdir, suffix="", *extra):
    """MODEL, or the --preset shape made into workdir (xinf-make-model with 'extra')."""
    if args.model:
        return args.model
    path = os.path.join(workdir, f"{args.preset}-{args.type}{suffix}.gguf")
    make_model(args.build_dir, path, args.preset, args.type, *extra)
    return path


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pong(client):
    try:
        client.ping()
        return True
    except XinfError:
        return False


@contextlib.contextmanager
def local_node(program, build_dir, model_dir, workdir, http_port=0):
    """A --role=local node serving the files of 'model_dir' (its output in
    workdir/node.log; HTTP on http_port, 0: none), with its worker alive:
    yields a client; the node is stopped at the end. A client error
    exits naming 'program'."""
    port = free_port()
    log = open(os.path.join(workdir, "node.log"), "w")
    node = start([os.path.join(build_dir, "tools", "xinf-node"), "--role=local", "-p", str(port), "--bind",
                  "127.0.0.1", "--http-port", str(http_port), "--model-dir", model_dir], log)
    client = XinfClient(f"tcp://127.0.0.1:{port}", timeout_ms=5000)
    try:
        wait_for(program, "the node", 30, lambda: _pong(client))
        wait_for(program, "its worker", 30,
                 lambda: any(worker["state"] == "alive" for worker in client.cluster_info()["workers"]))
        yield client
    except XinfError as error:
        raise SystemExit(f"{program}: {error}")
    finally:
        client.close()
        node.terminate()
        node.wait(30)
        log.close()
