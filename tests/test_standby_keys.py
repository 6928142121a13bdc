"""A standby supervisor pair with CurveZMQ keys (protocols/security.md,
"A standby pair"), real processes on 127.0.0.1:

  a. a supervisor whose --cert is not a key of role supervisor in --keys
     refuses to start with --standby-peer, naming the fix;
  b. P and B share the key pair `sup` (role supervisor): their HA_STATE
     link is CURVE, so P becomes active and B passive;
  c. a user key's HA_STATE is FORBIDDEN and changes nothing;
  d. P's HTTP gateway reaches P through CURVE (its own in-memory key):
     GET /v1/models answers 200;
  e. a worker with -e P,B and one --server-key registers with P; after
     kill -9 of P it turns to B, which takes over and lists it alive.

Waits poll with deadlines; heartbeats are 200 ms x 3."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from test_cluster import BEAT_ARGS, Proc, poll  # noqa: E402
from test_security import ask, client  # noqa: E402
from xinf_client import XinfClient  # noqa: E402
from xinf_testlib import SKIP, check, free_port, tool  # noqa: E402
import zmq  # noqa: E402


def keygen(build_dir, workdir, keydir, name, role):
    made = subprocess.run([tool(build_dir, "xinf-cli"), "keygen", name, "--role", role, "--dir", workdir],
                          capture_output=True, text=True, timeout=30)
    check(made.returncode == 0, f"keygen {name}: {made.stderr}")
    os.link(os.path.join(workdir, name + ".key"), os.path.join(keydir, name + ".key"))


def main():
    build_dir = sys.argv[1]
    if not zmq.has("curve"):
        print("SKIP: this pyzmq's libzmq has no CURVE")
        sys.exit(SKIP)
    node = tool(build_dir, "xinf-node")
    with tempfile.TemporaryDirectory(prefix="xinf-standby-keys-") as workdir:
        keydir = os.path.join(workdir, "keys")
        os.mkdir(keydir)
        for name, role in (("sup", "supervisor"), ("w1", "worker"), ("root", "admin"), ("alice", "user")):
            keygen(build_dir, workdir, keydir, name, role)
        key = lambda name: os.path.join(workdir, name + ".key")  # noqa: E731
        p_port, b_port = free_port(), free_port()
        p_end, b_end = f"tcp://127.0.0.1:{p_port}", f"tcp://127.0.0.1:{b_port}"

        # a. a key of another role cannot join a pair
        refused = subprocess.run([node, "--role=supervisor", "-p", str(p_port), "--bind", "127.0.0.1",
                                  "--cert", key("root"), "--keys", keydir, "--standby", "primary",
                                  "--standby-peer", b_end], capture_output=True, text=True, timeout=30)
        check(refused.returncode != 0 and "role supervisor" in refused.stderr and "keygen" in refused.stderr,
              f"a pair with an admin key: rc {refused.returncode}, {refused.stderr}")
        print(f"a. {refused.stderr.strip()}")

        # b. the pair with the shared supervisor key
        http_port = free_port()

        def supervisor(name, port, peer, role):
            http = ["--http-port", str(http_port)] if name == "P" else []
            proc = Proc(name, [node, "--role=supervisor", "-p", str(port), "--bind", "127.0.0.1", "--node-name", name,
                               *BEAT_ARGS, "--cert", key("sup"), "--keys", keydir, "--standby", role,
                               "--standby-peer", peer, *http])
            proc.wait_output(r"listening on tcp://")
            return proc

        primary = supervisor("P", p_port, b_end, "primary")
        backup = supervisor("B", b_port, p_end, "backup")

        def standby(endpoint):
            with XinfClient(endpoint, timeout_ms=1000, cert=key("alice"), server_key=key("sup")) as user:
                return user.ping().get("standby")

        poll("P active and B passive over the CURVE link", 15,
             lambda: standby(p_end) == "active" and standby(b_end) == "passive")
        print("b. P active, B passive: HA_STATE flows over CURVE")

        # c. a user key may not speak for a supervisor
        alice = client(b_end, workdir, "alice", "sup")
        forged = ask(alice, "HA_STATE", {"state": "primary"})
        check(forged is not None and forged["type"] == "ERROR" and forged["body"]["code"] == "FORBIDDEN",
              f"a user key's HA_STATE: {forged}")
        alice.close()
        check(standby(b_end) == "passive", "B changed state on a user's HA_STATE")
        print(f"c. a user's HA_STATE: {forged['body']['message']}")

        # d. the gateway is a CURVE client of its supervisor
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v1/models", timeout=10) as answer:
            check(answer.status == 200 and json.load(answer)["object"] == "list", "GET /v1/models through P's gateway")
        print("d. P's HTTP gateway answers GET /v1/models through CURVE")

        # e. a worker of the pair, and a fail-over
        worker = Proc("w1", [node, "--role=worker", "-e", f"{p_end},{b_end}", "--node-name", "w1", *BEAT_ARGS,
                             "-H", "127.0.0.1", "--data-ports", "29800-29899", "--model-dir", workdir,
                             "--cert", key("w1"), "--server-key", key("sup"), "--keys", keydir])

        def alive_at(endpoint):
            with XinfClient(endpoint, timeout_ms=1000, cert=key("root"), server_key=key("sup")) as admin:
                return any(w["node"] == "w1" and w["state"] == "alive" for w in admin.cluster_info()["workers"])

        poll("w1 alive at P", 15, lambda: alive_at(p_end))
        primary.kill()
        poll("B active after P's kill", 20, lambda: standby(b_end) == "active")
        poll("w1 alive at B", 20, lambda: alive_at(b_end))
        print("e. kill -9 of P: B took over and w1 registered there")
        worker.stop()
        backup.stop()
    print("standby_keys: OK")


if __name__ == "__main__":
    main()
