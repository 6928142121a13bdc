"""CurveZMQ on the workers' data sockets (protocols/security.md): with
keys, each worker's probe listener and collective are CURVE servers by the
worker's key that only the cluster's worker keys may reach, and a worker
dials a peer only with the key the supervisor relays (PROBE_MESH targets,
GROUP keys). Checked through real processes on 127.0.0.1: doctor's mesh
and a tensor-parallel launch work with keys on; the probe listener answers
a worker key and nobody else (no key, a user key); a worker w3 that the
supervisor lists but w1's --keys does not is refused by w1's collective,
and the launch over w1 and w3 fails at once saying so, not at the
rendezvous deadline."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_testlib import SKIP, check, stop_process, tool  # noqa: E402
from test_security import ask, cli, client, read, start, wait_for  # noqa: E402
import zmq  # noqa: E402


def main():
    build_dir = sys.argv[1]
    if not zmq.has("curve"):
        print("SKIP: this pyzmq's libzmq has no CURVE")
        sys.exit(SKIP)
    workdir = tempfile.mkdtemp(prefix="xinf-security-data-")
    keydir, older = os.path.join(workdir, "keys"), os.path.join(workdir, "keys-without-w3")
    os.mkdir(keydir)
    os.mkdir(older)
    for name, role in (("sup", "admin"), ("w1", "worker"), ("w2", "worker"), ("w3", "worker"), ("alice", "user"),
                       ("root", "admin")):
        subprocess.run([tool(build_dir, "xinf-cli"), "keygen", name, "--role", role, "--dir", workdir],
                       check=True, capture_output=True, timeout=30)
        if name != "sup":
            os.link(os.path.join(workdir, name + ".key"), os.path.join(keydir, name + ".key"))
        if name not in ("sup", "w3"):
            os.link(os.path.join(workdir, name + ".key"), os.path.join(older, name + ".key"))
    key = lambda name: os.path.join(workdir, name + ".key")  # noqa: E731
    node = tool(build_dir, "xinf-node")
    supervisor, sup_out, sup_log = start(node, ["--role=supervisor", "--bind", "127.0.0.1", "-p", "0", "--node-name", "sup",
                                                "--cert", key("sup"), "--keys", keydir], workdir, "sup")
    wait_for("the supervisor's endpoint", lambda: "listening on" in read(sup_out))
    endpoint = re.search(r"listening on (tcp://\S+)", read(sup_out)).group(1)
    workers = []
    for name, ports, listed in (("w1", "29600-29649", older), ("w2", "29650-29699", older)):
        process, out, _ = start(node, ["--role=worker", "--node-name", name, "-e", endpoint, "--data-ports", ports,
                                       "--model-dir", workdir,
                                       "--cert", key(name), "--server-key", key("sup"), "--keys", listed], workdir, name)
        workers.append((process, name, out))
    for _, name, out in workers:
        wait_for(f"{name} registered", lambda out=out: "registered with" in read(out))
    admin = (key("root"), key("sup"))

    #  The mesh: every pair over CURVE, each dialer holding the key the supervisor relayed
    doctor = cli(build_dir, endpoint, "doctor", "--json", keys=admin)
    check(doctor.returncode == 0, f"doctor with keys: {doctor.stdout} {doctor.stderr}")
    print("doctor with keys: OK")

    #  The probe listener answers a worker key only
    alice = client(endpoint, workdir, "alice", "sup")
    info = ask(alice, "CLUSTER_INFO")["body"]["workers"]
    w1 = next(item for item in info if item["node"] == "w1")
    check(len(w1.get("key", "")) == 40, f"CLUSTER_INFO shows no key for w1: {w1}")
    probe_endpoint = f"tcp://127.0.0.1:{w1['data_port']}"
    for holder, expected in ((None, False), ("alice", False), ("w2", True)):
        socket = client(probe_endpoint, workdir, holder, "w1") if holder else client(probe_endpoint, workdir)
        reply = ask(socket, "PROBE", {"expect": "w1"}, timeout_ms=1500)
        socket.close()
        answered = bool(reply and reply["type"] == "PROBE_OK")
        check(answered == expected, f"w1's probe listener with key {holder}: answered={answered}, wanted {expected}")
    print("probe listener: a worker key is answered, no key and a user key are not")

    #  Tensor parallel over two workers: the collective's rendezvous and traffic under CURVE
    model = os.path.join(workdir, "tp.gguf")
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "192", "--layers", "2",
                    "--heads", "4", "--kv-heads", "2", "--ffn", "384", "--vocab", "512", "--tokenizer", "gpt2",
                    "--seed", "7", "-o", model], check=True, capture_output=True, timeout=120)
    launched = cli(build_dir, endpoint, "launch", "tp", model, "--n-worker", "2", "--threads", "1", keys=admin, timeout=240)
    check(launched.returncode == 0, f"the tensor-parallel launch with keys: {launched.stdout} {launched.stderr}")
    generated = cli(build_dir, endpoint, "generate", "tp", "--prompt-tokens", "1,2,3", "--max-tokens", "8",
                    keys=(key("alice"), key("sup")))
    check(generated.returncode == 0 and generated.stdout.strip(), f"generate on the TP model: {generated.stderr}")
    print(f"tensor parallel with keys: generated {generated.stdout.strip()[:60]!r}")

    #  w3: listed by the supervisor, not by w1 (an out-of-date key directory)
    process, out, _ = start(node, ["--role=worker", "--node-name", "w3", "-e", endpoint, "--data-ports", "29550-29599",
                                   "--model-dir", workdir,
                                   "--cert", key("w3"), "--server-key", key("sup"), "--keys", keydir], workdir, "w3")
    workers.append((process, "w3", out))
    wait_for("w3 registered", lambda: "registered with" in read(out))
    started = time.monotonic()
    refused = cli(build_dir, endpoint, "launch", "tp3", model, "--workers", "w1,w3", "--n-worker", "2", "--threads", "1",
                  "--rendezvous-timeout", "60000", "--probe-timeout", "2000", keys=admin, timeout=240)
    took = time.monotonic() - started
    said = refused.stdout + refused.stderr
    check(refused.returncode != 0 and "refused our key" in said, f"a launch over w1 and w3: {said}")
    check(took < 30, f"the refused key was said only after {took:.1f} s (the rendezvous allows 60 s)")
    print(f"launch over w1 and w3 refused after {took:.1f} s: "
          f"{[line for line in said.splitlines() if 'refused our key' in line][0][:160]}")
    alice.close()
    for process, name, _ in workers:
        stop_process(process, name)
    stop_process(supervisor, "supervisor")
    shutil.rmtree(workdir)
    print("OK: data sockets are CURVE")


if __name__ == "__main__":
    main()
