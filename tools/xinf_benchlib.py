"""Helpers the Python benchmarks share: start a node with its output to a
log, and poll a probe with a deadline (never a fixed sleep)."""
import subprocess
import time


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
