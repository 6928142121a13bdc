"""Multi-process test: a worker that advertises 127.0.0.1 to a supervisor
reached over a non-loopback address gets the loopback warning, and one that
advertises an address it does not connect from gets the mismatch warning
(protocols/node.md, "Address warnings"), as listed by CLUSTER_INFO.

The test needs a non-loopback address, and may send traffic only to loopback
or to addresses inside a network namespace it created itself. So it re-runs
itself inside a fresh network namespace (`unshare --net`, root only), brings
up `lo` and an interface holding 10.231.0.1/24 there (a dummy interface,
else a veth pair, else an extra address on lo), and runs the nodes inside.
The namespace disappears with the process. Without root, unshare or ip, or
where the namespace cannot be made, it prints SKIP with the reason (exit 77).
"""
import os
import shutil
import subprocess
import sys
import time

INSIDE = "XINF_TEST_IN_NETNS"
ADDRESS = "10.231.0.1"
WRONG = "10.231.0.9"
SKIP = 77


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def outside():
    """Checks the prerequisites and re-runs this script in a new netns."""
    if os.geteuid() != 0:
        skip("needs root to create a network namespace (unshare --net)")
    for program in ("unshare", "ip"):
        if not shutil.which(program):
            skip(f"'{program}' not found (util-linux / iproute2)")
    probe = subprocess.run(["unshare", "--net", "--", "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        skip(f"cannot create a network namespace: unshare --net: {probe.stderr.strip() or probe.returncode}")
    env = dict(os.environ, **{INSIDE: "1"})
    try:
        child = subprocess.run(["unshare", "--net", "--", sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
                               env=env, timeout=120)
    except subprocess.TimeoutExpired:
        print("FAIL: the test inside the network namespace did not finish within 120 s")
        sys.exit(1)
    sys.exit(child.returncode)


def ip(*args):
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    return result.returncode == 0, result.stderr.strip()


def set_up_namespace():
    """lo up, then ADDRESS on some interface of this namespace only."""
    ok, error = ip("link", "set", "lo", "up")
    if not ok:
        skip(f"cannot bring lo up in the namespace: {error}")
    tries = [("dummy interface xinf0", [("link", "add", "xinf0", "type", "dummy")], "xinf0"),
             ("veth pair xinf0/xinf0p", [("link", "add", "xinf0", "type", "veth", "peer", "name", "xinf0p"),
                                         ("link", "set", "xinf0p", "up")], "xinf0"),
             ("extra address on lo", [], "lo")]
    errors = []
    for what, commands, device in tries:
        results = [ip(*command) for command in commands]
        failed = [error for ok, error in results if not ok]
        if failed:
            errors.append(f"{what}: {failed[0]}")
            ip("link", "del", "xinf0")
            continue
        ok, error = ip("addr", "add", f"{ADDRESS}/24", "dev", device)
        if ok and device != "lo":
            ok, error = ip("link", "set", device, "up")
        if ok:
            return what
        errors.append(f"{what}: {error}")
    skip(f"cannot give the namespace the address {ADDRESS}: {'; '.join(errors)}")


def inside():
    what = set_up_namespace()
    # Imported here: outside() must be able to skip without pyzmq too
    from test_cluster import INTERVAL_MS, LIVENESS, Proc, poll, workers_by_name
    from xinf_testlib import check, tool
    from xinf_client import XinfClient

    build_dir = sys.argv[1]
    node_bin = tool(build_dir, "xinf-node")
    beat = ["--heartbeat-ms", str(INTERVAL_MS), "--liveness", str(LIVENESS)]
    supervisor = Proc("supervisor", [node_bin, "-p", "0", "--bind", "0.0.0.0", "--node-name", "sup", *beat])
    port = supervisor.wait_output(r"listening on tcp://[^\s:]+:(\d+)").group(1)
    remote = f"tcp://{ADDRESS}:{port}"

    def worker(name, *host):
        return Proc(name, [node_bin, "--role=worker", "-e", remote, "--node-name", name, *beat, *host])

    workers = [worker("loopback", "-H", "127.0.0.1"), worker("wrong", "-H", WRONG),
               worker("right", "-H", ADDRESS), worker("detected")]
    client = XinfClient(f"tcp://127.0.0.1:{port}", timeout_ms=2000)
    names = [process.name for process in workers]
    poll("4 alive workers", 10, lambda: all(workers_by_name(client).get(name, {}).get("state") == "alive"
                                            for name in names))
    listed = workers_by_name(client)
    for name in names:
        check(listed[name]["observed_address"] == ADDRESS,
              f"{name}: observed_address {listed[name]['observed_address']!r}, wanted {ADDRESS}")

    loopback = listed["loopback"]["warnings"]
    text = " ".join(loopback)
    check(loopback and "loopback" in text and "-H" in text and "XINF_HOST_IP" in text and "127.0.0.1" in text,
          f"worker advertising 127.0.0.1 over {ADDRESS}: warnings {loopback}")
    wrong = listed["wrong"]["warnings"]
    check(any(f"advertises {WRONG} but connects from {ADDRESS}" in warning and "-H" in warning
              and "XINF_HOST_IP" in warning for warning in wrong),
          f"worker advertising {WRONG}: warnings {wrong}")
    check(listed["right"]["warnings"] == [], f"worker advertising {ADDRESS}: warnings {listed['right']['warnings']}")
    detected = listed["detected"]
    check(detected["host_ip"] == ADDRESS and detected["host_ip_source"] == "detected" and not detected["warnings"],
          f"worker without -H: host_ip {detected['host_ip']!r} ({detected['host_ip_source']}), "
          f"warnings {detected['warnings']}")
    events = client.events()["events"]
    warned = sorted({event["node"] for event in events if event["kind"] == "warned"})
    print(f"namespace address on {what}; loopback warning: {loopback[0]!r}")
    print(f"mismatch warning: {wrong[0]!r}; 'warned' events for {warned}")
    # doctor: every pair towards the worker advertising an address no host has
    # fails, named with host:port and the fix, within the probe timeout
    started = time.monotonic()
    report = client.doctor(probe_timeout_ms=1500)
    took = time.monotonic() - started
    check(not report["ok"] and took < 10, f"doctor: ok={report['ok']} after {took:.1f} s")
    towards_wrong = [pair for pair in report["mesh"] if pair["to"] == "wrong" and not pair.get("tcp_only")]
    check(len(towards_wrong) == 3 and all(pair["status"] in ("timeout", "unreachable") and WRONG in pair["endpoint"]
                                          for pair in towards_wrong), f"doctor mesh towards 'wrong': {towards_wrong}")
    others = [pair for pair in report["mesh"] if pair["to"] != "wrong"]
    check(all(pair["status"] == "ok" for pair in others), f"doctor mesh between reachable workers: {others}")
    check(any("cannot reach wrong" in problem and WRONG in problem and "XINF_HOST_IP" in problem
              for problem in report["problems"]), f"doctor problems: {report['problems']}")
    print(f"doctor in {took:.1f} s: {towards_wrong[0]['from']} -> wrong: {towards_wrong[0]['status']} "
          f"({towards_wrong[0]['endpoint']})")
    for process in workers:
        check(process.stop() == 0, f"{process.name} did not exit 0 after SIGTERM")
    client.close()
    check(supervisor.stop() == 0, "supervisor did not exit 0 after SIGTERM")
    print(f"PASS: address warnings for loopback and mismatched -H over {ADDRESS} in a private network namespace")


if __name__ == "__main__":
    if os.environ.get(INSIDE) != "1":
        outside()
    else:
        import test_cluster
        test_cluster.run_logged(inside)
