"""A standby supervisor pair with CurveZMQ keys (protocols/security.md,
"A standby pair"), real processes on 127.0.0.1:

  a. a supervisor whose --cert is not a key of role supervisor in --keys
     refuses to start with --standby-peer, naming the fix;
  b. P and B share the key pair `sup` (role supervisor): their HA_STATE
     link is CURVE, so P becomes active and B passive; a worker with
     -e P,B and one --server-key registers with P, an admin key launches a
     model there and a user key generates;
  c. a user key's HA_STATE is FORBIDDEN and changes nothing;
  d. P's HTTP gateway reaches P through CURVE (its own in-memory key):
     GET /v1/models answers 200;
  e. a peer without a valid key (an unlisted key, no key) gets nothing from
     either supervisor, and each logs the refused connection;
  f. a rogue supervisor with a key pair of its own (role supervisor, not
     the pair's) cannot join the pair: its link to P fails the handshake,
     which its log names as such (never as a silent peer), P logs the
     refused connection, and P and B keep their states;
  g. kill -9 of P: w1 turns to B, which takes over; the model generates
     through B (the same tokens), and xinf-cli -e P,B with keys finds B;
  h. P restarted with a key pair of another pair: both sides name the
     failed handshake of their link, B stays active;
  i. P restarted right (passive beside B), B restarted with another key
     pair: P's fail-over says its link failed the handshake, not that the
     peer is silent.

Waits poll with deadlines; heartbeats are 200 ms x 5."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from test_cluster import BEAT_ARGS, Proc, poll, run_logged  # noqa: E402
from test_security import ask, client  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402
from xinf_testlib import SKIP, check, free_port, tool  # noqa: E402
import zmq  # noqa: E402


def keygen(build_dir, workdir, keydir, name, role):
    """NAME.key and NAME.key_secret in workdir; the public file also in
    keydir (the supervisors' --keys) unless keydir is None."""
    made = subprocess.run([tool(build_dir, "xinf-cli"), "keygen", name, "--role", role, "--dir", workdir],
                          capture_output=True, text=True, timeout=30)
    check(made.returncode == 0, f"keygen {name}: {made.stderr}")
    if keydir:
        os.link(os.path.join(workdir, name + ".key"), os.path.join(keydir, name + ".key"))


def make_model(build_dir, path):
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "128", "--layers", "2",
                    "--heads", "4", "--kv-heads", "2", "--ffn", "256", "--vocab", "512", "--context", "1024",
                    "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)


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
        keygen(build_dir, workdir, None, "mallory", "user")          # a key no supervisor lists
        key = lambda name: os.path.join(workdir, name + ".key")  # noqa: E731
        model = os.path.join(workdir, "small.gguf")
        make_model(build_dir, model)
        p_port, b_port = free_port(), free_port()
        p_end, b_end = f"tcp://127.0.0.1:{p_port}", f"tcp://127.0.0.1:{b_port}"

        # a. a key of another role cannot join a pair
        refused = subprocess.run([node, "--role=supervisor", "-p", str(p_port), "--bind", "127.0.0.1",
                                  "--cert", key("root"), "--keys", keydir, "--standby", "primary",
                                  "--standby-peer", b_end], capture_output=True, text=True, timeout=30)
        check(refused.returncode != 0 and "role supervisor" in refused.stderr and "keygen" in refused.stderr,
              f"a pair with an admin key: rc {refused.returncode}, {refused.stderr}")
        print(f"a. {refused.stderr.strip()}")

        # b. the pair with the shared supervisor key, a worker, a model
        http_port = free_port()

        def supervisor(name, port, peer, role, cert="sup", keys=keydir):
            http = ["--http-port", str(http_port)] if name == "P" else []
            proc = Proc(name, [node, "--role=supervisor", "-p", str(port), "--bind", "127.0.0.1", "--node-name", name,
                               *BEAT_ARGS, "--cert", key(cert), "--keys", keys, "--standby", role,
                               "--standby-peer", peer, *http])
            proc.wait_output(r"listening on tcp://")
            return proc

        primary = supervisor("P", p_port, b_end, "primary")
        backup = supervisor("B", b_port, p_end, "backup")

        def user(endpoint, timeout_ms=1000):
            return XinfClient(endpoint, timeout_ms=timeout_ms, cert=key("alice"), server_key=key("sup"))

        def standby(endpoint):
            with user(endpoint) as alice:
                return alice.ping().get("standby")

        poll("P active and B passive over the CURVE link", 15,
             lambda: standby(p_end) == "active" and standby(b_end) == "passive")
        worker = Proc("w1", [node, "--role=worker", "-e", f"{p_end},{b_end}", "--node-name", "w1", *BEAT_ARGS,
                             "-H", "127.0.0.1", "--data-ports", "29800-29899", "--model-dir", workdir,
                             "--cert", key("w1"), "--server-key", key("sup"), "--keys", keydir])

        def alive_at(endpoint):
            with XinfClient(endpoint, timeout_ms=1000, cert=key("root"), server_key=key("sup")) as admin:
                return any(w["node"] == "w1" and w["state"] == "alive" for w in admin.cluster_info()["workers"])

        poll("w1 alive at P", 15, lambda: alive_at(p_end))
        with XinfClient(p_end, timeout_ms=5000, cert=key("root"), server_key=key("sup")) as admin:
            admin.launch("m", model, threads=1, max_seqs=4)
            admin.wait_ready("m", stall_s=30)
        with user(p_end, 10000) as alice:
            expected = alice.generate("m", prompt_tokens=[1, 2, 3], max_tokens=8)["tokens"]
        check(len(expected) == 8, f"8 tokens through P: {expected}")
        print("b. P active, B passive (HA_STATE over CURVE); w1 (-e P,B, one --server-key) registered with P; "
              "an admin key launched m, a user key generated")

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

        # e. no valid key, nothing from either supervisor
        for endpoint, proc in ((p_end, primary), (b_end, backup)):
            for who, socket in (("an unlisted key", client(endpoint, workdir, "mallory", "sup")),
                                ("no key", client(endpoint, workdir))):
                socket.setsockopt(zmq.SNDTIMEO, 1500)     # no handshake, no pipe: a DEALER's send would block
                try:
                    answer = ask(socket, "PING", timeout_ms=1500)
                except zmq.Again:
                    answer = None
                socket.close()
                check(answer is None, f"{proc.name} answered {who}: {answer}")
            poll(f"{proc.name} logged the refused connections", 10,
                 lambda: "its key is not among --keys" in proc.log("err") and "a client without" in proc.log("err"))
        print("e. an unlisted key and a keyless client: no answer from P or B, both logged the refusals")

        # f. a rogue supervisor with its own key pair cannot join the pair
        rogue_dir = os.path.join(workdir, "rogue-keys")
        os.mkdir(rogue_dir)
        keygen(build_dir, workdir, rogue_dir, "rogue", "supervisor")
        r_port = free_port()
        before = primary.log("err").count("refused a connection")
        rogue = supervisor("R", r_port, p_end, "backup", cert="rogue", keys=rogue_dir)
        said = poll("the rogue names its refused link", 15,
                    lambda: next((line for line in rogue.log("err").splitlines() if "the standby peer" in line), None))
        check(p_end in said and ("refused our key" in said or "CURVE handshake" in said),
              f"the rogue's words: {said}")
        poll("P logged the rogue's refused connection", 10,
             lambda: primary.log("err").count("refused a connection") > before)
        check(standby(p_end) == "active" and standby(b_end) == "passive", "the rogue changed the pair's states")
        check("silent" not in rogue.log("err"), f"the rogue called its peer silent: {rogue.log('err')[-1500:]}")
        print(f"f. a rogue supervisor R (its own supervisor key) cannot join: {said.split(': ', 1)[-1][:200]}")
        check(rogue.stop() == 0, "the rogue did not exit 0")

        # g. fail-over with keys: kill -9 of P, the model through B
        primary.kill()
        killed = time.monotonic()
        poll("w1 alive at B", 30, lambda: alive_at(b_end))
        answer = None
        with user(b_end, 2000) as alice:
            while answer is None and time.monotonic() - killed < 30:
                try:
                    answer = alice.generate("m", prompt_tokens=[1, 2, 3], max_tokens=8)
                except XinfError:
                    time.sleep(0.05)  # the retry interval; the deadline bounds the loop
        check(answer is not None and answer["tokens"] == expected,
              f"m through B after P's kill: {answer}")
        check(standby(b_end) == "active", "B is not active after the fail-over")
        print(f"g. kill -9 of P: B took over, w1 registered there, m generated through B "
              f"{time.monotonic() - killed:.2f} s after the kill (the same 8 tokens)")
        cli = subprocess.run([tool(build_dir, "xinf-cli"), "-e", f"{p_end},{b_end}", "--cert", key("root"),
                              "--server-key", key("sup"), "workers"], capture_output=True, text=True, timeout=60)
        check(cli.returncode == 0 and "supervisor B" in cli.stdout and "w1" in cli.stdout,
              f"xinf-cli -e P,B with keys: {cli.stdout} {cli.stderr}")
        print("   xinf-cli -e P,B --cert --server-key reached the active B")

        # h. P restarted with another key pair (a misconfiguration): each side
        # names the failed handshake of its link; B stays active and serves
        other_dir = os.path.join(workdir, "other-keys")
        os.mkdir(other_dir)
        keygen(build_dir, workdir, other_dir, "sup2", "supervisor")
        seen = len(backup.log("err"))
        primary = supervisor("P2", p_port, b_end, "primary", cert="sup2", keys=other_dir)
        poll("P2 names its refused link to B", 15, lambda: f"the standby peer {b_end} " in primary.log("err"))
        poll("B names its refused link to P2", 15, lambda: f"the standby peer {p_end} " in backup.log("err")[seen:])
        words = next(line for line in backup.log("err")[seen:].splitlines() if "the standby peer" in line)
        check("handshake" in words or "refused our key" in words, f"B's words on its link to P2: {words}")
        check("silent" not in backup.log("err")[seen:] + primary.log("err"), "a failed handshake was called silence")
        check(standby(b_end) == "active", "B is not active beside a P2 of another key pair")
        print(f"h. P restarted with another key pair: B says {words.split('supervisor: ', 1)[-1][:160]}...")
        check(primary.stop() == 0, "P2 did not exit 0")
        check(worker.stop() == 0, "w1 did not exit 0")

        # i. a passive supervisor whose link fails its handshake: its
        # fail-over names the failed handshake, not a silent peer
        primary = supervisor("P3", p_port, b_end, "primary")
        poll("P3 passive beside the active B", 15, lambda: standby(p_end) == "passive")
        backup.kill()
        backup = supervisor("B2", b_port, p_end, "backup", cert="sup2", keys=other_dir)
        poll("P3 names its refused link to B2", 15,
             lambda: f"the standby peer {b_end} " in primary.log("err"))
        with user(p_end, 2000) as alice:
            poll("P3 serves after the fail-over", 15, lambda: alice.cluster_info())
            took_over = [event["detail"] for event in alice.events()["events"]
                         if event["kind"] == "standby" and "fail-over" in event["detail"]]
        check(took_over and "is not heard for" in took_over[-1] and "handshake" in took_over[-1]
              and "silent" not in took_over[-1], f"P3's fail-over events: {took_over}")
        print(f"i. a passive P3 whose link to B2 fails its handshake took over: {took_over[-1][:200]}...")
        check(primary.stop() == 0, "P3 did not exit 0")
        check(backup.stop() == 0, "B2 did not exit 0")
    print("standby_keys: OK")


if __name__ == "__main__":
    run_logged(main)
