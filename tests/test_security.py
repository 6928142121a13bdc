"""CurveZMQ keys and roles through real processes on 127.0.0.1
(protocols/security.md): a supervisor with --cert/--keys; a worker with a
listed worker key registers; a worker with an unlisted key, and one with
no key, are refused with the words on both sides (their stdout, the
supervisor's log) and never appear among the workers; a client without
keys cannot even PING; a user key's LAUNCH is FORBIDDEN; a worker key may
not GENERATE; an admin key launches a model and a user key generates; a
keyed worker that lacks the model fetches it from another through the
supervisor."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import XinfClient, XinfError  # noqa: E402
from xinf_testlib import SKIP, _children, check, decode, encode, fail, stop_process, tool  # noqa: E402
import zmq  # noqa: E402

DEADLINE_S = 30


def wait_for(what, predicate, timeout=DEADLINE_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    fail(f"{what}: not within {timeout} s")


def read(path):
    with open(path, errors="replace") as handle:
        return handle.read()


def start(binary, args, workdir, name):
    out, err = os.path.join(workdir, name + ".out"), os.path.join(workdir, name + ".log")
    process = subprocess.Popen([binary, *args], stdout=open(out, "w"), stderr=open(err, "w"))
    _children.append(process)
    return process, out, err


def load_keys(workdir, name):
    """The Z85 public and secret key of a certificate pair made by keygen."""
    text = read(os.path.join(workdir, name + ".key_secret"))
    public = re.search(r'public-key = "(.{40})"', text).group(1)
    secret = re.search(r'secret-key = "(.{40})"', text).group(1)
    return public.encode(), secret.encode()


def client(endpoint, workdir, key=None, server=None):
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    if key:
        socket.curve_publickey, socket.curve_secretkey = load_keys(workdir, key)
        socket.curve_serverkey = load_keys(workdir, server)[0]
    socket.connect(endpoint)
    return socket


def ask(socket, msg_type, body=None, timeout_ms=3000):
    socket.send_multipart(encode(msg_type, body, corr=7, deadline=timeout_ms))
    if not socket.poll(timeout_ms):
        return None
    return decode(socket.recv_multipart())[0]


def cli(build_dir, endpoint, *args, keys=None, timeout=120):
    command = [tool(build_dir, "xinf-cli"), "-e", endpoint, *args]
    if keys:
        command += ["--cert", keys[0], "--server-key", keys[1]]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def main():
    build_dir = sys.argv[1]
    if not zmq.has("curve"):
        print("SKIP: this pyzmq's libzmq has no CURVE")
        sys.exit(SKIP)
    workdir = tempfile.mkdtemp(prefix="xinf-security-")
    keydir = os.path.join(workdir, "keys")
    os.mkdir(keydir)
    for name, role in (("sup", "admin"), ("w1", "worker"), ("alice", "user"), ("root", "admin"), ("rogue", "worker"),
                       ("w2", "worker")):
        made = subprocess.run([tool(build_dir, "xinf-cli"), "keygen", name, "--role", role, "--dir", workdir],
                              capture_output=True, text=True, timeout=30)
        check(made.returncode == 0, f"keygen {name}: {made.stderr}")
        check(os.stat(os.path.join(workdir, name + ".key_secret")).st_mode & 0o777 == 0o600,
              f"{name}.key_secret is not mode 0600")
        if name != "rogue" and name != "sup":
            os.link(os.path.join(workdir, name + ".key"), os.path.join(keydir, name + ".key"))
    key = lambda name: os.path.join(workdir, name + ".key")  # noqa: E731
    node = tool(build_dir, "xinf-node")
    supervisor, sup_out, sup_log = start(node, ["--role=supervisor", "--bind", "127.0.0.1", "-p", "0", "--node-name", "sup",
                                                "--cert", key("sup"), "--keys", keydir], workdir, "sup")
    wait_for("the supervisor's endpoint", lambda: "listening on" in read(sup_out))
    endpoint = re.search(r"listening on (tcp://\S+)", read(sup_out)).group(1)
    check("keys required" in read(sup_out), "the supervisor does not say that keys are required")
    common = ["-e", endpoint, "--data-ports", "29700-29799"]
    worker, w1_out, _ = start(node, ["--role=worker", "--node-name", "w1", "--model-dir", workdir, "--cert", key("w1"),
                                     "--server-key", key("sup"), "--keys", keydir, *common], workdir, "w1")
    rogue, rogue_out, rogue_log = start(node, ["--role=worker", "--node-name", "rogue", "--cert", key("rogue"),
                                               "--server-key", key("sup"), "--keys", keydir, *common], workdir, "rogue")
    nokey, nokey_out, _ = start(node, ["--role=worker", "--node-name", "nokey", *common], workdir, "nokey")
    started = time.monotonic()
    wait_for("w1 registered", lambda: "registered with" in read(w1_out))
    wait_for("the rogue worker told that its key was refused",
             lambda: "the supervisor at" in read(rogue_out) and "refused our key (" in read(rogue_out), timeout=10)
    print(f"rogue worker, {time.monotonic() - started:.1f} s after start: {read(rogue_out).splitlines()[-1]}")
    rogue_public = load_keys(workdir, "rogue")[0].decode()
    check(rogue_public in read(rogue_out) and "rogue.key" in read(rogue_out), "the refusal does not name the key")
    check("refused our key" in read(rogue_log), "the rogue worker's log does not say that its key was refused")
    wait_for("the keyless worker told that keys are required", lambda: "requires CURVE keys" in read(nokey_out), timeout=10)
    wait_for("the supervisor logged the refused key", lambda: "its key is not among --keys" in read(sup_log), timeout=10)
    wait_for("the supervisor logged the keyless client", lambda: "a client without" in read(sup_log), timeout=10)
    check("timeout" not in read(rogue_out) and "timeout" not in read(nokey_out), "a refusal was reported as a timeout")

    #  A client without keys cannot even PING; xinf-cli says why
    plain = client(endpoint, workdir)
    check(ask(plain, "PING", timeout_ms=1500) is None, "a client without keys got an answer to PING")
    plain.close()
    ping = cli(build_dir, endpoint, "ping")
    check(ping.returncode == 1 and "requires CURVE keys" in ping.stderr, f"xinf-cli ping without keys: {ping.stderr}")
    refused = cli(build_dir, endpoint, "ping", keys=(key("rogue"), key("sup")))
    check(refused.returncode == 1 and "the supervisor refused our key" in refused.stderr,
          f"xinf-cli with an unlisted key: {refused.stderr}")

    #  Roles: a user may ask and generate, not launch; a worker key may not generate
    alice = client(endpoint, workdir, "alice", "sup")
    pong = ask(alice, "PING")
    check(pong and pong["type"] == "PONG", f"the user key's PING: {pong}")
    info = ask(alice, "CLUSTER_INFO")
    names = sorted(worker_info["node"] for worker_info in info["body"]["workers"])
    check(names == ["w1"], f"the workers are {names}: only w1 holds a listed worker key")
    forbidden = ask(alice, "LAUNCH", {"uid": "m", "path": "/nonexistent.gguf"})
    check(forbidden["type"] == "ERROR" and forbidden["body"]["code"] == "FORBIDDEN"
          and "'user'" in forbidden["body"]["message"] and "LAUNCH" in forbidden["body"]["message"],
          f"the user key's LAUNCH: {forbidden}")
    wait_for("the supervisor logged the forbidden LAUNCH", lambda: "forbidden type=LAUNCH role=user" in read(sup_log))
    w1_socket = client(endpoint, workdir, "w1", "sup")
    as_worker = ask(w1_socket, "GENERATE", {"uid": "m", "prompt_tokens": [1, 2], "max_tokens": 2})
    check(as_worker["body"].get("code") == "FORBIDDEN" and "'worker'" in as_worker["body"]["message"],
          f"the worker key's GENERATE: {as_worker}")
    w1_socket.close()
    cli_launch = cli(build_dir, endpoint, "launch", "m", "/nonexistent.gguf", keys=(key("alice"), key("sup")))
    check(cli_launch.returncode == 1 and "FORBIDDEN" in cli_launch.stderr, f"xinf-cli launch as user: {cli_launch.stderr}")

    #  An admin launches a model made here; the user generates with it
    model = os.path.join(workdir, "tiny.gguf")
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "qwen2", "--seed", "3", "-o", model],
                   check=True, capture_output=True, timeout=60)
    launched = cli(build_dir, endpoint, "launch", "tiny", model, keys=(key("root"), key("sup")), timeout=180)
    check(launched.returncode == 0, f"the admin's launch: {launched.stdout} {launched.stderr}")
    generated = cli(build_dir, endpoint, "generate", "tiny", "--prompt-tokens", "1,2,3", "--max-tokens", "4",
                    keys=(key("alice"), key("sup")))
    check(generated.returncode == 0 and generated.stdout.strip(), f"the user's generate: {generated.stderr}")
    print(f"admin launched, user generated: {generated.stdout.strip()[:80]!r}")
    #  The Python client speaks CURVE too
    with XinfClient(endpoint, cert=key("alice"), server_key=key("sup")) as python_client:
        tokens = python_client.generate("tiny", prompt_tokens=[1, 2, 3], max_tokens=4)["tokens"]
        check((len(tokens) if isinstance(tokens, list) else tokens) == 4, f"xinf_client.py with a user key: {tokens}")
        #  TOKENIZE is answered by the worker (TOKENIZE_RESULT, a worker key's message)
        reply = python_client.request("TOKENIZE", {"uid": "tiny", "content": "hello"}, timeout_ms=10000)[0]
        check(reply.get("tokens"), f"TOKENIZE with keys on: {reply}")
        try:
            python_client.terminate("tiny")
            fail("xinf_client.py with a user key terminated a model")
        except XinfError as error:
            check(error.code == "FORBIDDEN", f"xinf_client.py TERMINATE as user: {error}")

    #  A worker with keys that lacks the model gets it from w1 through the
    #  supervisor, over the CURVE connections they have (protocols/node.md)
    w2_dir = os.path.join(workdir, "w2-models")
    os.mkdir(w2_dir)
    w2, w2_out, w2_log = start(node, ["--role=worker", "--node-name", "w2", "--model-dir", w2_dir, "--cert", key("w2"),
                                      "--server-key", key("sup"), "--keys", keydir, *common], workdir, "w2")
    wait_for("w2 registered", lambda: "registered with" in read(w2_out))
    fetched = cli(build_dir, endpoint, "launch", "tiny2", model, "--worker", "w2", keys=(key("root"), key("sup")),
                  timeout=180)
    check(fetched.returncode == 0, f"the launch on w2, which lacks the model: {fetched.stdout} {fetched.stderr}")
    with open(model, "rb") as original, open(os.path.join(w2_dir, "tiny.gguf"), "rb") as copy:
        check(original.read() == copy.read(), "the model fetched by w2 differs from w1's")
    check("fetched from w1" in read(w2_log), "w2's log does not say it fetched the model from w1")
    print("a keyed worker lacking the model fetched it from w1 through the supervisor, byte-identical")

    #  Nothing reached the refused workers
    check("registered with" not in read(rogue_out) and "hosting" not in read(rogue_log), "the rogue worker got work")
    check("registered with" not in read(nokey_out), "the keyless worker registered")
    alice.close()
    for process, name in ((nokey, "nokey"), (rogue, "rogue"), (w2, "w2"), (worker, "w1"), (supervisor, "supervisor")):
        stop_process(process, name)
    shutil.rmtree(workdir)
    print("OK: keys and roles hold")


if __name__ == "__main__":
    main()
