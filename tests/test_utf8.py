"""Multi-process test: every string a peer sends is valid UTF-8 or refused
(protocols/envelope.md, Strings), against a real supervisor and worker on
127.0.0.1:

  a. bad UTF-8 (an overlong form, a surrogate, a code point past U+10FFFF,
     a cut sequence) in LAUNCH, TOKENIZE, LAUNCH_PROGRESS, GENERATE (the
     supervisor's hand-read uid), HELLO and the envelope's sender: each gets
     ERROR naming the field and the first bad byte, and the supervisor goes
     on answering PING with its worker alive;
  b. a worker's own long error text with multi-byte characters, cut by its
     fixed buffers (a path of 3-byte characters that it cannot load: the
     %.1024s precision and MODEL_STATE's 511-byte error both fall inside
     a character), reaches the supervisor and the client as a failed
     launch with that text, not refused by the supervisor's check (the
     launch stalled before: a fetch's error of 1,090 bytes broke the
     511-byte limit and the supervisor ignored the report).

A token's bytes (raw, the documented exception) are not checked:
unit_codec shows RUN_TOKEN's cut text accepted.

Waits poll with deadlines; heartbeats are 200 ms x 5."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_cluster import BEAT_ARGS, HELLO, Proc, poll, start_supervisor  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402
from xinf_testlib import Client, check, envelope, msgpack, tool  # noqa: E402

OVERLONG = b"\xc0\xaf"                  # '/' in two bytes
SURROGATE = b"\xed\xa0\x80"             # U+D800
BEYOND = b"\xf4\x90\x80\x80"            # U+110000
CUT = b"\xe4\xbd"                       # two bytes of three


def raw_frames(msg_type, body, corr, sender=b"utf8-test", version=3):
    """One message whose str fields may hold any bytes: packed without the
    bin type, Python bytes become MessagePack str. Version 3's header is
    an array, version 2's a map."""
    header = [msg_type, corr, sender, 5000, body]
    if version == 2:
        header = dict(zip(("type", "corr", "sender", "deadline", "body"), header))
    return [envelope(msgpack.packb(header, use_bin_type=False), version)]


def refusals():
    """(type, body, sender, wanted code, wanted text in the reason)."""
    return [
        ("LAUNCH", {"uid": "m", "path": b"/models/" + SURROGATE + b".gguf"}, b"t", "BAD_REQUEST",
         "field 'path' is not valid UTF-8 (byte 8)"),
        ("TOKENIZE", {"uid": "m", "content": b"Hello " + BEYOND}, b"t", "BAD_REQUEST",
         "field 'content' is not valid UTF-8 (byte 6)"),
        ("LAUNCH_PROGRESS", {"uid": b"m" + CUT}, b"t", "BAD_REQUEST",
         "field 'uid' is not valid UTF-8 (byte 1)"),
        ("GENERATE", {"uid": b"qw" + OVERLONG, "prompt": "hi", "max_tokens": 1}, b"t", "BAD_REQUEST",
         "field 'uid' is not valid UTF-8 (byte 2)"),
        ("HELLO", dict(HELLO, node=b"rogue" + SURROGATE), b"t", "BAD_REQUEST",
         "field 'node' is not valid UTF-8 (byte 5)"),
        ("PING", {}, b"w" + CUT, "BAD_ENVELOPE", "field 'sender' is not valid UTF-8 (byte 1)"),
    ]


def main():
    build_dir = sys.argv[1]
    node = tool(build_dir, "xinf-node")
    supervisor = start_supervisor(node)
    with tempfile.TemporaryDirectory(prefix="xinf-utf8-") as models:
        worker = Proc("utf8-worker", [node, "--role=worker", "-e", supervisor.endpoint, "--node-name", "w1",
                                      *BEAT_ARGS, "-H", "127.0.0.1", "--model-dir", models])
        with XinfClient(supervisor.endpoint, timeout_ms=3000) as admin:
            poll("w1 alive", 20, lambda: any(w["node"] == "w1" and w["state"] == "alive"
                                             for w in admin.cluster_info()["workers"]))

            # a. bad UTF-8 in several messages
            client = Client(supervisor.endpoint)
            cases = [(version, *case) for version in (3, 2) for case in refusals()]
            for corr, (version, msg_type, body, sender, code, reason) in enumerate(cases, start=100):
                client.send_raw(raw_frames(msg_type, body, corr, sender, version))
                reply = client.recv(5000)
                check(reply is not None, f"{msg_type}: no reply to bad UTF-8")
                header = reply[0]
                check(header["type"] == "ERROR" and header["body"]["code"] == code
                      and reason in header["body"]["message"],
                      f"{msg_type}: wanted {code} '{reason}', got {header['type']} {header['body']}")
                print(f"a. version {version} {msg_type}: {code} {header['body']['message']}")
            client.close()
            check(admin.ping() is not None, "the supervisor stopped answering PING")
            check(supervisor.alive() and worker.alive(), "a node died of bad UTF-8")
            check(any(w["node"] == "w1" and w["state"] == "alive" for w in admin.cluster_info()["workers"]),
                  "w1 is no longer alive after the refusals")
            check("not valid UTF-8" in supervisor.log("err") + supervisor.log("out"),
                  "the supervisor did not log the refusals")

            # b. a worker's long multi-byte error text, cut by its buffers
            seen = len(supervisor.log("err"))
            prefix = os.path.join(models, "")
            pad = (1024 - len(prefix.encode()) - 1) % 3            # the %.1024s cut falls inside a character
            path = prefix + "a" * pad + "\u8a9e" * 1000 + ".gguf"  # 3,000+ bytes of 3-byte characters
            check(len(path.encode()) <= 4095, "the test's path is over LAUNCH's limit")
            admin.launch("longname", path, worker="w1")
            try:
                admin.wait_ready("longname", stall_s=60)
                check(False, "a launch of a missing file got ready")
            except XinfError as error:
                message = error.message
            check(message.startswith("longname failed: model file '" + prefix) and "\u8a9e\u8a9e\u8a9e" in message,
                  f"the failed launch's error lost the worker's text: {message[:300]}")
            message.encode("utf-8")          # strict: no surrogate-escaped byte came through
            check(len(message.encode()) >= 480, f"the worker's text was not cut as the test means: {message}")
            check("not valid UTF-8" not in supervisor.log("err")[seen:],
                  f"the supervisor refused a message of its worker: {supervisor.log('err')[seen:][-1000:]}")
            print(f"b. the worker's cut error reached the client: {len(message.encode())} bytes, "
                  f"valid UTF-8, ends '...{message[-60:]}'")
        check(worker.stop() == 0, "the worker did not exit 0 after SIGTERM")
    check(supervisor.stop() == 0, "the supervisor did not exit 0 after SIGTERM")
    print("utf8: OK")


if __name__ == "__main__":
    main()
