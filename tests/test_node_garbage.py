"""Multi-process test: garbage sent to a running xinf-node.

Raw TCP bytes, malformed ZeroMQ frames, lying MessagePack headers (the
msgpack-c 'dd ff ff ff ff' allocation pitfall), deep nesting, wrong field
types, unknown message types. Every malformed message from an addressable
peer gets an ERROR reply with a code and reason, the node keeps answering
PING (from pyzmq and from the C client xinf-cli), counts what it refused,
and stops cleanly on SIGTERM (exit 0, so no leak under ASan)."""
import random
import socket
import subprocess
import sys

from xinf_testlib import SIGNATURE, Client, Node, check, encode, envelope, fail, msgpack, tool

SEED = 20261124


def garbage_messages(rng):
    """Yields (frames, expected ERROR code) for malformed envelopes."""
    sig = SIGNATURE
    ping = {"type": "PING", "corr": 1, "sender": "", "deadline": 0, "body": {}}
    fixed = [
        ([b""], "BAD_ENVELOPE"),
        ([b"XINF"], "BAD_ENVELOPE"),
        ([b"XINF\x04" + msgpack.packb(ping)], "BAD_ENVELOPE"),         # no version 4
        ([b"XINF\x03" + msgpack.packb(ping)], "BAD_ENVELOPE"),         # version 3: an array, not a map
        ([b"XINF\x02" + msgpack.packb(list(ping.values()))], "BAD_ENVELOPE"),  # version 2: a map
        ([b"XINF\x01", msgpack.packb(ping)], "BAD_ENVELOPE"),   # version 1: header in frame 1
        ([sig, msgpack.packb(ping)], "BAD_ENVELOPE"),          # nothing after the signature
        ([sig], "BAD_ENVELOPE"),
        ([envelope(b"\xdd\xff\xff\xff\xff")], "BAD_ENVELOPE"),
        ([envelope(b"\xdf\xff\xff\xff\xff")], "BAD_ENVELOPE"),
        ([envelope(b"\xdb\xff\xff\xff\xff")], "BAD_ENVELOPE"),
        ([envelope(b"\xc1")], "BAD_ENVELOPE"),
        ([envelope(b"\x91" * 100 + b"\xc0")], "BAD_ENVELOPE"),
        ([envelope(msgpack.packb(ping) + b"\x00", 2)], "BAD_ENVELOPE"),  # bytes after the header map
        ([envelope(msgpack.packb(list(ping.values())) + b"\x00")], "BAD_ENVELOPE"),  # ... the header array
        ([envelope(["PING", 1, "", 0])], "BAD_ENVELOPE"),                 # four fields
        ([envelope(["PING", 1, "", 0, {}, None])], "BAD_ENVELOPE"),       # six
        ([envelope(["PING", "7", "", 0, {}])], "BAD_ENVELOPE"),
        ([envelope(["PING", -1, "", 0, {}])], "BAD_ENVELOPE"),
        ([envelope(["ping", 1, "", 0, {}])], "BAD_ENVELOPE"),
        ([envelope(["PING", 1, "", 0, []])], "BAD_ENVELOPE"),
        ([envelope(["PING", 1, "x" * 500, 0, {}])], "BAD_ENVELOPE"),
        ([envelope(["PING", 1, "", 1.5, {}])], "BAD_ENVELOPE"),
        ([envelope([1, 2, 3])], "BAD_ENVELOPE"),
        ([envelope(dict(ping, corr="7"))], "BAD_ENVELOPE"),
        ([envelope(dict(ping, corr=-1))], "BAD_ENVELOPE"),
        ([envelope(dict(ping, type="ping"))], "BAD_ENVELOPE"),
        ([envelope(dict(ping, body=[]))], "BAD_ENVELOPE"),
        ([envelope(dict(ping, sender="x" * 500))], "BAD_ENVELOPE"),
        ([envelope({"type": "PING", "corr": 1})], "BAD_ENVELOPE"),
        (encode("NO_SUCH_TYPE", corr=5), "UNKNOWN_TYPE"),
        (encode("PING", corr=6) + [b""] * 70, "BAD_ENVELOPE"),
    ]
    yield from fixed
    valid = encode("PING", {"a": [1, 2, {"b": "c"}]}, corr=9)[0][len(sig):]
    for _ in range(2000):
        kind = rng.randrange(3)
        if kind == 0:
            frames = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
                      for _ in range(rng.randrange(1, 4))]
            if frames[0].startswith(sig):
                continue
        elif kind == 1:
            data = bytearray(valid)
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            frames = [envelope(bytes(data))]
        else:
            frames = [envelope(valid[:rng.randrange(len(valid))])]
        yield frames, None


def main():
    build_dir = sys.argv[1]
    node = Node(tool(build_dir, "xinf-node"), "-p", "0", "--bind", "127.0.0.1", "--log-level", "error")
    rng = random.Random(SEED)
    host, port = node.endpoint[len("tcp://"):].rsplit(":", 1)

    # Raw TCP garbage: not even a ZMTP greeting. The node must shrug it off.
    for _ in range(50):
        with socket.create_connection((host, int(port)), timeout=3) as raw:
            raw.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))

    client = Client(node.endpoint)
    sent = errors = 0
    for frames, code in garbage_messages(rng):
        client.send_raw(frames)
        sent += 1
        reply = client.recv(3000)
        if reply is None:
            fail(f"no reply to garbage #{sent}: {frames!r:.200}")
        header, _ = reply
        if header["type"] == "PONG":
            continue  # a mutation that happened to stay a valid PING
        check(header["type"] == "ERROR", f"garbage #{sent} got {header['type']}")
        check(header["body"]["code"] in ("BAD_ENVELOPE", "UNKNOWN_TYPE"), f"bad code {header['body']}")
        check(len(header["body"]["message"]) > 0, "ERROR without a reason")
        if code:
            check(header["body"]["code"] == code, f"garbage #{sent}: {header['body']} (wanted {code})")
        errors += 1
    print(f"sent {sent} malformed messages, got {errors} ERROR replies")

    # Worker reports with bad fields (MODEL_LOAD: KV block counts) are
    # dropped, with no reply (worker messages get none), and change nothing
    for body in ({}, {"uid": 5, "replica": 0, "kv_blocks_used": 1, "kv_blocks_free": 1},
                 {"uid": "m", "replica": -1, "kv_blocks_used": 1, "kv_blocks_free": 1},
                 {"uid": "m", "replica": 0, "kv_blocks_used": 2 ** 40, "kv_blocks_free": 1},
                 {"uid": "m", "replica": 0, "kv_blocks_used": 1, "kv_blocks_free": "x"},
                 {"uid": "m" * 100, "replica": 2 ** 63, "kv_blocks_used": [1], "kv_blocks_free": {"a": 1}}):
        client.send_raw(encode("MODEL_LOAD", body, corr=77))
    header, frames = client.request("PING", frames=[b"payload"])
    check(header["type"] == "PONG", f"PING answered with {header['type']}")
    check(frames == [b"payload"], "PONG did not echo the binary frame")
    body = header["body"]
    bad = body["bad_envelopes"] + body["unknown_types"]
    # Raw TCP bytes can pass as a legacy ZMTP/1.0 peer and deliver a frame or
    # two: those are refused too, but their sender has gone before the reply.
    check(errors <= bad <= errors + 50, f"node counted {bad} refused messages, client saw {errors} ERRORs")
    client.close()

    versions(node.endpoint)

    cli = subprocess.run([tool(build_dir, "xinf-cli"), "-e", node.endpoint, "ping", "-n", "3"],
                         capture_output=True, text=True, timeout=30)
    check(cli.returncode == 0 and cli.stdout.count("PONG") == 3, f"xinf-cli ping failed: {cli.stdout} {cli.stderr}")

    rc = node.stop()
    check(rc == 0, f"node exited with {rc} after SIGTERM")
    flood_and_big_maps(build_dir)
    print("PASS: node survived garbage and still answers PING")


def versions(endpoint):
    """envelope.md section 7: a version-2 peer (the pyzmq example of section
    6, word for word) is answered in version 2, a version-3 peer in version
    3, on the same connection as it switches; a version this node does not
    speak gets BAD_ENVELOPE naming the versions it does."""
    import zmq
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    header = {"type": "PING", "corr": 1, "sender": "me", "deadline": 3000, "body": {}}
    sock.send_multipart([b"XINF\x02" + msgpack.packb(header)])
    check(sock.poll(3000), "the envelope.md example (version 2) got no answer")
    head, *frames = sock.recv_multipart()
    check(head[:5] == b"XINF\x02", f"a version-2 PING was answered with frame 0 {head[:8]!r}")
    pong = msgpack.unpackb(head[5:])
    check(isinstance(pong, dict) and pong["type"] == "PONG" and pong["corr"] == 1, f"version 2: {pong}")
    sock.send_multipart([b"XINF\x03" + msgpack.packb(["PING", 2, "me", 3000, {"echo": "x"}])])
    check(sock.poll(3000), "a version-3 PING got no answer")
    head = sock.recv_multipart()[0]
    check(head[:6] == b"XINF\x03\x95", f"a version-3 PING was answered with frame 0 {head[:8]!r}")
    pong = msgpack.unpackb(head[5:])
    check(pong[0] == "PONG" and pong[1] == 2 and pong[4]["echo"] == "x", f"version 3: {pong}")
    sock.send_multipart([b"XINF\x07" + msgpack.packb(["PING", 3, "me", 3000, {}])])
    check(sock.poll(3000), "an unknown version got no answer")
    head = sock.recv_multipart()[0]
    error = msgpack.unpackb(head[5:])
    check(head[:5] == b"XINF\x03" and error[0] == "ERROR" and error[4]["code"] == "BAD_ENVELOPE"
          and "unsupported envelope version 7 (this node speaks 2 and 3)" in error[4]["message"],
          f"version 7: {head[:5]!r} {error}")
    sock.close(0)
    print("versions: 2 answered in 2, 3 in 3, 7 refused naming 2 and 3")


def flood_and_big_maps(build_dir):
    """One peer's repeated bad input is logged at a bounded rate with a
    count; a header of many maps of many small keys decodes in linear-ish
    time (the time is printed beside a PING's)."""
    import re
    import time
    from test_cluster import Proc
    node = Proc("garbage-node", [tool(build_dir, "xinf-node"), "-p", "0", "--bind", "127.0.0.1",
                                 "--log-level", "warn"])
    port = node.wait_output(r"listening on tcp://[^\s:]+:(\d+)").group(1)
    client = Client(f"tcp://127.0.0.1:{port}")
    flood = 300
    for _ in range(flood):
        client.send_raw([envelope(b"\xc1")])
        reply = client.recv(3000)
        check(reply is not None and reply[0]["body"]["code"] == "BAD_ENVELOPE", f"flood: reply {reply}")
    lines = re.findall(r"bad envelope peer=\S+ address=\S* count=(\d+)", node.log("err"))
    check(1 <= len(lines) <= 10, f"{flood} bad envelopes from one peer logged {len(lines)} times, wanted at most 10")
    print(f"{flood} bad envelopes from one peer: {len(lines)} log lines (counts {lines})")
    body = {f"m{j}": {f"k{i}": None for i in range(1000)} for j in range(125)}
    started = time.monotonic()
    header, _ = client.request("CLUSTER_INFO", body, timeout_ms=30000)
    took = time.monotonic() - started
    check(header["type"] == "CLUSTER_INFO_REPLY", f"125 maps x 1000 keys: {header['type']} {header['body']}")
    started = time.monotonic()
    client.request("PING")
    print(f"a header of 125 maps x 1000 small keys answered in {took * 1000:.1f} ms "
          f"(a PING: {(time.monotonic() - started) * 1000:.2f} ms)")
    client.close()
    check(node.stop() == 0, "node did not exit 0 after SIGTERM")


if __name__ == "__main__":
    main()
