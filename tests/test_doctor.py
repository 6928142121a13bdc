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
    #  Its own port range: killed workers' ports must not go to other tests' nodes
    workers = {name: start_worker(node_bin, supervisor.endpoint, name, data_ports="30100-30199") for name in names}
    client = XinfClient(supervisor.endpoint, timeout_ms=3000)
    poll("3 alive workers", 10, lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive" for n in names))

    code, report = doctor_cli(build_dir, supervisor.endpoint)
    check(code == 0 and report["ok"], f"doctor on a healthy cluster: exit {code}, problems {report['problems']}")
    listeners = [p for p in report["mesh"] if not p.get("tcp_only")]
    check(len(listeners) == 6 and len(report["mesh"]) > 6 and all(p["status"] == "ok" for p in report["mesh"]),
          f"mesh {report['mesh']}")
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
    towards = [p for p in towards if not p.get("tcp_only")]    # its range ports still refuse (reachable)
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
    crashed_worker(node_bin)
    print("PASS: doctor reports a healthy mesh, names a frozen worker, and recovers; a crashed one may be down")


def crashed_worker(node_bin):
    """kill -9 of a worker: before the supervisor declares it lost (slow
    beats: 500 ms x 20), doctor says that it may be down, with the age of
    its last heartbeat, not that the address is wrong."""
    beat = ["--heartbeat-ms", "500", "--liveness", "20"]
    supervisor = Proc("crash-sup", [node_bin, "-p", "0", "--bind", "127.0.0.1", "--node-name", "crash-sup", *beat])
    endpoint = "tcp://127.0.0.1:" + supervisor.wait_output(r"listening on tcp://[^\s:]+:(\d+)").group(1)
    workers = {name: Proc(name, [node_bin, "--role=worker", "-e", endpoint, "--node-name", name, *beat,
                                 "-H", "127.0.0.1", "--data-ports", "30200-30299"]) for name in ("c1", "c2")}
    client = XinfClient(endpoint, timeout_ms=3000)
    poll("c1, c2 alive", 15, lambda: all(workers_by_name(client).get(n, {}).get("state") == "alive"
                                         for n in workers))
    workers["c2"].kill()
    poll("c2 silent for more than a heartbeat", 15,
         lambda: workers_by_name(client)["c2"]["last_heartbeat_ms"] > 700)
    report = client.doctor(probe_timeout_ms=1000)
    check(workers_by_name(client)["c2"]["state"] == "alive", "c2 declared lost before doctor answered")
    down = [problem for problem in report["problems"] if "c2" in problem and "may be down" in problem]
    check(down and not any("set -H" in problem for problem in report["problems"] if "c1 cannot reach c2" in problem),
          f"doctor after kill -9 of c2: problems {report['problems']}")
    print(f"doctor after kill -9 of c2: {down[0]}")
    client.close()
    check(workers["c1"].stop() == 0 and supervisor.stop() == 0, "c1 or the supervisor did not exit 0")


if __name__ == "__main__":
    run_logged(main)
