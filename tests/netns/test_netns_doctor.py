"""Fault injection over real (namespaced) hosts: `doctor` names a blocked
worker pair.

Three hosts from xinf_netns (network namespaces on a bridge): the
supervisor in sup binds 10.232.0.1; workers w1 (10.232.0.2) and w2
(10.232.0.3) run with -H <their address>, a small --data-ports range and
-e tcp://10.232.0.1:9997.

  1. all open: `xinf-cli doctor --json` and `tools/xinf_client.py doctor
     --json`, both run in sup, report the mesh all ok and exit 0;
  2. an nftables rule in w2 drops TCP from w1 to w2's data ports: both exit
     non-zero and name the pair w1 -> w2 with w2's host:port and status
     timeout, while w2 -> w1 stays ok; the time doctor took is printed;
  3. the rule removed: ok again (polled with a deadline).

Skips (exit 77, reason printed) without root, ip, nft, or where the
namespaces cannot be built."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_netns import Hosts, check, poll, run_logged  # noqa: E402

DATA_PORTS = (29500, 29509)
PROBE_MS = 1000          # xinf-cli --probe-timeout
PY_PROBE_MS = 3000       # xinf_client.py doctor uses the protocol's default


def doctor_cli(hosts):
    started = time.monotonic()
    result = hosts.cli("sup", "doctor", "--probe-timeout", str(PROBE_MS), "--json", timeout=60)
    took = time.monotonic() - started
    try:
        report = json.loads(result.stdout)
    except ValueError:
        check(False, f"xinf-cli doctor --json: exit {result.returncode}, not JSON: {result.stdout!r} "
                     f"stderr {result.stderr!r}")
    return result.returncode, report, took


def doctor_py(hosts):
    started = time.monotonic()
    result = hosts.py_client("sup", "doctor", "--json", timeout=60)
    took = time.monotonic() - started
    try:
        report = json.loads(result.stdout)
    except ValueError:
        check(False, f"xinf_client.py doctor --json: exit {result.returncode}, not JSON: {result.stdout!r} "
                     f"stderr {result.stderr!r}")
    return result.returncode, report, took


def pair(report, source, target):
    found = [p for p in report["mesh"] if p["from"] == source and p["to"] == target and not p.get("tcp_only")]
    check(len(found) == 1, f"mesh has {len(found)} entries {source} -> {target}: {report['mesh']}")
    return found[0]


def check_all_ok(what, code, report):
    check(code == 0 and report["ok"] and not report["problems"],
          f"{what} with all open: exit {code}, ok={report.get('ok')}, problems {report.get('problems')}")
    check(len([p for p in report["mesh"] if not p.get("tcp_only")]) == 2
          and all(p["status"] == "ok" for p in report["mesh"]),
          f"{what} with all open: mesh {report['mesh']}")


def check_blocked(what, code, report, hosts):
    check(code != 0 and not report["ok"], f"{what} with w1 -> w2 dropped: exit {code}, ok={report['ok']}")
    blocked = pair(report, "w1", "w2")
    endpoint = blocked["endpoint"]
    port = int(endpoint.rsplit(":", 1)[1]) if endpoint.count(":") == 2 else -1
    check(blocked["status"] == "timeout" and endpoint.startswith(f"tcp://{hosts.addr('w2')}:")
          and DATA_PORTS[0] <= port <= DATA_PORTS[1],
          f"{what}: pair w1 -> w2 is {blocked}, wanted timeout at tcp://{hosts.addr('w2')}:<data port>")
    back = pair(report, "w2", "w1")
    check(back["status"] == "ok", f"{what}: pair w2 -> w1 is {back}, wanted ok")
    named = [p for p in report["problems"] if "w1" in p and "w2" in p and f"{hosts.addr('w2')}:{port}" in p]
    check(named and all("w1 cannot reach w2" in p for p in report["problems"]),
          f"{what}: problems {report['problems']}, wanted only w1 -> w2 (its listener {hosts.addr('w2')}:{port} and "
          f"range ports)")
    return blocked, named[0]


def main():
    build_dir = sys.argv[1]
    with Hosts(build_dir) as hosts:
        started = time.monotonic()
        supervisor = hosts.start_supervisor("sup")
        workers = {name: hosts.start_worker(name, data_ports=DATA_PORTS) for name in ("w1", "w2")}
        client = hosts.client("sup", timeout_ms=3000)
        hosts.wait_alive(client, list(workers))
        listed = {w["node"]: w for w in client.cluster_info()["workers"]}
        for name in workers:
            check(listed[name]["host_ip"] == hosts.addr(name) and listed[name]["observed_address"] == hosts.addr(name)
                  and not listed[name]["warnings"], f"{name} as registered: {listed[name]}")
        print(f"cluster up in {time.monotonic() - started:.2f} s: supervisor at {hosts.endpoint}, "
              f"workers w1={hosts.addr('w1')} w2={hosts.addr('w2')}")

        # 1. all open
        code, report, took = doctor_cli(hosts)
        check_all_ok("xinf-cli doctor", code, report)
        print(f"1. all open: xinf-cli doctor ok in {took:.2f} s: "
              + "; ".join(f"{p['from']} -> {p['to']} {p['endpoint']} {p['status']} {p['ms']} ms" for p in report["mesh"]))
        code, report, took = doctor_py(hosts)
        check_all_ok("xinf_client.py doctor", code, report)
        print(f"   xinf_client.py doctor ok in {took:.2f} s")

        # 2. w2 drops TCP from w1 to its data ports
        rule = hosts.drop("w2", "w1", DATA_PORTS)
        print(f"2. nftables in w2: {rule.text}")
        code, report, took = doctor_cli(hosts)
        blocked, problem = check_blocked("xinf-cli doctor", code, report, hosts)
        bound = 1.5 * PROBE_MS / 1000 + 1
        check(took < bound + 2, f"xinf-cli doctor with the drop rule took {took:.2f} s (probe timeout "
                                f"{PROBE_MS} ms, protocol bound ~{bound:.1f} s)")
        print(f"   xinf-cli doctor (--probe-timeout {PROBE_MS}) exit {code} in {took:.2f} s: w1 -> w2 "
              f"{blocked['endpoint']} {blocked['status']} after {blocked['ms']} ms; w2 -> w1 ok")
        print(f"   problem: {problem}")
        code, report, took = doctor_py(hosts)
        blocked, _ = check_blocked("xinf_client.py doctor", code, report, hosts)
        bound = 1.5 * PY_PROBE_MS / 1000 + 1
        check(took < bound + 3, f"xinf_client.py doctor with the drop rule took {took:.2f} s")
        print(f"   xinf_client.py doctor (probe timeout {PY_PROBE_MS} ms) exit {code} in {took:.2f} s: "
              f"w1 -> w2 {blocked['status']} after {blocked['ms']} ms")
        started = time.monotonic()
        report = client.doctor(probe_timeout_ms=500)
        took = time.monotonic() - started
        blocked, _ = check_blocked("DOCTOR (timeout_ms 500)", 1, report, hosts)
        print(f"   DOCTOR timeout_ms=500 from this process in {took:.2f} s: w1 -> w2 {blocked['status']}")

        # 2b. only the collectives' ports dropped (the probe listener's open):
        # doctor probes the first ports of each range too, and names them
        hosts.undrop(rule)
        rule = hosts.drop("w2", "w1", (DATA_PORTS[0] + 1, DATA_PORTS[1]))
        code, report, took = doctor_cli(hosts)
        ranges = [p for p in report["mesh"] if p.get("tcp_only") and p["from"] == "w1" and p["to"] == "w2"
                  and p["status"] != "ok"]
        fixes = [p for p in report["problems"] if f"open {DATA_PORTS[0]}-{DATA_PORTS[1]}/tcp on {hosts.addr('w2')}" in p]
        check(code != 0 and ranges and fixes, f"doctor with w2's collective ports dropped: exit {code}, "
              f"mesh {report['mesh']}, problems {report['problems']}")
        print(f"2b. w2's collective ports dropped, its probe listener open: doctor exit {code} in {took:.2f} s: "
              f"{fixes[0][:200]}")

        # 3. rule removed: ok again
        hosts.undrop(rule)
        started = time.monotonic()
        poll("doctor ok after removing the rule", 20, lambda: doctor_cli(hosts)[0] == 0)
        print(f"3. rule removed: doctor ok again after {time.monotonic() - started:.2f} s")
        code, report, took = doctor_cli(hosts)
        check_all_ok("xinf-cli doctor after removing the rule", code, report)
        code, report, took = doctor_py(hosts)
        check_all_ok("xinf_client.py doctor after removing the rule", code, report)

        for name, node in workers.items():
            check(node.stop() == 0, f"{name} did not exit 0 after SIGTERM")
        check(supervisor.stop() == 0, "supervisor did not exit 0 after SIGTERM")
    print("PASS: doctor over namespaced hosts: all ok, names the dropped pair w1 -> w2 (timeout), ok again")


if __name__ == "__main__":
    run_logged(main)
