#!/usr/bin/env python3
"""xinf-bench-transfer: how fast a model file reaches a worker that lacks it
(protocols/node.md, "Model files": worker -> supervisor relay -> worker,
1 MiB chunks, 8 in flight, SHA-256 at both ends) on loopback, against a
local `cp` plus `sha256sum` of the same file measured in the same run (the
least a person copying by hand would do). The first fetch waits for the
source to hash the file; a source remembers the digest, so the fetches
after it (as when several workers pull one model) do not.

    python3 tools/xinf_bench_transfer.py BUILD_DIR [--size-mib 256] [--repeat 3]

The file is random bytes, not a GGUF: the launch that pulls it in fails at
the load, after the copy that is measured (the file in place, the .part gone).
"""
import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_benchlib import start, wait_for as _wait_for  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402




def wait_for(what, timeout, probe):
    return _wait_for("xinf-bench-transfer", what, timeout, probe)

def baseline(path, workdir):
    """cp, then sha256sum of the copy: seconds."""
    copy = os.path.join(workdir, "copy.bin")
    started = time.monotonic()
    shutil.copyfile(path, copy)
    digest = hashlib.sha256()
    with open(copy, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    took = time.monotonic() - started
    os.unlink(copy)
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir")
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    node_bin = os.path.join(args.build_dir, "tools", "xinf-node")
    workdir = tempfile.mkdtemp(prefix="xinf-bench-transfer-")
    src, dst = os.path.join(workdir, "src"), os.path.join(workdir, "dst")
    os.mkdir(src)
    os.mkdir(dst)
    path = os.path.join(src, "bench.gguf")
    with open(path, "wb") as file:
        for _ in range(args.size_mib):
            file.write(os.urandom(1 << 20))
    size = os.path.getsize(path)
    log = open(os.path.join(workdir, "nodes.log"), "w+")
    procs = [start([node_bin, "-p", "0", "--bind", "127.0.0.1", "--http-port", "0", "--log-level", "warn"], log)]
    try:
        def endpoint():
            log.flush()
            with open(log.name) as text:
                match = re.search(r"listening on tcp://[^\s:]+:(\d+)", text.read())
            return match and f"tcp://127.0.0.1:{match.group(1)}"
        ep = wait_for("the supervisor", 10, endpoint)
        for name, directory in (("src", src), ("dst", dst)):
            procs.append(start([node_bin, "--role=worker", "-e", ep, "--node-name", name, "-H", "127.0.0.1",
                                "--model-dir", directory, "--log-level", "warn"], log))
        client = XinfClient(ep, timeout_ms=20000)
        wait_for("2 workers", 20, lambda: sum(w["state"] == "alive" for w in client.cluster_info()["workers"]) == 2)
        landed = os.path.join(dst, "bench.gguf")
        fetches, copies = [], []
        for index in range(args.repeat):
            copies.append(baseline(path, workdir))
            started = time.monotonic()
            client.launch(f"bench{index}", path, worker="dst", threads=1)
            wait_for("the file", 600, lambda: os.path.exists(landed) and not os.path.exists(landed + ".part"))
            fetches.append(time.monotonic() - started)
            try:
                client.terminate(f"bench{index}")
            except XinfError:
                pass
            os.unlink(landed)
        copy = statistics.median(copies)
        first, later = fetches[0], statistics.median(fetches[1:]) if len(fetches) > 1 else None
        print(f"file {size / 1e6:.0f} MB; baseline median of {args.repeat}")
        print(f"  baseline cp + sha256sum          {copy * 1000:8.0f} ms  {size / copy / 1e6:7.0f} MB/s")
        print(f"  first fetch (the source hashes)  {first * 1000:8.0f} ms  {size / first / 1e6:7.0f} MB/s  "
              f"(x{copy / first:.2f} of the baseline's speed)")
        if later:
            print(f"  later fetches (digest known)     {later * 1000:8.0f} ms  {size / later / 1e6:7.0f} MB/s  "
                  f"(x{copy / later:.2f} of the baseline's speed; median of {len(fetches) - 1})")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
