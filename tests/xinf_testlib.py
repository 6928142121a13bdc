"""Helpers for the multi-process tests: start real xinf nodes on 127.0.0.1
with free ports, speak the XINF envelope with pyzmq + msgpack, and wait for
things by polling with a deadline (never a fixed sleep)."""
import atexit
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77

try:
    import msgpack
    import zmq
except ImportError as error:  # the test is skipped with a visible reason
    print(f"SKIP: python module missing ({error}); install python3-zmq python3-msgpack")
    sys.exit(SKIP)

# The one Python codec of the envelope (protocols/envelope.md) is the client's
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import SIGNATURE, SIGNATURE_V2, XinfBadReply, decode_reply, encode_message  # noqa: E402

_children = []


@atexit.register
def _kill_children():
    """A failing test must not leave nodes behind (they would hold pipes open)."""
    for process in _children:
        if process.poll() is None:
            process.kill()
            process.wait()


def fail(text):
    print(f"FAIL: {text}")
    sys.exit(1)


def check(condition, text):
    if not condition:
        fail(text)


def encode(msg_type, body=None, corr=0, sender="test", deadline=0, frames=()):
    """The frames of one message: frame 0 (signature and header), then 'frames'."""
    return encode_message(msg_type, body, corr, sender, deadline, frames)


def envelope(header, version=None):
    """Frame 0 of a hand-made header, valid or not: a dict is a version-2
    map header (as a version-2 peer sends it), a list a version-3 array;
    packed bytes go after the signature of 'version' (default 3)."""
    if version is None:
        version = 2 if isinstance(header, dict) else 3
    packed = header if isinstance(header, bytes) else msgpack.packb(header, use_bin_type=True)
    return (SIGNATURE_V2 if version == 2 else SIGNATURE) + packed


def decode(frames):
    """(header, binary frames) of a received message; the test fails on one
    that breaks the envelope."""
    try:
        return decode_reply(frames)
    except XinfBadReply as error:
        fail(f"bad reply: {error.message}; frames {[bytes(frame[:24]) for frame in frames[:3]]!r}")


def stop_process(process, name, timeout=10.0):
    """SIGTERM and wait; returns the exit code. A process that does not stop
    within the timeout is killed and the test fails."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        fail(f"{name} did not stop within {timeout} s of SIGTERM")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (for a node that
    must be told its port before it starts, or a peer's)."""
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def model_dir_args(*dirs):
    """xinf-node flags letting a worker load model files from 'dirs' (default:
    the system's temporary directory, where the tests write their models)."""
    return [arg for d in (dirs or (tempfile.gettempdir(),)) for arg in ("--model-dir", d)]


class Node:
    """An xinf-node child process; its endpoint is read from its stdout."""

    def __init__(self, binary, *args, timeout=10.0, env=None, preexec_fn=None):
        """env: the node's environment (None: this one's); preexec_fn: run
        in the child before it starts (resource limits)."""
        self.process = subprocess.Popen([binary, *args], stdout=subprocess.PIPE,
                                        stderr=None, text=True, env=env, preexec_fn=preexec_fn)
        _children.append(self.process)
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                fail(f"node exited with {self.process.returncode} before listening")
            match = re.search(r"listening on (tcp://\S+)", line)
            if match:
                self.endpoint = match.group(1).replace("0.0.0.0", "127.0.0.1")
                return
        self.stop()
        fail(f"node did not print its endpoint within {timeout} s (last line {line!r})")

    def stop(self, timeout=10.0):
        """SIGTERM and wait; returns the exit code (a hang is a failure)."""
        return stop_process(self.process, "node", timeout)


class Client:
    """A DEALER speaking XINF envelopes, every receive bounded by a deadline."""

    def __init__(self, endpoint, context=None):
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.corr = 1000

    def send_raw(self, frames):
        self.socket.send_multipart(frames)

    def recv(self, timeout_ms=3000):
        if not self.socket.poll(timeout_ms):
            return None
        return decode(self.socket.recv_multipart())

    def request(self, msg_type, body=None, frames=(), timeout_ms=3000):
        self.corr += 1
        self.send_raw(encode(msg_type, body, corr=self.corr, deadline=timeout_ms, frames=frames))
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline:
            reply = self.recv(max(1, int((deadline - time.monotonic()) * 1000)))
            if reply and reply[0]["corr"] == self.corr:
                return reply
        fail(f"no reply to {msg_type} within {timeout_ms} ms")

    def close(self):
        self.socket.close(0)


def tool(build_dir, name):
    path = os.path.join(build_dir, "tools", name)
    check(os.access(path, os.X_OK), f"{path} is not built")
    return path
