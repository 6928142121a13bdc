#!/usr/bin/env python3
"""xinf-bench-mesh: how long the full connectivity mesh takes (DOCTOR: every
worker probes every other one) for N = 2, 4, 8 workers on loopback, against
a ping round trip to the supervisor measured in the same run.

    python3 tools/xinf_bench_mesh.py BUILD_DIR [--sizes 2,4,8] [--repeat 5]
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_benchlib import start, wait_for as _wait_for  # noqa: E402
from xinf_client import XinfClient  # noqa: E402




def wait_for(what, timeout, probe):
    return _wait_for("xinf-bench-mesh", what, timeout, probe)

def measure(node_bin, size, repeat, workdir):
    log = open(os.path.join(workdir, f"nodes-{size}.log"), "w+")
    supervisor = start([node_bin, "-p", "0", "--bind", "127.0.0.1", "--log-level", "warn"], log)
    procs = [supervisor]
    try:
        def endpoint():
            log.flush()
            with open(log.name) as text:
                match = re.search(r"listening on tcp://[^\s:]+:(\d+)", text.read())
            return match and f"tcp://127.0.0.1:{match.group(1)}"
        ep = wait_for("the supervisor", 10, endpoint)
        for index in range(size):
            procs.append(start([node_bin, "--role=worker", "-e", ep, "--node-name", f"m{index}", "-H", "127.0.0.1",
                                "--log-level", "warn"], log))
        client = XinfClient(ep, timeout_ms=20000)
        wait_for(f"{size} workers", 20, lambda: sum(w["state"] == "alive" for w in client.cluster_info()["workers"])
                 == size)
        pings, meshes = [], []
        for _ in range(repeat):
            pings.append(client.ping()["rtt_us"] / 1000)
            start_time = time.monotonic()
            report = client.doctor(probe_timeout_ms=3000)
            meshes.append((time.monotonic() - start_time) * 1000)
            if not report["ok"] or len(report["mesh"]) != size * (size - 1):
                raise SystemExit(f"xinf-bench-mesh: unexpected report: {report['problems']}")
        client.close()
        return statistics.median(meshes), max(meshes), statistics.median(pings)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir")
    parser.add_argument("--sizes", default="2,4,8")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    node_bin = os.path.join(args.build_dir, "tools", "xinf-node")
    print(f"{'workers':>7} {'pairs':>5} {'mesh p50 (ms)':>14} {'mesh max (ms)':>14} {'ping (ms)':>10}  goal (8 workers)")
    with tempfile.TemporaryDirectory(prefix="xinf-bench-mesh-") as workdir:
        for size in [int(s) for s in args.sizes.split(",")]:
            p50, worst, ping = measure(node_bin, size, args.repeat, workdir)
            goal = ("< 1000 ms: " + ("PASS" if worst < 1000 else "MISS")) if size == 8 else ""
            print(f"{size:>7} {size * (size - 1):>5} {p50:>14.1f} {worst:>14.1f} {ping:>10.2f}  {goal}")


if __name__ == "__main__":
    main()
