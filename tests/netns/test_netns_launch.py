"""Fault injection over real (namespaced) hosts: a 2-worker tensor-parallel
launch either comes up or fails within seconds naming the cause.

Hosts from xinf_netns: the supervisor in sup (10.232.0.1), workers w1
(10.232.0.2) and w2 (10.232.0.3), each in its own network namespace.

  1. an nftables rule in w2 drops w1's traffic to w2's data ports:
     `xinf-cli launch m PATH --n-worker 2` fails in under 10 s, and its error
     names w1 -> w2 with w2's host:port and the fix; `doctor` shows the same
     pair;
  2. w1 restarted with `-H 127.0.0.1`: the launch fails with the address
     check's message and the flag to set;
  3. all open: the 2-rank model generates the same 64 greedy tokens as the
     model on one worker; then kill -9 of w2 mid-stream: the client gets
     WORKER_LOST naming w2 within the liveness window.

Skips (exit 77, reason printed) without root, ip, nft, or where the
namespaces cannot be built."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_netns import Hosts, check, run_logged  # noqa: E402
from xinf_client import XinfError  # noqa: E402
from test_cluster import INTERVAL_MS, LIVENESS  # noqa: E402

DATA_PORTS = (29500, 29509)
PROMPT = "1,2,3,4,5,6,7,8,9,10,11,12,13"


def make_model(build_dir, workdir):
    path = os.path.join(workdir, "tp.gguf")
    subprocess.run([os.path.join(build_dir, "tools", "xinf-make-model"), "--arch", "llama", "--type", "f32",
                    "--dim", "192", "--layers", "3", "--heads", "12", "--kv-heads", "6", "--ffn", "384",
                    "--vocab", "512", "--context", "2048", "--tokenizer", "gpt2", "--seed", "7", "-o", path],
                   check=True, capture_output=True, timeout=120)
    os.chmod(workdir, 0o755)
    return path


def launch(hosts, uid, path, *extra):
    started = time.monotonic()
    result = hosts.cli("sup", "launch", uid, path, "--threads", "1", *extra, timeout=60)
    return result, time.monotonic() - started


def generate(hosts, uid):
    result = hosts.cli("sup", "generate", uid, "--prompt-tokens", PROMPT, "--max-tokens", "64",
                       "--temperature", "0", "--json", timeout=60)
    check(result.returncode == 0, f"generate {uid}: exit {result.returncode}: {result.stderr}")
    return json.loads(result.stdout)["tokens"]


def scenario_blocked_port(hosts, path):
    rule = hosts.drop("w2", from_host="w1", ports=DATA_PORTS)
    result, took = launch(hosts, "blocked", path, "--n-worker", "2", "--probe-timeout", "1000")
    text = result.stderr + result.stdout
    w2 = hosts.addr("w2")
    check(result.returncode != 0, f"the launch succeeded through a dropped port: {text}")
    check(took < 10, f"the launch took {took:.2f} s to fail (bound 10 s)")
    check("preflight" in text and "w1 cannot reach w2" in text and f"{w2}:" in text and "fix" in text,
          f"the launch error does not name w1 -> w2 at {w2}: {text}")
    doctor = hosts.cli("sup", "doctor", "--probe-timeout", "1000", "--json", timeout=60)
    report = json.loads(doctor.stdout)
    bad = [p for p in report["mesh"] if p["status"] != "ok"]
    check(doctor.returncode != 0 and {(p["from"], p["to"]) for p in bad} == {("w1", "w2")},
          f"doctor does not show the same pair: {bad}")
    print(f"blocked w1 -> w2 data ports: the launch failed after {took:.2f} s: {text.strip()[:400]}")
    print(f"doctor: {bad[0]['from']} -> {bad[0]['to']} {bad[0]['endpoint']} {bad[0]['status']}")
    hosts.cli("sup", "terminate", "blocked")
    hosts.undrop(rule)


def scenario_blocked_collective_port(hosts, path):
    """The probe listener's port (the range's first) open, the rest of w2's
    range dropped: the preflight passes, then the check of the ports the
    collectives bound names w1 -> w2 at the collective's port, with the
    whole range in the fix, within seconds instead of a rendezvous timeout."""
    rule = hosts.drop("w2", from_host="w1", ports=(DATA_PORTS[0] + 1, DATA_PORTS[1]))
    result, took = launch(hosts, "collective", path, "--n-worker", "2", "--workers", "w1,w2",
                          "--probe-timeout", "1000")
    text = result.stderr + result.stdout
    w2 = hosts.addr("w2")
    check(result.returncode != 0 and "data ports are not reachable" in text and "w1 cannot reach w2" in text
          and f"open {DATA_PORTS[0]}-{DATA_PORTS[1]}/tcp on {w2}" in text,
          f"wanted the data port check naming w1 -> w2 and the range: {text}")
    check(took < 10, f"the launch took {took:.2f} s to fail (bound 10 s)")
    print(f"w2's collective port dropped, its probe port open: the launch failed after {took:.2f} s: "
          f"{text.strip()[:400]}")
    hosts.cli("sup", "terminate", "collective")
    hosts.undrop(rule)


def scenario_loopback_worker(hosts, client, path):
    workers = hosts.workers
    check(workers["w1"].stop() == 0, "w1 did not exit 0")
    workers["w1"] = hosts.start_worker("w1", host_ip="127.0.0.1", data_ports=DATA_PORTS)
    hosts.wait_alive(client, ["w1", "w2"])
    result, took = launch(hosts, "loopback", path, "--n-worker", "2")
    text = result.stderr + result.stdout
    check(result.returncode != 0 and "address check" in text and "127.0.0.1" in text and "XINF_HOST_IP" in text
          and "w1" in text, f"wanted the address check naming w1's loopback address and the fix: {text}")
    print(f"w1 with -H 127.0.0.1: the launch failed after {took:.2f} s: {text.strip()[:400]}")
    hosts.cli("sup", "terminate", "loopback")
    check(workers["w1"].stop() == 0, "w1 (loopback) did not exit 0")
    workers["w1"] = hosts.start_worker("w1", data_ports=DATA_PORTS)
    hosts.wait_alive(client, ["w1", "w2"])


def scenario_split_address(hosts, client, path):
    """w1 advertises a second address of its own (as behind NAT or with
    several NICs, the supervisor sees it connect from its first): a warning
    in the launch's reply and in doctor, not a refusal; the 2-rank launch
    comes up because the preflight mesh reaches w1 there."""
    workers = hosts.workers
    second = hosts.addr("w1").rsplit(".", 1)[0] + ".102"
    hosts.run("w1", ["ip", "addr", "add", f"{second}/24", "dev", "eth0"], check=True)
    check(workers["w1"].stop() == 0, "w1 did not exit 0")
    workers["w1"] = hosts.start_worker("w1", host_ip=second, data_ports=DATA_PORTS)
    hosts.wait_alive(client, ["w1", "w2"])
    doctor = hosts.cli("sup", "doctor", "--probe-timeout", "1000", "--json", timeout=60)
    report = json.loads(doctor.stdout)
    check(doctor.returncode == 0 and report["ok"] and any(second in w for w in report["warnings"]),
          f"doctor with w1 advertising {second}: exit {doctor.returncode}, problems {report['problems']}, "
          f"warnings {report['warnings']}")
    result, took = launch(hosts, "split", path, "--n-worker", "2", "--workers", "w1,w2")
    text = result.stderr + result.stdout
    check(result.returncode == 0 and "warning" in text and second in text,
          f"the split-address launch: exit {result.returncode}: {text}")
    print(f"w1 advertising {second} (seen from {hosts.addr('w1')}): doctor ok with the warning; the 2-rank launch "
          f"ready after {took:.2f} s: {[line for line in text.splitlines() if 'warning' in line][0]}")
    hosts.cli("sup", "terminate", "split")
    check(workers["w1"].stop() == 0, "w1 (split) did not exit 0")
    workers["w1"] = hosts.start_worker("w1", data_ports=DATA_PORTS)
    hosts.wait_alive(client, ["w1", "w2"])


def scenario_serve_and_kill(hosts, client, path):
    result, _ = launch(hosts, "one", path, "--worker", "w1")
    check(result.returncode == 0, f"one-worker launch: {result.stderr}")
    expected = generate(hosts, "one")
    hosts.cli("sup", "terminate", "one")
    result, took = launch(hosts, "tp", path, "--n-worker", "2", "--workers", "w1,w2")
    check(result.returncode == 0, f"2-rank launch: {result.stderr}")
    tokens = generate(hosts, "tp")
    check(tokens == expected, f"2 ranks on 2 hosts made other tokens:\n {tokens}\n {expected}")
    print(f"2 ranks on w1 + w2 ready after {took:.2f} s; 64 greedy tokens equal to one worker's")
    killed = []

    def on_token(index, token, text):
        if not killed:
            hosts.workers["w2"].kill()
            killed.append(time.monotonic())

    bound = LIVENESS * INTERVAL_MS / 1000 + INTERVAL_MS / 1000
    try:
        client.generate("tp", prompt_tokens=[int(t) for t in PROMPT.split(",")], max_tokens=1500, stream=True,
                        on_token=on_token, timeout_ms=20000)
        check(False, "the generation finished although w2 was killed")
    except XinfError as error:
        took = time.monotonic() - killed[0]
        check(error.code == "WORKER_LOST" and "w2" in str(error), f"wanted WORKER_LOST naming w2: {error}")
        check(took <= bound + 1.0, f"the error came {took:.2f} s after the kill (bound {bound:.2f} s + 1 s)")
        print(f"kill -9 w2 mid-stream: {error.code} after {took:.2f} s (bound {bound:.2f} s): {error}")
    hosts.workers["w1"].wait_output(r"unloading replica=tp/0", which="err")


def main():
    build_dir = sys.argv[1]
    with Hosts(build_dir) as hosts, tempfile.TemporaryDirectory(prefix="xinf-netns-launch-") as workdir:
        path = make_model(build_dir, workdir)
        hosts.start_supervisor()
        hosts.workers = {name: hosts.start_worker(name, data_ports=DATA_PORTS) for name in ("w1", "w2")}
        client = hosts.client("sup")
        hosts.wait_alive(client, ["w1", "w2"])
        scenario_blocked_port(hosts, path)
        scenario_blocked_collective_port(hosts, path)
        scenario_loopback_worker(hosts, client, path)
        scenario_split_address(hosts, client, path)
        scenario_serve_and_kill(hosts, client, path)
    print("PASS: a blocked port, a loopback address and a killed rank are each named in seconds")


if __name__ == "__main__":
    run_logged(main)
