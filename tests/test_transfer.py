"""Multi-process test: model files reach the workers that lack them
(protocols/node.md, "Model files").

A supervisor (with a model directory of its own) and workers with model
directories of their own on 127.0.0.1; only worker `wb` has the model.

  a. a launch placed on `wa`, which lacks the file: while `wb` is frozen
     (SIGSTOP) the launch shows `fetching` in LAUNCH_PROGRESS and wa's
     wait "fetch model file" in WAITS; after SIGCONT the file arrives in
     wa's model directory byte-identical (SHA-256) and the replica is ready;
  a2. two replicas placed on wa, which lacks their file: one fetch, the
     other replica waits for it (one .part, no race), both ready;
  b. a tensor-parallel launch (n_worker 2, rank 1 on wa) after a truncated
     .part was left in wa's directory: resumed at its end (wa's log says
     so), byte-identical, and the split model's greedy tokens equal one
     worker's; then with a corrupted .part: started over, byte-identical;
  b2. a tensor-parallel launch whose rank 1 gets the file later than a
     rank waits for its group (rendezvous_timeout_ms 100: 5.1 s; its only
     source, a fake worker, sends a chunk every 1.3 s):
     the ranks first make sure of the file (LAUNCH_PROGRESS `fetching`,
     the supervisor's wait "the ranks' model files"), then join; ready;
  c. the file already there and identical: used without a copy (and,
     fetched before, without reading it again); a
     different file of that name there: the launch fails naming it, the
     file untouched;
  d. the supervisor's own copy (--model-dir) is served to a worker;
  e. a file no node has (and /etc/passwd, ../../etc/passwd): the launch
     fails with one NOT_FOUND text naming the file; a worker with
     --no-fetch-models refuses as before;
  f. garbage: FILE_* from a peer that is not a registered worker get
     NOT_REGISTERED; a worker's file server (talking to a fake supervisor)
     refuses bad offsets, sizes, types, unknown transfers and paths
     outside its model directories (../../etc/passwd) with FILE_ERROR and a
     log line, and serves the right bytes and digests, also of a prefix;
  f3. a lying source (wrong offset, short chunk, two frames, wrong digest,
     a digest that is no hex): the launch fails naming it, nothing lands;
  g. kill -9 of a worker in the middle of a fetch: when it is back its
     pinned replica loads there again, resuming from the .part.

No fixed sleeps: every wait polls with a deadline."""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import zmq

import xinf_testlib
from xinf_testlib import Client, check, decode, encode, fail, free_port, tool
from test_cluster import HELLO, Proc, poll, run_logged

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from xinf_client import XinfClient, XinfError  # noqa: E402

BEAT_ARGS = ["--heartbeat-ms", "250", "--liveness", "12"]
PROMPT = [1, 2, 3, 4, 5, 6, 7, 8]
MiB = 1 << 20


def sha256(path, size=None):
    with open(path, "rb") as file:
        data = file.read() if size is None else file.read(size)
    return hashlib.sha256(data).hexdigest()


def make_model(build_dir, path, seed=7):
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--type", "f32", "--dim", "192",
                    "--layers", "3", "--heads", "4", "--kv-heads", "2", "--ffn", "384", "--vocab", "512",
                    "--context", "256", "--tokenizer", "gpt2", "--seed", str(seed), "-o", path],
                   check=True, capture_output=True, timeout=120)
    return path


def start_supervisor(node_bin, model_dir):
    node = Proc("supervisor", [node_bin, "-p", "0", "--bind", "127.0.0.1", "--node-name", "sup",
                               "--log-level", "info", "--model-dir", model_dir, *BEAT_ARGS])
    match = node.wait_output(r"listening on tcp://[^\s:]+:(\d+)")
    node.endpoint = f"tcp://127.0.0.1:{match.group(1)}"
    return node


def start_worker(node_bin, endpoint, name, model_dir, *extra):
    return Proc(name, [node_bin, "--role=worker", "-e", endpoint, "--node-name", name, *BEAT_ARGS,
                       "-H", "127.0.0.1", "--data-ports", "29500-29599", "--model-dir", model_dir,
                       "--log-level", "info", *extra])


def launch(client, uid, path, seen=None, **options):
    """Launches and follows it to ready (raises XinfError when it fails);
    'seen' collects the states the replicas and ranks went through."""
    client.launch(uid, path, threads=1, **options)

    def note(progress):
        for replica in progress.get("replicas", []):
            for part in [replica] + replica.get("ranks", []):
                if seen is not None:
                    seen.add(part.get("state"))
    return client.wait_ready(uid, stall_s=60, on_progress=note)


def launch_fails(client, uid, path, **options):
    client.launch(uid, path, threads=1, **options)
    try:
        client.wait_ready(uid, stall_s=60)
    except XinfError as error:
        client.terminate(uid)
        return str(error)
    fail(f"launch of {path} as {uid} became ready")


def greedy(client, uid):
    return client.generate(uid, prompt_tokens=PROMPT, max_tokens=16, temperature=0.0)["tokens"]


def waits_text(client):
    return repr(client.waits())


def scenario_frozen_source(client, wb, path, dir_a):
    """a. progress is visible while the source is frozen; then the copy arrives."""
    wb.signal(signal.SIGSTOP)
    try:
        client.launch("plain", path, worker="wa", threads=1)
        poll("LAUNCH_PROGRESS shows fetching", 20, lambda: client.launch_progress("plain")["replicas"][0]["state"]
             == "fetching")
        poll("WAITS show wa's fetch", 20, lambda: "fetch model file model.gguf" in waits_text(client))
    finally:
        wb.signal(signal.SIGCONT)
    progress = client.wait_ready("plain", stall_s=60)
    landed = os.path.join(dir_a, "model.gguf")
    check(os.path.exists(landed) and sha256(landed) == sha256(path), f"{landed} is not the same as {path}")
    check(not os.path.exists(landed + ".part"), "the .part is left behind")
    tokens = greedy(client, "plain")
    client.terminate("plain")
    print(f"a. launch on wa (lacks the file, source frozen): fetching shown in LAUNCH_PROGRESS and WAITS, file "
          f"arrived byte-identical ({os.path.getsize(path)} bytes), state {progress['state']}")
    return tokens


def scenario_two_replicas(client, wa, build_dir, dir_a, dir_b):
    """a2. two replicas on one worker that lacks their file: one copy, one .part."""
    path = make_model(build_dir, os.path.join(dir_b, "twin.gguf"), seed=11)
    progress = launch(client, "twin", path, worker="wa", replicas=2)
    placed = [replica["worker"] for replica in progress["replicas"]]
    check(placed == ["wa", "wa"], f"the replicas went to {placed}")
    check(sha256(os.path.join(dir_a, "twin.gguf")) == sha256(path), "twin.gguf did not arrive whole")
    check("is on its way for replica twin/" in wa.log("err"), "the second replica did not wait for the first's copy")
    check(wa.log("err").count("twin.gguf is not here: fetching") == 1, "more than one fetch ran for twin.gguf")
    greedy(client, "twin")
    client.terminate("twin")
    print("a2. two replicas on wa, which lacks their file: one fetch, the other replica waited for it; both ready")


def scenario_resume(client, wa, path, dir_a, expected):
    """b. a truncated .part is resumed, a corrupted one restarted, on a TP launch."""
    landed = os.path.join(dir_a, "model.gguf")
    size = os.path.getsize(path)
    for kind, keep in (("truncated", 2 * MiB + 12345), ("corrupted", 3 * MiB)):
        os.unlink(landed)
        with open(path, "rb") as source, open(landed + ".part", "wb") as part:
            data = bytearray(source.read(keep))
            if kind == "corrupted":
                data[MiB + 7] ^= 0xFF
            part.write(data)
        seen = set()
        launch(client, f"tp-{kind}", path, seen=seen, n_worker=2, workers=["wb", "wa"])
        check(sha256(landed) == sha256(path), f"{kind} .part: the file is not the same")
        check(not os.path.exists(landed + ".part"), f"{kind} .part: the .part is left behind")
        log = wa.log("err")
        if kind == "truncated":
            check(f"at byte {keep} of {size}" in log, f"wa's log does not say it resumed at {keep}")
        else:
            check("does not match the source's first bytes: starting over" in log,
                  "wa's log does not say the corrupted .part was started over")
        tokens = greedy(client, f"tp-{kind}")
        check(tokens == expected, f"tp-{kind}: tokens {tokens} differ from one worker's {expected}")
        client.terminate(f"tp-{kind}")
        print(f"b. n_worker=2 with a {kind} .part ({keep} of {size} bytes) on wa: "
              f"{'resumed' if kind == 'truncated' else 'started over'}, byte-identical, same greedy tokens; "
              f"states seen {sorted(s for s in seen if s)}")


class FakeSource(threading.Thread):
    """A worker 'wf' that speaks the node protocol from Python and serves
    files from memory, each path with its behaviour: 'slow' (one chunk
    every 1.3 s), and lies: 'offset' (FILE_DATA at the wrong offset),
    'short' (a byte short), 'frames' (two frames), 'sha' (a wrong digest of
    the whole file), 'opened' (a FILE_OPENED whose digest is no hex)."""

    def __init__(self, endpoint, files):
        super().__init__(daemon=True)
        self.endpoint, self.files = endpoint, files
        self.registered, self.stopping = threading.Event(), threading.Event()
        self.pending = []                       # (due, frames)

    def hello(self, socket):
        socket.send_multipart(encode("HELLO", dict(HELLO, node="wf", pid=os.getpid(), heartbeat_ms=250,
                                                   liveness=12)))

    def answer(self, socket, header):
        body, kind = header["body"], header["type"]
        if kind == "FILE_OPEN":
            if body["path"] not in self.files:
                return self.reply(0, "FILE_ERROR", {"transfer": body["transfer"], "code": "NOT_FOUND",
                                                    "message": "not here"})
            data, mode = self.files[body["path"]]
            self.transfers[body["transfer"]] = body["path"]
            digest = hashlib.sha256(data + (b"x" if mode == "sha" else b"")).hexdigest()
            opened = {"transfer": body["transfer"], "size": len(data), "chunk": MiB,
                      "sha256": "zz" * 32 if mode == "opened" else digest}
            if body.get("have"):
                opened["have_sha256"] = hashlib.sha256(data[:body["have"]]).hexdigest()
            return self.reply(0, "FILE_OPENED", opened)
        if kind == "FILE_READ":
            data, mode = self.files[self.transfers[body["transfer"]]]
            chunk = data[body["offset"]:body["offset"] + body["length"]]
            offset = body["offset"] + (1 if mode == "offset" else 0)
            frames = [chunk[:-1]] if mode == "short" else [chunk, chunk] if mode == "frames" else [chunk]
            delay = 1.3 if mode == "slow" else 0
            return self.reply(delay, "FILE_DATA", {"transfer": body["transfer"], "offset": offset}, frames)

    def reply(self, delay, kind, body, frames=()):
        last = self.pending[-1][0] if self.pending else time.monotonic()
        due = max(last, time.monotonic()) + delay
        self.pending.append((due, encode(kind, dict(body, node="wf"), frames=frames)))

    def run(self):
        socket = zmq.Context.instance().socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(self.endpoint)
        self.hello(socket)
        self.transfers, seq, beat = {}, 0, 0.0
        while not self.stopping.is_set():
            now = time.monotonic()
            if now >= beat and self.registered.is_set():
                seq += 1
                socket.send_multipart(encode("HEARTBEAT", {"node": "wf", "seq": seq}))
                beat = now + 0.25
            while self.pending and self.pending[0][0] <= now:
                socket.send_multipart(self.pending.pop(0)[1])
            if not socket.poll(20):
                continue
            header, _ = decode(socket.recv_multipart())
            if header["type"] == "WELCOME":
                self.registered.set()
            elif header["type"] == "ERROR" and header["body"].get("code") == "NOT_REGISTERED":
                self.hello(socket)
            elif header["type"] in ("FILE_OPEN", "FILE_READ"):
                self.answer(socket, header)
        socket.close(0)


def scenario_slow_copy(client, fake, build_dir, dir_a, dir_x):
    """b2. the rendezvous waits for a rank's copy (no GROUP timeout while it copies)."""
    path = make_model(build_dir, os.path.join(dir_x, "slow.gguf"), seed=10)
    with open(path, "rb") as file:
        fake.files[path] = (file.read(), "slow")
    started = time.monotonic()
    client.launch("slow", path, threads=1, n_worker=2, workers=["wx", "wa"], rendezvous_timeout_ms=100)
    poll("the replica shows fetching", 20, lambda: client.launch_progress("slow")["replicas"][0]["state"]
         == "fetching")
    poll("WAITS show the staging step", 20, lambda: "the ranks' model files" in waits_text(client))
    bytes_seen = set()
    client.wait_ready("slow", stall_s=60, on_progress=lambda progress: bytes_seen.add(
        progress["replicas"][0].get("ranks", [{}, {}])[1].get("bytes_done")))
    took = time.monotonic() - started
    check(took > 5.1, f"the copy took only {took:.1f} s: the test proves nothing")
    check(sha256(os.path.join(dir_a, "slow.gguf")) == sha256(path), "slow.gguf did not arrive whole")
    check(len(bytes_seen) >= 3, f"rank 1's bytes_done took too few values: {sorted(b for b in bytes_seen if b)}")
    greedy(client, "slow")
    client.terminate("slow")
    print(f"b2. n_worker=2, rank 1's copy from a slow source took {took:.1f} s with rendezvous_timeout_ms=100 (a rank "
          f"waits 5.1 s for its group): the ranks made sure of the file first (fetching, wait \"the ranks' model "
          f"files\", {len(bytes_seen)} byte counts seen), then joined; ready")


def scenario_crash_resume(client, fake, node_bin, endpoint, wa, build_dir, dir_a, dir_x):
    """g. kill -9 of a worker mid-fetch: back, it resumes from its .part."""
    path = make_model(build_dir, os.path.join(dir_x, "crash.gguf"), seed=12)
    with open(path, "rb") as file:
        fake.files[path] = (file.read(), "slow")
    part = os.path.join(dir_a, "crash.gguf.part")
    client.launch("crash", path, worker="wa", threads=1)
    poll("two chunks in wa's .part", 30, lambda: os.path.exists(part) and os.path.getsize(part) >= 2 * MiB)
    check(wa.kill() == -signal.SIGKILL, "wa did not die of SIGKILL")
    kept = os.path.getsize(part)
    wa = Proc("wa", [node_bin, "--role=worker", "-e", endpoint, "--node-name", "wa", *BEAT_ARGS, "-H", "127.0.0.1",
                     "--data-ports", "29500-29599", "--model-dir", dir_a, "--log-level", "info"], base="wa-again")
    client.wait_ready("crash", stall_s=60)       # a pinned replica loads there again when its worker is back
    match = re.search(r"resuming \S+crash.gguf.part at byte (\d+) of (\d+)", wa.log("err"))
    check(match and int(match.group(1)) >= kept - MiB, f"wa did not resume the .part ({kept} bytes): "
                                                      f"{wa.log('err')[-1500:]}")
    check(sha256(os.path.join(dir_a, "crash.gguf")) == sha256(path), "crash.gguf did not arrive whole")
    greedy(client, "crash")
    client.terminate("crash")
    fake.files = {}
    print(f"g. kill -9 of wa with {kept} bytes of crash.gguf in its .part: back, the pinned replica loaded there "
          f"again, resuming at byte {match.group(1)} of {match.group(2)}; byte-identical")
    return wa


def scenario_lying_source(client, fake, path, dir_a, dir_x):
    """f3. a source that lies: every lie fails the launch, named; nothing lands."""
    with open(path, "rb") as file:
        data = file.read()
    expected = {"offset": "bad FILE_DATA from wf: expected bytes 0-1048576, got offset 1",
                "short": "bad FILE_DATA from wf", "frames": "bad FILE_DATA from wf",
                "sha": "arrived with sha256", "opened": "bad FILE_OPENED from wf: field 'sha256'"}
    for mode, words in expected.items():
        lie = os.path.join(dir_x, f"lie-{mode}.gguf")
        fake.files = {lie: (data, mode)}
        error = launch_fails(client, f"lie-{mode}", lie, worker="wa")
        check(words in error, f"lie {mode}: {error}")
        check(not os.path.exists(os.path.join(dir_a, f"lie-{mode}.gguf")), f"lie {mode}: the file landed")
    check(not os.path.exists(os.path.join(dir_a, "lie-sha.gguf.part")), "a .part of a wrong digest was kept")
    fake.files = {}
    print(f"f3. a lying source (wrong offset, short chunk, two frames, wrong digest, digest not hex): each launch "
          f"failed naming it, nothing landed, the wrong-digest .part removed")


def scenario_already_there(client, wa, build_dir, path, dir_a, dir_b):
    """c. an identical file is used as is; a different one is never overwritten."""
    landed = os.path.join(dir_a, "model.gguf")
    mtime = os.stat(landed).st_mtime_ns
    launch(client, "again", path, worker="wa")
    client.terminate("again")
    check(os.stat(landed).st_mtime_ns == mtime, "the identical file was written again")
    check("is already here, the same as wb's (sha256 " + sha256(path) + ", known from its fetch)" in wa.log("err"),
          "wa's log does not say the file was there, known from its fetch (not read again)")
    other = make_model(build_dir, os.path.join(dir_b, "other.gguf"), seed=8)
    junk = os.path.join(dir_a, "other.gguf")
    with open(junk, "wb") as file:
        file.write(b"not this model" * 1000)
    before = sha256(junk)
    error = launch_fails(client, "other", other, worker="wa")
    check(junk in error and "differs from the copy of wb" in error, f"the error does not name the file: {error}")
    check(sha256(junk) == before, "the different file was overwritten")
    print(f"c. the identical file used without a copy; a different one kept, the launch failed: {error[:160]}")


def scenario_supervisor_copy(client, build_dir, dir_s, dir_a):
    """d. the supervisor's own --model-dir copy."""
    path = make_model(build_dir, os.path.join(dir_s, "sup.gguf"), seed=9)
    launch(client, "sup", path, worker="wa")
    client.terminate("sup")
    check(sha256(os.path.join(dir_a, "sup.gguf")) == sha256(path), "the supervisor's copy did not arrive whole")
    print("d. the supervisor's own copy served to wa, byte-identical")


def scenario_nowhere(client, dir_b):
    """e. a file no node has: one NOT_FOUND text naming it, whatever the path."""
    texts = []
    for uid, path in (("none", os.path.join(dir_b, "none.gguf")), ("passwd", "/etc/passwd"),
                      ("traversal", "../../etc/passwd")):
        error = launch_fails(client, uid, path, worker="wa")
        check(f"model file '{path}' is not a file in this worker's model directories, and no other node has it in "
              "its model directories (asked: the supervisor, " in error, f"{path}: unexpected error {error}")
        texts.append(error.replace(path, "PATH").replace(f"{uid} failed", "UID failed"))
    check(len(set(texts)) == 1, f"the errors differ beyond the path: {texts}")
    error = launch_fails(client, "nofetch", os.path.join(dir_b, "model.gguf"), worker="wc")
    check("is not a file in this worker's model directories" in error, f"--no-fetch-models: {error}")
    print(f"e. missing, /etc/passwd and ../../etc/passwd: the same words ({texts[0][:120]}); "
          f"--no-fetch-models refuses as before")


def scenario_unregistered(endpoint, supervisor):
    """f1. FILE_* from a client that is no registered worker."""
    client = Client(endpoint)
    try:
        for msg_type, body in (("FILE_FETCH", {"transfer": 1, "uid": "x", "generation": 1, "path": "/etc/passwd"}),
                               ("FILE_READ", {"transfer": 1, "offset": 0, "length": 10}),
                               ("FILE_DATA", {"transfer": 1, "offset": 0}),
                               ("FILE_OPENED", {"transfer": "one"})):
            header, _ = client.request(msg_type, body)
            check(header["type"] == "ERROR" and header["body"]["code"] == "NOT_REGISTERED",
                  f"{msg_type} from a client: {header}")
    finally:
        client.close()
    check("not a registered worker: refused" in supervisor.log("err"), "the supervisor did not log the refusals")
    print("f1. FILE_* from an unregistered peer: NOT_REGISTERED and a log line")


class FakeSupervisor:
    """A ROUTER a worker registers with; it sends the worker FILE_* requests."""

    def __init__(self):
        self.socket = zmq.Context.instance().socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.identity = None

    def wait_hello(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.socket.poll(200):
                frames = self.socket.recv_multipart()
                if decode(frames[1:])[0]["type"] == "HELLO":
                    self.identity = frames[0]
                    return
        fail("the worker sent no HELLO to the fake supervisor")

    def ask(self, msg_type, body, expect=True):
        self.socket.send_multipart([self.identity] + encode(msg_type, body))
        if not expect:
            return None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.socket.poll(200):
                frames = self.socket.recv_multipart()
                header, data = decode(frames[1:])
                if header["type"].startswith("FILE_") and header["type"] != "FILE_HASHING":
                    return header, data
        fail(f"no answer to {msg_type} {body}")

    def close(self):
        self.socket.close(0)


def scenario_server_garbage(node_bin, path, dir_b):
    """f2. a worker's file server, asked directly by a fake supervisor."""
    fake = FakeSupervisor()
    worker = start_worker(node_bin, f"tcp://127.0.0.1:{fake.port}", "wz", dir_b)
    try:
        fake.wait_hello()
        size = os.path.getsize(path)
        refused = [
            ("FILE_OPEN", {"transfer": 1, "path": "../../etc/passwd"}, "NOT_FOUND"),
            ("FILE_OPEN", {"transfer": 2, "path": "/etc/passwd"}, "NOT_FOUND"),
            ("FILE_OPEN", {"transfer": 3, "path": os.path.join(dir_b, "..", "..", "etc", "passwd")}, "NOT_FOUND"),
            ("FILE_OPEN", {"transfer": 4, "path": dir_b}, "NOT_FOUND"),
            ("FILE_OPEN", {"transfer": 5, "path": ""}, "BAD_REQUEST"),
            ("FILE_OPEN", {"transfer": 6, "path": 42}, "BAD_REQUEST"),
            ("FILE_OPEN", {"transfer": 7, "path": "x" * 5000}, "BAD_REQUEST"),
            ("FILE_OPEN", {"transfer": 8, "path": b"\xff\xfe"}, "BAD_REQUEST"),
            ("FILE_OPEN", {"transfer": "nine", "path": path}, "BAD_REQUEST"),
            ("FILE_READ", {"transfer": 99, "offset": 0, "length": 10}, "NOT_OPEN"),
        ]
        for msg_type, body, code in refused:
            header, _ = fake.ask(msg_type, body)
            check(header["type"] == "FILE_ERROR" and header["body"]["code"] == code,
                  f"{msg_type} {str(body)[:80]}: expected FILE_ERROR {code}, got {header}")
        header, _ = fake.ask("FILE_OPEN", {"transfer": 10, "path": path, "have": MiB + 3})
        check(header["type"] == "FILE_OPENED" and header["body"]["size"] == size
              and header["body"]["sha256"] == sha256(path) and header["body"]["have_sha256"] == sha256(path, MiB + 3),
              f"FILE_OPENED: {header}")
        bad_reads = [
            {"transfer": 10, "offset": size, "length": 1},
            {"transfer": 10, "offset": size - 5, "length": 10},
            {"transfer": 10, "offset": 2 ** 64 - 1, "length": 4 * MiB},
            {"transfer": 10, "offset": 0, "length": 0},
            {"transfer": 10, "offset": 0, "length": 4 * MiB + 1},
            {"transfer": 10, "offset": -1, "length": 10},
            {"transfer": 10, "offset": "0", "length": 10},
            {"transfer": 10, "length": 10},
        ]
        for body in bad_reads:
            header, _ = fake.ask("FILE_READ", body)
            check(header["type"] == "FILE_ERROR" and header["body"]["code"] == "BAD_REQUEST",
                  f"FILE_READ {body}: {header}")
        with open(path, "rb") as file:
            file.seek(size - 1000)
            tail = file.read()
        header, data = fake.ask("FILE_READ", {"transfer": 10, "offset": size - 1000, "length": 1000})
        check(header["type"] == "FILE_DATA" and data == [tail], f"FILE_READ of the tail: {header}")
        fake.ask("FILE_CLOSE", {"transfer": 10}, expect=False)
        header, _ = fake.ask("FILE_READ", {"transfer": 10, "offset": 0, "length": 10})
        check(header["body"]["code"] == "NOT_OPEN", f"FILE_READ after FILE_CLOSE: {header}")
        check(worker.alive(), "the worker died")
        log = worker.log("err")
        check(log.count("refused code=BAD_REQUEST") >= 9 and "refused code=NOT_OPEN" in log,
              "the worker did not log its refusals")
    finally:
        check(worker.stop() == 0, "wz did not stop cleanly")
        fake.close()
    print(f"f2. a worker's file server: {len(refused) + len(bad_reads)} bad requests refused with FILE_ERROR and a "
          f"log line (../../etc/passwd: NOT_FOUND); the tail and a prefix digest served right")


def main():
    if len(sys.argv) < 2:
        print("usage: test_transfer.py BUILD_DIR")
        sys.exit(2)
    build_dir = sys.argv[1]
    node_bin = tool(build_dir, "xinf-node")
    work = tempfile.mkdtemp(prefix="xinf-test-transfer-")
    dirs = {name: os.path.join(work, name) for name in ("s", "a", "b", "c", "x")}
    for directory in dirs.values():
        os.mkdir(directory)
    path = make_model(build_dir, os.path.join(dirs["b"], "model.gguf"))
    supervisor = start_supervisor(node_bin, dirs["s"])
    wa = start_worker(node_bin, supervisor.endpoint, "wa", dirs["a"])
    wb = start_worker(node_bin, supervisor.endpoint, "wb", dirs["b"])
    wc = start_worker(node_bin, supervisor.endpoint, "wc", dirs["c"], "--no-fetch-models")
    #  wx does not serve its files: the fake worker wf is the only source of them
    wx = start_worker(node_bin, supervisor.endpoint, "wx", dirs["x"], "--no-serve-models")
    fake = FakeSource(supervisor.endpoint, {})
    fake.start()
    client = XinfClient(supervisor.endpoint, timeout_ms=10000)
    try:
        poll("five workers registered", 20, lambda: len([w for w in client.cluster_info()["workers"]
                                                          if w["state"] == "alive"]) == 5)
        launch(client, "one", path, worker="wb")
        expected = greedy(client, "one")
        client.terminate("one")
        scenario_frozen_source(client, wb, path, dirs["a"])
        scenario_two_replicas(client, wa, build_dir, dirs["a"], dirs["b"])
        scenario_resume(client, wa, path, dirs["a"], expected)
        scenario_slow_copy(client, fake, build_dir, dirs["a"], dirs["x"])
        scenario_already_there(client, wa, build_dir, path, dirs["a"], dirs["b"])
        scenario_supervisor_copy(client, build_dir, dirs["s"], dirs["a"])
        scenario_nowhere(client, dirs["b"])
        scenario_unregistered(supervisor.endpoint, supervisor)
        scenario_server_garbage(node_bin, path, dirs["b"])
        scenario_lying_source(client, fake, path, dirs["a"], dirs["x"])
        wa = scenario_crash_resume(client, fake, node_bin, supervisor.endpoint, wa, build_dir, dirs["a"], dirs["x"])
        for node in (wa, wb, wc, wx):
            check(node.alive(), f"{node.name} died")
        fake.stopping.set()
        for node in (wa, wb, wc, wx, supervisor):   #  a clean exit: no leak, no sanitizer report
            check(node.stop() == 0, f"{node.name} did not exit cleanly: {node.log('err')[-1500:]}")
    finally:
        client.close()
        fake.stopping.set()
        fake.join(5)
        for node in (wa, wb, wc, wx, supervisor):
            node.stop()
    shutil.rmtree(work, ignore_errors=True)
    print("PASS: model files reach the workers that lack them")


if __name__ == "__main__":
    run_logged(main)
