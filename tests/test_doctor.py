"""Multi-process test: `doctor` on loopback. Three workers: the mesh of 6
pairs is ok, versions agree, exit status 0 (C client) and ok=true (Python).
Then one worker is frozen (SIGSTOP): doctor names it (its probes time out
at the handshake, it reports nothing, and it is soon lost) and exits 1,
within the probe timeout plus a second; after SIGCONT all is ok again."""
import json
import signal
import subprocess
import sys
import time

from test_cluster import Proc, poll, run_logged, start_supervisor, start_worker, workers_by_name
from xinf_testlib import check, tool
from xinf_client import XinfClient


def doctor_cli(build_dir, endpoint):
    result = subprocess.run([tool(build_dir, "xinf-cli"), "-e", endpoint, "doctor", "--probe-timeout", "1000",
                             "--json"], capture_output=True, text=True, timeout=60)
    return result.returncode, json.loads(result.stdout)


def main():
    build_dir = sys.argv[1]
    node_bin = tool(build_dir, "xinf-node")
    supervisor = start_supervisor(node_bin)
    names = ["d1", "d2", "d3"]
    workers = {name: start_worker(node_bin, supervisor.endpoint, name) for name in names}
    client = XinfClient(supervisor.endpoint, timeout_ms=3000)
    poll("3 alive workers", 10, lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive" for n in names))

    code, report = doctor_cli(build_dir, supervisor.endpoint)
    check(code == 0 and report["ok"], f"doctor on a healthy cluster: exit {code}, problems {report['problems']}")
    check(len(report["mesh"]) == 6 and all(p["status"] == "ok" for p in report["mesh"]), f"mesh {report['mesh']}")
    check({row["node"] for row in report["versions"]} == set(names), f"versions {report['versions']}")
    text = subprocess.run([tool(build_dir, "xinf-cli"), "-e", supervisor.endpoint, "doctor"], capture_output=True,
                          text=True, timeout=60).stdout
    check("OK: no problem found" in text and "connectivity" in text, f"doctor table: {text}")

    frozen = workers["d3"]
    frozen.process.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    report = client.doctor(probe_timeout_ms=1000)
    took = time.monotonic() - started
    check(not report["ok"] and took < 4, f"doctor with d3 frozen: ok={report['ok']} in {took:.1f} s")
    towards = [p for p in report["mesh"] if p["to"] == "d3"]
    check(len(towards) == 2 and all(p["status"] != "ok" for p in towards), f"pairs towards d3: {towards}")
    check(any("d3" in problem for problem in report["problems"]), f"problems: {report['problems']}")
    print(f"doctor in {took:.1f} s with d3 frozen: {report['problems'][0]}")
    frozen.process.send_signal(signal.SIGCONT)
    poll("d3 alive again", 10, lambda: workers_by_name(client)["d3"]["state"] == "alive")
    poll("doctor ok again", 15, lambda: client.doctor(probe_timeout_ms=1000)["ok"])

    client.close()
    for worker in workers.values():
        check(worker.stop() == 0, f"{worker.name} did not exit 0")
    check(supervisor.stop() == 0, "supervisor did not exit 0")
    print("PASS: doctor reports a healthy mesh, names a frozen worker, and recovers")


if __name__ == "__main__":
    run_logged(main)
